//! Our own books: position, cash, fees, realized PnL and round-trip (trade) accounting.
//!
//! Everything is exact [`Money`]: the value of `px` ticks on `qty` lots is
//! `px * qty * MONEY_PER_TICK_LOT`. The open position carries a signed cost basis (the Money
//! value of the open lots at their entry prices, negative when short). Closing part of a
//! position removes the pro-rata share of the basis, `basis * closed / |position|`, truncated
//! toward zero; the remainder stays in the basis, so realized PnL is exact whenever the
//! position is flat (the truncation moves at most one Money unit, a millionth of a tick-lot,
//! between realized and unrealized while the position is open).
//!
//! Identity kept after every fill: `equity(mark) = initial_equity + cash + position * mark`
//! `= initial_equity + realized + unrealized(mark) - fees`.

use crate::msg::{Money, OrderSide, MONEY_PER_TICK_LOT};

/// Money value of `px` ticks on `qty` lots.
#[inline]
pub fn value(px: i64, qty: i64) -> Money {
    px as i128 * qty as i128 * MONEY_PER_TICK_LOT
}

/// The cost basis (Money, signed like `lots`) of `lots` at the average entry price `avg_px`, a
/// decimal in the quote currency that may be finer than the tick (a venue's `avgPrice`):
/// `avg_px / tick * lots * MONEY_PER_TICK_LOT`, exact to one Money unit.
pub fn basis_at(
    inst: &crate::instrument::Instrument,
    avg_px: &str,
    lots: i64,
) -> Result<Money, String> {
    // avg_px in units of 10^-(tick decimals + 6): one tick is step_units * 10^6 of them.
    let d = inst.tick.decimals() + 6;
    let p = crate::num::parse_units(avg_px.trim().as_bytes(), d)
        .map_err(|e| format!("entry price \"{avg_px}\": {e}"))?;
    if p < 0 {
        return Err(format!("entry price \"{avg_px}\" is negative"));
    }
    let step = inst.tick.step_units() as i128;
    Ok(p as i128 * lots as i128 * MONEY_PER_TICK_LOT / (step * 1_000_000))
}

/// One round trip: from flat, through any number of fills, back to flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedTrade {
    /// `Buy` for a long round trip, `Sell` for a short one.
    pub side: OrderSide,
    /// Lots bought (for a long) or sold (for a short) to open and add; equal to the lots closed.
    pub qty: i64,
    /// Largest absolute position held during the trade.
    pub max_position: i64,
    /// Money value of the entry fills; the average entry price in ticks is the exact rational
    /// `entry_value / (qty * MONEY_PER_TICK_LOT)`.
    pub entry_value: Money,
    /// Money value of the exit fills; average exit price as for the entry.
    pub exit_value: Money,
    /// `exit_value - entry_value` for a long, `entry_value - exit_value` for a short.
    pub gross_pnl: Money,
    /// Fees paid on the trade's fills (negative for net rebates).
    pub fees: Money,
    /// `gross_pnl - fees`.
    pub net_pnl: Money,
    pub open_ns: u64,
    pub close_ns: u64,
}

impl ClosedTrade {
    pub fn hold_ns(&self) -> u64 {
        self.close_ns.saturating_sub(self.open_ns)
    }

    /// Average entry price as an exact fraction of ticks: `(numerator, denominator)`.
    pub fn entry_px_ratio(&self) -> (Money, Money) {
        (self.entry_value, self.qty as i128 * MONEY_PER_TICK_LOT)
    }

    /// Average exit price as an exact fraction of ticks: `(numerator, denominator)`.
    pub fn exit_px_ratio(&self) -> (Money, Money) {
        (self.exit_value, self.qty as i128 * MONEY_PER_TICK_LOT)
    }
}

/// The trade in progress.
#[derive(Debug, Clone, Copy, Default)]
struct OpenTrade {
    open_ns: u64,
    entry_qty: i64,
    entry_value: Money,
    exit_value: Money,
    fees: Money,
    max_position: i64,
}

