//! Binance's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Binance;
use super::sim_frames as binance;
use crate::instrument::{Instrument, Market, Venue};
use crate::msg::Side;
use crate::sim::market::{builtin, SyntheticConfig};
use crate::sim::recording::{
    levels_of, set_level, u64_of, BookUpdate, RecBook, Recorded, RecordedVenue,
};
use crate::sim::synthetic::split_query;
use crate::sim::synthetic::{not_found, param, SynthState, SyntheticVenue};
use crate::sim::wire::unix_ms;
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::RestReply;
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

    /// Its synthetic market's protocol: see the [`SyntheticVenue`] impl below.
    fn synthetic(&self) -> &'static dyn SyntheticVenue {
        &SPOT_SYNTHETIC
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

/// Binance's synthetic protocol, spot and USD-M (`usdm`) alike (`/ws` raw and `/stream`
/// combined): a `depthUpdate` per step with `U = last u + 1` and `u` advanced by the step's
/// book operations (USD-M: skips of 0 to 2 and `pu`); REST depth carries the last `u` as
/// `lastUpdateId`. Trades are not simulated.
#[derive(Debug)]
pub struct BinanceSynthetic {
    pub usdm: bool,
}

impl SyntheticVenue for BinanceSynthetic {
    fn route(&self, market: Market) -> Route {
        let _ = market;
        routes::BINANCE_STREAM
    }

    fn served_routes(&self, book_routes: Vec<Route>) -> Vec<Route> {
        let _ = book_routes;
        vec![routes::BINANCE_WS, routes::BINANCE_STREAM]
    }

    fn on_step(&self, st: &mut SynthState, i: usize, out: &mut Vec<(Route, String)>) {
        let usdm = self.usdm;
        let b = &mut st.books[i];
        let s = b.m.last_step();
        if s.changes.is_empty() {
            return;
        }
        // USD-M: ids are not consecutive across events (skips of 0 to 2 here), and
        // every event names the previous one's `u` as `pu`.
        let pu = usdm.then_some(b.last_id);
        let first = b.last_id + 1 + if usdm { s.step % 3 } else { 0 };
        b.last_id = first + (s.updates as u64).max(1) - 1;
        let sym = b.m.instrument().key.symbol;
        let changes = &s.changes;
        st.raw.clear();
        binance::depth_update_pu(
            &mut st.raw,
            &sym,
            &b.fmt,
            unix_ms(b.m.config().start_unix_ns + s.t_ns),
            first,
            b.last_id,
            pu,
            changes
                .iter()
                .filter(|c| c.side == Side::Bid)
                .map(|c| (c.px, c.qty)),
            changes
                .iter()
                .filter(|c| c.side == Side::Ask)
                .map(|c| (c.px, c.qty)),
        );
        let mut wrapped = String::with_capacity(st.raw.len() + 48);
        binance::combined(&mut wrapped, &sym, &st.raw);
        out.push((routes::BINANCE_WS, st.raw.clone()));
        out.push((routes::BINANCE_STREAM, wrapped));
    }

    fn on_client_frame(&self, st: &mut SynthState, route: Route, frame: &str) -> Vec<String> {
        let _ = (st, route);
        let Ok(v) = serde_json::from_str::<Value>(frame) else {
            return Vec::new();
        };
        match v.get("method").and_then(Value::as_str) {
            Some("SUBSCRIBE" | "UNSUBSCRIBE") => {
                let id = v.get("id").cloned().unwrap_or(Value::Null);
                vec![format!("{{\"result\":null,\"id\":{id}}}")]
            }
            _ => Vec::new(),
        }
    }

    fn rest(&self, st: &SynthState, path: &str, query: &[(&str, &str)]) -> RestReply {
        rest_answer(self.usdm, st, path, query)
    }

    fn crossed_frame(&self, st: &mut SynthState) -> Option<(Route, String)> {
        let usdm = self.usdm;
        let b = &mut st.books[0];
        let (ask, _) = b.m.best_ask()?;
        let pu = usdm.then_some(b.last_id);
        b.last_id += 1;
        let sym = b.m.instrument().key.symbol;
        let mut raw = String::new();
        binance::depth_update_pu(
            &mut raw,
            &sym,
            &b.fmt,
            unix_ms(b.unix_ns()),
            b.last_id,
            b.last_id,
            pu,
            [(ask + 1, b.m.config().base_qty_lots)].into_iter(),
            [].into_iter(),
        );
        let mut f = String::new();
        binance::combined(&mut f, &sym, &raw);
        Some((routes::BINANCE_STREAM, f))
    }
}

/// Binance spot's synthetic protocol.
pub static SPOT_SYNTHETIC: BinanceSynthetic = BinanceSynthetic { usdm: false };

/// Binance USD-M futures' synthetic protocol.
pub static USDM_SYNTHETIC: BinanceSynthetic = BinanceSynthetic { usdm: true };

pub(crate) fn rest_answer(
    usdm: bool,
    st: &SynthState,
    path: &str,
    query: &[(&str, &str)],
) -> RestReply {
    let depth_path = if usdm {
        "/fapi/v1/depth"
    } else {
        "/api/v3/depth"
    };
    if path != depth_path {
        return not_found(path);
    }
    let err = |code: i32, msg: &str| RestReply {
        status: 400,
        body: format!("{{\"code\":{code},\"msg\":{}}}", Value::from(msg)),
    };
    let Some(sym) = param(query, "symbol").filter(|s| !s.is_empty()) else {
        return err(
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let limit = match param(query, "limit").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if n >= 1 => n.min(5000),
        Some(_) => return err(-1100, "Illegal characters found in parameter 'limit'."),
    };
    let Some(i) = st.books.iter().position(|b| b.symbol() == sym) else {
        return err(-1121, "Invalid symbol.");
    };
    let b = &st.books[i];
    let mut body = String::with_capacity(72 * limit.min(b.m.config().levels) * 2);
    binance::rest_depth(
        &mut body,
        &b.fmt,
        b.last_id,
        b.m.levels(Side::Bid),
        b.m.levels(Side::Ask),
        limit,
    );
    RestReply { status: 200, body }
}
