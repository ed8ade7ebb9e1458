//! Recordings from a common collector: `<receive_ns> <raw frame>` lines, the REST depth
//! snapshot body written as a frame line of its own, a header line in front. Built here from
//! the shared Binance recording (cryptofeed format), so both files hold the same frames.

#[path = "common/shared_data.rs"]
mod shared_data;

use obi_scalp::record::{read_all, RecordKind};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BINANCE: &str = "binance_spot_cryptofeed_20211012.jsonl";

fn obi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
        .args(args)
        .output()
        .expect("run obi-scalp")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("obi-collector-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The collector file: a header line, then every received frame and every REST depth snapshot
/// body as `<ns> <body>` lines in receive-time order (the order a collector writes them).
/// Returns the path and how many snapshot lines it holds.
fn collector_file(src: &Path, dir: &Path, header: &str) -> (PathBuf, usize) {
    let mut recs: Vec<_> = read_all(src)
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.kind == RecordKind::Recv
                || (r.kind == RecordKind::Http
                    && r.url_or_addr
                        .as_deref()
                        .is_some_and(|u| u.contains("/depth")))
        })
        .collect();
    recs.sort_by_key(|r| r.ts_ns); // stable: ties keep file order
    let snapshots = recs.iter().filter(|r| r.kind == RecordKind::Http).count();
    let path = dir.join("binance-collector.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(header.as_bytes()).unwrap();
    for r in &recs {
        assert!(!r.data.contains(&b'\n'));
        write!(f, "{} ", r.ts_ns).unwrap();
        f.write_all(&r.data).unwrap();
        f.write_all(b"\n").unwrap();
    }
    f.flush().unwrap();
    (path, snapshots)
}

fn rows(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

#[test]
fn collector_format_binance_snapshot_lines_seed_the_books_as_rest_snapshots_do() {
    let Some(src) = shared_data::shared_data(BINANCE) else {
        return;
    };
    let d = TempDir::new("book");
    let (file, snapshots) = collector_file(&src, &d.0, "# collector v2: binance spot\n");
    assert_eq!(
        snapshots, 4,
        "one REST snapshot per symbol in the recording"
    );
    let file_s = file.to_str().unwrap();

    let out = obi(&[
        "book", "--input", file_s, "--venue", "binance", "--depth", "1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // The header line is reported with its number and skipped, not the file rejected.
    assert!(
        err.contains("binance-collector.txt:1: skipped:") && err.contains("`# collector v2"),
        "{err}"
    );
    assert!(err.contains("1 skipped"), "{err}");
    assert!(err.contains("gaps 0"), "{err}");
    let got = rows(&out);
    assert_eq!(got.len(), 176, "{err}");
    for sym in ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"] {
        assert!(
            got.iter().any(|r| r.contains(&format!(",{sym},synced,"))),
            "{sym} never synced: {err}"
        );
    }

    // The same frames in the cryptofeed file, where the snapshots are `http` records: the
    // same rows, the same book after every update.
    let out_cf = obi(&["book", "--input", src.to_str().unwrap(), "--depth", "1"]);
    assert!(out_cf.status.success());
    assert_eq!(got, rows(&out_cf));

    // And the book agrees with the venue's own bookTicker in the same file, matched by update
    // id, every time the ticker shows a state the book had.
    let out = obi(&[
        "verify-book",
        "--input",
        file_s,
        "--venue",
        "binance",
        "--min-agreement",
        "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "binance_spot:NKNUSDT: 19 of 19 agree (100.00%) against bookTicker by update id; not compared: 0 with no book state to match (before the first sync or resyncing), 55 inside one book update",
        "binance_spot:LRCBTC: 6 of 6 agree",
        "binance_spot:BLZETH: 1 of 1 agree",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

#[test]
fn bitflyer_is_a_venue_book_reads() {
    let Some(src) = shared_data::shared_data("bitflyer_cryptofeed_20211212.jsonl") else {
        return;
    };
    let out = obi(&[
        "book",
        "--input",
        src.to_str().unwrap(),
        "--symbol",
        "FX_BTC_JPY",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // 16 diffs before the first snapshot are dropped; 6 snapshots and 213 diffs make rows.
    assert_eq!(rows(&out).len(), 219, "{err}");
    assert!(
        err.contains("dropped 16") && err.contains("malformed 0"),
        "{err}"
    );
}

#[test]
fn collector_format_without_its_snapshot_lines_never_syncs() {
    let Some(src) = shared_data::shared_data(BINANCE) else {
        return;
    };
    let d = TempDir::new("nosnap");
    let (file, _) = collector_file(&src, &d.0, "");
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("\"lastUpdateId\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, kept).unwrap();
    let out = obi(&[
        "book",
        "--input",
        file.to_str().unwrap(),
        "--venue",
        "binance",
    ]);
    assert!(out.status.success());
    // Diffs alone never make a Binance book: the sync rule needs the snapshot.
    assert_eq!(rows(&out).len(), 0);
}
