//! Bitbank's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bitbank;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::Route;
use crate::sim::SimVenue;

impl SimVenue for Bitbank {
    /// The default market(s): `btc_jpy`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::bitbank_btc_jpy(seed)]
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
