//! The Bybit v5 live gateway: orders over signed REST on one persistent (TLS) keep-alive
//! connection, fills, fees and order states from the private WebSocket.
//!
//! Two halves:
//! - [`BybitLive`] is the [`Gateway`](crate::exec::Gateway) the order stage owns. It never blocks, locks or
//!   allocates after start-up: a command enters the [`OrderTable`] and is pushed onto an `rtrb`
//!   ring to the I/O thread; the venue's answers come back on a second ring and go through the
//!   table (which orders them: no fill after a cancel, no duplicate) to the trader.
//! - The I/O thread builds and signs each request in [`BybitRequests`]' pre-sized buffer and
//!   writes it on the keep-alive connection; it reads the private stream (`order`,
//!   `execution`) between requests. It owns the rate limiting and the recovery rules:
//!   * a token bucket per endpoint at the documented limit (`order_rate_per_sec`, Bybit's
//!     linear order endpoints: 10/s per UID), whose level is lowered to what the venue's
//!     `X-Bapi-Limit-Status` header says is left; a place that finds no token is refused
//!     locally (`RateLimit`, nothing sent), a cancel waits for its token;
//!   * `10006` (too many visits) blocks order requests until `X-Bapi-Limit-Reset-Timestamp`
//!     (at least 1 s) and is reported as a venue reject, which counts toward risk's
//!     `max_consecutive_failures`;
//!   * auth errors (`10003`, `10004`, the time window `10002`, ...) are reported as
//!     [`RejectReason::Auth`]: a risk abort while running (on a read, keep-alive, stream
//!     login or cancel-all too: [`IoEvent::AuthFailed`]), after which nothing is sent with
//!     the refused pair until a SIGHUP brings new credentials ([`CredentialsWatch`]: the I/O
//!     thread re-keys its request builder in place); at start-up [`BybitLive::start`]
//!     fails with [`LiveStartError::Auth`] (exit code 4);
//!   * a request that gets no answer within `request_timeout_ms` (or an ambiguous `10016` /
//!     HTTP 5xx) closes the connection (a late answer must not be read as the next one's) and
//!     is resolved by `GET /v5/order/realtime?orderLinkId=...` on a new connection before
//!     anything is sent again: found ⇒ acknowledged as the venue has it; not found ⇒ the place
//!     is sent once more with the same `orderLinkId` (a venue that did get the first copy
//!     refuses the second as a duplicate, which is resolved the same way). Never a double send.
//!   * connection failures reconnect with the project's [`Backoff`].
//! - `dry_run`: every request is built and signed and its payload and signature (never the
//!   key) journalled to `<artifacts_dir>/dry-run-requests.jsonl`; nothing is sent; places are
//!   acknowledged and cancels confirmed locally so the strategy runs on.

use crate::clock::wall_ms;
use crate::exec::ledger::value;
use crate::exec::live::{
    auth_refused, blocked_cancel_allowed, flush, CredentialsWatch, DryRunJournal, Front, HasFront,
    HttpConn, IoEvent, IoReq, SendError,
};
use crate::exec::orders::{exec_id_hash, ClientIds, OrderTable, VenueEvent};
use crate::exec::rate::TokenBucket;
use crate::instrument::Instrument;
use crate::msg::{Liquidity, Money, OrderCmd, OrderSide, RejectReason, Tif};
use crate::net::{mono_ns, Backoff, Keepalive, WsClient, WsConfig};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::private::{ret, BybitRequests, CANCEL_ALL_PATH, CANCEL_PATH, CREATE_PATH};
use super::recon::{note, ReconView, StartReport, VenueOrder, VenuePosition, ADOPTED_ID_BASE};
use crate::config::OnStart;
use crate::exec::ledger::Ledger;
use crate::instrument::Market;

pub use crate::exec::live::{LiveSettings, LiveStartError, LiveStats, KEEP_WARM, RING, TABLE};

/// The order stage's side of the Bybit live gateway.
pub struct BybitLive {
    front: Front,
    report: Option<StartReport>,
    recon: Arc<ReconView>,
}

impl std::fmt::Debug for BybitLive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybitLive").finish_non_exhaustive()
    }
}

impl BybitLive {
    /// Connects (REST and private stream), checks the credentials with a signed query and
    /// starts the I/O thread. In a dry run nothing is connected.
    pub fn start(s: LiveSettings) -> Result<BybitLive, LiveStartError> {
        let stats = Arc::new(LiveStats::default());
        let recon = Arc::new(ReconView::default());
        let mut io = Io::new(&s, stats.clone(), recon.clone())?;
        let mut table = OrderTable::new(TABLE);
        let (mut position, mut cash) = (0, 0);
        let report = if s.dry_run {
            None
        } else {
            io.startup_check(s.connect_timeout)?;
            let r = io.startup_reconcile(s.on_start)?;
            r.adopt_into(&mut table, |o| o.link_id.clone())?;
            position = r.position.lots;
            cash = -r.position.basis;
            Some(r)
        };
        let front = Front::start(
            "obi-bybit-io",
            table,
            stats,
            position,
            cash,
            move |rx, tx, stop| io.run(rx, tx, stop),
        )?;
        Ok(BybitLive {
            front,
            report,
            recon,
        })
    }

    /// What start-up reconciliation found and did (`None` in a dry run).
    pub fn start_report(&self) -> Option<&StartReport> {
        self.report.as_ref()
    }

    /// Continuous reconciliation's results (drift, found fills, mismatch, audit notes).
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

impl HasFront for BybitLive {
    fn front(&self) -> &Front {
        &self.front
    }

    fn front_mut(&mut self) -> &mut Front {
        &mut self.front
    }
}

// ---------------------------------------------------------------------------------------------
// The I/O thread

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// `X-Bapi-Limit-Status`: requests left in the current window.
    limit_left: Option<u64>,
    /// `X-Bapi-Limit-Reset-Timestamp` (wall ms).
    reset_ms: Option<u64>,
    code: i64,
    body: Value,
}

