//! Synthetic venue feeds: [`SyntheticMarket`]s spoken in a venue's wire format.
//!
//! [`SyntheticFeed`] is the simulator server's content for every [`simulated`] venue: it
//! keeps the books, steps the markets in time order and finds books by symbol; what a venue
//! sends per step and answers (WebSocket and REST) is the venue's [`SyntheticVenue`], in
//! `src/venue/<name>/sim.rs`. [`CoincheckFrames`] is the no-network path: Coincheck frames
//! straight from one market, the REST seed first, into a reused buffer.
//!
//! Per venue (the venues' `SyntheticVenue`s):
//! - Coincheck (`/`): a trades frame (when a step traded) then a book diff per step; no acks, no
//!   sequence numbers; REST `/api/order_books?pair=..` returns the best `rest_depth` levels.
//! - Bybit (`/v5/public/linear`, `/v5/public/spot`): nothing is sent for a topic until it is
//!   subscribed; every subscribe is acked and answered with a snapshot of the topic's current
//!   window (per connection), then deltas continue the topic's `u` by one. The window holds
//!   exactly the best `depth` levels per side; levels leaving it are sent with size 0.
//! - Binance (`/ws` raw and `/stream` combined): a `depthUpdate` per step with `U = last u + 1`
//!   and `u` advanced by the step's book operations; REST `/api/v3/depth` carries the last `u`
//!   as `lastUpdateId`. Trades are not simulated on Binance.
//! - GMO Coin (`/ws/public/v1`): every step that changed the book sends the whole book's best
//!   [`GMOCOIN_DEPTH`] levels a side as one `orderbooks` frame (no sequence); a subscribe is
//!   answered with the current book at once, a bad one with `ERR-5106`; `trades` frames once
//!   some client subscribed them. REST `/public/v1/orderbooks?symbol=..`.
//! - bitbank (`/socket.io/`): the Engine.IO open packet on connect, `40` answered, a
//!   `join-room` of `depth_whole_{pair}` answered with a whole of the full book; per step a
//!   `depth_diff` whose `s` steps by 1 to 5 (one counter shared by all pairs at the venue, so
//!   never consecutive), a whole every [`BITBANK_WHOLE_NS`] and a `2` ping every
//!   [`BITBANK_PING_NS`] of feed time; `transactions` per step that traded. REST `/{pair}/depth`.
//!
//! - bitFlyer (`/json-rpc`): JSON-RPC 2.0; a `subscribe` with an `id` is answered `result:
//!   true` (an unknown channel `-32602`), none is answered without one; per step a
//!   `lightning_board_{product}` diff of the changed levels with the `mid_price` floored to the
//!   tick (no sequence, as the venue), `lightning_executions_{product}` per step that traded and
//!   a `lightning_ticker_{product}` when the best bid or ask changed; a
//!   `lightning_board_snapshot_{product}` of the whole book every [`BITFLYER_SNAPSHOT_NS`] of
//!   feed time, and [`BITFLYER_FIRST_SNAPSHOT_NS`] after a snapshot channel is subscribed (the
//!   venue sends none on subscribe: diffs come first). No REST.
//!
//! Frames of a route go to every client on it; filtering by subscription is the server's.

use crate::instrument::{Market, Venue};
use crate::msg::Side;
use crate::sim::market::{SyntheticConfig, SyntheticMarket};
use crate::sim::wire::{coincheck, LevelFmt, TickDirection};
use crate::sim::{BookSide, RestReply, Route, SimFeed};
use serde_json::Value;
use std::fmt::Debug;

/// Bybit depths the simulator serves (each needs at least that many levels in the market).
pub const BYBIT_DEPTHS: [usize; 3] = [50, 200, 1000];

/// Coincheck REST depth per side by default.
pub const COINCHECK_REST_DEPTH: usize = 50;

/// Levels a side in every GMO Coin `orderbooks` frame (the probe always saw 30).
pub const GMOCOIN_DEPTH: usize = 30;

/// bitbank: a `depth_whole` every 15 s of feed time (VENUES.md 1.5).
pub const BITBANK_WHOLE_NS: u64 = 15_000_000_000;

/// bitbank: the Engine.IO ping interval (the open packet's `pingInterval`).
pub const BITBANK_PING_NS: u64 = 25_000_000_000;

/// bitFlyer: a board snapshot every 5 s of feed time (VENUES.md 1.3).
pub const BITFLYER_SNAPSHOT_NS: u64 = 5_000_000_000;

/// bitFlyer: the first snapshot after a subscribe comes this much later (the venue: 0.6-3.7 s).
pub const BITFLYER_FIRST_SNAPSHOT_NS: u64 = 1_000_000_000;

/// The venues the synthetic feed speaks (those whose connector has a
/// [`SimVenue`](crate::sim::SimVenue)), in table order.
pub fn simulated() -> impl Iterator<Item = Venue> {
    Venue::ALL
        .into_iter()
        .filter(|v| synthetic_of(*v).is_some())
}

/// `coincheck, bybit, binance, bitflyer, gmocoin, bitbank or binance_usdm`.
pub fn simulated_list() -> String {
    let names: Vec<&str> = simulated().map(|v| v.as_str()).collect();
    crate::venue::table::or_list(&names)
}

/// The venue's synthetic protocol, `None` when the simulator does not serve it.
fn synthetic_of(v: Venue) -> Option<&'static dyn SyntheticVenue> {
    Some(v.connector()?.sim()?.synthetic())
}

/// One Bybit `orderbook.{depth}` topic: what its subscribers hold (the best `depth` levels
/// a side) and the delta of the last update.
#[derive(Debug, Clone)]
pub struct Window {
    pub depth: usize,
    pub u: u64,
    pub bids: Vec<(i64, i64)>,
    pub asks: Vec<(i64, i64)>,
    scratch: Vec<(i64, i64)>,
    pub delta_b: Vec<(i64, i64)>,
    pub delta_a: Vec<(i64, i64)>,
}

impl Window {
    /// The window of the best `depth` levels of `m`, at update id `u`.
    pub fn new(depth: usize, u: u64, m: &SyntheticMarket) -> Window {
        Window {
            depth,
            u,
            bids: m.levels(Side::Bid).take(depth).collect(),
            asks: m.levels(Side::Ask).take(depth).collect(),
            scratch: Vec::with_capacity(depth),
            delta_b: Vec::with_capacity(64),
            delta_a: Vec::with_capacity(64),
        }
    }

    /// Recomputes the window from the market; true when the subscribers need a delta.
    pub fn update(&mut self, m: &SyntheticMarket) -> bool {
        self.delta_b.clear();
        self.delta_a.clear();
        let d = self.depth;
        diff_side(
            &mut self.bids,
            m.levels(Side::Bid).take(d),
            true,
            &mut self.scratch,
            &mut self.delta_b,
        );
        diff_side(
            &mut self.asks,
            m.levels(Side::Ask).take(d),
            false,
            &mut self.scratch,
            &mut self.delta_a,
        );
        !(self.delta_b.is_empty() && self.delta_a.is_empty())
    }
}

