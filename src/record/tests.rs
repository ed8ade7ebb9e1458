use super::*;
use std::fs;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "obi-record-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Records and per-record errors of a file, plus its warnings.
fn read_everything(path: &Path) -> (Vec<Record>, Vec<RecordError>, Vec<RecordWarning>) {
    let mut r = open(path).unwrap();
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    while let Some(x) = r.next_record() {
        match x {
            Ok(rec) => recs.push(rec.to_record()),
            Err(e) => errs.push(e),
        }
    }
    (recs, errs, r.warnings().to_vec())
}

fn zstd_bytes(b: &[u8]) -> Vec<u8> {
    zstd::encode_all(b, 3).unwrap()
}

fn gzip_bytes(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

// ---------- plain `<ns> <frame>` lines ----------

#[test]
fn plain_lines_with_a_malformed_line_reported_and_skipped() {
    let d = TempDir::new("plain");
    let text = "1000 {\"a\":1}\n\nabc {\"b\":2}\n2000 {\"c\":3}\r\n3000\n4000 last";
    let p = d.file("frames.txt", text.as_bytes());
    let mut r = open(&p).unwrap();
    assert_eq!(r.format(), Some(Format::PlainNs));
    assert_eq!(r.compression(), Compression::None);

    let a = r.next_record().unwrap().unwrap().to_record();
    assert_eq!(
        (
            a.kind,
            a.ts_ns,
            a.conn.as_str(),
            a.url_or_addr.clone(),
            a.data.as_slice(),
            a.line
        ),
        (RecordKind::Recv, 1000, "", None, &b"{\"a\":1}"[..], 1)
    );
    let e = r.next_record().unwrap().unwrap_err();
    assert!(e.is_malformed());
    let msg = e.to_string();
    assert!(msg.contains("frames.txt:3:"), "{msg}");
    assert!(
        msg.contains("nanoseconds") && msg.contains("`abc {\"b\":2}`"),
        "{msg}"
    );
    let c = r.next_record().unwrap().unwrap().to_record();
    assert_eq!(
        (c.ts_ns, c.data.as_slice(), c.line),
        (2000, &b"{\"c\":3}"[..], 4)
    );
    let e = r.next_record().unwrap().unwrap_err();
    assert!(
        e.to_string().contains(":5:") && e.to_string().contains("a space"),
        "{e}"
    );
    // last line without newline but well formed: kept
    let f = r.next_record().unwrap().unwrap().to_record();
    assert_eq!(
        (f.ts_ns, f.data.as_slice(), f.line),
        (4000, &b"last"[..], 6)
    );
    assert!(r.next_record().is_none());
    assert!(r.next_record().is_none());
    assert!(r.warnings().is_empty());
}

#[test]
fn header_and_stray_first_lines_are_reported_one_by_one_and_skipped() {
    let d = TempDir::new("stray");
    // A collector's header, a column line, a JSON header: none is a record, each is reported.
    let text = "# collector v1 binance spot\nreceive_ns frame\n{\"exchange\":\"binance\"}\n\n1000 {\"a\":1}\n2000 {\"b\":2}\n";
    for (name, bytes) in [
        ("frames.txt", text.as_bytes().to_vec()),
        ("frames.txt.zst", zstd_bytes(text.as_bytes())),
    ] {
        let p = d.file(name, &bytes);
        let (recs, errs, warns) = read_everything(&p);
        assert_eq!(open(&p).unwrap().format(), Some(Format::PlainNs), "{name}");
        let lines: Vec<u64> = errs
            .iter()
            .map(|e| match e {
                RecordError::Malformed { line, .. } => *line,
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(lines, vec![1, 2, 3], "{name}");
        assert!(
            errs[0].to_string().contains("`# collector v1"),
            "{}",
            errs[0]
        );
        let got: Vec<(u64, u64)> = recs.iter().map(|r| (r.ts_ns, r.line)).collect();
        assert_eq!(got, vec![(1000, 5), (2000, 6)], "{name}");
        assert!(warns.is_empty());
    }
    // The same in front of cryptofeed lines.
    let (cf, want) = cryptofeed_sample();
    let p = d.file("cf.jsonl", format!("collector header\n{cf}").as_bytes());
    let (recs, errs, _) = read_everything(&p);
    assert_eq!(errs.len(), 1);
    assert_eq!(recs.len(), want.len());
    assert_eq!(recs[0].data, want[0].data);
}

// ---------- cryptofeed lines, compression ----------

fn cryptofeed_sample() -> (String, Vec<Record>) {
    let frames = [
        r#"{"topic":"orderbook.1.BTCUSDT","data":{"b":[["65140.40","0.5"]]}}"#,
        "tab\tnewline\nquote\"backslash\\unicode é😀",
        "",
    ];
    let mut text = String::from(
        r#"{"t":"header","format":2,"exchange":"BYBIT","config":{"l2_book":["BTC-USDT"]},"recorded":1786310816.5}"#,
    );
    text.push('\n');
    text.push_str(
        r#"{"t":"connect","conn":"BYBIT.ws.2","ts":1786310818.2235148,"addr":"wss://stream.bybit.com/v5/public/linear"}"#,
    );
    text.push('\n');
    let mut want = vec![
        Record {
            kind: RecordKind::Header,
            ts_ns: 1_786_310_816_500_000_000,
            conn: String::new(),
            url_or_addr: None,
            data: text.lines().next().unwrap().as_bytes().to_vec(),
            line: 1,
        },
        Record {
            kind: RecordKind::Connect,
            ts_ns: 1_786_310_818_223_514_800,
            conn: "BYBIT.ws.2".into(),
            url_or_addr: Some("wss://stream.bybit.com/v5/public/linear".into()),
            data: Vec::new(),
            line: 2,
        },
    ];
    for (i, f) in frames.iter().enumerate() {
        let ts = format!("1786310819.{:06}", i * 7);
        text.push_str(&format!(
            r#"{{"t":"recv","conn":"BYBIT.ws.2","ts":{ts},"data":{}}}"#,
            serde_json::to_string(f).unwrap()
        ));
        text.push('\n');
        want.push(Record {
            kind: RecordKind::Recv,
            ts_ns: 1_786_310_819_000_000_000 + (i as u64 * 7_000),
            conn: "BYBIT.ws.2".into(),
            url_or_addr: None,
            data: f.as_bytes().to_vec(),
            line: 3 + i as u64,
        });
    }
    (text, want)
}

#[test]
fn cryptofeed_plain_gzip_zstd_read_the_same_detected_by_content() {
    let d = TempDir::new("cf");
    let (text, want) = cryptofeed_sample();
    // names that lie about the compression: content decides
    for (name, bytes, comp) in [
        ("a.jsonl", text.as_bytes().to_vec(), Compression::None),
        ("b.jsonl.gz", gzip_bytes(text.as_bytes()), Compression::Gzip),
        (
            "c.jsonl.zst",
            zstd_bytes(text.as_bytes()),
            Compression::Zstd,
        ),
        (
            "d.jsonl.zst",
            gzip_bytes(text.as_bytes()),
            Compression::Gzip,
        ),
        ("e.dat", zstd_bytes(text.as_bytes()), Compression::Zstd),
    ] {
        let p = d.file(name, &bytes);
        let r = open(&p).unwrap();
        assert_eq!(r.compression(), comp, "{name}");
        assert_eq!(r.format(), Some(Format::CryptofeedJson), "{name}");
        assert_eq!(read_all(&p).unwrap(), want, "{name}");
    }
}

#[test]
fn gzip_with_several_members_round_trips() {
    let d = TempDir::new("gz2");
    let (text, want) = cryptofeed_sample();
    let cut = text.find('\n').unwrap() + 1;
    let mut bytes = gzip_bytes(&text.as_bytes()[..cut]);
    bytes.extend(gzip_bytes(&text.as_bytes()[cut..]));
    let p = d.file("two.jsonl.gz", &bytes);
    assert_eq!(read_all(&p).unwrap(), want);
}

#[test]
fn malformed_cryptofeed_line_is_reported_with_its_number_and_skipped() {
    let d = TempDir::new("cfbad");
    let (text, want) = cryptofeed_sample();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(
        3,
        r#"{"t":"recv","conn":"BYBIT.ws.2","ts":"soon","data":"{}"}"#,
    );
    lines.insert(
        4,
        "{\"t\":\"recv\",\"conn\":\"x\",\"ts\":1,\"data\":\"\u{1}\"}",
    );
    let p = d.file("bad.jsonl", (lines.join("\n") + "\n").as_bytes());
    let (recs, errs, warns) = read_everything(&p);
    assert_eq!(recs.len(), want.len());
    assert_eq!(errs.len(), 2);
    let e0 = errs[0].to_string();
    assert!(
        e0.contains("bad.jsonl:4:") && e0.contains("`ts`: seconds"),
        "{e0}"
    );
    let e1 = errs[1].to_string();
    assert!(
        e1.contains("bad.jsonl:5:") && e1.contains("control"),
        "{e1}"
    );
    // later lines keep their true numbers
    assert_eq!(recs.last().unwrap().line, lines.len() as u64);
    assert!(warns.is_empty());
}

#[test]
fn long_lines_grow_the_buffer() {
    let d = TempDir::new("long");
    let big: String = "x\"".repeat(600_000);
    let line = format!(
        "{{\"t\":\"recv\",\"conn\":\"c\",\"ts\":1,\"data\":{}}}\n5 x\n",
        serde_json::to_string(&big).unwrap()
    );
    let p = d.file("long.jsonl.zst", &zstd_bytes(line.as_bytes()));
    let mut r = open(&p).unwrap();
    assert_eq!(r.next_record().unwrap().unwrap().data, big.as_bytes());
    assert!(r.next_record().unwrap().is_err()); // `5 x` is not JSON
}

#[test]
fn truncated_compressed_text_keeps_whole_lines_and_warns() {
    let d = TempDir::new("cftrunc");
    let (text, want) = cryptofeed_sample();
    let z = zstd_bytes(text.as_bytes());
    let g = gzip_bytes(text.as_bytes());
    for (name, bytes) in [("t.jsonl.zst", &z), ("t.jsonl.gz", &g)] {
        for cut in (0..bytes.len()).step_by(3) {
            let p = d.file(name, &bytes[..cut]);
            let mut r = match open(&p) {
                Ok(r) => r,
                // a gzip cut inside its 10-byte header fails at once
                Err(RecordError::Io { .. }) if name.ends_with(".gz") && cut < 10 => continue,
                Err(e) => panic!("{name} cut {cut}: {e}"),
            };
            let mut got = Vec::new();
            while let Some(x) = r.next_record() {
                got.push(
                    x.unwrap_or_else(|e| panic!("{name} cut {cut}: {e}"))
                        .to_record(),
                );
            }
            assert_eq!(got[..], want[..got.len()], "{name} cut {cut}");
            assert!(
                !r.warnings().is_empty(),
                "{name} cut {cut}: a cut stream must warn"
            );
        }
    }
}

#[test]
fn torn_last_line_of_uncompressed_jsonl_is_a_warning() {
    let d = TempDir::new("cftorn");
    let (text, want) = cryptofeed_sample();
    let cut = text.len() - 10;
    let p = d.file("torn.jsonl", &text.as_bytes()[..cut]);
    let (recs, errs, warns) = read_everything(&p);
    assert_eq!(recs[..], want[..want.len() - 1]);
    assert!(errs.is_empty());
    assert_eq!(warns.len(), 1);
    assert!(warns[0].message.contains("torn tail"), "{}", warns[0]);
    assert_eq!(warns[0].line, want.len() as u64);
}

#[test]
fn empty_missing_and_unknown_files() {
    let d = TempDir::new("misc");
    let p = d.file("empty.jsonl", b"");
    let mut r = open(&p).unwrap();
    assert_eq!(r.format(), None);
    assert!(r.next_record().is_none());
    assert!(r.warnings().is_empty());

    let p = d.file("blank.txt", b"\n  \n");
    assert!(read_all(&p).unwrap().is_empty());

    // a zstd file cut right after creation: the name says zstd, the stream says truncated
    let p = d.file("new.obirec.zst", b"");
    let mut r = open(&p).unwrap();
    assert_eq!(r.compression(), Compression::Zstd);
    assert!(r.next_record().is_none());
    assert_eq!(r.warnings().len(), 1);

    let missing = d.0.join("nope.jsonl");
    match open(&missing) {
        Err(e @ RecordError::Open { .. }) => assert!(e.to_string().contains("nope.jsonl")),
        other => panic!("{:?}", other.err()),
    }

    let p = d.file("hello.txt", b"hello world\n");
    match open(&p) {
        Err(e @ RecordError::UnknownFormat { .. }) => {
            let s = e.to_string();
            assert!(s.contains("hello.txt") && s.contains("`hello world"), "{s}");
        }
        other => panic!("{:?}", other.err()),
    }

    // UTF-8 BOM and leading blank lines are fine
    let p = d.file("bom.txt", b"\xef\xbb\xbf\n\n7 {}\n");
    let recs = read_all(&p).unwrap();
    assert_eq!((recs[0].ts_ns, recs[0].line), (7, 3));
}

// ---------- obirec ----------

fn meta() -> RecordMeta {
    RecordMeta {
        venue: "bybit".into(),
        market: "linear".into(),
        symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        addr: "wss://stream.bybit.com/v5/public/linear".into(),
        ..RecordMeta::default()
    }
}

/// A settable clock shared with the test.
fn manual_clock(start: u64) -> (Arc<AtomicU64>, Clock) {
    let t = Arc::new(AtomicU64::new(start));
    let t2 = t.clone();
    (t, Box::new(move || t2.load(Ordering::SeqCst)))
}

fn sample_records(n: usize) -> Vec<Record> {
    let kinds = [
        RecordKind::Connect,
        RecordKind::Send,
        RecordKind::Recv,
        RecordKind::Http,
        RecordKind::Recv,
        RecordKind::Disconnect,
    ];
    (0..n)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let mut data = format!("{{\"i\":{i},\"pad\":\"{}\"}}", "z".repeat(i % 50)).into_bytes();
            if i % 7 == 3 {
                data.extend_from_slice(b"\n\0\xff binary");
            }
            Record {
                kind,
                ts_ns: 1_786_310_818_000_000_000 + i as u64 * 1_234_567,
                conn: if i % 5 == 0 {
                    String::new()
                } else {
                    format!("BYBIT.ws.{}é", i % 3)
                },
                url_or_addr: match kind {
                    RecordKind::Http => Some(format!("https://api.bybit.com/v5/x?i={i}")),
                    RecordKind::Connect | RecordKind::Send => Some(String::new()),
                    _ => None,
                },
                data,
                line: 0,
            }
        })
        .collect()
}

fn write_all(w: &mut RecordWriter, recs: &[Record]) {
    for r in recs {
        w.write_ref(&r.view()).unwrap();
    }
}

/// Data records of a file (header dropped), lines cleared for comparison.
fn data_records(recs: &[Record]) -> Vec<Record> {
    recs.iter()
        .filter(|r| r.kind != RecordKind::Header)
        .map(|r| Record {
            line: 0,
            ..r.clone()
        })
        .collect()
}

#[test]
fn obirec_round_trip_plain_and_zstd() {
    let d = TempDir::new("rt");
    let recs = sample_records(40);
    for comp in [WriteCompression::None, WriteCompression::Zstd { level: 3 }] {
        let mut cfg = WriterConfig::new(&d.0, "rt", meta());
        cfg.compression = comp;
        let (_, clock) = manual_clock(1_786_310_816_000_000_000);
        let mut w = RecordWriter::with_clock(cfg, clock).unwrap();
        write_all(&mut w, &recs);
        let path = w.current_path().unwrap().to_path_buf();
        let files = w.finish().unwrap();
        assert_eq!(files, vec![path.clone()]);
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let want_name = match comp {
            WriteCompression::None => "rt-20260809T212656Z-000000.obirec",
            WriteCompression::Zstd { .. } => "rt-20260809T212656Z-000000.obirec.zst",
        };
        assert_eq!(name, want_name);

        let mut r = open(&path).unwrap();
        assert_eq!(r.format(), Some(Format::Obirec));
        let m = r.meta().unwrap().clone();
        assert_eq!((m.venue.as_str(), m.market.as_str()), ("bybit", "linear"));
        assert_eq!(m.symbols, vec!["BTCUSDT", "ETHUSDT"]);
        assert_eq!(m.created_ns, 1_786_310_816_000_000_000);
        assert!(m.recorder.starts_with("obi-scalp "));
        let h = r.next_record().unwrap().unwrap().to_record();
        assert_eq!(
            (h.kind, h.ts_ns, h.line),
            (RecordKind::Header, m.created_ns, 1)
        );
        assert_eq!(serde_json::from_slice::<RecordMeta>(&h.data).unwrap(), m);
        let mut got = Vec::new();
        while let Some(x) = r.next_record() {
            let x = x.unwrap();
            assert_eq!(x.line, got.len() as u64 + 2);
            got.push(Record {
                line: 0,
                ..x.to_record()
            });
        }
        assert_eq!(got, recs);
        assert!(r.warnings().is_empty());
    }
}

#[test]
fn obirec_rotates_by_size() {
    let d = TempDir::new("rotsize");
    let recs = sample_records(60);
    let mut cfg = WriterConfig::new(&d.0, "sz", meta());
    cfg.compression = WriteCompression::None;
    cfg.rotate_bytes = Some(1000);
    cfg.rotate_interval = None;
    let (_, clock) = manual_clock(1_000_000_000);
    let mut w = RecordWriter::with_clock(cfg, clock).unwrap();
    write_all(&mut w, &recs);
    let files = w.finish().unwrap();
    assert!(files.len() >= 4, "{} files", files.len());
    let mut all = Vec::new();
    for (seq, f) in files.iter().enumerate() {
        let size = fs::metadata(f).unwrap().len();
        assert!(size <= 1000, "{} is {size} bytes", f.display());
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, format!("sz-19700101T000001Z-{seq:06}.obirec"));
        let got = read_all(f).unwrap();
        assert_eq!(got[0].kind, RecordKind::Header);
        let m: RecordMeta = serde_json::from_slice(&got[0].data).unwrap();
        assert_eq!(m.seq, seq as u64);
        assert!(got.len() > 1, "no empty files");
        all.extend(data_records(&got));
    }
    assert_eq!(all, recs);
}

