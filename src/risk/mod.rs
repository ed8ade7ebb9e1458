//! Risk limits, the risk status the operator sees, and pre-trade checks.
//!
//! [`RiskEngine`] turns our [`Ledger`], a mark price and (when known) the venue's view of the
//! account into a status with reason codes:
//!
//! | condition                                              | status   | reason code                    |
//! |--------------------------------------------------------|----------|--------------------------------|
//! | drawdown from the equity peak > `max_drawdown`         | abort    | `max_drawdown_exceeded`        |
//! | loss since the trading day began > `daily_loss_limit`  | degraded | `daily_loss_limit_exceeded`    |
//! | `abs(position)` > `max_position_size`                  | degraded | `max_position_size_exceeded`   |
//! | loss on one trade (closed, or open at the mark) > `max_trade_loss` | abort | `max_trade_loss_exceeded` |
//! | position notional / equity > `max_leverage_cbps`       | degraded | `max_leverage_exceeded`        |
//! | venue balance vs our ledger > `max_wallet_drift`       | degraded | `wallet_drift_exceeded`        |
//! | consecutive failed orders > `max_consecutive_failures` | abort    | `consecutive_failures_exceeded`|
//! | [`RiskEngine::kill`]                                   | abort    | `kill_switch`                  |
//! | the venue refused our credentials (a live order answered with an auth error) | abort | `venue_auth_failed` |
//! | a report for an order we never sent ([`RiskEngine::unknown_report`]) | degraded | `unknown_order_report` |
//! | reconciliation found the venue's account differing from ours in a way no missed report explains ([`RiskEngine::reconcile_mismatch`]) | abort | `reconcile_mismatch` |
//!
//! Abort wins when several fire. Abort reasons are latched until restart. Degraded reasons clear
//! when their condition clears, except the daily loss, which stays until the next trading day
//! (days start at UTC midnight + `trading_day_offset_ns`), and an unknown order report, which
//! stays until restart (our books can no longer be trusted to match the venue's). In `degraded` only reduce-only orders
//! pass; in `abort` only reduce-only orders pass and only if `flatten_on_abort` (the abort's own
//! flattening); otherwise nothing does. Every change of the reason set produces a [`RiskEvent`]
//! for the audit log.
//!
//! Nothing allocates after [`RiskEngine::new`].

use crate::exec::ledger::{value, Ledger};
use crate::exec::TokenBucket;
use crate::msg::{Cbps, ExecKind, ExecReport, Money, OrderSide, RejectReason, NO_PRICE};

mod carry;
pub use carry::RiskCarry;

/// 100% in [`Cbps`]: leverage 1x.
pub const CBPS_ONE: i128 = 1_000_000;

const DAY_NS: i128 = 86_400_000_000_000;

/// Risk status: the one enum for it (the risk stage, the status board, `/health/detailed`'s
/// `risk.status`, the `obi_scalp_risk_status` metric). Abort wins when several conditions fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskStatus {
    /// Trading normally.
    #[default]
    Ok,
    /// No new positions: reduce-only orders only.
    Degraded,
    /// Cancel all, flatten if configured, stop trading. Latched until restart.
    Abort,
}

impl RiskStatus {
    pub const ALL: [RiskStatus; 3] = [RiskStatus::Ok, RiskStatus::Degraded, RiskStatus::Abort];

    pub const fn as_str(self) -> &'static str {
        match self {
            RiskStatus::Ok => "ok",
            RiskStatus::Degraded => "degraded",
            RiskStatus::Abort => "abort",
        }
    }
}

/// Why the risk status is not `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReasonCode {
    MaxDrawdownExceeded = 0,
    DailyLossLimitExceeded = 1,
    MaxPositionSizeExceeded = 2,
    MaxTradeLossExceeded = 3,
    MaxLeverageExceeded = 4,
    WalletDriftExceeded = 5,
    ConsecutiveFailuresExceeded = 6,
    KillSwitch = 7,
    UnknownOrderReport = 8,
    VenueAuthFailed = 9,
    ReconcileMismatch = 10,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 11] = [
        ReasonCode::MaxDrawdownExceeded,
        ReasonCode::DailyLossLimitExceeded,
        ReasonCode::MaxPositionSizeExceeded,
        ReasonCode::MaxTradeLossExceeded,
        ReasonCode::MaxLeverageExceeded,
        ReasonCode::WalletDriftExceeded,
        ReasonCode::ConsecutiveFailuresExceeded,
        ReasonCode::KillSwitch,
        ReasonCode::UnknownOrderReport,
        ReasonCode::VenueAuthFailed,
        ReasonCode::ReconcileMismatch,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ReasonCode::MaxDrawdownExceeded => "max_drawdown_exceeded",
            ReasonCode::DailyLossLimitExceeded => "daily_loss_limit_exceeded",
            ReasonCode::MaxPositionSizeExceeded => "max_position_size_exceeded",
            ReasonCode::MaxTradeLossExceeded => "max_trade_loss_exceeded",
            ReasonCode::MaxLeverageExceeded => "max_leverage_exceeded",
            ReasonCode::WalletDriftExceeded => "wallet_drift_exceeded",
            ReasonCode::ConsecutiveFailuresExceeded => "consecutive_failures_exceeded",
            ReasonCode::KillSwitch => "kill_switch",
            ReasonCode::UnknownOrderReport => "unknown_order_report",
            ReasonCode::VenueAuthFailed => "venue_auth_failed",
            ReasonCode::ReconcileMismatch => "reconcile_mismatch",
        }
    }

    /// The status this reason forces.
    pub const fn severity(self) -> RiskStatus {
        match self {
            ReasonCode::MaxDrawdownExceeded
            | ReasonCode::MaxTradeLossExceeded
            | ReasonCode::ConsecutiveFailuresExceeded
            | ReasonCode::KillSwitch
            | ReasonCode::VenueAuthFailed
            | ReasonCode::ReconcileMismatch => RiskStatus::Abort,
            ReasonCode::DailyLossLimitExceeded
            | ReasonCode::MaxPositionSizeExceeded
            | ReasonCode::MaxLeverageExceeded
            | ReasonCode::WalletDriftExceeded
            | ReasonCode::UnknownOrderReport => RiskStatus::Degraded,
        }
    }

    const fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// A set of [`ReasonCode`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reasons(u16);

