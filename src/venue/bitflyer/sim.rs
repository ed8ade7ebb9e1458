//! Bitflyer's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bitflyer;
use crate::sim::SimVenue;

impl SimVenue for Bitflyer {}