#[test]
fn obirec_rotates_by_time() {
    let d = TempDir::new("rottime");
    let recs = sample_records(8);
    let mut cfg = WriterConfig::new(&d.0, "tm", meta());
    cfg.rotate_interval = Some(Duration::from_secs(10));
    let t0 = 1_786_310_816_000_000_000;
    let (t, clock) = manual_clock(t0);
    let mut w = RecordWriter::with_clock(cfg, clock).unwrap();
    for (i, r) in recs.iter().enumerate() {
        t.store(t0 + (i as u64 + 1) * 3_000_000_000, Ordering::SeqCst);
        w.write_ref(&r.view()).unwrap();
    }
    let files = w.finish().unwrap();
    // writes at +3 +6 +9 | +12 (12 s since open) +15 +18 +21 | +24 (12 s since +12)
    let counts: Vec<usize> = files
        .iter()
        .map(|f| read_all(f).unwrap().len() - 1)
        .collect();
    assert_eq!(counts, vec![3, 4, 1]);
    let created: Vec<u64> = files
        .iter()
        .map(|f| open(f).unwrap().meta().unwrap().created_ns)
        .collect();
    assert_eq!(created, vec![t0, t0 + 12_000_000_000, t0 + 24_000_000_000]);
    assert!(files[1]
        .to_str()
        .unwrap()
        .contains("-20260809T212708Z-000001."));
    let all: Vec<Record> = files
        .iter()
        .flat_map(|f| data_records(&read_all(f).unwrap()))
        .collect();
    assert_eq!(all, recs);
}

