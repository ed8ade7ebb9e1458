//! The simulator's server: serves one [`SimFeed`] over loopback WebSocket and HTTP, plain or TLS,
//! with faults injected between the feed and the sockets.
//!
//! Threads (this is cold test tooling, so threads and locks are fine):
//! - the **listener** accepts TCP connections (or closes them during a `refuse` fault) and starts
//!   one thread per connection;
//! - the **market** thread calls [`SimFeed::advance`] every tick with the wall time since start
//!   times `speed`, applies the stream faults, and fans each frame out to the WebSocket
//!   connections on the frame's route through bounded queues. A client whose queue is full is
//!   dropped and counted (`slow_clients_dropped`);
//! - a **connection** thread reads the HTTP request head. A WebSocket upgrade on one of the feed's
//!   routes is answered by hand (101 + `Sec-WebSocket-Accept`), then the thread relays queued
//!   frames and answers the client's text frames with [`SimFeed::on_client_frame`]; tungstenite
//!   answers pings. Anything else is a REST GET answered with [`SimFeed::rest`] as HTTP/1.1 with
//!   `Content-Length` and `Connection: close`.
//!
//! Route matching: a request path (query removed) matches a route when it is equal to it, or,
//! for a route other than `/`, extends it past a `/` (`/ws` serves `/ws/btcusdt@depth`).
//! A connection receives its route's stream frames once it has sent a text frame (a subscribe),
//! or at once when the request named its streams in the URL (a query string, or a path longer
//! than the route). The feed lock is held while a client frame is answered and while frames are
//! fanned out, so a subscribe's answer (e.g. a snapshot) sits exactly between the frames before
//! and after it.

use crate::clock::wall_ms;
use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{self as channel, Receiver, Sender, TrySendError};
use mio::{Events, Interest, Poll, Token, Waker};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

use super::fault::{FaultKind, FaultSchedule, FaultSpec};
use super::{RestReply, Route, SimFeed};

/// How long a connection may take to finish TLS and send its request head.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `stop` waits for connection threads before giving up on them.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// A connection thread wakes at least this often even without events.
const IDLE_WAKE: Duration = Duration::from_millis(50);
/// Frames written per batch before flushing.
const WRITE_BATCH: usize = 256;

/// Where the TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSetup {
    /// PEM files: the certificate chain (leaf first) and its private key.
    Files { cert: PathBuf, key: PathBuf },
    /// Generate a CA and a leaf for `localhost` and `127.0.0.1` signed by it, and write
    /// `ca.pem`, `cert.pem` and `key.pem` into this directory (created if missing). Clients
    /// trust `ca.pem`.
    SelfSigned { dir: PathBuf },
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; port 0 picks a free port (see [`SimServer::local_addr`]).
    pub listen: SocketAddr,
    pub tls: Option<TlsSetup>,
    /// Feed time runs this many times faster than wall time (must be finite and above 0).
    pub speed: f64,
    pub faults: Vec<FaultSpec>,
    /// How often the market thread advances the feed.
    pub tick: Duration,
    /// Frames queued per connection before it counts as a slow client and is dropped.
    pub queue_capacity: usize,
    /// The venue's private API (`--account`): order entry, private stream, `/sim/state`.
    pub private: Option<super::private::PrivateSide>,
}

impl SimConfig {
    pub fn new(listen: SocketAddr) -> SimConfig {
        SimConfig {
            listen,
            tls: None,
            speed: 1.0,
            faults: Vec::new(),
            tick: Duration::from_millis(1),
            queue_capacity: 4096,
            private: None,
        }
    }
}

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// TCP connections accepted and served (refused ones not included).
    pub connections: u64,
    /// TCP connections closed on accept by a `refuse` fault.
    pub connections_refused: u64,
    /// WebSocket sessions opened, and how many are open now.
    pub ws_sessions: u64,
    pub ws_open: u64,
    pub rest_requests: u64,
    /// Connections that failed TLS, sent a bad request head, or timed out before one.
    pub handshake_failures: u64,
    /// Stream frames the feed produced.
    pub frames_produced: u64,
    /// WebSocket text frames written to clients (stream frames, answers, injected frames).
    pub frames_sent: u64,
    /// Text frames received from clients.
    pub client_frames: u64,
    pub slow_clients_dropped: u64,
    /// Faults that took effect: each frame skipped, duplicated, reordered, corrupted or crossed,
    /// each drop (of all connections), each REST answer changed, each stall/slow/refuse/REST
    /// window opened.
    pub faults_injected: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    connections_refused: AtomicU64,
    ws_sessions: AtomicU64,
    ws_open: AtomicU64,
    rest_requests: AtomicU64,
    handshake_failures: AtomicU64,
    frames_produced: AtomicU64,
    frames_sent: AtomicU64,
    client_frames: AtomicU64,
    slow_clients_dropped: AtomicU64,
    faults_injected: AtomicU64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Fault windows that connection and listener threads consult. Times are ns since start.
#[derive(Default)]
struct Effects {
    /// A stall silences the frames fanned out from `stall_from` until `stall_until`; frames
    /// queued before it fired were on their way and are written.
    stall_from: AtomicU64,
    stall_until: AtomicU64,
    slow_delay: AtomicU64,
    slow_until: AtomicU64,
    refuse_until: AtomicU64,
    /// New connections still to close on accept (`refuse:N`).
    refuse_next: AtomicU64,
    rest: Mutex<RestFaults>,
}

