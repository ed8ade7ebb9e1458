//! Benches of the pipeline's own machinery (no files needed):
//! - `ring_hop/same_thread`: one push and one pop of a book-stage message (`Stamped<MarketMsg>`,
//!   264 bytes) on an `rtrb` ring within one thread (the hand-off between two stages fused on one
//!   thread);
//! - `ring_hop/cross_thread`: the same message from a producer thread to a consumer thread,
//!   measured the way rtrb's own benches do: both threads meet at a `Barrier`, the producer
//!   pushes `iters` messages while the consumer pops them, and `iter_custom` takes the time the
//!   consumer needed per message (on a 2-core host the two threads may share a core with the
//!   rest of the machine: state the load);
//! - `fused_group/frame_to_order`: the four hot stages on one thread, as the one-thread layout
//!   runs them: per frame of the built-in synthetic Coincheck market (frame bytes taken from the
//!   source), feed → book → signal+risk → order, each stage's `poll` in pipeline order, its rings
//!   between; the cold side's rings (latency samples, trader events) are drained in the loop.
//!
//! Run: `cargo bench --bench pipeline`. `cargo test --benches` runs each once (so they never rot).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use obi_scalp::book::BookSet;
use obi_scalp::config::Config;
use obi_scalp::exec::PaperExchange;
use obi_scalp::msg::{BookUpdate, Depth, MarketMsg, Stamped, NO_PRICE};
use obi_scalp::pipeline::book::BookStage;
use obi_scalp::pipeline::feed::FeedStage;
use obi_scalp::pipeline::order::OrderStage;
use obi_scalp::pipeline::signal::SignalStage;
use obi_scalp::pipeline::sources::SyntheticSource;
use obi_scalp::pipeline::stats::{Flags, HotCounters};
use obi_scalp::pipeline::Stage;
use obi_scalp::trader::Trader;
use obi_scalp::venue::AnyDecoder;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn msg(i: u64) -> Stamped<MarketMsg> {
    Stamped {
        sent_ns: i,
        msg: MarketMsg::Book(BookUpdate {
            recv_ns: i,
            exch_ts_ms: 0,
            book: 0,
            state: Default::default(),
            crossed: false,
            bid_px: 100,
            bid_qty: 1,
            ask_px: 101,
            ask_qty: 1,
            obi_ppm: 0,
            micro_e6: 0,
            spread_ticks: 1,
            ofi_lots: 0,
            ofi_cum_lots: 0,
            depth: Depth {
                bids: [(NO_PRICE, 0); 5],
                asks: [(NO_PRICE, 0); 5],
            },
            levels_n: 0,
        }),
    }
}

fn ring_hop(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_hop");
    g.throughput(Throughput::Elements(1));
    let (mut tx, mut rx) = rtrb::RingBuffer::new(1024);
    let mut i = 0u64;
    g.bench_function("same_thread", |b| {
        b.iter(|| {
            i += 1;
            tx.push(black_box(msg(i))).unwrap();
            black_box(rx.pop().unwrap());
        })
    });
    g.bench_function("cross_thread", |b| {
        b.iter_custom(|iters| {
            let (mut tx, mut rx) = rtrb::RingBuffer::new(1024);
            let barrier = Arc::new(Barrier::new(2));
            let pb = barrier.clone();
            let producer = std::thread::spawn(move || {
                pb.wait();
                for i in 0..iters {
                    let mut m = msg(i);
                    loop {
                        match tx.push(m) {
                            Ok(()) => break,
                            Err(rtrb::PushError::Full(back)) => {
                                m = back;
                                std::hint::spin_loop();
                            }
                        }
                    }
                }
            });
            barrier.wait();
            let t0 = Instant::now();
            let mut got = 0;
            while got < iters {
                match rx.pop() {
                    Ok(m) => {
                        black_box(m);
                        got += 1;
                    }
                    Err(_) => std::hint::spin_loop(),
                }
            }
            let t = t0.elapsed();
            producer.join().unwrap();
            t
        })
    });
    g.finish();
}

/// The four stages wired as the builder wires them, for polling on this thread.
struct Fused {
    feed: FeedStage<SyntheticSource, AnyDecoder>,
    book: BookStage,
    signal: SignalStage,
    order: OrderStage,
    lat: Vec<rtrb::Consumer<obi_scalp::pipeline::stats::LatencySample>>,
    events: rtrb::Consumer<obi_scalp::trader::TraderEvent>,
}

fn fused() -> Fused {
    let cfg = Config::builtin();
    let cap = 1 << 16;
    let counters = Arc::new(HotCounters::default());
    let flags = Arc::new(Flags::default());
    flags.feed_active.store(true, Ordering::Relaxed);
    let (md_tx, md_rx) = rtrb::RingBuffer::new(cap);
    let (mk_tx, mk_rx) = rtrb::RingBuffer::new(cap);
    let (to_tx, to_rx) = rtrb::RingBuffer::new(cap);
    let (ex_tx, ex_rx) = rtrb::RingBuffer::new(cap);
    let (ev_tx, events) = rtrb::RingBuffer::new(cap);
    let mut lat_tx = Vec::new();
    let mut lat = Vec::new();
    for _ in 0..4 {
        let (t, r) = rtrb::RingBuffer::new(cap);
        lat_tx.push(t);
        lat.push(r);
    }
    let mut lat_tx = lat_tx.into_iter();
    // As fast as the stages take them: every frame is due at once.
    let source = SyntheticSource::from_config(&cfg, u64::MAX).unwrap();
    let decoder = AnyDecoder::for_config(&cfg).unwrap();
    let mut feed = FeedStage::new(
        source,
        decoder,
        md_tx,
        lat_tx.next().unwrap(),
        counters.clone(),
        flags.clone(),
    );
    feed.restamp = true;
    let book = BookStage::new(
        BookSet::new(1, cfg.strategy.obi_levels, cfg.market.book_levels),
        md_rx,
        mk_tx,
        lat_tx.next().unwrap(),
        counters.clone(),
        flags.clone(),
    );
    let signal = SignalStage::new(
        Trader::new(&cfg, 0),
        mk_rx,
        ex_rx,
        to_tx,
        ev_tx,
        lat_tx.next().unwrap(),
        counters.clone(),
        flags.clone(),
    );
    let order = OrderStage::new(
        PaperExchange::new(cfg.paper, 64),
        to_rx,
        ex_tx,
        lat_tx.next().unwrap(),
        counters,
        flags,
    );
    Fused {
        feed,
        book,
        signal,
        order,
        lat,
        events,
    }
}

impl Fused {
    /// One frame through the group: polls in pipeline order until the frame's work is done.
    #[inline]
    fn frame(&mut self) {
        let mut did = self.feed.poll();
        // The same round the group runner makes, repeated while a stage still has input
        // (the return path: order → signal).
        while did {
            did = self.book.poll();
            did |= self.signal.poll();
            did |= self.order.poll();
        }
        for r in &mut self.lat {
            while r.pop().is_ok() {}
        }
        while self.events.pop().is_ok() {}
    }
}

fn fused_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("fused_group");
    g.throughput(Throughput::Elements(1));
    let mut f = fused();
    // Warm up: the initial snapshot and a synced book.
    for _ in 0..2_000 {
        f.frame();
    }
    g.bench_function("frame_to_order", |b| b.iter(|| f.frame()));
    g.finish();
    let frames = f.feed.source.delivered;
    let orders = f.order.sent;
    eprintln!("fused_group: {frames} synthetic frames, {orders} orders handed to the gateway");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ring_hop, fused_group
}
criterion_main!(benches);
