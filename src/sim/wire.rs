//! The venues' wire formats as the simulator writes them: the shared number styles, the
//! routes, and Coincheck's frames (the built-in no-network market's). The other venues' frame
//! writers are in their folders (`src/venue/<name>/sim_frames.rs`).
//!
//! Encoders append to a caller's `String` so a hot producer can reuse one buffer. Numbers are
//! written exactly from integer ticks and lots with [`Scale::write`], then shaped the way each
//! venue prints them ([`NumStyle`]): Binance pads to 8 places (`"0.35130000"`), Bybit linear
//! prints the price scale (`"65114.20"`) and the lot's places with a bare `"0"` for deletions,
//! Bybit spot trims (`"65140"`, `"0.014"`), Coincheck trims but keeps one place (`"6288279.0"`).

use crate::instrument::{Instrument, Market, Venue};
use crate::msg::Side;
use crate::num::Scale;
use crate::sim::market::{LevelChange, Trade};
use crate::sim::Route;
use std::fmt::Write;

/// WebSocket paths the simulator serves.
pub mod routes {
    use crate::sim::Route;
    /// Coincheck: `wss://ws-api.coincheck.com/`.
    pub const COINCHECK: Route = "/";
    pub const BYBIT_LINEAR: Route = "/v5/public/linear";
    pub const BYBIT_SPOT: Route = "/v5/public/spot";
    pub const BYBIT_INVERSE: Route = "/v5/public/inverse";
    /// Binance raw streams: every `/ws/<stream>` path (payloads unwrapped).
    pub const BINANCE_WS: Route = "/ws";
    /// Binance combined streams: `/stream?streams=a/b` (payloads wrapped in `{"stream","data"}`).
    pub const BINANCE_STREAM: Route = "/stream";
    /// GMO Coin: `wss://api.coin.z.com/ws/public/v1`.
    pub const GMOCOIN: Route = "/ws/public/v1";
    /// bitbank: `wss://stream.bitbank.cc/socket.io/?EIO=4&transport=websocket`.
    pub const BITBANK: Route = "/socket.io/";
    /// bitFlyer Lightning: `wss://ws.lightstream.bitflyer.com/json-rpc`.
    pub const BITFLYER: Route = "/json-rpc";
}

/// The route a WebSocket request path belongs to (`/ws/btcusdt@depth@100ms` → `/ws`,
/// `/v5/public/spot?x` → `/v5/public/spot`), or `None` when the venue does not serve it.
pub fn route_of_path(venue: Venue, path: &str) -> Option<Route> {
    let p = path.split('?').next().unwrap_or(path);
    venue.connector()?.sim()?.route_of_path(p)
}

/// The Bybit public route of a market.
pub fn bybit_route(market: Market) -> Route {
    match market {
        Market::Linear => routes::BYBIT_LINEAR,
        Market::Spot => routes::BYBIT_SPOT,
        Market::Inverse => routes::BYBIT_INVERSE,
    }
}

/// How a venue prints a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumStyle {
    /// The scale's own places (`Scale::write` as is).
    Exact,
    /// Exactly this many places, padding with zeros (never fewer than the scale's own).
    Fixed(u8),
    /// Trailing zeros removed, keeping at least this many places (0: no point when whole).
    Trim(u8),
}

/// Appends `steps` of `scale` to `buf` in `style`.
pub fn write_num(buf: &mut String, scale: Scale, steps: i64, style: NumStyle) {
    let _ = scale.write(steps, buf);
    let have = scale.decimals() as usize;
    match style {
        NumStyle::Exact => {}
        NumStyle::Fixed(n) => pad(buf, have, n as usize),
        NumStyle::Trim(min) => {
            let min = min as usize;
            if have > min {
                let mut end = buf.len();
                let floor = end - (have - min);
                while end > floor && buf.as_bytes()[end - 1] == b'0' {
                    end -= 1;
                }
                if buf.as_bytes()[end - 1] == b'.' {
                    end -= 1;
                }
                buf.truncate(end);
            } else {
                pad(buf, have, min);
            }
        }
    }
}

fn pad(buf: &mut String, have: usize, want: usize) {
    if want > have {
        if have == 0 {
            buf.push('.');
        }
        for _ in have..want {
            buf.push('0');
        }
    }
}

/// How one venue prints one instrument's price levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelFmt {
    pub tick: Scale,
    pub lot: Scale,
    pub px: NumStyle,
    pub qty: NumStyle,
    /// What a zero size is printed as, when not in the `qty` style (Bybit and Coincheck: `"0"`).
    pub zero_qty: Option<&'static str>,
}

