//! The Coincheck `btc_jpy` live gateway: orders over signed REST on one persistent (TLS)
//! keep-alive connection, fills (prices and fees exactly as the venue books them) by polling
//! `GET /api/exchange/orders/transactions_pagination` on an [`AdaptivePoll`] schedule: fast
//! while orders work, doubling up to the slow interval while the account is idle (never the
//! old bot's fixed 2 s). Coincheck offers no private stream to this engine.
//!
//! The order stage's half is the shared [`Front`] (no blocking, locking or allocation after
//! start-up); the I/O thread builds and signs each request in [`CoincheckRequests`]' pre-sized
//! buffer (strictly increasing nonce) and writes it on the [`HttpConn`].
//!
//! - Rate limits: one token bucket for order requests (place, cancel) and one for reads, both
//!   at `order_rate_per_sec` (Coincheck's limits are not in the documentation copy checked,
//!   2026-12-03: set it from your account's terms). A place that finds no token is refused
//!   locally (`RateLimit`, nothing sent); a cancel waits for its token. HTTP 429 blocks order
//!   requests for 1 s and is reported as a venue reject (counts toward
//!   `max_consecutive_failures`).
//! - Auth errors (`invalid authentication`, `disabled API Key`, `Nonce must be incremented`,
//!   HTTP 401): exit code 4 at start-up (a signed balance read checks the credentials), a risk
//!   abort while running ([`RejectReason::Auth`], or [`IoEvent::AuthFailed`] for a fill poll),
//!   after which nothing is sent with the refused pair (no polls either) until a SIGHUP brings
//!   new credentials ([`CredentialsWatch`]: the I/O thread re-keys in place).
//! - No IOC: Coincheck's `immediate_or_cancel` is undocumented, so an IOC command (the
//!   strategy's exits) is sent as a good-till-cancelled limit order and its rest is cancelled
//!   right after the venue's answer: the rest can rest for one round trip.
//! - **Never a double send without a client order id.** Coincheck has none. A place that gets
//!   no answer (time-out, a connection broken after writing, HTTP 5xx) closes the connection
//!   and is resolved before anything is re-sent: the fills since the last poll and the open
//!   orders are read, and an order the venue has that none of our orders claims, placed after
//!   the last order id we know, with our side and price and at most our size (open: its
//!   pending amount; filled: its fills, at our price or better) is taken for ours. Found ⇒
//!   acknowledged with that venue id (its fills follow from the poll); not found ⇒ sent once
//!   more; unanswered again ⇒ rejected (`Network`). **Residual ambiguity**, stated honestly:
//!   (a) an order the venue accepted and ended without a trace in opens or fills (cancelled by
//!   the venue at once, e.g. a crossing `post_only`, which this gateway does not send) is
//!   taken for absent and sent again; (b) another client on the same account placing the same
//!   side, price and size in the same window can be taken for ours; (c) a request still in
//!   flight inside the venue when we ask (executed after the read) is taken for absent. The
//!   simulator's `timeout` (not executed) and `lostack` (executed, unanswered) faults are
//!   resolved exactly.
//! - A cancel's answer does not say how much executed: the fills are polled right after it,
//!   and the order is reported cancelled with the executed size as polled (a fill the venue
//!   books after that poll would be counted late by the order table).
//! - Start-up reconciliation, before the first order. Coincheck has no client order id: our
//!   orders are recognised by their venue ids, which the I/O thread appends (and syncs) to
//!   `<[ops] artifacts_dir>/coincheck-our-orders.txt` at every acknowledgement, before the
//!   order stage hears of it. An open order of the pair whose id is in that file is ours, any
//!   other is foreign: reported and left alone. `[live] on_start`: `refuse` refuses to start
//!   (exit code 10) when any of ours is open, `cancel_ours` cancels them (one still open
//!   after its cancel is a risk abort, `reconcile_mismatch`), `adopt` takes them into the
//!   order table (their fills from then on are booked like any other). The file is then
//!   rewritten with what is still ours. Residual: an order acknowledged by the venue whose
//!   answer never reached us (a crash mid-request) is not in the file and is taken for
//!   foreign; a lost or deleted file makes every open order foreign. Spot: the position is
//!   the `btc` change since this start, so nothing is adopted as a position.
//! - Continuous reconciliation, every `[live] reconcile_interval_ms` between requests: the
//!   fills are polled, the balance is read (`GET /api/accounts/balance`, available plus
//!   reserved), and the fills polled again (a fill between the reads: skipped, read again at
//!   the next interval). Spot: the position is the `btc` change since start, the cash the `jpy`
//!   change. The wallet drift is `|jpy change - our fills' cash| + |btc change - our fills'
//!   position| x the last fill's price`, the `max_wallet_drift` row's input; a `btc` change
//!   our fills do not explain at two reconciliations in a row is a risk abort
//!   (`reconcile_mismatch`).
//! - `dry_run`: every request is built and signed and journalled (payload and signature,
//!   never the key); nothing is sent; places are acknowledged and cancels confirmed locally.

