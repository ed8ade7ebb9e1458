//! The [`Connector`] trait: everything the rest of the program asks of a venue.
//!
//! The live feed (`pipeline/live.rs`), the decoder dispatch ([`AnyDecoder`]), the config, the
//! replay input and the simulator never look at which venue they run; they ask the venue's
//! connector, found in the one table that lists the venues ([`Venue::connector`], in
//! `venue/table.rs`). Each venue's connector lives in its folder, `venue/<name>/connector.rs`.
//!
//! # What a connector answers
//!
//! | Method | What for | Example (Bybit) |
//! |---|---|---|
//! | [`Connector::venue`] | which table row it is | `Venue::Bybit` |
//! | [`Connector::default_market`] | `market.market` when the config leaves it out | linear |
//! | [`Connector::market_of_addr`] | the market a recorded connection address served | `.../v5/public/spot` → spot |
//! | [`Connector::live`] | WebSocket URL, subscribe frames, keepalive, resubscribe frames, WebSocket silence limit | `orderbook.50.BTCUSDT`, `{"op":"ping"}` |
//! | [`Connector::rest_snapshot`] | REST seeding: production host, path and depth of the book snapshot | `None`: snapshots come in-band |
//! | [`Connector::decoder`] | the feed stage's decoder for one connection | [`BybitDecoder`](super::bybit::BybitDecoder) |
//! | [`Connector::top_of_book`] | the venue's own top of book in a frame, for `verify-book` | `tickers.*` `bid1Price`/`ask1Price` at `cs`; `orderbook.*` `data.seq` |
//! | [`Connector::builtin_synthetic`] | whether `market.source = "synthetic"` (the no-network market) speaks it | false |
//! | [`Connector::drill`] | the connectivity drill's checks (`obi-scalp drill`), no orders | signed reads, `/v5/market/time`, both streams |
//! | [`Connector::drill_endpoints`] | the config keys of the endpoints the drill connects to | `market.ws_url`, `live.rest_url`, `live.private_ws_url` (`None`: no drill) |
//! | [`Connector::sim`] | the venue's part of the simulator (`obi-scalp sim`): its [`SimVenue`](crate::sim::SimVenue), in `venue/<name>/sim.rs` | markets linear and spot `BTCUSDT`, routes `/v5/public/*`, the private API of linear `BTCUSDT` |
//!
//! The private API (orders, fills, balances) will be one more method returning the venue's
//! order gateway; it is not part of the trait yet.
//!
//! # Adding a venue
//!
//! 1. Make the folder `src/venue/<name>/` with the files every venue has:
//!    - `mod.rs`: module docs (the protocol in a few lines, with the venue's doc references) and
//!      the venue's [`Decoder`](super::Decoder) for one connection (read with `wire.rs`, apply
//!      the rules of `sync.rs`);
//!    - `wire.rs`: the frames read into small borrowed structs (`read` on the simd-json tape;
//!      `read_fast` on the pull scanner where a fast path pays);
//!    - `sync.rs`: the venue's documented book-sync rules, turning frames into
//!      [`MdEvent`](crate::msg::MdEvent)s;
//!    - `connector.rs`: a unit struct implementing this trait;
//!    - `sim.rs`: the venue's part of the simulator ([`SimVenue`](crate::sim::SimVenue):
//!      default synthetic market, routes, number styles, synthetic frames and answers, and
//!      where served its recordings' replay and private API), handed out by
//!      [`Connector::sim`].
//! 2. Add its row to the table in `src/venue/table.rs` (one line: name, the texts that
//!    recognise it in hosts and exchange names, its connector and decoder types). The
//!    variant of [`Venue`] and the [`AnyDecoder`] variant come from that line.
//! 3. Add its instruments (tick, lot, quote) to the built-in instrument table
//!    (`src/instrument.rs`) or to the config's `[[instrument]]`.
//!
//! Nothing else changes: `obi-scalp run`, `record`, `book`, `replay`, `bench-latency` and `sim`
//! reach the venue through the table. `tests/venue_boundary.rs` fails when code outside
//! `src/venue/` names a venue variant or reaches into a venue folder.

use super::{AnyDecoder, BookRoutes, DecoderSettings};
use crate::instrument::{Market, Venue};
use crate::net::Keepalive;
use std::time::Duration;

/// What a connector needs to build its live connection for one instrument (from the config's
/// `[market]`).
#[derive(Debug, Clone, Copy)]
pub struct LiveParams<'a> {
    /// `market.ws_url` as configured (checked to be a `ws://` or `wss://` URL).
    pub ws_url: &'a str,
    /// The path and query of `ws_url` (always starting with `/`).
    pub ws_path: &'a str,
    pub market: Market,
    /// The symbol as the venue writes it (`BTCUSDT`, `btc_jpy`).
    pub symbol: &'a str,
    /// `market.stream_depth`: book depth of the subscription where the venue offers several.
    pub stream_depth: u32,
    /// `market.ping_interval`: how often to send the venue's keepalive.
    pub ping_interval: Duration,
    /// `market.max_silence`: a book turns `stale` after this much silence.
    pub max_silence: Duration,
}

