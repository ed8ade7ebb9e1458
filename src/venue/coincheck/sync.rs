//! Coincheck `{pair}-orderbook` sync rules. The socket sends diffs only, with no sequence number
//! and no snapshot, so loss is undetectable (VENUES.md §1.6); the rules limit the damage:
//! - the book is seeded from the REST order book; diffs arriving while no seed is in place are
//!   buffered (bounded) and applied on top of the seed (sizes are absolute, so a diff the seed
//!   already contains only rewrites the same value);
//! - seeded, every diff is applied at once (levels + Commit) and the book is `synced`;
//! - after `reseed_interval` since the last seed the book is re-seeded: it turns `stale` (no new
//!   positions on a book that may have drifted) and diffs are buffered again until the new seed;
//! - a crossed book after a diff (best bid >= best ask) means a lost update: re-seed likewise;
//! - silence over `max_silence` turns a synced book `stale` until the next diff.
//!
//! The decoder keeps its own copy of each book (two fixed-capacity ladders) to see the top of
//! book and so detect crossing.

use crate::book::Ladder;
use crate::msg::{BookState, MdEvent, Side};
use crate::venue::{
    emit_delta, emit_snapshot, emit_state, DiffBuffer, FeedCounters, LevelUpdate, SyncBook,
};

/// Best bid and best ask as (price, size), each `None` when its side is empty.
pub type Top = (Option<(i64, i64)>, Option<(i64, i64)>);

/// What the rules decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Held until a seed arrives.
    Buffered,
    /// The buffer was full: the oldest diffs were dropped.
    Overflow,
    Applied,
    /// Applied, but the book came out crossed: re-seed.
    Crossed,
    /// A seed was applied (with any buffered diffs) and the book is consistent.
    Seeded,
    /// A seed was applied but the result is crossed: re-seed later.
    SeededCrossed,
    /// The re-seed deadline passed: re-seed.
    ReseedDue,
}

impl Verdict {
    /// Whether the feed should fetch a new REST order book now.
    pub fn wants_snapshot(self) -> bool {
        matches!(self, Verdict::Crossed | Verdict::ReseedDue)
    }
}

/// One book's sync state.
#[derive(Debug, Clone)]
pub struct BookSync {
    pub sb: SyncBook,
    /// A seed is in place and diffs are applied as they come.
    pub seeded: bool,
    /// Diffs waiting for a seed; the header is the diff's exchange time (ms).
    pub buffer: DiffBuffer<u64>,
    bids: Ladder,
    asks: Ladder,
}

impl BookSync {
    /// `levels` is the capacity of each side of the local copy (deeper levels are dropped;
    /// only the top matters for crossing).
    pub fn new(max_diffs: usize, max_levels: usize, levels: usize) -> BookSync {
        BookSync {
            sb: SyncBook::default(),
            seeded: false,
            buffer: DiffBuffer::new(max_diffs, max_levels),
            bids: Ladder::new(true, levels),
            asks: Ladder::new(false, levels),
        }
    }

    /// Best bid and best ask of the local copy.
    pub fn top(&self) -> Top {
        (self.bids.best(), self.asks.best())
    }

    fn is_crossed(&self) -> bool {
        matches!((self.bids.best(), self.asks.best()), (Some((b, _)), Some((a, _))) if b >= a)
    }

    fn apply_local(&mut self, levels: &[LevelUpdate]) {
        for &(side, px, qty) in levels {
            match side {
                Side::Bid => self.bids.set(px, qty),
                Side::Ask => self.asks.set(px, qty),
            };
        }
    }

    /// One orderbook diff.
    #[inline]
    pub fn on_diff<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        recv_ns: u64,
        book: u16,
        ts_ms: u64,
        levels: &[LevelUpdate],
        out: &mut F,
    ) -> Verdict {
        if !self.seeded {
            if self.buffer.push(ts_ms, levels) {
                return Verdict::Buffered;
            }
            // Full: keep the newest diffs, the ones closest to the seed to come.
            c.dropped += self.buffer.len() as u64;
            self.buffer.clear();
            if !self.buffer.push(ts_ms, levels) {
                c.dropped += 1;
            }
            return Verdict::Overflow;
        }
        self.apply_local(levels);
        c.events += emit_delta(recv_ns, book, levels, 0, ts_ms, out);
        c.updates += 1;
        self.sb.last_update_ns = recv_ns;
        if self.is_crossed() {
            c.crossed += 1;
            self.invalidate(c, recv_ns, book, out);
            return Verdict::Crossed;
        }
        self.sb.state = BookState::Synced;
        Verdict::Applied
    }

    /// A REST order book: replaces the book, then the buffered diffs are applied on top.
    #[inline]
    pub fn on_snapshot<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        recv_ns: u64,
        book: u16,
        levels: &[LevelUpdate],
        out: &mut F,
    ) -> Verdict {
        self.bids.clear();
        self.asks.clear();
        self.apply_local(levels);
        c.events += emit_snapshot(recv_ns, book, levels, 0, 0, out);
        c.rest_snapshots += 1;
        c.updates += 1;
        for (ts_ms, lv) in self.buffer.iter() {
            for &(side, px, qty) in lv {
                match side {
                    Side::Bid => self.bids.set(px, qty),
                    Side::Ask => self.asks.set(px, qty),
                };
            }
            c.events += emit_delta(recv_ns, book, lv, 0, ts_ms, out);
            c.updates += 1;
        }
        self.buffer.clear();
        self.sb.last_update_ns = recv_ns;
        self.sb.seeded_ns = recv_ns;
        if self.is_crossed() {
            c.crossed += 1;
            self.seeded = false;
            self.sb.state = BookState::Stale;
            emit_state(recv_ns, book, BookState::Stale, out);
            c.events += 1;
            return Verdict::SeededCrossed;
        }
        self.seeded = true;
        self.sb.state = BookState::Synced;
        Verdict::Seeded
    }

    /// Timer: the re-seed deadline and the silence watchdog.
    #[inline]
    pub fn on_timer<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        now_ns: u64,
        book: u16,
        reseed_interval_ns: u64,
        max_silence_ns: u64,
        out: &mut F,
    ) -> Option<Verdict> {
        if self.seeded && now_ns.saturating_sub(self.sb.seeded_ns) >= reseed_interval_ns {
            self.invalidate(c, now_ns, book, out);
            return Some(Verdict::ReseedDue);
        }
        if self.sb.state == BookState::Synced
            && now_ns.saturating_sub(self.sb.last_update_ns) > max_silence_ns
        {
            self.sb.state = BookState::Stale;
            c.stale += 1;
            c.events += 1;
            emit_state(now_ns, book, BookState::Stale, out);
        }
        None
    }

    /// The seed is no longer trusted (re-seed due, crossed, a lost diff): `stale` until a new
    /// seed arrives; diffs are buffered meanwhile.
    pub fn invalidate<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        now_ns: u64,
        book: u16,
        out: &mut F,
    ) {
        self.seeded = false;
        self.buffer.clear();
        if self.sb.state != BookState::Stale {
            self.sb.state = BookState::Stale;
            emit_state(now_ns, book, BookState::Stale, out);
            c.events += 1;
        }
    }

    /// The connection dropped: diffs were lost, the book is `resyncing` until a new seed.
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
        self.seeded = false;
        c.dropped += self.buffer.len() as u64;
        self.buffer.clear();
        self.sb.state = BookState::Resyncing;
        emit_state(now_ns, book, BookState::Resyncing, out);
        c.events += 1;
    }
}
