//! Binance spot public frames, read into typed borrowed structs: by `read_fast` with the pull scanner
//! ([`crate::venue::json::scan`]), or by `read` from the simd-json tape, the reference, for every
//! frame the fast path gives up on.
//!
//! Raw stream (`/ws/<stream>`) or combined stream (`/stream?streams=a/b`, each event wrapped as
//! `{"stream":"nknusdt@depth@100ms","data":{...}}`):
//! `{"e":"depthUpdate","E":..,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[..]}`
//! `{"e":"aggTrade","E":..,"s":..,"a":..,"p":"0.35280000","q":"58.00000000","T":..,"m":false,..}`
//! (`m` = the buyer is the maker, so `m: true` means the seller was the aggressor; the raw
//! `trade` stream has the same fields), subscription answers `{"result":null,"id":1}` or
//! `{"error":{..},"id":1}`, and streams this decoder does not use (`bookTicker` has no `e`,
//! `kline`, `serverShutdown`).
//! REST `GET /api/v3/depth?symbol=..&limit=..` → `{"lastUpdateId":N,"bids":[[px,qty]..],"asks":[..]}`.
//! Fields are looked up by name, never by position.
//!
//! Off-grid levels: Binance keeps resting orders placed under an older, finer tick or lot size,
//! so deep snapshot levels can be off the instrument's current grid (the recorded NKNUSDT
//! snapshot has 5-decimal prices and 1-decimal sizes under a 0.0001 tick and a lot of 1). Such a
//! level cannot be an exact integer count of ticks and lots; it is left out of the book, in
//! snapshots and diffs alike, so the book stays consistent (a level at an off-grid price is never
//! in it; an off-grid size at an on-grid price deletes that price) and it is counted. A frame is
//! malformed only when a number is not a number, negative, or too large.

use crate::msg::Side;
use crate::num::NumError;
use crate::num::Scale;
use crate::venue::json::scan::{as_str, GiveUp, Scan, Scanner};
use crate::venue::json::Array;
use crate::venue::json::{str_of, u64_of};
use crate::venue::{FrameError, LevelUpdate};
use simd_json::prelude::*;
use simd_json::tape::Value;

/// Where a routed symbol goes: book index, tick and lot.
pub type Route = (usize, Scale, Scale);

/// A trade print: price, size, aggressor side, exchange time (ms).
pub type TradeUpdate = (i64, i64, Side, u64);

/// A Binance frame's header; levels go to the caller's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// `depthUpdate` of a routed symbol: first (`U`) and last (`u`) update id, event time.
    Depth {
        book: usize,
        first_id: u64,
        last_id: u64,
        /// `pu` (USD-M futures): the previous event's `u`.
        prev_id: Option<u64>,
        ts_ms: u64,
        /// Levels left out because they are off the instrument's grid.
        off_grid: u32,
    },
    /// `aggTrade` or `trade` of a routed symbol.
    Trade { book: usize, trade: TradeUpdate },
    /// A REST depth snapshot body (`{"lastUpdateId":..,"bids":..,"asks":..}`) recorded as a
    /// plain frame line, read by [`read_snapshot_line`] into the levels buffer: the book it
    /// belongs to (`None` when it cannot be told), its `lastUpdateId`, off-grid levels left out.
    Snapshot {
        book: Option<usize>,
        id: u64,
        off_grid: u32,
    },
    /// Subscription answer (`ok == false` for an `error` answer).
    Ack { ok: bool },
    /// A stream or symbol this decoder does not handle.
    Other,
}

