//! Counters and latency samples that leave the hot threads for the cold thread.
//!
//! Counters are relaxed atomics written by exactly one hot thread each (a plain store of the
//! stage's own running count: no read-modify-write contention). Latency samples travel on one
//! SPSC ring per stage; a full ring drops the sample and counts it, never blocks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What a latency sample measures. Stage times (`is_stage`) are the time one message spent in
/// that stage, from the hand-off into its input ring (ring wait included) to its own hand-off;
/// the others are cumulative since the frame was received, and named so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LatencyKind {
    /// Stage time of the feed: frame received → decoded and handed to the book ring (the feed
    /// is the first stage, so this is also its time since receive).
    Feed = 0,
    /// Frame received → book updated and published to the signal ring (cumulative: the feed's
    /// hand-off of single book events is not stamped, so the book's own time is not separated).
    BookSinceReceive = 1,
    /// Stage time of signal+risk: book update handed off → decision made.
    Signal = 2,
    /// Stage time of the order stage: decision handed off → order handed to the gateway.
    Order = 3,
    /// Frame received → order handed to the gateway (internal tick-to-trade, cumulative).
    TickToTrade = 4,
    /// Frame received → decision made (cumulative).
    DecisionSinceReceive = 5,
}

impl LatencyKind {
    pub const ALL: [LatencyKind; 6] = [
        LatencyKind::Feed,
        LatencyKind::BookSinceReceive,
        LatencyKind::Signal,
        LatencyKind::Order,
        LatencyKind::TickToTrade,
        LatencyKind::DecisionSinceReceive,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            LatencyKind::Feed => "feed",
            LatencyKind::BookSinceReceive => "book_since_receive",
            LatencyKind::Signal => "signal",
            LatencyKind::Order => "order",
            LatencyKind::TickToTrade => "tick_to_trade",
            LatencyKind::DecisionSinceReceive => "decision_since_receive",
        }
    }

    /// Whether this is one stage's own time (else cumulative since receive).
    pub const fn is_stage(self) -> bool {
        matches!(
            self,
            LatencyKind::Feed | LatencyKind::Signal | LatencyKind::Order
        )
    }
}

/// One latency sample in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySample {
    pub kind: LatencyKind,
    pub ns: u64,
}

/// Pushes a sample, counting it as dropped when the ring is full.
#[inline]
pub fn sample(
    ring: &mut rtrb::Producer<LatencySample>,
    dropped: &mut u64,
    kind: LatencyKind,
    ns: u64,
) {
    if ring.push(LatencySample { kind, ns }).is_err() {
        *dropped += 1;
    }
}

/// A state enum that round-trips through a `u8` (for [`StateCell`]).
pub trait CellState: Copy + Default {
    fn to_u8(self) -> u8;
    /// The state `v` stands for (a value no state has: the safe one, as each type says).
    fn from_u8(v: u8) -> Self;
}

impl CellState for crate::msg::BookState {
    fn to_u8(self) -> u8 {
        self as u8
    }
    fn from_u8(v: u8) -> Self {
        use crate::msg::BookState::*;
        [Synced, Stale, Resyncing]
            .into_iter()
            .find(|s| *s as u8 == v)
            .unwrap_or_default()
    }
}

impl CellState for crate::risk::RiskStatus {
    fn to_u8(self) -> u8 {
        self as u8
    }
    fn from_u8(v: u8) -> Self {
        // Fail safe: a value no status has reads as abort.
        Self::ALL
            .into_iter()
            .find(|s| *s as u8 == v)
            .unwrap_or(crate::risk::RiskStatus::Abort)
    }
}

/// A state written by one hot stage and read by the cold side, typed: it starts at the state's
/// default (a book is `Resyncing` until its first sync, never "0 = synced") and reads back as the
/// enum, so no reader decodes raw numbers.
#[derive(Debug)]
pub struct StateCell<T: CellState> {
    v: std::sync::atomic::AtomicU8,
    _t: std::marker::PhantomData<T>,
}

impl<T: CellState> Default for StateCell<T> {
    fn default() -> Self {
        StateCell {
            v: std::sync::atomic::AtomicU8::new(T::default().to_u8()),
            _t: std::marker::PhantomData,
        }
    }
}

impl<T: CellState> StateCell<T> {
    #[inline]
    pub fn set(&self, s: T) {
        self.v.store(s.to_u8(), Ordering::Relaxed);
    }

    #[inline]
    pub fn get(&self) -> T {
        T::from_u8(self.v.load(Ordering::Relaxed))
    }
}

/// Counters published by the hot stages (each field written by one thread).
#[derive(Debug, Default)]
pub struct HotCounters {
    // feed
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub md_events: AtomicU64,
    pub gaps: AtomicU64,
    pub resyncs: AtomicU64,
    pub malformed: AtomicU64,
    pub unknown: AtomicU64,
    pub stale: AtomicU64,
    pub snapshots: AtomicU64,
    pub last_frame_ns: AtomicU64,
    /// Updates older than `market.max_frame_age_ms` (venue time vs receive time).
    pub old_frames: AtomicU64,
    // book
    pub book_updates: AtomicU64,
    pub crossed: AtomicU64,
    pub book_state: StateCell<crate::msg::BookState>,
    // signal
    pub signals: AtomicU64,
    pub orders: AtomicU64,
    pub fills: AtomicU64,
    pub cancels: AtomicU64,
    pub rejects: AtomicU64,
    pub trades_closed: AtomicU64,
    pub wins: AtomicU64,
    pub position: AtomicU64,
    pub risk_status: StateCell<crate::risk::RiskStatus>,
    pub risk_reasons: AtomicU64,
    /// Realized PnL, unrealized PnL and fees, exact (i128 money units).
    pub pnl: crate::ops::PnlCell,
    /// Risk's day PnL and drawdown (money units; the third figure unused).
    pub risk_money: crate::ops::PnlCell,
    // rings: messages a full ring could not take, one counter per ring (written by its producer)
    /// feed → book (`feed_book`), written by the feed.
    pub ring_overflows: AtomicU64,
    /// book → signal (`book_signal`), written by the book stage.
    pub overflow_book_signal: AtomicU64,
    /// book → order, the traded book's levels for the paper exchange's mirror (`book_order`),
    /// written by the book stage.
    pub overflow_book_order: AtomicU64,
    /// signal → order (`signal_order`), written by the signal stage.
    pub overflow_signal_order: AtomicU64,
    /// order → signal, the execution reports (`order_signal`), written by the order stage.
    pub overflow_order_signal: AtomicU64,
    /// signal → cold, the trader events for audit and metrics (`signal_cold`), written by the
    /// signal stage.
    pub overflow_signal_cold: AtomicU64,
    pub samples_dropped: AtomicU64,
}