/// Merges the old and new best-first windows of one side: new or resized levels with their
/// size, levels that left with 0. Leaves the new window in `vis`.
fn diff_side(
    vis: &mut Vec<(i64, i64)>,
    new: impl Iterator<Item = (i64, i64)>,
    is_bid: bool,
    scratch: &mut Vec<(i64, i64)>,
    out: &mut Vec<(i64, i64)>,
) {
    scratch.clear();
    scratch.extend(new);
    let better = |a: i64, b: i64| if is_bid { a > b } else { a < b };
    let (mut i, mut j) = (0, 0);
    while i < vis.len() || j < scratch.len() {
        if j == scratch.len() || (i < vis.len() && better(vis[i].0, scratch[j].0)) {
            out.push((vis[i].0, 0));
            i += 1;
        } else if i == vis.len() || better(scratch[j].0, vis[i].0) {
            out.push(scratch[j]);
            j += 1;
        } else {
            if vis[i].1 != scratch[j].1 {
                out.push(scratch[j]);
            }
            i += 1;
            j += 1;
        }
    }
    std::mem::swap(vis, scratch);
}

/// One simulated book and its venue-side state (the fields a venue's [`SyntheticVenue`]
/// keeps per book).
#[derive(Debug, Clone)]
pub struct SimBook {
    pub m: SyntheticMarket,
    pub fmt: LevelFmt,
    pub route: Route,
    /// Bybit: subscribed `orderbook` topics.
    pub windows: Vec<Window>,
    /// Bybit, GMO Coin: trades subscribed.
    pub trades_on: bool,
    /// Bybit cross sequence.
    pub seq: u64,
    pub dir: TickDirection,
    /// Binance: last update id sent; bitbank: last `s` sent; bitFlyer: last ticker `tick_id`.
    pub last_id: u64,
    /// bitbank: feed time of the next whole and the next ping; bitFlyer: of the next snapshot.
    pub next_whole_ns: u64,
    /// bitFlyer: the best bid and ask of the last ticker sent.
    pub last_top: Option<((i64, i64), (i64, i64))>,
    pub next_ping_ns: u64,
}

impl SimBook {
    /// The symbol as the venue writes it.
    pub fn symbol(&self) -> &str {
        self.m.instrument().key.symbol.as_str()
    }

    pub fn market(&self) -> Market {
        self.m.instrument().key.market
    }

    /// Wall time of the market's current event time.
    pub fn unix_ns(&self) -> u64 {
        self.m.config().start_unix_ns + self.m.now_ns()
    }

    /// (`ts`, `cts`) in Unix milliseconds: now, and a little earlier (Bybit's matching time).
    pub fn ts_ms(&self) -> (u64, u64) {
        let ts = crate::sim::wire::unix_ms(self.unix_ns());
        (ts, ts.saturating_sub(1 + self.m.last_step().step % 4))
    }
}

/// The feed's state a venue's [`SyntheticVenue`] works on.
#[derive(Debug, Clone)]
pub struct SynthState {
    /// The books, in configuration order.
    pub books: Vec<SimBook>,
    /// Levels per side in REST answers (Coincheck, GMO Coin; default [`COINCHECK_REST_DEPTH`]).
    pub rest_depth: usize,
    /// A scratch buffer (Binance: the raw payload before wrapping).
    pub raw: String,
    /// Connections greeted (bitbank session ids).
    pub conns: u64,
}

/// A venue's synthetic protocol: its frames per market step, its answers to clients and REST
/// requests, its crossed-book frame. Each venue's is in `venue/<name>/sim.rs`, handed out by
/// its [`SimVenue::synthetic`](crate::sim::SimVenue::synthetic).
pub trait SyntheticVenue: Sync + Debug {
    /// The WebSocket route serving `market`.
    fn route(&self, market: Market) -> Route;

    /// The routes served, given the books' routes in order (Binance serves raw and combined
    /// streams alike).
    fn served_routes(&self, book_routes: Vec<Route>) -> Vec<Route> {
        book_routes
    }

    /// Sets the venue's per-book state of a new book (timers).
    fn init_book(&self, b: &mut SimBook) {
        let _ = b;
    }

    /// Book `i` has just stepped: the frames that step sends, in order, with their routes.
    fn on_step(&self, st: &mut SynthState, i: usize, out: &mut Vec<(Route, String)>);

    /// A client connected on `route`: frames to greet it with.
    fn on_connect(&self, st: &mut SynthState, route: Route) -> Vec<String> {
        let _ = (st, route);
        Vec::new()
    }

    /// A client on `route` sent `frame`: the answers.
    fn on_client_frame(&self, st: &mut SynthState, route: Route, frame: &str) -> Vec<String>;

    /// A REST request for `path` with `query`.
    fn rest(&self, st: &SynthState, path: &str, query: &[(&str, &str)]) -> RestReply {
        let _ = (st, query);
        not_found(path)
    }

    /// A frame crossing the client's book (a bid above the best ask), with its route.
    fn crossed_frame(&self, st: &mut SynthState) -> Option<(Route, String)>;
}

/// A synthetic venue for the simulator server: one or more markets of one venue.
#[derive(Debug, Clone)]
pub struct SyntheticFeed {
    venue: Venue,
    proto: &'static dyn SyntheticVenue,
    routes: Vec<Route>,
    st: SynthState,
}

impl SyntheticFeed {
    /// A feed of `venue` (one of [`simulated`]) over the markets `cfgs` (all of that
    /// venue, distinct market and symbol).
    pub fn new(venue: Venue, cfgs: Vec<SyntheticConfig>) -> Result<SyntheticFeed, String> {
        let Some(proto) = synthetic_of(venue) else {
            return Err(format!(
                "synthetic feed: venue `{venue}` is not simulated (expected {})",
                simulated_list()
            ));
        };
        if cfgs.is_empty() {
            return Err("synthetic feed: no markets configured".into());
        }
        let mut books: Vec<SimBook> = Vec::with_capacity(cfgs.len());
        let mut routes_used: Vec<Route> = Vec::new();
        for cfg in cfgs {
            let key = cfg.instrument.key;
            if key.venue != venue {
                return Err(format!(
                    "synthetic feed: instrument {key} is not a {venue} instrument"
                ));
            }
            if books.iter().any(|b| b.m.instrument().key == key) {
                return Err(format!("synthetic feed: instrument {key} configured twice"));
            }
            let route = proto.route(key.market);
            let m = SyntheticMarket::new(cfg).map_err(|e| format!("{key}: {e}"))?;
            let base_id = 10_000_000 + cfg.seed % 1_000_000;
            let mut book = SimBook {
                fmt: LevelFmt::for_venue(&cfg.instrument, cfg.wire_px_decimals),
                route,
                windows: Vec::new(),
                trades_on: false,
                seq: 100_000_000_000 + (cfg.seed % 1_000_000) * 1_000,
                dir: TickDirection::default(),
                last_id: base_id,
                next_whole_ns: 0,
                next_ping_ns: 0,
                last_top: None,
                m,
            };
            proto.init_book(&mut book);
            books.push(book);
            if !routes_used.contains(&route) {
                routes_used.push(route);
            }
        }
        Ok(SyntheticFeed {
            venue,
            proto,
            routes: proto.served_routes(routes_used),
            st: SynthState {
                books,
                rest_depth: COINCHECK_REST_DEPTH,
                raw: String::with_capacity(1024),
                conns: 0,
            },
        })
    }