use super::poll::AdaptivePoll;
use super::private::{
    AnswerError, Answers, CoincheckRequests, OpenOrder, Transaction, BALANCE_PATH, ORDERS_PATH,
};
use crate::clock::wall_ms;
use crate::config::OnStart;
use crate::exec::ledger::value;
use crate::exec::live::{
    auth_refused, blocked_cancel_allowed, flush, CredentialsWatch, DryRunJournal, Front, HasFront,
    HttpConn, IoEvent, IoReq, LiveSettings, LiveStartError, LiveStats, SendError, TABLE,
};
use crate::exec::orders::{OrderTable, VenueEvent};
use crate::exec::rate::TokenBucket;
use crate::exec::recon::{note, ReconView};
use crate::msg::{Liquidity, OrderCmd, OrderSide, RejectReason, Tif};
use crate::net::mono_ns;
use crate::venue::bybit::recon::{StartReport, VenueOrder, ADOPTED_ID_BASE};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Fills read per page of `transactions_pagination` (the venue's maximum).
const PAGE: u32 = 100;
/// Pages read at most per poll (older fills than that many pages back are not looked for).
const MAX_PAGES: usize = 10;
/// Fills of orders no order of ours claims, kept for resolving a lost place answer.
const UNMATCHED: usize = 256;
/// Our orders' venue ids, in `[ops] artifacts_dir` (see the module doc).
pub const OURS_FILE: &str = "coincheck-our-orders.txt";

/// The order stage's side of the Coincheck live gateway.
pub struct CoincheckLive {
    front: Front,
    recon: Arc<ReconView>,
    report: Option<StartReport>,
}

impl std::fmt::Debug for CoincheckLive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoincheckLive").finish_non_exhaustive()
    }
}

impl CoincheckLive {
    /// Checks the credentials with a signed balance read, applies `on_start` to the open
    /// orders of the pair and starts the I/O thread, polling fills every `poll_fast` while
    /// orders work and up to every `poll_slow` when idle. In a dry run nothing is connected.
    pub fn start(
        s: LiveSettings,
        poll_fast: Duration,
        poll_slow: Duration,
    ) -> Result<CoincheckLive, LiveStartError> {
        let stats = Arc::new(LiveStats::default());
        let recon = Arc::new(ReconView::default());
        let mut io = Io::new(&s, poll_fast, poll_slow, stats.clone(), recon.clone())?;
        let mut table = OrderTable::new(TABLE);
        let report = if s.dry_run {
            None
        } else {
            let r = io.startup(s.on_start)?;
            r.adopt_into(&mut table, |o| format!("order {}", o.order_id))?;
            Some(r)
        };
        let front = Front::start(
            "obi-coincheck-io",
            table,
            stats,
            0,
            0,
            move |rx, tx, stop| io.run(rx, tx, stop),
        )?;
        Ok(CoincheckLive {
            front,
            recon,
            report,
        })
    }

    /// What start-up reconciliation found and did (`None` in a dry run).
    pub fn start_report(&self) -> Option<&StartReport> {
        self.report.as_ref()
    }

    /// Continuous reconciliation's results (drift, mismatch, audit notes).
    pub fn recon(&self) -> Arc<ReconView> {
        self.recon.clone()
    }

    pub fn stats(&self) -> Arc<LiveStats> {
        self.front.stats()
    }

    pub fn table(&self) -> &OrderTable {
        self.front.table()
    }
}

impl HasFront for CoincheckLive {
    fn front(&self) -> &Front {
        &self.front
    }

    fn front_mut(&mut self) -> &mut Front {
        &mut self.front
    }
}

// ---------------------------------------------------------------------------------------------
// The I/O thread

/// One of our orders as the I/O thread knows it.
#[derive(Debug, Clone, Copy)]
struct CcOrder {
    id: u64,
    /// The venue's order id, once known.
    venue_id: Option<u64>,
    side: OrderSide,
    px: i64,
    qty: i64,
    filled: i64,
    /// An IOC command: its rest is cancelled right after the place answer.
    ioc: bool,
}

/// What a place request's answer says.
enum Placed {
    Ack(u64),
    Refused(RejectReason),
    /// No answer, or an ambiguous one: the order may or may not be at the venue.
    Unknown,
    /// Not sent (the connection failed before writing).
    NotSent,
}

struct Io {
    /// Credentials reloaded while running (SIGHUP): see [`CredentialsWatch`].
    creds: Option<CredentialsWatch>,
    /// The venue refused our credentials: no new order and no read is sent (each place is
    /// refused here, `Auth`) until new credentials arrive; cancels still go out (the safety
    /// path); risk has been told ([`IoEvent::AuthFailed`]).
    auth_blocked: bool,
    /// When the last single cancel went out while `auth_blocked` ([`blocked_cancel_allowed`]).
    blocked_cancel_ns: u64,
    req: CoincheckRequests,
    ans: Answers,
    http: HttpConn,
    orders: Vec<CcOrder>,
    poll: AdaptivePoll,
    order_bucket: TokenBucket,
    read_bucket: TokenBucket,
    /// Order requests wait until this monotonic time after an HTTP 429.
    blocked_until_ns: u64,
    /// The newest fill id seen (fills up to it have been read).
    last_tx_id: u64,
    /// The largest venue order id we know (ours, or the newest fill's order at start).
    max_known_order: u64,
    unmatched: Vec<Transaction>,
    dry_run: bool,
    next_dry_id: u64,
    journal: DryRunJournal,
    stats: Arc<LiveStats>,
    events: Vec<IoEvent>,
    recon: Arc<ReconView>,
    lot: crate::num::Scale,
    recon_every_ns: u64,
    next_recon_ns: u64,
    /// The balance at start (available plus reserved): base lots, quote money.
    base0: i64,
    quote0: crate::msg::Money,
    /// Our fills as reported: position (lots) and cash change (fees included), and the last
    /// fill's price (ticks, 0 before the first).
    booked_pos: i64,
    booked_cash: crate::msg::Money,
    last_px: i64,
    /// Reconciliations in a row that found the base balance differing from our fills'.
    strikes: u32,
    /// Fill ids booked (a fill is booked once, whichever read found it).
    booked: std::collections::BTreeSet<u64>,
    /// Our orders' venue ids, one a line (no client order id at Coincheck: how a restarted
    /// process recognises its own orders). Appended at every acknowledgement.
    ours_path: std::path::PathBuf,
    ours_file: Option<std::fs::File>,
}

