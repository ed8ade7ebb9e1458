//! Recordings: the real cryptofeed files of the shared data folder through every reader path,
//! cross-checked line by line against serde_json, and converted to our formats and back.

use obi_scalp::num::parse_units;
use obi_scalp::record::{
    self, Compression, Format, Record, RecordKind, RecordMeta, RecordWriter, WriteCompression,
    WriterConfig,
};
use std::path::{Path, PathBuf};

#[path = "common/shared_data.rs"]
mod shared_data;
use shared_data::shared_data;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("obi-record-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// (file stem, lines, recv lines) from the data README.
const FILES: [(&str, usize, usize); 3] = [
    ("bybit_v5_cryptofeed_20260809", 3256, 3227),
    ("binance_spot_cryptofeed_20211012", 272, 265),
    ("bitflyer_cryptofeed_20211212", 1151, 1103),
];

fn without_lines(recs: &[Record]) -> Vec<Record> {
    recs.iter()
        .map(|r| Record {
            line: 0,
            ..r.clone()
        })
        .collect()
}

#[test]
fn shared_files_plain_and_zstd_read_identically_with_the_documented_counts() {
    for (stem, lines, recv) in FILES {
        let (Some(plain), Some(zst)) = (
            shared_data(&format!("{stem}.jsonl")),
            shared_data(&format!("{stem}.jsonl.zst")),
        ) else {
            return;
        };
        let r = record::open(&zst).unwrap();
        assert_eq!(r.compression(), Compression::Zstd);
        assert_eq!(r.format(), Some(Format::CryptofeedJson));
        let a = record::read_all(&plain).unwrap();
        let b = record::read_all(&zst).unwrap();
        assert_eq!(a, b, "{stem}");
        assert_eq!(a.len(), lines, "{stem}");
        assert_eq!(
            a.iter().filter(|r| r.kind == RecordKind::Recv).count(),
            recv,
            "{stem}"
        );
        assert_eq!(a[0].kind, RecordKind::Header);
        assert_eq!(a.iter().filter(|r| r.kind == RecordKind::Header).count(), 1);
        for (i, r) in a.iter().enumerate() {
            assert_eq!(r.line, i as u64 + 1);
        }
    }
}

/// Every field of every line against serde_json; `ts` exactly, from the shortest decimal that
/// round-trips the f64 (what Python wrote).
#[test]
fn shared_files_agree_with_serde_json_line_by_line() {
    for (stem, _, _) in FILES {
        let Some(path) = shared_data(&format!("{stem}.jsonl")) else {
            return;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let mut reader = record::open(&path).unwrap();
        let mut n = 0;
        for line in text.lines() {
            n += 1;
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let rec = reader.next_record().unwrap().unwrap();
            assert_eq!(rec.line, n);
            assert_eq!(rec.kind.as_str(), v["t"].as_str().unwrap(), "{stem}:{n}");
            let ts_key = if rec.kind == RecordKind::Header {
                "recorded"
            } else {
                "ts"
            };
            // std's f64 parse is correctly rounded and `{}` prints the shortest decimal that
            // round-trips, which is what Python's repr wrote: this recovers the written digits.
            let pat = format!("\"{ts_key}\":");
            let at = line.find(&pat).unwrap() + pat.len();
            let token: String = line[at..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let secs: f64 = token.parse().unwrap();
            let want_ns = parse_units(format!("{secs}").as_bytes(), 9).unwrap() as u64;
            assert_eq!(rec.ts_ns, want_ns, "{stem}:{n}");
            // serde_json's default float parsing may be 1 ulp off (no `float_roundtrip`):
            // only a bound, which is the point of reading the decimal text.
            let approx = v[ts_key].as_f64().unwrap() * 1e9;
            assert!((rec.ts_ns as f64 - approx).abs() < 1e3, "{stem}:{n}");
            if rec.kind == RecordKind::Header {
                assert_eq!(rec.data, line.as_bytes());
                continue;
            }
            assert_eq!(rec.conn, v["conn"].as_str().unwrap(), "{stem}:{n}");
            let url = v
                .get("url")
                .or_else(|| v.get("addr"))
                .and_then(|u| u.as_str());
            assert_eq!(rec.url_or_addr, url, "{stem}:{n}");
            let data = v.get("data").and_then(|d| d.as_str()).unwrap_or("");
            assert_eq!(rec.data, data.as_bytes(), "{stem}:{n}");
            if rec.kind == RecordKind::Recv {
                // the frame is the exchange's JSON text
                serde_json::from_slice::<serde_json::Value>(rec.data).unwrap();
            }
        }
        assert!(reader.next_record().is_none());
        assert!(reader.warnings().is_empty());
    }
}

/// Each shared file converted to obirec (zstd and plain) and to `<ns> <frame>` lines (gzip)
/// reads back the same.
#[test]
fn shared_files_convert_to_our_formats_and_back() {
    let dir = TempDir::new("convert");
    for (stem, _, recv) in FILES {
        let Some(path) = shared_data(&format!("{stem}.jsonl.zst")) else {
            return;
        };
        let src = record::read_all(&path).unwrap();
        for comp in [WriteCompression::Zstd { level: 3 }, WriteCompression::None] {
            let meta = RecordMeta {
                venue: stem.split('_').next().unwrap().into(),
                ..RecordMeta::default()
            };
            let mut cfg = WriterConfig::new(dir.0.join(stem), "conv", meta);
            cfg.compression = comp;
            cfg.rotate_bytes = Some(1 << 20);
            let mut w = RecordWriter::create(cfg).unwrap();
            for r in src.iter().filter(|r| r.kind != RecordKind::Header) {
                w.write_ref(&r.view()).unwrap();
            }
            let files = w.finish().unwrap();
            assert!(files.len() > 1, "{stem}: 1 MiB rotation splits these files");
            let mut back = Vec::new();
            for f in &files {
                let got = record::read_all(f).unwrap();
                assert_eq!(got[0].kind, RecordKind::Header);
                back.extend(got.into_iter().skip(1));
            }
            let want: Vec<Record> = src
                .iter()
                .filter(|r| r.kind != RecordKind::Header)
                .cloned()
                .collect();
            assert_eq!(
                without_lines(&back),
                without_lines(&want),
                "{stem} {comp:?}"
            );
        }

        // `<ns> <frame>` lines carry only received frames
        let mut text = Vec::new();
        let frames: Vec<&Record> = src.iter().filter(|r| r.kind == RecordKind::Recv).collect();
        for r in &frames {
            assert!(!r.data.contains(&b'\n'));
            text.extend_from_slice(format!("{} ", r.ts_ns).as_bytes());
            text.extend_from_slice(&r.data);
            text.push(b'\n');
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &text).unwrap();
        let p = dir.0.join(format!("{stem}.frames.gz"));
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        let back = record::read_all(&p).unwrap();
        assert_eq!(back.len(), recv);
        for (b, r) in back.iter().zip(&frames) {
            assert_eq!(
                (b.kind, b.ts_ns, b.data.as_slice()),
                (r.kind, r.ts_ns, r.data.as_slice())
            );
        }
    }
}

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::thread_allocs as allocs;

/// Reads `path` and returns (records, allocations after the first 200 records). Buffers may
/// still grow a few times for a longer line than seen before, never once per record.
fn steady_state_allocs(path: &Path) -> (u64, u64) {
    let mut r = record::open(path).unwrap();
    let (mut n, mut bytes, mut before) = (0u64, 0u64, 0u64);
    while let Some(rec) = r.next_record() {
        let rec = rec.unwrap();
        n += 1;
        bytes += rec.data.len() as u64 + rec.conn.len() as u64;
        if n == 200 {
            before = allocs();
        }
    }
    assert!(bytes > 0);
    (n, allocs() - before)
}

#[test]
fn readers_do_not_allocate_per_record() {
    let Some(path) = shared_data("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let (n, a) = steady_state_allocs(&path);
    assert_eq!(n, 3256);
    assert!(
        a <= 4,
        "{a} allocations over {} cryptofeed records",
        n - 200
    );

    let dir = TempDir::new("allocs");
    let src = record::read_all(&path).unwrap();
    let mut cfg = WriterConfig::new(&dir.0, "a", RecordMeta::default());
    cfg.rotate_bytes = None;
    let mut w = RecordWriter::create(cfg).unwrap();
    for r in &src[1..] {
        w.write_ref(&r.view()).unwrap();
    }
    let files = w.finish().unwrap();
    let (n, a) = steady_state_allocs(&files[0]);
    assert_eq!(n, 3256);
    assert!(a <= 4, "{a} allocations over {} obirec records", n - 200);

    let mut text = Vec::new();
    for r in src.iter().filter(|r| r.kind == RecordKind::Recv) {
        text.extend_from_slice(format!("{} ", r.ts_ns).as_bytes());
        text.extend_from_slice(&r.data);
        text.push(b'\n');
    }
    let p = dir.0.join("frames.txt");
    std::fs::write(&p, text).unwrap();
    let (n, a) = steady_state_allocs(&p);
    assert_eq!(n, 3227);
    assert!(a <= 4, "{a} allocations over {} plain lines", n - 200);
}
