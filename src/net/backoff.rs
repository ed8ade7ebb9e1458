//! Reconnect backoff: exponential growth with seeded jitter.
//!
//! Production seeds come from [`jitter_seed`]: different in every process and for every client
//! within one, so instances that lose the venue together do not retry in step. Tests that need
//! reproducible timing set [`WsConfig::jitter_seed`](super::WsConfig::jitter_seed) themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::NetError;

/// Reconnect delay policy. The n-th consecutive failed attempt (n from 0) waits
/// `base = min(initial * multiplier^n, max)`, shortened by a random fraction of at most `jitter`:
/// the delay lies in `[base * (1 - jitter), base]`, so `max` is a hard bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Growth factor per failed attempt, `>= 1`.
    pub multiplier: f64,
    /// Fraction in `[0, 1]`: how much of the delay may be shaved off at random.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// Check the bounds; the message names the field.
    pub fn validate(&self) -> Result<(), NetError> {
        if self.initial.is_zero() {
            return Err(NetError::Config("backoff.initial must be > 0".into()));
        }
        if self.max < self.initial {
            return Err(NetError::Config(format!(
                "backoff.max ({:?}) must be >= backoff.initial ({:?})",
                self.max, self.initial
            )));
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(NetError::Config(format!(
                "backoff.multiplier must be a finite number >= 1, got {}",
                self.multiplier
            )));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(NetError::Config(format!(
                "backoff.jitter must be between 0 and 1, got {}",
                self.jitter
            )));
        }
        Ok(())
    }

    /// The delay before attempt number `failures` (0 = after the first failure), in ns.
    pub fn delay_ns(&self, failures: u32, rng: &mut XorShift64) -> u64 {
        let initial = self.initial.as_nanos() as f64;
        let max = self.max.as_nanos() as f64;
        // multiplier^failures overflows to inf for large counts; min() with max caps it.
        let base = (initial * self.multiplier.powi(failures.min(1024) as i32)).min(max);
        let cut = self.jitter * rng.next_f64();
        (base * (1.0 - cut)) as u64
    }
}

