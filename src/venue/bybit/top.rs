//! Bybit's own top of book for `verify-book` (bybit-exchange/docs, `websocket/public/ticker.mdx`,
//! `orderbook.mdx`):
//! - `tickers.{symbol}` (linear/inverse): `data.bid1Price`/`data.ask1Price`, a delta carrying
//!   only the fields that changed (the others carry forward), and the top-level cross sequence
//!   `cs`, comparable to the book frames' `data.seq` ("for the smaller seq, the data is
//!   generated earlier");
//! - `orderbook.1.{symbol}`: the L1 book, its one bid and ask level, at `data.seq`;
//! - every `orderbook.{depth}.{symbol}` frame: its `data.seq`, the book's id in that space.

use crate::venue::{TopItem, TopKey};
use serde_json::Value;

/// Pushes what a frame says about the venue's top of book to `out`.
pub fn read(frame: &[u8], out: &mut Vec<TopItem>) {
    let Ok(root) = serde_json::from_slice::<Value>(frame) else {
        return;
    };
    let Some(topic) = root.get("topic").and_then(Value::as_str) else {
        return;
    };
    let data = root.get("data");
    let text = |v: Option<&Value>, k: &str| {
        v.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(symbol) = topic.strip_prefix("tickers.") {
        let Some(cs) = root.get("cs").and_then(Value::as_u64) else {
            return; // spot tickers carry no cross sequence (and no best bid/ask)
        };
        let (bid, ask) = (text(data, "bid1Price"), text(data, "ask1Price"));
        // A delta that moved neither best price says nothing new about the top of book.
        if bid.is_some() || ask.is_some() {
            out.push(TopItem::Quote {
                symbol: symbol.to_owned(),
                bid,
                ask,
                key: TopKey::Id(cs),
                source: "tickers",
            });
        }
        return;
    }
    let Some(rest) = topic.strip_prefix("orderbook.") else {
        return;
    };
    let Some((depth, symbol)) = rest.split_once('.') else {
        return;
    };
    let Some(seq) = data.and_then(|d| d.get("seq")).and_then(Value::as_u64) else {
        return;
    };
    if depth == "1" {
        let first = |k: &str| {
            data.and_then(|d| d.get(k))
                .and_then(|l| l.get(0))
                .and_then(|l| l.get(0))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        out.push(TopItem::Quote {
            symbol: symbol.to_owned(),
            bid: first("b"),
            ask: first("a"),
            key: TopKey::Id(seq),
            source: "orderbook.1",
        });
    } else {
        out.push(TopItem::BookId {
            symbol: symbol.to_owned(),
            first: None,
            id: seq,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickers_deltas_l1_and_book_ids() {
        let mut out = Vec::new();
        read(br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"65114.20","bid1Size":"6.054"},"cs":753843907770,"ts":1}"#, &mut out);
        read(br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"1"},"cs":753843907771,"ts":1}"#, &mut out);
        read(br#"{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":5,"seq":753843907769},"cts":1}"#, &mut out);
        read(br#"{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["65114.2","1"]],"a":[["65114.3","2"]],"u":9,"seq":753843907772},"cts":1}"#, &mut out);
        read(br#"{"topic":"publicTrade.BTCUSDT","data":[]}"#, &mut out);
        assert_eq!(
            out,
            vec![
                TopItem::Quote {
                    symbol: "BTCUSDT".into(),
                    bid: Some("65114.20".into()),
                    ask: None,
                    key: TopKey::Id(753843907770),
                    source: "tickers",
                },
                TopItem::BookId {
                    symbol: "BTCUSDT".into(),
                    first: None,
                    id: 753843907769
                },
                TopItem::Quote {
                    symbol: "BTCUSDT".into(),
                    bid: Some("65114.2".into()),
                    ask: Some("65114.3".into()),
                    key: TopKey::Id(753843907772),
                    source: "orderbook.1",
                },
            ]
        );
    }
}
