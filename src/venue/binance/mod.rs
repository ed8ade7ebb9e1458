//! Binance spot public market data: `<symbol>@depth@100ms` diffs seeded from the REST depth
//! snapshot, `<symbol>@aggTrade` prints. Always the spot market.

pub mod connector;
pub mod sim;
pub mod sim_frames;
pub mod sync;
pub mod top;
pub mod wire;

pub use connector::{
    snapshot_url, snapshot_url_at, subscribe_frame, ws_url, ws_url_at, Binance, REST_BASE,
    SNAPSHOT_DEPTH, WS_BASE,
};

use crate::msg::{BookState, MdEvent};
use crate::venue::json::scan::GiveUp;
use crate::venue::json::JsonParser;
use crate::venue::{
    emit_state, emit_trade, query_param, BookRoutes, Decoder, FeedCounters, FrameError,
    LevelUpdate, SnapshotRequests,
};
pub use sync::Rule;
use sync::{BookSync, DiffHead, Verdict};
use wire::Frame;

/// Limits and timings of a [`BinanceDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinanceConfig {
    /// A synced book turns `stale` after this much silence (ns). The stream only sends when the
    /// book changes, so quiet symbols need a generous value.
    pub max_silence_ns: u64,
    /// A snapshot requested this long ago without arriving is requested again (ns).
    pub snapshot_retry_ns: u64,
    /// Diffs buffered per book while waiting for a snapshot.
    pub buffer_diffs: usize,
    /// Levels buffered per book while waiting for a snapshot (all diffs together).
    pub buffer_levels: usize,
    /// Spot's sync procedure or USD-M futures' (`pu`).
    pub rule: Rule,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        BinanceConfig {
            max_silence_ns: 10_000_000_000,
            snapshot_retry_ns: 10_000_000_000,
            // 100 ms diffs: ~50 s of stream; BTCUSDT diffs hold up to ~1,000 levels.
            buffer_diffs: 512,
            buffer_levels: 32_768,
            rule: Rule::Spot,
        }
    }
}

/// Decoder for one Binance spot connection (one or more symbols, combined or raw streams).
#[derive(Debug)]
pub struct BinanceDecoder {
    json: JsonParser,
    routes: BookRoutes,
    books: Vec<BookSync>,
    requests: SnapshotRequests,
    levels: Vec<LevelUpdate>,
    counters: FeedCounters,
    pub config: BinanceConfig,
    /// Read frames with the pull scanner first (see [`BinanceDecoder::set_fast_path`]).
    fast_path: bool,
    fast_frames: u64,
    /// The last frame error, for the cold path's log.
    pub last_error: Option<FrameError>,
}

impl BinanceDecoder {
    pub fn new(routes: BookRoutes) -> BinanceDecoder {
        BinanceDecoder::with_config(routes, BinanceConfig::default())
    }

    pub fn with_config(routes: BookRoutes, config: BinanceConfig) -> BinanceDecoder {
        let n = routes.books.len();
        let mut d = BinanceDecoder {
            json: JsonParser::default(),
            routes,
            books: Vec::with_capacity(n.max(8)),
            requests: SnapshotRequests::default(),
            levels: Vec::with_capacity(4096),
            counters: FeedCounters::default(),
            config,
            fast_path: true,
            fast_frames: 0,
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
            self.books.push(BookSync::with_rule(
                self.config.rule,
                self.config.buffer_diffs,
                self.config.buffer_levels,
            ));
        }
        self.requests.ensure(i);
    }

    /// Sync state of book `i`.
    pub fn book_state(&self, i: usize) -> Option<BookState> {
        self.books.get(i).map(|b| b.sb.state)
    }

    /// The book's update id (`u` of the last applied diff, or the snapshot id), when synced.
    pub fn book_seq(&self, i: usize) -> Option<u64> {
        self.books.get(i).and_then(|b| b.sb.last_seq)
    }

    /// The next book whose snapshot the feed should fetch (after
    /// [`Decoder::take_resync_request`] said there are new requests); each request is handed out
    /// once. Fetch [`snapshot_url`] of the book's symbol and pass the answer to `on_rest`.
    pub fn take_snapshot_request(&mut self) -> Option<usize> {
        self.requests.take_next()
    }

    /// The REST URL of book `i`'s snapshot at `limit` levels.
    pub fn snapshot_url_of(&self, i: usize, limit: u32) -> Option<String> {
        self.routes
            .books
            .get(i)
            .map(|b| snapshot_url(b.key.symbol.as_str(), limit))
    }

    fn after_verdict(&mut self, i: usize, v: Verdict, now_ns: u64) {
        match v {
            Verdict::Buffered => self.requests.request_once(i, now_ns, &mut self.counters),
            Verdict::Snapshot => self.requests.answered(i),
            v if v.wants_snapshot() => self.requests.request(i, now_ns, &mut self.counters),
            _ => {}
        }
    }
}

impl BinanceDecoder {
    /// Turns the pull-scanner fast path on (the default) or off. Off, every frame is read with
    /// simd-json; on, simd-json reads only the frames the fast path gives up on. The events,
    /// counters and errors are the same either way.
    pub fn set_fast_path(&mut self, on: bool) {
        self.fast_path = on;
    }

    /// Frames read by the fast path so far.
    pub fn fast_path_frames(&self) -> u64 {
        self.fast_frames
    }

