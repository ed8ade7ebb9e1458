//! Binance USDⓈ-M futures' [`Connector`]: combined streams on `wss://fstream.binance.com`
//! (`/stream?streams=<symbol>@depth@100ms/<symbol>@aggTrade`), books seeded from
//! `GET /fapi/v1/depth?symbol=..&limit=1000`; the client answers the server's pings.

use super::{snapshot_url_at, BinanceUsdmDecoder, REST_BASE};
use crate::instrument::{Market, Venue};
use crate::venue::binance::{self, BinanceConfig};
use crate::venue::{
    AnyDecoder, BookRoutes, Connector, DecoderSettings, LiveParams, LiveSpec, RestSnapshot,
};

/// Levels per side of the REST depth snapshot (`limit=1000`, the futures maximum).
pub const SNAPSHOT_DEPTH: u32 = 1000;

/// The Binance USDⓈ-M futures public market-data API (the linear market).
#[derive(Debug, Clone, Copy, Default)]
pub struct BinanceUsdm;

impl Connector for BinanceUsdm {
    /// The simulator's side of this venue: see [`super::sim`].
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        Some(&BinanceUsdm)
    }

    fn venue(&self) -> Venue {
        Venue::BinanceUsdm
    }

    fn default_market(&self) -> Market {
        Market::Linear
    }

    /// As Binance spot: a bare host gets the combined-stream URL naming the depth and trade
    /// streams, a URL naming its streams is used as is, a bare `/ws` or `/stream` gets a
    /// SUBSCRIBE frame.
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String> {
        binance::Binance.live(p)
    }

    /// `GET /fapi/v1/depth?symbol={SYMBOL}&limit=1000`.
    fn rest_snapshot(&self) -> Option<RestSnapshot> {
        Some(RestSnapshot {
            base: REST_BASE,
            depth: Some(SNAPSHOT_DEPTH),
        })
    }

    fn snapshot_url(&self, base: &str, symbol: &str) -> String {
        snapshot_url_at(base, symbol, SNAPSHOT_DEPTH)
    }

    fn decoder(&self, routes: BookRoutes, s: &DecoderSettings) -> AnyDecoder {
        BinanceUsdmDecoder::with_config(
            routes,
            BinanceConfig {
                max_silence_ns: s.max_silence_ns,
                ..BinanceConfig::default()
            },
        )
        .into()
    }

    /// `verify-book`: futures `bookTicker` has spot's fields (`u`, `b`, `a`).
    fn top_of_book(&self, frame: &[u8], out: &mut Vec<crate::venue::TopItem>) {
        binance::top::read(frame, out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::WS_BASE;
    use super::*;
    use std::time::Duration;

    #[test]
    fn live_spec_and_snapshot_url_are_the_futures_hosts() {
        let p = LiveParams {
            ws_url: WS_BASE,
            ws_path: "/",
            market: Market::Linear,
            symbol: "BTCUSDT",
            stream_depth: 0,
            ping_interval: Duration::from_secs(20),
            max_silence: Duration::from_secs(5),
        };
        let s = BinanceUsdm.live(&p).unwrap();
        assert_eq!(
            s.ws_url,
            "wss://fstream.binance.com/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade"
        );
        assert!(s.subscribe.is_empty());
        assert_eq!(
            BinanceUsdm.snapshot_url("https://fapi.binance.com", "btcusdt"),
            "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
        );
        assert_eq!(BinanceUsdm.default_market(), Market::Linear);
    }
}
