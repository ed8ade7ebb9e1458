//! Coincheck public frames, read into typed borrowed structs: by `read_fast` with the pull scanner
//! ([`crate::venue::json::scan`]), or by `read` from the simd-json tape, the reference, for every
//! frame the fast path gives up on.
//!
//! `{pair}-orderbook` (diffs: absolute sizes, `"0"` deletes, arrays in no particular order):
//! `["btc_jpy",{"bids":[["6288279.0","0"]],"asks":[["6290314.0","0.5"]],"last_update_at":"1705396097"}]`
//! `{pair}-trades` (one frame may carry several trades):
//! `[["1663318663","2357062","btc_jpy","2820896.0","5.0","sell","1193401","2078767"],..]`
//! = timestamp (s), trade id, pair, rate, amount, taker side, taker order id, maker order id;
//! the older shape `[id,"btc_jpy","2820896.0","5.0","sell"]` (one trade, no timestamp) is read too.
//! REST `GET /api/order_books?pair=btc_jpy` → `{"asks":[["27330.0","2.25"],..],"bids":[..]}`.

use crate::msg::Side;
use crate::num::Scale;
use crate::venue::json::scan::{as_str, GiveUp, Scan, Scanner};
use crate::venue::json::{str_of, u64_of, Array};
use crate::venue::{read_levels, scan_levels, FrameError, LevelUpdate};
use simd_json::prelude::*;
use simd_json::tape::Value;

/// Where a routed pair goes: book index, tick and lot.
pub type Route = (usize, Scale, Scale);

/// A trade print of one book: book, price, size, aggressor side, exchange time (ms).
pub type BookTrade = (usize, i64, i64, Side, u64);

/// A Coincheck frame's header; levels and trades go to the caller's scratch buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// An orderbook diff of a routed pair; `ts_ms` from `last_update_at` (whole seconds).
    Book { book: usize, ts_ms: u64 },
    /// Trades; those of routed pairs are in the scratch buffer (possibly none).
    Trades,
    /// A REST order book body (`{"asks":[..],"bids":[..]}`, `GET /api/order_books`) recorded
    /// as a plain frame line, its levels in the scratch buffer: the book it belongs to (`None`
    /// when it cannot be told).
    Snapshot { book: Option<usize> },
    /// Anything else (an object, an unrouted pair's book).
    Other,
}

/// Reads a frame whose root is an object: a REST order book body met on a frame line
/// ([`Frame::Snapshot`]; `pick(pair)` names its book, given the pair when a recorder added
/// one), or anything else.
pub fn read_object(
    root: Value<'_, '_>,
    mut pick: impl FnMut(Option<&str>) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
) -> Result<Frame, FrameError> {
    let Some(obj) = root.as_object() else {
        return Ok(Frame::Other);
    };
    if obj.get("bids").is_none() || obj.get("asks").is_none() {
        return Ok(Frame::Other);
    }
    let Some((book, tick, lot)) = pick(str_of(obj.get("pair"))) else {
        return Ok(Frame::Snapshot { book: None });
    };
    read_snapshot(root, tick, lot, levels)?;
    Ok(Frame::Snapshot { book: Some(book) })
}

