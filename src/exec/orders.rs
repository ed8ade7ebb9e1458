//! Live orders: one state machine per order, and the client order ids the venue sees.
//!
//! ```text
//!                 ack            fill (part)            fill (rest)
//!  PendingNew ─────────► Acked ─────────► PartiallyFilled ─────────► Filled
//!      │  │                │                    │
//!      │  └─reject─► Rejected                   │
//!      │        cancel sent│                    │cancel sent
//!      └────────────► PendingCancel ◄───────────┘
//!                      │   │   └─cancel refused─► back to Acked / PartiallyFilled
//!                      │   └─cancelled─► Cancelled     (expired by the venue: Expired)
//!                      └─fill (rest)─► Filled
//! ```
//!
//! A venue's answers and its private stream arrive over different connections, so events come
//! out of order and twice. [`OrderTable::apply`] turns them into the [`ExecReport`]s the trader
//! acts on, each exactly once and in an order it can act on:
//! - a fill before the ack implies the ack: `Accepted` goes out first, the later ack is ignored;
//! - fills are applied once per execution id (a duplicate is counted and dropped), in any order;
//! - a cancel (or expiry) whose cumulative executed size is more than the fills we have seen
//!   waits for those fills: the fills go out first, then `Cancelled` with the true rest, so the
//!   trader never gets a fill for an order it already forgot;
//! - a cancel acknowledgement after the order filled, a second cancel, an ack or reject after
//!   a terminal state are ignored (counted as late);
//! - a refused cancel puts the order back where it was.
//!
//! The table has a fixed capacity chosen at start-up and never allocates after
//! [`OrderTable::new`]: finished orders stay (so late duplicates are recognised) until their
//! slot is needed by a new order, oldest first. Execution ids are remembered in a fixed ring of
//! [`SEEN_EXECS`] ids (a duplicate older than that many fills would be applied twice; venues
//! resend within seconds, and the ring holds the last few hundred fills).
//!
//! Client order ids ([`ClientIds`]) are `<prefix>-<start>-<id>`: the prefix is the config's
//! (stable across restarts, so a restarted process knows its own leftover orders), the start
//! time in base 36 keeps ids from repeating across restarts, and our order id is read straight
//! back from the venue's echo.

use crate::msg::{ExecKind, ExecReport, Liquidity, Money, OrderSide, RejectReason};
use arrayvec::ArrayString;
use std::fmt::Write as _;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Sent; the venue has not answered yet.
    PendingNew,
    /// The venue accepted it; nothing filled.
    Acked,
    /// Some of it filled; the rest works.
    PartiallyFilled,
    /// We asked the venue to cancel it; it may still fill until the venue answers.
    PendingCancel,
    Filled,
    Cancelled,
    Rejected,
    /// The venue ended it by itself (IOC rest, time in force, self-trade prevention).
    Expired,
}

impl OrderState {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderState::PendingNew => "pending_new",
            OrderState::Acked => "acked",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::PendingCancel => "pending_cancel",
            OrderState::Filled => "filled",
            OrderState::Cancelled => "cancelled",
            OrderState::Rejected => "rejected",
            OrderState::Expired => "expired",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderState::Filled | OrderState::Cancelled | OrderState::Rejected | OrderState::Expired
        )
    }
}

/// What the venue said about one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueEvent {
    /// Accepted (the place answer, or the stream's `New`).
    Ack,
    /// One execution. `exec_id` is the venue's execution id (hashed to 64 bits).
    Fill {
        exec_id: u64,
        px: i64,
        qty: i64,
        fee: Money,
        liquidity: Liquidity,
    },
    /// Cancelled; `cum_qty` is the size the venue says executed in all.
    Cancelled { cum_qty: i64 },
    /// Ended by the venue itself; `cum_qty` as for a cancel.
    Expired { cum_qty: i64 },
    /// The place was refused.
    Rejected { reason: RejectReason },
    /// The cancel was refused (the order is still working, or already gone).
    CancelRejected { reason: RejectReason },
}

