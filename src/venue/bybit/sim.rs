//! Bybit's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bybit;
use crate::instrument::{Instrument, Market, Venue};
use crate::sim::market::{builtin, SyntheticConfig};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::SimVenue;

impl SimVenue for Bybit {
    /// The default market(s): linear and spot `BTCUSDT`.
    fn synthetic_markets(&self, seed: u64) -> Vec<SyntheticConfig> {
        vec![
            SyntheticConfig::bybit_btcusdt(seed, Market::Linear),
            SyntheticConfig::bybit_btcusdt(seed.wrapping_add(1), Market::Spot),
        ]
    }

    /// The private API of Bybit linear `BTCUSDT` (`super::sim_private`).
    fn private_instrument(&self) -> Option<(Market, &'static str)> {
        Some((Market::Linear, "BTCUSDT"))
    }

    fn private_api(
        &self,
        account: &AccountFile,
        inst: Instrument,
        scheme: &'static str,
    ) -> Result<Box<dyn PrivateApi>, String> {
        let _ = scheme;
        Ok(Box::new(super::sim_private::BybitPrivate::new(
            account, inst,
        )?))
    }
}

/// The venue's default synthetic market (`obi-scalp sim` without `--input`).
impl SyntheticConfig {
    /// Bybit `BTCUSDT` (linear or spot) around 65,000 USDT on the 100 ms L200 cadence, with
    /// 260 levels per side so the 200-level window always has levels entering and leaving.
    pub fn bybit_btcusdt(seed: u64, market: Market) -> SyntheticConfig {
        let inst = builtin(Venue::Bybit, market, "BTCUSDT");
        let (base, px_decimals) = match market {
            Market::Spot => (200_000, 0), // 0.2 BTC in 1e-6 lots; spot prints trimmed
            _ => (500, 2),                // 0.5 BTC in 1e-3 lots; linear prints 2 places
        };
        SyntheticConfig {
            levels: 260,
            base_qty_lots: base,
            wire_px_decimals: px_decimals,
            ..SyntheticConfig::new(seed, inst, 650_000)
        }
    }
}