impl Reasons {
    pub const EMPTY: Reasons = Reasons(0);

    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The set with these raw bits (as [`Reasons::bits`] gave them; unknown bits are dropped).
    pub const fn from_bits(bits: u16) -> Reasons {
        Reasons(bits & ((1 << ReasonCode::ALL.len()) - 1))
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub const fn contains(self, r: ReasonCode) -> bool {
        self.0 & r.bit() != 0
    }
    pub fn insert(&mut self, r: ReasonCode) {
        self.0 |= r.bit();
    }
    pub fn remove(&mut self, r: ReasonCode) {
        self.0 &= !r.bit();
    }
    pub const fn union(self, o: Reasons) -> Reasons {
        Reasons(self.0 | o.0)
    }
    /// Reasons in `self` that are not in `o`.
    pub const fn minus(self, o: Reasons) -> Reasons {
        Reasons(self.0 & !o.0)
    }
    pub fn iter(self) -> impl Iterator<Item = ReasonCode> {
        ReasonCode::ALL
            .into_iter()
            .filter(move |r| self.contains(*r))
    }
    /// The status these reasons force: abort wins over degraded.
    pub fn status(self) -> RiskStatus {
        self.iter()
            .map(ReasonCode::severity)
            .max()
            .unwrap_or(RiskStatus::Ok)
    }
    /// The most severe reason (the first in [`ReasonCode::ALL`] order among those of the highest
    /// severity), for a single `reason_code` field.
    pub fn primary(self) -> Option<ReasonCode> {
        let s = self.status();
        self.iter().find(|r| r.severity() == s)
    }
}

impl FromIterator<ReasonCode> for Reasons {
    fn from_iter<I: IntoIterator<Item = ReasonCode>>(iter: I) -> Reasons {
        let mut r = Reasons::EMPTY;
        for c in iter {
            r.insert(c);
        }
        r
    }
}

/// Who pulled the kill switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillSource {
    /// The operator (HTTP endpoint or CLI).
    Operator,
    /// A process signal.
    Signal,
    /// The pipeline itself (a stage failed, a ring overflowed beyond recovery).
    Pipeline,
}

impl KillSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            KillSource::Operator => "operator",
            KillSource::Signal => "signal",
            KillSource::Pipeline => "pipeline",
        }
    }
}

/// Limits, already resolved by the config into exact units. To switch a limit off, use the
/// type's `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskLimits {
    /// Largest drawdown from the equity peak (Money).
    pub max_drawdown: Money,
    /// Largest loss since the trading day began (Money).
    pub daily_loss_limit: Money,
    /// Largest absolute position (lots).
    pub max_position_size: i64,
    /// Largest loss of one round trip, closed or open at the mark, fees included (Money).
    pub max_trade_loss: Money,
    /// Largest position notional over equity, in hundredths of a bp: 1x = 1_000_000
    /// ([`CBPS_ONE`]), 3x = 3_000_000.
    pub max_leverage_cbps: Cbps,
    /// Largest difference between the venue's balance and our ledger (Money): the cash
    /// difference plus the position difference valued at the mark.
    pub max_wallet_drift: Money,
    /// Largest order (lots).
    pub max_order_size: i64,
    /// Sustained order rate (orders per second) of the token bucket.
    pub max_orders_per_sec: u32,
    /// Burst of the token bucket (orders).
    pub order_burst: u32,
    /// Consecutive failed orders tolerated; one more aborts (default 5).
    pub max_consecutive_failures: u32,
    /// In abort, let reduce-only orders through to flatten the position.
    pub flatten_on_abort: bool,
    /// The trading day starts at UTC midnight plus this (e.g. -9 h for midnight in Tokyo).
    pub trading_day_offset_ns: i64,
}

impl RiskLimits {
    /// Every limit off except `max_consecutive_failures = 5`; flattening on abort.
    pub const fn unlimited() -> RiskLimits {
        RiskLimits {
            max_drawdown: Money::MAX,
            daily_loss_limit: Money::MAX,
            max_position_size: i64::MAX,
            max_trade_loss: Money::MAX,
            max_leverage_cbps: Cbps::MAX,
            max_wallet_drift: Money::MAX,
            max_order_size: i64::MAX,
            max_orders_per_sec: u32::MAX,
            order_burst: u32::MAX,
            max_consecutive_failures: 5,
            flatten_on_abort: true,
            trading_day_offset_ns: 0,
        }
    }
}

/// The numbers the last evaluation saw (for events, `/metrics` and the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskSnapshot {
    pub mark_px: i64,
    pub equity: Money,
    pub equity_peak: Money,
    pub drawdown: Money,
    /// Equity change since the trading day began.
    pub day_pnl: Money,
    pub position: i64,
    /// Position notional over equity in cbps (`i64::MAX` when equity <= 0 and not flat).
    pub leverage_cbps: i64,
    /// Worst of the closed trades' and the open trade's net PnL (<= 0).
    pub worst_trade_net: Money,
    /// Last measured wallet drift (`None` before a venue balance was seen).
    pub wallet_drift: Option<Money>,
    pub consecutive_failures: u32,
}