impl Io {
    fn new(
        s: &LiveSettings,
        fast: Duration,
        slow: Duration,
        stats: Arc<LiveStats>,
        recon: Arc<ReconView>,
    ) -> Result<Io, LiveStartError> {
        let cfg = LiveStartError::Config;
        let pair = s.inst.key.symbol.as_str();
        let http = HttpConn::new(
            &s.rest_url,
            s.ca_file.as_deref(),
            s.request_timeout,
            stats.clone(),
            s.start_ms,
        )
        .map_err(cfg)?
        .observe_as("coincheck", s.order_rate_per_sec);
        let req = CoincheckRequests::new(
            s.rest_url.trim_end_matches('/'),
            &s.api_key,
            s.api_secret.as_bytes(),
            pair,
            s.inst.tick,
            s.inst.lot,
        )
        .map_err(cfg)?;
        let ans = Answers::new(pair, s.inst.tick, s.inst.lot).map_err(cfg)?;
        let poll = AdaptivePoll::new(fast.as_nanos() as u64, slow.as_nanos() as u64)
            .map_err(|e| cfg(format!("live.poll_fast_ms / poll_slow_ms: {e}")))?;
        let rate = s.order_rate_per_sec;
        Ok(Io {
            creds: s.credentials.clone(),
            auth_blocked: false,
            blocked_cancel_ns: 0,
            req,
            ans,
            http,
            orders: Vec::with_capacity(TABLE),
            poll,
            order_bucket: TokenBucket::new(rate, rate),
            read_bucket: TokenBucket::new(rate, rate),
            blocked_until_ns: 0,
            last_tx_id: 0,
            max_known_order: 0,
            unmatched: Vec::with_capacity(UNMATCHED),
            dry_run: s.dry_run,
            next_dry_id: 1,
            journal: DryRunJournal::new(s.journal_dir.clone()),
            stats,
            events: Vec::with_capacity(64),
            recon,
            lot: s.inst.lot,
            recon_every_ns: s.reconcile_interval.as_nanos() as u64,
            next_recon_ns: 0,
            base0: 0,
            quote0: 0,
            booked_pos: 0,
            booked_cash: 0,
            last_px: 0,
            strikes: 0,
            booked: std::collections::BTreeSet::new(),
            ours_path: s.journal_dir.join(OURS_FILE),
            ours_file: None,
        })
    }

    /// A signed read (`GET path`): the answer's status and body, or why there is none.
    fn get(&mut self, what: Read) -> Result<(u16, Vec<u8>), SendError> {
        self.wait_read_token();
        let ts = wall_ms();
        let r = match what {
            Read::Balance => self.req.get(ts, BALANCE_PATH),
            Read::Opens => self.req.get(ts, super::private::OPENS_PATH),
            Read::Fills(after) => self.req.transactions_page(ts, PAGE, after),
            Read::CancelStatus(id) => self.req.cancel_status(ts, id),
            Read::AllFills => self.req.get(ts, super::private::TRANSACTIONS_PATH),
        }
        .map_err(|_| SendError::NotSent("request too long".into()))?;
        LiveStats::inc(&self.stats.queries);
        let a = self.http.send(r.bytes())?;
        Ok((a.status, a.body.to_vec()))
    }