    /// The default BTC market(s) of a venue (its [`SimVenue::synthetic_markets`](crate::sim::SimVenue::synthetic_markets)):
    /// Coincheck `btc_jpy`; Bybit linear and spot `BTCUSDT`; Binance `BTCUSDT`; ...
    pub fn default_for(venue: Venue, seed: u64) -> Result<SyntheticFeed, String> {
        let cfgs = venue
            .connector()
            .and_then(|c| c.sim())
            .map(|s| s.synthetic_markets(seed))
            .unwrap_or_default();
        SyntheticFeed::new(venue, cfgs)
    }

    /// Levels per side in Coincheck's REST order book (default 50).
    pub fn with_rest_depth(mut self, depth: usize) -> SyntheticFeed {
        self.st.rest_depth = depth.max(1);
        self
    }

    /// The simulated markets, in configuration order.
    pub fn markets(&self) -> impl Iterator<Item = &SyntheticMarket> {
        self.st.books.iter().map(|b| &b.m)
    }

    /// Time of the earliest next event over all markets (ns since the start).
    pub fn next_event_ns(&self) -> u64 {
        self.st
            .books
            .iter()
            .map(|b| b.m.next_event_ns())
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Finds a book by symbol, optionally qualified by market (`spot:BTCUSDT`, `linear:BTCUSDT`,
    /// or a `BookKey` display like `bybit_spot:BTCUSDT`); case-insensitive.
    fn find(&self, symbol: &str) -> Option<usize> {
        let (market, sym) = match symbol.rsplit_once(':') {
            Some((q, s)) => {
                let q = q.rsplit('_').next().unwrap_or(q);
                (Some(q.parse::<Market>().ok()?), s)
            }
            None => (None, symbol),
        };
        self.st.books.iter().position(|b| {
            b.symbol().eq_ignore_ascii_case(sym) && market.is_none_or(|m| m == b.market())
        })
    }

    fn step_book(&mut self, i: usize, out: &mut Vec<(Route, String)>) {
        self.st.books[i].m.step();
        self.proto.on_step(&mut self.st, i, out);
    }
}

/// The value of `key` in a split query.
pub fn param<'a>(query: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The 404 answer naming `path`.
pub fn not_found(path: &str) -> RestReply {
    RestReply {
        status: 404,
        body: format!(
            "{{\"error\":{}}}",
            Value::from(format!("no such endpoint: {path}"))
        ),
    }
}

/// Splits `/path?a=1&b=2` into the path and its (unescaped) parameters.
pub(crate) fn split_query(path_and_query: &str) -> (&str, Vec<(&str, &str)>) {
    let (path, q) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let params = q
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect();
    (path, params)
}

impl SimFeed for SyntheticFeed {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn routes(&self) -> &[Route] {
        &self.routes
    }

    fn on_connect(&mut self, route: Route) -> Vec<String> {
        self.proto.on_connect(&mut self.st, route)
    }

    fn on_client_frame(&mut self, route: Route, frame: &str) -> Vec<String> {
        self.proto.on_client_frame(&mut self.st, route, frame)
    }

    fn advance(&mut self, t_ns: u64, out: &mut Vec<(Route, String)>) -> bool {
        loop {
            let mut next: Option<(usize, u64)> = None;
            for (i, b) in self.st.books.iter().enumerate() {
                let t = b.m.next_event_ns();
                if t <= t_ns && next.is_none_or(|(_, bt)| t < bt) {
                    next = Some((i, t));
                }
            }
            let Some((i, _)) = next else { break };
            self.step_book(i, out);
        }
        true
    }

    fn rest(&mut self, path_and_query: &str) -> RestReply {
        let (path, query) = split_query(path_and_query);
        self.proto.rest(&self.st, path, &query)
    }

    fn book(&self, symbol: &str) -> Option<(BookSide, BookSide)> {
        let b = &self.st.books[self.find(symbol)?];
        let inst = b.m.instrument();
        let fmt = |(p, q): (i64, i64)| (inst.tick.format(p), inst.lot.format(q));
        Some((
            b.m.levels(Side::Bid).map(fmt).collect(),
            b.m.levels(Side::Ask).map(fmt).collect(),
        ))
    }

    fn crossed_frame(&mut self) -> Option<(Route, String)> {
        self.proto.crossed_frame(&mut self.st)
    }
}

/// What a [`CoincheckFrames`] frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The REST `/api/order_books` body that seeds the book (always first).
    RestSnapshot,
    /// A WebSocket `btc_jpy-orderbook` diff.
    BookDiff,
    /// A WebSocket `btc_jpy-trades` frame.
    Trades,
}

/// Coincheck wire frames straight from a synthetic market, without a network: the REST seed
/// body first, then per step a trades frame (when it traded) and a book diff.
#[derive(Debug, Clone)]
pub struct CoincheckFrames {
    m: SyntheticMarket,
    fmt: LevelFmt,
    rest_depth: usize,
    trades: bool,
    rest_sent: bool,
    diff_pending: bool,
}

impl CoincheckFrames {
    /// Coincheck `btc_jpy` with the default market ([`SyntheticConfig::coincheck_btc_jpy`]).
    pub fn new(seed: u64) -> CoincheckFrames {
        CoincheckFrames::with_config(
            SyntheticConfig::coincheck_btc_jpy(seed),
            COINCHECK_REST_DEPTH,
            true,
        )
        .expect("the default Coincheck market is valid")
    }

    /// Frames of the market `cfg` (a Coincheck instrument), `rest_depth` levels per side in the
    /// REST seed, with or without trades frames.
    pub fn with_config(
        cfg: SyntheticConfig,
        rest_depth: usize,
        trades: bool,
    ) -> Result<CoincheckFrames, String> {
        // The built-in no-network market speaks Coincheck (its connector says so).
        let speaks = cfg.instrument.key.venue.connector();
        if !speaks.is_some_and(|c| c.builtin_synthetic()) {
            return Err(format!(
                "Coincheck frames: instrument {} is not a Coincheck instrument",
                cfg.instrument.key
            ));
        }
        Ok(CoincheckFrames {
            fmt: LevelFmt::for_venue(&cfg.instrument, cfg.wire_px_decimals),
            m: SyntheticMarket::new(cfg)?,
            rest_depth: rest_depth.max(1),
            trades,
            rest_sent: false,
            diff_pending: false,
        })
    }

    /// The market behind the frames (its book is the exchange's true book).
    pub fn market(&self) -> &SyntheticMarket {
        &self.m
    }

