//! Coincheck's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Coincheck;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, Schedule, SyntheticConfig};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::SimVenue;

impl SimVenue for Coincheck {
    /// The default market(s): `btc_jpy`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::coincheck_btc_jpy(seed)]
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
