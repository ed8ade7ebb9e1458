//! The ops HTTP/1.1 server: `/healthz`, `/health/detailed`, `/metrics`, and `POST /kill`.
//!
//! Plain `std::net` on cold threads: one acceptor (mio, so it can be woken to stop) hands
//! connections to a small fixed pool of workers through a bounded queue. Each connection gets
//! a read timeout, a whole-request deadline and a size limit, and is answered and closed
//! (`Connection: close`), so one slow client holds at most one worker for at most the deadline;
//! when every worker is busy and the queue is full, new connections get an immediate 503.
//!
//! | request                | answer                                                            |
//! |------------------------|-------------------------------------------------------------------|
//! | `GET /healthz`         | 200 `{"status":"ok"}`, or 503 with the reasons (see `Status::health`) |
//! | `GET /health/detailed` | 200 (or 503 when unhealthy) with feed, book, risk, position, PnL... |
//! | `GET /metrics`         | 200 Prometheus text                                               |
//! | `POST /kill`           | only with `kill_enabled`: `Authorization: Bearer <kill_token>`; 200 fires the kill switch, 401 bad token |
//! | other paths            | 404; a known path with another method: 405 with `Allow`           |

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver, TrySendError};
use mio::{Events, Interest, Poll, Token, Waker};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{AuditEvent, AuditKind, AuditSender};
use super::kill::{KillSource, KillSwitch};
use super::metrics::{self, Metrics};
use super::secrets::{SecretStore, KILL_TOKEN};
use super::status::StatusBoard;

/// `[ops.http]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Serve at all.
    pub enabled: bool,
    /// Listen address (`127.0.0.1:9754`; port 0 picks a free one).
    pub addr: String,
    /// Expose `POST /kill` (needs the `kill_token` secret).
    pub kill_enabled: bool,
    /// Connections served at once.
    pub workers: usize,
    /// Accepted connections waiting for a worker before new ones get 503.
    pub queue: usize,
    /// Longest wait for any one read or write, ms.
    pub io_timeout_ms: u64,
    /// Longest time to receive a whole request, ms.
    pub request_deadline_ms: u64,
    /// Largest request head (request line + headers), bytes.
    pub max_head_bytes: usize,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            addr: "127.0.0.1:9754".to_owned(),
            kill_enabled: false,
            workers: 4,
            queue: 16,
            io_timeout_ms: 2_000,
            request_deadline_ms: 5_000,
            max_head_bytes: 8 * 1024,
            max_body_bytes: 1024,
        }
    }
}

impl HttpConfig {
    /// Checks every field; the message names the key.
    pub fn validate(&self) -> Result<SocketAddr, String> {
        let addr: SocketAddr = self.addr.parse().map_err(|_| {
            format!(
                "ops.http.addr = {:?}: expected IP:port, for example 127.0.0.1:9754",
                self.addr
            )
        })?;
        let positive = [
            ("workers", self.workers as u64),
            ("queue", self.queue as u64),
            ("io_timeout_ms", self.io_timeout_ms),
            ("request_deadline_ms", self.request_deadline_ms),
        ];
        for (k, v) in positive {
            if v == 0 {
                return Err(format!("ops.http.{k} = 0: expected at least 1"));
            }
        }
        if self.max_head_bytes < 256 {
            return Err(format!(
                "ops.http.max_head_bytes = {}: expected at least 256",
                self.max_head_bytes
            ));
        }
        Ok(addr)
    }
}

/// What the handlers read.
#[derive(Clone)]
pub struct HttpContext {
    pub board: Arc<StatusBoard>,
    pub kill: Arc<KillSwitch>,
    /// Source of the `kill_token` secret (re-read on every `POST /kill`, so reloads apply).
    pub secrets: Option<Arc<SecretStore>>,
    /// Where `POST /kill` records itself.
    pub audit: Option<AuditSender>,
    /// How long the feed may be not `active` before `/healthz` fails.
    pub feed_down_tolerance: Duration,
}

