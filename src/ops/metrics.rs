//! Prometheus metrics from the [`StatusBoard`], in a registry owned by this process.
//!
//! A custom [`Collector`] reads the board on each scrape and turns it into metric families, so
//! the pipeline only keeps filling the board. All names start with `obi_scalp_`; counters end in
//! `_total`; times are in seconds; latency comes from the hdrhistogram data as Prometheus
//! histograms (cumulative since start, so `histogram_quantile(0.99, rate(..._bucket[5m]))`
//! gives a windowed p99).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram as PromHistogram, LabelPair, Metric, MetricFamily, MetricType,
};
use prometheus::{Encoder, Registry, TextEncoder};

use super::kill::KillSwitch;
use super::status::{FeedStatus, Mode, Phase, RiskStatus, Status, StatusBoard};
use crate::msg::BookState;

/// Latency histogram bucket bounds, ns (1 µs .. 10 s).
pub const LATENCY_BUCKETS_NS: [u64; 22] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

use MetricType::{COUNTER as C, GAUGE as G, HISTOGRAM as H};

/// Every family this collector can emit: name, type, variable labels, help.
#[rustfmt::skip]
const SPECS: &[(&str, MetricType, &[&str], &str)] = &[
    ("obi_scalp_build_info", G, &["version", "config_digest", "venue", "symbol", "mode"], "Build and run identity; always 1."),
    ("obi_scalp_healthy", G, &[], "1 when /healthz answers 200 (alive and trading allowed), else 0."),
    ("obi_scalp_phase", G, &["phase"], "Process phase: 1 for the current one (starting, running, stopping)."),
    ("obi_scalp_monitor_status", G, &["status"], "Feed status: 1 for the current one (active, reconnecting, degraded)."),
    ("obi_scalp_feed_status_age_seconds", G, &[], "Time the feed has been in its current status."),
    ("obi_scalp_book_state", G, &["state"], "Book state: 1 for the current one (synced, stale, resyncing)."),
    ("obi_scalp_risk_status", G, &["status"], "Risk status: 1 for the current one (ok, degraded, abort)."),
    ("obi_scalp_risk_reason", G, &["code"], "Active risk reason codes (1 each)."),
    ("obi_scalp_kill_switch_engaged", G, &[], "1 once the kill switch fired."),
    ("obi_scalp_live_mode", G, &[], "1 in live mode, 0 in paper mode."),
    ("obi_scalp_position_lots", G, &[], "Signed position in lots (positive long)."),
    ("obi_scalp_pnl_realized", G, &["currency"], "Realized PnL: gross PnL of the closed lots minus all fees paid, in quote currency (exact decimal)."),
    ("obi_scalp_pnl_unrealized", G, &["currency"], "Unrealized PnL of the open position at the bid (long) or ask (short), in quote currency (exact decimal)."),
    ("obi_scalp_pnl", G, &["currency"], "Total PnL (realized + unrealized), in quote currency (exact decimal)."),
    ("obi_scalp_fees", G, &["currency"], "Fees paid since start (included in realized PnL), in quote currency (exact decimal)."),
    ("obi_scalp_wallet_drift", G, &["currency"], "Live: the venue's balance against our ledger (plus any position difference at the venue's mark), in quote currency (exact decimal), from the last reconciliation; absent in paper mode."),
    ("obi_scalp_risk_day_pnl", G, &["currency"], "Risk's PnL of the trading day so far (equity change since the day began: realized and unrealized at the mark, fees included; checked against daily_loss_limit), carried over a restart from the journal, in quote currency (exact decimal)."),
    ("obi_scalp_risk_drawdown", G, &["currency"], "Risk's drawdown from the equity peak (checked against max_drawdown), carried over a restart from the journal, in quote currency (exact decimal)."),
    ("obi_scalp_trades_total", C, &[], "Round trips closed."),
    ("obi_scalp_wins_total", C, &[], "Round trips closed with a profit after fees."),
    ("obi_scalp_win_ratio", G, &[], "Wins divided by trades (absent before the first trade)."),
    ("obi_scalp_orders_total", C, &["reason"], "Orders sent, by reason."),
    ("obi_scalp_fills_total", C, &["kind"], "Fills, by kind."),
    ("obi_scalp_cancels_total", C, &["reason"], "Cancels, by reason."),
    ("obi_scalp_rejects_total", C, &["reason"], "Order rejects, by reason."),
    ("obi_scalp_run_loop_failures_total", C, &[], "Hot-loop iterations that failed and were restarted."),
    ("obi_scalp_feed_connects_total", C, &[], "Feed connections established."),
    ("obi_scalp_feed_disconnects_total", C, &["cause"], "Feed disconnects, by cause."),
    ("obi_scalp_feed_received_bytes_total", C, &[], "Bytes received on the feed."),
    ("obi_scalp_feed_frames_total", C, &[], "Frames received on the feed."),
    ("obi_scalp_feed_pings_total", C, &[], "Pings (keep-alives) on the feed."),
    ("obi_scalp_feed_gaps_total", C, &[], "Sequence gaps detected."),
    ("obi_scalp_feed_resyncs_total", C, &[], "Book resyncs started."),
    ("obi_scalp_feed_stale_events_total", C, &[], "Times the book went stale."),
    ("obi_scalp_feed_malformed_frames_total", C, &[], "Frames that could not be parsed."),
    ("obi_scalp_book_updates_total", C, &[], "Incremental book updates applied."),
    ("obi_scalp_book_snapshots_total", C, &[], "Book snapshots applied."),
    ("obi_scalp_book_crossed_total", C, &[], "Times the book was seen crossed."),
    ("obi_scalp_book_trades_total", C, &[], "Trade prints seen."),
    ("obi_scalp_ring_overflows_total", C, &["ring"], "Messages a full ring could not take, by ring."),
    ("obi_scalp_last_frame_age_seconds", G, &[], "Age of the newest feed frame (absent before the first)."),
    ("obi_scalp_uptime_seconds", G, &[], "Time since the process started."),
    ("obi_scalp_tick_to_trade_seconds", H, &[], "Internal tick-to-trade: frame receive to order hand-off."),
    ("obi_scalp_tick_to_trade_budget_seconds", G, &[], "Configured tick-to-trade p99 budget."),
    ("obi_scalp_stage_seconds", H, &["stage"], "Time one message spent in each pipeline stage, from the hand-off into its input ring to its own hand-off."),
    ("obi_scalp_since_receive_seconds", H, &["point"], "Time from the frame's receive stamp to a point of the pipeline (book published, decision, tick_to_trade)."),
];

