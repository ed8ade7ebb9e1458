//! The generic runner: drives one stage on its own OS thread with a wait strategy and pinning.

use super::stats::Flags;
use crate::config::WaitStrategy;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::thread::Thread;
use std::time::Duration;

/// A pipeline stage: a plain struct with a step function.
pub trait Stage: Send + 'static {
    /// Does one unit of work; returns whether it did any.
    fn poll(&mut self) -> bool;

    /// True once the stage has nothing more to do (its input ended and is drained).
    fn done(&self) -> bool;

    fn name(&self) -> &'static str;
}

/// A hot thread's doorbell: how a producer wakes a parked consumer.
///
/// A consumer that is about to park announces it (`sleeping`), re-checks its inputs, then
/// parks; a producer that did work checks the flag (one load while the consumer is busy, no
/// system call) and unparks the consumer only when it announced it is sleeping. The `SeqCst`
/// fences on both sides make the announce/re-check and the push/check a Dekker pair: either the
/// consumer's re-check sees the push, or the producer sees the flag.
#[derive(Debug, Default)]
pub struct Bell {
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Bell {
    /// Registers the calling thread as the one this bell wakes.
    pub fn register(&self) {
        let _ = self.thread.set(std::thread::current());
    }

    /// Wakes the thread if it announced it is sleeping.
    #[inline]
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    /// Wakes the thread whether it sleeps or not (flags set from the cold side).
    pub fn wake(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    #[inline]
    fn announce(&self) {
        self.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    #[inline]
    fn clear(&self) {
        self.sleeping.store(false, Ordering::Relaxed);
    }
}

/// The doorbells of all hot threads of one pipeline.
#[derive(Debug, Default)]
pub struct Bells {
    bells: Vec<Bell>,
    /// Whether any thread parks (else nobody needs ringing).
    any_parks: bool,
}

impl Bells {
    pub fn new(threads: usize, any_parks: bool) -> Bells {
        Bells {
            bells: (0..threads).map(|_| Bell::default()).collect(),
            any_parks,
        }
    }

    pub fn get(&self, i: usize) -> &Bell {
        &self.bells[i]
    }

    /// Rings every thread's bell but `me`'s (after `me` pushed work onto its output rings).
    #[inline]
    pub fn ring_others(&self, me: usize) {
        if !self.any_parks {
            return;
        }
        for (i, b) in self.bells.iter().enumerate() {
            if i != me {
                b.ring();
            }
        }
    }

    /// Wakes every hot thread (the cold side set a flag: stop, kill, no new positions).
    pub fn wake_all(&self) {
        for b in &self.bells {
            b.wake();
        }
    }
}

/// How the runner waits when a poll found nothing to do.
#[derive(Debug, Clone, Copy)]
pub struct Waiter {
    strategy: WaitStrategy,
    idle: u32,
    /// Longest park (the thread is also woken by its producers' doorbell).
    max_park: Duration,
}

/// Polls that find nothing before a parking thread yields, then parks.
const PARK_SPINS: u32 = 64;
const PARK_YIELDS: u32 = 128;

impl Waiter {
    pub fn new(strategy: WaitStrategy) -> Waiter {
        Waiter::with_max_park(strategy, Duration::from_millis(1))
    }

    /// A waiter whose parks last at most `max_park` (a thread nobody wakes, like a feed thread
    /// polling a socket, needs a short one; a consumer woken by its doorbell can sleep long).
    pub fn with_max_park(strategy: WaitStrategy, max_park: Duration) -> Waiter {
        Waiter {
            strategy,
            idle: 0,
            max_park,
        }
    }

    /// Called after a poll that did work.
    #[inline]
    pub fn reset(&mut self) {
        self.idle = 0;
    }

    /// Called after a poll that did nothing. For `park`, `recheck` polls once more after the
    /// thread announced on `bell` that it is going to sleep; if it finds work, the thread does
    /// not sleep.
    #[inline]
    pub fn wait(&mut self, bell: Option<&Bell>, recheck: &mut dyn FnMut() -> bool) {
        self.idle = self.idle.saturating_add(1);
        match self.strategy {
            WaitStrategy::Spin => std::hint::spin_loop(),
            WaitStrategy::SpinYield => {
                if self.idle < 64 {
                    std::hint::spin_loop()
                } else {
                    std::thread::yield_now()
                }
            }
            WaitStrategy::Park | WaitStrategy::Auto => {
                if self.idle < PARK_SPINS {
                    std::hint::spin_loop()
                } else if self.idle < PARK_YIELDS {
                    std::thread::yield_now()
                } else {
                    // Park until a producer rings, growing the timeout (2 ^ n µs) up to
                    // `max_park`: the timeout bounds how late a timer or a source nobody
                    // rings for is looked at, and an idle thread wakes rarely.
                    let shift = (self.idle - PARK_YIELDS).min(20);
                    let t = Duration::from_micros(1u64 << shift).min(self.max_park);
                    match bell {
                        Some(b) => {
                            b.announce();
                            if recheck() {
                                b.clear();
                                self.idle = 0;
                                return;
                            }
                            std::thread::park_timeout(t);
                            b.clear();
                        }
                        None => std::thread::park_timeout(t),
                    }
                }
            }
        }
    }
}

/// Spawns `stage` on a named thread pinned to `core` (if given), polling until the stage is done
/// (or, for the first stage, until `flags.stop`). On exit it sets `flags.done[index]`, which is
/// how the next stage learns that its input has ended. The thread returns the stage.
pub fn spawn<S: Stage>(
    mut stage: S,
    wait: WaitStrategy,
    core: Option<usize>,
    flags: Arc<Flags>,
    index: usize,
) -> std::io::Result<JoinHandle<S>> {
    let name = format!("obi-{}", stage.name());
    let (pinned_tx, pinned_rx) = std::sync::mpsc::sync_channel(1);
    let stop = flags.clone();
    let h = std::thread::Builder::new().name(name).spawn(move || {
        let _ = pinned_tx.send(pin_current(core));
        let mut w = Waiter::new(wait);
        loop {
            if stage.poll() {
                w.reset();
                continue;
            }
            if stage.done() || (index == 0 && flags.stop.load(Ordering::Relaxed)) {
                // Drain what is left without waiting.
                while stage.poll() {}
                break;
            }
            w.wait(None, &mut || false);
        }
        // Release: everything this stage pushed happens-before a reader that sees the flag.
        flags.done[index].store(true, Ordering::Release);
        stage
    })?;
    match pinned_rx.recv() {
        Ok(Ok(())) => Ok(h),
        Ok(Err(e)) => {
            stop.stop.store(true, Ordering::Relaxed);
            let _ = h.join();
            Err(e)
        }
        Err(_) => Err(std::io::Error::other(
            "the stage thread ended before it started",
        )),
    }
}

/// Pins the calling thread to `core` (if given); an error names the core.
pub fn pin_current(core: Option<usize>) -> std::io::Result<()> {
    let Some(c) = core else { return Ok(()) };
    let Some(id) =
        core_affinity::get_core_ids().and_then(|ids| ids.into_iter().find(|i| i.id == c))
    else {
        return Err(std::io::Error::other(format!(
            "pipeline.cores: core {c} is not one this process may run on"
        )));
    };
    if core_affinity::set_for_current(id) {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "pipeline.cores: cannot pin a hot thread to core {c} (sched_setaffinity failed)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count {
        n: u32,
        limit: u32,
    }

    impl Stage for Count {
        fn poll(&mut self) -> bool {
            if self.n < self.limit {
                self.n += 1;
                true
            } else {
                false
            }
        }
        fn done(&self) -> bool {
            self.n >= self.limit
        }
        fn name(&self) -> &'static str {
            "count"
        }
    }

    #[test]
    fn runs_a_stage_to_completion() {
        let flags = Arc::new(Flags::default());
        let h = spawn(
            Count { n: 0, limit: 1000 },
            WaitStrategy::Park,
            None,
            flags.clone(),
            1,
        )
        .unwrap();
        assert_eq!(h.join().unwrap().n, 1000);
        assert!(flags.done[1].load(Ordering::Acquire));
    }

    #[test]
    fn stop_flag_ends_an_idle_stage() {
        let flags = Arc::new(Flags::default());
        struct Idle;
        impl Stage for Idle {
            fn poll(&mut self) -> bool {
                false
            }
            fn done(&self) -> bool {
                false
            }
            fn name(&self) -> &'static str {
                "idle"
            }
        }
        let h = spawn(Idle, WaitStrategy::Park, None, flags.clone(), 0).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        flags.stop.store(true, Ordering::Relaxed);
        h.join().unwrap();
    }
}
