//! The operator's view of one process: a plain-data [`Status`] snapshot and the [`StatusBoard`]
//! that shares it between cold threads.
//!
//! The pipeline's cold collector reads the hot stages' atomics and latency rings every
//! ~100 ms–1 s and writes them here with [`StatusBoard::update`]. The HTTP server, the artifact
//! writer and anything else on the cold side read it with [`StatusBoard::snapshot`] or
//! [`StatusBoard::read`]. Hot threads never touch the board (it is behind a `Mutex`).
//!
//! Times the board keeps itself (uptime, how long the feed has been in its current status, the
//! age of the last frame) are brought up to date on every read, so a reader never sees an age
//! frozen at the collector's last tick.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::pnl::PnlFigures;
use crate::instrument::Instrument;
use crate::msg::{BookState, Money};
use crate::num::write_units_trimmed;

/// Start-up phase of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Config loaded, connecting and syncing; not trading yet.
    #[default]
    Starting,
    /// Start-up finished; the pipeline runs.
    Running,
    /// Shutdown requested; draining.
    Stopping,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Starting, Phase::Running, Phase::Stopping];

    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
        }
    }
}

/// Market-data feed status: the one [`crate::net::FeedStatus`] (its doc says what `degraded`
/// means everywhere).
pub use crate::net::FeedStatus;

/// Risk stage status: the one [`crate::risk::RiskStatus`] the risk stage keeps.
pub use crate::risk::RiskStatus;

/// Paper trading (simulated fills) or live orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Paper,
    Live,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Paper, Mode::Live];

    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

/// Profit and loss as exact integers of `10^-decimals` units of the quote currency (the
/// figures of [`PnlFigures`], scaled by `units_per_money`).
///
/// `realized_units`: gross PnL of the lots closed minus every fee paid (at flat, the closed
/// trades' net PnL); `fees_units`: the fees paid (already inside `realized_units`, shown on
/// their own); `unrealized_units`: the open position marked to market. Total = realized +
/// unrealized. JSON shows each as an exact decimal string with the currency's own places
/// (`min_decimals`) and more only where the amount has them; never rounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pnl {
    pub currency: String,
    pub decimals: u8,
    /// Fewest decimal places shown (the quote currency's: 0 for JPY, 2 for USDT).
    pub min_decimals: u8,
    /// `10^-decimals` units in one money unit of the ledger.
    pub units_per_money: i128,
    pub realized_units: i128,
    pub unrealized_units: i128,
    pub fees_units: i128,
    /// Venue balance against our ledger. `None` where there is no second source to compare
    /// with (paper mode: the paper exchange is our own ledger, a drift would be zero by
    /// construction), shown as `n/a`.
    pub wallet_drift_units: Option<i128>,
    /// Risk's figures: the equity change since the trading day began (realized and unrealized
    /// at the mark, fees included; what `daily_loss_limit` is checked against) and the drawdown
    /// from the equity peak, both carried over a restart from the journal.
    pub risk_day_units: i128,
    pub risk_drawdown_units: i128,
}

impl Default for Pnl {
    fn default() -> Pnl {
        Pnl {
            currency: String::new(),
            decimals: 0,
            min_decimals: 0,
            units_per_money: 1,
            realized_units: 0,
            unrealized_units: 0,
            fees_units: 0,
            wallet_drift_units: None,
            risk_day_units: 0,
            risk_drawdown_units: 0,
        }
    }
}

impl Pnl {
    /// Zero PnL in `inst`'s quote currency, at the exact scale of its money.
    pub fn for_instrument(inst: &Instrument) -> Pnl {
        Pnl {
            currency: inst.quote.to_string(),
            decimals: inst.notional_decimals() + 6,
            min_decimals: inst.quote_decimals(),
            units_per_money: inst.tick.step_units() as i128 * inst.lot.step_units() as i128,
            ..Pnl::default()
        }
    }

