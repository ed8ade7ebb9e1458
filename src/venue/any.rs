//! One decoder type for whichever venue the config names ([`AnyDecoder`], generated from the
//! venue table in `table.rs`), built through the venue's [`Connector`](super::Connector).

pub use super::table::AnyDecoder;
use super::BookRoutes;
use crate::config::Config;
use crate::instrument::{InstrumentTable, Market, Venue};

/// Timings the decoders take from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderSettings {
    pub max_silence_ns: u64,
    pub reseed_interval_ns: u64,
}

impl Default for DecoderSettings {
    fn default() -> Self {
        DecoderSettings {
            max_silence_ns: 10_000_000_000,
            reseed_interval_ns: 60_000_000_000,
        }
    }
}

impl DecoderSettings {
    pub fn from_config(c: &Config) -> DecoderSettings {
        DecoderSettings {
            max_silence_ns: c.market.max_silence_ns,
            reseed_interval_ns: c.market.reseed_interval_ns,
        }
    }
}

impl AnyDecoder {
    /// A decoder for `symbols` of `venue`/`market` (all known symbols when empty).
    pub fn new(
        venue: Venue,
        market: Market,
        table: InstrumentTable,
        symbols: &[&str],
        s: &DecoderSettings,
    ) -> Result<AnyDecoder, String> {
        let routes = BookRoutes::new(table, venue, market, symbols)?;
        let c = venue.require_connector("market-data decoder")?;
        Ok(c.decoder(routes, s))
    }

    /// The decoder of the config's instrument, with the config's timings: what `run`, `record`,
    /// `replay` and `bench-latency` all feed.
    pub fn for_config(cfg: &Config) -> Result<AnyDecoder, String> {
        let k = cfg.market.instrument.key;
        AnyDecoder::new(
            k.venue,
            k.market,
            cfg.instruments.clone(),
            &[k.symbol.as_str()],
            &DecoderSettings::from_config(cfg),
        )
    }
}