/// A change of the risk reasons (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskEvent {
    pub ts_ns: u64,
    pub from: RiskStatus,
    pub to: RiskStatus,
    /// All reasons in force after the change.
    pub reasons: Reasons,
    /// Reasons that fired with this change.
    pub raised: Reasons,
    /// Reasons that cleared with this change.
    pub cleared: Reasons,
    /// Set when the change is a kill switch.
    pub kill_source: Option<KillSource>,
    pub snapshot: RiskSnapshot,
}

/// Pre-trade refusals by cause (plain integers; the cold path reads copies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskCounters {
    pub passed: u64,
    pub invalid: u64,
    pub status: u64,
    pub reduce_only: u64,
    pub order_size: u64,
    pub position: u64,
    pub rate_limited: u64,
    pub failures: u64,
    /// Reports for order ids we never sent (or already saw end).
    pub unknown_reports: u64,
}

/// Lots our working orders (sent and not yet ended) could still trade, by side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkingLots {
    pub buy: i64,
    pub sell: i64,
}

impl WorkingLots {
    pub const NONE: WorkingLots = WorkingLots { buy: 0, sell: 0 };
}

/// The risk engine of one instrument.
#[derive(Debug, Clone)]
pub struct RiskEngine {
    limits: RiskLimits,
    bucket: TokenBucket,
    reasons: Reasons,
    /// Current trading day (days since the epoch, offset applied) and equity when it began.
    day: Option<i64>,
    day_start_equity: Money,
    daily_latched: bool,
    unknown_report_latched: bool,
    peak: Money,
    last_mark: i64,
    last_drift: Option<Money>,
    /// See [`RiskEngine::adopted_position_in_carry`]: pending, and the unrealized PnL taken in.
    rebase_adopted: bool,
    adopted_unrealized: Money,
    consecutive_failures: u32,
    kill_source: Option<KillSource>,
    snapshot: RiskSnapshot,
    counters: RiskCounters,
}

impl RiskEngine {
    pub fn new(limits: RiskLimits) -> RiskEngine {
        RiskEngine {
            limits,
            bucket: TokenBucket::new(limits.max_orders_per_sec, limits.order_burst),
            reasons: Reasons::EMPTY,
            day: None,
            day_start_equity: 0,
            daily_latched: false,
            unknown_report_latched: false,
            peak: Money::MIN,
            last_mark: NO_PRICE,
            last_drift: None,
            rebase_adopted: false,
            adopted_unrealized: 0,
            consecutive_failures: 0,
            kill_source: None,
            snapshot: RiskSnapshot::default(),
            counters: RiskCounters::default(),
        }
    }

    /// Re-evaluates every limit at `now_ns` from our ledger, the mark price (`NO_PRICE` keeps the
    /// last one) and the venue's `(position, cash change since start)` when known (`None` keeps
    /// the last drift). Emits an event if the reasons changed.
    pub fn evaluate(
        &mut self,
        now_ns: u64,
        ledger: &Ledger,
        mark_px: i64,
        venue_balance: Option<(i64, Money)>,
        out: &mut impl FnMut(RiskEvent),
    ) {
        if mark_px != NO_PRICE {
            self.last_mark = mark_px;
        }
        let pos = ledger.position();
        // Without any mark, value the position at its cost (unrealized 0).
        let (equity, notional, open_net) = if self.last_mark == NO_PRICE {
            let e = ledger.initial_equity() + ledger.realized() - ledger.fees();
            (e, ledger.cost_basis().abs(), 0)
        } else {
            let m = self.last_mark;
            (
                ledger.equity(m),
                ledger.notional(m),
                ledger.open_trade_net(m),
            )
        };
        if self.rebase_adopted && self.last_mark != NO_PRICE {
            // The journal's chain valued the adopted position already: its unrealized PnL
            // now is part of the carried day and peak, not new.
            self.rebase_adopted = false;
            let u = ledger.unrealized(self.last_mark);
            self.adopted_unrealized = u;
            self.day_start_equity += u;
            self.peak = self.peak.saturating_add(u);
        }
        self.peak = self
            .peak
            .max(ledger.equity_peak() + self.adopted_unrealized)
            .max(equity);
        let drawdown = self.peak - equity;

        let day = ((now_ns as i128 - self.limits.trading_day_offset_ns as i128).div_euclid(DAY_NS))
            as i64;
        if self.day != Some(day) {
            self.day = Some(day);
            self.day_start_equity = equity;
            self.daily_latched = false;
        }
        let day_pnl = equity - self.day_start_equity;
        if -day_pnl > self.limits.daily_loss_limit {
            self.daily_latched = true;
        }

        let worst_trade_net = ledger.worst_trade_net().min(open_net);
        let leverage_over = if notional == 0 {
            false
        } else if equity <= 0 {
            true
        } else {
            notional.saturating_mul(CBPS_ONE)
                > (self.limits.max_leverage_cbps as i128).saturating_mul(equity)
        };
        let leverage_cbps = if notional == 0 {
            0
        } else if equity <= 0 {
            i64::MAX
        } else {
            i64::try_from(notional.saturating_mul(CBPS_ONE) / equity).unwrap_or(i64::MAX)
        };

        if let Some((vpos, vcash)) = venue_balance {
            let dpos = (vpos as i128 - pos as i128).abs();
            let px = if self.last_mark == NO_PRICE {
                0
            } else {
                self.last_mark
            };
            let drift = (vcash - ledger.cash()).abs() + dpos * value(px, 1).abs();
            self.last_drift = Some(drift);
        }

        let mut next = self.reasons;
        // Abort reasons latch: only ever inserted.
        if drawdown > self.limits.max_drawdown {
            next.insert(ReasonCode::MaxDrawdownExceeded);
        }
        if -worst_trade_net > self.limits.max_trade_loss {
            next.insert(ReasonCode::MaxTradeLossExceeded);
        }
        let mut set = |r: ReasonCode, on: bool| {
            if on {
                next.insert(r)
            } else {
                next.remove(r)
            }
        };
        set(ReasonCode::DailyLossLimitExceeded, self.daily_latched);
        set(ReasonCode::UnknownOrderReport, self.unknown_report_latched);
        set(
            ReasonCode::MaxPositionSizeExceeded,
            pos.unsigned_abs() > self.limits.max_position_size.max(0) as u64,
        );
        set(ReasonCode::MaxLeverageExceeded, leverage_over);
        set(
            ReasonCode::WalletDriftExceeded,
            self.last_drift
                .is_some_and(|d| d > self.limits.max_wallet_drift),
        );

        self.snapshot = RiskSnapshot {
            mark_px: self.last_mark,
            equity,
            equity_peak: self.peak,
            drawdown,
            day_pnl,
            position: pos,
            leverage_cbps,
            worst_trade_net,
            wallet_drift: self.last_drift,
            consecutive_failures: self.consecutive_failures,
        };
        self.change(now_ns, next, None, out);
    }

