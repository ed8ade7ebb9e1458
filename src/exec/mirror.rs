//! The order stage's mirror of the traded book: the full depth the paper exchange sweeps.
//!
//! The book stage sends every level operation of the traded book ([`LevelMsg`]: clear, set) on
//! a dedicated book → order ring ([`LevelTap`] is its producer side); every book update it
//! publishes carries the running number of the last level message sent before it
//! ([`BookUpdate::levels_n`]). When the paper exchange takes an update, the mirror applies the
//! level messages up to that number and no further, so it is exactly the book the update was
//! computed on, however far the book stage has run ahead on its own thread.
//!
//! A full ring loses messages: the tap counts them and still numbers them, so the mirror sees
//! the gap (a jump in the numbers, or an update whose number it never reached) and marks itself
//! unsynced until the next snapshot (the next `Clear`). The paper exchange fills nothing on an
//! unsynced mirror.
//!
//! Without a level feed ([`Mirror::from_updates`]: unit tests, tools) the mirror is rebuilt
//! from the top [`crate::msg::DEPTH_LEVELS`] levels each update carries.
//!
//! Our own taking fills consume the mirror until the next update (the market data does not
//! know our fills; the next update shows the venue's book again): an overlay per side says
//! which levels from the touch down were taken, so the mirror itself stays the venue's book.
//!
//! Nothing allocates after construction.

use crate::book::Ladder;
use crate::msg::{BookUpdate, LevelMsg, LevelOp, Side, DEPTH_LEVELS, NO_PRICE};

/// The producer side of the level feed: the level operations of one book, numbered.
pub struct LevelTap {
    book: u16,
    tx: rtrb::Producer<LevelMsg>,
    n: u32,
    /// Level messages the full ring could not take.
    pub overflows: u64,
}

impl std::fmt::Debug for LevelTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LevelTap")
            .field("book", &self.book)
            .field("n", &self.n)
            .field("overflows", &self.overflows)
            .finish()
    }
}

impl LevelTap {
    /// A tap for book `book` of a [`crate::book::BookSet`].
    pub fn new(book: u16, tx: rtrb::Producer<LevelMsg>) -> LevelTap {
        LevelTap {
            book,
            tx,
            n: 0,
            overflows: 0,
        }
    }

    pub fn book(&self) -> u16 {
        self.book
    }

    /// Number of the last level message sent (or lost).
    #[inline]
    pub fn last_n(&self) -> u32 {
        self.n
    }

    #[inline]
    pub fn send(&mut self, op: LevelOp, px: i64, qty: i64) {
        self.n = self.n.wrapping_add(1);
        if self
            .tx
            .push(LevelMsg {
                n: self.n,
                op,
                px,
                qty,
            })
            .is_err()
        {
            self.overflows += 1;
        }
    }
}

/// Slots of the book → order level ring: room for two full snapshots of both sides and the
/// pipeline's own ring capacity, whichever is more.
pub fn level_ring_capacity(ring_capacity: usize, levels_per_side: usize) -> usize {
    ring_capacity.max(4 * levels_per_side + 64)
}

/// A ring for the level feed: its producer for the book stage, its consumer for the mirror.
pub fn level_ring(
    ring_capacity: usize,
    levels_per_side: usize,
) -> (rtrb::Producer<LevelMsg>, rtrb::Consumer<LevelMsg>) {
    crate::pipeline::ring::ring(level_ring_capacity(ring_capacity, levels_per_side))
}

/// The order stage's copy of the traded book.
pub struct Mirror {
    bids: Ladder,
    asks: Ladder,
    /// Levels per side the ladders hold (the book stage's capacity).
    cap: usize,
    feed: Option<rtrb::Consumer<LevelMsg>>,
    /// Number of the next level message expected.
    next_n: u32,
    /// No level message lost since the last snapshot.
    synced: bool,
    /// Gaps seen in the level feed (each marks the mirror unsynced until a snapshot).
    pub gaps: u64,
    /// Level messages applied from the feed.
    pub applied: u64,
    /// Our takes since the last update, per side (bids, asks): every level better than the
    /// price is gone, and the size given was taken at the price itself. `NO_PRICE`: nothing.
    taken: [(i64, i64); 2],
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("bids", &self.bids)
            .field("asks", &self.asks)
            .field("fed", &self.feed.is_some())
            .field("synced", &self.synced)
            .field("gaps", &self.gaps)
            .finish()
    }
}

impl Clone for Mirror {
    /// A copy of the book without the level feed (a ring has one consumer).
    fn clone(&self) -> Mirror {
        Mirror {
            bids: self.bids.clone(),
            asks: self.asks.clone(),
            cap: self.cap,
            feed: None,
            next_n: self.next_n,
            synced: self.synced,
            gaps: self.gaps,
            applied: self.applied,
            taken: self.taken,
        }
    }
}