    /// Takes the ledger's figures (money units).
    pub fn set(&mut self, f: PnlFigures) {
        let u = |m: Money| m.saturating_mul(self.units_per_money);
        self.realized_units = u(f.realized);
        self.unrealized_units = u(f.unrealized);
        self.fees_units = u(f.fees);
    }

    pub fn total_units(&self) -> i128 {
        self.realized_units.saturating_add(self.unrealized_units)
    }

    /// `units` as an exact decimal string at this PnL's scale, with at least `min_decimals`
    /// places.
    pub fn format(&self, units: i128) -> String {
        let mut s = String::new();
        let _ = write_units_trimmed(units, self.decimals, self.min_decimals, &mut s);
        s
    }

    /// The wallet drift as shown: an exact decimal, or `n/a` without a second source.
    pub fn wallet_drift(&self) -> String {
        match self.wallet_drift_units {
            Some(u) => self.format(u),
            None => "n/a".to_owned(),
        }
    }
}

impl Serialize for Pnl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Pnl", 6)?;
        st.serialize_field("currency", &self.currency)?;
        st.serialize_field("realized", &self.format(self.realized_units))?;
        st.serialize_field("unrealized", &self.format(self.unrealized_units))?;
        st.serialize_field("total", &self.format(self.total_units()))?;
        st.serialize_field("fees", &self.format(self.fees_units))?;
        st.serialize_field("wallet_drift", &self.wallet_drift())?;
        st.end()
    }
}

/// Order-flow counters; each map is keyed by reason (`"open"`, `"rate_limited"`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct OrderCounters {
    /// Orders sent, by reason (for example `open`, `close`, `flatten`).
    pub orders: BTreeMap<String, u64>,
    /// Fills, by kind (for example `maker`, `taker`).
    pub fills: BTreeMap<String, u64>,
    /// Cancels, by reason (for example `requote`, `stale`, `kill`).
    pub cancels: BTreeMap<String, u64>,
    /// Rejects, by reason (venue's or the gateway's own, for example `rate_limited`).
    pub rejects: BTreeMap<String, u64>,
}

/// Market-data feed counters, all monotonic since start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FeedCounters {
    pub connects: u64,
    /// Disconnects by cause (for example `eof`, `timeout`, `protocol`, `io`).
    pub disconnects: BTreeMap<String, u64>,
    pub bytes: u64,
    pub frames: u64,
    pub pings: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    pub resyncs: u64,
    /// Times the book went stale (no update within the venue's max silence).
    pub stale_events: u64,
    /// Frames that could not be parsed (counted and survived).
    pub malformed: u64,
}

/// Book counters, all monotonic since start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BookCounters {
    /// Incremental updates applied.
    pub updates: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Times the book was seen crossed.
    pub crossed: u64,
    /// Trade prints seen.
    pub trades: u64,
}

/// Lowest and highest latency a histogram records, in ns; values outside are clamped.
pub const LATENCY_LOW_NS: u64 = 1;
pub const LATENCY_HIGH_NS: u64 = 60_000_000_000;

/// A latency histogram in nanoseconds, 1 ns to 60 s at 3 significant figures.
pub fn new_latency_histogram() -> Histogram<u64> {
    // The bounds are constants that `new_with_bounds` accepts (low >= 1, high >= 2 * low,
    // sigfig <= 5), so this cannot fail.
    Histogram::new_with_bounds(LATENCY_LOW_NS, LATENCY_HIGH_NS, 3)
        .expect("constant histogram bounds are valid")
}

/// Latency histograms (ns), cumulative since start.
#[derive(Clone)]
pub struct Latency {
    /// Frame receive timestamp to order hand-off (internal tick-to-trade).
    pub tick_to_trade: Histogram<u64>,
    /// Per stage (`feed`, `signal`, `order`): the time one message spent in that stage, from
    /// the hand-off into its input ring to its own hand-off.
    pub stages: BTreeMap<String, Histogram<u64>>,
    /// Cumulative since the frame was received, per point of the pipeline (`book`,
    /// `decision`, `tick_to_trade`).
    pub since_receive: BTreeMap<String, Histogram<u64>>,
    /// Tick-to-trade p99 budget from config, in ns (exported so alerts can compare against it).
    pub budget_ns: Option<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            tick_to_trade: new_latency_histogram(),
            stages: BTreeMap::new(),
            since_receive: BTreeMap::new(),
            budget_ns: None,
        }
    }
}

