//! The live frame source: a venue (or simulator) WebSocket through [`WsClient`], with REST
//! snapshot seeding on a helper thread ([`RestWorker`]).
//!
//! [`LiveSource::next`] is non-blocking: it hands over one event per call. When nothing is
//! queued it polls the socket with a zero timeout; `poll` may deliver several frames at once,
//! so they are queued in a byte arena and a small index, both allocated at construction (the
//! arena only grows if one poll's frames exceed it, and then stays grown). Event order is the
//! order the connection saw them: `Connected`, its frames, `Disconnected`.
//!
//! Per venue, the venue's [`Connector`](crate::venue::Connector) (`venue/<name>/connector.rs`)
//! says what to send ([`LiveSettings::for_config`] asks it): the URL, the subscribe frames, the
//! keepalive, how long the socket may stay silent, and how a resync ([`FrameSource::request_resync`])
//! is answered:
//! - venues with in-band snapshots (Bybit) resubscribe the book topic on the open connection
//!   (the connector's resubscribe frames), which makes the venue send a fresh snapshot;
//! - REST-seeded venues (Coincheck, Binance) fetch the books' snapshots (below) from the
//!   connector's snapshot URLs on `market.rest_url` (default: the venue's production host).
//!
//! REST seeding (Coincheck, Binance): the decoder lives in the feed stage, not here, so the
//! feed stage hands it over after every poll ([`FrameSource::on_decoder`]). After the decoder
//! asked for a resync, the source takes its snapshot requests
//! ([`Decoder::take_snapshot_book`]) and pushes the book's pre-registered URL index to the
//! [`RestWorker`] (a ring; the HTTP exchange runs on the worker's thread). Answers come back
//! on a ring and are delivered as [`SourceEvent::Rest`] with the URL. An answer to a request
//! made before the last disconnect is dropped (it may predate diffs the new connection no
//! longer has); the decoder asks again on the new connection. Non-200 answers and transport
//! errors are counted, not delivered; the decoder's retry timer asks again.
//!
//! Timestamps: frames carry event time ([`crate::clock::now_ns`], a clock an NTP step does not
//! move) taken right after the socket read; REST answers the
//! time the answer was complete. Events leave with non-decreasing timestamps (a REST answer
//! that completed before an already delivered frame gets that frame's time), so a recording of
//! them replays in exactly the order the live decoder saw.
//!
//! Silence: a book goes `stale` after `market.max_silence` (decoder watchdog). The WebSocket
//! itself is dropped and reconnected after the connector's limit (Bybit, Binance: twice that,
//! a stall ends in a detectable sequence gap anyway; Coincheck: `max_silence`, diffs carry no
//! sequence, so a silent connection may have lost updates).
//!
//! Wiring (`obi-scalp run` with `market.source = "live"`, and `obi-scalp record`):
//!
//! ```text
//! let decoder = AnyDecoder::new(venue, market, cfg.instruments.clone(), &[symbol], &settings)?;
//! let mut source = LiveSource::for_config(&cfg, &decoder)?;
//! let live = source.stats();            // cold thread: live.snapshot(), live.last_error()
//! source.connect_first(timeout)?;       // start-up fails loudly when the venue is unreachable
//! let (tap, recorder) = Recorder::for_config(&cfg, &cfg.record.dir, source.ws_url(), ring_bytes)?;
//! let running = Pipeline::new(&cfg, source, decoder).flags(flags).tap(Some(tap)).start()?;
//! let rec = recorder.spawn(rec_stop, Duration::from_millis(5))?;  // cold thread writes files
//! ```
//!
//! Allocation on the feed thread after start-up: none per frame. Rare events allocate: a
//! disconnect and reconnect (inside [`WsClient`]), a Bybit resubscribe (two text frames), and
//! each REST answer (its body `Vec` is freed here after being copied into the feed's buffer).