impl Mirror {
    /// A mirror rebuilt from the top levels each update carries (no level feed).
    pub fn from_updates() -> Mirror {
        Mirror::with_capacity(DEPTH_LEVELS, None)
    }

    /// A mirror fed by the book stage's level ring; `levels_per_side` is the book stage's
    /// ladder capacity (`market.book_levels`), so that both evict alike.
    pub fn fed(feed: rtrb::Consumer<LevelMsg>, levels_per_side: usize) -> Mirror {
        Mirror::with_capacity(levels_per_side, Some(feed))
    }

    fn with_capacity(cap: usize, feed: Option<rtrb::Consumer<LevelMsg>>) -> Mirror {
        let cap = cap.max(1);
        Mirror {
            bids: Ladder::new(true, cap),
            asks: Ladder::new(false, cap),
            cap,
            feed,
            next_n: 1,
            synced: true,
            gaps: 0,
            applied: 0,
            taken: [(NO_PRICE, 0); 2],
        }
    }

    /// Whether a level feed runs (else the mirror sees the top levels of each update).
    pub fn is_fed(&self) -> bool {
        self.feed.is_some()
    }

    /// No level message was lost since the last snapshot.
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// Brings the mirror to the book `u` was computed on, and forgets our takes.
    #[inline]
    pub fn take_update(&mut self, u: &BookUpdate) {
        self.taken = [(NO_PRICE, 0); 2];
        let Some(feed) = self.feed.as_mut() else {
            self.bids.clear();
            self.asks.clear();
            for &(px, qty) in &u.depth.bids {
                if px != NO_PRICE {
                    self.bids.set(px, qty);
                }
            }
            for &(px, qty) in &u.depth.asks {
                if px != NO_PRICE {
                    self.asks.set(px, qty);
                }
            }
            return;
        };
        let upto = u.levels_n;
        while let Ok(m) = feed.peek() {
            // A message of a later update: the book stage is ahead of us.
            if (m.n.wrapping_sub(upto) as i32) > 0 {
                break;
            }
            let m = *m;
            let _ = feed.pop();
            if m.n != self.next_n {
                self.gaps += 1;
                self.synced = false;
            }
            self.next_n = m.n.wrapping_add(1);
            self.applied += 1;
            match m.op {
                LevelOp::Clear => {
                    self.bids.clear();
                    self.asks.clear();
                    // A snapshot starts: what was lost before it no longer matters.
                    self.synced = true;
                }
                LevelOp::Set(Side::Bid) => {
                    self.bids.set(m.px, m.qty);
                }
                LevelOp::Set(Side::Ask) => {
                    self.asks.set(m.px, m.qty);
                }
            }
        }
        // The last messages before this update were lost.
        if self.next_n != upto.wrapping_add(1) {
            self.gaps += 1;
            self.synced = false;
            self.next_n = upto.wrapping_add(1);
        }
    }

    #[inline]
    fn ladder(&self, side: Side) -> (&Ladder, (i64, i64)) {
        match side {
            Side::Bid => (&self.bids, self.taken[0]),
            Side::Ask => (&self.asks, self.taken[1]),
        }
    }

    /// The levels of one side from the touch down, after our takes since the last update.
    #[inline]
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (i64, i64)> + '_ {
        let (l, (tp, tq)) = self.ladder(side);
        l.iter().filter_map(move |(px, q)| {
            if tp == NO_PRICE {
                Some((px, q))
            } else if better(side, px, tp) {
                None
            } else if px == tp {
                (q > tq).then_some((px, q - tq))
            } else {
                Some((px, q))
            }
        })
    }

    /// The best level of one side after our takes.
    #[inline]
    pub fn best(&self, side: Side) -> Option<(i64, i64)> {
        self.levels(side).next()
    }

    /// Records a take on `side`: every level better than `px` is gone and `qty` more of `px`.
    #[inline]
    pub fn consume(&mut self, side: Side, px: i64, qty: i64) {
        let t = match side {
            Side::Bid => &mut self.taken[0],
            Side::Ask => &mut self.taken[1],
        };
        if t.0 == px {
            t.1 += qty;
        } else {
            *t = (px, qty);
        }
    }

    /// Size at `px` on `side` after our takes: `Some(0)` if no level is there, `None` if `px`
    /// lies beyond the levels kept while the side is full (the size there is unknown).
    pub fn visible_at(&self, side: Side, px: i64) -> Option<i64> {
        let (l, (tp, tq)) = self.ladder(side);
        if tp != NO_PRICE && better(side, px, tp) {
            return Some(0);
        }
        let q = l.qty_at(px);
        if q > 0 {
            return Some(if px == tp { (q - tq).max(0) } else { q });
        }
        if l.len() >= self.cap {
            if let Some((worst, _)) = l.iter().last() {
                if better(side, worst, px) {
                    return None;
                }
            }
        }
        Some(0)
    }
}

