//! Binance spot diff-depth stream and REST depth.
//!
//! Written by the simulator (`venue/binance/sim.rs`): numbers come from [`LevelFmt`].

use crate::sim::wire::LevelFmt;
use std::fmt::Write;

/// `{"e":"depthUpdate","E":..,"s":"BTCUSDT","U":..,"u":..,"b":[..],"a":[..]}`.
#[allow(clippy::too_many_arguments)]
pub fn depth_update(
    buf: &mut String,
    symbol: &str,
    fmt: &LevelFmt,
    event_ms: u64,
    first_id: u64,
    last_id: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    depth_update_pu(
        buf, symbol, fmt, event_ms, first_id, last_id, None, bids, asks,
    );
}

/// [`depth_update`] with USD-M futures' `T` and `pu` (the previous event's `u`) when `pu`
/// is given: `{"e":"depthUpdate","E":..,"T":..,"s":..,"U":..,"u":..,"pu":..,"b":..,"a":..}`.
#[allow(clippy::too_many_arguments)]
pub fn depth_update_pu(
    buf: &mut String,
    symbol: &str,
    fmt: &LevelFmt,
    event_ms: u64,
    first_id: u64,
    last_id: u64,
    pu: Option<u64>,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
) {
    match pu {
        None => {
            let _ = write!(
                buf,
                "{{\"e\":\"depthUpdate\",\"E\":{event_ms},\"s\":\"{symbol}\",\"U\":{first_id},\"u\":{last_id},\"b\":"
            );
        }
        Some(pu) => {
            let _ = write!(
                buf,
                "{{\"e\":\"depthUpdate\",\"E\":{event_ms},\"T\":{},\"s\":\"{symbol}\",\"U\":{first_id},\"u\":{last_id},\"pu\":{pu},\"b\":",
                event_ms.saturating_sub(1)
            );
        }
    }
    fmt.write_levels(buf, bids);
    buf.push_str(",\"a\":");
    fmt.write_levels(buf, asks);
    buf.push('}');
}

/// The stream name of a symbol's diff-depth stream: `btcusdt@depth@100ms`.
pub fn depth_stream(buf: &mut String, symbol: &str) {
    for c in symbol.chars() {
        buf.push(c.to_ascii_lowercase());
    }
    buf.push_str("@depth@100ms");
}

/// Wraps a raw payload for a combined stream: `{"stream":"<name>","data":<raw>}`.
pub fn combined(buf: &mut String, symbol: &str, raw: &str) {
    buf.push_str("{\"stream\":\"");
    depth_stream(buf, symbol);
    buf.push_str("\",\"data\":");
    buf.push_str(raw);
    buf.push('}');
}

/// REST `GET /api/v3/depth`: `{"lastUpdateId":N,"bids":[..],"asks":[..]}`.
pub fn rest_depth(
    buf: &mut String,
    fmt: &LevelFmt,
    last_update_id: u64,
    bids: impl Iterator<Item = (i64, i64)>,
    asks: impl Iterator<Item = (i64, i64)>,
    limit: usize,
) {
    let _ = write!(buf, "{{\"lastUpdateId\":{last_update_id},\"bids\":");
    fmt.write_levels(buf, bids.take(limit));
    buf.push_str(",\"asks\":");
    fmt.write_levels(buf, asks.take(limit));
    buf.push('}');
}
