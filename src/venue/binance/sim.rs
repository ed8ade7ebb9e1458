//! Binance's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Binance;
use crate::instrument::{Market, Venue};
use crate::sim::market::{builtin, SyntheticConfig};
use crate::sim::SimVenue;

impl SimVenue for Binance {
    /// The default market(s): spot `BTCUSDT`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::binance_btcusdt(seed)]
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// Binance spot `BTCUSDT` around 65,000 USDT (0.01 ticks, 1e-5 lots), 100 ms cadence.
    pub fn binance_btcusdt(seed: u64) -> SyntheticConfig {
        let inst = builtin(Venue::Binance, Market::Spot, "BTCUSDT");
        SyntheticConfig {
            levels: 400,
            base_qty_lots: 20_000,
            ..SyntheticConfig::new(seed, inst, 6_500_000)
        }
    }
}