impl fmt::Debug for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Latency")
            .field("tick_to_trade_count", &self.tick_to_trade.len())
            .field("stages", &self.stages.keys().collect::<Vec<_>>())
            .field("budget_ns", &self.budget_ns)
            .finish()
    }
}

impl Latency {
    /// Records one tick-to-trade sample (clamped to the histogram's range).
    pub fn record_tick_to_trade(&mut self, ns: u64) {
        self.tick_to_trade.saturating_record(ns);
    }

    /// Records one sample for `stage`, creating its histogram on first use.
    pub fn record_stage(&mut self, stage: &str, ns: u64) {
        self.stage_mut(stage).saturating_record(ns);
    }

    /// The histogram of `stage`, created on first use (merge with `Histogram::add`).
    pub fn stage_mut(&mut self, stage: &str) -> &mut Histogram<u64> {
        if !self.stages.contains_key(stage) {
            self.stages
                .insert(stage.to_owned(), new_latency_histogram());
        }
        self.stages.get_mut(stage).expect("inserted above")
    }
}

/// JSON view of a histogram: count and quantiles in ns.
struct HistSummary<'a>(&'a Histogram<u64>);

impl Serialize for HistSummary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.0;
        let mut st = s.serialize_struct("Histogram", 7)?;
        st.serialize_field("count", &h.len())?;
        let q = |q: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(q)
            }
        };
        st.serialize_field("min_ns", &if h.is_empty() { 0 } else { h.min() })?;
        st.serialize_field("p50_ns", &q(0.5))?;
        st.serialize_field("p90_ns", &q(0.9))?;
        st.serialize_field("p99_ns", &q(0.99))?;
        st.serialize_field("p999_ns", &q(0.999))?;
        st.serialize_field("max_ns", &if h.is_empty() { 0 } else { h.max() })?;
        st.end()
    }
}

struct StageSummaries<'a>(&'a BTreeMap<String, Histogram<u64>>);

impl Serialize for StageSummaries<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, h) in self.0 {
            m.serialize_entry(k, &HistSummary(h))?;
        }
        m.end()
    }
}

impl Serialize for Latency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Latency", 4)?;
        st.serialize_field("tick_to_trade", &HistSummary(&self.tick_to_trade))?;
        st.serialize_field("stages", &StageSummaries(&self.stages))?;
        st.serialize_field("since_receive", &StageSummaries(&self.since_receive))?;
        st.serialize_field("budget_ns", &self.budget_ns)?;
        st.end()
    }
}

fn ser_book_state<S: Serializer>(b: &BookState, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(b.as_str())
}

/// Everything the operator sees about one process, as plain data.
///
/// The collector owns the meaning of each field; the board only adds `uptime_ns` and
/// `feed_status_age_ns` and ages `last_frame_age_ns` on read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Crate version (`env!("CARGO_PKG_VERSION")` of the binary).
    pub version: String,
    /// Digest of the resolved config (for example a hex SHA-256), to tell runs apart.
    pub config_digest: String,
    /// Venue and instrument this process trades, for labels and the health view.
    pub venue: String,
    pub symbol: String,
    pub mode: Mode,
    pub phase: Phase,
    pub feed: FeedStatus,
    #[serde(serialize_with = "ser_book_state")]
    pub book: BookState,
    pub risk: RiskStatus,
    /// Reason codes of the current risk status (empty when ok).
    pub risk_reasons: Vec<String>,
    /// Signed position in lots (positive long).
    pub position_lots: i64,
    pub pnl: Pnl,
    /// Round trips closed, and how many of them made money after fees.
    pub trades: u64,
    pub wins: u64,
    pub orders: OrderCounters,
    /// Hot-loop iterations that failed and were restarted (`run_loop_failures_total`).
    pub run_loop_failures: u64,
    pub feed_counters: FeedCounters,
    pub book_counters: BookCounters,
    /// Ring overflows by ring name (`feed_book`, `book_signal`, ...).
    pub ring_overflows: BTreeMap<String, u64>,
    /// Age of the newest frame received, in ns, as of the collector's update (aged on read).
    /// `None` until the first frame.
    pub last_frame_age_ns: Option<u64>,
    /// Time since the board was created, in ns (set by the board on read).
    pub uptime_ns: u64,
    /// Time the feed has been in its current status, in ns (set by the board on read).
    pub feed_status_age_ns: u64,
    pub latency: Latency,
    /// The hot threads' layout in force (`Plan::to_json`): stages per thread, core, wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<serde_json::Value>,
    /// True from start-up until the traded book is synced for the first time (`obi-scalp run`
    /// sets it; the collector clears it): until then the process is not ready.
    pub awaiting_first_sync: bool,
}

