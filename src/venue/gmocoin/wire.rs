//! GMO Coin public frames, read from the simd-json tape into typed borrowed structs. Every
//! number is a JSON string read straight into ticks and lots ([`Scale::parse_unsigned`]); no
//! float anywhere. Fields are looked up by name, never by position.
//!
//! Shapes (VENUES.md §1.4; GMO Coin API docs <https://api.coin.z.com/docs/en/>):
//! - `orderbooks` (every frame a full book, asks ascending, bids descending; an undocumented
//!   `"grouping":"1"` is ignored):
//!   `{"channel":"orderbooks","asks":[{"price":"13660704","size":"0.001"}],"bids":[{"price":"13658802","size":"0.008"}],"symbol":"BTC_JPY","timestamp":"2026-09-23T03:25:35.843Z","grouping":"1"}`
//! - `trades` (one print per frame; `side` is the taker's):
//!   `{"channel":"trades","price":"750760","side":"BUY","size":"0.1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"BTC"}`
//! - an error answer (the socket stays open): `{"error":"ERR-5106 Invalid request parameter. symbol"}`
//! - REST `GET /public/v1/orderbooks?symbol=BTC` (a live answer, or a body recorded as a plain
//!   frame line):
//!   `{"status":0,"data":{"asks":[{"price":"455659","size":"0.1"}],"bids":[..],"symbol":"BTC"},"responsetime":"2019-03-19T02:15:06.026Z"}`;
//!   an error body has `status != 0` and `messages`.

use crate::msg::Side;
use crate::num::Scale;
use crate::venue::bitflyer::wire::iso_ms;
use crate::venue::json::str_of;
use crate::venue::{FrameError, LevelUpdate};
use simd_json::prelude::*;
use simd_json::tape::{Object, Value};

/// Where a routed symbol goes: book index, tick and lot.
pub type Route = (usize, Scale, Scale);

/// A trade print: price, size, aggressor side, exchange time (ms).
pub type TradeUpdate = (i64, i64, Side, u64);

/// A GMO Coin frame's header; levels go to the caller's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A full book of a routed symbol (WebSocket `orderbooks`, or a REST body when `rest`),
    /// its levels in the scratch buffer; `ts_ms` the venue's time (`timestamp`, or the REST
    /// answer's `responsetime`).
    Book { book: usize, ts_ms: u64, rest: bool },
    /// A `trades` print of a routed symbol.
    Trade { book: usize, trade: TradeUpdate },
    /// An error answer (`{"error":..}`, or a REST body with `status != 0`).
    Error,
    /// A channel or symbol this decoder does not handle (`ticker`, an unrouted symbol).
    Other,
}

