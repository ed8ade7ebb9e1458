//! The book stage: book events in, top of book and signals out.

use super::runner::Stage;
use super::stats::{sample, Flags, HotCounters, LatencyKind, LatencySample};
use crate::book::BookSet;
use crate::clock::now_ns;
use crate::msg::{MarketMsg, MdEvent, Stamped};
use std::sync::Arc;

/// Events handled per poll before yielding to the runner's checks.
const BATCH: usize = 256;

pub struct BookStage {
    pub books: BookSet,
    input: rtrb::Consumer<MdEvent>,
    out: rtrb::Producer<Stamped<MarketMsg>>,
    lat: rtrb::Producer<LatencySample>,
    counters: Arc<HotCounters>,
    flags: Arc<Flags>,
    overflows: u64,
    dropped_samples: u64,
}

impl BookStage {
    pub fn new(
        books: BookSet,
        input: rtrb::Consumer<MdEvent>,
        out: rtrb::Producer<Stamped<MarketMsg>>,
        lat: rtrb::Producer<LatencySample>,
        counters: Arc<HotCounters>,
        flags: Arc<Flags>,
    ) -> BookStage {
        BookStage {
            books,
            input,
            out,
            lat,
            counters,
            flags,
            overflows: 0,
            dropped_samples: 0,
        }
    }
}

impl Stage for BookStage {
    #[inline]
    fn poll(&mut self) -> bool {
        let mut n = 0;
        let tap_before = self.books.tap_overflows();
        while n < BATCH {
            let Ok(ev) = self.input.pop() else { break };
            n += 1;
            if let Some(msg) = self.books.apply(&ev) {
                let t = now_ns();
                if let MarketMsg::Book(u) = &msg {
                    sample(
                        &mut self.lat,
                        &mut self.dropped_samples,
                        LatencyKind::BookSinceReceive,
                        t.saturating_sub(u.recv_ns),
                    );
                    self.counters.book_state.set(u.state);
                }
                if self.out.push(Stamped { sent_ns: t, msg }).is_err() {
                    self.overflows += 1;
                    self.flags.overflowed();
                }
            }
        }
        if n > 0 {
            let tap = self.books.tap_overflows();
            if tap > tap_before {
                self.flags.overflowed();
            }
            HotCounters::set(&self.counters.overflow_book_order, tap);
            let c = self.books.counters.first().copied().unwrap_or_default();
            HotCounters::set(&self.counters.book_updates, c.updates);
            HotCounters::set(&self.counters.crossed, c.crossed);
            HotCounters::set(&self.counters.overflow_book_signal, self.overflows);
        }
        n > 0
    }

    fn done(&self) -> bool {
        self.flags.is_done(0) && self.input.is_empty()
    }

    fn name(&self) -> &'static str {
        "book"
    }
}