use super::feed::{FrameSource, SourceEvent};
use crate::config::Config;
use crate::instrument::Venue;
use crate::net::rest::{RestReply, RestWorker};
use crate::net::{
    mono_ns, recv_stamp_ns, Backoff, DisconnectCause, FeedStatus, NetError, Url, WsClient,
    WsConfig, WsCounters, WsState,
};
use crate::venue::{AnyDecoder, Decoder, LiveParams, LiveSpec};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Frames one socket poll may deliver (the queue's capacity).
const FRAMES_PER_POLL: u32 = 64;
/// Initial size of the frame arena.
const ARENA_BYTES: usize = 1 << 20;
/// REST requests in flight at most (the worker's ring holds 16).
const MAX_INFLIGHT: usize = 16;
/// The shared stats are refreshed at most this often (and on every connect/disconnect).
const PUBLISH_EVERY_NS: u64 = 1_000_000;
/// Time limit of one REST exchange.
const REST_TIMEOUT: Duration = Duration::from_secs(10);

/// REST snapshot counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestCounters {
    /// Requests handed to the worker.
    pub requests: u64,
    /// Requests not sent because the worker's queue was full (the decoder retries).
    pub refused: u64,
    /// 200 answers delivered to the decoder.
    pub delivered: u64,
    /// Answers with another status, or failed exchanges (timeouts, resets, TLS).
    pub errors: u64,
    /// Of the errors: HTTP 429/418 (rate limited).
    pub rate_limited: u64,
    /// Answers dropped because a disconnect happened since they were asked for.
    pub outdated: u64,
    /// Answers for books the source has no URL for (should not happen).
    pub unroutable: u64,
}

/// Everything the cold thread reads about the live feed, in one `Copy` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSnapshot {
    pub status: FeedStatus,
    pub state: WsState,
    pub ws: WsCounters,
    pub rest: RestCounters,
    /// Bybit resubscribes after a gap (or a resync for another reason).
    pub resubscribes: u64,
    /// Resync requests from the feed stage.
    pub resync_requests: u64,
    /// Events handed to the feed stage: frames, REST bodies, connects, disconnects.
    pub frames_out: u64,
    pub rest_out: u64,
    pub connects_out: u64,
    pub disconnects_out: u64,
    /// Most frames queued by one socket poll.
    pub max_queued: u64,
}

/// Atomics the source updates (relaxed stores, one writer) and the cold thread reads.
#[derive(Debug)]
pub struct LiveStats {
    status: AtomicU64,
    state: AtomicU64,
    connect_attempts: AtomicU64,
    connects: AtomicU64,
    disconnects: [AtomicU64; DisconnectCause::COUNT],
    bytes_rx: AtomicU64,
    bytes_tx: AtomicU64,
    frames_rx: AtomicU64,
    frames_tx: AtomicU64,
    pings_tx: AtomicU64,
    pongs_rx: AtomicU64,
    pings_rx: AtomicU64,
    pongs_tx: AtomicU64,
    stale_events: AtomicU64,
    consecutive_failures: AtomicU64,
    rest: [AtomicU64; 7],
    resubscribes: AtomicU64,
    resync_requests: AtomicU64,
    out: [AtomicU64; 4],
    max_queued: AtomicU64,
    /// The last disconnect or failed attempt: cause and message (written on disconnects only,
    /// with `try_lock`: the feed thread never waits for it).
    last_error: Mutex<String>,
}

impl Default for LiveStats {
    fn default() -> Self {
        LiveStats {
            status: AtomicU64::new(status_code(FeedStatus::Reconnecting)),
            state: AtomicU64::new(state_code(WsState::Waiting)),
            connect_attempts: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            disconnects: Default::default(),
            bytes_rx: AtomicU64::new(0),
            bytes_tx: AtomicU64::new(0),
            frames_rx: AtomicU64::new(0),
            frames_tx: AtomicU64::new(0),
            pings_tx: AtomicU64::new(0),
            pongs_rx: AtomicU64::new(0),
            pings_rx: AtomicU64::new(0),
            pongs_tx: AtomicU64::new(0),
            stale_events: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            rest: Default::default(),
            resubscribes: AtomicU64::new(0),
            resync_requests: AtomicU64::new(0),
            out: Default::default(),
            max_queued: AtomicU64::new(0),
            last_error: Mutex::new(String::with_capacity(256)),
        }
    }
}

const fn status_code(s: FeedStatus) -> u64 {
    match s {
        FeedStatus::Active => 0,
        FeedStatus::Reconnecting => 1,
        FeedStatus::Degraded => 2,
    }
}

