//! BinanceUsdm's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::BinanceUsdm;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, SyntheticConfig};
use crate::sim::synthetic::SyntheticVenue;
use crate::sim::wire::LevelFmt;
use crate::sim::Route;
use crate::sim::SimVenue;

impl SimVenue for BinanceUsdm {
    /// The default market(s): `BTCUSDT` perpetual.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![SyntheticConfig::binance_usdm_btcusdt(seed)]
    }

    /// Binance's protocol with USD-M's ids and depth path: see
    /// [`BinanceSynthetic`](crate::venue::binance::sim::BinanceSynthetic).
    fn synthetic(&self) -> &'static dyn SyntheticVenue {
        &crate::venue::binance::sim::USDM_SYNTHETIC
    }

    /// As Binance spot's: raw streams (`/ws/<stream>`) and combined streams (`/stream`).
    fn route_of_path(&self, path: &str) -> Option<Route> {
        crate::venue::binance::sim::route_of_path(path)
    }

    /// The tick's and the lot's own places.
    fn level_fmt(&self, inst: &Instrument, px_decimals: u8) -> LevelFmt {
        let _ = px_decimals;
        LevelFmt::exact(inst)
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
