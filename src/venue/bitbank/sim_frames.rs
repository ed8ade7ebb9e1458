//! bitbank public stream (Socket.IO 4) and REST depth (VENUES.md 1.5).
//!
//! Written by the simulator (`venue/bitbank/sim.rs`): numbers come from [`LevelFmt`].

use crate::msg::Side;
use crate::sim::market::Trade;
use crate::sim::wire::LevelFmt;
use std::fmt::Write;

/// The Engine.IO open packet (the docs' wscat sample's values).
pub fn open(sid: u64) -> String {
    format!(r#"0{{"sid":"sim-{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":60000}}"#)
}

/// The Socket.IO answer to `40`.
pub fn connected(sid: u64) -> String {
    format!(r#"40{{"sid":"sim-ns-{sid}"}}"#)
}

/// The Engine.IO ping the server sends.
pub const PING: &str = "2";

fn event(buf: &mut String, room: &str, pair: &str) {
    let _ = write!(
        buf,
        "42[\"message\",{{\"room_name\":\"{room}{pair}\",\"message\":{{\"data\":"
    );
}

/// A `depth_diff_{pair}` event.
#[allow(clippy::too_many_arguments)]
pub fn diff(
    buf: &mut String,
    pair: &str,
    fmt: &LevelFmt,
    unix_ms: u64,
    seq: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    event(buf, "depth_diff_", pair);
    buf.push_str("{\"a\":");
    fmt.write_levels(buf, asks);
    buf.push_str(",\"b\":");
    fmt.write_levels(buf, bids);
    let _ = write!(buf, ",\"t\":{unix_ms},\"s\":\"{seq}\"}}}}}}]");
}

fn whole_data(
    buf: &mut String,
    fmt: &LevelFmt,
    unix_ms: u64,
    seq: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    buf.push_str("{\"asks\":");
    fmt.write_levels(buf, asks);
    buf.push_str(",\"bids\":");
    fmt.write_levels(buf, bids);
    let _ = write!(
        buf,
        ",\"asks_over\":\"0\",\"bids_under\":\"0\",\"asks_under\":\"0\",\"bids_over\":\"0\",\"ask_market\":\"0\",\"bid_market\":\"0\",\"timestamp\":{unix_ms},\"sequenceId\":\"{seq}\"}}"
    );
}

/// A `depth_whole_{pair}` event.
pub fn whole(
    buf: &mut String,
    pair: &str,
    fmt: &LevelFmt,
    unix_ms: u64,
    seq: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    event(buf, "depth_whole_", pair);
    whole_data(buf, fmt, unix_ms, seq, bids, asks);
    buf.push_str("}}]");
}

/// A `transactions_{pair}` event.
pub fn transactions(buf: &mut String, pair: &str, fmt: &LevelFmt, trades: &[Trade], unix_ms: u64) {
    event(buf, "transactions_", pair);
    buf.push_str("{\"transactions\":[");
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        let side = if t.aggressor == Side::Bid {
            "buy"
        } else {
            "sell"
        };
        let _ = write!(
            buf,
            "{{\"side\":\"{side}\",\"executed_at\":{unix_ms},\"amount\":\""
        );
        fmt.write_qty(buf, t.qty);
        buf.push_str("\",\"price\":\"");
        fmt.write_px(buf, t.px);
        let _ = write!(buf, "\",\"transaction_id\":{}}}", t.id);
    }
    buf.push_str("]}}}]");
}

/// REST `GET /{pair}/depth`: `{"success":1,"data":{..}}`.
pub fn rest_depth(
    buf: &mut String,
    fmt: &LevelFmt,
    unix_ms: u64,
    seq: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    buf.push_str("{\"success\":1,\"data\":");
    whole_data(buf, fmt, unix_ms, seq, bids, asks);
    buf.push('}');
}
