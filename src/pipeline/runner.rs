//! The generic runner: drives one stage on its own OS thread with a wait strategy and pinning.

use super::stats::Flags;
use crate::config::WaitStrategy;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A pipeline stage: a plain struct with a step function.
pub trait Stage: Send + 'static {
    /// Does one unit of work; returns whether it did any.
    fn poll(&mut self) -> bool;

    /// True once the stage has nothing more to do (its input ended and is drained).
    fn done(&self) -> bool;

    fn name(&self) -> &'static str;
}

/// How the runner waits when a poll found nothing to do.
#[derive(Debug, Clone, Copy)]
pub struct Waiter {
    strategy: WaitStrategy,
    idle: u32,
}

impl Waiter {
    pub fn new(strategy: WaitStrategy) -> Waiter {
        Waiter { strategy, idle: 0 }
    }

    /// Called after a poll that did work.
    #[inline]
    pub fn reset(&mut self) {
        self.idle = 0;
    }

    /// Called after a poll that did nothing.
    #[inline]
    pub fn wait(&mut self) {
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
            WaitStrategy::Park => {
                // Spin briefly, then yield, then park with a growing timeout (at most 100 µs,
                // which bounds the wake-up delay a parked stage adds).
                if self.idle < 128 {
                    std::hint::spin_loop()
                } else if self.idle < 512 {
                    std::thread::yield_now()
                } else {
                    let us = ((self.idle - 511) as u64 * 10).min(100);
                    std::thread::park_timeout(Duration::from_micros(us));
                }
            }
        }
    }
}

/// The wait strategy actually used, given how many hot threads must share how many cores.
///
/// Spinning more threads than there are free cores starves them all, so the runner refuses to
/// spin then, says why, and backs off to `park`.
pub fn effective_wait(
    requested: WaitStrategy,
    hot_threads: usize,
) -> (WaitStrategy, Option<String>) {
    let cores = core_affinity::get_core_ids().map(|c| c.len()).unwrap_or(1);
    // One core is left for the cold thread and the OS.
    let free = cores.saturating_sub(1);
    if requested != WaitStrategy::Park && free < hot_threads {
        (
            WaitStrategy::Park,
            Some(format!(
                "refusing to {} {hot_threads} hot threads on {cores} cores ({free} free after the cold thread): backing off to park",
                requested.as_str()
            )),
        )
    } else {
        (requested, None)
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
    std::thread::Builder::new().name(name).spawn(move || {
        if let Some(c) = core {
            if let Some(id) =
                core_affinity::get_core_ids().and_then(|ids| ids.into_iter().find(|i| i.id == c))
            {
                core_affinity::set_for_current(id);
            }
        }
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
            w.wait();
        }
        // Release: everything this stage pushed happens-before a reader that sees the flag.
        flags.done[index].store(true, Ordering::Release);
        stage
    })
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

    #[test]
    fn refuses_to_spin_without_free_cores() {
        let (w, why) = effective_wait(WaitStrategy::Spin, 10_000);
        assert_eq!(w, WaitStrategy::Park);
        assert!(why.unwrap().contains("refusing to spin"));
        let (w, why) = effective_wait(WaitStrategy::Park, 10_000);
        assert_eq!(w, WaitStrategy::Park);
        assert!(why.is_none());
    }
}