const fn status_of(c: u64) -> FeedStatus {
    match c {
        0 => FeedStatus::Active,
        1 => FeedStatus::Reconnecting,
        _ => FeedStatus::Degraded,
    }
}

const fn state_code(s: WsState) -> u64 {
    match s {
        WsState::Waiting => 0,
        WsState::Connecting => 1,
        WsState::TlsHandshake => 2,
        WsState::WsHandshake => 3,
        WsState::Open => 4,
        WsState::Closed => 5,
    }
}

const fn state_of(c: u64) -> WsState {
    match c {
        0 => WsState::Waiting,
        1 => WsState::Connecting,
        2 => WsState::TlsHandshake,
        3 => WsState::WsHandshake,
        4 => WsState::Open,
        _ => WsState::Closed,
    }
}

impl LiveStats {
    /// A consistent-enough copy for the cold path (each field is read once, relaxed).
    pub fn snapshot(&self) -> LiveSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut disconnects = [0u64; DisconnectCause::COUNT];
        for (d, a) in disconnects.iter_mut().zip(&self.disconnects) {
            *d = g(a);
        }
        LiveSnapshot {
            status: status_of(g(&self.status)),
            state: state_of(g(&self.state)),
            ws: WsCounters {
                connect_attempts: g(&self.connect_attempts),
                connects: g(&self.connects),
                disconnects,
                bytes_rx: g(&self.bytes_rx),
                bytes_tx: g(&self.bytes_tx),
                frames_rx: g(&self.frames_rx),
                frames_tx: g(&self.frames_tx),
                pings_tx: g(&self.pings_tx),
                pongs_rx: g(&self.pongs_rx),
                pings_rx: g(&self.pings_rx),
                pongs_tx: g(&self.pongs_tx),
                stale_events: g(&self.stale_events),
                consecutive_failures: g(&self.consecutive_failures) as u32,
            },
            rest: RestCounters {
                requests: g(&self.rest[0]),
                refused: g(&self.rest[1]),
                delivered: g(&self.rest[2]),
                errors: g(&self.rest[3]),
                rate_limited: g(&self.rest[4]),
                outdated: g(&self.rest[5]),
                unroutable: g(&self.rest[6]),
            },
            resubscribes: g(&self.resubscribes),
            resync_requests: g(&self.resync_requests),
            frames_out: g(&self.out[0]),
            rest_out: g(&self.out[1]),
            connects_out: g(&self.out[2]),
            disconnects_out: g(&self.out[3]),
            max_queued: g(&self.max_queued),
        }
    }

    /// The last disconnect cause and message (empty before the first one).
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

/// A frame waiting in the arena.
#[derive(Debug, Clone, Copy)]
struct Queued {
    start: u32,
    len: u32,
    recv_ns: u64,
}

/// REST seeding state.
struct RestSide {
    worker: RestWorker,
    /// Snapshot URL of each book, by book index (= the worker's URL index).
    urls: Vec<String>,
    /// Connection generation of each request in flight, oldest first (the worker answers in
    /// order).
    inflight: [u64; MAX_INFLIGHT],
    inflight_head: usize,
    inflight_len: usize,
    /// A reply taken from the worker, waiting to be delivered in timestamp order.
    ready: Option<RestReply>,
    counters: RestCounters,
}

/// Settings derived from the config (public so tests and tools can adjust them).
#[derive(Debug, Clone)]
pub struct LiveSettings {
    pub venue: Venue,
    pub ws: WsConfig,
    /// REST base (`http://127.0.0.1:9101`) for REST-seeded venues.
    pub rest_base: Option<String>,
    /// Frames sent on a resync: Bybit unsubscribe + subscribe of the book topic.
    pub resubscribe: Vec<String>,
}