/// Reads a crash image: the bytes of a file still being written.
fn crash_image(d: &TempDir, w: &RecordWriter, name: &str) -> PathBuf {
    let bytes = fs::read(w.current_path().unwrap()).unwrap();
    d.file(name, &bytes)
}

#[test]
fn zstd_flush_interval_bounds_the_loss_and_cut_streams_read_to_the_cut() {
    let d = TempDir::new("flush");
    let out = d.0.join("out");
    let recs = sample_records(30);
    let mut cfg = WriterConfig::new(&out, "fl", meta());
    cfg.flush_interval = Duration::from_secs(1);
    let t0 = 1_000_000_000_000;
    let (t, clock) = manual_clock(t0);
    let mut w = RecordWriter::with_clock(cfg, clock).unwrap();

    // 10 records within the first second: not flushed yet, a crash keeps only the header
    for (i, r) in recs[..10].iter().enumerate() {
        t.store(t0 + i as u64 * 50_000_000, Ordering::SeqCst);
        w.write_ref(&r.view()).unwrap();
    }
    let img = crash_image(&d, &w, "img0.obirec.zst");
    let (got, errs, warns) = read_everything(&img);
    assert!(errs.is_empty());
    assert_eq!(got.len(), 1, "only the header is on disk");
    assert_eq!(warns.len(), 1, "{warns:?}");

    // the first write after 1 s flushes everything so far
    t.store(t0 + 1_000_000_000, Ordering::SeqCst);
    w.write_ref(&recs[10].view()).unwrap();
    let img = crash_image(&d, &w, "img1.obirec.zst");
    let (got, errs, warns) = read_everything(&img);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(data_records(&got), recs[..11]);
    assert!(
        warns.iter().any(|w| w.message.contains("ends early")),
        "{warns:?}"
    );

    // idle: tick flushes once the interval has passed, not before
    for r in &recs[11..20] {
        w.write_ref(&r.view()).unwrap();
    }
    t.store(t0 + 1_500_000_000, Ordering::SeqCst);
    w.tick().unwrap();
    let img = crash_image(&d, &w, "img2.obirec.zst");
    assert_eq!(data_records(&read_everything(&img).0), recs[..11]);
    t.store(t0 + 2_000_000_000, Ordering::SeqCst);
    w.tick().unwrap();
    let img = crash_image(&d, &w, "img3.obirec.zst");
    let full = fs::read(&img).unwrap();
    assert_eq!(data_records(&read_everything(&img).0), recs[..20]);

    // every cut of that image reads a prefix of the records, never an error
    let mut last = 0;
    for cut in 0..=full.len() {
        let p = d.file("cut.obirec.zst", &full[..cut]);
        let (got, errs, warns) = read_everything(&p);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        let got = data_records(&got);
        assert_eq!(got[..], recs[..got.len()], "cut {cut}");
        assert!(got.len() >= last, "cut {cut}");
        assert!(
            !warns.is_empty(),
            "cut {cut}: an unfinished frame must warn"
        );
        last = got.len();
    }
    assert_eq!(last, 20);
    drop(w);
}