impl Status {
    /// A fresh status for a process that is starting.
    pub fn new(version: impl Into<String>, config_digest: impl Into<String>, mode: Mode) -> Status {
        Status {
            version: version.into(),
            config_digest: config_digest.into(),
            mode,
            ..Status::default()
        }
    }

    /// Win rate in `[0, 1]`, `None` before the first trade.
    pub fn win_rate(&self) -> Option<f64> {
        (self.trades > 0).then(|| self.wins as f64 / self.trades as f64)
    }

    /// Whether the process is alive and allowed to trade, and if not, why.
    ///
    /// Not ready when start-up has not finished or shutdown began, before the book was first
    /// synced (`awaiting_first_sync`), when risk is `abort`, when the
    /// feed has not been `active` for longer than `feed_down_tolerance`, or when `kill` is set
    /// (the kill switch's description). Risk `degraded` is still healthy (it reduces only) and
    /// shows up in `notes`.
    pub fn health(&self, feed_down_tolerance: Duration, kill: Option<&str>) -> Health {
        let mut reasons = Vec::new();
        let mut notes = Vec::new();
        match self.phase {
            Phase::Running => {}
            Phase::Starting => reasons.push("starting".to_owned()),
            Phase::Stopping => reasons.push("stopping".to_owned()),
        }
        if self.awaiting_first_sync {
            reasons.push("book_not_synced_yet".to_owned());
        }
        if let Some(k) = kill {
            reasons.push(format!("kill_switch:{k}"));
        }
        if self.risk == RiskStatus::Abort {
            let why = if self.risk_reasons.is_empty() {
                "unspecified".to_owned()
            } else {
                self.risk_reasons.join(",")
            };
            reasons.push(format!("risk_abort:{why}"));
        } else if self.risk == RiskStatus::Degraded {
            notes.push(format!("risk_degraded:{}", self.risk_reasons.join(",")));
        }
        if self.feed != FeedStatus::Active {
            let age = Duration::from_nanos(self.feed_status_age_ns);
            let what = format!("feed_{}_for_{}s", self.feed.as_str(), age.as_secs());
            if age > feed_down_tolerance {
                reasons.push(what);
            } else {
                notes.push(what);
            }
        }
        Health {
            ok: reasons.is_empty(),
            reasons,
            notes,
        }
    }
}

/// Result of [`Status::health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Alive and trading allowed.
    pub ok: bool,
    /// Why not ok (empty when ok).
    pub reasons: Vec<String>,
    /// Conditions within tolerance that an operator may want to see.
    pub notes: Vec<String>,
}

struct Inner {
    status: Status,
    /// When the collector last updated (ages `last_frame_age_ns`).
    updated: Instant,
    /// When the feed entered its current status.
    feed_since: Instant,
}

/// The shared status, for cold threads only (`Arc<StatusBoard>`).
pub struct StatusBoard {
    started: Instant,
    inner: Mutex<Inner>,
}

impl fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusBoard")
            .field("started", &self.started)
            .finish()
    }
}

