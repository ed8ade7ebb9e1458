//! Bitbank's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bitbank;
use super::sim_frames as bitbank;
use crate::instrument::{Instrument, Market, Venue};
use crate::msg::Side;
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::synthetic::{
    SimBook, SynthState, SyntheticVenue, BITBANK_PING_NS, BITBANK_WHOLE_NS,
};
use crate::sim::wire::unix_ms;
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::RestReply;
use crate::sim::Route;
use crate::sim::SimVenue;
use serde_json::Value;

impl SimVenue for Bitbank {
    /// The default market(s): `btc_jpy`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::bitbank_btc_jpy(seed)]
    }

    /// Its synthetic market's protocol: see the [`SyntheticVenue`] impl below.
    fn synthetic(&self) -> &'static dyn SyntheticVenue {
        &Bitbank
    }

    /// `wss://stream.bitbank.cc/socket.io/?EIO=4&transport=websocket` (with or without the
    /// trailing `/`).
    fn route_of_path(&self, path: &str) -> Option<Route> {
        (path == routes::BITBANK || path == "/socket.io").then_some(routes::BITBANK)
    }

    /// `"13642554"`, `"0.0006"`, `"20000.0000"`, deletions `"0"` (VENUES.md 1.5).
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt {
        let _ = px_decimals;
        LevelFmt {
            px: NumStyle::Trim(0),
            qty: NumStyle::Exact,
            zero_qty: Some("0"),
            ..LevelFmt::exact(inst)
        }
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// bitbank `btc_jpy` around 13,640,000 JPY: 1 JPY ticks, 0.0001 BTC lots, ~350 ms median
    /// between diffs (the probe's), 0.01 BTC typical orders, 200 levels per side.
    pub fn bitbank_btc_jpy(seed: u64) -> SyntheticConfig {
        let inst = builtin(Venue::Bitbank, Market::Spot, "btc_jpy");
        SyntheticConfig {
            levels: 200,
            schedule: Schedule::Random {
                median_ns: 350_000_000,
            },
            base_qty_lots: 100,
            events_per_step: 4,
            ..SyntheticConfig::new(seed, inst, 13_640_000)
        }
    }
}

/// bitbank's synthetic protocol (`/socket.io/`): the Engine.IO open packet on connect, `40`
/// answered, a `join-room` of `depth_whole_{pair}` answered with a whole of the full book;
/// per step a `depth_diff`, a whole every [`BITBANK_WHOLE_NS`] and a `2` ping every
/// [`BITBANK_PING_NS`] of feed time; `transactions` per step that traded. REST `/{pair}/depth`.
impl SyntheticVenue for Bitbank {
    fn route(&self, market: Market) -> Route {
        let _ = market;
        routes::BITBANK
    }

    fn init_book(&self, b: &mut SimBook) {
        b.next_whole_ns = BITBANK_WHOLE_NS;
        b.next_ping_ns = BITBANK_PING_NS;
    }

    fn on_step(&self, st: &mut SynthState, i: usize, out: &mut Vec<(Route, String)>) {
        let b = &mut st.books[i];
        let s = b.m.last_step();
        let t_ns = s.t_ns;
        let ms = unix_ms(b.m.config().start_unix_ns + t_ns);
        let pair = b.m.instrument().key.symbol;
        if !s.trades.is_empty() {
            let mut f = String::with_capacity(160 * s.trades.len());
            bitbank::transactions(&mut f, &pair, &b.fmt, &s.trades, ms);
            out.push((b.route, f));
        }
        if !s.changes.is_empty() {
            // One counter shared by every pair at the venue: steps of 1 to 5 here.
            b.last_id += 1 + s.step % 5;
            let changes = &s.changes;
            let mut f = String::with_capacity(160 + 40 * changes.len());
            bitbank::diff(
                &mut f,
                &pair,
                &b.fmt,
                ms,
                b.last_id,
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
        if t_ns >= b.next_whole_ns {
            b.next_whole_ns = t_ns + BITBANK_WHOLE_NS;
            out.push((b.route, whole_frame(b)));
        }
        if t_ns >= b.next_ping_ns {
            b.next_ping_ns = t_ns + BITBANK_PING_NS;
            out.push((b.route, bitbank::PING.to_string()));
        }
    }

    fn on_connect(&self, st: &mut SynthState, route: Route) -> Vec<String> {
        if route != routes::BITBANK {
            return Vec::new();
        }
        st.conns += 1;
        vec![bitbank::open(st.conns)]
    }

    fn on_client_frame(&self, st: &mut SynthState, route: Route, frame: &str) -> Vec<String> {
        let _ = route;
        client_frame(st, frame)
    }

    fn rest(&self, st: &SynthState, path: &str, query: &[(&str, &str)]) -> RestReply {
        let _ = query;
        rest_answer(st, path)
    }

    fn crossed_frame(&self, st: &mut SynthState) -> Option<(Route, String)> {
        let b = &mut st.books[0];
        let (ask, _) = b.m.best_ask()?;
        b.last_id += 1;
        let mut f = String::new();
        let pair = b.m.instrument().key.symbol;
        bitbank::diff(
            &mut f,
            &pair,
            &b.fmt,
            unix_ms(b.unix_ns()),
            b.last_id,
            [(ask + 1, b.m.config().base_qty_lots)].into_iter(),
            [].into_iter(),
        );
        Some((b.route, f))
    }
}

/// bitbank: a `depth_whole` of the full book at the last `s` sent.
fn whole_frame(b: &SimBook) -> String {
    let mut f = String::with_capacity(64 * b.m.config().levels * 2 + 256);
    bitbank::whole(
        &mut f,
        b.symbol(),
        &b.fmt,
        unix_ms(b.unix_ns()),
        b.last_id,
        b.m.levels(Side::Bid),
        b.m.levels(Side::Ask),
    );
    f
}

/// bitbank: `40` (namespace), `42["join-room",ROOM]`, `3` (pong).
fn client_frame(st: &mut SynthState, frame: &str) -> Vec<String> {
    if frame == "40" {
        return vec![bitbank::connected(st.conns)];
    }
    let Some(json) = frame.strip_prefix("42") else {
        return Vec::new();
    };
    let Ok(Value::Array(a)) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    if a.first().and_then(Value::as_str) != Some("join-room") {
        return Vec::new();
    }
    let room = a.get(1).and_then(Value::as_str).unwrap_or("");
    match room.strip_prefix("depth_whole_") {
        Some(pair) => st
            .books
            .iter()
            .find(|b| b.symbol() == pair)
            .map(|b| vec![whole_frame(b)])
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

fn rest_answer(st: &SynthState, path: &str) -> RestReply {
    let pair = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/depth"))
        .unwrap_or("");
    let Some(b) = st.books.iter().find(|b| b.symbol() == pair) else {
        return RestReply {
            status: 404,
            body: r#"{"success":0,"data":{"code":10000}}"#.to_string(),
        };
    };
    let mut body = String::with_capacity(64 * b.m.config().levels * 2);
    bitbank::rest_depth(
        &mut body,
        &b.fmt,
        unix_ms(b.unix_ns()),
        b.last_id,
        b.m.levels(Side::Bid),
        b.m.levels(Side::Ask),
    );
    RestReply { status: 200, body }
}