/// Position, cash and PnL of one instrument.
#[derive(Debug, Clone)]
pub struct Ledger {
    initial_equity: Money,
    /// Lots, positive long.
    position: i64,
    /// Cash change since start: `-sum(side * px * qty) * MONEY_PER_TICK_LOT - fees`.
    cash: Money,
    /// Fees paid since start (negative for net rebates).
    fees: Money,
    /// Realized gross PnL since start (fees not deducted).
    realized: Money,
    /// Signed cost basis of the open position (negative when short).
    basis: Money,
    trade: OpenTrade,
    trades_closed: u64,
    wins: u64,
    /// Most negative net PnL of a closed trade (0 when none lost).
    worst_trade_net: Money,
    last_trade: Option<ClosedTrade>,
    equity_peak: Money,
    max_drawdown: Money,
    fills: u64,
    volume_lots: i64,
}

/// What [`Ledger::mark`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkResult {
    pub unrealized: Money,
    pub equity: Money,
    pub equity_peak: Money,
    /// `equity_peak - equity` (never negative).
    pub drawdown: Money,
}

impl Ledger {
    /// A flat ledger starting with `initial_equity` (Money).
    pub fn new(initial_equity: Money) -> Ledger {
        Ledger {
            initial_equity,
            position: 0,
            cash: 0,
            fees: 0,
            realized: 0,
            basis: 0,
            trade: OpenTrade::default(),
            trades_closed: 0,
            wins: 0,
            worst_trade_net: 0,
            last_trade: None,
            equity_peak: initial_equity,
            max_drawdown: 0,
            fills: 0,
            volume_lots: 0,
        }
    }

    /// Starts from a position found at the venue (start-up reconciliation): `position` lots
    /// whose entry cost `basis` (Money, signed like the position), as if bought (sold) at the
    /// venue's entry price: cash `-basis`, nothing realized, a trade open since `ts_ns`. Only
    /// on a ledger that has booked nothing yet.
    pub fn adopt(&mut self, ts_ns: u64, position: i64, basis: Money) {
        debug_assert_eq!(self.fills, 0, "adopt before any fill");
        if position == 0 {
            return;
        }
        self.position = position;
        self.basis = basis;
        self.cash = -basis;
        self.trade = OpenTrade {
            open_ns: ts_ns,
            entry_qty: position.abs(),
            entry_value: basis.abs(),
            exit_value: 0,
            fees: 0,
            max_position: position.abs(),
        };
    }

    /// Books one fill of `qty > 0` lots at `px` with `fee` (negative for a rebate). Returns the
    /// round trip it closed, if the position went back to flat (or through flat: a fill that
    /// flips the position closes the old trade and opens a new one with the rest, the fee
    /// split pro rata). Fills with `qty <= 0` are ignored.
    pub fn on_fill(
        &mut self,
        ts_ns: u64,
        side: OrderSide,
        px: i64,
        qty: i64,
        fee: Money,
    ) -> Option<ClosedTrade> {
        if qty <= 0 {
            return None;
        }
        let s = side.sign();
        self.fills += 1;
        self.volume_lots = self.volume_lots.saturating_add(qty);
        self.cash -= s as i128 * value(px, qty) + fee;
        self.fees += fee;

        let pos = self.position;
        if pos == 0 || pos.signum() == s {
            // Opening or adding.
            if pos == 0 {
                self.trade = OpenTrade {
                    open_ns: ts_ns,
                    ..OpenTrade::default()
                };
            }
            self.open_part(s, px, qty, fee);
            return None;
        }
        // Reducing, closing or flipping.
        let closing = qty.min(pos.abs());
        let close_fee = if closing == qty {
            fee
        } else {
            fee * closing as i128 / qty as i128
        };
        let removed = self.basis * closing as i128 / pos.abs() as i128;
        let exit = value(px, closing);
        // Closing a long sells (+exit - basis share); closing a short buys (removed is negative).
        self.realized += -(s as i128) * exit - removed;
        self.basis -= removed;
        self.position += s * closing;
        self.trade.exit_value += exit;
        self.trade.fees += close_fee;
        if self.position != 0 {
            return None;
        }
        debug_assert_eq!(self.basis, 0);
        let t = self.trade;
        let long = s < 0; // a sell closed it
        let gross = if long {
            t.exit_value - t.entry_value
        } else {
            t.entry_value - t.exit_value
        };
        let closed = ClosedTrade {
            side: if long {
                OrderSide::Buy
            } else {
                OrderSide::Sell
            },
            qty: t.entry_qty,
            max_position: t.max_position,
            entry_value: t.entry_value,
            exit_value: t.exit_value,
            gross_pnl: gross,
            fees: t.fees,
            net_pnl: gross - t.fees,
            open_ns: t.open_ns,
            close_ns: ts_ns,
        };
        self.trades_closed += 1;
        if closed.net_pnl > 0 {
            self.wins += 1;
        }
        self.worst_trade_net = self.worst_trade_net.min(closed.net_pnl);
        self.last_trade = Some(closed);
        self.trade = OpenTrade {
            open_ns: ts_ns,
            ..OpenTrade::default()
        };
        let rest = qty - closing;
        if rest > 0 {
            self.open_part(s, px, rest, fee - close_fee);
        }
        Some(closed)
    }

