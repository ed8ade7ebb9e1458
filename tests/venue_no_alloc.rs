//! The decoders do not allocate per frame once warmed up: a counting allocator (per thread, so
//! the test harness's own threads do not count) watches the steady state.
//!
//! Regression guard: with `simd_json::prelude::*` in scope, `vec.iter()` resolves to the
//! prelude's `Array` trait (implemented for `Vec`), which boxes its iterator: one allocation
//! per call in code that looks allocation-free.

use obi_scalp::instrument::{InstrumentTable, Market, Venue};
use obi_scalp::msg::MdEvent;
use obi_scalp::venue::binance::BinanceDecoder;
use obi_scalp::venue::bitflyer::BitflyerDecoder;
use obi_scalp::venue::bybit::BybitDecoder;
use obi_scalp::venue::coincheck::CoincheckDecoder;
use obi_scalp::venue::{BookRoutes, Decoder};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::thread_allocs as allocs;

/// Feeds `frames` (copied into `buf`, which has room) and counts allocations meanwhile.
fn run<D: Decoder>(
    d: &mut D,
    t0: u64,
    frames: &[Vec<u8>],
    buf: &mut Vec<u8>,
    sink: &mut u64,
) -> u64 {
    let before = allocs();
    for (i, f) in frames.iter().enumerate() {
        buf.clear();
        buf.extend_from_slice(f);
        d.on_frame(t0 + i as u64, buf, &mut |e: MdEvent| *sink += e.recv_ns & 1);
        d.on_timer(t0 + i as u64, &mut |e: MdEvent| *sink += e.recv_ns & 1);
    }
    allocs() - before
}

#[test]
fn decoders_steady_state_do_not_allocate() {
    steady_state_does_not_allocate(true);
}

/// The same on the simd-json path only (the fast path's fallback).
#[test]
fn decoders_on_simd_json_only_do_not_allocate() {
    steady_state_does_not_allocate(false);
}

