//! GmoCoin's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::GmoCoin;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::wire::{routes, LevelFmt, NumStyle};
use crate::sim::Route;
use crate::sim::SimVenue;

impl SimVenue for GmoCoin {
    /// The default market(s): leverage `BTC_JPY`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::gmocoin_btc_jpy(seed)]
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
