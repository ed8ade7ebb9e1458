//! Market-data benches on real recorded frames from `../shared/data`:
//! - `parse/*`: one Bybit delta (and a Binance and a Coincheck diff): the decoder's pull-scanner
//!   fast path (`fast_scan`, the default), the same decoder on simd-json's tape only
//!   (`simd_json_tape`), and serde_json typed (same frame); `parse/gmocoin_book/*` a GMO Coin
//!   full book of 30 levels a side (documented shape): read alone, and read + applied
//!   (`parse_apply`: the frame replaces the book, as every GMO frame does);
//!   `parse/bitbank_diff/*` a bitbank `depth_diff` Socket.IO event of 10 + 10 levels;
//!   `parse/binance_usdm_diff/*` a Binance USD-M futures diff (with `pu`) of 10 + 10 levels;
//! - `parse_apply/bybit_delta`: decode + apply each recorded BTCUSDT linear delta, in order, to
//!   its warm 200x200 book (the 1 µs target), with `parse_apply/bybit_delta_simd_json` the same on
//!   the simd-json path and `parse_apply/bybit_delta_apply_only` its book half alone (the events
//!   decoded beforehand); `parse_apply/binance_diff` (and `_simd_json`) the same for every
//!   recorded NKNUSDT spot diff after its REST snapshot, `parse_apply/bitflyer_board` for every
//!   recorded FX_BTC_JPY board diff after the first snapshot; each also prints its distribution
//!   per update (each update's median over 200 passes, and all samples pooled);
//!   `parse_apply/{coincheck,bitbank,binance_usdm}_diff` the same on the simulator's synthetic
//!   sessions (documented shapes: no recording of these venues exists), decoder from the venue's
//!   connector;
//! - `book_apply/recorded_deltas/*`: every recorded BTCUSDT linear delta's levels (decoded
//!   beforehand) applied in order, then OBI(8), per delta: our ladder vs a `BTreeMap` pair;
//!   `book_apply/*_top_update`: one level near the touch;
//! - `signals/obi8`, `signals/microprice`: the per-update signals on a 200-level book (50 ns target);
//! - `replay/*`: parse + book + OBI over the whole Bybit recording on one thread, frames per second,
//!   ours (and ours on the simd-json path) vs a plain serde_json + `BTreeMap` baseline in the same
//!   run (500 k/s and 3x targets).
//!
//! Run: `cargo bench --bench market_data`. Frames are loaded before timing starts.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use obi_scalp::book::{signals, BookSet, L2Book};
use obi_scalp::instrument::{InstrumentTable, Market, Venue};
use obi_scalp::msg::{BookOp, MdEvent, Side};
use obi_scalp::venue::bybit::BybitDecoder;
use obi_scalp::venue::{BookRoutes, Decoder};
use serde::Deserialize;
use std::collections::BTreeMap;

#[path = "../tests/common/shared_data.rs"]
mod shared_data;

const BINANCE: &str = "binance_spot_cryptofeed_20211012.jsonl";

const BYBIT: &str = "bybit_v5_cryptofeed_20260809.jsonl";

const BITFLYER: &str = "bitflyer_cryptofeed_20211212.jsonl";

#[derive(Deserialize)]
struct Line {
    t: String,
    #[serde(default)]
    conn: String,
    #[serde(default)]
    data: String,
    #[serde(default)]
    addr: String,
    #[serde(default)]
    url: String,
}

/// (market, frame) for every `recv` line of the Bybit recording, in file order; `None` when
/// the recording is absent (a visible skip, or a panic under `OBI_REQUIRE_DATA=1`). A file
/// that is there but does not read as expected panics.
fn bybit_frames() -> Option<Vec<(Market, Vec<u8>)>> {
    let path = shared_data::shared_data(BYBIT)?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut conn_market: BTreeMap<String, Market> = BTreeMap::new();
    let mut out = Vec::new();
    for (n, l) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), n + 1);
        let l: Line = serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", at()));
        match l.t.as_str() {
            "connect" => {
                let m = obi_scalp::venue::bybit::market_of_addr(&l.addr)
                    .unwrap_or_else(|| panic!("{}: unknown address {}", at(), l.addr));
                conn_market.insert(l.conn, m);
            }
            "recv" => {
                let m = *conn_market
                    .get(&l.conn)
                    .unwrap_or_else(|| panic!("{}: unknown connection {}", at(), l.conn));
                out.push((m, l.data.into_bytes()));
            }
            _ => {}
        }
    }
    Some(out)
}

fn decoder(m: Market) -> BybitDecoder {
    BybitDecoder::new(BookRoutes::new(InstrumentTable::default(), Venue::Bybit, m, &[]).unwrap())
}

/// A decoder with the pull-scanner fast path on (the default) or off (simd-json only).
fn decoder_with(m: Market, fast: bool) -> BybitDecoder {
    let mut d = decoder(m);
    d.set_fast_path(fast);
    d
}