    fn open_part(&mut self, s: i64, px: i64, qty: i64, fee: Money) {
        let v = value(px, qty);
        self.basis += s as i128 * v;
        self.position += s * qty;
        self.trade.entry_qty += qty;
        self.trade.entry_value += v;
        self.trade.fees += fee;
        self.trade.max_position = self.trade.max_position.max(self.position.abs());
    }

    /// Unrealized PnL at `mark_px`, and updates the equity peak and the maximum drawdown.
    pub fn mark(&mut self, mark_px: i64) -> MarkResult {
        let unrealized = self.unrealized(mark_px);
        let equity = self.initial_equity + self.realized + unrealized - self.fees;
        self.equity_peak = self.equity_peak.max(equity);
        let drawdown = self.equity_peak - equity;
        self.max_drawdown = self.max_drawdown.max(drawdown);
        MarkResult {
            unrealized,
            equity,
            equity_peak: self.equity_peak,
            drawdown,
        }
    }

    /// Unrealized PnL of the open position at `mark_px` (0 when flat).
    #[inline]
    pub fn unrealized(&self, mark_px: i64) -> Money {
        if self.position == 0 {
            0
        } else {
            value(mark_px, self.position) - self.basis
        }
    }

    /// `initial_equity + realized + unrealized(mark_px) - fees`.
    #[inline]
    pub fn equity(&self, mark_px: i64) -> Money {
        self.initial_equity + self.realized + self.unrealized(mark_px) - self.fees
    }

    /// Money value of the open position at `px` (absolute).
    #[inline]
    pub fn notional(&self, px: i64) -> Money {
        value(px, self.position).abs()
    }

    /// Net PnL of the trade in progress at `mark_px`: what it has realized so far plus the
    /// unrealized PnL, minus its fees (0 when flat).
    pub fn open_trade_net(&self, mark_px: i64) -> Money {
        if self.position == 0 {
            return 0;
        }
        let t = &self.trade;
        // Signed flows of the trade: entries and exits valued at fill prices, the open part at mark.
        let s = self.position.signum() as i128;
        s * (t.exit_value - t.entry_value) + value(mark_px, self.position) - t.fees
    }

    pub fn initial_equity(&self) -> Money {
        self.initial_equity
    }
    /// Lots, positive long, negative short.
    pub fn position(&self) -> i64 {
        self.position
    }
    /// Cash change since start (fees included).
    pub fn cash(&self) -> Money {
        self.cash
    }
    /// Fees paid since start (negative for net rebates).
    pub fn fees(&self) -> Money {
        self.fees
    }
    /// Realized gross PnL since start (before fees).
    pub fn realized(&self) -> Money {
        self.realized
    }
    /// Signed cost basis of the open position.
    pub fn cost_basis(&self) -> Money {
        self.basis
    }
    /// Highest equity seen by [`Ledger::mark`] (starts at the initial equity).
    pub fn equity_peak(&self) -> Money {
        self.equity_peak
    }
    /// Largest drawdown seen by [`Ledger::mark`].
    pub fn max_drawdown(&self) -> Money {
        self.max_drawdown
    }
    pub fn trades_closed(&self) -> u64 {
        self.trades_closed
    }
    /// Closed trades with positive net PnL.
    pub fn wins(&self) -> u64 {
        self.wins
    }
    /// Most negative net PnL of a closed trade (0 when no trade lost money).
    pub fn worst_trade_net(&self) -> Money {
        self.worst_trade_net
    }
    pub fn last_trade(&self) -> Option<ClosedTrade> {
        self.last_trade
    }
    /// Start time of the trade in progress (meaningful when not flat).
    pub fn trade_open_ns(&self) -> u64 {
        self.trade.open_ns
    }
    pub fn fills(&self) -> u64 {
        self.fills
    }
    pub fn volume_lots(&self) -> i64 {
        self.volume_lots
    }
}

