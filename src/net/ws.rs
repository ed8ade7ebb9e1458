//! The non-blocking WebSocket client of the feed thread.
//!
//! One [`WsClient`] owns one `mio::Poll` and at most one socket. [`WsClient::poll`] is its step
//! function: it fires due timers (reconnect, keepalive, silence, handshake deadline), waits for
//! socket readiness for at most the given timeout, advances the connection state machine
//!
//! ```text
//!  Waiting ──(backoff over)──► Connecting ──TCP up──► TlsHandshake ──► WsHandshake ──► Open
//!     ▲            (ws:// skips TlsHandshake)                                            │
//!     └────────── any failure, EOF, close frame, silence, reconnect(): count cause ◄─────┘
//! ```
//!
//! and hands every complete text or binary message to `on_frame(recv_ns, bytes)`.
//!
//! # Allocation
//! Connection set-up allocates (DNS lookup, TLS session, handshake request, tungstenite's
//! buffers), and so does every disconnect (the error message). While a connection is open,
//! reading a frame allocates nothing in this module: the payload is copied into one reused
//! buffer so the callback gets `&mut [u8]` (simd-json parses in place). tungstenite 0.26 itself
//! reads into one `BytesMut` (`read_buffer_size`) and splits each frame off it as a `Bytes`;
//! the first split turns the buffer into a shared one (one small allocation), and the buffer is
//! reallocated only when a frame is larger than the room left in it. It also zero-fills the free
//! part of that buffer before every socket read, so `read_buffer_size` is kept moderate (16 KiB).
//! Fragmented messages are reassembled in a fresh `Vec` per message. Over TLS, rustls 0.23
//! copies every decrypted application-data record into a new `Vec` (its plaintext queue; the
//! unbuffered API does the same in 0.23), so `wss://` costs one allocation per TLS record, and
//! rustls reads the socket in steps of about 4 KiB. `tests/net_alloc.rs` measures both: 0
//! allocations per frame for `ws://`, one per record for `wss://`. Pongs reuse the ping's
//! payload; our pings and subscribe frames reuse pre-built `Bytes` (reference-counted clones);
//! [`WsClient::send_text`] copies its argument (one allocation per call).

use std::io;
use std::mem;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use tungstenite::client::IntoClientRequest;
use tungstenite::error::ProtocolError;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::MidHandshake;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, HandshakeError, Message, Utf8Bytes, WebSocket};

use super::backoff::BackoffState;
use super::stream::Conn;
use super::{mono_ns, tls, Backoff, DisconnectCause, NetError, Url};

const SOCK: Token = Token(0);

/// Keepalive policy of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keepalive {
    /// Send nothing; only answer the server's pings (Binance, GMO, bitFlyer).
    None,
    /// Send this text frame every `every` (Bybit: `{"op":"ping"}` every 20 s).
    AppText { text: String, every: Duration },
    /// Send a WebSocket ping frame every `every` (Coincheck: at most 20 s).
    ProtocolPing { every: Duration },
    /// Answer the server's application-level ping text with a pong text (bitbank's Engine.IO:
    /// the server sends `2`, the client must answer `3`). The ping is still handed to the
    /// reader as a frame.
    Answer { ping: String, pong: String },
}

/// Everything a [`WsClient`] needs. Built by the venue/config layer; checked by
/// [`WsConfig::validate`] (called by [`WsClient::new`]).
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// PEM file with extra trusted CA certificates (in addition to the webpki roots).
    pub extra_ca_pem: Option<PathBuf>,
    /// Text frames sent right after every successful WebSocket handshake, in order.
    pub subscribe: Vec<String>,
    pub keepalive: Keepalive,
    pub backoff: Backoff,
    /// Seed of the jitter generator. [`WsConfig::new`] draws a fresh one per client from
    /// [`jitter_seed`](super::backoff::jitter_seed); set it to reproduce reconnect timing.
    pub jitter_seed: u64,
    /// A connection open this long is healthy: backoff and the failure streak start over.
    pub healthy_after: Duration,
    /// Silence watchdog: no text/binary frame for this long ⇒ stale event and reconnect.
    pub max_silence: Option<Duration>,
    /// Limit for TCP connect + TLS handshake + WebSocket handshake together.
    pub connect_timeout: Duration,
    /// Consecutive failures after which the status reads `degraded` instead of `reconnecting`.
    pub degraded_after_failures: u32,
    /// Stop (state `Closed`, `poll` returns the last error) after this many consecutive
    /// failures; `None` retries forever. Start-up uses a small value to fail loudly.
    pub give_up_after_failures: Option<u32>,
    /// Upper bound of messages handed out per `poll` call (the rest wait for the next call).
    pub max_frames_per_poll: u32,
    /// tungstenite's read buffer (see the module notes on allocation).
    pub read_buffer_size: usize,
    /// Largest accepted message; bigger ones end the connection as a protocol error.
    pub max_message_size: usize,
}

impl WsConfig {
    /// Defaults: no subscribe frames, no keepalive, backoff 100 ms ×2 up to 30 s with 20 %
    /// jitter, healthy after 30 s, no silence watchdog, 10 s connect timeout, degraded after 3
    /// failures, never give up, 64 frames per poll, 16 KiB read buffer, 16 MiB messages; a
    /// jitter seed different in every process and for every call.
    pub fn new(url: impl Into<String>) -> Self {
        WsConfig {
            url: url.into(),
            extra_ca_pem: None,
            subscribe: Vec::new(),
            keepalive: Keepalive::None,
            backoff: Backoff::default(),
            jitter_seed: super::backoff::jitter_seed(),
            healthy_after: Duration::from_secs(30),
            max_silence: None,
            connect_timeout: Duration::from_secs(10),
            degraded_after_failures: 3,
            give_up_after_failures: None,
            max_frames_per_poll: 64,
            read_buffer_size: 16 * 1024,
            max_message_size: 16 << 20,
        }
    }

