//! Binance spot diff-depth sync rules (binance-spot-api-docs, web-socket-streams.md, "How to
//! manage a local order book correctly"):
//! - until a REST snapshot arrives, diffs are buffered (bounded; a full buffer is discarded and a
//!   fresh snapshot requested, since the pending one would be older than what is kept);
//! - on a snapshot with id `L`: buffered diffs with `u <= L` are dropped; the first remaining diff
//!   must satisfy `U <= L + 1 <= u`, otherwise the snapshot is older than the buffered stream and
//!   unusable: a new one is requested and the book stays `resyncing`; else the book is the
//!   snapshot (Clear + levels + Commit) and the remaining diffs are applied in order;
//! - live: a diff with `u <= last` is stale and dropped; the first diff after a snapshot must
//!   straddle `last + 1`, every later one must have `U == last + 1`; anything else is a gap: the
//!   book turns `resyncing`, the diff that revealed it starts a new buffer and a snapshot is
//!   requested.
//!
//! Every applied diff emits its levels and a Commit carrying `u`.
//!
//! USD-M futures ([`Rule::UsdM`], developers.binance.com, USDⓈ-M futures "How to manage a local
//! order book correctly") differ: every event carries `pu`, the previous event's `u`, and ids
//! are not consecutive across events, so
//! - on a snapshot with id `L`: buffered diffs with `u <= L` are dropped (the docs drop `u < L`;
//!   one ending exactly at `L` holds nothing the snapshot lacks); the first remaining diff must
//!   straddle `L` (`U <= L <= u`) or continue it (`pu == L`), otherwise the snapshot is
//!   unusable and a new one is requested;
//! - live: a diff continues the book when its `pu` equals the book's `u` (right after the
//!   snapshot, straddling `L` also does); anything else is a gap: `resyncing`, the diff starts a
//!   new buffer and a snapshot is requested.

use crate::msg::{BookState, MdEvent};
use crate::venue::{
    emit_delta, emit_snapshot, emit_state, DiffBuffer, FeedCounters, LevelUpdate, SyncBook,
};

/// Header of a buffered diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffHead {
    /// `U`: first update id in the event.
    pub first_id: u64,
    /// `u`: last update id in the event.
    pub last_id: u64,
    /// `pu`: the previous event's `u` (USD-M futures only).
    pub prev_id: Option<u64>,
    pub ts_ms: u64,
}

/// Which of Binance's sync procedures a book follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rule {
    /// Spot: `U == previous u + 1`.
    #[default]
    Spot,
    /// USD-M futures: `pu == previous u`.
    UsdM,
}

/// What the rules decided for one diff or snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Held until a snapshot arrives.
    Buffered,
    /// The buffer was full: it was discarded, this diff starts a new one, a snapshot is wanted.
    Overflow,
    Applied,
    /// `u` not above the book's id: already contained in the book.
    Stale,
    /// Updates are missing: the book is resyncing and a snapshot is wanted.
    Gap,
    /// A snapshot was applied (with any usable buffered diffs).
    Snapshot,
    /// A snapshot older than the buffered stream: a newer one is wanted.
    SnapshotTooOld,
    /// A snapshot arriving for a book that is already synced: ignored.
    SnapshotIgnored,
}

impl Verdict {
    /// Whether the feed should fetch a new snapshot for the book.
    pub fn wants_snapshot(self) -> bool {
        matches!(
            self,
            Verdict::Overflow | Verdict::Gap | Verdict::SnapshotTooOld
        )
    }
}

/// One book's sync state: the shared bookkeeping plus the diff buffer.
#[derive(Debug, Clone)]
pub struct BookSync {
    pub sb: SyncBook,
    pub rule: Rule,
    /// The next diff is the first after a snapshot (it must straddle the snapshot id).
    first_after_snapshot: bool,
    pub buffer: DiffBuffer<DiffHead>,
}

impl BookSync {
    pub fn new(max_diffs: usize, max_levels: usize) -> BookSync {
        BookSync::with_rule(Rule::Spot, max_diffs, max_levels)
    }

    pub fn with_rule(rule: Rule, max_diffs: usize, max_levels: usize) -> BookSync {
        BookSync {
            rule,
            sb: SyncBook::default(),
            first_after_snapshot: false,
            buffer: DiffBuffer::new(max_diffs, max_levels),
        }
    }

    /// True while the book has no snapshot under it (buffering diffs).
    pub fn awaiting_snapshot(&self) -> bool {
        self.sb.last_seq.is_none()
    }

