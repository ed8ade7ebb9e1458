//! The book stage: applies [`MdEvent`]s to L2 books and computes the signals on every update.
//!
//! [`L2Book`] holds two [`Ladder`]s and the book state; [`signals`] computes OBI over the top N
//! levels, the microprice, the spread and best-level OFI. [`BookSet`] is the stage's step logic
//! for all books of one feed: it is what the threaded pipeline and the replay driver both call.

pub mod ladder;
pub mod signals;

pub use ladder::Ladder;

use crate::exec::LevelTap;
use crate::msg::{
    BookOp, BookState, BookUpdate, Depth, LevelOp, MarketMsg, MdEvent, TradePrint, NO_PRICE,
};

/// Default levels kept per side (Binance REST snapshots are up to 5000 deep).
pub const DEFAULT_LEVELS: usize = 5000;

/// An L2 book with integer ticks and lots.
#[derive(Debug, Clone)]
pub struct L2Book {
    pub bids: Ladder,
    pub asks: Ladder,
    pub state: BookState,
    /// Best bid/ask at the previous commit, for OFI.
    prev_top: (i64, i64, i64, i64),
    /// Running OFI sum since the last clear, saturating at the i64 bounds.
    ofi_cum: i64,
}

impl L2Book {
    pub fn new(levels_per_side: usize) -> L2Book {
        L2Book {
            bids: Ladder::new(true, levels_per_side),
            asks: Ladder::new(false, levels_per_side),
            state: BookState::Resyncing,
            prev_top: (NO_PRICE, 0, NO_PRICE, 0),
            ofi_cum: 0,
        }
    }

    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.prev_top = (NO_PRICE, 0, NO_PRICE, 0);
        self.ofi_cum = 0;
    }

    #[inline]
    pub fn side_mut(&mut self, side: crate::msg::Side) -> &mut Ladder {
        match side {
            crate::msg::Side::Bid => &mut self.bids,
            crate::msg::Side::Ask => &mut self.asks,
        }
    }

    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best()
    }

    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best()
    }

    pub fn is_crossed(&self) -> bool {
        matches!((self.bids.best(), self.asks.best()), (Some((b, _)), Some((a, _))) if b >= a)
    }

    /// Computes the signals for the current book and advances the OFI reference.
    #[inline]
    pub fn publish(
        &mut self,
        recv_ns: u64,
        exch_ts_ms: u64,
        book: u16,
        depth: usize,
    ) -> BookUpdate {
        let (bid_px, bid_qty) = self.bids.best().unwrap_or((NO_PRICE, 0));
        let (ask_px, ask_qty) = self.asks.best().unwrap_or((NO_PRICE, 0));
        let ofi = signals::ofi(self.prev_top, (bid_px, bid_qty, ask_px, ask_qty));
        self.prev_top = (bid_px, bid_qty, ask_px, ask_qty);
        self.ofi_cum = self.ofi_cum.saturating_add(ofi);
        let mut top = Depth::default();
        for (slot, l) in top.bids.iter_mut().zip(self.bids.iter()) {
            *slot = l;
        }
        for (slot, l) in top.asks.iter_mut().zip(self.asks.iter()) {
            *slot = l;
        }
        BookUpdate {
            recv_ns,
            exch_ts_ms,
            book,
            state: self.state,
            crossed: bid_px != NO_PRICE && ask_px != NO_PRICE && bid_px >= ask_px,
            bid_px,
            bid_qty,
            ask_px,
            ask_qty,
            obi_ppm: signals::obi_ppm(self.bids.top_qty(depth), self.asks.top_qty(depth)),
            micro_e6: signals::microprice_e6(bid_px, bid_qty, ask_px, ask_qty),
            spread_ticks: if bid_px == NO_PRICE || ask_px == NO_PRICE {
                i64::MAX
            } else {
                ask_px - bid_px
            },
            ofi_lots: ofi,
            ofi_cum_lots: self.ofi_cum,
            depth: top,
            levels_n: 0,
        }
    }
}