    /// Check every field; the message names the field and the reason.
    pub fn validate(&self) -> Result<Url, NetError> {
        let url = Url::parse(&self.url)?;
        if !url.scheme.is_ws() {
            return Err(NetError::Url(format!(
                "{:?}: a WebSocket URL must start with ws:// or wss://",
                self.url
            )));
        }
        self.backoff.validate()?;
        match &self.keepalive {
            Keepalive::None => {}
            Keepalive::AppText { text, every } => {
                if text.is_empty() {
                    return Err(NetError::Config("keepalive text must not be empty".into()));
                }
                if every.is_zero() {
                    return Err(NetError::Config("keepalive interval must be > 0".into()));
                }
            }
            Keepalive::ProtocolPing { every } => {
                if every.is_zero() {
                    return Err(NetError::Config("keepalive interval must be > 0".into()));
                }
            }
            Keepalive::Answer { ping, pong } => {
                if ping.is_empty() || pong.is_empty() {
                    return Err(NetError::Config(
                        "keepalive ping and pong texts must not be empty".into(),
                    ));
                }
            }
        }
        if self.max_silence.is_some_and(|d| d.is_zero()) {
            return Err(NetError::Config("max_silence must be > 0 when set".into()));
        }
        if self.connect_timeout.is_zero() {
            return Err(NetError::Config("connect_timeout must be > 0".into()));
        }
        if self.give_up_after_failures == Some(0) {
            return Err(NetError::Config(
                "give_up_after_failures must be >= 1 when set".into(),
            ));
        }
        if self.max_frames_per_poll == 0 {
            return Err(NetError::Config("max_frames_per_poll must be >= 1".into()));
        }
        if self.read_buffer_size < 1024 {
            return Err(NetError::Config("read_buffer_size must be >= 1024".into()));
        }
        if self.max_message_size < 1024 {
            return Err(NetError::Config("max_message_size must be >= 1024".into()));
        }
        Ok(url)
    }
}

/// Connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WsState {
    /// Not connected; the next attempt starts when the backoff delay is over.
    Waiting,
    /// TCP connect in progress.
    Connecting,
    TlsHandshake,
    WsHandshake,
    /// Frames flow.
    Open,
    /// Closed by [`WsClient::close`] or after `give_up_after_failures`; no more attempts.
    Closed,
}

impl WsState {
    pub const fn as_str(self) -> &'static str {
        match self {
            WsState::Waiting => "waiting",
            WsState::Connecting => "connecting",
            WsState::TlsHandshake => "tls_handshake",
            WsState::WsHandshake => "ws_handshake",
            WsState::Open => "open",
            WsState::Closed => "closed",
        }
    }
}

/// The market-data feed's status: the one enum for it (the WebSocket client's view, the status
/// board, `/health/detailed`'s `feed.status`, the `obi_scalp_monitor_status` metric and
/// `STATUS=` all use this one).
///
/// - `active`: frames can flow: the connection is open (or the source is not a socket and runs).
/// - `reconnecting`: not connected: connecting for the first time, or after a disconnect with
///   fewer than `degraded_after_failures` consecutive failures.
/// - `degraded`: market data cannot be relied on: not open after `degraded_after_failures`
///   consecutive failures, closed for good, or (the pipeline's view) a ring overflowed and the
///   books have not been quiet since. No new positions are opened while degraded.
///
/// `/healthz` answers 503 once the feed has not been `active` for `ops.feed_down_tolerance_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedStatus {
    Active,
    #[default]
    Reconnecting,
    Degraded,
}

impl FeedStatus {
    pub const ALL: [FeedStatus; 3] = [
        FeedStatus::Active,
        FeedStatus::Reconnecting,
        FeedStatus::Degraded,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FeedStatus::Active => "active",
            FeedStatus::Reconnecting => "reconnecting",
            FeedStatus::Degraded => "degraded",
        }
    }
}

/// Monotonic counters since the client was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WsCounters {
    /// TCP connects started.
    pub connect_attempts: u64,
    /// WebSocket handshakes completed (connections that reached `Open`).
    pub connects: u64,
    /// Ended connections and failed attempts, by cause ([`DisconnectCause::index`]).
    pub disconnects: [u64; DisconnectCause::COUNT],
    /// Bytes read from / written to the socket (TLS records included).
    pub bytes_rx: u64,
    pub bytes_tx: u64,
    /// Text and binary messages handed to `on_frame`.
    pub frames_rx: u64,
    /// Text frames we sent (subscribe, app pings, `send_text`).
    pub frames_tx: u64,
    /// Keepalive pings we sent (app text or protocol ping).
    pub pings_tx: u64,
    /// Pong frames received (answers to our protocol pings).
    pub pongs_rx: u64,
    /// Ping frames received from the server (each one is answered).
    pub pings_rx: u64,
    /// Pong answers written out.
    pub pongs_tx: u64,
    /// Silence watchdog firings.
    pub stale_events: u64,
    /// Failed attempts / unhealthy connection ends in a row (0 after a healthy connection).
    pub consecutive_failures: u32,
}

impl WsCounters {
    /// Count for one cause.
    pub fn disconnects_by(&self, cause: DisconnectCause) -> u64 {
        self.disconnects[cause.index()]
    }