/// xorshift64 (Marsaglia): a tiny deterministic generator for jitter. Not for cryptography.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// Seeded generator; seed 0 (a fixed point of xorshift) is replaced by a constant.
    pub const fn new(seed: u64) -> Self {
        XorShift64(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[0, 1)` with 53 bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A fresh jitter seed: a per-process random base (the OS generator through `ring`; if that
/// fails, process id XOR the wall-clock nanoseconds at the first call) mixed with a per-process
/// call counter by splitmix64, a bijection, so no two calls in one process return the same seed.
/// Called once per client at construction, never on the hot path.
pub fn jitter_seed() -> u64 {
    static BASE: OnceLock<u64> = OnceLock::new();
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| {
        let mut b = [0u8; 8];
        match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b) {
            Ok(()) => u64::from_le_bytes(b),
            Err(_) => pid_clock_seed(
                std::process::id(),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
            ),
        }
    });
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    splitmix64(base.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// Fallback base when the OS generator is unavailable.
fn pid_clock_seed(pid: u32, wall_ns: u64) -> u64 {
    splitmix64(u64::from(pid) ^ wall_ns)
}

/// splitmix64 finaliser (Steele, Lea, Flood): a bijective 64-bit mix.
const fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Backoff state of one client: how many attempts failed in a row, and the jitter source.
#[derive(Debug, Clone)]
pub(crate) struct BackoffState {
    policy: Backoff,
    failures: u32,
    rng: XorShift64,
}

impl BackoffState {
    pub(crate) fn new(policy: Backoff, seed: u64) -> Self {
        BackoffState {
            policy,
            failures: 0,
            rng: XorShift64::new(seed),
        }
    }

    /// Delay before the next attempt; grows the exponent.
    pub(crate) fn next_delay_ns(&mut self) -> u64 {
        let d = self.policy.delay_ns(self.failures, &mut self.rng);
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// The connection stayed healthy: start again from `initial`.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_exponentially_to_the_cap_without_jitter() {
        let p = Backoff {
            initial: ms(100),
            max: ms(1000),
            multiplier: 2.0,
            jitter: 0.0,
        };
        let mut s = BackoffState::new(p, 1);
        let got: Vec<u64> = (0..7).map(|_| s.next_delay_ns() / 1_000_000).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000, 1000]);
        s.reset();
        assert_eq!(s.next_delay_ns(), 100_000_000);
    }

    #[test]
    fn jitter_stays_in_bounds_and_is_deterministic() {
        let p = Backoff {
            initial: ms(100),
            max: ms(10_000),
            multiplier: 3.0,
            jitter: 0.5,
        };
        let mut a = BackoffState::new(p, 42);
        let mut b = BackoffState::new(p, 42);
        let mut c = BackoffState::new(p, 43);
        let mut differs = false;
        for n in 0..40u32 {
            let base = (100.0 * 3f64.powi(n as i32)).min(10_000.0) * 1e6;
            let (da, db, dc) = (a.next_delay_ns(), b.next_delay_ns(), c.next_delay_ns());
            assert_eq!(da, db, "same seed, same delays");
            differs |= da != dc;
            assert!(
                da as f64 <= base && da as f64 >= base * 0.5 - 1.0,
                "{n}: {da} vs {base}"
            );
        }
        assert!(differs, "different seeds must give different jitter");
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let p = Backoff {
            initial: ms(1),
            max: ms(5),
            multiplier: 10.0,
            jitter: 0.0,
        };
        assert_eq!(p.delay_ns(u32::MAX, &mut XorShift64::new(0)), 5_000_000);
    }

    #[test]
    fn validate_names_the_field() {
        let ok = Backoff::default();
        assert!(ok.validate().is_ok());
        let e = Backoff {
            initial: Duration::ZERO,
            ..ok
        };
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("backoff.initial"));
        let e = Backoff { max: ms(1), ..ok };
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("backoff.max"));
        let e = Backoff {
            multiplier: 0.5,
            ..ok
        };
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("backoff.multiplier"));
        let e = Backoff { jitter: 1.5, ..ok };
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("backoff.jitter"));
    }

    fn delays(seed: u64) -> Vec<u64> {
        let p = Backoff {
            initial: ms(100),
            max: ms(10_000),
            multiplier: 2.0,
            jitter: 0.5,
        };
        let mut s = BackoffState::new(p, seed);
        (0..16).map(|_| s.next_delay_ns()).collect()
    }

    #[test]
    fn production_seeds_differ_between_clients() {
        // Built as WsClient::new builds them: BackoffState::new(cfg.backoff, cfg.jitter_seed)
        // with the seed WsConfig::new draws.
        let (a, b) = (
            crate::net::WsConfig::new("ws://127.0.0.1:1/"),
            crate::net::WsConfig::new("ws://127.0.0.1:1/"),
        );
        assert_ne!(a.jitter_seed, b.jitter_seed);
        let mut sa = BackoffState::new(a.backoff, a.jitter_seed);
        let mut sb = BackoffState::new(b.backoff, b.jitter_seed);
        let (da, db): (Vec<u64>, Vec<u64>) = (0..16)
            .map(|_| (sa.next_delay_ns(), sb.next_delay_ns()))
            .unzip();
        assert_ne!(da, db, "two clients must not retry in step");
    }

    /// Run in a child process by `production_seeds_differ_between_processes`: prints the seed
    /// the first `WsConfig::new` of a fresh process draws.
    #[test]
    #[ignore = "helper: run in child processes by production_seeds_differ_between_processes"]
    fn print_first_production_seed() {
        println!(
            "seed={}",
            crate::net::WsConfig::new("ws://127.0.0.1:1/").jitter_seed
        );
    }

    #[test]
    fn production_seeds_differ_between_processes() {
        let exe = std::env::current_exe().unwrap();
        let child_seed = || {
            let out = std::process::Command::new(&exe)
                .args([
                    "net::backoff::tests::print_first_production_seed",
                    "--exact",
                ])
                .args(["--ignored", "--nocapture", "--test-threads=1"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            // The harness prints `test NAME ... ` on the same line, before the seed.
            let at = text
                .find("seed=")
                .unwrap_or_else(|| panic!("no seed in {text:?}"));
            let digits: String = text[at + 5..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().unwrap()
        };
        let (a, b) = (child_seed(), child_seed());
        assert_ne!(a, b, "two processes drew the same first jitter seed");
        assert_ne!(delays(a), delays(b));
    }

    #[test]
    fn fallback_seed_depends_on_pid_and_clock() {
        let s = pid_clock_seed(1000, 1_700_000_000_000_000_000);
        assert_ne!(s, pid_clock_seed(1001, 1_700_000_000_000_000_000));
        assert_ne!(s, pid_clock_seed(1000, 1_700_000_000_000_000_001));
        assert_ne!(
            delays(s),
            delays(pid_clock_seed(1001, 1_700_000_000_000_000_000))
        );
    }

    #[test]
    fn xorshift_unit_interval() {
        let mut r = XorShift64::new(0);
        for _ in 0..10_000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
