//! Risk state carried across a restart: the day's PnL, the drawdown from the equity peak and the
//! latched abort reasons, rebuilt from the journal (`crate::store`) at start-up.

use super::{ReasonCode, Reasons, RiskEngine};
use crate::msg::Money;

/// What a restart keeps. Equity restarts at `initial_equity` (the paper ledger is re-based), so the
/// figures are carried relative to it: the day's PnL so far and the distance below the peak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskCarry {
    /// Trading day (days since the epoch, `trading_day_offset_ns` applied) of `day_pnl`.
    pub day: i64,
    /// PnL of that trading day before the restart (negative: a loss).
    pub day_pnl: Money,
    /// Equity peak minus equity at the restart (never negative).
    pub drawdown: Money,
    /// Abort reasons latched before the restart (the kill switch is not carried: a restart is
    /// how an operator clears it).
    pub latched: Reasons,
}

impl RiskCarry {
    /// The abort reasons a restart keeps.
    pub fn carried(r: Reasons) -> Reasons {
        r.iter()
            .filter(|c| {
                matches!(
                    c,
                    ReasonCode::MaxDrawdownExceeded
                        | ReasonCode::MaxTradeLossExceeded
                        | ReasonCode::ConsecutiveFailuresExceeded
                )
            })
            .collect()
    }
}

impl RiskEngine {
    /// Starts from a carried state instead of a fresh one: the day began `day_pnl` ago, the peak
    /// stands `drawdown` above `initial_equity`, and the latched reasons are in force.
    pub fn restore(&mut self, c: &RiskCarry, initial_equity: Money) {
        self.day = Some(c.day);
        self.day_start_equity = initial_equity - c.day_pnl;
        self.daily_latched = false;
        self.peak = initial_equity + c.drawdown.max(0);
        self.reasons = self.reasons.union(RiskCarry::carried(c.latched));
        self.snapshot.equity_peak = self.peak;
        self.snapshot.drawdown = c.drawdown.max(0);
        self.snapshot.day_pnl = c.day_pnl;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Ledger;
    use crate::msg::MONEY_PER_TICK_LOT;
    use crate::msg::NO_PRICE;
    use crate::risk::{RiskLimits, RiskStatus};

    const SEC: u64 = 1_000_000_000;
    const DAY: u64 = 86_400 * SEC;

    fn limits() -> RiskLimits {
        RiskLimits {
            max_drawdown: 1000 * MONEY_PER_TICK_LOT,
            daily_loss_limit: 500 * MONEY_PER_TICK_LOT,
            ..RiskLimits::unlimited()
        }
    }

    #[test]
    fn restored_day_loss_and_peak_count_after_restart() {
        let init = 100_000 * MONEY_PER_TICK_LOT;
        let mut r = RiskEngine::new(limits());
        // 600 lost today before the restart: beyond the 500 daily limit at once.
        r.restore(
            &RiskCarry {
                day: 20_000,
                day_pnl: -600 * MONEY_PER_TICK_LOT,
                drawdown: 700 * MONEY_PER_TICK_LOT,
                latched: Reasons::EMPTY,
            },
            init,
        );
        let ledger = Ledger::new(init);
        let mut ev = Vec::new();
        r.evaluate(20_000 * DAY + SEC, &ledger, NO_PRICE, None, &mut |e| {
            ev.push(e)
        });
        assert_eq!(r.snapshot().day_pnl, -600 * MONEY_PER_TICK_LOT);
        assert_eq!(r.snapshot().drawdown, 700 * MONEY_PER_TICK_LOT);
        assert!(r.reasons().contains(ReasonCode::DailyLossLimitExceeded));
        assert_eq!(r.status(), RiskStatus::Degraded);
        // The next day starts afresh; the peak stays.
        r.evaluate(20_001 * DAY + SEC, &ledger, NO_PRICE, None, &mut |e| {
            ev.push(e)
        });
        assert_eq!(r.snapshot().day_pnl, 0);
        assert_eq!(r.snapshot().drawdown, 700 * MONEY_PER_TICK_LOT);
        assert_eq!(r.status(), RiskStatus::Ok);
    }

    #[test]
    fn latched_abort_survives_but_not_the_kill_switch() {
        let mut r = RiskEngine::new(limits());
        let latched: Reasons = [ReasonCode::MaxDrawdownExceeded, ReasonCode::KillSwitch]
            .into_iter()
            .collect();
        r.restore(
            &RiskCarry {
                day: 1,
                day_pnl: 0,
                drawdown: 0,
                latched,
            },
            0,
        );
        assert_eq!(r.status(), RiskStatus::Abort);
        assert!(r.reasons().contains(ReasonCode::MaxDrawdownExceeded));
        assert!(!r.reasons().contains(ReasonCode::KillSwitch));
    }

    #[test]
    fn a_position_adopted_after_a_restart_is_not_counted_twice() {
        // Before the restart the journal's equity chain already marked the open position:
        // the day's -100 include its -50 unrealized. The restart adopts the same position at
        // its entry price; marked at the same price it must not add its -50 again.
        let m = MONEY_PER_TICK_LOT;
        let init = 100_000 * m;
        let mut r = RiskEngine::new(limits());
        r.restore(
            &RiskCarry {
                day: 20_000,
                day_pnl: -100 * m,
                drawdown: 100 * m,
                latched: Reasons::EMPTY,
            },
            init,
        );
        r.adopted_position_in_carry();
        let mut ledger = Ledger::new(init);
        ledger.adopt(0, 10, 10 * 105 * m); // 10 lots bought at 105
        r.evaluate(20_000 * DAY + SEC, &ledger, 100, None, &mut |_| {});
        assert_eq!(r.snapshot().day_pnl, -100 * m, "the carried day, once");
        assert_eq!(r.snapshot().drawdown, 100 * m);
        // From there on the position's moves count.
        r.evaluate(20_000 * DAY + 2 * SEC, &ledger, 98, None, &mut |_| {});
        assert_eq!(r.snapshot().day_pnl, -120 * m);
    }
}