/// REST faults by kind (0 = 429, 1 = 500, 2 = stale): pending one-shots and open windows.
#[derive(Default)]
struct RestFaults {
    once: [u32; 3],
    until: [u64; 3],
}

/// A frame waiting in a connection's queue, stamped with when it was queued (ns since start).
struct Out {
    text: Utf8Bytes,
    at_ns: u64,
}

/// What the market thread knows about a WebSocket connection.
struct ConnShared {
    id: u64,
    route: Route,
    tx: Sender<Out>,
    waker: Waker,
    subscribed: AtomicBool,
    kill: AtomicBool,
}

struct Shared {
    feed: Mutex<Box<dyn SimFeed>>,
    routes: Vec<Route>,
    start: Instant,
    speed: f64,
    queue_capacity: usize,
    tls: Option<Arc<ServerConfig>>,
    stopping: AtomicBool,
    exhausted: AtomicBool,
    counters: Counters,
    effects: Effects,
    conns: Mutex<Vec<Arc<ConnShared>>>,
    next_conn_id: AtomicU64,
    live_threads: AtomicUsize,
    conn_threads: Mutex<Vec<JoinHandle<()>>>,
    /// The first successful REST answer per path, for `reststale`.
    rest_first: Mutex<HashMap<String, RestReply>>,
    private: Option<super::private::PrivateSide>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Locks, ignoring poisoning: a panicked simulator thread must not take the others down.
fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running simulator. Stops (bounded) on [`SimServer::stop`] or drop.
pub struct SimServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    listener_waker: Arc<Waker>,
    threads: Vec<JoinHandle<()>>,
    stopped: Option<bool>,
}

/// A cheap, cloneable view of a running server for tests and the CLI.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

impl SimServer {
    /// Binds, sets up TLS (writing the self-signed files if asked) and starts the threads.
    pub fn start(feed: Box<dyn SimFeed>, config: SimConfig) -> Result<SimServer, String> {
        let listener = TcpListener::bind(config.listen)
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        SimServer::start_on(feed, config, listener)
    }

