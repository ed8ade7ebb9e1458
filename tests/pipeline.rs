//! The threaded pipeline against the single-thread replay, and the hot path's allocations.

use obi_scalp::config::{Config, WaitStrategy};
use obi_scalp::pipeline::sources::RecordingSource;
use obi_scalp::pipeline::stats::Flags;
use obi_scalp::pipeline::{LayoutSpec, Pipeline};
use obi_scalp::record::{Record, RecordKind};
use obi_scalp::replay::{input, Engine};
use obi_scalp::strategy::SignalFire;
use obi_scalp::trader::TraderEvent;
use obi_scalp::venue::{AnyDecoder, Decoder};
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[path = "common/shared_data.rs"]
mod shared_data;
use shared_data::shared_data as shared;

/// The Bybit config with thresholds that fire often on 45 s of data.
fn active_config() -> Config {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/bybit-btcusdt.toml"
    ))
    .unwrap();
    let text = base
        .replace("long_threshold = 0.25", "long_threshold = 0.10")
        .replace("short_threshold = 0.27", "short_threshold = 0.10")
        .replace("hold_ms = 500", "hold_ms = 100");
    let mut c = Config::from_toml(&text).unwrap();
    c.pipeline.wait = WaitStrategy::Park;
    c.pipeline.ring_capacity = 1 << 16;
    c
}

/// The records the replay engine feeds for the config's market (same selection as `Engine::run`).
fn our_records(cfg: &Config, loaded: &input::Loaded) -> Vec<Record> {
    let k = cfg.market.instrument.key;
    loaded.records_for(k.venue, k.market)
}

/// The decoder the replay engine builds for the config's instrument.
fn decoder_for(cfg: &Config) -> AnyDecoder {
    AnyDecoder::for_config(cfg).unwrap()
}

fn signals(events: &[TraderEvent]) -> Vec<SignalFire> {
    events
        .iter()
        .filter_map(|e| match e {
            TraderEvent::Signal(s) => Some(*s),
            _ => None,
        })
        .collect()
}

/// N frames through the threaded pipeline (park strategy, every layout from one hot thread to
/// four) give the same signals, at the same event times, as the single-thread event-time replay
/// of the same frames.
#[test]
fn threaded_pipeline_agrees_with_replay_on_signals() {
    let Some(path) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let cfg = active_config();
    let loaded = input::load(&[path], None, None).unwrap();
    let (out, _) = Engine::new(&cfg).unwrap().run(&loaded);
    let want = signals(&out.events);
    assert!(want.len() >= 5, "the test needs signals: {}", want.len());

    for layout in ["1", "feed|book,signal,order", "feed,book|signal,order", "4"] {
        let records = our_records(&cfg, &loaded);
        let frames = records
            .iter()
            .filter(|r| r.kind == RecordKind::Recv)
            .count() as u64;
        let decoder = decoder_for(&cfg);
        let flags = Arc::new(Flags::default());
        flags.feed_active.store(true, Ordering::Relaxed);
        let running = Pipeline::new(&cfg, RecordingSource::new(records), decoder)
            .flags(flags)
            .layout(LayoutSpec::parse(layout).unwrap())
            .start()
            .unwrap();
        assert!(
            running
                .plan
                .threads
                .iter()
                .all(|t| t.wait == WaitStrategy::Park),
            "{layout}: tests park"
        );
        assert_eq!(
            running.plan.layout,
            match LayoutSpec::parse(layout).unwrap() {
                LayoutSpec::Fixed(l) => l,
                LayoutSpec::Auto => unreachable!(),
            }
        );
        let mut events = Vec::new();
        let fin = running
            .join(&mut |e| events.push(*e), &mut |_| {})
            .expect("no stage panicked");
        assert_eq!(fin.feed.decoder.counters().frames, frames, "{layout}");
        assert_eq!(fin.feed.decoder.counters().frames, out.feed.frames);
        assert_eq!(
            fin.book.books.counters[0], out.book,
            "{layout}: same book updates"
        );
        let got = signals(&events);
        assert_eq!(got, want, "{layout}");
        // Every order the threaded run sent was decided on a synced book: orders exist at all.
        let orders = events
            .iter()
            .filter(|e| matches!(e, TraderEvent::Order { .. }))
            .count();
        assert!(orders > 0, "{layout}");
    }
}

