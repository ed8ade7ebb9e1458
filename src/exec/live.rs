//! What every venue's live gateway shares: the settings, the start-up errors and counters, the
//! order stage's half ([`Front`]: the [`OrderTable`], the rings to and from the I/O thread, the
//! venue's view of our position and cash), the persistent keep-alive REST connection
//! ([`HttpConn`]), the dry run's journal and the I/O thread's report flush.
//!
//! A venue's gateway (`venue::bybit::live`, `venue::coincheck::live`) owns a [`Front`] on the
//! order stage and runs its own I/O thread: that thread builds and signs the venue's requests,
//! sends them on an [`HttpConn`], reads the venue's answers (and private stream or polls) and
//! pushes [`IoEvent`]s back. The order stage's half never blocks, locks or allocates after
//! start-up.

use crate::config::OnStart;
use crate::exec::gateway::Gateway;
use crate::exec::ledger::value;
use crate::exec::orders::{OrderTable, VenueEvent};
use crate::instrument::Instrument;
use crate::msg::{
    BookUpdate, ExecKind, ExecReport, Money, OrderCmd, OrderSide, RejectReason, TradePrint,
};
use crate::net::rest::Stream;
use crate::net::{mono_ns, tls, Backoff, Url, XorShift64};
use crate::ops::secrets::{Credentials, SecretStore};
use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Slots of the rings between the order stage and the I/O thread.
pub const RING: usize = 4096;
/// Orders the table holds (working and recently finished).
pub const TABLE: usize = 1024;
/// An idle REST connection gets a signed query this often by default (the venue closes idle
/// ones).
pub const KEEP_WARM: Duration = Duration::from_secs(15);

/// Everything a live gateway needs (from `[live]`, `[market]` and the credentials; a venue
/// ignores what it has no use for: Coincheck has no private stream, no receive window).
#[derive(Clone)]
pub struct LiveSettings {
    pub inst: Instrument,
    /// `https://api.bybit.com` or the simulator's `https://127.0.0.1:PORT`.
    pub rest_url: String,
    /// `wss://stream.bybit.com/v5/private` or the simulator's.
    pub private_ws_url: String,
    pub ca_file: Option<PathBuf>,
    pub api_key: String,
    pub api_secret: String,
    /// Where credentials reloaded while running come from (`obi-scalp run`: the secrets store
    /// the cold thread re-reads on SIGHUP); `None`: the pair above for the whole session.
    pub credentials: Option<CredentialsWatch>,
    pub recv_window_ms: u32,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub order_rate_per_sec: u32,
    /// An idle REST connection gets a signed query after this long ([`KEEP_WARM`]).
    pub keep_warm: Duration,
    pub dry_run: bool,
    /// Where the dry run journals its signed requests.
    pub journal_dir: PathBuf,
    /// Client order ids' start part (wall-clock ms of the start): unique across restarts.
    pub start_ms: u64,
    /// Client order ids start with `<client_id_prefix>-` (`[live] client_id_prefix`): how a
    /// restarted process recognises its own orders.
    pub client_id_prefix: String,
    /// What start-up reconciliation does with our leftover orders (`[live] on_start`).
    pub on_start: OnStart,
    /// Continuous reconciliation every this long (`[live] reconcile_interval_ms`).
    pub reconcile_interval: Duration,
}

impl std::fmt::Debug for LiveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSettings")
            .field("rest_url", &self.rest_url)
            .field("private_ws_url", &self.private_ws_url)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// The I/O thread's watch on the secrets store: a SIGHUP makes the cold thread re-read the
/// secrets ([`SecretStore::reload`]), which bumps the store's generation when a value changed.
/// The I/O thread (which builds and signs every request; the order stage never signs) checks
/// the generation once per loop, one atomic load, and on a change takes the new pair (the
/// store's lock is held only to clone two `Arc`s; the cold thread reads the files before it
/// bumps the generation) and re-keys its request builder in place before the next request.
/// Nothing blocks or allocates on the order stage, and nothing on the I/O thread while the
/// generation is unchanged.
#[derive(Clone)]
pub struct CredentialsWatch {
    store: Arc<SecretStore>,
    seen: u64,
}