impl LiveSettings {
    /// The WebSocket and REST settings for `cfg`'s instrument on its venue.
    pub fn for_config(cfg: &Config) -> Result<LiveSettings, String> {
        let m = &cfg.market;
        let key = m.instrument.key;
        let sym = key.symbol.as_str();
        if m.ws_url.is_empty() {
            return Err("market.ws_url: required for a live feed".into());
        }
        let url = Url::parse(&m.ws_url).map_err(|e| format!("market.ws_url: {e}"))?;
        if !url.scheme.is_ws() {
            return Err(format!(
                "market.ws_url: {:?}: expected a ws:// or wss:// URL",
                m.ws_url
            ));
        }
        let connector = key
            .venue
            .require_connector("live feed")
            .map_err(|e| format!("market.venue: {e}"))?;
        let spec = connector.live(&LiveParams {
            ws_url: &m.ws_url,
            ws_path: &url.path,
            market: key.market,
            symbol: sym,
            stream_depth: m.stream_depth,
            ping_interval: Duration::from_nanos(m.ping_interval_ns),
            max_silence: Duration::from_nanos(m.max_silence_ns),
        })?;
        let rest_base = connector.rest_snapshot().map(|r| {
            if m.rest_url.is_empty() {
                r.base.to_string()
            } else {
                m.rest_url.clone()
            }
        });
        let LiveSpec {
            ws_url,
            subscribe,
            keepalive,
            resubscribe,
            ws_silence,
        } = spec;
        let mut ws = WsConfig::new(ws_url);
        ws.extra_ca_pem = m.ca_file.clone();
        ws.subscribe = subscribe;
        ws.keepalive = keepalive;
        ws.backoff = Backoff {
            initial: Duration::from_nanos(m.reconnect_initial_ns),
            max: Duration::from_nanos(m.reconnect_max_ns),
            multiplier: 2.0,
            jitter: 0.2,
        };
        // A connection that outlived the longest backoff is healthy: the streak starts over.
        ws.healthy_after = Duration::from_nanos(m.reconnect_max_ns)
            .clamp(Duration::from_secs(1), Duration::from_secs(30));
        ws.max_silence = Some(ws_silence);
        ws.max_frames_per_poll = FRAMES_PER_POLL;
        Ok(LiveSettings {
            venue: key.venue,
            ws,
            rest_base,
            resubscribe,
        })
    }
}

/// The live feed's [`FrameSource`]. See the [module docs](self).
pub struct LiveSource {
    ws: WsClient,
    /// The venue sends snapshots in-band: a resync is answered by resubscribing (Bybit), not
    /// by REST snapshots.
    in_band: bool,
    ws_url: String,
    arena: Vec<u8>,
    queue: Vec<Queued>,
    head: usize,
    open: bool,
    pending_connected: bool,
    /// Wall time just before the poll in which the connection opened (earlier than its frames).
    connected_ns: u64,
    pending_disconnect: Option<DisconnectCause>,
    /// Bumped on every disconnect of an open connection.
    generation: u64,
    last_ns: u64,
    resync_pending: bool,
    resubscribe: Vec<String>,
    rest: Option<RestSide>,
    stats: Arc<LiveStats>,
    last_publish_ns: u64,
    resubscribes: u64,
    resync_requests: u64,
    out: [u64; 4],
    max_queued: u64,
    closed: Option<NetError>,
}

impl LiveSource {
    /// The source for `cfg`'s instrument; `decoder` (the one the feed stage will own) names
    /// the books whose REST snapshot URLs are registered with the worker.
    pub fn for_config(cfg: &Config, decoder: &AnyDecoder) -> Result<LiveSource, String> {
        let s = LiveSettings::for_config(cfg)?;
        LiveSource::new(s, decoder)
    }