fn spec(name: &str) -> (MetricType, &'static str) {
    let s = SPECS
        .iter()
        .find(|s| s.0 == name)
        .unwrap_or_else(|| panic!("metric {name} missing from SPECS"));
    (s.1, s.3)
}

/// Builds families in SPECS order; checks label names against the spec in debug builds.
struct Families {
    out: Vec<MetricFamily>,
}

impl Families {
    fn family(&mut self, name: &str) -> &mut MetricFamily {
        let fresh = match self.out.last() {
            Some(f) => f.name() != name,
            None => true,
        };
        if fresh {
            let (ty, help) = spec(name);
            let mut f = MetricFamily::default();
            f.set_name(name.to_owned());
            f.set_help(help.to_owned());
            f.set_field_type(ty);
            self.out.push(f);
        }
        self.out.last_mut().expect("pushed above")
    }

    fn push(&mut self, name: &str, labels: &[(&str, &str)], mut m: Metric) {
        debug_assert!({
            let s = SPECS.iter().find(|s| s.0 == name).unwrap();
            s.2.len() == labels.len() && s.2.iter().zip(labels).all(|(a, b)| *a == b.0)
        });
        m.set_label(
            labels
                .iter()
                .map(|(k, v)| {
                    let mut lp = LabelPair::default();
                    lp.set_name((*k).to_owned());
                    lp.set_value((*v).to_owned());
                    lp
                })
                .collect(),
        );
        self.family(name).mut_metric().push(m);
    }