    /// Credentials (a signed balance read), the open orders of the pair under `on_start`,
    /// and the fill high-water mark (older fills are not ours to book).
    fn startup(&mut self, on_start: OnStart) -> Result<StartReport, LiveStartError> {
        let what = self.http.url.authority();
        let unreachable = |e: String| LiveStartError::Unreachable(format!("{what}: {e}"));
        let (st, body) = self
            .get(Read::Balance)
            .map_err(|e| unreachable(format!("start-up balance read failed: {e}")))?;
        match self.ans.balance(st, &body) {
            Ok(b) => {
                self.base0 = b.base_lots + b.base_reserved_lots;
                self.quote0 = b.quote + b.quote_reserved;
            }
            Err(AnswerError::Venue(v)) if v.is_auth() => {
                self.auth_refused();
                return Err(LiveStartError::Auth(format!(
                    "{what}: the venue refused our API credentials: HTTP {} ({})",
                    v.status, v.error
                )));
            }
            Err(e) => return Err(unreachable(format!("start-up balance read: {e}"))),
        }
        let opens = self.opens().map_err(unreachable)?;
        let known = self.load_ours();
        let view = |o: &OpenOrder| VenueOrder {
            link_id: String::new(),
            order_id: o.id.to_string(),
            side: o.side,
            px: o.rate_ticks,
            qty: o.pending_lots,
            cum: 0,
            status: "open".into(),
        };
        let mut rep = StartReport {
            policy: on_start.as_str(),
            ..StartReport::default()
        };
        let (ours, foreign): (Vec<&OpenOrder>, Vec<&OpenOrder>) =
            opens.iter().partition(|o| known.contains(&o.id));
        rep.ours = ours.iter().map(|o| view(o)).collect();
        rep.foreign = foreign.iter().map(|o| view(o)).collect();
        if !ours.is_empty() {
            match on_start {
                OnStart::Refuse => {
                    return Err(LiveStartError::Refused(format!(
                        "on_start = \"refuse\": our order(s) [{}] open at the venue (their ids are in {}); \
                         cancel them or set live.on_start = \"cancel_ours\" or \"adopt\"",
                        rep.ours.iter().map(|o| o.order_id.as_str()).collect::<Vec<_>>().join(","),
                        OURS_FILE
                    )))
                }
                OnStart::Adopt => {
                    for (n, o) in ours.iter().enumerate() {
                        let id = ADOPTED_ID_BASE + n as u64;
                        self.orders.push(CcOrder {
                            id,
                            venue_id: Some(o.id),
                            side: o.side,
                            px: o.rate_ticks,
                            qty: o.pending_lots,
                            filled: 0,
                            ioc: false,
                        });
                        self.max_known_order = self.max_known_order.max(o.id);
                        rep.adopted.push((id, view(o)));
                    }
                }
                OnStart::CancelOurs => {
                    for o in &ours {
                        self.wait_order_token();
                        let Ok(r) = self.req.cancel(wall_ms(), o.id) else {
                            continue;
                        };
                        LiveStats::inc(&self.stats.cancels);
                        if let Err(e) = self.http.send(r.bytes()) {
                            tracing::warn!(order = o.id, error = %e, "coincheck: start-up cancel failed");
                        }
                        rep.cancelled.push(o.id.to_string());
                    }
                    let left: Vec<String> = self
                        .opens()
                        .map_err(unreachable)?
                        .iter()
                        .filter(|o| known.contains(&o.id))
                        .map(|o| o.id.to_string())
                        .collect();
                    if !left.is_empty() {
                        return Err(LiveStartError::Mismatch(format!(
                            "reconcile_mismatch: our order(s) [{}] still open at the venue after their cancel",
                            left.join(",")
                        )));
                    }
                }
            }
        }
        // The file keeps what may still be ours: the orders adopted (or, cancelled, none).
        let keep: Vec<u64> = rep
            .adopted
            .iter()
            .filter_map(|(_, o)| o.order_id.parse().ok())
            .collect();
        self.rewrite_ours(&keep)
            .map_err(|e| LiveStartError::Config(format!("{}: {e}", self.ours_path.display())))?;
        rep.wallet = self.quote0;
        let (st, body) = self
            .get(Read::Fills(None))
            .map_err(|e| unreachable(format!("start-up fills read failed: {e}")))?;
        let fills = self
            .ans
            .transactions(st, &body)
            .map_err(|e| unreachable(format!("start-up fills read: {e}")))?;
        self.last_tx_id = fills.iter().map(|t| t.id).max().unwrap_or(0);
        self.max_known_order = fills.iter().map(|t| t.order_id).max().unwrap_or(0);
        // The cancels above moved reserved into available only: the totals stand.
        self.next_recon_ns = mono_ns() + self.recon_every_ns;
        Ok(rep)
    }

    /// Fills of our working orders that the poll did not deliver, read from `transactions`:
    /// booked once (fill ids are remembered) and noted for the audit log.
    fn find_missed_fills(&mut self) -> Result<(), String> {
        if !self.orders.iter().any(|o| o.venue_id.is_some()) {
            return Ok(());
        }
        let (st, body) = self.get(Read::AllFills).map_err(|e| e.to_string())?;
        let all = self
            .ans
            .transactions(st, &body)
            .map_err(|e| e.to_string())?;
        for t in all.iter().rev() {
            if self.booked.contains(&t.id) {
                continue;
            }
            let Some(id) = self
                .orders
                .iter()
                .find(|o| o.venue_id == Some(t.order_id))
                .map(|o| o.id)
            else {
                continue;
            };
            self.booked.insert(t.id);
            self.recon.found_fills.fetch_add(1, Ordering::Relaxed);
            LiveStats::inc(&self.stats.polled_fills);
            tracing::warn!(
                fill = t.id,
                order = t.order_id,
                "coincheck: a fill the poll did not deliver, found by reconciliation"
            );
            self.recon.note(note(&[
                ("outcome", "fill_found".into()),
                (
                    "found_by",
                    "reconciliation: GET /api/exchange/orders/transactions".into(),
                ),
                ("venue_order_id", t.order_id.to_string().into()),
                ("exec_id", t.id.to_string().into()),
                ("qty", self.lot.format(t.qty_lots).into()),
            ]));
            self.venue(id, Self::fill_event(t));
        }
        Ok(())
    }