/// Reads one WebSocket frame. `route(symbol)` gives a routed symbol's book and scales, `None`
/// for an unrouted one (reported as `Other`). `routed_book` is set as soon as the frame is known
/// to be a depth update of a routed book, so the caller can resync it if the rest is malformed.
#[inline]
pub fn read(
    root: Value<'_, '_>,
    mut route: impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, FrameError> {
    let root = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    // Combined stream: the event is under `data`.
    let ev = match root.get("data") {
        Some(d) if root.get("stream").is_some() => {
            d.as_object().ok_or(FrameError::Missing("data"))?
        }
        _ => root,
    };
    let Some(kind) = str_of(ev.get("e")) else {
        if ev.get("result").is_some() && ev.get("id").is_some() {
            return Ok(Frame::Ack { ok: true });
        }
        if ev.get("error").is_some() {
            return Ok(Frame::Ack { ok: false });
        }
        // bookTicker (no `e`) and anything else.
        return Ok(Frame::Other);
    };
    match kind {
        "depthUpdate" => {
            let symbol = str_of(ev.get("s")).ok_or(FrameError::Missing("s"))?;
            let Some((book, tick, lot)) = route(symbol) else {
                return Ok(Frame::Other);
            };
            *routed_book = Some(book);
            let first_id = u64_of(ev.get("U")).ok_or(FrameError::Missing("U"))?;
            let last_id = u64_of(ev.get("u")).ok_or(FrameError::Missing("u"))?;
            if last_id < first_id {
                return Err(FrameError::Missing("u (not below U)"));
            }
            let prev_id = match ev.get("pu") {
                None => None,
                pu => Some(u64_of(pu).ok_or(FrameError::Missing("pu"))?),
            };
            let ts_ms = u64_of(ev.get("E")).unwrap_or(0);
            levels.clear();
            let bids = ev
                .get("b")
                .and_then(|v| v.as_array())
                .ok_or(FrameError::Missing("b"))?;
            let mut off_grid = read_levels(&bids, Side::Bid, tick, lot, levels)?;
            let asks = ev
                .get("a")
                .and_then(|v| v.as_array())
                .ok_or(FrameError::Missing("a"))?;
            off_grid += read_levels(&asks, Side::Ask, tick, lot, levels)?;
            Ok(Frame::Depth {
                book,
                first_id,
                last_id,
                prev_id,
                ts_ms,
                off_grid,
            })
        }
        "aggTrade" | "trade" => {
            let symbol = str_of(ev.get("s")).ok_or(FrameError::Missing("s"))?;
            let Some((book, tick, lot)) = route(symbol) else {
                return Ok(Frame::Other);
            };
            let px = str_of(ev.get("p")).ok_or(FrameError::Missing("p"))?;
            let qty = str_of(ev.get("q")).ok_or(FrameError::Missing("q"))?;
            let buyer_is_maker = ev
                .get("m")
                .and_then(|v| v.as_bool())
                .ok_or(FrameError::Missing("m"))?;
            let ts_ms = u64_of(ev.get("T"))
                .or_else(|| u64_of(ev.get("E")))
                .unwrap_or(0);
            let px = tick
                .parse_unsigned(px.as_bytes(), "p")
                .map_err(FrameError::Number)?;
            let qty = lot
                .parse_unsigned(qty.as_bytes(), "q")
                .map_err(FrameError::Number)?;
            let aggressor = if buyer_is_maker { Side::Ask } else { Side::Bid };
            Ok(Frame::Trade {
                book,
                trade: (px, qty, aggressor, ts_ms),
            })
        }
        _ => Ok(Frame::Other),
    }
}

/// Whether a frame's root is a REST depth snapshot body rather than a stream event: an object
/// with `lastUpdateId` and no event type `e` (spot `GET /api/v3/depth`, USD-M futures
/// `GET /fapi/v1/depth`, which adds `E` and `T`).
pub fn is_snapshot_body(root: Value<'_, '_>) -> bool {
    root.as_object()
        .is_some_and(|o| o.get("lastUpdateId").is_some() && o.get("e").is_none())
}

/// Reads a REST depth snapshot body met as a frame line (see [`Frame::Snapshot`]).
/// The body names no symbol; `pick(symbol, id)` says which book it is, given the symbol when a
/// recorder added one (`s` or `symbol`) and the `lastUpdateId`, and gives the book's scales.
pub fn read_snapshot_line(
    root: Value<'_, '_>,
    mut pick: impl FnMut(Option<&str>, u64) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
) -> Result<Frame, FrameError> {
    let obj = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    let id = u64_of(obj.get("lastUpdateId")).ok_or(FrameError::Missing("lastUpdateId"))?;
    let symbol = str_of(obj.get("s")).or_else(|| str_of(obj.get("symbol")));
    let Some((book, tick, lot)) = pick(symbol, id) else {
        return Ok(Frame::Snapshot {
            book: None,
            id,
            off_grid: 0,
        });
    };
    let (id, off_grid) = read_snapshot(root, tick, lot, levels)?;
    Ok(Frame::Snapshot {
        book: Some(book),
        id,
        off_grid,
    })
}

/// Reads a REST depth snapshot body into `levels`; returns its `lastUpdateId` and the number of
/// levels left out because they are off the instrument's grid.
pub fn read_snapshot(
    root: Value<'_, '_>,
    tick: Scale,
    lot: Scale,
    levels: &mut Vec<LevelUpdate>,
) -> Result<(u64, u32), FrameError> {
    let obj = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    let id = u64_of(obj.get("lastUpdateId")).ok_or(FrameError::Missing("lastUpdateId"))?;
    levels.clear();
    let bids = obj
        .get("bids")
        .and_then(|v| v.as_array())
        .ok_or(FrameError::Missing("bids"))?;
    let mut off_grid = read_levels(&bids, Side::Bid, tick, lot, levels)?;
    let asks = obj
        .get("asks")
        .and_then(|v| v.as_array())
        .ok_or(FrameError::Missing("asks"))?;
    off_grid += read_levels(&asks, Side::Ask, tick, lot, levels)?;
    Ok((id, off_grid))
}

/// Whether a number error means "a valid decimal, just finer than the grid".
#[inline]
fn is_off_grid(kind: NumError) -> bool {
    matches!(kind, NumError::NotMultiple | NumError::TooManyDigits)
}

/// Reads `[["price","size"], ...]` into `out`, leaving off-grid levels out (see the module
/// docs); returns how many were left out.
#[inline]
fn read_levels(
    arr: &Array<'_, '_>,
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
) -> Result<u32, FrameError> {
    let mut off_grid = 0;
    for lv in arr.iter() {
        let pair = lv.as_array().ok_or(FrameError::Missing("level"))?;
        let (Some(px), Some(qty)) = (pair.get(0), pair.get(1)) else {
            return Err(FrameError::Missing("level"));
        };
        let px = px.as_str().ok_or(FrameError::Missing("level price"))?;
        let qty = qty.as_str().ok_or(FrameError::Missing("level size"))?;
        off_grid += read_level(px.as_bytes(), qty.as_bytes(), side, tick, lot, out)?;
    }
    Ok(off_grid)
}

/// One level: pushed to `out`, or left out when its price is off the grid (and a size off the
/// grid deletes the price). Returns 1 for a level off the grid.
#[inline]
fn read_level(
    px: &[u8],
    qty: &[u8],
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
) -> Result<u32, FrameError> {
    let px = match tick.parse_unsigned(px, "price") {
        Ok(px) => px,
        Err(e) if is_off_grid(e.kind) => {
            // Never in the book: nothing to change. Still a number?
            lot.parse_unsigned(qty, "size")
                .or_else(|e| if is_off_grid(e.kind) { Ok(0) } else { Err(e) })
                .map_err(FrameError::Number)?;
            return Ok(1);
        }
        Err(e) => return Err(FrameError::Number(e)),
    };
    let (qty, off_grid) = match lot.parse_unsigned(qty, "size") {
        Ok(q) => (q, 0),
        Err(e) if is_off_grid(e.kind) => (0, 1),
        Err(e) => return Err(FrameError::Number(e)),
    };
    out.push((side, px, qty));
    Ok(off_grid)
}

/// A level array of an event on the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lv {
    Absent,
    /// Read into the levels buffer: how many were pushed and left out.
    Read(usize, u32),
    /// Met before the event's symbol: its byte range, read once the symbol is known.
    Span(usize, usize),
    /// Not an array (a `bookTicker`'s best price, an `aggTrade`'s id).
    NotArray,
}