    fn gauge(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        let mut g = Gauge::default();
        g.set_value(v);
        let mut m = Metric::default();
        m.set_gauge(g);
        self.push(name, labels, m);
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)], v: u64) {
        let mut c = Counter::default();
        c.set_value(v as f64);
        let mut m = Metric::default();
        m.set_counter(c);
        self.push(name, labels, m);
    }

    fn counters<'a>(
        &mut self,
        name: &str,
        label: &str,
        it: impl IntoIterator<Item = (&'a String, &'a u64)>,
    ) {
        for (k, v) in it {
            self.counter(name, &[(label, k)], *v);
        }
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram<u64>) {
        let mut p = PromHistogram::default();
        let n = h.len();
        p.set_sample_count(n);
        p.set_sample_sum(if n == 0 {
            0.0
        } else {
            h.mean() * n as f64 / 1e9
        });
        let buckets = LATENCY_BUCKETS_NS
            .iter()
            .map(|&ns| {
                let mut b = Bucket::default();
                b.set_upper_bound(ns as f64 / 1e9);
                b.set_cumulative_count(if n == 0 { 0 } else { h.count_between(0, ns) });
                b
            })
            .collect();
        p.set_bucket(buckets);
        let mut m = Metric::default();
        m.set_histogram(p);
        self.push(name, labels, m);
    }

    fn state_set<T: Copy + PartialEq>(
        &mut self,
        name: &str,
        label: &str,
        all: &[T],
        cur: T,
        as_str: fn(T) -> &'static str,
    ) {
        for &v in all {
            self.gauge(name, &[(label, as_str(v))], f64::from(u8::from(v == cur)));
        }
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

const BOOK_STATES: [BookState; 3] = [BookState::Synced, BookState::Stale, BookState::Resyncing];

/// Metric families for one status snapshot (`healthy` and `kill` come from outside the board).
pub fn families(s: &Status, healthy: bool, kill_engaged: bool) -> Vec<MetricFamily> {
    let mut f = Families {
        out: Vec::with_capacity(SPECS.len()),
    };
    f.gauge(
        "obi_scalp_build_info",
        &[
            ("version", &s.version),
            ("config_digest", &s.config_digest),
            ("venue", &s.venue),
            ("symbol", &s.symbol),
            ("mode", s.mode.as_str()),
        ],
        1.0,
    );
    f.gauge("obi_scalp_healthy", &[], f64::from(u8::from(healthy)));
    f.state_set(
        "obi_scalp_phase",
        "phase",
        &Phase::ALL,
        s.phase,
        Phase::as_str,
    );
    f.state_set(
        "obi_scalp_monitor_status",
        "status",
        &FeedStatus::ALL,
        s.feed,
        FeedStatus::as_str,
    );
    f.gauge(
        "obi_scalp_feed_status_age_seconds",
        &[],
        secs(s.feed_status_age_ns),
    );
    f.state_set(
        "obi_scalp_book_state",
        "state",
        &BOOK_STATES,
        s.book,
        BookState::as_str,
    );
    f.state_set(
        "obi_scalp_risk_status",
        "status",
        &RiskStatus::ALL,
        s.risk,
        RiskStatus::as_str,
    );
    let mut reasons: Vec<&String> = s.risk_reasons.iter().collect();
    reasons.sort();
    reasons.dedup();
    for r in reasons {
        f.gauge("obi_scalp_risk_reason", &[("code", r)], 1.0);
    }
    f.gauge(
        "obi_scalp_kill_switch_engaged",
        &[],
        f64::from(u8::from(kill_engaged)),
    );
    f.gauge(
        "obi_scalp_live_mode",
        &[],
        f64::from(u8::from(s.mode == Mode::Live)),
    );
    f.gauge("obi_scalp_position_lots", &[], s.position_lots as f64);
    // The money families are written by `write_money` as exact decimals (a gauge here is f64).
    f.counter("obi_scalp_trades_total", &[], s.trades);
    f.counter("obi_scalp_wins_total", &[], s.wins);
    if let Some(w) = s.win_rate() {
        f.gauge("obi_scalp_win_ratio", &[], w);
    }
    f.counters("obi_scalp_orders_total", "reason", &s.orders.orders);
    f.counters("obi_scalp_fills_total", "kind", &s.orders.fills);
    f.counters("obi_scalp_cancels_total", "reason", &s.orders.cancels);
    f.counters("obi_scalp_rejects_total", "reason", &s.orders.rejects);
    f.counter(
        "obi_scalp_run_loop_failures_total",
        &[],
        s.run_loop_failures,
    );
    let fc = &s.feed_counters;
    f.counter("obi_scalp_feed_connects_total", &[], fc.connects);
    f.counters("obi_scalp_feed_disconnects_total", "cause", &fc.disconnects);
    f.counter("obi_scalp_feed_received_bytes_total", &[], fc.bytes);
    f.counter("obi_scalp_feed_frames_total", &[], fc.frames);
    f.counter("obi_scalp_feed_pings_total", &[], fc.pings);
    f.counter("obi_scalp_feed_gaps_total", &[], fc.gaps);
    f.counter("obi_scalp_feed_resyncs_total", &[], fc.resyncs);
    f.counter("obi_scalp_feed_stale_events_total", &[], fc.stale_events);
    f.counter("obi_scalp_feed_malformed_frames_total", &[], fc.malformed);
    let bc = &s.book_counters;
    f.counter("obi_scalp_book_updates_total", &[], bc.updates);
    f.counter("obi_scalp_book_snapshots_total", &[], bc.snapshots);
    f.counter("obi_scalp_book_crossed_total", &[], bc.crossed);
    f.counter("obi_scalp_book_trades_total", &[], bc.trades);
    f.counters("obi_scalp_ring_overflows_total", "ring", &s.ring_overflows);
    if let Some(age) = s.last_frame_age_ns {
        f.gauge("obi_scalp_last_frame_age_seconds", &[], secs(age));
    }
    f.gauge("obi_scalp_uptime_seconds", &[], secs(s.uptime_ns));
    f.histogram(
        "obi_scalp_tick_to_trade_seconds",
        &[],
        &s.latency.tick_to_trade,
    );
    if let Some(b) = s.latency.budget_ns {
        f.gauge("obi_scalp_tick_to_trade_budget_seconds", &[], secs(b));
    }
    for (stage, h) in &s.latency.stages {
        f.histogram("obi_scalp_stage_seconds", &[("stage", stage)], h);
    }
    for (point, h) in &s.latency.since_receive {
        f.histogram("obi_scalp_since_receive_seconds", &[("point", point)], h);
    }
    f.out
}

/// The four money gauges in the text format with exact decimal values, as
/// `/health/detailed` shows them: a Prometheus gauge holds an f64, which cannot carry every
/// i128 amount, so these bypass the encoder. Prometheus parses the decimal into its float; the
/// text itself is exact.
pub fn write_money(s: &Status, out: &mut String) {
    use std::fmt::Write;
    let p = &s.pnl;
    let cur = escape_label(&p.currency);
    for (name, units) in [
        ("obi_scalp_pnl_realized", p.realized_units),
        ("obi_scalp_pnl_unrealized", p.unrealized_units),
        ("obi_scalp_pnl", p.total_units()),
        ("obi_scalp_fees", p.fees_units),
        ("obi_scalp_risk_day_pnl", p.risk_day_units),
        ("obi_scalp_risk_drawdown", p.risk_drawdown_units),
    ] {
        let (_, help) = spec(name);
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name}{{currency=\"{cur}\"}} {}", p.format(units));
    }
    if let Some(units) = p.wallet_drift_units {
        let name = "obi_scalp_wallet_drift";
        let (_, help) = spec(name);
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name}{{currency=\"{cur}\"}} {}", p.format(units));
    }
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Reads the board (and the kill switch) on every scrape.
struct BoardCollector {
    board: Arc<StatusBoard>,
    kill: Arc<KillSwitch>,
    feed_down_tolerance: Duration,
    descs: Vec<Desc>,
}

impl Collector for BoardCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let kill = self.kill.describe();
        self.board.read(|s| {
            let healthy = s.health(self.feed_down_tolerance, kill.as_deref()).ok;
            families(s, healthy, kill.is_some())
        })
    }
}