    /// Pre-trade check of an order; takes a rate token when everything else passes.
    /// Position checks count the ledger's filled position and, as if they all filled, the lots
    /// our `working` orders (sent, not yet ended) could still trade on the order's side: a
    /// reduce-only order passes only if it and the working orders on its side together do not
    /// exceed the position.
    #[allow(clippy::too_many_arguments)]
    pub fn pre_trade(
        &mut self,
        now_ns: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        ledger: &Ledger,
        working: WorkingLots,
        reduce_only: bool,
    ) -> Result<(), RejectReason> {
        if qty <= 0 || px <= 0 {
            self.counters.invalid += 1;
            return Err(RejectReason::Invalid);
        }
        let pos = ledger.position();
        let same = match side {
            OrderSide::Buy => working.buy,
            OrderSide::Sell => working.sell,
        }
        .max(0);
        let reduces = pos != 0
            && side.sign() != pos.signum()
            && (qty as i128 + same as i128) <= pos.unsigned_abs() as i128;
        if reduce_only && !reduces {
            self.counters.reduce_only += 1;
            return Err(RejectReason::Risk);
        }
        let allowed = match self.status() {
            RiskStatus::Ok => true,
            RiskStatus::Degraded => reduce_only,
            RiskStatus::Abort => reduce_only && self.limits.flatten_on_abort,
        };
        if !allowed {
            self.counters.status += 1;
            return Err(RejectReason::Risk);
        }
        if qty > self.limits.max_order_size {
            self.counters.order_size += 1;
            return Err(RejectReason::Risk);
        }
        let after = (pos as i128 + side.sign() as i128 * (qty as i128 + same as i128)).abs();
        if after > self.limits.max_position_size as i128 && after > pos.unsigned_abs() as i128 {
            self.counters.position += 1;
            return Err(RejectReason::Risk);
        }
        if !self.bucket.try_take(now_ns) {
            self.counters.rate_limited += 1;
            return Err(RejectReason::RateLimit);
        }
        self.counters.passed += 1;
        Ok(())
    }

    /// A report for an order id we never sent (or already saw end): never booked; our position
    /// can no longer be trusted to match the venue's, so no new positions until restart.
    pub fn unknown_report(&mut self, now_ns: u64, out: &mut impl FnMut(RiskEvent)) {
        self.counters.unknown_reports += 1;
        self.unknown_report_latched = true;
        let mut next = self.reasons;
        next.insert(ReasonCode::UnknownOrderReport);
        self.change(now_ns, next, None, out);
    }

    /// The ledger starts from a position adopted from the venue while a carried risk state is
    /// in force: the journal's equity chain already valued that position, so its unrealized
    /// PnL at the first mark is taken into the day's start and the peak instead of counting
    /// a second time (what it moved while the process was down is not counted).
    pub fn adopted_position_in_carry(&mut self) {
        self.rebase_adopted = true;
    }

    /// The wallet drift reconciliation measured (the venue's balance against the ledger's,
    /// plus any position difference at the venue's mark), for the `max_wallet_drift` row: it
    /// takes effect at the next [`RiskEngine::evaluate`].
    pub fn set_wallet_drift(&mut self, drift: Money) {
        self.last_drift = Some(drift);
    }

    /// Reconciliation found the venue's account differing from ours in a way no missed report
    /// explains: abort, latched.
    pub fn reconcile_mismatch(&mut self, now_ns: u64, out: &mut impl FnMut(RiskEvent)) {
        let mut next = self.reasons;
        next.insert(ReasonCode::ReconcileMismatch);
        self.change(now_ns, next, None, out);
    }

    /// Counts consecutive failed orders: venue, network and invalid rejects, and cancels the
    /// venue or network refused. An acceptance or a fill resets the count. Post-only rejects,
    /// our own risk and rate-limit refusals and cancels of orders already gone are not failures.
    pub fn on_exec(&mut self, r: &ExecReport, out: &mut impl FnMut(RiskEvent)) {
        if let ExecKind::Rejected {
            reason: RejectReason::Auth,
        }
        | ExecKind::CancelRejected {
            reason: RejectReason::Auth,
        } = r.kind
        {
            // Our credentials stopped working while running: nothing more can be sent.
            let mut next = self.reasons;
            next.insert(ReasonCode::VenueAuthFailed);
            self.change(r.ts_ns, next, None, out);
        }
        let failed = match r.kind {
            ExecKind::Accepted | ExecKind::Fill { .. } => {
                self.consecutive_failures = 0;
                return;
            }
            ExecKind::Rejected { reason } => matches!(
                reason,
                RejectReason::Venue
                    | RejectReason::Network
                    | RejectReason::Invalid
                    | RejectReason::Auth
            ),
            ExecKind::CancelRejected { reason } => {
                matches!(
                    reason,
                    RejectReason::Venue | RejectReason::Network | RejectReason::Auth
                )
            }
            ExecKind::Cancelled { .. } => false,
        };
        if !failed {
            return;
        }
        self.counters.failures += 1;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.snapshot.consecutive_failures = self.consecutive_failures;
        if self.consecutive_failures > self.limits.max_consecutive_failures {
            let mut next = self.reasons;
            next.insert(ReasonCode::ConsecutiveFailuresExceeded);
            self.change(r.ts_ns, next, None, out);
        }
    }