impl LevelFmt {
    /// The venue's style for `inst` (its [`SimVenue::level_fmt`](crate::sim::SimVenue::level_fmt));
    /// `px_decimals` is the price scale when the venue prints more places than the tick has
    /// (Bybit linear), 0 otherwise.
    pub fn for_venue(inst: &Instrument, px_decimals: u8) -> LevelFmt {
        match inst.key.venue.connector().and_then(|c| c.sim()) {
            Some(s) => s.level_fmt(inst, px_decimals),
            None => LevelFmt::exact(inst),
        }
    }

    /// The tick's and the lot's own places, zero sizes in the same style.
    pub fn exact(inst: &Instrument) -> LevelFmt {
        LevelFmt {
            tick: inst.tick,
            lot: inst.lot,
            px: NumStyle::Exact,
            qty: NumStyle::Exact,
            zero_qty: None,
        }
    }

    #[inline]
    pub fn write_px(&self, buf: &mut String, px: i64) {
        write_num(buf, self.tick, px, self.px);
    }

    #[inline]
    pub fn write_qty(&self, buf: &mut String, qty: i64) {
        match self.zero_qty {
            Some(z) if qty == 0 => buf.push_str(z),
            _ => write_num(buf, self.lot, qty, self.qty),
        }
    }

    /// `["px","qty"]`
    #[inline]
    pub fn write_level(&self, buf: &mut String, px: i64, qty: i64) {
        buf.push_str("[\"");
        self.write_px(buf, px);
        buf.push_str("\",\"");
        self.write_qty(buf, qty);
        buf.push_str("\"]");
    }

    /// `[["px","qty"],..]`
    pub fn write_levels(&self, buf: &mut String, levels: impl Iterator<Item = (i64, i64)>) {
        buf.push('[');
        for (i, (px, qty)) in levels.enumerate() {
            if i > 0 {
                buf.push(',');
            }
            self.write_level(buf, px, qty);
        }
        buf.push(']');
    }

    /// The changes of one side as `[["px","qty"],..]`, in the order given.
    pub fn write_changes(&self, buf: &mut String, changes: &[LevelChange], side: Side) {
        self.write_levels(
            buf,
            changes
                .iter()
                .filter(|c| c.side == side)
                .map(|c| (c.px, c.qty)),
        );
    }
}

/// The tick direction of a trade relative to the previous one (Bybit's `L`: `PlusTick`,
/// `ZeroPlusTick`, `MinusTick`, `ZeroMinusTick`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TickDirection {
    last_px: Option<i64>,
    last: &'static str,
}

impl TickDirection {
    pub fn next(&mut self, px: i64) -> &'static str {
        let d = match self.last_px {
            Some(p) if px > p => "PlusTick",
            Some(p) if px < p => "MinusTick",
            Some(_) if self.last == "MinusTick" || self.last == "ZeroMinusTick" => "ZeroMinusTick",
            _ => "ZeroPlusTick",
        };
        self.last_px = Some(px);
        self.last = d;
        d
    }
}

/// Coincheck public WebSocket and REST.
pub mod coincheck {
    use super::*;

    /// Order-book diff: `["btc_jpy",{"bids":[..],"asks":[..],"last_update_at":"<unix s>"}]`.
    pub fn diff(
        buf: &mut String,
        pair: &str,
        fmt: &LevelFmt,
        changes: &[LevelChange],
        unix_ns: u64,
    ) {
        buf.push_str("[\"");
        buf.push_str(pair);
        buf.push_str("\",{\"bids\":");
        fmt.write_changes(buf, changes, Side::Bid);
        buf.push_str(",\"asks\":");
        fmt.write_changes(buf, changes, Side::Ask);
        let _ = write!(
            buf,
            ",\"last_update_at\":\"{}\"}}]",
            unix_ns / 1_000_000_000
        );
    }

    /// Order-book diff with arbitrary levels (for fault frames).
    pub fn diff_levels(
        buf: &mut String,
        pair: &str,
        fmt: &LevelFmt,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        unix_ns: u64,
    ) {
        buf.push_str("[\"");
        buf.push_str(pair);
        buf.push_str("\",{\"bids\":");
        fmt.write_levels(buf, bids.iter().copied());
        buf.push_str(",\"asks\":");
        fmt.write_levels(buf, asks.iter().copied());
        let _ = write!(
            buf,
            ",\"last_update_at\":\"{}\"}}]",
            unix_ns / 1_000_000_000
        );
    }