/// The process's metrics registry with the board collector registered.
pub struct Metrics {
    registry: Registry,
    board: Arc<StatusBoard>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(
        board: Arc<StatusBoard>,
        kill: Arc<KillSwitch>,
        feed_down_tolerance: Duration,
    ) -> Metrics {
        let descs = SPECS
            .iter()
            .map(|(name, _, labels, help)| {
                Desc::new(
                    (*name).to_owned(),
                    (*help).to_owned(),
                    labels.iter().map(|l| (*l).to_owned()).collect(),
                    HashMap::new(),
                )
                .expect("metric specs are valid")
            })
            .collect();
        crate::store::metrics::register();
        let registry = Registry::new();
        registry
            .register(Box::new(BoardCollector {
                board: board.clone(),
                kill,
                feed_down_tolerance,
                descs,
            }))
            .expect("first registration in a fresh registry");
        Metrics { registry, board }
    }

    /// For other components that want to add their own collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let mut buf = Vec::with_capacity(16 * 1024);
        // Components without a board field (the journal: crate::store::metrics) register in the
        // process's default registry.
        let mut families = self.registry.gather();
        families.extend(prometheus::gather());
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        let mut text = String::from_utf8(buf).unwrap_or_default();
        self.board.read(|s| write_money(s, &mut text));
        text
    }
}