    /// Whether a diff with `u > last` continues the book at `last`: the first diff after a
    /// snapshot must straddle `last + 1` (`U <= last + 1 <= u`), every later one must start
    /// exactly at `last + 1`.
    ///
    /// USD-M: `pu == last`, or right after the snapshot a diff straddling it (`U <= last <= u`).
    #[inline]
    fn continues(&self, last: u64, head: DiffHead) -> bool {
        if self.rule == Rule::UsdM {
            return head.prev_id == Some(last)
                || (self.first_after_snapshot && head.first_id <= last && last <= head.last_id);
        }
        let next = last.saturating_add(1);
        if self.first_after_snapshot {
            head.first_id <= next && next <= head.last_id
        } else {
            head.first_id == next
        }
    }

    /// One `depthUpdate` for this book.
    #[allow(clippy::too_many_arguments)]
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
        let Some(last) = self.sb.last_seq else {
            return self.buffer_diff(c, head, levels);
        };
        if head.last_id <= last {
            c.dropped += 1;
            return Verdict::Stale;
        }
        if !self.continues(last, head) {
            c.gaps += 1;
            self.mark_resyncing(c, recv_ns, book, out);
            self.buffer_diff(c, head, levels);
            return Verdict::Gap;
        }
        c.events += emit_delta(recv_ns, book, levels, head.last_id, head.ts_ms, out);
        c.updates += 1;
        self.first_after_snapshot = false;
        self.sb.state = BookState::Synced;
        self.sb.last_seq = Some(head.last_id);
        self.sb.last_update_ns = recv_ns;
        Verdict::Applied
    }

    fn buffer_diff(
        &mut self,
        c: &mut FeedCounters,
        head: DiffHead,
        levels: &[LevelUpdate],
    ) -> Verdict {
        if self.buffer.push(head, levels) {
            return Verdict::Buffered;
        }
        // Full: what is kept would be older than any snapshot fetched from now on.
        c.dropped += self.buffer.len() as u64;
        self.buffer.clear();
        if !self.buffer.push(head, levels) {
            c.dropped += 1;
        }
        Verdict::Overflow
    }

    /// A REST snapshot with `lastUpdateId == id` and its levels.
    #[inline]
    pub fn on_snapshot<F: FnMut(MdEvent)>(
        &mut self,
        c: &mut FeedCounters,
        recv_ns: u64,
        book: u16,
        id: u64,
        levels: &[LevelUpdate],
        out: &mut F,
    ) -> Verdict {
        if self.sb.last_seq.is_some() {
            // Synced (or stale by silence, still consistent): the chain holds; keep it.
            c.dropped += 1;
            return Verdict::SnapshotIgnored;
        }
        let first_kept = (0..self.buffer.len())
            .find(|&k| self.buffer.get(k).is_some_and(|(h, _)| h.last_id > id));
        if let Some(k) = first_kept {
            let Some((h, _)) = self.buffer.get(k) else {
                return Verdict::SnapshotTooOld;
            };
            let too_old = match self.rule {
                Rule::Spot => h.first_id > id.saturating_add(1),
                Rule::UsdM => h.first_id > id && h.prev_id != Some(id),
            };
            if too_old {
                // Updates between the snapshot and the buffered stream are missing.
                c.dropped += 1;
                return Verdict::SnapshotTooOld;
            }
        }
        let n_old = first_kept.unwrap_or(self.buffer.len());
        c.dropped += n_old as u64;
        c.events += emit_snapshot(recv_ns, book, levels, id, 0, out);
        c.rest_snapshots += 1;
        c.updates += 1;
        self.sb.state = BookState::Synced;
        self.sb.last_seq = Some(id);
        self.sb.last_update_ns = recv_ns;
        self.sb.seeded_ns = recv_ns;
        self.first_after_snapshot = true;
        // Apply what was buffered after the snapshot, under the live rules.
        let mut k = n_old;
        while k < self.buffer.len() {
            let Some((head, lv)) = self.buffer.get(k) else {
                break;
            };
            let last = self.sb.last_seq.unwrap_or(id);
            if head.last_id <= last {
                c.dropped += 1;
                k += 1;
                continue;
            }
            if !self.continues(last, head) {
                // A hole inside the buffer: resync; the rest of the buffer is kept.
                c.gaps += 1;
                self.buffer.drop_front(k);
                self.mark_resyncing(c, recv_ns, book, out);
                return Verdict::Gap;
            }
            c.events += emit_delta(recv_ns, book, lv, head.last_id, head.ts_ms, out);
            c.updates += 1;
            self.first_after_snapshot = false;
            self.sb.last_seq = Some(head.last_id);
            k += 1;
        }
        self.buffer.clear();
        Verdict::Snapshot
    }

    /// Puts the book into `resyncing` (gap, malformed diff, reconnect); the buffer is kept.
    #[inline]
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
        self.first_after_snapshot = false;
        emit_state(now_ns, book, BookState::Resyncing, out);
        c.events += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{BookOp, Side};

    const LV: &[LevelUpdate] = &[(Side::Bid, 10, 1)];

    /// A book under test with every event it emitted.
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
        fn diff(&mut self, first_id: u64, last_id: u64) -> Verdict {
            let head = DiffHead {
                first_id,
                last_id,
                prev_id: None,
                ts_ms: 0,
            };
            let evs = &mut self.evs;
            self.b
                .on_diff(&mut self.c, 1, 0, head, LV, &mut |e| evs.push(e))
        }
        fn snap(&mut self, id: u64) -> Verdict {
            let evs = &mut self.evs;
            self.b
                .on_snapshot(&mut self.c, 2, 0, id, LV, &mut |e| evs.push(e))
        }
        fn commits(&self) -> Vec<u64> {
            self.evs
                .iter()
                .filter_map(|e| match e.op {
                    BookOp::Commit { seq, .. } => Some(seq),
                    _ => None,
                })
                .collect()
        }
    }

    #[test]
    fn documented_example_sequence() {
        // Buffered 100-105, 106-110, 111-111; snapshot 107: 100-105 dropped, 106-110 straddles.
        let mut t = T::new(8);
        for (u0, u1) in [(100, 105), (106, 110), (111, 111)] {
            assert_eq!(t.diff(u0, u1), Verdict::Buffered);
        }
        assert_eq!(t.snap(107), Verdict::Snapshot);
        assert_eq!(t.diff(112, 112), Verdict::Applied);
        assert_eq!(t.commits(), vec![107, 110, 111, 112]);
        assert_eq!(t.c.dropped, 1);
        assert_eq!(t.c.gaps, 0);
        assert_eq!(t.evs[0].op, BookOp::Clear);
    }

    #[test]
    fn snapshot_older_than_buffer_is_unusable() {
        let mut t = T::new(8);
        t.diff(200, 205);
        let v = t.snap(150);
        assert_eq!(v, Verdict::SnapshotTooOld);
        assert!(v.wants_snapshot());
        assert!(t.b.awaiting_snapshot());
        assert!(t.evs.is_empty());
        assert_eq!(t.snap(198), Verdict::SnapshotTooOld, "one update missing");
        // exactly at the boundary: id + 1 == U is usable
        assert_eq!(t.snap(199), Verdict::Snapshot);
        assert_eq!(t.commits(), vec![199, 205]);
    }

    #[test]
    fn snapshot_equal_to_an_events_u_drops_it() {
        // The recorded NKNUSDT case: snapshot id == u of the buffered event.
        let mut t = T::new(8);
        t.diff(499869750, 499869752);
        assert_eq!(t.snap(499869752), Verdict::Snapshot);
        assert_eq!(t.diff(499869753, 499869754), Verdict::Applied);
        assert_eq!(t.commits(), vec![499869752, 499869754]);
        assert_eq!(t.c.dropped, 1);
    }

    #[test]
    fn hole_inside_the_buffer_is_a_gap_and_keeps_the_rest() {
        let mut t = T::new(8);
        for (u0, u1) in [(10, 12), (13, 15), (17, 20), (21, 22)] {
            t.diff(u0, u1);
        }
        assert_eq!(t.snap(11), Verdict::Gap);
        assert_eq!(t.commits(), vec![11, 12, 15]);
        assert_eq!(t.b.buffer.len(), 2);
        assert_eq!(t.b.buffer.get(0).unwrap().0.first_id, 17);
        assert_eq!(t.c.gaps, 1);
        assert_eq!(t.b.sb.state, BookState::Resyncing);
        // a snapshot at 18 now applies 17-20 (straddles) and 21-22
        assert_eq!(t.snap(18), Verdict::Snapshot);
        assert_eq!(t.commits(), vec![11, 12, 15, 18, 20, 22]);
    }

    #[test]
    fn full_buffer_restarts_and_wants_a_snapshot() {
        let mut t = T::new(2);
        t.diff(1, 1);
        t.diff(2, 2);
        let v = t.diff(3, 3);
        assert_eq!(v, Verdict::Overflow);
        assert!(v.wants_snapshot());
        assert_eq!(t.b.buffer.len(), 1);
        assert_eq!(t.c.dropped, 2);
    }

    #[test]
    fn live_rules_stale_gap_and_overlap_only_first() {
        let mut t = T::new(8);
        assert_eq!(t.snap(50), Verdict::Snapshot);
        assert_eq!(t.diff(40, 50), Verdict::Stale);
        assert_eq!(t.diff(45, 55), Verdict::Applied);
        // later diffs must continue exactly; an overlapping one is a gap
        assert_eq!(t.diff(55, 57), Verdict::Gap);
        assert_eq!(t.b.sb.state, BookState::Resyncing);
        assert_eq!(t.b.buffer.len(), 1);
        assert_eq!(t.c.resyncs, 1);
        // the first diff after a snapshot must reach back to it
        let mut t2 = T::new(8);
        t2.snap(50);
        assert_eq!(t2.diff(52, 53), Verdict::Gap);
        assert_eq!(t2.c.gaps, 1);
        // a snapshot while synced is ignored
        assert_eq!(t.snap(56), Verdict::Snapshot);
        assert_eq!(t.snap(60), Verdict::SnapshotIgnored);
        assert_eq!(t.commits(), vec![50, 55, 56, 57]);
    }

    /// A USD-M book under test: diffs carry `pu`.
    fn usdm() -> T {
        T {
            b: BookSync::with_rule(Rule::UsdM, 8, 64),
            c: FeedCounters::default(),
            evs: Vec::new(),
        }
    }

    fn fdiff(t: &mut T, first_id: u64, last_id: u64, pu: u64) -> Verdict {
        let head = DiffHead {
            first_id,
            last_id,
            prev_id: Some(pu),
            ts_ms: 0,
        };
        let evs = &mut t.evs;
        t.b.on_diff(&mut t.c, 1, 0, head, LV, &mut |e| evs.push(e))
    }

    #[test]
    fn usdm_pu_must_equal_the_previous_u() {
        // Ids not consecutive across events (the futures stream): the spot rule would call
        // every one of these a gap.
        let mut t = usdm();
        for (u0, u1, pu) in [(100, 105, 90), (108, 110, 105), (115, 120, 110)] {
            assert_eq!(fdiff(&mut t, u0, u1, pu), Verdict::Buffered);
        }
        // snapshot 109: 100-105 dropped, 108-110 straddles it, 115-120 continues by pu
        assert_eq!(t.snap(109), Verdict::Snapshot);
        assert_eq!(t.commits(), vec![109, 110, 120]);
        assert_eq!(fdiff(&mut t, 125, 130, 120), Verdict::Applied);
        assert_eq!(fdiff(&mut t, 126, 130, 125), Verdict::Stale, "u not above");
        // pu not the previous u: updates were lost
        assert_eq!(fdiff(&mut t, 140, 150, 135), Verdict::Gap);
        assert_eq!(t.b.sb.state, BookState::Resyncing);
        assert_eq!((t.c.gaps, t.c.resyncs), (1, 1));
        // the diff that revealed the gap waits in the buffer for the next snapshot
        assert_eq!(fdiff(&mut t, 152, 155, 150), Verdict::Buffered);
        assert_eq!(t.snap(150), Verdict::Snapshot);
        assert_eq!(t.commits(), vec![109, 110, 120, 130, 150, 155]);
    }

    #[test]
    fn usdm_snapshot_at_an_event_boundary_or_too_old() {
        // u == lastUpdateId: that event is in the snapshot; the next continues it by pu.
        let mut t = usdm();
        fdiff(&mut t, 100, 105, 90);
        fdiff(&mut t, 110, 112, 105);
        assert_eq!(t.snap(105), Verdict::Snapshot);
        assert_eq!(t.commits(), vec![105, 112]);
        // a snapshot older than the first buffered event that neither straddles nor is continued
        let mut t = usdm();
        fdiff(&mut t, 200, 205, 190);
        assert_eq!(t.snap(195), Verdict::SnapshotTooOld);
        assert_eq!(t.snap(199), Verdict::SnapshotTooOld);
        assert_eq!(t.snap(190), Verdict::Snapshot, "pu == lastUpdateId");
        assert_eq!(t.commits(), vec![190, 205]);
        // the first diff after a snapshot with no buffer: straddling or pu
        let mut t = usdm();
        t.snap(50);
        assert_eq!(fdiff(&mut t, 45, 55, 40), Verdict::Applied);
        let mut t = usdm();
        t.snap(50);
        assert_eq!(fdiff(&mut t, 60, 70, 55), Verdict::Gap);
    }
}