    /// Trades: `[["<unix s>","<id>","btc_jpy","<rate>","<amount>","buy|sell","<taker id>","<maker id>"],..]`.
    pub fn trades(buf: &mut String, pair: &str, fmt: &LevelFmt, trades: &[Trade], unix_ns: u64) {
        buf.push('[');
        for (i, t) in trades.iter().enumerate() {
            if i > 0 {
                buf.push(',');
            }
            let _ = write!(
                buf,
                "[\"{}\",\"{}\",\"{}\",\"",
                unix_ns / 1_000_000_000,
                t.id,
                pair
            );
            fmt.write_px(buf, t.px);
            buf.push_str("\",\"");
            fmt.write_qty(buf, t.qty);
            let side = if t.aggressor == Side::Bid {
                "buy"
            } else {
                "sell"
            };
            let _ = write!(
                buf,
                "\",\"{side}\",\"{}\",\"{}\"]",
                t.taker_order_id, t.maker_order_id
            );
        }
        buf.push(']');
    }

    /// REST `GET /api/order_books?pair=..`: `{"asks":[..],"bids":[..]}`, best `depth` per side.
    pub fn order_books(
        buf: &mut String,
        fmt: &LevelFmt,
        bids: impl Iterator<Item = (i64, i64)>,
        asks: impl Iterator<Item = (i64, i64)>,
        depth: usize,
    ) {
        buf.push_str("{\"asks\":");
        fmt.write_levels(buf, asks.take(depth));
        buf.push_str(",\"bids\":");
        fmt.write_levels(buf, bids.take(depth));
        buf.push('}');
    }
}

