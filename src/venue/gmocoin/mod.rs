//! GMO Coin public market data: `orderbooks` (every frame a full book, no sequence) and
//! `trades` over `wss://api.coin.z.com/ws/public/v1`, and the REST `/public/v1/orderbooks`
//! body (live, or recorded as a plain frame line). A decoder serves the symbols of one market
//! of the instrument table (`BTC` spot, `BTC_JPY` leverage = linear). Docs:
//! <https://api.coin.z.com/docs/en/> (Public WebSocket API), VENUES.md §1.4.

pub mod connector;
pub mod drill;
pub mod live;
pub mod private;
pub mod sim;
pub mod sim_frames;
pub mod sim_private;
pub mod sync;
pub mod top;
pub mod wire;

pub use connector::GmoCoin;

use crate::msg::{BookState, MdEvent};
use crate::venue::json::JsonParser;
use crate::venue::{emit_trade, BookRoutes, Decoder, FeedCounters, FrameError, LevelUpdate};
use sync::BookSync;
use wire::Frame;

/// Public WebSocket URL.
pub const WS_URL: &str = "wss://api.coin.z.com/ws/public/v1";
/// Public REST host (`/public/v1/orderbooks?symbol=..`).
pub const REST_BASE: &str = "https://api.coin.z.com";

/// A subscribe frame for `channel` (`orderbooks`, `trades`, `ticker`) of `symbol`.
pub fn subscribe_frame(channel: &str, symbol: &str) -> String {
    format!(r#"{{"command":"subscribe","channel":"{channel}","symbol":"{symbol}"}}"#)
}

/// Limits and timings of a [`GmoCoinDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GmoCoinConfig {
    /// A synced book turns `stale` after this much silence (ns). The venue repeats an
    /// unchanged book at most ~5.2 s apart (VENUES.md §4.4: ~15 s).
    pub max_silence_ns: u64,
}

impl Default for GmoCoinConfig {
    fn default() -> Self {
        GmoCoinConfig {
            max_silence_ns: 15_000_000_000,
        }
    }
}

/// Decoder for one GMO Coin public connection.
#[derive(Debug)]
pub struct GmoCoinDecoder {
    json: JsonParser,
    routes: BookRoutes,
    books: Vec<BookSync>,
    levels: Vec<LevelUpdate>,
    counters: FeedCounters,
    pub config: GmoCoinConfig,
    /// The last frame error, for the cold path's log.
    pub last_error: Option<FrameError>,
}

impl GmoCoinDecoder {
    pub fn new(routes: BookRoutes) -> GmoCoinDecoder {
        GmoCoinDecoder::with_config(routes, GmoCoinConfig::default())
    }

    pub fn with_config(routes: BookRoutes, config: GmoCoinConfig) -> GmoCoinDecoder {
        let n = routes.books.len();
        let mut d = GmoCoinDecoder {
            json: JsonParser::default(),
            routes,
            books: Vec::with_capacity(n.max(4)),
            levels: Vec::with_capacity(1024),
            counters: FeedCounters::default(),
            config,
            last_error: None,
        };
        if n > 0 {
            d.ensure_book(n - 1);
        }
        d
    }

    /// Makes sure the sync state of book `i` exists (books added by auto-routing; cold).
    fn ensure_book(&mut self, i: usize) {
        while self.books.len() <= i {
            self.books.push(BookSync::default());
        }
    }

    /// Sync state of book `i`.
    pub fn book_state(&self, i: usize) -> Option<BookState> {
        self.books.get(i).map(|b| b.sb.state)
    }