/// Content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::status::Mode;

    /// `name{labels} value` lines of a rendered exposition, as a map.
    fn samples(text: &str) -> HashMap<String, f64> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_owned(), v.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn renders_board_values() {
        let mut s = Status::new("0.1.0", "abc123", Mode::Paper);
        s.venue = "binance".into();
        s.symbol = "BTCUSDT".into();
        s.phase = Phase::Running;
        s.feed = FeedStatus::Degraded;
        s.book = BookState::Stale;
        s.risk = RiskStatus::Degraded;
        s.risk_reasons = vec!["ring_overflow".into()];
        s.position_lots = -3;
        s.pnl.currency = "USDT".into();
        s.pnl.decimals = 2;
        s.pnl.realized_units = 1234;
        s.trades = 4;
        s.wins = 3;
        s.run_loop_failures = 2;
        s.orders.rejects.insert("rate_limited".into(), 5);
        s.feed_counters.disconnects.insert("timeout".into(), 1);
        s.feed_counters.bytes = 1 << 40;
        s.ring_overflows.insert("feed_book".into(), 9);
        s.last_frame_age_ns = Some(250_000_000);
        s.latency.budget_ns = Some(200_000);
        for ns in [3_000u64, 4_000, 30_000, 2_000_000] {
            s.latency.record_tick_to_trade(ns);
        }
        s.latency.record_stage("book", 700);
        let board = Arc::new(StatusBoard::new(s));
        let kill = KillSwitch::new();
        let m = Metrics::new(board.clone(), kill.clone(), Duration::from_secs(30));
        let text = m.render();
        let v = samples(&text);
        let get = |k: &str| *v.get(k).unwrap_or_else(|| panic!("{k} missing in\n{text}"));
        assert_eq!(get("obi_scalp_monitor_status{status=\"degraded\"}"), 1.0);
        assert_eq!(get("obi_scalp_monitor_status{status=\"active\"}"), 0.0);
        assert_eq!(
            get("obi_scalp_monitor_status{status=\"reconnecting\"}"),
            0.0
        );
        assert_eq!(get("obi_scalp_book_state{state=\"stale\"}"), 1.0);
        assert_eq!(get("obi_scalp_risk_status{status=\"degraded\"}"), 1.0);
        assert_eq!(get("obi_scalp_risk_reason{code=\"ring_overflow\"}"), 1.0);
        assert_eq!(get("obi_scalp_position_lots"), -3.0);
        assert_eq!(get("obi_scalp_pnl_realized{currency=\"USDT\"}"), 12.34);
        assert!(
            text.contains("# TYPE obi_scalp_pnl_realized gauge\n"),
            "{text}"
        );
        assert_eq!(get("obi_scalp_trades_total"), 4.0);
        assert_eq!(get("obi_scalp_win_ratio"), 0.75);
        assert_eq!(get("obi_scalp_run_loop_failures_total"), 2.0);
        assert_eq!(get("obi_scalp_rejects_total{reason=\"rate_limited\"}"), 5.0);
        assert_eq!(
            get("obi_scalp_feed_disconnects_total{cause=\"timeout\"}"),
            1.0
        );
        assert_eq!(
            get("obi_scalp_feed_received_bytes_total"),
            (1u64 << 40) as f64
        );
        assert_eq!(
            get("obi_scalp_ring_overflows_total{ring=\"feed_book\"}"),
            9.0
        );
        assert!(get("obi_scalp_last_frame_age_seconds") >= 0.25);
        assert_eq!(get("obi_scalp_tick_to_trade_budget_seconds"), 0.0002);
        assert_eq!(get("obi_scalp_tick_to_trade_seconds_count"), 4.0);
        assert_eq!(
            get("obi_scalp_tick_to_trade_seconds_bucket{le=\"0.000001\"}"),
            0.0
        );
        assert_eq!(
            get("obi_scalp_tick_to_trade_seconds_bucket{le=\"0.000005\"}"),
            2.0
        );
        assert_eq!(
            get("obi_scalp_tick_to_trade_seconds_bucket{le=\"0.00005\"}"),
            3.0
        );
        assert_eq!(
            get("obi_scalp_tick_to_trade_seconds_bucket{le=\"0.0025\"}"),
            4.0
        );
        assert_eq!(
            get("obi_scalp_tick_to_trade_seconds_bucket{le=\"+Inf\"}"),
            4.0
        );
        let sum = get("obi_scalp_tick_to_trade_seconds_sum");
        assert!((sum - 0.002037).abs() < 0.00001, "{sum}");
        assert_eq!(get("obi_scalp_stage_seconds_count{stage=\"book\"}"), 1.0);
        // Running, feed degraded for less than the tolerance, risk only degraded: healthy.
        assert_eq!(get("obi_scalp_healthy"), 1.0);
        assert_eq!(get("obi_scalp_kill_switch_engaged"), 0.0);
        assert!(text.contains("# TYPE obi_scalp_tick_to_trade_seconds histogram"));
        assert!(text.contains("# TYPE obi_scalp_run_loop_failures_total counter"));
        assert!(text.contains("obi_scalp_build_info{version=\"0.1.0\",config_digest=\"abc123\""));

        kill.trigger(crate::ops::kill::KillSource::Api, "test");
        let v = samples(&m.render());
        assert_eq!(v["obi_scalp_kill_switch_engaged"], 1.0);
        // Every counter family ends in _total and every name has the prefix.
        for (name, ty, _, _) in SPECS {
            assert!(name.starts_with("obi_scalp_"));
            assert_eq!(
                *ty == MetricType::COUNTER,
                name.ends_with("_total"),
                "{name}"
            );
        }
    }
}
