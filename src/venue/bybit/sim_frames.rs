//! Bybit v5 public WebSocket.
//!
//! Written by the simulator (`venue/bybit/sim.rs`): numbers come from [`LevelFmt`].

use crate::instrument::Market;
use crate::msg::Side;
use crate::sim::market::{SimRng, Trade};
use crate::sim::wire::{LevelFmt, TickDirection};
use std::fmt::Write;

/// Header fields of an `orderbook.{depth}.{symbol}` frame.
#[derive(Debug, Clone, Copy)]
pub struct BookHeader<'a> {
    pub market: Market,
    pub depth: usize,
    pub symbol: &'a str,
    pub snapshot: bool,
    pub ts_ms: u64,
    pub cts_ms: u64,
    pub u: u64,
    pub seq: u64,
}

/// `{"topic":"orderbook.200.BTCUSDT","type":..,"ts":..,"data":{"s":..,"b":..,"a":..,"u":..,"seq":..},"cts":..}`.
/// Spot puts `ts` before `type`, linear after, as the live venue does.
pub fn book(
    buf: &mut String,
    h: &BookHeader<'_>,
    fmt: &LevelFmt,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    let ty = if h.snapshot { "snapshot" } else { "delta" };
    let _ = write!(buf, "{{\"topic\":\"orderbook.{}.{}\",", h.depth, h.symbol);
    if h.market == Market::Spot {
        let _ = write!(buf, "\"ts\":{},\"type\":\"{ty}\"", h.ts_ms);
    } else {
        let _ = write!(buf, "\"type\":\"{ty}\",\"ts\":{}", h.ts_ms);
    }
    let _ = write!(buf, ",\"data\":{{\"s\":\"{}\",\"b\":", h.symbol);
    fmt.write_levels(buf, bids);
    buf.push_str(",\"a\":");
    fmt.write_levels(buf, asks);
    let _ = write!(
        buf,
        ",\"u\":{},\"seq\":{}}},\"cts\":{}}}",
        h.u, h.seq, h.cts_ms
    );
}

/// A UUID-shaped trade id, as Bybit linear prints them, derived from the numeric id.
fn uuid_of(id: u64, buf: &mut String) {
    let mut r = SimRng::new(id);
    let (a, b) = (r.next_u64(), r.next_u64());
    let _ = write!(
        buf,
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    );
}

/// `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":..,"data":[{"T":..,"s":..,"S":"Buy",..}]}`.
#[allow(clippy::too_many_arguments)]
pub fn trades(
    buf: &mut String,
    market: Market,
    symbol: &str,
    fmt: &LevelFmt,
    ts_ms: u64,
    seq: u64,
    trades: &[Trade],
    dir: &mut TickDirection,
) {
    let _ = write!(buf, "{{\"topic\":\"publicTrade.{symbol}\",");
    if market == Market::Spot {
        let _ = write!(buf, "\"ts\":{ts_ms},\"type\":\"snapshot\",\"data\":[");
    } else {
        let _ = write!(buf, "\"type\":\"snapshot\",\"ts\":{ts_ms},\"data\":[");
    }
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        let side = if t.aggressor == Side::Bid {
            "Buy"
        } else {
            "Sell"
        };
        if market == Market::Spot {
            let _ = write!(
                buf,
                "{{\"i\":\"{}\",\"T\":{ts_ms},\"p\":\"",
                2_290_000_000_000_000_000u64 + t.id
            );
            fmt.write_px(buf, t.px);
            buf.push_str("\",\"v\":\"");
            fmt.write_qty(buf, t.qty);
            let _ = write!(
                buf,
                "\",\"S\":\"{side}\",\"seq\":{seq},\"s\":\"{symbol}\",\"BT\":false,\"RPI\":false}}"
            );
        } else {
            let _ = write!(
                buf,
                "{{\"T\":{ts_ms},\"s\":\"{symbol}\",\"S\":\"{side}\",\"v\":\""
            );
            fmt.write_qty(buf, t.qty);
            buf.push_str("\",\"p\":\"");
            fmt.write_px(buf, t.px);
            let _ = write!(buf, "\",\"L\":\"{}\",\"i\":\"", dir.next(t.px));
            uuid_of(t.id, buf);
            let _ = write!(buf, "\",\"BT\":false,\"RPI\":false,\"seq\":{seq}}}");
        }
    }
    buf.push_str("]}");
}

/// Subscription ack, in the market's shape (linear: `ret_msg` empty and `req_id`; spot:
/// `ret_msg` `"subscribe"`), or a failure naming the rejected topics.
pub fn ack(market: Market, op: &str, req_id: Option<&str>, bad: &[String]) -> String {
    let ret_msg = if !bad.is_empty() {
        format!("Invalid topic(s) :[{}]", bad.join(","))
    } else if market == Market::Spot {
        op.to_string()
    } else {
        String::new()
    };
    let success = bad.is_empty();
    let ret_msg = serde_json::Value::from(ret_msg);
    let op = serde_json::Value::from(op);
    match (market, req_id) {
        (Market::Spot, None) => format!(
            "{{\"success\":{success},\"ret_msg\":{ret_msg},\"conn_id\":\"sim\",\"op\":{op}}}"
        ),
        (_, req) => {
            let req = serde_json::Value::from(req.unwrap_or(""));
            format!(
                "{{\"success\":{success},\"ret_msg\":{ret_msg},\"conn_id\":\"sim\",\"req_id\":{req},\"op\":{op}}}"
            )
        }
    }
}

/// Answer to `{"op":"ping"}`.
pub fn pong(req_id: Option<&str>) -> String {
    let req = serde_json::Value::from(req_id.unwrap_or(""));
    format!(
        "{{\"success\":true,\"ret_msg\":\"pong\",\"conn_id\":\"sim\",\"req_id\":{req},\"op\":\"ping\"}}"
    )
}
