//! Per-thread heartbeats: how the cold thread tells a hung hot thread from an idle one.
//!
//! Each hot thread owns one [`Beat`] (its own cache line, so beating never contends with
//! another thread) and bumps it once per turn of its loop: after every poll, and after every
//! wake-up from a park. A thread that parks waits at most its `max_park` (1 ms for the feed's
//! thread, 20 ms for the others) before it looks at its inputs again, so an idle thread keeps
//! beating at least every 20 ms: idle is not hung. A thread stuck inside a stage's `poll` (a
//! deadlock, an endless loop, a blocking call) stops beating.
//!
//! The cold side ([`HeartbeatWatch`]) compares each beat with the value it saw last time it
//! checked; the check runs when a `WATCHDOG=1` is due (half of `WatchdogSec`, seconds apart),
//! so `WATCHDOG=1` is sent only while every hot thread went round its loop since the last
//! ping. A thread that finished its stages (end of input, shutdown) marks its beat
//! [`Beat::finish`] and counts as alive from then on: it is not hung, it is done.
//!
//! Cost on the hot path: one relaxed load and one relaxed store to a line only this thread
//! writes (no read-modify-write, no fence).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// One hot thread's heartbeat, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Beat {
    count: AtomicU64,
    finished: AtomicBool,
}

impl Beat {
    /// One turn of the owning thread's loop (only the owning thread calls this).
    #[inline]
    pub fn beat(&self) {
        let n = self.count.load(Ordering::Relaxed);
        self.count.store(n.wrapping_add(1), Ordering::Relaxed);
    }

    /// The owning thread left its loop: from now on it counts as alive.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    /// Beats so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

/// The beats of all hot threads of one pipeline, indexed like `Plan::threads`.
#[derive(Debug, Default)]
pub struct Heartbeats {
    beats: Vec<Beat>,
}

impl Heartbeats {
    pub fn new(threads: usize) -> Heartbeats {
        Heartbeats {
            beats: (0..threads).map(|_| Beat::default()).collect(),
        }
    }

    /// Thread `i`'s beat.
    pub fn get(&self, i: usize) -> &Beat {
        &self.beats[i]
    }

    pub fn len(&self) -> usize {
        self.beats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.beats.is_empty()
    }
}

/// The cold side: whether every hot thread beat since the previous check.
#[derive(Debug)]
pub struct HeartbeatWatch {
    beats: std::sync::Arc<Heartbeats>,
    /// The beats at the previous check (`None` before the first).
    last: Option<Vec<u64>>,
    /// The threads that did not beat at the last check (for the log line).
    stuck: Vec<usize>,
}

impl HeartbeatWatch {
    pub fn new(beats: std::sync::Arc<Heartbeats>) -> HeartbeatWatch {
        HeartbeatWatch {
            beats,
            last: None,
            stuck: Vec::new(),
        }
    }

    /// True when every thread beat (or finished) since the previous call; remembers the
    /// beats for the next call. The first call only takes the baseline and answers true (the
    /// threads were just started). Call it when a `WATCHDOG=1` is due, not more often: the
    /// time between calls is the time a thread may spend in one turn of its loop.
    pub fn check(&mut self) -> bool {
        self.stuck.clear();
        let now: Vec<u64> = self.beats.beats.iter().map(Beat::count).collect();
        if let Some(last) = &self.last {
            for (i, b) in self.beats.beats.iter().enumerate() {
                if now[i] == last[i] && !b.finished() {
                    self.stuck.push(i);
                }
            }
        }
        self.last = Some(now);
        self.stuck.is_empty()
    }

    /// The threads (indices into `Plan::threads`) that had not beaten at the last check.
    pub fn stuck(&self) -> &[usize] {
        &self.stuck
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn beats_sit_on_their_own_cache_lines() {
        assert_eq!(std::mem::align_of::<Beat>(), 64);
        let h = Heartbeats::new(2);
        let a = h.get(0) as *const Beat as usize;
        let b = h.get(1) as *const Beat as usize;
        assert!(b - a >= 64);
    }

    #[test]
    fn a_thread_that_stops_beating_is_reported_until_it_beats_or_finishes() {
        let h = Arc::new(Heartbeats::new(3));
        let mut w = HeartbeatWatch::new(h.clone());
        assert!(w.check(), "the first check takes the baseline");
        for i in 0..3 {
            h.get(i).beat();
        }
        assert!(w.check());
        h.get(0).beat();
        h.get(2).beat();
        assert!(!w.check(), "thread 1 did not beat");
        assert_eq!(w.stuck(), &[1]);
        h.get(0).beat();
        h.get(2).beat();
        assert!(!w.check(), "still not");
        h.get(0).beat();
        h.get(1).beat();
        h.get(2).beat();
        assert!(w.check(), "it beat again");
        h.get(0).beat();
        h.get(2).beat();
        h.get(1).finish();
        assert!(w.check(), "a finished thread is not hung");
        assert!(w.stuck().is_empty());
    }
}
