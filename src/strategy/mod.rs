//! The OBI scalper: the Go bot's strategy, decided on every book update instead of a 500 ms timer.
//!
//! - Signal: long when OBI(N) >= `long_threshold`, short when OBI(N) <= -`short_threshold`; it must
//!   hold for `hold_ms` of event time, or fires at once beyond threshold x `instant_factor`.
//! - Entry: a limit order at best ask + `entry_offset` (buy) or best bid - `entry_offset` (sell),
//!   only from a synced, uncrossed book of an active feed with the spread <= `max_spread` ticks,
//!   when flat, past the cooldown and allowed by risk; cancelled after `entry_timeout_ms`.
//! - Exit: take-profit and stop-loss in ticks against the touch, and `max_hold_ms`, with a
//!   reduce-only IOC at the opposite best, decided on synced, uncrossed books only; enforced the
//!   same way in paper and live. A risk flatten on an untrusted book follows [`FlattenPolicy`].
//! - Position: every fill of our entry (including the rest of a partly filled entry that fills
//!   before its cancel lands, even after an exit closed the first part) and exit counts; an exit
//!   ends with its last fill, its cancel or its reject, and the next update decides again.
//!
//! The strategy is pure event-time logic: it sees [`BookUpdate`]s and [`ExecReport`]s and returns
//! [`OrderCmd`]s; the same struct runs in the threaded pipeline and in the replay.

use crate::config::StrategyConfig;
use crate::msg::{
    BookState, BookUpdate, ExecKind, ExecReport, OrderCmd, OrderSide, RejectReason, Tif, NO_PRICE,
    SIGNAL_SCALE,
};

/// Direction of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    Long,
    Short,
}

impl Dir {
    pub const fn as_str(self) -> &'static str {
        match self {
            Dir::Long => "long",
            Dir::Short => "short",
        }
    }
    pub const fn entry_side(self) -> OrderSide {
        match self {
            Dir::Long => OrderSide::Buy,
            Dir::Short => OrderSide::Sell,
        }
    }
}

/// A signal that fired (the moment a held or instant signal becomes actionable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalFire {
    pub recv_ns: u64,
    pub dir: Dir,
    pub obi_ppm: i64,
    /// True when it fired through `instant_factor` rather than by holding.
    pub instant: bool,
}

/// Why an exit was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitReason {
    TakeProfit,
    StopLoss,
    MaxHold,
    /// Risk asked to flatten (abort with `flatten_on_abort`, or shutdown).
    Flatten,
}

impl ExitReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            ExitReason::TakeProfit => "take_profit",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::MaxHold => "max_hold",
            ExitReason::Flatten => "flatten",
        }
    }
}

/// Where the strategy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Flat,
    /// An entry order is working.
    Entering {
        id: u64,
        dir: Dir,
        placed_ns: u64,
        cancel_sent: bool,
    },
    /// A position is open (`qty` lots, positive), possibly with an exit order working.
    Open {
        dir: Dir,
        qty: i64,
        entry_px: i64,
        opened_ns: u64,
        exit_id: Option<u64>,
    },
}

/// What the market looks like to the strategy besides the book: is trading allowed at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// The feed is active (connected, not degraded).
    pub feed_active: bool,
    /// Risk allows opening positions (status ok).
    pub may_open: bool,
    /// Risk wants the position closed now (abort with flatten, shutdown).
    pub flatten: bool,
    /// What a flatten does on a book that is not synced (or crossed).
    pub flatten_unsynced: FlattenPolicy,
}

impl Gate {
    pub const OPEN: Gate = Gate {
        feed_active: true,
        may_open: true,
        flatten: false,
        flatten_unsynced: FlattenPolicy::Wait,
    };
}

/// What a kill/abort flatten does when the traded book is not synced (or crossed):
/// `risk.flatten_when_unsynced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FlattenPolicy {
    /// Wait for the first synced, uncrossed book, then exit at its touch (default).
    #[default]
    Wait,
    /// Exit at once with a reduce-only IOC limit far through the last known touch (half the bid
    /// for a sell, twice the ask for a buy): a market order in limit form. The paper exchange
    /// still fills it only on the first synced book after it arrives.
    Market,
}

