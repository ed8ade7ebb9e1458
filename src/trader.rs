//! The signal+risk stage's logic: strategy, ledger and risk engine around one traded book.
//!
//! [`Trader`] sees what the book stage publishes and what the order stage reports, and returns
//! [`ToOrder`] messages: the market data the paper exchange needs (forwarded before the commands
//! decided on it, so both stages see the same sequence) and the commands that passed the
//! pre-trade checks. Everything worth an audit line leaves as a [`TraderEvent`]. The threaded
//! signal stage and the single-thread replay call the same methods.

use crate::config::Config;
use crate::exec::{ClosedTrade, Ledger};
use crate::msg::{
    BookState, BookUpdate, ExecKind, ExecReport, MarketMsg, OrderCmd, OrderSide, RejectReason, Tif,
    ToOrder,
};
use crate::risk::{KillSource, RiskEngine, RiskEvent, RiskStatus};
use crate::strategy::{ExitReason, Gate, ObiScalper, SignalFire};
use arrayvec::ArrayVec;

/// Orders the trader tracks at once (one entry and one exit, with room for late cancels).
const MAX_WORKING: usize = 32;

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
    working: ArrayVec<(u64, OrderSide), MAX_WORKING>,
    pub counters: TraderCounters,
    last: Option<BookUpdate>,
    cancelled_all: bool,
    venue_balance: Option<(i64, crate::msg::Money)>,
}

impl Trader {
    pub fn new(cfg: &Config, book: u16) -> Trader {
        Trader {
            strategy: ObiScalper::new(cfg.strategy),
            ledger: Ledger::new(cfg.risk.initial_equity),
            risk: RiskEngine::new(cfg.risk.limits),
            book,
            working: ArrayVec::new(),
            counters: TraderCounters::default(),
            last: None,
            cancelled_all: false,
            venue_balance: None,
        }
    }

    /// The last book update of the traded book.
    pub fn last_book(&self) -> Option<&BookUpdate> {
        self.last.as_ref()
    }

    /// The venue's own view of position and cash change, for the wallet-drift check.
    pub fn set_venue_balance(&mut self, pos: i64, cash: crate::msg::Money) {
        self.venue_balance = Some((pos, cash));
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
        self.working.iter().find(|w| w.0 == id).map(|w| w.1)
    }

    fn forget(&mut self, id: u64) {
        if let Some(i) = self.working.iter().position(|w| w.0 == id) {
            self.working.swap_remove(i);
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
                        self.risk
                            .pre_trade(now_ns, side, px, qty, &self.ledger, reduce_only)
                    };
                    match check {
                        Ok(()) => {
                            self.working.push((id, side));
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
                    out(ToOrder::Trade(*t));
                }
            }
            MarketMsg::Book(u) => {
                if u.book != self.book {
                    return;
                }
                self.counters.updates += 1;
                self.last = Some(*u);
                out(ToOrder::Book(*u));
                let now = u.recv_ns;
                if let Some(mark) = self.mark_px() {
                    self.ledger.mark(mark);
                    let bal = self.venue_balance;
                    self.risk.evaluate(now, &self.ledger, mark, bal, &mut |e| {
                        ev(TraderEvent::Risk(e))
                    });
                }
                let status = self.risk.status();
                if (status == RiskStatus::Abort || cond.stopping) && !self.cancelled_all {
                    self.cancelled_all = true;
                    self.dispatch(u.recv_ns, now, &[OrderCmd::CancelAll], out, ev);
                }
                let gate = Gate {
                    feed_active: cond.feed_active,
                    may_open: status == RiskStatus::Ok && !cond.degraded && !cond.stopping,
                    flatten: self.risk.should_flatten(),
                    flatten_unsynced: crate::strategy::FlattenPolicy::Wait,
                };
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

    /// An execution report from the order stage.
    pub fn on_exec(
        &mut self,
        r: &ExecReport,
        out: &mut impl FnMut(ToOrder),
        ev: &mut impl FnMut(TraderEvent),
    ) {
        let side = self.side_of(r.id).unwrap_or(OrderSide::Buy);
        ev(TraderEvent::Exec { report: *r, side });
        match r.kind {
            ExecKind::Fill {
                px,
                qty,
                fee,
                leaves,
                ..
            } => {
                self.counters.fills += 1;
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
        self.dispatch(recv, r.ts_ns, &cmds, out, ev);
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