/// Counters of events that changed nothing (for the cold path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderTableCounters {
    /// Fills whose execution id was seen before.
    pub duplicate_fills: u64,
    /// Acks, cancels and rejects after the order had already got that far.
    pub late_events: u64,
    /// Events for an id the table does not hold.
    pub unknown_orders: u64,
    /// Fills that would take an order beyond its size, or fill a rejected order: the venue and
    /// we disagree (applied up to the size; counted so risk can act).
    pub inconsistent: u64,
}

/// Why an order could not be entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceError {
    /// Every slot holds an order that is still working.
    Full,
    /// The id is already in the table.
    Duplicate,
}

/// One order as we track it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOrder {
    pub id: u64,
    pub side: OrderSide,
    pub px: i64,
    pub qty: i64,
    pub filled: i64,
    pub fees: Money,
    pub state: OrderState,
    /// `Accepted` has been reported.
    acked: bool,
    /// The state to return to when a cancel is refused.
    before_cancel: OrderState,
    /// The venue ended the order (cancel or expiry) with this cumulative size, and we have not
    /// seen all those fills yet.
    end_pending: Option<(i64, OrderState)>,
    /// Insertion order, for evicting the oldest finished order.
    seq: u64,
}

impl LiveOrder {
    pub fn leaves(&self) -> i64 {
        self.qty - self.filled
    }
}

/// Execution ids remembered for duplicate detection.
pub const SEEN_EXECS: usize = 512;

/// The live orders of one gateway.
#[derive(Debug, Clone)]
pub struct OrderTable {
    orders: Vec<LiveOrder>,
    cap: usize,
    next_seq: u64,
    seen: Box<[u64; SEEN_EXECS]>,
    seen_len: usize,
    seen_at: usize,
    counters: OrderTableCounters,
}

impl OrderTable {
    /// A table for up to `capacity` orders (working and recently finished).
    pub fn new(capacity: usize) -> OrderTable {
        let cap = capacity.max(1);
        OrderTable {
            orders: Vec::with_capacity(cap),
            cap,
            next_seq: 0,
            seen: Box::new([0; SEEN_EXECS]),
            seen_len: 0,
            seen_at: 0,
            counters: OrderTableCounters::default(),
        }
    }

    pub fn counters(&self) -> OrderTableCounters {
        self.counters
    }

    pub fn get(&self, id: u64) -> Option<&LiveOrder> {
        self.orders.iter().find(|o| o.id == id)
    }

