//! Synthetic venue feeds: [`SyntheticMarket`]s spoken in a venue's wire format.
//!
//! [`SyntheticFeed`] is the simulator server's content for Coincheck, Bybit and Binance.
//! [`CoincheckFrames`] is the no-network path: Coincheck frames straight from one market, the
//! REST seed first, into a reused buffer.
//!
//! Per venue:
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
use crate::sim::wire::{
    self, binance, bitbank, bitflyer, bybit, coincheck, gmocoin, routes, unix_ms, LevelFmt,
};
use crate::sim::{BookSide, RestReply, Route, SimFeed};
use serde_json::Value;

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

/// The venues the synthetic feed speaks.
pub const SIMULATED: [Venue; 7] = [
    Venue::Coincheck,
    Venue::Bybit,
    Venue::Binance,
    Venue::GmoCoin,
    Venue::Bitbank,
    Venue::BinanceUsdm,
    Venue::Bitflyer,
];

/// `coincheck, bybit, binance, gmocoin or bitbank`.
pub fn simulated_list() -> String {
    let names: Vec<&str> = SIMULATED.iter().map(|v| v.as_str()).collect();
    crate::venue::table::or_list(&names)
}

/// One Bybit `orderbook.{depth}` topic: what its subscribers hold.
#[derive(Debug, Clone)]
struct Window {
    depth: usize,
    u: u64,
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
    scratch: Vec<(i64, i64)>,
    delta_b: Vec<(i64, i64)>,
    delta_a: Vec<(i64, i64)>,
}

