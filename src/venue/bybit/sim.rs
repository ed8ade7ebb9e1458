//! Bybit's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bybit;
use crate::instrument::{Instrument, Market};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::SimVenue;

impl SimVenue for Bybit {
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