impl StatusBoard {
    /// A board holding `initial`; uptime counts from now.
    pub fn new(initial: Status) -> StatusBoard {
        let now = Instant::now();
        StatusBoard {
            started: now,
            inner: Mutex::new(Inner {
                status: initial,
                updated: now,
                feed_since: now,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in a closure passed to `update` must not take the ops endpoints down with it:
        // the data is plain counters, so use it as it was left.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the status under the lock. Tracks feed status changes (for
    /// `feed_status_age_ns`) and the time of the update (for `last_frame_age_ns`).
    pub fn update<R>(&self, f: impl FnOnce(&mut Status) -> R) -> R {
        let mut g = self.lock();
        let feed_before = g.status.feed;
        let r = f(&mut g.status);
        let now = Instant::now();
        if g.status.feed != feed_before {
            g.feed_since = now;
        }
        g.updated = now;
        r
    }

    /// Reads the status under the lock, with the board's times brought up to date, without
    /// cloning it (keep `f` short: the collector waits for it).
    pub fn read<R>(&self, f: impl FnOnce(&Status) -> R) -> R {
        let mut g = self.lock();
        let now = Instant::now();
        Self::refresh(self.started, &mut g, now);
        f(&g.status)
    }

    /// A copy of the status with the board's times brought up to date.
    pub fn snapshot(&self) -> Status {
        self.read(Status::clone)
    }

    fn refresh(started: Instant, g: &mut Inner, now: Instant) {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        g.status.uptime_ns = ns(now.duration_since(started));
        g.status.feed_status_age_ns = ns(now.duration_since(g.feed_since));
        if let Some(age) = g.status.last_frame_age_ns {
            // Age as of the last update plus the time since; reset the base so repeated reads
            // do not add the same interval twice.
            g.status.last_frame_age_ns =
                Some(age.saturating_add(ns(now.duration_since(g.updated))));
            g.updated = now;
        }
    }

    /// Time since the board was created.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_exact_pnl_strings_and_state_names() {
        let mut s = Status::new("1.2.3", "abc", Mode::Live);
        s.pnl = Pnl {
            currency: "USDT".into(),
            decimals: 4,
            min_decimals: 2,
            realized_units: -12_345,
            unrealized_units: 100_000_000_000_000_000_000,
            fees_units: 7,
            ..Pnl::default()
        };
        s.book = BookState::Synced;
        s.feed = FeedStatus::Degraded;
        s.latency.record_tick_to_trade(1500);
        s.latency.record_stage("book", 300);
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["pnl"]["realized"], "-1.2345");
        assert_eq!(v["pnl"]["unrealized"], "10000000000000000.00");
        assert_eq!(v["pnl"]["total"], "9999999999999998.7655");
        assert_eq!(v["pnl"]["fees"], "0.0007");
        assert_eq!(v["pnl"]["wallet_drift"], "n/a", "no second source");
        s.pnl.wallet_drift_units = Some(-120_000);
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["pnl"]["wallet_drift"], "-12.00");
        assert_eq!(v["book"], "synced");
        assert_eq!(v["feed"], "degraded");
        assert_eq!(v["mode"], "live");
        assert_eq!(v["phase"], "starting");
        assert_eq!(v["latency"]["tick_to_trade"]["count"], 1);
        let p50 = v["latency"]["tick_to_trade"]["p50_ns"].as_u64().unwrap();
        assert!((1499..=1501).contains(&p50), "{p50}");
        assert_eq!(v["latency"]["stages"]["book"]["count"], 1);
    }

    /// BTC/JPY: one money unit is 1e-14 JPY, so an i64 of money ends at 92,233.72 JPY. The
    /// figures keep going, exactly, in the currency's own places.
    #[test]
    fn btc_jpy_pnl_past_92233_jpy_is_exact() {
        let inst = crate::config::Config::builtin().market.instrument;
        let mut p = Pnl::for_instrument(&inst);
        assert_eq!(
            (p.currency.as_str(), p.decimals, p.min_decimals),
            ("JPY", 14, 0)
        );
        let jpy = 100_000_000_000_000i128; // money units in one JPY
        p.set(PnlFigures {
            realized: -150_000 * jpy - 3 * jpy / 100,
            unrealized: 92_234 * jpy,
            fees: 100_000 * jpy,
        });
        let v: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert_eq!(v["realized"], "-150000.03");
        assert_eq!(v["unrealized"], "92234");
        assert_eq!(v["total"], "-57766.03");
        assert_eq!(v["fees"], "100000");
    }

    #[test]
    fn health_reasons() {
        let tol = Duration::from_secs(10);
        let mut s = Status::new("v", "d", Mode::Paper);
        let h = s.health(tol, None);
        assert!(!h.ok);
        assert_eq!(h.reasons, vec!["starting"]);

        s.phase = Phase::Running;
        s.feed = FeedStatus::Active;
        assert!(s.health(tol, None).ok);
        // Running with the feed up, but the book not yet synced once: not ready.
        s.awaiting_first_sync = true;
        let h = s.health(tol, None);
        assert!(!h.ok);
        assert_eq!(h.reasons, vec!["book_not_synced_yet"]);
        s.awaiting_first_sync = false;

        s.feed = FeedStatus::Reconnecting;
        s.feed_status_age_ns = 5_000_000_000;
        let h = s.health(tol, None);
        assert!(h.ok, "{h:?}");
        assert_eq!(h.notes, vec!["feed_reconnecting_for_5s"]);
        s.feed_status_age_ns = 11_000_000_000;
        let h = s.health(tol, None);
        assert!(!h.ok);
        assert_eq!(h.reasons, vec!["feed_reconnecting_for_11s"]);

        s.feed = FeedStatus::Active;
        s.risk = RiskStatus::Degraded;
        s.risk_reasons = vec!["ring_overflow".into()];
        assert!(s.health(tol, None).ok);
        s.risk = RiskStatus::Abort;
        s.risk_reasons = vec!["max_loss".into(), "kill_switch".into()];
        let h = s.health(tol, Some("file"));
        assert!(!h.ok);
        assert_eq!(
            h.reasons,
            vec!["kill_switch:file", "risk_abort:max_loss,kill_switch"]
        );
    }

    #[test]
    fn board_tracks_feed_age_and_frame_age() {
        let board = StatusBoard::new(Status::new("v", "d", Mode::Paper));
        board.update(|s| {
            s.feed = FeedStatus::Active;
            s.last_frame_age_ns = Some(1_000);
        });
        std::thread::sleep(Duration::from_millis(20));
        let a = board.snapshot();
        assert!(
            a.feed_status_age_ns >= 20_000_000,
            "{}",
            a.feed_status_age_ns
        );
        let age1 = a.last_frame_age_ns.unwrap();
        assert!(age1 >= 20_000_000, "{age1}");
        std::thread::sleep(Duration::from_millis(5));
        let age2 = board.snapshot().last_frame_age_ns.unwrap();
        // Aged by the time between reads, not by the time since the update twice over.
        assert!(
            age2 >= age1 + 5_000_000 && age2 < age1 + 2_000_000_000,
            "{age1} {age2}"
        );
        // An update that keeps the feed status keeps its age running.
        board.update(|s| s.trades += 1);
        assert!(board.snapshot().feed_status_age_ns >= 25_000_000);
        // A change of feed status restarts it.
        board.update(|s| s.feed = FeedStatus::Degraded);
        assert!(board.snapshot().feed_status_age_ns < 20_000_000);
        assert!(board.uptime() >= Duration::from_millis(25));
    }

    #[test]
    fn latency_clamps_out_of_range() {
        let mut l = Latency::default();
        l.record_tick_to_trade(0);
        l.record_tick_to_trade(u64::MAX);
        assert_eq!(l.tick_to_trade.len(), 2);
        assert!(l.tick_to_trade.max() >= LATENCY_HIGH_NS);
    }
}
