//! BinanceUsdm's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::BinanceUsdm;
use crate::instrument::{Market, Venue};
use crate::sim::market::{builtin, SyntheticConfig};
use crate::sim::SimVenue;

impl SimVenue for BinanceUsdm {
    /// The default market(s): `BTCUSDT` perpetual.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::binance_usdm_btcusdt(seed)]
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// Binance USD-M futures `BTCUSDT` around 65,000 USDT (0.10 ticks, 0.001 lots), 100 ms.
    pub fn binance_usdm_btcusdt(seed: u64) -> SyntheticConfig {
        let inst = builtin(Venue::BinanceUsdm, Market::Linear, "BTCUSDT");
        SyntheticConfig {
            levels: 400,
            base_qty_lots: 200,
            ..SyntheticConfig::new(seed, inst, 650_000)
        }
    }
}
