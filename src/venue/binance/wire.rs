//! Binance spot public frames, read from the simd-json tape into typed borrowed structs.
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
        ts_ms: u64,
        /// Levels left out because they are off the instrument's grid.
        off_grid: u32,
    },
    /// `aggTrade` or `trade` of a routed symbol.
    Trade { book: usize, trade: TradeUpdate },
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
        let px = match tick.parse_unsigned(px.as_bytes(), "price") {
            Ok(px) => px,
            Err(e) if is_off_grid(e.kind) => {
                // Never in the book: nothing to change. Still a number?
                lot.parse_unsigned(qty.as_bytes(), "size")
                    .or_else(|e| if is_off_grid(e.kind) { Ok(0) } else { Err(e) })
                    .map_err(FrameError::Number)?;
                off_grid += 1;
                continue;
            }
            Err(e) => return Err(FrameError::Number(e)),
        };
        let qty = match lot.parse_unsigned(qty.as_bytes(), "size") {
            Ok(q) => q,
            Err(e) if is_off_grid(e.kind) => {
                off_grid += 1;
                0
            }
            Err(e) => return Err(FrameError::Number(e)),
        };
        out.push((side, px, qty));
    }
    Ok(off_grid)
}