/// Why the server did not start.
#[derive(Debug)]
pub enum HttpError {
    /// Bad settings (exit code 2).
    Config(String),
    /// The address could not be bound (exit code 6).
    Bind { addr: String, error: io::Error },
    /// Thread or poll set-up failed.
    Io(io::Error),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Config(m) => f.write_str(m),
            HttpError::Bind { addr, error } => write!(f, "cannot bind ops HTTP on {addr}: {error}"),
            HttpError::Io(e) => write!(f, "ops HTTP set-up: {e}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl HttpError {
    /// The process exit this error maps to.
    pub fn exit(&self) -> super::exit::Exit {
        match self {
            HttpError::Config(_) => super::exit::Exit::Config,
            HttpError::Bind { .. } => super::exit::Exit::Bind,
            HttpError::Io(_) => super::exit::Exit::Internal,
        }
    }
}

const WAKER: Token = Token(0);
const LISTENER: Token = Token(1);

/// The server's whole request path (read the request, route, answer) without a socket: one
/// request's bytes in, the answer's bytes out, exactly as a worker serves a connection (the
/// fuzz targets drive it; the context is the one [`HttpServer::start`] takes).
pub struct Handler {
    shared: Shared,
}

impl Handler {
    pub fn new(cfg: &HttpConfig, ctx: HttpContext) -> Handler {
        let metrics = Metrics::new(
            Arc::clone(&ctx.board),
            Arc::clone(&ctx.kill),
            ctx.feed_down_tolerance,
        );
        Handler {
            shared: Shared {
                ctx,
                metrics,
                cfg: cfg.clone(),
            },
        }
    }

    /// The bytes the server writes back for a connection that sent `request` and then closed
    /// its side (empty when the server answers nothing, e.g. the request ended too early).
    pub fn answer(&self, request: &[u8]) -> Vec<u8> {
        struct Duplex<'a> {
            input: &'a [u8],
            out: Vec<u8>,
        }
        impl Read for Duplex<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.input.read(buf)
            }
        }
        impl Write for Duplex<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.out.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut d = Duplex {
            input: request,
            out: Vec::new(),
        };
        let _ = serve(&mut d, &self.shared, "fuzz");
        d.out
    }
}

/// A running server. Stop it with [`HttpServer::stop`] (also on drop).
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .finish()
    }
}

struct Shared {
    ctx: HttpContext,
    metrics: Metrics,
    cfg: HttpConfig,
}

impl HttpServer {
    /// Binds `cfg.addr` and starts the acceptor and worker threads.
    pub fn start(cfg: &HttpConfig, ctx: HttpContext) -> Result<HttpServer, HttpError> {
        let addr = cfg.validate().map_err(HttpError::Config)?;
        if cfg.kill_enabled {
            let has_token = ctx
                .secrets
                .as_ref()
                .is_some_and(|s| s.get(KILL_TOKEN).is_some());
            if !has_token {
                return Err(HttpError::Config(format!(
                    "ops.http.kill_enabled = true needs the {KILL_TOKEN:?} secret \
                     ($CREDENTIALS_DIRECTORY/{KILL_TOKEN}, /run/secrets/{KILL_TOKEN} or OBI_SCALP_KILL_TOKEN)"
                )));
            }
        }
        let std_listener = TcpListener::bind(addr).map_err(|error| HttpError::Bind {
            addr: cfg.addr.clone(),
            error,
        })?;
        let local = std_listener.local_addr().map_err(HttpError::Io)?;
        std_listener.set_nonblocking(true).map_err(HttpError::Io)?;
        let mut listener = mio::net::TcpListener::from_std(std_listener);
        let poll = Poll::new().map_err(HttpError::Io)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(HttpError::Io)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(HttpError::Io)?);
        let stop = Arc::new(AtomicBool::new(false));

