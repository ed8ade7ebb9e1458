//! Bybit v5 public frames, read into typed borrowed structs: by `read_fast` with the pull scanner
//! ([`crate::venue::json::scan`]), or by `read` from the simd-json tape, the reference, for every
//! frame the fast path gives up on.
//!
//! `{"topic":"orderbook.200.BTCUSDT","type":"snapshot"|"delta","ts":..,"data":{"s":..,"b":[[px,qty]..],"a":[..],"u":..,"seq":..},"cts":..}`
//! `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,"s":..,"S":"Buy"|"Sell","v":..,"p":..}..]}`
//! `{"success":true,"ret_msg":"pong"|"subscribe"|"","op":"ping"|"subscribe",..}`
//! Key order differs between spot and linear: fields are looked up by name, never by position.

use crate::msg::Side;
use crate::num::Scale;
use crate::venue::json::scan::{as_str, GiveUp, Scan, Scanner};
use crate::venue::json::{str_of, u64_of, Array};
use crate::venue::{scan_levels, FrameError, LevelUpdate};
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

/// What a topic asks of the rest of the frame (fast path).
#[derive(Clone, Copy)]
enum Topic<'i> {
    Book(&'i str, Scale, Scale),
    Trades(&'i str, Scale, Scale),
    Other,
}

/// Where the frame's `data` value was met, relative to its `topic`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Data {
    Absent,
    /// Read as the topic asked.
    Read,
    /// Seen (and validated) before the topic: its byte range, read once the topic is known.
    Before(usize, usize),
}