/// The fields of one event object (the root of a raw stream frame, or a combined stream's
/// `data`) as the fast path met them.
#[derive(Debug, Clone, Copy)]
struct Ev<'i> {
    e: Option<&'i [u8]>,
    s: Option<&'i [u8]>,
    first: Option<Option<u64>>,
    last: Option<Option<u64>>,
    prev: Option<Option<u64>>,
    time: Option<Option<u64>>,
    trade_time: Option<Option<u64>>,
    p: Option<&'i [u8]>,
    q: Option<&'i [u8]>,
    m: Option<Option<bool>>,
    result: bool,
    id: bool,
    error: bool,
    b: Lv,
    a: Lv,
    /// The route of `s`, once asked.
    route: Option<Option<Route>>,
    /// Which event of the frame this is (0 the root, 1 a combined stream's `data`).
    which: u8,
}

impl Default for Ev<'_> {
    fn default() -> Self {
        Ev {
            e: None,
            s: None,
            first: None,
            last: None,
            prev: None,
            time: None,
            trade_time: None,
            p: None,
            q: None,
            m: None,
            result: false,
            id: false,
            error: false,
            b: Lv::Absent,
            a: Lv::Absent,
            route: None,
            which: 0,
        }
    }
}

/// Sets a field met once; a second occurrence gives up (simd-json's lookup takes the first,
/// and the fast path does not guess).
#[inline]
fn once<T>(slot: &mut Option<T>, v: T) -> Scan<()> {
    if slot.is_some() {
        return Err(GiveUp);
    }
    *slot = Some(v);
    Ok(())
}