    /// All causes together.
    pub fn disconnects_total(&self) -> u64 {
        self.disconnects.iter().sum()
    }
}

/// State, status and counters in one `Copy` value for the cold path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsStats {
    pub state: WsState,
    pub status: FeedStatus,
    pub counters: WsCounters,
}

/// What one [`WsClient::poll`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Messages handed to `on_frame`.
    pub frames: u32,
    /// A connection reached `Open` (subscribe frames were sent).
    pub opened: bool,
    /// A connection ended or an attempt failed, with this cause.
    pub disconnected: Option<DisconnectCause>,
    /// Anything happened (frames, state change, keepalive sent); `false` = idle turn.
    pub did_work: bool,
}

/// The open connection and its timers.
struct Session {
    ws: WebSocket<Conn>,
    opened_at: u64,
    last_frame_at: u64,
    next_ping_at: u64,
    healthy: bool,
    /// Written frames wait in tungstenite or rustls for the socket to take them.
    pending_flush: bool,
    /// `max_frames_per_poll` stopped the read loop before the socket said WouldBlock.
    read_pending: bool,
}

enum Phase {
    Waiting {
        until: u64,
    },
    Connecting {
        conn: Conn,
    },
    Tls {
        conn: Conn,
    },
    Ws {
        mid: MidHandshake<ClientHandshake<Conn>>,
    },
    Open(Box<Session>),
    Closed,
}

impl Phase {
    fn state(&self) -> WsState {
        match self {
            Phase::Waiting { .. } => WsState::Waiting,
            Phase::Connecting { .. } => WsState::Connecting,
            Phase::Tls { .. } => WsState::TlsHandshake,
            Phase::Ws { .. } => WsState::WsHandshake,
            Phase::Open(_) => WsState::Open,
            Phase::Closed => WsState::Closed,
        }
    }

    fn conn_mut(&mut self) -> Option<&mut Conn> {
        match self {
            Phase::Connecting { conn } | Phase::Tls { conn } => Some(conn),
            Phase::Ws { mid } => Some(mid.get_mut().get_mut()),
            Phase::Open(s) => Some(s.ws.get_mut()),
            Phase::Waiting { .. } | Phase::Closed => None,
        }
    }
}

/// Non-blocking WebSocket client with reconnect, keepalive and silence watchdog.
pub struct WsClient {
    url: Url,
    request_uri: String,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    ws_config: WebSocketConfig,
    subscribe: Vec<Utf8Bytes>,
    app_ping: Option<Utf8Bytes>,
    /// The server's ping text and our answer ([`Keepalive::Answer`]).
    answer: Option<(Utf8Bytes, Utf8Bytes)>,
    ping_every_ns: u64,
    max_silence_ns: Option<u64>,
    healthy_after_ns: u64,
    connect_timeout_ns: u64,
    degraded_after: u32,
    give_up_after: Option<u32>,
    max_frames: u32,

    poll: Poll,
    events: Events,
    phase: Phase,
    setup_deadline: u64,
    addrs: Vec<SocketAddr>,
    addr_idx: usize,
    backoff: BackoffState,
    frame_buf: Vec<u8>,
    counters: WsCounters,
    last_error: Option<(DisconnectCause, NetError)>,
    last_close_code: Option<u16>,
}

fn dur_ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