impl std::fmt::Debug for CredentialsWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsWatch")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl CredentialsWatch {
    /// Watches `store` from its generation now: call it before reading the pair the gateway
    /// starts with, so that a reload in between is seen (and applied once more, harmlessly).
    pub fn new(store: Arc<SecretStore>) -> CredentialsWatch {
        let seen = store.generation();
        CredentialsWatch { store, seen }
    }

    /// The credentials, when the store has new ones since the last call (both present).
    #[inline]
    pub fn changed(&mut self) -> Option<Credentials> {
        let g = self.store.generation();
        if g == self.seen {
            return None;
        }
        self.seen = g;
        self.store.credentials()
    }

    /// An I/O thread's re-key: when `watch` has new credentials, `set` gives them to the
    /// venue's request builder (key, secret bytes); taken, they clear `auth_blocked` (orders go
    /// out again: the venue may accept the new pair), refused (`set`'s error), the old pair
    /// keeps signing. One atomic load when there are none; `venue` names the log lines.
    #[inline]
    pub fn rekey(
        watch: Option<&mut CredentialsWatch>,
        venue: &str,
        auth_blocked: &mut bool,
        set: impl FnOnce(&str, &[u8]) -> Result<(), String>,
    ) {
        let Some(c) = watch.and_then(CredentialsWatch::changed) else {
            return;
        };
        match set(c.api_key.expose(), c.api_secret.expose().as_bytes()) {
            Ok(()) => {
                *auth_blocked = false;
                tracing::info!("{venue}: the reloaded API credentials sign from the next request")
            }
            Err(e) => {
                tracing::error!(error = %e, "{venue}: reloaded API credentials refused; still signing with the old ones")
            }
        }
    }
}

/// While our credentials are refused (`auth_blocked`), the strategy's single cancels go out at
/// most once in this long: each refused one comes back to the order stage, which asks again,
/// and without a bound that is a retry loop at the venue. Cancel-alls (risk abort, kill switch,
/// exit) always go out.
pub const BLOCKED_CANCEL_GAP_NS: u64 = 1_000_000_000;

/// Whether a single cancel may go out now (always, unless `auth_blocked`; then once per
/// [`BLOCKED_CANCEL_GAP_NS`], `last_ns` the monotonic time of the last one let through).
#[inline]
pub fn blocked_cancel_allowed(auth_blocked: bool, last_ns: &mut u64, now_ns: u64) -> bool {
    if !auth_blocked {
        return true;
    }
    if *last_ns != 0 && now_ns.saturating_sub(*last_ns) < BLOCKED_CANCEL_GAP_NS {
        return false;
    }
    *last_ns = now_ns;
    true
}

/// The venue refused our credentials: counted in `stats`, and the first refusal while
/// `auth_blocked` is clear sets it and pushes one [`IoEvent::AuthFailed`] (risk aborts once);
/// the gateway refuses orders and sends no reads while it is set ([`CredentialsWatch::rekey`]
/// clears it).
pub fn auth_refused(stats: &LiveStats, auth_blocked: &mut bool, events: &mut Vec<IoEvent>) {
    LiveStats::inc(&stats.auth_errors);
    if !*auth_blocked {
        *auth_blocked = true;
        events.push(IoEvent::AuthFailed);
    }
}

/// Why the gateway did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStartError {
    /// The venue refused our credentials (or clock): exit code 4.
    Auth(String),
    /// The venue could not be reached.
    Unreachable(String),
    /// A setting is wrong.
    Config(String),
    /// `on_start = "refuse"` and the venue has our orders or a position: exit code 10.
    Refused(String),
    /// Start-up reconciliation found what it cannot explain: a risk abort
    /// (`reconcile_mismatch`, exit code 7).
    Mismatch(String),
}

impl std::fmt::Display for LiveStartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveStartError::Auth(s)
            | LiveStartError::Unreachable(s)
            | LiveStartError::Config(s)
            | LiveStartError::Refused(s)
            | LiveStartError::Mismatch(s) => f.write_str(s),
        }
    }
}

