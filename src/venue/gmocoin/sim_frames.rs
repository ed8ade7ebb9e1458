//! GMO Coin public WebSocket and REST (VENUES.md 1.4).
//!
//! Written by the simulator (`venue/gmocoin/sim.rs`): numbers come from [`LevelFmt`].

use crate::msg::Side;
use crate::sim::market::Trade;
use crate::sim::wire::LevelFmt;
use std::fmt::Write;

/// `2026-09-23T03:25:35.843Z` of a Unix-millisecond time.
pub fn iso_ms(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let s = crate::ops::rfc3339(t);
    format!("{}Z", &s[..23])
}

/// `[{"price":"..","size":".."},..]`
fn levels(buf: &mut String, fmt: &LevelFmt, levels: impl Iterator<Item = (i64, i64)>) {
    buf.push('[');
    for (i, (px, qty)) in levels.enumerate() {
        if i > 0 {
            buf.push(',');
        }
        buf.push_str("{\"price\":\"");
        fmt.write_px(buf, px);
        buf.push_str("\",\"size\":\"");
        fmt.write_qty(buf, qty);
        buf.push_str("\"}");
    }
    buf.push(']');
}

/// An `orderbooks` frame: the full book (asks ascending, bids descending, as given).
pub fn book(
    buf: &mut String,
    symbol: &str,
    fmt: &LevelFmt,
    unix_ms: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    buf.push_str("{\"channel\":\"orderbooks\",\"asks\":");
    levels(buf, fmt, asks);
    buf.push_str(",\"bids\":");
    levels(buf, fmt, bids);
    let _ = write!(
        buf,
        ",\"symbol\":\"{symbol}\",\"timestamp\":\"{}\",\"grouping\":\"1\"}}",
        iso_ms(unix_ms)
    );
}

/// A `trades` frame (one print; `side` the taker's).
pub fn trade(buf: &mut String, symbol: &str, fmt: &LevelFmt, t: &Trade, unix_ms: u64) {
    buf.push_str("{\"channel\":\"trades\",\"price\":\"");
    fmt.write_px(buf, t.px);
    let side = if t.aggressor == Side::Bid {
        "BUY"
    } else {
        "SELL"
    };
    let _ = write!(buf, "\",\"side\":\"{side}\",\"size\":\"");
    fmt.write_qty(buf, t.qty);
    let _ = write!(
        buf,
        "\",\"timestamp\":\"{}\",\"symbol\":\"{symbol}\"}}",
        iso_ms(unix_ms)
    );
}

/// REST `GET /public/v1/orderbooks?symbol=..`: `{"status":0,"data":{..},"responsetime":..}`.
pub fn rest_orderbooks(
    buf: &mut String,
    symbol: &str,
    fmt: &LevelFmt,
    unix_ms: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    buf.push_str("{\"status\":0,\"data\":{\"asks\":");
    levels(buf, fmt, asks);
    buf.push_str(",\"bids\":");
    levels(buf, fmt, bids);
    let _ = write!(
        buf,
        ",\"symbol\":\"{symbol}\"}},\"responsetime\":\"{}\"}}",
        iso_ms(unix_ms)
    );
}

/// The answer to a bad subscribe (the socket stays open).
pub const BAD_SYMBOL: &str = r#"{"error":"ERR-5106 Invalid request parameter. symbol"}"#;
