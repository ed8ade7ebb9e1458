//! One decoder type for whichever venue the config names.

use super::binance::{BinanceConfig, BinanceDecoder};
use super::bybit::BybitDecoder;
use super::coincheck::{CoincheckConfig, CoincheckDecoder};
use super::{BookRoutes, Decoder, FeedCounters};
use crate::config::Config;
use crate::instrument::{InstrumentTable, Market, Venue};
use crate::msg::MdEvent;

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

/// A decoder of any supported venue (enum dispatch: no virtual calls on the hot path).
#[derive(Debug)]
pub enum AnyDecoder {
    Bybit(BybitDecoder),
    Binance(BinanceDecoder),
    Coincheck(CoincheckDecoder),
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
        Ok(match venue {
            Venue::Bybit => {
                let mut d = BybitDecoder::new(routes);
                d.max_silence_ns = s.max_silence_ns;
                AnyDecoder::Bybit(d)
            }
            Venue::Binance => AnyDecoder::Binance(BinanceDecoder::with_config(
                routes,
                BinanceConfig {
                    max_silence_ns: s.max_silence_ns,
                    ..BinanceConfig::default()
                },
            )),
            Venue::Coincheck => AnyDecoder::Coincheck(CoincheckDecoder::with_config(
                routes,
                CoincheckConfig {
                    max_silence_ns: s.max_silence_ns,
                    reseed_interval_ns: s.reseed_interval_ns,
                    ..CoincheckConfig::default()
                },
            )),
            other => {
                return Err(format!(
                    "no market-data decoder for {other} yet (supported: coincheck, bybit, binance)"
                ))
            }
        })
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

    /// For REST-seeded venues: the next book whose snapshot should be fetched, and its URL.
    pub fn take_snapshot_request(&mut self, rest_base: Option<&str>) -> Option<(usize, String)> {
        match self {
            AnyDecoder::Bybit(_) => None,
            AnyDecoder::Binance(d) => {
                let i = d.take_snapshot_request()?;
                let sym = d.routes().books.get(i)?.key.symbol;
                let url = match rest_base {
                    Some(b) => super::binance::snapshot_url_at(b, &sym, 1000),
                    None => super::binance::snapshot_url(&sym, 1000),
                };
                Some((i, url))
            }
            AnyDecoder::Coincheck(d) => {
                let i = d.take_snapshot_request()?;
                let sym = d.routes().books.get(i)?.key.symbol;
                let url = match rest_base {
                    Some(b) => super::coincheck::snapshot_url_at(b, &sym),
                    None => super::coincheck::snapshot_url(&sym),
                };
                Some((i, url))
            }
        }
    }
}

macro_rules! each {
    ($self:ident, $d:ident => $e:expr) => {
        match $self {
            AnyDecoder::Bybit($d) => $e,
            AnyDecoder::Binance($d) => $e,
            AnyDecoder::Coincheck($d) => $e,
        }
    };
}

impl Decoder for AnyDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        each!(self, d => d.on_frame(recv_ns, frame, out))
    }

    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        each!(self, d => d.on_rest(recv_ns, url, body, out))
    }

    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        each!(self, d => d.on_timer(now_ns, out))
    }

    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        each!(self, d => d.on_disconnect(now_ns, out))
    }

    fn counters(&self) -> &FeedCounters {
        each!(self, d => d.counters())
    }

    fn routes(&self) -> &BookRoutes {
        each!(self, d => d.routes())
    }

    fn take_resync_request(&mut self) -> bool {
        each!(self, d => d.take_resync_request())
    }

    fn take_snapshot_book(&mut self) -> Option<usize> {
        each!(self, d => d.take_snapshot_book())
    }
}