    /// Orders not in a terminal state.
    pub fn working(&self) -> impl Iterator<Item = &LiveOrder> + '_ {
        self.orders.iter().filter(|o| !o.state.is_terminal())
    }

    /// Enters an order about to be sent, in `PendingNew`. A finished order's slot is reused
    /// (oldest first) when the table is full.
    pub fn place(&mut self, id: u64, side: OrderSide, px: i64, qty: i64) -> Result<(), PlaceError> {
        if self.get(id).is_some() {
            return Err(PlaceError::Duplicate);
        }
        self.next_seq += 1;
        let o = LiveOrder {
            id,
            side,
            px,
            qty,
            filled: 0,
            fees: 0,
            state: OrderState::PendingNew,
            acked: false,
            before_cancel: OrderState::PendingNew,
            end_pending: None,
            seq: self.next_seq,
        };
        if self.orders.len() < self.cap {
            self.orders.push(o);
            return Ok(());
        }
        let oldest = self
            .orders
            .iter()
            .enumerate()
            .filter(|(_, o)| o.state.is_terminal())
            .min_by_key(|(_, o)| o.seq)
            .map(|(i, _)| i)
            .ok_or(PlaceError::Full)?;
        self.orders[oldest] = o;
        Ok(())
    }

    /// Enters an order found working at the venue at start-up (adopted): accepted, with
    /// `filled` of `qty` already executed (those fills are in the venue's position, not
    /// reported again).
    pub fn adopt(
        &mut self,
        id: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        filled: i64,
    ) -> Result<(), PlaceError> {
        self.place(id, side, px, qty)?;
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == id) {
            o.acked = true;
            o.filled = filled.clamp(0, qty);
            o.state = if o.filled > 0 {
                OrderState::PartiallyFilled
            } else {
                OrderState::Acked
            };
        }
        Ok(())
    }

    /// We are sending a cancel for `id`: true if the order is working (it moves to
    /// `PendingCancel`), false if it is unknown or finished (nothing to send).
    pub fn cancel_sent(&mut self, id: u64) -> bool {
        let Some(o) = self.orders.iter_mut().find(|o| o.id == id) else {
            return false;
        };
        if o.state.is_terminal() {
            return false;
        }
        if o.state != OrderState::PendingCancel {
            o.before_cancel = o.state;
            o.state = OrderState::PendingCancel;
        }
        true
    }

    /// Applies one venue event at `ts_ns`, reporting what the trader must hear.
    pub fn apply(
        &mut self,
        id: u64,
        ts_ns: u64,
        ev: VenueEvent,
        out: &mut impl FnMut(ExecReport),
    ) -> Option<OrderState> {
        if let VenueEvent::Fill { exec_id, .. } = ev {
            if self.seen_exec(exec_id) {
                self.counters.duplicate_fills += 1;
                return self.get(id).map(|o| o.state);
            }
        }
        let Some(i) = self.orders.iter().position(|o| o.id == id) else {
            self.counters.unknown_orders += 1;
            return None;
        };
        if let VenueEvent::Fill { exec_id, .. } = ev {
            self.remember_exec(exec_id);
        }
        let c = &mut self.counters;
        let o = &mut self.orders[i];
        let mut report = |kind: ExecKind| out(ExecReport { id, ts_ns, kind });
        match ev {
            VenueEvent::Ack => {
                if o.acked || o.state.is_terminal() {
                    c.late_events += 1;
                } else {
                    o.acked = true;
                    report(ExecKind::Accepted);
                    if o.state == OrderState::PendingNew {
                        o.state = OrderState::Acked;
                    } else if o.before_cancel == OrderState::PendingNew {
                        o.before_cancel = OrderState::Acked;
                    }
                }
            }
            VenueEvent::Fill {
                px,
                qty,
                fee,
                liquidity,
                ..
            } => {
                if matches!(o.state, OrderState::Rejected) || qty <= 0 {
                    c.inconsistent += 1;
                    return Some(o.state);
                }
                let qty = if qty > o.leaves() {
                    c.inconsistent += 1;
                    o.leaves()
                } else {
                    qty
                };
                if qty == 0 {
                    return Some(o.state);
                }
                if !o.acked {
                    o.acked = true;
                    report(ExecKind::Accepted);
                }
                o.filled += qty;
                o.fees += fee;
                report(ExecKind::Fill {
                    px,
                    qty,
                    liquidity,
                    fee,
                    leaves: o.leaves(),
                });
                if o.leaves() == 0 {
                    o.state = OrderState::Filled;
                    o.end_pending = None;
                } else if let Some((cum, end)) = o.end_pending {
                    if o.filled >= cum {
                        o.end_pending = None;
                        o.state = end;
                        report(ExecKind::Cancelled { leaves: o.leaves() });
                    }
                } else if o.state == OrderState::PendingCancel {
                    o.before_cancel = OrderState::PartiallyFilled;
                } else {
                    o.state = OrderState::PartiallyFilled;
                }
            }
            VenueEvent::Cancelled { cum_qty } | VenueEvent::Expired { cum_qty } => {
                let end = if matches!(ev, VenueEvent::Cancelled { .. }) {
                    OrderState::Cancelled
                } else {
                    OrderState::Expired
                };
                if o.state.is_terminal() || o.end_pending.is_some() {
                    c.late_events += 1;
                } else if cum_qty > o.filled {
                    // Fills still on their way: report them first, then the cancel.
                    o.end_pending = Some((cum_qty.min(o.qty), end));
                } else {
                    o.state = end;
                    report(ExecKind::Cancelled { leaves: o.leaves() });
                }
            }
            VenueEvent::Rejected { reason } => {
                if o.acked || o.state.is_terminal() {
                    c.late_events += 1;
                } else {
                    o.state = OrderState::Rejected;
                    report(ExecKind::Rejected { reason });
                }
            }
            VenueEvent::CancelRejected { reason } => {
                if o.state == OrderState::PendingCancel && o.end_pending.is_none() {
                    o.state = o.before_cancel;
                    report(ExecKind::CancelRejected { reason });
                } else {
                    c.late_events += 1;
                }
            }
        }
        Some(o.state)
    }

    fn seen_exec(&self, exec_id: u64) -> bool {
        self.seen[..self.seen_len].contains(&exec_id)
    }

    fn remember_exec(&mut self, exec_id: u64) {
        self.seen[self.seen_at] = exec_id;
        self.seen_at = (self.seen_at + 1) % SEEN_EXECS;
        self.seen_len = (self.seen_len + 1).min(SEEN_EXECS);
    }
}

