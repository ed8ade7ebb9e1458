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

    /// Changes the refill rate from `now_ns` on (what was earned so far at the old rate stays).
    pub fn set_rate(&mut self, now_ns: u64, rate_per_sec: u32) {
        self.refill(now_ns);
        self.rate_per_sec = u64::from(rate_per_sec);
    }

    pub fn burst(&self) -> u64 {
        self.cap / UNIT
    }

    pub fn rate_per_sec(&self) -> u64 {
        self.rate_per_sec
    }
}

/// The allowed order rate, adapted to how the venue answers (additive increase, multiplicative
/// decrease): it halves when the venue's smoothed response time passes `slow_ns` or its smoothed
/// error share passes `max_error_permille` (at most every `cut_every_ns`, so one slow burst does
/// not take it to the floor at once), and grows back by a tenth of the limit per `recover_every_ns`
/// of healthy answers. Always within `[min, max]`, `max` being the venue's documented limit.
///
/// Integer arithmetic only: the response time is an exponentially weighted mean in ns with weight
/// 1/8 per answer, the error share one in thousandths with the same weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveRate {
    max: u32,
    min: u32,
    rate: u32,
    ewma_ns: u64,
    err_permille: u32,
    answers: u64,
    /// When the rate last changed (`None`: never, so the first cut is not held back).
    last_change_ns: Option<u64>,
    pub slow_ns: u64,
    pub max_error_permille: u32,
    pub cut_every_ns: u64,
    pub recover_every_ns: u64,
}

impl AdaptiveRate {
    /// Starts at `max` orders per second (at least 1), never below `min(max, 1)`. Thresholds are
    /// the ones the operators' alerts use: responses slower than 1 s, more than 10 % errors.
    pub fn new(max: u32) -> AdaptiveRate {
        let max = max.max(1);
        AdaptiveRate {
            max,
            min: 1,
            rate: max,
            ewma_ns: 0,
            err_permille: 0,
            answers: 0,
            last_change_ns: None,
            slow_ns: 1_000_000_000,
            max_error_permille: 100,
            cut_every_ns: 250_000_000,
            recover_every_ns: 1_000_000_000,
        }
    }

    /// The allowed orders per second now.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The smoothed response time (ns) and error share (thousandths).
    pub fn smoothed(&self) -> (u64, u32) {
        (self.ewma_ns, self.err_permille)
    }

    /// Whether the venue currently looks degraded (slow or failing).
    pub fn degraded(&self) -> bool {
        self.ewma_ns > self.slow_ns || self.err_permille > self.max_error_permille
    }

    /// One answer (or failure) of the venue at `now_ns` that took `elapsed_ns`; `ok` is false for
    /// time-outs, broken connections, 5xx and rate-limit answers. Returns the rate now allowed.
    pub fn observe(&mut self, now_ns: u64, elapsed_ns: u64, ok: bool) -> u32 {
        if self.answers == 0 {
            self.ewma_ns = elapsed_ns;
        } else {
            self.ewma_ns = self.ewma_ns - self.ewma_ns / 8 + elapsed_ns / 8;
        }
        let bad = if ok { 0 } else { 1000 / 8 };
        self.err_permille = self.err_permille - self.err_permille / 8 + bad;
        self.answers += 1;
        let since = self
            .last_change_ns
            .map_or(u64::MAX, |t| now_ns.saturating_sub(t));
        if self.degraded() {
            if self.rate > self.min && since >= self.cut_every_ns {
                self.rate = (self.rate / 2).max(self.min);
                self.last_change_ns = Some(now_ns);
            }
        } else if self.rate < self.max && since >= self.recover_every_ns {
            self.rate = (self.rate + (self.max / 10).max(1)).min(self.max);
            self.last_change_ns = Some(now_ns);
        }
        self.rate
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
    const MS: u64 = 1_000_000;

    #[test]
    fn adaptive_rate_halves_on_errors_and_recovers_a_tenth_per_second() {
        let mut a = AdaptiveRate::new(10);
        let mut t = 0;
        // Healthy answers at 20 ms: stays at the limit.
        for _ in 0..50 {
            t += 50 * MS;
            assert_eq!(a.observe(t, 20 * MS, true), 10);
        }
        // Every answer fails: the error share passes 10 % on the first, then halves at most every
        // 250 ms, down to the floor of 1.
        let mut seen = vec![];
        for _ in 0..40 {
            t += 50 * MS;
            let r = a.observe(t, 20 * MS, false);
            if seen.last() != Some(&r) {
                seen.push(r);
            }
        }
        assert_eq!(seen, [5, 2, 1]);
        assert!(a.degraded());
        // Healthy again: the error share decays under 10 % first, then +1/s (a tenth of 10).
        let mut first_rise = None;
        for i in 0..400u64 {
            t += 50 * MS;
            let r = a.observe(t, 20 * MS, true);
            if r > 1 && first_rise.is_none() {
                first_rise = Some(i);
            }
        }
        assert_eq!(a.rate(), 10, "back at the limit, never above");
        let i = first_rise.unwrap();
        // The share decays by 7/8 per answer: from ~99 % it takes 18 answers to get under 10 %.
        assert_eq!(i, 17, "no rise while the error share is still high");
    }

    #[test]
    fn adaptive_rate_falls_when_the_venue_is_slow_and_never_leaves_its_bounds() {
        let mut a = AdaptiveRate::new(8);
        let mut t = 0;
        for _ in 0..10 {
            t += 100 * MS;
            a.observe(t, 30 * MS, true);
        }
        assert_eq!(a.rate(), 8);
        // 2 s answers, all "ok": the smoothed time passes 1 s after a few, then the rate falls.
        for _ in 0..20 {
            t += 2_000 * MS;
            a.observe(t, 2_000 * MS, true);
        }
        assert_eq!(a.rate(), 1);
        assert!(a.smoothed().0 > 1_000 * MS);
        let mut z = AdaptiveRate::new(0);
        assert_eq!(
            z.rate(),
            1,
            "a limit of 0 still lets one order a second out"
        );
        assert_eq!(z.observe(0, 0, false), 1);
    }

    #[test]
    fn set_rate_keeps_what_was_earned() {
        let mut b = TokenBucket::new(10, 10);
        for _ in 0..10 {
            assert!(b.try_take(0));
        }
        b.set_rate(100_000_000, 1); // one token earned at 10/s, then 1/s
        assert!(b.try_take(100_000_000));
        assert!(!b.try_take(1_000_000_000));
        assert!(b.try_take(1_100_000_000));
    }
}
