//! The signal+risk stage's logic: strategy, ledger and risk engine around one traded book.
//!
//! [`Trader`] sees what the book stage publishes and what the order stage reports, and returns
//! [`ToOrder`] messages: the market data the paper exchange needs (forwarded before the commands
//! decided on it, so both stages see the same sequence) and the commands that passed the
//! pre-trade checks. Everything worth an audit line leaves as a [`TraderEvent`]. The threaded
//! signal stage and the single-thread replay call the same methods.
//!
//! Reports travel back with latency too: in paper mode a report stamped `ts_ns` reaches the
//! ledger, risk and strategy at `ts_ns + paper.report_latency_ms` of event time, when a market
//! message (or [`Trader::advance_to`]) brings the clock there, before that message is decided
//! on. Risk is re-evaluated after every fill. Pre-trade checks count the lots of our working
//! orders. A report for an order id we never sent (or already saw end) is never booked: it is
//! a [`TraderEvent::UnknownReport`] and degrades risk until restart.

use crate::config::Config;
use crate::exec::{ClosedTrade, Ledger};
use crate::msg::{
    BookState, BookUpdate, ExecKind, ExecReport, MarketMsg, OrderCmd, OrderSide, RejectReason, Tif,
    ToOrder,
};
use crate::risk::{KillSource, RiskEngine, RiskEvent, RiskStatus, WorkingLots};
use crate::strategy::{ExitReason, FlattenPolicy, Gate, ObiScalper, SignalFire};
use arrayvec::ArrayVec;

/// Orders the trader tracks at once (one entry and one exit, with room for late cancels).
const MAX_WORKING: usize = 32;

/// Reports on their way back (report latency) at once; beyond this they are delivered early
/// (counted in [`TraderCounters::reports_early`]).
const MAX_IN_FLIGHT: usize = 256;

/// One of our orders that was sent and has not ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Working {
    id: u64,
    side: OrderSide,
    /// Lots still open.
    leaves: i64,
}

/// What the cold path logs and writes: signals, orders, executions, trades, risk changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraderEvent {
    Signal(SignalFire),
    Order {
        ts_ns: u64,
        recv_ns: u64,
        id: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        tif: Tif,
        reduce_only: bool,
    },
    Cancel {
        ts_ns: u64,
        id: u64,
    },
    CancelAll {
        ts_ns: u64,
    },
    /// Refused by our own pre-trade checks; never left the process.
    PreTradeReject {
        ts_ns: u64,
        id: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        reason: RejectReason,
    },
    Exec {
        report: ExecReport,
        side: OrderSide,
    },
    Closed {
        trade: ClosedTrade,
        exit: Option<ExitReason>,
    },
    Risk(RiskEvent),
    /// A report for an order id we never sent (or already saw end): not booked, risk degraded.
    UnknownReport {
        report: ExecReport,
    },
}

/// Counters for the cold path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraderCounters {
    pub updates: u64,
    pub signals: u64,
    pub orders: u64,
    pub cancels: u64,
    pub fills: u64,
    pub rejects: u64,
    pub pre_trade_rejects: u64,
    pub trades: u64,
    pub wins: u64,
    /// Reports for order ids we never sent (or already saw end); never booked.
    pub unknown_reports: u64,
    /// Reports delivered before their report latency had passed (the in-flight queue was full).
    pub reports_early: u64,
}

/// Inputs from outside the market data: the feed's health and the process's intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditions {
    pub feed_active: bool,
    /// The pipeline is degraded (ring overflow): no new positions.
    pub degraded: bool,
    /// Shutting down: no new positions, cancel what rests.
    pub stopping: bool,
}

impl Conditions {
    pub const NORMAL: Conditions = Conditions {
        feed_active: true,
        degraded: false,
        stopping: false,
    };
}