    /// The source with explicit settings.
    pub fn new<D: Decoder>(s: LiveSettings, decoder: &D) -> Result<LiveSource, String> {
        let connector = s.venue.require_connector("live feed")?;
        let in_band = connector.rest_snapshot().is_none();
        let ws_url = s.ws.url.clone();
        let extra_ca = s.ws.extra_ca_pem.clone();
        let ws = WsClient::new(s.ws).map_err(|e| format!("market.ws_url: {e}"))?;
        let rest = match &s.rest_base {
            Some(base) if !in_band => {
                let urls: Vec<String> = decoder
                    .routes()
                    .books
                    .iter()
                    .map(|b| connector.snapshot_url(base, &b.key.symbol))
                    .collect();
                if urls.is_empty() {
                    return Err(
                        "a REST-seeded live feed needs the decoder's books named up front".into(),
                    );
                }
                let worker = RestWorker::spawn("obi-rest", urls.clone(), extra_ca, REST_TIMEOUT)
                    .map_err(|e| format!("market.rest_url: {e}"))?;
                Some(RestSide {
                    worker,
                    urls,
                    inflight: [0; MAX_INFLIGHT],
                    inflight_head: 0,
                    inflight_len: 0,
                    ready: None,
                    counters: RestCounters::default(),
                })
            }
            _ => None,
        };
        Ok(LiveSource {
            ws,
            in_band,
            ws_url,
            arena: Vec::with_capacity(ARENA_BYTES),
            queue: Vec::with_capacity(FRAMES_PER_POLL as usize),
            head: 0,
            open: false,
            pending_connected: false,
            connected_ns: 0,
            pending_disconnect: None,
            generation: 0,
            last_ns: 0,
            resync_pending: false,
            resubscribe: s.resubscribe,
            rest,
            stats: Arc::new(LiveStats::default()),
            last_publish_ns: 0,
            resubscribes: 0,
            resync_requests: 0,
            out: [0; 4],
            max_queued: 0,
            closed: None,
        })
    }

    /// The counters and status the cold thread reads.
    pub fn stats(&self) -> Arc<LiveStats> {
        self.stats.clone()
    }

    /// The WebSocket URL in use.
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// Start-up (before the source moves to the feed thread): polls until the first connection
    /// is open, so a venue that cannot be reached fails loudly. Frames that arrive meanwhile
    /// are queued, not lost. A TLS failure (untrusted or invalid certificate) ends the wait at
    /// once; other failures are retried with backoff until `timeout`.
    pub fn connect_first(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = mono_ns().saturating_add(timeout.as_nanos() as u64);
        loop {
            let now = mono_ns();
            let out = self.poll_socket(now, Some(Duration::from_millis(20)))?;
            self.publish(now, true);
            if self.open || out.0 {
                return Ok(());
            }
            if let Some((DisconnectCause::Tls, e)) = self.ws.last_error() {
                return Err(format!("{}: {e}", self.ws_url));
            }
            if now >= deadline {
                let why = self
                    .ws
                    .last_error()
                    .map(|(c, e)| format!("last failure ({c}): {e}"))
                    .unwrap_or_else(|| format!("still {}", self.ws.state().as_str()));
                return Err(format!(
                    "{}: not connected within {} ms; {why}",
                    self.ws_url,
                    timeout.as_millis()
                ));
            }
        }
    }

    /// Closes the connection (best-effort close frame) for good.
    pub fn close(&mut self) {
        self.ws.close();
        self.publish(mono_ns(), true);
    }

    /// Never goes backwards: events leave in the order they are stamped.
    #[inline]
    fn stamp(&mut self, ns: u64) -> u64 {
        self.last_ns = self.last_ns.max(ns);
        self.last_ns
    }

    /// Polls the socket once; returns (opened, disconnected-open-connection).
    fn poll_socket(&mut self, now: u64, timeout: Option<Duration>) -> Result<(bool, bool), String> {
        if self.closed.is_some() {
            return Ok((false, false));
        }
        // Only while not connected: the time a connection opened, before its first frame.
        let before_ns = if self.open { 0 } else { recv_stamp_ns() };
        let arena = &mut self.arena;
        let queue = &mut self.queue;
        let res = self.ws.poll(now, timeout, |recv_ns, frame| {
            let start = arena.len();
            arena.extend_from_slice(frame);
            queue.push(Queued {
                start: start as u32,
                len: frame.len() as u32,
                recv_ns,
            });
        });
        let q = self.queue.len() as u64;
        if q > self.max_queued {
            self.max_queued = q;
        }
        match res {
            Ok(o) => {
                let mut ended = false;
                if o.opened {
                    self.open = true;
                    self.pending_connected = true;
                    self.connected_ns = before_ns;
                    if self.in_band {
                        // The new subscription brings a fresh snapshot anyway.
                        self.resync_pending = false;
                    }
                }
                if let Some(cause) = o.disconnected {
                    if self.open {
                        self.open = false;
                        ended = true;
                        self.generation += 1;
                        self.pending_disconnect = Some(cause);
                    }
                    self.note_error();
                }
                if o.did_work {
                    self.publish(now, o.opened || o.disconnected.is_some());
                }
                Ok((o.opened, ended))
            }
            Err(e) => {
                let msg = e.to_string();
                if self.open {
                    self.open = false;
                    self.generation += 1;
                    self.pending_disconnect = Some(DisconnectCause::Local);
                }
                self.closed = Some(e);
                self.publish(now, true);
                Err(msg)
            }
        }
    }