impl FlattenPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            FlattenPolicy::Wait => "wait",
            FlattenPolicy::Market => "market",
        }
    }
}

/// Counters for the cold path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrategyCounters {
    pub signals: u64,
    pub entries: u64,
    pub entry_timeouts: u64,
    pub exits: u64,
    pub blocked_not_synced: u64,
    pub blocked_spread: u64,
    pub blocked_risk: u64,
    /// Signals not traded because an earlier entry's rest is still working.
    pub blocked_working: u64,
    /// Book updates on which an open position's exit was not decided: book not synced.
    pub exits_waiting_sync: u64,
}

/// The rest of a partly filled entry, working until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LateEntry {
    id: u64,
    dir: Dir,
    /// Its cancel is on its way (false after the venue refused one: send it again).
    cancel_sent: bool,
}

/// The OBI scalper.
#[derive(Debug, Clone)]
pub struct ObiScalper {
    cfg: StrategyConfig,
    phase: Phase,
    /// Current signal direction and when it started (event time).
    held: Option<(Dir, u64)>,
    /// The held episode already fired.
    fired: bool,
    last_flat_ns: u64,
    /// The entry order whose rest still works after the position opened (id, direction):
    /// its fills count until it ends.
    late_entry: Option<LateEntry>,
    next_id: u64,
    pub counters: StrategyCounters,
    /// Last exit reason sent, for trade logs.
    pub last_exit: Option<ExitReason>,
}

impl ObiScalper {
    pub fn new(cfg: StrategyConfig) -> ObiScalper {
        ObiScalper {
            cfg,
            phase: Phase::Flat,
            held: None,
            fired: false,
            last_flat_ns: 0,
            late_entry: None,
            next_id: 1,
            counters: StrategyCounters::default(),
            last_exit: None,
        }
    }

