//! No heap allocation on the real hot thread after warm-up: the pipeline started through the
//! [`Pipeline`] builder in the one-thread layout (feed, book, signal+risk and order on one
//! thread, the rings between them), over recorded Bybit frames. The source counts the hot
//! thread's own allocations (it runs on that thread), so the cold thread's work (draining
//! latency samples and trader events) does not count, and nothing is left out of the hot one.

use obi_scalp::config::{Config, WaitStrategy};
use obi_scalp::pipeline::sources::{FrameSource, RecordingSource, SourceEvent};
use obi_scalp::pipeline::stats::Flags;
use obi_scalp::pipeline::{LayoutSpec, Pipeline};
use obi_scalp::record::Record;
use obi_scalp::replay::input;
use obi_scalp::trader::TraderEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/shared_data.rs"]
mod shared_data;

/// The recording played `passes` times; notes the hot thread's allocation count when the
/// measured part starts (after `warm` events) and when the input ends.
struct Counted {
    inner: RecordingSource,
    taken: u64,
    warm: u64,
    at_warm: Arc<AtomicU64>,
    at_end: Arc<AtomicU64>,
}

impl FrameSource for Counted {
    fn next(&mut self, buf: &mut Vec<u8>, url: &mut String) -> SourceEvent {
        let ev = self.inner.next(buf, url);
        self.taken += 1;
        if self.taken == self.warm {
            self.at_warm
                .store(counting_alloc::thread_allocs(), Ordering::SeqCst);
        }
        if ev == SourceEvent::End {
            self.at_end
                .store(counting_alloc::thread_allocs(), Ordering::SeqCst);
        }
        ev
    }

    fn request_resync(&mut self) {
        self.inner.request_resync()
    }

    fn replay_clock(&self) -> bool {
        true
    }
}

#[test]
fn the_one_thread_layout_does_not_allocate_after_warm_up() {
    let Some(p) = shared_data::shared_data("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/bybit-btcusdt.toml"
    ))
    .unwrap();
    // Thresholds that trade often, so orders, fills and risk checks are on the measured path.
    let text = base
        .replace("long_threshold = 0.25", "long_threshold = 0.10")
        .replace("short_threshold = 0.27", "short_threshold = 0.10")
        .replace("hold_ms = 500", "hold_ms = 100")
        .replace("max_hold_ms = 15000", "max_hold_ms = 2000");
    let mut cfg = Config::from_toml(&text).unwrap();
    cfg.pipeline.wait = WaitStrategy::Park;
    let loaded = input::load(&[p], None, None).unwrap();
    let k = cfg.market.instrument.key;
    let ours: Vec<Record> = loaded.records_for(k.venue, k.market);
    // Warm-up: the first third of the recording (snapshots seen, book warm, first trades).
    let warm = (ours.len() / 3) as u64;
    let at_warm = Arc::new(AtomicU64::new(u64::MAX));
    let at_end = Arc::new(AtomicU64::new(u64::MAX));
    let source = Counted {
        inner: RecordingSource::new(ours),
        taken: 0,
        warm,
        at_warm: at_warm.clone(),
        at_end: at_end.clone(),
    };
    let flags = Arc::new(Flags::default());
    flags.feed_active.store(true, Ordering::Relaxed);
    let running = Pipeline::new(
        &cfg,
        source,
        obi_scalp::venue::AnyDecoder::for_config(&cfg).unwrap(),
    )
    .flags(flags)
    .layout(LayoutSpec::parse("feed,book,signal,order").unwrap())
    .start()
    .unwrap();
    assert_eq!(running.plan.threads.len(), 1);
    let mut orders = 0;
    let fin = running
        .join(
            &mut |e| {
                if let TraderEvent::Order { .. } = e {
                    orders += 1;
                }
            },
            &mut |_| {},
        )
        .expect("no stage panicked");
    let (w, e) = (
        at_warm.load(Ordering::SeqCst),
        at_end.load(Ordering::SeqCst),
    );
    assert!(w != u64::MAX && e != u64::MAX, "both marks taken");
    // The same config trades at least 3 times after the first third in `alloc_hot.rs` (replay).
    assert!(
        fin.order.sent >= 3,
        "the run must trade: {} orders",
        fin.order.sent
    );
    assert_eq!(
        e - w,
        0,
        "{} allocations on the hot thread over the measured frames",
        e - w
    );
    assert!(orders > 0);
    // The book -> order level ring and the order stage's mirror ladder ran on the measured
    // path: every level operation of the book stage reached the mirror, none was lost.
    let obi_scalp::exec::OrderGateway::Paper(paper) = &fin.order.gateway else {
        panic!("a paper-mode pipeline runs the paper exchange");
    };
    let mirror = paper.mirror();
    let c = fin.book.books.counters[0];
    assert!(mirror.is_fed());
    assert!(c.levels > 0);
    assert_eq!(
        mirror.applied,
        c.levels + c.clears,
        "every level op mirrored"
    );
    assert_eq!((mirror.gaps, fin.book.books.tap_overflows()), (0, 0));
    assert!(mirror.synced());
}