fn finished_plain_file(d: &TempDir, n: usize) -> (Vec<u8>, Vec<Record>) {
    let recs = sample_records(n);
    let mut cfg = WriterConfig::new(d.0.join("src"), "pl", meta());
    cfg.compression = WriteCompression::None;
    let (_, clock) = manual_clock(5);
    let mut w = RecordWriter::with_clock(cfg, clock).unwrap();
    write_all(&mut w, &recs);
    let files = w.finish().unwrap();
    (fs::read(&files[0]).unwrap(), recs)
}

/// Offsets where each record starts, the header's end first.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let meta_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut at = 12 + meta_len + 4;
    let mut out = vec![];
    while at < bytes.len() {
        out.push(at);
        at += 4 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize + 4;
    }
    assert_eq!(at, bytes.len());
    out
}

#[test]
fn torn_obirec_tail_loses_only_the_last_record() {
    let d = TempDir::new("torn");
    let (bytes, recs) = finished_plain_file(&d, 12);
    let offs = record_offsets(&bytes);
    let last = *offs.last().unwrap();
    // a cut on a record boundary is a clean end: nothing torn to report
    let (got, errs, warns) = read_everything(&d.file("edge.obirec", &bytes[..last]));
    assert_eq!(data_records(&got), recs[..11]);
    assert!(errs.is_empty() && warns.is_empty());
    for cut in last + 1..bytes.len() {
        let p = d.file("torn.obirec", &bytes[..cut]);
        let (got, errs, warns) = read_everything(&p);
        assert!(errs.is_empty(), "cut {cut}: {errs:?}");
        assert_eq!(data_records(&got), recs[..11], "cut {cut}");
        assert_eq!(warns.len(), 1, "cut {cut}: {warns:?}");
        assert!(warns[0].message.contains("torn tail"), "{}", warns[0]);
        assert_eq!(warns[0].line, 13, "record 13 = the 12th after the header");
    }
    // cut inside the header: no records, a warning, no error
    for cut in 1..offs[0] {
        let p = d.file("torn.obirec", &bytes[..cut]);
        let (got, errs, warns) = read_everything(&p);
        assert!(got.is_empty() && errs.is_empty(), "cut {cut}");
        assert_eq!(warns.len(), 1, "cut {cut}");
    }
    // zeros after the last record (what a crash can leave): warning, all records kept
    let mut z = bytes.clone();
    z.extend(std::iter::repeat_n(0, 5000));
    let (got, errs, warns) = read_everything(&d.file("zeros.obirec", &z));
    assert!(errs.is_empty());
    assert_eq!(data_records(&got), recs);
    assert_eq!(warns.len(), 1);
    // a damaged last record (CRC mismatch, nothing after it): a warning too
    let mut b = bytes.clone();
    b[last + 20] ^= 0x40;
    let (got, errs, warns) = read_everything(&d.file("crc.obirec", &b));
    assert!(errs.is_empty());
    assert_eq!(data_records(&got), recs[..11]);
    assert!(warns[0].message.contains("CRC mismatch"), "{}", warns[0]);
}

