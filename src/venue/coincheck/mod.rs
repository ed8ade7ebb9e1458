//! Coincheck public market data: `{pair}-orderbook` diffs seeded (and periodically re-seeded)
//! from the REST order book, `{pair}-trades` prints. Spot only.

pub mod connector;
pub mod drill;
pub mod live;
pub mod poll;
pub mod private;
pub mod sim;
pub mod sim_private;
pub mod sync;
pub mod wire;

pub use connector::{
    snapshot_url, snapshot_url_at, subscribe_frames, ws_url, Coincheck, REST_BASE, WS_URL,
};

use crate::msg::{BookState, MdEvent};
use crate::venue::json::scan::GiveUp;
use crate::venue::json::JsonParser;
use crate::venue::{
    emit_trade, query_param, BookRoutes, Decoder, FeedCounters, FrameError, LevelUpdate,
    SnapshotRequests,
};
use sync::{BookSync, Top, Verdict};
use wire::{BookTrade, Frame};

/// Limits and timings of a [`CoincheckDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoincheckConfig {
    /// A synced book turns `stale` after this much silence (ns); diffs come ~every 365 ms.
    pub max_silence_ns: u64,
    /// A seeded book is re-seeded from REST this long after its last seed (ns); it is `stale`
    /// from the request until the new seed arrives.
    pub reseed_interval_ns: u64,
    /// A REST order book requested this long ago without arriving is requested again, and a
    /// seed that came out crossed is retried after this delay (ns).
    pub snapshot_retry_ns: u64,
    /// Diffs buffered per book while waiting for a seed.
    pub buffer_diffs: usize,
    /// Levels buffered per book while waiting for a seed (all diffs together).
    pub buffer_levels: usize,
    /// Capacity per side of the decoder's own copy of each book (for crossing checks).
    pub local_levels: usize,
}

impl Default for CoincheckConfig {
    fn default() -> Self {
        CoincheckConfig {
            max_silence_ns: 10_000_000_000,
            reseed_interval_ns: 30_000_000_000,
            snapshot_retry_ns: 5_000_000_000,
            buffer_diffs: 256,
            buffer_levels: 16_384,
            local_levels: 4096,
        }
    }
}

/// Decoder for one Coincheck public connection.
#[derive(Debug)]
pub struct CoincheckDecoder {
    json: JsonParser,
    routes: BookRoutes,
    books: Vec<BookSync>,
    requests: SnapshotRequests,
    /// Earliest time a book whose seed came out crossed is asked for again.
    retry_at_ns: Vec<u64>,
    /// Frames arrived since the last disconnect: seeds are asked for only on a live connection
    /// (a seed taken before the socket delivers would miss the diffs in between).
    connected: bool,
    levels: Vec<LevelUpdate>,
    trades: Vec<BookTrade>,
    counters: FeedCounters,
    pub config: CoincheckConfig,
    /// Read frames with the pull scanner first (see [`CoincheckDecoder::set_fast_path`]).
    fast_path: bool,
    fast_frames: u64,
    /// The last frame error, for the cold path's log.
    pub last_error: Option<FrameError>,
}

impl CoincheckDecoder {
    pub fn new(routes: BookRoutes) -> CoincheckDecoder {
        CoincheckDecoder::with_config(routes, CoincheckConfig::default())
    }

    pub fn with_config(routes: BookRoutes, config: CoincheckConfig) -> CoincheckDecoder {
        let n = routes.books.len();
        let mut d = CoincheckDecoder {
            json: JsonParser::default(),
            routes,
            books: Vec::with_capacity(n.max(4)),
            requests: SnapshotRequests::default(),
            retry_at_ns: Vec::with_capacity(n.max(4)),
            levels: Vec::with_capacity(1024),
            trades: Vec::with_capacity(64),
            counters: FeedCounters::default(),
            config,
            connected: false,
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
            let c = &self.config;
            self.books.push(BookSync::new(
                c.buffer_diffs,
                c.buffer_levels,
                c.local_levels,
            ));
            self.retry_at_ns.push(0);
        }
        self.requests.ensure(i);
    }

    /// Sync state of book `i`.
    pub fn book_state(&self, i: usize) -> Option<BookState> {
        self.books.get(i).map(|b| b.sb.state)
    }

    /// Best bid and ask (price, size) of the decoder's own copy of book `i`.
    pub fn top(&self, i: usize) -> Option<Top> {
        self.books.get(i).map(|b| b.top())
    }

    /// The next book whose REST order book the feed should fetch (after
    /// [`Decoder::take_resync_request`] said there are new requests); each request is handed
    /// out once. Fetch [`snapshot_url`] of the book's pair and pass the answer to `on_rest`.
    pub fn take_snapshot_request(&mut self) -> Option<usize> {
        self.requests.take_next()
    }