    /// Pulls the kill switch: abort, latched until restart.
    pub fn kill(&mut self, now_ns: u64, source: KillSource, out: &mut impl FnMut(RiskEvent)) {
        if self.kill_source.is_none() {
            self.kill_source = Some(source);
        }
        let mut next = self.reasons;
        next.insert(ReasonCode::KillSwitch);
        self.change(now_ns, next, Some(source), out);
    }

    fn change(
        &mut self,
        ts_ns: u64,
        next: Reasons,
        kill: Option<KillSource>,
        out: &mut impl FnMut(RiskEvent),
    ) {
        if next == self.reasons {
            return;
        }
        let prev = self.reasons;
        self.reasons = next;
        out(RiskEvent {
            ts_ns,
            from: prev.status(),
            to: next.status(),
            reasons: next,
            raised: next.minus(prev),
            cleared: prev.minus(next),
            kill_source: kill,
            snapshot: self.snapshot,
        });
    }

    pub fn status(&self) -> RiskStatus {
        self.reasons.status()
    }
    pub fn reasons(&self) -> Reasons {
        self.reasons
    }
    /// In abort with `flatten_on_abort`: the strategy should cancel all and flatten.
    pub fn should_flatten(&self) -> bool {
        self.status() == RiskStatus::Abort && self.limits.flatten_on_abort
    }
    pub fn kill_source(&self) -> Option<KillSource> {
        self.kill_source
    }
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
    pub fn snapshot(&self) -> RiskSnapshot {
        self.snapshot
    }
    pub fn counters(&self) -> RiskCounters {
        self.counters
    }
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::OrderSide::{Buy, Sell};
    use crate::msg::MONEY_PER_TICK_LOT;

    const M: i128 = MONEY_PER_TICK_LOT;
    const SEC: u64 = 1_000_000_000;
    /// 2026-01-05 00:00 UTC.
    const T0: u64 = 1_767_571_200 * SEC;

    fn engine(f: impl FnOnce(&mut RiskLimits)) -> RiskEngine {
        let mut l = RiskLimits::unlimited();
        f(&mut l);
        RiskEngine::new(l)
    }

    fn eval(
        r: &mut RiskEngine,
        now: u64,
        ledger: &Ledger,
        mark: i64,
        venue: Option<(i64, Money)>,
    ) -> Vec<RiskEvent> {
        let mut v = Vec::new();
        r.evaluate(now, ledger, mark, venue, &mut |e| v.push(e));
        v
    }

    fn set(codes: &[ReasonCode]) -> Reasons {
        codes.iter().copied().collect()
    }

