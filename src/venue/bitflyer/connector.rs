//! bitFlyer Lightning's [`Connector`]: one JSON-RPC WebSocket carrying every product; each book
//! is a periodic full snapshot (`lightning_board_snapshot_*`, ~5 s) plus unsequenced diffs
//! (`lightning_board_*`); the server pings, the client only answers.

use super::{subscribe_frames, BitflyerConfig, BitflyerDecoder};
use crate::instrument::{Market, Venue};
use crate::net::Keepalive;
use crate::venue::{AnyDecoder, BookRoutes, Connector, DecoderSettings, LiveParams, LiveSpec};

/// The bitFlyer Lightning public market-data API (`FX_BTC_JPY` is the linear market,
/// `BTC_JPY` spot).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bitflyer;

impl Connector for Bitflyer {
    /// The simulator's side of this venue: see [`super::sim`].
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        Some(&Bitflyer)
    }

    fn venue(&self) -> Venue {
        Venue::Bitflyer
    }

    /// `FX_BTC_JPY`, the product the seeds traded, is the linear market.
    fn default_market(&self) -> Market {
        Market::Linear
    }

    /// Subscribes the board snapshots, board diffs and executions of the product; nothing to
    /// send to keep the socket alive (the server pings every ~15 s, the client answers). When
    /// the sync rules ask for a resync (no snapshot for too long), the snapshot channel is
    /// subscribed again; the socket is dropped after `max_silence`.
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String> {
        let [snap, diffs, execs] = subscribe_frames(p.symbol, 1);
        let again = format!(
            r#"{{"jsonrpc":"2.0","method":"unsubscribe","params":{{"channel":"lightning_board_snapshot_{}"}},"id":10}}"#,
            p.symbol
        );
        let resub = subscribe_frames(p.symbol, 11)[0].clone();
        Ok(LiveSpec {
            ws_url: p.ws_url.to_string(),
            subscribe: vec![snap, diffs, execs],
            keepalive: Keepalive::None,
            resubscribe: vec![again, resub],
            ws_silence: p.max_silence,
        })
    }

    fn decoder(&self, routes: BookRoutes, s: &DecoderSettings) -> AnyDecoder {
        BitflyerDecoder::with_config(
            routes,
            BitflyerConfig {
                max_silence_ns: s.max_silence_ns,
                ..BitflyerConfig::default()
            },
        )
        .into()
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
    use std::time::Duration;

    #[test]
    fn live_spec_subscribes_the_three_channels_and_resubscribes_the_snapshots() {
        let p = LiveParams {
            ws_url: WS_URL,
            ws_path: "/json-rpc",
            market: Market::Linear,
            symbol: "FX_BTC_JPY",
            stream_depth: 0,
            ping_interval: Duration::from_secs(20),
            max_silence: Duration::from_secs(5),
        };
        let s = Bitflyer.live(&p).unwrap();
        assert_eq!(s.ws_url, WS_URL);
        assert_eq!(s.subscribe.len(), 3);
        assert!(s.subscribe[0].contains(r#""channel":"lightning_board_snapshot_FX_BTC_JPY""#));
        assert!(s.subscribe[1].contains(r#""channel":"lightning_board_FX_BTC_JPY""#));
        assert!(s.subscribe[2].contains(r#""channel":"lightning_executions_FX_BTC_JPY""#));
        assert_eq!(s.keepalive, Keepalive::None);
        assert!(s.resubscribe[0].contains(r#""method":"unsubscribe""#));
        assert!(s.resubscribe[1].contains("lightning_board_snapshot_FX_BTC_JPY"));
        assert_eq!(s.ws_silence, Duration::from_secs(5));
        assert_eq!(Bitflyer.default_market(), Market::Linear);
    }
}