        let shared = Arc::new(Handler::new(cfg, ctx).shared);
        // Connections handed to workers and not yet answered, at most workers + queue.
        let capacity = cfg.workers + cfg.queue;
        let inflight = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel::bounded::<TcpStream>(capacity);
        let mut workers = Vec::with_capacity(cfg.workers);
        for i in 0..cfg.workers {
            let rx = rx.clone();
            let shared = Arc::clone(&shared);
            let inflight = Arc::clone(&inflight);
            let h = std::thread::Builder::new()
                .name(format!("ops-http-{i}"))
                .spawn(move || worker(rx, shared, &inflight))
                .map_err(HttpError::Io)?;
            workers.push(h);
        }
        let stop2 = Arc::clone(&stop);
        let io_timeout = Duration::from_millis(cfg.io_timeout_ms);
        let acceptor = std::thread::Builder::new()
            .name("ops-http".into())
            .spawn(move || {
                accept_loop(poll, listener, tx, &stop2, io_timeout, &inflight, capacity);
                // The queue sender is gone: workers finish what they hold and exit.
                for w in workers {
                    let _ = w.join();
                }
            })
            .map_err(HttpError::Io)?;
        tracing::info!(addr = %local, kill_enabled = cfg.kill_enabled, "ops HTTP listening");
        Ok(HttpServer {
            addr: local,
            stop,
            waker,
            acceptor: Some(acceptor),
        })
    }

    /// The bound address (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets workers finish their current request (bounded by the request
    /// deadline), and joins the threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Most rejected connections kept open at once to drain their request (see `Rejected`).
const MAX_REJECTED: usize = 64;
/// How long a rejected connection is kept to drain its request before it is dropped.
const REJECT_LINGER: Duration = Duration::from_millis(500);

/// A connection answered 503 "busy" by the acceptor. Closing a socket with unread input makes
/// the kernel send RST, which can destroy the answer before the client reads it, so the acceptor
/// keeps it briefly (non-blocking), drains what the client sent, and closes it after EOF or
/// `REJECT_LINGER`.
struct Rejected {
    s: TcpStream,
    since: Instant,
}

fn reject_busy(mut s: TcpStream, rejected: &mut Vec<Rejected>) {
    tracing::warn!("ops HTTP busy: connection answered 503");
    if rejected.len() >= MAX_REJECTED {
        return; // Dropped: under a flood, a reset is an acceptable answer.
    }
    let _ = s.set_write_timeout(Some(Duration::from_millis(100)));
    let body = b"{\"status\":\"busy\"}\n";
    if write_response(&mut s, 503, "application/json", &[], body).is_ok()
        && s.shutdown(Shutdown::Write).is_ok()
        && s.set_nonblocking(true).is_ok()
    {
        rejected.push(Rejected {
            s,
            since: Instant::now(),
        });
    }
}