/// The persistent REST connection, its answers read as Bybit's.
struct Rest {
    http: HttpConn,
}

impl Rest {
    fn send(&mut self, req: &[u8]) -> Result<Answer, SendError> {
        let a = self.http.send(req)?;
        let limit_left = a.header("X-Bapi-Limit-Status").and_then(|v| v.parse().ok());
        let reset_ms = a
            .header("X-Bapi-Limit-Reset-Timestamp")
            .and_then(|v| v.parse().ok());
        let body: Value = serde_json::from_slice(a.body).unwrap_or(Value::Null);
        let code = body.get("retCode").and_then(Value::as_i64).unwrap_or(-1);
        Ok(Answer {
            status: a.status,
            limit_left,
            reset_ms,
            code,
            body,
        })
    }
}

/// How an order stands at the venue, from the order stream or a query.
fn order_events(o: &Value, inst: &Instrument, out: &mut impl FnMut(VenueEvent)) {
    let cum = o
        .get("cumExecQty")
        .and_then(Value::as_str)
        .and_then(|q| inst.lot.parse(q.as_bytes()).ok())
        .unwrap_or(0);
    match o.get("orderStatus").and_then(Value::as_str).unwrap_or("") {
        "New" | "PartiallyFilled" | "Filled" | "Untriggered" => out(VenueEvent::Ack),
        "Cancelled" | "PartiallyFilledCanceled" => {
            out(VenueEvent::Ack);
            out(VenueEvent::Cancelled { cum_qty: cum });
        }
        "Deactivated" => out(VenueEvent::Expired { cum_qty: cum }),
        "Rejected" => out(VenueEvent::Rejected {
            reason: RejectReason::Venue,
        }),
        _ => {}
    }
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
    inst: Instrument,
    req: BybitRequests,
    ids: ClientIds,
    rest: Rest,
    ws: Option<WsClient>,
    ws_ready: bool,
    ws_auth_failed: bool,
    create: TokenBucket,
    cancel: TokenBucket,
    cancel_all: TokenBucket,
    query: TokenBucket,
    keep_warm_ns: u64,
    /// Order requests wait until this monotonic time after a `10006`.
    blocked_until_ns: u64,
    dry_run: bool,
    journal: DryRunJournal,
    stats: Arc<LiveStats>,
    events: Vec<IoEvent>,
    /// Orders adopted at start-up: their local ids and client ids (an earlier start's).
    adopted: Vec<(u64, crate::exec::orders::ClientId)>,
    /// Our orders not finished as far as the I/O thread has reported (for reconciliation).
    orders: Vec<IoOrder>,
    /// Every fill reported (once: execution ids are remembered), booked as the trader's
    /// ledger books it: what the venue's balance is compared with.
    ledger: Ledger,
    seen_execs: std::collections::HashSet<u64>,
    recon: Arc<ReconView>,
    recon_every_ns: u64,
    next_recon_ns: u64,
    /// The quote coin's wallet balance at start.
    wallet0: Money,
    /// Reconciliations in a row that found the position differing after the queries.
    strikes: u32,
    /// Someone else's orders rest on the symbol: a cancel-all cancels ours one by one.
    foreign: bool,
    /// The private stream was subscribed before (a new subscription is a reconnect).
    ws_was_ready: bool,
}

/// One of our orders the I/O thread has not seen finish.
#[derive(Debug, Clone)]
struct IoOrder {
    id: u64,
    link: crate::exec::orders::ClientId,
    side: OrderSide,
    qty: i64,
    filled: i64,
    /// Cancelled or expired at this executed size (fills may still be on their way).
    ended: Option<i64>,
    since_ns: u64,
}

