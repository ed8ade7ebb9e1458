//! Placeholder so the server branch compiles: the simulator's market (synthetic and recorded
//! feeds) is written on another branch, whose `market.rs` replaces this file at merge.

use std::path::Path;

use crate::instrument::Venue;

use super::SimFeed;

/// Builds the feed for `venue`: a recording when `input` is given, else the synthetic market.
pub fn feed_for(
    venue: Venue,
    input: Option<&Path>,
    seed: Option<u64>,
) -> Result<Box<dyn SimFeed>, String> {
    let _ = (input, seed);
    Err(format!("the simulator market for {venue} is not built yet"))
}
