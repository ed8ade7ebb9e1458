//! Coincheck's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Coincheck;
use crate::instrument::{Instrument, Market};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::SimVenue;

impl SimVenue for Coincheck {
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
