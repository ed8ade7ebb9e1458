//! Bybit v5 public market data: `orderbook.{depth}.{symbol}` snapshot + delta, `publicTrade`.

pub mod connector;
pub mod drill;
pub mod live;
pub mod private;
pub mod recon;
pub mod sim;
pub mod sim_frames;
pub mod sim_private;
pub mod sync;
pub mod top;
pub mod wire;

use crate::msg::{BookOp, BookState, MdEvent};
use crate::venue::json::scan::{GiveUp, Scan};
use crate::venue::json::JsonParser;
use crate::venue::{
    emit_state, BookRoutes, Decoder, FeedCounters, FrameError, LevelUpdate, SyncBook,
};
pub use connector::{market_of_addr, public_url, subscribe_frames, Bybit, PING_FRAME};
use wire::{Frame, TradeUpdate};

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
    /// Read frames with the pull scanner first (see [`BybitDecoder::set_fast_path`]).
    fast_path: bool,
    fast_frames: u64,
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
            fast_path: true,
            fast_frames: 0,
            last_error: None,
        }
    }

    /// Sync state of book `i`.
    pub fn book_state(&self, i: usize) -> Option<BookState> {
        self.sync.get(i).map(|s| s.state)
    }
}

/// What `on_frame` keeps of a frame once it is read (nothing borrowed from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    Book { snapshot: bool, u: u64, ts_ms: u64 },
    Trades,
    Ack,
    Other,
}

impl Head {
    #[inline]
    fn of(f: Frame<'_>) -> Head {
        match f {
            Frame::Book {
                snapshot, u, ts_ms, ..
            } => Head::Book { snapshot, u, ts_ms },
            Frame::Trades { .. } => Head::Trades,
            Frame::Ack { .. } => Head::Ack,
            Frame::Other => Head::Other,
        }
    }
}

impl BybitDecoder {
    /// Turns the pull-scanner fast path on (the default) or off. Off, every frame is read with
    /// simd-json; on, simd-json reads only the frames the fast path gives up on. The events,
    /// counters and errors are the same either way.
    pub fn set_fast_path(&mut self, on: bool) {
        self.fast_path = on;
    }

    /// Frames read by the fast path so far (the rest of [`FeedCounters::frames`] went to
    /// simd-json).
    pub fn fast_path_frames(&self) -> u64 {
        self.fast_frames
    }

    /// The fast path: the frame's head and routed book, or `GiveUp`.
    #[inline]
    fn read_fast(&mut self, frame: &[u8]) -> Scan<(Head, Option<usize>)> {
        let routes = &self.routes;
        let mut routed: Option<usize> = None;
        let f = wire::read_fast(
            frame,
            |sym| {
                Ok(routes.route_fast(sym)?.map(|(i, tick, lot)| {
                    routed = Some(i);
                    (tick, lot)
                }))
            },
            &mut self.levels,
            &mut self.trades,
        )?;
        Ok((Head::of(f), routed))
    }

    /// The reference path: simd-json's tape. Counts a frame it cannot read (and resyncs its
    /// book when it is a routed book's) and returns `None` for it.
    #[inline(never)]
    fn read_tape<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        frame: &mut [u8],
        out: &mut F,
    ) -> Option<(Head, Option<usize>)> {
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
            r.map(Head::of)
        });
        match parsed {
            Ok(Ok(h)) => Some((h, routed)),
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
                None
            }
            Err(_) => {
                self.counters.malformed += 1;
                self.last_error = Some(FrameError::Json);
                None
            }
        }
    }
}

