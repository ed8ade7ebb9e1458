//! Bitflyer's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bitflyer;
use super::sim_frames as bitflyer;
use crate::instrument::{Instrument, Market, Venue};
use crate::msg::Side;
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::synthetic::{
    SimBook, SynthState, SyntheticVenue, BITFLYER_FIRST_SNAPSHOT_NS, BITFLYER_SNAPSHOT_NS,
};
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::Route;
use crate::sim::SimVenue;
use serde_json::Value;

impl SimVenue for Bitflyer {
    /// The default market(s): `FX_BTC_JPY`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::bitflyer_fx_btc_jpy(seed)]
    }

    /// Its synthetic market's protocol: see the [`SyntheticVenue`] impl below.
    fn synthetic(&self) -> &'static dyn SyntheticVenue {
        &Bitflyer
    }

    /// `wss://ws.lightstream.bitflyer.com/json-rpc`.
    fn route_of_path(&self, path: &str) -> Option<Route> {
        (path == routes::BITFLYER).then_some(routes::BITFLYER)
    }

    /// JSON numbers: `5854504.0`, `0.0267539`, deletions `0.0` (VENUES.md 1.3).
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt {
        let _ = px_decimals;
        LevelFmt {
            px: NumStyle::Trim(1),
            qty: NumStyle::Trim(1),
            zero_qty: None,
            ..LevelFmt::exact(inst)
        }
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// bitFlyer Lightning `FX_BTC_JPY` around 5,860,000 JPY: 1 JPY ticks, 1e-8 BTC lots, a
    /// board diff ~7.5 times a second (the recording's rate), 0.01 BTC typical orders, 240 to
    /// 300 levels per side (the venue's snapshots carry 300).
    pub fn bitflyer_fx_btc_jpy(seed: u64) -> SyntheticConfig {
        let inst = builtin(Venue::Bitflyer, Market::Linear, "FX_BTC_JPY");
        SyntheticConfig {
            levels: 240,
            schedule: Schedule::Random {
                median_ns: 130_000_000,
            },
            base_qty_lots: 1_000_000,
            events_per_step: 3,
            ..SyntheticConfig::new(seed, inst, 5_860_000)
        }
    }
}

/// bitFlyer's synthetic protocol (`/json-rpc`): JSON-RPC 2.0; a `subscribe` with an `id` is
/// answered `result: true` (an unknown channel `-32602`); per step a `lightning_board_` diff
/// with the `mid_price` floored to the tick, executions per step that traded and a ticker
/// when the best bid or ask changed; a board snapshot every [`BITFLYER_SNAPSHOT_NS`] of feed
/// time and [`BITFLYER_FIRST_SNAPSHOT_NS`] after a snapshot channel is subscribed. No REST.
impl SyntheticVenue for Bitflyer {
    fn route(&self, market: Market) -> Route {
        let _ = market;
        routes::BITFLYER
    }

    fn init_book(&self, b: &mut SimBook) {
        b.next_whole_ns = BITFLYER_SNAPSHOT_NS;
    }

    fn on_step(&self, st: &mut SynthState, i: usize, out: &mut Vec<(Route, String)>) {
        let b = &mut st.books[i];
        let s = b.m.last_step();
        let t_ns = s.t_ns;
        let unix = b.m.config().start_unix_ns + t_ns;
        let product = b.m.instrument().key.symbol;
        if !s.trades.is_empty() {
            let mut f = String::with_capacity(220 * s.trades.len());
            bitflyer::executions(&mut f, &product, &b.fmt, &s.trades, unix);
            out.push((b.route, f));
        }
        if !s.changes.is_empty() {
            let changes = &s.changes;
            let mut f = String::with_capacity(160 + 48 * changes.len());
            bitflyer::board(
                &mut f,
                &product,
                &b.fmt,
                false,
                mid_price(b),
                changes
                    .iter()
                    .filter(|c| c.side == Side::Bid)
                    .map(|c| (c.px, c.qty)),
                changes
                    .iter()
                    .filter(|c| c.side == Side::Ask)
                    .map(|c| (c.px, c.qty)),
            );
            out.push((b.route, f));
        }
        if let (Some(bid), Some(ask)) = (b.m.best_bid(), b.m.best_ask()) {
            if b.last_top != Some((bid, ask)) {
                b.last_top = Some((bid, ask));
                b.last_id += 1;
                let mut f = String::with_capacity(320);
                bitflyer::ticker(&mut f, &product, &b.fmt, b.last_id, unix, bid, ask);
                out.push((b.route, f));
            }
        }
        if t_ns >= b.next_whole_ns {
            b.next_whole_ns = t_ns + BITFLYER_SNAPSHOT_NS;
            out.push((b.route, snapshot_frame(b)));
        }
    }

    fn on_client_frame(&self, st: &mut SynthState, route: Route, frame: &str) -> Vec<String> {
        let _ = route;
        let Ok(v) = serde_json::from_str::<Value>(frame) else {
            return Vec::new();
        };
        client_frame(st, &v)
    }

    fn crossed_frame(&self, st: &mut SynthState) -> Option<(Route, String)> {
        let b = &st.books[0];
        let (ask, _) = b.m.best_ask()?;
        let bid = (ask + 1, b.m.config().base_qty_lots);
        let mut f = String::new();
        bitflyer::board(
            &mut f,
            b.symbol(),
            &b.fmt,
            false,
            ask,
            std::iter::once(bid),
            std::iter::empty(),
        );
        Some((b.route, f))
    }
}

/// bitFlyer: `mid_price` in ticks, `(best bid + best ask) / 2` floored to the tick (0 when
/// a side is empty).
fn mid_price(b: &SimBook) -> i64 {
    match (b.m.best_bid(), b.m.best_ask()) {
        (Some((b, _)), Some((a, _))) => (b + a).div_euclid(2),
        _ => 0,
    }
}

/// bitFlyer: a `lightning_board_snapshot_*` of the whole book.
fn snapshot_frame(b: &SimBook) -> String {
    let mut f = String::with_capacity(48 * b.m.config().levels * 3 + 256);
    bitflyer::board(
        &mut f,
        b.symbol(),
        &b.fmt,
        true,
        mid_price(b),
        b.m.levels(Side::Bid),
        b.m.levels(Side::Ask),
    );
    f
}

/// bitFlyer: JSON-RPC requests, one object or a batch array; those with an `id` answered.
fn client_frame(st: &mut SynthState, v: &Value) -> Vec<String> {
    let reqs: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    let mut replies = Vec::new();
    for r in reqs {
        let method = r.get("method").and_then(Value::as_str).unwrap_or("");
        let channel = r
            .get("params")
            .and_then(|p| p.get("channel"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let known = [
            "lightning_board_snapshot_",
            "lightning_board_",
            "lightning_executions_",
            "lightning_ticker_",
        ]
        .iter()
        .any(|p| channel.starts_with(p));
        let ok = matches!(method, "subscribe" | "unsubscribe") && known;
        if ok && method == "subscribe" {
            if let Some(product) = channel.strip_prefix("lightning_board_snapshot_") {
                // An unknown product is answered `true` and then stays silent.
                if let Some(b) = st.books.iter_mut().find(|b| b.symbol() == product) {
                    let soon = b.m.now_ns() + BITFLYER_FIRST_SNAPSHOT_NS;
                    b.next_whole_ns = b.next_whole_ns.min(soon);
                }
            }
        }
        if let Some(id) = r.get("id") {
            replies.push(bitflyer::answer(id, ok));
        }
    }
    replies
}
