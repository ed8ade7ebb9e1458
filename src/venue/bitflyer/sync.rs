//! bitFlyer board sync rules. Board frames carry no sequence number, no timestamp and no
//! checksum (VENUES.md §1.3), so:
//! - diffs before the first `lightning_board_snapshot_*` (and after a disconnect, until the next
//!   one) are dropped: there is no book to apply them to, and the snapshot supersedes them;
//! - every snapshot replaces the book (Clear + levels + Commit); the venue sends one ~every 5 s,
//!   and diffs alone drift, so this is the repair;
//! - a diff is applied (levels + Commit); the decoder's own copy of the book is then checked
//!   against the `mid_price` the diff carries (local `(best bid + best ask) / 2`, which the venue
//!   rounds down to the tick) and for
//!   crossing: a failed check turns the book `stale` until a later update passes (the
//!   recording agrees 212 of 213 times);
//! - silence, or no snapshot for longer than `max_snapshot_age`, turns the book `stale`; a
//!   missing snapshot also asks the feed to resubscribe.

use crate::book::Ladder;
use crate::msg::{BookState, MdEvent, Side};
use crate::num::{parse_units, Scale};
use crate::venue::{emit_delta, emit_snapshot, emit_state, FeedCounters, LevelUpdate, SyncBook};

/// Best bid and best ask as (price, size), each `None` when its side is empty.
pub type Top = (Option<(i64, i64)>, Option<(i64, i64)>);

/// What the rules decided for one board frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Snapshot,
    Applied,
    /// Applied, but the local mid disagrees with `mid_price` or the book is crossed: stale.
    CheckFailed,
    /// No snapshot under the book yet: dropped.
    NoSnapshot,
}

/// One book's sync state with the decoder's own copy of the book.
#[derive(Debug, Clone)]
pub struct BookSync {
    pub sb: SyncBook,
    bids: Ladder,
    asks: Ladder,
    /// The book turned stale for a missing snapshot (reported once).
    snapshot_overdue: bool,
}

impl BookSync {
    pub fn new(levels: usize) -> BookSync {
        BookSync {
            sb: SyncBook::default(),
            bids: Ladder::new(true, levels),
            asks: Ladder::new(false, levels),
            snapshot_overdue: false,
        }
    }

    /// Whether a snapshot is under the book.
    pub fn has_snapshot(&self) -> bool {
        self.sb.last_seq.is_some()
    }

    /// Best bid and best ask of the local copy.
    pub fn top(&self) -> Top {
        (self.bids.best(), self.asks.best())
    }

    /// Whether the local mid agrees with the venue's `mid` (decimal text), `tick` being the price
    /// scale: `mid == (best bid + best ask) / 2` either exactly or rounded down to the tick (the
    /// recorded FX_BTC_JPY `mid_price` is the mid floored to the yen: 212 of 213 diffs agree
    /// that way, only 122 exactly). `None` when a side is empty or `mid` is not a number.
    pub fn mid_matches(&self, mid: &str, tick: Scale) -> Option<bool> {
        let (b, a) = (self.bids.best()?.0, self.asks.best()?.0);
        // Everything in units of 10^-(decimals + 1), where a half tick is exact.
        let mid_units = parse_units(mid.as_bytes(), tick.decimals().checked_add(1)?).ok()? as i128;
        let sum = (b as i128 + a as i128) * tick.step_units() as i128; // 10^-decimals units
        let exact = sum * 5;
        let floored = sum.div_euclid(2) * 10;
        Some(mid_units == exact || mid_units == floored)
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

    /// One board frame (snapshot or diff); `mid` is the frame's `mid_price` text.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn on_board<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        recv_ns: u64,
        book: u16,
        snapshot: bool,
        levels: &[LevelUpdate],
        mid: Option<&str>,
        tick: Scale,
        out: &mut F,
    ) -> Verdict {
        if snapshot {
            self.bids.clear();
            self.asks.clear();
            self.apply_local(levels);
            c.events += emit_snapshot(recv_ns, book, levels, 0, 0, out);
            c.snapshots += 1;
            c.updates += 1;
            self.sb.state = BookState::Synced;
            self.sb.last_seq = Some(0);
            self.sb.last_update_ns = recv_ns;
            self.sb.seeded_ns = recv_ns;
            self.snapshot_overdue = false;
            return Verdict::Snapshot;
        }
        if !self.has_snapshot() {
            c.dropped += 1;
            return Verdict::NoSnapshot;
        }
        self.apply_local(levels);
        c.events += emit_delta(recv_ns, book, levels, 0, 0, out);
        c.updates += 1;
        self.sb.last_update_ns = recv_ns;
        let crossed = self.is_crossed();
        let mid_ok = mid.and_then(|m| self.mid_matches(m, tick)).unwrap_or(true);
        if crossed {
            c.crossed += 1;
        }
        if !mid_ok {
            c.mid_mismatch += 1;
        }
        if crossed || !mid_ok || self.snapshot_overdue {
            // The Commit above made the book stage's copy synced: state it stale again.
            self.sb.state = BookState::Stale;
            emit_state(recv_ns, book, BookState::Stale, out);
            c.events += 1;
            if crossed || !mid_ok {
                return Verdict::CheckFailed;
            }
            return Verdict::Applied;
        }
        self.sb.state = BookState::Synced;
        Verdict::Applied
    }

    /// Timer: silence and snapshot-age watchdogs. Returns true when a snapshot is overdue
    /// (the feed should resubscribe).
    pub fn on_timer<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        now_ns: u64,
        book: u16,
        max_silence_ns: u64,
        max_snapshot_age_ns: u64,
        out: &mut F,
    ) -> bool {
        if !self.has_snapshot() {
            return false;
        }
        let overdue = !self.snapshot_overdue
            && now_ns.saturating_sub(self.sb.seeded_ns) > max_snapshot_age_ns;
        let silent = now_ns.saturating_sub(self.sb.last_update_ns) > max_silence_ns;
        if overdue {
            self.snapshot_overdue = true;
        }
        if (overdue || silent) && self.sb.state == BookState::Synced {
            self.sb.state = BookState::Stale;
            c.stale += 1;
            c.events += 1;
            emit_state(now_ns, book, BookState::Stale, out);
        }
        overdue
    }

    /// The connection dropped: no book until the next snapshot.
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
        self.sb.last_seq = None;
        self.snapshot_overdue = false;
        emit_state(now_ns, book, BookState::Resyncing, out);
        c.events += 1;
    }
}