    /// [`SimServer::start`] on a listener the caller bound (so that it can tell a bind failure
    /// from the rest); `config.listen` is not used.
    pub fn start_on(
        feed: Box<dyn SimFeed>,
        config: SimConfig,
        listener: TcpListener,
    ) -> Result<SimServer, String> {
        if !(config.speed.is_finite() && config.speed > 0.0) {
            return Err(format!(
                "speed {} must be a finite number above 0",
                config.speed
            ));
        }
        if config.queue_capacity == 0 {
            return Err("queue capacity must be at least 1".into());
        }
        let tls = match &config.tls {
            None => None,
            Some(setup) => Some(tls_config(setup)?),
        };
        let addr = listener
            .local_addr()
            .map_err(|e| format!("listener address: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("listener: {e}"))?;
        let mut listener = mio::net::TcpListener::from_std(listener);
        let poll = Poll::new().map_err(|e| format!("listener poll: {e}"))?;
        poll.registry()
            .register(&mut listener, LISTEN, Interest::READABLE)
            .map_err(|e| format!("listener poll: {e}"))?;
        let listener_waker = Arc::new(
            Waker::new(poll.registry(), WAKE).map_err(|e| format!("listener waker: {e}"))?,
        );

        let mut routes = feed.routes().to_vec();
        if let Some(p) = &config.private {
            routes.extend_from_slice(p.lock().ws_routes());
        }
        let shared = Arc::new(Shared {
            feed: Mutex::new(feed),
            routes,
            start: Instant::now(),
            speed: config.speed,
            queue_capacity: config.queue_capacity,
            tls,
            stopping: AtomicBool::new(false),
            exhausted: AtomicBool::new(false),
            counters: Counters::default(),
            effects: Effects::default(),
            conns: Mutex::new(Vec::new()),
            next_conn_id: AtomicU64::new(1),
            live_threads: AtomicUsize::new(0),
            conn_threads: Mutex::new(Vec::new()),
            rest_first: Mutex::new(HashMap::new()),
            private: config.private.clone(),
        });
        // Faults due at start (no trigger) are in force before the first connection.
        let mut market = Market::new(&config.faults);
        market.step(&shared, false);
        let mut threads = Vec::new();
        let sh = shared.clone();
        let tick = config.tick;
        threads.push(
            thread::Builder::new()
                .name("sim-market".into())
                .spawn(move || market_loop(&sh, market, tick))
                .map_err(|e| format!("cannot start the market thread: {e}"))?,
        );
        let sh = shared.clone();
        let listen_thread = thread::Builder::new()
            .name("sim-listen".into())
            .spawn(move || listen_loop(&sh, listener, poll));
        match listen_thread {
            Ok(h) => threads.push(h),
            Err(e) => {
                shared.stopping.store(true, Ordering::SeqCst);
                for t in threads {
                    let _ = t.join();
                }
                return Err(format!("cannot start the listener thread: {e}"));
            }
        }
        Ok(SimServer {
            shared,
            addr,
            listener_waker,
            threads,
            stopped: None,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_tls(&self) -> bool {
        self.shared.tls.is_some()
    }

    pub fn handle(&self) -> SimHandle {
        SimHandle {
            shared: self.shared.clone(),
        }
    }

    /// Stops accepting, closes the connections and joins the threads, waiting at most about
    /// three seconds for connection threads. Returns true when every thread was joined.
    /// Idempotent; drop calls it.
    pub fn stop(&mut self) -> bool {
        if let Some(clean) = self.stopped {
            return clean;
        }
        let sh = &self.shared;
        sh.stopping.store(true, Ordering::SeqCst);
        let _ = self.listener_waker.wake();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // The listener is gone, so no new connection thread can start from here on.
        let deadline = Instant::now() + STOP_TIMEOUT;
        while sh.live_threads.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            for c in lock(&sh.conns).iter() {
                let _ = c.waker.wake();
            }
            thread::sleep(Duration::from_millis(5));
        }
        let clean = sh.live_threads.load(Ordering::SeqCst) == 0;
        for h in lock(&sh.conn_threads).drain(..) {
            if h.is_finished() {
                let _ = h.join();
            }
        }
        if !clean {
            tracing::warn!(
                left = sh.live_threads.load(Ordering::SeqCst),
                "sim: connection threads still running after the stop timeout; detached"
            );
        }
        self.stopped = Some(clean);
        clean
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl SimHandle {
    pub fn stats(&self) -> SimStats {
        let c = &self.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimStats {
            connections: g(&c.connections),
            connections_refused: g(&c.connections_refused),
            ws_sessions: g(&c.ws_sessions),
            ws_open: g(&c.ws_open),
            rest_requests: g(&c.rest_requests),
            handshake_failures: g(&c.handshake_failures),
            frames_produced: g(&c.frames_produced),
            frames_sent: g(&c.frames_sent),
            client_frames: g(&c.client_frames),
            slow_clients_dropped: g(&c.slow_clients_dropped),
            faults_injected: g(&c.faults_injected),
        }
    }

    /// The feed's own book for `symbol` (bids best-first, asks best-first), taken under the
    /// feed lock.
    #[allow(clippy::type_complexity)]
    pub fn feed_book(
        &self,
        symbol: &str,
    ) -> Option<(Vec<(String, String)>, Vec<(String, String)>)> {
        lock(&self.shared.feed).book(symbol)
    }

    /// True once a finite feed (a recording) has no more frames.
    pub fn feed_exhausted(&self) -> bool {
        self.shared.exhausted.load(Ordering::SeqCst)
    }

    /// Frames waiting in connection queues (not yet taken by their connection thread).
    pub fn queued_frames(&self) -> usize {
        lock(&self.shared.conns).iter().map(|c| c.tx.len()).sum()
    }

    /// Time since the server started (the clock fault triggers use).
    pub fn elapsed(&self) -> Duration {
        self.shared.start.elapsed()
    }
}

// ---------------------------------------------------------------------------------------------
// TLS

/// The files written by [`write_self_signed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSignedPaths {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Generates a CA and a leaf certificate for `localhost` and `127.0.0.1` signed by it, and writes
/// `ca.pem`, `cert.pem` (the leaf) and `key.pem` (the leaf's key, mode 0600) into `dir`.
pub fn write_self_signed(dir: &Path) -> Result<SelfSignedPaths, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let err = |what: &str, e: rcgen::Error| format!("generating the {what}: {e}");
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", e))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "obi-scalp simulator CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| err("CA", e))?;

    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(|e| err("certificate", e))?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(|e| err("key", e))?;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .map_err(|e| err("certificate", e))?;

    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let paths = SelfSignedPaths {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    write_atomic(&paths.ca, ca_cert.pem().as_bytes(), 0o644)?;
    write_atomic(&paths.cert, leaf_cert.pem().as_bytes(), 0o644)?;
    write_atomic(&paths.key, leaf_key.serialize_pem().as_bytes(), 0o600)?;
    Ok(paths)
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("pem.tmp");
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    res.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn tls_config(setup: &TlsSetup) -> Result<Arc<ServerConfig>, String> {
    let (cert, key) = match setup {
        TlsSetup::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSetup::SelfSigned { dir } => {
            let p = write_self_signed(dir)?;
            (p.cert, p.key)
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM certificate in {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no CERTIFICATE block found", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("TLS certificate {} / key: {e}", cert.display()))?;
    Ok(Arc::new(config))
}

// ---------------------------------------------------------------------------------------------
// Market thread: advance the feed, apply stream faults, fan out

const LISTEN: Token = Token(0);
const WAKE: Token = Token(1);
const SOCK: Token = Token(2);

/// Stream-fault state kept by the market thread.
#[derive(Default)]
struct StreamFaults {
    produced: u64,
    drop_pending: bool,
    skip: u64,
    dup: u64,
    reorder: u64,
    malformed: u64,
    held: Option<(Route, String)>,
}

/// One tick's view for fanning frames out.
struct FanOut<'a> {
    sh: &'a Shared,
    conns: &'a [Arc<ConnShared>],
    touched: Vec<bool>,
    now: u64,
}

impl FanOut<'_> {
    fn stalled(&self) -> bool {
        self.now < self.sh.effects.stall_until.load(Ordering::SeqCst)
    }

    fn emit(&mut self, route: Route, text: Utf8Bytes) {
        if self.stalled() {
            return;
        }
        for (i, c) in self.conns.iter().enumerate() {
            if c.route != route
                || !c.subscribed.load(Ordering::SeqCst)
                || c.kill.load(Ordering::SeqCst)
            {
                continue;
            }
            match c.tx.try_send(Out {
                text: text.clone(),
                at_ns: self.now,
            }) {
                Ok(()) => self.touched[i] = true,
                Err(TrySendError::Full(_)) => {
                    if !c.kill.swap(true, Ordering::SeqCst) {
                        inc(&self.sh.counters.slow_clients_dropped);
                        tracing::warn!(conn = c.id, "sim: slow client dropped (queue full)");
                    }
                    self.touched[i] = true;
                }
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    fn fault(&self) {
        inc(&self.sh.counters.faults_injected);
    }
}

impl StreamFaults {
    /// One stream frame from the feed through the one-shot stream faults.
    fn frame(&mut self, route: Route, text: String, fo: &mut FanOut<'_>) {
        if fo.stalled() {
            return; // lost: the server is silent during a stall
        }
        if self.skip > 0 {
            self.skip -= 1;
            fo.fault();
            return;
        }
        if self.malformed > 0 {
            self.malformed -= 1;
            fo.fault();
            fo.emit(route, truncated(&text).into());
        }
        if let Some((held_route, held)) = self.held.take() {
            if held_route == route {
                fo.emit(route, text.into());
                fo.emit(held_route, held.into());
                return;
            }
            self.held = Some((held_route, held));
        } else if self.reorder > 0 {
            self.reorder -= 1;
            fo.fault();
            self.held = Some((route, text));
            return;
        }
        let text: Utf8Bytes = text.into();
        if self.dup > 0 {
            self.dup -= 1;
            fo.fault();
            fo.emit(route, text.clone());
        }
        fo.emit(route, text);
    }

    fn apply(&mut self, kind: FaultKind, feed: &mut dyn SimFeed, fo: &mut FanOut<'_>) {
        let fx = &fo.sh.effects;
        let now = fo.now;
        let window =
            |d: Duration| now.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        tracing::info!(fault = kind.name(), "sim: fault fires");
        match kind {
            FaultKind::Drop => self.drop_pending = true,
            FaultKind::Stall(d) => {
                // Frames of this tick fanned out so far carry `now`: they go before the silence.
                if now >= fx.stall_until.load(Ordering::SeqCst) {
                    fx.stall_from.store(now + 1, Ordering::SeqCst);
                }
                fx.stall_until.fetch_max(window(d), Ordering::SeqCst);
                fo.fault();
            }
            FaultKind::Skip(n) => self.skip += u64::from(n),
            FaultKind::Dup(n) => self.dup += u64::from(n),
            FaultKind::Reorder => self.reorder += 1,
            FaultKind::Malformed(n) => self.malformed += u64::from(n),
            FaultKind::Crossed(n) => {
                for _ in 0..n {
                    match feed.crossed_frame() {
                        Some((route, text)) => {
                            fo.fault();
                            fo.emit(route, text.into());
                        }
                        None => {
                            tracing::warn!(
                                "sim: crossed fault, but this feed has no crossed frame"
                            );
                            break;
                        }
                    }
                }
            }
            FaultKind::Slow { delay, period } => {
                let delay_ns = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
                fx.slow_delay.store(delay_ns, Ordering::SeqCst);
                fx.slow_until
                    .store(period.map_or(u64::MAX, window), Ordering::SeqCst);
                fo.fault();
            }
            FaultKind::Refuse(d) => {
                fx.refuse_until.fetch_max(window(d), Ordering::SeqCst);
                fo.fault();
            }
            FaultKind::RefuseNext(n) => {
                fx.refuse_next.fetch_add(u64::from(n), Ordering::SeqCst);
                fo.fault();
            }
            FaultKind::Private(pf) => match &fo.sh.private {
                Some(p) => {
                    p.lock().fault(pf);
                    fo.fault();
                }
                None => tracing::warn!("sim: a private-API fault, but no --account is served"),
            },
            FaultKind::Rest429(d) | FaultKind::Rest500(d) | FaultKind::RestStale(d) => {
                let i = match kind {
                    FaultKind::Rest429(_) => 0,
                    FaultKind::Rest500(_) => 1,
                    _ => 2,
                };
                let mut rf = lock(&fx.rest);
                match d {
                    None => rf.once[i] += 1,
                    Some(d) => {
                        rf.until[i] = rf.until[i].max(window(d));
                        fo.fault();
                    }
                }
            }
        }
    }

    /// Drops every WebSocket connection if a drop is pending and there is one to drop.
    fn maybe_drop(&mut self, fo: &mut FanOut<'_>) {
        if !self.drop_pending || fo.conns.is_empty() {
            return;
        }
        self.drop_pending = false;
        fo.fault();
        for (i, c) in fo.conns.iter().enumerate() {
            c.kill.store(true, Ordering::SeqCst);
            fo.touched[i] = true;
        }
    }
}

/// The first half of a frame (cut on a character boundary): never valid JSON.
fn truncated(text: &str) -> String {
    let mut cut = text.len() / 2;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if cut == 0 {
        return "{\"".to_string();
    }
    text[..cut].to_string()
}

/// The market thread's state: the fault schedule and the stream faults in progress.
struct Market {
    schedule: FaultSchedule,
    fired: Vec<FaultKind>,
    frames: Vec<(Route, String)>,
    st: StreamFaults,
}

impl Market {
    fn new(faults: &[FaultSpec]) -> Market {
        Market {
            schedule: FaultSchedule::new(faults),
            fired: Vec::new(),
            frames: Vec::new(),
            st: StreamFaults::default(),
        }
    }

    /// Fires the faults due now; with `advance`, also moves the feed and fans its frames out.
    fn step(&mut self, sh: &Shared, advance: bool) {
        let now = sh.now_ns();
        let mut feed = lock(&sh.feed);
        let conns: Vec<Arc<ConnShared>> = lock(&sh.conns).clone();
        let mut fo = FanOut {
            sh,
            conns: &conns,
            touched: vec![false; conns.len()],
            now,
        };
        let Market {
            schedule,
            fired,
            frames,
            st,
        } = self;
        let mut check = |st: &mut StreamFaults, feed: &mut dyn SimFeed, fo: &mut FanOut<'_>| {
            schedule.due(Duration::from_nanos(now), st.produced, fired);
            for kind in fired.drain(..) {
                st.apply(kind, feed, fo);
            }
            st.maybe_drop(fo);
        };
        check(st, &mut **feed, &mut fo);
        if advance && !sh.exhausted.load(Ordering::SeqCst) {
            let t = (now as f64 * sh.speed) as u64;
            let more = feed.advance(t, frames);
            for (route, text) in frames.drain(..) {
                check(st, &mut **feed, &mut fo);
                st.produced += 1;
                inc(&sh.counters.frames_produced);
                st.frame(route, text, &mut fo);
            }
            if !more {
                if let Some((route, text)) = st.held.take() {
                    fo.emit(route, text.into());
                }
                sh.exhausted.store(true, Ordering::SeqCst);
                tracing::info!("sim: feed exhausted");
            }
        }
        if let Some(p) = &sh.private {
            // The private side matches against the market as it is now and streams what
            // changed to its authenticated connections.
            let mut p = p.lock();
            let now_ms = wall_ms();
            if advance {
                p.on_market(&**feed, now_ms);
            }
            let mut frames = Vec::new();
            p.drain_stream(now_ms, &mut frames);
            for (id, text) in frames {
                if let Some(i) = conns.iter().position(|c| c.id == id) {
                    if conns[i]
                        .tx
                        .try_send(Out {
                            text: text.into(),
                            at_ns: now,
                        })
                        .is_ok()
                    {
                        fo.touched[i] = true;
                    }
                }
            }
        }
        drop(feed);
        for (c, touched) in conns.iter().zip(&fo.touched) {
            if *touched {
                let _ = c.waker.wake();
            }
        }
    }
}

fn market_loop(sh: &Shared, mut market: Market, tick: Duration) {
    while !sh.stopping.load(Ordering::SeqCst) {
        market.step(sh, true);
        thread::sleep(tick);
    }
}

// ---------------------------------------------------------------------------------------------
// Listener

fn listen_loop(sh: &Arc<Shared>, listener: mio::net::TcpListener, mut poll: Poll) {
    let mut events = Events::with_capacity(16);
    while !sh.stopping.load(Ordering::SeqCst) {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(200))) {
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::warn!("sim: listener poll failed: {e}");
                thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        loop {
            if sh.stopping.load(Ordering::SeqCst) {
                return;
            }
            let stream = match listener.accept() {
                Ok((s, _)) => TcpStream::from(s),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("sim: accept failed: {e}");
                    break;
                }
            };
            let counted = sh
                .effects
                .refuse_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if counted || sh.now_ns() < sh.effects.refuse_until.load(Ordering::SeqCst) {
                let _ = stream.shutdown(Shutdown::Both);
                inc(&sh.counters.connections_refused);
                continue;
            }
            inc(&sh.counters.connections);
            sh.live_threads.fetch_add(1, Ordering::SeqCst);
            let sh2 = sh.clone();
            let spawned = thread::Builder::new()
                .name("sim-conn".into())
                .spawn(move || {
                    let _live = LiveThread(&sh2);
                    if let Err(e) = serve_connection(&sh2, stream) {
                        tracing::debug!("sim: connection ended: {e}");
                    }
                });
            match spawned {
                Ok(h) => {
                    let mut hs = lock(&sh.conn_threads);
                    hs.retain(|h| !h.is_finished());
                    hs.push(h);
                }
                Err(e) => {
                    sh.live_threads.fetch_sub(1, Ordering::SeqCst);
                    tracing::warn!("sim: cannot start a connection thread: {e}");
                }
            }
        }
    }
}

struct LiveThread<'a>(&'a Shared);

impl Drop for LiveThread<'_> {
    fn drop(&mut self) {
        self.0.live_threads.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

/// A TCP socket: blocking `std` during the handshake, non-blocking `mio` for a WebSocket session.
pub(super) trait Sock: Read + Write {
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

impl Sock for TcpStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }
}

impl Sock for mio::net::TcpStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::TcpStream::shutdown(self, how)
    }
}

/// A plain or TLS server stream.
pub(super) enum Io<S: Sock> {
    Plain(S),
    Tls(Box<StreamOwned<ServerConnection, S>>),
}

impl<S: Sock> Io<S> {
    pub(super) fn sock(&self) -> &S {
        match self {
            Io::Plain(s) => s,
            Io::Tls(s) => &s.sock,
        }
    }

    fn sock_mut(&mut self) -> &mut S {
        match self {
            Io::Plain(s) => s,
            Io::Tls(s) => &mut s.sock,
        }
    }

    pub(super) fn shutdown(&self, how: Shutdown) {
        let _ = self.sock().shutdown(how);
    }
}

impl Io<TcpStream> {
    /// The same stream over a non-blocking `mio` socket, for a WebSocket session.
    fn into_nonblocking(self) -> io::Result<Io<mio::net::TcpStream>> {
        self.sock().set_nonblocking(true)?;
        Ok(match self {
            Io::Plain(s) => Io::Plain(mio::net::TcpStream::from_std(s)),
            Io::Tls(t) => {
                let StreamOwned { conn, sock } = *t;
                Io::Tls(Box::new(StreamOwned::new(
                    conn,
                    mio::net::TcpStream::from_std(sock),
                )))
            }
        })
    }
}

impl<S: Sock> Read for Io<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl<S: Sock> Write for Io<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// The parts of an HTTP request head the server uses.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

fn serve_connection(sh: &Shared, tcp: TcpStream) -> Result<(), String> {
    let setup = (|| {
        tcp.set_nonblocking(false)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_millis(100)))?;
        tcp.set_write_timeout(Some(HANDSHAKE_TIMEOUT))
    })();
    setup.map_err(|e| format!("socket setup: {e}"))?;
    let mut io = match &sh.tls {
        None => Io::Plain(tcp),
        Some(cfg) => {
            let conn = ServerConnection::new(cfg.clone()).map_err(|e| format!("TLS: {e}"))?;
            Io::Tls(Box::new(StreamOwned::new(conn, tcp)))
        }
    };
    let (head, rest) = match read_head(sh, &mut io) {
        Ok(x) => x,
        Err(e) => {
            inc(&sh.counters.handshake_failures);
            return Err(e);
        }
    };
    let req = match parse_head(&head) {
        Ok(r) => r,
        Err(e) => {
            inc(&sh.counters.handshake_failures);
            let _ = respond(&mut io, 400, &format!("{{\"error\":\"{e}\"}}"));
            return Err(e);
        }
    };
    let upgrade = req.has_token("upgrade", "websocket");
    if let (false, Some(p)) = (upgrade, &sh.private) {
        let path = req.target.split('?').next().unwrap_or("");
        if p.lock().handles(path) {
            inc(&sh.counters.rest_requests);
            return super::private::http::serve(p, &sh.stopping, io, req, rest);
        }
    }
    if !upgrade {
        return serve_rest(sh, io, &req);
    }
    let key = req.header("sec-websocket-key").map(str::to_string);
    let (route, url_subscribed) = match route_for(&sh.routes, &req.target) {
        Some(r) if req.method == "GET" && key.is_some() => r,
        Some(_) => {
            let _ = respond(&mut io, 400, "{\"error\":\"bad WebSocket upgrade\"}");
            return Err("bad WebSocket upgrade request".into());
        }
        None => {
            let _ = respond(&mut io, 404, "{\"error\":\"no WebSocket route here\"}");
            return Err(format!("WebSocket upgrade on unknown route {}", req.target));
        }
    };
    if let Some(p) = &sh.private {
        let mut p = p.lock();
        if p.ws_routes().contains(&route) {
            if let Err((status, body)) = p.ws_accept(&req.target, wall_ms()) {
                drop(p);
                let _ = respond(&mut io, status, &body);
                return Err(format!("private WebSocket upgrade refused: {}", req.target));
            }
        }
    }
    let accept = tungstenite::handshake::derive_accept_key(key.unwrap_or_default().as_bytes());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    io.write_all(answer.as_bytes())
        .and_then(|()| io.flush())
        .map_err(|e| format!("writing the 101 answer: {e}"))?;
    let io = io
        .into_nonblocking()
        .map_err(|e| format!("socket setup: {e}"))?;
    ws_session(sh, io, rest, route, url_subscribed)
}

/// Reads until the blank line ending the request head; returns the head and any bytes after it.
fn read_head(sh: &Shared, io: &mut Io<TcpStream>) -> Result<(String, Vec<u8>), String> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            let head =
                String::from_utf8(buf).map_err(|_| "request head is not UTF-8".to_string())?;
            return Ok((head, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("request head longer than {MAX_HEAD} bytes"));
        }
        if sh.stopping.load(Ordering::SeqCst) {
            return Err("server stopping".into());
        }
        if Instant::now() > deadline {
            return Err("no complete request head within the handshake timeout".into());
        }
        match io.read(&mut chunk) {
            Ok(0) => return Err("peer closed before sending a request".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(format!("reading the request: {e}")),
        }
    }
}

pub(super) fn parse_head(head: &str) -> Result<Request, String> {
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "bad request line '{first}' (expected METHOD TARGET HTTP/1.x)"
        ));
    };
    if !version.starts_with("HTTP/1.") || target.is_empty() {
        return Err(format!(
            "bad request line '{first}' (expected METHOD TARGET HTTP/1.x)"
        ));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line '{line}'"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
    })
}

