//! bitFlyer Lightning public market data over JSON-RPC: `lightning_board_snapshot_{product}`
//! (full book ~every 5 s) + `lightning_board_{product}` diffs, `lightning_executions_{product}`.
//! One connection carries every product; a decoder serves the products of one market of the
//! instrument table (`FX_BTC_JPY` is `linear`, `BTC_JPY` is `spot`).

pub mod connector;
pub mod sim;
pub mod sim_frames;
pub mod sync;
pub mod top;
pub mod wire;

pub use connector::Bitflyer;

use crate::msg::{BookState, MdEvent};
use crate::venue::json::JsonParser;
use crate::venue::{emit_trade, BookRoutes, Decoder, FeedCounters, FrameError, LevelUpdate};
use sync::BookSync;
use wire::{BookTrade, Frame, ReadError};

/// Public JSON-RPC WebSocket URL.
pub const WS_URL: &str = "wss://ws.lightstream.bitflyer.com/json-rpc";

/// The public WebSocket URL.
pub fn ws_url() -> &'static str {
    WS_URL
}

/// Subscribe frames (with ids, so the venue answers) for the board snapshots, board diffs and
/// executions of `product`; ids start at `first_id`.
pub fn subscribe_frames(product: &str, first_id: u64) -> [String; 3] {
    let ch = |prefix: &str, k: u64| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"subscribe","params":{{"channel":"{prefix}{product}"}},"id":{}}}"#,
            first_id + k
        )
    };
    [
        ch("lightning_board_snapshot_", 0),
        ch("lightning_board_", 1),
        ch("lightning_executions_", 2),
    ]
}

/// Limits and timings of a [`BitflyerDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitflyerConfig {
    /// A synced book turns `stale` after this much silence (ns); FX_BTC_JPY diffs ~7.5/s.
    pub max_silence_ns: u64,
    /// A book whose last snapshot is older than this turns `stale` and the feed is asked to
    /// resubscribe (ns); snapshots come ~every 5 s.
    pub max_snapshot_age_ns: u64,
    /// Capacity per side of the decoder's own copy of each book (mid and crossing checks).
    pub local_levels: usize,
}

impl Default for BitflyerConfig {
    fn default() -> Self {
        BitflyerConfig {
            max_silence_ns: 5_000_000_000,
            max_snapshot_age_ns: 15_000_000_000,
            local_levels: 2048,
        }
    }
}

/// Decoder for one bitFlyer JSON-RPC connection.
#[derive(Debug)]
pub struct BitflyerDecoder {
    json: JsonParser,
    routes: BookRoutes,
    books: Vec<BookSync>,
    levels: Vec<LevelUpdate>,
    trades: Vec<BookTrade>,
    counters: FeedCounters,
    pub config: BitflyerConfig,
    resync_requested: bool,
    /// The last frame error, for the cold path's log.
    pub last_error: Option<FrameError>,
}

impl BitflyerDecoder {
    pub fn new(routes: BookRoutes) -> BitflyerDecoder {
        BitflyerDecoder::with_config(routes, BitflyerConfig::default())
    }

    pub fn with_config(routes: BookRoutes, config: BitflyerConfig) -> BitflyerDecoder {
        let n = routes.books.len();
        let mut d = BitflyerDecoder {
            json: JsonParser::default(),
            routes,
            books: Vec::with_capacity(n.max(4)),
            levels: Vec::with_capacity(1024),
            trades: Vec::with_capacity(256),
            counters: FeedCounters::default(),
            config,
            resync_requested: false,
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
            self.books.push(BookSync::new(self.config.local_levels));
        }
    }

    /// Sync state of book `i`.
    pub fn book_state(&self, i: usize) -> Option<BookState> {
        self.books.get(i).map(|b| b.sb.state)
    }

    /// Best bid and ask (price, size) of the decoder's own copy of book `i`.
    pub fn top(&self, i: usize) -> Option<sync::Top> {
        self.books.get(i).map(|b| b.top())
    }
}

