//! Bybit's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bybit;
use super::sim_frames as bybit;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, SyntheticConfig};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::recording::{
    levels_of, u64_of, write_levels, BookUpdate, RecBook, Recorded, RecordedVenue,
};
use crate::sim::synthetic::{SimBook, SynthState, SyntheticVenue, Window, BYBIT_DEPTHS};
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::Route;
use crate::sim::SimVenue;
use serde_json::Value;
use std::fmt::Write as _;

impl SimVenue for Bybit {
    /// Its recordings replay: see the [`RecordedVenue`] impl below.
    fn recording(&self) -> Option<&'static dyn RecordedVenue> {
        Some(&Bybit)
    }

    /// The default market(s): linear and spot `BTCUSDT`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![
            SyntheticConfig::bybit_btcusdt(seed, Market::Linear),
            SyntheticConfig::bybit_btcusdt(seed.wrapping_add(1), Market::Spot),
        ]
    }

    /// Its synthetic market's protocol: see the [`SyntheticVenue`] impl below.
    fn synthetic(&self) -> &'static dyn SyntheticVenue {
        &Bybit
    }

    /// `/v5/public/{linear,spot,inverse}`.
    fn route_of_path(&self, path: &str) -> Option<Route> {
        [
            routes::BYBIT_LINEAR,
            routes::BYBIT_SPOT,
            routes::BYBIT_INVERSE,
        ]
        .into_iter()
        .find(|r| path == *r)
    }

    /// Spot trims (`"65140"`, `"0.014"`); linear prints the price scale (`"65114.20"`) and
    /// the lot's places; deletions `"0"`.
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt {
        let (px, qty) = match inst.key.market {
            Market::Spot => (NumStyle::Trim(0), NumStyle::Trim(0)),
            _ => (
                NumStyle::Fixed(px_decimals.max(inst.tick.decimals())),
                NumStyle::Exact,
            ),
        };
        LevelFmt {
            px,
            qty,
            zero_qty: Some("0"),
            ..LevelFmt::exact(inst)
        }
    }

    /// The private API of Bybit linear `BTCUSDT` (`super::sim_private`).
    fn private_instrument(&self) -> Option<(Market, &'static str)> {
        Some((Market::Linear, "BTCUSDT"))
    }

    fn private_api(
        &self,
        account: &AccountFile,
        inst: Instrument,
        scheme: &'static str,
    ) -> Result<Box<dyn PrivateApi>, String> {
        let _ = scheme;
        Ok(Box::new(super::sim_private::BybitPrivate::new(
            account, inst,
        )?))
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// Bybit `BTCUSDT` (linear or spot) around 65,000 USDT on the 100 ms L200 cadence, with
    /// 260 levels per side so the 200-level window always has levels entering and leaving.
    pub fn bybit_btcusdt(seed: u64, market: Market) -> SyntheticConfig {
        let inst = builtin(Venue::Bybit, market, "BTCUSDT");
        let (base, px_decimals) = match market {
            Market::Spot => (200_000, 0), // 0.2 BTC in 1e-6 lots; spot prints trimmed
            _ => (500, 2),                // 0.5 BTC in 1e-3 lots; linear prints 2 places
        };
        SyntheticConfig {
            levels: 260,
            base_qty_lots: base,
            wire_px_decimals: px_decimals,
            ..SyntheticConfig::new(seed, inst, 650_000)
        }
    }
}

