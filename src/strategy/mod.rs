//! The OBI scalper: the Go bot's strategy, decided on every book update instead of a 500 ms timer.
//!
//! - Signal: long when OBI(N) >= `long_threshold`, short when OBI(N) <= -`short_threshold`; it must
//!   hold for `hold_ms` of event time, or fires at once beyond threshold x `instant_factor`.
//! - Entry: a limit order at best ask + `entry_offset` (buy) or best bid - `entry_offset` (sell),
//!   only from a synced, uncrossed book of an active feed with the spread <= `max_spread` ticks,
//!   when flat, past the cooldown and allowed by risk; cancelled after `entry_timeout_ms`.
//! - Exit: take-profit and stop-loss in ticks against the touch, and `max_hold_ms`, with a
//!   reduce-only IOC at the opposite best; enforced the same way in paper and live.
//!
//! The strategy is pure event-time logic: it sees [`BookUpdate`]s and [`ExecReport`]s and returns
//! [`OrderCmd`]s; the same struct runs in the threaded pipeline and in the replay.

use crate::config::StrategyConfig;
use crate::msg::{
    BookState, BookUpdate, ExecKind, ExecReport, OrderCmd, OrderSide, Tif, SIGNAL_SCALE,
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
}

impl Gate {
    pub const OPEN: Gate = Gate {
        feed_active: true,
        may_open: true,
        flatten: false,
    };
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
        match self.phase {
            Phase::Flat => {
                if let Some(f) = fire {
                    if !tradable || !gate.feed_active {
                        self.counters.blocked_not_synced += 1;
                    } else if u.spread_ticks > self.cfg.max_spread_ticks {
                        self.counters.blocked_spread += 1;
                    } else if !gate.may_open || gate.flatten {
                        self.counters.blocked_risk += 1;
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
            Phase::Entering {
                id,
                dir,
                placed_ns,
                cancel_sent,
            } => {
                if !cancel_sent
                    && (gate.flatten
                        || u.recv_ns.saturating_sub(placed_ns) >= self.cfg.entry_timeout_ns)
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
            Phase::Open {
                dir,
                qty,
                entry_px,
                opened_ns,
                exit_id: None,
            } => {
                if !u.has_two_sides() {
                    return fire;
                }
                let pnl_ticks = match dir {
                    Dir::Long => u.bid_px - entry_px,
                    Dir::Short => entry_px - u.ask_px,
                };
                let reason = if gate.flatten {
                    Some(ExitReason::Flatten)
                } else if pnl_ticks >= self.cfg.take_profit_ticks {
                    Some(ExitReason::TakeProfit)
                } else if pnl_ticks <= -self.cfg.stop_loss_ticks {
                    Some(ExitReason::StopLoss)
                } else if u.recv_ns.saturating_sub(opened_ns) >= self.cfg.max_hold_ns {
                    Some(ExitReason::MaxHold)
                } else {
                    None
                };
                if let Some(r) = reason {
                    let side = dir.entry_side().opposite();
                    let px = match side {
                        OrderSide::Sell => u.bid_px,
                        OrderSide::Buy => u.ask_px,
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
                    self.last_exit = Some(r);
                    self.phase = Phase::Open {
                        dir,
                        qty,
                        entry_px,
                        opened_ns,
                        exit_id: Some(id),
                    };
                }
            }
            Phase::Open { .. } => {}
        }
        fire
    }

    /// Updates the position view from an execution report. A partially filled entry opens the
    /// position with what was filled and cancels the rest.
    pub fn on_exec(&mut self, r: &ExecReport, out: &mut impl FnMut(OrderCmd)) {
        match self.phase {
            Phase::Entering { id, dir, .. } if r.id == id => match r.kind {
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
                        out(OrderCmd::Cancel { id });
                    }
                }
                ExecKind::Cancelled { .. } | ExecKind::Rejected { .. } => {
                    self.phase = Phase::Flat;
                    self.last_flat_ns = r.ts_ns.max(1);
                }
                _ => {}
            },
            Phase::Open {
                dir,
                qty,
                entry_px,
                opened_ns,
                exit_id,
            } => match r.kind {
                ExecKind::Fill { qty: fqty, .. } if Some(r.id) == exit_id => {
                    let left = qty - fqty;
                    if left <= 0 {
                        self.phase = Phase::Flat;
                        self.last_flat_ns = r.ts_ns.max(1);
                    } else {
                        self.phase = Phase::Open {
                            dir,
                            qty: left,
                            entry_px,
                            opened_ns,
                            exit_id,
                        };
                    }
                }
                ExecKind::Cancelled { .. } | ExecKind::Rejected { .. } if Some(r.id) == exit_id => {
                    // IOC remainder or refusal: try again on the next update.
                    self.phase = Phase::Open {
                        dir,
                        qty,
                        entry_px,
                        opened_ns,
                        exit_id: None,
                    };
                }
                ExecKind::Fill { px, qty: fqty, .. } => {
                    // A late fill of the entry order before its cancel landed: average in.
                    let total = qty + fqty;
                    let avg = (entry_px as i128 * qty as i128 + px as i128 * fqty as i128)
                        / total as i128;
                    self.phase = Phase::Open {
                        dir,
                        qty: total,
                        entry_px: avg as i64,
                        opened_ns,
                        exit_id,
                    };
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// True when no order is working and no position is open.
    pub fn is_flat(&self) -> bool {
        self.phase == Phase::Flat
    }
}

#[cfg(test)]
mod tests;