/// What the fast path shares while reading a frame: the router and the levels buffer (which
/// one event at most may fill).
struct Ctx<'r, R> {
    route: &'r mut R,
    levels: &'r mut Vec<LevelUpdate>,
    /// The event whose levels are in the buffer.
    levels_of: Option<u8>,
}

impl<R: FnMut(&str) -> Scan<Option<Route>>> Ctx<'_, R> {
    #[inline]
    fn route_of(&mut self, ev: &mut Ev<'_>) -> Scan<Option<Route>> {
        if let Some(r) = ev.route {
            return Ok(r);
        }
        let s = ev.s.ok_or(GiveUp)?;
        let r = (self.route)(as_str(s))?;
        ev.route = Some(r);
        Ok(r)
    }

    /// Reads a level array of `ev` now (its symbol is known) or keeps its span for later.
    #[inline]
    fn levels_of(&mut self, s: &mut Scanner<'_>, ev: &mut Ev<'_>, side: Side) -> Scan<Lv> {
        if s.peek()? != b'[' {
            return s.skip_value().map(|_| Lv::NotArray);
        }
        if ev.s.is_none() {
            s.peek()?;
            let start = s.pos();
            s.skip_value()?;
            return Ok(Lv::Span(start, s.pos()));
        }
        match self.route_of(ev)? {
            Some((_, tick, lot)) => self.read_levels(s, ev.which, side, tick, lot),
            None => s.skip_value().map(|_| Lv::Read(0, 0)),
        }
    }

    #[inline]
    fn read_levels(
        &mut self,
        s: &mut Scanner<'_>,
        which: u8,
        side: Side,
        tick: Scale,
        lot: Scale,
    ) -> Scan<Lv> {
        match self.levels_of {
            None => {
                self.levels.clear();
                self.levels_of = Some(which);
            }
            Some(w) if w == which => {}
            Some(_) => return Err(GiveUp),
        }
        let start = self.levels.len();
        let mut off_grid = 0;
        if s.array()? {
            loop {
                match s.try_decimal_pair(tick, lot) {
                    Some((px, qty)) => self.levels.push((side, px, qty)),
                    None => {
                        let (px, qty) = s.string_pair()?;
                        off_grid += read_level(px, qty, side, tick, lot, self.levels)
                            .map_err(|_| GiveUp)?;
                    }
                }
                if !s.more_elements()? {
                    break;
                }
            }
        }
        Ok(Lv::Read(self.levels.len() - start, off_grid))
    }

    /// One member of an event object.
    #[inline]
    fn member<'i>(&mut self, s: &mut Scanner<'i>, ev: &mut Ev<'i>, key: &[u8]) -> Scan<()> {
        match key {
            b"e" => once(&mut ev.e, s.string()?),
            b"s" => once(&mut ev.s, s.string()?),
            b"U" => once(&mut ev.first, s.u64_of()?),
            b"u" => once(&mut ev.last, s.u64_of()?),
            b"pu" => once(&mut ev.prev, s.u64_of()?),
            b"E" => once(&mut ev.time, s.u64_of()?),
            b"T" => once(&mut ev.trade_time, s.u64_of()?),
            b"p" => once(&mut ev.p, s.string()?),
            b"q" => once(&mut ev.q, s.string()?),
            b"m" => once(&mut ev.m, s.bool_of()?),
            b"b" | b"a" => {
                let (side, other) = if key == b"b" {
                    (Side::Bid, ev.a)
                } else {
                    (Side::Ask, ev.b)
                };
                if (key == b"b" && ev.b != Lv::Absent) || (key == b"a" && ev.a != Lv::Absent) {
                    return Err(GiveUp);
                }
                // Asks read before bids would come out first: keep the tape's order simple.
                if side == Side::Bid && matches!(other, Lv::Read(n, _) if n > 0) {
                    return Err(GiveUp);
                }
                let lv = self.levels_of(s, ev, side)?;
                if side == Side::Bid {
                    ev.b = lv;
                } else {
                    ev.a = lv;
                }
                Ok(())
            }
            // A REST snapshot body on a frame line: the tape path reads it.
            b"lastUpdateId" => Err(GiveUp),
            b"result" | b"id" | b"error" => {
                let seen = match key {
                    b"result" => &mut ev.result,
                    b"id" => &mut ev.id,
                    _ => &mut ev.error,
                };
                if *seen {
                    return Err(GiveUp);
                }
                *seen = true;
                s.skip_value()
            }
            _ => s.skip_value(),
        }
    }

    /// A whole event object's members (the scanner after its `{`, which had members).
    #[inline]
    fn event<'i>(&mut self, s: &mut Scanner<'i>, which: u8) -> Scan<Ev<'i>> {
        let mut ev = Ev {
            which,
            ..Ev::default()
        };
        loop {
            let key = s.key()?;
            self.member(s, &mut ev, key)?;
            if !s.more_members()? {
                return Ok(ev);
            }
        }
    }
}