/// Replaying Bybit recordings: every topic a frame shows is answerable on its route;
/// `orderbook.*` frames keep the book (a snapshot clears it; `u` and `seq` follow the frame);
/// a subscribe is acked and answered with a fresh snapshot of a book already synced.
impl RecordedVenue for Bybit {
    fn exchange(&self) -> &'static str {
        "BYBIT"
    }

    fn classify(&self, route: Route, v: &Value, topics: &mut Vec<(Route, String)>) -> Recorded {
        let Some(topic) = v.get("topic").and_then(Value::as_str) else {
            return if v.get("op").is_some() {
                Recorded::Drop
            } else {
                Recorded::Pass
            };
        };
        if !topics.iter().any(|(r, t)| *r == route && t == topic) {
            topics.push((route, topic.to_string()));
        }
        if !topic.starts_with("orderbook.") {
            return Recorded::Pass;
        }
        let Some(d) = v.get("data") else {
            return Recorded::Pass;
        };
        let symbol = d.get("s").and_then(Value::as_str).unwrap_or("");
        Recorded::Book {
            symbol: symbol.to_string(),
            topic: topic.to_string(),
            update: BookUpdate {
                snapshot: v.get("type").and_then(Value::as_str) == Some("snapshot"),
                bids: levels_of(d.get("b")).unwrap_or_default(),
                asks: levels_of(d.get("a")).unwrap_or_default(),
                u: u64_of(d.get("u")),
                seq: u64_of(d.get("seq")),
                ts_ms: u64_of(v.get("ts")),
                cts_ms: u64_of(v.get("cts")),
            },
        }
    }

    fn apply(&self, b: &mut RecBook, a: &BookUpdate) -> bool {
        if a.snapshot {
            b.bids.clear();
            b.asks.clear();
            b.synced = true;
        }
        b.u = a.u;
        b.seq = a.seq;
        true
    }

    fn on_client_frame(
        &self,
        route: Route,
        v: &Value,
        topics: &[(Route, String)],
        books: &[RecBook],
    ) -> Vec<String> {
        let req_id = v.get("req_id").and_then(Value::as_str);
        let market = if route == routes::BYBIT_SPOT {
            Market::Spot
        } else {
            Market::Linear
        };
        match v.get("op").and_then(Value::as_str) {
            Some("ping") => vec![bybit::pong(req_id)],
            Some(op @ ("subscribe" | "unsubscribe")) => {
                let mut bad = Vec::new();
                let mut snaps = Vec::new();
                for a in v
                    .get("args")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let t = a.as_str().unwrap_or("");
                    if !topics.iter().any(|(r, x)| *r == route && x == t) {
                        bad.push(t.to_string());
                        continue;
                    }
                    if op == "subscribe" {
                        if let Some(b) = books
                            .iter()
                            .find(|b| b.route == route && b.topic == t && b.synced)
                        {
                            snaps.push(recorded_snapshot(b));
                        }
                    }
                }
                let mut out = vec![bybit::ack(market, op, req_id, &bad)];
                out.extend(snaps);
                out
            }
            _ => Vec::new(),
        }
    }

    fn crossed_frame(&self, b: &RecBook, level: &str) -> String {
        let spot = b.route == routes::BYBIT_SPOT;
        let (first, second) = if spot {
            (
                format!("\"ts\":{}", b.ts_ms),
                "\"type\":\"delta\"".to_string(),
            )
        } else {
            (
                "\"type\":\"delta\"".to_string(),
                format!("\"ts\":{}", b.ts_ms),
            )
        };
        format!(
            "{{\"topic\":\"{}\",{first},{second},\"data\":{{\"s\":\"{}\",\"b\":{level},\"a\":[],\"u\":{},\"seq\":{}}},\"cts\":{}}}",
            b.topic,
            b.symbol,
            b.u + 1,
            b.seq,
            b.cts_ms
        )
    }
}

/// A snapshot frame of the recorded book `b` as the frames so far imply it (with the last `u`).
fn recorded_snapshot(b: &RecBook) -> String {
    let spot = b.route == routes::BYBIT_SPOT;
    let mut f = String::with_capacity(16 * 1024);
    let _ = write!(f, "{{\"topic\":\"{}\",", b.topic);
    if spot {
        let _ = write!(f, "\"ts\":{},\"type\":\"snapshot\"", b.ts_ms);
    } else {
        let _ = write!(f, "\"type\":\"snapshot\",\"ts\":{}", b.ts_ms);
    }
    let _ = write!(f, ",\"data\":{{\"s\":\"{}\",\"b\":", b.symbol);
    write_levels(&mut f, b.bids.values().rev());
    f.push_str(",\"a\":");
    write_levels(&mut f, b.asks.values());
    let _ = write!(
        f,
        ",\"u\":{},\"seq\":{}}},\"cts\":{}}}",
        b.u, b.seq, b.cts_ms
    );
    f
}

/// Bybit's synthetic protocol (`/v5/public/linear`, `/v5/public/spot`): nothing is sent for a
/// topic until it is subscribed; every subscribe is acked and answered with a snapshot of the
/// topic's current window, then deltas continue the topic's `u` by one.
impl SyntheticVenue for Bybit {
    fn route(&self, market: Market) -> Route {
        crate::sim::wire::bybit_route(market)
    }

    fn on_step(&self, st: &mut SynthState, i: usize, out: &mut Vec<(Route, String)>) {
        let b = &mut st.books[i];
        let s = b.m.last_step();
        b.seq += 1 + (s.changes.len() + s.trades.len()) as u64;
        if b.trades_on && !s.trades.is_empty() {
            let (ts, _) = b.ts_ms();
            let mut f = String::with_capacity(256 * s.trades.len());
            let market = b.market();
            let sym = b.m.instrument().key.symbol;
            bybit::trades(
                &mut f, market, &sym, &b.fmt, ts, b.seq, &s.trades, &mut b.dir,
            );
            out.push((b.route, f));
        }
        for wi in 0..b.windows.len() {
            if b.windows[wi].update(&b.m) {
                b.windows[wi].u += 1;
                out.push((b.route, book_frame(b, wi, false)));
            }
        }
    }

