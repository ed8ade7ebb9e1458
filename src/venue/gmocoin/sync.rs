//! GMO Coin `orderbooks` sync rules. Every frame is a complete book with no sequence id and no
//! checksum (VENUES.md §1.4: "an order book (snapshot)"; the probe saw 30 levels a side, pushed
//! on a ~505 ms grid and repeated unchanged as a heartbeat at most ~5.2 s apart), so:
//! - every frame replaces the book (Clear + levels + Commit carrying the venue time in ms);
//!   nothing is ever buffered and there is no gap to detect: a lost frame is healed by the next;
//! - the venue time orders frames: a frame older than the one in the book (a reordered or
//!   replayed frame) is dropped as stale; an equal time (the heartbeat repeat) is applied;
//! - a REST `/public/v1/orderbooks` answer is a full book too and is applied by the same rule
//!   (its time is the answer's `responsetime`);
//! - a crossed book (best bid >= best ask) turns the book `stale` until a frame that is not
//!   crossed (the venue's docs example is such a book);
//! - silence over `max_silence` turns a synced book `stale` until the next frame; a dropped
//!   connection marks it `resyncing` until the first frame of the new one.

use crate::msg::{BookState, MdEvent, Side};
use crate::venue::{emit_snapshot, emit_state, FeedCounters, LevelUpdate, SyncBook};

/// What the rules decided for one book frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The book is this frame.
    Applied,
    /// The book is this frame, but it is crossed: `stale`.
    Crossed,
    /// Older than the book's frame: dropped.
    Stale,
}

/// One book's sync state.
#[derive(Debug, Clone, Copy, Default)]
pub struct BookSync {
    pub sb: SyncBook,
    /// Venue time (ms) of the frame in the book.
    pub last_ts_ms: Option<u64>,
}

impl BookSync {
    /// One full book (`rest`: from a REST answer) with its levels.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn on_book<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        recv_ns: u64,
        book: u16,
        ts_ms: u64,
        rest: bool,
        levels: &[LevelUpdate],
        out: &mut F,
    ) -> Verdict {
        if self.last_ts_ms.is_some_and(|last| ts_ms < last) {
            c.dropped += 1;
            return Verdict::Stale;
        }
        c.events += emit_snapshot(recv_ns, book, levels, ts_ms, ts_ms, out);
        c.updates += 1;
        if rest {
            c.rest_snapshots += 1;
        } else {
            c.snapshots += 1;
        }
        self.last_ts_ms = Some(ts_ms);
        self.sb.last_seq = Some(ts_ms);
        self.sb.last_update_ns = recv_ns;
        self.sb.seeded_ns = recv_ns;
        if is_crossed(levels) {
            c.crossed += 1;
            self.sb.state = BookState::Stale;
            emit_state(recv_ns, book, BookState::Stale, out);
            c.events += 1;
            return Verdict::Crossed;
        }
        self.sb.state = BookState::Synced;
        Verdict::Applied
    }

    /// Timer: a synced book silent for over `max_silence_ns` turns `stale`.
    #[inline]
    pub fn on_timer<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        now_ns: u64,
        book: u16,
        max_silence_ns: u64,
        out: &mut F,
    ) {
        if self.sb.state == BookState::Synced
            && now_ns.saturating_sub(self.sb.last_update_ns) > max_silence_ns
        {
            self.sb.state = BookState::Stale;
            c.stale += 1;
            c.events += 1;
            emit_state(now_ns, book, BookState::Stale, out);
        }
    }

    /// The connection dropped, or a book frame of this book could not be read: `resyncing`
    /// until the next full book.
    pub fn mark_resyncing<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        now_ns: u64,
        book: u16,
        out: &mut F,
    ) {
        if self.sb.state != BookState::Resyncing {
            c.resyncs += 1;
        }
        self.sb.state = BookState::Resyncing;
        emit_state(now_ns, book, BookState::Resyncing, out);
        c.events += 1;
    }
}

/// Whether the best bid is at or above the best ask among the levels with a size.
fn is_crossed(levels: &[LevelUpdate]) -> bool {
    let mut bid: Option<i64> = None;
    let mut ask: Option<i64> = None;
    for &(side, px, qty) in levels {
        if qty == 0 {
            continue;
        }
        match side {
            Side::Bid => bid = Some(bid.map_or(px, |b| b.max(px))),
            Side::Ask => ask = Some(ask.map_or(px, |a| a.min(px))),
        }
    }
    matches!((bid, ask), (Some(b), Some(a)) if b >= a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::BookOp;

    struct T {
        b: BookSync,
        c: FeedCounters,
        evs: Vec<MdEvent>,
    }

    impl T {
        fn book(&mut self, ts_ms: u64, levels: &[LevelUpdate]) -> Verdict {
            let evs = &mut self.evs;
            self.b
                .on_book(&mut self.c, ts_ms * 10, 0, ts_ms, false, levels, &mut |e| {
                    evs.push(e)
                })
        }
    }

    const BOOK: &[LevelUpdate] = &[(Side::Bid, 99, 1), (Side::Ask, 101, 2)];

    #[test]
    fn every_frame_replaces_older_ones_are_dropped() {
        let mut t = T {
            b: BookSync::default(),
            c: FeedCounters::default(),
            evs: Vec::new(),
        };
        assert_eq!(t.book(100, BOOK), Verdict::Applied);
        assert_eq!(t.evs[0].op, BookOp::Clear);
        assert_eq!(
            t.evs.last().unwrap().op,
            BookOp::Commit {
                seq: 100,
                exch_ts_ms: 100
            }
        );
        assert_eq!(t.b.sb.state, BookState::Synced);
        assert_eq!(t.book(100, BOOK), Verdict::Applied, "the heartbeat repeat");
        let n = t.evs.len();
        assert_eq!(t.book(99, BOOK), Verdict::Stale);
        assert_eq!(t.evs.len(), n, "nothing emitted for a stale frame");
        assert_eq!(t.c.dropped, 1);
        // crossed: applied, then stale; the next uncrossed frame is synced again
        let crossed = [
            (Side::Bid, 101, 1),
            (Side::Ask, 101, 1),
            (Side::Bid, 200, 0),
        ];
        assert_eq!(t.book(101, &crossed), Verdict::Crossed);
        assert_eq!(t.evs.last().unwrap().op, BookOp::State(BookState::Stale));
        assert_eq!(t.b.sb.state, BookState::Stale);
        assert_eq!(t.book(102, BOOK), Verdict::Applied);
        assert_eq!(t.b.sb.state, BookState::Synced);
        assert_eq!((t.c.snapshots, t.c.crossed, t.c.updates), (4, 1, 4));
        // silence, then a disconnect
        let mut evs = Vec::new();
        t.b.on_timer(&mut t.c, 1020 + 50, 0, 100, &mut |e| evs.push(e));
        assert!(evs.is_empty());
        t.b.on_timer(&mut t.c, 1020 + 101, 0, 100, &mut |e| evs.push(e));
        assert_eq!(evs[0].op, BookOp::State(BookState::Stale));
        t.b.mark_resyncing(&mut t.c, 2000, 0, &mut |e| evs.push(e));
        assert_eq!(t.b.sb.state, BookState::Resyncing);
        assert_eq!(t.book(103, BOOK), Verdict::Applied);
        assert_eq!((t.c.stale, t.c.resyncs), (1, 1));
    }
}