impl HotCounters {
    /// Overflows by ring name (`feed_book`, `book_signal`, `book_order`, `signal_order`,
    /// `order_signal`, `signal_cold`).
    pub fn ring_overflows(&self) -> [(&'static str, u64); 6] {
        let g = HotCounters::get;
        [
            ("feed_book", g(&self.ring_overflows)),
            ("book_signal", g(&self.overflow_book_signal)),
            ("book_order", g(&self.overflow_book_order)),
            ("signal_order", g(&self.overflow_signal_order)),
            ("order_signal", g(&self.overflow_order_signal)),
            ("signal_cold", g(&self.overflow_signal_cold)),
        ]
    }

    #[inline]
    pub fn set(field: &AtomicU64, v: u64) {
        field.store(v, Ordering::Relaxed);
    }

    #[inline]
    pub fn get(field: &AtomicU64) -> u64 {
        field.load(Ordering::Relaxed)
    }
}

/// Flags shared by all threads.
#[derive(Debug, Default)]
pub struct Flags {
    /// Stop: set by the shutdown signal; stages drain and exit.
    pub stop: AtomicBool,
    /// Stop opening positions (first step of a clean shutdown).
    pub no_new_positions: AtomicBool,
    /// A ring overflowed: the pipeline is degraded until the books resync.
    pub degraded: AtomicBool,
    /// The feed is connected and delivering (false while reconnecting).
    pub feed_active: AtomicBool,
    /// Kill switch tripped (file, HTTP, SIGUSR1).
    pub kill: AtomicBool,
    /// Set by each stage's runner when the stage has finished: feed, book, signal, order.
    pub done: [AtomicBool; 4],
    /// Local time of the last ring overflow anywhere (0: never).
    pub last_overflow_ns: AtomicU64,
    /// The order stage's gateway has requests in flight or orders the venue has not finished
    /// (a live gateway; the paper exchange never): a stop waits for it, bounded.
    pub gateway_busy: AtomicBool,
    /// The last wallet drift a live gateway's reconciliation measured (Money, saturated), and
    /// how many were published (0: none yet): the cold thread copies them from the gateway,
    /// the signal stage hands each new one to risk (`max_wallet_drift`).
    pub wallet_drift: std::sync::atomic::AtomicI64,
    pub wallet_drift_seq: AtomicU64,
    /// Reconciliation found a difference no missed report explains: risk aborts.
    pub reconcile_mismatch: AtomicBool,
    /// Commands (and the end of market data) the order stage has handed to its gateway, stored
    /// (Release) after their reports were pushed: the signal stage waits for all it sent to be
    /// answered before it finishes.
    pub order_handled: AtomicU64,
}

impl Flags {
    /// Whether stage `i` has finished (its output is complete).
    #[inline]
    pub fn is_done(&self, i: usize) -> bool {
        self.done[i].load(Ordering::Acquire)
    }

    /// A ring was full: the pipeline is degraded (no new positions) until it has been quiet.
    #[inline]
    pub fn overflowed(&self) {
        self.last_overflow_ns
            .store(crate::clock::now_ns(), Ordering::Relaxed);
        self.degraded.store(true, Ordering::Relaxed);
    }

    /// Clears `degraded` once no ring has overflowed for `quiet_ns` (the books have resynced by
    /// then or are still marked resyncing themselves).
    pub fn clear_degraded_after(&self, now_ns: u64, quiet_ns: u64) {
        if self.degraded.load(Ordering::Relaxed)
            && now_ns.saturating_sub(self.last_overflow_ns.load(Ordering::Relaxed)) >= quiet_ns
        {
            self.degraded.store(false, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::BookState;
    use crate::risk::RiskStatus;

    /// Before its first update a book is not synced: the raw `AtomicU64` this replaces started at
    /// 0, which its readers decoded as `Synced`.
    #[test]
    fn fresh_counters_read_resyncing_and_ok_and_states_round_trip() {
        let c = HotCounters::default();
        assert_eq!(c.book_state.get(), BookState::Resyncing);
        assert_eq!(c.risk_status.get(), RiskStatus::Ok);
        for s in [BookState::Synced, BookState::Stale, BookState::Resyncing] {
            c.book_state.set(s);
            assert_eq!(c.book_state.get(), s);
        }
        for s in RiskStatus::ALL {
            c.risk_status.set(s);
            assert_eq!(c.risk_status.get(), s);
        }
        assert_eq!(RiskStatus::from_u8(200), RiskStatus::Abort, "fail safe");
        assert_eq!(BookState::from_u8(200), BookState::Resyncing, "fail safe");
    }
}
