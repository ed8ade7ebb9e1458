//! bitFlyer Lightning Realtime API (JSON-RPC 2.0, VENUES.md 1.3): board snapshots and diffs,
//! executions, tickers; prices and sizes as JSON numbers.
//!
//! Written by the simulator (`venue/bitflyer/sim.rs`): numbers come from [`LevelFmt`].

use crate::msg::Side;
use crate::sim::market::Trade;
use crate::sim::wire::LevelFmt;
use std::fmt::Write;

/// `2021-12-12T23:05:29.9692063Z` of a Unix-nanosecond time (7 fractional digits).
pub fn exec_date(unix_ns: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(unix_ns);
    let s = crate::ops::rfc3339(t);
    format!("{}.{:07}Z", &s[..19], (unix_ns % 1_000_000_000) / 100)
}

fn head(buf: &mut String, channel: &str, product: &str) {
    let _ = write!(
        buf,
        "{{\"jsonrpc\":\"2.0\",\"method\":\"channelMessage\",\"params\":{{\"channel\":\"{channel}{product}\",\"message\":"
    );
}

fn levels(buf: &mut String, fmt: &LevelFmt, levels: impl Iterator<Item = (i64, i64)>) {
    buf.push('[');
    for (i, (px, qty)) in levels.enumerate() {
        if i > 0 {
            buf.push(',');
        }
        buf.push_str("{\"price\":");
        fmt.write_px(buf, px);
        buf.push_str(",\"size\":");
        fmt.write_qty(buf, qty);
        buf.push('}');
    }
    buf.push(']');
}

/// A `lightning_board_snapshot_{product}` (`snapshot`) or `lightning_board_{product}`
/// frame: `{"mid_price":..,"bids":[{"price":..,"size":..},..],"asks":[..]}`; `mid` in
/// ticks (the venue floors the mid to the yen).
pub fn board(
    buf: &mut String,
    product: &str,
    fmt: &LevelFmt,
    snapshot: bool,
    mid: i64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    let ch = if snapshot {
        "lightning_board_snapshot_"
    } else {
        "lightning_board_"
    };
    head(buf, ch, product);
    buf.push_str("{\"mid_price\":");
    fmt.write_px(buf, mid);
    buf.push_str(",\"bids\":");
    levels(buf, fmt, bids);
    buf.push_str(",\"asks\":");
    levels(buf, fmt, asks);
    buf.push_str("}}}");
}

/// A `lightning_executions_{product}` frame (`side` the taker's).
pub fn executions(buf: &mut String, product: &str, fmt: &LevelFmt, trades: &[Trade], unix_ns: u64) {
    head(buf, "lightning_executions_", product);
    buf.push('[');
    let date = exec_date(unix_ns);
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        let side = if t.aggressor == Side::Bid {
            "BUY"
        } else {
            "SELL"
        };
        let _ = write!(buf, "{{\"id\":{},\"side\":\"{side}\",\"price\":", t.id);
        fmt.write_px(buf, t.px);
        buf.push_str(",\"size\":");
        fmt.write_qty(buf, t.qty);
        let (buy, sell) = if t.aggressor == Side::Bid {
            (t.taker_order_id, t.maker_order_id)
        } else {
            (t.maker_order_id, t.taker_order_id)
        };
        let _ = write!(
            buf,
            ",\"exec_date\":\"{date}\",\"buy_child_order_acceptance_id\":\"JRF{buy}\",\"sell_child_order_acceptance_id\":\"JRF{sell}\"}}"
        );
    }
    buf.push_str("]}}");
}

/// A `lightning_ticker_{product}` frame: best bid and ask with their sizes.
#[allow(clippy::too_many_arguments)]
pub fn ticker(
    buf: &mut String,
    product: &str,
    fmt: &LevelFmt,
    tick_id: u64,
    unix_ns: u64,
    bid: (i64, i64),
    ask: (i64, i64),
) {
    head(buf, "lightning_ticker_", product);
    let _ = write!(
        buf,
        "{{\"product_code\":\"{product}\",\"timestamp\":\"{}\",\"tick_id\":{tick_id},\"best_bid\":",
        exec_date(unix_ns)
    );
    fmt.write_px(buf, bid.0);
    buf.push_str(",\"best_ask\":");
    fmt.write_px(buf, ask.0);
    buf.push_str(",\"best_bid_size\":");
    fmt.write_qty(buf, bid.1);
    buf.push_str(",\"best_ask_size\":");
    fmt.write_qty(buf, ask.1);
    buf.push_str("}}}");
}

/// The answer to a request with an `id`: `{"jsonrpc":"2.0","id":N,"result":true}`, or
/// the venue's `-32602 invalid channel` error.
pub fn answer(id: &serde_json::Value, ok: bool) -> String {
    if ok {
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":true}}")
    } else {
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32602,\"message\":\"invalid channel\"}}}}"
        )
    }
}