    #[test]
    fn drawdown_aborts_and_latches() {
        let mut r = engine(|l| l.max_drawdown = 50 * M);
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 100, 10, 0);
        assert!(eval(&mut r, T0, &led, 110, None).is_empty(), "peak 1100");
        assert!(
            eval(&mut r, T0 + 1, &led, 105, None).is_empty(),
            "drawdown 50: not more"
        );
        let ev = eval(&mut r, T0 + 2, &led, 104, None);
        assert_eq!(ev.len(), 1);
        let e = ev[0];
        assert_eq!((e.from, e.to), (RiskStatus::Ok, RiskStatus::Abort));
        assert_eq!(e.raised, set(&[ReasonCode::MaxDrawdownExceeded]));
        assert_eq!(e.snapshot.drawdown, 60 * M);
        assert_eq!(e.snapshot.equity_peak, 1_100 * M);
        assert_eq!(
            r.reasons().primary().map(ReasonCode::as_str),
            Some("max_drawdown_exceeded")
        );
        // Recovery does not clear an abort.
        assert!(eval(&mut r, T0 + 3, &led, 120, None).is_empty());
        assert_eq!(r.status(), RiskStatus::Abort);
    }

    #[test]
    fn daily_loss_degrades_until_the_next_trading_day() {
        // Trading day starts at 00:00 JST = 15:00 UTC the day before.
        let offset = -9 * 3600 * SEC as i64;
        let mut r = engine(|l| {
            l.daily_loss_limit = 20 * M;
            l.trading_day_offset_ns = offset;
        });
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 100, 10, 0);
        assert!(eval(&mut r, T0, &led, 100, None).is_empty());
        assert!(
            eval(&mut r, T0 + SEC, &led, 98, None).is_empty(),
            "loss 20: not more"
        );
        let ev = eval(&mut r, T0 + 2 * SEC, &led, 97, None);
        assert_eq!(
            (ev[0].from, ev[0].to),
            (RiskStatus::Ok, RiskStatus::Degraded)
        );
        assert_eq!(ev[0].reasons, set(&[ReasonCode::DailyLossLimitExceeded]));
        assert_eq!(ev[0].snapshot.day_pnl, -30 * M);
        // Back to a profit the same day: still degraded.
        assert!(eval(&mut r, T0 + 3600 * SEC, &led, 110, None).is_empty());
        assert_eq!(r.status(), RiskStatus::Degraded);
        // 14:59:59 UTC is still the same Tokyo day; 15:00 UTC starts the next.
        assert!(eval(&mut r, T0 + (15 * 3600 - 1) * SEC, &led, 110, None).is_empty());
        let ev = eval(&mut r, T0 + 15 * 3600 * SEC, &led, 110, None);
        assert_eq!(
            (ev[0].from, ev[0].to),
            (RiskStatus::Degraded, RiskStatus::Ok)
        );
        assert_eq!(ev[0].cleared, set(&[ReasonCode::DailyLossLimitExceeded]));
        // The new day measures from its own start.
        assert!(eval(&mut r, T0 + 16 * 3600 * SEC, &led, 108, None).is_empty());
        assert_eq!(eval(&mut r, T0 + 17 * 3600 * SEC, &led, 107, None).len(), 1);
    }

    #[test]
    fn position_size_degrades_and_clears() {
        let mut r = engine(|l| l.max_position_size = 5);
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 100, 5, 0);
        assert!(eval(&mut r, T0, &led, 100, None).is_empty());
        led.on_fill(T0, Buy, 100, 1, 0);
        let ev = eval(&mut r, T0, &led, 100, None);
        assert_eq!(ev[0].to, RiskStatus::Degraded);
        assert_eq!(ev[0].raised, set(&[ReasonCode::MaxPositionSizeExceeded]));
        led.on_fill(T0, Sell, 100, 1, 0);
        let ev = eval(&mut r, T0, &led, 100, None);
        assert_eq!(
            (ev[0].from, ev[0].to),
            (RiskStatus::Degraded, RiskStatus::Ok)
        );
        // Short side counts too.
        led.on_fill(T0, Sell, 100, 11, 0);
        assert_eq!(
            eval(&mut r, T0, &led, 100, None)[0].to,
            RiskStatus::Degraded
        );
    }

    #[test]
    fn trade_loss_aborts_on_a_closed_trade() {
        let mut r = engine(|l| l.max_trade_loss = 10 * M);
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 100, 2, 0);
        led.on_fill(T0, Sell, 95, 2, 0); // -10: not more
        assert!(eval(&mut r, T0, &led, 95, None).is_empty());
        led.on_fill(T0, Sell, 95, 1, 0);
        led.on_fill(T0, Buy, 105, 1, 1); // -10 and a fee
        let ev = eval(&mut r, T0, &led, 105, None);
        assert_eq!((ev[0].from, ev[0].to), (RiskStatus::Ok, RiskStatus::Abort));
        assert_eq!(ev[0].reasons, set(&[ReasonCode::MaxTradeLossExceeded]));
        assert_eq!(ev[0].snapshot.worst_trade_net, -10 * M - 1);
    }

    #[test]
    fn trade_loss_aborts_on_an_open_trade_at_the_mark() {
        let mut r = engine(|l| l.max_trade_loss = 10 * M);
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Sell, 100, 4, 0);
        led.on_fill(T0, Buy, 101, 2, 0); // realized -2 within the trade
        assert!(eval(&mut r, T0, &led, 104, None).is_empty(), "-2 - 8 = -10");
        let ev = eval(&mut r, T0, &led, 105, None);
        assert_eq!(ev[0].raised, set(&[ReasonCode::MaxTradeLossExceeded]));
        assert_eq!(r.status(), RiskStatus::Abort);
    }

    #[test]
    fn leverage_degrades_and_clears() {
        // 3x = 3_000_000 cbps.
        let mut r = engine(|l| l.max_leverage_cbps = 3_000_000);
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 300, 10, 0);
        // Notional 3000 on equity 1000: exactly 3x.
        assert!(eval(&mut r, T0, &led, 300, None).is_empty());
        assert_eq!(r.snapshot().leverage_cbps, 3_000_000);
        // Notional 3010 on equity 1010: below 3x; at 290: 2900 / 900 > 3x.
        assert!(eval(&mut r, T0, &led, 301, None).is_empty());
        let ev = eval(&mut r, T0, &led, 290, None);
        assert_eq!(ev[0].to, RiskStatus::Degraded);
        assert_eq!(ev[0].raised, set(&[ReasonCode::MaxLeverageExceeded]));
        led.on_fill(T0, Sell, 290, 5, 0);
        let ev = eval(&mut r, T0, &led, 290, None);
        assert_eq!(ev[0].cleared, set(&[ReasonCode::MaxLeverageExceeded]));
        assert_eq!(r.status(), RiskStatus::Ok);
    }

    #[test]
    fn measured_wallet_drift_degrades_and_a_reconcile_mismatch_aborts() {
        let mut r = engine(|l| l.max_wallet_drift = 5 * M);
        let led = Ledger::new(1_000 * M);
        r.set_wallet_drift(6 * M);
        let ev = eval(&mut r, T0, &led, 100, None);
        assert_eq!(r.reasons(), set(&[ReasonCode::WalletDriftExceeded]));
        assert_eq!(ev[0].snapshot.wallet_drift, Some(6 * M));
        r.set_wallet_drift(5 * M);
        eval(&mut r, T0 + SEC, &led, 100, None);
        assert!(r.reasons().is_empty(), "at the limit is within it");
        let mut ev = Vec::new();
        r.reconcile_mismatch(T0 + 2 * SEC, &mut |e| ev.push(e));
        assert_eq!(r.status(), RiskStatus::Abort);
        assert_eq!(ev[0].raised, set(&[ReasonCode::ReconcileMismatch]));
        eval(&mut r, T0 + 3 * SEC, &led, 100, None);
        assert_eq!(r.status(), RiskStatus::Abort, "latched");
    }

    #[test]
    fn wallet_drift_degrades_and_clears() {
        let mut r = engine(|l| l.max_wallet_drift = 5 * M);
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 100, 2, 30);
        let ours = (led.position(), led.cash());
        assert!(eval(&mut r, T0, &led, 100, Some(ours)).is_empty());
        assert_eq!(r.snapshot().wallet_drift, Some(0));
        // The venue saw one more lot than we did: worth 100 at the mark.
        let ev = eval(&mut r, T0, &led, 100, Some((3, ours.1)));
        assert_eq!(ev[0].to, RiskStatus::Degraded);
        assert_eq!(ev[0].raised, set(&[ReasonCode::WalletDriftExceeded]));
        assert_eq!(ev[0].snapshot.wallet_drift, Some(100 * M));
        // No new venue balance: the last drift stands.
        assert!(eval(&mut r, T0, &led, 100, None).is_empty());
        // Cash off by exactly the limit: not more.
        let ev = eval(&mut r, T0, &led, 100, Some((2, ours.1 - 5 * M)));
        assert_eq!(ev[0].to, RiskStatus::Ok);
        assert_eq!(
            eval(&mut r, T0, &led, 100, Some((2, ours.1 + 5 * M + 1)))[0].to,
            RiskStatus::Degraded
        );
    }

    #[test]
    fn abort_wins_over_degraded_and_degraded_reasons_still_clear() {
        let mut r = engine(|l| {
            l.max_drawdown = 50 * M;
            l.max_position_size = 5;
        });
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 100, 10, 0);
        let ev = eval(&mut r, T0, &led, 90, None);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].from, ev[0].to), (RiskStatus::Ok, RiskStatus::Abort));
        assert_eq!(
            ev[0].raised,
            set(&[
                ReasonCode::MaxDrawdownExceeded,
                ReasonCode::MaxPositionSizeExceeded
            ])
        );
        assert_eq!(r.reasons().primary(), Some(ReasonCode::MaxDrawdownExceeded));
        led.on_fill(T0, Sell, 90, 10, 0);
        let ev = eval(&mut r, T0, &led, 90, None);
        assert_eq!(
            (ev[0].from, ev[0].to),
            (RiskStatus::Abort, RiskStatus::Abort)
        );
        assert_eq!(ev[0].cleared, set(&[ReasonCode::MaxPositionSizeExceeded]));
        assert_eq!(r.reasons(), set(&[ReasonCode::MaxDrawdownExceeded]));
    }

    fn report(kind: ExecKind) -> ExecReport {
        ExecReport {
            id: 1,
            ts_ns: T0,
            kind,
        }
    }

    #[test]
    fn a_venue_auth_error_while_running_aborts_at_once() {
        let mut r = engine(|_| {});
        let mut ev = Vec::new();
        r.on_exec(
            &report(ExecKind::Rejected {
                reason: RejectReason::Auth,
            }),
            &mut |e| ev.push(e),
        );
        assert_eq!(r.status(), RiskStatus::Abort);
        assert_eq!(r.reasons(), set(&[ReasonCode::VenueAuthFailed]));
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn consecutive_failures_abort_after_the_limit() {
        let mut r = engine(|_| {});
        let mut ev = Vec::new();
        let venue = report(ExecKind::Rejected {
            reason: RejectReason::Venue,
        });
        for _ in 0..4 {
            r.on_exec(&venue, &mut |e| ev.push(e));
        }
        r.on_exec(&report(ExecKind::Accepted), &mut |e| ev.push(e));
        assert_eq!(
            r.consecutive_failures(),
            0,
            "an acceptance resets the count"
        );
        // Not failures: post-only crosses, our own refusals, cancels of orders already gone.
        for reason in [
            RejectReason::PostOnlyWouldCross,
            RejectReason::Risk,
            RejectReason::RateLimit,
        ] {
            r.on_exec(&report(ExecKind::Rejected { reason }), &mut |e| ev.push(e));
        }
        let gone = report(ExecKind::CancelRejected {
            reason: RejectReason::UnknownOrder,
        });
        r.on_exec(&gone, &mut |e| ev.push(e));
        assert_eq!(r.consecutive_failures(), 0);
        let net = report(ExecKind::CancelRejected {
            reason: RejectReason::Network,
        });
        for _ in 0..5 {
            r.on_exec(&net, &mut |e| ev.push(e));
        }
        assert!(ev.is_empty(), "5 failures are tolerated");
        assert_eq!(r.status(), RiskStatus::Ok);
        r.on_exec(&venue, &mut |e| ev.push(e));
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].to, RiskStatus::Abort);
        assert_eq!(
            ev[0].reasons,
            set(&[ReasonCode::ConsecutiveFailuresExceeded])
        );
        assert_eq!(ev[0].snapshot.consecutive_failures, 6);
        r.on_exec(&report(ExecKind::Accepted), &mut |e| ev.push(e));
        assert_eq!(r.status(), RiskStatus::Abort, "latched");
    }

    #[test]
    fn kill_switch_aborts_and_names_its_source() {
        let mut r = engine(|l| l.flatten_on_abort = false);
        let mut led = Ledger::new(1_000 * M);
        led.on_fill(T0, Buy, 100, 3, 0);
        let mut ev = Vec::new();
        r.kill(T0 + 5, KillSource::Operator, &mut |e| ev.push(e));
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].ts_ns, T0 + 5);
        assert_eq!(ev[0].to, RiskStatus::Abort);
        assert_eq!(ev[0].kill_source, Some(KillSource::Operator));
        assert_eq!(
            r.reasons().primary().map(ReasonCode::as_str),
            Some("kill_switch")
        );
        // A later evaluation keeps it.
        assert!(eval(&mut r, T0 + 6, &led, 100, None).is_empty());
        // Without flatten_on_abort not even a reduce-only order passes.
        assert!(!r.should_flatten());
        assert_eq!(
            r.pre_trade(T0, Sell, 100, 3, &led, WorkingLots::NONE, true),
            Err(RejectReason::Risk)
        );
    }

    #[test]
    fn pre_trade_gates_by_status_size_position_and_rate() {
        let mut r = engine(|l| {
            l.max_order_size = 5;
            l.max_position_size = 8;
            l.max_orders_per_sec = 2;
            l.order_burst = 3;
            l.max_drawdown = 100 * M;
        });
        let mut led = Ledger::new(1_000 * M);
        assert_eq!(
            r.pre_trade(T0, Buy, 100, 0, &led, WorkingLots::NONE, false),
            Err(RejectReason::Invalid)
        );
        assert_eq!(
            r.pre_trade(T0, Buy, 100, 6, &led, WorkingLots::NONE, false),
            Err(RejectReason::Risk)
        );
        assert_eq!(
            r.pre_trade(T0, Buy, 100, 5, &led, WorkingLots::NONE, true),
            Err(RejectReason::Risk),
            "flat: nothing to reduce"
        );
        assert_eq!(
            r.pre_trade(T0, Buy, 100, 5, &led, WorkingLots::NONE, false),
            Ok(())
        );
        led.on_fill(T0, Buy, 100, 5, 0);
        assert_eq!(
            r.pre_trade(T0, Buy, 100, 4, &led, WorkingLots::NONE, false),
            Err(RejectReason::Risk),
            "9 > 8"
        );
        assert_eq!(
            r.pre_trade(T0, Buy, 100, 3, &led, WorkingLots::NONE, false),
            Ok(())
        );
        assert_eq!(
            r.pre_trade(T0, Sell, 100, 5, &led, WorkingLots::NONE, true),
            Ok(())
        );
        assert_eq!(
            r.pre_trade(T0, Sell, 100, 1, &led, WorkingLots::NONE, true),
            Err(RejectReason::RateLimit)
        );
        assert_eq!(
            r.pre_trade(T0 + SEC / 2, Sell, 100, 1, &led, WorkingLots::NONE, true),
            Ok(())
        );
        assert_eq!(r.counters().rate_limited, 1);

        // Degraded by position: reduce-only only.
        led.on_fill(T0, Buy, 100, 4, 0);
        eval(&mut r, T0 + SEC, &led, 100, None);
        assert_eq!(r.status(), RiskStatus::Degraded);
        assert_eq!(
            r.pre_trade(T0 + SEC, Buy, 100, 1, &led, WorkingLots::NONE, false),
            Err(RejectReason::Risk)
        );
        assert_eq!(
            r.pre_trade(T0 + SEC, Sell, 100, 1, &led, WorkingLots::NONE, false),
            Err(RejectReason::Risk)
        );
        assert_eq!(
            r.pre_trade(T0 + SEC, Sell, 100, 10, &led, WorkingLots::NONE, true),
            Err(RejectReason::Risk),
            "would flip"
        );
        assert_eq!(
            r.pre_trade(T0 + SEC, Sell, 100, 4, &led, WorkingLots::NONE, true),
            Ok(())
        );

        // Abort with flatten_on_abort: only reduce-only orders.
        eval(&mut r, T0 + 2 * SEC, &led, 80, None);
        assert_eq!(r.status(), RiskStatus::Abort);
        assert!(r.should_flatten());
        assert_eq!(
            r.pre_trade(T0 + 2 * SEC, Buy, 80, 1, &led, WorkingLots::NONE, false),
            Err(RejectReason::Risk)
        );
        assert_eq!(
            r.pre_trade(T0 + 2 * SEC, Sell, 80, 5, &led, WorkingLots::NONE, true),
            Ok(())
        );
    }

    /// Working orders count: two entries of 5 against a limit of 8 cannot both pass, and a
    /// reduce-only exit cannot pass while other working sells already cover the position.
    #[test]
    fn pre_trade_counts_working_orders() {
        let mut r = engine(|l| {
            l.max_order_size = 5;
            l.max_position_size = 8;
        });
        let mut led = Ledger::new(1_000 * M);
        let w = |buy, sell| WorkingLots { buy, sell };
        assert_eq!(r.pre_trade(T0, Buy, 100, 5, &led, w(0, 0), false), Ok(()));
        assert_eq!(
            r.pre_trade(T0, Buy, 100, 5, &led, w(5, 0), false),
            Err(RejectReason::Risk),
            "5 filled-to-be + 5 > 8"
        );
        led.on_fill(T0, Buy, 100, 4, 0);
        assert_eq!(r.pre_trade(T0, Sell, 100, 4, &led, w(1, 0), true), Ok(()));
        assert_eq!(
            r.pre_trade(T0, Sell, 100, 4, &led, w(1, 4), true),
            Err(RejectReason::Risk),
            "a second exit of the whole position would flip it"
        );
    }

    #[test]
    fn unknown_report_degrades_until_restart() {
        let mut r = engine(|_| {});
        let led = Ledger::new(1_000 * M);
        let mut ev = Vec::new();
        r.unknown_report(T0, &mut |e| ev.push(e));
        assert_eq!(r.status(), RiskStatus::Degraded);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].raised.primary(), Some(ReasonCode::UnknownOrderReport));
        eval(&mut r, T0 + SEC, &led, 100, None);
        assert_eq!(r.status(), RiskStatus::Degraded, "latched");
        assert_eq!(r.counters().unknown_reports, 1);
    }

    #[test]
    fn reason_names_and_severities() {
        let names: Vec<&str> = ReasonCode::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), 11);
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "duplicate {n}");
        }
        let all: Reasons = ReasonCode::ALL.into_iter().collect();
        assert_eq!(all.iter().count(), 11);
        assert_eq!(all.status(), RiskStatus::Abort);
        let d = set(&[
            ReasonCode::MaxLeverageExceeded,
            ReasonCode::WalletDriftExceeded,
        ]);
        assert_eq!(d.status(), RiskStatus::Degraded);
        assert_eq!(d.primary(), Some(ReasonCode::MaxLeverageExceeded));
        assert_eq!(Reasons::EMPTY.status(), RiskStatus::Ok);
        assert_eq!(RiskStatus::Abort.as_str(), "abort");
    }
}
