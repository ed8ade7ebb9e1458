//! bitbank public stream: Socket.IO rooms `depth_whole_{pair}` (full book, ~every 15 s) and
//! `depth_diff_{pair}` (changes, `s` sequence ids), `transactions_{pair}`; the REST
//! `GET /{pair}/depth` body (live, or recorded as a plain frame line) is a whole too. Docs:
//! bitbankinc/bitbank-api-docs `public-stream.md`, VENUES.md §1.5.

pub mod connector;
pub mod sim;
pub mod sim_frames;
pub mod sync;
pub mod top;
pub mod wire;

pub use connector::Bitbank;

use crate::msg::{BookState, MdEvent};
use crate::venue::json::JsonParser;
use crate::venue::{emit_trade, BookRoutes, Decoder, FeedCounters, FrameError, LevelUpdate};
use sync::{BookSync, DiffHead};
use wire::{BookTrade, Frame, Packet};

/// Public stream URL (Socket.IO 4).
pub const WS_URL: &str = "wss://stream.bitbank.cc/socket.io/?EIO=4&transport=websocket";
/// Public REST host (`/{pair}/depth`).
pub const REST_BASE: &str = "https://public.bitbank.cc";

/// The frames that join `pair`'s rooms: depth diffs first (buffered until the whole), the
/// whole, the trades.
pub fn join_frames(pair: &str) -> [String; 3] {
    let join = |room: &str| format!(r#"42["join-room","{room}{pair}"]"#);
    [
        join("depth_diff_"),
        join("depth_whole_"),
        join("transactions_"),
    ]
}

/// Limits and timings of a [`BitbankDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitbankConfig {
    /// A synced book turns `stale` after this much silence (ns); diffs come ~every 350 ms.
    pub max_silence_ns: u64,
    /// No whole for this long turns the book `stale` and the rooms are joined again (ns);
    /// wholes come ~every 15 s.
    pub max_whole_age_ns: u64,
    /// Diffs kept per book (waiting for a whole, and since the last one).
    pub buffer_diffs: usize,
    /// Levels kept per book (all diffs together).
    pub buffer_levels: usize,
}

impl Default for BitbankConfig {
    fn default() -> Self {
        BitbankConfig {
            max_silence_ns: 10_000_000_000,
            max_whole_age_ns: 45_000_000_000,
            // ~3 diffs/s of up to ~70 levels: minutes of stream.
            buffer_diffs: 512,
            buffer_levels: 32_768,
        }
    }
}

/// Decoder for one bitbank Socket.IO connection.
#[derive(Debug)]
pub struct BitbankDecoder {
    json: JsonParser,
    routes: BookRoutes,
    books: Vec<BookSync>,
    levels: Vec<LevelUpdate>,
    trades: Vec<BookTrade>,
    counters: FeedCounters,
    pub config: BitbankConfig,
    resync_requested: bool,
    /// The last frame error, for the cold path's log.
    pub last_error: Option<FrameError>,
}

impl BitbankDecoder {
    pub fn new(routes: BookRoutes) -> BitbankDecoder {
        BitbankDecoder::with_config(routes, BitbankConfig::default())
    }

    pub fn with_config(routes: BookRoutes, config: BitbankConfig) -> BitbankDecoder {
        let n = routes.books.len();
        let mut d = BitbankDecoder {
            json: JsonParser::default(),
            routes,
            books: Vec::with_capacity(n.max(4)),
            levels: Vec::with_capacity(4096),
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
            self.books.push(BookSync::new(
                self.config.buffer_diffs,
                self.config.buffer_levels,
            ));
        }
    }

    /// Sync state of book `i`.
    pub fn book_state(&self, i: usize) -> Option<BookState> {
        self.books.get(i).map(|b| b.sb.state)
    }

    /// The book's `s` (the newest applied diff's, or the whole's), when a whole is under it.
    pub fn book_seq(&self, i: usize) -> Option<u64> {
        self.books.get(i).and_then(|b| b.sb.last_seq)
    }