    /// Reads `frame` (a WebSocket message or a REST body) and applies it.
    #[inline]
    fn read_and_apply<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        let mut routed: Option<usize> = None;
        let routes = &mut self.routes;
        let levels = &mut self.levels;
        let parsed = self.json.parse(frame, |root| {
            wire::read(
                root,
                |sym| {
                    let i = routes.lookup(sym)?;
                    let inst = &routes.books[i];
                    Some((i, inst.tick, inst.lot))
                },
                levels,
                &mut routed,
            )
        });
        let frame = match parsed {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => return self.malformed(recv_ns, e, routed, out),
            Err(_) => return self.malformed(recv_ns, FrameError::Json, routed, out),
        };
        match frame {
            Frame::Book { book, ts_ms, rest } => {
                self.ensure_book(book);
                self.books[book].on_book(
                    &mut self.counters,
                    recv_ns,
                    book as u16,
                    ts_ms,
                    rest,
                    &self.levels,
                    out,
                );
            }
            Frame::Trade { book, trade } => {
                self.counters.events += emit_trade(recv_ns, book as u16, trade, out);
                self.counters.trades += 1;
            }
            Frame::Error => self.counters.acks += 1,
            Frame::Other => self.counters.unknown += 1,
        }
    }

    /// A frame that could not be read: counted; a routed book whose frame it was is
    /// `resyncing` until its next full book (the one in place is older than the venue's).
    #[cold]
    fn malformed<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        e: FrameError,
        routed: Option<usize>,
        out: &mut F,
    ) {
        self.counters.malformed += 1;
        self.last_error = Some(e);
        if let Some(i) = routed {
            self.ensure_book(i);
            let b = &mut self.books[i];
            if b.sb.state != BookState::Resyncing {
                b.mark_resyncing(&mut self.counters, recv_ns, i as u16, out);
            }
        }
    }
}

