//! The feed stage: frames from a source, decoded under the venue's sync rules, onto the book ring.

use super::runner::Stage;
pub use super::sources::{FrameSource, SourceEvent};
use super::stats::{sample, Flags, HotCounters, LatencyKind, LatencySample};
use super::tap::FrameTap;
use crate::clock::now_ns;
use crate::msg::MdEvent;
use crate::venue::Decoder;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The feed stage.
pub struct FeedStage<S: FrameSource, D: Decoder + Send + 'static> {
    pub source: S,
    pub decoder: D,
    out: rtrb::Producer<MdEvent>,
    lat: rtrb::Producer<LatencySample>,
    counters: Arc<HotCounters>,
    flags: Arc<Flags>,
    buf: Vec<u8>,
    url: String,
    done: bool,
    overflowed: bool,
    overflows: u64,
    dropped_samples: u64,
    bytes: u64,
    last_timer_ns: u64,
    /// Receive time of the newest frame or REST answer: the event time of a recorded source.
    last_event_ns: u64,
    /// Wall clock minus event time ([`crate::clock::wall_offset_ns`]), refreshed on idle polls
    /// and every 1024 frames: maps venue timestamps (wall times) for the old-frame check.
    wall_offset_ns: i64,
    /// Re-stamp frames with the local time they were taken from the source (bench over recordings).
    pub restamp: bool,
    /// Updates whose venue timestamp is older than this when received are counted (0: off).
    pub max_frame_age_ns: u64,
    /// Updates counted as old (venue time vs local receive time).
    pub old_frames: u64,
    /// Copies every event (raw frame before decoding, REST body, connects, disconnects) onto a
    /// ring that a cold-thread [`super::tap::Recorder`] writes to disk; `None`: no recording.
    pub tap: Option<FrameTap>,
}

impl<S: FrameSource, D: Decoder + Send + 'static> FeedStage<S, D> {
    pub fn new(
        source: S,
        decoder: D,
        out: rtrb::Producer<MdEvent>,
        lat: rtrb::Producer<LatencySample>,
        counters: Arc<HotCounters>,
        flags: Arc<Flags>,
    ) -> Self {
        FeedStage {
            source,
            decoder,
            out,
            lat,
            counters,
            flags,
            buf: Vec::with_capacity(1 << 20),
            url: String::with_capacity(256),
            done: false,
            overflowed: false,
            overflows: 0,
            dropped_samples: 0,
            bytes: 0,
            last_timer_ns: 0,
            last_event_ns: 0,
            wall_offset_ns: 0,
            restamp: false,
            max_frame_age_ns: 0,
            old_frames: 0,
            tap: None,
        }
    }

    fn publish(&self) {
        let c = self.decoder.counters();
        let h = &self.counters;
        HotCounters::set(&h.frames, c.frames);
        HotCounters::set(&h.bytes, self.bytes);
        HotCounters::set(&h.md_events, c.events);
        HotCounters::set(&h.gaps, c.gaps);
        HotCounters::set(&h.resyncs, c.resyncs);
        HotCounters::set(&h.malformed, c.malformed);
        HotCounters::set(&h.unknown, c.unknown);
        HotCounters::set(&h.stale, c.stale);
        HotCounters::set(&h.old_frames, self.old_frames);
        HotCounters::set(&h.snapshots, c.snapshots + c.rest_snapshots);
        HotCounters::set(&h.ring_overflows, self.overflows);
        HotCounters::set(&h.samples_dropped, self.dropped_samples);
    }
}