    /// Reads `frame`; `rest_pair` is the pair a REST answer's URL names.
    fn read(
        &mut self,
        frame: &mut [u8],
        rest_pair: Option<&str>,
    ) -> (Result<Frame, FrameError>, Option<usize>) {
        let mut routed: Option<usize> = None;
        let at = match wire::packet(frame) {
            Err(e) => return (Err(e), None),
            Ok(Packet::Done(f)) => return (Ok(f), None),
            Ok(Packet::Event(at)) => Some(at),
            Ok(Packet::Json) => None,
        };
        let routes = &mut self.routes;
        let levels = &mut self.levels;
        let trades = &mut self.trades;
        let books = &self.books;
        let parsed = match at {
            Some(at) => self.json.parse(&mut frame[at..], |root| {
                wire::read_event(
                    root,
                    |pair| {
                        let i = routes.lookup(pair)?;
                        let inst = &routes.books[i];
                        Some((i, inst.tick, inst.lot))
                    },
                    levels,
                    trades,
                    &mut routed,
                )
            }),
            None => self.json.parse(frame, |root| {
                wire::read_rest(
                    root,
                    || {
                        let i = match rest_pair {
                            Some(p) => routes.lookup(p)?,
                            None => rest_owner(books, routes.books.len())?,
                        };
                        let inst = &routes.books[i];
                        Some((i, inst.tick, inst.lot))
                    },
                    levels,
                )
            }),
        };
        match parsed {
            Ok(r) => (r, routed),
            Err(_) => (Err(FrameError::Json), routed),
        }
    }

    fn apply<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        read: (Result<Frame, FrameError>, Option<usize>),
        out: &mut F,
    ) {
        let frame = match read {
            (Ok(f), _) => f,
            (Err(e), routed) => return self.malformed(recv_ns, e, routed, out),
        };
        match frame {
            Frame::Diff { book, seq, ts_ms } => {
                self.ensure_book(book);
                self.books[book].on_diff(
                    &mut self.counters,
                    recv_ns,
                    book as u16,
                    DiffHead { seq, ts_ms },
                    &self.levels,
                    out,
                );
            }
            Frame::Whole {
                book,
                seq,
                ts_ms,
                rest,
            } => {
                self.ensure_book(book);
                self.books[book].on_whole(
                    &mut self.counters,
                    recv_ns,
                    book as u16,
                    seq,
                    ts_ms,
                    rest,
                    &self.levels,
                    out,
                );
            }
            Frame::Trades => {
                for &(book, px, qty, side, ts_ms) in &self.trades {
                    self.counters.events +=
                        emit_trade(recv_ns, book as u16, (px, qty, side, ts_ms), out);
                    self.counters.trades += 1;
                }
            }
            Frame::Control { connected } => {
                self.counters.acks += 1;
                if connected {
                    // The namespace is open: join the rooms now.
                    self.resync_requested = true;
                }
            }
            Frame::Error => self.counters.acks += 1,
            Frame::Other => self.counters.unknown += 1,
        }
    }

    /// A frame that could not be read: counted; a routed book whose depth frame it was is
    /// `resyncing` until its next whole.
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
            self.books[i].mark_resyncing(&mut self.counters, recv_ns, i as u16, out);
        }
    }
}