/// The feed route a request target upgrades to, and whether the URL itself names the streams.
fn route_for(routes: &[Route], target: &str) -> Option<(Route, bool)> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, !q.is_empty()),
        None => (target, false),
    };
    if let Some(r) = routes.iter().find(|r| **r == path) {
        return Some((r, query));
    }
    routes
        .iter()
        .filter(|r| {
            **r != "/"
                && path.starts_with(**r)
                && (r.ends_with('/') || path.as_bytes().get(r.len()) == Some(&b'/'))
        })
        .max_by_key(|r| r.len())
        .map(|r| (*r, true))
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(io: &mut Io<TcpStream>, status: u16, body: &str) -> io::Result<()> {
    let extra = if status == 429 {
        "Retry-After: 1\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         {extra}Connection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    io.write_all(head.as_bytes())?;
    io.write_all(body.as_bytes())?;
    io.flush()?;
    if let Io::Tls(s) = io {
        s.conn.send_close_notify();
        s.flush()?;
    }
    io.shutdown(Shutdown::Write);
    Ok(())
}

fn serve_rest(sh: &Shared, mut io: Io<TcpStream>, req: &Request) -> Result<(), String> {
    inc(&sh.counters.rest_requests);
    let reply = if req.method != "GET" {
        RestReply {
            status: 405,
            body: "{\"error\":\"only GET is served\"}".into(),
        }
    } else {
        rest_reply(sh, &req.target)
    };
    respond(&mut io, reply.status, &reply.body)
        .map_err(|e| format!("writing the REST answer: {e}"))?;
    // Let the client read the answer before the socket goes away.
    let _ = io.sock().set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 256];
    let mut tcp = io.sock();
    while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

fn rest_reply(sh: &Shared, target: &str) -> RestReply {
    let mut feed = lock(&sh.feed);
    let now = sh.now_ns();
    let mut rf = lock(&sh.effects.rest);
    // A window, or else a pending one-shot (which this request consumes).
    let take = |i: usize, rf: &mut RestFaults| {
        if rf.until[i] > now {
            true
        } else if rf.once[i] > 0 {
            rf.once[i] -= 1;
            inc(&sh.counters.faults_injected);
            true
        } else {
            false
        }
    };
    if take(0, &mut rf) {
        return RestReply {
            status: 429,
            body: "{\"code\":429,\"msg\":\"Too many requests (simulated)\"}".into(),
        };
    }
    if take(1, &mut rf) {
        return RestReply {
            status: 500,
            body: "{\"code\":500,\"msg\":\"Internal error (simulated)\"}".into(),
        };
    }
    let mut first = lock(&sh.rest_first);
    if rf.until[2] > now || rf.once[2] > 0 {
        if let Some(old) = first.get(target) {
            take(2, &mut rf);
            return old.clone();
        }
        // Nothing captured for this path yet: answer fresh; a one-shot stays pending.
    }
    let fresh = feed.rest(target);
    if fresh.status == 200 && !first.contains_key(target) {
        first.insert(target.to_string(), fresh.clone());
    }
    fresh
}

/// Removes a connection from the fan-out list when its thread ends.
struct Registered<'a> {
    sh: &'a Shared,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Some(p) = &self.sh.private {
            p.lock().ws_closed(self.id);
        }
        lock(&self.sh.conns).retain(|c| c.id != self.id);
        self.sh.counters.ws_open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn ws_session(
    sh: &Shared,
    mut io: Io<mio::net::TcpStream>,
    leftover: Vec<u8>,
    route: Route,
    url_subscribed: bool,
) -> Result<(), String> {
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    poll.registry()
        .register(io.sock_mut(), SOCK, Interest::READABLE | Interest::WRITABLE)
        .map_err(|e| format!("poll register: {e}"))?;
    let waker = Waker::new(poll.registry(), WAKE).map_err(|e| format!("waker: {e}"))?;
    let (tx, rx) = channel::bounded(sh.queue_capacity);
    let me = Arc::new(ConnShared {
        id: sh.next_conn_id.fetch_add(1, Ordering::Relaxed),
        route,
        tx,
        waker,
        subscribed: AtomicBool::new(url_subscribed),
        kill: AtomicBool::new(false),
    });
    inc(&sh.counters.ws_sessions);
    inc(&sh.counters.ws_open);
    lock(&sh.conns).push(me.clone());
    let _registered = Registered { sh, id: me.id };

    let mut ws = WebSocket::from_partially_read(io, leftover, Role::Server, Some(ws_config()));
    let mut pending: VecDeque<Out> = VecDeque::new();
    // The venue's greeting (bitbank's Engine.IO open packet) goes before any stream frame.
    let greeting = lock(&sh.feed).on_connect(route);
    let now = sh.now_ns();
    pending.extend(greeting.into_iter().map(|t| Out {
        text: t.into(),
        at_ns: now,
    }));
    let mut write_blocked = false;
    let mut events = Events::with_capacity(8);
    loop {
        if me.kill.load(Ordering::SeqCst) {
            // Abrupt: no close frame, no TLS close_notify.
            ws.get_ref().shutdown(Shutdown::Both);
            return Ok(());
        }
        if sh.stopping.load(Ordering::SeqCst) {
            let _ = ws.close(None);
            let _ = ws.flush();
            ws.get_ref().shutdown(Shutdown::Both);
            return Ok(());
        }
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => on_client_text(sh, &me, &rx, &mut pending, t.as_str()),
                Ok(_) => {} // pings are answered by tungstenite; a close is echoed by it
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(())
                }
                Err(e) => return Err(format!("WebSocket read: {e}")),
            }
        }

        let now = sh.now_ns();
        let fx = &sh.effects;
        let stall_until = fx.stall_until.load(Ordering::SeqCst);
        // During a stall only what was queued before it fired is written.
        let hold_from = if now < stall_until {
            fx.stall_from.load(Ordering::SeqCst)
        } else {
            u64::MAX
        };
        let delay = if now < fx.slow_until.load(Ordering::SeqCst) {
            fx.slow_delay.load(Ordering::SeqCst)
        } else {
            0
        };
        let mut wait = IDLE_WAKE;
        let held = |o: &Out| o.at_ns >= hold_from;
        if pending.front().is_some_and(held) {
            wait = wait.min(Duration::from_nanos(stall_until - now));
        } else {
            if write_blocked {
                match ws.flush() {
                    Ok(()) => write_blocked = false,
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("WebSocket write: {e}")),
                }
            }
            if !write_blocked {
                while pending.len() < sh.queue_capacity {
                    match rx.try_recv() {
                        Ok(o) => pending.push_back(o),
                        Err(_) => break,
                    }
                }
                let mut wrote = 0;
                while let Some(front) = pending.front() {
                    if wrote == WRITE_BATCH {
                        break;
                    }
                    if held(front) {
                        wait = wait.min(Duration::from_nanos(stall_until - now));
                        break;
                    }
                    let due = front.at_ns.saturating_add(delay);
                    if due > now {
                        wait = wait.min(Duration::from_nanos(due - now));
                        break;
                    }
                    let Some(o) = pending.pop_front() else { break };
                    wrote += 1;
                    inc(&sh.counters.frames_sent);
                    match ws.write(Message::Text(o.text)) {
                        Ok(()) => {}
                        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                            write_blocked = true; // the frame is buffered in tungstenite
                            break;
                        }
                        Err(e) => return Err(format!("WebSocket write: {e}")),
                    }
                }
                if wrote > 0 && !write_blocked {
                    match ws.flush() {
                        Ok(()) => {}
                        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                            write_blocked = true
                        }
                        Err(e) => return Err(format!("WebSocket write: {e}")),
                    }
                }
                let due_now = pending
                    .front()
                    .is_some_and(|f| !held(f) && f.at_ns.saturating_add(delay) <= now);
                if !write_blocked
                    && (due_now || (!rx.is_empty() && pending.len() < sh.queue_capacity))
                {
                    continue; // more to send now
                }
            }
        }
        let wait = wait.max(Duration::from_micros(200));
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("poll: {e}"));
            }
        }
    }
}