impl<S: FrameSource, D: Decoder + Send + 'static> Stage for FeedStage<S, D> {
    #[inline]
    fn poll(&mut self) -> bool {
        if self.done {
            return false;
        }
        if self.flags.stop.load(Ordering::Relaxed) {
            // `flags.stop` ends the feed: a live source never runs dry by itself.
            self.done = true;
            self.publish();
            return false;
        }
        let ev = self.source.next(&mut self.buf, &mut self.url);
        if let Some(tap) = &mut self.tap {
            // Before decoding: simd-json parses the buffer in place.
            tap.on_event(ev, &self.buf, &self.url);
        }
        let out = &mut self.out;
        let overflowed = &mut self.overflowed;
        let overflows = &mut self.overflows;
        // Venue time vs local receive time, per applied update (not for restamped sources, whose
        // venue timestamps are not of this clock).
        let max_age = if self.restamp {
            0
        } else {
            self.max_frame_age_ns
        };
        let event_clock = !self.restamp && self.source.replay_clock();
        // A live receive stamp is event time; the venue's is wall time: compare on the wall
        // clock. A recording's receive stamps are compared as recorded.
        let wall_offset = if event_clock { 0 } else { self.wall_offset_ns };
        let old_frames = &mut self.old_frames;
        let mut push = |e: MdEvent| {
            if let crate::msg::BookOp::Commit { exch_ts_ms, .. } = e.op {
                if max_age > 0
                    && exch_ts_ms > 0
                    && e.recv_ns
                        .saturating_add_signed(wall_offset)
                        .saturating_sub(exch_ts_ms.saturating_mul(1_000_000))
                        > max_age
                {
                    *old_frames += 1;
                }
            }
            if out.push(e).is_err() {
                *overflowed = true;
                *overflows += 1;
            }
        };
        let did = match ev {
            SourceEvent::Frame { recv_ns } => {
                let recv_ns = if self.restamp { now_ns() } else { recv_ns };
                self.last_event_ns = recv_ns;
                self.bytes += self.buf.len() as u64;
                self.decoder.on_frame(recv_ns, &mut self.buf, &mut push);
                if event_clock {
                    self.decoder.on_timer(recv_ns, &mut push);
                }
                HotCounters::set(&self.counters.last_frame_ns, recv_ns);
                let t = now_ns();
                sample(
                    &mut self.lat,
                    &mut self.dropped_samples,
                    LatencyKind::Feed,
                    t.saturating_sub(recv_ns),
                );
                true
            }
            SourceEvent::Rest { recv_ns } => {
                let recv_ns = if self.restamp { now_ns() } else { recv_ns };
                self.last_event_ns = recv_ns;
                self.decoder
                    .on_rest(recv_ns, &self.url, &mut self.buf, &mut push);
                true
            }
            SourceEvent::Disconnected { now_ns: t } => {
                let now_ns = if self.restamp { now_ns() } else { t };
                self.decoder.on_disconnect(now_ns, &mut push);
                self.flags
                    .feed_active
                    .store(self.source.active(), Ordering::Relaxed);
                true
            }
            SourceEvent::Connected { .. } => {
                self.flags
                    .feed_active
                    .store(self.source.active(), Ordering::Relaxed);
                true
            }
            SourceEvent::Idle => {
                let t = now_ns();
                if t.saturating_sub(self.last_timer_ns) >= 10_000_000 {
                    self.last_timer_ns = t;
                    self.wall_offset_ns = crate::clock::wall_offset_ns();
                    // A recorded source's watchdogs run on its frames' times (above), never on
                    // this process's clock.
                    if !event_clock {
                        self.decoder.on_timer(t, &mut push);
                    }
                    self.flags
                        .feed_active
                        .store(self.source.active(), Ordering::Relaxed);
                    self.flags.clear_degraded_after(t, 1_000_000_000);
                    self.publish();
                }
                false
            }
            SourceEvent::End => {
                self.done = true;
                self.publish();
                false
            }
        };
        if self.overflowed {
            // Events were lost: the books cannot be trusted until they resync. The resync is
            // stamped in event time: a recorded source's own, never this process's clock.
            self.overflowed = false;
            self.flags.overflowed();
            let t = if event_clock {
                self.last_event_ns
            } else {
                now_ns()
            };
            let out = &mut self.out;
            self.decoder.on_disconnect(t, &mut |e| {
                let _ = out.push(e);
            });
            self.source.request_resync();
        } else if self.decoder.take_resync_request() {
            self.source.request_resync();
        }
        self.source.on_decoder(&mut self.decoder);
        if did && self.decoder.counters().frames.is_multiple_of(64) {
            self.publish();
        }
        if did && self.decoder.counters().frames.is_multiple_of(1024) {
            self.wall_offset_ns = crate::clock::wall_offset_ns();
        }
        did
    }

    fn done(&self) -> bool {
        self.done
    }

    fn name(&self) -> &'static str {
        "feed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{InstrumentTable, Market, Venue};
    use crate::msg::{BookOp, Side};
    use crate::venue::{BookRoutes, FeedCounters};

    /// Recorded time of the test's frames: one second after the epoch, far from any clock of
    /// this process.
    const T: u64 = 1_000_000_000;

    /// A recording: frames with their recorded receive times, then nothing.
    struct Recorded {
        frames: Vec<u64>,
        next: usize,
    }

    impl FrameSource for Recorded {
        fn next(&mut self, buf: &mut Vec<u8>, _url: &mut String) -> SourceEvent {
            let Some(&t) = self.frames.get(self.next) else {
                return SourceEvent::Idle;
            };
            self.next += 1;
            buf.clear();
            buf.extend_from_slice(b"{}");
            SourceEvent::Frame { recv_ns: t }
        }
        fn request_resync(&mut self) {}
        fn replay_clock(&self) -> bool {
            true
        }
    }

    /// Eight level events per frame; notes the time of every watchdog and disconnect call.
    struct Burst {
        counters: FeedCounters,
        routes: BookRoutes,
        calls: Vec<(&'static str, u64)>,
    }

    impl Decoder for Burst {
        fn on_frame<F: FnMut(MdEvent)>(&mut self, recv_ns: u64, _frame: &mut [u8], out: &mut F) {
            self.counters.frames += 1;
            for px in 100..108 {
                out(MdEvent {
                    recv_ns,
                    book: 0,
                    op: BookOp::Set {
                        side: Side::Bid,
                        px,
                        qty: 1,
                    },
                });
            }
        }
        fn on_timer<F: FnMut(MdEvent)>(&mut self, now_ns: u64, _out: &mut F) {
            self.calls.push(("on_timer", now_ns));
        }
        fn on_disconnect<F: FnMut(MdEvent)>(&mut self, now_ns: u64, _out: &mut F) {
            self.calls.push(("on_disconnect", now_ns));
        }
        fn counters(&self) -> &FeedCounters {
            &self.counters
        }
        fn routes(&self) -> &BookRoutes {
            &self.routes
        }
        fn take_resync_request(&mut self) -> bool {
            false
        }
    }

    /// A full ring on a recorded source resyncs the books at the recording's event time, and
    /// idle polls do not run its watchdogs on this process's clock: the process's time never
    /// enters a recording's event time (it would fire every timer at once, then freeze them).
    #[test]
    fn ring_overflow_on_a_recording_keeps_its_event_time() {
        let (out, mut rx) = rtrb::RingBuffer::new(4);
        let (lat, _lat) = rtrb::RingBuffer::new(64);
        let flags = Arc::new(Flags::default());
        let routes = BookRoutes::new(
            InstrumentTable::default(),
            Venue::Bybit,
            Market::Linear,
            &[],
        )
        .unwrap();
        let mut f = FeedStage::new(
            Recorded {
                frames: vec![T, T + 5],
                next: 0,
            },
            Burst {
                counters: FeedCounters::default(),
                routes,
                calls: Vec::new(),
            },
            out,
            lat,
            Arc::new(HotCounters::default()),
            flags.clone(),
        );
        assert!(f.poll(), "first frame: 8 events into a ring of 4");
        assert!(
            flags.degraded.load(Ordering::Relaxed),
            "the overflow is counted"
        );
        while rx.pop().is_ok() {}
        assert!(f.poll(), "second frame");
        // Idle polls: the first runs the 10 ms idle timer at once (it has never run).
        assert!(!f.poll());
        assert!(!f.poll());
        let calls = &f.decoder.calls;
        assert!(calls.contains(&("on_disconnect", T)), "{calls:?}");
        for (what, t) in calls {
            assert!(
                *t <= T + 5,
                "{what} at {t}: this process's clock in a recording's event time ({calls:?})"
            );
        }
    }
}