/// Reads one WebSocket frame with the pull scanner: for every frame it accepts, the same
/// [`Frame`] and levels as [`read`] (and `Some(book)` for a routed depth update). It gives up
/// on anything else — escapes, unusual numbers, duplicate fields it reads, malformed input,
/// every frame [`read`] refuses — and the caller then reads the frame with [`read`].
///
/// `route(symbol)` is [`crate::venue::BookRoutes::route_fast`]'s answer.
pub fn read_fast(
    input: &[u8],
    mut route: impl FnMut(&str) -> Scan<Option<Route>>,
    levels: &mut Vec<LevelUpdate>,
) -> Scan<Frame> {
    if let Some(f) = read_depth_layout(input, &mut route, levels) {
        return Ok(f);
    }
    levels.clear();
    read_fast_general(input, route, levels)
}

/// The levels of a `"b":[` or `"a":[` array in Binance's own layout (its `[` consumed): the
/// compact pairs [`Scanner::try_decimal_pair`] reads, separated by bare commas. `None` for
/// anything else (an off-grid level included): the general reader then decides.
#[inline(always)]
fn layout_levels(
    s: &mut Scanner<'_>,
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
) -> Option<()> {
    if s.eat(b"]") {
        return Some(());
    }
    loop {
        let (px, qty) = s.try_decimal_pair(tick, lot)?;
        out.push((side, px, qty));
        if !s.eat(b",") {
            return s.eat(b"]").then_some(());
        }
    }
}