fn ws_config() -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    c.max_message_size = Some(1 << 20);
    c.max_frame_size = Some(1 << 20);
    c
}

/// A client text frame: the feed answers it under the feed lock, and the answers are queued after
/// every stream frame already fanned out to this connection.
fn on_client_text(
    sh: &Shared,
    me: &ConnShared,
    rx: &Receiver<Out>,
    pending: &mut VecDeque<Out>,
    text: &str,
) {
    inc(&sh.counters.client_frames);
    let mut feed = lock(&sh.feed);
    let private = sh
        .private
        .as_ref()
        .filter(|p| p.lock().ws_routes().contains(&me.route));
    let replies = match private {
        Some(p) => p.lock().on_ws_frame(me.id, text, wall_ms()),
        None => feed.on_client_frame(me.route, text),
    };
    me.subscribed.store(true, Ordering::SeqCst);
    while let Ok(o) = rx.try_recv() {
        pending.push_back(o);
    }
    let now = sh.now_ns();
    pending.extend(replies.into_iter().map(|r| Out {
        text: r.into(),
        at_ns: now,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_exactly_or_below_a_slash() {
        let routes: &[Route] = &["/", "/stream", "/ws", "/v5/public/linear"];
        assert_eq!(route_for(routes, "/"), Some(("/", false)));
        assert_eq!(
            route_for(routes, "/stream?streams=btcusdt@depth"),
            Some(("/stream", true))
        );
        assert_eq!(route_for(routes, "/stream"), Some(("/stream", false)));
        assert_eq!(
            route_for(routes, "/ws/btcusdt@depth@100ms"),
            Some(("/ws", true))
        );
        assert_eq!(
            route_for(routes, "/v5/public/linear"),
            Some(("/v5/public/linear", false))
        );
        assert_eq!(route_for(routes, "/wsx"), None);
        assert_eq!(route_for(routes, "/v5/public/spot"), None);
        assert_eq!(
            route_for(&["/ws/"], "/ws/btcusdt@depth"),
            Some(("/ws/", true))
        );
    }

    #[test]
    fn request_heads_parse_or_name_the_problem() {
        let r = parse_head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n")
            .unwrap();
        assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/a?b=1"));
        assert!(r.has_token("upgrade", "websocket"));
        assert!(r.has_token("CONNECTION", "upgrade"));
        assert_eq!(r.header("host"), Some("x"));
        assert!(parse_head("GET /a\r\n")
            .unwrap_err()
            .contains("bad request line"));
        assert!(parse_head("GET /a SMTP/1\r\n")
            .unwrap_err()
            .contains("bad request line"));
        assert!(parse_head("GET /a HTTP/1.1\r\nNoColon\r\n")
            .unwrap_err()
            .contains("NoColon"));
    }

    #[test]
    fn truncated_frames_are_not_json() {
        let f = "{\"seq\":12,\"data\":[1,2,3]}";
        let t = truncated(f);
        assert!(f.starts_with(&t) && t.len() < f.len());
        assert!(serde_json::from_str::<serde_json::Value>(&t).is_err());
        assert!(serde_json::from_str::<serde_json::Value>(&truncated("{}")).is_err());
        assert_eq!(truncated("ééé"), "é"); // cut on a character boundary
    }
}
