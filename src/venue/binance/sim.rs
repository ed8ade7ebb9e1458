//! Binance's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Binance;
use crate::sim::SimVenue;

impl SimVenue for Binance {}