/// The signal+risk stage's state.
#[derive(Debug)]
pub struct Trader {
    pub strategy: ObiScalper,
    pub ledger: Ledger,
    pub risk: RiskEngine,
    /// Index of the traded book among the feed's books.
    pub book: u16,
    working: ArrayVec<Working, MAX_WORKING>,
    pub counters: TraderCounters,
    last: Option<BookUpdate>,
    cancelled_all: bool,
    venue_balance: Option<(i64, crate::msg::Money)>,
    flatten_unsynced: FlattenPolicy,
    /// Event time: the latest market message (or `advance_to`).
    clock: u64,
    report_latency_ns: u64,
    /// Reports on their way back: (due, report), in arrival order.
    in_flight: ArrayVec<(u64, ExecReport), MAX_IN_FLIGHT>,
    /// A position adopted at start-up (lots, entry ticks) the strategy takes at the first book.
    adopt_pending: Option<(i64, i64)>,
}

impl Trader {
    pub fn new(cfg: &Config, book: u16) -> Trader {
        let mut t = Trader {
            strategy: ObiScalper::new(cfg.strategy),
            ledger: Ledger::new(cfg.risk.initial_equity),
            risk: {
                let mut r = RiskEngine::new(cfg.risk.limits);
                if let Some(c) = &cfg.risk.carry {
                    r.restore(c, cfg.risk.initial_equity);
                }
                r
            },
            book,
            working: ArrayVec::new(),
            counters: TraderCounters::default(),
            last: None,
            cancelled_all: false,
            venue_balance: None,
            flatten_unsynced: cfg.risk.flatten_when_unsynced,
            clock: 0,
            report_latency_ns: match cfg.mode {
                crate::config::Mode::Paper => cfg.paper.report_latency_ns,
                // Real reports carry their real latency.
                _ => 0,
            },
            in_flight: ArrayVec::new(),
            adopt_pending: None,
        };
        // Live: what start-up reconciliation adopted from the venue (position at its entry
        // price, our leftover orders still working).
        if let Some(a) = &cfg.live.adopted {
            t.ledger.adopt(0, a.position, a.basis);
            if a.position != 0 {
                // The strategy's inventory from the first book (its hold clock starts then).
                let per_lot = a.position as i128 * crate::msg::MONEY_PER_TICK_LOT;
                let px = (2 * a.basis + per_lot) / (2 * per_lot);
                t.adopt_pending = Some((a.position, px as i64));
            }
            if cfg.risk.carry.is_some() && a.position != 0 {
                t.risk.adopted_position_in_carry();
            }
            for o in &a.orders {
                let _ = t.working.try_push(Working {
                    id: o.id,
                    side: o.side,
                    leaves: o.qty - o.filled,
                });
            }
        }
        t
    }

    /// The last book update of the traded book.
    pub fn last_book(&self) -> Option<&BookUpdate> {
        self.last.as_ref()
    }

    /// The venue's own view of position and cash change, for the wallet-drift check. Ignored
    /// while reports are on their way back: the venue is ahead of us then, not drifted.
    pub fn set_venue_balance(&mut self, pos: i64, cash: crate::msg::Money) {
        self.venue_balance = self.in_flight.is_empty().then_some((pos, cash));
    }