/// Reads one frame (WebSocket message, or a REST orderbooks body met on a frame line).
/// `route(symbol)` gives a routed symbol's book and scales, `None` for an unrouted one.
/// `routed_book` is set as soon as the frame is known to be a book of a routed symbol, so the
/// caller can mark it if the rest is malformed.
pub fn read(
    root: Value<'_, '_>,
    mut route: impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, FrameError> {
    let obj = root
        .as_object()
        .ok_or(FrameError::Missing("<root object>"))?;
    let Some(channel) = str_of(obj.get("channel")) else {
        if obj.get("error").is_some() {
            return Ok(Frame::Error);
        }
        if obj.get("status").is_some() {
            return read_rest(&obj, route, levels, routed_book);
        }
        return Ok(Frame::Other);
    };
    match channel {
        "orderbooks" => {
            let symbol = str_of(obj.get("symbol")).ok_or(FrameError::Missing("symbol"))?;
            let Some((book, tick, lot)) = route(symbol) else {
                return Ok(Frame::Other);
            };
            *routed_book = Some(book);
            let ts_ms = timestamp(&obj, "timestamp")?;
            read_book(&obj, tick, lot, levels)?;
            Ok(Frame::Book {
                book,
                ts_ms,
                rest: false,
            })
        }
        "trades" => {
            let symbol = str_of(obj.get("symbol")).ok_or(FrameError::Missing("symbol"))?;
            let Some((book, tick, lot)) = route(symbol) else {
                return Ok(Frame::Other);
            };
            let px = str_of(obj.get("price")).ok_or(FrameError::Missing("price"))?;
            let qty = str_of(obj.get("size")).ok_or(FrameError::Missing("size"))?;
            let aggressor = match str_of(obj.get("side")) {
                Some("BUY") => Side::Bid,
                Some("SELL") => Side::Ask,
                _ => return Err(FrameError::Missing("side (BUY or SELL)")),
            };
            let ts_ms = timestamp(&obj, "timestamp")?;
            let px = tick
                .parse_unsigned(px.as_bytes(), "price")
                .map_err(FrameError::Number)?;
            let qty = lot
                .parse_unsigned(qty.as_bytes(), "size")
                .map_err(FrameError::Number)?;
            Ok(Frame::Trade {
                book,
                trade: (px, qty, aggressor, ts_ms),
            })
        }
        _ => Ok(Frame::Other),
    }
}

/// A REST `/public/v1/orderbooks` body: `status`, `data{asks,bids,symbol}`, `responsetime`.
fn read_rest(
    obj: &Object<'_, '_>,
    mut route: impl FnMut(&str) -> Option<Route>,
    levels: &mut Vec<LevelUpdate>,
    routed_book: &mut Option<usize>,
) -> Result<Frame, FrameError> {
    let status = obj
        .get("status")
        .and_then(|v| v.as_u64())
        .ok_or(FrameError::Missing("status"))?;
    if status != 0 {
        return Ok(Frame::Error);
    }
    let Some(data) = obj.get("data").and_then(|d| d.as_object()) else {
        return Ok(Frame::Other);
    };
    if data.get("asks").is_none() || data.get("bids").is_none() {
        // Another public REST answer (ticker, trades, status).
        return Ok(Frame::Other);
    }
    let symbol = str_of(data.get("symbol")).ok_or(FrameError::Missing("data.symbol"))?;
    let Some((book, tick, lot)) = route(symbol) else {
        return Ok(Frame::Other);
    };
    *routed_book = Some(book);
    let ts_ms = timestamp(obj, "responsetime")?;
    read_book(&data, tick, lot, levels)?;
    Ok(Frame::Book {
        book,
        ts_ms,
        rest: true,
    })
}

/// `key` as an ISO-8601 UTC time (`2018-03-30T12:34:56.789Z`) in ms since the epoch.
fn timestamp(obj: &Object<'_, '_>, key: &'static str) -> Result<u64, FrameError> {
    str_of(obj.get(key))
        .and_then(iso_ms)
        .ok_or(FrameError::Missing(key))
}

/// Both sides of a book object into `levels` (bids first).
fn read_book(
    obj: &Object<'_, '_>,
    tick: Scale,
    lot: Scale,
    levels: &mut Vec<LevelUpdate>,
) -> Result<(), FrameError> {
    levels.clear();
    for (key, side) in [("bids", Side::Bid), ("asks", Side::Ask)] {
        let arr = obj
            .get(key)
            .and_then(|v| v.as_array())
            .ok_or(FrameError::Missing(key))?;
        for lv in arr.iter() {
            let lv = lv.as_object().ok_or(FrameError::Missing("level object"))?;
            let px = str_of(lv.get("price")).ok_or(FrameError::Missing("level price"))?;
            let qty = str_of(lv.get("size")).ok_or(FrameError::Missing("level size"))?;
            let px = tick
                .parse_unsigned(px.as_bytes(), "price")
                .map_err(FrameError::Number)?;
            let qty = lot
                .parse_unsigned(qty.as_bytes(), "size")
                .map_err(FrameError::Number)?;
            levels.push((side, px, qty));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::json::JsonParser;

    fn scales() -> (Scale, Scale) {
        (
            Scale::from_step("1").unwrap(),
            Scale::from_step("0.0001").unwrap(),
        )
    }

    fn parse(text: &str) -> (Result<Frame, FrameError>, Vec<LevelUpdate>, Option<usize>) {
        let (tick, lot) = scales();
        let mut j = JsonParser::default();
        let mut buf = text.as_bytes().to_vec();
        let mut levels = Vec::new();
        let mut routed = None;
        let r = j
            .parse(&mut buf, |root| {
                read(
                    root,
                    |s| (s == "BTC" || s == "BTC_JPY").then_some((0, tick, lot)),
                    &mut levels,
                    &mut routed,
                )
            })
            .unwrap_or(Err(FrameError::Json));
        (r, levels, routed)
    }

    #[test]
    fn documented_shapes() {
        // GMO Coin API docs, Public WebSocket API `orderbooks` example response (also in
        // pybotters' GMOCoinDataStore tests): bids above asks in the example.
        let (r, lv, _) = parse(
            r#"{"channel":"orderbooks","asks":[{"price":"455659","size":"0.1"},{"price":"455658","size":"0.2"}],"bids":[{"price":"455665","size":"0.1"},{"price":"455655","size":"0.3"}],"symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z"}"#,
        );
        assert_eq!(
            r,
            Ok(Frame::Book {
                book: 0,
                ts_ms: 1_522_413_296_789,
                rest: false
            })
        );
        assert_eq!(
            lv,
            vec![
                (Side::Bid, 455665, 1000),
                (Side::Bid, 455655, 3000),
                (Side::Ask, 455659, 1000),
                (Side::Ask, 455658, 2000)
            ]
        );
        // GMO Coin API docs, `trades` example response.
        let (r, _, _) = parse(
            r#"{"channel":"trades","price":"750760","side":"BUY","size":"0.1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"BTC"}"#,
        );
        assert_eq!(
            r,
            Ok(Frame::Trade {
                book: 0,
                trade: (750760, 1000, Side::Bid, 1_522_413_296_789)
            })
        );
        // GMO Coin API docs, Public API `/v1/orderbooks` example response (as quoted by
        // teketekere/gmo-coin-rs and crypto_api_client).
        let (r, lv, _) = parse(
            r#"{"status":0,"data":{"asks":[{"price":"455659","size":"0.1"}],"bids":[{"price":"455650","size":"0.2"}],"symbol":"BTC"},"responsetime":"2019-03-19T02:15:06.026Z"}"#,
        );
        assert_eq!(
            r,
            Ok(Frame::Book {
                book: 0,
                ts_ms: 1_552_961_706_026,
                rest: true
            })
        );
        assert_eq!(
            lv,
            vec![(Side::Bid, 455650, 2000), (Side::Ask, 455659, 1000)]
        );
        // VENUES.md §1.4: the probe's error answer; the public REST error body.
        assert_eq!(
            parse(r#"{"error":"ERR-5106 Invalid request parameter. symbol"}"#).0,
            Ok(Frame::Error)
        );
        assert_eq!(
            parse(r#"{"status":2,"messages":[{"message_code":"ERR-5207","message_string":"Not found"}]}"#).0,
            Ok(Frame::Error)
        );
        // other channels and symbols
        assert_eq!(
            parse(r#"{"channel":"ticker","ask":"750760","bid":"750600","symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z"}"#).0,
            Ok(Frame::Other)
        );
        let (r, _, routed) = parse(
            r#"{"channel":"orderbooks","asks":[],"bids":[],"symbol":"ETH","timestamp":"2018-03-30T12:34:56.789Z"}"#,
        );
        assert_eq!((r, routed), (Ok(Frame::Other), None));
    }

    #[test]
    fn malformed_frames_name_the_field() {
        let book = |asks: &str, ts: &str| {
            format!(
                r#"{{"channel":"orderbooks","asks":[{asks}],"bids":[],"symbol":"BTC","timestamp":"{ts}"}}"#
            )
        };
        let ok_ts = "2018-03-30T12:34:56.789Z";
        let cases: Vec<(String, &str)> = vec![
            (book(r#"{"price":"1.5","size":"1"}"#, ok_ts), "price"),
            (book(r#"{"price":"1","size":"0.00001"}"#, ok_ts), "size"),
            (book(r#"{"price":"-1","size":"1"}"#, ok_ts), "price"),
            (book(r#"{"price":1,"size":"1"}"#, ok_ts), "level price"),
            (book(r#"{"price":"1"}"#, ok_ts), "level size"),
            (book(r#"["1","1"]"#, ok_ts), "level object"),
            (book("", "yesterday"), "timestamp"),
            (
                r#"{"channel":"trades","price":"1","side":"HOLD","size":"1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"BTC"}"#.into(),
                "side (BUY or SELL)",
            ),
            (
                r#"{"channel":"orderbooks","asks":[],"symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z"}"#.into(),
                "bids",
            ),
        ];
        for (text, field) in cases {
            let (r, _, routed) = parse(&text);
            let err = r.expect_err(&text);
            let named = match err {
                FrameError::Missing(f) => f,
                FrameError::Number(e) => e.field,
                other => panic!("{text}: {other:?}"),
            };
            assert_eq!(named, field, "{text}");
            if text.contains("orderbooks") {
                assert_eq!(routed, Some(0), "{text}");
            }
        }
        assert_eq!(parse("[1]").0, Err(FrameError::Missing("<root object>")));
        assert_eq!(parse(r#"{"channel":"orde"#).0, Err(FrameError::Json));
    }
}