/// A Binance NKNUSDT combined-stream depth frame from the recording.
fn binance_frame() -> Option<Vec<u8>> {
    let path = shared_data::shared_data(BINANCE)?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let frame = text.lines().find_map(|l| {
        let l: Line = serde_json::from_str(l).ok()?;
        (l.t == "recv" && l.data.starts_with(r#"{"stream":"nknusdt@depth"#))
            .then(|| l.data.into_bytes())
    });
    Some(frame.unwrap_or_else(|| panic!("{}: no nknusdt@depth frame", path.display())))
}

#[derive(Deserialize)]
struct SjBinance<'a> {
    #[serde(borrow)]
    #[allow(dead_code)]
    stream: &'a str,
    #[serde(borrow)]
    data: SjDepth<'a>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct SjDepth<'a> {
    #[serde(rename = "U")]
    first: u64,
    #[serde(rename = "u")]
    last: u64,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct SjCoincheck<'a>(&'a str, #[serde(borrow)] SjCoincheckBook<'a>);

#[derive(Deserialize)]
#[allow(dead_code)]
struct SjCoincheckBook<'a> {
    #[serde(borrow)]
    bids: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    asks: Vec<[&'a str; 2]>,
}

// ---------- the baseline: serde_json typed + BTreeMap book ----------

#[derive(Deserialize)]
struct SjFrame<'a> {
    #[serde(borrow)]
    topic: Option<&'a str>,
    #[serde(rename = "type")]
    ty: Option<&'a str>,
    #[serde(borrow)]
    data: Option<SjData<'a>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SjData<'a> {
    Book {
        #[serde(borrow)]
        b: Vec<[&'a str; 2]>,
        #[serde(borrow)]
        a: Vec<[&'a str; 2]>,
        u: u64,
    },
    Other(serde::de::IgnoredAny),
}

#[derive(Default)]
struct BaselineBook {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    last_u: u64,
}

/// The straightforward implementation: serde_json into borrowed structs, exact decimals, BTreeMap.
struct Baseline {
    books: BTreeMap<(Market, String), BaselineBook>,
    table: InstrumentTable,
}

impl Baseline {
    fn new() -> Baseline {
        Baseline {
            books: BTreeMap::new(),
            table: InstrumentTable::default(),
        }
    }

    fn on_frame(&mut self, m: Market, frame: &[u8]) -> i64 {
        let Ok(f) = serde_json::from_slice::<SjFrame>(frame) else {
            return 0;
        };
        let (Some(topic), Some(SjData::Book { b, a, u })) = (f.topic, f.data) else {
            return 0;
        };
        let Some(sym) = topic.strip_prefix("orderbook.200.") else {
            return 0;
        };
        let Some(inst) = self.table.get(Venue::Bybit, m, sym) else {
            return 0;
        };
        let (tick, lot) = (inst.tick, inst.lot);
        let book = self.books.entry((m, sym.to_string())).or_default();
        if f.ty == Some("snapshot") {
            book.bids.clear();
            book.asks.clear();
        }
        book.last_u = u;
        for (side, levels) in [(&mut book.bids, b), (&mut book.asks, a)] {
            for [p, q] in levels {
                let p = tick.parse(p.as_bytes()).unwrap_or(0);
                let q = lot.parse(q.as_bytes()).unwrap_or(0);
                if q == 0 {
                    side.remove(&p);
                } else {
                    side.insert(p, q);
                }
            }
        }
        let bq: i64 = book.bids.values().rev().take(8).sum();
        let aq: i64 = book.asks.values().take(8).sum();
        signals::obi_ppm(bq, aq)
    }
}

// ---------- ours ----------

struct Ours {
    lin: BybitDecoder,
    spot: BybitDecoder,
    books_lin: BookSet,
    books_spot: BookSet,
    scratch: Vec<u8>,
}

impl Ours {
    fn new() -> Ours {
        Ours::with_fast_path(true)
    }

    fn with_fast_path(fast: bool) -> Ours {
        Ours {
            lin: decoder_with(Market::Linear, fast),
            spot: decoder_with(Market::Spot, fast),
            books_lin: BookSet::new(8, 8, 1024),
            books_spot: BookSet::new(8, 8, 1024),
            scratch: Vec::with_capacity(1 << 16),
        }
    }

    #[inline]
    fn on_frame(&mut self, m: Market, frame: &[u8]) -> i64 {
        self.scratch.clear();
        self.scratch.extend_from_slice(frame);
        let (d, books) = match m {
            Market::Spot => (&mut self.spot, &mut self.books_spot),
            _ => (&mut self.lin, &mut self.books_lin),
        };
        let mut obi = 0;
        d.on_frame(0, &mut self.scratch, &mut |e: MdEvent| {
            if let Some(obi_scalp::msg::MarketMsg::Book(u)) = books.apply(&e) {
                obi = u.obi_ppm;
            }
        });
        obi
    }
}

/// Benches decoding `frame` (received at `recv_ns`) under `name`, then, when the bench ran (a
/// filter may leave it out), checks that the path measured was the one named: the pull scanner
/// when `fast`, simd-json's tape otherwise (`fast_frames` reads the decoder's fast-path count).
fn bench_path<D: Decoder>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    fast: bool,
    d: &mut D,
    fast_frames: fn(&D) -> u64,
    frame: &[u8],
    recv_ns: u64,
) {
    let mut buf = Vec::with_capacity(1 << 16);
    let mut n = 0u64;
    let before = fast_frames(d);
    let frames_before = d.counters().frames;
    g.bench_function(name, |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(frame);
            d.on_frame(recv_ns, &mut buf, &mut |_e| n += 1);
        })
    });
    if d.counters().frames > frames_before {
        assert_eq!(fast_frames(d) > before, fast, "{name}: the path measured");
    }
    black_box(n);
}

/// A GMO Coin `orderbooks` frame with `n` levels a side around 13,660,000 JPY (BTC_JPY,
/// 0.001 BTC sizes), in the shape of VENUES.md 1.4 (the probe's frame).
fn gmocoin_book_frame(n: usize) -> String {
    let side = |base: i64, step: i64| {
        (0..n as i64)
            .map(|i| {
                format!(
                    r#"{{"price":"{}","size":"0.{:03}"}}"#,
                    base + step * (i * 7 + 1),
                    1 + (i * 13) % 900
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"channel":"orderbooks","asks":[{}],"bids":[{}],"symbol":"BTC_JPY","timestamp":"2026-09-23T03:25:35.843Z","grouping":"1"}}"#,
        side(13_660_000, 1),
        side(13_659_000, -1)
    )
}

/// One decoder and the book set its events go to: the per-venue state of the `parse_apply`
/// benches after Bybit's.
struct Feed<D> {
    d: D,
    books: BookSet,
    scratch: Vec<u8>,
}

impl<D: Decoder> Feed<D> {
    fn new(d: D) -> Feed<D> {
        Feed {
            d,
            books: BookSet::new(8, 8, 1024),
            scratch: Vec::with_capacity(1 << 16),
        }
    }

    #[inline]
    fn on_frame(&mut self, frame: &[u8]) -> i64 {
        self.scratch.clear();
        self.scratch.extend_from_slice(frame);
        let books = &mut self.books;
        let mut obi = 0;
        self.d.on_frame(0, &mut self.scratch, &mut |e: MdEvent| {
            if let Some(obi_scalp::msg::MarketMsg::Book(u)) = books.apply(&e) {
                obi = u.obi_ppm;
            }
        });
        obi
    }

    /// One recorded line: a WebSocket frame (`url` empty) or the REST answer to `url`.
    fn on_line(&mut self, (url, body): &(String, Vec<u8>)) {
        if url.is_empty() {
            self.on_frame(body);
            return;
        }
        let mut body = body.clone();
        let books = &mut self.books;
        self.d.on_rest(0, url, &mut body, &mut |e: MdEvent| {
            books.apply(&e);
        });
    }
}

/// The Binance decoder of the recording's NKNUSDT book, on the fast path or simd-json's tape.
fn nknusdt_decoder(fast: bool) -> obi_scalp::venue::binance::BinanceDecoder {
    let mut d = obi_scalp::venue::binance::BinanceDecoder::new(
        BookRoutes::new(
            InstrumentTable::default(),
            Venue::Binance,
            Market::Spot,
            &["NKNUSDT"],
        )
        .unwrap(),
    );
    d.set_fast_path(fast);
    d
}

/// Passes over the recorded updates for [`per_update_distribution`].
const PASSES: usize = 200;

/// Prints the distribution per update of a recorded sequence (criterion reports the mean of a
/// run): `updates` in order on the state `fresh` builds (untimed), each `(true, frame)` timed on
/// its own in each of [`PASSES`] passes, each `(false, frame)` applied untimed (a snapshot that
/// replaces the book). Two views, both as percentiles over the timed updates: each update's
/// median over the passes (its cost on this machine: a burst of other tenants' work hits some
/// passes, not the median), and all samples pooled (what one run saw, that noise included).
/// Both include one clock read, printed as `clock`.
fn per_update_distribution<S>(
    label: &str,
    updates: &[(bool, &[u8])],
    mut fresh: impl FnMut() -> S,
    mut step: impl FnMut(&mut S, &[u8]),
) {
    let clock = {
        let mut c: Vec<u64> = (0..10_000)
            .map(|_| {
                let t = std::time::Instant::now();
                black_box(t.elapsed().as_nanos() as u64)
            })
            .collect();
        c.sort_unstable();
        c[c.len() / 2]
    };
    let n = updates.iter().filter(|u| u.0).count();
    // samples[p * n + j]: timed update j in pass p (written in order, not to disturb the caches).
    let mut samples = vec![0u64; n * PASSES];
    for p in 0..PASSES {
        let mut st = fresh();
        let mut j = 0;
        for &(timed, f) in updates {
            if !timed {
                step(&mut st, f);
                continue;
            }
            let t = std::time::Instant::now();
            step(&mut st, f);
            samples[p * n + j] = t.elapsed().as_nanos() as u64;
            j += 1;
        }
    }
    let mut pooled = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    for v in &samples {
        let _ = pooled.record(*v);
    }
    let mut medians = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    let mut per_update = vec![0u64; PASSES];
    for j in 0..n {
        for (p, v) in per_update.iter_mut().enumerate() {
            *v = samples[p * n + j];
        }
        per_update.sort_unstable();
        let _ = medians.record(per_update[PASSES / 2]);
    }
    println!(
        "{label}, {n} updates x {PASSES} passes: \
         each update's median: p50 {} ns, p90 {} ns, p99 {} ns; \
         all samples: p50 {} ns, p90 {} ns, p99 {} ns, p99.9 {} ns; clock {clock} ns",
        medians.value_at_quantile(0.5),
        medians.value_at_quantile(0.9),
        medians.value_at_quantile(0.99),
        pooled.value_at_quantile(0.5),
        pooled.value_at_quantile(0.9),
        pooled.value_at_quantile(0.99),
        pooled.value_at_quantile(0.999),
    );
}

/// Criterion's view of the same sequence: time per timed update, the untimed ones (and the
/// state `fresh` builds whenever the sequence is used up) left out of the clock.
fn bench_updates<S>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    updates: &[(bool, &[u8])],
    mut fresh: impl FnMut() -> S,
    mut step: impl FnMut(&mut S, &[u8]),
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let mut st = fresh();
                let mut rest = updates;
                while done < iters && !rest.is_empty() {
                    // The next run of timed updates, timed as one block.
                    let run = rest.iter().take_while(|u| u.0).count();
                    let take = run.min((iters - done) as usize);
                    let t = std::time::Instant::now();
                    for &(_, f) in &rest[..take] {
                        step(&mut st, f);
                    }
                    total += t.elapsed();
                    done += take as u64;
                    rest = &rest[take..];
                    while let Some(&(false, f)) = rest.first() {
                        step(&mut st, f);
                        rest = &rest[1..];
                    }
                }
            }
            total
        })
    });
}

