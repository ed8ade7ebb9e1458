//! An integer token bucket for order-rate limiting.
//!
//! Tokens are counted in billionths so that refilling at `rate_per_sec` per second is exact in
//! nanoseconds: every elapsed nanosecond adds `rate_per_sec` billionths of a token.

/// Billionths of a token in one token (= nanoseconds in one second).
const UNIT: u64 = 1_000_000_000;

/// A token bucket: at most `burst` tokens, refilled at `rate_per_sec`; starts full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    rate_per_sec: u64,
    /// Capacity in billionths of a token.
    cap: u64,
    /// Current level in billionths of a token.
    level: u64,
    /// Time of the last refill; `None` before the first call.
    last_ns: Option<u64>,
}

impl TokenBucket {
    /// A bucket holding up to `burst` tokens, refilled at `rate_per_sec` tokens per second.
    /// `burst == 0` refuses everything; `rate_per_sec == 0` allows `burst` tokens in total.
    pub fn new(rate_per_sec: u32, burst: u32) -> TokenBucket {
        let cap = u64::from(burst) * UNIT;
        TokenBucket {
            rate_per_sec: u64::from(rate_per_sec),
            cap,
            level: cap,
            last_ns: None,
        }
    }

    fn refill(&mut self, now_ns: u64) {
        if let Some(last) = self.last_ns {
            // A clock that steps back refills nothing and keeps the later reference time.
            let elapsed = now_ns.saturating_sub(last);
            let add = elapsed.saturating_mul(self.rate_per_sec);
            self.level = self.level.saturating_add(add).min(self.cap);
            self.last_ns = Some(last.max(now_ns));
        } else {
            self.last_ns = Some(now_ns);
        }
    }

    /// Takes one token if one is available at `now_ns`.
    #[inline]
    pub fn try_take(&mut self, now_ns: u64) -> bool {
        self.refill(now_ns);
        if self.level >= UNIT {
            self.level -= UNIT;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at `now_ns` (refills as a side effect).
    pub fn available(&mut self, now_ns: u64) -> u64 {
        self.refill(now_ns);
        self.level / UNIT
    }

    /// Lowers the level to at most `tokens` whole tokens at `now_ns` (the venue says how many
    /// requests are left in its window: we never believe we have more).
    pub fn cap_level(&mut self, now_ns: u64, tokens: u64) {
        self.refill(now_ns);
        self.level = self.level.min(tokens.saturating_mul(UNIT));
    }

    pub fn burst(&self) -> u64 {
        self.cap / UNIT
    }

    pub fn rate_per_sec(&self) -> u64 {
        self.rate_per_sec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn burst_then_refill_at_rate() {
        let t0 = 1_700_000_000 * SEC;
        let mut b = TokenBucket::new(10, 3);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0), "burst of 3 exhausted");
        // 10/s: one token per 100 ms, exactly.
        assert!(!b.try_take(t0 + 100_000_000 - 1));
        assert!(b.try_take(t0 + 100_000_000));
        assert!(!b.try_take(t0 + 100_000_000));
        // A long pause refills only up to the burst.
        assert_eq!(b.available(t0 + 3600 * SEC), 3);
    }

    #[test]
    fn fractional_rates_accumulate_exactly() {
        // 3 per second: a token every 333_333_333.33 ns; after exactly 1 s, 3 tokens.
        let mut b = TokenBucket::new(3, 3);
        for _ in 0..3 {
            assert!(b.try_take(0));
        }
        assert!(!b.try_take(333_333_333));
        assert!(b.try_take(333_333_334));
        assert!(b.try_take(666_666_667));
        assert!(!b.try_take(999_999_999));
        assert!(b.try_take(SEC));
    }

    #[test]
    fn venue_header_caps_the_level() {
        let mut b = TokenBucket::new(10, 10);
        b.cap_level(0, 2);
        assert_eq!(b.available(0), 2);
        b.cap_level(0, 5);
        assert_eq!(b.available(0), 2, "a header never raises the level");
        assert!(b.try_take(0) && b.try_take(0));
        assert!(!b.try_take(0));
        assert!(b.try_take(100_000_000), "refills at the rate again");
    }

    #[test]
    fn zero_burst_and_clock_steps_back() {
        let mut z = TokenBucket::new(100, 0);
        assert!(!z.try_take(0));
        assert!(!z.try_take(10 * SEC));
        let mut b = TokenBucket::new(1, 1);
        assert!(b.try_take(10 * SEC));
        assert!(!b.try_take(5 * SEC), "going back in time refills nothing");
        assert!(!b.try_take(10 * SEC + SEC - 1));
        assert!(b.try_take(11 * SEC));
        let mut r0 = TokenBucket::new(0, 2);
        assert!(r0.try_take(0) && r0.try_take(u64::MAX));
        assert!(!r0.try_take(u64::MAX));
    }
}