#[test]
fn corruption_before_the_end_is_an_error_and_stops() {
    let d = TempDir::new("corrupt");
    let (bytes, recs) = finished_plain_file(&d, 12);
    let offs = record_offsets(&bytes);
    let mut b = bytes.clone();
    b[offs[5] + 19] ^= 1;
    let (got, errs, warns) = read_everything(&d.file("mid.obirec", &b));
    assert_eq!(data_records(&got), recs[..5]);
    assert_eq!(errs.len(), 1);
    assert!(!errs[0].is_malformed());
    let s = errs[0].to_string();
    assert!(
        s.contains("mid.obirec: record 7: corrupt: CRC mismatch"),
        "{s}"
    );
    assert!(warns.is_empty());
    // a length field out of range with data after it
    let mut b = bytes.clone();
    b[offs[3]..offs[3] + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let (got, errs, _) = read_everything(&d.file("len.obirec", &b));
    assert_eq!(data_records(&got), recs[..3]);
    assert!(errs[0].to_string().contains("length"), "{}", errs[0]);
    // a header whose CRC is wrong
    let mut b = bytes.clone();
    b[14] ^= 1;
    match open(&d.file("hdr.obirec", &b)) {
        Err(e @ RecordError::Corrupt { .. }) => assert!(e.to_string().contains("header CRC")),
        other => panic!("{:?}", other.err()),
    }
    let mut b = bytes.clone();
    b[6] = 2;
    match open(&d.file("ver.obirec", &b)) {
        Err(e) => assert!(e.to_string().contains("version 2"), "{e}"),
        Ok(_) => panic!("version 2 accepted"),
    }
}

#[test]
fn a_record_with_a_good_crc_but_bad_fields_is_skipped() {
    let d = TempDir::new("badfields");
    let (bytes, recs) = finished_plain_file(&d, 6);
    let offs = record_offsets(&bytes);
    let mut b = bytes.clone();
    let (s, e) = (offs[2], offs[3]);
    b[s + 4] = 42; // kind
    let crc = crc32(&b[s..e - 4]);
    b[e - 4..e].copy_from_slice(&crc.to_le_bytes());
    let (got, errs, warns) = read_everything(&d.file("kind.obirec", &b));
    let mut want = recs.clone();
    want.remove(2);
    assert_eq!(data_records(&got), want);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].is_malformed());
    assert!(
        errs[0]
            .to_string()
            .contains("kind.obirec:4: expected a record kind"),
        "{}",
        errs[0]
    );
    assert!(warns.is_empty());
}

