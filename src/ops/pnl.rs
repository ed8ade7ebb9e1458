//! PnL as it leaves the hot path: the ledger's three figures, exact, from the signal stage to the
//! cold thread.
//!
//! The ledger keeps money as i128 ([`Money`]); an i64 of money units ends at ±92,233.72 JPY on
//! BTC/JPY (one unit is 1e-14 JPY there), so the figures travel as i128 halves in a
//! [`PnlCell`]: a sequence lock over plain atomics (one writer, any number of readers; the
//! writer never waits, a reader retries when it overlapped a write), so the cold side never
//! sees half of one update and half of the next.

use std::sync::atomic::{fence, AtomicU64, Ordering};

use crate::exec::ledger::Ledger;
use crate::msg::Money;

/// The three PnL figures of one ledger, in money units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PnlFigures {
    /// Gross PnL of the lots closed so far minus every fee paid so far (a fee is realized when
    /// it is paid, the open position's entry fees included). At flat: the closed trades' net
    /// PnL.
    pub realized: Money,
    /// The open position marked to market (bid for a long, ask for a short) against its cost
    /// basis; 0 when flat or when no two-sided book has been seen.
    pub unrealized: Money,
    /// Fees paid since start (negative for net rebates); already inside `realized`.
    pub fees: Money,
}

impl PnlFigures {
    /// The figures of `ledger` with the open position marked at `mark_px` (`None`: not marked,
    /// unrealized 0).
    pub fn of(ledger: &Ledger, mark_px: Option<i64>) -> PnlFigures {
        PnlFigures {
            realized: ledger.realized() - ledger.fees(),
            unrealized: mark_px.map_or(0, |m| ledger.unrealized(m)),
            fees: ledger.fees(),
        }
    }

    /// `realized + unrealized`: the equity change since start.
    pub fn total(&self) -> Money {
        self.realized.saturating_add(self.unrealized)
    }
}

/// One [`PnlFigures`] shared between one writer thread and reader threads (see the module doc).
#[derive(Debug, Default)]
pub struct PnlCell {
    /// Even: stable; odd: a write is in progress. Bumped twice per write.
    seq: AtomicU64,
    /// realized, unrealized, fees: low and high halves.
    words: [AtomicU64; 6],
}

impl PnlCell {
    /// Publishes `f`. Only one thread may write a cell (the signal stage).
    #[inline]
    pub fn store(&self, f: PnlFigures) {
        self.store_raw([f.realized, f.unrealized, f.fees]);
    }

    /// The last value stored (all zero before the first store).
    pub fn load(&self) -> PnlFigures {
        let [realized, unrealized, fees] = self.load_raw();
        PnlFigures {
            realized,
            unrealized,
            fees,
        }
    }

    /// Publishes three money figures (one writer thread).
    #[inline]
    pub fn store_raw(&self, f: [Money; 3]) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        // The odd sequence is visible before any word of the new value.
        fence(Ordering::Release);
        for (i, v) in f.into_iter().enumerate() {
            let u = v as u128;
            self.words[2 * i].store(u as u64, Ordering::Relaxed);
            self.words[2 * i + 1].store((u >> 64) as u64, Ordering::Relaxed);
        }
        // The words are visible before the even sequence that says they are complete.
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// The last three figures stored (all zero before the first store).
    pub fn load_raw(&self) -> [Money; 3] {
        let mut spins = 0u32;
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                let w: [u64; 6] = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
                // The words are read before the sequence is read again.
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == s1 {
                    let v = |i: usize| ((w[2 * i + 1] as u128) << 64 | w[2 * i] as u128) as i128;
                    return [v(0), v(1), v(2)];
                }
            }
            // The writer is inside its few stores (or was preempted there): wait for it.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{OrderSide, MONEY_PER_TICK_LOT};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn figures_of_a_ledger_split_realized_unrealized_and_fees() {
        const M: i128 = MONEY_PER_TICK_LOT;
        let mut l = Ledger::new(0);
        l.on_fill(1, OrderSide::Buy, 100, 2, 7);
        l.on_fill(2, OrderSide::Sell, 103, 1, 5);
        let f = PnlFigures::of(&l, Some(90));
        assert_eq!(f.fees, 12);
        assert_eq!(f.realized, 3 * M - 12, "one lot closed +3, all fees paid");
        assert_eq!(f.unrealized, -10 * M, "one lot at 100 marked at 90");
        assert_eq!(f.total(), l.equity(90) - l.initial_equity());
        assert_eq!(PnlFigures::of(&l, None).unrealized, 0);
    }

    #[test]
    fn round_trips_values_past_i64() {
        let c = PnlCell::default();
        assert_eq!(c.load(), PnlFigures::default());
        let f = PnlFigures {
            realized: -(i64::MAX as i128) * 3 - 7,
            unrealized: i128::MAX,
            fees: i128::MIN,
        };
        c.store(f);
        assert_eq!(c.load(), f);
    }

    /// A reader racing a writer only ever sees whole values (each written value keeps
    /// `unrealized == -realized` and `fees == realized * 3`, with both halves in use).
    #[test]
    fn readers_never_see_a_torn_value() {
        let c = Arc::new(PnlCell::default());
        let stop = Arc::new(AtomicBool::new(false));
        let w = {
            let (c, stop) = (c.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut k: i128 = 1;
                while !stop.load(Ordering::Relaxed) {
                    let r = k * 0x1_0000_0001 * (1 << 40) + k;
                    c.store(PnlFigures {
                        realized: r,
                        unrealized: -r,
                        fees: r * 3,
                    });
                    k += 1;
                }
            })
        };
        // Wait for the writer's first value (bounded: the writer starts at once).
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while c.load().realized == 0 {
            assert!(std::time::Instant::now() < end, "the writer never wrote");
            std::thread::yield_now();
        }
        let mut seen = 0;
        for _ in 0..200_000 {
            let f = c.load();
            assert_eq!(f.unrealized, -f.realized, "{f:?}");
            assert_eq!(f.fees, f.realized * 3, "{f:?}");
            if f.realized != 0 {
                seen += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap();
        assert!(seen > 0);
    }
}