impl Io {
    fn new(
        s: &LiveSettings,
        stats: Arc<LiveStats>,
        recon: Arc<ReconView>,
    ) -> Result<Io, LiveStartError> {
        let cfg_err = |e: String| LiveStartError::Config(e);
        let http = HttpConn::new(
            &s.rest_url,
            s.ca_file.as_deref(),
            s.request_timeout,
            stats.clone(),
            s.start_ms,
        )
        .map_err(cfg_err)?
        .observe_as("bybit", s.order_rate_per_sec);
        let req = BybitRequests::new(
            &http.url.host_header(),
            &s.api_key,
            s.api_secret.as_bytes(),
            s.recv_window_ms,
            s.inst.key.market,
            s.inst.key.symbol.as_str(),
            s.inst.tick,
            s.inst.lot,
        )
        .map_err(cfg_err)?;
        let ws = if s.dry_run {
            None
        } else {
            let mut wc = WsConfig::new(s.private_ws_url.clone());
            wc.extra_ca_pem = s.ca_file.clone();
            wc.keepalive = Keepalive::AppText {
                text: r#"{"op":"ping"}"#.into(),
                every: Duration::from_secs(20),
            };
            wc.backoff = Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_secs(5),
                ..Backoff::default()
            };
            wc.connect_timeout = s.connect_timeout;
            wc.max_message_size = 1 << 20;
            Some(WsClient::new(wc).map_err(|e| cfg_err(format!("live.private_ws_url: {e}")))?)
        };
        let rate = s.order_rate_per_sec;
        Ok(Io {
            creds: s.credentials.clone(),
            auth_blocked: false,
            blocked_cancel_ns: 0,
            inst: s.inst,
            req,
            ids: ClientIds::new(&s.client_id_prefix, s.start_ms),
            rest: Rest { http },
            ws,
            ws_ready: false,
            ws_auth_failed: false,
            create: TokenBucket::new(rate, rate),
            cancel: TokenBucket::new(rate, rate),
            cancel_all: TokenBucket::new(rate, rate),
            query: TokenBucket::new(rate, rate),
            keep_warm_ns: s.keep_warm.as_nanos() as u64,
            blocked_until_ns: 0,
            dry_run: s.dry_run,
            journal: DryRunJournal::new(s.journal_dir.clone()),
            stats,
            events: Vec::with_capacity(64),
            adopted: Vec::new(),
            orders: Vec::with_capacity(TABLE),
            ledger: Ledger::new(0),
            seen_execs: std::collections::HashSet::with_capacity(4096),
            recon,
            recon_every_ns: s.reconcile_interval.as_nanos() as u64,
            next_recon_ns: 0,
            wallet0: 0,
            strikes: 0,
            foreign: false,
            ws_was_ready: false,
        })
    }

    /// A signed query answered with `retCode` 0 (credentials and clock accepted) and the
    /// private stream authenticated and subscribed, within `timeout`.
    fn startup_check(&mut self, timeout: Duration) -> Result<(), LiveStartError> {
        let r = self
            .req
            .query_open(wall_ms())
            .map_err(|e| LiveStartError::Config(e.to_string()))?;
        let what = self.rest.http.url.authority();
        match self.rest.send(r.bytes()) {
            Ok(a) if a.code == ret::OK => {}
            Ok(a) if ret::is_auth(a.code) => {
                self.auth_refused();
                return Err(LiveStartError::Auth(format!(
                    "{what}: the venue refused our API credentials: retCode {} ({})",
                    a.code,
                    a.body.get("retMsg").and_then(Value::as_str).unwrap_or("")
                )));
            }
            Ok(a) => {
                return Err(LiveStartError::Unreachable(format!(
                    "{what}: start-up query answered HTTP {} retCode {}",
                    a.status, a.code
                )))
            }
            Err(e) => {
                return Err(LiveStartError::Unreachable(format!(
                    "{what}: start-up query failed: {e}"
                )))
            }
        }
        let deadline = Instant::now() + timeout;
        while !self.ws_ready {
            if self.ws_auth_failed {
                return Err(LiveStartError::Auth(format!(
                    "{}: the private stream refused our API credentials",
                    self.rest.http.url.authority()
                )));
            }
            if Instant::now() >= deadline {
                return Err(LiveStartError::Unreachable(
                    "the private stream did not authenticate and subscribe in time".into(),
                ));
            }
            self.poll_ws(Some(Duration::from_millis(5)));
            self.events.clear();
        }
        Ok(())
    }

    /// One signed read; its `result` when the venue answered `retCode` 0.
    fn read(&mut self, what: AccountRead<'_>) -> Result<Value, String> {
        let mut last = String::new();
        for _ in 0..3 {
            self.wait_token(Bucket::Query);
            let ts = wall_ms();
            let quote = self.inst.quote;
            let r = match what {
                AccountRead::OpenOrders(c) => self.req.open_orders(ts, c),
                AccountRead::Position => self.req.positions(ts),
                AccountRead::Wallet => self.req.wallet(ts, quote.as_str()),
                AccountRead::Executions(l) => self.req.executions(ts, l),
                AccountRead::Order(l) => {
                    let Ok(link) = crate::exec::orders::ClientId::from(l) else {
                        return Err(format!("client id {l} too long"));
                    };
                    self.req.query(ts, &link)
                }
            }
            .map_err(|e| e.to_string())?;
            LiveStats::inc(&self.stats.queries);
            match self.rest.send(r.bytes()) {
                Ok(a) if a.code == ret::OK => {
                    return Ok(a.body.get("result").cloned().unwrap_or(Value::Null))
                }
                Ok(a) => {
                    self.rate_feedback(&a, Bucket::Query);
                    if ret::is_auth(a.code) {
                        self.auth_refused();
                    }
                    last = format!(
                        "{}: retCode {} ({})",
                        what.path(),
                        a.code,
                        a.body.get("retMsg").and_then(Value::as_str).unwrap_or("")
                    );
                    if a.code != ret::TOO_MANY_VISITS {
                        break;
                    }
                }
                Err(e) => last = format!("{}: {e}", what.path()),
            }
        }
        Err(last)
    }

    /// Every open order of the symbol (all pages).
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, String> {
        let inst = self.inst;
        let mut out = Vec::new();
        let mut cursor = String::new();
        for _ in 0..100 {
            let r = self.read(AccountRead::OpenOrders(&cursor))?;
            for o in r
                .get("list")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let o = VenueOrder::parse(o, &inst)?;
                if o.is_open() {
                    out.push(o);
                }
            }
            cursor = r
                .get("nextPageCursor")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if cursor.is_empty() {
                return Ok(out);
            }
        }
        Err("open orders: more than 100 pages".into())
    }

    /// The symbol's position (spot has none: the coins are balances).
    fn position(&mut self) -> Result<VenuePosition, String> {
        if self.inst.key.market == Market::Spot {
            return Ok(VenuePosition {
                lots: self.ledger.position(),
                ..VenuePosition::default()
            });
        }
        let r = self.read(AccountRead::Position)?;
        VenuePosition::parse(&r, &self.inst)
    }

    fn wallet(&mut self) -> Result<Money, String> {
        let r = self.read(AccountRead::Wallet)?;
        super::recon::wallet_of(&r, self.inst.quote.as_str(), &self.inst)
    }

    /// Start-up reconciliation, before the first order (see `recon.rs`).
    fn startup_reconcile(&mut self, policy: OnStart) -> Result<StartReport, LiveStartError> {
        let unreachable = |e: String| LiveStartError::Unreachable(format!("reconciliation: {e}"));
        let open = self.open_orders().map_err(unreachable)?;
        let mut position = self.position().map_err(unreachable)?;
        let (ours, foreign): (Vec<_>, Vec<_>) =
            open.into_iter().partition(|o| self.ids.is_ours(&o.link_id));
        let mut rep = StartReport {
            policy: policy.as_str(),
            ..StartReport::default()
        };
        self.foreign = !foreign.is_empty();
        match policy {
            OnStart::Refuse if !ours.is_empty() || position.lots != 0 => {
                let links: Vec<&str> = ours.iter().map(|o| o.link_id.as_str()).collect();
                return Err(LiveStartError::Refused(format!(
                    "on_start = \"refuse\": the venue has {} open order(s) of ours [{}] and a position of {} {} (entry {}); \
                     cancel or adopt them (live.on_start = \"cancel_ours\" | \"adopt\") or close them at the venue",
                    ours.len(),
                    links.join(", "),
                    self.inst.lot.format(position.lots),
                    self.inst.key.symbol,
                    if position.avg_price.is_empty() { "-" } else { &position.avg_price },
                )));
            }
            OnStart::Refuse => {}
            OnStart::CancelOurs => {
                for o in &ours {
                    self.wait_token(Bucket::Cancel);
                    let Ok(r) = self.req.cancel_link(wall_ms(), &o.link_id) else {
                        continue;
                    };
                    LiveStats::inc(&self.stats.cancels);
                    match self.rest.send(r.bytes()) {
                        Ok(a) if a.code == ret::OK => rep.cancelled.push(o.link_id.clone()),
                        Ok(a) => tracing::warn!(
                            link = %o.link_id,
                            code = a.code,
                            "start-up: cancel of our leftover order refused"
                        ),
                        Err(e) => {
                            tracing::warn!(link = %o.link_id, error = %e, "start-up: cancel failed")
                        }
                    }
                }
                if !ours.is_empty() {
                    let left: Vec<String> = self
                        .open_orders()
                        .map_err(unreachable)?
                        .into_iter()
                        .filter(|o| self.ids.is_ours(&o.link_id))
                        .map(|o| o.link_id)
                        .collect();
                    if !left.is_empty() {
                        return Err(LiveStartError::Mismatch(format!(
                            "reconcile_mismatch: our order(s) [{}] still open at the venue after their cancel",
                            left.join(", ")
                        )));
                    }
                    // A leftover may have filled before its cancel: the position as it is now.
                    position = self.position().map_err(unreachable)?;
                }
            }
            OnStart::Adopt => {
                for (i, o) in ours.iter().enumerate() {
                    let id = ADOPTED_ID_BASE + i as u64;
                    let Ok(link) = crate::exec::orders::ClientId::from(o.link_id.as_str()) else {
                        return Err(LiveStartError::Mismatch(format!(
                            "reconcile_mismatch: client id {} is longer than 36",
                            o.link_id
                        )));
                    };
                    self.adopted.push((id, link));
                    self.orders.push(IoOrder {
                        id,
                        link,
                        side: o.side,
                        qty: o.qty,
                        filled: o.cum,
                        ended: None,
                        since_ns: mono_ns(),
                    });
                    rep.adopted.push((id, o.clone()));
                }
            }
        }
        self.wallet0 = self.wallet().map_err(unreachable)?;
        self.ledger.adopt(0, position.lots, position.basis);
        rep.ours = ours;
        rep.foreign = foreign;
        rep.position = position;
        rep.wallet = self.wallet0;
        self.next_recon_ns = mono_ns() + self.recon_every_ns;
        Ok(rep)
    }

    /// Continuous reconciliation (see `recon.rs`): on the I/O thread, between requests.
    fn reconcile(&mut self) {
        let r = self.try_reconcile();
        if let Err(e) = r {
            self.recon.skipped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "bybit: reconciliation skipped");
        }
    }

    fn try_reconcile(&mut self) -> Result<(), String> {
        let w1 = self.wallet()?;
        let mut pos = self.position()?;
        let open = self.open_orders()?;
        let w2 = self.wallet()?;
        if w1 != w2 {
            return Err("the account moved between the reads".into());
        }
        self.foreign = open.iter().any(|o| !self.ids.is_ours(&o.link_id));
        // Ours open at the venue that we do not track (finished for us, or never ours to
        // know: another process with our prefix).
        let untracked: Vec<String> = open
            .iter()
            .filter(|o| self.ids.is_ours(&o.link_id))
            .filter(|o| !self.orders.iter().any(|x| x.link.as_str() == o.link_id))
            .map(|o| o.link_id.clone())
            .collect();
        // Orders in flight longer than the interval (all of them when the position differs)
        // are asked for by client id: fills the stream did not deliver are found this way.
        let now = mono_ns();
        let differs = pos.lots != self.ledger.position();
        let due: Vec<(u64, crate::exec::orders::ClientId)> = self
            .orders
            .iter()
            .filter(|o| differs || now.saturating_sub(o.since_ns) >= self.recon_every_ns)
            .map(|o| (o.id, o.link))
            .collect();
        let mut found = 0;
        for (id, link) in due {
            found += self.query_order(id, &link)?;
        }
        let mut wallet = w2;
        if found > 0 {
            pos = self.position()?;
            wallet = self.wallet()?;
        }
        let expected = if self.inst.key.market == Market::Spot {
            self.ledger.cash()
        } else {
            self.ledger.realized() - self.ledger.fees()
        };
        let dpos = (pos.lots as i128 - self.ledger.position() as i128).abs();
        let drift = (wallet - self.wallet0 - expected).abs() + dpos * value(pos.mark_px, 1).abs();
        self.recon.venue_position.store(pos.lots, Ordering::Relaxed);
        self.recon.set_drift(drift);
        if dpos != 0 || !untracked.is_empty() {
            self.strikes += 1;
            if self.strikes >= 2 && !self.recon.mismatch.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    venue = pos.lots,
                    ours = self.ledger.position(),
                    "bybit: the venue's position or open orders differ from ours and no query explains it"
                );
                self.recon.note(note(&[
                    ("outcome", "mismatch".into()),
                    ("reason_code", "reconcile_mismatch".into()),
                    ("venue_position", self.inst.lot.format(pos.lots).into()),
                    (
                        "our_position",
                        self.inst.lot.format(self.ledger.position()).into(),
                    ),
                    ("untracked_orders", untracked.join(",").into()),
                ]));
            }
        } else {
            self.strikes = 0;
        }
        Ok(())
    }

    /// Asks the venue for one of our orders; books the executions the stream did not deliver.
    /// Returns how many fills were found.
    fn query_order(
        &mut self,
        id: u64,
        link: &crate::exec::orders::ClientId,
    ) -> Result<u32, String> {
        let inst = self.inst;
        let r = self.read(AccountRead::Order(link.as_str()))?;
        let Some(o) = r.pointer("/list/0").cloned() else {
            return Ok(0);
        };
        let cum = VenueOrder::parse(&o, &inst)?.cum;
        let filled = self
            .orders
            .iter()
            .find(|x| x.id == id)
            .map_or(0, |x| x.filled);
        let mut found = 0;
        if cum > filled {
            let ex = self.read(AccountRead::Executions(link.as_str()))?;
            for e in ex
                .get("list")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if e.get("execType").and_then(Value::as_str) != Some("Trade") {
                    continue;
                }
                let Some(ev) = fill_of(e, &inst) else {
                    LiveStats::inc(&self.stats.malformed);
                    continue;
                };
                let VenueEvent::Fill {
                    exec_id,
                    px,
                    qty,
                    fee,
                    ..
                } = ev
                else {
                    continue;
                };
                if self.seen_execs.contains(&exec_id) {
                    continue;
                }
                found += 1;
                self.recon.found_fills.fetch_add(1, Ordering::Relaxed);
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                tracing::warn!(link = %link, exec = %s("execId"), "bybit: a fill the private stream did not deliver, found by reconciliation");
                self.recon.note(note(&[
                    ("outcome", "fill_found".into()),
                    ("found_by", "reconciliation: GET /v5/order/realtime by orderLinkId, then GET /v5/execution/list".into()),
                    ("order_id", id.into()),
                    ("order_link_id", link.as_str().into()),
                    ("exec_id", s("execId").into()),
                    ("px", inst.tick.format(px).into()),
                    ("qty", inst.lot.format(qty).into()),
                    ("fee", crate::config::format_money(&inst, fee).into()),
                ]));
                self.venue(id, ev);
            }
        }
        let mut evs = arrayvec::ArrayVec::<VenueEvent, 2>::new();
        order_events(&o, &inst, &mut |e| {
            let _ = evs.try_push(e);
        });
        for e in evs {
            self.venue(id, e);
        }
        if let Some(x) = self.orders.iter_mut().find(|x| x.id == id) {
            x.since_ns = mono_ns();
        }
        Ok(found)
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
                "bybit",
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
                        reduce_only,
                    } => self.place(id, side, px, qty, tif, reduce_only),
                    OrderCmd::Cancel { id } => self.cancel_cmd(id),
                    OrderCmd::CancelAll => self.cancel_all(r.t_ns),
                }
                self.flush(&mut tx, stop);
                self.stats.finished.fetch_add(1, Ordering::Release);
                // The private stream between requests, without waiting.
                self.poll_ws(Some(Duration::ZERO));
                self.flush(&mut tx, stop);
            }
            let wait = if did {
                Duration::ZERO
            } else {
                Duration::from_micros(500)
            };
            if self.ws.is_some() {
                self.poll_ws(Some(wait));
            } else if !did {
                std::thread::sleep(wait);
            }
            self.flush(&mut tx, stop);
            // Between orders only: a reconciliation's reads delay what waits on the ring.
            // Nothing is read with a pair the venue refused (no retry loop): see `auth_refused`.
            if !self.dry_run
                && !self.auth_blocked
                && self.recon_every_ns > 0
                && mono_ns() >= self.next_recon_ns
                && rx.is_empty()
            {
                self.next_recon_ns = mono_ns() + self.recon_every_ns;
                self.reconcile();
                self.flush(&mut tx, stop);
            }
            if !did
                && !self.dry_run
                && !self.auth_blocked
                && mono_ns().saturating_sub(self.rest.http.last_used_ns) > self.keep_warm_ns
            {
                self.keep_warm();
            }
            if stop.load(Ordering::SeqCst) && rx.is_empty() {
                break;
            }
        }
        if let Some(ws) = &mut self.ws {
            ws.close();
        }
        println!("{}", self.stats.line("bybit"));
    }

    /// A signed query of the open orders on the idle connection: keeps it (and the TLS
    /// session) warm so the next order does not pay for a reconnect, and finds a connection
    /// the venue closed while idle before an order does.
    fn keep_warm(&mut self) {
        let Ok(r) = self.req.query_open(wall_ms()) else {
            return;
        };
        LiveStats::inc(&self.stats.keepalives);
        match self.rest.send(r.bytes()) {
            Ok(a) if ret::is_auth(a.code) => {
                self.auth_refused();
                tracing::error!(
                    code = a.code,
                    "bybit: keep-alive query refused for our credentials"
                );
            }
            Ok(a) => {
                self.rate_feedback(&a, Bucket::Query);
            }
            Err(e) => tracing::warn!(error = %e, "bybit: keep-alive query failed; reconnecting"),
        }
    }

    fn flush(&mut self, tx: &mut rtrb::Producer<IoEvent>, stop: &AtomicBool) {
        flush(&mut self.events, tx, stop)
    }

    /// Reports `ev` for our order `id` to the order stage; a fill whose execution id was
    /// reported before is dropped here (the stream and a query may both carry it), and every
    /// other is booked into the I/O thread's ledger.
    fn venue(&mut self, id: u64, ev: VenueEvent) {
        let i = self.orders.iter().position(|o| o.id == id);
        match ev {
            VenueEvent::Fill {
                exec_id,
                px,
                qty,
                fee,
                ..
            } => {
                if !self.seen_execs.insert(exec_id) {
                    return;
                }
                if let Some(i) = i {
                    let o = &mut self.orders[i];
                    let q = qty.min(o.qty - o.filled).max(0);
                    o.filled += q;
                    if q > 0 {
                        self.ledger.on_fill(0, o.side, px, q, fee);
                    }
                }
            }
            VenueEvent::Cancelled { cum_qty } | VenueEvent::Expired { cum_qty } => {
                if let Some(i) = i {
                    self.orders[i].ended = Some(cum_qty);
                }
            }
            VenueEvent::Rejected { .. } => {
                if let Some(i) = i {
                    self.orders[i].ended = Some(0);
                }
            }
            VenueEvent::Ack | VenueEvent::CancelRejected { .. } => {}
        }
        if let Some(i) = i {
            let o = &self.orders[i];
            if o.filled >= o.qty || o.ended.is_some_and(|c| o.filled >= c) {
                self.orders.swap_remove(i);
            }
        }
        self.events.push(IoEvent::Venue { id, ev });
    }

    /// The client id of our order `id` (an adopted one keeps its earlier start's).
    fn link_of(&self, id: u64) -> crate::exec::orders::ClientId {
        match self.adopted.iter().find(|(a, _)| *a == id) {
            Some((_, l)) => *l,
            None => self.ids.of(id),
        }
    }

    /// Our order id of a client id: this start's, or an adopted one's.
    fn id_of(&self, link: &str) -> Option<u64> {
        self.ids.id_of(link).or_else(|| {
            self.adopted
                .iter()
                .find(|(_, l)| l.as_str() == link)
                .map(|(id, _)| *id)
        })
    }

    fn poll_ws(&mut self, wait: Option<Duration>) {
        let Some(ws) = self.ws.as_mut() else { return };
        let mut frames: Vec<Value> = Vec::new();
        let out = ws.poll(mono_ns(), wait, |_, f| match serde_json::from_slice(f) {
            Ok(v) => frames.push(v),
            Err(_) => LiveStats::inc(&self.stats.malformed),
        });
        match out {
            Ok(o) => {
                if o.opened {
                    self.ws_ready = false;
                    let auth = self.req.ws_auth(wall_ms() + 10_000);
                    let sub = r#"{"op":"subscribe","args":["order","execution"]}"#;
                    let _ = ws.send_text(&auth);
                    let _ = ws.send_text(sub);
                }
                if o.disconnected.is_some() {
                    self.ws_ready = false;
                }
            }
            Err(e) => tracing::warn!(error = %e, "bybit private stream closed"),
        }
        for v in frames {
            self.on_frame(&v);
        }
    }

    fn on_frame(&mut self, v: &Value) {
        match v.get("op").and_then(Value::as_str) {
            Some("auth") => {
                if v.get("success").and_then(Value::as_bool) != Some(true) {
                    self.ws_auth_failed = true;
                    self.auth_refused();
                    tracing::error!("bybit private stream: authentication refused");
                }
                return;
            }
            Some("subscribe") => {
                self.ws_ready = v.get("success").and_then(Value::as_bool) == Some(true);
                if self.ws_ready {
                    if self.ws_was_ready {
                        // A reconnect: what the stream carried meanwhile is lost; reconcile now.
                        self.next_recon_ns = 0;
                    }
                    self.ws_was_ready = true;
                }
                return;
            }
            Some(_) => return,
            None => {}
        }
        let topic = v.get("topic").and_then(Value::as_str).unwrap_or("");
        let Some(data) = v.get("data").and_then(Value::as_array) else {
            return;
        };
        let inst = self.inst;
        for d in data {
            let id = d
                .get("orderLinkId")
                .and_then(Value::as_str)
                .and_then(|l| self.id_of(l));
            let Some(id) = id else { continue };
            match topic {
                "execution" => {
                    if d.get("execType").and_then(Value::as_str) != Some("Trade") {
                        continue;
                    }
                    match fill_of(d, &inst) {
                        Some(ev) => {
                            LiveStats::inc(&self.stats.ws_fills);
                            self.venue(id, ev);
                        }
                        None => LiveStats::inc(&self.stats.malformed),
                    }
                }
                "order" => {
                    let mut evs = arrayvec::ArrayVec::<VenueEvent, 2>::new();
                    order_events(d, &inst, &mut |e| {
                        let _ = evs.try_push(e);
                    });
                    for e in evs {
                        self.venue(id, e);
                    }
                }
                _ => {}
            }
        }
    }

    /// Applies what an answer says about the rate limit; whether it was a `10006`.
    fn rate_feedback(&mut self, a: &Answer, bucket: Bucket) -> bool {
        let now = mono_ns();
        if let Some(left) = a.limit_left {
            self.bucket(bucket).cap_level(now, left);
        }
        if a.code == ret::TOO_MANY_VISITS || a.status == 429 {
            LiveStats::inc(&self.stats.venue_rate_limited);
            // 10006 comes in an HTTP 200 (the connection counts a 429 itself).
            self.rest.http.rate_limited_answer();
            let wait_ms = a
                .reset_ms
                .map(|r| r.saturating_sub(wall_ms()))
                .unwrap_or(0)
                .max(1000);
            self.blocked_until_ns = now + wait_ms * 1_000_000;
            return true;
        }
        false
    }

    fn bucket(&mut self, b: Bucket) -> &mut TokenBucket {
        match b {
            Bucket::Create => &mut self.create,
            Bucket::Cancel => &mut self.cancel,
            Bucket::CancelAll => &mut self.cancel_all,
            Bucket::Query => &mut self.query,
        }
    }

    /// Waits for a token of `b` (cancels must go out).
    fn wait_token(&mut self, b: Bucket) {
        loop {
            let now = mono_ns();
            if now >= self.blocked_until_ns && self.bucket(b).try_take(now) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn journal(&mut self, path: &str, ts_ms: u64, payload: &[u8], sig: &[u8]) {
        self.journal.write(path, ts_ms, payload, sig)
    }

    #[allow(clippy::too_many_arguments)]
    fn place(&mut self, id: u64, side: OrderSide, px: i64, qty: i64, tif: Tif, reduce_only: bool) {
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
        if let Some(r) = self.rest.http.allowed_order_rate() {
            self.create.set_rate(now, r);
        }
        if now < self.blocked_until_ns || !self.create.try_take(now) {
            LiveStats::inc(&self.stats.local_rate_limited);
            self.venue(
                id,
                VenueEvent::Rejected {
                    reason: RejectReason::RateLimit,
                },
            );
            return;
        }
        let link = self.ids.of(id);
        if !self.orders.iter().any(|o| o.id == id) {
            self.orders.push(IoOrder {
                id,
                link,
                side,
                qty,
                filled: 0,
                ended: None,
                since_ns: now,
            });
        }
        let mut resent = false;
        loop {
            let ts = wall_ms();
            let Ok(r) = self.req.create(ts, &link, side, px, qty, tif, reduce_only) else {
                self.venue(
                    id,
                    VenueEvent::Rejected {
                        reason: RejectReason::Invalid,
                    },
                );
                return;
            };
            LiveStats::inc(&self.stats.places);
            if self.dry_run {
                let (p, s) = (r.payload().to_vec(), r.signature);
                self.journal(CREATE_PATH, ts, &p, &s);
                self.venue(id, VenueEvent::Ack);
                return;
            }
            let res = self.rest.send(r.bytes());
            let a = match res {
                Ok(a) => a,
                Err(SendError::NotSent(e)) if !resent => {
                    // Nothing went out: one more try on a fresh connection.
                    tracing::warn!(error = %e, "bybit: place not sent; reconnecting");
                    resent = true;
                    continue;
                }
                Err(SendError::NotSent(_)) => {
                    self.venue(
                        id,
                        VenueEvent::Rejected {
                            reason: RejectReason::Network,
                        },
                    );
                    return;
                }
                Err(e) => {
                    LiveStats::inc(&self.stats.timeouts);
                    tracing::warn!(error = %e, "bybit: place unanswered; asking the venue");
                    match self.resolve(id, &link) {
                        Resolved::Found => return,
                        Resolved::Absent if !resent => {
                            LiveStats::inc(&self.stats.resends);
                            resent = true;
                            continue;
                        }
                        Resolved::Absent | Resolved::Unknown => {
                            self.venue(
                                id,
                                VenueEvent::Rejected {
                                    reason: RejectReason::Network,
                                },
                            );
                            return;
                        }
                    }
                }
            };
            let limited = self.rate_feedback(&a, Bucket::Create);
            match a.code {
                ret::OK => self.venue(id, VenueEvent::Ack),
                c if ret::is_auth(c) => {
                    self.auth_refused();
                    tracing::error!(code = c, "bybit: order refused for our credentials");
                    self.venue(
                        id,
                        VenueEvent::Rejected {
                            reason: RejectReason::Auth,
                        },
                    );
                }
                _ if limited => self.venue(
                    id,
                    VenueEvent::Rejected {
                        reason: RejectReason::Venue,
                    },
                ),
                // Ambiguous (internal error) or already there (a late first copy): ask.
                c if c == ret::INTERNAL
                    || c == ret::DUPLICATE_ORDER
                    || c == 110072
                    || a.status >= 500 =>
                {
                    match self.resolve(id, &link) {
                        Resolved::Found => {}
                        _ => self.venue(
                            id,
                            VenueEvent::Rejected {
                                reason: RejectReason::Venue,
                            },
                        ),
                    }
                }
                ret::PARAM => self.venue(
                    id,
                    VenueEvent::Rejected {
                        reason: RejectReason::Invalid,
                    },
                ),
                _ => self.venue(
                    id,
                    VenueEvent::Rejected {
                        reason: RejectReason::Venue,
                    },
                ),
            }
            return;
        }
    }

    /// Asks the venue about `link` (up to three tries); reports what it says.
    fn resolve(&mut self, id: u64, link: &crate::exec::orders::ClientId) -> Resolved {
        for _ in 0..3 {
            self.wait_token(Bucket::Query);
            let Ok(r) = self.req.query(wall_ms(), link) else {
                return Resolved::Unknown;
            };
            LiveStats::inc(&self.stats.queries);
            match self.rest.send(r.bytes()) {
                Ok(a) if a.code == ret::OK => {
                    let list = a
                        .body
                        .pointer("/result/list")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let Some(o) = list.first() else {
                        return Resolved::Absent;
                    };
                    let inst = self.inst;
                    let mut evs = arrayvec::ArrayVec::<VenueEvent, 2>::new();
                    order_events(o, &inst, &mut |e| {
                        let _ = evs.try_push(e);
                    });
                    for e in evs {
                        self.venue(id, e);
                    }
                    return Resolved::Found;
                }
                Ok(a) => {
                    self.rate_feedback(&a, Bucket::Query);
                }
                Err(_) => LiveStats::inc(&self.stats.timeouts),
            }
        }
        Resolved::Unknown
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
        // Sent even after a refusal of our credentials (`auth_blocked` stops new orders and
        // reads, not cancels): cancels are the safety path, and a refusal that passes (a clock
        // window) must not leave our orders resting at the venue.
        let link = self.link_of(id);
        for attempt in 0..3 {
            self.wait_token(Bucket::Cancel);
            let ts = wall_ms();
            let Ok(r) = self.req.cancel(ts, &link) else {
                return;
            };
            LiveStats::inc(&self.stats.cancels);
            if self.dry_run {
                let (p, s) = (r.payload().to_vec(), r.signature);
                self.journal(CANCEL_PATH, ts, &p, &s);
                self.venue(id, VenueEvent::Cancelled { cum_qty: 0 });
                return;
            }
            match self.rest.send(r.bytes()) {
                Ok(a) => {
                    let limited = self.rate_feedback(&a, Bucket::Cancel);
                    let reason = match a.code {
                        // The order stream reports the cancel with its executed size.
                        ret::OK => return,
                        ret::ORDER_NOT_EXISTS | ret::ORDER_FINISHED => RejectReason::UnknownOrder,
                        c if ret::is_auth(c) => {
                            self.auth_refused();
                            RejectReason::Auth
                        }
                        _ if limited && attempt < 2 => continue,
                        _ => RejectReason::Venue,
                    };
                    self.venue(id, VenueEvent::CancelRejected { reason });
                    return;
                }
                Err(SendError::NotSent(_)) => continue,
                Err(_) => {
                    // Did the cancel go through? A cancel sent twice is harmless, but ask first.
                    LiveStats::inc(&self.stats.timeouts);
                    if let Resolved::Found = self.resolve(id, &link) {
                        // The query reported a final state if there is one; a working order
                        // gets the cancel once more.
                        continue;
                    }
                    self.venue(
                        id,
                        VenueEvent::CancelRejected {
                            reason: RejectReason::Network,
                        },
                    );
                    return;
                }
            }
        }
    }

    fn cancel_all(&mut self, t_ns: u64) {
        if self.foreign && !self.dry_run {
            // Someone else's orders rest on the symbol: cancel ours, one by one, and leave
            // theirs alone.
            let ids: Vec<u64> = self.orders.iter().map(|o| o.id).collect();
            for id in ids {
                self.cancel(id);
            }
            self.events.push(IoEvent::CancelAllAck { t_ns });
            return;
        }
        for _ in 0..5 {
            self.wait_token(Bucket::CancelAll);
            let ts = wall_ms();
            let Ok(r) = self.req.cancel_all(ts) else {
                return;
            };
            LiveStats::inc(&self.stats.cancel_alls);
            if self.dry_run {
                let (p, s) = (r.payload().to_vec(), r.signature);
                self.journal(CANCEL_ALL_PATH, ts, &p, &s);
                self.events.push(IoEvent::CancelAllAck { t_ns });
                return;
            }
            match self.rest.send(r.bytes()) {
                Ok(a) => {
                    let limited = self.rate_feedback(&a, Bucket::CancelAll);
                    if a.code == ret::OK {
                        self.events.push(IoEvent::CancelAllAck { t_ns });
                        return;
                    }
                    if ret::is_auth(a.code) {
                        self.auth_refused();
                        return;
                    }
                    if !limited {
                        tracing::warn!(code = a.code, "bybit: cancel-all refused");
                        return;
                    }
                }
                // Cancel-all is idempotent: sending it again is safe.
                Err(_) => LiveStats::inc(&self.stats.timeouts),
            }
        }
    }
}

/// A signed read of the account.
#[derive(Clone, Copy)]
enum AccountRead<'a> {
    OpenOrders(&'a str),
    Position,
    Wallet,
    Executions(&'a str),
    Order(&'a str),
}

impl AccountRead<'_> {
    fn path(&self) -> &'static str {
        use super::private::{EXECUTION_PATH, POSITION_PATH, REALTIME_PATH, WALLET_PATH};
        match self {
            AccountRead::OpenOrders(_) | AccountRead::Order(_) => REALTIME_PATH,
            AccountRead::Position => POSITION_PATH,
            AccountRead::Wallet => WALLET_PATH,
            AccountRead::Executions(_) => EXECUTION_PATH,
        }
    }
}

#[derive(Clone, Copy)]
enum Bucket {
    Create,
    Cancel,
    CancelAll,
    Query,
}

enum Resolved {
    /// The venue has the order; its state was reported.
    Found,
    /// The venue does not have it: it was never placed.
    Absent,
    /// The venue could not be asked.
    Unknown,
}

/// An `execution` item as a fill: exact price, size and fee.
fn fill_of(d: &Value, inst: &Instrument) -> Option<VenueEvent> {
    let s = |k: &str| d.get(k).and_then(Value::as_str);
    let exec_id = exec_id_hash(s("execId")?.as_bytes());
    let px = inst.tick.parse(s("execPrice")?.as_bytes()).ok()?;
    let qty = inst.lot.parse(s("execQty")?.as_bytes()).ok()?;
    let fee = crate::config::Config::money(inst, "execFee", s("execFee")?).ok()?;
    let liquidity = if d.get("isMaker").and_then(Value::as_bool)? {
        Liquidity::Maker
    } else {
        Liquidity::Taker
    };
    Some(VenueEvent::Fill {
        exec_id,
        px,
        qty,
        fee,
        liquidity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{InstrumentTable, Market, Venue};

    fn inst() -> Instrument {
        *InstrumentTable::default()
            .get(Venue::Bybit, Market::Linear, "BTCUSDT")
            .unwrap()
    }

    #[test]
    fn execution_items_become_exact_fills() {
        let d: Value = serde_json::json!({
            "execId": "e-1", "execPrice": "50000.10", "execQty": "0.002",
            "execFee": "0.0550011", "isMaker": false, "execType": "Trade"
        });
        let i = inst();
        let Some(VenueEvent::Fill {
            px,
            qty,
            fee,
            liquidity,
            ..
        }) = fill_of(&d, &i)
        else {
            panic!("not a fill")
        };
        assert_eq!(px, i.tick.parse(b"50000.10").unwrap());
        assert_eq!(qty, 2);
        assert_eq!(
            fee,
            crate::config::Config::money(&i, "f", "0.0550011").unwrap()
        );
        assert_eq!(liquidity, Liquidity::Taker);
        let bad: Value = serde_json::json!({"execId": "e", "execPrice": "x"});
        assert!(fill_of(&bad, &i).is_none());
    }

    #[test]
    fn order_states_map_to_venue_events() {
        let i = inst();
        let mut got = Vec::new();
        let o =
            serde_json::json!({"orderStatus": "PartiallyFilledCanceled", "cumExecQty": "0.003"});
        order_events(&o, &i, &mut |e| got.push(e));
        assert_eq!(
            got,
            vec![VenueEvent::Ack, VenueEvent::Cancelled { cum_qty: 3 }]
        );
        got.clear();
        order_events(&serde_json::json!({"orderStatus": "New"}), &i, &mut |e| {
            got.push(e)
        });
        assert_eq!(got, vec![VenueEvent::Ack]);
    }
}