    fn note_error(&mut self) {
        if let Some((cause, err)) = self.ws.last_error() {
            if let Ok(mut s) = self.stats.last_error.try_lock() {
                s.clear();
                let _ = write!(s, "{cause}: {err}");
            }
        }
    }

    /// Refreshes the shared stats (at most every millisecond unless `force`).
    fn publish(&mut self, now: u64, force: bool) {
        if !force && now.saturating_sub(self.last_publish_ns) < PUBLISH_EVERY_NS {
            return;
        }
        self.last_publish_ns = now;
        let st = &self.stats;
        let set = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        let c = self.ws.counters();
        set(&st.status, status_code(self.ws.status()));
        set(&st.state, state_code(self.ws.state()));
        set(&st.connect_attempts, c.connect_attempts);
        set(&st.connects, c.connects);
        for (a, v) in st.disconnects.iter().zip(c.disconnects) {
            set(a, v);
        }
        set(&st.bytes_rx, c.bytes_rx);
        set(&st.bytes_tx, c.bytes_tx);
        set(&st.frames_rx, c.frames_rx);
        set(&st.frames_tx, c.frames_tx);
        set(&st.pings_tx, c.pings_tx);
        set(&st.pongs_rx, c.pongs_rx);
        set(&st.pings_rx, c.pings_rx);
        set(&st.pongs_tx, c.pongs_tx);
        set(&st.stale_events, c.stale_events);
        set(&st.consecutive_failures, c.consecutive_failures as u64);
        if let Some(r) = &self.rest {
            let r = r.counters;
            for (a, v) in st.rest.iter().zip([
                r.requests,
                r.refused,
                r.delivered,
                r.errors,
                r.rate_limited,
                r.outdated,
                r.unroutable,
            ]) {
                set(a, v);
            }
        }
        set(&st.resubscribes, self.resubscribes);
        set(&st.resync_requests, self.resync_requests);
        for (a, v) in st.out.iter().zip(self.out) {
            set(a, v);
        }
        set(&st.max_queued, self.max_queued);
    }

    /// Takes finished REST answers off the worker's ring: outdated and failed ones are counted
    /// and dropped; the first good one waits in `ready`.
    fn collect_rest(&mut self) {
        let generation = self.generation;
        let Some(r) = &mut self.rest else { return };
        while r.ready.is_none() {
            let Some(reply) = r.worker.try_recv() else {
                break;
            };
            let asked_in = if r.inflight_len > 0 {
                let g = r.inflight[r.inflight_head];
                r.inflight_head = (r.inflight_head + 1) % MAX_INFLIGHT;
                r.inflight_len -= 1;
                g
            } else {
                generation
            };
            if asked_in != generation {
                r.counters.outdated += 1;
                continue;
            }
            match &reply.result {
                Ok((200, _)) if reply.url_idx < r.urls.len() => r.ready = Some(reply),
                Ok((200, _)) => r.counters.unroutable += 1,
                Ok(_) => r.counters.errors += 1,
                Err(NetError::RateLimited { .. }) => {
                    r.counters.errors += 1;
                    r.counters.rate_limited += 1;
                }
                Err(_) => r.counters.errors += 1,
            }
        }
    }

    /// The ready REST answer as an event, if it is not younger than `before_ns`.
    fn deliver_rest(
        &mut self,
        before_ns: Option<u64>,
        buf: &mut Vec<u8>,
        url: &mut String,
    ) -> Option<SourceEvent> {
        let r = self.rest.as_mut()?;
        let done = r.ready.as_ref()?.done_ns;
        if before_ns.is_some_and(|t| done > t) {
            return None;
        }
        let reply = r.ready.take()?;
        let Ok((_, body)) = reply.result else {
            return None;
        };
        buf.clear();
        buf.extend_from_slice(&body);
        url.clear();
        url.push_str(&r.urls[reply.url_idx]);
        r.counters.delivered += 1;
        self.out[1] += 1;
        let ts = self.stamp(done);
        Some(SourceEvent::Rest { recv_ns: ts })
    }

