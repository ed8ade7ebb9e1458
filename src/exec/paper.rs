//! The paper exchange: the order stage's logic in paper mode, driven by market data in event time.
//!
//! The clock is the receive time (`recv_ns`) of the latest market message. An order decided at
//! `decided_ns` reaches the book at `decided_ns + order_latency_ns`, a cancel at
//! `decided_ns + cancel_latency_ns`. Both take effect the first time the clock reaches that
//! time: events that are due at or before a market message's `recv_ns` are processed *before*
//! the message is applied, against the book as it was. Events due at the same time run in the
//! order they were submitted. A cancel never overtakes the order it cancels (a venue connection
//! delivers requests in order): it takes effect no earlier than that order's arrival.
//!
//! Depth is trusted only when the last book update was synced and uncrossed. An order that
//! arrives while it is not waits (it is neither acknowledged nor filled) and meets the first
//! synced, uncrossed book after its arrival, at that book's time; cancels reach it while it
//! waits. A gap or reconnect therefore never fills against pre-disconnect levels.
//!
//! The book is the order stage's [`Mirror`] of the traded book: the full depth, fed level by
//! level by the book stage (or, without a level feed, the top levels each update carries). An
//! unsynced mirror (level messages lost) is not trusted either.
//!
//! On arrival a limit order that crosses the book takes liquidity level by level at each
//! level's price (taker fee), as deep as its price and size reach, consuming the paper copy of
//! the book until the next update. The rest rests (`Gtc`) or is cancelled (`Ioc`); a crossing
//! `PostOnly` is rejected.
//!
//! Resting orders follow a conservative queue model. On arrival an order records the size ahead
//! of it: the visible size at its price on its side, plus our own earlier orders there (0 if
//! its price improves the book; unknown if the price lies beyond the visible depth or the book
//! is not synced, until a synced book update shows that price). Only trade prints advance the
//! queue:
//! - a print at the order's price by an opposite aggressor first reduces the size ahead; the
//!   excess fills the order (maker fee);
//! - a print strictly through the order's price by an opposite aggressor (a sell print below
//!   our bid) fills it, limited to the print's size, shared among our orders in price-time
//!   priority;
//! - a synced, uncrossed book update whose opposite best is strictly through the order's price
//!   (best ask below our bid) fills it completely at its own price as maker: that liquidity
//!   must have traded. For the rest of an order that crossed on arrival, "through" means through
//!   the best price it took: the levels it swept were filled once, as taker, and the market data
//!   (which does not know our fills) keeps showing them; a rested rest is a maker only for
//!   liquidity that comes after it rests.
//!
//! When the market data ends (the end of a recording: [`PaperExchange::end_of_market_data`]),
//! time still passes for commands that need no book: cancels and cancel-alls pending then, or
//! sent later, take effect at their own event time (decision + cancel latency), not at a
//! market message that never comes. Arrivals wait, as on an unsynced book.
//!
//! Prints by our own side's aggressor never fill us. Our paper orders are invisible to the
//! market data, so there is no self-trade check and no market impact beyond the consumed copy.
//! The exchange trades one book: the caller sends it that book's messages only.
//!
//! Nothing allocates after [`PaperExchange::new`].

use super::mirror::Mirror;
use crate::msg::{
    BookState, BookUpdate, Cbps, ExecKind, ExecReport, LevelMsg, Liquidity, Money, OrderCmd,
    OrderSide, RejectReason, Side, Tif, TradePrint, MONEY_PER_TICK_LOT, NO_PRICE,
};

/// Paper venue parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaperConfig {
    /// Decision to arrival at the book.
    pub order_latency_ns: u64,
    /// Decision to a cancel taking effect.
    pub cancel_latency_ns: u64,
    /// A report's time at the venue to its arrival at the strategy (applied by the trader).
    pub report_latency_ns: u64,
    /// Fee rate for resting fills (negative for a rebate).
    pub maker_fee_cbps: Cbps,
    /// Fee rate for taking fills.
    pub taker_fee_cbps: Cbps,
}

/// Size ahead is not known yet: the order's price lies beyond the visible depth.
const AHEAD_UNKNOWN: i64 = -1;

/// A resting order at the paper venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOrder {
    pub id: u64,
    pub side: OrderSide,
    pub px: i64,
    /// Original size.
    pub qty: i64,
    /// Size still open.
    pub leaves: i64,
    /// Size ahead in the queue; [`AHEAD_UNKNOWN`] while the price is beyond the visible depth.
    ahead: i64,
    pub tif: Tif,
    /// When it reached the book.
    pub arrived_ns: u64,
    /// Submission order (ties and time priority).
    seq: u64,
    /// A book update fills it (as maker) only when the opposite best is strictly through this
    /// price: its own price, or for the rest of an order that crossed on arrival, the best
    /// opposite price it took (the levels it took were traded once, as taker; the market data
    /// keeps showing them until the venue's own book would have).
    through_px: i64,
}

impl OpenOrder {
    /// Size ahead in the queue, `None` while unknown.
    pub fn ahead(&self) -> Option<i64> {
        (self.ahead != AHEAD_UNKNOWN).then_some(self.ahead)
    }

    /// Price-time priority key: bids first (highest price first), then asks (lowest first).
    #[inline]
    fn rank(&self) -> (u8, i64, u64) {
        match self.side {
            OrderSide::Buy => (0, -self.px, self.seq),
            OrderSide::Sell => (1, self.px, self.seq),
        }
    }
}

/// A command waiting for its effective time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Arrive {
        due: u64,
        seq: u64,
        id: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        tif: Tif,
    },
    Cancel {
        due: u64,
        seq: u64,
        id: u64,
    },
    CancelAll {
        due: u64,
        seq: u64,
    },
}

impl Pending {
    #[inline]
    fn key(&self) -> (u64, u64) {
        match *self {
            Pending::Arrive { due, seq, .. }
            | Pending::Cancel { due, seq, .. }
            | Pending::CancelAll { due, seq } => (due, seq),
        }
    }
}

/// Counters of the paper venue (plain integers; the cold path reads copies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaperCounters {
    pub placed: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub maker_fills: u64,
    pub taker_fills: u64,
    pub cancelled: u64,
    pub cancel_rejected: u64,
    /// Trade prints or book updates ignored as malformed (size <= 0, no price).
    pub bad_market_data: u64,
}

/// The event-time paper exchange for one book.
#[derive(Debug, Clone)]
pub struct PaperExchange {
    cfg: PaperConfig,
    max_open: usize,
    max_pending: usize,
    clock: u64,
    /// The venue's copy of the book (consumed by our taking fills until the next update).
    book: Mirror,
    /// The last book update was synced and uncrossed, and the mirror is synced.
    book_ok: bool,
    /// The market data has ended: no book comes any more.
    ended: bool,
    /// Resting orders in price-time priority: bids best first, then asks best first.
    orders: Vec<OpenOrder>,
    pending: Vec<Pending>,
    pending_arrivals: usize,
    next_seq: u64,
    position: i64,
    cash: Money,
    counters: PaperCounters,
}