    /// Reports sent by the venue that have not reached us yet (report latency).
    pub fn reports_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Event time: the latest market message's receive time (or [`Trader::advance_to`]'s).
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Event time at which the next report on its way back reaches us, if any.
    pub fn next_report_due(&self) -> Option<u64> {
        self.in_flight.first().map(|&(due, _)| due)
    }

    /// Lots our working orders could still trade, by side.
    pub fn working_lots(&self) -> WorkingLots {
        let mut w = WorkingLots::NONE;
        for o in &self.working {
            match o.side {
                OrderSide::Buy => w.buy += o.leaves,
                OrderSide::Sell => w.sell += o.leaves,
            }
        }
        w
    }

    /// Ids of our orders that were sent and have not ended, as far as we know.
    pub fn working_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.working.iter().map(|w| w.id)
    }

    /// Mark price: what the position could be closed at (bid for a long, ask for a short, mid flat).
    pub fn mark_px(&self) -> Option<i64> {
        let u = self.last.as_ref()?;
        if !u.has_two_sides() {
            return None;
        }
        let pos = self.ledger.position();
        Some(if pos > 0 {
            u.bid_px
        } else if pos < 0 {
            u.ask_px
        } else {
            (u.bid_px + u.ask_px) / 2
        })
    }

    fn side_of(&self, id: u64) -> Option<OrderSide> {
        self.working.iter().find(|w| w.id == id).map(|w| w.side)
    }

    fn forget(&mut self, id: u64) {
        if let Some(i) = self.working.iter().position(|w| w.id == id) {
            self.working.swap_remove(i);
        }
    }

    fn set_leaves(&mut self, id: u64, leaves: i64) {
        if let Some(w) = self.working.iter_mut().find(|w| w.id == id) {
            w.leaves = leaves;
        }
    }

    fn gate(&self, cond: Conditions) -> Gate {
        let status = self.risk.status();
        Gate {
            feed_active: cond.feed_active,
            may_open: status == RiskStatus::Ok && !cond.degraded && !cond.stopping,
            flatten: self.risk.should_flatten(),
            flatten_unsynced: self.flatten_unsynced,
        }
    }

    /// Marks the position and re-evaluates risk at `now`; on abort (or stopping) cancels all
    /// once. `with_venue`: the venue balance set before this market message is current (not
    /// after a fill, which the venue's copy taken before it does not show).
    fn check_risk(
        &mut self,
        now: u64,
        recv_ns: u64,
        stopping: bool,
        with_venue: bool,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        if let Some(mark) = self.mark_px() {
            self.ledger.mark(mark);
            let bal = if with_venue { self.venue_balance } else { None };
            self.risk.evaluate(now, &self.ledger, mark, bal, &mut |e| {
                ev(TraderEvent::Risk(e))
            });
        }
        if (self.risk.status() == RiskStatus::Abort || stopping) && !self.cancelled_all {
            self.cancelled_all = true;
            self.dispatch(recv_ns, now, &[OrderCmd::CancelAll], out, ev);
        }
    }

    /// Lets event time pass without market data: delivers the reports due by `now_ns`.
    pub fn advance_to(
        &mut self,
        now_ns: u64,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        self.clock = self.clock.max(now_ns);
        while let Some(&(due, r)) = self.in_flight.first() {
            if due > self.clock {
                break;
            }
            self.in_flight.remove(0);
            self.deliver(&r, out, ev);
        }
    }

    /// Sends strategy commands through the pre-trade checks. Refusals go back to the strategy.
    fn dispatch(
        &mut self,
        recv_ns: u64,
        now_ns: u64,
        cmds: &[OrderCmd],
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        for &cmd in cmds {
            match cmd {
                OrderCmd::Place {
                    id,
                    side,
                    px,
                    qty,
                    tif,
                    reduce_only,
                } => {
                    let check = if self.working.is_full() {
                        Err(RejectReason::Risk)
                    } else {
                        let working = self.working_lots();
                        self.risk.pre_trade(
                            now_ns,
                            side,
                            px,
                            qty,
                            &self.ledger,
                            working,
                            reduce_only,
                        )
                    };
                    match check {
                        Ok(()) => {
                            self.working.push(Working {
                                id,
                                side,
                                leaves: qty,
                            });
                            self.counters.orders += 1;
                            ev(TraderEvent::Order {
                                ts_ns: now_ns,
                                recv_ns,
                                id,
                                side,
                                px,
                                qty,
                                tif,
                                reduce_only,
                            });
                            out(ToOrder::Cmd {
                                recv_ns,
                                decided_ns: now_ns,
                                cmd,
                            });
                        }
                        Err(reason) => {
                            self.counters.pre_trade_rejects += 1;
                            ev(TraderEvent::PreTradeReject {
                                ts_ns: now_ns,
                                id,
                                side,
                                px,
                                qty,
                                reason,
                            });
                            let r = ExecReport {
                                id,
                                ts_ns: now_ns,
                                kind: ExecKind::Rejected { reason },
                            };
                            // The strategy learns at once; nothing was sent.
                            self.strategy.on_exec(&r, &mut |_| {});
                        }
                    }
                }
                OrderCmd::Cancel { id } => {
                    self.counters.cancels += 1;
                    ev(TraderEvent::Cancel { ts_ns: now_ns, id });
                    out(ToOrder::Cmd {
                        recv_ns,
                        decided_ns: now_ns,
                        cmd,
                    });
                }
                OrderCmd::CancelAll => {
                    self.counters.cancels += 1;
                    ev(TraderEvent::CancelAll { ts_ns: now_ns });
                    out(ToOrder::Cmd {
                        recv_ns,
                        decided_ns: now_ns,
                        cmd,
                    });
                }
            }
        }
    }

    /// A message from the book stage. Market data of the traded book is forwarded to the order
    /// stage first, then the commands decided on it.
    #[inline]
    pub fn on_market(
        &mut self,
        msg: &MarketMsg,
        cond: Conditions,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        match msg {
            MarketMsg::Trade(t) => {
                if t.book == self.book {
                    self.advance_to(t.recv_ns, out, ev);
                    out(ToOrder::Trade(*t));
                }
            }
            MarketMsg::Book(u) => {
                if u.book != self.book {
                    return;
                }
                // Reports that reached us by now come first: this update is decided on them.
                self.advance_to(u.recv_ns, out, ev);
                self.counters.updates += 1;
                self.last = Some(*u);
                out(ToOrder::Book(*u));
                let now = u.recv_ns;
                if let Some((pos, px)) = self.adopt_pending.take() {
                    self.strategy.adopt(pos, px, now);
                }
                self.check_risk(now, u.recv_ns, cond.stopping, true, out, ev);
                let gate = self.gate(cond);
                let mut cmds: ArrayVec<OrderCmd, 4> = ArrayVec::new();
                let fire = self.strategy.on_book(u, gate, &mut |c| {
                    let _ = cmds.try_push(c);
                });
                if let Some(f) = fire {
                    self.counters.signals += 1;
                    ev(TraderEvent::Signal(f));
                }
                self.dispatch(u.recv_ns, now, &cmds, out, ev);
            }
        }
    }

    /// An execution report from the order stage. In paper mode with a report latency it waits
    /// until event time reaches `ts_ns + report_latency` (delivered at once when that time has
    /// passed already).
    pub fn on_exec(
        &mut self,
        r: &ExecReport,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        let due = r.ts_ns.saturating_add(self.report_latency_ns);
        if self.report_latency_ns == 0 || (due <= self.clock && self.in_flight.is_empty()) {
            self.deliver(r, out, ev);
            return;
        }
        if self.in_flight.is_full() {
            // Keep the order of reports: the oldest goes first, early.
            let (_, first) = self.in_flight.remove(0);
            self.counters.reports_early += 1;
            self.deliver(&first, out, ev);
        }
        // Reports of one venue come in order: keep that order (a later stamp is never due first).
        let due = due.max(self.in_flight.last().map_or(0, |l| l.0));
        self.in_flight.push((due, *r));
        let now = self.clock;
        self.advance_to(now, out, ev);
    }

    /// A report reaching the ledger, risk and strategy.
    fn deliver(
        &mut self,
        r: &ExecReport,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        let Some(side) = self.side_of(r.id) else {
            // A cancel that found its order already gone is normal; anything else for an id we
            // are not tracking means our books and the venue's disagree.
            if !matches!(r.kind, ExecKind::CancelRejected { .. }) {
                self.counters.unknown_reports += 1;
                ev(TraderEvent::UnknownReport { report: *r });
                self.risk
                    .unknown_report(r.ts_ns, &mut |e| ev(TraderEvent::Risk(e)));
            } else {
                ev(TraderEvent::Exec {
                    report: *r,
                    side: OrderSide::Buy,
                });
                self.risk.on_exec(r, &mut |e| ev(TraderEvent::Risk(e)));
            }
            return;
        };
        ev(TraderEvent::Exec { report: *r, side });
        let mut filled = false;
        match r.kind {
            ExecKind::Fill {
                px,
                qty,
                fee,
                leaves,
                ..
            } => {
                self.counters.fills += 1;
                filled = true;
                if let Some(t) = self.ledger.on_fill(r.ts_ns, side, px, qty, fee) {
                    self.counters.trades += 1;
                    if t.net_pnl > 0 {
                        self.counters.wins += 1;
                    }
                    ev(TraderEvent::Closed {
                        trade: t,
                        exit: self.strategy.last_exit,
                    });
                }
                if leaves == 0 {
                    self.forget(r.id);
                } else {
                    self.set_leaves(r.id, leaves);
                }
            }
            ExecKind::Cancelled { .. } | ExecKind::Rejected { .. } => {
                if matches!(r.kind, ExecKind::Rejected { .. }) {
                    self.counters.rejects += 1;
                }
                self.forget(r.id);
            }
            _ => {}
        }
        self.risk.on_exec(r, &mut |e| ev(TraderEvent::Risk(e)));
        let mut cmds: ArrayVec<OrderCmd, 4> = ArrayVec::new();
        self.strategy.on_exec(r, &mut |c| {
            let _ = cmds.try_push(c);
        });
        let recv = self.last.map(|u| u.recv_ns).unwrap_or(r.ts_ns);
        let now = r.ts_ns.max(self.clock);
        self.dispatch(recv, now, &cmds, out, ev);
        if filled {
            // A fill changes the position: risk is evaluated now, not at the next update, and
            // an abort's flatten goes out on the last book.
            self.check_risk(now, recv, false, false, out, ev);
            self.flatten_if_asked(now, recv, out, ev);
        }
    }

    /// If risk wants the position flat, lets the strategy act on the last book now.
    fn flatten_if_asked(
        &mut self,
        now: u64,
        recv: u64,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        if !self.risk.should_flatten() {
            return;
        }
        let Some(u) = self.last else { return };
        let gate = self.gate(Conditions::NORMAL);
        let mut cmds: ArrayVec<OrderCmd, 4> = ArrayVec::new();
        self.strategy.flatten_now(&u, gate, &mut |c| {
            let _ = cmds.try_push(c);
        });
        self.dispatch(recv, now, &cmds, out, ev);
    }

    /// The kill switch: abort (cancel all, flatten if configured) from now on.
    pub fn kill(
        &mut self,
        now_ns: u64,
        source: KillSource,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        self.risk
            .kill(now_ns, source, &mut |e| ev(TraderEvent::Risk(e)));
        self.cancel_all(now_ns, out, ev);
        // Flatten now on the last book (under the unsynced-book policy), not at the next update:
        // a stalled feed may send none.
        let recv = self.last.map(|u| u.recv_ns).unwrap_or(now_ns);
        self.flatten_if_asked(now_ns, recv, out, ev);
    }

    /// The wallet drift reconciliation measured: risk re-evaluated now (`max_wallet_drift`),
    /// not at the next book update, which a slow venue sends seldom (GMO Coin: 2 a second).
    pub fn wallet_drift(
        &mut self,
        now_ns: u64,
        drift: crate::msg::Money,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        self.risk.set_wallet_drift(drift);
        let recv = self.last.map(|u| u.recv_ns).unwrap_or(now_ns);
        self.check_risk(now_ns, recv, false, false, out, ev);
    }

    /// Cancels every resting order now (once), without waiting for the next book update: the
    /// first step of a shutdown. New positions are kept out by `Conditions::stopping`.
    pub fn cancel_all(
        &mut self,
        now_ns: u64,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        if !self.cancelled_all {
            self.cancelled_all = true;
            let recv = self.last.map(|u| u.recv_ns).unwrap_or(now_ns);
            self.dispatch(recv, now_ns, &[OrderCmd::CancelAll], out, ev);
        }
    }

    /// Whether the traded book is synced now.
    pub fn book_synced(&self) -> bool {
        self.last
            .map(|u| u.state == BookState::Synced)
            .unwrap_or(false)
    }
}
