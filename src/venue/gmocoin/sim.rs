//! GmoCoin's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::GmoCoin;
use crate::instrument::{Instrument, Market};
use crate::sim::private::{AccountFile, PrivateApi};
use crate::sim::SimVenue;

impl SimVenue for GmoCoin {
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