impl WsClient {
    /// Check the config, build the TLS configuration and the poller. Does not connect: the
    /// first [`poll`](Self::poll) starts the first attempt.
    pub fn new(cfg: WsConfig) -> Result<WsClient, NetError> {
        let url = cfg.validate()?;
        let tls = if url.scheme.is_tls() {
            let config = tls::client_config(cfg.extra_ca_pem.as_deref())?;
            Some((config, tls::server_name(&url.host)?))
        } else {
            None
        };
        // Scheme ws:// in the request either way: tungstenite only checks it, TLS is ours.
        let request_uri = format!("ws://{}{}", url.host_header(), url.path);
        request_uri
            .as_str()
            .into_client_request()
            .map_err(|e| NetError::Url(format!("{:?}: {e}", cfg.url)))?;
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(cfg.read_buffer_size)
            .write_buffer_size(0)
            .max_write_buffer_size(4 << 20)
            .max_message_size(Some(cfg.max_message_size))
            .max_frame_size(Some(cfg.max_message_size));
        let (app_ping, ping_every) = match &cfg.keepalive {
            Keepalive::None => (None, None),
            Keepalive::AppText { text, every } => {
                (Some(Utf8Bytes::from(text.as_str())), Some(*every))
            }
            Keepalive::ProtocolPing { every } => (None, Some(*every)),
            Keepalive::Answer { .. } => (None, None),
        };
        let answer = match &cfg.keepalive {
            Keepalive::Answer { ping, pong } => Some((
                Utf8Bytes::from(ping.as_str()),
                Utf8Bytes::from(pong.as_str()),
            )),
            _ => None,
        };
        let poll = Poll::new()
            .map_err(|e| NetError::Io(format!("cannot create the socket poller: {e}")))?;
        Ok(WsClient {
            request_uri,
            tls,
            ws_config,
            subscribe: cfg
                .subscribe
                .iter()
                .map(|s| Utf8Bytes::from(s.as_str()))
                .collect(),
            app_ping,
            answer,
            ping_every_ns: ping_every.map_or(0, dur_ns),
            max_silence_ns: cfg.max_silence.map(dur_ns),
            healthy_after_ns: dur_ns(cfg.healthy_after),
            connect_timeout_ns: dur_ns(cfg.connect_timeout),
            degraded_after: cfg.degraded_after_failures,
            give_up_after: cfg.give_up_after_failures,
            max_frames: cfg.max_frames_per_poll,
            poll,
            events: Events::with_capacity(8),
            phase: Phase::Waiting { until: 0 },
            setup_deadline: 0,
            addrs: Vec::new(),
            addr_idx: 0,
            backoff: BackoffState::new(cfg.backoff, cfg.jitter_seed),
            frame_buf: Vec::with_capacity(cfg.read_buffer_size.max(64 * 1024)),
            counters: WsCounters::default(),
            last_error: None,
            last_close_code: None,
            url,
        })
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn state(&self) -> WsState {
        self.phase.state()
    }

    pub fn status(&self) -> FeedStatus {
        match &self.phase {
            Phase::Open(_) => FeedStatus::Active,
            Phase::Closed => FeedStatus::Degraded,
            _ if self.counters.consecutive_failures >= self.degraded_after => FeedStatus::Degraded,
            _ => FeedStatus::Reconnecting,
        }
    }

    pub fn counters(&self) -> WsCounters {
        self.counters
    }

    pub fn stats(&self) -> WsStats {
        WsStats {
            state: self.state(),
            status: self.status(),
            counters: self.counters,
        }
    }

    /// The cause and error of the last disconnect or failed attempt.
    pub fn last_error(&self) -> Option<&(DisconnectCause, NetError)> {
        self.last_error.as_ref()
    }

    /// Close code of the last server close frame, if any.
    pub fn last_close_code(&self) -> Option<u16> {
        self.last_close_code
    }

    /// The step function: fire due timers, wait up to `timeout` for the socket (`None` = until
    /// the next timer or socket event; `Some(ZERO)` = never block), advance the state machine
    /// and deliver frames to `on_frame(recv_ns, frame)`. `recv_ns` is event time
    /// ([`super::recv_stamp_ns`]) right after the socket read that completed the frame. `now_ns` is [`super::mono_ns`].
    ///
    /// Disconnects are handled inside (counted, then reconnect after backoff) and reported in
    /// the outcome. `Err` only when the client is closed: after [`close`](Self::close)
    /// (`NetError::Closed`) or after `give_up_after_failures` (the last error).
    pub fn poll<F>(
        &mut self,
        now_ns: u64,
        timeout: Option<Duration>,
        mut on_frame: F,
    ) -> Result<PollOutcome, NetError>
    where
        F: FnMut(u64, &mut [u8]),
    {
        let mut out = PollOutcome::default();
        if let Phase::Closed = self.phase {
            return Err(self.closed_error());
        }
        self.run_timers(now_ns, &mut out);
        if let Phase::Closed = self.phase {
            return Err(self.closed_error());
        }

        // How long to wait: not past the caller's timeout nor the next timer; not at all when
        // a read loop was cut short or this turn already did something.
        let read_pending = matches!(&self.phase, Phase::Open(s) if s.read_pending);
        let mut wait_ns = timeout.map_or(u64::MAX, dur_ns);
        if read_pending || out.did_work {
            wait_ns = 0;
        }
        if let Some(deadline) = self.next_deadline() {
            wait_ns = wait_ns.min(deadline.saturating_sub(now_ns));
        }
        let wait = if wait_ns == u64::MAX {
            None
        } else {
            Some(Duration::from_nanos(wait_ns))
        };
        let (mut readable, mut writable) = (false, false);
        let now = match &self.phase {
            // Busy polling an open connection: skip epoll and try the socket directly (one
            // system call either way; this saves the epoll_wait when data is there).
            // Edge-triggered readiness stays correct because we read until WouldBlock.
            Phase::Open(s) if wait_ns == 0 => {
                readable = true;
                writable = s.pending_flush;
                now_ns
            }
            _ => {
                if let Err(e) = self.poll.poll(&mut self.events, wait) {
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(NetError::Io(format!("socket poll failed: {e}")));
                    }
                }
                for ev in self.events.iter() {
                    if ev.token() == SOCK {
                        readable |= ev.is_readable() || ev.is_read_closed() || ev.is_error();
                        writable |= ev.is_writable() || ev.is_write_closed() || ev.is_error();
                    }
                }
                if wait_ns == 0 {
                    now_ns
                } else {
                    mono_ns()
                }
            }
        };
        if readable || writable || read_pending {
            self.drive(
                now,
                readable || read_pending,
                writable,
                &mut on_frame,
                &mut out,
            );
        }
        self.collect_bytes();
        if let Phase::Closed = self.phase {
            return Err(self.closed_error());
        }
        Ok(out)
    }

    /// Send a text frame on the open connection (copies `text`).
    pub fn send_text(&mut self, text: &str) -> Result<(), NetError> {
        let Phase::Open(s) = &mut self.phase else {
            return Err(NetError::NotOpen);
        };
        match write_and_flush(s, Message::Text(Utf8Bytes::from(text))) {
            Ok(()) => {
                self.counters.frames_tx += 1;
                Ok(())
            }
            Err((cause, err)) => {
                self.end_connection(mono_ns(), cause, err.clone(), &mut PollOutcome::default());
                Err(err)
            }
        }
    }

    /// Drop the current connection (or attempt) and reconnect after the backoff delay; the
    /// end is counted under `cause` (use [`DisconnectCause::Resync`] after a sequence gap).
    /// No effect while waiting for the next attempt or when closed.
    pub fn reconnect(&mut self, cause: DisconnectCause) {
        if matches!(self.phase, Phase::Waiting { .. } | Phase::Closed) {
            return;
        }
        let err = NetError::Io(format!(
            "{}: reconnect requested by the caller ({cause})",
            self.url.authority()
        ));
        self.end_connection(mono_ns(), cause, err, &mut PollOutcome::default());
    }

