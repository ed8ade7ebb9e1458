//! Binance's own top of book for `verify-book`: the `<symbol>@bookTicker` stream,
//! `{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`
//! (raw or combined-stream wrapped), where `u` is the order book update id the quote was taken
//! at: the same id space as the diffs' `u` (binance-spot-api-docs, web-socket-streams.md,
//! "Individual Symbol Book Ticker Streams"). Every diff's `U`..`u` span is given too: the
//! ticker is sent on every update, the diffs every 100 ms, so a ticker inside a diff's span
//! shows a state no local book ever has.

use crate::venue::{TopItem, TopKey};
use serde_json::Value;

/// Pushes the quote of a `bookTicker` frame to `out`; nothing for any other frame.
pub fn read(frame: &[u8], out: &mut Vec<TopItem>) {
    let Ok(root) = serde_json::from_slice::<Value>(frame) else {
        return;
    };
    let ev = match (root.get("stream"), root.get("data")) {
        (Some(_), Some(d)) => d,
        _ => &root,
    };
    if ev.get("e").and_then(Value::as_str) == Some("depthUpdate") {
        let (Some(s), Some(first), Some(last)) = (
            ev.get("s").and_then(Value::as_str),
            ev.get("U").and_then(Value::as_u64),
            ev.get("u").and_then(Value::as_u64),
        ) else {
            return;
        };
        out.push(TopItem::BookId {
            symbol: s.to_owned(),
            first: Some(first),
            id: last,
        });
        return;
    }
    // A trade has `e`; the book ticker has none (and `A`/`B` sizes).
    if ev.get("e").is_some() || ev.get("A").is_none() || ev.get("B").is_none() {
        return;
    }
    let (Some(u), Some(s), Some(b), Some(a)) = (
        ev.get("u").and_then(Value::as_u64),
        ev.get("s").and_then(Value::as_str),
        ev.get("b").and_then(Value::as_str),
        ev.get("a").and_then(Value::as_str),
    ) else {
        return;
    };
    out.push(TopItem::Quote {
        symbol: s.to_owned(),
        bid: Some(b.to_owned()),
        ask: Some(a.to_owned()),
        key: TopKey::Id(u),
        source: "bookTicker",
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_ticker_raw_and_combined_and_nothing_else() {
        let mut out = Vec::new();
        read(br#"{"stream":"nknusdt@bookTicker","data":{"u":499869768,"s":"NKNUSDT","b":"0.35210000","B":"672.00000000","a":"0.35260000","A":"3199.00000000"}}"#, &mut out);
        read(
            br#"{"u":7,"s":"BNBUSDT","b":"25.3","B":"31","a":"25.4","A":"40"}"#,
            &mut out,
        );
        read(
            br#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,"b":[],"a":[]}"#,
            &mut out,
        );
        read(br#"{"lastUpdateId":1,"bids":[],"asks":[]}"#, &mut out);
        read(b"not json", &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[2],
            TopItem::BookId {
                symbol: "NKNUSDT".into(),
                first: Some(1),
                id: 2
            }
        );
        assert_eq!(
            out[0],
            TopItem::Quote {
                symbol: "NKNUSDT".into(),
                bid: Some("0.35210000".into()),
                ask: Some("0.35260000".into()),
                key: TopKey::Id(499869768),
                source: "bookTicker",
            }
        );
    }
}
