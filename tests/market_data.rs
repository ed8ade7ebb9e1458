//! Market data on the recorded exchange frames: the book command and the sync facts of
//! `../shared/data/README.md`.

use obi_scalp::book::BookSet;
use obi_scalp::msg::{BookOp, MarketMsg};
use obi_scalp::record::RecordKind;
use obi_scalp::replay::input;
use obi_scalp::venue::{AnyDecoder, Decoder, DecoderSettings};
use std::collections::BTreeMap;
use std::process::Command;

#[path = "common/shared_data.rs"]
mod shared_data;
use shared_data::shared_data as shared;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
}

/// All 6 Bybit books, 2,142 deltas applied, 0 gaps, never crossed, exactly 200 x 200 levels
/// after every delta.
#[test]
fn bybit_recording_six_books_200x200_after_every_delta() {
    let Some(path) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let loaded = input::load(&[path], None, None).unwrap();
    let mut conns: BTreeMap<String, (AnyDecoder, BookSet)> = BTreeMap::new();
    let (mut deltas, mut snapshots, mut checked) = (0u64, 0u64, 0u64);
    for r in &loaded.records {
        if r.kind != RecordKind::Recv {
            continue;
        }
        let (v, m) = loaded.conns[&r.conn];
        let (dec, books) = conns.entry(r.conn.clone()).or_insert_with(|| {
            (
                AnyDecoder::new(v, m, Default::default(), &[], &DecoderSettings::default())
                    .unwrap(),
                BookSet::new(0, 8, 1024),
            )
        });
        let mut evs = Vec::new();
        let mut buf = r.data.clone();
        dec.on_frame(r.ts_ns, &mut buf, &mut |e| evs.push(e));
        let snapshot = evs.iter().any(|e| e.op == BookOp::Clear);
        for e in &evs {
            books.ensure(e.book as usize);
            if let Some(MarketMsg::Book(u)) = books.apply(e) {
                if matches!(e.op, BookOp::Commit { .. }) {
                    let b = &books.books[e.book as usize];
                    assert_eq!((b.bids.len(), b.asks.len()), (200, 200), "at {}", r.line);
                    assert!(!u.crossed, "crossed at line {}", r.line);
                    checked += 1;
                    if snapshot {
                        snapshots += 1;
                    } else {
                        deltas += 1;
                    }
                }
            }
        }
    }
    let books: usize = conns.values().map(|(d, _)| d.routes().books.len()).sum();
    let gaps: u64 = conns.values().map(|(d, _)| d.counters().gaps).sum();
    let malformed: u64 = conns.values().map(|(d, _)| d.counters().malformed).sum();
    assert_eq!(books, 6);
    assert_eq!(deltas, 2142);
    assert_eq!(snapshots, 6);
    assert_eq!(checked, 2148);
    assert_eq!(gaps, 0);
    assert_eq!(malformed, 0);
}

#[test]
fn book_command_writes_csv_and_summary() {
    let Some(path) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let out = bin()
        .args(["book", "--input"])
        .arg(&path)
        .args([
            "--venue",
            "bybit_linear",
            "--symbol",
            "BTCUSDT",
            "--depth",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "ts_ns,venue,symbol,state,bid_px,bid_qty,ask_px,ask_qty,bid_px_2,bid_qty_2,ask_px_2,ask_qty_2"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() > 300, "{} rows", rows.len());
    for r in &rows {
        let f: Vec<&str> = r.split(',').collect();
        assert_eq!(f.len(), 12, "{r}");
        assert_eq!((f[1], f[2], f[3]), ("bybit_linear", "BTCUSDT", "synced"));
        // exact decimals at the instrument's tick (0.10) and lot (0.001)
        assert!(f[4].split('.').nth(1).is_some_and(|d| d.len() == 2), "{r}");
        assert!(f[5].split('.').nth(1).is_some_and(|d| d.len() == 3), "{r}");
        let bid: f64 = f[4].parse().unwrap();
        let ask: f64 = f[6].parse().unwrap();
        assert!(bid < ask, "{r}");
    }
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("gaps 0") && err.contains("crossed 0"), "{err}");
}

/// `obi-scalp book --venue VENUE` over `lines` (a plain recording written to a temporary
/// file named by `tag`): the CSV rows after the header, and stderr. Asserts a clean exit.
fn book_rows(tag: &str, venue: &str, lines: &str) -> (Vec<String>, String) {
    let dir = std::env::temp_dir().join(format!("obi-book-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{tag}.txt"));
    std::fs::write(&p, lines).unwrap();
    let out = bin()
        .args(["book", "--venue", venue, "--input"])
        .arg(&p)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "{out:?}");
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows = csv.lines().skip(1).map(str::to_owned).collect();
    (rows, String::from_utf8(out.stderr).unwrap())
}