/// A venue's execution id (any string) as 64 bits: FNV-1a. Collisions between two fills of
/// one session are ~n²/2⁶⁵ likely (10⁻¹¹ for a million fills).
pub fn exec_id_hash(s: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A client order id as the venue sees it (Bybit allows 36 characters, Coincheck and GMO use
/// their own order ids; 36 covers all).
pub type ClientId = ArrayString<36>;

/// Longest `[live] client_id_prefix` (so that `<prefix>-<start>-<id>` fits Bybit's 36).
pub const MAX_PREFIX: usize = 6;

/// Client order ids: `<prefix>-<start>-<id>`. The prefix comes from the config
/// (`[live] client_id_prefix`, default `obi`) and is the same for every start of it: a
/// restarted process recognises every order it ever sent by it ([`ClientIds::is_ours`]). The
/// start time in base 36 keeps ids unique across restarts; [`ClientIds::id_of`] reads our order
/// id back only from this start's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIds {
    /// `<prefix>-`
    prefix: ArrayString<8>,
    /// `<prefix>-<start>-`
    start: ArrayString<18>,
}

impl ClientIds {
    /// Ids of the process started at `start_ms` (wall clock, ms since the Unix epoch) with
    /// `prefix` (1 to [`MAX_PREFIX`] letters or digits; longer ones are cut), e.g.
    /// `obi-mfx3k2a1-42`.
    pub fn new(prefix: &str, start_ms: u64) -> ClientIds {
        let mut p = ArrayString::<8>::new();
        for c in prefix
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(MAX_PREFIX)
        {
            p.push(c);
        }
        if p.is_empty() {
            p.push_str("obi");
        }
        p.push('-');
        let mut start = ArrayString::<18>::new();
        start.push_str(&p);
        let mut digits = [0u8; 13];
        let mut n = start_ms;
        let mut len = 0;
        loop {
            digits[len] = b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize];
            n /= 36;
            len += 1;
            if n == 0 {
                break;
            }
        }
        for &d in digits[..len].iter().rev() {
            let _ = start.try_push(d as char);
        }
        let _ = start.try_push('-');
        ClientIds { prefix: p, start }
    }

    /// `<prefix>-`: what every client id of this config starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>-<start>-`: what this start's client ids start with.
    pub fn start_prefix(&self) -> &str {
        &self.start
    }

    /// The client id of our order `id`.
    pub fn of(&self, id: u64) -> ClientId {
        let mut s = ClientId::new();
        // 18 + 20 digits of a u64 would be 38: ids stay far below 10^17, but a write that
        // does not fit is cut, never a panic.
        let _ = write!(s, "{}{}", self.start, id);
        s
    }

    /// Our order id back from a client id this start made; `None` for anyone else's (and for
    /// our own earlier starts': see [`ClientIds::is_ours`]).
    pub fn id_of(&self, client_id: &str) -> Option<u64> {
        let digits = client_id.strip_prefix(self.start.as_str())?;
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Whether a client id was made by this config, in this start or an earlier one.
    pub fn is_ours(&self, client_id: &str) -> bool {
        client_id.starts_with(self.prefix.as_str())
    }
}

#[cfg(test)]
mod tests;