/// A ring too small for the flood: overflows are counted, the pipeline is marked degraded and the
/// books are put back to resyncing, and the feed is never blocked (the run finishes).
#[test]
fn full_rings_are_counted_and_degrade_the_pipeline() {
    let Some(path) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let mut cfg = active_config();
    cfg.pipeline.ring_capacity = 16;
    let loaded = input::load(&[path], None, None).unwrap();
    let records = our_records(&cfg, &loaded);
    let decoder = decoder_for(&cfg);
    let flags = Arc::new(Flags::default());
    flags.feed_active.store(true, Ordering::Relaxed);
    let running = Pipeline::new(&cfg, RecordingSource::new(records), decoder)
        .flags(flags.clone())
        .start()
        .unwrap();
    let counters = running.counters.clone();
    let fin = running.join(&mut |_| {}, &mut |_| {}).expect("no panic");
    let rings = counters.ring_overflows();
    assert_eq!(
        rings.map(|(name, _)| name),
        [
            "feed_book",
            "book_signal",
            "book_order",
            "signal_order",
            "order_signal",
            "signal_cold"
        ],
        "overflows are published per real ring"
    );
    let overflows = obi_scalp::pipeline::stats::HotCounters::get(&counters.ring_overflows);
    assert_eq!(rings[0].1, overflows);
    assert!(
        overflows > 0,
        "a 16-slot ring must overflow under the flood"
    );
    assert!(
        flags.degraded.load(Ordering::Relaxed)
            || flags.last_overflow_ns.load(Ordering::Relaxed) > 0
    );
    assert!(
        fin.feed.decoder.counters().resyncs > 0,
        "lost events put the books back to resyncing"
    );
    assert!(
        fin.feed.source.resync_requests > 0,
        "and ask the source for a fresh snapshot"
    );
}

/// Updates whose venue timestamp is older than `market.max_frame_age_ms` on arrival are counted.
#[test]
fn old_frames_are_counted_against_the_venue_clock() {
    let Some(path) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let loaded = input::load(&[path], None, None).unwrap();
    let mut counts = Vec::new();
    // The recording's receive times trail Bybit's `cts` by a few ms to a few hundred ms.
    for max_age_ns in [1_000u64, 3_600_000_000_000] {
        let mut cfg = active_config();
        cfg.market.max_frame_age_ns = max_age_ns;
        let records = our_records(&cfg, &loaded);
        let decoder = decoder_for(&cfg);
        let flags = Arc::new(Flags::default());
        let running = Pipeline::new(&cfg, RecordingSource::new(records), decoder)
            .flags(flags)
            .start()
            .unwrap();
        let fin = running.join(&mut |_| {}, &mut |_| {}).expect("no panic");
        counts.push((fin.feed.old_frames, fin.book.books.counters[0].updates));
    }
    let ((strict, updates), (lenient, _)) = (counts[0], counts[1]);
    assert!(
        strict > updates / 2,
        "1 us: most updates are old ({strict} of {updates})"
    );
    assert_eq!(lenient, 0, "1 h: none is");
}

/// Orders, executions (fills) and closed trades (PnL), in order.
fn trading(events: &[TraderEvent]) -> Vec<TraderEvent> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                TraderEvent::Order { .. } | TraderEvent::Exec { .. } | TraderEvent::Closed { .. }
            )
        })
        .copied()
        .collect()
}

/// The one-thread layout over the Bybit recording (the builder, the real stage structs and
/// rings, one hot thread) trades exactly as `replay`: the same orders, fills and closed trades,
/// the same realized PnL, fees and position. So does every layout that keeps signal+risk and
/// order on one thread (reports return before the next market message there too). Layouts that
/// split them may hand reports back later relative to market data (report timing), so their
/// orders may differ; what they must agree on (signals, book updates) is pinned by
/// `threaded_pipeline_agrees_with_replay_on_signals`.
#[test]
fn one_thread_layout_trades_as_replay() {
    let Some(path) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let cfg = active_config();
    let loaded = input::load(&[path], None, None).unwrap();
    let (out, engine) = Engine::new(&cfg).unwrap().run(&loaded);
    let want = trading(&out.events);
    assert!(want.len() >= 10, "the test needs trading: {}", want.len());
    for layout in [
        "feed,book,signal,order",
        "feed|book,signal,order",
        "feed|book|signal,order",
    ] {
        let flags = Arc::new(Flags::default());
        flags.feed_active.store(true, Ordering::Relaxed);
        let running = Pipeline::new(
            &cfg,
            RecordingSource::new(our_records(&cfg, &loaded)),
            decoder_for(&cfg),
        )
        .flags(flags)
        .layout(LayoutSpec::parse(layout).unwrap())
        .start()
        .unwrap();
        let mut events = Vec::new();
        let fin = running
            .join(&mut |e| events.push(*e), &mut |_| {})
            .expect("no stage panicked");
        let got = trading(&events);
        let first_diff = want.iter().zip(&got).position(|(a, b)| a != b);
        assert_eq!(
            (got.len(), first_diff),
            (want.len(), None),
            "{layout}: first difference: replay {:?} vs pipeline {:?}",
            first_diff.map(|i| want[i]),
            first_diff.and_then(|i| got.get(i).copied())
        );
        let (a, b) = (&engine.trader.ledger, &fin.signal.trader.ledger);
        assert_eq!(
            (a.realized(), a.fees(), a.position()),
            (b.realized(), b.fees(), b.position()),
            "{layout}"
        );
    }
}