    /// The reference path: simd-json's tape. Counts a frame it cannot read (and resyncs its
    /// book when it is a routed book's) and returns `None` for it.
    #[inline(never)]
    fn read_tape<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        frame: &mut [u8],
        out: &mut F,
    ) -> Option<Frame> {
        let routes = &mut self.routes;
        let levels = &mut self.levels;
        let books = &self.books;
        let mut routed: Option<usize> = None;
        let parsed = self.json.parse(frame, |root| {
            if wire::is_snapshot_body(root) {
                return wire::read_snapshot_line(
                    root,
                    |sym, id| {
                        let i = match sym {
                            Some(s) => routes.lookup(s)?,
                            None => snapshot_owner(books, routes.books.len(), id)?,
                        };
                        let inst = &routes.books[i];
                        Some((i, inst.tick, inst.lot))
                    },
                    levels,
                );
            }
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
        match parsed {
            Ok(Ok(f)) => Some(f),
            Ok(Err(e)) => {
                self.counters.malformed += 1;
                self.last_error = Some(e);
                // A depth update of a routed book we could not read breaks the id chain.
                if let Some(i) = routed {
                    self.ensure_book(i);
                    let b = &mut self.books[i];
                    if !b.awaiting_snapshot() {
                        b.mark_resyncing(&mut self.counters, recv_ns, i as u16, out);
                    }
                    // What is buffered now has a hole: start over.
                    self.counters.dropped += b.buffer.len() as u64;
                    b.buffer.clear();
                    self.requests.request_once(i, recv_ns, &mut self.counters);
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

/// The book a REST snapshot body met on a frame line belongs to, told by its `lastUpdateId`
/// (the body names no symbol): among the first `n` books, those waiting for a snapshot with
/// diffs buffered, the one whose buffered id range `[U of the first, u of the last]` is
/// nearest to the id (each symbol has its own id counter, far from the others'); the only book
/// when just one is routed. `None` when no book waits or two are equally near.
pub(crate) fn snapshot_owner(books: &[BookSync], n: usize, id: u64) -> Option<usize> {
    let mut best: Option<(u64, usize)> = None;
    let mut tie = false;
    for (i, b) in books.iter().enumerate().take(n) {
        if !b.awaiting_snapshot() || b.buffer.is_empty() {
            continue;
        }
        let lo = b.buffer.get(0).map_or(0, |(h, _)| h.first_id);
        let hi = b
            .buffer
            .get(b.buffer.len() - 1)
            .map_or(0, |(h, _)| h.last_id);
        let dist = if id.saturating_add(1) < lo {
            lo - id - 1
        } else {
            id.saturating_sub(hi)
        };
        match best {
            Some((d, _)) if d < dist => {}
            Some((d, _)) if d == dist => tie = true,
            _ => {
                best = Some((dist, i));
                tie = false;
            }
        }
    }
    match best {
        Some((_, i)) if !tie => Some(i),
        None if n == 1 => Some(0),
        _ => None,
    }
}

impl BinanceDecoder {
    /// A snapshot of book `i` (its levels in `self.levels`) under the sync rules.
    fn apply_snapshot<F: FnMut(MdEvent)>(
        &mut self,
        i: usize,
        recv_ns: u64,
        id: u64,
        off_grid: u32,
        out: &mut F,
    ) {
        self.counters.off_grid += off_grid as u64;
        self.ensure_book(i);
        let v =
            self.books[i].on_snapshot(&mut self.counters, recv_ns, i as u16, id, &self.levels, out);
        self.after_verdict(i, v, recv_ns);
    }
}

impl Decoder for BinanceDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.counters.frames += 1;
        let fast = if self.fast_path {
            let routes = &self.routes;
            wire::read_fast(frame, |sym| routes.route_fast(sym), &mut self.levels)
        } else {
            Err(GiveUp)
        };
        let frame = match fast {
            Ok(f) => {
                self.fast_frames += 1;
                f
            }
            Err(GiveUp) => match self.read_tape(recv_ns, frame, out) {
                Some(f) => f,
                None => return,
            },
        };
        match frame {
            Frame::Depth {
                book,
                first_id,
                last_id,
                prev_id,
                ts_ms,
                off_grid,
            } => {
                self.counters.off_grid += off_grid as u64;
                self.ensure_book(book);
                let b = &mut self.books[book];
                let head = DiffHead {
                    first_id,
                    last_id,
                    prev_id,
                    ts_ms,
                };
                let v = b.on_diff(
                    &mut self.counters,
                    recv_ns,
                    book as u16,
                    head,
                    &self.levels,
                    out,
                );
                self.after_verdict(book, v, recv_ns);
            }
            Frame::Trade { book, trade } => {
                self.counters.events += emit_trade(recv_ns, book as u16, trade, out);
                self.counters.trades += 1;
            }
            Frame::Snapshot {
                book: Some(i),
                id,
                off_grid,
            } => self.apply_snapshot(i, recv_ns, id, off_grid, out),
            // A snapshot body no waiting book can claim: nothing to seed.
            Frame::Snapshot { book: None, .. } => self.counters.unknown += 1,
            Frame::Ack { .. } => self.counters.acks += 1,
            Frame::Other => self.counters.unknown += 1,
        }
    }

    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        let book = if url.contains("/depth") {
            query_param(url, "symbol").and_then(|s| self.routes.lookup(s))
        } else {
            None
        };
        let Some(i) = book else {
            // exchangeInfo and other REST answers, or an unrouted symbol.
            self.counters.unknown += 1;
            return;
        };
        self.ensure_book(i);
        let inst = self.routes.books[i];
        let levels = &mut self.levels;
        let parsed = self.json.parse(body, |root| {
            wire::read_snapshot(root, inst.tick, inst.lot, levels)
        });
        let (id, off_grid) = match parsed {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                // Not usable; the request stays outstanding and `on_timer` asks again after
                // `snapshot_retry_ns` (never hammer the REST endpoint with retries).
                self.counters.malformed += 1;
                self.last_error = Some(e);
                return;
            }
            Err(_) => {
                self.counters.malformed += 1;
                self.last_error = Some(FrameError::Json);
                return;
            }
        };
        self.apply_snapshot(i, recv_ns, id, off_grid, out);
    }

    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let n = self.books.len().min(self.routes.books.len());
        for i in 0..n {
            let b = &mut self.books[i];
            if b.sb.state == BookState::Synced
                && now_ns.saturating_sub(b.sb.last_update_ns) > self.config.max_silence_ns
            {
                b.sb.state = BookState::Stale;
                self.counters.stale += 1;
                self.counters.events += 1;
                emit_state(now_ns, i as u16, BookState::Stale, out);
            }
            if b.awaiting_snapshot() {
                self.requests.retry_overdue(
                    i,
                    now_ns,
                    self.config.snapshot_retry_ns,
                    &mut self.counters,
                );
            }
        }
    }

    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let n = self.books.len().min(self.routes.books.len());
        for i in 0..n {
            let b = &mut self.books[i];
            b.mark_resyncing(&mut self.counters, now_ns, i as u16, out);
            self.counters.dropped += b.buffer.len() as u64;
            b.buffer.clear();
            // A new snapshot is requested when the first diff of the new connection is buffered.
            self.requests.answered(i);
        }
    }

    fn counters(&self) -> &FeedCounters {
        &self.counters
    }

    fn routes(&self) -> &BookRoutes {
        &self.routes
    }

    fn take_resync_request(&mut self) -> bool {
        self.requests.take_new()
    }

    fn take_snapshot_book(&mut self) -> Option<usize> {
        self.requests.take_next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::BookSet;
    use crate::instrument::{InstrumentTable, Market, Venue};
    use crate::msg::{BookOp, MarketMsg, Side};
    use crate::venue::testutil::{collect, edited, edits, mutated, shared_data};
    use proptest::prelude::*;

    fn dec(symbols: &[&str]) -> BinanceDecoder {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Binance,
            Market::Spot,
            symbols,
        )
        .unwrap();
        BinanceDecoder::new(r)
    }

    fn depth(first: u64, last: u64, b: &str) -> String {
        format!(
            r#"{{"stream":"nknusdt@depth@100ms","data":{{"e":"depthUpdate","E":77,"s":"NKNUSDT","U":{first},"u":{last},"b":[{b}],"a":[]}}}}"#
        )
    }

    const SNAP: &str = r#"{"lastUpdateId":100,"bids":[["0.35210000","672.00000000"],["0.35200000","1144.00000000"]],"asks":[["0.35280000","10.00000000"]]}"#;
    const SNAP_URL: &str = "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000";

    fn rest(d: &mut BinanceDecoder, t: u64, url: &str, body: &str) -> Vec<MdEvent> {
        let mut evs = Vec::new();
        let mut b = body.as_bytes().to_vec();
        d.on_rest(t, url, &mut b, &mut |e| evs.push(e));
        evs
    }

    fn commits(evs: &[MdEvent]) -> Vec<u64> {
        evs.iter()
            .filter_map(|e| match e.op {
                BookOp::Commit { seq, .. } => Some(seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn snapshot_body_on_a_frame_line_seeds_the_book_it_belongs_to() {
        // Two books wait, far apart in ids: the body's lastUpdateId says which it is.
        let mut d = dec(&["NKNUSDT", "BLZETH"]);
        let blz = r#"{"e":"depthUpdate","E":1,"s":"BLZETH","U":900000,"u":900002,"b":[],"a":[]}"#;
        let _ = collect(&mut d, &[&depth(95, 100, ""), blz]);
        let mut line = Vec::new();
        let mut by_rest = dec(&["NKNUSDT", "BLZETH"]);
        let _ = collect(&mut by_rest, &[&depth(95, 100, ""), blz]);
        let next = depth(101, 102, r#"["0.3521","0"]"#);
        let _ = collect(&mut d, &[&next]);
        let _ = collect(&mut by_rest, &[&next]);
        let mut buf = SNAP.as_bytes().to_vec();
        d.on_frame(5_000, &mut buf, &mut |e| line.push(e));
        let rest_evs = rest(&mut by_rest, 5_000, SNAP_URL, SNAP);
        assert_eq!(
            commits(&line),
            vec![100, 102],
            "the sync rule decides which diffs apply"
        );
        assert_eq!(line, rest_evs, "the same events as the REST answer");
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        assert_ne!(
            d.book_state(1),
            Some(BookState::Synced),
            "the other book still waits"
        );
        assert_eq!(d.counters().rest_snapshots, 1);
        assert_eq!(d.counters().unknown, 0);
        // A body naming its symbol goes to that book whatever its id.
        let named =
            r#"{"symbol":"BLZETH","lastUpdateId":900001,"bids":[["0.00006547","100"]],"asks":[]}"#;
        let evs = collect(&mut d, &[named]);
        assert_eq!(evs.first().map(|e| e.book), Some(1));
        assert_eq!(commits(&evs), vec![900001, 900002]);
        // No book waits: nothing to seed, counted as unknown, never applied to a synced book.
        let evs = collect(&mut d, &[SNAP]);
        assert!(evs.is_empty());
        assert_eq!(d.counters().unknown, 1);
        // Malformed body: counted, no panic, no events.
        let mut d = dec(&["NKNUSDT"]);
        let evs = collect(&mut d, &[r#"{"lastUpdateId":"x","bids":[],"asks":[]}"#]);
        assert!(evs.is_empty());
        assert_eq!(d.counters().malformed, 1);
    }

    #[test]
    fn snapshot_owner_picks_the_nearest_waiting_book_and_refuses_ties() {
        let mut books = vec![
            BookSync::new(8, 64),
            BookSync::new(8, 64),
            BookSync::new(8, 64),
        ];
        let head = |a, b| DiffHead {
            first_id: a,
            last_id: b,
            prev_id: None,
            ts_ms: 0,
        };
        assert_eq!(
            snapshot_owner(&books, 3, 5),
            None,
            "no book has diffs buffered"
        );
        assert_eq!(snapshot_owner(&books[..1], 1, 5), Some(0), "the only book");
        books[0].buffer.push(head(100, 110), &[]);
        books[1].buffer.push(head(5_000, 5_010), &[]);
        assert_eq!(snapshot_owner(&books, 3, 104), Some(0), "inside the range");
        assert_eq!(
            snapshot_owner(&books, 3, 6_000),
            Some(1),
            "newer than the buffer"
        );
        assert_eq!(
            snapshot_owner(&books, 3, 4_000),
            Some(1),
            "older than the buffer"
        );
        assert_eq!(
            snapshot_owner(&books, 1, 6_000),
            Some(0),
            "only the first n books"
        );
        books[2].buffer.push(head(5_000, 5_010), &[]);
        assert_eq!(
            snapshot_owner(&books, 3, 5_005),
            None,
            "two books equally near"
        );
    }

    #[test]
    fn buffer_then_snapshot_then_live() {
        let mut d = dec(&["NKNUSDT"]);
        assert!(!d.take_resync_request());
        let buffered = [depth(95, 100, ""), depth(101, 102, r#"["0.3521","0"]"#)];
        let evs = collect(&mut d, &[&buffered[0], &buffered[1]]);
        assert!(evs.is_empty(), "nothing is emitted before the snapshot");
        // the first buffered diff asks for a snapshot, once
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        assert_eq!(d.take_snapshot_request(), None);
        assert_eq!(d.counters().snapshot_requests, 1);
        assert_eq!(
            d.snapshot_url_of(0, 1000).as_deref(),
            Some(SNAP_URL),
            "snapshot URL"
        );
        let evs = rest(&mut d, 5_000, SNAP_URL, SNAP);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(
            evs[1].op,
            BookOp::Set {
                side: Side::Bid,
                px: 3521,
                qty: 672
            }
        );
        // snapshot (3 levels) + the 101-102 diff; 95-100 dropped
        assert_eq!(commits(&evs), vec![100, 102]);
        assert_eq!(evs.len(), 1 + 3 + 1 + 1 + 1);
        assert_eq!(
            evs[5].op,
            BookOp::Set {
                side: Side::Bid,
                px: 3521,
                qty: 0
            }
        );
        assert_eq!(d.counters().dropped, 1);
        assert_eq!(d.counters().rest_snapshots, 1);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        let evs = collect(&mut d, &[&depth(103, 103, r#"["0.3522","5"]"#)]);
        assert_eq!(commits(&evs), vec![103]);
        assert_eq!(
            evs.last().unwrap().op,
            BookOp::Commit {
                seq: 103,
                exch_ts_ms: 77
            }
        );
        assert_eq!(d.book_seq(0), Some(103));
        assert_eq!(d.counters().gaps, 0);
    }

    #[test]
    fn raw_stream_frames_too() {
        let mut d = dec(&["NKNUSDT"]);
        let _ = rest(&mut d, 1, SNAP_URL, SNAP);
        let evs = collect(
            &mut d,
            &[
                r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[],"a":[["0.3529","3"]]}"#,
            ],
        );
        assert_eq!(commits(&evs), vec![101]);
    }

    #[test]
    fn gap_resyncs_and_requests_a_snapshot() {
        let mut d = dec(&["NKNUSDT"]);
        let _ = rest(&mut d, 1, SNAP_URL, SNAP);
        let _ = collect(&mut d, &[&depth(101, 101, "")]);
        let _ = d.take_resync_request();
        while d.take_snapshot_request().is_some() {}
        let evs = collect(&mut d, &[&depth(105, 106, ""), &depth(107, 107, "")]);
        assert_eq!(d.counters().gaps, 1);
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
        assert!(evs
            .iter()
            .any(|e| e.op == BookOp::State(BookState::Resyncing)));
        assert!(commits(&evs).is_empty());
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        // the diffs after the gap were buffered and apply on a fresh snapshot
        let evs = rest(
            &mut d,
            2,
            SNAP_URL,
            r#"{"lastUpdateId":105,"bids":[],"asks":[]}"#,
        );
        assert_eq!(commits(&evs), vec![105, 106, 107]);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn too_old_snapshot_is_requested_again() {
        let mut d = dec(&["NKNUSDT"]);
        let _ = collect(&mut d, &[&depth(200, 201, "")]);
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        let evs = rest(&mut d, 2, SNAP_URL, SNAP);
        assert!(evs.is_empty());
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
    }

    #[test]
    fn snapshot_retry_silence_and_disconnect() {
        let mut d = dec(&["NKNUSDT"]);
        d.config.snapshot_retry_ns = 1_000;
        d.config.max_silence_ns = 500;
        let _ = collect(&mut d, &[&depth(200, 201, "")]); // at t = 1000
        assert!(d.take_resync_request());
        let mut evs = Vec::new();
        d.on_timer(1_500, &mut |e| evs.push(e));
        assert!(!d.take_resync_request(), "not yet overdue");
        d.on_timer(2_000, &mut |e| evs.push(e));
        assert!(d.take_resync_request(), "overdue snapshot asked again");
        assert_eq!(d.counters().snapshot_requests, 2);
        let _ = rest(
            &mut d,
            2_100,
            SNAP_URL,
            r#"{"lastUpdateId":200,"bids":[],"asks":[]}"#,
        );
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        d.on_timer(2_500, &mut |e| evs.push(e));
        assert!(evs.is_empty());
        d.on_timer(2_700, &mut |e| evs.push(e));
        assert_eq!(evs[0].op, BookOp::State(BookState::Stale));
        assert_eq!(d.counters().stale, 1);
        // the next diff revives it
        let _ = collect(&mut d, &[&depth(202, 202, "")]);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        evs.clear();
        d.on_disconnect(3_000, &mut |e| evs.push(e));
        assert_eq!(evs[0].op, BookOp::State(BookState::Resyncing));
        assert_eq!(d.book_seq(0), None);
    }

    #[test]
    fn trades_acks_and_unknown_streams() {
        let mut d = dec(&["NKNUSDT"]);
        let evs = collect(
            &mut d,
            &[
                r#"{"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523960,"m":false,"M":true}}"#,
                r#"{"e":"aggTrade","E":1,"s":"NKNUSDT","a":1,"p":"0.3527","q":"2","T":5,"m":true,"M":true}"#,
                r#"{"result":null,"id":1}"#,
                r#"{"error":{"code":2,"msg":"Invalid request"},"id":2}"#,
                r#"{"stream":"nknusdt@bookTicker","data":{"u":1,"s":"NKNUSDT","b":"0.3521","B":"1","a":"0.3528","A":"1"}}"#,
                r#"{"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1,"s":"NKNUSDT","k":{}}}"#,
                r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}"#,
            ],
        );
        assert_eq!(
            evs,
            vec![
                MdEvent {
                    recv_ns: 1_000,
                    book: 0,
                    op: BookOp::Trade {
                        px: 3528,
                        qty: 58,
                        aggressor: Side::Bid,
                        exch_ts_ms: 1633998523960
                    }
                },
                MdEvent {
                    recv_ns: 1_001,
                    book: 0,
                    op: BookOp::Trade {
                        px: 3527,
                        qty: 2,
                        aggressor: Side::Ask,
                        exch_ts_ms: 5
                    }
                }
            ]
        );
        let c = d.counters();
        assert_eq!((c.trades, c.acks, c.unknown, c.malformed), (2, 2, 3, 0));
        // other REST answers are not snapshots
        let _ = rest(
            &mut d,
            1,
            "https://api.binance.com/api/v3/exchangeInfo",
            "{}",
        );
        assert_eq!(d.counters().unknown, 4);
    }

    #[test]
    fn malformed_frames_are_counted_not_fatal() {
        let mut d = dec(&["NKNUSDT"]);
        let _ = rest(&mut d, 1, SNAP_URL, SNAP);
        let bad = [
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[["0.35"#, // truncated
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":"x","u":101,"b":[],"a":[]}"#, // wrong type
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[[0.35,"1"]],"a":[]}"#, // number, not string
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[["99999999999999999999999","1"]],"a":[]}"#, // huge
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":999999999999999999999999,"u":101,"b":[],"a":[]}"#, // huge id
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[["0.35a","1"]],"a":[]}"#, // not a number
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[["0.3521","-1"]],"a":[]}"#, // negative
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[[]],"a":[]}"#, // empty level
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":101,"u":101,"b":[]}"#,          // no asks
            r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":102,"u":101,"b":[],"a":[]}"#,   // u < U
            r#"{"e":"aggTrade","s":"NKNUSDT","p":"0.35","q":"1"}"#,                       // no m
            r#"{"stream":"x","data":[]}"#,
            r#"[]"#,
            r#""#,
            "\u{0}\u{1}",
        ];
        let _ = collect(&mut d, &bad);
        assert_eq!(d.counters().malformed, bad.len() as u64);
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
        assert!(d.take_resync_request());
        // a malformed snapshot body is counted; the retry timer asks again
        let _ = rest(
            &mut d,
            2,
            SNAP_URL,
            r#"{"code":-1121,"msg":"Invalid symbol."}"#,
        );
        assert_eq!(d.counters().malformed, bad.len() as u64 + 1);
        assert!(!d.take_resync_request());
        d.on_timer(2_000 + d.config.snapshot_retry_ns, &mut |_| {});
        assert!(d.take_resync_request());
        // and it recovers
        let evs = rest(&mut d, 3, SNAP_URL, SNAP);
        assert_eq!(commits(&evs), vec![100]);
        let evs = collect(&mut d, &[&depth(101, 101, "")]);
        assert_eq!(commits(&evs), vec![101]);
    }

    #[test]
    fn off_grid_levels_are_left_out_consistently() {
        let mut d = dec(&["NKNUSDT"]);
        // 0.25511 is off the 0.0001 tick; 11979.3 is off the lot of 1.
        let evs = rest(
            &mut d,
            1,
            SNAP_URL,
            r#"{"lastUpdateId":100,"bids":[["0.35210000","672.00000000"],["0.26000000","11979.30000000"],["0.25511000","39.00000000"]],"asks":[["0.35280000","10.00000000"]]}"#,
        );
        let sets: Vec<BookOp> = evs
            .iter()
            .filter(|e| matches!(e.op, BookOp::Set { .. }))
            .map(|e| e.op)
            .collect();
        assert_eq!(
            sets,
            vec![
                BookOp::Set {
                    side: Side::Bid,
                    px: 3521,
                    qty: 672
                },
                BookOp::Set {
                    side: Side::Bid,
                    px: 2600,
                    qty: 0
                },
                BookOp::Set {
                    side: Side::Ask,
                    px: 3528,
                    qty: 10
                },
            ]
        );
        assert_eq!(d.counters().off_grid, 2);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        // the legacy order leaving is an off-grid diff level: skipped, the chain goes on
        let evs = collect(
            &mut d,
            &[&depth(101, 101, r#"["0.25511000","0.00000000"]"#)],
        );
        assert_eq!(commits(&evs), vec![101]);
        assert_eq!(d.counters().off_grid, 3);
        assert_eq!(d.counters().malformed, 0);
    }

    #[test]
    fn urls_and_subscribe_frame() {
        assert_eq!(
            ws_url(&["NKNUSDT", "btcusdt"]),
            "wss://stream.binance.com:9443/stream?streams=nknusdt@depth@100ms/nknusdt@aggTrade/btcusdt@depth@100ms/btcusdt@aggTrade"
        );
        assert_eq!(
            snapshot_url("nknusdt", 1000),
            "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000"
        );
        assert_eq!(
            snapshot_url_at("http://127.0.0.1:9000/", "BTCUSDT", 5000),
            "http://127.0.0.1:9000/api/v3/depth?symbol=BTCUSDT&limit=5000"
        );
        let f = subscribe_frame(&["BTCUSDT"], 7);
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["params"][0], "btcusdt@depth@100ms");
        assert_eq!(v["id"], 7);
    }

    /// One recorded line: local receive time, and either a WebSocket frame or a REST answer.
    struct Line {
        ts_ns: u64,
        url: Option<String>,
        data: String,
    }

    fn recording() -> Option<Vec<Line>> {
        let path = shared_data("binance_spot_cryptofeed_20211012.jsonl")?;
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lines = Vec::new();
        for (n, l) in text.lines().enumerate() {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
            let (url, data) = match v["t"].as_str() {
                Some("recv") => (None, v["data"].as_str()),
                Some("http") => (v["url"].as_str().map(String::from), v["data"].as_str()),
                _ => continue,
            };
            lines.push(Line {
                ts_ns: (v["ts"].as_f64().unwrap() * 1e9) as u64,
                url,
                data: data.unwrap().to_string(),
            });
        }
        Some(lines)
    }

    /// One symbol in the recording, read independently of the decoder.
    struct Expect {
        symbol: String,
        /// `lastUpdateId` of its REST snapshot.
        snapshot_id: u64,
        /// `(U, u)` of every diff, in order.
        diffs: Vec<(u64, u64)>,
    }

    fn expected(lines: &[Line]) -> Vec<Expect> {
        let mut out: Vec<Expect> = Vec::new();
        for l in lines {
            let v: serde_json::Value = serde_json::from_str(&l.data).unwrap();
            let (sym, snap, diff) = match &l.url {
                Some(u) if u.contains("/depth") => (
                    query_param(u, "symbol").unwrap().to_string(),
                    v["lastUpdateId"].as_u64(),
                    None,
                ),
                Some(_) => continue,
                None if v["data"]["e"] == "depthUpdate" => (
                    v["data"]["s"].as_str().unwrap().to_string(),
                    None,
                    Some((
                        v["data"]["U"].as_u64().unwrap(),
                        v["data"]["u"].as_u64().unwrap(),
                    )),
                ),
                None => continue,
            };
            let i = match out.iter().position(|o| o.symbol == sym) {
                Some(i) => i,
                None => {
                    out.push(Expect {
                        symbol: sym,
                        snapshot_id: 0,
                        diffs: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            if let Some(id) = snap {
                out[i].snapshot_id = id;
            }
            if let Some(d) = diff {
                out[i].diffs.push(d);
            }
        }
        out
    }

    /// Levels of depth snapshots and diffs whose price or size is off the default instrument's
    /// grid, counted here with serde_json and the instrument table.
    fn off_grid_levels(lines: &[Line]) -> u64 {
        let table = InstrumentTable::default();
        let mut n = 0;
        for l in lines {
            let v: serde_json::Value = serde_json::from_str(&l.data).unwrap();
            let (sym, ev) = match &l.url {
                Some(u) if u.contains("/depth") => (query_param(u, "symbol").unwrap(), &v),
                None if v["data"]["e"] == "depthUpdate" => {
                    (v["data"]["s"].as_str().unwrap(), &v["data"])
                }
                _ => continue,
            };
            let inst = table.get(Venue::Binance, Market::Spot, sym).unwrap();
            for key in ["bids", "asks", "b", "a"] {
                for lv in ev[key].as_array().into_iter().flatten() {
                    let px = lv[0].as_str().unwrap().as_bytes();
                    let qty = lv[1].as_str().unwrap().as_bytes();
                    if inst.tick.parse(px).is_err() || inst.lot.parse(qty).is_err() {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    /// Replays the recording in receive-time order (`by_time`) or file order (REST answers
    /// first), checking every book after every commit; returns the decoder, per book the commit
    /// sequence, and the events of the NKNUSDT REST snapshot and of the frame with `U == 499869753`.
    fn replay(
        lines: &[Line],
        by_time: bool,
    ) -> (BinanceDecoder, Vec<Vec<u64>>, Vec<MdEvent>, Vec<MdEvent>) {
        let mut order: Vec<&Line> = lines.iter().collect();
        if by_time {
            order.sort_by_key(|l| l.ts_ns); // stable: ties keep file order
        }
        let mut d = dec(&[]);
        let mut books = BookSet::new(0, 5, 5000);
        let mut commits: Vec<Vec<u64>> = Vec::new();
        let (mut nkn_snap, mut nkn_753) = (Vec::new(), Vec::new());
        for l in order {
            let mut evs = Vec::new();
            let mut buf = l.data.clone().into_bytes();
            match &l.url {
                Some(u) => d.on_rest(l.ts_ns, u, &mut buf, &mut |e| evs.push(e)),
                None => d.on_frame(l.ts_ns, &mut buf, &mut |e| evs.push(e)),
            }
            for e in &evs {
                let i = e.book as usize;
                books.ensure(i);
                while commits.len() <= i {
                    commits.push(Vec::new());
                }
                if let BookOp::Commit { seq, .. } = e.op {
                    commits[i].push(seq);
                }
                if let Some(MarketMsg::Book(u)) = books.apply(e) {
                    assert!(!u.crossed, "book {i} crossed after commit {:?}", e.op);
                }
            }
            let sym = |e: &MdEvent| d.routes().key(e.book as usize).unwrap().symbol;
            if let Some(e) = evs.first() {
                if sym(e).as_str() == "NKNUSDT" {
                    if l.url.is_some() {
                        nkn_snap = evs.clone();
                    } else if l.data.contains("\"U\":499869753,") {
                        nkn_753 = evs.clone();
                    }
                }
            }
        }
        (d, commits, nkn_snap, nkn_753)
    }

    #[test]
    fn recorded_binance_exact_boundary_sync() {
        let Some(lines) = recording() else { return };
        let want = expected(&lines);
        assert_eq!(want.len(), 4, "four symbols in the recording");
        for by_time in [true, false] {
            let (d, book_commits, nkn_snap, nkn_753) = replay(&lines, by_time);
            let c = *d.counters();
            assert_eq!(c.gaps, 0, "by_time={by_time}");
            assert_eq!(c.malformed, 0, "{:?}", d.last_error);
            assert_eq!(c.rest_snapshots, 4);
            assert_eq!(c.trades, 2);
            assert_eq!(c.off_grid, off_grid_levels(&lines), "legacy NKNUSDT levels");
            for w in &want {
                let (sym, id) = (w.symbol.as_str(), w.snapshot_id);
                let i = d
                    .routes()
                    .books
                    .iter()
                    .position(|b| b.key.symbol.as_str() == sym);
                let i = i.unwrap_or_else(|| panic!("{sym} not routed"));
                assert_eq!(d.book_state(i), Some(BookState::Synced), "{sym}");
                // The documented rule, computed here from the raw (U, u) list: the snapshot,
                // then every diff with u > id, the first of them straddling id + 1.
                let applied: Vec<&(u64, u64)> = w.diffs.iter().filter(|d| d.1 > id).collect();
                let (first_u0, first_u1) = *applied[0];
                assert!(first_u0 <= id + 1 && id < first_u1, "{sym}");
                let mut seqs = vec![id];
                seqs.extend(applied.iter().map(|d| d.1));
                assert_eq!(book_commits[i], seqs, "{sym} by_time={by_time}");
            }
            // NKNUSDT: lastUpdateId 499869752 equals the u of the diff 499869750..=499869752.
            let nkn = want.iter().find(|w| w.symbol == "NKNUSDT").unwrap();
            assert_eq!(nkn.snapshot_id, 499869752);
            assert!(nkn.diffs.contains(&(499869750, 499869752)));
            // The snapshot emits only itself: the straddling diff is dropped, not applied.
            assert_eq!(commits(&nkn_snap), vec![499869752]);
            assert_eq!(nkn_snap[0].op, BookOp::Clear);
            // The next diff, U = lastUpdateId + 1, is applied.
            assert_eq!(commits(&nkn_753), vec![499869754]);
            assert!(nkn_753
                .iter()
                .all(|e| matches!(e.op, BookOp::Set { .. } | BookOp::Commit { .. })));
        }
    }

    /// Two decoders of the same books: the fast path and simd-json only.
    struct Pair {
        fast: BinanceDecoder,
        tape: BinanceDecoder,
    }

    impl Pair {
        fn new(symbols: &[&str]) -> Pair {
            let mut tape = dec(symbols);
            tape.set_fast_path(false);
            Pair {
                fast: dec(symbols),
                tape,
            }
        }

        /// One frame (or REST answer, with its URL) to both; checks that they agree on
        /// everything observable.
        fn feed(
            &mut self,
            t: u64,
            url: Option<&str>,
            frame: &[u8],
        ) -> Result<Vec<MdEvent>, String> {
            let mut evs = [Vec::new(), Vec::new()];
            for (d, evs) in [&mut self.fast, &mut self.tape]
                .into_iter()
                .zip(evs.iter_mut())
            {
                let mut buf = frame.to_vec();
                match url {
                    Some(u) => d.on_rest(t, u, &mut buf, &mut |e| evs.push(e)),
                    None => d.on_frame(t, &mut buf, &mut |e| evs.push(e)),
                }
                d.on_timer(t, &mut |e| evs.push(e));
            }
            let shown = || String::from_utf8_lossy(frame).into_owned();
            let (f, g) = (&mut self.fast, &mut self.tape);
            let state = |d: &mut BinanceDecoder| {
                let books: Vec<_> = (0..d.routes.books.len())
                    .map(|i| (d.routes.key(i), d.book_state(i), d.book_seq(i)))
                    .collect();
                let mut asked = Vec::new();
                while let Some(i) = d.take_snapshot_request() {
                    asked.push(i);
                }
                (
                    *d.counters(),
                    d.last_error,
                    books,
                    d.take_resync_request(),
                    asked,
                )
            };
            if evs[0] != evs[1] {
                return Err(format!(
                    "events differ on {}:\n{:?}\n{:?}",
                    shown(),
                    evs[0],
                    evs[1]
                ));
            }
            let (a, b) = (state(f), state(g));
            if a != b {
                return Err(format!("state differs on {}:\n{a:?}\n{b:?}", shown()));
            }
            let [e, _] = evs;
            Ok(e)
        }
    }

    /// Every line of the recording (frames and REST answers) through both paths; returns the
    /// fast decoder's frames, fast-path frames and books.
    fn differential(lines: &[Line], sorted_keys: bool) -> (u64, u64, usize) {
        let mut p = Pair::new(&[]);
        for (n, l) in lines.iter().enumerate() {
            let data = if sorted_keys && l.url.is_none() {
                let v: serde_json::Value = serde_json::from_str(&l.data).unwrap();
                serde_json::to_vec(&v).unwrap()
            } else {
                l.data.as_bytes().to_vec()
            };
            p.feed(l.ts_ns, l.url.as_deref(), &data)
                .unwrap_or_else(|e| panic!("line {n}: {e}"));
        }
        (
            p.fast.counters().frames,
            p.fast.fast_path_frames(),
            p.fast.routes.books.len(),
        )
    }

    /// (a) Every recorded frame and REST answer: the fast path and simd-json emit the same
    /// events and counters, and the fast path reads every frame but at most the first of each
    /// book (adding a routed book is the full path's; here the REST answers add them first).
    #[test]
    fn fast_path_matches_simd_json_on_the_recording() {
        let Some(lines) = recording() else {
            return;
        };
        let (frames, fast, books) = differential(&lines, false);
        assert_eq!(books, 4);
        assert!(frames > 200);
        assert!(
            frames - fast <= books as u64,
            "{} of {frames} frames left",
            frames - fast
        );
        // Keys in another order (sorted: `data` before `stream`, `a` before `b`).
        let (frames, fast, books) = differential(&lines, true);
        assert!(
            frames - fast <= 2 * books as u64,
            "{} of {frames} frames left",
            frames - fast
        );
    }

    #[test]
    fn fast_path_reads_the_usual_frames_and_gives_up_on_the_rest() {
        let mut p = Pair::new(&["NKNUSDT"]);
        let mut n = 0;
        let mut check = |p: &mut Pair, url: Option<&str>, frame: &str, read_fast: bool| {
            let before = p.fast.fast_path_frames();
            n += 1;
            let evs = p.feed(n, url, frame.as_bytes()).unwrap();
            assert_eq!(
                p.fast.fast_path_frames() - before,
                read_fast as u64,
                "{frame}"
            );
            evs
        };
        check(&mut p, None, &depth(95, 100, r#"["0.3521","1"]"#), true);
        check(&mut p, Some(SNAP_URL), SNAP, false);
        let evs = check(
            &mut p,
            None,
            &depth(101, 101, r#"["0.3521","2"],["0.35200000","0.5"]"#),
            true,
        );
        // Off the lot grid: the size deletes the level and is counted.
        assert_eq!(
            evs[1].op,
            BookOp::Set {
                side: Side::Bid,
                px: 3520,
                qty: 0
            }
        );
        assert_eq!(p.fast.counters().off_grid, 1);
        // Raw stream, keys in another order, whitespace.
        check(
            &mut p,
            None,
            r#" { "a" : [ ] , "b" : [ [ "0.3521" , "3" ] ] , "u" : 102 , "U" : 102 , "s" : "NKNUSDT" , "e" : "depthUpdate" } "#,
            true,
        );
        // Bids after asks: the full path keeps the order simple.
        check(
            &mut p,
            None,
            r#"{"e":"depthUpdate","s":"NKNUSDT","U":103,"u":103,"a":[["0.3529","1"]],"b":[["0.3521","4"]]}"#,
            false,
        );
        // Trades, acks, book tickers.
        let evs = check(
            &mut p,
            None,
            r#"{"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"NKNUSDT","a":1,"p":"0.3527","q":"2","T":5,"m":true,"M":true}}"#,
            true,
        );
        assert!(matches!(
            evs[0].op,
            BookOp::Trade {
                aggressor: Side::Ask,
                exch_ts_ms: 5,
                ..
            }
        ));
        check(&mut p, None, r#"{"result":null,"id":1}"#, true);
        check(
            &mut p,
            None,
            r#"{"error":{"code":2,"msg":"x"},"id":1}"#,
            true,
        );
        check(
            &mut p,
            None,
            r#"{"stream":"nknusdt@bookTicker","data":{"u":1,"s":"NKNUSDT","b":"0.3521","B":"1","a":"0.3528","A":"1"}}"#,
            true,
        );
        // Malformed: u below U, a bad number, not JSON: the full path counts them.
        check(&mut p, None, &depth(105, 104, ""), false);
        check(&mut p, None, &depth(104, 104, r#"["x","1"]"#), false);
        check(&mut p, None, r#"{"stream":"#, false);
        assert_eq!(p.fast.counters().malformed, 3);
        assert_eq!(p.fast.counters().acks, 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// (b) Random edits of real frames: both paths agree (events, counters, errors, book
        /// states, snapshot requests) and nothing panics.
        #[test]
        fn fast_path_matches_simd_json_on_mutated_frames(
            which in any::<prop::sample::Index>(),
            edits in edits(),
            seeded in any::<bool>(),
        ) {
            let frames = BINANCE_SAMPLES.get_or_init(|| {
                let mut v = vec![
                    depth(101, 101, r#"["0.3521","5"],["0.3520","0"]"#),
                    r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":102,"u":103,"b":[],"a":[["0.3529","3"]]}"#.to_string(),
                    r#"{"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"NKNUSDT","a":1,"p":"0.3527","q":"2","T":5,"m":true,"M":true}}"#.to_string(),
                    r#"{"result":null,"id":1}"#.to_string(),
                    r#"{"stream":"nknusdt@bookTicker","data":{"u":1,"s":"NKNUSDT","b":"0.3521","B":"1","a":"0.3528","A":"1"}}"#.to_string(),
                ];
                if let Some(lines) = recording() {
                    v.extend(lines.iter().filter(|l| l.url.is_none() && l.data.contains("nknusdt")).take(12).map(|l| l.data.clone()));
                }
                v
            });
            let frame = frames[which.index(frames.len())].as_bytes();
            let mut p = Pair::new(&["NKNUSDT"]);
            p.feed(1, None, depth(100, 100, "").as_bytes()).map_err(TestCaseError::fail)?;
            if seeded {
                p.feed(2, Some(SNAP_URL), SNAP.as_bytes()).map_err(TestCaseError::fail)?;
            }
            p.feed(3, None, &edited(frame, &edits)).map_err(TestCaseError::fail)?;
            p.feed(4, None, frame).map_err(TestCaseError::fail)?;
        }
    }

    static BINANCE_SAMPLES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Random byte mutations and truncations of valid frames and snapshots never panic and
        /// never emit a negative size.
        #[test]
        fn mutated_frames_never_panic(
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
            which in 0usize..6,
        ) {
            let frames = [
                depth(101, 101, r#"["0.3521","5"],["0.3520","0"]"#),
                r#"{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":102,"u":103,"b":[],"a":[["0.3529","3"]]}"#.to_string(),
                r#"{"e":"aggTrade","E":1,"s":"NKNUSDT","a":1,"p":"0.3527","q":"2","T":5,"m":true,"M":true}"#.to_string(),
                r#"{"result":null,"id":1}"#.to_string(),
                r#"{"stream":"nknusdt@bookTicker","data":{"u":1,"s":"NKNUSDT","b":"0.3521","B":"1","a":"0.3528","A":"1"}}"#.to_string(),
                SNAP.to_string(),
            ];
            let mut d = dec(&["NKNUSDT"]);
            let _ = collect(&mut d, &[&depth(100, 100, "")]);
            let mut buf = mutated(&frames[which], &edits, cut);
            let mut evs = Vec::new();
            if which == 5 {
                d.on_rest(5, SNAP_URL, &mut buf, &mut |e| evs.push(e));
            } else {
                d.on_frame(5, &mut buf, &mut |e| evs.push(e));
            }
            d.on_timer(u64::MAX, &mut |e| evs.push(e));
            for e in &evs {
                if let BookOp::Set { qty, px, .. } = e.op {
                    prop_assert!(qty >= 0 && px >= 0);
                }
            }
            let c = d.counters();
            prop_assert_eq!(c.frames, if which == 5 { 1 } else { 2 });
        }
    }
}
