//! bitbank public stream frames: Engine.IO / Socket.IO framing around JSON events, read from
//! the simd-json tape into typed borrowed structs. Every price and amount is a JSON string read
//! straight into ticks and lots; no float anywhere.
//!
//! Framing (Socket.IO 4 over Engine.IO 4, bitbank-api-docs `public-stream.md`, VENUES.md §1.5):
//! - `0{"sid":..,"upgrades":[],"pingInterval":25000,"pingTimeout":60000}` Engine.IO open;
//! - `2` server ping (the client answers `3`), `3` pong;
//! - `40{"sid":..}` Socket.IO connect answer; `41` disconnect; `44{..}` connect error;
//! - `42["message",{"room_name":ROOM,"message":{"data":DATA}}]` an event (an ack id after `42`
//!   and a `/namespace,` before the array are allowed and skipped).
//!
//! Rooms (`{pair}` e.g. `btc_jpy`):
//! - `depth_diff_{pair}`: `{"a":[["26.758","20000.0000"]],"b":[["26.212","0"]],"t":1570080269609,"s":"1234567890"}`
//!   (absolute amounts, `"0"` removes; optional `ao`,`bu`,`au`,`bo`,`am`,`bm` outside the window);
//! - `depth_whole_{pair}`: `{"asks":[[..]],"bids":[[..]],"asks_over":"0.123",..,"timestamp":1568344476514,"sequenceId":"1234567890"}`;
//! - `transactions_{pair}`: `{"transactions":[{"side":"buy","executed_at":1568360906000,"amount":"0.0001","price":"1094101","transaction_id":74039226}]}`
//!   (`side` the taker's);
//! - others (`ticker_{pair}`, `circuit_break_info_{pair}`) are not read here (`verify-book`
//!   reads `ticker_{pair}` in [`super::top`]).
//!
//! REST `GET https://public.bitbank.cc/{pair}/depth` → `{"success":1,"data":{"asks":..,"bids":..,"timestamp":..,"sequenceId":".."}}`
//! (a live answer, or a body recorded as a plain frame line); `success: 0` is an error.

use crate::msg::Side;
use crate::num::Scale;
use crate::venue::json::{str_of, u64_of, Object};
use crate::venue::{read_levels, FrameError, LevelUpdate};
use simd_json::prelude::*;
use simd_json::tape::Value;

/// Where a routed pair goes: book index, tick and lot.
pub type Route = (usize, Scale, Scale);

/// A trade print of one book: book, price, size, aggressor side, exchange time (ms).
pub type BookTrade = (usize, i64, i64, Side, u64);

/// A bitbank frame's header; levels and trades go to the caller's scratch buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// `depth_whole_{pair}` (or a REST depth body when `rest`): the full book, `sequenceId`.
    Whole {
        book: usize,
        seq: u64,
        ts_ms: u64,
        rest: bool,
    },
    /// `depth_diff_{pair}`: changed levels, `s`.
    Diff { book: usize, seq: u64, ts_ms: u64 },
    /// `transactions_{pair}`: the trades in the scratch buffer.
    Trades,
    /// Engine.IO open, ping or pong; Socket.IO connect answer (`connected`: a `40` packet).
    Control { connected: bool },
    /// A connect error (`44`) or an error REST body.
    Error,
    /// A room, pair or packet this decoder does not read.
    Other,
}

/// Where the JSON of a frame starts and what it is: the Engine.IO / Socket.IO prefix read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet {
    /// A Socket.IO event (`42`): its JSON array starts at this offset.
    Event(usize),
    /// A plain JSON object (a REST body on a frame line).
    Json,
    /// Read from the prefix alone.
    Done(Frame),
}

/// Reads the Engine.IO / Socket.IO prefix of `frame`.
pub fn packet(frame: &[u8]) -> Result<Packet, FrameError> {
    let Some(&first) = frame.first() else {
        return Err(FrameError::Json);
    };
    match first {
        b'0' => Ok(Packet::Done(Frame::Control { connected: false })),
        b'2' | b'3' => Ok(Packet::Done(Frame::Control { connected: false })),
        b'4' => match frame.get(1) {
            Some(b'0') => Ok(Packet::Done(Frame::Control { connected: true })),
            Some(b'4') => Ok(Packet::Done(Frame::Error)),
            Some(b'2') => {
                let mut i = 2;
                if frame.get(i) == Some(&b'/') {
                    // a namespace: `/name,`
                    while i < frame.len() && frame[i] != b',' {
                        i += 1;
                    }
                    i += 1;
                }
                while frame.get(i).is_some_and(|b| b.is_ascii_digit()) {
                    i += 1; // an ack id
                }
                if frame.get(i) != Some(&b'[') {
                    return Err(FrameError::Missing("<Socket.IO event array>"));
                }
                Ok(Packet::Event(i))
            }
            _ => Ok(Packet::Done(Frame::Other)),
        },
        b'{' => Ok(Packet::Json),
        _ => Err(FrameError::Unsupported(
            "not an Engine.IO packet (open 0, ping 2, pong 3, message 4)",
        )),
    }
}