/// Milliseconds of a Unix-nanosecond time (venue timestamps).
#[inline]
pub fn unix_ms(unix_ns: u64) -> u64 {
    unix_ns / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::InstrumentTable;
    use crate::venue::binance::sim_frames as binance;
    use crate::venue::bybit::sim_frames as bybit;

    fn inst(v: Venue, m: Market, s: &str) -> Instrument {
        *InstrumentTable::default().get(v, m, s).unwrap()
    }

    fn num(scale: Scale, v: i64, style: NumStyle) -> String {
        let mut s = String::new();
        write_num(&mut s, scale, v, style);
        s
    }

    #[test]
    fn number_styles() {
        let t = Scale::from_step("0.1").unwrap();
        assert_eq!(num(t, 651404, NumStyle::Exact), "65140.4");
        assert_eq!(num(t, 651400, NumStyle::Trim(0)), "65140");
        assert_eq!(num(t, 651404, NumStyle::Trim(0)), "65140.4");
        assert_eq!(num(t, 651400, NumStyle::Fixed(2)), "65140.00");
        assert_eq!(num(t, 651404, NumStyle::Fixed(8)), "65140.40000000");
        let one = Scale::from_step("1").unwrap();
        assert_eq!(num(one, 6288279, NumStyle::Trim(1)), "6288279.0");
        assert_eq!(num(one, 6288279, NumStyle::Fixed(8)), "6288279.00000000");
        let sat = Scale::from_step("0.00000001").unwrap();
        assert_eq!(num(sat, 5_740_000, NumStyle::Trim(1)), "0.0574");
        assert_eq!(num(sat, 200_000_000, NumStyle::Trim(1)), "2.0");
        assert_eq!(num(sat, 0, NumStyle::Trim(0)), "0");
        assert_eq!(num(sat, 1, NumStyle::Trim(0)), "0.00000001");
    }

    #[test]
    fn venue_number_shapes_match_recorded_frames() {
        // Recorded: linear `"65114.20"`/`"0.505"`/`"0"`, spot `"65140"`/`"0.885797"`,
        // Binance `"0.35130000"`/`"6195.00000000"`.
        let lin = LevelFmt::for_venue(&inst(Venue::Bybit, Market::Linear, "BTCUSDT"), 2);
        let mut s = String::new();
        lin.write_levels(&mut s, [(651142, 505), (651141, 0)].into_iter());
        assert_eq!(s, r#"[["65114.20","0.505"],["65114.10","0"]]"#);
        let spot = LevelFmt::for_venue(&inst(Venue::Bybit, Market::Spot, "BTCUSDT"), 0);
        s.clear();
        spot.write_levels(&mut s, [(651400, 885_797), (651404, 0)].into_iter());
        assert_eq!(s, r#"[["65140","0.885797"],["65140.4","0"]]"#);
        let bn = LevelFmt::for_venue(&inst(Venue::Binance, Market::Spot, "NKNUSDT"), 0);
        s.clear();
        bn.write_levels(&mut s, [(3513, 6195), (3512, 0)].into_iter());
        assert_eq!(
            s,
            r#"[["0.35130000","6195.00000000"],["0.35120000","0.00000000"]]"#
        );
        let cc = LevelFmt::for_venue(&inst(Venue::Coincheck, Market::Spot, "btc_jpy"), 0);
        s.clear();
        cc.write_levels(&mut s, [(148634, 0), (148633, 5_740_000)].into_iter());
        assert_eq!(s, r#"[["148634.0","0"],["148633.0","0.0574"]]"#);
    }

    #[test]
    fn frames_are_json_with_the_venue_shapes() {
        let lin = inst(Venue::Bybit, Market::Linear, "BTCUSDT");
        let f = LevelFmt::for_venue(&lin, 2);
        let mut s = String::new();
        let h = bybit::BookHeader {
            market: Market::Linear,
            depth: 200,
            symbol: "BTCUSDT",
            snapshot: false,
            ts_ms: 1786310818130,
            cts_ms: 1786310818127,
            u: 15076955,
            seq: 753843918854,
        };
        bybit::book(&mut s, &h, &f, [(650953, 5)].into_iter(), [].into_iter());
        assert_eq!(
            s,
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1786310818130,"data":{"s":"BTCUSDT","b":[["65095.30","0.005"]],"a":[],"u":15076955,"seq":753843918854},"cts":1786310818127}"#
        );
        s.clear();
        bybit::book(
            &mut s,
            &bybit::BookHeader {
                market: Market::Spot,
                snapshot: true,
                ..h
            },
            &f,
            [].into_iter(),
            [].into_iter(),
        );
        assert!(s.starts_with(
            r#"{"topic":"orderbook.200.BTCUSDT","ts":1786310818130,"type":"snapshot","data":{"#
        ));

        let t = [Trade {
            id: 7,
            px: 651142,
            qty: 4,
            aggressor: Side::Ask,
            taker_order_id: 1,
            maker_order_id: 2,
        }];
        s.clear();
        let mut dir = TickDirection::default();
        bybit::trades(&mut s, Market::Linear, "BTCUSDT", &f, 1, 2, &t, &mut dir);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["data"][0]["p"], "65114.20");
        assert_eq!(v["data"][0]["v"], "0.004");
        assert_eq!(v["data"][0]["S"], "Sell");
        assert_eq!(v["data"][0]["i"].as_str().unwrap().len(), 36);
        assert_eq!(
            bybit::ack(Market::Spot, "subscribe", None, &[]),
            r#"{"success":true,"ret_msg":"subscribe","conn_id":"sim","op":"subscribe"}"#
        );
        assert_eq!(
            bybit::ack(Market::Linear, "subscribe", None, &[]),
            r#"{"success":true,"ret_msg":"","conn_id":"sim","req_id":"","op":"subscribe"}"#
        );
        let bad: serde_json::Value = serde_json::from_str(&bybit::ack(
            Market::Linear,
            "subscribe",
            Some("r\"1"),
            &["orderbook.7.X".into()],
        ))
        .unwrap();
        assert_eq!(bad["success"], false);
        assert_eq!(bad["req_id"], "r\"1");

        let cc = inst(Venue::Coincheck, Market::Spot, "btc_jpy");
        let f = LevelFmt::for_venue(&cc, 0);
        s.clear();
        coincheck::trades(
            &mut s,
            "btc_jpy",
            &f,
            &[Trade {
                aggressor: Side::Bid,
                px: 2820896,
                qty: 500_000_000,
                ..t[0]
            }],
            1_663_318_663_500_000_000,
        );
        assert_eq!(
            s,
            r#"[["1663318663","7","btc_jpy","2820896.0","5.0","buy","1","2"]]"#
        );

        let bn = inst(Venue::Binance, Market::Spot, "BTCUSDT");
        let f = LevelFmt::for_venue(&bn, 0);
        let mut raw = String::new();
        binance::depth_update(
            &mut raw,
            "BTCUSDT",
            &f,
            1,
            157,
            160,
            [(6173763, 0)].into_iter(),
            [].into_iter(),
        );
        s.clear();
        binance::combined(&mut s, "BTCUSDT", &raw);
        assert_eq!(
            s,
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":157,"u":160,"b":[["61737.63000000","0.00000000"]],"a":[]}}"#
        );
    }

    #[test]
    fn routes_from_paths() {
        assert_eq!(
            route_of_path(Venue::Binance, "/ws/btcusdt@depth@100ms"),
            Some(routes::BINANCE_WS)
        );
        assert_eq!(
            route_of_path(Venue::Binance, "/stream?streams=a/b"),
            Some(routes::BINANCE_STREAM)
        );
        assert_eq!(
            route_of_path(Venue::Bybit, "/v5/public/spot"),
            Some(routes::BYBIT_SPOT)
        );
        assert_eq!(route_of_path(Venue::Bybit, "/v5/public/option"), None);
        assert_eq!(route_of_path(Venue::Coincheck, "/"), Some("/"));
    }

    #[test]
    fn tick_direction() {
        let mut d = TickDirection::default();
        assert_eq!(d.next(10), "ZeroPlusTick");
        assert_eq!(d.next(9), "MinusTick");
        assert_eq!(d.next(9), "ZeroMinusTick");
        assert_eq!(d.next(11), "PlusTick");
        assert_eq!(d.next(11), "ZeroPlusTick");
    }
}
