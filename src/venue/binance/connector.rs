//! Binance's [`Connector`]: spot combined streams (or raw `/ws` streams), books seeded from
//! the REST depth snapshot; the client answers the server's pings (no keepalive of ours).

use super::{BinanceConfig, BinanceDecoder};
use crate::instrument::Venue;
use crate::net::Keepalive;
use crate::venue::{
    AnyDecoder, BookRoutes, Connector, DecoderSettings, LiveParams, LiveSpec, RestSnapshot,
};

/// Levels per side of the REST depth snapshot (`limit=1000`: weight 50).
pub const SNAPSHOT_DEPTH: u32 = 1000;

/// The Binance spot public market-data API.
#[derive(Debug, Clone, Copy, Default)]
pub struct Binance;

impl Connector for Binance {
    /// The simulator's side of this venue: see [`super::sim`].
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        Some(&Binance)
    }

    /// `verify-book`: see [`super::top`].
    fn top_of_book(&self, frame: &[u8], out: &mut Vec<crate::venue::TopItem>) {
        super::top::read(frame, out);
    }

    fn venue(&self) -> Venue {
        Venue::Binance
    }

    /// A bare host gets the combined-stream URL naming `<symbol>@depth@100ms` and
    /// `<symbol>@aggTrade`; a URL that names its streams is used as is; a bare `/ws` or
    /// `/stream` endpoint gets a SUBSCRIBE frame. The socket is dropped after twice
    /// `max_silence` (a stall ends in a detectable id gap anyway).
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String> {
        let sym = p.symbol;
        let path = p.ws_path.split('?').next().unwrap_or("");
        let named = p.ws_path.contains('?') || path.starts_with("/ws/");
        let (ws_url, subscribe) = if path.is_empty() || path == "/" {
            (ws_url_at(p.ws_url, &[sym]), Vec::new())
        } else if named {
            (p.ws_url.to_string(), Vec::new())
        } else {
            (p.ws_url.to_string(), vec![subscribe_frame(&[sym], 1)])
        };
        Ok(LiveSpec {
            ws_url,
            subscribe,
            keepalive: Keepalive::None,
            resubscribe: Vec::new(),
            ws_silence: p.max_silence * 2,
        })
    }

    /// `GET /api/v3/depth?symbol={SYMBOL}&limit=1000`.
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
        BinanceDecoder::with_config(
            routes,
            BinanceConfig {
                max_silence_ns: s.max_silence_ns,
                ..BinanceConfig::default()
            },
        )
        .into()
    }
}

/// Public WebSocket host.
pub const WS_BASE: &str = "wss://stream.binance.com:9443";
/// Public REST host.
pub const REST_BASE: &str = "https://api.binance.com";

/// Combined-stream URL for the depth diffs (100 ms) and aggregate trades of `symbols`.
pub fn ws_url(symbols: &[&str]) -> String {
    ws_url_at(WS_BASE, symbols)
}

/// [`ws_url`] on another host (the local simulator).
pub fn ws_url_at(base: &str, symbols: &[&str]) -> String {
    let streams: Vec<String> = symbols
        .iter()
        .flat_map(|s| {
            let s = s.to_ascii_lowercase();
            [format!("{s}@depth@100ms"), format!("{s}@aggTrade")]
        })
        .collect();
    format!(
        "{}/stream?streams={}",
        base.trim_end_matches('/'),
        streams.join("/")
    )
}

/// REST depth snapshot URL (`limit` up to 5000; weight 5 up to 100, 25 up to 500, 50 up to
/// 1000, 250 above).
pub fn snapshot_url(symbol: &str, limit: u32) -> String {
    snapshot_url_at(REST_BASE, symbol, limit)
}

/// [`snapshot_url`] on another host (the local simulator).
pub fn snapshot_url_at(base: &str, symbol: &str, limit: u32) -> String {
    format!(
        "{}/api/v3/depth?symbol={}&limit={limit}",
        base.trim_end_matches('/'),
        symbol.to_ascii_uppercase()
    )
}

/// Live subscribe frame for the same streams as [`ws_url`] (for an already open `/ws` or
/// `/stream` connection).
pub fn subscribe_frame(symbols: &[&str], id: u64) -> String {
    let params: Vec<String> = symbols
        .iter()
        .flat_map(|s| {
            let s = s.to_ascii_lowercase();
            [format!("\"{s}@depth@100ms\""), format!("\"{s}@aggTrade\"")]
        })
        .collect();
    format!(
        r#"{{"method":"SUBSCRIBE","params":[{}],"id":{id}}}"#,
        params.join(",")
    )
}