    /// Our orders' venue ids from the file (none when it does not exist yet).
    fn load_ours(&self) -> std::collections::BTreeSet<u64> {
        std::fs::read_to_string(&self.ours_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    fn rewrite_ours(&mut self, ids: &[u64]) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(d) = self.ours_path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let mut text = String::new();
        for id in ids {
            text.push_str(&format!("{id}\n"));
        }
        let tmp = self.ours_path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.ours_path)?;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.ours_path)?;
        f.flush()?;
        self.ours_file = Some(f);
        Ok(())
    }

    /// Remembers venue order `vid` as ours (written before the order is acknowledged to the
    /// order stage, so that a crash after the ack still finds it ours).
    fn remember(&mut self, vid: u64) {
        use std::io::Write;
        if let Some(f) = &mut self.ours_file {
            if let Err(e) = writeln!(f, "{vid}").and_then(|()| f.sync_data()) {
                tracing::error!(error = %e, order = vid, "coincheck: cannot record our order id; a restart will take it for foreign");
            }
        }
    }

    /// Continuous reconciliation (see the module doc): on the I/O thread, between requests.
    /// Returns whether it was done (skipped: tried again soon, not an interval later).
    fn reconcile(&mut self) -> bool {
        match self.try_reconcile() {
            Ok(()) => true,
            Err(e) => {
                self.recon.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "coincheck: reconciliation skipped");
                false
            }
        }
    }

    fn try_reconcile(&mut self) -> Result<(), String> {
        self.poll_fills();
        self.find_missed_fills()?;
        let (st, body) = self.get(Read::Balance).map_err(|e| e.to_string())?;
        let b = self.ans.balance(st, &body).map_err(|e| e.to_string())?;
        if self.poll_fills() > 0 {
            return Err("a fill arrived between the reads".into());
        }
        let dpos = b.base_lots + b.base_reserved_lots - self.base0 - self.booked_pos;
        let dcash = b.quote + b.quote_reserved - self.quote0 - self.booked_cash;
        let drift = dcash.abs() + (dpos as i128).abs() * value(self.last_px, 1).abs();
        self.recon.venue_position.store(
            b.base_lots + b.base_reserved_lots - self.base0,
            Ordering::Relaxed,
        );
        self.recon.set_drift(drift);
        if dpos != 0 {
            self.strikes += 1;
            if self.strikes >= 2 && !self.recon.mismatch.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    venue = dpos + self.booked_pos,
                    ours = self.booked_pos,
                    "coincheck: the venue's btc balance changed by more than our fills explain"
                );
                let lot = self.lot;
                self.recon.note(note(&[
                    ("outcome", "mismatch".into()),
                    ("reason_code", "reconcile_mismatch".into()),
                    ("venue_position", lot.format(dpos + self.booked_pos).into()),
                    ("our_position", lot.format(self.booked_pos).into()),
                    ("unexplained", lot.format(dpos).into()),
                ]));
            }
        } else {
            self.strikes = 0;
        }
        Ok(())
    }

    fn opens(&mut self) -> Result<Vec<OpenOrder>, String> {
        let (st, body) = self.get(Read::Opens).map_err(|e| e.to_string())?;
        self.ans.opens(st, &body).map_err(|e| e.to_string())
    }

    /// The venue refused our credentials: counted, risk told once (an abort), and from now on
    /// new orders are refused here and no reads or keep-alives are sent (a retry cannot
    /// succeed with the same pair) until a SIGHUP brings new credentials ([`CredentialsWatch::rekey`]).
    fn auth_refused(&mut self) {
        auth_refused(&self.stats, &mut self.auth_blocked, &mut self.events);
    }

    fn run(
        mut self,
        mut rx: rtrb::Consumer<IoReq>,
        mut tx: rtrb::Producer<IoEvent>,
        stop: &AtomicBool,
    ) {
        loop {
            // New credentials from a SIGHUP reload, if any: the request builder signs with
            // them from the next request on (one atomic load when there are none).
            CredentialsWatch::rekey(
                self.creds.as_mut(),
                "coincheck",
                &mut self.auth_blocked,
                |key, secret| self.req.set_credentials(key, secret),
            );
            let mut did = false;
            while let Ok(r) = rx.pop() {
                did = true;
                match r.cmd {
                    OrderCmd::Place {
                        id,
                        side,
                        px,
                        qty,
                        tif,
                        ..
                    } => self.place(id, side, px, qty, tif),
                    OrderCmd::Cancel { id } => self.cancel_cmd(id),
                    OrderCmd::CancelAll => {
                        let ended = self.cancel_all(r.t_ns);
                        // The acknowledgement first: the fills are read after it.
                        flush(&mut self.events, &mut tx, stop);
                        for (id, vid, cancelled) in ended {
                            self.ended(id, vid, cancelled);
                        }
                    }
                }
                flush(&mut self.events, &mut tx, stop);
                self.stats.finished.fetch_add(1, Ordering::Release);
            }
            // Between requests only: a reconciliation's reads delay what waits on the ring.
            // Nothing is read with a pair the venue refused (no retry loop): see `auth_refused`.
            if !self.dry_run
                && !self.auth_blocked
                && rx.is_empty()
                && self.recon_every_ns > 0
                && mono_ns() >= self.next_recon_ns
            {
                let wait = if self.reconcile() {
                    self.recon_every_ns
                } else {
                    self.recon_every_ns.min(50_000_000)
                };
                self.next_recon_ns = mono_ns() + wait;
                flush(&mut self.events, &mut tx, stop);
            }
            let now = mono_ns();
            // Only with a read token at hand: a poll that waited for one (the poll schedule can
            // ask more often than the read rate allows) would hold up the orders and cancels
            // behind it on the ring (a kill switch's cancel-all waited ~290 ms for it).
            if !self.dry_run
                && !self.auth_blocked
                && self.poll.due(now)
                && self.read_bucket.available(now) > 0
            {
                let found = self.poll_fills();
                self.poll.polled(mono_ns(), self.orders.len(), found > 0);
                flush(&mut self.events, &mut tx, stop);
            }
            if stop.load(Ordering::SeqCst) && rx.is_empty() {
                break;
            }
            if !did {
                let wait = self.poll.next_ns().saturating_sub(mono_ns());
                std::thread::sleep(Duration::from_nanos(wait.clamp(50_000, 500_000)));
            }
        }
        println!("{}", self.stats.line("coincheck"));
    }

    fn wait_order_token(&mut self) {
        loop {
            let now = mono_ns();
            if now >= self.blocked_until_ns && self.order_bucket.try_take(now) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn wait_read_token(&mut self) {
        while !self.read_bucket.try_take(mono_ns()) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Reports `ev` for our order `id`, keeping the I/O thread's view (drops finished orders).
    fn venue(&mut self, id: u64, ev: VenueEvent) {
        let i = self.orders.iter().position(|o| o.id == id);
        let mut done = false;
        if let Some(i) = i {
            let o = &mut self.orders[i];
            match ev {
                VenueEvent::Fill { px, qty, fee, .. } => {
                    o.filled += qty;
                    let s = match o.side {
                        OrderSide::Buy => 1i64,
                        OrderSide::Sell => -1,
                    };
                    self.booked_pos += s * qty;
                    self.booked_cash -= s as i128 * value(px, qty) + fee;
                    self.last_px = px;
                    done = o.filled >= o.qty;
                }
                VenueEvent::Cancelled { .. }
                | VenueEvent::Expired { .. }
                | VenueEvent::Rejected { .. } => done = true,
                VenueEvent::Ack | VenueEvent::CancelRejected { .. } => {}
            }
        }
        if let (true, Some(i)) = (done, i) {
            self.orders.swap_remove(i);
        }
        self.events.push(IoEvent::Venue { id, ev });
    }

    fn fill_event(t: &Transaction) -> VenueEvent {
        VenueEvent::Fill {
            exec_id: t.id,
            px: t.rate_ticks,
            qty: t.qty_lots,
            fee: t.fee,
            liquidity: if t.maker {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            },
        }
    }

    /// Reads the fills since the last poll (oldest first) and reports ours; keeps the others
    /// for resolving a lost place answer. Returns how many of ours it found.
    fn poll_fills(&mut self) -> usize {
        LiveStats::inc(&self.stats.polls);
        let mut new: Vec<Transaction> = Vec::new();
        let mut after = None;
        for _ in 0..MAX_PAGES {
            let page = match self.get(Read::Fills(after)) {
                Ok((st, body)) => self.ans.transactions(st, &body),
                Err(e) => {
                    tracing::warn!(error = %e, "coincheck: fill poll failed");
                    return 0;
                }
            };
            let page = match page {
                Ok(p) => p,
                Err(AnswerError::Venue(v)) => {
                    if v.is_auth() {
                        self.auth_refused();
                        tracing::error!(error = %v.error, "coincheck: fill poll refused for our credentials");
                    } else if v.is_rate_limited() {
                        LiveStats::inc(&self.stats.venue_rate_limited);
                    }
                    return 0;
                }
                Err(e) => {
                    LiveStats::inc(&self.stats.malformed);
                    tracing::warn!(error = %e, "coincheck: fill poll answer");
                    return 0;
                }
            };
            let full = page.len() as u32 >= PAGE;
            let oldest = page.last().map(|t| t.id);
            let mut reached = false;
            for t in page {
                if t.id <= self.last_tx_id {
                    reached = true;
                    break;
                }
                new.push(t);
            }
            if reached || !full {
                break;
            }
            after = oldest;
        }
        let mut found = 0;
        // Newest first as read: book oldest first.
        for t in new.iter().rev() {
            self.last_tx_id = self.last_tx_id.max(t.id);
            let ours = self
                .orders
                .iter()
                .find(|o| o.venue_id == Some(t.order_id))
                .map(|o| o.id);
            if self.booked.contains(&t.id) {
                continue;
            }
            match ours {
                Some(id) => {
                    found += 1;
                    self.booked.insert(t.id);
                    LiveStats::inc(&self.stats.polled_fills);
                    self.venue(id, Self::fill_event(t));
                }
                None => {
                    LiveStats::inc(&self.stats.unmatched_fills);
                    if self.unmatched.len() == UNMATCHED {
                        self.unmatched.remove(0);
                    }
                    self.unmatched.push(t.clone());
                }
            }
        }
        found
    }

    fn place(&mut self, id: u64, side: OrderSide, px: i64, qty: i64, tif: Tif) {
        if self.auth_blocked {
            // Refused for our credentials before: not sent (risk has aborted).
            return self.venue(
                id,
                VenueEvent::Rejected {
                    reason: RejectReason::Auth,
                },
            );
        }
        let now = mono_ns();
        if let Some(r) = self.http.allowed_order_rate() {
            self.order_bucket.set_rate(now, r);
        }
        if now < self.blocked_until_ns || !self.order_bucket.try_take(now) {
            LiveStats::inc(&self.stats.local_rate_limited);
            self.venue(
                id,
                VenueEvent::Rejected {
                    reason: RejectReason::RateLimit,
                },
            );
            return;
        }
        self.orders.push(CcOrder {
            id,
            venue_id: None,
            side,
            px,
            qty,
            filled: 0,
            ioc: tif == Tif::Ioc,
        });
        // Never IOC (undocumented at Coincheck): a limit order whose rest is cancelled.
        let sent_tif = if tif == Tif::Ioc { Tif::Gtc } else { tif };
        let mut resent = false;
        let mut not_sent = 0;
        loop {
            match self.send_place(side, px, qty, sent_tif) {
                Placed::Ack(vid) => return self.acked(id, vid),
                Placed::Refused(reason) => {
                    return self.venue(id, VenueEvent::Rejected { reason });
                }
                Placed::NotSent if not_sent == 0 => {
                    not_sent += 1;
                    continue;
                }
                Placed::NotSent => {
                    return self.venue(
                        id,
                        VenueEvent::Rejected {
                            reason: RejectReason::Network,
                        },
                    )
                }
                Placed::Unknown => {
                    LiveStats::inc(&self.stats.timeouts);
                    tracing::warn!(
                        order = id,
                        "coincheck: place unanswered; reading fills and open orders"
                    );
                    match self.resolve(id) {
                        Some(Some(vid)) => return self.acked(id, vid),
                        Some(None) if !resent => {
                            LiveStats::inc(&self.stats.resends);
                            resent = true;
                            continue;
                        }
                        _ => {
                            return self.venue(
                                id,
                                VenueEvent::Rejected {
                                    reason: RejectReason::Network,
                                },
                            )
                        }
                    }
                }
            }
        }
    }

    /// The venue accepted our order `id` as `vid`: acknowledged, fills looked for at once
    /// (fast from now on), and an IOC's rest cancelled.
    fn acked(&mut self, id: u64, vid: u64) {
        self.max_known_order = self.max_known_order.max(vid);
        if !self.dry_run {
            self.remember(vid);
        }
        let mut ioc = false;
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == id) {
            o.venue_id = Some(vid);
            ioc = o.ioc;
        }
        self.venue(id, VenueEvent::Ack);
        // Fills of this order that an earlier poll read before we knew its id.
        let mut i = 0;
        while i < self.unmatched.len() {
            if self.unmatched[i].order_id == vid {
                let t = self.unmatched.remove(i);
                if !self.booked.insert(t.id) {
                    continue;
                }
                LiveStats::inc(&self.stats.polled_fills);
                self.venue(id, Self::fill_event(&t));
            } else {
                i += 1;
            }
        }
        self.poll.order_sent(mono_ns());
        if ioc && !self.dry_run && self.orders.iter().any(|o| o.id == id) {
            self.cancel(id);
        }
    }

    fn send_place(&mut self, side: OrderSide, px: i64, qty: i64, tif: Tif) -> Placed {
        let ts = wall_ms();
        let Ok(r) = self.req.create(ts, side, px, qty, tif) else {
            return Placed::Refused(RejectReason::Invalid);
        };
        LiveStats::inc(&self.stats.places);
        if self.dry_run {
            self.journal.write(ORDERS_PATH, ts, r.body(), &r.signature);
            self.next_dry_id += 1;
            return Placed::Ack(self.next_dry_id);
        }
        let a = match self.http.send(r.bytes()) {
            Ok(a) => a,
            Err(SendError::NotSent(e)) => {
                tracing::warn!(error = %e, "coincheck: place not sent; reconnecting");
                return Placed::NotSent;
            }
            Err(_) => {
                self.http.close();
                return Placed::Unknown;
            }
        };
        let status = a.status;
        match self.ans.order(status, a.body) {
            Ok(ack) => Placed::Ack(ack.id),
            Err(AnswerError::Venue(v)) if v.is_auth() => {
                self.auth_refused();
                tracing::error!(error = %v.error, "coincheck: order refused for our credentials");
                Placed::Refused(RejectReason::Auth)
            }
            Err(AnswerError::Venue(v)) if v.is_rate_limited() => {
                LiveStats::inc(&self.stats.venue_rate_limited);
                self.blocked_until_ns = mono_ns() + 1_000_000_000;
                Placed::Refused(RejectReason::Venue)
            }
            Err(AnswerError::Venue(v)) if v.status >= 500 => {
                // Ambiguous: the venue may have placed it.
                self.http.close();
                Placed::Unknown
            }
            Err(AnswerError::Venue(v)) => {
                tracing::warn!(status = v.status, error = %v.error, "coincheck: order refused");
                Placed::Refused(if v.status == 400 && v.error.contains("invalid") {
                    RejectReason::Invalid
                } else {
                    RejectReason::Venue
                })
            }
            Err(AnswerError::Malformed(m)) => {
                LiveStats::inc(&self.stats.malformed);
                tracing::warn!(error = %m, "coincheck: place answer malformed");
                self.http.close();
                Placed::Unknown
            }
        }
    }

    /// Finds an unanswered place of our order `id` at the venue (see the module's rule):
    /// `Some(Some(venue_id))` found, `Some(None)` absent, `None` the venue could not be read.
    fn resolve(&mut self, id: u64) -> Option<Option<u64>> {
        let o = *self.orders.iter().find(|o| o.id == id)?;
        self.poll_fills();
        let opens = match self.opens() {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "coincheck: resolving a place: open orders unread");
                return None;
            }
        };
        let claimed = |vid: u64, orders: &[CcOrder]| orders.iter().any(|x| x.venue_id == Some(vid));
        let candidate = opens
            .iter()
            .filter(|v| v.id > self.max_known_order && !claimed(v.id, &self.orders))
            .find(|v| v.side == o.side && v.rate_ticks == o.px && v.pending_lots <= o.qty)
            .map(|v| v.id);
        let candidate = candidate.or_else(|| {
            // Filled (at least partly) and no longer open: its fills, at our price or better.
            let mut ids: Vec<u64> = self
                .unmatched
                .iter()
                .filter(|t| t.order_id > self.max_known_order && t.side == o.side)
                .filter(|t| match o.side {
                    OrderSide::Buy => t.rate_ticks <= o.px,
                    OrderSide::Sell => t.rate_ticks >= o.px,
                })
                .map(|t| t.order_id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter().find(|vid| {
                let q: i64 = self
                    .unmatched
                    .iter()
                    .filter(|t| t.order_id == *vid)
                    .map(|t| t.qty_lots)
                    .sum();
                q <= o.qty && !opens.iter().any(|v| v.id == *vid)
            })
        });
        if let Some(vid) = candidate {
            tracing::warn!(
                order = id,
                venue_order = vid,
                "coincheck: unanswered place found at the venue"
            );
        }
        Some(candidate)
    }

    /// The order stage's cancel of `id`: sent, or while our credentials are refused and one
    /// went out less than [`crate::exec::live::BLOCKED_CANCEL_GAP_NS`] ago, refused here (`Auth`).
    fn cancel_cmd(&mut self, id: u64) {
        if blocked_cancel_allowed(self.auth_blocked, &mut self.blocked_cancel_ns, mono_ns()) {
            self.cancel(id);
        } else {
            self.venue(
                id,
                VenueEvent::CancelRejected {
                    reason: RejectReason::Auth,
                },
            );
        }
    }

    fn cancel(&mut self, id: u64) {
        if let Some((vid, cancelled)) = self.send_cancel(id) {
            self.ended(id, vid, cancelled);
        }
    }

    /// Sends the cancel of our order `id` (its retries included) up to the venue's answer;
    /// `Some((venue id, cancelled))` when the order is no longer open at the venue (what
    /// [`Self::ended`] then reads and reports), `None` when what happened was reported here.
    fn send_cancel(&mut self, id: u64) -> Option<(u64, bool)> {
        // Sent even after a refusal of our credentials (`auth_blocked` stops new orders and
        // reads, not cancels): cancels are the safety path, and a refusal that passes (a nonce
        // or clock window) must not leave our orders resting at the venue.
        let Some(o) = self.orders.iter().find(|o| o.id == id).copied() else {
            // Finished as far as the venue told us: the table has (or will get) its end.
            return None;
        };
        let Some(vid) = o.venue_id else {
            self.venue(
                id,
                VenueEvent::CancelRejected {
                    reason: RejectReason::UnknownOrder,
                },
            );
            return None;
        };
        for attempt in 0..3 {
            self.wait_order_token();
            let ts = wall_ms();
            let Ok(r) = self.req.cancel(ts, vid) else {
                return None;
            };
            LiveStats::inc(&self.stats.cancels);
            if self.dry_run {
                let what = format!("DELETE {ORDERS_PATH}/{vid}");
                self.journal
                    .write(ORDERS_PATH, ts, what.as_bytes(), &r.signature);
                self.venue(id, VenueEvent::Cancelled { cum_qty: o.filled });
                return None;
            }
            self.poll.order_sent(mono_ns());
            let res = match self.http.send(r.bytes()) {
                Ok(a) => Ok(self.ans.cancel(a.status, a.body)),
                Err(e) => Err(e),
            };
            match res {
                Ok(Ok(_)) => return Some((vid, true)),
                Ok(Err(AnswerError::Venue(v))) if v.is_auth() => {
                    self.auth_refused();
                    self.venue(
                        id,
                        VenueEvent::CancelRejected {
                            reason: RejectReason::Auth,
                        },
                    );
                    return None;
                }
                Ok(Err(AnswerError::Venue(v))) if v.is_rate_limited() && attempt < 2 => {
                    LiveStats::inc(&self.stats.venue_rate_limited);
                    self.blocked_until_ns = mono_ns() + 1_000_000_000;
                }
                // Not open any more (filled, or cancelled already): what happened decides.
                Ok(Err(AnswerError::Venue(v))) if v.status == 404 => return Some((vid, false)),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "coincheck: cancel refused");
                    self.venue(
                        id,
                        VenueEvent::CancelRejected {
                            reason: RejectReason::Venue,
                        },
                    );
                    return None;
                }
                Err(SendError::NotSent(_)) => {}
                Err(_) => {
                    // Did it go through? Ask before sending it again (a second DELETE of a
                    // cancelled order is refused, never harmful).
                    LiveStats::inc(&self.stats.timeouts);
                    self.http.close();
                    if let Ok((st, body)) = self.get(Read::CancelStatus(vid)) {
                        if let Ok((_, true)) = self.ans.cancel_status(st, &body) {
                            return Some((vid, true));
                        }
                    }
                }
            }
        }
        self.venue(
            id,
            VenueEvent::CancelRejected {
                reason: RejectReason::Network,
            },
        );
        None
    }

    /// Our order `id` (`vid` at the venue) is no longer open: its fills are read, then it is
    /// reported cancelled with the size executed (when `cancelled`, or the venue's
    /// cancel_status says so), or left to its fills (filled).
    fn ended(&mut self, id: u64, vid: u64, cancelled: bool) {
        self.poll_fills();
        if self.orders.iter().any(|o| o.id == id) {
            // What the poll may have missed (the full list), before the executed size is told.
            if let Err(e) = self.find_missed_fills() {
                tracing::warn!(error = %e, "coincheck: fills of an ended order unread");
            }
        }
        let Some(o) = self.orders.iter().find(|o| o.id == id).copied() else {
            return; // filled
        };
        let cancelled = cancelled
            || matches!(
                self.get(Read::CancelStatus(vid))
                    .ok()
                    .map(|(st, b)| self.ans.cancel_status(st, &b)),
                Some(Ok((_, true)))
            );
        if cancelled {
            self.venue(id, VenueEvent::Cancelled { cum_qty: o.filled });
        } else {
            self.venue(
                id,
                VenueEvent::CancelRejected {
                    reason: RejectReason::UnknownOrder,
                },
            );
        }
    }

    /// Coincheck has no cancel-all: every working order of ours is cancelled, one `DELETE`
    /// after the other; once the venue has answered them all (nothing of ours is open there)
    /// the cancel-all is acknowledged (the kill switch's trigger -> cancel-ack figure, flushed
    /// by the caller at once); the caller then reads each ended order's fills and reports it
    /// ([`Self::ended`]) with its executed size.
    fn cancel_all(&mut self, t_ns: u64) -> Ended {
        let ids: arrayvec::ArrayVec<u64, TABLE> =
            self.orders.iter().map(|o| o.id).take(TABLE).collect();
        let mut ended = Ended::new();
        for id in ids {
            if let Some((vid, cancelled)) = self.send_cancel(id) {
                ended.push((id, vid, cancelled));
            }
        }
        LiveStats::inc(&self.stats.cancel_alls);
        if !self.auth_blocked {
            self.events.push(IoEvent::CancelAllAck { t_ns });
        }
        ended
    }
}

/// Orders a cancel-all ended at the venue: (our id, venue id, cancelled).
type Ended = arrayvec::ArrayVec<(u64, u64, bool), TABLE>;

/// A signed read.
#[derive(Clone, Copy)]
enum Read {
    Balance,
    Opens,
    /// `transactions_pagination`, older than the fill id when given.
    Fills(Option<u64>),
    CancelStatus(u64),
    /// `transactions`: the recent fills, for reconciliation.
    AllFills,
}