/// Reads one WebSocket frame. `route(pair)` gives a routed pair's book and scales, `None` for an
/// unrouted one. `routed_book` is set as soon as the frame is known to be an orderbook diff of a
/// routed book, so the caller can re-seed it if the rest is malformed.
#[inline]
pub fn read(
    root: Value<'_, '_>,
    mut route: impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<BookTrade>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, FrameError> {
    if root.as_object().is_some() {
        return Ok(Frame::Other);
    }
    let arr = root.as_array().ok_or(FrameError::Missing("<root array>"))?;
    let first = arr.get(0).ok_or(FrameError::Missing("<frame element>"))?;
    // Orderbook: [pair, {bids, asks, last_update_at}].
    if let (Some(pair), Some(body)) = (first.as_str(), arr.get(1).and_then(|v| v.as_object())) {
        let Some((book, tick, lot)) = route(pair) else {
            return Ok(Frame::Other);
        };
        *routed_book = Some(book);
        levels.clear();
        let bids = body
            .get("bids")
            .and_then(|v| v.as_array())
            .ok_or(FrameError::Missing("bids"))?;
        read_levels(&bids, Side::Bid, tick, lot, levels)?;
        let asks = body
            .get("asks")
            .and_then(|v| v.as_array())
            .ok_or(FrameError::Missing("asks"))?;
        read_levels(&asks, Side::Ask, tick, lot, levels)?;
        let ts_ms = u64_of(body.get("last_update_at")).map_or(0, |s| s.saturating_mul(1000));
        return Ok(Frame::Book { book, ts_ms });
    }
    trades.clear();
    if first.as_array().is_some() {
        // Current shape: an array of trades.
        for t in arr.iter() {
            let t = t.as_array().ok_or(FrameError::Missing("trade"))?;
            read_trade(&t, &mut route, trades)?;
        }
    } else {
        // One trade, unwrapped (the older shape).
        read_trade(&arr, &mut route, trades)?;
    }
    Ok(Frame::Trades)
}

/// Reads one trade array of either shape; unrouted pairs are skipped.
#[inline]
fn read_trade(
    t: &Array<'_, '_>,
    route: &mut impl FnMut(&str) -> Option<Route>,
    out: &mut Vec<BookTrade>,
) -> Result<(), FrameError> {
    // (index of the pair, whether a timestamp leads)
    let (at, ts_ms) = match t.len() {
        n if n >= 6 => (
            2,
            u64_of(t.get(0))
                .ok_or(FrameError::Missing("trade timestamp"))?
                .saturating_mul(1000),
        ),
        5 => (1, 0),
        _ => return Err(FrameError::Missing("trade fields")),
    };
    let pair = str_of(t.get(at)).ok_or(FrameError::Missing("trade pair"))?;
    let rate = str_of(t.get(at + 1)).ok_or(FrameError::Missing("trade rate"))?;
    let amount = str_of(t.get(at + 2)).ok_or(FrameError::Missing("trade amount"))?;
    let aggressor = match str_of(t.get(at + 3)) {
        Some("buy") => Side::Bid,
        Some("sell") => Side::Ask,
        _ => return Err(FrameError::Missing("trade side")),
    };
    let Some((book, tick, lot)) = route(pair) else {
        return Ok(());
    };
    let px = tick
        .parse_unsigned(rate.as_bytes(), "rate")
        .map_err(FrameError::Number)?;
    let qty = lot
        .parse_unsigned(amount.as_bytes(), "amount")
        .map_err(FrameError::Number)?;
    out.push((book, px, qty, aggressor, ts_ms));
    Ok(())
}

/// Reads a REST order book (`/api/order_books`) into `levels`.
pub fn read_snapshot(
    root: Value<'_, '_>,
    tick: Scale,
    lot: Scale,
    levels: &mut Vec<LevelUpdate>,
) -> Result<(), FrameError> {
    let obj = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    levels.clear();
    let bids = obj
        .get("bids")
        .and_then(|v| v.as_array())
        .ok_or(FrameError::Missing("bids"))?;
    read_levels(&bids, Side::Bid, tick, lot, levels)?;
    let asks = obj
        .get("asks")
        .and_then(|v| v.as_array())
        .ok_or(FrameError::Missing("asks"))?;
    read_levels(&asks, Side::Ask, tick, lot, levels)?;
    Ok(())
}

/// One element of a trade array, as far as the fast path reads it.
#[derive(Debug, Clone, Copy)]
enum Tok<'i> {
    Str(&'i [u8]),
    UInt(u64),
    Other,
}

/// Reads one WebSocket frame with the pull scanner: for every frame it accepts, the same
/// [`Frame`], levels and trades as [`read`]. It gives up on anything else — escapes, unusual
/// numbers, duplicate fields it reads, the older one-trade shape, malformed input, every frame
/// [`read`] refuses — and the caller then reads the frame with [`read`].
///
/// `route(pair)` is [`crate::venue::BookRoutes::route_fast`]'s answer.
pub fn read_fast(
    input: &[u8],
    mut route: impl FnMut(&str) -> Scan<Option<Route>>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<BookTrade>,
) -> Scan<Frame> {
    let mut s = Scanner::new(input);
    if s.peek()? == b'{' {
        // An object with `bids`/`asks` is a REST body on a frame line: the tape path reads it.
        if s.object()? {
            loop {
                if matches!(s.key()?, b"bids" | b"asks") {
                    return Err(GiveUp);
                }
                s.skip_value()?;
                if !s.more_members()? {
                    break;
                }
            }
        }
        s.finish()?;
        return Ok(Frame::Other);
    }
    if !s.array()? {
        return Err(GiveUp);
    }
    let frame = match s.peek()? {
        b'"' => {
            // [pair, {bids, asks, last_update_at}, ...]
            let pair = as_str(s.string()?);
            if !s.more_elements()? || s.peek()? != b'{' {
                return Err(GiveUp);
            }
            match route(pair)? {
                None => {
                    s.skip_value()?;
                    Frame::Other
                }
                Some((book, tick, lot)) => {
                    let ts_ms = read_body(&mut s, tick, lot, levels)?;
                    Frame::Book { book, ts_ms }
                }
            }
        }
        b'[' => {
            // [[trade], [trade], ...]
            trades.clear();
            loop {
                read_trade_fast(&mut s, &mut route, trades)?;
                if !s.more_elements()? {
                    break;
                }
            }
            s.finish()?;
            return Ok(Frame::Trades);
        }
        _ => return Err(GiveUp),
    };
    // Whatever else the array holds.
    while s.more_elements()? {
        s.skip_value()?;
    }
    s.finish()?;
    Ok(frame)
}

/// `{"bids":[..],"asks":[..],"last_update_at":".."}` in any order; levels bids first, as
/// [`read`]. Returns the time in ms.
#[inline]
fn read_body(
    s: &mut Scanner<'_>,
    tick: Scale,
    lot: Scale,
    levels: &mut Vec<LevelUpdate>,
) -> Scan<u64> {
    if !s.object()? {
        return Err(GiveUp);
    }
    levels.clear();
    let (mut bids, mut asks, mut at) = (None, None, None);
    let mut asks_first = false;
    loop {
        match s.key()? {
            b"bids" => {
                let n = scan_levels(s, Side::Bid, tick, lot, levels)?;
                once(&mut bids, n)?;
            }
            b"asks" => {
                asks_first = bids.is_none();
                let n = scan_levels(s, Side::Ask, tick, lot, levels)?;
                once(&mut asks, n)?;
            }
            b"last_update_at" => once(&mut at, s.u64_of()?)?,
            _ => s.skip_value()?,
        }
        if !s.more_members()? {
            break;
        }
    }
    let (Some(_), Some(n_asks)) = (bids, asks) else {
        return Err(GiveUp);
    };
    if asks_first {
        levels.rotate_left(n_asks);
    }
    Ok(at.flatten().map_or(0, |t| t.saturating_mul(1000)))
}

/// One trade array of the current shape (`[ts, id, pair, rate, amount, side, ..]`, or the
/// five-element one), as [`read`]'s `read_trade`.
#[inline]
fn read_trade_fast(
    s: &mut Scanner<'_>,
    route: &mut impl FnMut(&str) -> Scan<Option<Route>>,
    out: &mut Vec<BookTrade>,
) -> Scan<()> {
    if s.peek()? != b'[' || !s.array()? {
        return Err(GiveUp);
    }
    let mut toks = [Tok::Other; 6];
    let mut n = 0;
    loop {
        let tok = match s.peek()? {
            b'"' => Tok::Str(s.string()?),
            b'0'..=b'9' => Tok::UInt(s.uint()?),
            _ => {
                s.skip_value()?;
                Tok::Other
            }
        };
        if let Some(slot) = toks.get_mut(n) {
            *slot = tok;
        }
        n += 1;
        if !s.more_elements()? {
            break;
        }
    }
    let (at, ts_ms) = match n {
        n if n >= 6 => {
            let ts = match toks[0] {
                Tok::Str(t) => as_str(t).parse::<u64>().ok(),
                Tok::UInt(v) => Some(v),
                Tok::Other => None,
            };
            (2, ts.ok_or(GiveUp)?.saturating_mul(1000))
        }
        5 => (1, 0),
        _ => return Err(GiveUp),
    };
    let str_at = |i: usize| match toks[i] {
        Tok::Str(b) => Ok(b),
        _ => Err(GiveUp),
    };
    let (pair, rate, amount) = (str_at(at)?, str_at(at + 1)?, str_at(at + 2)?);
    let aggressor = match str_at(at + 3)? {
        b"buy" => Side::Bid,
        b"sell" => Side::Ask,
        _ => return Err(GiveUp),
    };
    let Some((book, tick, lot)) = route(as_str(pair))? else {
        return Ok(());
    };
    let px = tick.parse_unsigned(rate, "rate").map_err(|_| GiveUp)?;
    let qty = lot.parse_unsigned(amount, "amount").map_err(|_| GiveUp)?;
    out.push((book, px, qty, aggressor, ts_ms));
    Ok(())
}

/// Sets a field met once; a second occurrence gives up.
#[inline]
fn once<T>(slot: &mut Option<T>, v: T) -> Scan<()> {
    if slot.is_some() {
        return Err(GiveUp);
    }
    *slot = Some(v);
    Ok(())
}
