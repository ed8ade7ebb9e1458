//! Coincheck's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Coincheck;
use crate::instrument::{Instrument, Market, Venue};
use crate::msg::Side;
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::recording::{levels_of, BookUpdate, RecBook, Recorded, RecordedVenue};
use crate::sim::synthetic::{not_found, param, SynthState, SyntheticVenue};
use crate::sim::wire::coincheck;
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::RestReply;
use crate::sim::Route;
use crate::sim::SimVenue;
use serde_json::Value;

impl SimVenue for Coincheck {
    /// Its recordings replay: see the [`RecordedVenue`] impl below.
    fn recording(&self) -> Option<&'static dyn RecordedVenue> {
        Some(&Coincheck)
    }

    /// The default market(s): `btc_jpy`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::coincheck_btc_jpy(seed)]
    }

    /// Its synthetic market's protocol: see the [`SyntheticVenue`] impl below.
    fn synthetic(&self) -> &'static dyn SyntheticVenue {
        &Coincheck
    }

    /// `wss://ws-api.coincheck.com/`: the root.
    fn route_of_path(&self, path: &str) -> Option<Route> {
        (path == "/" || path.is_empty()).then_some(routes::COINCHECK)
    }

    /// Trimmed with one place kept (`"6288279.0"`), deletions `"0"`.
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt {
        let _ = px_decimals;
        LevelFmt {
            px: NumStyle::Trim(1),
            qty: NumStyle::Trim(1),
            zero_qty: Some("0"),
            ..LevelFmt::exact(inst)
        }
    }

    /// The private API of Coincheck spot `btc_jpy` (`super::sim_private`).
    fn private_instrument(&self) -> Option<(Market, &'static str)> {
        Some((Market::Spot, "btc_jpy"))
    }

    fn private_api(
        &self,
        account: &AccountFile,
        inst: Instrument,
        scheme: &'static str,
    ) -> Result<Box<dyn PrivateApi>, String> {
        Ok(Box::new(super::sim_private::CoincheckPrivate::new(
            account, inst, scheme,
        )?))
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// Coincheck `btc_jpy` around 15,000,000 JPY: 1 JPY ticks, 1e-8 BTC lots, ~365 ms median
    /// between diffs, 0.05 BTC typical orders, 200 levels per side.
    pub fn coincheck_btc_jpy(seed: u64) -> SyntheticConfig {
        let inst = builtin(Venue::Coincheck, Market::Spot, "btc_jpy");
        SyntheticConfig {
            levels: 200,
            schedule: Schedule::Random {
                median_ns: 365_000_000,
            },
            base_qty_lots: 5_000_000,
            events_per_step: 3,
            ..SyntheticConfig::new(seed, inst, 15_000_000)
        }
    }
}

/// Replaying Coincheck recordings: `["btc_jpy",{"bids":..,"asks":..}]` diffs keep the book
/// (synced from the first), trades pass through; nothing is acknowledged.
impl RecordedVenue for Coincheck {
    fn exchange(&self) -> &'static str {
        "COINCHECK"
    }

    fn classify(&self, route: Route, v: &Value, topics: &mut Vec<(Route, String)>) -> Recorded {
        let _ = (route, topics);
        let Some(a) = v.as_array() else {
            return Recorded::Pass;
        };
        let (Some(pair), Some(body)) = (a.first().and_then(Value::as_str), a.get(1)) else {
            return Recorded::Pass;
        };
        if !body.is_object() {
            return Recorded::Pass;
        }
        Recorded::Book {
            symbol: pair.to_string(),
            topic: pair.to_string(),
            update: BookUpdate {
                bids: levels_of(body.get("bids")).unwrap_or_default(),
                asks: levels_of(body.get("asks")).unwrap_or_default(),
                ..BookUpdate::default()
            },
        }
    }

    fn apply(&self, b: &mut RecBook, a: &BookUpdate) -> bool {
        let _ = a;
        b.synced = true;
        true
    }

    fn crossed_frame(&self, b: &RecBook, level: &str) -> String {
        format!(
            "[\"{}\",{{\"bids\":{level},\"asks\":[],\"last_update_at\":\"0\"}}]",
            b.symbol
        )
    }
}

/// Coincheck's synthetic protocol (`/`): a trades frame (when a step traded) then a book diff
/// per step; no acks, no sequence numbers; REST `/api/order_books?pair=..` answers the best
/// `rest_depth` levels.
impl SyntheticVenue for Coincheck {
    fn route(&self, market: Market) -> Route {
        let _ = market;
        routes::COINCHECK
    }

    fn on_step(&self, st: &mut SynthState, i: usize, out: &mut Vec<(Route, String)>) {
        let b = &mut st.books[i];
        let s = b.m.last_step();
        let unix = b.m.config().start_unix_ns + s.t_ns;
        let pair = b.m.instrument().key.symbol;
        if !s.trades.is_empty() {
            let mut f = String::with_capacity(128 * s.trades.len());
            coincheck::trades(&mut f, &pair, &b.fmt, &s.trades, unix);
            out.push((b.route, f));
        }
        if !s.changes.is_empty() {
            let mut f = String::with_capacity(64 + 40 * s.changes.len());
            coincheck::diff(&mut f, &pair, &b.fmt, &s.changes, unix);
            out.push((b.route, f));
        }
    }

    /// Coincheck acknowledges nothing.
    fn on_client_frame(&self, st: &mut SynthState, route: Route, frame: &str) -> Vec<String> {
        let _ = (st, route, frame);
        Vec::new()
    }

    fn rest(&self, st: &SynthState, path: &str, query: &[(&str, &str)]) -> RestReply {
        rest_answer(st, path, query)
    }

    fn crossed_frame(&self, st: &mut SynthState) -> Option<(Route, String)> {
        let b = &st.books[0];
        let (ask, _) = b.m.best_ask()?;
        let bid = [(ask + 1, b.m.config().base_qty_lots)];
        let mut f = String::new();
        let pair = b.m.instrument().key.symbol;
        coincheck::diff_levels(&mut f, &pair, &b.fmt, &bid, &[], b.unix_ns());
        Some((b.route, f))
    }
}

fn rest_answer(st: &SynthState, path: &str, query: &[(&str, &str)]) -> RestReply {
    if path != "/api/order_books" {
        return not_found(path);
    }
    let pair = param(query, "pair").unwrap_or("btc_jpy");
    let Some(i) = st.books.iter().position(|b| b.symbol() == pair) else {
        return RestReply {
            status: 400,
            body: format!(
                "{{\"success\":false,\"error\":{}}}",
                Value::from(format!("invalid pair: {pair}"))
            ),
        };
    };
    let b = &st.books[i];
    let mut body = String::with_capacity(64 * st.rest_depth);
    coincheck::order_books(
        &mut body,
        &b.fmt,
        b.m.levels(Side::Bid),
        b.m.levels(Side::Ask),
        st.rest_depth,
    );
    RestReply { status: 200, body }
}