/// Book counters (plain integers; the cold path reads copies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BookCounters {
    /// Commits applied (snapshots and deltas).
    pub updates: u64,
    /// Level operations applied.
    pub levels: u64,
    pub clears: u64,
    pub trades: u64,
    /// Commits after which the book was crossed.
    pub crossed: u64,
    /// Levels evicted because a side was full.
    pub evicted: u64,
}

/// All books of one feed and the book stage's step logic.
#[derive(Debug)]
pub struct BookSet {
    pub books: Vec<L2Book>,
    pub counters: Vec<BookCounters>,
    depth: usize,
    levels_per_side: usize,
    /// The level feed of the traded book to the order stage's mirror, if one runs.
    pub tap: Option<LevelTap>,
}

impl BookSet {
    /// `depth` is the OBI depth N; `levels_per_side` the capacity of each ladder.
    pub fn new(n_books: usize, depth: usize, levels_per_side: usize) -> BookSet {
        BookSet {
            books: (0..n_books).map(|_| L2Book::new(levels_per_side)).collect(),
            counters: vec![BookCounters::default(); n_books],
            depth: depth.max(1),
            levels_per_side,
            tap: None,
        }
    }

    /// Makes sure book `i` exists (cold path: replay discovers books as it goes).
    pub fn ensure(&mut self, i: usize) {
        while self.books.len() <= i {
            self.books.push(L2Book::new(self.levels_per_side));
            self.counters.push(BookCounters::default());
        }
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Sends every level operation of the tap's book on its ring (see [`crate::exec::mirror`]).
    pub fn with_tap(mut self, tap: LevelTap) -> BookSet {
        self.tap = Some(tap);
        self
    }

    /// Level messages the level ring could not take.
    pub fn tap_overflows(&self) -> u64 {
        self.tap.as_ref().map_or(0, |t| t.overflows)
    }

    /// The number of the last level message of `book` (0 where no tap feeds it).
    #[inline]
    fn levels_n(&self, book: u16) -> u32 {
        match &self.tap {
            Some(t) if t.book() == book => t.last_n(),
            _ => 0,
        }
    }

    /// Applies one event; returns what the book stage publishes for it, if anything.
    #[inline]
    pub fn apply(&mut self, ev: &MdEvent) -> Option<MarketMsg> {
        // A level, the most frequent event by far, without the frame of the publishing path.
        if let BookOp::Set { side, px, qty } = ev.op {
            let i = ev.book as usize;
            if let (Some(book), Some(c)) = (self.books.get_mut(i), self.counters.get_mut(i)) {
                let l = book.side_mut(side);
                let before = l.evicted;
                l.set(px, qty);
                c.evicted += l.evicted - before;
                c.levels += 1;
                if let Some(t) = &mut self.tap {
                    if t.book() == ev.book {
                        t.send(LevelOp::Set(side), px, qty);
                    }
                }
            }
            return None;
        }
        self.apply_other(ev)
    }

    /// [`BookSet::apply`] for every event but a level.
    #[inline(never)]
    fn apply_other(&mut self, ev: &MdEvent) -> Option<MarketMsg> {
        let i = ev.book as usize;
        let levels_n = self.levels_n(ev.book);
        let (book, c) = match (self.books.get_mut(i), self.counters.get_mut(i)) {
            (Some(b), Some(c)) => (b, c),
            _ => return None,
        };
        match ev.op {
            BookOp::Clear => {
                book.clear();
                c.clears += 1;
                if let Some(t) = &mut self.tap {
                    if t.book() == ev.book {
                        t.send(LevelOp::Clear, 0, 0);
                    }
                }
                None
            }
            BookOp::Set { .. } => None, // (applied by `apply`)
            BookOp::Commit { exch_ts_ms, .. } => {
                book.state = BookState::Synced;
                c.updates += 1;
                let mut u = book.publish(ev.recv_ns, exch_ts_ms, ev.book, self.depth);
                u.levels_n = levels_n;
                if u.crossed {
                    c.crossed += 1;
                }
                Some(MarketMsg::Book(u))
            }
            BookOp::State(s) => {
                book.state = s;
                let mut u = book.publish(ev.recv_ns, 0, ev.book, self.depth);
                u.levels_n = levels_n;
                Some(MarketMsg::Book(u))
            }
            BookOp::Trade {
                px,
                qty,
                aggressor,
                exch_ts_ms,
            } => {
                c.trades += 1;
                Some(MarketMsg::Trade(TradePrint {
                    recv_ns: ev.recv_ns,
                    exch_ts_ms,
                    book: ev.book,
                    px,
                    qty,
                    aggressor,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Side;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn ev(op: BookOp) -> MdEvent {
        MdEvent {
            recv_ns: 1,
            book: 0,
            op,
        }
    }

    #[test]
    fn commit_publishes_signals() {
        let mut s = BookSet::new(1, 2, 100);
        for (side, px, qty) in [
            (Side::Bid, 99, 3),
            (Side::Bid, 98, 1),
            (Side::Ask, 101, 1),
            (Side::Ask, 102, 1),
        ] {
            assert!(s.apply(&ev(BookOp::Set { side, px, qty })).is_none());
        }
        let Some(MarketMsg::Book(u)) = s.apply(&ev(BookOp::Commit {
            seq: 1,
            exch_ts_ms: 5,
        })) else {
            panic!("commit publishes");
        };
        assert_eq!(u.state, BookState::Synced);
        assert_eq!((u.bid_px, u.ask_px, u.spread_ticks), (99, 101, 2));
        assert_eq!(u.obi_ppm, 333_333); // (4 - 2) / 6
                                        // microprice = (99*1 + 101*3) / 4 = 100.5 ticks
        assert_eq!(u.micro_e6, 100_500_000);
        assert!(!u.crossed);
    }

    /// Two bid levels near 1e18 lots against one small ask: OBI stays at +1 (all bids), the
    /// bid total does not wrap negative and flip the sign; OFI and its running sum saturate.
    #[test]
    fn huge_sizes_do_not_flip_obi_or_wrap_ofi() {
        let big = 4_700_000_000_000_000_000; // 4.7e18 lots each; their sum passes i64::MAX
        let mut s = BookSet::new(1, 2, 100);
        for (side, px, qty) in [
            (Side::Bid, 99, big),
            (Side::Bid, 98, big),
            (Side::Ask, 101, 1),
        ] {
            s.apply(&ev(BookOp::Set { side, px, qty }));
        }
        let commit =
            |s: &mut BookSet, seq| match s.apply(&ev(BookOp::Commit { seq, exch_ts_ms: 5 })) {
                Some(MarketMsg::Book(u)) => u,
                other => panic!("commit publishes: {other:?}"),
            };
        let u = commit(&mut s, 1);
        assert!(u.obi_ppm > 999_000, "OBI flipped: {}", u.obi_ppm);
        // The best bid grows by `big` and the ask side by `big` at a better price: each OFI
        // term is near i64::MAX; the total and the running sum saturate, never wrap.
        s.apply(&ev(BookOp::Set {
            side: Side::Bid,
            px: 100,
            qty: big,
        }));
        let u = commit(&mut s, 2);
        assert_eq!(u.ofi_lots, big);
        for seq in 3..6 {
            s.apply(&ev(BookOp::Set {
                side: Side::Bid,
                px: 100 + seq,
                qty: big,
            }));
            let u = commit(&mut s, seq as u64);
            assert!(
                u.ofi_cum_lots > 0,
                "cumulative OFI wrapped: {}",
                u.ofi_cum_lots
            );
        }
        assert!(u.obi_ppm > 999_000);
    }

    #[test]
    fn empty_and_one_sided_books() {
        let mut s = BookSet::new(1, 8, 100);
        let Some(MarketMsg::Book(u)) = s.apply(&ev(BookOp::Commit {
            seq: 0,
            exch_ts_ms: 0,
        })) else {
            panic!()
        };
        assert_eq!((u.bid_px, u.ask_px, u.obi_ppm), (NO_PRICE, NO_PRICE, 0));
        assert_eq!(u.spread_ticks, i64::MAX);
        assert!(!u.has_two_sides());
        s.apply(&ev(BookOp::Set {
            side: Side::Bid,
            px: 5,
            qty: 2,
        }));
        let Some(MarketMsg::Book(u)) = s.apply(&ev(BookOp::Commit {
            seq: 0,
            exch_ts_ms: 0,
        })) else {
            panic!()
        };
        assert_eq!(u.obi_ppm, 1_000_000);
        assert_eq!(u.micro_e6, 5_000_000);
    }

    #[test]
    fn crossed_commits_are_counted() {
        let mut s = BookSet::new(1, 8, 100);
        s.apply(&ev(BookOp::Set {
            side: Side::Bid,
            px: 10,
            qty: 1,
        }));
        s.apply(&ev(BookOp::Set {
            side: Side::Ask,
            px: 10,
            qty: 1,
        }));
        let Some(MarketMsg::Book(u)) = s.apply(&ev(BookOp::Commit {
            seq: 0,
            exch_ts_ms: 0,
        })) else {
            panic!()
        };
        assert!(u.crossed);
        assert_eq!(s.counters[0].crossed, 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Snapshot(Vec<(bool, i64, i64)>),
        Delta(Vec<(bool, i64, i64)>),
    }

    fn level() -> impl Strategy<Value = (bool, i64, i64)> {
        (
            any::<bool>(),
            900i64..1100,
            prop_oneof![Just(0i64), 1i64..50],
        )
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => prop::collection::vec(level(), 0..60).prop_map(Op::Snapshot),
            6 => prop::collection::vec(level(), 0..12).prop_map(Op::Delta),
        ]
    }

    proptest! {
        /// The ladder book agrees with a `BTreeMap` reference after random snapshots, deltas and
        /// deletions: every level, the best prices, and the top-N sums.
        #[test]
        fn book_matches_btreemap_reference(ops in prop::collection::vec(op(), 1..40), depth in 1usize..20) {
            let cap = 256; // more than the 200 distinct prices per side, so nothing is evicted
            let mut s = BookSet::new(1, depth, cap);
            let mut rb: BTreeMap<i64, i64> = BTreeMap::new();
            let mut ra: BTreeMap<i64, i64> = BTreeMap::new();
            for o in ops {
                let levels = match o {
                    Op::Snapshot(l) => {
                        s.apply(&ev(BookOp::Clear));
                        rb.clear();
                        ra.clear();
                        l
                    }
                    Op::Delta(l) => l,
                };
                for (bid, px, qty) in levels {
                    let side = if bid { Side::Bid } else { Side::Ask };
                    s.apply(&ev(BookOp::Set { side, px, qty }));
                    let m = if bid { &mut rb } else { &mut ra };
                    if qty == 0 { m.remove(&px); } else { m.insert(px, qty); }
                }
                let Some(MarketMsg::Book(u)) = s.apply(&ev(BookOp::Commit { seq: 0, exch_ts_ms: 0 })) else { panic!() };
                prop_assert_eq!(s.counters[0].evicted, 0);
                let b = &s.books[0];
                let got_b: Vec<(i64, i64)> = b.bids.iter().collect();
                let want_b: Vec<(i64, i64)> = rb.iter().rev().map(|(p, q)| (*p, *q)).collect();
                prop_assert_eq!(got_b, want_b);
                let got_a: Vec<(i64, i64)> = b.asks.iter().collect();
                let want_a: Vec<(i64, i64)> = ra.iter().map(|(p, q)| (*p, *q)).collect();
                prop_assert_eq!(got_a, want_a);
                let tb: i64 = rb.values().rev().take(depth).sum();
                let ta: i64 = ra.values().take(depth).sum();
                prop_assert_eq!(u.obi_ppm, signals::obi_ppm(tb, ta));
                prop_assert_eq!(u.bid_px, rb.keys().next_back().copied().unwrap_or(NO_PRICE));
                prop_assert_eq!(u.ask_px, ra.keys().next().copied().unwrap_or(NO_PRICE));
            }
        }
    }
}