/// The pair of a room of `kind` (`depth_diff_`), if the room is one.
fn room_pair<'r>(room: &'r str, kind: &str) -> Option<&'r str> {
    room.strip_prefix(kind).filter(|p| !p.is_empty())
}

/// Reads a Socket.IO event array (`["message",{..}]`). `route(pair)` gives a routed pair's book
/// and scales; `routed_book` is set as soon as the frame is known to be a depth frame of a
/// routed book.
pub fn read_event(
    root: Value<'_, '_>,
    mut route: impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    trades: &mut Vec<BookTrade>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, FrameError> {
    let arr = root
        .as_array()
        .ok_or(FrameError::Missing("<event array>"))?;
    let name = str_of(arr.get(0)).ok_or(FrameError::Missing("<event name>"))?;
    if name != "message" {
        return Ok(Frame::Other);
    }
    let body = arr
        .get(1)
        .and_then(|v| v.as_object())
        .ok_or(FrameError::Missing("<event body>"))?;
    let room = str_of(body.get("room_name")).ok_or(FrameError::Missing("room_name"))?;
    let (kind, pair) = if let Some(p) = room_pair(room, "depth_diff_") {
        (0, p)
    } else if let Some(p) = room_pair(room, "depth_whole_") {
        (1, p)
    } else if let Some(p) = room_pair(room, "transactions_") {
        (2, p)
    } else {
        return Ok(Frame::Other);
    };
    let Some((book, tick, lot)) = route(pair) else {
        return Ok(Frame::Other);
    };
    if kind < 2 {
        *routed_book = Some(book);
    }
    let data = body
        .get("message")
        .and_then(|m| m.as_object())
        .and_then(|m| m.get("data"))
        .and_then(|d| d.as_object())
        .ok_or(FrameError::Missing("message.data"))?;
    match kind {
        0 => {
            let seq = u64_of(data.get("s")).ok_or(FrameError::Missing("s"))?;
            let ts_ms = u64_of(data.get("t")).ok_or(FrameError::Missing("t"))?;
            levels.clear();
            read_side(&data, "b", Side::Bid, tick, lot, levels)?;
            read_side(&data, "a", Side::Ask, tick, lot, levels)?;
            Ok(Frame::Diff { book, seq, ts_ms })
        }
        1 => {
            let (seq, ts_ms) = read_whole(&data, tick, lot, levels)?;
            Ok(Frame::Whole {
                book,
                seq,
                ts_ms,
                rest: false,
            })
        }
        _ => {
            trades.clear();
            let list = data
                .get("transactions")
                .and_then(|v| v.as_array())
                .ok_or(FrameError::Missing("transactions"))?;
            for t in list.iter() {
                let t = t.as_object().ok_or(FrameError::Missing("transaction"))?;
                let aggressor = match str_of(t.get("side")) {
                    Some("buy") => Side::Bid,
                    Some("sell") => Side::Ask,
                    _ => return Err(FrameError::Missing("side (buy or sell)")),
                };
                let px = str_of(t.get("price")).ok_or(FrameError::Missing("price"))?;
                let qty = str_of(t.get("amount")).ok_or(FrameError::Missing("amount"))?;
                let ts_ms =
                    u64_of(t.get("executed_at")).ok_or(FrameError::Missing("executed_at"))?;
                let px = tick
                    .parse_unsigned(px.as_bytes(), "price")
                    .map_err(FrameError::Number)?;
                let qty = lot
                    .parse_unsigned(qty.as_bytes(), "amount")
                    .map_err(FrameError::Number)?;
                trades.push((book, px, qty, aggressor, ts_ms));
            }
            Ok(Frame::Trades)
        }
    }
}

/// Reads a REST depth body (`{"success":1,"data":{..}}`); `pick()` names its book (the body
/// names no pair).
pub fn read_rest(
    root: Value<'_, '_>,
    pick: impl FnOnce() -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
) -> Result<Frame, FrameError> {
    let obj = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    let Some(success) = obj.get("success").and_then(|v| v.as_u64()) else {
        return Ok(Frame::Other);
    };
    if success != 1 {
        return Ok(Frame::Error);
    }
    let Some(data) = obj.get("data").and_then(|d| d.as_object()) else {
        return Err(FrameError::Missing("data"));
    };
    if data.get("asks").is_none() || data.get("sequenceId").is_none() {
        // Another public REST answer (ticker, transactions).
        return Ok(Frame::Other);
    }
    let Some((book, tick, lot)) = pick() else {
        return Ok(Frame::Other);
    };
    let (seq, ts_ms) = read_whole(&data, tick, lot, levels)?;
    Ok(Frame::Whole {
        book,
        seq,
        ts_ms,
        rest: true,
    })
}

/// A whole book's levels, `sequenceId` and `timestamp`.
fn read_whole(
    data: &Object<'_, '_>,
    tick: Scale,
    lot: Scale,
    levels: &mut Vec<LevelUpdate>,
) -> Result<(u64, u64), FrameError> {
    let seq = u64_of(data.get("sequenceId")).ok_or(FrameError::Missing("sequenceId"))?;
    let ts_ms = u64_of(data.get("timestamp")).ok_or(FrameError::Missing("timestamp"))?;
    levels.clear();
    read_side(data, "bids", Side::Bid, tick, lot, levels)?;
    read_side(data, "asks", Side::Ask, tick, lot, levels)?;
    Ok((seq, ts_ms))
}

fn read_side(
    data: &Object<'_, '_>,
    key: &'static str,
    side: Side,
    tick: Scale,
    lot: Scale,
    levels: &mut Vec<LevelUpdate>,
) -> Result<(), FrameError> {
    let arr = data
        .get(key)
        .and_then(|v| v.as_array())
        .ok_or(FrameError::Missing(key))?;
    read_levels(&arr, side, tick, lot, levels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::json::JsonParser;

    type Parsed = (
        Result<Frame, FrameError>,
        Vec<LevelUpdate>,
        Vec<BookTrade>,
        Option<usize>,
    );

    fn parse(text: &str) -> Parsed {
        let (tick, lot) = (
            Scale::from_step("0.001").unwrap(),
            Scale::from_step("0.0001").unwrap(),
        );
        let route = |p: &str| (p == "xrp_jpy").then_some((0, tick, lot));
        let mut buf = text.as_bytes().to_vec();
        let (mut levels, mut trades, mut routed) = (Vec::new(), Vec::new(), None);
        let r = match packet(&buf) {
            Err(e) => Err(e),
            Ok(Packet::Done(f)) => Ok(f),
            Ok(Packet::Event(at)) => JsonParser::default()
                .parse(&mut buf[at..], |root| {
                    read_event(root, route, &mut levels, &mut trades, &mut routed)
                })
                .unwrap_or(Err(FrameError::Json)),
            Ok(Packet::Json) => JsonParser::default()
                .parse(&mut buf, |root| {
                    read_rest(root, || route("xrp_jpy"), &mut levels)
                })
                .unwrap_or(Err(FrameError::Json)),
        };
        (r, levels, trades, routed)
    }

    #[test]
    fn documented_shapes() {
        // bitbank-api-docs public-stream.md: the wscat handshake.
        for f in [
            r#"0{"sid":"9-zd3P1G-BNu_w37ABMX","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#,
            "2",
            "3",
        ] {
            assert_eq!(parse(f).0, Ok(Frame::Control { connected: false }), "{f}");
        }
        assert_eq!(
            parse(r#"40{"sid":"lUkRb31kqoS9cLPNMc0W"}"#).0,
            Ok(Frame::Control { connected: true })
        );
        // public-stream.md: the depth_diff example message.
        let (r, lv, _, routed) = parse(
            r#"42["message",{"room_name":"depth_diff_xrp_jpy","message":{"data":{"a":[],"b":[["26.758","20000.0000"],["26.212","0"]],"t":1570080269609,"s":"1234567890"}}}]"#,
        );
        assert_eq!(
            r,
            Ok(Frame::Diff {
                book: 0,
                seq: 1_234_567_890,
                ts_ms: 1_570_080_269_609
            })
        );
        assert_eq!(
            lv,
            vec![(Side::Bid, 26_758, 200_000_000), (Side::Bid, 26_212, 0)]
        );
        assert_eq!(routed, Some(0));
        // public-stream.md: the depth_whole example message (levels filled in).
        let (r, lv, _, _) = parse(
            r#"42["message",{"room_name":"depth_whole_xrp_jpy","message":{"data":{"asks":[["26.800","10.5"]],"bids":[["26.700","1"]],"asks_over":"0.123","bids_under":"0.123","asks_under":"0","bids_over":"0","ask_market":"0","bid_market":"0","timestamp":1568344476514,"sequenceId":"1234567890"}}}]"#,
        );
        assert_eq!(
            r,
            Ok(Frame::Whole {
                book: 0,
                seq: 1_234_567_890,
                ts_ms: 1_568_344_476_514,
                rest: false
            })
        );
        assert_eq!(
            lv,
            vec![(Side::Bid, 26_700, 10_000), (Side::Ask, 26_800, 105_000)]
        );
        // public-stream.md: transactions.
        let (r, _, tr, _) = parse(
            r#"42["message",{"room_name":"transactions_xrp_jpy","message":{"data":{"transactions":[{"side":"buy","executed_at":1568360906000,"amount":"0.0001","price":"26.758","transaction_id":74039226}]}}}]"#,
        );
        assert_eq!(r, Ok(Frame::Trades));
        assert_eq!(tr, vec![(0, 26_758, 1, Side::Bid, 1_568_360_906_000)]);
        // REST depth body (public-api.md `GET /{pair}/depth`).
        let (r, lv, _, _) = parse(
            r#"{"success":1,"data":{"asks":[["26.800","10.5"]],"bids":[["26.700","1"]],"asks_over":"0","bids_under":"0","asks_under":"0","bids_over":"0","ask_market":"0","bid_market":"0","timestamp":1568344476514,"sequenceId":"1234567891"}}"#,
        );
        assert_eq!(
            r,
            Ok(Frame::Whole {
                book: 0,
                seq: 1_234_567_891,
                ts_ms: 1_568_344_476_514,
                rest: true
            })
        );
        assert_eq!(lv.len(), 2);
        assert_eq!(
            parse(r#"{"success":0,"data":{"code":10000}}"#).0,
            Ok(Frame::Error)
        );
        // other rooms, pairs and packets; a namespace and an ack id are skipped
        for f in [
            r#"42["message",{"room_name":"ticker_xrp_jpy","message":{"data":{"sell":"1"}}}]"#,
            r#"42["message",{"room_name":"depth_diff_btc_jpy","message":{"data":{}}}]"#,
            r#"42/x,7["other",{}]"#,
            "41",
        ] {
            assert_eq!(parse(f).0, Ok(Frame::Other), "{f}");
        }
        assert_eq!(
            parse(r#"44{"message":"Invalid namespace"}"#).0,
            Ok(Frame::Error)
        );
    }

    #[test]
    fn malformed_frames_name_the_problem() {
        let diff = |data: &str| {
            format!(
                r#"42["message",{{"room_name":"depth_diff_xrp_jpy","message":{{"data":{data}}}}}]"#
            )
        };
        for (f, want) in [
            (diff(r#"{"a":[],"b":[],"t":1}"#), FrameError::Missing("s")),
            (diff(r#"{"a":[],"b":[],"s":"1"}"#), FrameError::Missing("t")),
            (diff(r#"{"a":[],"t":1,"s":"1"}"#), FrameError::Missing("b")),
            (
                diff(r#"{"a":[["1"]],"b":[],"t":1,"s":"1"}"#),
                FrameError::Missing("level"),
            ),
            (
                diff(r#"{"a":[[1,"1"]],"b":[],"t":1,"s":"1"}"#),
                FrameError::Missing("level price"),
            ),
            (
                r#"42["message",{"room_name":"depth_diff_xrp_jpy","message":{}}]"#.to_string(),
                FrameError::Missing("message.data"),
            ),
            (
                "42 [".to_string(),
                FrameError::Missing("<Socket.IO event array>"),
            ),
            (
                r#"42["message",{"room_name":"depth_diff_xrp_jpy""#.to_string(),
                FrameError::Json,
            ),
            (
                "x".to_string(),
                FrameError::Unsupported(
                    "not an Engine.IO packet (open 0, ping 2, pong 3, message 4)",
                ),
            ),
            (String::new(), FrameError::Json),
        ] {
            assert_eq!(parse(&f).0, Err(want), "{f}");
        }
        // an off-grid price names the field
        let r = parse(&diff(r#"{"a":[["1.0001","1"]],"b":[],"t":1,"s":"1"}"#)).0;
        assert!(
            matches!(r, Err(FrameError::Number(e)) if e.field == "price"),
            "{r:?}"
        );
        let (_, _, _, routed) = parse(&diff(r#"{"a":[],"t":1,"s":"1"}"#));
        assert_eq!(routed, Some(0), "the book is known before the bad field");
    }
}
