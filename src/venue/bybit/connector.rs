//! Bybit's [`Connector`]: v5 public WebSocket per market (`/v5/public/{spot,linear,inverse}`),
//! in-band snapshots (a resync resubscribes the book topic), an application ping.

use super::BybitDecoder;
use crate::instrument::{Market, Venue};
use crate::net::Keepalive;
use crate::venue::{AnyDecoder, BookRoutes, Connector, DecoderSettings, LiveParams, LiveSpec};

/// The Bybit v5 public market-data API.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bybit;

impl Connector for Bybit {
    /// The simulator's side of this venue: see [`super::sim`].
    fn sim(&self) -> Option<&'static dyn crate::sim::SimVenue> {
        Some(&Bybit)
    }

    /// `verify-book`: see [`super::top`].
    fn top_of_book(&self, frame: &[u8], out: &mut Vec<crate::venue::TopItem>) {
        super::top::read(frame, out);
    }

    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    /// `BTCUSDT` means the USDT perpetual.
    fn default_market(&self) -> Market {
        Market::Linear
    }

    fn market_of_addr(&self, addr: &str) -> Option<Market> {
        market_of_addr(addr)
    }

    /// Subscribes `orderbook.{stream_depth}.{symbol}` and `publicTrade.{symbol}`; pings with
    /// `{"op":"ping"}` every `ping_interval`; a resync unsubscribes and subscribes the book
    /// topic again (Bybit answers with a fresh snapshot; no reconnect). The socket is dropped
    /// after twice `max_silence` (a stall ends in a detectable sequence gap anyway).
    fn live(&self, p: &LiveParams<'_>) -> Result<LiveSpec, String> {
        let (depth, sym) = (p.stream_depth, p.symbol);
        let topic = format!("orderbook.{depth}.{sym}");
        Ok(LiveSpec {
            ws_url: p.ws_url.to_string(),
            subscribe: subscribe_frames(&[sym], depth),
            keepalive: Keepalive::AppText {
                text: PING_FRAME.to_string(),
                every: p.ping_interval,
            },
            resubscribe: vec![
                format!(r#"{{"op":"unsubscribe","args":["{topic}"]}}"#),
                format!(r#"{{"op":"subscribe","args":["{topic}"]}}"#),
            ],
            ws_silence: p.max_silence * 2,
        })
    }

    /// See [`super::drill`].
    fn drill(&self, p: &crate::ops::drill::Params<'_>) -> Option<Vec<crate::ops::drill::Check>> {
        Some(super::drill::run(p))
    }

    /// The public stream, the REST base and the private stream.
    fn drill_endpoints(&self) -> Option<&'static [&'static str]> {
        Some(&crate::venue::drill::ALL_ENDPOINTS)
    }

    fn decoder(&self, routes: BookRoutes, s: &DecoderSettings) -> AnyDecoder {
        let mut d = BybitDecoder::new(routes);
        d.max_silence_ns = s.max_silence_ns;
        d.into()
    }
}

/// Public WebSocket URL of a market.
pub fn public_url(market: Market) -> &'static str {
    match market {
        Market::Spot => "wss://stream.bybit.com/v5/public/spot",
        Market::Linear => "wss://stream.bybit.com/v5/public/linear",
        Market::Inverse => "wss://stream.bybit.com/v5/public/inverse",
    }
}

/// The market a public WebSocket address serves (`.../v5/public/linear` → linear).
pub fn market_of_addr(addr: &str) -> Option<Market> {
    let path = addr.split('?').next().unwrap_or(addr);
    if path.ends_with("/v5/public/spot") {
        Some(Market::Spot)
    } else if path.ends_with("/v5/public/linear") {
        Some(Market::Linear)
    } else if path.ends_with("/v5/public/inverse") {
        Some(Market::Inverse)
    } else {
        None
    }
}

/// Subscribe frames for the book (at `depth`) and trades of `symbols`.
pub fn subscribe_frames(symbols: &[&str], depth: u32) -> Vec<String> {
    symbols
        .iter()
        .flat_map(|s| {
            [
                format!(r#"{{"op":"subscribe","args":["orderbook.{depth}.{s}"]}}"#),
                format!(r#"{{"op":"subscribe","args":["publicTrade.{s}"]}}"#),
            ]
        })
        .collect()
}

/// The application-level ping Bybit asks for every 20 s.
pub const PING_FRAME: &str = r#"{"op":"ping"}"#;