/// The side of the book our orders of `side` rest on (buys on the bids).
#[inline]
fn book_side(side: OrderSide) -> Side {
    match side {
        OrderSide::Buy => Side::Bid,
        OrderSide::Sell => Side::Ask,
    }
}

#[inline]
fn fee(px: i64, qty: i64, rate: Cbps) -> Money {
    // notional = px * qty * MONEY_PER_TICK_LOT; fee = notional * rate / 1_000_000 = px * qty * rate.
    px as i128 * qty as i128 * rate as i128
}

impl PaperExchange {
    /// A venue accepting up to `max_open_orders` orders open or on their way at once.
    pub fn new(cfg: PaperConfig, max_open_orders: usize) -> PaperExchange {
        let max_open = max_open_orders.max(1);
        let max_pending = 2 * max_open + 16;
        PaperExchange {
            cfg,
            max_open,
            max_pending,
            clock: 0,
            book: Mirror::from_updates(),
            book_ok: false,
            ended: false,
            orders: Vec::with_capacity(max_open),
            pending: Vec::with_capacity(max_pending),
            pending_arrivals: 0,
            next_seq: 0,
            position: 0,
            cash: 0,
            counters: PaperCounters::default(),
        }
    }

    /// The venue with the book stage's level feed: the mirror holds the full depth
    /// (`levels_per_side` as the book stage's ladders) instead of the top levels of each update.
    pub fn with_level_feed(
        mut self,
        feed: rtrb::Consumer<LevelMsg>,
        levels_per_side: usize,
    ) -> PaperExchange {
        self.book = Mirror::fed(feed, levels_per_side);
        self
    }

    /// Applies a book update: first runs the commands due by its `recv_ns` against the previous
    /// book, then takes the new depth and fills resting orders it trades through.
    pub fn on_book(&mut self, upd: &BookUpdate, out: &mut impl FnMut(ExecReport)) {
        self.advance_to(upd.recv_ns, out);
        self.book.take_update(upd);
        self.ended = false;
        self.book_ok = upd.state == BookState::Synced && !upd.crossed && self.book.synced();
        // Orders whose price was beyond the visible depth learn their queue once it shows.
        for i in 0..self.orders.len() {
            if self.orders[i].ahead == AHEAD_UNKNOWN {
                let o = self.orders[i];
                if let Some(v) = self.visible_at(o.side, o.px) {
                    self.orders[i].ahead = v + self.ours_ahead(&o);
                }
            }
        }
        if !self.book_ok {
            return;
        }
        let best_bid = self.book.best(Side::Bid).map_or(NO_PRICE, |l| l.0);
        let best_ask = self.book.best(Side::Ask).map_or(NO_PRICE, |l| l.0);
        let ts = self.clock;
        let mut i = 0;
        while i < self.orders.len() {
            let o = self.orders[i];
            let through = match o.side {
                OrderSide::Buy => best_ask != NO_PRICE && best_ask < o.through_px,
                OrderSide::Sell => best_bid != NO_PRICE && best_bid > o.through_px,
            };
            if through && self.fill_resting(i, ts, o.leaves, out) {
                continue;
            }
            i += 1;
        }
        self.run_waiting(out);
    }

    /// Applies a public trade print: first runs the commands due by its `recv_ns`, then fills
    /// resting orders the print reaches.
    pub fn on_trade(&mut self, t: &TradePrint, out: &mut impl FnMut(ExecReport)) {
        self.advance_to(t.recv_ns, out);
        if t.qty <= 0 || t.px == NO_PRICE {
            self.counters.bad_market_data += 1;
            return;
        }
        // A selling aggressor hits bids; a buying one lifts asks.
        let ours = match t.aggressor {
            Side::Ask => OrderSide::Buy,
            Side::Bid => OrderSide::Sell,
        };
        let ts = self.clock;
        let mut budget = t.qty;
        let mut i = match ours {
            OrderSide::Buy => 0,
            OrderSide::Sell => self.orders.partition_point(|o| o.side == OrderSide::Buy),
        };
        while i < self.orders.len() && budget > 0 {
            let o = self.orders[i];
            if o.side != ours {
                break;
            }
            let through = match ours {
                OrderSide::Buy => t.px < o.px,
                OrderSide::Sell => t.px > o.px,
            };
            let filled = if through {
                let f = o.leaves.min(budget);
                budget -= f;
                f
            } else if t.px == o.px {
                if o.ahead == AHEAD_UNKNOWN {
                    0
                } else {
                    // Our later orders at this price count our earlier ones as ahead, so the
                    // same print applies to each without double filling.
                    let excess = budget - o.ahead;
                    self.orders[i].ahead = (o.ahead - budget).max(0);
                    excess.clamp(0, o.leaves)
                }
            } else {
                // Sorted by priority: no later order on this side is reached.
                break;
            };
            if filled > 0 && self.fill_resting(i, ts, filled, out) {
                continue;
            }
            i += 1;
        }
    }

    /// Handles a command decided at `decided_ns`, first moving the clock there if it is later.
    /// Invalid orders, duplicate ids and orders beyond `max_open_orders` are rejected at once;
    /// everything else takes effect after its latency.
    pub fn on_cmd(&mut self, decided_ns: u64, cmd: OrderCmd, out: &mut impl FnMut(ExecReport)) {
        // A decision stamped later than the last market message means that much time has passed
        // (live paper trading; in replay `decided_ns` is the message's `recv_ns`).
        self.advance_to(decided_ns, out);
        match cmd {
            OrderCmd::Place {
                id,
                side,
                px,
                qty,
                tif,
                reduce_only: _,
            } => {
                self.counters.placed += 1;
                let reject = if qty <= 0 || px <= 0 || self.is_known(id) {
                    Some(RejectReason::Invalid)
                } else if self.orders.len() + self.pending_arrivals >= self.max_open
                    || self.pending.len() >= self.max_pending
                {
                    Some(RejectReason::Venue)
                } else {
                    None
                };
                if let Some(reason) = reject {
                    self.counters.rejected += 1;
                    out(ExecReport {
                        id,
                        ts_ns: self.clock,
                        kind: ExecKind::Rejected { reason },
                    });
                    return;
                }
                let seq = self.seq();
                self.pending.push(Pending::Arrive {
                    due: decided_ns.saturating_add(self.cfg.order_latency_ns),
                    seq,
                    id,
                    side,
                    px,
                    qty,
                    tif,
                });
                self.pending_arrivals += 1;
            }
            OrderCmd::Cancel { id } => {
                if self.pending.len() >= self.max_pending {
                    self.counters.cancel_rejected += 1;
                    out(ExecReport {
                        id,
                        ts_ns: self.clock,
                        kind: ExecKind::CancelRejected {
                            reason: RejectReason::Venue,
                        },
                    });
                    return;
                }
                let mut due = decided_ns.saturating_add(self.cfg.cancel_latency_ns);
                for p in &self.pending {
                    if let Pending::Arrive {
                        due: d, id: pid, ..
                    } = *p
                    {
                        if pid == id {
                            due = due.max(d);
                        }
                    }
                }
                let seq = self.seq();
                self.pending.push(Pending::Cancel { due, seq, id });
            }
            OrderCmd::CancelAll => {
                if self.pending.len() >= self.max_pending {
                    // Nothing to report an id against; cancel what is open now instead.
                    let ts = self.clock;
                    self.cancel_all_before(u64::MAX, ts, out);
                    return;
                }
                let mut due = decided_ns.saturating_add(self.cfg.cancel_latency_ns);
                for p in &self.pending {
                    if let Pending::Arrive { due: d, .. } = *p {
                        due = due.max(d);
                    }
                }
                let seq = self.seq();
                self.pending.push(Pending::CancelAll { due, seq });
            }
        }
        let now = self.clock;
        self.run_due(now, out);
        if self.ended {
            self.run_pending_cancels(out);
        }
    }

