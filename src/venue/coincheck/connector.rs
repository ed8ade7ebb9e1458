//! Coincheck's [`Connector`]: one public WebSocket for every pair, books seeded (and
//! periodically re-seeded) from the REST order book, a protocol ping.

use super::{CoincheckConfig, CoincheckDecoder};
use crate::instrument::Venue;
use crate::net::Keepalive;
use crate::venue::{
    AnyDecoder, BookRoutes, Connector, DecoderSettings, LiveParams, LiveSpec, RestSnapshot,
};

/// The Coincheck public market-data API (spot).
#[derive(Debug, Clone, Copy, Default)]
pub struct Coincheck;

impl Connector for Coincheck {
    /// The simulator's side of this venue: see [`super::sim`].
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        Some(&Coincheck)
    }

    fn venue(&self) -> Venue {
        Venue::Coincheck
    }

    /// Subscribes `{pair}-orderbook` and `{pair}-trades`; a protocol ping every
    /// `ping_interval`. Diffs carry no sequence, so a silent connection may have lost updates:
    /// it is dropped after `max_silence` and the books are seeded again on the new one.
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String> {
        Ok(LiveSpec {
            ws_url: p.ws_url.to_string(),
            subscribe: subscribe_frames(p.symbol).to_vec(),
            keepalive: Keepalive::ProtocolPing {
                every: p.ping_interval,
            },
            resubscribe: Vec::new(),
            ws_silence: p.max_silence,
        })
    }

    /// `GET /api/order_books?pair={pair}` (no depth parameter).
    fn rest_snapshot(&self) -> Option<RestSnapshot> {
        Some(RestSnapshot {
            base: REST_BASE,
            depth: None,
        })
    }

    fn snapshot_url(&self, base: &str, symbol: &str) -> String {
        snapshot_url_at(base, symbol)
    }

    fn decoder(&self, routes: BookRoutes, s: &DecoderSettings) -> AnyDecoder {
        CoincheckDecoder::with_config(
            routes,
            CoincheckConfig {
                max_silence_ns: s.max_silence_ns,
                reseed_interval_ns: s.reseed_interval_ns,
                ..CoincheckConfig::default()
            },
        )
        .into()
    }

    /// See [`super::drill`].
    fn drill(&self, p: &crate::ops::drill::Params<'_>) -> Option<Vec<crate::ops::drill::Check>> {
        Some(super::drill::run(p))
    }

    /// No private stream in our Coincheck gateway: `live.private_ws_url` is not used.
    fn drill_endpoints(&self) -> Option<&'static [&'static str]> {
        Some(&["market.ws_url", "live.rest_url"])
    }

    /// The built-in synthetic market writes Coincheck's frames.
    fn builtin_synthetic(&self) -> bool {
        true
    }
}

/// Public WebSocket URL.
pub const WS_URL: &str = "wss://ws-api.coincheck.com/";
/// Public REST host.
pub const REST_BASE: &str = "https://coincheck.com";

/// The public WebSocket URL (one connection carries every pair).
pub fn ws_url() -> &'static str {
    WS_URL
}

/// REST order book URL of `pair` (`btc_jpy`).
pub fn snapshot_url(pair: &str) -> String {
    snapshot_url_at(REST_BASE, pair)
}

/// [`snapshot_url`] on another host (the local simulator).
pub fn snapshot_url_at(base: &str, pair: &str) -> String {
    format!(
        "{}/api/order_books?pair={}",
        base.trim_end_matches('/'),
        pair.to_ascii_lowercase()
    )
}

/// Subscribe frames for the order book and trades of `pair` (one channel per frame; Coincheck
/// sends no acknowledgement).
pub fn subscribe_frames(pair: &str) -> [String; 2] {
    let p = pair.to_ascii_lowercase();
    [
        format!(r#"{{"type":"subscribe","channel":"{p}-orderbook"}}"#),
        format!(r#"{{"type":"subscribe","channel":"{p}-trades"}}"#),
    ]
}
