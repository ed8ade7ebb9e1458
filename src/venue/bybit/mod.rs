//! Bybit v5 public market data: `orderbook.{depth}.{symbol}` snapshot + delta, `publicTrade`.

pub mod sync;
pub mod wire;

use crate::instrument::Market;
use crate::msg::{BookOp, BookState, MdEvent};
use crate::venue::json::JsonParser;
use crate::venue::{
    emit_state, BookRoutes, Decoder, FeedCounters, FrameError, LevelUpdate, SyncBook,
};
use wire::{Frame, TradeUpdate};

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

/// Decoder for one Bybit public connection.
#[derive(Debug)]
pub struct BybitDecoder {
    json: JsonParser,
    routes: BookRoutes,
    sync: Vec<SyncBook>,
    levels: Vec<LevelUpdate>,
    trades: Vec<TradeUpdate>,
    counters: FeedCounters,
    /// A book turns `stale` after this much silence (ns).
    pub max_silence_ns: u64,
    resync_requested: bool,
    /// The last frame error, for the cold path's log.
    pub last_error: Option<FrameError>,
}

impl BybitDecoder {
    pub fn new(routes: BookRoutes) -> BybitDecoder {
        let n = routes.books.len();
        BybitDecoder {
            json: JsonParser::default(),
            routes,
            sync: vec![SyncBook::default(); n.max(8)],
            levels: Vec::with_capacity(2048),
            trades: Vec::with_capacity(256),
            counters: FeedCounters::default(),
            max_silence_ns: 5_000_000_000,
            resync_requested: false,
            last_error: None,
        }
    }

    /// Sync state of book `i`.
    pub fn book_state(&self, i: usize) -> Option<BookState> {
        self.sync.get(i).map(|s| s.state)
    }
}