/// Drains rejected connections; keeps those still open and young.
fn drain_rejected(rejected: &mut Vec<Rejected>) {
    let mut buf = [0u8; 1024];
    rejected.retain_mut(|r| {
        if r.since.elapsed() >= REJECT_LINGER {
            return false;
        }
        loop {
            match r.s.read(&mut buf) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    });
}

fn accept_loop(
    mut poll: Poll,
    listener: mio::net::TcpListener,
    tx: channel::Sender<TcpStream>,
    stop: &AtomicBool,
    io_timeout: Duration,
    inflight: &AtomicUsize,
    capacity: usize,
) {
    let mut events = Events::with_capacity(16);
    let mut rejected: Vec<Rejected> = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let timeout = (!rejected.is_empty()).then_some(Duration::from_millis(20));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!(error = %e, "ops HTTP poll failed; stopping");
            return;
        }
        drain_rejected(&mut rejected);
        if !events.iter().any(|ev| ev.token() == LISTENER) {
            continue;
        }
        loop {
            let s = match listener.accept() {
                Ok((s, _peer)) => TcpStream::from(s),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    tracing::warn!(error = %e, "ops HTTP accept failed");
                    std::thread::sleep(Duration::from_millis(50));
                    break;
                }
            };
            if s.set_nonblocking(false).is_err()
                || s.set_read_timeout(Some(io_timeout)).is_err()
                || s.set_write_timeout(Some(io_timeout)).is_err()
            {
                continue;
            }
            // Only this thread increments, so check-then-add cannot overshoot `capacity`.
            if inflight.load(Ordering::Acquire) >= capacity {
                reject_busy(s, &mut rejected);
                continue;
            }
            inflight.fetch_add(1, Ordering::AcqRel);
            match tx.try_send(s) {
                Ok(()) => {}
                Err(TrySendError::Full(s)) => {
                    // Cannot happen while the channel holds `capacity`; answer busy anyway.
                    inflight.fetch_sub(1, Ordering::AcqRel);
                    reject_busy(s, &mut rejected);
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

fn worker(rx: Receiver<TcpStream>, shared: Arc<Shared>, inflight: &AtomicUsize) {
    while let Ok(mut s) = rx.recv() {
        let peer = s
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?".into());
        if let Err(e) = serve(&mut s, &shared, &peer) {
            tracing::debug!(peer = %peer, error = %e, "ops HTTP connection ended with an error");
        }
        let _ = s.shutdown(Shutdown::Both);
        inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A parsed request (only what the handlers need).
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    authorization: Option<String>,
}

/// An error answer while reading the request.
struct Reject(u16, &'static str);

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn read_request(s: &mut impl Read, cfg: &HttpConfig) -> Result<Result<Request, Reject>, io::Error> {
    let deadline = Instant::now() + Duration::from_millis(cfg.request_deadline_ms);
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > cfg.max_head_bytes {
            return Ok(Err(Reject(431, "request head too large")));
        }
        if Instant::now() >= deadline {
            return Ok(Err(Reject(408, "request took too long")));
        }
        let n = match s.read(&mut chunk) {
            Err(e) if is_timeout(&e) => return Ok(Err(Reject(408, "request took too long"))),
            r => r?,
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before a full request",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > cfg.max_head_bytes {
        return Ok(Err(Reject(431, "request head too large")));
    }
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Ok(Err(Reject(400, "request head is not UTF-8")));
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Err(Reject(400, "malformed request line")));
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(Err(Reject(505, "HTTP/1.x only")));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Ok(Err(Reject(400, "malformed method")));
    }
    let mut authorization = None;
    let mut content_length = 0usize;
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Ok(Err(Reject(400, "malformed header")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            let Ok(n) = value.parse::<usize>() else {
                return Ok(Err(Reject(400, "bad Content-Length")));
            };
            content_length = n;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Ok(Err(Reject(501, "Transfer-Encoding not supported")));
        }
    }
    if content_length > cfg.max_body_bytes {
        return Ok(Err(Reject(413, "request body too large")));
    }
    // Read (and discard) the body so closing the socket does not reset the answer.
    let mut have = buf.len() - head_end;
    while have < content_length {
        if Instant::now() >= deadline {
            return Ok(Err(Reject(408, "request took too long")));
        }
        let n = match s.read(&mut chunk) {
            Err(e) if is_timeout(&e) => return Ok(Err(Reject(408, "request took too long"))),
            r => r?,
        };
        if n == 0 {
            return Ok(Err(Reject(400, "body shorter than Content-Length")));
        }
        have += n;
    }
    let path = target.split(['?', '#']).next().unwrap_or("").to_owned();
    Ok(Ok(Request {
        method: method.to_owned(),
        path,
        authorization,
    }))
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn write_response(
    s: &mut impl Write,
    code: u16,
    content_type: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n",
        reason_phrase(code),
        body.len()
    );
    for (k, v) in extra_headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    s.write_all(&out)?;
    s.flush()
}

fn json_body(v: &serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// One answer: status, content type, extra headers, body.
struct Response {
    code: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

impl Response {
    fn json(code: u16, v: serde_json::Value) -> Response {
        Response {
            code,
            content_type: "application/json",
            headers: Vec::new(),
            body: json_body(&v),
        }
    }

    fn error(code: u16, msg: &str) -> Response {
        Response::json(code, json!({ "error": msg }))
    }
}

fn serve<S: Read + Write>(s: &mut S, shared: &Shared, peer: &str) -> io::Result<()> {
    let resp = match read_request(s, &shared.cfg)? {
        Err(Reject(code, msg)) => Response::error(code, msg),
        Ok(req) => route(&req, shared, peer),
    };
    write_response(s, resp.code, resp.content_type, &resp.headers, &resp.body)
}

fn route(req: &Request, shared: &Shared, peer: &str) -> Response {
    let kill_path = shared.cfg.kill_enabled && req.path == "/kill";
    let allowed = match req.path.as_str() {
        "/healthz" | "/health/detailed" | "/metrics" => "GET",
        _ if kill_path => "POST",
        "/kill" => return Response::error(404, "kill endpoint disabled (ops.http.kill_enabled)"),
        _ => return Response::error(404, "not found"),
    };
    if req.method != allowed {
        let mut r = Response::error(405, "method not allowed");
        r.headers.push(("Allow", allowed));
        return r;
    }
    match req.path.as_str() {
        "/healthz" => healthz(shared),
        "/health/detailed" => health_detailed(shared),
        "/metrics" => Response {
            code: 200,
            content_type: metrics::CONTENT_TYPE,
            headers: Vec::new(),
            body: shared.metrics.render().into_bytes(),
        },
        _ => kill(req, shared, peer),
    }
}

fn healthz(shared: &Shared) -> Response {
    let ctx = &shared.ctx;
    let kill = ctx.kill.describe();
    let h = ctx
        .board
        .read(|s| s.health(ctx.feed_down_tolerance, kill.as_deref()));
    if h.ok {
        Response::json(200, json!({ "status": "ok" }))
    } else {
        Response::json(
            503,
            json!({ "status": "unavailable", "reasons": h.reasons }),
        )
    }
}

fn health_detailed(shared: &Shared) -> Response {
    let ctx = &shared.ctx;
    let kill = ctx.kill.event();
    let kill_desc = ctx.kill.describe();
    let (ok, body) = ctx.board.read(|s| {
        let h = s.health(ctx.feed_down_tolerance, kill_desc.as_deref());
        let secs = |ns: u64| ns as f64 / 1e9;
        let body = json!({
            "status": if h.ok { "ok" } else { "unavailable" },
            "reasons": h.reasons,
            "notes": h.notes,
            "phase": s.phase,
            "mode": s.mode,
            "venue": s.venue,
            "symbol": s.symbol,
            "feed": {
                "status": s.feed,
                "status_age_seconds": secs(s.feed_status_age_ns),
                "last_frame_age_seconds": s.last_frame_age_ns.map(secs),
                "tolerance_seconds": ctx.feed_down_tolerance.as_secs_f64(),
            },
            "book": s.book.as_str(),
            "risk": { "status": s.risk, "reasons": s.risk_reasons },
            "kill_switch": kill,
            "position_lots": s.position_lots,
            "pnl": s.pnl,
            "trades": s.trades,
            "wins": s.wins,
            "run_loop_failures": s.run_loop_failures,
            "uptime_seconds": secs(s.uptime_ns),
            "version": s.version,
            "config_digest": s.config_digest,
        });
        (h.ok, body)
    });
    Response::json(if ok { 200 } else { 503 }, body)
}

fn kill(req: &Request, shared: &Shared, peer: &str) -> Response {
    let ctx = &shared.ctx;
    let Some(token) = ctx.secrets.as_ref().and_then(|s| s.get(KILL_TOKEN)) else {
        return Response::error(503, "kill token not configured");
    };
    let presented = req
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim);
    if !presented.is_some_and(|p| token.matches(p.as_bytes())) {
        tracing::warn!(peer = %peer, "POST /kill with a missing or wrong token");
        let mut r = Response::error(401, "missing or wrong bearer token");
        r.headers.push(("WWW-Authenticate", "Bearer"));
        return r;
    }
    let first = ctx
        .kill
        .trigger(KillSource::Http, format!("POST /kill from {peer}"));
    if first {
        if let Some(a) = &ctx.audit {
            a.send(
                AuditEvent::new(AuditKind::KillSwitch)
                    .with("source", KillSource::Http)
                    .with("peer", peer),
            );
        }
    }
    Response::json(
        200,
        json!({ "killed": true, "first": first, "kill_switch": ctx.kill.event() }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_keys() {
        let mut c = HttpConfig::default();
        assert_eq!(c.validate().unwrap().port(), 9754);
        c.addr = "localhost".into();
        assert!(c.validate().unwrap_err().contains("ops.http.addr"));
        c = HttpConfig {
            workers: 0,
            ..HttpConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("ops.http.workers"));
    }

    #[test]
    fn head_end() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