    pub fn config(&self) -> &StrategyConfig {
        &self.cfg
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The signal logic alone: tracks holding and reports a fire.
    #[inline]
    pub fn signal(&mut self, u: &BookUpdate) -> Option<SignalFire> {
        let dir = if u.obi_ppm >= self.cfg.long_threshold_ppm {
            Some(Dir::Long)
        } else if u.obi_ppm <= -self.cfg.short_threshold_ppm {
            Some(Dir::Short)
        } else {
            None
        };
        let Some(dir) = dir else {
            self.held = None;
            self.fired = false;
            return None;
        };
        match self.held {
            Some((d, _)) if d == dir => {}
            _ => {
                self.held = Some((dir, u.recv_ns));
                self.fired = false;
            }
        }
        if self.fired {
            return None;
        }
        let th = match dir {
            Dir::Long => self.cfg.long_threshold_ppm,
            Dir::Short => self.cfg.short_threshold_ppm,
        } as i128;
        let instant = (u.obi_ppm.unsigned_abs() as i128) * SIGNAL_SCALE as i128
            >= th * self.cfg.instant_factor_ppm as i128;
        let since = self.held.map(|h| h.1).unwrap_or(u.recv_ns);
        if instant || u.recv_ns.saturating_sub(since) >= self.cfg.hold_ns {
            self.fired = true;
            self.counters.signals += 1;
            return Some(SignalFire {
                recv_ns: u.recv_ns,
                dir,
                obi_ppm: u.obi_ppm,
                instant,
            });
        }
        None
    }

    /// Decides on a book update. Returns the signal that fired (if any) and pushes commands.
    #[inline]
    pub fn on_book(
        &mut self,
        u: &BookUpdate,
        gate: Gate,
        out: &mut impl FnMut(OrderCmd),
    ) -> Option<SignalFire> {
        let fire = self.signal(u);
        let tradable = u.state == BookState::Synced && !u.crossed && u.has_two_sides();
        if let Some(l) = self.late_entry.as_mut() {
            if !l.cancel_sent {
                l.cancel_sent = true;
                out(OrderCmd::Cancel { id: l.id });
            }
        }
        match self.phase {
            Phase::Flat => {
                if let Some(f) = fire {
                    if !tradable || !gate.feed_active {
                        self.counters.blocked_not_synced += 1;
                    } else if u.spread_ticks > self.cfg.max_spread_ticks {
                        self.counters.blocked_spread += 1;
                    } else if !gate.may_open || gate.flatten {
                        self.counters.blocked_risk += 1;
                    } else if self.late_entry.is_some() {
                        // An earlier entry's rest is still working: its fills would add to a
                        // new position of either side. Wait for its end.
                        self.counters.blocked_working += 1;
                    } else if u.recv_ns.saturating_sub(self.last_flat_ns) >= self.cfg.cooldown_ns
                        || self.last_flat_ns == 0
                    {
                        let side = f.dir.entry_side();
                        let px = match side {
                            OrderSide::Buy => u.ask_px + self.cfg.entry_offset_ticks,
                            OrderSide::Sell => u.bid_px - self.cfg.entry_offset_ticks,
                        };
                        let id = self.new_id();
                        out(OrderCmd::Place {
                            id,
                            side,
                            px,
                            qty: self.cfg.order_qty,
                            tif: Tif::Gtc,
                            reduce_only: false,
                        });
                        self.counters.entries += 1;
                        self.phase = Phase::Entering {
                            id,
                            dir: f.dir,
                            placed_ns: u.recv_ns,
                            cancel_sent: false,
                        };
                    }
                }
            }
            Phase::Entering { placed_ns, .. } => {
                if gate.flatten || u.recv_ns.saturating_sub(placed_ns) >= self.cfg.entry_timeout_ns
                {
                    self.cancel_entry(out);
                }
            }
            Phase::Open { .. } => self.decide_exit(u, tradable, gate, out),
        }
        fire
    }

    /// Risk wants the position closed now (kill, abort): cancels a working entry and, with an
    /// open position and no exit working, sends the flatten exit on `u` (the last book) under
    /// the gate's unsynced-book policy. Called at once on a kill, not only on the next update.
    pub fn flatten_now(&mut self, u: &BookUpdate, gate: Gate, out: &mut impl FnMut(OrderCmd)) {
        let gate = Gate {
            flatten: true,
            ..gate
        };
        match self.phase {
            Phase::Flat => {}
            Phase::Entering { .. } => self.cancel_entry(out),
            Phase::Open { .. } => {
                let tradable = u.state == BookState::Synced && !u.crossed && u.has_two_sides();
                self.decide_exit(u, tradable, gate, out);
            }
        }
    }

    fn cancel_entry(&mut self, out: &mut impl FnMut(OrderCmd)) {
        if let Phase::Entering {
            id,
            dir,
            placed_ns,
            cancel_sent: false,
        } = self.phase
        {
            out(OrderCmd::Cancel { id });
            self.counters.entry_timeouts += 1;
            self.phase = Phase::Entering {
                id,
                dir,
                placed_ns,
                cancel_sent: true,
            };
        }
    }

    /// Exit decision for an open position with no exit working. Take-profit, stop-loss and
    /// max-hold are decided on synced, uncrossed two-sided books only; a flatten on any other
    /// book follows [`Gate::flatten_unsynced`].
    fn decide_exit(
        &mut self,
        u: &BookUpdate,
        tradable: bool,
        gate: Gate,
        out: &mut impl FnMut(OrderCmd),
    ) {
        let Phase::Open {
            dir,
            qty,
            entry_px,
            opened_ns,
            exit_id: None,
        } = self.phase
        else {
            return;
        };
        let side = dir.entry_side().opposite();
        let (reason, px) = if tradable {
            let pnl_ticks = match dir {
                Dir::Long => u.bid_px - entry_px,
                Dir::Short => entry_px - u.ask_px,
            };
            let reason = if gate.flatten {
                ExitReason::Flatten
            } else if pnl_ticks >= self.cfg.take_profit_ticks {
                ExitReason::TakeProfit
            } else if pnl_ticks <= -self.cfg.stop_loss_ticks {
                ExitReason::StopLoss
            } else if u.recv_ns.saturating_sub(opened_ns) >= self.cfg.max_hold_ns {
                ExitReason::MaxHold
            } else {
                return;
            };
            let px = match side {
                OrderSide::Sell => u.bid_px,
                OrderSide::Buy => u.ask_px,
            };
            (reason, px)
        } else if !gate.flatten {
            self.counters.exits_waiting_sync += 1;
            return;
        } else {
            match gate.flatten_unsynced {
                FlattenPolicy::Wait => {
                    self.counters.exits_waiting_sync += 1;
                    return;
                }
                FlattenPolicy::Market => {
                    // The book cannot be trusted: a limit far through any price the book could
                    // show, from the last known touch (or the entry), so the exit takes what the
                    // venue has when it arrives.
                    let reference = match side {
                        OrderSide::Sell if u.bid_px != NO_PRICE => u.bid_px,
                        OrderSide::Buy if u.ask_px != NO_PRICE => u.ask_px,
                        _ => entry_px,
                    };
                    let px = match side {
                        OrderSide::Sell => (reference / 2).max(1),
                        OrderSide::Buy => reference.saturating_mul(2),
                    };
                    (ExitReason::Flatten, px)
                }
            }
        };
        let id = self.new_id();
        out(OrderCmd::Place {
            id,
            side,
            px,
            qty,
            tif: Tif::Ioc,
            reduce_only: true,
        });
        self.counters.exits += 1;
        self.last_exit = Some(reason);
        self.phase = Phase::Open {
            dir,
            qty,
            entry_px,
            opened_ns,
            exit_id: Some(id),
        };
    }

    /// Updates the position view from an execution report. A partially filled entry opens the
    /// position with what was filled and cancels the rest; fills of that rest (until it ends)
    /// add to the position, or open it again if an exit closed it meanwhile. An exit that ends
    /// (filled, cancelled, rejected) frees the position for the next exit decision. Reports of
    /// orders the strategy does not track are ignored here (the trader flags them).
    pub fn on_exec(&mut self, r: &ExecReport, out: &mut impl FnMut(OrderCmd)) {
        if let Phase::Entering {
            id,
            dir,
            cancel_sent,
            ..
        } = self.phase
        {
            if r.id == id {
                match r.kind {
                    ExecKind::Fill {
                        px, qty, leaves, ..
                    } => {
                        self.phase = Phase::Open {
                            dir,
                            qty,
                            entry_px: px,
                            opened_ns: r.ts_ns,
                            exit_id: None,
                        };
                        if leaves > 0 {
                            self.late_entry = Some(LateEntry {
                                id,
                                dir,
                                cancel_sent: true,
                            });
                            if !cancel_sent {
                                out(OrderCmd::Cancel { id });
                            }
                        }
                    }
                    ExecKind::Cancelled { .. } | ExecKind::Rejected { .. } => {
                        self.phase = Phase::Flat;
                        self.last_flat_ns = r.ts_ns.max(1);
                    }
                    ExecKind::CancelRejected { reason } if reason != RejectReason::UnknownOrder => {
                        // Still working: the next update cancels again.
                        if let Phase::Entering {
                            ref mut cancel_sent,
                            ..
                        } = self.phase
                        {
                            *cancel_sent = false;
                        }
                    }
                    _ => {}
                }
                return;
            }
        }
        if let Some(LateEntry { id, dir, .. }) = self.late_entry {
            if r.id == id {
                match r.kind {
                    ExecKind::Fill {
                        px,
                        qty: fqty,
                        leaves,
                        ..
                    } => {
                        if leaves == 0 {
                            self.late_entry = None;
                        }
                        self.phase = match self.phase {
                            Phase::Open {
                                qty,
                                entry_px,
                                opened_ns,
                                exit_id,
                                ..
                            } => {
                                // Average in: the position grew while (maybe) an exit works.
                                let total = qty + fqty;
                                let avg = (entry_px as i128 * qty as i128
                                    + px as i128 * fqty as i128)
                                    / total as i128;
                                Phase::Open {
                                    dir,
                                    qty: total,
                                    entry_px: avg as i64,
                                    opened_ns,
                                    exit_id,
                                }
                            }
                            // Flat again (an exit closed what was filled): this fill opens anew.
                            _ => Phase::Open {
                                dir,
                                qty: fqty,
                                entry_px: px,
                                opened_ns: r.ts_ns,
                                exit_id: None,
                            },
                        };
                    }
                    ExecKind::Cancelled { .. } | ExecKind::Rejected { .. } => {
                        self.late_entry = None;
                    }
                    ExecKind::CancelRejected { reason } if reason != RejectReason::UnknownOrder => {
                        self.late_entry = Some(LateEntry {
                            id,
                            dir,
                            cancel_sent: false,
                        });
                    }
                    _ => {}
                }
                return;
            }
        }
        if let Phase::Open {
            dir,
            qty,
            entry_px,
            opened_ns,
            exit_id: Some(xid),
        } = self.phase
        {
            if r.id != xid {
                return;
            }
            match r.kind {
                ExecKind::Fill {
                    qty: fqty, leaves, ..
                } => {
                    let left = qty - fqty;
                    if left <= 0 {
                        self.phase = Phase::Flat;
                        self.last_flat_ns = r.ts_ns.max(1);
                    } else {
                        // A filled IOC sends no `Cancelled`: the exit ends with its last fill.
                        self.phase = Phase::Open {
                            dir,
                            qty: left,
                            entry_px,
                            opened_ns,
                            exit_id: (leaves > 0).then_some(xid),
                        };
                    }
                }
                ExecKind::Cancelled { .. } | ExecKind::Rejected { .. } => {
                    // IOC remainder or refusal: try again on the next update.
                    self.phase = Phase::Open {
                        dir,
                        qty,
                        entry_px,
                        opened_ns,
                        exit_id: None,
                    };
                }
                _ => {}
            }
        }
    }

    /// Starts from a position adopted from the venue at start-up (`position` lots, positive
    /// long, entered at `entry_px` ticks): it is the strategy's open position from `now_ns`, so
    /// no entry is opened against it and its exits (take-profit, stop-loss, max-hold from
    /// `now_ns`, a flatten) close it like one of the strategy's own. Only while flat with
    /// nothing working (before the first book).
    pub fn adopt(&mut self, position: i64, entry_px: i64, now_ns: u64) {
        if position == 0 || !self.is_flat() {
            return;
        }
        self.phase = Phase::Open {
            dir: if position > 0 { Dir::Long } else { Dir::Short },
            qty: position.abs(),
            entry_px,
            opened_ns: now_ns,
            exit_id: None,
        };
    }

    /// The strategy's signed position in lots (positive long).
    pub fn position(&self) -> i64 {
        match self.phase {
            Phase::Open { dir, qty, .. } => match dir {
                Dir::Long => qty,
                Dir::Short => -qty,
            },
            _ => 0,
        }
    }

    /// Orders the strategy still expects reports for: the entry (or its working rest) and the
    /// exit.
    pub fn working_ids(&self) -> [Option<u64>; 2] {
        let entry = match self.phase {
            Phase::Entering { id, .. } => Some(id),
            _ => self.late_entry.map(|l| l.id),
        };
        let exit = match self.phase {
            Phase::Open { exit_id, .. } => exit_id,
            _ => None,
        };
        [entry, exit]
    }

    /// True when no order is working and no position is open.
    pub fn is_flat(&self) -> bool {
        self.phase == Phase::Flat && self.late_entry.is_none()
    }
}

#[cfg(test)]
mod tests;
