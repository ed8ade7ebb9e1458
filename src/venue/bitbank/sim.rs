//! Bitbank's part of the simulator (`obi-scalp sim`): its [`SimVenue`].

use super::connector::Bitbank;
use crate::sim::SimVenue;

impl SimVenue for Bitbank {}
