//! Bitflyer's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bitflyer;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::Route;
use crate::sim::SimVenue;

impl SimVenue for Bitflyer {
    /// The default market(s): `FX_BTC_JPY`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::bitflyer_fx_btc_jpy(seed)]
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