    fn on_client_frame(&self, st: &mut SynthState, route: Route, frame: &str) -> Vec<String> {
        let Ok(v) = serde_json::from_str::<Value>(frame) else {
            return Vec::new();
        };
        client_frame(st, route, &v)
    }

    fn crossed_frame(&self, st: &mut SynthState) -> Option<(Route, String)> {
        let b = st.books.iter_mut().find(|b| !b.windows.is_empty())?;
        let (ask, _) = b.m.best_ask()?;
        let w = &mut b.windows[0];
        w.u += 1;
        w.delta_b.clear();
        w.delta_a.clear();
        w.delta_b.push((ask + 1, b.m.config().base_qty_lots));
        let f = book_frame(b, 0, false);
        Some((b.route, f))
    }
}

fn book_frame(b: &SimBook, wi: usize, snapshot: bool) -> String {
    let w = &b.windows[wi];
    let (ts_ms, cts_ms) = b.ts_ms();
    let h = bybit::BookHeader {
        market: b.market(),
        depth: w.depth,
        symbol: b.symbol(),
        snapshot,
        ts_ms,
        cts_ms,
        u: w.u,
        seq: b.seq,
    };
    let mut f = String::with_capacity(if snapshot { 12 * 1024 } else { 512 });
    if snapshot {
        bybit::book(
            &mut f,
            &h,
            &b.fmt,
            w.bids.iter().copied(),
            w.asks.iter().copied(),
        );
    } else {
        bybit::book(
            &mut f,
            &h,
            &b.fmt,
            w.delta_b.iter().copied(),
            w.delta_a.iter().copied(),
        );
    }
    f
}

fn client_frame(st: &mut SynthState, route: Route, v: &Value) -> Vec<String> {
    let req_id = v.get("req_id").and_then(Value::as_str);
    let op = v.get("op").and_then(Value::as_str).unwrap_or("");
    let market = match route {
        routes::BYBIT_SPOT => Market::Spot,
        routes::BYBIT_INVERSE => Market::Inverse,
        _ => Market::Linear,
    };
    match op {
        "ping" => vec![bybit::pong(req_id)],
        "subscribe" | "unsubscribe" => {
            let args: Vec<&str> = v
                .get("args")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut bad = Vec::new();
            let mut snapshots = Vec::new();
            if args.is_empty() {
                bad.push("<no args>".to_string());
            }
            for arg in args {
                match subscribe_topic(st, route, arg, op == "subscribe") {
                    Ok(Some(snap)) => snapshots.push(snap),
                    Ok(None) => {}
                    Err(()) => bad.push(arg.to_string()),
                }
            }
            let mut reply = vec![bybit::ack(market, op, req_id, &bad)];
            reply.extend(snapshots);
            reply
        }
        _ => Vec::new(),
    }
}

/// Handles one subscribe arg; a book topic answers with its snapshot.
fn subscribe_topic(
    st: &mut SynthState,
    route: Route,
    arg: &str,
    subscribe: bool,
) -> Result<Option<String>, ()> {
    let mut parts = arg.split('.');
    let (kind, a, b) = (parts.next(), parts.next(), parts.next());
    let (depth, sym) = match (kind, a, b) {
        (Some("orderbook"), Some(d), Some(s)) => (Some(d.parse::<usize>().map_err(|_| ())?), s),
        (Some("publicTrade"), Some(s), None) => (None, s),
        _ => return Err(()),
    };
    if parts.next().is_some() {
        return Err(());
    }
    let i = st
        .books
        .iter()
        .position(|bk| bk.route == route && bk.symbol() == sym)
        .ok_or(())?;
    let b = &mut st.books[i];
    let Some(depth) = depth else {
        b.trades_on = subscribe || b.trades_on;
        return Ok(None);
    };
    if !BYBIT_DEPTHS.contains(&depth) || depth > b.m.config().levels {
        return Err(());
    }
    if !subscribe {
        return Ok(None);
    }
    let wi = match b.windows.iter().position(|w| w.depth == depth) {
        Some(wi) => wi,
        None => {
            let u0 = 10_000_000 + (b.m.config().seed % 1_000_000) * 7 + depth as u64;
            b.windows.push(Window::new(depth, u0, &b.m));
            b.windows.len() - 1
        }
    };
    Ok(Some(book_frame(b, wi, true)))
}