/// A routed `depthUpdate` as Binance writes it, read stretch by stretch against its fixed
/// layout: `{"stream":"..","data":{"e":"depthUpdate","E":..,"s":"..","U":..,"u":..,"b":[..],
/// "a":[..]}}` (or the same event unwrapped, a raw stream), USD-M's `"T"` after `E` and `"pu"`
/// after `u` allowed. Every frame it takes is one [`read_fast_general`] takes, with the same
/// [`Frame`] and levels; `None` (the levels buffer then holds nothing of use) for any other
/// frame, an unrouted symbol or a number that is not plain, and the general reader decides.
#[inline]
fn read_depth_layout(
    input: &[u8],
    route: &mut impl FnMut(&str) -> Scan<Option<Route>>,
    levels: &mut Vec<LevelUpdate>,
) -> Option<Frame> {
    let mut s = Scanner::new(input);
    let wrapped = if s.eat(br#"{"stream":"#) {
        s.string().ok()?;
        if !s.eat(br#","data":{"e":"depthUpdate","E":"#) {
            return None;
        }
        true
    } else if s.eat(br#"{"e":"depthUpdate","E":"#) {
        false
    } else {
        return None;
    };
    let ts_ms = s.uint().ok()?;
    if s.eat(br#","T":"#) {
        s.uint().ok()?;
    }
    if !s.eat(br#","s":"#) {
        return None;
    }
    let symbol = s.string().ok()?;
    if !s.eat(br#","U":"#) {
        return None;
    }
    let first_id = s.uint().ok()?;
    if !s.eat(br#","u":"#) {
        return None;
    }
    let last_id = s.uint().ok()?;
    let prev_id = if s.eat(br#","pu":"#) {
        Some(s.uint().ok()?)
    } else {
        None
    };
    if last_id < first_id || !s.eat(br#","b":["#) {
        return None;
    }
    let (book, tick, lot) = route(as_str(symbol)).ok()??;
    levels.clear();
    layout_levels(&mut s, Side::Bid, tick, lot, levels)?;
    if !s.eat(br#","a":["#) {
        return None;
    }
    layout_levels(&mut s, Side::Ask, tick, lot, levels)?;
    if !s.eat(if wrapped { b"}}" } else { b"}" }) || !(s.at_end() || s.finish().is_ok()) {
        return None;
    }
    Some(Frame::Depth {
        book,
        first_id,
        last_id,
        prev_id,
        ts_ms,
        off_grid: 0,
    })
}

