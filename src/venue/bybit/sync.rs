//! Bybit v5 `orderbook.{depth}.{symbol}` sync rules (bybit-exchange/docs, orderbook.mdx):
//! - a `snapshot` replaces the book; a delta with `u == 1` is a snapshot after a service restart
//!   and replaces it too;
//! - a delta applies only when `u == last_u + 1`; `u <= last_u` is a duplicate and is dropped;
//!   any other `u` is a gap: the book turns `resyncing` until the next snapshot, and the feed is
//!   asked to resubscribe;
//! - deltas arriving while resyncing are dropped.

use crate::msg::{BookState, MdEvent};
use crate::venue::{emit_delta, emit_snapshot, emit_state, FeedCounters, LevelUpdate, SyncBook};

/// What the rules decided for one book frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Snapshot,
    Applied,
    Duplicate,
    Gap,
    WhileResyncing,
}

/// Applies the rules for one book frame of `book`, emitting events. Returns the verdict.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn on_book_frame<F: FnMut(MdEvent)>(
    sb: &mut SyncBook,
    c: &mut FeedCounters,
    recv_ns: u64,
    book: u16,
    snapshot: bool,
    u: u64,
    ts_ms: u64,
    levels: &[LevelUpdate],
    out: &mut F,
) -> Verdict {
    if snapshot || u == 1 {
        c.events += emit_snapshot(recv_ns, book, levels, u, ts_ms, out);
        c.snapshots += 1;
        c.updates += 1;
        sb.state = BookState::Synced;
        sb.last_seq = Some(u);
        sb.last_update_ns = recv_ns;
        sb.seeded_ns = recv_ns;
        return Verdict::Snapshot;
    }
    let Some(last) = sb.last_seq else {
        c.dropped += 1;
        return Verdict::WhileResyncing;
    };
    if sb.state == BookState::Resyncing {
        c.dropped += 1;
        return Verdict::WhileResyncing;
    }
    if u == last.wrapping_add(1) {
        c.events += emit_delta(recv_ns, book, levels, u, ts_ms, out);
        c.updates += 1;
        sb.state = BookState::Synced;
        sb.last_seq = Some(u);
        sb.last_update_ns = recv_ns;
        Verdict::Applied
    } else if u <= last {
        c.dropped += 1;
        Verdict::Duplicate
    } else {
        mark_resyncing(sb, c, recv_ns, book, out);
        c.gaps += 1;
        Verdict::Gap
    }
}

/// Puts a book into `resyncing` (gap, malformed delta, reconnect).
#[inline]
pub fn mark_resyncing<F: FnMut(MdEvent)>(
    sb: &mut SyncBook,
    c: &mut FeedCounters,
    now_ns: u64,
    book: u16,
    out: &mut F,
) {
    if sb.state != BookState::Resyncing {
        c.resyncs += 1;
    }
    sb.state = BookState::Resyncing;
    sb.last_seq = None;
    emit_state(now_ns, book, BookState::Resyncing, out);
    c.events += 1;
}
