//! Allocation guard for the live feed stage: once connected and synced, taking frames from
//! [`LiveSource`] (queue, stats), decoding them and copying them onto a recording tap must not
//! allocate on the feed thread. A counting global allocator counts only this thread's
//! allocations inside the measured window; the simulator runs on its own threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use obi_scalp::config::Config;
use obi_scalp::instrument::Venue;
use obi_scalp::msg::{BookOp, BookState};
use obi_scalp::pipeline::feed::FeedStage;
use obi_scalp::pipeline::live::LiveSource;
use obi_scalp::pipeline::stats::{Flags, HotCounters};
use obi_scalp::pipeline::tap::tap_pair;
use obi_scalp::pipeline::Stage;
use obi_scalp::sim::server::{SimConfig, SimServer};
use obi_scalp::sim::SyntheticFeed;
use obi_scalp::venue::{AnyDecoder, Decoder, DecoderSettings};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::counted;

#[test]
fn live_feed_stage_does_not_allocate_per_frame() {
    // The counter counts.
    let (b, n) = counted(|| std::hint::black_box(Box::new(7u64)));
    assert_eq!((*b, n), (7, 1));
    let mut sc = SimConfig::new("127.0.0.1:0".parse().unwrap());
    sc.speed = 10.0;
    let sim = SimServer::start(
        Box::new(SyntheticFeed::default_for(Venue::Bybit, 3).unwrap()),
        sc,
    )
    .unwrap();
    let cfg = Config::from_toml(&format!(
        "[market]\nvenue = \"bybit\"\nmarket = \"linear\"\nsymbol = \"BTCUSDT\"\nsource = \"live\"\n\
         ws_url = \"ws://{}/v5/public/linear\"\nstream_depth = 50\nmax_silence_ms = 5000\n\
         ping_interval_ms = 200\n",
        sim.local_addr()
    ))
    .unwrap();
    let k = cfg.market.instrument.key;
    let decoder = AnyDecoder::new(
        k.venue,
        k.market,
        cfg.instruments.clone(),
        &[k.symbol.as_str()],
        &DecoderSettings::from_config(&cfg),
    )
    .unwrap();
    let mut source = LiveSource::for_config(&cfg, &decoder).unwrap();
    source.connect_first(Duration::from_secs(5)).unwrap();
    let (md_tx, mut md) = rtrb::RingBuffer::new(1 << 16);
    let (lat_tx, mut lat) = rtrb::RingBuffer::new(1 << 12);
    let mut feed = FeedStage::new(
        source,
        decoder,
        md_tx,
        lat_tx,
        Arc::new(HotCounters::default()),
        Arc::new(Flags::default()),
    );
    let (tap, mut reader) = tap_pair(8 << 20);
    feed.tap = Some(tap);
    let mut state = BookState::Resyncing;
    let mut step = |feed: &mut FeedStage<LiveSource, AnyDecoder>, state: &mut BookState| {
        let did = feed.poll();
        while let Ok(e) = md.pop() {
            match e.op {
                BookOp::Commit { .. } => *state = BookState::Synced,
                BookOp::State(s) => *state = s,
                _ => {}
            }
        }
        while lat.pop().is_ok() {}
        while reader.next_entry().is_some() {}
        if !did {
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    // Warm up: synced, a few hundred frames (buffers at their working size).
    let t = Instant::now();
    while !(state == BookState::Synced && feed.decoder.counters().frames > 300) {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no synced book in time"
        );
        step(&mut feed, &mut state);
    }
    let frames0 = feed.decoder.counters().frames;
    let pings0 = feed.source.stats().snapshot().ws.pings_tx;
    let ((), allocs) = counted(|| {
        let t = Instant::now();
        while feed.decoder.counters().frames < frames0 + 400
            && t.elapsed() < Duration::from_secs(15)
        {
            // The reader and the ring drains run here too; they reuse their buffers.
            step(&mut feed, &mut state);
        }
    });
    let frames = feed.decoder.counters().frames - frames0;
    let pings = feed.source.stats().snapshot().ws.pings_tx - pings0;
    assert!(frames >= 400, "only {frames} frames in the window");
    assert!(pings >= 1, "the keepalive ran inside the window");
    assert_eq!(state, BookState::Synced);
    assert_eq!(
        allocs, 0,
        "{allocs} allocations on the feed thread over {frames} frames"
    );
}