    /// Writes the next frame into `buf` (cleared first) and returns its event time (ns since
    /// the start; add `market().config().start_unix_ns` for wall time) and kind. The stream
    /// is endless; `None` is never returned today but keeps the door open for finite sources.
    pub fn next_frame(&mut self, buf: &mut String) -> Option<(u64, FrameKind)> {
        buf.clear();
        let pair = self.m.instrument().key.symbol;
        if !self.rest_sent {
            self.rest_sent = true;
            coincheck::order_books(
                buf,
                &self.fmt,
                self.m.levels(Side::Bid),
                self.m.levels(Side::Ask),
                self.rest_depth,
            );
            return Some((self.m.now_ns(), FrameKind::RestSnapshot));
        }
        let start = self.m.config().start_unix_ns;
        if self.diff_pending {
            self.diff_pending = false;
            let s = self.m.last_step();
            coincheck::diff(buf, &pair, &self.fmt, &s.changes, start + s.t_ns);
            return Some((s.t_ns, FrameKind::BookDiff));
        }
        loop {
            let s = self.m.step();
            if self.trades && !s.trades.is_empty() {
                coincheck::trades(buf, &pair, &self.fmt, &s.trades, start + s.t_ns);
                self.diff_pending = !s.changes.is_empty();
                return Some((s.t_ns, FrameKind::Trades));
            }
            if !s.changes.is_empty() {
                coincheck::diff(buf, &pair, &self.fmt, &s.changes, start + s.t_ns);
                return Some((s.t_ns, FrameKind::BookDiff));
            }
        }
    }
}

/// The first `n` frames of [`CoincheckFrames::new(seed)`](CoincheckFrames::new) as owned
/// strings (allocates per frame; use `next_frame` with a reused buffer on a hot loop).
pub fn coincheck_frames(seed: u64, n: usize) -> impl Iterator<Item = (u64, FrameKind, String)> {
    let mut src = CoincheckFrames::new(seed);
    (0..n).map_while(move |_| {
        let mut buf = String::new();
        let (t, k) = src.next_frame(&mut buf)?;
        Some((t, k, buf))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::Instrument;
    use crate::sim::market::Levels;
    use crate::sim::wire::routes;
    use crate::venue::gmocoin::sim_frames as gmocoin;
    use std::collections::BTreeMap;

    type Map = BTreeMap<i64, i64>;

    fn parse(v: &str) -> Value {
        serde_json::from_str(v).unwrap_or_else(|e| panic!("not JSON ({e}): {v}"))
    }

    /// Applies `[["px","qty"],..]` to a side; returns the number of levels.
    fn apply(map: &mut Map, levels: &Value, inst: &Instrument) -> usize {
        let levels = levels.as_array().expect("levels array");
        for l in levels {
            let px = inst.tick.parse(l[0].as_str().unwrap().as_bytes()).unwrap();
            let qty = inst.lot.parse(l[1].as_str().unwrap().as_bytes()).unwrap();
            if qty == 0 {
                map.remove(&px);
            } else {
                map.insert(px, qty);
            }
        }
        levels.len()
    }

    fn truth(feed: &SyntheticFeed, sym: &str, inst: &Instrument) -> (Levels, Levels) {
        let (b, a) = feed.book(sym).unwrap();
        let p = |v: Vec<(String, String)>| -> Vec<(i64, i64)> {
            v.iter()
                .map(|(p, q)| {
                    (
                        inst.tick.parse(p.as_bytes()).unwrap(),
                        inst.lot.parse(q.as_bytes()).unwrap(),
                    )
                })
                .collect()
        };
        (p(b), p(a))
    }

    fn best_first(bids: &Map, asks: &Map, n: usize) -> (Levels, Levels) {
        (
            bids.iter().rev().take(n).map(|(&p, &q)| (p, q)).collect(),
            asks.iter().take(n).map(|(&p, &q)| (p, q)).collect(),
        )
    }

    fn crossed(bids: &Map, asks: &Map) -> bool {
        matches!((bids.keys().next_back(), asks.keys().next()), (Some(b), Some(a)) if b >= a)
    }

    const SEC: u64 = 1_000_000_000;

    fn run(venue: Venue, seed: u64, secs: u64) -> Vec<(Route, String)> {
        let mut f = SyntheticFeed::default_for(venue, seed).unwrap();
        let mut out = Vec::new();
        if venue == Venue::Bybit {
            for r in [routes::BYBIT_LINEAR, routes::BYBIT_SPOT] {
                let sub =
                    r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT","publicTrade.BTCUSDT"]}"#;
                out.extend(f.on_client_frame(r, sub).into_iter().map(|s| (r, s)));
            }
        }
        let mut t = 0;
        while t < secs * SEC {
            t += SEC / 4;
            f.advance(t, &mut out);
        }
        out
    }

    #[test]
    fn same_seed_gives_byte_identical_frames() {
        for venue in simulated() {
            let a = run(venue, 77, 30);
            let b = run(venue, 77, 30);
            assert!(a.len() >= 60, "{venue}: {} frames", a.len());
            assert_eq!(a, b, "{venue}");
            let c = run(venue, 78, 30);
            assert_ne!(a, c, "{venue}: seed must matter");
        }
    }

    #[test]
    fn coincheck_rest_then_diffs_rebuild_the_exchange_book() {
        let inst = *SyntheticFeed::default_for(Venue::Coincheck, 1)
            .unwrap()
            .markets()
            .next()
            .unwrap()
            .instrument();
        // Full-depth REST: the client book equals the exchange book exactly.
        let mut f = SyntheticFeed::default_for(Venue::Coincheck, 5)
            .unwrap()
            .with_rest_depth(100_000);
        let mut out = Vec::new();
        f.advance(20 * SEC, &mut out);
        let rest = f.rest("/api/order_books?pair=btc_jpy");
        assert_eq!(rest.status, 200);
        let v = parse(&rest.body);
        let (mut bids, mut asks) = (Map::new(), Map::new());
        apply(&mut bids, &v["bids"], &inst);
        apply(&mut asks, &v["asks"], &inst);
        assert_eq!(
            best_first(&bids, &asks, usize::MAX),
            truth(&f, "btc_jpy", &inst)
        );
        // Coincheck's REST lists asks ascending and bids descending.
        let px = |l: &Value| inst.tick.parse(l[0].as_str().unwrap().as_bytes()).unwrap();
        let a: Vec<i64> = v["asks"].as_array().unwrap().iter().map(px).collect();
        assert!(a.windows(2).all(|w| w[0] < w[1]));

        // Default 50 levels: exact above the snapshot's worst levels.
        let mut g = SyntheticFeed::default_for(Venue::Coincheck, 5).unwrap();
        g.advance(20 * SEC, &mut Vec::new());
        let v = parse(&g.rest("/api/order_books?pair=btc_jpy").body);
        assert_eq!(v["bids"].as_array().unwrap().len(), 50);
        let (mut gb, mut ga) = (Map::new(), Map::new());
        apply(&mut gb, &v["bids"], &inst);
        apply(&mut ga, &v["asks"], &inst);
        let (bid_floor, ask_cap) = (*gb.keys().next().unwrap(), *ga.keys().next_back().unwrap());

        let (mut diffs, mut trades) = (0, 0);
        for step in 1..=400u64 {
            out.clear();
            let t = 20 * SEC + step * SEC / 2;
            f.advance(t, &mut out);
            let mut gout = Vec::new();
            g.advance(t, &mut gout);
            for (frames, b, a) in [(&out, &mut bids, &mut asks), (&gout, &mut gb, &mut ga)] {
                for (route, frame) in frames.iter() {
                    assert_eq!(*route, routes::COINCHECK);
                    let v = parse(frame);
                    if v[0].is_array() {
                        trades += 1;
                        for t in v.as_array().unwrap() {
                            assert_eq!(t.as_array().unwrap().len(), 8);
                            assert_eq!(t[2], "btc_jpy");
                            assert!(t[5] == "buy" || t[5] == "sell");
                            inst.tick.parse(t[3].as_str().unwrap().as_bytes()).unwrap();
                            assert!(inst.lot.parse(t[4].as_str().unwrap().as_bytes()).unwrap() > 0);
                        }
                        continue;
                    }
                    assert_eq!(v[0], "btc_jpy");
                    assert!(v[1]["last_update_at"]
                        .as_str()
                        .unwrap()
                        .parse::<u64>()
                        .is_ok());
                    diffs += 1;
                    apply(b, &v[1]["bids"], &inst);
                    apply(a, &v[1]["asks"], &inst);
                }
            }
            assert!(!crossed(&bids, &asks));
            assert_eq!(
                best_first(&bids, &asks, usize::MAX),
                truth(&f, "btc_jpy", &inst)
            );
            let (tb, ta) = truth(&g, "btc_jpy", &inst);
            let band = |m: &Map, keep: &dyn Fn(i64) -> bool| -> Vec<(i64, i64)> {
                m.iter()
                    .filter(|(p, _)| keep(**p))
                    .map(|(&p, &q)| (p, q))
                    .collect()
            };
            let mut tbm: Vec<_> = tb.into_iter().filter(|(p, _)| *p >= bid_floor).collect();
            tbm.reverse();
            assert_eq!(band(&gb, &|p| p >= bid_floor), tbm);
            let tam: Vec<_> = ta.into_iter().filter(|(p, _)| *p <= ask_cap).collect();
            assert_eq!(band(&ga, &|p| p <= ask_cap), tam);
        }
        assert!(diffs > 300 && trades > 50, "diffs {diffs}, trades {trades}");
    }

    #[test]
    fn bybit_snapshot_then_deltas_keep_exactly_the_best_200() {
        let mut f = SyntheticFeed::default_for(Venue::Bybit, 9).unwrap();
        let mut out = Vec::new();
        f.advance(5 * SEC, &mut out);
        assert!(out.is_empty(), "nothing before a subscribe");
        for (route, market, sym) in [
            (routes::BYBIT_LINEAR, Market::Linear, "linear:BTCUSDT"),
            (routes::BYBIT_SPOT, Market::Spot, "spot:BTCUSDT"),
        ] {
            let inst = *f
                .markets()
                .find(|m| m.instrument().key.market == market)
                .unwrap()
                .instrument();
            let r = f.on_client_frame(
                route,
                r#"{"req_id":"a1","op":"subscribe","args":["orderbook.200.BTCUSDT","publicTrade.BTCUSDT"]}"#,
            );
            assert_eq!(r.len(), 2);
            let ack = parse(&r[0]);
            assert_eq!(ack["success"], true);
            assert_eq!(ack["op"], "subscribe");
            let snap = parse(&r[1]);
            assert_eq!(snap["type"], "snapshot");
            assert_eq!(snap["topic"], "orderbook.200.BTCUSDT");
            let key_order_spot = r[1].find("\"ts\"").unwrap() < r[1].find("\"type\"").unwrap();
            assert_eq!(key_order_spot, market == Market::Spot);
            let (mut bids, mut asks) = (Map::new(), Map::new());
            assert_eq!(apply(&mut bids, &snap["data"]["b"], &inst), 200);
            assert_eq!(apply(&mut asks, &snap["data"]["a"], &inst), 200);
            let u = snap["data"]["u"].as_u64().unwrap();
            assert!(u > 1);
            let (tb, ta) = truth(&f, sym, &inst);
            assert_eq!(
                best_first(&bids, &asks, 200),
                (tb[..200].to_vec(), ta[..200].to_vec())
            );
        }
        // Replay both topics from their snapshots.
        let mut state: Vec<(Route, Market, Map, Map, u64, Option<i64>)> = Vec::new();
        for (route, market) in [
            (routes::BYBIT_LINEAR, Market::Linear),
            (routes::BYBIT_SPOT, Market::Spot),
        ] {
            let r = f.on_client_frame(
                route,
                r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT"]}"#,
            );
            let snap = parse(&r[1]);
            let inst = *f
                .markets()
                .find(|m| m.instrument().key.market == market)
                .unwrap()
                .instrument();
            let (mut b, mut a) = (Map::new(), Map::new());
            apply(&mut b, &snap["data"]["b"], &inst);
            apply(&mut a, &snap["data"]["a"], &inst);
            state.push((
                route,
                market,
                b,
                a,
                snap["data"]["u"].as_u64().unwrap(),
                None,
            ));
        }
        let (mut deltas, mut trades, mut removed_edge) = (0, 0, 0);
        let mut t = 5 * SEC;
        for _ in 0..300 {
            t += SEC / 10;
            out.clear();
            f.advance(t, &mut out);
            for (route, frame) in &out {
                let v = parse(frame);
                let st = state.iter_mut().find(|s| s.0 == *route).unwrap();
                let inst = *f
                    .markets()
                    .find(|m| m.instrument().key.market == st.1)
                    .unwrap()
                    .instrument();
                let topic = v["topic"].as_str().unwrap();
                if topic.starts_with("publicTrade.") {
                    trades += 1;
                    let d = &v["data"][0];
                    assert!(d["S"] == "Buy" || d["S"] == "Sell");
                    inst.lot.parse(d["v"].as_str().unwrap().as_bytes()).unwrap();
                    continue;
                }
                assert_eq!(v["type"], "delta");
                let u = v["data"]["u"].as_u64().unwrap();
                assert_eq!(u, st.4 + 1, "u continues by one");
                st.4 = u;
                deltas += 1;
                let worst = st.2.keys().next().copied();
                apply(&mut st.2, &v["data"]["b"], &inst);
                apply(&mut st.3, &v["data"]["a"], &inst);
                if worst.is_some() && st.2.keys().next().copied() != worst {
                    removed_edge += 1;
                }
                assert_eq!(st.2.len(), 200, "bids window");
                assert_eq!(st.3.len(), 200, "asks window");
                assert!(!crossed(&st.2, &st.3));
            }
            for st in &state {
                let sym = if st.1 == Market::Spot {
                    "spot:BTCUSDT"
                } else {
                    "linear:BTCUSDT"
                };
                let inst = *f
                    .markets()
                    .find(|m| m.instrument().key.market == st.1)
                    .unwrap()
                    .instrument();
                let (tb, ta) = truth(&f, sym, &inst);
                assert_eq!(
                    best_first(&st.2, &st.3, 200),
                    (tb[..200].to_vec(), ta[..200].to_vec())
                );
            }
        }
        assert!(
            deltas > 500 && trades > 100 && removed_edge > 10,
            "{deltas} {trades} {removed_edge}"
        );
    }

    #[test]
    fn bybit_rejects_unknown_topics_and_answers_pings() {
        let mut f = SyntheticFeed::default_for(Venue::Bybit, 1).unwrap();
        let r = f.on_client_frame(
            routes::BYBIT_LINEAR,
            r#"{"op":"subscribe","args":["orderbook.200.ETHUSDT"]}"#,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(parse(&r[0])["success"], false);
        assert!(r[0].contains("orderbook.200.ETHUSDT"));
        let r = f.on_client_frame(
            routes::BYBIT_LINEAR,
            r#"{"op":"subscribe","args":["orderbook.7.BTCUSDT"]}"#,
        );
        assert_eq!(parse(&r[0])["success"], false);
        let r = f.on_client_frame(
            routes::BYBIT_LINEAR,
            r#"{"op":"subscribe","args":["orderbook.1000.BTCUSDT"]}"#,
        );
        assert_eq!(parse(&r[0])["success"], false, "only 260 levels simulated");
        let r = f.on_client_frame(routes::BYBIT_LINEAR, r#"{"req_id":"p","op":"ping"}"#);
        let p = parse(&r[0]);
        assert_eq!(
            (
                p["op"].as_str(),
                p["ret_msg"].as_str(),
                p["req_id"].as_str()
            ),
            (Some("ping"), Some("pong"), Some("p"))
        );
        assert!(f
            .on_client_frame(routes::BYBIT_LINEAR, "not json")
            .is_empty());
        let mut out = Vec::new();
        f.advance(10 * SEC, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn binance_rest_then_diffs_rebuild_the_exchange_book() {
        let mut f = SyntheticFeed::default_for(Venue::Binance, 3).unwrap();
        let inst = *f.markets().next().unwrap().instrument();
        let mut out = Vec::new();
        f.advance(10 * SEC, &mut out);
        let rest = f.rest("/api/v3/depth?symbol=BTCUSDT&limit=5000");
        assert_eq!(rest.status, 200);
        let v = parse(&rest.body);
        let mut last = v["lastUpdateId"].as_u64().unwrap();
        let (mut bids, mut asks) = (Map::new(), Map::new());
        apply(&mut bids, &v["bids"], &inst);
        apply(&mut asks, &v["asks"], &inst);
        assert_eq!(
            best_first(&bids, &asks, usize::MAX),
            truth(&f, "BTCUSDT", &inst)
        );
        let small = parse(&f.rest("/api/v3/depth?symbol=BTCUSDT").body);
        assert_eq!(small["bids"].as_array().unwrap().len(), 100);
        assert_eq!(small["lastUpdateId"].as_u64(), Some(last));
        let mut t = 10 * SEC;
        let mut events = 0;
        for _ in 0..200 {
            t += SEC / 10;
            out.clear();
            f.advance(t, &mut out);
            assert_eq!(out.len() % 2, 0);
            for pair in out.chunks(2) {
                assert_eq!(
                    (pair[0].0, pair[1].0),
                    (routes::BINANCE_WS, routes::BINANCE_STREAM)
                );
                let (raw, wrapped) = (parse(&pair[0].1), parse(&pair[1].1));
                assert_eq!(wrapped["stream"], "btcusdt@depth@100ms");
                assert_eq!(wrapped["data"], raw);
                assert_eq!(raw["e"], "depthUpdate");
                assert_eq!(raw["s"], "BTCUSDT");
                let (uu, u) = (raw["U"].as_u64().unwrap(), raw["u"].as_u64().unwrap());
                assert_eq!(uu, last + 1);
                assert!(u >= uu);
                last = u;
                apply(&mut bids, &raw["b"], &inst);
                apply(&mut asks, &raw["a"], &inst);
                events += 1;
            }
            assert_eq!(
                best_first(&bids, &asks, usize::MAX),
                truth(&f, "BTCUSDT", &inst)
            );
        }
        assert!(events > 150, "{events}");
        assert_eq!(f.rest("/api/v3/depth?symbol=ETHUSDT").status, 400);
        assert_eq!(f.rest("/api/v3/depth").status, 400);
        assert_eq!(f.rest("/api/v3/depth?symbol=BTCUSDT&limit=x").status, 400);
        assert_eq!(f.rest("/api/v3/ticker").status, 404);
        let r = f.on_client_frame(
            routes::BINANCE_WS,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":7}"#,
        );
        assert_eq!(r, vec![r#"{"result":null,"id":7}"#.to_string()]);
    }

    #[test]
    fn crossed_frames_cross_the_client_book() {
        for venue in [Venue::Coincheck, Venue::Bybit, Venue::Binance] {
            let mut f = SyntheticFeed::default_for(venue, 4)
                .unwrap()
                .with_rest_depth(10_000);
            let inst = *f.markets().next().unwrap().instrument();
            let (mut bids, mut asks) = (Map::new(), Map::new());
            let u = if venue == Venue::Bybit {
                assert!(f.crossed_frame().is_none(), "no subscriber yet");
                let r = f.on_client_frame(
                    routes::BYBIT_LINEAR,
                    r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT"]}"#,
                );
                let s = parse(&r[1]);
                apply(&mut bids, &s["data"]["b"], &inst);
                apply(&mut asks, &s["data"]["a"], &inst);
                s["data"]["u"].as_u64().unwrap()
            } else {
                let path = if venue == Venue::Coincheck {
                    "/api/order_books?pair=btc_jpy"
                } else {
                    "/api/v3/depth?symbol=BTCUSDT&limit=5000"
                };
                let v = parse(&f.rest(path).body);
                apply(&mut bids, &v["bids"], &inst);
                apply(&mut asks, &v["asks"], &inst);
                v["lastUpdateId"].as_u64().unwrap_or(0)
            };
            assert!(!crossed(&bids, &asks));
            let (route, frame) = f.crossed_frame().unwrap();
            assert!(f.routes().contains(&route), "{venue}");
            let v = parse(&frame);
            match venue {
                Venue::Coincheck => {
                    apply(&mut bids, &v[1]["bids"], &inst);
                }
                Venue::Bybit => {
                    assert_eq!(v["data"]["u"].as_u64(), Some(u + 1));
                    apply(&mut bids, &v["data"]["b"], &inst);
                }
                _ => {
                    assert_eq!(v["data"]["U"].as_u64(), Some(u + 1));
                    apply(&mut bids, &v["data"]["b"], &inst);
                }
            }
            assert!(crossed(&bids, &asks), "{venue}");
        }
    }

    #[test]
    fn coincheck_frames_start_with_the_rest_seed_and_carry_exact_numbers() {
        let mut src = CoincheckFrames::new(12);
        let inst = *src.market().instrument();
        let mut buf = String::new();
        let (t0, k0) = src.next_frame(&mut buf).unwrap();
        assert_eq!((t0, k0), (0, FrameKind::RestSnapshot));
        let v = parse(&buf);
        let (mut bids, mut asks) = (Map::new(), Map::new());
        assert_eq!(apply(&mut bids, &v["bids"], &inst), COINCHECK_REST_DEPTH);
        apply(&mut asks, &v["asks"], &inst);
        let mut last_t = 0;
        let (mut diffs, mut trades) = (0, 0);
        for _ in 0..2_000 {
            let (t, kind) = src.next_frame(&mut buf).unwrap();
            assert!(t >= last_t);
            last_t = t;
            let v = parse(&buf);
            let s = src.market().last_step();
            assert_eq!(s.t_ns, t);
            match kind {
                FrameKind::BookDiff => {
                    diffs += 1;
                    let mut got = Vec::new();
                    for (key, side) in [("bids", Side::Bid), ("asks", Side::Ask)] {
                        for l in v[1][key].as_array().unwrap() {
                            got.push(crate::sim::market::LevelChange {
                                side,
                                px: inst.tick.parse(l[0].as_str().unwrap().as_bytes()).unwrap(),
                                qty: inst.lot.parse(l[1].as_str().unwrap().as_bytes()).unwrap(),
                            });
                        }
                    }
                    let mut want = s.changes.clone();
                    let ord = |c: &crate::sim::market::LevelChange| (c.side == Side::Ask, c.px);
                    want.sort_by_key(ord);
                    got.sort_by_key(ord);
                    assert_eq!(got, want);
                }
                FrameKind::Trades => {
                    trades += 1;
                    let got: Vec<(u64, i64, i64, &str)> = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| {
                            (
                                t[1].as_str().unwrap().parse().unwrap(),
                                inst.tick.parse(t[3].as_str().unwrap().as_bytes()).unwrap(),
                                inst.lot.parse(t[4].as_str().unwrap().as_bytes()).unwrap(),
                                t[5].as_str().unwrap(),
                            )
                        })
                        .collect();
                    let want: Vec<(u64, i64, i64, &str)> = s
                        .trades
                        .iter()
                        .map(|t| {
                            (
                                t.id,
                                t.px,
                                t.qty,
                                if t.aggressor == Side::Bid {
                                    "buy"
                                } else {
                                    "sell"
                                },
                            )
                        })
                        .collect();
                    assert_eq!(got, want);
                }
                FrameKind::RestSnapshot => panic!("one REST seed only"),
            }
        }
        assert!(diffs > 1_000 && trades > 100, "{diffs} {trades}");
        let all: Vec<_> = coincheck_frames(12, 50).collect();
        assert_eq!(all.len(), 50);
        assert_eq!(all[0].1, FrameKind::RestSnapshot);
        let mut again = CoincheckFrames::new(12);
        for (t, k, s) in &all {
            assert_eq!(again.next_frame(&mut buf), Some((*t, *k)));
            assert_eq!(&buf, s);
        }
    }

    #[test]
    fn the_bybit_decoder_and_book_stage_rebuild_the_simulated_window() {
        use crate::book::BookSet;
        use crate::instrument::InstrumentTable;
        use crate::msg::BookState;
        use crate::venue::bybit::BybitDecoder;
        use crate::venue::{BookRoutes, Decoder};
        let mut f = SyntheticFeed::default_for(Venue::Bybit, 31).unwrap();
        let table = InstrumentTable::default();
        let routes_ = BookRoutes::new(table, Venue::Bybit, Market::Linear, &["BTCUSDT"]).unwrap();
        let mut dec = BybitDecoder::new(routes_);
        let mut books = BookSet::new(1, 8, 1_000);
        let feed = |dec: &mut BybitDecoder, books: &mut BookSet, frame: &str| {
            let mut buf = frame.as_bytes().to_vec();
            dec.on_frame(1, &mut buf, &mut |e| {
                books.apply(&e);
            });
        };
        let sub = r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT","publicTrade.BTCUSDT"]}"#;
        for frame in f.on_client_frame(routes::BYBIT_LINEAR, sub) {
            feed(&mut dec, &mut books, &frame);
        }
        let mut out = Vec::new();
        for k in 1..=200u64 {
            out.clear();
            f.advance(k * SEC / 10, &mut out);
            for (route, frame) in &out {
                if *route == routes::BYBIT_LINEAR {
                    feed(&mut dec, &mut books, frame);
                }
            }
            let b = &books.books[0];
            assert_eq!(b.state, BookState::Synced);
            let (tb, ta) = f.markets().next().map(|m| m.book()).unwrap();
            assert_eq!(b.bids.iter().collect::<Vec<_>>(), tb[..200].to_vec());
            assert_eq!(b.asks.iter().collect::<Vec<_>>(), ta[..200].to_vec());
        }
        let c = books.counters[0];
        assert!(c.updates > 150 && c.trades > 50 && c.crossed == 0, "{c:?}");
        let fc = *dec.counters();
        assert_eq!(
            (fc.malformed, fc.gaps, fc.unknown, fc.acks, fc.snapshots),
            (0, 0, 0, 1, 1),
            "{fc:?}"
        );
        let (_, frame) = f.crossed_frame().unwrap();
        feed(&mut dec, &mut books, &frame);
        assert!(books.books[0].is_crossed());
        assert_eq!(books.counters[0].crossed, 1);
    }

    /// GMO Coin and bitbank frames, straight from the feed into our decoders and the book
    /// stage, rebuild the simulator's book: GMO's best 30 levels after every frame, bitbank's
    /// whole book after every diff (the whole carries every level), with the REST answers of
    /// both read as seeds too; a crossed frame crosses (GMO: the book turns stale).
    #[test]
    fn gmocoin_and_bitbank_decoders_rebuild_the_simulated_book() {
        use crate::book::BookSet;
        use crate::instrument::InstrumentTable;
        use crate::msg::BookState;
        use crate::venue::bitbank::BitbankDecoder;
        use crate::venue::gmocoin::GmoCoinDecoder;
        use crate::venue::{BookRoutes, Decoder};
        fn feed<D: Decoder>(dec: &mut D, books: &mut BookSet, frame: &str) {
            let mut buf = frame.as_bytes().to_vec();
            dec.on_frame(1, &mut buf, &mut |e| {
                books.apply(&e);
            });
        }
        let table = InstrumentTable::default();
        // GMO Coin
        let mut f = SyntheticFeed::default_for(Venue::GmoCoin, 5).unwrap();
        let r = BookRoutes::new(table.clone(), Venue::GmoCoin, Market::Linear, &["BTC_JPY"]);
        let mut dec = GmoCoinDecoder::new(r.unwrap());
        let mut books = BookSet::new(1, 8, 1_000);
        let bad = f.on_client_frame(
            routes::GMOCOIN,
            r#"{"command":"subscribe","channel":"orderbooks","symbol":"ETH"}"#,
        );
        assert_eq!(bad, vec![gmocoin::BAD_SYMBOL.to_string()]);
        let sub = r#"{"command":"subscribe","channel":"orderbooks","symbol":"BTC_JPY"}"#;
        for frame in f.on_client_frame(routes::GMOCOIN, sub) {
            feed(&mut dec, &mut books, &frame);
        }
        let _ = f.on_client_frame(
            routes::GMOCOIN,
            r#"{"command":"subscribe","channel":"trades","symbol":"BTC_JPY"}"#,
        );
        let mut out = Vec::new();
        for k in 1..=120u64 {
            out.clear();
            f.advance(k * SEC / 2, &mut out);
            for (_, frame) in &out {
                feed(&mut dec, &mut books, frame);
            }
            let b = &books.books[0];
            assert_eq!(b.state, BookState::Synced);
            let (tb, ta) = f.markets().next().map(|m| m.book()).unwrap();
            assert_eq!(
                b.bids.iter().collect::<Vec<_>>(),
                tb[..GMOCOIN_DEPTH].to_vec()
            );
            assert_eq!(
                b.asks.iter().collect::<Vec<_>>(),
                ta[..GMOCOIN_DEPTH].to_vec()
            );
        }
        let fc = *dec.counters();
        assert!(fc.snapshots > 100 && fc.trades > 10, "{fc:?}");
        assert_eq!(
            (fc.malformed, fc.unknown, fc.dropped, fc.acks),
            (0, 0, 0, 0)
        );
        let rest = f.rest("/public/v1/orderbooks?symbol=BTC_JPY");
        assert_eq!(rest.status, 200);
        let mut body = rest.body.into_bytes();
        dec.on_rest(
            2,
            "http://x/public/v1/orderbooks?symbol=BTC_JPY",
            &mut body,
            &mut |e| {
                books.apply(&e);
            },
        );
        assert_eq!(dec.counters().rest_snapshots, 1);
        let (_, frame) = f.crossed_frame().unwrap();
        feed(&mut dec, &mut books, &frame);
        assert!(books.books[0].is_crossed());
        assert_eq!(dec.book_state(0), Some(BookState::Stale));

        // bitbank
        let mut f = SyntheticFeed::default_for(Venue::Bitbank, 9).unwrap();
        let r = BookRoutes::new(table, Venue::Bitbank, Market::Spot, &["btc_jpy"]);
        let mut dec = BitbankDecoder::new(r.unwrap());
        let mut books = BookSet::new(1, 8, 1_000);
        for frame in f.on_connect(routes::BITBANK) {
            feed(&mut dec, &mut books, &frame);
        }
        for frame in f.on_client_frame(routes::BITBANK, "40") {
            assert!(frame.starts_with("40{"), "{frame}");
            feed(&mut dec, &mut books, &frame);
        }
        assert!(dec.take_resync_request(), "namespace open: join");
        // diffs before the whole, then the join answered with the whole
        let mut out = Vec::new();
        f.advance(SEC, &mut out);
        for (_, frame) in &out {
            feed(&mut dec, &mut books, frame);
        }
        assert!(books.books[0].bids.is_empty(), "nothing before the whole");
        for room in ["depth_diff_btc_jpy", "depth_whole_btc_jpy"] {
            let join = format!(r#"42["join-room","{room}"]"#);
            for frame in f.on_client_frame(routes::BITBANK, &join) {
                feed(&mut dec, &mut books, &frame);
            }
        }
        let mut pings = 0;
        for k in 2..=120u64 {
            out.clear();
            f.advance(k * SEC / 2, &mut out);
            for (_, frame) in &out {
                pings += usize::from(frame == "2");
                feed(&mut dec, &mut books, frame);
            }
            let b = &books.books[0];
            assert_eq!(b.state, BookState::Synced, "at {k}");
            let (tb, ta) = f.markets().next().map(|m| m.book()).unwrap();
            assert_eq!(b.bids.iter().collect::<Vec<_>>(), tb);
            assert_eq!(b.asks.iter().collect::<Vec<_>>(), ta);
        }
        let fc = *dec.counters();
        assert!(
            fc.snapshots >= 4 && fc.updates > 100 && fc.trades > 10,
            "{fc:?}"
        );
        assert_eq!((fc.malformed, fc.unknown, pings), (0, 0, 2), "{fc:?}");
        let rest = f.rest("/btc_jpy/depth");
        assert_eq!(rest.status, 200);
        let mut body = rest.body.into_bytes();
        dec.on_rest(2, "http://x/btc_jpy/depth", &mut body, &mut |e| {
            books.apply(&e);
        });
        assert_eq!(dec.counters().rest_snapshots, 1);
        assert_eq!(f.rest("/eth_jpy/depth").status, 404);
        let (_, frame) = f.crossed_frame().unwrap();
        feed(&mut dec, &mut books, &frame);
        assert!(books.books[0].is_crossed());
    }

    /// bitFlyer frames, straight from the feed into our decoder and the book stage: acks for
    /// requests with ids, diffs dropped until the first snapshot (which comes a second of feed
    /// time after the subscribe), then the whole book equal to the simulator's after every
    /// frame, every diff's `mid_price` agreeing; a crossed frame turns the book stale.
    #[test]
    fn the_bitflyer_decoder_rebuilds_the_simulated_book() {
        use crate::book::BookSet;
        use crate::instrument::InstrumentTable;
        use crate::msg::BookState;
        use crate::venue::bitflyer::{subscribe_frames, BitflyerDecoder};
        use crate::venue::{BookRoutes, Decoder};
        let table = InstrumentTable::default();
        let mut f = SyntheticFeed::default_for(Venue::Bitflyer, 3).unwrap();
        assert_eq!(f.routes(), &[routes::BITFLYER]);
        let r = BookRoutes::new(table, Venue::Bitflyer, Market::Linear, &["FX_BTC_JPY"]);
        let mut dec = BitflyerDecoder::new(r.unwrap());
        let mut books = BookSet::new(1, 8, 1_000);
        let feed = |dec: &mut BitflyerDecoder, books: &mut BookSet, frame: &str| {
            let mut buf = frame.as_bytes().to_vec();
            dec.on_frame(1, &mut buf, &mut |e| {
                books.apply(&e);
            });
        };
        let mut out = Vec::new();
        f.advance(SEC, &mut out);
        for frame in subscribe_frames("FX_BTC_JPY", 1) {
            let replies = f.on_client_frame(routes::BITFLYER, &frame);
            assert_eq!(replies.len(), 1, "{frame}");
            feed(&mut dec, &mut books, &replies[0]);
        }
        let bad = f.on_client_frame(
            routes::BITFLYER,
            r#"[{"method":"subscribe","params":{"channel":"nope"},"id":9},{"method":"subscribe","params":{"channel":"lightning_ticker_FX_BTC_JPY"}}]"#,
        );
        assert_eq!(bad.len(), 1, "no answer without an id");
        assert!(bad[0].contains("-32602"), "{}", bad[0]);
        assert_eq!(dec.counters().acks, 3);
        let (mut diffs, mut snaps, mut tickers) = (0, 0, 0);
        for k in 1..=300u64 {
            out.clear();
            f.advance(SEC + k * SEC / 10, &mut out);
            for (_, frame) in &out {
                let v = parse(frame);
                let ch = v["params"]["channel"].as_str().unwrap();
                snaps += usize::from(ch.starts_with("lightning_board_snapshot_"));
                tickers += usize::from(ch.starts_with("lightning_ticker_"));
                diffs += usize::from(ch == "lightning_board_FX_BTC_JPY");
                feed(&mut dec, &mut books, frame);
            }
            // After the frames of the steps due (an executions frame precedes its diff).
            if snaps > 0 {
                let b = &books.books[0];
                assert_eq!(b.state, BookState::Synced, "at {k}");
                let (tb, ta) = f.markets().next().map(|m| m.book()).unwrap();
                assert_eq!(b.bids.iter().collect::<Vec<_>>(), tb);
                assert_eq!(b.asks.iter().collect::<Vec<_>>(), ta);
            }
            if k == 10 {
                assert_eq!(snaps, 1, "the first snapshot a second after the subscribe");
            }
        }
        let fc = *dec.counters();
        assert_eq!(snaps, 6, "then one every 5 s: at 2, 7, .., 27 s");
        assert!(diffs > 150 && tickers > 50 && fc.trades > 10, "{fc:?}");
        assert!(fc.dropped >= 1, "diffs before the first snapshot: {fc:?}");
        assert_eq!(
            (fc.malformed, fc.mid_mismatch, fc.crossed, fc.snapshots),
            (0, 0, 0, 6),
            "{fc:?}"
        );
        assert_eq!(fc.unknown, tickers as u64, "tickers are not book frames");
        let (_, frame) = f.crossed_frame().unwrap();
        feed(&mut dec, &mut books, &frame);
        assert!(books.books[0].is_crossed());
        assert_eq!(dec.book_state(0), Some(BookState::Stale));
    }

    #[test]
    fn config_errors_name_the_problem() {
        let cc = SyntheticConfig::coincheck_btc_jpy(1);
        let e = SyntheticFeed::new(Venue::Binance, vec![cc]).unwrap_err();
        assert!(e.contains("not a binance instrument"), "{e}");
        let e = SyntheticFeed::new(Venue::Coincheck, vec![cc, cc]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        assert!(SyntheticFeed::new(Venue::Coincheck, vec![]).is_err());
        let mut f = SyntheticFeed::default_for(Venue::Coincheck, 1).unwrap();
        assert_eq!(f.rest("/api/order_books?pair=eth_btc").status, 400);
        assert_eq!(f.rest("/api/ticker").status, 404);
        assert_eq!(f.rest("/api/order_books").status, 200);
        assert!(f.book("eth_jpy").is_none());
        assert!(f.book("BTC_JPY").is_some());
    }
}
