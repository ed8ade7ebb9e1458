//! The poll interval for Coincheck's fills (`GET /api/exchange/orders/transactions`), which
//! has no private push channel in this engine yet: fast while orders are working, slowing down
//! geometrically while the account is idle, never outside `[fast, slow]`. The old bot polled
//! every 2 s whatever happened; this polls at `fast` from the moment an order is sent until
//! none is open, then backs off to `slow`.
//!
//! Times are nanoseconds on the caller's clock; nothing here allocates.

/// Adaptive poll schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptivePoll {
    fast_ns: u64,
    slow_ns: u64,
    interval_ns: u64,
    next_ns: u64,
}

impl AdaptivePoll {
    /// Polls every `fast_ns` while orders work, at most every `slow_ns` when idle. Errors when
    /// `fast_ns` is 0 or above `slow_ns`.
    pub fn new(fast_ns: u64, slow_ns: u64) -> Result<AdaptivePoll, String> {
        if fast_ns == 0 || fast_ns > slow_ns {
            return Err(format!(
                "poll interval: fast ({fast_ns} ns) must be above 0 and at most slow ({slow_ns} ns)"
            ));
        }
        Ok(AdaptivePoll {
            fast_ns,
            slow_ns,
            interval_ns: slow_ns,
            next_ns: 0,
        })
    }

    /// The interval now in force.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// When the next poll is due.
    pub fn next_ns(&self) -> u64 {
        self.next_ns
    }

    /// Whether a poll is due at `now_ns`.
    pub fn due(&self, now_ns: u64) -> bool {
        now_ns >= self.next_ns
    }

    /// An order was sent (or a cancel, or anything that may fill): poll fast from now on, the
    /// first time one fast interval from now.
    pub fn order_sent(&mut self, now_ns: u64) {
        self.interval_ns = self.fast_ns;
        self.next_ns = self.next_ns.min(now_ns.saturating_add(self.fast_ns));
    }

    /// A poll was made at `now_ns`: `working` orders are still open and `filled` tells whether
    /// it found new fills. Working orders or new fills keep the fast interval; an idle account
    /// doubles it up to `slow`.
    pub fn polled(&mut self, now_ns: u64, working: usize, filled: bool) {
        self.interval_ns = if working > 0 || filled {
            self.fast_ns
        } else {
            self.interval_ns.saturating_mul(2).min(self.slow_ns)
        };
        self.next_ns = now_ns.saturating_add(self.interval_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn fast_while_working_slow_when_idle_and_always_bounded() {
        let mut p = AdaptivePoll::new(50 * MS, 2_000 * MS).unwrap();
        // Idle from the start: the slow interval, first poll at once.
        assert!(p.due(0));
        assert_eq!(p.interval_ns(), 2_000 * MS);
        // An order goes out at t = 1 s: next poll 50 ms later, not 2 s.
        p.polled(0, 0, false);
        p.order_sent(1_000 * MS);
        assert_eq!(p.next_ns(), 1_050 * MS);
        assert!(!p.due(1_049 * MS) && p.due(1_050 * MS));
        // While it works, every poll stays at 50 ms.
        let mut t = 1_050 * MS;
        for _ in 0..10 {
            p.polled(t, 1, false);
            assert_eq!(p.interval_ns(), 50 * MS);
            t = p.next_ns();
        }
        // Filled and nothing open: 100, 200, ..., then capped at 2 s.
        p.polled(t, 0, true);
        assert_eq!(
            p.interval_ns(),
            50 * MS,
            "a poll that found fills stays fast"
        );
        let mut seen = Vec::new();
        for _ in 0..8 {
            t = p.next_ns();
            p.polled(t, 0, false);
            seen.push(p.interval_ns() / MS);
        }
        assert_eq!(seen, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        // A new order brings it back to fast at once, never later than already scheduled.
        let before = p.next_ns();
        p.order_sent(t + MS);
        assert_eq!(p.next_ns(), (t + MS + 50 * MS).min(before));
        assert_eq!(p.interval_ns(), 50 * MS);
    }

    #[test]
    fn bad_bounds_are_refused() {
        assert!(AdaptivePoll::new(0, 10).is_err());
        assert!(AdaptivePoll::new(11, 10).is_err());
        assert!(AdaptivePoll::new(10, 10).is_ok());
    }
}