/// [`read_fast`] for every layout: members in any order, whitespace, off-grid levels.
pub fn read_fast_general(
    input: &[u8],
    mut route: impl FnMut(&str) -> Scan<Option<Route>>,
    levels: &mut Vec<LevelUpdate>,
) -> Scan<Frame> {
    let mut s = Scanner::new(input);
    let mut cx = Ctx {
        route: &mut route,
        levels,
        levels_of: None,
    };
    if !s.object()? {
        s.finish()?;
        return Ok(Frame::Other);
    }
    // The root's own members as an event (a raw stream), and a combined stream's parts.
    let mut root = Ev::default();
    let mut stream = false;
    let mut data: Option<Option<Ev<'_>>> = None;
    loop {
        let key = s.key()?;
        match key {
            b"stream" => {
                if stream {
                    return Err(GiveUp);
                }
                stream = true;
                s.skip_value()?;
            }
            b"data" => {
                if data.is_some() {
                    return Err(GiveUp);
                }
                data = Some(if s.peek()? == b'{' {
                    if s.object()? {
                        Some(cx.event(&mut s, 1)?)
                    } else {
                        Some(Ev::default())
                    }
                } else {
                    s.skip_value()?;
                    None
                });
            }
            _ => cx.member(&mut s, &mut root, key)?,
        }
        if !s.more_members()? {
            break;
        }
    }
    s.finish()?;
    let mut ev = match data {
        Some(d) if stream => d.ok_or(GiveUp)?,
        _ => root,
    };
    let Some(kind) = ev.e else {
        if ev.result && ev.id {
            return Ok(Frame::Ack { ok: true });
        }
        if ev.error {
            return Ok(Frame::Ack { ok: false });
        }
        return Ok(Frame::Other);
    };
    match kind {
        b"depthUpdate" => {
            let Some((book, tick, lot)) = cx.route_of(&mut ev)? else {
                return Ok(Frame::Other);
            };
            let first_id = ev.first.flatten().ok_or(GiveUp)?;
            let last_id = ev.last.flatten().ok_or(GiveUp)?;
            if last_id < first_id {
                return Err(GiveUp);
            }
            // Levels met before the symbol, bids first.
            let mut off_grid = 0;
            for (lv, side) in [(ev.b, Side::Bid), (ev.a, Side::Ask)] {
                off_grid += match lv {
                    Lv::Absent | Lv::NotArray => return Err(GiveUp),
                    Lv::Read(_, o) => o,
                    Lv::Span(start, end) => {
                        if side == Side::Bid && matches!(ev.a, Lv::Read(n, _) if n > 0) {
                            return Err(GiveUp);
                        }
                        let mut d = Scanner::new(&input[start..end]);
                        let Lv::Read(_, o) = cx.read_levels(&mut d, ev.which, side, tick, lot)?
                        else {
                            return Err(GiveUp);
                        };
                        d.finish()?;
                        o
                    }
                };
            }
            let prev_id = match ev.prev {
                None => None,
                Some(Some(pu)) => Some(pu),
                Some(None) => return Err(GiveUp),
            };
            Ok(Frame::Depth {
                book,
                first_id,
                last_id,
                prev_id,
                ts_ms: ev.time.flatten().unwrap_or(0),
                off_grid,
            })
        }
        b"aggTrade" | b"trade" => {
            let Some((book, tick, lot)) = cx.route_of(&mut ev)? else {
                return Ok(Frame::Other);
            };
            let px = tick
                .parse_unsigned(ev.p.ok_or(GiveUp)?, "p")
                .map_err(|_| GiveUp)?;
            let qty = lot
                .parse_unsigned(ev.q.ok_or(GiveUp)?, "q")
                .map_err(|_| GiveUp)?;
            let buyer_is_maker = ev.m.flatten().ok_or(GiveUp)?;
            let ts_ms = ev.trade_time.flatten().or(ev.time.flatten()).unwrap_or(0);
            let aggressor = if buyer_is_maker { Side::Ask } else { Side::Bid };
            Ok(Frame::Trade {
                book,
                trade: (px, qty, aggressor, ts_ms),
            })
        }
        _ => Ok(Frame::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::testutil::{edited, edits, shared_data};
    use proptest::prelude::*;

    /// NKNUSDT at its instrument's scales (tick 0.0001, lot 1); other symbols unrouted.
    fn route(sym: &str) -> Scan<Option<Route>> {
        Ok((sym == "NKNUSDT").then_some((0, Scale::new(4, 1), Scale::new(0, 1))))
    }

    /// The layout reader's answer for `frame`, beside the general reader's.
    /// A reader's answer: the frame and its levels.
    type Read = (Frame, Vec<LevelUpdate>);

    fn both(frame: &[u8]) -> (Option<Read>, Scan<Read>) {
        let mut a = vec![(Side::Ask, -1, -1)];
        let layout = read_depth_layout(frame, &mut route, &mut a).map(|f| (f, a));
        let mut b = Vec::new();
        let general = read_fast_general(frame, route, &mut b).map(|f| (f, b));
        (layout, general)
    }

    fn depth_frames() -> Option<Vec<String>> {
        let path = shared_data("binance_spot_cryptofeed_20211012.jsonl")?;
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let frames: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                let d = v["data"].as_str()?;
                (v["t"] == "recv" && d.contains("depthUpdate")).then(|| d.to_string())
            })
            .collect();
        assert!(
            frames.len() > 150,
            "{}: {} depth frames",
            path.display(),
            frames.len()
        );
        Some(frames)
    }

    /// Every recorded NKNUSDT diff is taken by the layout reader, with the general reader's
    /// frame and levels; the other symbols' diffs (unrouted) are left to it.
    #[test]
    fn layout_reader_takes_every_recorded_diff_as_the_general_reader_does() {
        let Some(frames) = depth_frames() else {
            return;
        };
        let mut taken = 0;
        for f in &frames {
            let (layout, general) = both(f.as_bytes());
            let nkn = f.contains(r#""s":"NKNUSDT""#);
            match layout {
                Some(l) => {
                    assert!(nkn, "{f}");
                    assert_eq!(Ok(l), general, "{f}");
                    taken += 1;
                }
                None => assert!(!nkn, "the layout reader left a routed diff: {f}"),
            }
        }
        assert!(taken >= 150, "{taken} diffs taken");
    }

    #[test]
    fn layout_reader_forms() {
        let raw = br#"{"e":"depthUpdate","E":7,"s":"NKNUSDT","U":5,"u":6,"b":[["0.35200000","1290.00000000"]],"a":[]}"#;
        let usdm = br#"{"stream":"nknusdt@depth","data":{"e":"depthUpdate","E":7,"T":6,"s":"NKNUSDT","U":5,"u":6,"pu":4,"b":[],"a":[["0.35260000","630.00000000"],["0.35270000","0.00000000"]]}}  "#;
        for (f, want) in [
            (&raw[..], Some((None, 1))),
            (&usdm[..], Some((Some(4), 2))),
            // Off the grid (a fifth place): left to the general reader, which counts it.
            (br#"{"e":"depthUpdate","E":7,"s":"NKNUSDT","U":5,"u":6,"b":[["0.35201000","1"]],"a":[]}"#, None),
            // u below U, whitespace in a pair, an unrouted symbol, a key after the asks.
            (br#"{"e":"depthUpdate","E":7,"s":"NKNUSDT","U":6,"u":5,"b":[],"a":[]}"#, None),
            (br#"{"e":"depthUpdate","E":7,"s":"NKNUSDT","U":5,"u":6,"b":[[ "0.3520","1"]],"a":[]}"#, None),
            (br#"{"e":"depthUpdate","E":7,"s":"BTCUSDT","U":5,"u":6,"b":[],"a":[]}"#, None),
            (br#"{"e":"depthUpdate","E":7,"s":"NKNUSDT","U":5,"u":6,"b":[],"a":[],"x":1}"#, None),
            (br#"{"e":"depthUpdate","E":7,"s":"NKNUSDT","U":5,"u":6,"b":[],"a":[]}x"#, None),
        ] {
            let (layout, general) = both(f);
            let got = layout.as_ref().map(|(fr, lv)| match fr {
                Frame::Depth { prev_id, .. } => (*prev_id, lv.len()),
                other => panic!("{other:?}"),
            });
            assert_eq!(got, want, "{}", String::from_utf8_lossy(f));
            if let Some(l) = layout {
                assert_eq!(Ok(l), general, "{}", String::from_utf8_lossy(f));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// Whatever edited diff the layout reader takes, the general reader takes the same way.
        #[test]
        fn layout_reader_agrees_with_the_general_reader_on_edited_frames(
            which in 0usize..2,
            e in edits(),
        ) {
            let base: [&[u8]; 2] = [
                br#"{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1633998522673,"s":"NKNUSDT","U":499869867,"u":499869875,"b":[["0.35210000","3506.00000000"],["0.35200000","5551.00000000"]],"a":[["0.35260000","630.00000000"],["0.35270000","3529.00000000"]]}}"#,
                br#"{"e":"depthUpdate","E":7,"T":6,"s":"NKNUSDT","U":5,"u":6,"pu":4,"b":[["0.3521","3506"]],"a":[]}"#,
            ];
            let f = edited(base[which], &e);
            let (layout, general) = both(&f);
            if let Some(l) = layout {
                prop_assert_eq!(Ok(l), general, "{}", String::from_utf8_lossy(&f));
            }
        }
    }
}
