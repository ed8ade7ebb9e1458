//! Binance's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Binance;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, SyntheticConfig};
use crate::sim::recording::{
    levels_of, set_level, u64_of, BookUpdate, RecBook, Recorded, RecordedVenue,
};
use crate::sim::synthetic::split_query;
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::Route;
use crate::sim::SimVenue;
use serde_json::Value;

impl SimVenue for Binance {
    /// Its recordings replay: see the [`RecordedVenue`] impl below.
    fn recording(&self) -> Option<&'static dyn RecordedVenue> {
        Some(&Binance)
    }

    /// The default market(s): spot `BTCUSDT`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::binance_btcusdt(seed)]
    }

    /// Raw streams (every `/ws/<stream>`) and combined streams (`/stream?streams=a/b`).
    fn route_of_path(&self, path: &str) -> Option<Route> {
        route_of_path(path)
    }

    /// Padded to 8 places (`"0.35130000"`).
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt {
        let _ = px_decimals;
        LevelFmt {
            px: NumStyle::Fixed(8),
            qty: NumStyle::Fixed(8),
            zero_qty: None,
            ..LevelFmt::exact(inst)
        }
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// Binance spot `BTCUSDT` around 65,000 USDT (0.01 ticks, 1e-5 lots), 100 ms cadence.
    pub fn binance_btcusdt(seed: u64) -> SyntheticConfig {
        let inst = builtin(Venue::Binance, Market::Spot, "BTCUSDT");
        SyntheticConfig {
            levels: 400,
            base_qty_lots: 20_000,
            ..SyntheticConfig::new(seed, inst, 6_500_000)
        }
    }
}

/// Replaying Binance spot recordings: the books start from the recorded REST depth snapshots
/// (the first per symbol), one book per symbol over the raw and combined streams, and a
/// `depthUpdate` applies only past the book's last `u`.
impl RecordedVenue for Binance {
    fn exchange(&self) -> &'static str {
        "BINANCE"
    }

    fn seed_books(
        &self,
        http: &[(String, String)],
        books: &mut Vec<RecBook>,
    ) -> Result<(), String> {
        for (pq, body) in http {
            let (path, q) = split_query(pq);
            if path != "/api/v3/depth" {
                continue;
            }
            let Some(sym) = q.iter().find(|(k, _)| *k == "symbol").map(|(_, v)| *v) else {
                continue;
            };
            if books.iter().any(|b| b.symbol == sym) {
                continue;
            }
            let v: Value = serde_json::from_str(body)
                .map_err(|e| format!("recorded REST {pq}: not JSON: {e}"))?;
            let mut b = RecBook {
                route: routes::BINANCE_STREAM,
                symbol: sym.to_string(),
                topic: format!("{}@depth@100ms", sym.to_ascii_lowercase()),
                u: u64_of(v.get("lastUpdateId")),
                synced: true,
                ..RecBook::default()
            };
            for (side, key) in [(true, "bids"), (false, "asks")] {
                for (p, q) in levels_of(v.get(key)).unwrap_or_default() {
                    set_level(if side { &mut b.bids } else { &mut b.asks }, p, q);
                }
            }
            books.push(b);
        }
        Ok(())
    }

    fn one_book_per_symbol(&self) -> bool {
        true
    }

    fn classify(&self, route: Route, v: &Value, topics: &mut Vec<(Route, String)>) -> Recorded {
        let _ = (route, topics);
        if v.get("result").is_some() && v.get("id").is_some() {
            return Recorded::Drop;
        }
        let d = v.get("data").unwrap_or(v);
        if d.get("e").and_then(Value::as_str) != Some("depthUpdate") {
            return Recorded::Pass;
        }
        let symbol = d.get("s").and_then(Value::as_str).unwrap_or("");
        Recorded::Book {
            symbol: symbol.to_string(),
            topic: format!("{}@depth@100ms", symbol.to_ascii_lowercase()),
            update: BookUpdate {
                snapshot: false,
                bids: levels_of(d.get("b")).unwrap_or_default(),
                asks: levels_of(d.get("a")).unwrap_or_default(),
                u: u64_of(d.get("u")),
                seq: 0,
                ts_ms: u64_of(d.get("E")),
                cts_ms: 0,
            },
        }
    }

    fn apply(&self, b: &mut RecBook, a: &BookUpdate) -> bool {
        if !b.synced || a.u <= b.u {
            return false;
        }
        b.u = a.u;
        true
    }

    fn on_client_frame(
        &self,
        route: Route,
        v: &Value,
        topics: &[(Route, String)],
        books: &[RecBook],
    ) -> Vec<String> {
        let _ = (route, topics, books);
        match v.get("method").and_then(Value::as_str) {
            Some("SUBSCRIBE" | "UNSUBSCRIBE") => {
                let id = v.get("id").cloned().unwrap_or(Value::Null);
                vec![format!("{{\"result\":null,\"id\":{id}}}")]
            }
            _ => Vec::new(),
        }
    }

    fn crossed_frame(&self, b: &RecBook, level: &str) -> String {
        let raw = format!(
            "{{\"e\":\"depthUpdate\",\"E\":{},\"s\":\"{}\",\"U\":{},\"u\":{},\"b\":{level},\"a\":[]}}",
            b.ts_ms,
            b.symbol,
            b.u + 1,
            b.u + 1
        );
        if b.route == routes::BINANCE_WS {
            raw
        } else {
            format!("{{\"stream\":\"{}\",\"data\":{raw}}}", b.topic)
        }
    }
}

/// The route of a Binance WebSocket path, spot and USD-M alike: raw streams (every
/// `/ws/<stream>`, payloads unwrapped) and combined streams (`/stream?streams=a/b`).
pub fn route_of_path(path: &str) -> Option<Route> {
    if path == "/ws" || path.starts_with("/ws/") {
        Some(routes::BINANCE_WS)
    } else if path == "/stream" {
        Some(routes::BINANCE_STREAM)
    } else {
        None
    }
}