/// Counters shared by both halves (read by tests and the end-of-run line).
#[derive(Debug, Default)]
pub struct LiveStats {
    pub requests: AtomicU64,
    pub places: AtomicU64,
    pub cancels: AtomicU64,
    pub cancel_alls: AtomicU64,
    pub queries: AtomicU64,
    /// Requests without an answer in time (resolved by a query).
    pub timeouts: AtomicU64,
    /// Places sent again after a query found them absent at the venue.
    pub resends: AtomicU64,
    /// `10006` answers.
    pub venue_rate_limited: AtomicU64,
    /// Places refused by our own bucket (not sent).
    pub local_rate_limited: AtomicU64,
    pub auth_errors: AtomicU64,
    pub connects: AtomicU64,
    /// Keep-warm queries on the idle connection.
    pub keepalives: AtomicU64,
    pub ws_fills: AtomicU64,
    /// Fill polls (venues without a private stream), the fills they found, and fills of
    /// orders that are not ours (or not known to be ours).
    pub polls: AtomicU64,
    pub polled_fills: AtomicU64,
    pub unmatched_fills: AtomicU64,
    /// Cancel-all answers received, and the last one's time from the order stage's command to
    /// the venue's answer (ns).
    pub cancel_all_acks: AtomicU64,
    pub last_cancel_all_ns: AtomicU64,
    /// Requests the I/O thread finished (with `sent` on the hot side: what is in flight).
    pub finished: AtomicU64,
    /// Malformed or unexpected frames and answers.
    pub malformed: AtomicU64,
    /// Orders per second the adaptive limit allows now (0: not observed).
    pub order_rate_allowed: AtomicU64,
}

impl LiveStats {
    pub fn inc(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }

    /// One line for the end of the run, starting `<venue> live:`.
    pub fn line(&self, venue: &str) -> String {
        let g = Self::get;
        format!(
            "{venue} live: requests={} places={} cancels={} cancel_alls={} queries={} timeouts={} resends={} venue_rate_limited={} local_rate_limited={} auth_errors={} connects={} keepalives={} ws_fills={} polls={} polled_fills={} unmatched_fills={} cancel_all_acks={} last_cancel_all_ack_us={} malformed={} order_rate_allowed={}",
            g(&self.requests),
            g(&self.places),
            g(&self.cancels),
            g(&self.cancel_alls),
            g(&self.queries),
            g(&self.timeouts),
            g(&self.resends),
            g(&self.venue_rate_limited),
            g(&self.local_rate_limited),
            g(&self.auth_errors),
            g(&self.connects),
            g(&self.keepalives),
            g(&self.ws_fills),
            g(&self.polls),
            g(&self.polled_fills),
            g(&self.unmatched_fills),
            g(&self.cancel_all_acks),
            g(&self.last_cancel_all_ns) / 1000,
            g(&self.malformed),
            g(&self.order_rate_allowed),
        )
    }
}
/// A command for the I/O thread: the order stage's command as it came, and the time it was
/// handed over (a cancel-all's trigger time, for the trigger → cancel-ack figure).
#[derive(Debug, Clone, Copy)]
pub struct IoReq {
    pub cmd: OrderCmd,
    pub t_ns: u64,
}

/// What the I/O thread reports to the order stage.
#[derive(Debug, Clone, Copy)]
pub enum IoEvent {
    Venue {
        id: u64,
        ev: VenueEvent,
    },
    CancelAllAck {
        t_ns: u64,
    },
    /// The venue refused our credentials on a request that is not an order's (a read, the
    /// private stream's login, a cancel-all): reported to risk as a cancel refused for auth
    /// of order id [`AUTH_REPORT_ID`], which risk turns into an abort (`venue_auth_failed`).
    AuthFailed,
}

/// The order id of the report that carries [`IoEvent::AuthFailed`] (no order of ours has it:
/// ids start at 1; the trader books a refused cancel of an unknown order as nothing).
pub const AUTH_REPORT_ID: u64 = 0;

/// The order stage's half of a live gateway: commands enter the [`OrderTable`] and go onto the
/// ring to the I/O thread; what comes back goes through the table (which orders it) to the
/// trader, and every fill is booked into the venue's view of our position and cash.
pub struct Front {
    table: OrderTable,
    tx: rtrb::Producer<IoReq>,
    rx: rtrb::Consumer<IoEvent>,
    stats: Arc<LiveStats>,
    stop: Arc<AtomicBool>,
    io: Option<JoinHandle<()>>,
    scratch: Vec<u64>,
    /// A cancel-all (its command time) that found the ring full: sent from `poll`.
    cancel_all_due: Option<u64>,
    sent: u64,
    position: i64,
    cash: Money,
}

impl std::fmt::Debug for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Front").finish_non_exhaustive()
    }
}