/// The book a REST depth body on a frame line belongs to (the body names no pair): the only
/// routed book, or else the only one waiting for a whole.
fn rest_owner(books: &[BookSync], n: usize) -> Option<usize> {
    if n == 1 {
        return Some(0);
    }
    let mut waiting = books
        .iter()
        .take(n)
        .enumerate()
        .filter(|(_, b)| !b.has_whole());
    match (waiting.next(), waiting.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

impl Decoder for BitbankDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.counters.frames += 1;
        let r = self.read(frame, None);
        self.apply(recv_ns, r, out);
    }

    /// A REST `/{pair}/depth` answer: a whole of that pair.
    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        let path = url.split('?').next().unwrap_or(url);
        let pair = path
            .strip_suffix("/depth")
            .and_then(|p| p.rsplit('/').next())
            .filter(|p| !p.is_empty());
        let Some(pair) = pair else {
            self.counters.unknown += 1;
            return;
        };
        let r = self.read(body, Some(pair));
        self.apply(recv_ns, r, out);
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
                c.max_whole_age_ns,
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
    use crate::msg::{BookOp, Side};
    use crate::venue::testutil::{collect, edited, edits, states, top};
    use proptest::prelude::*;

    fn dec() -> BitbankDecoder {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Bitbank,
            Market::Spot,
            &["btc_jpy"],
        )
        .unwrap();
        BitbankDecoder::new(r)
    }

    /// A `depth_diff_btc_jpy` event in the docs' shape (public-stream.md).
    fn diff(s: u64, b: &str, a: &str) -> String {
        format!(
            r#"42["message",{{"room_name":"depth_diff_btc_jpy","message":{{"data":{{"a":[{a}],"b":[{b}],"t":1790127295169,"s":"{s}","ao":"65.7738","bu":"4711.7088"}}}}}}]"#
        )
    }

    /// A `depth_whole_btc_jpy` event in the docs' shape.
    fn whole(seq: u64, bids: &str, asks: &str) -> String {
        format!(
            r#"42["message",{{"room_name":"depth_whole_btc_jpy","message":{{"data":{{"asks":[{asks}],"bids":[{bids}],"asks_over":"0.123","bids_under":"0.123","asks_under":"0","bids_over":"0","ask_market":"0","bid_market":"0","timestamp":1790127290000,"sequenceId":"{seq}"}}}}}}]"#
        )
    }

    #[test]
    fn handshake_whole_and_diffs_by_sequence_id() {
        let mut d = dec();
        let mut books = BookSet::new(1, 5, 1000);
        // the official wscat sample's handshake
        let evs = collect(
            &mut d,
            &[
                r#"0{"sid":"9-zd3P1G-BNu_w37ABMX","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#,
            ],
        );
        assert!(evs.is_empty());
        assert!(!d.take_resync_request());
        let _ = collect(&mut d, &[r#"40{"sid":"lUkRb31kqoS9cLPNMc0W"}"#]);
        assert!(
            d.take_resync_request(),
            "the namespace is open: join the rooms"
        );
        // diffs before the whole are held; the probe's prices (btc_jpy, 1 JPY tick)
        let evs = collect(
            &mut d,
            &[
                &diff(34423855350, r#"["13634294","0.5"]"#, ""),
                &diff(34423855352, r#"["13634295","0.25"]"#, r#"["13642554","0"]"#),
                &diff(34423855360, "", r#"["13641185","0.0006"]"#),
            ],
        );
        assert!(evs.is_empty());
        // the whole at 34423855352: the first two are in it, the third applies on top
        let evs = collect(
            &mut d,
            &[&whole(
                34423855352,
                r#"["13634295","0.25"],["13634294","0.5"]"#,
                r#"["13641186","1"],["13642554","2"]"#,
            )],
        );
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(
            top(&mut books, &evs),
            Some((13_634_295, 2_500, 13_641_185, 6))
        );
        assert_eq!(
            evs.last().unwrap().op,
            BookOp::Commit {
                seq: 34423855360,
                exch_ts_ms: 1790127295169
            }
        );
        assert_eq!(d.counters().dropped, 2);
        assert_eq!(d.book_seq(0), Some(34423855360));
        // live: a newer diff applies, a repeated one is stale
        let evs = collect(&mut d, &[&diff(34423855401, "", r#"["13641185","0"]"#)]);
        assert_eq!(
            top(&mut books, &evs),
            Some((13_634_295, 2_500, 13_641_186, 10_000))
        );
        let evs = collect(&mut d, &[&diff(34423855401, "", r#"["13641185","5"]"#)]);
        assert!(evs.is_empty());
        assert_eq!(d.counters().dropped, 3);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        // pings and pongs are counted, the trades read
        let evs = collect(
            &mut d,
            &[
                "2",
                "3",
                r#"42["message",{"room_name":"transactions_btc_jpy","message":{"data":{"transactions":[{"side":"sell","executed_at":1790127295200,"amount":"0.0100","price":"13634295","transaction_id":1}]}}}]"#,
                r#"42["message",{"room_name":"ticker_btc_jpy","message":{"data":{"sell":"13641186"}}}]"#,
            ],
        );
        assert_eq!(
            evs,
            vec![MdEvent {
                recv_ns: 1002,
                book: 0,
                op: BookOp::Trade {
                    px: 13_634_295,
                    qty: 100,
                    aggressor: Side::Ask,
                    exch_ts_ms: 1_790_127_295_200
                }
            }]
        );
        let c = d.counters();
        assert_eq!((c.acks, c.trades, c.unknown, c.malformed), (4, 1, 1, 0));
    }

    #[test]
    fn a_lost_diff_resyncs_until_a_newer_whole() {
        let mut d = dec();
        let w = whole(100, r#"["13634295","0.25"]"#, r#"["13641186","1"]"#);
        let _ = collect(&mut d, &[&w, &diff(105, r#"["13634296","1"]"#, "")]);
        // a diff of the book that cannot be read: the book is wrong from here
        let evs = collect(&mut d, &[&diff(110, r#"["13634296.5","1"]"#, "")]);
        assert_eq!(states(&evs), vec![BookState::Resyncing]);
        assert_eq!(d.counters().resyncs, 1);
        let evs = collect(&mut d, &[&diff(120, r#"["13634297","1"]"#, "")]);
        assert!(evs.is_empty(), "held for the whole");
        // the late whole at 100 cannot repair it; one after everything seen can
        let evs = collect(&mut d, &[&w]);
        assert!(evs.is_empty());
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
        let evs = collect(
            &mut d,
            &[&whole(115, r#"["13634296","1"]"#, r#"["13641186","1"]"#)],
        );
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        assert_eq!(d.book_seq(0), Some(120));
        // a disconnect: resyncing, then the next whole
        let mut evs = Vec::new();
        d.on_disconnect(5_000, &mut |e| evs.push(e));
        assert_eq!(states(&evs), vec![BookState::Resyncing]);
        let _ = collect(&mut d, &[&whole(130, r#"["1","1"]"#, r#"["2","1"]"#)]);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn rest_depth_body_seeds_like_a_whole() {
        // public-api.md `GET /{pair}/depth`, as a frame line and as a REST answer.
        let body = r#"{"success":1,"data":{"asks":[["13641186","1"]],"bids":[["13634295","0.25"]],"asks_over":"0","bids_under":"0","asks_under":"0","bids_over":"0","ask_market":"0","bid_market":"0","timestamp":1790127290000,"sequenceId":"200"}}"#;
        let mut d = dec();
        let _ = collect(&mut d, &[&diff(201, r#"["13634290","3"]"#, "")]);
        let evs = collect(&mut d, &[body]);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(d.counters().rest_snapshots, 1);
        assert_eq!(d.book_seq(0), Some(201));
        let mut d = dec();
        let mut b = body.as_bytes().to_vec();
        let mut evs = Vec::new();
        d.on_rest(
            1,
            "https://public.bitbank.cc/btc_jpy/depth",
            &mut b,
            &mut |e| evs.push(e),
        );
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        let mut b = body.as_bytes().to_vec();
        d.on_rest(
            2,
            "https://public.bitbank.cc/btc_jpy/ticker",
            &mut b,
            &mut |e| evs.push(e),
        );
        assert_eq!(d.counters().unknown, 1);
    }

    #[test]
    fn malformed_frames_are_counted_not_fatal() {
        let mut d = dec();
        let w = whole(100, r#"["13634295","0.25"]"#, r#"["13641186","1"]"#);
        let _ = collect(&mut d, &[&w]);
        let bad = [
            &w[..w.len() / 2],
            "x",
            "",
            "42 [",
            r#"42["message",{"room_name":"depth_diff_btc_jpy","message":{"data":{"a":[],"b":[],"t":1}}}]"#,
            r#"42["message",{"room_name":"transactions_btc_jpy","message":{"data":{"transactions":[{"side":"hold","executed_at":1,"amount":"1","price":"1"}]}}}]"#,
            r#"{"success":1,"data":{"asks":[["x","1"]],"bids":[],"timestamp":1,"sequenceId":"300"}}"#,
        ];
        let evs = collect(&mut d, &bad);
        assert_eq!(d.counters().malformed, bad.len() as u64);
        assert_eq!(
            states(&evs),
            vec![BookState::Resyncing],
            "the bad diff's book"
        );
        let _ = collect(&mut d, &[&whole(300, r#"["1","1"]"#, r#"["2","1"]"#)]);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn whole_overdue_asks_to_join_again() {
        let mut d = dec();
        d.config.max_whole_age_ns = 1_000;
        d.config.max_silence_ns = 100_000;
        let _ = collect(&mut d, &[&whole(1, r#"["1","1"]"#, r#"["2","1"]"#)]); // t = 1000
        let mut evs = Vec::new();
        d.on_timer(1_500, &mut |e| evs.push(e));
        assert!(!d.take_resync_request());
        d.on_timer(2_001, &mut |e| evs.push(e));
        assert!(d.take_resync_request());
        assert_eq!(states(&evs), vec![BookState::Stale]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Edited frames never panic and never emit a negative price or size; every frame is
        /// counted once.
        #[test]
        fn edited_frames_never_panic(e in edits(), which in 0usize..4) {
            let frames = [
                diff(34423855352, r#"["13634294","0"],["13634295","0.25"]"#, r#"["13642554","0"],["13641185","0.0006"]"#),
                whole(34423855353, r#"["13634295","0.25"]"#, r#"["13641186","1"]"#),
                r#"42["message",{"room_name":"transactions_btc_jpy","message":{"data":{"transactions":[{"side":"buy","executed_at":1568360906000,"amount":"0.0001","price":"1094101","transaction_id":74039226}]}}}]"#.to_string(),
                r#"0{"sid":"9-zd3P1G-BNu_w37ABMX","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#.to_string(),
            ];
            let mut d = dec();
            let _ = collect(&mut d, &[&frames[1]]);
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
            prop_assert_eq!(d.counters().frames, 2);
        }
    }
}