    /// The REST URL of book `i`'s order book.
    pub fn snapshot_url_of(&self, i: usize) -> Option<String> {
        self.routes
            .books
            .get(i)
            .map(|b| snapshot_url(b.key.symbol.as_str()))
    }

    fn after_verdict(&mut self, i: usize, v: Verdict, now_ns: u64) {
        match v {
            Verdict::Buffered | Verdict::Overflow if now_ns >= self.retry_at_ns[i] => {
                self.requests.request_once(i, now_ns, &mut self.counters);
            }
            Verdict::Seeded => self.requests.answered(i),
            Verdict::SeededCrossed => {
                // Asking again at once could loop on a venue that serves crossed books.
                self.requests.answered(i);
                self.retry_at_ns[i] = now_ns.saturating_add(self.config.snapshot_retry_ns);
            }
            v if v.wants_snapshot() => self.requests.request_once(i, now_ns, &mut self.counters),
            _ => {}
        }
    }
}

impl CoincheckDecoder {
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

    /// The reference path: simd-json's tape. Counts a frame it cannot read (and invalidates its
    /// book when it is a routed book's diff) and returns `None` for it.
    #[inline(never)]
    fn read_tape<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        frame: &mut [u8],
        out: &mut F,
    ) -> Option<Frame> {
        let routes = &mut self.routes;
        let levels = &mut self.levels;
        let trades = &mut self.trades;
        let books = &self.books;
        let mut routed: Option<usize> = None;
        let parsed = self.json.parse(frame, |root| {
            if root.as_object().is_some() {
                return wire::read_object(
                    root,
                    |pair| {
                        let i = match pair {
                            Some(p) => routes.lookup(p)?,
                            None => snapshot_owner(books, routes.books.len())?,
                        };
                        let inst = &routes.books[i];
                        Some((i, inst.tick, inst.lot))
                    },
                    levels,
                );
            }
            wire::read(
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
        });
        match parsed {
            Ok(Ok(f)) => Some(f),
            Ok(Err(e)) => {
                self.counters.malformed += 1;
                self.last_error = Some(e);
                // An orderbook diff of a routed book we could not read is a lost update.
                if let Some(i) = routed {
                    self.ensure_book(i);
                    if self.books[i].seeded {
                        self.books[i].invalidate(&mut self.counters, recv_ns, i as u16, out);
                        self.requests.request_once(i, recv_ns, &mut self.counters);
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

/// The book a REST order book body met on a frame line belongs to (the body names no pair):
/// the one book among the first `n` that is not seeded yet, or the only book. `None` when
/// several wait or none does.
pub(crate) fn snapshot_owner(books: &[BookSync], n: usize) -> Option<usize> {
    let mut waiting = books.iter().take(n).enumerate().filter(|(_, b)| !b.seeded);
    match (waiting.next(), waiting.next()) {
        (Some((i, _)), None) => Some(i),
        (None, _) if n == 1 => Some(0),
        _ => None,
    }
}

impl CoincheckDecoder {
    /// A snapshot of book `i` (its levels in `self.levels`) under the sync rules.
    fn apply_snapshot<F: FnMut(MdEvent)>(&mut self, i: usize, recv_ns: u64, out: &mut F) {
        self.ensure_book(i);
        let v = self.books[i].on_snapshot(&mut self.counters, recv_ns, i as u16, &self.levels, out);
        self.after_verdict(i, v, recv_ns);
    }
}

impl Decoder for CoincheckDecoder {
    #[inline]
    fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, frame: &mut [u8], out: &mut F) {
        self.counters.frames += 1;
        self.connected = true;
        let fast = if self.fast_path {
            let routes = &self.routes;
            wire::read_fast(
                frame,
                |pair| routes.route_fast(pair),
                &mut self.levels,
                &mut self.trades,
            )
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
            Frame::Book { book, ts_ms } => {
                self.ensure_book(book);
                let v = self.books[book].on_diff(
                    &mut self.counters,
                    recv_ns,
                    book as u16,
                    ts_ms,
                    &self.levels,
                    out,
                );
                self.after_verdict(book, v, recv_ns);
            }
            Frame::Trades => {
                if self.trades.is_empty() {
                    self.counters.unknown += 1;
                }
                for &(book, px, qty, side, ts_ms) in &self.trades {
                    self.counters.events +=
                        emit_trade(recv_ns, book as u16, (px, qty, side, ts_ms), out);
                    self.counters.trades += 1;
                }
            }
            Frame::Snapshot { book: Some(i) } => self.apply_snapshot(i, recv_ns, out),
            // A body no waiting book can claim: nothing to seed.
            Frame::Snapshot { book: None } | Frame::Other => self.counters.unknown += 1,
        }
    }

    fn on_rest<F: FnMut(MdEvent)>(
        &mut self,
        recv_ns: u64,
        url: &str,
        body: &mut [u8],
        out: &mut F,
    ) {
        let book = if url.contains("/api/order_books") {
            query_param(url, "pair").and_then(|p| self.routes.lookup(p))
        } else {
            None
        };
        let Some(i) = book else {
            self.counters.unknown += 1;
            return;
        };
        self.ensure_book(i);
        let inst = self.routes.books[i];
        let levels = &mut self.levels;
        let parsed = self.json.parse(body, |root| {
            wire::read_snapshot(root, inst.tick, inst.lot, levels)
        });
        match parsed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                // Not usable; `on_timer` asks again after `snapshot_retry_ns`.
                self.counters.malformed += 1;
                self.last_error = Some(e);
                return;
            }
            Err(_) => {
                self.counters.malformed += 1;
                self.last_error = Some(FrameError::Json);
                return;
            }
        }
        self.apply_snapshot(i, recv_ns, out);
    }

    fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        let n = self.books.len().min(self.routes.books.len());
        let c = self.config;
        for i in 0..n {
            let v = self.books[i].on_timer(
                &mut self.counters,
                now_ns,
                i as u16,
                c.reseed_interval_ns,
                c.max_silence_ns,
                out,
            );
            if let Some(v) = v {
                self.after_verdict(i, v, now_ns);
            }
            if !self.books[i].seeded {
                if self.requests.outstanding(i) {
                    self.requests
                        .retry_overdue(i, now_ns, c.snapshot_retry_ns, &mut self.counters);
                } else if self.connected && now_ns >= self.retry_at_ns[i] {
                    // Not seeded and nothing asked (a quiet pair at start-up, a crossed seed's
                    // retry delay over).
                    self.requests.request(i, now_ns, &mut self.counters);
                }
            }
        }
    }

    fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, out: &mut F) {
        self.connected = false;
        let n = self.books.len().min(self.routes.books.len());
        for i in 0..n {
            self.books[i].mark_resyncing(&mut self.counters, now_ns, i as u16, out);
            // A fresh seed is asked for by the first diff of the new connection (or the timer).
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
    use crate::msg::{BookOp, Side};
    use crate::venue::testutil::{collect, edited, edits, mutated, states};
    use proptest::prelude::*;

    const URL: &str = "https://coincheck.com/api/order_books?pair=btc_jpy";
    /// 1 BTC in lots of 0.00000001.
    const BTC: i64 = 100_000_000;

    fn dec() -> CoincheckDecoder {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Coincheck,
            Market::Spot,
            &["btc_jpy"],
        )
        .unwrap();
        CoincheckDecoder::new(r)
    }

    fn diff(bids: &str, asks: &str) -> String {
        format!(r#"["btc_jpy",{{"bids":[{bids}],"asks":[{asks}],"last_update_at":"1705396097"}}]"#)
    }

    /// Unsorted on purpose, as the venue sends them.
    const SEED: &str = r#"{"asks":[["6290314.0","0.5"],["6290000.0","1.25"],["6295000.0","2"]],"bids":[["6285000.0","1"],["6288279.0","0.1"],["6280000.0","3"]]}"#;

    fn rest(d: &mut CoincheckDecoder, t: u64, url: &str, body: &str) -> Vec<MdEvent> {
        let mut evs = Vec::new();
        let mut b = body.as_bytes().to_vec();
        d.on_rest(t, url, &mut b, &mut |e| evs.push(e));
        evs
    }

    fn timer(d: &mut CoincheckDecoder, t: u64) -> Vec<MdEvent> {
        let mut evs = Vec::new();
        d.on_timer(t, &mut |e| evs.push(e));
        evs
    }

    fn commits(evs: &[MdEvent]) -> usize {
        evs.iter()
            .filter(|e| matches!(e.op, BookOp::Commit { .. }))
            .count()
    }

    /// Levels of both sides, best first.
    type Sides = (Vec<(i64, i64)>, Vec<(i64, i64)>);

    /// The book the book stage builds from `evs`.
    fn book_of(evs: &[MdEvent]) -> Sides {
        let mut s = BookSet::new(1, 5, 100);
        for e in evs {
            s.apply(e);
        }
        let b = &s.books[0];
        (b.bids.iter().collect(), b.asks.iter().collect())
    }

    /// Seeds a decoder (one diff to open the connection and ask for the seed, then the seed).
    fn seeded() -> (CoincheckDecoder, Vec<MdEvent>) {
        let mut d = dec();
        let mut evs = collect(&mut d, &[&diff("", "")]);
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        evs.extend(rest(&mut d, 2_000, URL, SEED));
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        (d, evs)
    }

    #[test]
    fn unsorted_seed_and_diffs_with_deletes() {
        let (mut d, mut evs) = seeded();
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(
            d.top(0),
            Some((Some((6288279, BTC / 10)), Some((6290000, 5 * BTC / 4))))
        );
        // unsorted diff: a delete of the best bid, a new ask, a changed ask, a delete of an
        // unknown price (harmless)
        evs.extend(collect(
            &mut d,
            &[&diff(
                r#"["6280000.0","0"],["6288279.0","0"],["6100000.0","0"]"#,
                r#"["6295000.0","0.3"],["6289000.0","0.01"]"#,
            )],
        ));
        let (bids, asks) = book_of(&evs);
        assert_eq!(bids, vec![(6285000, BTC)]);
        assert_eq!(
            asks,
            vec![
                (6289000, BTC / 100),
                (6290000, 5 * BTC / 4),
                (6290314, BTC / 2),
                (6295000, 3 * BTC / 10)
            ]
        );
        assert_eq!(
            d.top(0),
            Some((Some((6285000, BTC)), Some((6289000, BTC / 100))))
        );
        assert_eq!(
            evs.last().unwrap().op,
            BookOp::Commit {
                seq: 0,
                exch_ts_ms: 1705396097000
            }
        );
        assert_eq!(d.counters().crossed, 0);
    }

    #[test]
    fn diffs_before_the_seed_are_buffered_and_applied_on_top() {
        let mut d = dec();
        let early = [
            diff(r#"["6288279.0","0"]"#, ""),
            diff(r#"["6286000.0","0.2"]"#, r#"["6290314.0","0.7"]"#),
        ];
        let evs = collect(&mut d, &[&early[0], &early[1]]);
        assert!(evs.is_empty(), "nothing reaches the book before the seed");
        assert_eq!(d.book_state(0), Some(BookState::Resyncing));
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        assert_eq!(d.take_snapshot_request(), None, "asked once");
        assert_eq!(d.snapshot_url_of(0).as_deref(), Some(URL));
        let evs = rest(&mut d, 5_000, URL, SEED);
        assert_eq!(evs[0].op, BookOp::Clear);
        assert_eq!(commits(&evs), 3, "seed + two buffered diffs");
        let (bids, asks) = book_of(&evs);
        assert_eq!(
            bids,
            vec![(6286000, BTC / 5), (6285000, BTC), (6280000, 3 * BTC)]
        );
        assert_eq!(asks[1], (6290314, 7 * BTC / 10));
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        assert_eq!(d.counters().rest_snapshots, 1);
        // after the seed, diffs apply at once
        let evs = collect(&mut d, &[&diff(r#"["6287000.0","1"]"#, "")]);
        assert_eq!(commits(&evs), 1);
    }

    #[test]
    fn rest_body_on_a_frame_line_seeds_as_the_rest_answer_does() {
        let early = [
            diff(r#"["6288279.0","0"]"#, ""),
            diff(r#"["6286000.0","0.2"]"#, r#"["6290314.0","0.7"]"#),
        ];
        let (mut by_line, mut by_rest) = (dec(), dec());
        let _ = collect(&mut by_line, &[&early[0], &early[1]]);
        let _ = collect(&mut by_rest, &[&early[0], &early[1]]);
        let mut line = Vec::new();
        let mut buf = SEED.as_bytes().to_vec();
        by_line.on_frame(5_000, &mut buf, &mut |e| line.push(e));
        assert_eq!(line, rest(&mut by_rest, 5_000, URL, SEED));
        assert_eq!(commits(&line), 3, "seed + the two buffered diffs");
        assert_eq!(by_line.book_state(0), Some(BookState::Synced));
        assert_eq!(by_line.counters().rest_snapshots, 1);
        // The only book: a later body re-seeds it, as a later REST answer does.
        let mut again = Vec::new();
        let mut buf = SEED.as_bytes().to_vec();
        by_line.on_frame(6_000, &mut buf, &mut |e| again.push(e));
        assert_eq!(again, rest(&mut by_rest, 6_000, URL, SEED));
        assert_eq!(by_line.counters().unknown, 0);
        // Two books waiting and no pair named: not guessed.
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Coincheck,
            Market::Spot,
            &["btc_jpy", "eth_jpy"],
        )
        .unwrap();
        let mut two = CoincheckDecoder::new(r);
        assert!(collect(&mut two, &[SEED]).is_empty());
        assert_eq!(two.counters().unknown, 1);
        // Naming the pair settles it.
        let named = SEED.replacen('{', r#"{"pair":"eth_jpy","#, 1);
        let evs = collect(&mut two, &[&named]);
        assert_eq!(evs.first().map(|e| e.book), Some(1));
    }

    #[test]
    fn buffer_before_seed_is_bounded() {
        let r = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Coincheck,
            Market::Spot,
            &["btc_jpy"],
        )
        .unwrap();
        let mut d = CoincheckDecoder::with_config(
            r,
            CoincheckConfig {
                buffer_diffs: 2,
                ..CoincheckConfig::default()
            },
        );
        let f = [
            diff(r#"["1.0","1"]"#, ""),
            diff(r#"["2.0","1"]"#, ""),
            diff(r#"["3.0","1"]"#, ""),
        ];
        let _ = collect(&mut d, &[&f[0], &f[1], &f[2]]);
        assert_eq!(d.counters().dropped, 2);
        let evs = rest(&mut d, 5_000, URL, r#"{"asks":[],"bids":[]}"#);
        // only the newest diff survived the overflow
        assert_eq!(book_of(&evs).0, vec![(3, BTC)]);
    }

    #[test]
    fn reseed_on_interval_marks_stale_until_the_new_seed() {
        let (mut d, _) = seeded();
        d.config.reseed_interval_ns = 1_000_000;
        d.config.max_silence_ns = u64::MAX;
        assert!(timer(&mut d, 2_000 + 999_999).is_empty());
        assert!(!d.take_resync_request());
        let evs = timer(&mut d, 2_000 + 1_000_000);
        assert_eq!(states(&evs), vec![BookState::Stale]);
        assert_eq!(d.book_state(0), Some(BookState::Stale));
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        // diffs wait for the new seed; the book stays stale (no commit)
        let evs = collect(&mut d, &[&diff(r#"["6286500.0","2"]"#, "")]);
        assert!(evs.is_empty());
        assert!(!d.take_resync_request(), "already asked");
        let evs = rest(&mut d, 3_000_000, URL, SEED);
        assert_eq!(commits(&evs), 2);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
        assert_eq!(d.top(0).unwrap().0, Some((6288279, BTC / 10)));
        assert_eq!(book_of(&evs).0[1], (6286500, 2 * BTC));
        // the next deadline counts from the new seed
        assert!(timer(&mut d, 3_000_000 + 999_999).is_empty());
        assert_eq!(states(&timer(&mut d, 4_000_000)), vec![BookState::Stale]);
        assert_eq!(d.counters().snapshot_requests, 3);
    }

    #[test]
    fn silence_turns_the_book_stale_until_the_next_diff() {
        let (mut d, _) = seeded();
        d.config.max_silence_ns = 100;
        assert!(timer(&mut d, 2_050).is_empty());
        let evs = timer(&mut d, 2_200);
        assert_eq!(states(&evs), vec![BookState::Stale]);
        assert_eq!(d.counters().stale, 1);
        assert!(!d.take_resync_request(), "silence alone does not re-seed");
        let evs = collect(&mut d, &[&diff(r#"["6286000.0","1"]"#, "")]);
        assert_eq!(commits(&evs), 1);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn crossed_book_after_a_diff_requests_a_reseed() {
        let (mut d, mut evs) = seeded();
        // a bid at the best ask: some ask deletion was lost
        let e = collect(&mut d, &[&diff(r#"["6290000.0","0.1"]"#, "")]);
        assert_eq!(commits(&e), 1);
        assert_eq!(states(&e), vec![BookState::Stale]);
        assert_eq!(d.counters().crossed, 1);
        assert_eq!(d.book_state(0), Some(BookState::Stale));
        assert!(d.take_resync_request());
        assert_eq!(d.take_snapshot_request(), Some(0));
        evs.extend(e);
        let e = collect(&mut d, &[&diff("", r#"["6290000.0","0"]"#)]);
        assert!(e.is_empty(), "buffered until the re-seed");
        evs.extend(rest(&mut d, 9_000, URL, SEED));
        let (bids, asks) = book_of(&evs);
        assert_eq!(bids[0], (6288279, BTC / 10));
        assert_eq!(asks[0], (6290314, BTC / 2));
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn crossed_seed_is_retried_after_a_delay() {
        let mut d = dec();
        d.config.snapshot_retry_ns = 1_000;
        let _ = collect(&mut d, &[&diff("", "")]);
        assert!(d.take_resync_request());
        let crossed = r#"{"asks":[["100.0","1"]],"bids":[["100.0","1"]]}"#;
        let evs = rest(&mut d, 2_000, URL, crossed);
        assert_eq!(states(&evs), vec![BookState::Stale]);
        let _ = collect(&mut d, &[&diff("", "")]);
        let _ = timer(&mut d, 2_500);
        assert!(!d.take_resync_request(), "not at once");
        let _ = timer(&mut d, 3_000);
        assert!(d.take_resync_request());
    }

    #[test]
    fn overdue_seed_is_asked_again_and_disconnect_resyncs() {
        let mut d = dec();
        d.config.snapshot_retry_ns = 1_000;
        assert!(timer(&mut d, 10).is_empty());
        assert!(
            !d.take_resync_request(),
            "no seed before the socket delivers"
        );
        let _ = collect(
            &mut d,
            &[r#"[["1663318663","1","btc_jpy","1.0","1","buy","1","2"]]"#],
        );
        let _ = timer(&mut d, 1_500);
        assert!(
            d.take_resync_request(),
            "a quiet pair is seeded once connected"
        );
        let _ = timer(&mut d, 2_000);
        assert!(!d.take_resync_request());
        let _ = timer(&mut d, 2_500);
        assert!(d.take_resync_request(), "overdue");
        let _ = rest(&mut d, 2_600, URL, SEED);
        let mut evs = Vec::new();
        d.on_disconnect(3_000, &mut |e| evs.push(e));
        assert_eq!(states(&evs), vec![BookState::Resyncing]);
        assert_eq!(d.counters().resyncs, 1);
        assert!(timer(&mut d, 100_000).is_empty());
        assert!(!d.take_resync_request(), "waits for the new connection");
        let _ = collect(&mut d, &[&diff("", "")]);
        assert!(d.take_resync_request());
    }

    #[test]
    fn trades_both_shapes() {
        let mut d = dec();
        let evs = collect(
            &mut d,
            &[
                r#"[["1663318663","2357062","btc_jpy","2820896.0","5.0","sell","1193401","2078767"],["1663318664","2357063","btc_jpy","2820900.0","0.01","buy","1193402","2078768"],["1663318664","2357064","eth_jpy","200000.0","1","buy","1","2"]]"#,
                r#"[2357065,"btc_jpy","2820901.0","0.5","buy"]"#,
                r#"[["1663318665","2357066","xrp_jpy","80.0","1","buy","1","2"]]"#,
            ],
        );
        let t = |recv_ns, book, px, qty, aggressor, exch_ts_ms| MdEvent {
            recv_ns,
            book,
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
                t(1_000, 0, 2820896, 5 * BTC, Side::Ask, 1663318663000),
                t(1_000, 0, 2820900, BTC / 100, Side::Bid, 1663318664000),
                t(1_001, 0, 2820901, BTC / 2, Side::Bid, 0),
            ]
        );
        let c = d.counters();
        assert_eq!((c.trades, c.unknown, c.malformed), (3, 1, 0));
    }

    #[test]
    fn malformed_frames_are_counted_not_fatal() {
        let (mut d, _) = seeded();
        let bad = [
            r#"["btc_jpy",{"bids":[["6288279.0","0"#, // truncated
            r#"["btc_jpy",{"bids":[[6288279.0,"0"]],"asks":[]}]"#, // number, not string
            r#"["btc_jpy",{"bids":"x","asks":[]}]"#,  // wrong type
            r#"["btc_jpy",{"bids":[["99999999999999999999999","1"]],"asks":[]}]"#, // huge
            r#"["btc_jpy",{"bids":[["6288279.5","1"]],"asks":[]}]"#, // off tick
            r#"["btc_jpy",{"bids":[[]],"asks":[]}]"#, // empty level
            r#"["btc_jpy",{"bids":[]}]"#,             // no asks
            r#"["btc_jpy",[]]"#,
            r#"[["1663318663","2357062","btc_jpy","2820896.0"]]"#, // short trade
            r#"[["1663318663","2357062","btc_jpy","2820896.0","5.0","hold","1","2"]]"#, // side
            r#"[[]]"#,
            r#"[]"#,
            r#"7"#,
            r#""#,
        ];
        let evs = collect(&mut d, &bad);
        assert_eq!(d.counters().malformed, bad.len() as u64);
        // a lost diff of a seeded book: stale and re-seed
        assert_eq!(states(&evs), vec![BookState::Stale]);
        assert!(d.take_resync_request());
        let unknown = [
            r#"{"type":"error","message":"x"}"#,
            r#"["xrp_jpy",{"bids":[],"asks":[]}]"#,
        ];
        let _ = collect(&mut d, &unknown);
        assert_eq!(d.counters().unknown, 2);
        // a malformed REST body is counted; other REST answers are unknown
        let _ = rest(&mut d, 1, URL, r#"{"success":false,"error":"x"}"#);
        assert_eq!(d.counters().malformed, bad.len() as u64 + 1);
        let _ = rest(&mut d, 1, "https://coincheck.com/api/ticker", "{}");
        assert_eq!(d.counters().unknown, 3);
        let _ = rest(&mut d, 2, URL, SEED);
        assert_eq!(d.book_state(0), Some(BookState::Synced));
    }

    #[test]
    fn urls_and_subscribe_frames() {
        assert_eq!(ws_url(), "wss://ws-api.coincheck.com/");
        assert_eq!(snapshot_url("BTC_JPY"), URL);
        assert_eq!(
            snapshot_url_at("http://127.0.0.1:8080/", "btc_jpy"),
            "http://127.0.0.1:8080/api/order_books?pair=btc_jpy"
        );
        assert_eq!(
            subscribe_frames("btc_jpy"),
            [
                r#"{"type":"subscribe","channel":"btc_jpy-orderbook"}"#.to_string(),
                r#"{"type":"subscribe","channel":"btc_jpy-trades"}"#.to_string(),
            ]
        );
    }

    /// Two decoders of the same books: the fast path and simd-json only.
    struct Pair {
        fast: CoincheckDecoder,
        tape: CoincheckDecoder,
    }

    impl Pair {
        fn new() -> Pair {
            let mut tape = dec();
            tape.set_fast_path(false);
            Pair { fast: dec(), tape }
        }

        /// One frame (or REST answer) to both, then a timer tick; checks that they agree on
        /// everything observable.
        fn feed(&mut self, t: u64, rest: bool, frame: &[u8]) -> Result<Vec<MdEvent>, String> {
            let mut evs = [Vec::new(), Vec::new()];
            for (d, evs) in [&mut self.fast, &mut self.tape]
                .into_iter()
                .zip(evs.iter_mut())
            {
                let mut buf = frame.to_vec();
                if rest {
                    d.on_rest(t, URL, &mut buf, &mut |e| evs.push(e));
                } else {
                    d.on_frame(t, &mut buf, &mut |e| evs.push(e));
                }
                d.on_timer(t, &mut |e| evs.push(e));
            }
            let shown = || String::from_utf8_lossy(frame).into_owned();
            let state = |d: &mut CoincheckDecoder| {
                let books: Vec<_> = (0..d.routes.books.len())
                    .map(|i| (d.routes.key(i), d.book_state(i), d.top(i)))
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
            let (a, b) = (state(&mut self.fast), state(&mut self.tape));
            if a != b {
                return Err(format!("state differs on {}:\n{a:?}\n{b:?}", shown()));
            }
            let [e, _] = evs;
            Ok(e)
        }
    }

    /// Simulator frames (the REST seed first, then diffs and trades).
    fn sim_frames(seed: u64, n: usize) -> Vec<(bool, String)> {
        use crate::sim::{CoincheckFrames, FrameKind};
        let mut src = CoincheckFrames::new(seed);
        let mut text = String::new();
        let mut out = Vec::new();
        while out.len() < n {
            let Some((_, kind)) = src.next_frame(&mut text) else {
                break;
            };
            out.push((kind == FrameKind::RestSnapshot, text.clone()));
        }
        out
    }

    /// Every frame of a long simulator run, as sent and with the diff bodies' keys sorted:
    /// both paths agree, and the fast path reads every WebSocket frame.
    #[test]
    fn fast_path_matches_simd_json_on_simulator_frames() {
        for sorted in [false, true] {
            let mut p = Pair::new();
            let frames = sim_frames(11, 3000);
            let mut ws = 0;
            for (n, (rest, f)) in frames.iter().enumerate() {
                let f = if sorted && !rest {
                    let v: serde_json::Value = serde_json::from_str(f).unwrap();
                    serde_json::to_string(&v).unwrap()
                } else {
                    f.clone()
                };
                ws += !rest as u64;
                p.feed(1_000 + n as u64 * 1_000_000, *rest, f.as_bytes())
                    .unwrap_or_else(|e| panic!("frame {n}: {e}"));
            }
            let c = p.fast.counters();
            assert!(c.trades > 100 && c.updates > 1000, "{c:?}");
            assert_eq!(p.fast.fast_path_frames(), ws);
        }
    }

    #[test]
    fn fast_path_reads_the_usual_frames_and_gives_up_on_the_rest() {
        let mut p = Pair::new();
        let mut n = 0;
        let mut check = |p: &mut Pair, rest: bool, frame: &str, read_fast: bool| {
            let before = p.fast.fast_path_frames();
            n += 1;
            let evs = p.feed(n * 1_000_000, rest, frame.as_bytes()).unwrap();
            assert_eq!(
                p.fast.fast_path_frames() - before,
                read_fast as u64,
                "{frame}"
            );
            evs
        };
        check(&mut p, false, &diff(r#"["6288279.0","0"]"#, ""), true);
        check(&mut p, true, SEED, false);
        // Asks first, whitespace, extra elements after the body.
        let evs = check(
            &mut p,
            false,
            r#"[ "btc_jpy" , { "asks" : [ [ "6290314.0" , "0.7" ] ] , "bids" : [ [ "6288279.0" , "0.2" ] ] , "last_update_at" : "1705396098" } , 5 ]"#,
            true,
        );
        assert!(matches!(
            evs[0].op,
            BookOp::Set {
                side: Side::Bid,
                ..
            }
        ));
        assert!(matches!(
            evs.last().unwrap().op,
            BookOp::Commit {
                exch_ts_ms: 1705396098000,
                ..
            }
        ));
        // Trades of both shapes (the older one-trade shape goes to simd-json), other pairs.
        let evs = check(
            &mut p,
            false,
            r#"[["1663318663","2357062","btc_jpy","2820896.0","5.0","sell","1193401","2078767"],["1663318664","2357063","eth_jpy","1.0","1.0","buy","1","2"]]"#,
            true,
        );
        assert_eq!(evs.len(), 1);
        check(
            &mut p,
            false,
            r#"[2357065,"btc_jpy","2820901.0","0.5","buy"]"#,
            false,
        );
        check(&mut p, false, r#"["eth_jpy",{"bids":[],"asks":[]}]"#, true);
        check(&mut p, false, r#"{"type":"x"}"#, true);
        // Malformed: the full path counts them.
        check(&mut p, false, &diff(r#"["6288279.05","1"]"#, ""), false);
        check(&mut p, false, r#"[]"#, false);
        check(
            &mut p,
            false,
            r#"[["1663318663","2357062","btc_jpy","2820896.0","5.0","hold","1","2"]]"#,
            false,
        );
        assert_eq!(p.fast.counters().malformed, 3);
        assert_eq!(p.fast.counters().trades, 2);
    }

    static COINCHECK_SAMPLES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// (b) Random edits of frames: both paths agree (events, counters, errors, book states,
        /// seed requests) and nothing panics.
        #[test]
        fn fast_path_matches_simd_json_on_mutated_frames(
            which in any::<prop::sample::Index>(),
            edits in edits(),
        ) {
            let frames = COINCHECK_SAMPLES.get_or_init(|| {
                let mut v: Vec<String> = sim_frames(5, 40).into_iter().filter(|(r, _)| !r).map(|(_, f)| f).collect();
                v.push(diff(r#"["6288279.0","0"],["6286000.0","0.2"]"#, r#"["6290314.0","0.5"]"#));
                v.push(r#"[["1663318663","2357062","btc_jpy","2820896.0","5.0","sell","1193401","2078767"]]"#.to_string());
                v.push(r#"[2357065,"btc_jpy","2820901.0","0.5","buy"]"#.to_string());
                v.push(r#"{"type":"x"}"#.to_string());
                v
            });
            let frame = frames[which.index(frames.len())].as_bytes();
            let mut p = Pair::new();
            p.feed(1, false, diff(r#"["6288279.0","0"]"#, "").as_bytes()).map_err(TestCaseError::fail)?;
            p.feed(2, true, SEED.as_bytes()).map_err(TestCaseError::fail)?;
            p.feed(3, false, &edited(frame, &edits)).map_err(TestCaseError::fail)?;
            p.feed(4, false, frame).map_err(TestCaseError::fail)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Random byte mutations and truncations of valid frames and order books never panic
        /// and never emit a negative price or size.
        #[test]
        #[test]
        fn mutated_frames_never_panic(
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
            which in 0usize..5,
        ) {
            let frames = [
                diff(r#"["6288279.0","0"],["6286000.0","0.2"]"#, r#"["6290314.0","0.5"]"#),
                r#"[["1663318663","2357062","btc_jpy","2820896.0","5.0","sell","1193401","2078767"]]"#.to_string(),
                r#"[2357065,"btc_jpy","2820901.0","0.5","buy"]"#.to_string(),
                r#"{"type":"x"}"#.to_string(),
                SEED.to_string(),
            ];
            let (mut d, _) = seeded();
            let mut buf = mutated(&frames[which], &edits, cut);
            let mut evs = Vec::new();
            if which == 4 {
                d.on_rest(5, URL, &mut buf, &mut |e| evs.push(e));
            } else {
                d.on_frame(5, &mut buf, &mut |e| evs.push(e));
            }
            d.on_timer(u64::MAX, &mut |e| evs.push(e));
            for e in &evs {
                match e.op {
                    BookOp::Set { px, qty, .. } | BookOp::Trade { px, qty, .. } => {
                        prop_assert!(px >= 0 && qty >= 0);
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(d.counters().frames, if which == 4 { 1 } else { 2 });
        }
    }
}