impl Decoder for BybitDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.counters.frames += 1;
        let fast = if self.fast_path {
            self.read_fast(frame)
        } else {
            Err(GiveUp)
        };
        let (head, routed) = match fast {
            Ok(h) => {
                self.fast_frames += 1;
                h
            }
            Err(GiveUp) => match self.read_tape(recv_ns, frame, out) {
                Some(h) => h,
                None => return,
            },
        };
        match head {
            Head::Book { snapshot, u, ts_ms } => {
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
            Head::Trades => {
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
            Head::Ack => self.counters.acks += 1,
            Head::Other => self.counters.unknown += 1,
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
    use crate::instrument::{InstrumentTable, Market, Venue};
    use crate::msg::Side;
    use crate::venue::testutil::{collect, edited, edits, shared_data};
    use proptest::prelude::*;

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

    /// Two decoders of the same books, one on the fast path and one on simd-json only.
    struct Pair {
        fast: BybitDecoder,
        tape: BybitDecoder,
    }

    impl Pair {
        fn new(market: Market, symbols: &[&str]) -> Pair {
            let r =
                BookRoutes::new(InstrumentTable::default(), Venue::Bybit, market, symbols).unwrap();
            let mut tape = BybitDecoder::new(r.clone());
            tape.set_fast_path(false);
            Pair {
                fast: BybitDecoder::new(r),
                tape,
            }
        }

        /// Feeds one frame to both and checks they agree on everything observable; returns
        /// the events.
        fn feed(&mut self, t: u64, frame: &[u8]) -> Result<Vec<MdEvent>, String> {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut buf = frame.to_vec();
            self.fast.on_frame(t, &mut buf, &mut |e| a.push(e));
            let mut buf = frame.to_vec();
            self.tape.on_frame(t, &mut buf, &mut |e| b.push(e));
            let (f, g) = (&mut self.fast, &mut self.tape);
            let shown = || String::from_utf8_lossy(frame).into_owned();
            if a != b {
                return Err(format!("events differ on {}:\n{a:?}\n{b:?}", shown()));
            }
            if f.counters() != g.counters() {
                return Err(format!(
                    "counters differ on {}:\n{:?}\n{:?}",
                    shown(),
                    f.counters(),
                    g.counters()
                ));
            }
            if f.last_error != g.last_error {
                return Err(format!(
                    "errors differ on {}: {:?} vs {:?}",
                    shown(),
                    f.last_error,
                    g.last_error
                ));
            }
            let keys = |d: &BybitDecoder| -> Vec<_> {
                (0..d.routes.books.len())
                    .map(|i| (d.routes.key(i), d.book_state(i)))
                    .collect()
            };
            if keys(f) != keys(g) {
                return Err(format!("routes or book states differ on {}", shown()));
            }
            if f.take_resync_request() != g.take_resync_request() {
                return Err(format!("resync requests differ on {}", shown()));
            }
            Ok(a)
        }
    }

    /// Every `recv` frame of the Bybit recording as (market, frame), in file order.
    fn recorded_frames() -> Option<Vec<(Market, Vec<u8>)>> {
        let path = shared_data("bybit_v5_cryptofeed_20260809.jsonl")?;
        let loaded = crate::replay::input::load(&[path], None, None).unwrap();
        let frames = loaded
            .records
            .iter()
            .filter(|r| r.kind == crate::record::RecordKind::Recv)
            .map(|r| (loaded.conns[&r.conn].1, r.data.clone()))
            .collect();
        Some(frames)
    }

    /// `frame` re-serialized with its object keys sorted (serde_json's map order): `data` before
    /// `topic`, `a` before `b`, `cts` before `ts`.
    fn keys_sorted(frame: &[u8]) -> Vec<u8> {
        let v: serde_json::Value = serde_json::from_slice(frame).unwrap();
        serde_json::to_vec(&v).unwrap()
    }

    /// Runs `frames` through a fast/tape pair per market; returns (frames, events, read by the
    /// fast path, books).
    fn differential(frames: &[(Market, Vec<u8>)]) -> (u64, u64, u64, usize) {
        let mut pairs: Vec<(Market, Pair)> = Vec::new();
        let mut events = 0;
        for (n, (m, f)) in frames.iter().enumerate() {
            let i = match pairs.iter().position(|(pm, _)| pm == m) {
                Some(i) => i,
                None => {
                    pairs.push((*m, Pair::new(*m, &[])));
                    pairs.len() - 1
                }
            };
            let evs = pairs[i]
                .1
                .feed(1_000 + n as u64, f)
                .unwrap_or_else(|e| panic!("frame {n}: {e}"));
            events += evs.len() as u64;
        }
        let sum = |g: &dyn Fn(&BybitDecoder) -> u64| pairs.iter().map(|(_, p)| g(&p.fast)).sum();
        let books = pairs.iter().map(|(_, p)| p.fast.routes.books.len()).sum();
        (
            sum(&|d| d.counters().frames),
            events,
            sum(&|d| d.fast_path_frames()),
            books,
        )
    }

    /// (a) Every recorded frame: the fast path and simd-json emit the same events, counters,
    /// errors and book states; and the fast path reads all of them but the first frame of each
    /// book (routing a new symbol adds a book, which only the full path does).
    #[test]
    fn fast_path_matches_simd_json_on_every_recorded_frame() {
        let Some(frames) = recorded_frames() else {
            return;
        };
        let (n, events, fast, books) = differential(&frames);
        assert_eq!(n, frames.len() as u64);
        assert_eq!(books, 6);
        assert!(events > 2142 * 10, "{events} events");
        assert_eq!(n - fast, books as u64, "frames left to simd-json");
    }

    /// The same with every object's keys in another order (sorted): `data` before `topic` is
    /// read after the topic is known, asks before bids still come out bids first.
    #[test]
    fn fast_path_does_not_rely_on_key_order() {
        let Some(frames) = recorded_frames() else {
            return;
        };
        let sorted: Vec<(Market, Vec<u8>)> =
            frames.iter().map(|(m, f)| (*m, keys_sorted(f))).collect();
        assert!(sorted[..50]
            .iter()
            .any(|(_, f)| f.starts_with(br#"{"cts":"#) || f.starts_with(br#"{"data":"#)));
        let (n, _, fast, books) = differential(&sorted);
        assert_eq!(n - fast, books as u64, "frames left to simd-json");
    }

    /// Frames of every kind the decoder reads (recorded ones when the shared data is there).
    fn sample_frames() -> Vec<(Market, Vec<u8>)> {
        let mut out: Vec<(Market, Vec<u8>)> = [
            SNAP.to_string(),
            delta(11, r#"["100.0","0"],["99.8","5.5"]"#),
            r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":5,"data":[{"T":7,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick","i":"a9","BT":false},{"T":"8","S":"Buy","v":"1","p":"65114.3"}]}"#.to_string(),
            r#"{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}"#.to_string(),
            r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"65114.20","x":[1,-2.5,{"y":null}]},"cs":7,"ts":8}"#.to_string(),
        ]
        .into_iter()
        .map(|f| (Market::Linear, f.into_bytes()))
        .collect();
        if let Some(frames) = recorded_frames() {
            // The first frame of each kind and size class, per market.
            let mut seen = std::collections::BTreeSet::new();
            for (m, f) in frames {
                let head = String::from_utf8_lossy(&f[..f.len().min(40)]).into_owned();
                let kind = head
                    .split(['.', ','].as_ref())
                    .next()
                    .unwrap_or("")
                    .to_string();
                // BTCUSDT (the routed book) and others, linear and spot (other key orders).
                let btc = f.windows(8).any(|w| w == b".BTCUSDT");
                if seen.insert((m == Market::Spot, btc, kind, f.len() / 2000)) {
                    out.push((m, f));
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// (b) Random edits of real frames: both paths emit the same events and count the same
        /// (malformed frames included), resync the same books, and never panic.
        #[test]
        fn fast_path_matches_simd_json_on_mutated_frames(
            which in any::<prop::sample::Index>(),
            edits in edits(),
        ) {
            let frames = SAMPLES.get_or_init(sample_frames);
            let (m, frame) = &frames[which.index(frames.len())];
            let mut p = Pair::new(*m, &["BTCUSDT"]);
            // A synced book first, so deltas and malformed book frames change something.
            let snap = frames
                .iter()
                .find(|(fm, f)| {
                    fm == m
                        && f.starts_with(br#"{"topic":"orderbook.200.BTCUSDT","#)
                        && f.windows(19).any(|w| w == br#""type":"snapshot","#)
                })
                .map(|(_, f)| f.clone())
                .unwrap_or_else(|| SNAP.as_bytes().to_vec());
            p.feed(1, &snap).map_err(TestCaseError::fail)?;
            let bad = edited(frame, &edits);
            p.feed(2, &bad).map_err(TestCaseError::fail)?;
            // And a frame after it: the sync state it left behind is the same.
            p.feed(3, frame).map_err(TestCaseError::fail)?;
        }

        /// Whitespace anywhere JSON allows it (and where it does not: inside strings and
        /// numbers) gives the same result on both paths.
        #[test]
        fn fast_path_matches_simd_json_with_inserted_whitespace(
            which in any::<prop::sample::Index>(),
            spots in prop::collection::vec((any::<usize>(), prop::sample::select(b" \t\n\r".to_vec())), 1..12),
        ) {
            let frames = SAMPLES.get_or_init(sample_frames);
            let (m, frame) = &frames[which.index(frames.len())];
            let mut f = frame.clone();
            for (p, b) in spots {
                let at = p % (f.len() + 1);
                f.insert(at, b);
            }
            let mut p = Pair::new(*m, &["BTCUSDT"]);
            p.feed(1, SNAP.as_bytes()).map_err(TestCaseError::fail)?;
            p.feed(2, &f).map_err(TestCaseError::fail)?;
        }
    }

    static SAMPLES: std::sync::OnceLock<Vec<(Market, Vec<u8>)>> = std::sync::OnceLock::new();

    /// The mutation test is worth something only if edited frames take both roads: many still
    /// read by the fast path (valid JSON, whitespace, unknown fields), many malformed.
    #[test]
    fn mutations_exercise_both_paths() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let frames = SAMPLES.get_or_init(sample_frames);
        let (mut fast_read, mut malformed) = (0, 0);
        for i in 0..2000 {
            let edits = edits().new_tree(&mut runner).unwrap().current();
            let (m, frame) = &frames[i % frames.len()];
            let mut p = Pair::new(*m, &["BTCUSDT"]);
            p.feed(1, SNAP.as_bytes()).unwrap();
            let before = (p.fast.fast_path_frames(), p.fast.counters().malformed);
            p.feed(2, &edited(frame, &edits)).unwrap();
            fast_read += p.fast.fast_path_frames() - before.0;
            malformed += p.fast.counters().malformed - before.1;
        }
        eprintln!("{fast_read} read by the fast path, {malformed} malformed, of 2000");
        assert!(
            fast_read > 200 && malformed > 200,
            "{fast_read} fast, {malformed} malformed"
        );
    }

    #[test]
    fn fast_path_reads_the_usual_frames_and_gives_up_on_the_rest() {
        let mut p = Pair::new(Market::Linear, &["BTCUSDT"]);
        let fast = |p: &Pair| p.fast.fast_path_frames();
        let mut n = 0;
        let mut check = |p: &mut Pair, frame: &str, read_fast: bool| {
            let before = fast(p);
            n += 1;
            let evs = p.feed(n, frame.as_bytes()).unwrap();
            assert_eq!(fast(p) - before, read_fast as u64, "{frame}");
            evs
        };
        check(&mut p, SNAP, true);
        // Keys in any order, whitespace around every token.
        let evs = check(
            &mut p,
            r#" { "data" : { "u" : 11 , "a" : [ [ "100.2" , "1" ] ] , "b" : [ [ "99.9" , "0" ] ] } , "cts" : 4 , "type" : "delta" , "topic" : "orderbook.200.BTCUSDT" } "#,
            true,
        );
        assert_eq!(
            evs[0].op,
            BookOp::Set {
                side: Side::Bid,
                px: 999,
                qty: 0
            }
        );
        assert_eq!(
            evs[1].op,
            BookOp::Set {
                side: Side::Ask,
                px: 1002,
                qty: 1000
            }
        );
        assert_eq!(
            evs[2].op,
            BookOp::Commit {
                seq: 11,
                exch_ts_ms: 4
            }
        );
        // String-valued numbers where the wire reader takes them.
        check(
            &mut p,
            &delta(12, "").replace(r#""u":12"#, r#""u":"12""#),
            true,
        );
        // An escape in a value the decoder reads, a \u escape anywhere, duplicate keys, an
        // exponent, a huge number, a level with three elements: simd-json decides.
        check(
            &mut p,
            &delta(13, "").replace("BTCUSDT\"", "BTC\\u0055SDT\""),
            false,
        );
        check(
            &mut p,
            &delta(13, "").replace(r#""s":"BTCUSDT""#, r#""s":"B\"""#),
            true,
        );
        check(
            &mut p,
            &delta(13, "").replace(r#""s":"BTCUSDT""#, r#""s":"\u0042""#),
            false,
        );
        check(
            &mut p,
            &delta(13, "").replace(r#""ts":1"#, r#""ts":1,"ts":2"#),
            false,
        );
        check(
            &mut p,
            &delta(13, "").replace(r#""seq":6"#, r#""seq":6e0"#),
            false,
        );
        check(
            &mut p,
            &delta(13, "").replace(r#""seq":6"#, r#""seq":12345678901234567890"#),
            false,
        );
        check(&mut p, &delta(13, r#"["100.0","1","x"]"#), false);
        // Malformed frames: counted by the full path, as before.
        check(&mut p, &delta(13, r#"["100.05","1"]"#), false);
        check(
            &mut p,
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta""#,
            false,
        );
        assert_eq!(p.fast.counters().malformed, 2);
        // The book was resynced by the malformed delta; the next snapshot brings it back.
        check(&mut p, SNAP, true);
        assert_eq!(p.fast.book_state(0), Some(BookState::Synced));
        // Acks, pongs, other topics and unrouted symbols are read by the fast path too.
        check(
            &mut p,
            r#"{"success":true,"ret_msg":"subscribe","conn_id":"c","op":"subscribe","args":["orderbook.200.BTCUSDT"]}"#,
            true,
        );
        check(
            &mut p,
            r#"{"topic":"kline.1.BTCUSDT","data":[{"start":1,"confirm":false}],"ts":1,"type":"snapshot"}"#,
            true,
        );
        check(
            &mut p,
            r#"{"topic":"orderbook.200.ETHUSDT","type":"delta","data":{"b":[],"a":[],"u":5}}"#,
            true,
        );
        assert_eq!(p.fast.counters().acks, 1);
        assert_eq!(p.fast.counters().unknown, 2);
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