#[cfg(test)]
mod adopt_tests {
    use super::*;
    use crate::instrument::{InstrumentTable, Market, Venue};

    #[test]
    fn an_adopted_position_closes_at_its_entry_price() {
        let inst = *InstrumentTable::default()
            .get(Venue::Bybit, Market::Linear, "BTCUSDT")
            .unwrap();
        // 0.010 BTC long at 64000.05 (finer than the 0.1 tick): basis 10 lots * 640000.5 ticks.
        let b = basis_at(&inst, "64000.05", 10).unwrap();
        assert_eq!(b, 6_400_005 * MONEY_PER_TICK_LOT);
        assert_eq!(basis_at(&inst, "64000.05", -10).unwrap(), -b);
        assert!(basis_at(&inst, "abc", 1).is_err());
        let mut l = Ledger::new(0);
        l.adopt(1, 10, b);
        assert_eq!((l.position(), l.cash(), l.cost_basis()), (10, -b, b));
        // Sold at 64000.1: gross 0.005 * 0.010... = 10 lots * 0.5 tick.
        let px = inst.tick.parse(b"64000.1").unwrap();
        let t = l.on_fill(2, OrderSide::Sell, px, 10, 0).expect("closed");
        assert_eq!(t.gross_pnl, 5 * MONEY_PER_TICK_LOT);
        assert_eq!(l.realized(), 5 * MONEY_PER_TICK_LOT);
        assert_eq!(l.cash(), l.realized());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::OrderSide::{Buy, Sell};
    use proptest::prelude::*;

    const M: i128 = MONEY_PER_TICK_LOT;

    #[test]
    fn long_round_trip_with_scale_in_and_partial_exit() {
        let mut l = Ledger::new(1_000 * M);
        assert_eq!(l.on_fill(10, Buy, 100, 2, 5), None);
        assert_eq!(l.on_fill(20, Buy, 103, 1, 3), None);
        assert_eq!(l.position(), 3);
        assert_eq!(l.cost_basis(), 303 * M);
        // Mark at 102: 3*102 - 303 = 3 tick-lots.
        assert_eq!(l.unrealized(102), 3 * M);
        assert_eq!(l.open_trade_net(102), 3 * M - 8);
        assert_eq!(l.on_fill(30, Sell, 104, 1, 2), None);
        // Removed basis 303/3 = 101 per lot; realized 104 - 101 = 3.
        assert_eq!(l.realized(), 3 * M);
        let t = l
            .on_fill(50, Sell, 99, 2, 2)
            .expect("flat closes the trade");
        // Realized on the rest: 2*99 - 202 = -4 → total -1.
        assert_eq!(l.realized(), -M);
        assert_eq!(t.side, Buy);
        assert_eq!(t.qty, 3);
        assert_eq!(t.max_position, 3);
        assert_eq!(t.entry_value, 303 * M);
        assert_eq!(t.exit_value, 302 * M);
        assert_eq!(t.gross_pnl, -M);
        assert_eq!(t.fees, 12);
        assert_eq!(t.net_pnl, -M - 12);
        assert_eq!(t.hold_ns(), 40);
        assert_eq!(t.entry_px_ratio(), (303 * M, 3 * M));
        assert_eq!(l.cash(), -M - 12);
        assert_eq!(
            l.equity(1),
            1_000 * M - M - 12,
            "flat: mark does not matter"
        );
        assert_eq!(l.worst_trade_net(), -M - 12);
        assert_eq!(l.trades_closed(), 1);
        assert_eq!(l.wins(), 0);
    }

    #[test]
    fn short_trade_and_flip_split_fees() {
        let mut l = Ledger::new(0);
        assert_eq!(l.on_fill(1, Sell, 200, 2, 10), None);
        assert_eq!(l.cost_basis(), -400 * M);
        assert_eq!(l.unrealized(190), 20 * M);
        // Buy 5 at 190: closes 2 (gross +20), opens 3 long; fee 50 split 20 / 30.
        let t = l.on_fill(2, Buy, 190, 5, 50).unwrap();
        assert_eq!(t.side, Sell);
        assert_eq!(t.gross_pnl, 20 * M);
        assert_eq!(t.fees, 30);
        assert_eq!(t.net_pnl, 20 * M - 30);
        assert_eq!(l.position(), 3);
        assert_eq!(l.cost_basis(), 570 * M);
        assert_eq!(l.trade_open_ns(), 2);
        let t2 = l.on_fill(3, Sell, 191, 3, -3).unwrap();
        assert_eq!(t2.side, Buy);
        assert_eq!(t2.gross_pnl, 3 * M);
        assert_eq!(t2.fees, 30 - 3);
        assert_eq!(l.cash(), t.net_pnl + t2.net_pnl);
        assert_eq!(l.fees(), 57);
    }

    #[test]
    fn thirds_keep_flat_pnl_exact() {
        // Basis 100 split over 3 lots is not a whole number: realized stays exact at flat.
        let mut l = Ledger::new(0);
        l.on_fill(0, Buy, 33, 1, 0);
        l.on_fill(0, Buy, 34, 2, 0);
        l.on_fill(0, Sell, 50, 1, 0);
        l.on_fill(0, Sell, 50, 1, 0);
        let t = l.on_fill(0, Sell, 50, 1, 0).unwrap();
        assert_eq!(t.gross_pnl, 150 * M - 101 * M);
        assert_eq!(l.realized(), 49 * M);
        assert_eq!(l.cost_basis(), 0);
    }

    #[test]
    fn drawdown_tracks_peak() {
        let mut l = Ledger::new(100 * M);
        l.on_fill(0, Buy, 10, 1, 0);
        assert_eq!(l.mark(15).equity, 105 * M);
        let m = l.mark(8);
        assert_eq!(m.equity_peak, 105 * M);
        assert_eq!(m.drawdown, 7 * M);
        l.mark(12);
        assert_eq!(l.max_drawdown(), 7 * M);
        assert_eq!(l.notional(12), 12 * M);
    }

    fn fill_strategy() -> impl Strategy<Value = Vec<(bool, i64, i64, i64)>> {
        prop::collection::vec(
            (any::<bool>(), 1i64..10_000, 1i64..50, -500i64..5_000),
            1..60,
        )
    }

    proptest! {
        #[test]
        fn cash_identity_and_flat_pnl(fills in fill_strategy(), mark in 1i64..10_000) {
            let mut l = Ledger::new(7 * M);
            let mut flows: Money = 0;
            let mut closed_net: Money = 0;
            let mut closed_since_flat: Money = 0;
            for (i, &(buy, px, qty, fee)) in fills.iter().enumerate() {
                let side = if buy { Buy } else { Sell };
                flows -= side.sign() as i128 * value(px, qty) + fee as i128;
                if let Some(t) = l.on_fill(i as u64, side, px, qty, fee as i128) {
                    prop_assert_eq!(t.net_pnl, t.gross_pnl - t.fees);
                    closed_net += t.net_pnl;
                    closed_since_flat = closed_net;
                }
                prop_assert_eq!(l.cash(), flows);
                // equity = initial + cash + position * mark, both ways.
                prop_assert_eq!(l.equity(mark), 7 * M + l.cash() + value(mark, l.position()));
                if l.position() == 0 {
                    // Net PnL of all closed trades equals the cash change at flat.
                    prop_assert_eq!(closed_since_flat, l.cash());
                    prop_assert_eq!(l.realized() - l.fees(), l.cash());
                    prop_assert_eq!(l.cost_basis(), 0);
                }
            }
            // Close out and check once more.
            let pos = l.position();
            if pos != 0 {
                let side = if pos > 0 { Sell } else { Buy };
                flows -= side.sign() as i128 * value(mark, pos.abs());
                let t = l.on_fill(999, side, mark, pos.abs(), 0).unwrap();
                closed_net += t.net_pnl;
            }
            prop_assert_eq!(l.cash(), flows);
            prop_assert_eq!(closed_net, l.cash());
        }
    }
}