/// (url, body) of each `http` line and the frame of each `recv` line of a cryptofeed recording,
/// in file order; `None` when the recording is absent.
fn recording_lines(file: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let path = shared_data::shared_data(file)?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (n, l) in text.lines().enumerate() {
        let l: Line =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
        match l.t.as_str() {
            "http" => out.push((l.url, l.data.into_bytes())),
            "recv" => out.push((String::new(), l.data.into_bytes())),
            _ => {}
        }
    }
    Some(out)
}

/// `parse_apply/binance_diff*`: every recorded NKNUSDT `depthUpdate` after its REST snapshot, in
/// order, decoded, checked against the sync rule and applied to the warm book (+ OBI), as
/// `parse_apply/bybit_delta` does for Bybit; the fast path and simd-json's tape in one run.
fn binance_parse_apply(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    use obi_scalp::venue::binance::BinanceDecoder;
    let Some(lines) = recording_lines(BINANCE) else {
        return;
    };
    let snap = lines
        .iter()
        .position(|(url, _)| url.contains("/depth") && url.contains("symbol=NKNUSDT"))
        .expect("the recording has NKNUSDT's REST snapshot");
    let is_diff = |f: &[u8]| f.starts_with(br#"{"stream":"nknusdt@depth"#);
    let warmup: Vec<&(String, Vec<u8>)> = lines[..=snap]
        .iter()
        .filter(|(url, f)| !url.is_empty() || is_diff(f))
        .collect();
    let warmup = &warmup;
    let updates: Vec<(bool, &[u8])> = lines[snap + 1..]
        .iter()
        .filter(|(_, f)| is_diff(f))
        .map(|(_, f)| (true, f.as_slice()))
        .collect();
    let fresh = |fast: bool| {
        move || {
            let mut feed = Feed::new(nknusdt_decoder(fast));
            for line in warmup {
                feed.on_line(line);
            }
            feed
        }
    };
    // The diffs timed are applied ones: one recorded after the snapshot is older than it (its
    // `u` equals `lastUpdateId`) and is dropped, so it goes untimed.
    let mut check = fresh(true)();
    let updates: Vec<(bool, &[u8])> = updates
        .iter()
        .map(|&(_, f)| {
            let before = check.d.counters().updates;
            check.on_frame(f);
            (check.d.counters().updates > before, f)
        })
        .collect();
    let applied = updates.iter().filter(|u| u.0).count();
    assert_eq!(check.d.counters().gaps, 0, "the NKNUSDT diffs have no gap");
    assert!(
        applied >= 140,
        "{applied} NKNUSDT diffs apply after the snapshot"
    );
    let step = |feed: &mut Feed<BinanceDecoder>, f: &[u8]| {
        black_box(feed.on_frame(f));
    };
    for (name, fast) in [("fast_scan", true), ("simd_json", false)] {
        per_update_distribution(
            &format!("parse_apply/binance_diff per diff ({name})"),
            &updates,
            fresh(fast),
            step,
        );
    }
    bench_updates(g, "binance_diff", &updates, fresh(true), step);
    bench_updates(g, "binance_diff_simd_json", &updates, fresh(false), step);
}

/// `parse_apply/bitflyer_board`: every recorded FX_BTC_JPY `lightning_board` diff after the first
/// snapshot, in order, on the warm book (the later snapshots, which replace the book, applied
/// untimed between them).
fn bitflyer_parse_apply(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    use obi_scalp::venue::bitflyer::BitflyerDecoder;
    let Some(lines) = recording_lines(BITFLYER) else {
        return;
    };
    const SNAP: &[u8] = br#""channel":"lightning_board_snapshot_FX_BTC_JPY""#;
    const DIFF: &[u8] = br#""channel":"lightning_board_FX_BTC_JPY""#;
    let has = |f: &[u8], pat: &[u8]| f.windows(pat.len()).any(|w| w == pat);
    let frames: Vec<&[u8]> = lines
        .iter()
        .filter(|(url, f)| url.is_empty() && (has(f, SNAP) || has(f, DIFF)))
        .map(|(_, f)| f.as_slice())
        .collect();
    let first = frames
        .iter()
        .position(|f| has(f, SNAP))
        .expect("the recording has an FX_BTC_JPY snapshot");
    let updates: Vec<(bool, &[u8])> = frames[first + 1..]
        .iter()
        .map(|f| (!has(f, SNAP), *f))
        .collect();
    let fresh = || {
        let mut feed = Feed::new(BitflyerDecoder::new(
            BookRoutes::new(
                InstrumentTable::default(),
                Venue::Bitflyer,
                Market::Linear,
                &["FX_BTC_JPY"],
            )
            .unwrap(),
        ));
        feed.on_frame(frames[first]);
        feed
    };
    let mut check = fresh();
    let applied = updates
        .iter()
        .filter(|&&(diff, f)| {
            let before = check.d.counters().updates;
            check.on_frame(f);
            diff && check.d.counters().updates > before
        })
        .count();
    let diffs = updates.iter().filter(|u| u.0).count();
    assert_eq!(
        applied, diffs,
        "every FX_BTC_JPY diff after the first snapshot applies"
    );
    let step = |feed: &mut Feed<BitflyerDecoder>, f: &[u8]| {
        black_box(feed.on_frame(f));
    };
    per_update_distribution("parse_apply/bitflyer_board per diff", &updates, fresh, step);
    bench_updates(g, "bitflyer_board", &updates, fresh, step);
}

/// The frames the simulator's synthetic market (the documented message shapes; no recording of
/// these venues exists) sends one client of `venue` on `route`, as the live feed sees them, in
/// order: `(url, body)` for the REST answer to `rest = (path, url)`, `("", frame)` for each
/// WebSocket frame: the greeting, the answers to `hello`, a second of stream, the REST answer
/// (if any), then `secs` seconds more in steps of 100 ms.
fn sim_session(
    venue: Venue,
    route: &'static str,
    hello: &[&str],
    rest: Option<(&str, &str)>,
    secs: u64,
) -> Vec<(String, Vec<u8>)> {
    use obi_scalp::sim::{SimFeed, SyntheticFeed};
    const SEC: u64 = 1_000_000_000;
    let mut f = SyntheticFeed::default_for(venue, 7).expect("a synthetic market for the venue");
    let mut session: Vec<(String, Vec<u8>)> = Vec::new();
    let ws = |session: &mut Vec<(String, Vec<u8>)>, frames: Vec<String>| {
        session.extend(frames.into_iter().map(|t| (String::new(), t.into_bytes())));
    };
    let greeting = f.on_connect(route);
    ws(&mut session, greeting);
    for h in hello {
        let answers = f.on_client_frame(route, h);
        ws(&mut session, answers);
    }
    let mut out = Vec::new();
    let mut advance = |f: &mut SyntheticFeed, t: u64, session: &mut Vec<(String, Vec<u8>)>| {
        out.clear();
        f.advance(t, &mut out);
        ws(session, out.drain(..).map(|(_, t)| t).collect());
    };
    advance(&mut f, SEC, &mut session);
    if let Some((path, url)) = rest {
        let r = f.rest(path);
        assert_eq!(r.status, 200, "{venue}: {path}: {}", r.body);
        session.push((url.to_string(), r.body.into_bytes()));
    }
    for k in 1..=secs * 10 {
        advance(&mut f, SEC + k * SEC / 10, &mut session);
    }
    session
}

/// `parse_apply/<name>`: the book diffs of a [`sim_session`] after the book is seeded, in order,
/// on the warm book (decoder from the venue's connector, as `run` builds it); what is not a
/// diff applied to the seeded book (acks, pings, trades, later whole books) goes untimed.
fn sim_parse_apply(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    venue: Venue,
    market: Market,
    symbol: &str,
    session: &[(String, Vec<u8>)],
) {
    use obi_scalp::venue::{AnyDecoder, DecoderSettings};
    let connector = venue.connector().expect("the venue's connector");
    let fresh_decoder = || {
        let routes = BookRoutes::new(InstrumentTable::default(), venue, market, &[symbol]).unwrap();
        connector.decoder(routes, &DecoderSettings::default())
    };
    // Which frames are diffs applied to the seeded book: the updates counter moves, the
    // snapshot counters do not.
    let mut check = Feed::new(fresh_decoder());
    let timed: Vec<bool> = session
        .iter()
        .map(|line| {
            let c0 = *check.d.counters();
            check.on_line(line);
            let c = check.d.counters();
            c.updates > c0.updates
                && c.snapshots == c0.snapshots
                && c.rest_snapshots == c0.rest_snapshots
        })
        .collect();
    let c = *check.d.counters();
    assert_eq!(
        (c.gaps, c.malformed, c.crossed),
        (0, 0, 0),
        "{name}: a clean session"
    );
    let first = timed.iter().position(|t| *t).expect("diffs after the seed");
    assert!(
        session[first..].iter().all(|(url, _)| url.is_empty()),
        "{name}: no REST answer after the seed"
    );
    let warmup = &session[..first];
    let updates: Vec<(bool, &[u8])> = session[first..]
        .iter()
        .zip(&timed[first..])
        .map(|((_, f), t)| (*t, f.as_slice()))
        .collect();
    let fresh = || {
        let mut feed = Feed::new(fresh_decoder());
        for line in warmup {
            feed.on_line(line);
        }
        feed
    };
    let step = |feed: &mut Feed<AnyDecoder>, f: &[u8]| {
        black_box(feed.on_frame(f));
    };
    per_update_distribution(
        &format!("parse_apply/{name} per diff (simulator, documented shape)"),
        &updates,
        fresh,
        step,
    );
    bench_updates(g, name, &updates, fresh, step);
}

/// The venues without a recording: Coincheck (the default venue), bitbank, Binance USD-M, from
/// the simulator's synthetic sessions. GMO Coin sends whole books only: its frame is
/// `parse/gmocoin_book/parse_apply`.
fn sim_venues_parse_apply(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let coincheck = sim_session(
        Venue::Coincheck,
        "/",
        &[r#"{"type":"subscribe","channel":"btc_jpy-orderbook"}"#],
        Some((
            "/api/order_books?pair=btc_jpy",
            "https://coincheck.com/api/order_books?pair=btc_jpy",
        )),
        60,
    );
    sim_parse_apply(
        g,
        "coincheck_diff",
        Venue::Coincheck,
        Market::Spot,
        "btc_jpy",
        &coincheck,
    );
    let bitbank = sim_session(
        Venue::Bitbank,
        "/socket.io/",
        &[
            "40",
            r#"42["join-room","depth_diff_btc_jpy"]"#,
            r#"42["join-room","depth_whole_btc_jpy"]"#,
        ],
        None,
        60,
    );
    sim_parse_apply(
        g,
        "bitbank_diff",
        Venue::Bitbank,
        Market::Spot,
        "btc_jpy",
        &bitbank,
    );
    let usdm = sim_session(
        Venue::BinanceUsdm,
        "/stream",
        &[r#"{"method":"SUBSCRIBE","params":["btcusdt@depth@100ms"],"id":1}"#],
        Some((
            "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
            "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
        )),
        30,
    );
    sim_parse_apply(
        g,
        "binance_usdm_diff",
        Venue::BinanceUsdm,
        Market::Linear,
        "BTCUSDT",
        &usdm,
    );
}

fn bench(c: &mut Criterion) {
    let Some(frames) = bybit_frames() else {
        return;
    };
    // A delta of BTCUSDT linear and the state before it.
    let idx = frames
        .iter()
        .position(|(m, f)| {
            *m == Market::Linear
                && f.starts_with(br#"{"topic":"orderbook.200.BTCUSDT","type":"delta""#)
        })
        .expect("a linear BTCUSDT delta");
    let mut warm = Ours::new();
    for (m, f) in &frames[..idx] {
        warm.on_frame(*m, f);
    }
    let delta = frames[idx].1.clone();

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    for (name, fast) in [
        ("bybit_delta/fast_scan", true),
        ("bybit_delta/simd_json_tape", false),
    ] {
        // A fresh decoder has no snapshot: the delta is read in full, then dropped by the sync
        // rules (no book events), so this is the read cost alone.
        let mut d = decoder_with(Market::Linear, fast);
        let mut buf = Vec::with_capacity(1 << 16);
        let mut n = 0u64;
        // One frame first: the decoder routes a symbol it has not seen on the simd-json path
        // (auto-adding the book), so the fast path only applies from the second frame on.
        buf.extend_from_slice(&delta);
        d.on_frame(0, &mut buf, &mut |_e| n += 1);
        bench_path(
            &mut g,
            name,
            fast,
            &mut d,
            BybitDecoder::fast_path_frames,
            &delta,
            0,
        );
        black_box(n);
    }
    g.bench_function("bybit_delta/serde_json_typed", |b| {
        b.iter(|| {
            let f: SjFrame = serde_json::from_slice(black_box(&delta)).unwrap();
            black_box(f.data.is_some())
        })
    });
    if let Some(frame) = binance_frame() {
        use obi_scalp::venue::binance::BinanceDecoder;
        // Unsynced, the decoder parses every level and buffers the diff (bounded): the parse
        // cost, without the sync outcome.
        for (name, fast) in [
            ("binance_diff/fast_scan", true),
            ("binance_diff/simd_json_tape", false),
        ] {
            let mut d = nknusdt_decoder(fast);
            bench_path(
                &mut g,
                name,
                fast,
                &mut d,
                BinanceDecoder::fast_path_frames,
                &frame,
                0,
            );
        }
        g.bench_function("binance_diff/serde_json_typed", |b| {
            b.iter(|| {
                let f: SjBinance = serde_json::from_slice(black_box(&frame)).unwrap();
                black_box(f.data.b.len())
            })
        });
    }
    {
        use obi_scalp::sim::{CoincheckFrames, FrameKind};
        use obi_scalp::venue::coincheck::CoincheckDecoder;
        let mut src = CoincheckFrames::new(7);
        let mut text = String::new();
        let mut rest = Vec::new();
        let mut diff = Vec::new();
        while diff.is_empty() {
            match src.next_frame(&mut text) {
                Some((_, FrameKind::RestSnapshot)) => rest = text.clone().into_bytes(),
                Some((_, FrameKind::BookDiff)) => diff = text.clone().into_bytes(),
                _ => {}
            }
        }
        let mut d = CoincheckDecoder::new(
            BookRoutes::new(
                InstrumentTable::default(),
                Venue::Coincheck,
                Market::Spot,
                &["btc_jpy"],
            )
            .unwrap(),
        );
        let mut n = 0u64;
        let mut buf = diff.clone();
        d.on_frame(0, &mut buf, &mut |_e| n += 1);
        let mut body = rest.clone();
        d.on_rest(
            1,
            "https://coincheck.com/api/order_books?pair=btc_jpy",
            &mut body,
            &mut |_e| n += 1,
        );
        for (name, fast) in [
            ("coincheck_diff/fast_scan", true),
            ("coincheck_diff/simd_json_tape", false),
        ] {
            d.set_fast_path(fast);
            bench_path(
                &mut g,
                name,
                fast,
                &mut d,
                CoincheckDecoder::fast_path_frames,
                &diff,
                2,
            );
        }
        g.bench_function("coincheck_diff/serde_json_typed", |b| {
            b.iter(|| {
                let f: SjCoincheck = serde_json::from_slice(black_box(&diff)).unwrap();
                black_box(f.1.bids.len())
            })
        });
        black_box(n);
    }
    {
        // GMO Coin: a full `orderbooks` frame of 30 levels a side (the size the probe saw, in
        // the shape of VENUES.md 1.4), read and turned into its Clear + 60 Set + Commit.
        use obi_scalp::venue::gmocoin::GmoCoinDecoder;
        let frame = gmocoin_book_frame(30).into_bytes();
        let mut d = GmoCoinDecoder::new(
            BookRoutes::new(
                InstrumentTable::default(),
                Venue::GmoCoin,
                Market::Linear,
                &["BTC_JPY"],
            )
            .unwrap(),
        );
        let mut buf = Vec::with_capacity(1 << 16);
        let mut n = 0u64;
        g.bench_function("gmocoin_book/simd_json_tape", |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&frame);
                d.on_frame(0, &mut buf, &mut |_e| n += 1);
            })
        });
        assert_eq!(d.counters().malformed, 0, "the GMO bench frame reads");
        black_box(n);
        // ... and each such book applied to the book stage's book: parse + sync + book +
        // signals per frame.
        let mut books = BookSet::new(1, 8, 5000);
        let mut evs: Vec<MdEvent> = Vec::with_capacity(128);
        g.bench_function("gmocoin_book/parse_apply", |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&frame);
                evs.clear();
                d.on_frame(0, &mut buf, &mut |e| evs.push(e));
                let mut obi = 0;
                for e in &evs {
                    if let Some(obi_scalp::msg::MarketMsg::Book(u)) = books.apply(e) {
                        obi = u.obi_ppm;
                    }
                }
                black_box(obi)
            })
        });
    }
    {
        // bitbank: a `depth_diff` Socket.IO event of 10 + 10 levels in the probe's shape
        // (VENUES.md 1.5). The same frame every time: after the first it is stale (its `s` is
        // not above the book's), so this is the read (framing, JSON, every level) without the
        // sync outcome, as the Binance diff above.
        use obi_scalp::venue::bitbank::BitbankDecoder;
        let lv = |base: i64, step: i64| {
            (0..10i64)
                .map(|i| {
                    format!(
                        r#"["{}","0.{:04}"]"#,
                        base + step * (i * 3 + 1),
                        (i * 37) % 10_000
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let frame = format!(
            r#"42["message",{{"room_name":"depth_diff_btc_jpy","message":{{"data":{{"a":[{}],"b":[{}],"t":1790127295169,"s":"34423855352","ao":"65.7738","bu":"4711.7088"}}}}}}]"#,
            lv(13_642_000, 1),
            lv(13_634_000, -1)
        )
        .into_bytes();
        let mut d = BitbankDecoder::new(
            BookRoutes::new(
                InstrumentTable::default(),
                Venue::Bitbank,
                Market::Spot,
                &["btc_jpy"],
            )
            .unwrap(),
        );
        let mut buf = Vec::with_capacity(1 << 16);
        let mut n = 0u64;
        g.bench_function("bitbank_diff/simd_json_tape", |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&frame);
                d.on_frame(0, &mut buf, &mut |_e| n += 1);
            })
        });
        assert_eq!(d.counters().malformed, 0, "the bitbank bench frame reads");
        black_box(n);
    }
    {
        // Binance USD-M futures: a combined-stream `depthUpdate` with `pu` and `T` (the futures
        // docs' shape) of 10 + 10 levels, unsynced as the spot diff above: the read alone.
        use obi_scalp::venue::binance::BinanceDecoder;
        use obi_scalp::venue::binance_usdm::BinanceUsdmDecoder;
        let lv = |base: i64, step: i64| {
            (0..10i64)
                .map(|i| {
                    let px = base + step * (i * 3 + 1);
                    format!(
                        r#"["{}.{}0","{}.{:03}"]"#,
                        px / 10,
                        px % 10,
                        i % 4,
                        (i * 37) % 1000
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let frame = format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1786310816516,"T":1786310816512,"s":"BTCUSDT","U":1027020,"u":1027030,"pu":1027010,"b":[{}],"a":[{}]}}}}"#,
            lv(650_000, -1),
            lv(650_001, 1)
        )
        .into_bytes();
        for (name, fast) in [
            ("binance_usdm_diff/fast_scan", true),
            ("binance_usdm_diff/simd_json_tape", false),
        ] {
            let mut d = BinanceUsdmDecoder::new(
                BookRoutes::new(
                    InstrumentTable::default(),
                    Venue::BinanceUsdm,
                    Market::Linear,
                    &["BTCUSDT"],
                )
                .unwrap(),
            )
            .0;
            d.set_fast_path(fast);
            bench_path(
                &mut g,
                name,
                fast,
                &mut d,
                BinanceDecoder::fast_path_frames,
                &frame,
                0,
            );
            assert_eq!(d.counters().malformed, 0, "the USD-M bench frame reads");
        }
    }
    g.finish();

    let mut g = c.benchmark_group("parse_apply");
    g.throughput(Throughput::Elements(1));
    // Every recorded BTCUSDT linear delta in order, each applied once to the warm 200x200 book
    // it belongs to (the snapshot and the state before the first delta are rebuilt untimed
    // whenever the sequence is used up): time per delta, decode + sync + book + signals.
    let lin_btc: Vec<&[u8]> = frames
        .iter()
        .filter(|(m, f)| {
            *m == Market::Linear && f.starts_with(br#"{"topic":"orderbook.200.BTCUSDT""#)
        })
        .map(|(_, f)| f.as_slice())
        .collect();
    for (name, fast) in [("fast_scan", true), ("simd_json", false)] {
        let updates: Vec<(bool, &[u8])> = lin_btc[1..].iter().map(|f| (true, *f)).collect();
        per_update_distribution(
            &format!("parse_apply/bybit_delta per delta ({name})"),
            &updates,
            || {
                let mut o = Ours::with_fast_path(fast);
                o.on_frame(Market::Linear, lin_btc[0]);
                o
            },
            |o, f| {
                black_box(o.on_frame(Market::Linear, f));
            },
        );
    }
    for (name, fast) in [("bybit_delta", true), ("bybit_delta_simd_json", false)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let mut o = Ours::with_fast_path(fast);
                    o.on_frame(Market::Linear, lin_btc[0]); // the snapshot, untimed
                    let n = ((iters - done) as usize).min(lin_btc.len() - 1);
                    let t = std::time::Instant::now();
                    for f in &lin_btc[1..=n] {
                        black_box(o.on_frame(Market::Linear, f));
                    }
                    total += t.elapsed();
                    done += n as u64;
                }
                total
            })
        });
    }
    g.bench_function("bybit_delta_apply_only", |b| {
        // The book half of `bybit_delta` under the same conditions: the delta's events, decoded
        // in the setup, applied to the same book set.
        b.iter_batched_ref(
            || {
                let mut o = Ours::new();
                for (m, f) in &frames[..idx] {
                    o.on_frame(*m, f);
                }
                let mut evs = Vec::with_capacity(64);
                let mut buf = delta.clone();
                o.lin.on_frame(0, &mut buf, &mut |e| evs.push(e));
                (o, evs)
            },
            |(o, evs)| {
                let mut obi = 0;
                for e in evs.iter() {
                    if let Some(obi_scalp::msg::MarketMsg::Book(u)) = o.books_lin.apply(e) {
                        obi = u.obi_ppm;
                    }
                }
                black_box(obi)
            },
            BatchSize::LargeInput,
        )
    });
    binance_parse_apply(&mut g);
    bitflyer_parse_apply(&mut g);
    sim_venues_parse_apply(&mut g);
    g.finish();

    // Book apply: the recorded linear BTCUSDT deltas as level sets.
    let mut g = c.benchmark_group("book_apply");
    g.throughput(Throughput::Elements(1));
    {
        // Every delta's levels, decoded beforehand, applied in order to the book as the
        // snapshot left it, then OBI(8): per delta, the ladder against a `BTreeMap` pair.
        let mut d = decoder(Market::Linear);
        let mut deltas: Vec<Vec<(Side, i64, i64)>> = Vec::new();
        let mut snap = L2Book::new(1024);
        for (k, f) in lin_btc.iter().enumerate() {
            let mut buf = f.to_vec();
            let mut levels = Vec::new();
            d.on_frame(0, &mut buf, &mut |e: MdEvent| {
                if let BookOp::Set { side, px, qty } = e.op {
                    levels.push((side, px, qty));
                }
            });
            if k == 0 {
                for &(side, px, qty) in &levels {
                    snap.side_mut(side).set(px, qty);
                }
            } else {
                deltas.push(levels);
            }
        }
        g.bench_function("recorded_deltas/ladder", |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let mut bk = snap.clone();
                    let n = ((iters - done) as usize).min(deltas.len());
                    let t = std::time::Instant::now();
                    for levels in &deltas[..n] {
                        for &(side, px, qty) in levels {
                            bk.side_mut(side).set(px, qty);
                        }
                        black_box(signals::obi_ppm(bk.bids.top_qty(8), bk.asks.top_qty(8)));
                    }
                    total += t.elapsed();
                    done += n as u64;
                }
                total
            })
        });
        g.bench_function("recorded_deltas/btreemap", |b| {
            let bids0: BTreeMap<i64, i64> = snap.bids.iter().collect();
            let asks0: BTreeMap<i64, i64> = snap.asks.iter().collect();
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let (mut bids, mut asks) = (bids0.clone(), asks0.clone());
                    let n = ((iters - done) as usize).min(deltas.len());
                    let t = std::time::Instant::now();
                    for levels in &deltas[..n] {
                        for &(side, px, qty) in levels {
                            let m = if side == Side::Bid {
                                &mut bids
                            } else {
                                &mut asks
                            };
                            if qty == 0 {
                                m.remove(&px);
                            } else {
                                m.insert(px, qty);
                            }
                        }
                        let bq: i64 = bids.values().rev().take(8).sum();
                        let aq: i64 = asks.values().take(8).sum();
                        black_box(signals::obi_ppm(bq, aq));
                    }
                    total += t.elapsed();
                    done += n as u64;
                }
                total
            })
        });
    }
    let book = &warm.books_lin.books[0];
    g.bench_function("ladder_top_update", |b| {
        let mut bk = book.clone();
        let (px, q) = bk.bids.best().unwrap();
        let mut k = 0i64;
        b.iter(|| {
            k = (k + 1) & 7;
            bk.bids.set(black_box(px - k), black_box(q + k + 1));
        })
    });
    g.bench_function("btreemap_top_update", |b| {
        let mut m: BTreeMap<i64, i64> = book.bids.iter().collect();
        let (px, q) = book.bids.best().unwrap();
        let mut k = 0i64;
        b.iter(|| {
            k = (k + 1) & 7;
            m.insert(black_box(px - k), black_box(q + k + 1));
        })
    });
    g.finish();

    let mut g = c.benchmark_group("signals");
    g.bench_function("obi8", |b| {
        b.iter(|| {
            let bk = black_box(book);
            signals::obi_ppm(bk.bids.top_qty(8), bk.asks.top_qty(8))
        })
    });
    g.bench_function("obi8_btreemap", |b| {
        let bids: BTreeMap<i64, i64> = book.bids.iter().collect();
        let asks: BTreeMap<i64, i64> = book.asks.iter().collect();
        b.iter(|| {
            let bq: i64 = black_box(&bids).values().rev().take(8).sum();
            let aq: i64 = black_box(&asks).values().take(8).sum();
            signals::obi_ppm(bq, aq)
        })
    });
    g.bench_function("microprice", |b| {
        b.iter(|| {
            let bk = black_box(book);
            let (bp, bq) = bk.bids.best().unwrap();
            let (ap, aq) = bk.asks.best().unwrap();
            signals::microprice_e6(bp, bq, ap, aq)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.sample_size(20);
    for (name, fast) in [
        ("bybit_recording/ours", true),
        ("bybit_recording/ours_simd_json", false),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut o = Ours::with_fast_path(fast);
                let mut acc = 0i64;
                for (m, f) in &frames {
                    acc = acc.wrapping_add(o.on_frame(*m, f));
                }
                black_box(acc)
            })
        });
    }
    g.bench_function("bybit_recording/serde_json_btreemap", |b| {
        b.iter(|| {
            let mut o = Baseline::new();
            let mut acc = 0i64;
            for (m, f) in &frames {
                acc = acc.wrapping_add(o.on_frame(*m, f));
            }
            black_box(acc)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