impl Window {
    fn new(depth: usize, u: u64, m: &SyntheticMarket) -> Window {
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
    fn update(&mut self, m: &SyntheticMarket) -> bool {
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

/// One simulated book and its venue-side state.
#[derive(Debug, Clone)]
struct SimBook {
    m: SyntheticMarket,
    fmt: LevelFmt,
    route: Route,
    /// Bybit: subscribed `orderbook` topics.
    windows: Vec<Window>,
    /// Bybit: `publicTrade` subscribed.
    trades_on: bool,
    /// Bybit cross sequence.
    seq: u64,
    dir: bybit::TickDirection,
    /// Binance: last update id sent; bitbank: last `s` sent; bitFlyer: last ticker `tick_id`.
    last_id: u64,
    /// bitbank: feed time of the next whole and the next ping; bitFlyer: of the next snapshot.
    next_whole_ns: u64,
    /// bitFlyer: the best bid and ask of the last ticker sent.
    last_top: Option<((i64, i64), (i64, i64))>,
    next_ping_ns: u64,
}

impl SimBook {
    /// GMO Coin: the `orderbooks` frame of the current book.
    fn gmocoin_book_frame(&self) -> String {
        let mut f = String::with_capacity(96 * GMOCOIN_DEPTH);
        gmocoin::book(
            &mut f,
            self.symbol(),
            &self.fmt,
            unix_ms(self.unix_ns()),
            self.m.levels(Side::Bid).take(GMOCOIN_DEPTH),
            self.m.levels(Side::Ask).take(GMOCOIN_DEPTH),
        );
        f
    }

    /// bitbank: a `depth_whole` of the full book at the last `s` sent.
    fn bitbank_whole_frame(&self) -> String {
        let mut f = String::with_capacity(64 * self.m.config().levels * 2 + 256);
        bitbank::whole(
            &mut f,
            self.symbol(),
            &self.fmt,
            unix_ms(self.unix_ns()),
            self.last_id,
            self.m.levels(Side::Bid),
            self.m.levels(Side::Ask),
        );
        f
    }

    fn symbol(&self) -> &str {
        self.m.instrument().key.symbol.as_str()
    }

    /// bitFlyer: `mid_price` in ticks, `(best bid + best ask) / 2` floored to the tick (0 when
    /// a side is empty).
    fn bitflyer_mid(&self) -> i64 {
        match (self.m.best_bid(), self.m.best_ask()) {
            (Some((b, _)), Some((a, _))) => (b + a).div_euclid(2),
            _ => 0,
        }
    }

    /// bitFlyer: a `lightning_board_snapshot_*` of the whole book.
    fn bitflyer_snapshot_frame(&self) -> String {
        let mut f = String::with_capacity(48 * self.m.config().levels * 3 + 256);
        bitflyer::board(
            &mut f,
            self.symbol(),
            &self.fmt,
            true,
            self.bitflyer_mid(),
            self.m.levels(Side::Bid),
            self.m.levels(Side::Ask),
        );
        f
    }

    fn market(&self) -> Market {
        self.m.instrument().key.market
    }

    fn unix_ns(&self) -> u64 {
        self.m.config().start_unix_ns + self.m.now_ns()
    }

    fn ts_ms(&self) -> (u64, u64) {
        let ts = unix_ms(self.unix_ns());
        (ts, ts.saturating_sub(1 + self.m.last_step().step % 4))
    }

    fn bybit_book_frame(&self, wi: usize, snapshot: bool) -> String {
        let w = &self.windows[wi];
        let (ts_ms, cts_ms) = self.ts_ms();
        let h = bybit::BookHeader {
            market: self.market(),
            depth: w.depth,
            symbol: self.symbol(),
            snapshot,
            ts_ms,
            cts_ms,
            u: w.u,
            seq: self.seq,
        };
        let mut f = String::with_capacity(if snapshot { 12 * 1024 } else { 512 });
        if snapshot {
            bybit::book(
                &mut f,
                &h,
                &self.fmt,
                w.bids.iter().copied(),
                w.asks.iter().copied(),
            );
        } else {
            bybit::book(
                &mut f,
                &h,
                &self.fmt,
                w.delta_b.iter().copied(),
                w.delta_a.iter().copied(),
            );
        }
        f
    }
}

/// A synthetic venue for the simulator server: one or more markets of one venue.
#[derive(Debug, Clone)]
pub struct SyntheticFeed {
    venue: Venue,
    books: Vec<SimBook>,
    routes: Vec<Route>,
    rest_depth: usize,
    raw: String,
    /// Connections greeted (bitbank session ids).
    conns: u64,
}

impl SyntheticFeed {
    /// A feed of `venue` (Coincheck, Bybit or Binance) over the markets `cfgs` (all of that
    /// venue, distinct market and symbol).
    pub fn new(venue: Venue, cfgs: Vec<SyntheticConfig>) -> Result<SyntheticFeed, String> {
        if !SIMULATED.contains(&venue) {
            return Err(format!(
                "synthetic feed: venue `{venue}` is not simulated (expected {})",
                simulated_list()
            ));
        }
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
            let route = match venue {
                Venue::Coincheck => routes::COINCHECK,
                Venue::Bybit => wire::bybit_route(key.market),
                Venue::GmoCoin => routes::GMOCOIN,
                Venue::Bitbank => routes::BITBANK,
                Venue::Bitflyer => routes::BITFLYER,
                _ => routes::BINANCE_STREAM,
            };
            let m = SyntheticMarket::new(cfg).map_err(|e| format!("{key}: {e}"))?;
            let base_id = 10_000_000 + cfg.seed % 1_000_000;
            books.push(SimBook {
                fmt: LevelFmt::for_venue(&cfg.instrument, cfg.wire_px_decimals),
                route,
                windows: Vec::new(),
                trades_on: false,
                seq: 100_000_000_000 + (cfg.seed % 1_000_000) * 1_000,
                dir: bybit::TickDirection::default(),
                last_id: base_id,
                next_whole_ns: if venue == Venue::Bitflyer {
                    BITFLYER_SNAPSHOT_NS
                } else {
                    BITBANK_WHOLE_NS
                },
                next_ping_ns: BITBANK_PING_NS,
                last_top: None,
                m,
            });
            if matches!(venue, Venue::Binance | Venue::BinanceUsdm) {
                routes_used = vec![routes::BINANCE_WS, routes::BINANCE_STREAM];
            } else if !routes_used.contains(&route) {
                routes_used.push(route);
            }
        }
        Ok(SyntheticFeed {
            venue,
            books,
            routes: routes_used,
            rest_depth: COINCHECK_REST_DEPTH,
            raw: String::with_capacity(1024),
            conns: 0,
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
        self.rest_depth = depth.max(1);
        self
    }

    /// The simulated markets, in configuration order.
    pub fn markets(&self) -> impl Iterator<Item = &SyntheticMarket> {
        self.books.iter().map(|b| &b.m)
    }

    /// Time of the earliest next event over all markets (ns since the start).
    pub fn next_event_ns(&self) -> u64 {
        self.books
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
        self.books.iter().position(|b| {
            b.symbol().eq_ignore_ascii_case(sym) && market.is_none_or(|m| m == b.market())
        })
    }

    fn step_book(&mut self, i: usize, out: &mut Vec<(Route, String)>) {
        let venue = self.venue;
        let b = &mut self.books[i];
        b.m.step();
        match venue {
            Venue::Coincheck => {
                let s = b.m.last_step();
                let unix = b.m.config().start_unix_ns + s.t_ns;
                let pair = b.m.instrument().key.symbol;
                if !s.trades.is_empty() {
                    let mut f = String::with_capacity(128 * s.trades.len());
                    coincheck::trades(&mut f, &pair, &b.fmt, &s.trades, unix);
                    out.push((b.route, f));
                }
                if !s.changes.is_empty() {
                    let mut f = String::with_capacity(64 + 40 * s.changes.len());
                    coincheck::diff(&mut f, &pair, &b.fmt, &s.changes, unix);
                    out.push((b.route, f));
                }
            }
            Venue::Bybit => {
                let s = b.m.last_step();
                b.seq += 1 + (s.changes.len() + s.trades.len()) as u64;
                if b.trades_on && !s.trades.is_empty() {
                    let (ts, _) = b.ts_ms();
                    let mut f = String::with_capacity(256 * s.trades.len());
                    let market = b.market();
                    let sym = b.m.instrument().key.symbol;
                    bybit::trades(
                        &mut f, market, &sym, &b.fmt, ts, b.seq, &s.trades, &mut b.dir,
                    );
                    out.push((b.route, f));
                }
                for wi in 0..b.windows.len() {
                    if b.windows[wi].update(&b.m) {
                        b.windows[wi].u += 1;
                        out.push((b.route, b.bybit_book_frame(wi, false)));
                    }
                }
            }
            Venue::GmoCoin => {
                let s = b.m.last_step();
                let ms = unix_ms(b.m.config().start_unix_ns + s.t_ns);
                let sym = b.m.instrument().key.symbol;
                if b.trades_on {
                    for t in &s.trades {
                        let mut f = String::with_capacity(160);
                        gmocoin::trade(&mut f, &sym, &b.fmt, t, ms);
                        out.push((b.route, f));
                    }
                }
                if !s.changes.is_empty() {
                    out.push((b.route, b.gmocoin_book_frame()));
                }
            }
            Venue::Bitbank => {
                let s = b.m.last_step();
                let t_ns = s.t_ns;
                let ms = unix_ms(b.m.config().start_unix_ns + t_ns);
                let pair = b.m.instrument().key.symbol;
                if !s.trades.is_empty() {
                    let mut f = String::with_capacity(160 * s.trades.len());
                    bitbank::transactions(&mut f, &pair, &b.fmt, &s.trades, ms);
                    out.push((b.route, f));
                }
                if !s.changes.is_empty() {
                    // One counter shared by every pair at the venue: steps of 1 to 5 here.
                    b.last_id += 1 + s.step % 5;
                    let changes = &s.changes;
                    let mut f = String::with_capacity(160 + 40 * changes.len());
                    bitbank::diff(
                        &mut f,
                        &pair,
                        &b.fmt,
                        ms,
                        b.last_id,
                        changes
                            .iter()
                            .filter(|c| c.side == Side::Bid)
                            .map(|c| (c.px, c.qty)),
                        changes
                            .iter()
                            .filter(|c| c.side == Side::Ask)
                            .map(|c| (c.px, c.qty)),
                    );
                    out.push((b.route, f));
                }
                if t_ns >= b.next_whole_ns {
                    b.next_whole_ns = t_ns + BITBANK_WHOLE_NS;
                    out.push((b.route, b.bitbank_whole_frame()));
                }
                if t_ns >= b.next_ping_ns {
                    b.next_ping_ns = t_ns + BITBANK_PING_NS;
                    out.push((b.route, bitbank::PING.to_string()));
                }
            }
            Venue::Bitflyer => {
                let s = b.m.last_step();
                let t_ns = s.t_ns;
                let unix = b.m.config().start_unix_ns + t_ns;
                let product = b.m.instrument().key.symbol;
                if !s.trades.is_empty() {
                    let mut f = String::with_capacity(220 * s.trades.len());
                    bitflyer::executions(&mut f, &product, &b.fmt, &s.trades, unix);
                    out.push((b.route, f));
                }
                if !s.changes.is_empty() {
                    let changes = &s.changes;
                    let mut f = String::with_capacity(160 + 48 * changes.len());
                    bitflyer::board(
                        &mut f,
                        &product,
                        &b.fmt,
                        false,
                        b.bitflyer_mid(),
                        changes
                            .iter()
                            .filter(|c| c.side == Side::Bid)
                            .map(|c| (c.px, c.qty)),
                        changes
                            .iter()
                            .filter(|c| c.side == Side::Ask)
                            .map(|c| (c.px, c.qty)),
                    );
                    out.push((b.route, f));
                }
                if let (Some(bid), Some(ask)) = (b.m.best_bid(), b.m.best_ask()) {
                    if b.last_top != Some((bid, ask)) {
                        b.last_top = Some((bid, ask));
                        b.last_id += 1;
                        let mut f = String::with_capacity(320);
                        bitflyer::ticker(&mut f, &product, &b.fmt, b.last_id, unix, bid, ask);
                        out.push((b.route, f));
                    }
                }
                if t_ns >= b.next_whole_ns {
                    b.next_whole_ns = t_ns + BITFLYER_SNAPSHOT_NS;
                    out.push((b.route, b.bitflyer_snapshot_frame()));
                }
            }
            _ => {
                let s = b.m.last_step();
                if s.changes.is_empty() {
                    return;
                }
                // USD-M: ids are not consecutive across events (skips of 0 to 2 here), and
                // every event names the previous one's `u` as `pu`.
                let usdm = venue == Venue::BinanceUsdm;
                let pu = usdm.then_some(b.last_id);
                let first = b.last_id + 1 + if usdm { s.step % 3 } else { 0 };
                b.last_id = first + (s.updates as u64).max(1) - 1;
                let sym = b.m.instrument().key.symbol;
                let changes = &s.changes;
                self.raw.clear();
                binance::depth_update_pu(
                    &mut self.raw,
                    &sym,
                    &b.fmt,
                    unix_ms(b.m.config().start_unix_ns + s.t_ns),
                    first,
                    b.last_id,
                    pu,
                    changes
                        .iter()
                        .filter(|c| c.side == Side::Bid)
                        .map(|c| (c.px, c.qty)),
                    changes
                        .iter()
                        .filter(|c| c.side == Side::Ask)
                        .map(|c| (c.px, c.qty)),
                );
                let mut wrapped = String::with_capacity(self.raw.len() + 48);
                binance::combined(&mut wrapped, &sym, &self.raw);
                out.push((routes::BINANCE_WS, self.raw.clone()));
                out.push((routes::BINANCE_STREAM, wrapped));
            }
        }
    }

    fn bybit_client_frame(&mut self, route: Route, v: &Value) -> Vec<String> {
        let req_id = v.get("req_id").and_then(Value::as_str);
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        let market = match route {
            routes::BYBIT_SPOT => Market::Spot,
            routes::BYBIT_INVERSE => Market::Inverse,
            _ => Market::Linear,
        };
        match op {
            "ping" => vec![bybit::pong(req_id)],
            "subscribe" | "unsubscribe" => {
                let args: Vec<&str> = v
                    .get("args")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut bad = Vec::new();
                let mut snapshots = Vec::new();
                if args.is_empty() {
                    bad.push("<no args>".to_string());
                }
                for arg in args {
                    match self.bybit_topic(route, arg, op == "subscribe") {
                        Ok(Some(snap)) => snapshots.push(snap),
                        Ok(None) => {}
                        Err(()) => bad.push(arg.to_string()),
                    }
                }
                let mut reply = vec![bybit::ack(market, op, req_id, &bad)];
                reply.extend(snapshots);
                reply
            }
            _ => Vec::new(),
        }
    }

    /// Handles one subscribe arg; a book topic answers with its snapshot.
    fn bybit_topic(
        &mut self,
        route: Route,
        arg: &str,
        subscribe: bool,
    ) -> Result<Option<String>, ()> {
        let mut parts = arg.split('.');
        let (kind, a, b) = (parts.next(), parts.next(), parts.next());
        let (depth, sym) = match (kind, a, b) {
            (Some("orderbook"), Some(d), Some(s)) => (Some(d.parse::<usize>().map_err(|_| ())?), s),
            (Some("publicTrade"), Some(s), None) => (None, s),
            _ => return Err(()),
        };
        if parts.next().is_some() {
            return Err(());
        }
        let i = self
            .books
            .iter()
            .position(|bk| bk.route == route && bk.symbol() == sym)
            .ok_or(())?;
        let b = &mut self.books[i];
        let Some(depth) = depth else {
            b.trades_on = subscribe || b.trades_on;
            return Ok(None);
        };
        if !BYBIT_DEPTHS.contains(&depth) || depth > b.m.config().levels {
            return Err(());
        }
        if !subscribe {
            return Ok(None);
        }
        let wi = match b.windows.iter().position(|w| w.depth == depth) {
            Some(wi) => wi,
            None => {
                let u0 = 10_000_000 + (b.m.config().seed % 1_000_000) * 7 + depth as u64;
                b.windows.push(Window::new(depth, u0, &b.m));
                b.windows.len() - 1
            }
        };
        Ok(Some(b.bybit_book_frame(wi, true)))
    }

    /// GMO Coin: `{"command":"subscribe"|"unsubscribe","channel":..,"symbol":..}`.
    fn gmocoin_client_frame(&mut self, v: &Value) -> Vec<String> {
        let command = v.get("command").and_then(Value::as_str).unwrap_or("");
        let channel = v.get("channel").and_then(Value::as_str).unwrap_or("");
        let symbol = v.get("symbol").and_then(Value::as_str).unwrap_or("");
        let Some(i) = self.books.iter().position(|b| b.symbol() == symbol) else {
            return vec![gmocoin::BAD_SYMBOL.to_string()];
        };
        match (command, channel) {
            ("subscribe", "orderbooks") => vec![self.books[i].gmocoin_book_frame()],
            ("subscribe", "trades") => {
                self.books[i].trades_on = true;
                Vec::new()
            }
            ("unsubscribe", _) => Vec::new(),
            _ => vec![r#"{"error":"ERR-5106 Invalid request parameter. channel"}"#.to_string()],
        }
    }

    /// bitbank: `40` (namespace), `42["join-room",ROOM]`, `3` (pong).
    fn bitbank_client_frame(&mut self, frame: &str) -> Vec<String> {
        if frame == "40" {
            return vec![bitbank::connected(self.conns)];
        }
        let Some(json) = frame.strip_prefix("42") else {
            return Vec::new();
        };
        let Ok(Value::Array(a)) = serde_json::from_str::<Value>(json) else {
            return Vec::new();
        };
        if a.first().and_then(Value::as_str) != Some("join-room") {
            return Vec::new();
        }
        let room = a.get(1).and_then(Value::as_str).unwrap_or("");
        match room.strip_prefix("depth_whole_") {
            Some(pair) => self
                .books
                .iter()
                .find(|b| b.symbol() == pair)
                .map(|b| vec![b.bitbank_whole_frame()])
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// bitFlyer: JSON-RPC requests, one object or a batch array; those with an `id` answered.
    fn bitflyer_client_frame(&mut self, v: &Value) -> Vec<String> {
        let reqs: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        let mut replies = Vec::new();
        for r in reqs {
            let method = r.get("method").and_then(Value::as_str).unwrap_or("");
            let channel = r
                .get("params")
                .and_then(|p| p.get("channel"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let known = [
                "lightning_board_snapshot_",
                "lightning_board_",
                "lightning_executions_",
                "lightning_ticker_",
            ]
            .iter()
            .any(|p| channel.starts_with(p));
            let ok = matches!(method, "subscribe" | "unsubscribe") && known;
            if ok && method == "subscribe" {
                if let Some(product) = channel.strip_prefix("lightning_board_snapshot_") {
                    // An unknown product is answered `true` and then stays silent.
                    if let Some(b) = self.books.iter_mut().find(|b| b.symbol() == product) {
                        let soon = b.m.now_ns() + BITFLYER_FIRST_SNAPSHOT_NS;
                        b.next_whole_ns = b.next_whole_ns.min(soon);
                    }
                }
            }
            if let Some(id) = r.get("id") {
                replies.push(bitflyer::answer(id, ok));
            }
        }
        replies
    }

    fn rest_gmocoin(&self, path: &str, query: &[(&str, &str)]) -> RestReply {
        if path != "/public/v1/orderbooks" {
            return not_found(path);
        }
        let symbol = param(query, "symbol").unwrap_or("");
        let Some(b) = self.books.iter().find(|b| b.symbol() == symbol) else {
            return RestReply {
                status: 400,
                body: r#"{"status":1,"messages":[{"message_code":"ERR-5106","message_string":"Invalid request parameter."}],"responsetime":"2026-08-01T00:00:00.000Z"}"#.to_string(),
            };
        };
        let mut body = String::with_capacity(64 * self.rest_depth);
        gmocoin::rest_orderbooks(
            &mut body,
            b.symbol(),
            &b.fmt,
            unix_ms(b.unix_ns()),
            b.m.levels(Side::Bid).take(self.rest_depth),
            b.m.levels(Side::Ask).take(self.rest_depth),
        );
        RestReply { status: 200, body }
    }

    fn rest_bitbank(&self, path: &str) -> RestReply {
        let pair = path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix("/depth"))
            .unwrap_or("");
        let Some(b) = self.books.iter().find(|b| b.symbol() == pair) else {
            return RestReply {
                status: 404,
                body: r#"{"success":0,"data":{"code":10000}}"#.to_string(),
            };
        };
        let mut body = String::with_capacity(64 * b.m.config().levels * 2);
        bitbank::rest_depth(
            &mut body,
            &b.fmt,
            unix_ms(b.unix_ns()),
            b.last_id,
            b.m.levels(Side::Bid),
            b.m.levels(Side::Ask),
        );
        RestReply { status: 200, body }
    }

    fn rest_coincheck(&self, path: &str, query: &[(&str, &str)]) -> RestReply {
        if path != "/api/order_books" {
            return not_found(path);
        }
        let pair = param(query, "pair").unwrap_or("btc_jpy");
        let Some(i) = self.books.iter().position(|b| b.symbol() == pair) else {
            return RestReply {
                status: 400,
                body: format!(
                    "{{\"success\":false,\"error\":{}}}",
                    Value::from(format!("invalid pair: {pair}"))
                ),
            };
        };
        let b = &self.books[i];
        let mut body = String::with_capacity(64 * self.rest_depth);
        coincheck::order_books(
            &mut body,
            &b.fmt,
            b.m.levels(Side::Bid),
            b.m.levels(Side::Ask),
            self.rest_depth,
        );
        RestReply { status: 200, body }
    }

    fn rest_binance(&self, path: &str, query: &[(&str, &str)]) -> RestReply {
        let depth_path = if self.venue == Venue::BinanceUsdm {
            "/fapi/v1/depth"
        } else {
            "/api/v3/depth"
        };
        if path != depth_path {
            return not_found(path);
        }
        let err = |code: i32, msg: &str| RestReply {
            status: 400,
            body: format!("{{\"code\":{code},\"msg\":{}}}", Value::from(msg)),
        };
        let Some(sym) = param(query, "symbol").filter(|s| !s.is_empty()) else {
            return err(
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            );
        };
        let limit = match param(query, "limit").map(str::parse::<usize>) {
            None => 100,
            Some(Ok(n)) if n >= 1 => n.min(5000),
            Some(_) => return err(-1100, "Illegal characters found in parameter 'limit'."),
        };
        let Some(i) = self.books.iter().position(|b| b.symbol() == sym) else {
            return err(-1121, "Invalid symbol.");
        };
        let b = &self.books[i];
        let mut body = String::with_capacity(72 * limit.min(b.m.config().levels) * 2);
        binance::rest_depth(
            &mut body,
            &b.fmt,
            b.last_id,
            b.m.levels(Side::Bid),
            b.m.levels(Side::Ask),
            limit,
        );
        RestReply { status: 200, body }
    }
}

fn param<'a>(query: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn not_found(path: &str) -> RestReply {
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
        if self.venue != Venue::Bitbank || route != routes::BITBANK {
            return Vec::new();
        }
        self.conns += 1;
        vec![bitbank::open(self.conns)]
    }

    fn on_client_frame(&mut self, route: Route, frame: &str) -> Vec<String> {
        if self.venue == Venue::Bitbank {
            return self.bitbank_client_frame(frame);
        }
        let Ok(v) = serde_json::from_str::<Value>(frame) else {
            return Vec::new();
        };
        match self.venue {
            Venue::Bybit => self.bybit_client_frame(route, &v),
            Venue::GmoCoin => self.gmocoin_client_frame(&v),
            Venue::Bitflyer => self.bitflyer_client_frame(&v),
            Venue::Binance | Venue::BinanceUsdm => match v.get("method").and_then(Value::as_str) {
                Some("SUBSCRIBE" | "UNSUBSCRIBE") => {
                    let id = v.get("id").cloned().unwrap_or(Value::Null);
                    vec![format!("{{\"result\":null,\"id\":{id}}}")]
                }
                _ => Vec::new(),
            },
            // Coincheck acknowledges nothing.
            _ => Vec::new(),
        }
    }

    fn advance(&mut self, t_ns: u64, out: &mut Vec<(Route, String)>) -> bool {
        loop {
            let mut next: Option<(usize, u64)> = None;
            for (i, b) in self.books.iter().enumerate() {
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
        match self.venue {
            Venue::Coincheck => self.rest_coincheck(path, &query),
            Venue::Binance | Venue::BinanceUsdm => self.rest_binance(path, &query),
            Venue::GmoCoin => self.rest_gmocoin(path, &query),
            Venue::Bitbank => self.rest_bitbank(path),
            _ => not_found(path),
        }
    }

    fn book(&self, symbol: &str) -> Option<(BookSide, BookSide)> {
        let b = &self.books[self.find(symbol)?];
        let inst = b.m.instrument();
        let fmt = |(p, q): (i64, i64)| (inst.tick.format(p), inst.lot.format(q));
        Some((
            b.m.levels(Side::Bid).map(fmt).collect(),
            b.m.levels(Side::Ask).map(fmt).collect(),
        ))
    }

    fn crossed_frame(&mut self) -> Option<(Route, String)> {
        match self.venue {
            Venue::Coincheck => {
                let b = &self.books[0];
                let (ask, _) = b.m.best_ask()?;
                let bid = [(ask + 1, b.m.config().base_qty_lots)];
                let mut f = String::new();
                let pair = b.m.instrument().key.symbol;
                coincheck::diff_levels(&mut f, &pair, &b.fmt, &bid, &[], b.unix_ns());
                Some((b.route, f))
            }
            Venue::Bybit => {
                let b = self.books.iter_mut().find(|b| !b.windows.is_empty())?;
                let (ask, _) = b.m.best_ask()?;
                let w = &mut b.windows[0];
                w.u += 1;
                w.delta_b.clear();
                w.delta_a.clear();
                w.delta_b.push((ask + 1, b.m.config().base_qty_lots));
                let f = b.bybit_book_frame(0, false);
                Some((b.route, f))
            }
            Venue::GmoCoin => {
                let b = &self.books[0];
                let (ask, _) = b.m.best_ask()?;
                let bid = (ask + 1, b.m.config().base_qty_lots);
                let mut f = String::new();
                gmocoin::book(
                    &mut f,
                    b.symbol(),
                    &b.fmt,
                    unix_ms(b.unix_ns()),
                    std::iter::once(bid).chain(b.m.levels(Side::Bid).take(GMOCOIN_DEPTH - 1)),
                    b.m.levels(Side::Ask).take(GMOCOIN_DEPTH),
                );
                Some((b.route, f))
            }
            Venue::Bitflyer => {
                let b = &self.books[0];
                let (ask, _) = b.m.best_ask()?;
                let bid = (ask + 1, b.m.config().base_qty_lots);
                let mut f = String::new();
                bitflyer::board(
                    &mut f,
                    b.symbol(),
                    &b.fmt,
                    false,
                    ask,
                    std::iter::once(bid),
                    std::iter::empty(),
                );
                Some((b.route, f))
            }
            Venue::Bitbank => {
                let b = &mut self.books[0];
                let (ask, _) = b.m.best_ask()?;
                b.last_id += 1;
                let mut f = String::new();
                let pair = b.m.instrument().key.symbol;
                bitbank::diff(
                    &mut f,
                    &pair,
                    &b.fmt,
                    unix_ms(b.unix_ns()),
                    b.last_id,
                    [(ask + 1, b.m.config().base_qty_lots)].into_iter(),
                    [].into_iter(),
                );
                Some((b.route, f))
            }
            _ => {
                let usdm = self.venue == Venue::BinanceUsdm;
                let b = &mut self.books[0];
                let (ask, _) = b.m.best_ask()?;
                let pu = usdm.then_some(b.last_id);
                b.last_id += 1;
                let sym = b.m.instrument().key.symbol;
                let mut raw = String::new();
                binance::depth_update_pu(
                    &mut raw,
                    &sym,
                    &b.fmt,
                    unix_ms(b.unix_ns()),
                    b.last_id,
                    b.last_id,
                    pu,
                    [(ask + 1, b.m.config().base_qty_lots)].into_iter(),
                    [].into_iter(),
                );
                let mut f = String::new();
                binance::combined(&mut f, &sym, &raw);
                Some((routes::BINANCE_STREAM, f))
            }
        }
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
        if cfg.instrument.key.venue != Venue::Coincheck {
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
        for venue in SIMULATED {
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