    /// The next queued event, in connection order.
    fn pop_queued(&mut self, buf: &mut Vec<u8>, url: &mut String) -> Option<SourceEvent> {
        if self.pending_connected {
            self.pending_connected = false;
            url.clear();
            url.push_str(&self.ws_url);
            buf.clear();
            self.out[2] += 1;
            let ts = self.stamp(self.connected_ns);
            return Some(SourceEvent::Connected { now_ns: ts });
        }
        if let Some(q) = self.queue.get(self.head).copied() {
            // A REST answer completed before this frame goes first.
            if let Some(ev) = self.deliver_rest(Some(q.recv_ns), buf, url) {
                return Some(ev);
            }
            self.head += 1;
            let (s, n) = (q.start as usize, q.len as usize);
            buf.clear();
            buf.extend_from_slice(&self.arena[s..s + n]);
            self.out[0] += 1;
            let ts = self.stamp(q.recv_ns);
            return Some(SourceEvent::Frame { recv_ns: ts });
        }
        if !self.queue.is_empty() {
            self.queue.clear();
            self.arena.clear();
            self.head = 0;
        }
        if let Some(cause) = self.pending_disconnect.take() {
            buf.clear();
            buf.extend_from_slice(cause.as_str().as_bytes());
            self.out[3] += 1;
            let ts = self.stamp(recv_stamp_ns());
            return Some(SourceEvent::Disconnected { now_ns: ts });
        }
        None
    }

    /// Bybit: unsubscribe and subscribe the book topic again (a fresh snapshot follows).
    fn resubscribe(&mut self) {
        if !self.open || self.resubscribe.is_empty() {
            return;
        }
        self.resync_pending = false;
        self.resubscribes += 1;
        for i in 0..self.resubscribe.len() {
            if self.ws.send_text(&self.resubscribe[i]).is_err() {
                // The connection ended while writing: the reconnect brings a snapshot anyway.
                // The next poll reports the disconnect.
                break;
            }
        }
    }
}

impl FrameSource for LiveSource {
    #[inline]
    fn next(&mut self, buf: &mut Vec<u8>, url: &mut String) -> SourceEvent {
        self.collect_rest();
        if let Some(ev) = self.pop_queued(buf, url) {
            return ev;
        }
        if let Some(ev) = self.deliver_rest(None, buf, url) {
            return ev;
        }
        if self.resync_pending && self.in_band {
            self.resubscribe();
        }
        if self.closed.is_some() {
            return SourceEvent::End;
        }
        let now = mono_ns();
        let _ = self.poll_socket(now, Some(Duration::ZERO));
        self.publish(now, false);
        self.collect_rest();
        if let Some(ev) = self.pop_queued(buf, url) {
            return ev;
        }
        if let Some(ev) = self.deliver_rest(None, buf, url) {
            return ev;
        }
        if self.closed.is_some() {
            return SourceEvent::End;
        }
        SourceEvent::Idle
    }

    fn request_resync(&mut self) {
        self.resync_requests += 1;
        self.resync_pending = true;
    }

    fn active(&self) -> bool {
        self.open
    }