impl Decoder for GmoCoinDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.counters.frames += 1;
        self.read_and_apply(recv_ns, frame, out);
    }

    /// A REST `/public/v1/orderbooks` answer: a full book, applied as a frame is.
    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        if !url.contains("/orderbooks") {
            self.counters.unknown += 1;
            return;
        }
        self.read_and_apply(recv_ns, body, out);
    }

    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let n = self.books.len().min(self.routes.books.len());
        for i in 0..n {
            self.books[i].on_timer(
                &mut self.counters,
                now_ns,
                i as u16,
                self.config.max_silence_ns,
                out,
            );
        }
    }

    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let n = self.books.len().min(self.routes.books.len());
        for i in 0..n {
            self.books[i].mark_resyncing(&mut self.counters, now_ns, i as u16, out);
        }
    }

    fn counters(&self) -> &FeedCounters {
        &self.counters
    }

    fn routes(&self) -> &BookRoutes {
        &self.routes
    }

    /// Never: every frame is a full book, nothing needs to be asked for.
    fn take_resync_request(&mut self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::BookSet;
    use crate::instrument::{InstrumentTable, Market, Venue};
    use crate::msg::{BookOp, Side};
    use crate::venue::testutil::{collect, edited, edits, states, top};
    use proptest::prelude::*;

    fn dec(market: Market, symbol: &str) -> GmoCoinDecoder {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::GmoCoin,
            market,
            &[symbol],
        )
        .unwrap();
        GmoCoinDecoder::new(r)
    }

    /// VENUES.md §1.4, the probe's `orderbooks` frame (BTC_JPY, arrays cut to 3 by its author).
    const PROBE: &str = r#"{"channel": "orderbooks", "asks": [{"price": "13660704", "size": "0.001"}, {"price": "13660910", "size": "0.012"}, {"price": "13661081", "size": "0.02"}], "bids": [{"price": "13658802", "size": "0.008"}, {"price": "13658299", "size": "0.03"}, {"price": "13658273", "size": "0.002"}], "symbol": "BTC_JPY", "timestamp": "2026-09-23T03:25:35.843Z", "grouping": "1"}"#;

    /// The probe's frame with another time and its best ask replaced.
    fn update(ts: &str, best_ask: &str) -> String {
        PROBE
            .replace("2026-09-23T03:25:35.843Z", ts)
            .replace(r#""price": "13660704", "size": "0.001""#, best_ask)
    }

    #[test]
    fn snapshot_then_update_replace_the_book_exactly() {
        let mut d = dec(Market::Linear, "BTC_JPY");
        let mut books = BookSet::new(1, 5, 100);
        let evs = collect(&mut d, &[PROBE]);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(evs.len(), 1 + 6 + 1);
        assert_eq!(
            evs[1].op,
            BookOp::Set {
                side: Side::Bid,
                px: 13_658_802,
                qty: 8
            },
            "0.008 BTC at a 0.001 lot"
        );
        assert_eq!(top(&mut books, &evs), Some((13_658_802, 8, 13_660_704, 1)));
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        // The next frame replaces the whole book: the old best ask is gone.
        let evs = collect(
            &mut d,
            &[&update(
                "2026-09-23T03:25:36.348Z",
                r#""price": "13660800", "size": "0.5""#,
            )],
        );
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(
            top(&mut books, &evs),
            Some((13_658_802, 8, 13_660_800, 500))
        );
        assert_eq!(books.books[0].asks.len(), 3);
        let c = d.counters();
        assert_eq!(
            (c.snapshots, c.updates, c.malformed, c.dropped),
            (2, 2, 0, 0)
        );
    }

    #[test]
    fn an_older_frame_is_dropped_and_a_crossed_one_is_stale() {
        let mut d = dec(Market::Linear, "BTC_JPY");
        let _ = collect(&mut d, &[PROBE]);
        // reordered: older than the book's frame
        let evs = collect(
            &mut d,
            &[&update(
                "2026-09-23T03:25:35.338Z",
                r#""price": "13660800", "size": "0.5""#,
            )],
        );
        assert!(evs.is_empty());
        assert_eq!(d.counters().dropped, 1);
        // the GMO docs' own example book has its bids above its asks
        let mut s = dec(Market::Spot, "BTC");
        let evs = collect(
            &mut s,
            &[
                r#"{"channel":"orderbooks","asks":[{"price":"455659","size":"0.1"},{"price":"455658","size":"0.2"}],"bids":[{"price":"455665","size":"0.1"},{"price":"455655","size":"0.3"}],"symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z"}"#,
            ],
        );
        assert_eq!(states(&evs), vec![BookState::Stale]);
        assert_eq!(s.counters().crossed, 1);
        assert_eq!(s.book_state(0), Some(BookState::Stale));
    }

    #[test]
    fn a_rest_body_on_a_frame_line_or_from_rest_seeds_the_book() {
        // GMO docs `/v1/orderbooks` example with its bid lowered below the ask.
        let body = r#"{"status":0,"data":{"asks":[{"price":"455659","size":"0.1"}],"bids":[{"price":"455650","size":"0.2"}],"symbol":"BTC"},"responsetime":"2019-03-19T02:15:06.026Z"}"#;
        let mut d = dec(Market::Spot, "BTC");
        let evs = collect(&mut d, &[body]);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(d.counters().rest_snapshots, 1);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        let mut d = dec(Market::Spot, "BTC");
        let mut evs = Vec::new();
        let mut b = body.as_bytes().to_vec();
        d.on_rest(
            5,
            "https://api.coin.z.com/public/v1/orderbooks?symbol=BTC",
            &mut b,
            &mut |e| evs.push(e),
        );
        assert_eq!(evs.len(), 4);
        assert_eq!(d.counters().rest_snapshots, 1);
        // an error body is counted, not applied
        let mut b = br#"{"status":5,"messages":[{"message_code":"ERR-5201","message_string":"MAINTENANCE"}]}"#.to_vec();
        d.on_rest(
            6,
            "https://api.coin.z.com/public/v1/orderbooks?symbol=BTC",
            &mut b,
            &mut |e| evs.push(e),
        );
        assert_eq!(d.counters().acks, 1);
        assert_eq!(evs.len(), 4);
    }

    #[test]
    fn trades_errors_and_other_channels() {
        let mut d = dec(Market::Spot, "BTC");
        let evs = collect(
            &mut d,
            &[
                // GMO docs `trades` example.
                r#"{"channel":"trades","price":"750760","side":"BUY","size":"0.1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"BTC"}"#,
                r#"{"channel":"trades","price":"750750","side":"SELL","size":"0.0001","timestamp":"2018-03-30T12:34:57.000Z","symbol":"BTC"}"#,
                r#"{"error":"ERR-5106 Invalid request parameter. symbol"}"#,
                r#"{"channel":"ticker","ask":"750760","bid":"750600","high":"762302","last":"756662","low":"704874","symbol":"BTC","timestamp":"2018-03-30T12:34:56.789Z","volume":"194785.8484"}"#,
                r#"{"channel":"trades","price":"1","side":"BUY","size":"1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"ETH"}"#,
            ],
        );
        let t = |recv_ns, px, qty, aggressor, exch_ts_ms| MdEvent {
            recv_ns,
            book: 0,
            op: BookOp::Trade {
                px,
                qty,
                aggressor,
                exch_ts_ms,
            },
        };
        assert_eq!(
            evs,
            vec![
                t(1000, 750760, 1000, Side::Bid, 1_522_413_296_789),
                t(1001, 750750, 1, Side::Ask, 1_522_413_297_000)
            ]
        );
        let c = d.counters();
        assert_eq!((c.trades, c.acks, c.unknown, c.malformed), (2, 1, 2, 0));
    }

    #[test]
    fn malformed_frames_are_counted_and_resync_the_book() {
        let mut d = dec(Market::Linear, "BTC_JPY");
        let _ = collect(&mut d, &[PROBE]);
        let bad = [
            &PROBE[..PROBE.len() / 2],
            &update(
                "2026-09-23T03:25:36.348Z",
                r#""price": "13660704.5", "size": "1""#,
            ),
            &update(
                "2026-09-23T03:25:36.348Z",
                r#""price": "13660704", "size": "0.0001""#,
            ),
            &update("2026-09-23T03:25:36.348Z", r#""price": "x", "size": "1""#),
            &update("not a time", r#""price": "13660800", "size": "1""#),
            r#"{"channel":"trades","price":"1","side":"","size":"1","timestamp":"2018-03-30T12:34:56.789Z","symbol":"BTC_JPY"}"#,
            "[]",
            "",
        ];
        let evs = collect(&mut d, &bad);
        assert_eq!(d.counters().malformed, bad.len() as u64);
        assert_eq!(states(&evs), vec![BookState::Resyncing], "once");
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
        // the next full book repairs it
        let _ = collect(
            &mut d,
            &[&update(
                "2026-09-23T03:25:36.853Z",
                r#""price": "13660800", "size": "0.5""#,
            )],
        );
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn silence_and_disconnect() {
        let mut d = dec(Market::Linear, "BTC_JPY");
        d.config.max_silence_ns = 100;
        let _ = collect(&mut d, &[PROBE]); // t = 1000
        let mut evs = Vec::new();
        d.on_timer(1_100, &mut |e| evs.push(e));
        assert!(evs.is_empty());
        d.on_timer(1_101, &mut |e| evs.push(e));
        assert_eq!(states(&evs), vec![BookState::Stale]);
        d.on_disconnect(2_000, &mut |e| evs.push(e));
        assert_eq!(states(&evs), vec![BookState::Stale, BookState::Resyncing]);
        assert!(!d.take_resync_request());
        let _ = collect(&mut d, &[PROBE]); // the same book again after reconnecting
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Edited frames never panic, never emit a negative price or size, and leave the book
        /// either synced at a full book or marked: a book event stream always ends in a commit
        /// or a state change.
        #[test]
        fn edited_frames_never_panic(e in edits(), which in 0usize..3) {
            let frames = [
                PROBE.to_string(),
                r#"{"channel":"trades","price":"13660704","side":"SELL","size":"0.01","timestamp":"2026-09-23T03:25:36.000Z","symbol":"BTC_JPY"}"#.to_string(),
                r#"{"status":0,"data":{"asks":[{"price":"13660704","size":"0.1"}],"bids":[{"price":"13660000","size":"0.2"}],"symbol":"BTC_JPY"},"responsetime":"2026-09-23T03:25:37.026Z"}"#.to_string(),
            ];
            let mut d = dec(Market::Linear, "BTC_JPY");
            let _ = collect(&mut d, &[PROBE]);
            let mut buf = edited(frames[which].as_bytes(), &e);
            let mut evs = Vec::new();
            d.on_frame(5, &mut buf, &mut |e| evs.push(e));
            d.on_timer(u64::MAX, &mut |e| evs.push(e));
            for e in &evs {
                match e.op {
                    BookOp::Set { px, qty, .. } | BookOp::Trade { px, qty, .. } => {
                        prop_assert!(px >= 0 && qty >= 0);
                    }
                    _ => {}
                }
            }
            let c = d.counters();
            prop_assert_eq!(c.frames, 2);
            prop_assert_eq!(c.malformed + c.snapshots + c.rest_snapshots + c.trades + c.acks + c.unknown + c.dropped, 2);
        }
    }
}
