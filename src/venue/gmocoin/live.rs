//! The GMO Coin `BTC_JPY` live gateway: orders over signed REST (`/private/v1/order`,
//! `/private/v1/cancelOrder`) on one persistent (TLS) keep-alive connection; fills and order
//! ends from the private WebSocket (`executionEvents`, `orderEvents` on
//! `/ws/private/v1/{token}`, the token from `POST /private/v1/ws-auth`, extended with `PUT`
//! every 30 min and renewed when the extension fails); REST reads (`orders`, `executions`,
//! `activeOrders`, `latestExecutions`) for recovery.
//!
//! - Fills are booked once: an execution id seen before (stream and REST may both carry it)
//!   is dropped. An event for a venue order id we do not know yet (the stream can beat the
//!   place answer) is held and applied when the answer comes.
//! - Cancel: `cancelOrder`, then `GET /v1/orders?orderId=` for the executed size; fills the
//!   stream has not brought are read from `/v1/executions?orderId=` before the cancel is
//!   reported with the venue's executed size. `ERR-5122` (not open) reads the same.
//! - **No client order id at GMO.** The gateway keeps our id ↔ `orderId` map. A place without
//!   an answer (time-out, connection broken after writing, HTTP 5xx, malformed answer) closes
//!   the connection and is resolved before anything is re-sent: the private stream is drained
//!   (its `orderEvents` `ORDERED` carries the order), then `activeOrders` and
//!   `latestExecutions` are read; an order no order of ours claims, with an `orderId` above
//!   every one we knew when it was sent, our side, price and size (open: its size; executed:
//!   its executions at our price or better, at most our size) is taken for ours and its state
//!   read with `orders` + `executions`. Not found ⇒ sent once more; unanswered again ⇒
//!   rejected (`Network`). Residual ambiguity: another client of the account placing the same
//!   side, price and size in the same window; an order the venue ended without a trace (a
//!   `SOK` expired at once, if the stream was down too) is taken for absent and re-sent.
//! - Errors (`status != 0`, `messages[].message_code`): `ERR-5003` (and HTTP 429) blocks order
//!   requests for 1 s and rejects the place (`Venue`, counts toward `max_consecutive_failures`);
//!   auth codes (`ERR-5007..5012`, `ERR-5014`) are exit code 4 at start-up (a signed
//!   `activeOrders` read) and [`RejectReason::Auth`] (a risk abort) while running, after which
//!   nothing is sent with the refused pair until a SIGHUP brings new credentials
//!   ([`CredentialsWatch`]: the I/O thread re-keys in place); `ERR-201`
//!   / `ERR-208` reject the place (`Venue`). All counted in [`LiveStats`].
//! - Rate: token buckets for POST and for GET at `order_rate_per_sec` (GMO Tier 1: 20 GET/s
//!   and 20 POST/s per account, api.coin.z.com/docs "API Limiting", checked 2026-12-03).
//! - Subscribes go one a second (the venue's private WS limit): `executionEvents` on open,
//!   `orderEvents` 1.1 s later; start-up waits for both.
//! - Reconciliation at start-up and every `[live] reconcile_interval_ms`: see `recon.rs`
//!   (ours told from foreign by the venue ids recorded in [`OURS_FILE`]).

use super::private::{AnswerError, Answers, GmoExecution, GmoOrder, GmoRequests, ORDER_PATH};
use crate::clock::wall_ms;
use recon::OurOrders;
pub use recon::OURS_FILE;

/// Reconciliation (its rules, the record of our orders, the I/O thread's side of it).
#[path = "recon.rs"]
pub mod recon;
use crate::exec::ledger::Ledger;
use crate::exec::live::{
    auth_refused, blocked_cancel_allowed, flush, CredentialsWatch, DryRunJournal, Front, HasFront,
    HttpConn, IoEvent, IoReq, LiveSettings, LiveStartError, LiveStats, SendError, TABLE,
};
use crate::exec::orders::{OrderTable, VenueEvent};
use crate::exec::rate::TokenBucket;
use crate::exec::recon::ReconView;
use crate::msg::{Liquidity, Money, OrderCmd, OrderSide, RejectReason, Tif};
use crate::net::{mono_ns, Backoff, Keepalive, WsClient, WsConfig};
use crate::venue::bybit::recon::StartReport;
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HELD: usize = 512;
/// Orders a cancel-all ended at the venue: (our id, venue id).
type Ended = arrayvec::ArrayVec<(u64, u64), TABLE>;
const DONE: usize = 4096;
const TOKEN_EXTEND_NS: u64 = 30 * 60 * 1_000_000_000;
const SECOND_SUB_NS: u64 = 1_100_000_000;

