//! Coincheck public frames, read from the simd-json tape into typed borrowed structs.
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
use crate::venue::json::{str_of, u64_of, Array};
use crate::venue::{read_levels, FrameError, LevelUpdate};
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
    /// Anything else (an object, an unrouted pair's book).
    Other,
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
