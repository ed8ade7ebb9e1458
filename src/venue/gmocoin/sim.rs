//! GmoCoin's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::GmoCoin;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::SimVenue;

impl SimVenue for GmoCoin {
    /// The default market(s): leverage `BTC_JPY`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::gmocoin_btc_jpy(seed)]
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