    #[inline]
    fn on_decoder<D: Decoder>(&mut self, decoder: &mut D) {
        if !self.resync_pending || self.in_band {
            return;
        }
        self.resync_pending = false;
        let generation = self.generation;
        let Some(r) = &mut self.rest else { return };
        while let Some(i) = decoder.take_snapshot_book() {
            if i >= r.urls.len() {
                r.counters.unroutable += 1;
                continue;
            }
            if r.inflight_len >= MAX_INFLIGHT || !r.worker.request(i) {
                // The decoder's retry timer asks again.
                r.counters.refused += 1;
                continue;
            }
            let tail = (r.inflight_head + r.inflight_len) % MAX_INFLIGHT;
            r.inflight[tail] = generation;
            r.inflight_len += 1;
            r.counters.requests += 1;
        }
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.ws.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Keepalive;

    fn cfg(venue: &str, extra: &str) -> Config {
        let (sym, market) = match venue {
            "bybit" => ("BTCUSDT", "linear"),
            "binance" => ("BTCUSDT", "spot"),
            _ => ("btc_jpy", "spot"),
        };
        Config::from_toml(&format!(
            "[market]\nvenue = \"{venue}\"\nmarket = \"{market}\"\nsymbol = \"{sym}\"\nsource = \"live\"\n{extra}\n"
        ))
        .unwrap()
    }

    #[test]
    fn settings_per_venue() {
        let c = cfg(
            "bybit",
            "ws_url = \"ws://127.0.0.1:1/v5/public/linear\"\nstream_depth = 50\nping_interval_ms = 1500\nmax_silence_ms = 700",
        );
        let s = LiveSettings::for_config(&c).unwrap();
        assert_eq!(s.ws.url, "ws://127.0.0.1:1/v5/public/linear");
        assert!(
            s.ws.subscribe[0].contains("orderbook.50.BTCUSDT"),
            "{:?}",
            s.ws.subscribe
        );
        assert_eq!(
            s.ws.keepalive,
            Keepalive::AppText {
                text: r#"{"op":"ping"}"#.into(),
                every: Duration::from_millis(1500)
            }
        );
        assert_eq!(s.ws.max_silence, Some(Duration::from_millis(1400)));
        assert!(
            s.resubscribe[0].contains("unsubscribe") && s.resubscribe[1].contains("\"subscribe\"")
        );
        assert!(s.rest_base.is_none());

        let c = cfg(
            "coincheck",
            "ws_url = \"wss://127.0.0.1:2/\"\nrest_url = \"https://127.0.0.1:2\"\nmax_silence_ms = 700",
        );
        let s = LiveSettings::for_config(&c).unwrap();
        assert_eq!(
            s.ws.subscribe,
            vec![
                r#"{"type":"subscribe","channel":"btc_jpy-orderbook"}"#.to_string(),
                r#"{"type":"subscribe","channel":"btc_jpy-trades"}"#.to_string()
            ]
        );
        assert!(matches!(s.ws.keepalive, Keepalive::ProtocolPing { .. }));
        assert_eq!(s.ws.max_silence, Some(Duration::from_millis(700)));
        assert_eq!(s.rest_base.as_deref(), Some("https://127.0.0.1:2"));

        let c = cfg("binance", "ws_url = \"ws://127.0.0.1:3\"");
        let s = LiveSettings::for_config(&c).unwrap();
        assert_eq!(
            s.ws.url,
            "ws://127.0.0.1:3/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade"
        );
        assert!(s.ws.subscribe.is_empty());
        assert_eq!(s.ws.keepalive, Keepalive::None);
        assert_eq!(
            s.rest_base.as_deref(),
            Some(crate::venue::binance::REST_BASE)
        );
        let c = cfg("binance", "ws_url = \"ws://127.0.0.1:3/stream\"");
        let s = LiveSettings::for_config(&c).unwrap();
        assert!(s.ws.subscribe[0].contains("SUBSCRIBE"));
    }

    #[test]
    fn bad_urls_are_named() {
        let c = cfg("bybit", "ws_url = \"http://127.0.0.1:1/\"");
        let e = LiveSettings::for_config(&c).unwrap_err();
        assert!(e.contains("market.ws_url"), "{e}");
    }

    #[test]
    fn snapshot_codes_round_trip() {
        for s in [
            FeedStatus::Active,
            FeedStatus::Reconnecting,
            FeedStatus::Degraded,
        ] {
            assert_eq!(status_of(status_code(s)), s);
        }
        for s in [
            WsState::Waiting,
            WsState::Connecting,
            WsState::TlsHandshake,
            WsState::WsHandshake,
            WsState::Open,
            WsState::Closed,
        ] {
            assert_eq!(state_of(state_code(s)), s);
        }
        let st = LiveStats::default();
        assert_eq!(st.snapshot().status, FeedStatus::Reconnecting);
        assert_eq!(st.last_error(), "");
    }
}
