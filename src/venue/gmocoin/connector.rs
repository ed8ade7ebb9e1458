//! GMO Coin's [`Connector`]: the public WebSocket `wss://api.coin.z.com/ws/public/v1`, every
//! `orderbooks` frame a full book (no REST seeding needed); the server pings, the client only
//! answers.

use super::{subscribe_frame, GmoCoinConfig, GmoCoinDecoder};
use crate::instrument::Venue;
use crate::net::Keepalive;
use crate::venue::{AnyDecoder, BookRoutes, Connector, DecoderSettings, LiveParams, LiveSpec};

/// The GMO Coin public market-data API (`BTC` is the spot book, `BTC_JPY` the leverage book,
/// the linear market of the instrument table).
#[derive(Debug, Clone, Copy, Default)]
pub struct GmoCoin;

impl Connector for GmoCoin {
    /// The simulator's side of this venue: see [`super::sim`].
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        Some(&GmoCoin)
    }

    fn venue(&self) -> Venue {
        Venue::GmoCoin
    }

    /// Subscribes `orderbooks` of the symbol. Only that channel: the venue takes one
    /// subscribe per second per IP (more is `ERR-5003`), and the client sends its subscribe
    /// frames together right after the handshake, so `trades` (which the decoder reads) is
    /// left to recordings. Every frame is a full book, so a resync needs nothing sent: the
    /// next frame (at most ~5.2 s away, the heartbeat repeat) repairs the book; the socket is
    /// dropped after `max_silence`.
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String> {
        Ok(LiveSpec {
            ws_url: p.ws_url.to_string(),
            subscribe: vec![subscribe_frame("orderbooks", p.symbol)],
            keepalive: Keepalive::None,
            resubscribe: Vec::new(),
            ws_silence: p.max_silence,
        })
    }

    fn decoder(&self, routes: BookRoutes, s: &DecoderSettings) -> AnyDecoder {
        GmoCoinDecoder::with_config(
            routes,
            GmoCoinConfig {
                max_silence_ns: s.max_silence_ns,
            },
        )
        .into()
    }

    /// See [`super::drill`].
    fn drill(&self, p: &crate::ops::drill::Params<'_>) -> Option<Vec<crate::ops::drill::Check>> {
        Some(super::drill::run(p))
    }

    /// The public stream, the REST base and the private stream.
    fn drill_endpoints(&self) -> Option<&'static [&'static str]> {
        Some(&crate::venue::drill::ALL_ENDPOINTS)
    }

    /// `verify-book`: see [`super::top`].
    fn top_of_book(&self, frame: &[u8], out: &mut Vec<crate::venue::TopItem>) {
        super::top::read(frame, out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::WS_URL;
    use super::*;
    use crate::instrument::Market;
    use std::time::Duration;

    #[test]
    fn live_spec_subscribes_the_order_book() {
        let p = LiveParams {
            ws_url: WS_URL,
            ws_path: "/ws/public/v1",
            market: Market::Linear,
            symbol: "BTC_JPY",
            stream_depth: 0,
            ping_interval: Duration::from_secs(20),
            max_silence: Duration::from_secs(15),
        };
        let s = GmoCoin.live(&p).unwrap();
        assert_eq!(s.ws_url, WS_URL);
        assert_eq!(
            s.subscribe,
            vec![r#"{"command":"subscribe","channel":"orderbooks","symbol":"BTC_JPY"}"#]
        );
        assert_eq!(s.keepalive, Keepalive::None);
        assert!(s.resubscribe.is_empty());
        assert_eq!(s.ws_silence, Duration::from_secs(15));
        assert_eq!(GmoCoin.default_market(), Market::Spot);
    }
}