    /// Send a close frame (best effort, no waiting), drop the socket and stop for good.
    pub fn close(&mut self) {
        if let Phase::Closed = self.phase {
            return;
        }
        self.give_up_after = Some(0);
        if !matches!(self.phase, Phase::Waiting { .. }) {
            let err = NetError::Closed;
            self.end_connection(
                mono_ns(),
                DisconnectCause::Local,
                err,
                &mut PollOutcome::default(),
            );
        }
        self.phase = Phase::Closed;
    }

    fn closed_error(&self) -> NetError {
        if self.give_up_after == Some(0) {
            return NetError::Closed;
        }
        self.last_error
            .as_ref()
            .map_or(NetError::Closed, |(_, e)| e.clone())
    }

    fn next_deadline(&self) -> Option<u64> {
        match &self.phase {
            Phase::Waiting { until } => Some(*until),
            Phase::Connecting { .. } | Phase::Tls { .. } | Phase::Ws { .. } => {
                Some(self.setup_deadline)
            }
            Phase::Open(s) => {
                let mut d = u64::MAX;
                if let Some(ms) = self.max_silence_ns {
                    d = d.min(s.last_frame_at.saturating_add(ms));
                }
                if self.ping_every_ns > 0 {
                    d = d.min(s.next_ping_at);
                }
                if !s.healthy {
                    d = d.min(s.opened_at.saturating_add(self.healthy_after_ns));
                }
                (d != u64::MAX).then_some(d)
            }
            Phase::Closed => None,
        }
    }

    fn run_timers(&mut self, now: u64, out: &mut PollOutcome) {
        match &mut self.phase {
            Phase::Waiting { until } => {
                if now >= *until {
                    self.start_connect(now, out);
                }
            }
            Phase::Connecting { .. } | Phase::Tls { .. } | Phase::Ws { .. } => {
                if now >= self.setup_deadline {
                    let stage = self.phase.state().as_str();
                    let err = NetError::Timeout(format!(
                        "{}: connection not open within {} ms (stuck in {stage})",
                        self.url.authority(),
                        self.connect_timeout_ns / 1_000_000
                    ));
                    self.end_connection(now, DisconnectCause::Timeout, err, out);
                }
            }
            Phase::Open(s) => {
                if !s.healthy && now.saturating_sub(s.opened_at) >= self.healthy_after_ns {
                    s.healthy = true;
                    self.backoff.reset();
                    self.counters.consecutive_failures = 0;
                }
                if let Some(max) = self.max_silence_ns {
                    let silent = now.saturating_sub(s.last_frame_at);
                    if silent >= max {
                        self.counters.stale_events += 1;
                        let err = NetError::Timeout(format!(
                            "{}: no frame for {} ms (max silence {} ms)",
                            self.url.authority(),
                            silent / 1_000_000,
                            max / 1_000_000
                        ));
                        self.end_connection(now, DisconnectCause::Silence, err, out);
                        return;
                    }
                }
                if self.ping_every_ns > 0 && now >= s.next_ping_at {
                    s.next_ping_at = now + self.ping_every_ns;
                    let msg = match &self.app_ping {
                        Some(t) => Message::Text(t.clone()),
                        None => Message::Ping(Bytes::new()),
                    };
                    let is_text = self.app_ping.is_some();
                    out.did_work = true;
                    match write_and_flush(s, msg) {
                        Ok(()) => {
                            self.counters.pings_tx += 1;
                            if is_text {
                                self.counters.frames_tx += 1;
                            }
                        }
                        Err((cause, err)) => self.end_connection(now, cause, err, out),
                    }
                }
            }
            Phase::Closed => {}
        }
    }

