//! bitbank's [`Connector`]: Socket.IO 4 over `wss://stream.bitbank.cc/socket.io/?EIO=4&transport=websocket`.
//! The client opens the default namespace (`40`); once the server answers it (`40{"sid":..}`)
//! the decoder asks for the rooms to be joined (the resubscribe frames:
//! `42["join-room","depth_diff_{pair}"]`, `depth_whole_{pair}`, `transactions_{pair}`), as the
//! docs' wscat sample does, so no join is sent before the namespace is open. The server pings
//! with `2` every 25 s and closes a client that does not answer `3`.

use super::{join_frames, BitbankConfig, BitbankDecoder};
use crate::instrument::Venue;
use crate::net::Keepalive;
use crate::venue::{AnyDecoder, BookRoutes, Connector, DecoderSettings, LiveParams, LiveSpec};

/// The bitbank public stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bitbank;

impl Connector for Bitbank {
    /// The simulator's side of this venue: see [`super::sim`].
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        Some(&Bitbank)
    }

    fn venue(&self) -> Venue {
        Venue::Bitbank
    }

    /// Sends `40` after the handshake, answers the server's `2` with `3`, joins the pair's
    /// rooms when the decoder asks (the namespace answer, and no whole for too long); the
    /// socket is dropped after `max_silence`.
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String> {
        Ok(LiveSpec {
            ws_url: p.ws_url.to_string(),
            subscribe: vec!["40".to_string()],
            keepalive: Keepalive::Answer {
                ping: "2".into(),
                pong: "3".into(),
            },
            resubscribe: join_frames(p.symbol).to_vec(),
            ws_silence: p.max_silence,
        })
    }

    fn decoder(&self, routes: BookRoutes, s: &DecoderSettings) -> AnyDecoder {
        BitbankDecoder::with_config(
            routes,
            BitbankConfig {
                max_silence_ns: s.max_silence_ns,
                ..BitbankConfig::default()
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
    use crate::instrument::Market;
    use std::time::Duration;

    #[test]
    fn live_spec_opens_the_namespace_answers_pings_and_joins_on_request() {
        let p = LiveParams {
            ws_url: WS_URL,
            ws_path: "/socket.io/?EIO=4&transport=websocket",
            market: Market::Spot,
            symbol: "btc_jpy",
            stream_depth: 0,
            ping_interval: Duration::from_secs(20),
            max_silence: Duration::from_secs(5),
        };
        let s = Bitbank.live(&p).unwrap();
        assert_eq!(s.ws_url, WS_URL);
        assert_eq!(s.subscribe, vec!["40"]);
        assert_eq!(
            s.keepalive,
            Keepalive::Answer {
                ping: "2".into(),
                pong: "3".into()
            }
        );
        assert_eq!(
            s.resubscribe,
            vec![
                r#"42["join-room","depth_diff_btc_jpy"]"#,
                r#"42["join-room","depth_whole_btc_jpy"]"#,
                r#"42["join-room","transactions_btc_jpy"]"#,
            ]
        );
    }
}
