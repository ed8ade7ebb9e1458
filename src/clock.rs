//! The clocks: event time for everything that measures or waits, the wall clock for stamps.
//!
//! - [`now_ns`] is *event time* in live runs: nanoseconds since the Unix epoch on a clock that
//!   never steps. It is CLOCK_MONOTONIC (vDSO, no system call on Linux) anchored once per
//!   process to CLOCK_REALTIME, so it reads like a Unix time and is comparable across threads
//!   and with other processes started on the same host, but an NTP step of the wall clock
//!   (backwards or forwards) moves nothing: receive stamps, latencies, strategy and paper
//!   timers, kill/cancel timing and idle (silence) detection all run on it. NTP *slewing*
//!   changes the rate of both clocks alike, so the two only part by the steps applied after
//!   start.
//! - [`wall_ns`] is CLOCK_REALTIME: for stamping records (audit, artifacts, file names) and for
//!   mapping venue timestamps, which are wall times, onto event time ([`wall_offset_ns`]).
//!
//! [`EventClock`] is the same construction over any [`ClockSource`], so a test can step the wall
//! clock and see that event time does not follow.

// The library's only `unsafe` blocks (`[lints]` in Cargo.toml denies them everywhere else).
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// Nanoseconds of a `clock_gettime` clock.
#[inline]
fn gettime_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME and CLOCK_MONOTONIC are always
    // supported.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME): steps when NTP or an operator
/// sets the time. For stamps only.
#[inline]
pub fn wall_ns() -> u64 {
    gettime_ns(libc::CLOCK_REALTIME)
}

/// Wall-clock milliseconds since the Unix epoch: venue timestamps, nonces and recv windows.
#[inline]
pub fn wall_ms() -> u64 {
    wall_ns() / 1_000_000
}

/// CLOCK_MONOTONIC nanoseconds (since boot): never steps.
#[inline]
pub fn mono_ns() -> u64 {
    gettime_ns(libc::CLOCK_MONOTONIC)
}

/// Where an [`EventClock`] reads its two clocks.
pub trait ClockSource {
    /// Wall clock, ns since the Unix epoch (may step).
    fn wall_ns(&self) -> u64;
    /// A clock that never steps, ns from any origin.
    fn mono_ns(&self) -> u64;
}

/// The host's CLOCK_REALTIME and CLOCK_MONOTONIC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClocks;

impl ClockSource for SystemClocks {
    #[inline]
    fn wall_ns(&self) -> u64 {
        wall_ns()
    }
    #[inline]
    fn mono_ns(&self) -> u64 {
        mono_ns()
    }
}

/// Event time: the monotonic clock, anchored to the wall clock when the clock is made.
#[derive(Debug, Clone, Copy)]
pub struct EventClock<C: ClockSource> {
    src: C,
    anchor_wall_ns: u64,
    anchor_mono_ns: u64,
}

impl<C: ClockSource> EventClock<C> {
    /// Anchors event time to `src`'s wall clock now.
    pub fn new(src: C) -> EventClock<C> {
        let anchor_mono_ns = src.mono_ns();
        let anchor_wall_ns = src.wall_ns();
        EventClock {
            src,
            anchor_wall_ns,
            anchor_mono_ns,
        }
    }

    /// Event time now: ns since the Unix epoch as of the anchor, advanced by the monotonic
    /// clock only.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.anchor_wall_ns
            .wrapping_add(self.src.mono_ns().wrapping_sub(self.anchor_mono_ns))
    }

    /// The wall clock minus event time, now (0 until the wall clock is stepped): add it to an
    /// event time to get the wall time, subtract it from a venue (wall) time to get event time.
    pub fn wall_offset_ns(&self) -> i64 {
        let now = self.now_ns();
        self.src.wall_ns().wrapping_sub(now) as i64
    }
}

static PROCESS: OnceLock<EventClock<SystemClocks>> = OnceLock::new();

/// The process's event clock (anchored on first use).
#[inline]
pub fn process() -> &'static EventClock<SystemClocks> {
    PROCESS.get_or_init(|| EventClock::new(SystemClocks))
}

/// Event time now (see the module doc): the receive stamp of every frame, and the clock of
/// every latency, timer and timeout on the hot path.
#[inline]
pub fn now_ns() -> u64 {
    process().now_ns()
}

/// Wall clock minus event time now, for mapping venue (wall) timestamps onto event time.
pub fn wall_offset_ns() -> i64 {
    process().wall_offset_ns()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn is_monotone_and_recent() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a);
        assert!(a > 1_700_000_000_000_000_000);
        // Anchored to the wall clock: within a second of it on a host whose clock was not
        // stepped during the test.
        assert!(
            wall_offset_ns().abs() < 1_000_000_000,
            "{}",
            wall_offset_ns()
        );
    }

    /// A wall clock a test can step, over a monotonic clock it advances.
    struct Fake<'a> {
        wall: &'a Cell<u64>,
        mono: &'a Cell<u64>,
    }

    impl ClockSource for Fake<'_> {
        fn wall_ns(&self) -> u64 {
            self.wall.get()
        }
        fn mono_ns(&self) -> u64 {
            self.mono.get()
        }
    }

    const MS: u64 = 1_000_000;
    const HOUR: u64 = 3_600_000 * MS;

    /// An NTP step of the wall clock, backwards or forwards, neither freezes event time (a
    /// timer would never fire) nor jumps it (every timer would fire at once): a 5 ms timer armed
    /// before the step fires after exactly 5 ms of monotonic time either way. The wall clock
    /// still maps venue times after the step.
    #[test]
    fn ntp_steps_neither_freeze_nor_fire_timers() {
        for step in [-(HOUR as i64), HOUR as i64] {
            let wall = Cell::new(1_800_000_000_000_000_000u64);
            let mono = Cell::new(77 * MS);
            let c = EventClock::new(Fake {
                wall: &wall,
                mono: &mono,
            });
            let tick = |ms: u64| {
                mono.set(mono.get() + ms * MS);
                wall.set(wall.get() + ms * MS);
            };
            let armed = c.now_ns();
            let deadline = armed + 5 * MS;
            tick(2);
            // The step: NTP sets the wall clock.
            wall.set(wall.get().wrapping_add(step as u64));
            let mut fired_after = None;
            for ms in 3..=10 {
                tick(1);
                if fired_after.is_none() && c.now_ns() >= deadline {
                    fired_after = Some(ms);
                }
            }
            assert_eq!(fired_after, Some(5), "step {step}: the 5 ms timer");
            assert_eq!(
                c.now_ns() - armed,
                10 * MS,
                "step {step}: event time advanced"
            );
            // Wall = event + offset: a venue timestamp stepped with the wall clock maps back.
            assert_eq!(c.wall_offset_ns(), step);
            let venue_now = wall.get();
            assert_eq!(
                venue_now.wrapping_add((-c.wall_offset_ns()) as u64),
                c.now_ns()
            );
        }
    }
}
