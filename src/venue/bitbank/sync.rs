//! bitbank `depth_whole_{pair}` / `depth_diff_{pair}` sync rules (bitbank-api-docs
//! `public-stream.md`, "How to use depth_whole and depth_diff"; VENUES.md §1.5):
//! - diffs are buffered (bounded) until a whole arrives; on a whole with `sequenceId = W` the
//!   book is the whole, and the buffered diffs with `s > W` are applied on top in ascending `s`
//!   (the docs' example: diffs 3, 5, 6, 8 then whole 5 ⇒ apply 6 and 8); the rest are dropped;
//! - synced, a diff with `s` above the book's is applied, one with `s` at or below it is stale
//!   and dropped (a reordered or repeated frame);
//! - `s` is "increased monotonically but not always consecutive": the probe found one counter
//!   shared by all pairs, so a pair's diffs step by 2 to thousands and a lost diff cannot be
//!   seen. The docs ask to "refresh your local order book with each depth_whole" (~every
//!   15 s), which is the repair: every whole replaces the book. A whole can arrive late,
//!   behind diffs already applied, so the diffs since the last whole stay buffered and a late
//!   whole is rebuilt forward with them; a whole older than what the buffer still covers (it
//!   overflowed, or diffs were lost) cannot be brought forward and is dropped;
//! - a whole and the buffered diffs applied on top go out as one update (Clear, levels, one
//!   Commit at the newest `s`), so no intermediate state reaches the book stage;
//! - a depth frame of the book that cannot be read, or a dropped connection, marks the book
//!   `resyncing` until the next whole (what is buffered then has a hole, and is discarded);
//! - silence over `max_silence` turns a synced book `stale` until the next diff; no whole for
//!   `max_whole_age` turns it `stale` and asks the feed to join the whole's room again.

use crate::msg::{BookOp, BookState, MdEvent};
use crate::venue::{emit_delta, emit_state, DiffBuffer, FeedCounters, LevelUpdate, SyncBook};

/// Header of a buffered diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffHead {
    /// `s`.
    pub seq: u64,
    /// `t` (ms).
    pub ts_ms: u64,
}

/// What the rules decided for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Held until a whole arrives.
    Buffered,
    /// The buffer was full while waiting: it was discarded and this diff starts a new one.
    Overflow,
    Applied,
    /// `s` not above the book's (or the buffer's newest): dropped.
    Stale,
    /// The book is the whole and the buffered diffs after it.
    Whole,
    /// A whole older than what the buffered diffs cover: dropped.
    WholeTooOld,
}

/// One book's sync state: the shared bookkeeping plus the diffs since the last whole.
#[derive(Debug, Clone)]
pub struct BookSync {
    /// `last_seq` is the book's `s` while a whole is under it.
    pub sb: SyncBook,
    /// Diffs received since the last whole, ascending `s` (applied ones too while synced).
    pub buffer: DiffBuffer<DiffHead>,
    /// The buffer holds every diff received with `s` above this.
    covered_from: u64,
    /// The book turned stale for a missing whole (reported once).
    whole_overdue: bool,
}

impl BookSync {
    pub fn new(max_diffs: usize, max_levels: usize) -> BookSync {
        BookSync {
            sb: SyncBook::default(),
            buffer: DiffBuffer::new(max_diffs, max_levels),
            covered_from: 0,
            whole_overdue: false,
        }
    }

    /// Whether a whole is under the book.
    pub fn has_whole(&self) -> bool {
        self.sb.last_seq.is_some()
    }

    /// The newest `s` known: the book's, or the newest buffered diff's.
    fn newest(&self) -> Option<u64> {
        let buffered = self
            .buffer
            .get(self.buffer.len().wrapping_sub(1))
            .map(|(h, _)| h.seq);
        match (self.sb.last_seq, buffered) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Keeps `head` in the buffer; a full buffer is restarted (returns false then).
    fn keep(&mut self, head: DiffHead, levels: &[LevelUpdate]) -> bool {
        if self.buffer.push(head, levels) {
            return true;
        }
        self.covered_from = self.newest().unwrap_or(0);
        self.buffer.clear();
        let _ = self.buffer.push(head, levels);
        false
    }

    /// One `depth_diff`.
    #[inline]
    pub fn on_diff<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        recv_ns: u64,
        book: u16,
        head: DiffHead,
        levels: &[LevelUpdate],
        out: &mut F,
    ) -> Verdict {
        if self.newest().is_some_and(|n| head.seq <= n) {
            c.dropped += 1;
            return Verdict::Stale;
        }
        let Some(_) = self.sb.last_seq else {
            let waiting = self.buffer.len() as u64;
            if self.keep(head, levels) {
                return Verdict::Buffered;
            }
            c.dropped += waiting;
            return Verdict::Overflow;
        };
        // Applied now; kept for a whole that arrives late (a full buffer only forgets).
        let _ = self.keep(head, levels);
        c.events += emit_delta(recv_ns, book, levels, head.seq, head.ts_ms, out);
        c.updates += 1;
        self.sb.last_seq = Some(head.seq);
        self.sb.last_update_ns = recv_ns;
        if !self.whole_overdue {
            self.sb.state = BookState::Synced;
        }
        Verdict::Applied
    }