/// The venue-specific half of a live connection (the live source adds backoff, TLS and
/// frame limits from the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSpec {
    /// The URL to connect to (Binance: `ws_url` with the combined streams named).
    pub ws_url: String,
    /// Frames sent after every (re)connect.
    pub subscribe: Vec<String>,
    pub keepalive: Keepalive,
    /// Frames sent on the open connection when the sync rules ask for a resync and the venue
    /// sends snapshots in-band (Bybit: unsubscribe and subscribe the book topic again). Empty
    /// for REST-seeded venues (the books are fetched again instead).
    pub resubscribe: Vec<String>,
    /// The WebSocket is dropped and reconnected after this much silence.
    pub ws_silence: Duration,
}

/// How a REST-seeded venue's book snapshot is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestSnapshot {
    /// The production REST host (`https://api.binance.com`); `market.rest_url` overrides it.
    pub base: &'static str,
    /// Levels per side asked for, where the venue takes a depth (Binance `limit=1000`).
    pub depth: Option<u32>,
}

/// How a venue's own top of book ([`TopItem::Quote`]) is matched to a state of our book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKey {
    /// By update id: the book after the last update whose id is at most this (Binance
    /// `bookTicker` `u` against the diffs' `u`; Bybit `tickers` `cs` against the book frames'
    /// cross sequence, given by [`TopItem::BookId`]).
    Id(u64),
    /// By receive time: the book after the last update received at or before the frame.
    Time,
}

/// What `verify-book` reads from one frame of a venue's stream (cold path; owned values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopItem {
    /// The venue's best bid and ask as it sent them (decimal text); `None` for a side a delta
    /// left out (carried forward from the symbol's previous quote).
    Quote {
        symbol: String,
        bid: Option<String>,
        ask: Option<String>,
        key: TopKey,
        /// The stream it came from, for the report (`bookTicker`, `tickers`).
        source: &'static str,
    },
    /// The mid price the venue sent along with a book update (bitFlyer `mid_price`): checked
    /// against our book right after this frame.
    Mid { symbol: String, mid: String },
    /// The id a book frame carries in the id space of the venue's quotes (Bybit `data.seq`,
    /// the cross sequence of `tickers` `cs`; Binance the diff's `u`), and the first id it
    /// holds when it spans several (Binance `U`): a quote whose id lies inside a span shows a
    /// state our book never had, and is not compared.
    BookId {
        symbol: String,
        first: Option<u64>,
        id: u64,
    },
}

/// A venue: see the [module docs](self) for what each method is for and how to add one.
///
/// Object safe and stateless: connectors are `&'static dyn Connector` unit structs; state
/// belongs in the decoder (feed thread) or the simulator's feed.
pub trait Connector: Sync {
    /// The table row this connector implements.
    fn venue(&self) -> Venue;

    /// The market a symbol means when the config does not name one.
    fn default_market(&self) -> Market {
        Market::Spot
    }

    /// The market a (recorded) connection address serves, when the address says it.
    fn market_of_addr(&self, addr: &str) -> Option<Market> {
        let _ = addr;
        None
    }

    /// URL, subscribe frames, keepalive and silence policy of a live connection.
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String>;

    /// REST seeding: `None` when snapshots come on the WebSocket.
    fn rest_snapshot(&self) -> Option<RestSnapshot> {
        None
    }

    /// The REST snapshot URL of `symbol` on `base` (`https://api.binance.com` or the
    /// simulator's `http://127.0.0.1:9101`). Only called when [`Connector::rest_snapshot`]
    /// is `Some`.
    fn snapshot_url(&self, base: &str, symbol: &str) -> String {
        let _ = symbol;
        base.to_string()
    }

    /// The feed stage's decoder for the books of `routes`, with the config's timings.
    fn decoder(&self, routes: BookRoutes, s: &DecoderSettings) -> AnyDecoder;

    /// The venue's own top of book in one received frame (`verify-book`): quotes, mids and
    /// book ids pushed to `out`. Nothing for a frame without any, or a venue without a
    /// top-of-book stream.
    fn top_of_book(&self, frame: &[u8], out: &mut Vec<TopItem>) {
        let _ = (frame, out);
    }

    /// Whether the built-in no-network synthetic market (`market.source = "synthetic"`)
    /// speaks this venue's protocol.
    fn builtin_synthetic(&self) -> bool {
        false
    }

    /// The connectivity drill (`obi-scalp drill`): auth, clock, account reads, both streams
    /// and their reconnects, rate-limit headroom; no order is placed. `None`: this venue has
    /// no drill in this build.
    fn drill(&self, p: &crate::ops::drill::Params<'_>) -> Option<Vec<crate::ops::drill::Check>> {
        let _ = p;
        None
    }

    /// The config keys of the endpoints the drill connects to (checked to be on this machine
    /// without `OBI_SCALP_DRILL_REAL_CONNECT=1`, and named in the report). `None`: this venue
    /// has no drill in this build (and [`Connector::drill`] is `None` too).
    fn drill_endpoints(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// The venue's part of the simulator (`venue/<name>/sim.rs`): what `obi-scalp sim` needs
    /// to speak its protocol. `None`: the simulator does not serve this venue.
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        None
    }
}