/// The order stage's side of the GMO Coin live gateway.
pub struct GmoLive {
    front: Front,
    recon: Arc<ReconView>,
    report: Option<StartReport>,
}

impl std::fmt::Debug for GmoLive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmoLive").finish_non_exhaustive()
    }
}

impl GmoLive {
    /// Checks the credentials (a signed `activeOrders` read), applies `on_start`, opens the
    /// private stream and starts the I/O thread. A dry run connects nothing.
    pub fn start(s: LiveSettings) -> Result<GmoLive, LiveStartError> {
        let stats = Arc::new(LiveStats::default());
        let recon = Arc::new(ReconView::default());
        let mut io = Io::new(&s, stats.clone(), recon.clone())?;
        let mut table = OrderTable::new(TABLE);
        let (mut position, mut cash) = (0, 0);
        let report = if s.dry_run {
            None
        } else {
            let r = io.startup(&s)?;
            r.adopt_into(&mut table, |o| format!("order {}", o.order_id))?;
            position = r.position.lots;
            cash = -r.position.basis;
            Some(r)
        };
        let front = Front::start(
            "obi-gmocoin-io",
            table,
            stats,
            position,
            cash,
            move |rx, tx, stop| io.run(rx, tx, stop),
        )?;
        Ok(GmoLive {
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

impl HasFront for GmoLive {
    fn front(&self) -> &Front {
        &self.front
    }

    fn front_mut(&mut self) -> &mut Front {
        &mut self.front
    }
}

#[derive(Debug, Clone, Copy)]
struct GOrder {
    id: u64,
    venue_id: Option<u64>,
    side: OrderSide,
    px: i64,
    qty: i64,
    filled: i64,
    /// The largest venue order id known when this order was sent.
    known_before: u64,
    /// When it was sent (or adopted), monotonic: reconciliation reads the orders in flight
    /// longer than its interval.
    since_ns: u64,
}

enum Placed {
    Ack(u64),
    Refused(RejectReason),
    Unknown,
    NotSent,
}

/// A signed read.
#[derive(Clone, Copy)]
enum Read {
    Active,
    Latest,
    Order(u64),
    Execs(u64),
    Assets,
    Position,
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
    req: GmoRequests,
    ans: Answers,
    http: HttpConn,
    ws: Option<WsClient>,
    ws_base: String,
    ca_file: Option<std::path::PathBuf>,
    connect_timeout: Duration,
    token: String,
    token_at_ns: u64,
    ws_opened_once: bool,
    exec_sub: bool,
    order_sub_due: Option<u64>,
    order_sub: bool,
    orders: Vec<GOrder>,
    done: VecDeque<u64>,
    seen_execs: HashSet<u64>,
    held_execs: VecDeque<GmoExecution>,
    held_orders: VecDeque<GmoOrder>,
    max_known_order: u64,
    post: TokenBucket,
    get: TokenBucket,
    blocked_until_ns: u64,
    keep_warm_ns: u64,
    dry_run: bool,
    next_dry_id: u64,
    journal: DryRunJournal,
    stats: Arc<LiveStats>,
    events: Vec<IoEvent>,
    recon: Arc<ReconView>,
    /// Our fills as booked (the adopted position first): position, realized, fees.
    ledger: Ledger,
    /// Fills booked (a reconciliation that saw one arrive during its reads is skipped).
    booked_fills: u64,
    /// The last fill's price (ticks; 0 before the first).
    last_px: i64,
    /// The JPY balance at start (Money).
    wallet0: Money,
    recon_every_ns: u64,
    next_recon_ns: u64,
    /// Reconciliations in a row that found the venue's position differing from ours.
    strikes: u32,
    ours: OurOrders,
    inst: crate::instrument::Instrument,
}

impl Io {
    fn new(
        s: &LiveSettings,
        stats: Arc<LiveStats>,
        recon: Arc<ReconView>,
    ) -> Result<Io, LiveStartError> {
        let cfg = LiveStartError::Config;
        let http = HttpConn::new(
            &s.rest_url,
            s.ca_file.as_deref(),
            s.request_timeout,
            stats.clone(),
            s.start_ms,
        )
        .map_err(cfg)?
        .observe_as("gmocoin", s.order_rate_per_sec);
        let req = GmoRequests::new(
            s.rest_url.trim_end_matches('/'),
            &s.api_key,
            s.api_secret.as_bytes(),
            s.inst.key.symbol.as_str(),
            s.inst.tick,
            s.inst.lot,
        )
        .map_err(cfg)?;
        if !s.dry_run
            && !s.private_ws_url.starts_with("wss://")
            && !s.private_ws_url.starts_with("ws://")
        {
            return Err(cfg(format!(
                "live.private_ws_url: expected wss://.../ws/private/v1, got '{}'",
                s.private_ws_url
            )));
        }
        let rate = s.order_rate_per_sec;
        Ok(Io {
            creds: s.credentials.clone(),
            auth_blocked: false,
            blocked_cancel_ns: 0,
            req,
            ans: Answers {
                tick: s.inst.tick,
                lot: s.inst.lot,
            },
            http,
            ws: None,
            ws_base: s.private_ws_url.trim_end_matches('/').to_string(),
            ca_file: s.ca_file.clone(),
            connect_timeout: s.connect_timeout,
            token: String::new(),
            token_at_ns: 0,
            ws_opened_once: false,
            exec_sub: false,
            order_sub_due: None,
            order_sub: false,
            orders: Vec::with_capacity(TABLE),
            done: VecDeque::with_capacity(DONE),
            seen_execs: HashSet::with_capacity(1 << 16),
            held_execs: VecDeque::with_capacity(HELD),
            held_orders: VecDeque::with_capacity(HELD),
            max_known_order: 0,
            post: TokenBucket::new(rate, rate),
            get: TokenBucket::new(rate, rate),
            blocked_until_ns: 0,
            keep_warm_ns: s.keep_warm.as_nanos() as u64,
            dry_run: s.dry_run,
            next_dry_id: 1,
            journal: DryRunJournal::new(s.journal_dir.clone()),
            stats,
            events: Vec::with_capacity(64),
            recon,
            ledger: Ledger::new(0),
            booked_fills: 0,
            last_px: 0,
            wallet0: 0,
            recon_every_ns: s.reconcile_interval.as_nanos() as u64,
            next_recon_ns: 0,
            strikes: 0,
            ours: OurOrders::in_dir(&s.journal_dir),
            inst: s.inst,
        })
    }

    fn wait_get(&mut self) {
        while !self.get.try_take(mono_ns()) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn wait_post(&mut self) {
        loop {
            let now = mono_ns();
            if now >= self.blocked_until_ns && self.post.try_take(now) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A signed GET: status and body.
    fn read(&mut self, what: Read) -> Result<(u16, Vec<u8>), SendError> {
        self.wait_get();
        let ts = wall_ms();
        let r = match what {
            Read::Active => self.req.active_orders(ts),
            Read::Latest => self.req.latest_executions(ts),
            Read::Order(id) => self.req.order_status(ts, id),
            Read::Execs(id) => self.req.executions(ts, id),
            Read::Assets => self.req.assets(ts),
            Read::Position => self.req.position_summary(ts),
        }
        .map_err(|_| SendError::NotSent("request too long".into()))?;
        LiveStats::inc(&self.stats.queries);
        let a = self.http.send(r.bytes())?;
        Ok((a.status, a.body.to_vec()))
    }

    fn read_orders(&mut self, what: Read) -> Result<Vec<GmoOrder>, AnswerError> {
        let (st, b) = self
            .read(what)
            .map_err(|e| AnswerError::Malformed(e.to_string()))?;
        self.ans.orders(st, &b)
    }

    fn read_execs(&mut self, what: Read) -> Result<Vec<GmoExecution>, AnswerError> {
        let (st, b) = self
            .read(what)
            .map_err(|e| AnswerError::Malformed(e.to_string()))?;
        self.ans.executions(st, &b)
    }

    fn startup(&mut self, s: &LiveSettings) -> Result<StartReport, LiveStartError> {
        let what = self.http.url.authority();
        let unreachable = |e: String| LiveStartError::Unreachable(format!("{what}: {e}"));
        let (st, body) = self
            .read(Read::Active)
            .map_err(|e| unreachable(format!("start-up activeOrders read failed: {e}")))?;
        let active = match self.ans.orders(st, &body) {
            Ok(v) => v,
            Err(AnswerError::Venue(v)) if v.is_auth() => {
                self.auth_refused();
                return Err(LiveStartError::Auth(format!(
                    "{what}: the venue refused our API credentials: {} {}",
                    v.code, v.message
                )));
            }
            Err(e) => return Err(unreachable(format!("start-up activeOrders read: {e}"))),
        };
        let rep = self.start_reconcile(s, &active)?;
        let latest = self
            .read_execs(Read::Latest)
            .map_err(|e| unreachable(format!("start-up latestExecutions read: {e}")))?;
        for e in &latest {
            self.max_known_order = self.max_known_order.max(e.order_id);
            self.seen_execs.insert(e.execution_id);
        }
        self.new_token()
            .map_err(|e| unreachable(format!("private stream token: {e}")))?;
        // Both subscriptions out before anything trades (bounded).
        let end = Instant::now() + self.connect_timeout + Duration::from_secs(3);
        while !(self.exec_sub && self.order_sub) {
            if Instant::now() > end {
                return Err(unreachable(format!(
                    "the private stream {} did not open in time",
                    self.ws_base
                )));
            }
            self.poll_ws(Duration::from_millis(20));
        }
        self.next_recon_ns = mono_ns() + self.recon_every_ns;
        Ok(rep)
    }

    /// A new token (`POST ws-auth`) and a private stream on it.
    fn new_token(&mut self) -> Result<(), String> {
        self.wait_post();
        let r = self
            .req
            .ws_auth(wall_ms())
            .map_err(|_| "request too long".to_string())?;
        let a = self.http.send(r.bytes()).map_err(|e| e.to_string())?;
        let (st, body) = (a.status, a.body.to_vec());
        let token = match self.ans.token(st, &body) {
            Ok(t) => t,
            Err(AnswerError::Venue(v)) if v.is_auth() => {
                self.auth_refused();
                return Err(v.to_string());
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut wc = WsConfig::new(format!("{}/{token}", self.ws_base));
        wc.extra_ca_pem = self.ca_file.clone();
        wc.keepalive = Keepalive::None; // the venue pings once a minute; pongs are automatic
        wc.backoff = Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(5),
            ..Backoff::default()
        };
        wc.connect_timeout = self.connect_timeout;
        wc.max_message_size = 1 << 20;
        if let Some(ws) = &mut self.ws {
            ws.close();
        }
        self.ws = Some(WsClient::new(wc).map_err(|e| format!("live.private_ws_url: {e}"))?);
        self.token = token;
        self.token_at_ns = mono_ns();
        self.exec_sub = false;
        self.order_sub = false;
        Ok(())
    }

    /// `PUT ws-auth`; a new token when the venue no longer knows ours.
    fn extend_token(&mut self) {
        self.token_at_ns = mono_ns();
        self.wait_post();
        let token = self.token.clone();
        let Ok(r) = self.req.ws_extend(wall_ms(), &token) else {
            return;
        };
        let ok = match self.http.send(r.bytes()) {
            Ok(a) => {
                let (st, b) = (a.status, a.body.to_vec());
                self.ans.ok(st, &b).is_ok()
            }
            Err(_) => false,
        };
        if !ok {
            tracing::warn!("gmocoin: the private stream token could not be extended; a new one");
            if let Err(e) = self.new_token() {
                tracing::error!(error = %e, "gmocoin: no new private stream token");
            }
        }
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
                "gmocoin",
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
                        // The acknowledgement first: the orders' states are read after it.
                        flush(&mut self.events, &mut tx, stop);
                        for (id, vid) in ended {
                            self.after_cancel(id, vid);
                        }
                    }
                }
                flush(&mut self.events, &mut tx, stop);
                self.stats.finished.fetch_add(1, Ordering::Release);
                self.poll_ws(Duration::ZERO);
                flush(&mut self.events, &mut tx, stop);
            }
            if self.ws.is_some() {
                self.poll_ws(if did {
                    Duration::ZERO
                } else {
                    Duration::from_micros(500)
                });
            } else if !did {
                std::thread::sleep(Duration::from_micros(500));
            }
            flush(&mut self.events, &mut tx, stop);
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
            if !self.dry_run && !self.auth_blocked && rx.is_empty() {
                if mono_ns().saturating_sub(self.token_at_ns) > TOKEN_EXTEND_NS {
                    self.extend_token();
                }
                if !did && mono_ns().saturating_sub(self.http.last_used_ns) > self.keep_warm_ns {
                    LiveStats::inc(&self.stats.keepalives);
                    if let Ok((st, b)) = self.read(Read::Active) {
                        if let Err(AnswerError::Venue(v)) = self.ans.orders(st, &b) {
                            if v.is_auth() {
                                self.auth_refused();
                            }
                        }
                    }
                }
            }
            if stop.load(Ordering::SeqCst) && rx.is_empty() {
                break;
            }
        }
        if let Some(ws) = &mut self.ws {
            ws.close();
        }
        // The venue keeps at most 5 tokens per key for an hour: give ours back.
        if !self.dry_run && !self.token.is_empty() {
            let token = std::mem::take(&mut self.token);
            if let Ok(r) = self.req.ws_delete(wall_ms(), &token) {
                let _ = self.http.send(r.bytes());
            }
        }
        println!("{}", self.stats.line("gmocoin"));
    }

    fn poll_ws(&mut self, wait: Duration) {
        let Some(ws) = self.ws.as_mut() else { return };
        let mut frames: Vec<Value> = Vec::new();
        let stats = &self.stats;
        let out = ws.poll(mono_ns(), Some(wait), |_, f| {
            match serde_json::from_slice(f) {
                Ok(v) => frames.push(v),
                Err(_) => LiveStats::inc(&stats.malformed),
            }
        });
        let mut reopened = false;
        let mut lost = false;
        match out {
            Ok(o) => {
                if o.opened {
                    let _ = ws.send_text(r#"{"command":"subscribe","channel":"executionEvents"}"#);
                    self.exec_sub = true;
                    self.order_sub = false;
                    self.order_sub_due = Some(mono_ns() + SECOND_SUB_NS);
                    reopened = self.ws_opened_once;
                    self.ws_opened_once = true;
                }
                if o.disconnected.is_some() {
                    self.exec_sub = false;
                    self.order_sub = false;
                    lost = true;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "gmocoin private stream closed");
                lost = true;
            }
        }
        if let Some(due) = self.order_sub_due {
            if mono_ns() >= due {
                if let Some(ws) = self.ws.as_mut() {
                    if ws
                        .send_text(r#"{"command":"subscribe","channel":"orderEvents"}"#)
                        .is_ok()
                    {
                        self.order_sub = true;
                    }
                }
                self.order_sub_due = None;
            }
        }
        for v in frames {
            self.on_frame(&v);
        }
        if lost && self.ws_opened_once && !self.dry_run {
            // The token may be what failed: extend it, or get a new one.
            self.extend_token();
        }
        if reopened {
            // What the stream carried while it was down: read every working order's state.
            let working: Vec<(u64, u64)> = self
                .orders
                .iter()
                .filter_map(|o| o.venue_id.map(|v| (o.id, v)))
                .collect();
            for (id, vid) in working {
                self.refresh(id, vid);
            }
            // And the account, at once.
            self.next_recon_ns = mono_ns();
        }
    }

    fn on_frame(&mut self, v: &Value) {
        match v.get("channel").and_then(Value::as_str) {
            Some("executionEvents") => match self.ans.execution_of(v) {
                Ok(e) => {
                    LiveStats::inc(&self.stats.ws_fills);
                    self.on_exec(e);
                }
                Err(_) => LiveStats::inc(&self.stats.malformed),
            },
            Some("orderEvents") => match self.ans.order_of(v) {
                Ok(o) => self.on_order(o),
                Err(_) => LiveStats::inc(&self.stats.malformed),
            },
            _ => {}
        }
    }

    fn ours(&self, vid: u64) -> Option<u64> {
        self.orders
            .iter()
            .find(|o| o.venue_id == Some(vid))
            .map(|o| o.id)
    }

    fn on_exec(&mut self, e: GmoExecution) {
        if self.seen_execs.contains(&e.execution_id) {
            return;
        }
        match self.ours(e.order_id) {
            Some(id) => self.fill(id, &e),
            None if self.done.contains(&e.order_id) => {}
            None => {
                LiveStats::inc(&self.stats.unmatched_fills);
                if self.held_execs.len() == HELD {
                    self.held_execs.pop_front();
                }
                self.held_execs.push_back(e);
            }
        }
    }

    fn on_order(&mut self, o: GmoOrder) {
        match self.ours(o.order_id) {
            Some(id) if !o.is_open() => self.finish(id, o.order_id, &o),
            Some(_) => {}
            None if self.done.contains(&o.order_id) => {}
            None => {
                if self.held_orders.len() == HELD {
                    self.held_orders.pop_front();
                }
                self.held_orders.push_back(o);
            }
        }
    }

    fn fill(&mut self, id: u64, e: &GmoExecution) {
        if !self.seen_execs.insert(e.execution_id) {
            return;
        }
        self.venue(
            id,
            VenueEvent::Fill {
                exec_id: e.execution_id,
                px: e.px,
                qty: e.qty,
                fee: e.fee,
                liquidity: if e.fee < 0 {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                },
            },
        );
    }

    /// Books the executions of `vid` the stream has not brought (REST `executions`).
    fn catch_up(&mut self, id: u64, vid: u64) {
        if let Err(e) = self.find_fills(id, vid, "order end: GET /private/v1/executions?orderId=") {
            tracing::warn!(error = %e, "gmocoin: executions read failed");
        }
    }

    /// Our order `id` (`vid`) ended at the venue as `o` says: missing fills read, then the
    /// end reported with the venue's executed size.
    fn finish(&mut self, id: u64, vid: u64, o: &GmoOrder) {
        let filled = self
            .orders
            .iter()
            .find(|x| x.id == id)
            .map_or(0, |x| x.filled);
        if filled < o.executed {
            self.catch_up(id, vid);
        }
        if !self.orders.iter().any(|x| x.id == id) {
            return; // filled completely meanwhile
        }
        let ev = if o.status == "EXPIRED" {
            VenueEvent::Expired {
                cum_qty: o.executed,
            }
        } else {
            VenueEvent::Cancelled {
                cum_qty: o.executed,
            }
        };
        self.venue(id, ev);
    }

    /// Reads `vid`'s state (`orders`) and acts on it: fills caught up, an end reported.
    fn refresh(&mut self, id: u64, vid: u64) {
        match self.read_orders(Read::Order(vid)) {
            Ok(list) => {
                if let Some(o) = list.into_iter().find(|o| o.order_id == vid) {
                    if !o.is_open() && o.status != "EXECUTED" {
                        self.finish(id, vid, &o);
                    } else {
                        let filled = self
                            .orders
                            .iter()
                            .find(|x| x.id == id)
                            .map_or(0, |x| x.filled);
                        if filled < o.executed {
                            self.catch_up(id, vid);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "gmocoin: order read failed"),
        }
    }

    fn venue(&mut self, id: u64, ev: VenueEvent) {
        let i = self.orders.iter().position(|o| o.id == id);
        let mut done = false;
        if let Some(i) = i {
            let o = &mut self.orders[i];
            match ev {
                VenueEvent::Fill { px, qty, fee, .. } => {
                    o.filled += qty;
                    done = o.filled >= o.qty;
                    self.ledger.on_fill(0, o.side, px, qty, fee);
                    self.booked_fills += 1;
                    self.last_px = px;
                }
                VenueEvent::Cancelled { .. }
                | VenueEvent::Expired { .. }
                | VenueEvent::Rejected { .. } => done = true,
                VenueEvent::Ack | VenueEvent::CancelRejected { .. } => {}
            }
        }
        if let (true, Some(i)) = (done, i) {
            let o = self.orders.swap_remove(i);
            if let Some(v) = o.venue_id {
                if self.done.len() == DONE {
                    self.done.pop_front();
                }
                self.done.push_back(v);
            }
        }
        self.events.push(IoEvent::Venue { id, ev });
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
            self.post.set_rate(now, r);
        }
        if now < self.blocked_until_ns || !self.post.try_take(now) {
            LiveStats::inc(&self.stats.local_rate_limited);
            return self.venue(
                id,
                VenueEvent::Rejected {
                    reason: RejectReason::RateLimit,
                },
            );
        }
        self.orders.push(GOrder {
            id,
            venue_id: None,
            side,
            px,
            qty,
            filled: 0,
            known_before: self.max_known_order,
            since_ns: now,
        });
        let (mut resent, mut not_sent) = (false, false);
        loop {
            match self.send_place(side, px, qty, tif) {
                Placed::Ack(vid) => return self.acked(id, vid),
                Placed::Refused(reason) => return self.venue(id, VenueEvent::Rejected { reason }),
                Placed::NotSent if !not_sent => not_sent = true,
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
                    tracing::warn!(order = id, "gmocoin: place unanswered; reading the stream, activeOrders and latestExecutions");
                    match self.resolve(id) {
                        Some(Some(vid)) => {
                            self.acked(id, vid);
                            return self.refresh(id, vid);
                        }
                        Some(None) if !resent => {
                            LiveStats::inc(&self.stats.resends);
                            resent = true;
                            if let Some(o) = self.orders.iter_mut().find(|o| o.id == id) {
                                o.known_before = self.max_known_order;
                            }
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

    fn send_place(&mut self, side: OrderSide, px: i64, qty: i64, tif: Tif) -> Placed {
        let ts = wall_ms();
        let Ok(r) = self.req.order(ts, side, px, qty, tif) else {
            return Placed::Refused(RejectReason::Invalid);
        };
        LiveStats::inc(&self.stats.places);
        if self.dry_run {
            self.journal.write(ORDER_PATH, ts, r.body(), &r.signature);
            self.next_dry_id += 1;
            return Placed::Ack(self.next_dry_id);
        }
        let a = match self.http.send(r.bytes()) {
            Ok(a) => a,
            Err(SendError::NotSent(e)) => {
                tracing::warn!(error = %e, "gmocoin: place not sent; reconnecting");
                return Placed::NotSent;
            }
            Err(_) => {
                self.http.close();
                return Placed::Unknown;
            }
        };
        let (st, body) = (a.status, a.body.to_vec());
        match self.ans.order_id(st, &body) {
            Ok(vid) => Placed::Ack(vid),
            Err(AnswerError::Venue(v)) if v.is_auth() => {
                self.auth_refused();
                tracing::error!(code = %v.code, "gmocoin: order refused for our credentials");
                Placed::Refused(RejectReason::Auth)
            }
            Err(AnswerError::Venue(v)) if v.is_rate_limited() => {
                LiveStats::inc(&self.stats.venue_rate_limited);
                // ERR-5003 may come in an HTTP 200: count it for the adaptive rate.
                self.http.rate_limited_answer();
                self.blocked_until_ns = mono_ns() + 1_000_000_000;
                Placed::Refused(RejectReason::Venue)
            }
            Err(AnswerError::Venue(v)) if v.is_ambiguous() => {
                self.http.close();
                Placed::Unknown
            }
            Err(AnswerError::Venue(v)) => {
                tracing::warn!(code = %v.code, message = %v.message, "gmocoin: order refused");
                Placed::Refused(if v.code == "ERR-5106" {
                    RejectReason::Invalid
                } else {
                    RejectReason::Venue
                })
            }
            Err(AnswerError::Malformed(m)) => {
                LiveStats::inc(&self.stats.malformed);
                tracing::warn!(error = %m, "gmocoin: place answer malformed");
                self.http.close();
                Placed::Unknown
            }
        }
    }

    fn acked(&mut self, id: u64, vid: u64) {
        self.max_known_order = self.max_known_order.max(vid);
        if !self.dry_run {
            self.ours.remember(vid);
        }
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == id) {
            o.venue_id = Some(vid);
        }
        self.venue(id, VenueEvent::Ack);
        // What the stream brought before the answer.
        let execs: Vec<GmoExecution> = self
            .held_execs
            .iter()
            .filter(|e| e.order_id == vid)
            .cloned()
            .collect();
        self.held_execs.retain(|e| e.order_id != vid);
        for e in execs {
            self.fill(id, &e);
        }
        let ends: Vec<GmoOrder> = self
            .held_orders
            .iter()
            .filter(|o| o.order_id == vid)
            .cloned()
            .collect();
        self.held_orders.retain(|o| o.order_id != vid);
        for o in ends {
            if !o.is_open() && self.orders.iter().any(|x| x.id == id) {
                self.finish(id, vid, &o);
            }
        }
    }

    /// Finds an unanswered place of `id` at the venue: `Some(Some(orderId))` found,
    /// `Some(None)` absent, `None` unreadable.
    fn resolve(&mut self, id: u64) -> Option<Option<u64>> {
        let o = *self.orders.iter().find(|o| o.id == id)?;
        self.poll_ws(Duration::from_millis(50));
        let claimed = |vid: u64, orders: &[GOrder]| orders.iter().any(|x| x.venue_id == Some(vid));
        let fresh = |vid: u64, orders: &[GOrder], done: &VecDeque<u64>| {
            vid > o.known_before && !claimed(vid, orders) && !done.contains(&vid)
        };
        let same = |g: &GmoOrder| g.side == o.side && g.px == o.px && g.qty == o.qty;
        if let Some(g) = self
            .held_orders
            .iter()
            .find(|g| fresh(g.order_id, &self.orders, &self.done) && same(g))
        {
            return Some(Some(g.order_id));
        }
        let active = self.read_orders(Read::Active).ok()?;
        if let Some(g) = active
            .iter()
            .find(|g| fresh(g.order_id, &self.orders, &self.done) && same(g))
        {
            return Some(Some(g.order_id));
        }
        let latest = self.read_execs(Read::Latest).ok()?;
        let mut ids: Vec<u64> = latest
            .iter()
            .filter(|e| fresh(e.order_id, &self.orders, &self.done) && e.side == o.side)
            .filter(|e| match o.side {
                OrderSide::Buy => e.px <= o.px,
                OrderSide::Sell => e.px >= o.px,
            })
            .map(|e| e.order_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let found = ids.into_iter().find(|vid| {
            let q: i64 = latest
                .iter()
                .filter(|e| e.order_id == *vid)
                .map(|e| e.qty)
                .sum();
            q <= o.qty && !active.iter().any(|g| g.order_id == *vid)
        });
        if let Some(vid) = found {
            tracing::warn!(
                order = id,
                venue_order = vid,
                "gmocoin: unanswered place found at the venue"
            );
        }
        Some(found)
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
        if let Some(vid) = self.send_cancel(id) {
            self.after_cancel(id, vid);
        }
    }

    /// Sends the cancel of our order `id` (its retries included) up to the venue's answer;
    /// `Some(venue id)` when the venue took it (or the order is not open there any more):
    /// [`Self::after_cancel`] then reads its state; `None` when what happened was reported.
    fn send_cancel(&mut self, id: u64) -> Option<u64> {
        // Sent even after a refusal of our credentials (`auth_blocked` stops new orders and
        // reads, not cancels): cancels are the safety path, and a refusal that passes (a nonce
        // or clock window) must not leave our orders resting at the venue.
        let o = self.orders.iter().find(|o| o.id == id).copied()?;
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
            self.wait_post();
            let ts = wall_ms();
            let Ok(r) = self.req.cancel(ts, vid) else {
                return None;
            };
            LiveStats::inc(&self.stats.cancels);
            if self.dry_run {
                self.journal
                    .write(super::private::CANCEL_PATH, ts, r.body(), &r.signature);
                self.venue(id, VenueEvent::Cancelled { cum_qty: o.filled });
                return None;
            }
            let res = match self.http.send(r.bytes()) {
                Ok(a) => {
                    let (st, b) = (a.status, a.body.to_vec());
                    Ok(self.ans.ok(st, &b))
                }
                Err(e) => Err(e),
            };
            match res {
                Ok(Ok(())) => return Some(vid),
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
                Ok(Err(AnswerError::Venue(v))) if v.is_not_open() => return Some(vid),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "gmocoin: cancel refused");
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
                    LiveStats::inc(&self.stats.timeouts);
                    self.http.close();
                    // Did it go through? The order's state decides before another cancel.
                    self.after_cancel(id, vid);
                    if !self.orders.iter().any(|x| x.id == id) {
                        return None;
                    }
                }
            }
        }
        if self.orders.iter().any(|x| x.id == id) {
            self.venue(
                id,
                VenueEvent::CancelRejected {
                    reason: RejectReason::Network,
                },
            );
        }
        None
    }

    /// After a cancel (answered, refused as not open, or unanswered): the order's state.
    fn after_cancel(&mut self, id: u64, vid: u64) {
        self.poll_ws(Duration::ZERO);
        if !self.orders.iter().any(|x| x.id == id) {
            return; // the stream ended it
        }
        self.refresh(id, vid);
    }

    /// Every working order of ours is cancelled (`cancelOrder`, one after the other); once
    /// the venue has answered them all the cancel-all is acknowledged (the kill switch's
    /// trigger -> cancel-ack figure, flushed by the caller at once); the caller then reads
    /// each order's state ([`Self::after_cancel`]) for its executed size.
    fn cancel_all(&mut self, t_ns: u64) -> Ended {
        let mut ended = Ended::new();
        let ids: arrayvec::ArrayVec<u64, TABLE> =
            self.orders.iter().map(|o| o.id).take(TABLE).collect();
        for id in ids {
            if let Some(vid) = self.send_cancel(id) {
                ended.push((id, vid));
            }
        }
        LiveStats::inc(&self.stats.cancel_alls);
        if !self.auth_blocked {
            self.events.push(IoEvent::CancelAllAck { t_ns });
        }
        ended
    }
}