    /// The market data has ended (the end of a recording): no book comes after this. Cancels
    /// and cancel-alls need none: the ones pending now, and any sent later, take effect at their
    /// own due time (the clock moves there without market data); arrivals wait, as on an
    /// unsynced book (a cancel reaching one cancels it).
    pub fn end_of_market_data(&mut self, out: &mut impl FnMut(ExecReport)) {
        self.ended = true;
        self.book_ok = false;
        self.run_pending_cancels(out);
    }

    /// Runs, in (due, submission) order, every pending command that needs no book.
    fn run_pending_cancels(&mut self, out: &mut impl FnMut(ExecReport)) {
        // Each round runs at least the earliest such command: bounded by the pending list.
        while let Some(due) = self.next_due() {
            self.advance_to(due, out);
        }
    }

    /// Due time of the earliest pending command that can take effect (an arrival cannot while
    /// the book is not trusted), if any.
    pub fn next_due(&self) -> Option<u64> {
        self.pending
            .iter()
            .filter(|p| self.book_ok || !matches!(p, Pending::Arrive { .. }))
            .map(|p| p.key().0)
            .min()
    }

    /// Moves the clock to `now_ns` (never backwards), running every command due by then.
    /// Market messages do this themselves; call it to let time pass without market data.
    pub fn advance_to(&mut self, now_ns: u64, out: &mut impl FnMut(ExecReport)) {
        let now = now_ns.max(self.clock);
        self.run_due(now, out);
        self.clock = now;
    }

    /// Resting orders in price-time priority (bids best first, then asks best first).
    pub fn open_orders(&self) -> &[OpenOrder] {
        &self.orders
    }

    /// Orders sent but not yet at the book.
    pub fn pending_orders(&self) -> usize {
        self.pending_arrivals
    }