#[test]
fn sinks() {
    fn feed(s: &mut dyn RecordSink) {
        s.write(RecordKind::Connect, 1, "c", Some("wss://a"), b"")
            .unwrap();
        s.write(RecordKind::Recv, 2, "c", None, b"{}").unwrap();
        s.flush().unwrap();
    }
    let mut v: Vec<Record> = Vec::new();
    feed(&mut v);
    assert_eq!(v.len(), 2);
    assert_eq!((v[1].kind, v[1].ts_ns, v[1].line), (RecordKind::Recv, 2, 2));

    let d = TempDir::new("sink");
    let mut w = RecordWriter::create(WriterConfig::new(&d.0, "s", meta())).unwrap();
    feed(&mut w);
    let long = "x".repeat(70_000);
    match w.write(RecordKind::Recv, 3, &long, None, b"") {
        Err(e @ RecordError::TooLarge { .. }) => assert!(e.to_string().contains("conn")),
        other => panic!("{other:?}"),
    }
    let files = w.finish().unwrap();
    let got = data_records(&read_all(&files[0]).unwrap());
    let want: Vec<Record> = v
        .iter()
        .map(|r| Record {
            line: 0,
            ..r.clone()
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn writer_never_overwrites_and_bad_dirs_fail_at_create() {
    let d = TempDir::new("nooverwrite");
    let (_, c1) = manual_clock(7_000_000_000);
    let (_, c2) = manual_clock(7_000_000_000);
    let w1 = RecordWriter::with_clock(WriterConfig::new(&d.0, "x", meta()), c1).unwrap();
    let w2 = RecordWriter::with_clock(WriterConfig::new(&d.0, "x", meta()), c2).unwrap();
    assert_ne!(w1.current_path(), w2.current_path());
    drop((w1, w2));
    let blocker = d.file("file", b"");
    match RecordWriter::create(WriterConfig::new(blocker.join("sub"), "x", meta())) {
        Err(e @ RecordError::Create { .. }) => assert!(e.to_string().contains("sub")),
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn reader_and_writer_can_move_to_other_threads() {
    fn send<T: Send>() {}
    send::<RecordReader>();
    send::<RecordWriter>();
    send::<RecordError>();
}
