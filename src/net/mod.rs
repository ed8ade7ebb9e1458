//! The live feed's transport: a non-blocking WebSocket client over TCP or TLS, driven by `mio`
//! on the feed thread, and a small blocking HTTP(S) GET client for REST snapshots.
//!
//! - [`WsClient`] is a state machine `Waiting → Connecting → TlsHandshake → WsHandshake → Open`
//!   that reconnects by itself with [`Backoff`], answers server pings, sends keepalives
//!   ([`Keepalive`]) and subscribe frames, watches for silence, and hands every text or binary
//!   frame to a callback with its receive time. [`WsClient::poll`] is the feed stage's step.
//! - [`rest::get`] fetches one URL (blocking; cold path), and [`rest::RestWorker`] runs it on a
//!   helper thread so the feed thread only pushes a request and pops the answer from a ring.
//! - [`Url`] parses `ws://`, `wss://`, `http://` and `https://` URLs; [`tls`] builds the rustls
//!   client configuration (ring provider, webpki roots plus an optional extra CA file).
//!
//! Two clocks: timers run on [`mono_ns`] (monotonic, passed into `poll` as `now_ns`); receive
//! times of frames are [`recv_stamp_ns`] (event time: nanoseconds since the Unix epoch on a clock
//! that an NTP step does not move, see [`crate::clock`]), taken right after the socket read that
//! completed the frame.

mod backoff;
mod error;
pub mod rest;
mod stream;
pub mod tls;
mod url;
mod ws;

pub use backoff::{jitter_seed, Backoff, XorShift64};
pub use error::{DisconnectCause, NetError};
pub use url::{Scheme, Url};
pub use ws::{
    FeedStatus, Keepalive, PollOutcome, WsClient, WsConfig, WsCounters, WsState, WsStats,
};

use std::sync::OnceLock;
use std::time::Instant;

/// The receive timestamp carried by every message that starts at the feed: event time
/// ([`crate::clock::now_ns`], ns since the Unix epoch on a clock that never steps).
#[inline]
pub fn recv_stamp_ns() -> u64 {
    crate::clock::now_ns()
}

/// Monotonic time in nanoseconds since the first call in this process: the clock of every
/// timer in this module (backoff, keepalive, silence, handshake deadline).
#[inline]
pub fn mono_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    Instant::now().duration_since(base).as_nanos() as u64
}