    /// Ids of the orders sent but not yet at the book (on their way, or waiting for a synced
    /// book).
    pub fn pending_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.pending.iter().filter_map(|p| match *p {
            Pending::Arrive { id, .. } => Some(id),
            _ => None,
        })
    }

    /// The venue's view of our account since start: (position in lots, cash change in Money,
    /// fees included).
    pub fn balance(&self) -> (i64, Money) {
        (self.position, self.cash)
    }

    /// Event time: the latest market message's `recv_ns`.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// The venue's copy of one side of the book from the touch down (consumed by our taking
    /// fills until the next update).
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.book.levels(side)
    }

    /// The venue's copy of the book.
    pub fn mirror(&self) -> &Mirror {
        &self.book
    }

    pub fn counters(&self) -> PaperCounters {
        self.counters
    }

    pub fn config(&self) -> PaperConfig {
        self.cfg
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn is_known(&self, id: u64) -> bool {
        self.orders.iter().any(|o| o.id == id)
            || self
                .pending
                .iter()
                .any(|p| matches!(*p, Pending::Arrive { id: pid, .. } if pid == id))
    }

    /// Runs due commands in (due, submission) order.
    fn run_due(&mut self, now: u64, out: &mut impl FnMut(ExecReport)) {
        loop {
            let mut best: Option<(usize, (u64, u64))> = None;
            for (i, p) in self.pending.iter().enumerate() {
                let k = p.key();
                // An order does not meet a book we cannot trust: it waits in `pending`.
                let waits = !self.book_ok && matches!(p, Pending::Arrive { .. });
                if k.0 <= now && !waits && best.is_none_or(|(_, bk)| k < bk) {
                    best = Some((i, k));
                }
            }
            let Some((i, _)) = best else { break };
            let p = self.pending.swap_remove(i);
            match p {
                Pending::Arrive {
                    due,
                    seq,
                    id,
                    side,
                    px,
                    qty,
                    tif,
                } => {
                    self.pending_arrivals -= 1;
                    self.arrive(due, seq, id, side, px, qty, tif, out);
                }
                Pending::Cancel { due, id, .. } => {
                    if let Some(qty) = self.drop_waiting(|pid, _| pid == id) {
                        self.counters.cancelled += 1;
                        out(ExecReport {
                            id,
                            ts_ns: due,
                            kind: ExecKind::Cancelled { leaves: qty },
                        });
                        continue;
                    }
                    match self.orders.iter().position(|o| o.id == id) {
                        Some(j) => {
                            let o = self.orders.remove(j);
                            self.counters.cancelled += 1;
                            out(ExecReport {
                                id,
                                ts_ns: due,
                                kind: ExecKind::Cancelled { leaves: o.leaves },
                            });
                        }
                        None => {
                            self.counters.cancel_rejected += 1;
                            out(ExecReport {
                                id,
                                ts_ns: due,
                                kind: ExecKind::CancelRejected {
                                    reason: RejectReason::UnknownOrder,
                                },
                            });
                        }
                    }
                }
                Pending::CancelAll { due, seq } => self.cancel_all_before(seq, due, out),
            }
        }
    }

    /// Removes the first order that waits for a synced book and matches `(id, seq)`; returns
    /// its size.
    fn drop_waiting(&mut self, matches: impl Fn(u64, u64) -> bool) -> Option<i64> {
        let i = self.pending.iter().position(|p| {
            matches!(*p, Pending::Arrive { id, seq, due, .. } if due <= self.clock && matches(id, seq))
        })?;
        let Pending::Arrive { qty, .. } = self.pending.remove(i) else {
            unreachable!("position() matched an arrival")
        };
        self.pending_arrivals -= 1;
        Some(qty)
    }

    /// Runs the arrivals that waited for a synced book, at the book's time, in (due, submission)
    /// order.
    fn run_waiting(&mut self, out: &mut impl FnMut(ExecReport)) {
        let ts = self.clock;
        loop {
            let mut best: Option<(usize, (u64, u64))> = None;
            for (i, p) in self.pending.iter().enumerate() {
                let k = p.key();
                if matches!(p, Pending::Arrive { .. })
                    && k.0 <= ts
                    && best.is_none_or(|(_, bk)| k < bk)
                {
                    best = Some((i, k));
                }
            }
            let Some((i, _)) = best else { break };
            let Pending::Arrive {
                seq,
                id,
                side,
                px,
                qty,
                tif,
                ..
            } = self.pending.remove(i)
            else {
                unreachable!("selected an arrival")
            };
            self.pending_arrivals -= 1;
            self.arrive(ts, seq, id, side, px, qty, tif, out);
        }
    }

    /// Cancels every order submitted before `seq`: resting ones and those waiting for a synced
    /// book.
    fn cancel_all_before(&mut self, seq: u64, ts: u64, out: &mut impl FnMut(ExecReport)) {
        while let Some(i) = self
            .pending
            .iter()
            .position(|p| matches!(*p, Pending::Arrive { seq: s, due, .. } if s < seq && due <= ts))
        {
            let Pending::Arrive { id, qty, .. } = self.pending.remove(i) else {
                unreachable!("position() matched an arrival")
            };
            self.pending_arrivals -= 1;
            self.counters.cancelled += 1;
            out(ExecReport {
                id,
                ts_ns: ts,
                kind: ExecKind::Cancelled { leaves: qty },
            });
        }
        let mut j = 0;
        while j < self.orders.len() {
            if self.orders[j].seq < seq {
                let o = self.orders.remove(j);
                self.counters.cancelled += 1;
                out(ExecReport {
                    id: o.id,
                    ts_ns: ts,
                    kind: ExecKind::Cancelled { leaves: o.leaves },
                });
            } else {
                j += 1;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn arrive(
        &mut self,
        ts: u64,
        seq: u64,
        id: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        tif: Tif,
        out: &mut impl FnMut(ExecReport),
    ) {
        let first_taken = self
            .book
            .best(book_side(side.opposite()))
            .map_or(NO_PRICE, |l| l.0);
        let crosses = first_taken != NO_PRICE
            && match side {
                OrderSide::Buy => px >= first_taken,
                OrderSide::Sell => px <= first_taken,
            };
        if crosses && tif == Tif::PostOnly {
            self.counters.rejected += 1;
            out(ExecReport {
                id,
                ts_ns: ts,
                kind: ExecKind::Rejected {
                    reason: RejectReason::PostOnlyWouldCross,
                },
            });
            return;
        }
        self.counters.accepted += 1;
        out(ExecReport {
            id,
            ts_ns: ts,
            kind: ExecKind::Accepted,
        });
        let leaves = if crosses {
            self.take(ts, id, side, px, qty, out)
        } else {
            qty
        };
        if leaves == 0 {
            return;
        }
        if tif == Tif::Ioc {
            self.counters.cancelled += 1;
            out(ExecReport {
                id,
                ts_ns: ts,
                kind: ExecKind::Cancelled { leaves },
            });
            return;
        }
        let mut o = OpenOrder {
            id,
            side,
            px,
            qty,
            leaves,
            ahead: AHEAD_UNKNOWN,
            tif,
            arrived_ns: ts,
            seq,
            through_px: if crosses { first_taken } else { px },
        };
        if let Some(v) = self.visible_at(side, px) {
            o.ahead = v + self.ours_ahead(&o);
        }
        let at = self.orders.partition_point(|x| x.rank() < o.rank());
        // Capacity: arrivals + resting never exceed max_open, so this never reallocates.
        self.orders.insert(at, o);
    }

    /// Takes liquidity from the book for an arriving crossing order, level by level as deep as
    /// its price and size reach; returns leaves.
    fn take(
        &mut self,
        ts: u64,
        id: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        out: &mut impl FnMut(ExecReport),
    ) -> i64 {
        let opp = book_side(side.opposite());
        let mut leaves = qty;
        let mut last = None;
        for (lp, lq) in self.book.levels(opp) {
            let reach = match side {
                OrderSide::Buy => lp <= px,
                OrderSide::Sell => lp >= px,
            };
            if leaves == 0 || !reach {
                break;
            }
            let f = leaves.min(lq);
            leaves -= f;
            last = Some((lp, f));
            let fee = fee(lp, f, self.cfg.taker_fee_cbps);
            self.position += side.sign() * f;
            self.cash -= side.sign() as i128 * lp as i128 * f as i128 * MONEY_PER_TICK_LOT + fee;
            self.counters.taker_fills += 1;
            out(ExecReport {
                id,
                ts_ns: ts,
                kind: ExecKind::Fill {
                    px: lp,
                    qty: f,
                    liquidity: Liquidity::Taker,
                    fee,
                    leaves,
                },
            });
        }
        if let Some((lp, f)) = last {
            self.book.consume(opp, lp, f);
        }
        leaves
    }

    /// Fills `qty` of resting order `i` at its price as maker; returns true if it was removed.
    fn fill_resting(
        &mut self,
        i: usize,
        ts: u64,
        qty: i64,
        out: &mut impl FnMut(ExecReport),
    ) -> bool {
        let o = &mut self.orders[i];
        o.leaves -= qty;
        let (id, side, px, leaves) = (o.id, o.side, o.px, o.leaves);
        let fee = fee(px, qty, self.cfg.maker_fee_cbps);
        self.position += side.sign() * qty;
        self.cash -= side.sign() as i128 * px as i128 * qty as i128 * MONEY_PER_TICK_LOT + fee;
        self.counters.maker_fills += 1;
        out(ExecReport {
            id,
            ts_ns: ts,
            kind: ExecKind::Fill {
                px,
                qty,
                liquidity: Liquidity::Maker,
                fee,
                leaves,
            },
        });
        if leaves == 0 {
            self.orders.remove(i);
            true
        } else {
            false
        }
    }

    /// Visible size at `px` on our order side of the book: `Some(0)` if the price improves the
    /// book or sits in a gap, `None` if it lies beyond the levels kept (a full side) or the book
    /// is not synced (or crossed), so the queue cannot be known.
    fn visible_at(&self, side: OrderSide, px: i64) -> Option<i64> {
        if !self.book_ok {
            return None;
        }
        self.book.visible_at(book_side(side), px)
    }

    /// Leaves of our own orders resting at `o`'s price and side, submitted before it.
    fn ours_ahead(&self, o: &OpenOrder) -> i64 {
        self.orders
            .iter()
            .filter(|x| x.side == o.side && x.px == o.px && x.seq < o.seq && x.id != o.id)
            .map(|x| x.leaves)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::ledger::Ledger;
    use crate::msg::{Depth, MONEY_PER_TICK_LOT};
    use proptest::prelude::*;

    const M: i128 = MONEY_PER_TICK_LOT;

    fn book_state(
        ns: u64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
        state: BookState,
    ) -> BookUpdate {
        let mut d = Depth::default();
        d.bids[..bids.len()].copy_from_slice(bids);
        d.asks[..asks.len()].copy_from_slice(asks);
        let (bp, bq) = d.bids[0];
        let (ap, aq) = d.asks[0];
        BookUpdate {
            recv_ns: ns,
            exch_ts_ms: ns / 1_000_000,
            book: 0,
            state,
            crossed: bp != NO_PRICE && ap != NO_PRICE && bp >= ap,
            bid_px: bp,
            bid_qty: bq,
            ask_px: ap,
            ask_qty: aq,
            obi_ppm: 0,
            micro_e6: 0,
            spread_ticks: 0,
            ofi_lots: 0,
            ofi_cum_lots: 0,
            depth: d,
            levels_n: 0,
        }
    }

    fn book(ns: u64, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> BookUpdate {
        book_state(ns, bids, asks, BookState::Synced)
    }

    fn trade(ns: u64, px: i64, qty: i64, aggressor: Side) -> TradePrint {
        TradePrint {
            recv_ns: ns,
            exch_ts_ms: ns / 1_000_000,
            book: 0,
            px,
            qty,
            aggressor,
        }
    }

    fn place(id: u64, side: OrderSide, px: i64, qty: i64, tif: Tif) -> OrderCmd {
        OrderCmd::Place {
            id,
            side,
            px,
            qty,
            tif,
            reduce_only: false,
        }
    }

    fn cfg(order: u64, cancel: u64) -> PaperConfig {
        PaperConfig {
            order_latency_ns: order,
            cancel_latency_ns: cancel,
            report_latency_ns: 0,
            maker_fee_cbps: -25,
            taker_fee_cbps: 550,
        }
    }

    type Out<'a> = &'a mut dyn FnMut(ExecReport);

    /// Runs `f` with a report collector and returns what it collected.
    fn rec(f: impl FnOnce(&mut Out)) -> Vec<ExecReport> {
        let mut v = Vec::new();
        let mut push = |r| v.push(r);
        let mut out: Out = &mut push;
        f(&mut out);
        v
    }

    fn fill(
        id: u64,
        ts: u64,
        px: i64,
        qty: i64,
        liq: Liquidity,
        rate: Cbps,
        leaves: i64,
    ) -> ExecReport {
        ExecReport {
            id,
            ts_ns: ts,
            kind: ExecKind::Fill {
                px,
                qty,
                liquidity: liq,
                fee: px as i128 * qty as i128 * rate as i128,
                leaves,
            },
        }
    }

    fn rep(id: u64, ts: u64, kind: ExecKind) -> ExecReport {
        ExecReport {
            id,
            ts_ns: ts,
            kind,
        }
    }

    #[test]
    fn order_arrives_after_latency_against_the_book_before_the_moving_message() {
        let mut x = PaperExchange::new(cfg(50, 10), 8);
        let r = rec(|o| {
            x.on_book(&book(100, &[(99, 5)], &[(101, 5)]), o);
            x.on_cmd(100, place(1, OrderSide::Buy, 101, 3, Tif::Ioc), o);
            x.on_book(&book(140, &[(99, 5)], &[(101, 5)]), o);
        });
        assert!(r.is_empty(), "not at the book before 150: {r:?}");
        let r = rec(|o| x.on_book(&book(160, &[(99, 5)], &[(105, 5)]), o));
        assert_eq!(
            r,
            vec![
                rep(1, 150, ExecKind::Accepted),
                fill(1, 150, 101, 3, Liquidity::Taker, 550, 0),
            ]
        );
        assert_eq!(x.balance(), (3, -(303 * M) - 303 * 550));

        // Same order, but the ask moved away before it arrived: nothing to take.
        let mut x = PaperExchange::new(cfg(50, 10), 8);
        let r = rec(|o| {
            x.on_book(&book(100, &[(99, 5)], &[(101, 5)]), o);
            x.on_cmd(100, place(1, OrderSide::Buy, 101, 3, Tif::Ioc), o);
            x.on_book(&book(149, &[(99, 5)], &[(105, 5)]), o);
            x.on_trade(&trade(150, 105, 1, Side::Bid), o);
        });
        assert_eq!(
            r,
            vec![
                rep(1, 150, ExecKind::Accepted),
                rep(1, 150, ExecKind::Cancelled { leaves: 3 }),
            ]
        );
    }

    #[test]
    fn zero_latency_arrives_at_once() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(100, &[(99, 5)], &[(101, 5)]), o);
            x.on_cmd(100, place(7, OrderSide::Sell, 99, 2, Tif::Gtc), o);
        });
        assert_eq!(
            r,
            vec![
                rep(7, 100, ExecKind::Accepted),
                fill(7, 100, 99, 2, Liquidity::Taker, 550, 0),
            ]
        );
    }

    #[test]
    fn crossing_order_walks_levels_and_consumes_the_copy() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(1, &[(99, 5)], &[(101, 3), (102, 4), (104, 5)]), o);
            x.on_cmd(1, place(1, OrderSide::Buy, 103, 10, Tif::Gtc), o);
            x.on_cmd(1, place(2, OrderSide::Buy, 102, 2, Tif::Ioc), o);
        });
        assert_eq!(
            r,
            vec![
                rep(1, 1, ExecKind::Accepted),
                fill(1, 1, 101, 3, Liquidity::Taker, 550, 7),
                fill(1, 1, 102, 4, Liquidity::Taker, 550, 3),
                rep(2, 1, ExecKind::Accepted),
                rep(2, 1, ExecKind::Cancelled { leaves: 2 }),
            ]
        );
        assert_eq!(x.levels(Side::Ask).collect::<Vec<_>>(), [(104, 5)]);
        let o = x.open_orders();
        assert_eq!(o.len(), 1);
        assert_eq!(
            (o[0].id, o[0].px, o[0].leaves, o[0].ahead()),
            (1, 103, 3, Some(0))
        );
        assert_eq!(x.balance(), (7, -(303 + 408) * M - (303 + 408) * 550));
    }

    #[test]
    fn post_only_rejects_when_crossing_and_records_queue_otherwise() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(1, &[(100, 7), (99, 2)], &[(101, 3)]), o);
            x.on_cmd(1, place(1, OrderSide::Buy, 101, 1, Tif::PostOnly), o);
            x.on_cmd(1, place(2, OrderSide::Buy, 100, 2, Tif::PostOnly), o);
            x.on_cmd(1, place(3, OrderSide::Sell, 102, 2, Tif::PostOnly), o);
        });
        assert_eq!(
            r,
            vec![
                rep(
                    1,
                    1,
                    ExecKind::Rejected {
                        reason: RejectReason::PostOnlyWouldCross
                    }
                ),
                rep(2, 1, ExecKind::Accepted),
                rep(3, 1, ExecKind::Accepted),
            ]
        );
        let o = x.open_orders();
        assert_eq!((o[0].id, o[0].ahead()), (2, Some(7)));
        // 102 is behind the best ask 101 but inside the visible side, which has no level there.
        assert_eq!((o[1].id, o[1].ahead()), (3, Some(0)));
    }

    #[test]
    fn queue_advances_only_on_trades_at_our_price() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let mut r = rec(|o| {
            x.on_book(&book(1, &[(100, 7)], &[(101, 3)]), o);
            x.on_cmd(1, place(1, OrderSide::Buy, 100, 2, Tif::Gtc), o);
            x.on_trade(&trade(2, 100, 5, Side::Ask), o);
            // The book shrinking in front of us does not move us up.
            x.on_book(&book(3, &[(100, 1)], &[(101, 3)]), o);
            // A buyer lifting at our price is not our fill.
            x.on_trade(&trade(4, 100, 9, Side::Bid), o);
        });
        assert_eq!(r.remove(0), rep(1, 1, ExecKind::Accepted));
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(x.open_orders()[0].ahead(), Some(2));
        let r = rec(|o| x.on_trade(&trade(5, 100, 3, Side::Ask), o));
        assert_eq!(r, vec![fill(1, 5, 100, 1, Liquidity::Maker, -25, 1)]);
        assert_eq!(x.open_orders()[0].ahead(), Some(0));
        let r = rec(|o| x.on_trade(&trade(6, 99, 5, Side::Ask), o));
        assert_eq!(r, vec![fill(1, 6, 100, 1, Liquidity::Maker, -25, 0)]);
        assert!(x.open_orders().is_empty());
        // Rebate: the maker fee is negative, so cash gains it.
        assert_eq!(x.balance(), (2, -200 * M + 200 * 25));
    }

    #[test]
    fn through_print_fills_at_most_its_size_in_priority() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(1, &[(100, 50), (99, 50)], &[(101, 3)]), o);
            x.on_cmd(1, place(1, OrderSide::Buy, 99, 5, Tif::Gtc), o);
            x.on_cmd(1, place(2, OrderSide::Buy, 100, 5, Tif::Gtc), o);
            x.on_cmd(1, place(3, OrderSide::Sell, 105, 5, Tif::Gtc), o);
            x.on_trade(&trade(2, 98, 7, Side::Ask), o);
        });
        // Best bid first: order 2 takes 5 of the print, order 1 the remaining 2.
        assert_eq!(
            &r[3..],
            &[
                fill(2, 2, 100, 5, Liquidity::Maker, -25, 0),
                fill(1, 2, 99, 2, Liquidity::Maker, -25, 3),
            ]
        );
        let o = x.open_orders();
        assert_eq!(o.len(), 2);
        assert_eq!((o[0].id, o[0].leaves), (1, 3));
        assert_eq!(o[1].id, 3);
    }

    #[test]
    fn our_orders_at_one_price_queue_behind_each_other() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(1, &[(99, 4)], &[(101, 4)]), o);
            x.on_cmd(1, place(1, OrderSide::Sell, 101, 3, Tif::Gtc), o);
            x.on_cmd(1, place(2, OrderSide::Sell, 101, 3, Tif::Gtc), o);
            x.on_trade(&trade(2, 101, 9, Side::Bid), o);
        });
        let o = x.open_orders();
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].id, o[0].leaves, o[0].ahead()), (2, 1, Some(0)));
        // 4 visible ahead, then 3 for order 1, then 2 for order 2: never more than the print.
        assert_eq!(
            &r[2..],
            &[
                fill(1, 2, 101, 3, Liquidity::Maker, -25, 0),
                fill(2, 2, 101, 2, Liquidity::Maker, -25, 1),
            ]
        );
    }

    #[test]
    fn book_through_our_price_fills_as_maker_only_when_synced() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(1, &[(100, 7)], &[(101, 3)]), o);
            x.on_cmd(1, place(1, OrderSide::Buy, 100, 4, Tif::Gtc), o);
            x.on_book(&book(2, &[(98, 1)], &[(100, 3)]), o); // equal: not through
            x.on_book(
                &book_state(3, &[(97, 1)], &[(99, 3)], BookState::Resyncing),
                o,
            );
            x.on_book(&book(4, &[(101, 1)], &[(99, 3)]), o); // crossed: ignored
        });
        assert_eq!(r, vec![rep(1, 1, ExecKind::Accepted)]);
        let r = rec(|o| x.on_book(&book(5, &[(97, 1)], &[(99, 3)]), o));
        assert_eq!(r, vec![fill(1, 5, 100, 4, Liquidity::Maker, -25, 0)]);
    }

    #[test]
    fn unknown_queue_beyond_visible_depth_is_learned_from_a_later_book() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let bids = [(100, 1), (99, 1), (98, 1), (97, 1), (96, 1)];
        let r = rec(|o| {
            x.on_book(&book(1, &bids, &[(101, 1)]), o);
            x.on_cmd(1, place(1, OrderSide::Buy, 90, 2, Tif::Gtc), o);
            x.on_trade(&trade(2, 90, 100, Side::Ask), o);
        });
        assert_eq!(
            r.len(),
            1,
            "unknown queue: a print at our price does not fill"
        );
        assert_eq!(x.open_orders()[0].ahead(), None);
        rec(|o| x.on_book(&book(3, &[(92, 1), (90, 4)], &[(93, 1)]), o));
        assert_eq!(x.open_orders()[0].ahead(), Some(4));
        let r = rec(|o| x.on_trade(&trade(4, 90, 5, Side::Ask), o));
        assert_eq!(r, vec![fill(1, 4, 90, 1, Liquidity::Maker, -25, 1)]);
    }

    #[test]
    fn queue_is_learned_from_the_first_synced_book() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        rec(|o| {
            x.on_book(&book_state(1, &[], &[], BookState::Resyncing), o);
            x.on_cmd(1, place(1, OrderSide::Buy, 100, 2, Tif::Gtc), o);
        });
        assert!(
            x.open_orders().is_empty(),
            "an empty resyncing book is not an empty queue: the order waits"
        );
        rec(|o| x.on_book(&book(2, &[(100, 6)], &[(101, 1)]), o));
        assert_eq!(x.open_orders()[0].ahead(), Some(6));
    }

    /// A gap keeps the old levels under `resyncing`: an order arriving then must not take them;
    /// it waits for the first synced book after its arrival and meets that book.
    #[test]
    fn arrivals_wait_for_a_synced_book_and_never_take_old_depth() {
        let mut x = PaperExchange::new(cfg(10, 10), 8);
        let r = rec(|o| {
            x.on_book(&book(0, &[(100, 5)], &[(101, 5)]), o);
            x.on_book(
                &book_state(5, &[(100, 5)], &[(101, 5)], BookState::Resyncing),
                o,
            );
            x.on_cmd(5, place(1, OrderSide::Sell, 100, 2, Tif::Ioc), o);
            x.on_cmd(6, place(2, OrderSide::Buy, 101, 2, Tif::Gtc), o);
            x.on_trade(&trade(30, 100, 1, Side::Ask), o);
            x.advance_to(40, o);
        });
        assert!(r.is_empty(), "nothing arrives on an unsynced book: {r:?}");
        assert_eq!(x.pending_orders(), 2);
        // The new snapshot: the market moved. The sell IOC at 100 finds no bid at 100 or better
        // (the bid is 97); the buy at 101 rests below the new ask 102.
        let r = rec(|o| x.on_book(&book(50, &[(97, 5)], &[(102, 5)]), o));
        assert_eq!(
            r,
            vec![
                rep(1, 50, ExecKind::Accepted),
                rep(1, 50, ExecKind::Cancelled { leaves: 2 }),
                rep(2, 50, ExecKind::Accepted),
            ]
        );
        assert_eq!(x.balance(), (0, 0));
        assert_eq!(x.open_orders()[0].ahead(), Some(0));
    }

    /// A crossed book (bid >= ask) is not traded on: a sell must not take bids above the ask.
    #[test]
    fn crossed_depth_is_never_taken() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(0, &[(105, 5)], &[(101, 5)]), o);
            x.on_cmd(0, place(1, OrderSide::Sell, 100, 2, Tif::Ioc), o);
        });
        assert!(r.is_empty(), "{r:?}");
        let r = rec(|o| x.on_book(&book(1, &[(100, 1)], &[(101, 5)]), o));
        assert_eq!(
            r,
            vec![
                rep(1, 1, ExecKind::Accepted),
                fill(1, 1, 100, 1, Liquidity::Taker, 550, 1),
                rep(1, 1, ExecKind::Cancelled { leaves: 1 }),
            ]
        );
    }

    /// A cancel reaching an order that waits for a synced book cancels it; so does a cancel-all.
    #[test]
    fn cancels_reach_orders_waiting_for_a_synced_book() {
        let mut x = PaperExchange::new(cfg(0, 5), 8);
        let r = rec(|o| {
            x.on_book(&book_state(0, &[], &[], BookState::Resyncing), o);
            x.on_cmd(0, place(1, OrderSide::Buy, 100, 2, Tif::Gtc), o);
            x.on_cmd(0, place(2, OrderSide::Buy, 99, 3, Tif::Gtc), o);
            x.on_cmd(1, OrderCmd::Cancel { id: 1 }, o);
            x.on_cmd(2, OrderCmd::CancelAll, o);
            x.on_cmd(3, place(3, OrderSide::Buy, 98, 1, Tif::Gtc), o);
            x.advance_to(10, o);
        });
        assert_eq!(
            r,
            vec![
                rep(1, 6, ExecKind::Cancelled { leaves: 2 }),
                rep(2, 7, ExecKind::Cancelled { leaves: 3 }),
            ]
        );
        assert_eq!(x.pending_orders(), 1);
        let r = rec(|o| x.on_book(&book(20, &[(98, 1)], &[(101, 1)]), o));
        assert_eq!(r, vec![rep(3, 20, ExecKind::Accepted)]);
    }

    /// A crossing buy that swept the asks up to its price and rested the rest: the next book
    /// still shows the asks it took (the market data does not know our fills). That liquidity
    /// was taken once, as taker; it must not fill the rest again as maker. Only liquidity that
    /// shows up after the rest rested (an ask below anything it swept, or prints) fills it.
    #[test]
    fn a_swept_remainder_is_a_maker_only_for_fills_after_it_rests() {
        let mut x = PaperExchange::new(cfg(0, 0), 8);
        let r = rec(|o| {
            x.on_book(&book(0, &[(99, 5)], &[(101, 2), (102, 2), (104, 9)]), o);
            x.on_cmd(0, place(1, OrderSide::Buy, 102, 5, Tif::Gtc), o);
        });
        assert_eq!(
            r,
            vec![
                rep(1, 0, ExecKind::Accepted),
                fill(1, 0, 101, 2, Liquidity::Taker, 550, 3),
                fill(1, 0, 102, 2, Liquidity::Taker, 550, 1),
            ]
        );
        let r = rec(|o| {
            x.on_book(&book(1, &[(99, 5)], &[(101, 2), (102, 2), (104, 9)]), o);
            x.on_book(&book(2, &[(99, 5)], &[(101, 1), (104, 9)]), o);
        });
        assert!(r.is_empty(), "the liquidity it took, seen again: {r:?}");
        assert_eq!(x.balance().0, 4);
        // New liquidity below everything it swept trades through it: a maker fill at its price.
        let r = rec(|o| x.on_book(&book(3, &[(99, 5)], &[(100, 1), (104, 9)]), o));
        assert_eq!(r, vec![fill(1, 3, 102, 1, Liquidity::Maker, -25, 0)]);
    }

    #[test]
    fn cancel_takes_effect_after_its_latency_and_fills_can_happen_in_between() {
        let mut x = PaperExchange::new(cfg(0, 30), 8);
        let r = rec(|o| {
            x.on_book(&book(10, &[(100, 0)], &[(101, 3)]), o);
            x.on_cmd(10, place(1, OrderSide::Buy, 100, 4, Tif::Gtc), o);
            x.on_cmd(20, OrderCmd::Cancel { id: 1 }, o);
            x.on_trade(&trade(30, 100, 1, Side::Ask), o);
            x.on_cmd(30, OrderCmd::Cancel { id: 99 }, o);
        });
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[1], fill(1, 30, 100, 1, Liquidity::Maker, -25, 3));
        let r = rec(|o| x.on_book(&book(60, &[(100, 1)], &[(101, 3)]), o));
        assert_eq!(
            r,
            vec![
                rep(1, 50, ExecKind::Cancelled { leaves: 3 }),
                rep(
                    99,
                    60,
                    ExecKind::CancelRejected {
                        reason: RejectReason::UnknownOrder
                    }
                ),
            ]
        );
        assert!(x.open_orders().is_empty());
    }

    #[test]
    fn cancel_of_a_filled_order_is_rejected() {
        let mut x = PaperExchange::new(cfg(0, 30), 8);
        let r = rec(|o| {
            x.on_book(&book(10, &[(100, 0)], &[(101, 3)]), o);
            x.on_cmd(10, place(1, OrderSide::Buy, 100, 1, Tif::Gtc), o);
            x.on_cmd(20, OrderCmd::Cancel { id: 1 }, o);
            x.on_trade(&trade(30, 99, 1, Side::Ask), o);
            x.advance_to(50, o);
        });
        assert_eq!(
            r[2..],
            [rep(
                1,
                50,
                ExecKind::CancelRejected {
                    reason: RejectReason::UnknownOrder
                }
            )]
        );
    }

    #[test]
    fn cancel_never_overtakes_its_order() {
        let mut x = PaperExchange::new(cfg(100, 10), 8);
        let r = rec(|o| {
            x.on_book(&book(0, &[(100, 1)], &[(101, 1)]), o);
            x.on_cmd(0, place(1, OrderSide::Buy, 100, 1, Tif::Gtc), o);
            x.on_cmd(1, OrderCmd::Cancel { id: 1 }, o);
            x.on_book(&book(200, &[(100, 1)], &[(101, 1)]), o);
        });
        assert_eq!(
            r,
            vec![
                rep(1, 100, ExecKind::Accepted),
                rep(1, 100, ExecKind::Cancelled { leaves: 1 }),
            ]
        );
    }

    #[test]
    fn cancel_all_cancels_what_was_sent_before_it() {
        let mut x = PaperExchange::new(cfg(10, 20), 8);
        let r = rec(|o| {
            x.on_book(&book(0, &[(100, 1)], &[(105, 1)]), o);
            x.on_cmd(0, place(1, OrderSide::Buy, 100, 1, Tif::Gtc), o);
            x.on_cmd(0, place(2, OrderSide::Sell, 104, 1, Tif::Gtc), o);
            x.on_cmd(5, OrderCmd::CancelAll, o);
            x.on_cmd(6, place(3, OrderSide::Sell, 104, 2, Tif::Gtc), o);
            x.advance_to(100, o);
        });
        let cancelled: Vec<u64> = r
            .iter()
            .filter(|r| matches!(r.kind, ExecKind::Cancelled { .. }))
            .map(|r| {
                assert_eq!(r.ts_ns, 25);
                r.id
            })
            .collect();
        assert_eq!(cancelled, vec![1, 2]);
        assert_eq!(x.open_orders().len(), 1);
        assert_eq!(x.open_orders()[0].id, 3);
    }

    #[test]
    fn limits_duplicates_and_invalid_orders_are_rejected() {
        let mut x = PaperExchange::new(cfg(10, 10), 2);
        let r = rec(|o| {
            x.on_book(&book(0, &[(100, 1)], &[(105, 1)]), o);
            x.on_cmd(0, place(1, OrderSide::Buy, 100, 1, Tif::Gtc), o);
            x.on_cmd(0, place(1, OrderSide::Buy, 99, 1, Tif::Gtc), o);
            x.on_cmd(0, place(2, OrderSide::Buy, 99, 0, Tif::Gtc), o);
            x.on_cmd(0, place(3, OrderSide::Buy, 99, 1, Tif::Gtc), o);
            x.on_cmd(0, place(4, OrderSide::Buy, 98, 1, Tif::Gtc), o);
        });
        let rej = |id, reason| rep(id, 0, ExecKind::Rejected { reason });
        assert_eq!(
            r,
            vec![
                rej(1, RejectReason::Invalid),
                rej(2, RejectReason::Invalid),
                rej(4, RejectReason::Venue),
            ]
        );
        assert_eq!(x.pending_orders(), 2);
        let r = rec(|o| x.on_trade(&trade(0, 100, 0, Side::Ask), o));
        assert!(r.is_empty());
        assert_eq!(x.counters().bad_market_data, 1);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Book(i64, i64, i64),
        Trade(i64, i64, bool),
        Place(bool, i64, i64, u8),
        Cancel(u64),
        CancelAll,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (95i64..105, 1i64..4, 0i64..20).prop_map(|(m, s, q)| Step::Book(m, s, q)),
            (93i64..107, 1i64..10, any::<bool>()).prop_map(|(p, q, b)| Step::Trade(p, q, b)),
            (any::<bool>(), 93i64..107, 1i64..10, 0u8..3)
                .prop_map(|(b, p, q, t)| Step::Place(b, p, q, t)),
            (0u64..40).prop_map(Step::Cancel),
            Just(Step::CancelAll),
        ]
    }

    proptest! {
        /// Over random markets and commands: the venue's balance equals our ledger fed with the
        /// fills, every fee is exact, no order fills beyond its size, and every accepted order
        /// ends at most once.
        #[test]
        fn balance_matches_ledger_and_orders_stay_consistent(
            steps in prop::collection::vec(step(), 1..150),
            lat in 0u64..3,
        ) {
            let c = cfg(lat * 7, lat * 3);
            let mut x = PaperExchange::new(c, 6);
            let mut ledger = Ledger::new(0);
            let mut orders: std::collections::HashMap<u64, (OrderSide, i64, i64, bool)> =
                Default::default();
            let mut reports = Vec::new();
            let mut next_id = 0u64;
            let mut t = 0u64;
            for s in steps {
                t += 5;
                let mut out = |r: ExecReport| reports.push(r);
                match s {
                    Step::Book(mid, spread, q) => {
                        let bids: Vec<(i64, i64)> = (0..5).map(|i| (mid - i, q + i)).collect();
                        let asks: Vec<(i64, i64)> =
                            (0..5).map(|i| (mid + spread + i, q + 2 * i)).collect();
                        x.on_book(&book(t, &bids, &asks), &mut out);
                    }
                    Step::Trade(p, q, buyer) => {
                        let a = if buyer { Side::Bid } else { Side::Ask };
                        x.on_trade(&trade(t, p, q, a), &mut out);
                    }
                    Step::Place(buy, px, qty, tif) => {
                        next_id += 1;
                        let side = if buy { OrderSide::Buy } else { OrderSide::Sell };
                        let tif = [Tif::Gtc, Tif::PostOnly, Tif::Ioc][tif as usize];
                        orders.insert(next_id, (side, qty, 0, false));
                        x.on_cmd(t, place(next_id, side, px, qty, tif), &mut out);
                    }
                    Step::Cancel(id) => x.on_cmd(t, OrderCmd::Cancel { id }, &mut out),
                    Step::CancelAll => x.on_cmd(t, OrderCmd::CancelAll, &mut out),
                }
            }
            let mut last_ts = 0;
            for r in &reports {
                prop_assert!(r.ts_ns >= last_ts, "reports in event-time order: {:?}", r);
                last_ts = r.ts_ns;
                let Some(o) = orders.get_mut(&r.id) else {
                    let cancel_reject = matches!(r.kind, ExecKind::CancelRejected { .. });
                    prop_assert!(cancel_reject, "report for an unknown id: {:?}", r);
                    continue;
                };
                match r.kind {
                    ExecKind::Fill { px, qty, liquidity, fee, leaves } => {
                        prop_assert!(!o.3, "fill after the order ended");
                        o.2 += qty;
                        prop_assert_eq!(leaves, o.1 - o.2);
                        let rate = match liquidity {
                            Liquidity::Maker => c.maker_fee_cbps,
                            Liquidity::Taker => c.taker_fee_cbps,
                        };
                        prop_assert_eq!(fee, px as i128 * qty as i128 * rate as i128);
                        ledger.on_fill(r.ts_ns, o.0, px, qty, fee);
                        if leaves == 0 {
                            o.3 = true;
                        }
                    }
                    ExecKind::Cancelled { leaves } => {
                        prop_assert!(!o.3, "cancel after the order ended");
                        prop_assert_eq!(leaves, o.1 - o.2);
                        o.3 = true;
                    }
                    ExecKind::Rejected { .. } => {
                        prop_assert!(!o.3);
                        o.3 = true;
                    }
                    ExecKind::Accepted | ExecKind::CancelRejected { .. } => {}
                }
            }
            prop_assert_eq!(x.balance(), (ledger.position(), ledger.cash()));
            for o in x.open_orders() {
                let s = orders[&o.id];
                prop_assert!(!s.3);
                prop_assert_eq!(o.leaves, s.1 - s.2);
            }
            let open: usize = x.open_orders().len() + x.pending_orders();
            prop_assert!(open <= 6);
        }
    }
}