impl Decoder for BitflyerDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.counters.frames += 1;
        let mut routed: Option<usize> = None;
        let read = {
            let routes = &mut self.routes;
            wire::read(
                frame,
                |product| {
                    let i = routes.lookup(product)?;
                    let inst = &routes.books[i];
                    Some((i, inst.tick, inst.lot))
                },
                &mut self.levels,
                &mut self.trades,
                &mut routed,
            )
        };
        let result = match read {
            Ok(f) => Ok(f),
            Err(ReadError::Bad(e)) => Err(e),
            Err(ReadError::NotPlain) => {
                let routes = &mut self.routes;
                match self.json.parse(frame, |root| {
                    wire::classify(
                        root,
                        |product| {
                            let i = routes.lookup(product)?;
                            let inst = &routes.books[i];
                            Some((i, inst.tick, inst.lot))
                        },
                        &mut routed,
                    )
                }) {
                    Ok(r) => r,
                    Err(_) => Err(FrameError::Json),
                }
            }
        };
        let frame = match result {
            Ok(f) => f,
            Err(e) => {
                self.counters.malformed += 1;
                self.last_error = Some(e);
                // A lost board frame: a lost diff leaves the book wrong until the next snapshot.
                if let Some(i) = routed {
                    self.ensure_book(i);
                    let b = &mut self.books[i];
                    if b.has_snapshot() {
                        b.mark_resyncing(&mut self.counters, recv_ns, i as u16, out);
                    }
                }
                return;
            }
        };
        match frame {
            Frame::Board {
                book,
                snapshot,
                mid,
            } => {
                self.ensure_book(book);
                let tick = self.routes.books[book].tick;
                self.books[book].on_board(
                    &mut self.counters,
                    recv_ns,
                    book as u16,
                    snapshot,
                    &self.levels,
                    mid.as_ref().map(|m| m.as_str()),
                    tick,
                    out,
                );
            }
            Frame::Executions => {
                for &(book, px, qty, side, ts_ms) in &self.trades {
                    self.counters.events +=
                        emit_trade(recv_ns, book as u16, (px, qty, side, ts_ms), out);
                    self.counters.trades += 1;
                }
            }
            Frame::Ack { .. } => self.counters.acks += 1,
            Frame::Other => self.counters.unknown += 1,
        }
    }

    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let n = self.books.len().min(self.routes.books.len());
        let c = self.config;
        for i in 0..n {
            if self.books[i].on_timer(
                &mut self.counters,
                now_ns,
                i as u16,
                c.max_silence_ns,
                c.max_snapshot_age_ns,
                out,
            ) {
                self.resync_requested = true;
            }
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

    fn take_resync_request(&mut self) -> bool {
        std::mem::take(&mut self.resync_requested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::BookSet;
    use crate::instrument::{InstrumentTable, Market, Venue};
    use crate::msg::{BookOp, MarketMsg, Side};
    use crate::venue::testutil::{collect, mutated, shared_data, states};
    use proptest::prelude::*;

    const SAT: i64 = 100_000_000;

    fn dec() -> BitflyerDecoder {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Bitflyer,
            Market::Linear,
            &["FX_BTC_JPY"],
        )
        .unwrap();
        BitflyerDecoder::new(r)
    }

    fn board(snapshot: bool, mid: &str, bids: &str, asks: &str) -> String {
        let ch = if snapshot {
            "lightning_board_snapshot_FX_BTC_JPY"
        } else {
            "lightning_board_FX_BTC_JPY"
        };
        format!(
            r#"{{"jsonrpc":"2.0","method":"channelMessage","params":{{"channel":"{ch}","message":{{"mid_price":{mid},"bids":[{bids}],"asks":[{asks}]}}}}}}"#
        )
    }

    #[test]
    fn diffs_before_the_first_snapshot_are_dropped_then_every_snapshot_replaces() {
        let mut d = dec();
        let early = board(false, "101.0", r#"{"price":100.0,"size":1.0}"#, "");
        let evs = collect(&mut d, &[&early]);
        assert!(evs.is_empty());
        assert_eq!(d.counters().dropped, 1);
        let snap = board(
            true,
            "101.0",
            r#"{"price":99.0,"size":0.5},{"price":100.0,"size":0.0267539}"#,
            r#"{"price":103.0,"size":2.0},{"price":102.0,"size":0.1}"#,
        );
        let evs = collect(&mut d, &[&snap]);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(
            evs[2].op,
            BookOp::Set {
                side: Side::Bid,
                px: 100,
                qty: 2_675_390
            }
        );
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        assert_eq!(
            d.top(0),
            Some((Some((100, 2_675_390)), Some((102, SAT / 10))))
        );
        // a diff whose mid agrees
        let evs = collect(
            &mut d,
            &[&board(
                false,
                "100.5",
                r#"{"price":99.0,"size":0.0}"#,
                r#"{"price":101.0,"size":1}"#,
            )],
        );
        assert!(states(&evs).is_empty());
        assert_eq!(d.counters().mid_mismatch, 0);
        // a diff whose mid disagrees: stale until an update agrees again
        let evs = collect(&mut d, &[&board(false, "200.0", "", "")]);
        assert_eq!(states(&evs), vec![BookState::Stale]);
        assert_eq!(d.counters().mid_mismatch, 1);
        assert_eq!(d.book_state(0), Some(BookState::Stale));
        let _ = collect(&mut d, &[&board(false, "100.5", "", "")]);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        // a crossed book is stale too
        let evs = collect(
            &mut d,
            &[&board(false, "101.0", r#"{"price":101.0,"size":1}"#, "")],
        );
        assert_eq!(states(&evs), vec![BookState::Stale]);
        assert_eq!(d.counters().crossed, 1);
        // the next snapshot replaces everything
        let evs = collect(&mut d, &[&snap]);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        assert_eq!(
            d.top(0),
            Some((Some((100, 2_675_390)), Some((102, SAT / 10))))
        );
    }

    #[test]
    fn watchdogs_and_disconnect() {
        let mut d = dec();
        d.config.max_silence_ns = 100;
        d.config.max_snapshot_age_ns = 1_000;
        let snap = board(
            true,
            "101.0",
            r#"{"price":100.0,"size":1}"#,
            r#"{"price":102.0,"size":1}"#,
        );
        let _ = collect(&mut d, &[&snap]); // t = 1000
        let mut evs = Vec::new();
        d.on_timer(1_050, &mut |e| evs.push(e));
        assert!(evs.is_empty());
        d.on_timer(1_200, &mut |e| evs.push(e));
        assert_eq!(states(&evs), vec![BookState::Stale]);
        assert!(!d.take_resync_request(), "silence alone");
        d.on_timer(2_001, &mut |e| evs.push(e));
        assert!(d.take_resync_request(), "snapshot overdue: resubscribe");
        // diffs keep the book stale while the snapshot is overdue
        let evs = collect(&mut d, &[&board(false, "101.0", "", "")]);
        assert_eq!(states(&evs), vec![BookState::Stale]);
        let mut evs = Vec::new();
        d.on_disconnect(3_000, &mut |e| evs.push(e));
        assert_eq!(states(&evs), vec![BookState::Resyncing]);
        let _ = collect(&mut d, &[&board(false, "101.0", "", "")]);
        assert_eq!(d.counters().dropped, 1);
    }

    #[test]
    fn executions_acks_and_unknown() {
        let mut d = dec();
        let evs = collect(
            &mut d,
            &[
                r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_executions_FX_BTC_JPY","message":[{"id":2284079807,"side":"BUY","price":5860832.0,"size":0.01,"exec_date":"2021-12-12T23:05:29.9692063Z","buy_child_order_acceptance_id":"a","sell_child_order_acceptance_id":"b"},{"id":2,"side":"SELL","price":5859870.0,"size":0.02,"exec_date":"2021-12-12T23:05:31.5499476Z"},{"id":3,"side":"","price":5859870.0,"size":0.02,"exec_date":"2021-12-12T23:05:31Z"}]}}"#,
                r#"{"jsonrpc":"2.0","id":1,"result":true}"#,
                r#"[{"jsonrpc":"2.0","id":1,"result":true},{"jsonrpc":"2.0","id":2,"error":{"code":-32009,"message":"already subscribed"}}]"#,
                r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_ticker_FX_BTC_JPY","message":{}}}"#,
                r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_board_ETH_JPY","message":{}}}"#,
            ],
        );
        let t = |px, qty, aggressor, exch_ts_ms| MdEvent {
            recv_ns: 1_000,
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
                t(5860832, SAT / 100, Side::Bid, 1_639_350_329_969),
                t(5859870, SAT / 50, Side::Ask, 1_639_350_331_549)
            ]
        );
        let c = d.counters();
        assert_eq!((c.trades, c.acks, c.unknown, c.malformed), (2, 2, 2, 0));
    }

    #[test]
    fn malformed_frames_are_counted_not_fatal() {
        let mut d = dec();
        let snap = board(
            true,
            "101.0",
            r#"{"price":100.0,"size":1}"#,
            r#"{"price":102.0,"size":1}"#,
        );
        let _ = collect(&mut d, &[&snap]);
        let bad = [
            r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_board_FX_BTC_JPY","message":{"bids":[{"price":1"#,
            &board(false, "1", r#"{"price":"x","size":1}"#, ""),
            &board(false, "1", r#"{"price":1e300,"size":1}"#, ""),
            &board(false, "1", r#"{"price":100.5,"size":1}"#, ""),
            &board(false, "1", r#"{"price":100,"size":-1}"#, ""),
            &board(false, "1", r#"{"price":100}"#, ""),
            &board(false, "1", r#"[]"#, ""),
            r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_board_FX_BTC_JPY","message":[]}}"#,
            r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_executions_FX_BTC_JPY","message":[{"side":"HOLD","price":1,"size":1}]}}"#,
            r#"{"jsonrpc":"2.0","method":"channelMessage","params":{}}"#,
            r#"7"#,
            r#""#,
        ];
        let evs = collect(&mut d, &bad);
        assert_eq!(d.counters().malformed, bad.len() as u64);
        assert_eq!(states(&evs), vec![BookState::Resyncing]);
        let _ = collect(&mut d, &[&snap]);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn subscribe_frames_are_json_rpc() {
        let f = subscribe_frames("FX_BTC_JPY", 1);
        let v: serde_json::Value = serde_json::from_str(&f[1]).unwrap();
        assert_eq!(v["params"]["channel"], "lightning_board_FX_BTC_JPY");
        assert_eq!(v["id"], 2);
        assert_eq!(v["jsonrpc"], "2.0");
        assert!(f[0].contains("lightning_board_snapshot_FX_BTC_JPY"));
        assert!(f[2].contains("lightning_executions_FX_BTC_JPY"));
        assert_eq!(ws_url(), "wss://ws.lightstream.bitflyer.com/json-rpc");
    }

    /// Exact decimal tokens following `"key":` in raw JSON text (the numbers as the venue wrote
    /// them, read without any float).
    fn raw_tokens<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
        let pat = format!("\"{key}\":");
        text.match_indices(&pat)
            .map(|(i, _)| {
                let rest = &text[i + pat.len()..];
                let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
                &rest[..end]
            })
            .collect()
    }

    #[test]
    fn recorded_bitflyer_fx_btc_jpy() {
        let Some(path) = shared_data("bitflyer_cryptofeed_20211212.jsonl") else {
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut d = dec();
        let mut books = BookSet::new(1, 5, 5000);
        let table = InstrumentTable::default();
        let inst = table
            .get(Venue::Bitflyer, Market::Linear, "FX_BTC_JPY")
            .unwrap();
        let (mut before_first, mut applied, mut mid_agree, mut snapshots) = (0, 0, 0, 0);
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["t"] != "recv" {
                continue;
            }
            let raw = v["data"].as_str().unwrap();
            let ts = (v["ts"].as_f64().unwrap() * 1e9) as u64;
            let is_board = raw.contains(r#""channel":"lightning_board_FX_BTC_JPY""#);
            let is_snap = raw.contains(r#""channel":"lightning_board_snapshot_FX_BTC_JPY""#);
            let mut evs = Vec::new();
            let mut buf = raw.as_bytes().to_vec();
            d.on_frame(ts, &mut buf, &mut |e| evs.push(e));
            let mut commit = None;
            for e in &evs {
                if let Some(MarketMsg::Book(u)) = books.apply(e) {
                    if matches!(e.op, BookOp::Commit { .. }) {
                        commit = Some(u);
                    }
                }
            }
            if is_snap {
                snapshots += 1;
                // Every price and size, read exactly from the raw tokens, is in the snapshot.
                let px: Vec<i64> = raw_tokens(raw, "price")
                    .iter()
                    .map(|t| inst.tick.parse(t.as_bytes()).unwrap())
                    .collect();
                let qty: Vec<i64> = raw_tokens(raw, "size")
                    .iter()
                    .map(|t| inst.lot.parse(t.as_bytes()).unwrap())
                    .collect();
                let got: Vec<(i64, i64)> = evs
                    .iter()
                    .filter_map(|e| match e.op {
                        BookOp::Set { px, qty, .. } => Some((px, qty)),
                        _ => None,
                    })
                    .collect();
                let want: Vec<(i64, i64)> = px.into_iter().zip(qty).collect();
                assert_eq!(got, want, "snapshot levels equal the raw tokens");
            }
            if is_board {
                match commit {
                    None => {
                        assert_eq!(
                            snapshots, 0,
                            "a diff after the first snapshot was not applied"
                        );
                        before_first += 1;
                    }
                    Some(u) => {
                        applied += 1;
                        // The venue's mid, exact from the raw token, against the book stage's
                        // mid floored to the yen (how bitFlyer computes `mid_price`).
                        let mid = raw_tokens(raw, "mid_price")[0];
                        let mid = inst.tick.parse(mid.as_bytes()).unwrap();
                        if mid == (u.bid_px + u.ask_px).div_euclid(2) {
                            mid_agree += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(before_first, 16, "diffs before the first snapshot, dropped");
        assert_eq!(applied, 213, "diffs applied after it");
        assert_eq!(mid_agree, 212, "local mid equals mid_price");
        assert_eq!(d.counters().mid_mismatch, 1);
        assert_eq!(d.counters().malformed, 0);
        assert_eq!(snapshots, 6);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Random byte mutations and truncations of valid frames never panic and never emit a
        /// negative price or size.
        #[test]
        fn mutated_frames_never_panic(
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
            which in 0usize..3,
        ) {
            let frames = [
                board(false, "5860954.0", r#"{"price":5854504.0,"size":0.0},{"price":5853547.0,"size":0.0267539}"#, r#"{"price":5887534.0,"size":0.0267539}"#),
                board(true, "5860954.0", r#"{"price":5854504.0,"size":1.5}"#, r#"{"price":5887534.0,"size":0.0267539}"#),
                r#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_executions_FX_BTC_JPY","message":[{"id":1,"side":"BUY","price":5860832.0,"size":0.01,"exec_date":"2021-12-12T23:05:29.9692063Z"}]}}"#.to_string(),
            ];
            let mut d = dec();
            let _ = collect(&mut d, &[&frames[1]]);
            let mut buf = mutated(&frames[which], &edits, cut);
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
            prop_assert_eq!(d.counters().frames, 2);
        }
    }
}