    fn start_connect(&mut self, now: u64, out: &mut PollOutcome) {
        out.did_work = true;
        self.counters.connect_attempts += 1;
        self.setup_deadline = now.saturating_add(self.connect_timeout_ns);
        if self.addrs.is_empty() {
            // Blocking name lookup, on (re)connect only; cached until a connect fails.
            match (self.url.host.as_str(), self.url.port).to_socket_addrs() {
                Ok(a) => self.addrs = a.collect(),
                Err(e) => {
                    let err = NetError::Connect(format!(
                        "{}: cannot resolve host: {e}",
                        self.url.authority()
                    ));
                    self.end_connection(now, DisconnectCause::Refused, err, out);
                    return;
                }
            }
            self.addr_idx = 0;
            if self.addrs.is_empty() {
                let err = NetError::Connect(format!(
                    "{}: host resolves to no address",
                    self.url.authority()
                ));
                self.end_connection(now, DisconnectCause::Refused, err, out);
                return;
            }
        }
        let addr = self.addrs[self.addr_idx % self.addrs.len()];
        let mut sock = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                let err = NetError::Connect(format!("{addr}: {e}"));
                let cause = io_cause(&e, DisconnectCause::Refused);
                self.end_connection(now, cause, err, out);
                return;
            }
        };
        // Small frames (pongs, pings) must not wait for Nagle.
        let _ = sock.set_nodelay(true);
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut sock, SOCK, Interest::READABLE | Interest::WRITABLE)
        {
            let err = NetError::Io(format!("{addr}: cannot register the socket: {e}"));
            self.end_connection(now, DisconnectCause::Local, err, out);
            return;
        }
        self.phase = Phase::Connecting {
            conn: Conn::new(sock),
        };
    }

    /// Advance the state machine on socket readiness; may pass through several states.
    fn drive<F>(
        &mut self,
        now: u64,
        readable: bool,
        writable: bool,
        on_frame: &mut F,
        out: &mut PollOutcome,
    ) where
        F: FnMut(u64, &mut [u8]),
    {
        loop {
            match mem::replace(&mut self.phase, Phase::Closed) {
                Phase::Connecting { conn } => match conn.check_connected() {
                    Ok(false) => {
                        self.phase = Phase::Connecting { conn };
                        return;
                    }
                    Ok(true) => {
                        out.did_work = true;
                        let Some((config, name)) = self.tls.clone() else {
                            self.start_ws_handshake(now, conn, on_frame, out);
                            return;
                        };
                        match ClientConnection::new(config, name) {
                            Ok(session) => {
                                let mut conn = conn;
                                conn.tls = Some(Box::new(session));
                                self.phase = Phase::Tls { conn };
                                // Send the ClientHello now; no event would tell us to.
                                continue;
                            }
                            Err(e) => {
                                let err = NetError::Tls(tls::describe(&e, &self.url.authority()));
                                self.phase = Phase::Connecting { conn };
                                self.end_connection(now, DisconnectCause::Tls, err, out);
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        self.phase = Phase::Connecting { conn };
                        let err = NetError::Connect(format!("{}: {e}", self.url.authority()));
                        let cause = io_cause(&e, DisconnectCause::Refused);
                        self.end_connection(now, cause, err, out);
                        return;
                    }
                },
                Phase::Tls { mut conn } => match conn.drive_tls_handshake() {
                    Ok(false) => {
                        self.phase = Phase::Tls { conn };
                        return;
                    }
                    Ok(true) => {
                        out.did_work = true;
                        self.start_ws_handshake(now, conn, on_frame, out);
                        return;
                    }
                    Err(e) => {
                        self.phase = Phase::Tls { conn };
                        let (cause, err) = self.classify_io(&e, "TLS handshake");
                        self.end_connection(now, cause, err, out);
                        return;
                    }
                },
                Phase::Ws { mut mid } => {
                    if writable {
                        // Records rustls could not push earlier (the request).
                        let _ = io::Write::flush(mid.get_mut().get_mut());
                    }
                    self.resume_ws_handshake(now, mid, on_frame, out);
                    return;
                }
                Phase::Open(mut s) => {
                    if writable && s.pending_flush {
                        match flush(&mut s) {
                            Ok(()) => out.did_work = true,
                            Err((cause, err)) => {
                                self.phase = Phase::Open(s);
                                self.end_connection(now, cause, err, out);
                                return;
                            }
                        }
                    }
                    self.phase = Phase::Open(s);
                    if readable {
                        self.read_frames(now, on_frame, out);
                    }
                    return;
                }
                other => {
                    self.phase = other;
                    return;
                }
            }
        }
    }

    fn start_ws_handshake<F>(
        &mut self,
        now: u64,
        conn: Conn,
        on_frame: &mut F,
        out: &mut PollOutcome,
    ) where
        F: FnMut(u64, &mut [u8]),
    {
        let request = match self.request_uri.as_str().into_client_request() {
            Ok(r) => r,
            Err(e) => {
                self.phase = Phase::Tls { conn };
                let err = NetError::Handshake(format!("{}: {e}", self.url.authority()));
                self.end_connection(now, DisconnectCause::Handshake, err, out);
                return;
            }
        };
        // `start` only builds the request (it cannot fail on a request that parsed above
        // except for a wrong method/version, which we never produce).
        match ClientHandshake::start(conn, request, Some(self.ws_config)) {
            Ok(mid) => self.resume_ws_handshake(now, mid, on_frame, out),
            Err(e) => {
                let (cause, err) = self.classify_ws(e, "WebSocket handshake");
                self.end_connection(now, cause, err, out);
            }
        }
    }

    fn resume_ws_handshake<F>(
        &mut self,
        now: u64,
        mid: MidHandshake<ClientHandshake<Conn>>,
        on_frame: &mut F,
        out: &mut PollOutcome,
    ) where
        F: FnMut(u64, &mut [u8]),
    {
        match mid.handshake() {
            Ok((ws, _response)) => {
                out.did_work = true;
                out.opened = true;
                self.counters.connects += 1;
                self.addr_idx = 0;
                let mut s = Box::new(Session {
                    ws,
                    opened_at: now,
                    last_frame_at: now,
                    next_ping_at: now.saturating_add(self.ping_every_ns),
                    healthy: false,
                    pending_flush: false,
                    read_pending: false,
                });
                for text in &self.subscribe {
                    if let Err((cause, err)) = write_only(&mut s, Message::Text(text.clone())) {
                        self.phase = Phase::Open(s);
                        self.end_connection(now, cause, err, out);
                        return;
                    }
                    self.counters.frames_tx += 1;
                }
                if !self.subscribe.is_empty() {
                    if let Err((cause, err)) = flush(&mut s) {
                        self.phase = Phase::Open(s);
                        self.end_connection(now, cause, err, out);
                        return;
                    }
                }
                self.phase = Phase::Open(s);
                // The handshake may have stopped reading with frames already in the socket
                // (edge-triggered readiness would not tell us again): read now.
                self.read_frames(now, on_frame, out);
            }
            Err(HandshakeError::Interrupted(mid)) => self.phase = Phase::Ws { mid },
            Err(HandshakeError::Failure(e)) => {
                self.phase = Phase::Waiting { until: 0 };
                let (cause, err) = self.classify_ws(e, "WebSocket handshake");
                self.end_connection(now, cause, err, out);
            }
        }
    }

    /// Read messages until the socket would block (or `max_frames_per_poll`).
    fn read_frames<F>(&mut self, now: u64, on_frame: &mut F, out: &mut PollOutcome)
    where
        F: FnMut(u64, &mut [u8]),
    {
        let Phase::Open(s) = &mut self.phase else {
            return;
        };
        s.read_pending = false;
        let mut pong_due = false;
        let mut end: Option<(DisconnectCause, NetError)> = None;
        let mut n = 0u32;
        loop {
            if n >= self.max_frames {
                s.read_pending = true;
                break;
            }
            match s.ws.read() {
                Ok(Message::Text(t)) => {
                    n += 1;
                    if let Some((ping, pong)) = &self.answer {
                        if t.as_str() == ping.as_str() {
                            self.counters.pings_rx += 1;
                            self.counters.pongs_tx += 1;
                            if let Err(e) = write_only(s, Message::Text(pong.clone())) {
                                end = Some(e);
                                break;
                            }
                            pong_due = true;
                        }
                    }
                    deliver(
                        &mut self.frame_buf,
                        s.ws.get_ref().last_read_ns,
                        t.as_str().as_bytes(),
                        on_frame,
                    );
                    s.last_frame_at = now;
                }
                Ok(Message::Binary(b)) => {
                    n += 1;
                    deliver(
                        &mut self.frame_buf,
                        s.ws.get_ref().last_read_ns,
                        &b[..],
                        on_frame,
                    );
                    s.last_frame_at = now;
                }
                Ok(Message::Ping(_)) => {
                    // tungstenite queued the pong; it goes out with the next read or flush.
                    self.counters.pings_rx += 1;
                    self.counters.pongs_tx += 1;
                    pong_due = true;
                }
                Ok(Message::Pong(_)) => self.counters.pongs_rx += 1,
                Ok(Message::Close(frame)) => {
                    // tungstenite queued the close reply; push it out, best effort.
                    let _ = s.ws.flush();
                    let (code, reason) = match &frame {
                        Some(f) => (Some(u16::from(f.code)), f.reason.as_str().to_string()),
                        None => (None, String::new()),
                    };
                    self.last_close_code = code;
                    let code_s = code.map_or("none".to_string(), |c| c.to_string());
                    end = Some((
                        DisconnectCause::ServerClose,
                        NetError::Io(format!(
                            "{}: server sent a close frame (code {code_s}, reason {reason:?})",
                            self.url.authority()
                        )),
                    ));
                    break;
                }
                Ok(Message::Frame(_)) => {}
                Err(e) if would_block(&e) => break,
                Err(e) => {
                    end = Some(classify_ws_error(e, &self.url.authority(), "read"));
                    break;
                }
            }
        }
        self.counters.frames_rx += u64::from(n);
        out.frames += n;
        if n > 0 || pong_due {
            out.did_work = true;
        }
        if end.is_none() && (pong_due || s.pending_flush) {
            if let Err(e) = flush(s) {
                end = Some(e);
            }
        }
        if let Some((cause, err)) = end {
            self.end_connection(now, cause, err, out);
        }
    }

    /// Count and tear down the current connection or attempt; schedule the next attempt or
    /// close for good.
    fn end_connection(
        &mut self,
        now: u64,
        cause: DisconnectCause,
        err: NetError,
        out: &mut PollOutcome,
    ) {
        let mut healthy = false;
        let mut phase = mem::replace(&mut self.phase, Phase::Closed);
        if let Phase::Open(s) = &mut phase {
            healthy = s.healthy;
            if matches!(
                cause,
                DisconnectCause::Silence | DisconnectCause::Resync | DisconnectCause::Local
            ) {
                // Say goodbye; do not wait for the answer.
                let _ = s.ws.close(None);
                let _ = s.ws.flush();
            }
        }
        if let Some(conn) = phase.conn_mut() {
            self.counters.bytes_rx += mem::take(&mut conn.bytes_rx);
            self.counters.bytes_tx += mem::take(&mut conn.bytes_tx);
            let _ = self.poll.registry().deregister(&mut conn.sock);
        }
        drop(phase);

        if matches!(cause, DisconnectCause::Refused | DisconnectCause::Timeout) {
            // Try the next address next time; look the name up again after a full round.
            self.addr_idx += 1;
            if self.addr_idx >= self.addrs.len() {
                self.addrs.clear();
                self.addr_idx = 0;
            }
        }
        self.counters.disconnects[cause.index()] += 1;
        // A caller's resync or shutdown is not a failure of the connection.
        let caller = matches!(cause, DisconnectCause::Resync | DisconnectCause::Local);
        if !healthy && !caller {
            self.counters.consecutive_failures =
                self.counters.consecutive_failures.saturating_add(1);
        }
        out.disconnected = Some(cause);
        out.did_work = true;
        self.last_error = Some((cause, err));

        let give_up = self
            .give_up_after
            .is_some_and(|n| self.counters.consecutive_failures >= n);
        self.phase = if give_up {
            Phase::Closed
        } else {
            Phase::Waiting {
                until: now.saturating_add(self.backoff.next_delay_ns()),
            }
        };
    }

    fn collect_bytes(&mut self) {
        if let Some(conn) = self.phase.conn_mut() {
            self.counters.bytes_rx += mem::take(&mut conn.bytes_rx);
            self.counters.bytes_tx += mem::take(&mut conn.bytes_tx);
        }
    }

    fn classify_io(&self, e: &io::Error, stage: &str) -> (DisconnectCause, NetError) {
        classify_io_error(e, &self.url.authority(), stage)
    }

    fn classify_ws(&self, e: tungstenite::Error, stage: &str) -> (DisconnectCause, NetError) {
        classify_ws_error(e, &self.url.authority(), stage)
    }
}

#[inline]
fn deliver<F>(buf: &mut Vec<u8>, recv_ns: u64, payload: &[u8], on_frame: &mut F)
where
    F: FnMut(u64, &mut [u8]),
{
    buf.clear();
    buf.extend_from_slice(payload);
    on_frame(recv_ns, buf.as_mut_slice());
}

/// Queue one message (tungstenite may write part of it right away).
fn write_only(s: &mut Session, msg: Message) -> Result<(), (DisconnectCause, NetError)> {
    match s.ws.write(msg) {
        Ok(()) => Ok(()),
        Err(e) if would_block(&e) => {
            s.pending_flush = true;
            Ok(())
        }
        Err(e) => {
            let authority =
                s.ws.get_ref()
                    .sock
                    .peer_addr()
                    .map_or_else(|_| "peer".to_string(), |a| a.to_string());
            Err(classify_ws_error(e, &authority, "write"))
        }
    }
}

/// Push queued frames (ours and tungstenite's pongs) to the socket; WouldBlock leaves them
/// queued and marks the session so the next writable event flushes again.
fn flush(s: &mut Session) -> Result<(), (DisconnectCause, NetError)> {
    match s.ws.flush() {
        Ok(()) => {
            s.pending_flush = false;
            Ok(())
        }
        Err(e) if would_block(&e) => {
            s.pending_flush = true;
            Ok(())
        }
        Err(e) => {
            let authority =
                s.ws.get_ref()
                    .sock
                    .peer_addr()
                    .map_or_else(|_| "peer".to_string(), |a| a.to_string());
            Err(classify_ws_error(e, &authority, "write"))
        }
    }
}

fn write_and_flush(s: &mut Session, msg: Message) -> Result<(), (DisconnectCause, NetError)> {
    write_only(s, msg)?;
    flush(s)
}

/// Map a socket error kind to a cause; `fallback` for kinds without a clear meaning.
fn io_cause(e: &io::Error, fallback: DisconnectCause) -> DisconnectCause {
    use io::ErrorKind as K;
    if tls::rustls_error(e).is_some() {
        return DisconnectCause::Tls;
    }
    match e.kind() {
        K::ConnectionRefused | K::AddrNotAvailable | K::NotFound => DisconnectCause::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => DisconnectCause::Reset,
        K::UnexpectedEof => DisconnectCause::Eof,
        K::TimedOut => DisconnectCause::Timeout,
        _ => match e.raw_os_error() {
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::ECONNREFUSED) => {
                DisconnectCause::Refused
            }
            _ => fallback,
        },
    }
}