fn steady_state_does_not_allocate(fast: bool) {
    let table = InstrumentTable::default();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut sink = 0u64;

    // Binance: buffered diffs before the snapshot, then live diffs and trades.
    let r = BookRoutes::new(table.clone(), Venue::Binance, Market::Spot, &["NKNUSDT"]).unwrap();
    let mut d = BinanceDecoder::new(r);
    d.set_fast_path(fast);
    let depth = |u: u64| {
        format!(
            r#"{{"stream":"nknusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":{u},"u":{u},"b":[["0.3521","{q}"],["0.3520","0"]],"a":[["0.3528","{q}"]]}}}}"#,
            q = u % 7 + 1
        )
        .into_bytes()
    };
    let trade = br#"{"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"NKNUSDT","a":1,"p":"0.3527","q":"2","T":5,"m":true,"M":true}}"#.to_vec();
    let pre: Vec<Vec<u8>> = (101..150).map(depth).collect();
    let live: Vec<Vec<u8>> = (150..2150)
        .flat_map(|u| [depth(u), trade.clone()])
        .collect();
    let _ = run(&mut d, 0, &pre[..1], &mut buf, &mut sink); // warm-up
    let n = run(&mut d, 10, &pre[1..], &mut buf, &mut sink);
    assert_eq!(n, 0, "buffering before the snapshot allocated {n} times");
    let mut body =
        br#"{"lastUpdateId":120,"bids":[["0.3521","1"]],"asks":[["0.3528","1"]]}"#.to_vec();
    d.on_rest(
        100,
        "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000",
        &mut body,
        &mut |_| {},
    );
    let _ = run(&mut d, 200, &live[..2], &mut buf, &mut sink); // warm-up
    let n = run(&mut d, 300, &live[2..], &mut buf, &mut sink);
    assert_eq!(n, 0, "Binance live diffs allocated {n} times");
    assert_eq!(d.counters().gaps, 0);
    assert_eq!(d.book_seq(0), Some(2149));
    assert_eq!(d.fast_path_frames() > 0, fast);

    // Coincheck: buffered diffs, seed, live diffs and trades, a re-seed cycle.
    let r = BookRoutes::new(table, Venue::Coincheck, Market::Spot, &["btc_jpy"]).unwrap();
    let mut d = CoincheckDecoder::new(r);
    d.set_fast_path(fast);
    let diff = |i: u64| {
        format!(
            r#"["btc_jpy",{{"bids":[["{b}.0","0.{q}"],["6288000.0","0"]],"asks":[["{a}.0","0.5"]],"last_update_at":"1705396097"}}]"#,
            b = 6_280_000 + i % 50,
            a = 6_290_000 + i % 50,
            q = i % 9 + 1
        )
        .into_bytes()
    };
    let trades = br#"[["1663318663","2357062","btc_jpy","2820896.0","5.0","sell","1193401","2078767"],["1663318664","2357063","btc_jpy","2820900.0","0.01","buy","1193402","2078768"]]"#.to_vec();
    let frames: Vec<Vec<u8>> = (0..2000).flat_map(|i| [diff(i), trades.clone()]).collect();
    let _ = run(&mut d, 0, &frames[..4], &mut buf, &mut sink); // warm-up (buffered)
    let n = run(&mut d, 10, &frames[4..40], &mut buf, &mut sink);
    assert_eq!(n, 0, "Coincheck buffering allocated {n} times");
    let url = "https://coincheck.com/api/order_books?pair=btc_jpy";
    let mut seed = br#"{"asks":[["6290314.0","0.5"]],"bids":[["6280000.0","1"]]}"#.to_vec();
    d.on_rest(100, url, &mut seed, &mut |_| {});
    let _ = run(&mut d, 200, &frames[40..44], &mut buf, &mut sink); // warm-up
    let n = run(&mut d, 300, &frames[44..], &mut buf, &mut sink);
    assert_eq!(n, 0, "Coincheck live diffs allocated {n} times");
    assert_eq!(d.counters().crossed, 0);
    assert!(d.counters().trades >= 2 * 1980);
    assert_eq!(d.fast_path_frames() > 0, fast);

    // Bybit: snapshot, then deltas.
    let r = BookRoutes::new(
        InstrumentTable::default(),
        Venue::Bybit,
        Market::Linear,
        &["BTCUSDT"],
    )
    .unwrap();
    let mut d = BybitDecoder::new(r);
    d.set_fast_path(fast);
    let snap = br#"{"topic":"orderbook.200.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","1.000"]],"a":[["100.1","0.5"]],"u":10,"seq":5},"cts":2}"#.to_vec();
    let deltas: Vec<Vec<u8>> = std::iter::once(snap)
        .chain((11..2011).map(|u| {
            format!(
                r#"{{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1,"data":{{"s":"BTCUSDT","b":[["100.0","{q}"]],"a":[],"u":{u},"seq":6}},"cts":3}}"#,
                q = u % 5 + 1
            )
            .into_bytes()
        }))
        .collect();
    let _ = run(&mut d, 0, &deltas[..3], &mut buf, &mut sink); // warm-up
    let n = run(&mut d, 10, &deltas[3..], &mut buf, &mut sink);
    assert_eq!(n, 0, "Bybit deltas allocated {n} times");
    assert_eq!(d.counters().gaps, 0);
    let read_fast = if fast { d.counters().frames } else { 0 };
    assert_eq!(d.fast_path_frames(), read_fast);

    // bitFlyer: JSON-number prices formatted on the stack; snapshot, diffs, executions.
    let r = BookRoutes::new(
        InstrumentTable::default(),
        Venue::Bitflyer,
        Market::Linear,
        &["FX_BTC_JPY"],
    )
    .unwrap();
    let mut d = BitflyerDecoder::new(r);
    let board = |ch: &str, i: u64| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"channelMessage","params":{{"channel":"{ch}","message":{{"mid_price":5860000.0,"bids":[{{"price":{b}.0,"size":0.0267539}},{{"price":5850000.0,"size":0.0}}],"asks":[{{"price":{a}.0,"size":0.01}}]}}}}}}"#,
            b = 5_859_000 + i % 50,
            a = 5_861_000 + i % 50
        )
        .into_bytes()
    };
    let exec = br#"{"jsonrpc":"2.0","method":"channelMessage","params":{"channel":"lightning_executions_FX_BTC_JPY","message":[{"id":1,"side":"BUY","price":5860832.0,"size":0.01,"exec_date":"2021-12-12T23:05:29.9692063Z"}]}}"#.to_vec();
    let frames: Vec<Vec<u8>> = std::iter::once(board("lightning_board_snapshot_FX_BTC_JPY", 0))
        .chain((1..2000).flat_map(|i| [board("lightning_board_FX_BTC_JPY", i), exec.clone()]))
        .collect();
    let _ = run(&mut d, 0, &frames[..3], &mut buf, &mut sink); // warm-up
    let n = run(&mut d, 10, &frames[3..], &mut buf, &mut sink);
    assert_eq!(n, 0, "bitFlyer frames allocated {n} times");
    assert!(d.counters().trades >= 1990);
    assert!(sink > 0);
}