/// Binance USD-M futures frames in the futures docs' shapes (combined stream, `pu`, the REST
/// depth body with `E`/`T` as a plain line): buffered until the snapshot line, then the `pu`
/// chain; a `pu` that is not the previous `u` is a gap.
#[test]
fn book_command_on_binance_usdm_frames() {
    let diff = |first: u64, last: u64, pu: u64, b: &str| {
        format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1786310816516,"T":1786310816512,"s":"BTCUSDT","U":{first},"u":{last},"pu":{pu},"b":[{b}],"a":[]}}}}"#
        )
    };
    let snap = r#"{"lastUpdateId":1027024,"E":1589436922972,"T":1589436922959,"bids":[["65000.00","4.000"]],"asks":[["65000.10","12.000"]]}"#;
    let (rows, err) = book_rows(
        "usdm",
        "binance_usdm",
        &format!(
            "1000 {}\n2000 {snap}\n3000 {}\n4000 {}\n",
            diff(1027020, 1027030, 1027010, r#"["65000.00","5.000"]"#),
            diff(1027033, 1027040, 1027030, r#"["64999.90","1.000"]"#),
            diff(1027050, 1027060, 1027045, r#"["64999.80","1.000"]"#),
        ),
    );
    let csv = rows.join("\n");
    assert!(
        rows.iter().any(
            |r| r.contains("binance_usdm_linear,BTCUSDT,synced,65000.00,5.000,65000.10,12.000")
        ),
        "{csv}"
    );
    assert!(
        err.contains("gaps 1") && err.contains("malformed 0"),
        "{err}"
    );
}

#[test]
fn book_command_missing_file_is_exit_2() {
    let out = bin()
        .args(["book", "--input", "does/not/exist.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("does/not/exist.jsonl"), "{err}");
}

#[test]
fn book_command_reports_malformed_lines_and_goes_on() {
    let dir = std::env::temp_dir().join(format!("obi-book-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("frames.txt");
    let snap = r#"{"topic":"orderbook.200.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","1.000"]],"a":[["100.1","0.5"]],"u":10,"seq":5},"cts":2}"#;
    let delta = r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["100.0","2"]],"a":[],"u":11,"seq":6},"cts":3}"#;
    std::fs::write(
        &p,
        format!("1000 {snap}\nthis line is not a record\n2000 {delta}\n3000 {{\"topic\":\n"),
    )
    .unwrap();
    let out = bin()
        .args(["book", "--venue", "bybit_linear", "--input"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.contains("2000,bybit_linear,BTCUSDT,synced,100.00,2.000,100.10,0.500"),
        "{csv}"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(":2:"), "line number of the bad line: {err}");
    assert!(err.contains("malformed 1"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// GMO Coin frames in the documented shapes (VENUES.md §1.4: the probe's `orderbooks` frame;
/// the GMO docs' `/v1/orderbooks` body as a plain line): every frame replaces the book, an
/// older one is dropped, a malformed one is reported with its line.
#[test]
fn book_command_on_gmocoin_frames() {
    let book = |ts: &str, ask: &str| {
        format!(
            r#"{{"channel":"orderbooks","asks":[{{"price":"{ask}","size":"0.001"}},{{"price":"13660910","size":"0.012"}}],"bids":[{{"price":"13658802","size":"0.008"}}],"symbol":"BTC_JPY","timestamp":"{ts}","grouping":"1"}}"#
        )
    };
    let rest = r#"{"status":0,"data":{"asks":[{"price":"13660900","size":"0.1"}],"bids":[{"price":"13658000","size":"0.2"}],"symbol":"BTC_JPY"},"responsetime":"2026-09-23T03:25:35.000Z"}"#;
    let (rows, err) = book_rows(
        "gmo",
        "gmocoin_linear",
        &format!(
            "1000 {rest}\n2000 {}\n3000 {}\n4000 {}\n5000 {{\"channel\":\"orderbooks\",\n",
            book("2026-09-23T03:25:35.843Z", "13660704"),
            book("2026-09-23T03:25:35.338Z", "13660001"),
            book("2026-09-23T03:25:36.348Z", "13660800"),
        ),
    );
    let csv = rows.join("\n");
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[0].contains("gmocoin_linear,BTC_JPY,synced,13658000,0.200,13660900,0.100"),
        "{csv}"
    );
    assert!(
        rows[1].contains("gmocoin_linear,BTC_JPY,synced,13658802,0.008,13660704,0.001"),
        "{csv}"
    );
    assert!(
        rows[2].contains("gmocoin_linear,BTC_JPY,synced,13658802,0.008,13660800,0.001"),
        "{csv}"
    );
    assert!(err.contains("malformed 1"), "{err}");
    assert!(err.contains("dropped 1"), "the older frame: {err}");
}

/// bitbank frames in the documented shapes (bitbank-api-docs `public-stream.md`, VENUES.md
/// §1.5): the Engine.IO open and ping, diffs held until the whole, the ones at or below its
/// `sequenceId` dropped, the rest applied on top; a later diff applied.
#[test]
fn book_command_on_bitbank_frames() {
    let diff = |s: u64, b: &str, a: &str| {
        format!(
            r#"42["message",{{"room_name":"depth_diff_btc_jpy","message":{{"data":{{"a":[{a}],"b":[{b}],"t":1790127295169,"s":"{s}"}}}}}}]"#
        )
    };
    let whole = r#"42["message",{"room_name":"depth_whole_btc_jpy","message":{"data":{"asks":[["13641186","1"],["13642554","2"]],"bids":[["13634295","0.25"],["13634294","0.5"]],"asks_over":"0","bids_under":"0","asks_under":"0","bids_over":"0","ask_market":"0","bid_market":"0","timestamp":1790127290000,"sequenceId":"352"}}}]"#;
    let (rows, err) = book_rows(
        "bitbank",
        "bitbank",
        &format!(
        "1000 0{{\"sid\":\"x\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":60000}}\n\
         2000 40{{\"sid\":\"y\"}}\n3000 {}\n4000 {}\n5000 {whole}\n6000 2\n7000 {}\n",
        diff(350, r#"["13634296","9"]"#, ""),
        diff(360, "", r#"["13641185","0.0006"]"#),
        diff(370, r#"["13634295","0"]"#, ""),
    ),
    );
    let csv = rows.join("\n");
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[0].contains("bitbank_spot,btc_jpy,synced,13634295,0.2500,13641185,0.0006"),
        "{csv}"
    );
    assert!(
        rows[1].contains("bitbank_spot,btc_jpy,synced,13634294,0.5000,13641185,0.0006"),
        "{csv}"
    );
    assert!(
        err.contains("dropped 1") && err.contains("malformed 0"),
        "{err}"
    );
}
