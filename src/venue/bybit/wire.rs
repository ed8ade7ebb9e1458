//! Bybit v5 public frames, read from the simd-json tape into typed borrowed structs.
//!
//! `{"topic":"orderbook.200.BTCUSDT","type":"snapshot"|"delta","ts":..,"data":{"s":..,"b":[[px,qty]..],"a":[..],"u":..,"seq":..},"cts":..}`
//! `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,"s":..,"S":"Buy"|"Sell","v":..,"p":..}..]}`
//! `{"success":true,"ret_msg":"pong"|"subscribe"|"","op":"ping"|"subscribe",..}`
//! Key order differs between spot and linear: fields are looked up by name, never by position.

use crate::msg::Side;
use crate::num::Scale;
use crate::venue::json::{str_of, u64_of, Array};
use crate::venue::{FrameError, LevelUpdate};
use simd_json::prelude::*;
use simd_json::tape::Value;

/// A Bybit frame's header; levels and trades go to the caller's scratch buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `orderbook.{depth}.{symbol}`; levels in the scratch buffer.
    Book {
        symbol: &'a str,
        snapshot: bool,
        u: u64,
        seq: u64,
        ts_ms: u64,
    },
    /// `publicTrade.{symbol}`; trades in the scratch buffer.
    Trades { symbol: &'a str },
    /// Subscription ack or pong.
    Ack { op: &'a str, success: bool },
    /// A topic this decoder does not handle (tickers, kline, liquidations).
    Other,
}

/// A trade print: price, size, aggressor side, exchange time.
pub type TradeUpdate = (i64, i64, Side, u64);

/// The topic's symbol: `orderbook.200.BTCUSDT` → `BTCUSDT`.
#[inline]
fn topic_symbol(topic: &str) -> &str {
    topic.rsplit('.').next().unwrap_or("")
}

/// Reads one frame. `scales(symbol)` gives the (tick, lot) of a routed symbol, `None` for an
/// unrouted one (its levels are not parsed and the frame is reported as `Other`).
#[inline]
pub fn read<'i>(
    root: Value<'_, 'i>,
    mut scales: impl FnMut(&str) -> Option<(Scale, Scale)>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<TradeUpdate>,
) -> Result<Frame<'i>, FrameError> {
    let obj = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    let Some(topic) = str_of(obj.get("topic")) else {
        if let Some(op) = str_of(obj.get("op")) {
            let success = obj
                .get("success")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            return Ok(Frame::Ack { op, success });
        }
        return Err(FrameError::Missing("topic"));
    };
    if let Some(rest) = topic.strip_prefix("orderbook.") {
        let symbol = topic_symbol(rest);
        let Some((tick, lot)) = scales(symbol) else {
            return Ok(Frame::Other);
        };
        let ty = str_of(obj.get("type")).ok_or(FrameError::Missing("type"))?;
        let snapshot = match ty {
            "snapshot" => true,
            "delta" => false,
            _ => return Err(FrameError::Missing("type")),
        };
        let data = obj
            .get("data")
            .and_then(|d| d.as_object())
            .ok_or(FrameError::Missing("data"))?;
        let u = u64_of(data.get("u")).ok_or(FrameError::Missing("data.u"))?;
        let seq = u64_of(data.get("seq")).unwrap_or(0);
        let ts_ms = u64_of(obj.get("cts"))
            .or_else(|| u64_of(obj.get("ts")))
            .unwrap_or(0);
        levels.clear();
        for (key, side) in [("b", Side::Bid), ("a", Side::Ask)] {
            let arr = data
                .get(key)
                .and_then(|v| v.as_array())
                .ok_or(FrameError::Missing(if key == "b" {
                    "data.b"
                } else {
                    "data.a"
                }))?;
            read_levels(&arr, side, tick, lot, levels)?;
        }
        return Ok(Frame::Book {
            symbol,
            snapshot,
            u,
            seq,
            ts_ms,
        });
    }
    if let Some(symbol) = topic.strip_prefix("publicTrade.") {
        let Some((tick, lot)) = scales(symbol) else {
            return Ok(Frame::Other);
        };
        let data = obj
            .get("data")
            .and_then(|d| d.as_array())
            .ok_or(FrameError::Missing("data"))?;
        trades.clear();
        for t in data.iter() {
            let t = t.as_object().ok_or(FrameError::Missing("data[]"))?;
            let px = str_of(t.get("p")).ok_or(FrameError::Missing("p"))?;
            let qty = str_of(t.get("v")).ok_or(FrameError::Missing("v"))?;
            let side = match str_of(t.get("S")) {
                Some("Buy") => Side::Bid,
                Some("Sell") => Side::Ask,
                _ => return Err(FrameError::Missing("S")),
            };
            let ts = u64_of(t.get("T")).unwrap_or(0);
            let px = tick
                .parse_unsigned(px.as_bytes(), "p")
                .map_err(FrameError::Number)?;
            let qty = lot
                .parse_unsigned(qty.as_bytes(), "v")
                .map_err(FrameError::Number)?;
            trades.push((px, qty, side, ts));
        }
        return Ok(Frame::Trades { symbol });
    }
    Ok(Frame::Other)
}

/// Reads `[["price","size"], ...]` into `out`.
#[inline]
fn read_levels(
    arr: &Array<'_, '_>,
    side: Side,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<LevelUpdate>,
) -> Result<(), FrameError> {
    for lv in arr.iter() {
        let pair = lv.as_array().ok_or(FrameError::Missing("level"))?;
        if pair.len() < 2 {
            return Err(FrameError::Missing("level"));
        }
        let px = str_of(pair.get(0)).ok_or(FrameError::Missing("level price"))?;
        let qty = str_of(pair.get(1)).ok_or(FrameError::Missing("level size"))?;
        let px = tick
            .parse_unsigned(px.as_bytes(), "price")
            .map_err(FrameError::Number)?;
        let qty = lot
            .parse_unsigned(qty.as_bytes(), "size")
            .map_err(FrameError::Number)?;
        out.push((side, px, qty));
    }
    Ok(())
}