/// Reads one frame with the pull scanner, without the simd-json tape: for every frame it
/// accepts, the same [`Frame`], levels and trades as [`read`]. It gives up on anything else —
/// escapes, unusual numbers, duplicate keys of fields it reads, malformed input, and every frame
/// [`read`] would refuse — and the caller then reads the frame with [`read`].
///
/// `route(symbol)` is [`crate::venue::BookRoutes::route_fast`]'s answer (scales only).
#[inline]
pub fn read_fast<'i>(
    input: &'i [u8],
    mut route: impl FnMut(&str) -> Scan<Option<(Scale, Scale)>>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<TradeUpdate>,
) -> Scan<Frame<'i>> {
    let mut s = Scanner::new(input);
    if !s.object()? {
        return Err(GiveUp);
    }
    let mut topic: Option<Topic<'i>> = None;
    let mut ty: Option<&[u8]> = None;
    let mut op: Option<&'i [u8]> = None;
    let mut success: Option<Option<bool>> = None;
    let (mut ts, mut cts): (Option<Option<u64>>, Option<Option<u64>>) = (None, None);
    let mut data = Data::Absent;
    let mut book = BookData::default();
    loop {
        let key = s.key()?;
        match key {
            b"topic" => {
                if topic.is_some() {
                    return Err(GiveUp);
                }
                let t = s.string()?;
                topic = Some(if let Some(rest) = t.strip_prefix(b"orderbook.") {
                    let symbol = as_str(rest.rsplit(|&c| c == b'.').next().unwrap_or(b""));
                    match route(symbol)? {
                        Some((tick, lot)) => Topic::Book(symbol, tick, lot),
                        None => Topic::Other,
                    }
                } else if let Some(symbol) = t.strip_prefix(b"publicTrade.") {
                    let symbol = as_str(symbol);
                    match route(symbol)? {
                        Some((tick, lot)) => Topic::Trades(symbol, tick, lot),
                        None => Topic::Other,
                    }
                } else {
                    Topic::Other
                });
            }
            b"type" => once(&mut ty, s.string()?)?,
            b"op" => once(&mut op, s.string()?)?,
            b"success" => once(&mut success, s.bool_of()?)?,
            b"ts" => once(&mut ts, s.u64_of()?)?,
            b"cts" => once(&mut cts, s.u64_of()?)?,
            b"data" => {
                if data != Data::Absent {
                    return Err(GiveUp);
                }
                data = match topic {
                    Some(t) => {
                        read_data(&mut s, t, &mut book, levels, trades)?;
                        Data::Read
                    }
                    None => {
                        s.peek()?;
                        let start = s.pos();
                        s.skip_value()?;
                        Data::Before(start, s.pos())
                    }
                };
            }
            _ => s.skip_value()?,
        }
        if !s.more_members()? {
            break;
        }
    }
    s.finish()?;
    let Some(topic) = topic else {
        // No topic: an ack or a pong, or nothing this decoder reads.
        let op = as_str(op.ok_or(GiveUp)?);
        return Ok(Frame::Ack {
            op,
            success: success.flatten().unwrap_or(false),
        });
    };
    match data {
        Data::Before(start, end) if !matches!(topic, Topic::Other) => {
            let mut d = Scanner::new(&input[start..end]);
            read_data(&mut d, topic, &mut book, levels, trades)?;
            d.finish()?;
        }
        Data::Absent if !matches!(topic, Topic::Other) => return Err(GiveUp),
        _ => {}
    }
    match topic {
        Topic::Book(symbol, ..) => {
            let snapshot = match ty.ok_or(GiveUp)? {
                b"snapshot" => true,
                b"delta" => false,
                _ => return Err(GiveUp),
            };
            Ok(Frame::Book {
                symbol,
                snapshot,
                u: book.u.flatten().ok_or(GiveUp)?,
                seq: book.seq.flatten().unwrap_or(0),
                ts_ms: cts.flatten().or(ts.flatten()).unwrap_or(0),
            })
        }
        Topic::Trades(symbol, ..) => Ok(Frame::Trades { symbol }),
        Topic::Other => Ok(Frame::Other),
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

/// `data.u` and `data.seq` of a book frame.
#[derive(Default)]
struct BookData {
    u: Option<Option<u64>>,
    seq: Option<Option<u64>>,
}

/// Reads the `data` value as the topic asks: a book's `{b, a, u, seq}`, a trade list, or
/// nothing (skipped).
#[inline]
fn read_data(
    s: &mut Scanner<'_>,
    topic: Topic<'_>,
    book: &mut BookData,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<TradeUpdate>,
) -> Scan<()> {
    match topic {
        Topic::Book(_, tick, lot) => read_book_data(s, tick, lot, book, levels),
        Topic::Trades(_, tick, lot) => read_trades(s, tick, lot, trades),
        Topic::Other => s.skip_value(),
    }
}

/// `{"s":..,"b":[..],"a":[..],"u":..,"seq":..}` in any order; levels bids first, as [`read`].
#[inline]
fn read_book_data(
    s: &mut Scanner<'_>,
    tick: Scale,
    lot: Scale,
    book: &mut BookData,
    levels: &mut Vec<LevelUpdate>,
) -> Scan<()> {
    if !s.object()? {
        return Err(GiveUp);
    }
    levels.clear();
    // Number of levels of each side once read.
    let (mut bids, mut asks): (Option<usize>, Option<usize>) = (None, None);
    let mut asks_first = false;
    loop {
        match s.key()? {
            b"b" => {
                let n = scan_levels(s, Side::Bid, tick, lot, levels)?;
                once(&mut bids, n)?;
            }
            b"a" => {
                asks_first = bids.is_none();
                let n = scan_levels(s, Side::Ask, tick, lot, levels)?;
                once(&mut asks, n)?;
            }
            b"u" => once(&mut book.u, s.u64_of()?)?,
            b"seq" => once(&mut book.seq, s.u64_of()?)?,
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
        // Bids first, as the tape reader emits them.
        levels.rotate_left(n_asks);
    }
    Ok(())
}

/// `[{"T":..,"s":..,"S":"Buy"|"Sell","v":..,"p":..,..}, ...]` into `out`.
#[inline]
fn read_trades(
    s: &mut Scanner<'_>,
    tick: Scale,
    lot: Scale,
    out: &mut Vec<TradeUpdate>,
) -> Scan<()> {
    out.clear();
    if !s.array()? {
        return Ok(());
    }
    loop {
        if !s.object()? {
            return Err(GiveUp);
        }
        let (mut px, mut qty, mut side, mut t) = (None, None, None, None);
        loop {
            match s.key()? {
                b"p" => once(&mut px, s.string()?)?,
                b"v" => once(&mut qty, s.string()?)?,
                b"S" => once(&mut side, s.string()?)?,
                b"T" => once(&mut t, s.u64_of()?)?,
                _ => s.skip_value()?,
            }
            if !s.more_members()? {
                break;
            }
        }
        let side = match side.ok_or(GiveUp)? {
            b"Buy" => Side::Bid,
            b"Sell" => Side::Ask,
            _ => return Err(GiveUp),
        };
        let px = tick
            .parse_unsigned(px.ok_or(GiveUp)?, "p")
            .map_err(|_| GiveUp)?;
        let qty = lot
            .parse_unsigned(qty.ok_or(GiveUp)?, "v")
            .map_err(|_| GiveUp)?;
        out.push((px, qty, side, t.flatten().unwrap_or(0)));
        if !s.more_elements()? {
            break;
        }
    }
    Ok(())
}
