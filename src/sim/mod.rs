//! The local exchange simulator: venue wire protocols over real loopback sockets.
//!
//! Content and transport are separate. A [`SimFeed`] produces a venue's frames (from the
//! synthetic market in `market.rs` or from a recording) and answers its REST snapshot requests;
//! the server (`server.rs`) speaks WebSocket/HTTP over TCP or TLS and injects faults
//! (`fault.rs`) between the two.
//!
//! Nothing here matches on the venue: each venue's part (default markets, routes, number
//! styles, synthetic frames and REST answers, how its recordings replay, its private API) is
//! its [`SimVenue`], in `src/venue/<name>/sim.rs`, found through
//! [`Connector::sim`](crate::venue::Connector::sim).

pub mod cli;
pub mod fault;
pub mod market;
pub mod private;
pub mod recording;
pub mod server;
pub mod synthetic;
pub mod venue;
pub mod wire;

pub use market::{SyntheticConfig, SyntheticMarket};
pub use recording::{RecordingFeed, Speed};
pub use synthetic::{coincheck_frames, CoincheckFrames, FrameKind, SyntheticFeed};
pub use venue::SimVenue;

use crate::instrument::Venue;

/// Where a frame goes: the WebSocket path that serves it (`/v5/public/linear`, `/`, `/stream`).
pub type Route = &'static str;

/// One side of a book as exact decimal (price, size) strings, best first.
pub type BookSide = Vec<(String, String)>;

/// A REST answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestReply {
    pub status: u16,
    pub body: String,
}

/// A venue's content for the simulator.
pub trait SimFeed: Send {
    fn venue(&self) -> Venue;

    /// WebSocket paths this feed serves (e.g. Bybit `/v5/public/linear` and `/v5/public/spot`).
    fn routes(&self) -> &[Route];

    /// A client connected on `route`: frames to greet it with before anything else (bitbank's
    /// Engine.IO open packet). Nothing by default.
    fn on_connect(&mut self, route: Route) -> Vec<String> {
        let _ = route;
        Vec::new()
    }

    /// A client on `route` sent `frame` (a subscribe or a ping): frames to answer it with
    /// immediately, e.g. an ack and, for Bybit, the current snapshot of the subscribed book.
    fn on_client_frame(&mut self, route: Route, frame: &str) -> Vec<String>;

    /// Advances the market to `t_ns` (nanoseconds since the feed started) and appends the frames
    /// due by then, in order, with the route each goes to. Returns false when a finite source
    /// (a recording) is exhausted.
    fn advance(&mut self, t_ns: u64, out: &mut Vec<(Route, String)>) -> bool;

    /// A REST request (`/api/order_books?pair=btc_jpy`, `/api/v3/depth?symbol=BTCUSDT&limit=1000`).
    fn rest(&mut self, path_and_query: &str) -> RestReply;

    /// The simulator's own book for `symbol` as (bids best-first, asks best-first) in exact decimal
    /// strings, for tests that compare the client's book with the exchange's.
    fn book(&self, symbol: &str) -> Option<(BookSide, BookSide)>;

    /// Builds a crossed-book frame for the `crossed` fault (None if the venue can't express it).
    fn crossed_frame(&mut self) -> Option<(Route, String)>;
}

/// Builds the feed for `venue`: a recording when `input` is given (played at recorded pace; the
/// server scales time with `--speed`), else the synthetic market with `seed` (default 42).
pub fn feed_for(
    venue: Venue,
    input: Option<&std::path::Path>,
    seed: Option<u64>,
) -> Result<Box<dyn SimFeed>, String> {
    match input {
        Some(p) => Ok(Box::new(RecordingFeed::open(p, Speed::REALTIME)?)),
        None => Ok(Box::new(SyntheticFeed::default_for(
            venue,
            seed.unwrap_or(42),
        )?)),
    }
}