    /// One `depth_whole` (or a REST depth answer, `rest`) with `sequenceId == seq`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn on_whole<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        recv_ns: u64,
        book: u16,
        seq: u64,
        ts_ms: u64,
        rest: bool,
        levels: &[LevelUpdate],
        out: &mut F,
    ) -> Verdict {
        if seq < self.covered_from {
            c.dropped += 1;
            return Verdict::WholeTooOld;
        }
        let synced = self.has_whole();
        let first_kept = (0..self.buffer.len())
            .find(|&k| self.buffer.get(k).is_some_and(|(h, _)| h.seq > seq))
            .unwrap_or(self.buffer.len());
        if !synced {
            c.dropped += first_kept as u64;
        }
        self.buffer.drop_front(first_kept);
        out(MdEvent {
            recv_ns,
            book,
            op: BookOp::Clear,
        });
        let mut n = 1 + levels.len() as u64;
        let set = |lv: &[LevelUpdate], out: &mut F| {
            for &(side, px, qty) in lv {
                out(MdEvent {
                    recv_ns,
                    book,
                    op: BookOp::Set { side, px, qty },
                });
            }
        };
        set(levels, out);
        let (mut last, mut last_ts) = (seq, ts_ms);
        for (h, lv) in self.buffer.iter() {
            set(lv, out);
            n += lv.len() as u64;
            (last, last_ts) = (h.seq, h.ts_ms);
        }
        out(MdEvent {
            recv_ns,
            book,
            op: BookOp::Commit {
                seq: last,
                exch_ts_ms: last_ts,
            },
        });
        c.events += n + 1;
        c.updates += 1;
        if rest {
            c.rest_snapshots += 1;
        } else {
            c.snapshots += 1;
        }
        self.covered_from = seq;
        self.whole_overdue = false;
        self.sb.state = BookState::Synced;
        self.sb.last_seq = Some(last);
        self.sb.last_update_ns = recv_ns;
        self.sb.seeded_ns = recv_ns;
        Verdict::Whole
    }

    /// Timer: silence turns a synced book `stale`; no whole for `max_whole_age_ns` too, and
    /// returns true (once) to ask for the whole's room to be joined again.
    #[inline]
    pub fn on_timer<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        now_ns: u64,
        book: u16,
        max_silence_ns: u64,
        max_whole_age_ns: u64,
        out: &mut F,
    ) -> bool {
        if !self.has_whole() {
            return false;
        }
        let mut ask = false;
        if !self.whole_overdue && now_ns.saturating_sub(self.sb.seeded_ns) > max_whole_age_ns {
            self.whole_overdue = true;
            ask = true;
        }
        let silent = now_ns.saturating_sub(self.sb.last_update_ns) > max_silence_ns;
        if self.sb.state == BookState::Synced && (silent || self.whole_overdue) {
            self.sb.state = BookState::Stale;
            c.stale += 1;
            c.events += 1;
            emit_state(now_ns, book, BookState::Stale, out);
        }
        ask
    }

    /// A depth frame of this book could not be read, or the connection dropped: `resyncing`
    /// until the next whole; the buffer has a hole and is discarded, and only a whole newer
    /// than every `s` seen so far can repair the book.
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
        self.covered_from = self.newest().unwrap_or(self.covered_from);
        c.dropped += if self.has_whole() {
            0
        } else {
            self.buffer.len() as u64
        };
        self.buffer.clear();
        self.sb.state = BookState::Resyncing;
        self.sb.last_seq = None;
        self.whole_overdue = false;
        emit_state(now_ns, book, BookState::Resyncing, out);
        c.events += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Side;

    struct T {
        b: BookSync,
        c: FeedCounters,
        evs: Vec<MdEvent>,
    }

    impl T {
        fn new(max_diffs: usize) -> T {
            T {
                b: BookSync::new(max_diffs, 64),
                c: FeedCounters::default(),
                evs: Vec::new(),
            }
        }
        fn diff(&mut self, seq: u64) -> Verdict {
            let evs = &mut self.evs;
            let lv = [(Side::Bid, seq as i64, 1)];
            self.b.on_diff(
                &mut self.c,
                1,
                0,
                DiffHead { seq, ts_ms: seq },
                &lv,
                &mut |e| evs.push(e),
            )
        }
        fn whole(&mut self, seq: u64) -> Verdict {
            let evs = &mut self.evs;
            let lv = [(Side::Ask, 1000, 1)];
            self.b
                .on_whole(&mut self.c, 2, 0, seq, 0, false, &lv, &mut |e| evs.push(e))
        }
        /// (commit seq, bid prices set since the previous commit) per commit.
        fn commits(&self) -> Vec<(u64, Vec<i64>)> {
            let mut out = Vec::new();
            let mut bids = Vec::new();
            for e in &self.evs {
                match e.op {
                    BookOp::Set {
                        side: Side::Bid,
                        px,
                        ..
                    } => bids.push(px),
                    BookOp::Commit { seq, .. } => out.push((seq, std::mem::take(&mut bids))),
                    _ => {}
                }
            }
            out
        }
    }

    #[test]
    fn documented_example_applies_6_and_8() {
        // public-stream.md: diff{s=3}, diff{s=5}, diff{s=6}, diff{s=8}, whole{sequenceId=5}.
        let mut t = T::new(16);
        for s in [3, 5, 6, 8] {
            assert_eq!(t.diff(s), Verdict::Buffered);
        }
        assert!(t.evs.is_empty(), "nothing before the whole");
        assert_eq!(t.whole(5), Verdict::Whole);
        assert_eq!(t.evs[0].op, BookOp::Clear);
        assert_eq!(
            t.commits(),
            vec![(8, vec![6, 8])],
            "one update: whole, 6, 8"
        );
        assert_eq!(t.c.dropped, 2, "3 and 5");
        assert_eq!(t.diff(9), Verdict::Applied);
        assert_eq!(t.diff(9), Verdict::Stale);
        assert_eq!(t.diff(7), Verdict::Stale);
        assert_eq!(t.commits().last(), Some(&(9, vec![9])));
        assert_eq!(t.b.sb.state, BookState::Synced);
    }

    #[test]
    fn a_late_whole_is_brought_forward_an_older_one_is_dropped() {
        let mut t = T::new(16);
        t.whole(10);
        for s in [12, 15, 20] {
            assert_eq!(t.diff(s), Verdict::Applied);
        }
        // a whole taken at 15 arrives after diff 20: whole + 20
        t.evs.clear();
        assert_eq!(t.whole(15), Verdict::Whole);
        assert_eq!(t.commits(), vec![(20, vec![20])]);
        assert_eq!(t.b.sb.last_seq, Some(20));
        // older than the previous whole: the buffer no longer covers it
        assert_eq!(t.whole(14), Verdict::WholeTooOld);
        assert_eq!(t.c.dropped, 1);
        // a full buffer while synced forgets, and a whole before the forgotten span is too old
        let mut t = T::new(2);
        t.whole(1);
        for s in [2, 3, 4] {
            assert_eq!(t.diff(s), Verdict::Applied);
        }
        assert_eq!(t.whole(2), Verdict::WholeTooOld);
        assert_eq!(t.whole(3), Verdict::Whole);
        assert_eq!(t.commits().last(), Some(&(4, vec![4])));
    }

    #[test]
    fn overflow_while_waiting_and_resync_after_a_hole() {
        let mut t = T::new(2);
        assert_eq!(t.diff(1), Verdict::Buffered);
        assert_eq!(t.diff(2), Verdict::Buffered);
        assert_eq!(t.diff(3), Verdict::Overflow);
        assert_eq!(t.c.dropped, 2);
        assert_eq!(t.whole(1), Verdict::WholeTooOld, "1 and 2 were dropped");
        assert_eq!(t.whole(2), Verdict::Whole);
        assert_eq!(t.commits(), vec![(3, vec![3])]);
        // a lost diff: resyncing; a whole older than what was seen cannot repair it
        let mut evs = Vec::new();
        t.b.mark_resyncing(&mut t.c, 3, 0, &mut |e| evs.push(e));
        assert_eq!(evs[0].op, BookOp::State(BookState::Resyncing));
        assert_eq!(t.b.sb.state, BookState::Resyncing);
        assert_eq!(t.diff(5), Verdict::Buffered);
        assert_eq!(t.whole(2), Verdict::WholeTooOld);
        assert_eq!(t.whole(4), Verdict::Whole);
        assert_eq!(t.commits().last(), Some(&(5, vec![5])));
        assert_eq!(t.c.resyncs, 1);
    }

    #[test]
    fn watchdogs() {
        let mut t = T::new(8);
        t.whole(1); // at t = 2
        let mut evs = Vec::new();
        assert!(!t
            .b
            .on_timer(&mut t.c, 50, 0, 100, 1_000, &mut |e| evs.push(e)));
        assert!(!t
            .b
            .on_timer(&mut t.c, 103, 0, 100, 1_000, &mut |e| evs.push(e)));
        assert_eq!(evs[0].op, BookOp::State(BookState::Stale), "silence");
        t.diff(2); // synced again (at t = 1)
        assert_eq!(t.b.sb.state, BookState::Synced);
        assert!(t
            .b
            .on_timer(&mut t.c, 1_003, 0, 100_000, 1_000, &mut |e| evs.push(e)));
        assert!(!t
            .b
            .on_timer(&mut t.c, 1_004, 0, 100_000, 1_000, &mut |e| evs.push(e)));
        assert_eq!(t.b.sb.state, BookState::Stale, "no whole for too long");
        t.diff(3);
        assert_eq!(
            t.b.sb.state,
            BookState::Stale,
            "diffs do not clear a missing whole"
        );
        t.whole(3);
        assert_eq!(t.b.sb.state, BookState::Synced);
    }
}