impl Front {
    /// Starts the I/O thread `name` running `io(requests, reports, stop)`; the order stage
    /// starts from `table`, `position` and `cash` (what start-up reconciliation adopted).
    pub fn start(
        name: &str,
        table: OrderTable,
        stats: Arc<LiveStats>,
        position: i64,
        cash: Money,
        io: impl FnOnce(rtrb::Consumer<IoReq>, rtrb::Producer<IoEvent>, &AtomicBool) + Send + 'static,
    ) -> Result<Front, LiveStartError> {
        let (tx, req_rx) = rtrb::RingBuffer::new(RING);
        let (ev_tx, rx) = rtrb::RingBuffer::new(RING);
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || io(req_rx, ev_tx, &stop2))
            .map_err(|e| LiveStartError::Config(format!("cannot start the I/O thread: {e}")))?;
        Ok(Front {
            table,
            tx,
            rx,
            stats,
            stop,
            io: Some(handle),
            scratch: Vec::with_capacity(TABLE),
            cancel_all_due: None,
            sent: 0,
            position,
            cash,
        })
    }

    pub fn stats(&self) -> Arc<LiveStats> {
        self.stats.clone()
    }

    pub fn table(&self) -> &OrderTable {
        &self.table
    }

    fn push(&mut self, r: IoReq) -> bool {
        if self.tx.push(r).is_ok() {
            self.sent += 1;
            true
        } else {
            false
        }
    }

    /// [`crate::exec::Gateway::on_cmd`].
    pub fn on_cmd(&mut self, cmd: OrderCmd, out: &mut impl FnMut(ExecReport)) {
        let now = crate::clock::now_ns();
        match cmd {
            OrderCmd::Place {
                id, side, px, qty, ..
            } => {
                if self.table.place(id, side, px, qty).is_err() {
                    out(ExecReport {
                        id,
                        ts_ns: now,
                        kind: ExecKind::Rejected {
                            reason: RejectReason::Invalid,
                        },
                    });
                    return;
                }
                if !self.push(IoReq { cmd, t_ns: now }) {
                    self.table.apply(
                        id,
                        now,
                        VenueEvent::Rejected {
                            reason: RejectReason::Network,
                        },
                        out,
                    );
                }
            }
            OrderCmd::Cancel { id } => {
                if !self.table.cancel_sent(id) {
                    out(ExecReport {
                        id,
                        ts_ns: now,
                        kind: ExecKind::CancelRejected {
                            reason: RejectReason::UnknownOrder,
                        },
                    });
                    return;
                }
                if !self.push(IoReq { cmd, t_ns: now }) {
                    self.table.apply(
                        id,
                        now,
                        VenueEvent::CancelRejected {
                            reason: RejectReason::Network,
                        },
                        out,
                    );
                }
            }
            OrderCmd::CancelAll => {
                self.scratch.clear();
                for o in self.table.working() {
                    if self.scratch.len() < self.scratch.capacity() {
                        self.scratch.push(o.id);
                    }
                }
                for i in 0..self.scratch.len() {
                    let id = self.scratch[i];
                    self.table.cancel_sent(id);
                }
                // A full ring cannot drop the kill switch's cancel-all: `poll` retries it until
                // it goes out (spinning here could deadlock with an I/O thread waiting for room
                // on the report ring, which only `poll` drains).
                let t_ns = self.cancel_all_due.unwrap_or(now);
                if !self.push(IoReq { cmd, t_ns }) {
                    self.cancel_all_due = Some(t_ns);
                }
            }
        }
    }

    /// [`crate::exec::Gateway::poll`].
    pub fn poll(&mut self, out: &mut impl FnMut(ExecReport)) -> bool {
        let mut did = false;
        if let Some(t_ns) = self.cancel_all_due {
            if self.push(IoReq {
                cmd: OrderCmd::CancelAll,
                t_ns,
            }) {
                self.cancel_all_due = None;
                did = true;
            }
        }
        while let Ok(e) = self.rx.pop() {
            did = true;
            match e {
                IoEvent::Venue { id, ev } => {
                    let now = crate::clock::now_ns();
                    let side = self.table.get(id).map(|o| o.side);
                    let (pos, cash) = (&mut self.position, &mut self.cash);
                    self.table.apply(id, now, ev, &mut |r: ExecReport| {
                        if let (ExecKind::Fill { px, qty, fee, .. }, Some(side)) = (r.kind, side) {
                            let s = match side {
                                OrderSide::Buy => 1i64,
                                OrderSide::Sell => -1,
                            };
                            *pos += s * qty;
                            *cash -= s as i128 * value(px, qty) + fee;
                        }
                        out(r)
                    });
                }
                IoEvent::AuthFailed => out(ExecReport {
                    id: AUTH_REPORT_ID,
                    ts_ns: crate::clock::now_ns(),
                    kind: ExecKind::CancelRejected {
                        reason: RejectReason::Auth,
                    },
                }),
                IoEvent::CancelAllAck { t_ns } => {
                    let d = crate::clock::now_ns().saturating_sub(t_ns);
                    self.stats.last_cancel_all_ns.store(d, Ordering::Relaxed);
                    LiveStats::inc(&self.stats.cancel_all_acks);
                }
            }
        }
        did
    }

    /// [`crate::exec::Gateway::balance`].
    pub fn balance(&self) -> (i64, Money) {
        (self.position, self.cash)
    }

    /// [`crate::exec::Gateway::busy`].
    pub fn busy(&self) -> bool {
        self.cancel_all_due.is_some()
            || self.sent != self.stats.finished.load(Ordering::Acquire)
            || self.table.working().next().is_some()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.io.take() {
            let _ = h.join();
        }
    }
}