impl Decoder for BybitDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.counters.frames += 1;
        let routes = &mut self.routes;
        let levels = &mut self.levels;
        let trades = &mut self.trades;
        let mut routed: Option<usize> = None;
        let parsed = self.json.parse(frame, |root| {
            let r = wire::read(
                root,
                |sym| {
                    let i = routes.lookup(sym)?;
                    routed = Some(i);
                    let inst = &routes.books[i];
                    Some((inst.tick, inst.lot))
                },
                levels,
                trades,
            );
            // Copy out what outlives the tape.
            r.map(|f| match f {
                Frame::Book {
                    snapshot, u, ts_ms, ..
                } => (1u8, snapshot, u, ts_ms),
                Frame::Trades { .. } => (2, false, 0, 0),
                Frame::Ack { .. } => (3, false, 0, 0),
                Frame::Other => (0, false, 0, 0),
            })
        });
        let frame = match parsed {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                self.counters.malformed += 1;
                self.last_error = Some(e);
                // A routed book frame we could not read breaks the sequence chain.
                if let Some(i) = routed {
                    if let Some(sb) = self.sync.get_mut(i) {
                        sync::mark_resyncing(sb, &mut self.counters, recv_ns, i as u16, out);
                        self.resync_requested = true;
                    }
                }
                return;
            }
            Err(_) => {
                self.counters.malformed += 1;
                self.last_error = Some(FrameError::Json);
                return;
            }
        };
        match frame {
            (1, snapshot, u, ts_ms) => {
                let Some(i) = routed else { return };
                if self.sync.len() <= i {
                    self.sync.resize(i + 1, SyncBook::default());
                }
                let v = sync::on_book_frame(
                    &mut self.sync[i],
                    &mut self.counters,
                    recv_ns,
                    i as u16,
                    snapshot,
                    u,
                    ts_ms,
                    &self.levels,
                    out,
                );
                if v == sync::Verdict::Gap {
                    self.resync_requested = true;
                }
            }
            (2, ..) => {
                let Some(i) = routed else { return };
                for &(px, qty, aggressor, exch_ts_ms) in &self.trades {
                    out(MdEvent {
                        recv_ns,
                        book: i as u16,
                        op: BookOp::Trade {
                            px,
                            qty,
                            aggressor,
                            exch_ts_ms,
                        },
                    });
                }
                self.counters.trades += self.trades.len() as u64;
                self.counters.events += self.trades.len() as u64;
            }
            (3, ..) => self.counters.acks += 1,
            _ => self.counters.unknown += 1,
        }
    }

    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        for (i, sb) in self
            .sync
            .iter_mut()
            .enumerate()
            .take(self.routes.books.len())
        {
            if sb.state == BookState::Synced
                && now_ns.saturating_sub(sb.last_update_ns) > self.max_silence_ns
            {
                sb.state = BookState::Stale;
                self.counters.stale += 1;
                self.counters.events += 1;
                emit_state(now_ns, i as u16, BookState::Stale, out);
            }
        }
    }

    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        for i in 0..self.routes.books.len().min(self.sync.len()) {
            sync::mark_resyncing(&mut self.sync[i], &mut self.counters, now_ns, i as u16, out);
        }
    }

    fn counters(&self) -> &FeedCounters {
        &self.counters
    }

    fn routes(&self) -> &BookRoutes {
        &self.routes
    }

    fn take_resync_request(&mut self) -> bool {
        std::mem::take(&mut self.resync_requested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{InstrumentTable, Venue};
    use crate::msg::Side;
    use crate::venue::testutil::collect;

    fn dec() -> BybitDecoder {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Bybit,
            Market::Linear,
            &["BTCUSDT"],
        )
        .unwrap();
        BybitDecoder::new(r)
    }

    const SNAP: &str = r#"{"topic":"orderbook.200.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","1.000"],["99.9","2"]],"a":[["100.1","0.5"]],"u":10,"seq":5},"cts":2}"#;

    fn delta(u: u64, b: &str) -> String {
        format!(
            r#"{{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1,"data":{{"s":"BTCUSDT","b":[{b}],"a":[],"u":{u},"seq":6}},"cts":3}}"#
        )
    }

    fn sets(evs: &[MdEvent]) -> usize {
        evs.iter()
            .filter(|e| matches!(e.op, BookOp::Set { .. }))
            .count()
    }

    #[test]
    fn snapshot_then_consecutive_deltas_apply() {
        let mut d = dec();
        let d1 = delta(11, r#"["100.0","0"]"#);
        let evs = collect(&mut d, &[SNAP, &d1]);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(
            evs[1].op,
            BookOp::Set {
                side: Side::Bid,
                px: 1000,
                qty: 1000
            }
        );
        assert_eq!(sets(&evs), 4);
        assert_eq!(
            evs.last().unwrap().op,
            BookOp::Commit {
                seq: 11,
                exch_ts_ms: 3
            }
        );
        assert_eq!(d.counters().updates, 2);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn gap_resyncs_until_next_snapshot() {
        let mut d = dec();
        let d12 = delta(12, r#"["100.0","3"]"#);
        let d13 = delta(13, r#"["100.0","4"]"#);
        let evs = collect(&mut d, &[SNAP, &d12, &d13]);
        assert_eq!(d.counters().gaps, 1);
        assert_eq!(d.counters().resyncs, 1);
        assert!(d.take_resync_request());
        assert!(!d.take_resync_request());
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
        assert!(evs.contains(&MdEvent {
            recv_ns: 1001,
            book: 0,
            op: BookOp::State(BookState::Resyncing)
        }));
        // nothing of the deltas after the gap was applied
        assert_eq!(sets(&evs), 3);
        let evs = collect(&mut d, &[SNAP]);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn duplicate_is_dropped_and_u_equal_1_replaces() {
        let mut d = dec();
        let d10 = delta(10, r#"["100.0","3"]"#);
        let d1 = delta(1, r#"["101.0","3"]"#);
        let evs = collect(&mut d, &[SNAP, &d10, &d1]);
        assert_eq!(d.counters().dropped, 1);
        assert_eq!(d.counters().gaps, 0);
        assert_eq!(d.counters().snapshots, 2);
        assert_eq!(evs.iter().filter(|e| e.op == BookOp::Clear).count(), 2);
    }

    #[test]
    fn malformed_frames_are_counted_not_fatal() {
        let mut d = dec();
        let bad = [
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"b":[["1"#, // truncated
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[[100,"1"]],"a":[],"u":11}}"#, // wrong type
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["99999999999999999999999","1"]],"a":[],"u":11}}"#, // huge
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["100.05","1"]],"a":[],"u":11}}"#, // off tick
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[[]],"a":[],"u":11}}"#, // empty level
            r#"[]"#,
            r#""#,
        ];
        let evs = collect(&mut d, &[SNAP]);
        assert_eq!(sets(&evs), 3);
        let _ = collect(&mut d, &bad);
        assert_eq!(d.counters().malformed, bad.len() as u64);
        // a malformed delta of a routed book breaks the chain: resync
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
        // unknown topics and empty arrays are fine
        let ok = [
            r#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{}}"#,
            r#"{"topic":"orderbook.200.XYZUSDT","type":"delta","data":{}}"#,
        ];
        let _ = collect(&mut d, &ok);
        assert_eq!(d.counters().unknown, 2);
        let _ = collect(&mut d, &[SNAP, &delta(11, "")]);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn trades_and_acks() {
        let mut d = dec();
        let evs = collect(
            &mut d,
            &[
                r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":5,"data":[{"T":7,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20"}]}"#,
                r#"{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}"#,
            ],
        );
        assert_eq!(
            evs[0].op,
            BookOp::Trade {
                px: 651142,
                qty: 4,
                aggressor: Side::Ask,
                exch_ts_ms: 7
            }
        );
        assert_eq!(d.counters().acks, 1);
    }

    #[test]
    fn silence_turns_the_book_stale() {
        let mut d = dec();
        d.max_silence_ns = 100;
        let _ = collect(&mut d, &[SNAP]);
        let mut evs = Vec::new();
        d.on_timer(1_050, &mut |e| evs.push(e));
        assert!(evs.is_empty());
        d.on_timer(1_200, &mut |e| evs.push(e));
        assert_eq!(evs[0].op, BookOp::State(BookState::Stale));
        assert_eq!(d.counters().stale, 1);
    }

    #[test]
    fn market_from_connect_address() {
        assert_eq!(
            market_of_addr("wss://stream.bybit.com/v5/public/linear"),
            Some(Market::Linear)
        );
        assert_eq!(
            market_of_addr("ws://127.0.0.1:9000/v5/public/spot"),
            Some(Market::Spot)
        );
    }
}