fn classify_io_error(e: &io::Error, authority: &str, stage: &str) -> (DisconnectCause, NetError) {
    if let Some(tls_err) = tls::rustls_error(e) {
        return (
            DisconnectCause::Tls,
            NetError::Tls(tls::describe(tls_err, authority)),
        );
    }
    let cause = io_cause(e, DisconnectCause::Reset);
    let msg = format!("{authority}: {stage}: {e}");
    let err = match cause {
        DisconnectCause::Refused => NetError::Connect(msg),
        DisconnectCause::Timeout => NetError::Timeout(msg),
        _ => NetError::Io(msg),
    };
    (cause, err)
}

fn classify_ws_error(
    e: tungstenite::Error,
    authority: &str,
    stage: &str,
) -> (DisconnectCause, NetError) {
    use tungstenite::Error as E;
    let in_handshake = stage.contains("handshake");
    match e {
        E::Io(io) => {
            let (cause, err) = classify_io_error(&io, authority, stage);
            if in_handshake && matches!(cause, DisconnectCause::Eof | DisconnectCause::Reset) {
                return (
                    DisconnectCause::Handshake,
                    NetError::Handshake(format!("{authority}: connection lost: {io}")),
                );
            }
            (cause, err)
        }
        E::ConnectionClosed | E::AlreadyClosed => (
            DisconnectCause::ServerClose,
            NetError::Io(format!(
                "{authority}: connection closed after a close handshake"
            )),
        ),
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => (
            DisconnectCause::Eof,
            NetError::Io(format!(
                "{authority}: the server closed the connection without a close frame"
            )),
        ),
        E::Protocol(ProtocolError::HandshakeIncomplete) => (
            DisconnectCause::Handshake,
            NetError::Handshake(format!(
                "{authority}: the server closed the connection during the handshake"
            )),
        ),
        E::Http(resp) => {
            let status = resp.status();
            let body = resp
                .body()
                .as_deref()
                .map(|b| {
                    // One line: the reason is the last line of stderr and of run_complete.json.
                    String::from_utf8_lossy(&b[..b.len().min(200)])
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let hint = match status.as_u16() {
                429 | 418 => " (rate limited: too many connections)",
                s if s >= 500 => " (server error)",
                _ => "",
            };
            (
                DisconnectCause::Handshake,
                NetError::Handshake(format!(
                    "{authority}: HTTP {status} instead of 101 Switching Protocols{hint}: {body}"
                )),
            )
        }
        E::Protocol(p) if in_handshake => (
            DisconnectCause::Handshake,
            NetError::Handshake(format!("{authority}: {p}")),
        ),
        E::HttpFormat(h) => (
            DisconnectCause::Handshake,
            NetError::Handshake(format!("{authority}: {h}")),
        ),
        E::Url(u) => (
            DisconnectCause::Handshake,
            NetError::Handshake(format!("{authority}: {u}")),
        ),
        other => (
            DisconnectCause::Protocol,
            NetError::Protocol(format!("{authority}: {stage}: {other}")),
        ),
    }
}