/// `a` is a better price than `b` on `side` (higher bid, lower ask).
#[inline]
fn better(side: Side, a: i64, b: i64) -> bool {
    match side {
        Side::Bid => a > b,
        Side::Ask => a < b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::BookSet;
    use crate::exec::{PaperConfig, PaperExchange};
    use crate::msg::{BookOp, ExecKind, ExecReport, MarketMsg, MdEvent, OrderCmd, OrderSide, Tif};

    fn ev(t: u64, op: BookOp) -> MdEvent {
        MdEvent {
            recv_ns: t,
            book: 0,
            op,
        }
    }

    /// A snapshot of `asks` ask levels (1 lot each from 101) and one bid, committed.
    fn snapshot(s: &mut BookSet, t: u64, asks: i64) -> BookUpdate {
        s.apply(&ev(t, BookOp::Clear));
        s.apply(&ev(
            t,
            BookOp::Set {
                side: Side::Bid,
                px: 99,
                qty: 1,
            },
        ));
        for i in 0..asks {
            s.apply(&ev(
                t,
                BookOp::Set {
                    side: Side::Ask,
                    px: 101 + i,
                    qty: 1,
                },
            ));
        }
        commit(s, t)
    }

    fn commit(s: &mut BookSet, t: u64) -> BookUpdate {
        match s.apply(&ev(
            t,
            BookOp::Commit {
                seq: 0,
                exch_ts_ms: 0,
            },
        )) {
            Some(MarketMsg::Book(u)) => u,
            other => panic!("{other:?}"),
        }
    }

    fn buy(id: u64, px: i64, qty: i64) -> OrderCmd {
        OrderCmd::Place {
            id,
            side: OrderSide::Buy,
            px,
            qty,
            tif: Tif::Ioc,
            reduce_only: false,
        }
    }

    fn filled(r: &[ExecReport]) -> i64 {
        r.iter()
            .map(|x| match x.kind {
                ExecKind::Fill { qty, .. } => qty,
                _ => 0,
            })
            .sum()
    }

    /// The book stage runs ahead (two updates before the order stage takes the first): the
    /// mirror applies the levels of each update and no more, so it is the book each update was
    /// computed on. A full ring loses level messages: counted by the tap, seen by the mirror
    /// as a gap, and the paper exchange fills nothing until the next snapshot.
    #[test]
    fn the_mirror_follows_each_update_and_a_lost_level_stops_fills_until_a_snapshot() {
        // 1 clear + 1 bid + 8 asks = 10 messages a snapshot; 24 slots hold two, not three.
        let (tx, rx) = rtrb::RingBuffer::new(24);
        let mut s = BookSet::new(1, 1, 100).with_tap(LevelTap::new(0, tx));
        let mut x = PaperExchange::new(PaperConfig::default(), 8).with_level_feed(rx, 100);
        let mut r = Vec::new();
        let u1 = snapshot(&mut s, 1, 8);
        let u2 = snapshot(&mut s, 2, 2);
        x.on_book(&u1, &mut |e| r.push(e));
        assert_eq!(
            x.levels(Side::Ask).count(),
            8,
            "the first update's book, not the second's"
        );
        x.on_cmd(1, buy(1, 200, 100), &mut |e| r.push(e));
        assert_eq!(filled(&r), 8, "all eight levels swept");
        x.on_book(&u2, &mut |e| r.push(e));
        assert_eq!(
            x.levels(Side::Ask).collect::<Vec<_>>(),
            [(101, 1), (102, 1)]
        );
        assert!(x.mirror().synced() && x.mirror().gaps == 0);

        // Three snapshots before the order stage looks: the third does not fit.
        let u3 = snapshot(&mut s, 3, 8);
        let u4 = snapshot(&mut s, 4, 8);
        let u5 = snapshot(&mut s, 5, 8);
        assert!(s.tap_overflows() > 0, "the full ring is counted");
        x.on_book(&u3, &mut |e| r.push(e));
        x.on_book(&u4, &mut |e| r.push(e));
        assert!(x.mirror().synced());
        x.on_book(&u5, &mut |e| r.push(e));
        assert!(!x.mirror().synced() && x.mirror().gaps > 0);
        r.clear();
        x.on_cmd(5, buy(2, 200, 1), &mut |e| r.push(e));
        assert!(
            r.is_empty(),
            "no fill, not even an ack, on an unsynced mirror: {r:?}"
        );

        // A delta does not resync it; the next snapshot does, and the waiting order meets it.
        s.apply(&ev(
            6,
            BookOp::Set {
                side: Side::Ask,
                px: 150,
                qty: 1,
            },
        ));
        let u6 = commit(&mut s, 6);
        x.on_book(&u6, &mut |e| r.push(e));
        assert!(!x.mirror().synced());
        assert!(r.is_empty(), "{r:?}");
        let u7 = snapshot(&mut s, 7, 3);
        x.on_book(&u7, &mut |e| r.push(e));
        assert!(x.mirror().synced());
        assert_eq!(filled(&r), 1, "{r:?}");
    }
}