/// A venue's live gateway: its order stage half is a [`Front`], which makes it a [`Gateway`]
/// (the venue has its own book: market data is not used).
pub trait HasFront {
    fn front(&self) -> &Front;
    fn front_mut(&mut self) -> &mut Front;
}

impl<T: HasFront> Gateway for T {
    fn on_book(&mut self, _upd: &BookUpdate, _out: &mut impl FnMut(ExecReport)) {}

    fn on_trade(&mut self, _t: &TradePrint, _out: &mut impl FnMut(ExecReport)) {}

    fn on_cmd(&mut self, _decided_ns: u64, cmd: OrderCmd, out: &mut impl FnMut(ExecReport)) {
        self.front_mut().on_cmd(cmd, out)
    }

    fn poll(&mut self, out: &mut impl FnMut(ExecReport)) -> bool {
        self.front_mut().poll(out)
    }

    fn balance(&self) -> (i64, Money) {
        self.front().balance()
    }

    fn busy(&self) -> bool {
        self.front().busy()
    }
}

/// Pushes the I/O thread's `events` to the order stage, waiting for room rather than losing a
/// fill (the order stage drains the ring every turn); gives up only when stopping.
pub fn flush(events: &mut Vec<IoEvent>, tx: &mut rtrb::Producer<IoEvent>, stop: &AtomicBool) {
    for e in events.drain(..) {
        let mut e = e;
        loop {
            match tx.push(e) {
                Ok(()) => break,
                Err(rtrb::PushError::Full(back)) => {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    e = back;
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// The dry run's journal: every request built and signed, its payload and signature (never
/// the key), one JSON line each in `<dir>/dry-run-requests.jsonl`.
#[derive(Debug)]
pub struct DryRunJournal {
    dir: PathBuf,
    file: Option<std::fs::File>,
}

impl DryRunJournal {
    pub fn new(dir: PathBuf) -> DryRunJournal {
        DryRunJournal { dir, file: None }
    }

    pub fn write(&mut self, path: &str, ts_ms: u64, payload: &[u8], sig: &[u8]) {
        if self.file.is_none() {
            let _ = std::fs::create_dir_all(&self.dir);
            self.file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("dry-run-requests.jsonl"))
                .ok();
        }
        if let Some(f) = &mut self.file {
            let line = serde_json::json!({
                "ts_ms": ts_ms,
                "path": path,
                "payload": String::from_utf8_lossy(payload),
                "signature": String::from_utf8_lossy(sig),
            });
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum SendError {
    /// No (complete) answer in time: the request may or may not have been executed.
    Timeout,
    /// The connection failed before the request was written: it was not sent.
    NotSent(String),
    /// The connection failed after writing: as ambiguous as a time-out.
    Broken(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Timeout => f.write_str("no answer in time"),
            SendError::NotSent(e) => write!(f, "not sent: {e}"),
            SendError::Broken(e) => write!(f, "connection broken after sending: {e}"),
        }
    }
}

/// One HTTP answer, borrowed from the connection's buffer.
#[derive(Debug, Clone, Copy)]
pub struct HttpAnswer<'a> {
    pub status: u16,
    pub head: &'a str,
    pub body: &'a [u8],
}

impl HttpAnswer<'_> {
    /// A response header's value (the first of that name, trimmed).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// The persistent (TLS) keep-alive REST connection of a live gateway's I/O thread: connects on
/// demand with the project's [`Backoff`], writes a prepared request and reads its answer
/// within the time-out; a time-out or a broken connection drops the connection so that a late
/// answer is never read as the next request's.
pub struct HttpConn {
    pub url: Url,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<Stream>,
    buf: Vec<u8>,
    backoff: Backoff,
    rng: XorShift64,
    failures: u32,
    next_try_ns: u64,
    timeout: Duration,
    stats: Arc<LiveStats>,
    /// When the connection last carried a request (monotonic).
    pub last_used_ns: u64,
    /// Per-venue request figures and the adaptive order rate ([`HttpConn::observe_as`]).
    health: Option<crate::exec::venue_health::VenueHealth>,
    /// The HTTP status of the last answer (0: none).
    last_status: u16,
}

impl HttpConn {
    /// A connection to `url` (`https://` with the webpki roots plus `ca_file`, or `http://`);
    /// `seed` seeds the reconnect jitter.
    pub fn new(
        url_s: &str,
        ca_file: Option<&std::path::Path>,
        timeout: Duration,
        stats: Arc<LiveStats>,
        seed: u64,
    ) -> Result<HttpConn, String> {
        use crate::net::Scheme;
        let url = Url::parse(url_s).map_err(|e| format!("live.rest_url: {e}"))?;
        let tls_cfg = match url.scheme {
            Scheme::Https => {
                Some(tls::client_config(ca_file).map_err(|e| format!("market.ca_file: {e}"))?)
            }
            Scheme::Http => None,
            _ => {
                return Err(format!(
                    "live.rest_url: expected https:// (or http://), got {url_s}"
                ))
            }
        };
        Ok(HttpConn {
            url,
            tls: tls_cfg,
            conn: None,
            buf: Vec::with_capacity(64 * 1024),
            backoff: Backoff {
                initial: Duration::from_millis(50),
                max: Duration::from_secs(5),
                ..Backoff::default()
            },
            rng: XorShift64::new(seed),
            failures: 0,
            next_try_ns: 0,
            timeout,
            stats,
            last_used_ns: 0,
            health: None,
            last_status: 0,
        })
    }

    /// Exports this connection's requests as `venue`'s (`obi_scalp_venue_*`) and adapts an order
    /// rate of at most `order_rate_per_sec` to its answers ([`Self::allowed_order_rate`]).
    pub fn observe_as(mut self, venue: &str, order_rate_per_sec: u32) -> HttpConn {
        self.health = Some(crate::exec::venue_health::VenueHealth::new(
            venue,
            order_rate_per_sec,
        ));
        self
    }

    /// The order rate the venue's answers allow now (`None`: not observed).
    pub fn allowed_order_rate(&self) -> Option<u32> {
        self.health.as_ref().map(|h| h.allowed_order_rate())
    }

    /// The last answer carried the venue's rate-limit code (counted once: an HTTP 429 already
    /// was).
    pub fn rate_limited_answer(&mut self) {
        if self.last_status == 429 {
            return;
        }
        if let Some(h) = &mut self.health {
            h.rate_limited_answer(mono_ns());
        }
        self.publish_rate();
    }

    /// Copies the allowed order rate into the stats (the end-of-run line).
    fn publish_rate(&self) {
        if let Some(h) = &self.health {
            let r = u64::from(h.allowed_order_rate());
            self.stats.order_rate_allowed.store(r, Ordering::Relaxed);
        }
    }

    fn record(&mut self, started_ns: u64, o: crate::exec::venue_health::Outcome) {
        if let Some(h) = &mut self.health {
            let now = mono_ns();
            h.record(now, now.saturating_sub(started_ns), o);
        }
        self.publish_rate();
    }

    /// Drops the connection (the next request reconnects).
    pub fn close(&mut self) {
        self.conn = None;
    }

    pub fn connect(&mut self) -> Result<(), String> {
        let now = mono_ns();
        if now < self.next_try_ns {
            std::thread::sleep(Duration::from_nanos(self.next_try_ns - now));
        }
        match self.try_connect() {
            Ok(s) => {
                self.conn = Some(s);
                self.failures = 0;
                LiveStats::inc(&self.stats.connects);
                Ok(())
            }
            Err(e) => {
                let d = self.backoff.delay_ns(self.failures, &mut self.rng);
                self.failures = self.failures.saturating_add(1);
                self.next_try_ns = mono_ns() + d;
                Err(e)
            }
        }
    }

    fn try_connect(&self) -> Result<Stream, String> {
        let auth = self.url.authority();
        let addr = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()
            .map_err(|e| format!("{auth}: {e}"))?
            .next()
            .ok_or_else(|| format!("{auth}: no address"))?;
        let tcp = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|e| format!("{auth}: connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(self.timeout))
            .map_err(|e| e.to_string())?;
        match &self.tls {
            None => Ok(Stream::Plain(tcp)),
            Some(cfg) => {
                let name = tls::server_name(&self.url.host).map_err(|e| e.to_string())?;
                let conn = ClientConnection::new(cfg.clone(), name)
                    .map_err(|e| format!("{auth}: TLS: {e}"))?;
                let mut s = StreamOwned::new(conn, tcp);
                s.sock
                    .set_read_timeout(Some(self.timeout))
                    .map_err(|e| e.to_string())?;
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut s.sock)
                        .map_err(|e| match tls::rustls_error(&e) {
                            Some(t) => tls::describe(t, &auth),
                            None => format!("{auth}: TLS handshake: {e}"),
                        })?;
                }
                Ok(Stream::Tls(Box::new(s)))
            }
        }
    }

    /// Writes `req` and reads its answer within the time-out. A time-out or a broken
    /// connection drops the connection (the next request reconnects).
    pub fn send(&mut self, req: &[u8]) -> Result<HttpAnswer<'_>, SendError> {
        use crate::exec::venue_health::Outcome;
        self.last_status = 0;
        if self.conn.is_none() {
            if let Err(e) = self.connect() {
                self.record(mono_ns(), Outcome::NotSent);
                return Err(SendError::NotSent(e));
            }
        }
        LiveStats::inc(&self.stats.requests);
        self.last_used_ns = mono_ns();
        let started = self.last_used_ns;
        let deadline = Instant::now() + self.timeout;
        let (he, want) = match self.exchange(req, deadline) {
            Ok(r) => r,
            Err(e) => {
                self.conn = None;
                self.record(
                    started,
                    match e {
                        SendError::Timeout => Outcome::Timeout,
                        SendError::Broken(_) => Outcome::Broken,
                        SendError::NotSent(_) => Outcome::NotSent,
                    },
                );
                return Err(e);
            }
        };
        let status = std::str::from_utf8(&self.buf[..he])
            .unwrap_or("")
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        self.last_status = status;
        self.record(started, Outcome::Answered(status));
        let head = std::str::from_utf8(&self.buf[..he]).unwrap_or("");
        let a = HttpAnswer {
            status,
            head,
            body: &self.buf[he..want],
        };
        if a.header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            self.conn = None;
        }
        Ok(a)
    }

    /// Writes `req` and reads one answer into `buf`: the end of its head and of its body.
    fn exchange(&mut self, req: &[u8], deadline: Instant) -> Result<(usize, usize), SendError> {
        let conn = self.conn.as_mut().expect("connected");
        if let Err(e) = conn.write_all(req).and_then(|()| conn.flush()) {
            // A keep-alive connection the server closed while idle: nothing went out.
            return Err(SendError::NotSent(format!("write: {e}")));
        }
        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let mut head_end = None;
        let mut want = usize::MAX;
        loop {
            if head_end.is_none() {
                if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    head_end = Some(p + 4);
                    let len = content_length(&self.buf[..p]).unwrap_or(0);
                    want = p + 4 + len;
                }
            }
            if self.buf.len() >= want {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SendError::Timeout);
            }
            let _ = conn.tcp().set_read_timeout(Some(left));
            match conn.read(&mut chunk) {
                Ok(0) => return Err(SendError::Broken("closed by the venue".into())),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(SendError::Timeout)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SendError::Broken(format!("read: {e}"))),
            }
        }
        Ok((head_end.unwrap_or(0), want))
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        if n.trim().eq_ignore_ascii_case("content-length") {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}
