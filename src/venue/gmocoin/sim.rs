//! GmoCoin's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::GmoCoin;
use super::sim_frames as gmocoin;
use crate::instrument::{Instrument, Market, Venue};
use crate::msg::Side;
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::synthetic::{not_found, param, SimBook, SynthState, SyntheticVenue, GMOCOIN_DEPTH};
use crate::sim::wire::unix_ms;
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::RestReply;
use crate::sim::Route;
use crate::sim::SimVenue;
use serde_json::Value;

impl SimVenue for GmoCoin {
    /// The default market(s): leverage `BTC_JPY`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::gmocoin_btc_jpy(seed)]
    }

    /// Its synthetic market's protocol: see the [`SyntheticVenue`] impl below.
    fn synthetic(&self) -> &'static dyn SyntheticVenue {
        &GmoCoin
    }

    /// `wss://api.coin.z.com/ws/public/v1`.
    fn route_of_path(&self, path: &str) -> Option<Route> {
        (path == routes::GMOCOIN).then_some(routes::GMOCOIN)
    }

    /// `"13660704"`, `"0.001"` (VENUES.md 1.4 probe frame).
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt {
        let _ = px_decimals;
        LevelFmt {
            px: NumStyle::Trim(0),
            qty: NumStyle::Trim(0),
            zero_qty: None,
            ..LevelFmt::exact(inst)
        }
    }

    /// The private API of GMO Coin leverage `BTC_JPY` (`super::sim_private`).
    fn private_instrument(&self) -> Option<(Market, &'static str)> {
        Some((Market::Linear, "BTC_JPY"))
    }

    fn private_api(
        &self,
        account: &AccountFile,
        inst: Instrument,
        scheme: &'static str,
    ) -> Result<Box<dyn PrivateApi>, String> {
        let _ = scheme;
        Ok(Box::new(super::sim_private::GmoPrivate::new(
            account, inst,
        )?))
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// GMO Coin `BTC_JPY` (leverage) around 13,660,000 JPY: 1 JPY ticks, 0.001 BTC lots, a
    /// book frame on a 500 ms grid (the probe saw ~505 ms), 0.01 BTC typical orders.
    pub fn gmocoin_btc_jpy(seed: u64) -> SyntheticConfig {
        let inst = builtin(Venue::GmoCoin, Market::Linear, "BTC_JPY");
        SyntheticConfig {
            levels: 120,
            schedule: Schedule::Grid {
                period_ns: 500_000_000,
            },
            base_qty_lots: 10,
            ..SyntheticConfig::new(seed, inst, 13_660_000)
        }
    }
}

/// GMO Coin's synthetic protocol (`/ws/public/v1`): every step that changed the book sends the
/// whole book's best [`GMOCOIN_DEPTH`] levels a side as one `orderbooks` frame; a subscribe is
/// answered with the current book at once, a bad one with `ERR-5106`; `trades` once some
/// client subscribed them. REST `/public/v1/orderbooks?symbol=..`.
impl SyntheticVenue for GmoCoin {
    fn route(&self, market: Market) -> Route {
        let _ = market;
        routes::GMOCOIN
    }

    fn on_step(&self, st: &mut SynthState, i: usize, out: &mut Vec<(Route, String)>) {
        let b = &mut st.books[i];
        let s = b.m.last_step();
        let ms = unix_ms(b.m.config().start_unix_ns + s.t_ns);
        let sym = b.m.instrument().key.symbol;
        if b.trades_on {
            for t in &s.trades {
                let mut f = String::with_capacity(160);
                gmocoin::trade(&mut f, &sym, &b.fmt, t, ms);
                out.push((b.route, f));
            }
        }
        if !s.changes.is_empty() {
            out.push((b.route, book_frame(b)));
        }
    }

    fn on_client_frame(&self, st: &mut SynthState, route: Route, frame: &str) -> Vec<String> {
        let _ = route;
        let Ok(v) = serde_json::from_str::<Value>(frame) else {
            return Vec::new();
        };
        client_frame(st, &v)
    }

    fn rest(&self, st: &SynthState, path: &str, query: &[(&str, &str)]) -> RestReply {
        rest_answer(st, path, query)
    }

    fn crossed_frame(&self, st: &mut SynthState) -> Option<(Route, String)> {
        let b = &st.books[0];
        let (ask, _) = b.m.best_ask()?;
        let bid = (ask + 1, b.m.config().base_qty_lots);
        let mut f = String::new();
        gmocoin::book(
            &mut f,
            b.symbol(),
            &b.fmt,
            unix_ms(b.unix_ns()),
            std::iter::once(bid).chain(b.m.levels(Side::Bid).take(GMOCOIN_DEPTH - 1)),
            b.m.levels(Side::Ask).take(GMOCOIN_DEPTH),
        );
        Some((b.route, f))
    }
}

/// GMO Coin: the `orderbooks` frame of the current book.
fn book_frame(b: &SimBook) -> String {
    let mut f = String::with_capacity(96 * GMOCOIN_DEPTH);
    gmocoin::book(
        &mut f,
        b.symbol(),
        &b.fmt,
        unix_ms(b.unix_ns()),
        b.m.levels(Side::Bid).take(GMOCOIN_DEPTH),
        b.m.levels(Side::Ask).take(GMOCOIN_DEPTH),
    );
    f
}

/// GMO Coin: `{"command":"subscribe"|"unsubscribe","channel":..,"symbol":..}`.
fn client_frame(st: &mut SynthState, v: &Value) -> Vec<String> {
    let command = v.get("command").and_then(Value::as_str).unwrap_or("");
    let channel = v.get("channel").and_then(Value::as_str).unwrap_or("");
    let symbol = v.get("symbol").and_then(Value::as_str).unwrap_or("");
    let Some(i) = st.books.iter().position(|b| b.symbol() == symbol) else {
        return vec![gmocoin::BAD_SYMBOL.to_string()];
    };
    match (command, channel) {
        ("subscribe", "orderbooks") => vec![book_frame(&st.books[i])],
        ("subscribe", "trades") => {
            st.books[i].trades_on = true;
            Vec::new()
        }
        ("unsubscribe", _) => Vec::new(),
        _ => vec![r#"{"error":"ERR-5106 Invalid request parameter. channel"}"#.to_string()],
    }
}

fn rest_answer(st: &SynthState, path: &str, query: &[(&str, &str)]) -> RestReply {
    if path != "/public/v1/orderbooks" {
        return not_found(path);
    }
    let symbol = param(query, "symbol").unwrap_or("");
    let Some(b) = st.books.iter().find(|b| b.symbol() == symbol) else {
        return RestReply {
            status: 400,
            body: r#"{"status":1,"messages":[{"message_code":"ERR-5106","message_string":"Invalid request parameter."}],"responsetime":"2026-08-01T00:00:00.000Z"}"#.to_string(),
        };
    };
    let mut body = String::with_capacity(64 * st.rest_depth);
    gmocoin::rest_orderbooks(
        &mut body,
        b.symbol(),
        &b.fmt,
        unix_ms(b.unix_ns()),
        b.m.levels(Side::Bid).take(st.rest_depth),
        b.m.levels(Side::Ask).take(st.rest_depth),
    );
    RestReply { status: 200, body }
}
