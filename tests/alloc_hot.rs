//! No heap allocation on the hot path after warm-up: decode, book, strategy, risk and the paper
//! exchange over recorded frames, counted by a global allocator.

use obi_scalp::config::Config;
use obi_scalp::record::RecordKind;
use obi_scalp::replay::{input, Engine};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/shared_data.rs"]
mod shared_data;

#[test]
fn stage_logic_does_not_allocate_after_warm_up() {
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
    let cfg = Config::from_toml(&text).unwrap();
    let loaded = input::load(&[p], None, None).unwrap();
    let k = cfg.market.instrument.key;
    let recs: Vec<_> = loaded
        .records
        .iter()
        .filter(|r| {
            r.kind == RecordKind::Recv
                && loaded
                    .conns
                    .get(&r.conn)
                    .is_some_and(|&(v, m)| v == k.venue && m == k.market)
        })
        .collect();
    let mut engine = Engine::new(&cfg).unwrap();
    let mut events = Vec::with_capacity(1 << 16);
    let warm = recs.len() / 3;
    for r in &recs[..warm] {
        engine.on_record(r, &mut events);
    }
    let before = (engine.trader.counters.orders, events.len());
    let start = counting_alloc::all_allocs();
    for r in &recs[warm..] {
        engine.on_record(r, &mut events);
    }
    let allocs = counting_alloc::all_allocs() - start;
    let orders = engine.trader.counters.orders - before.0;
    assert!(orders >= 3, "the measured part must trade: {orders} orders");
    assert!(events.len() > before.1);
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations over {} frames",
        recs.len() - warm
    );
}
