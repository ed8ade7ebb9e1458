//! BinanceUsdm's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::BinanceUsdm;
use crate::sim::SimVenue;

impl SimVenue for BinanceUsdm {}
