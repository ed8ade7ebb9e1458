//! The fuzz targets' regression mode on the stable toolchain: every committed corpus input
//! (`fuzz/corpus/TARGET/`, seeds from `scripts/fuzz_seed.py` plus what fuzzing kept, and
//! every crash input ever fixed, in `fuzz/regressions/TARGET/`) runs through the target's body
//! in `obi_scalp::fuzzing`. A panic fails the test and names the input file. No libFuzzer is
//! needed: CI replays the corpora without cargo-fuzz.

use obi_scalp::fuzzing;
use obi_scalp::record::Format;
use obi_scalp::venue::Venue;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_file() {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str, body: impl Fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no corpus for {target} in fuzz/corpus/{target}"
    );
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&data)));
        assert!(r.is_ok(), "{target}: {} panicked", f.display());
    }
}

#[test]
fn decode_coincheck() {
    replay("decode_coincheck", |d| {
        fuzzing::venue_decoder(Venue::Coincheck, d)
    });
}

#[test]
fn decode_bybit() {
    replay("decode_bybit", |d| fuzzing::venue_decoder(Venue::Bybit, d));
}

#[test]
fn decode_binance() {
    replay("decode_binance", |d| {
        fuzzing::venue_decoder(Venue::Binance, d)
    });
}

#[test]
fn decode_bitflyer() {
    replay("decode_bitflyer", |d| {
        fuzzing::venue_decoder(Venue::Bitflyer, d)
    });
}

#[test]
fn decode_gmocoin() {
    replay("decode_gmocoin", |d| {
        fuzzing::venue_decoder(Venue::GmoCoin, d)
    });
}

#[test]
fn decode_bitbank() {
    replay("decode_bitbank", |d| {
        fuzzing::venue_decoder(Venue::Bitbank, d)
    });
}

#[test]
fn decode_binance_usdm() {
    replay("decode_binance_usdm", |d| {
        fuzzing::venue_decoder(Venue::BinanceUsdm, d)
    });
}

#[test]
fn record_cryptofeed() {
    replay("record_cryptofeed", |d| {
        fuzzing::record_reader(Format::CryptofeedJson, d)
    });
}

#[test]
fn record_plain() {
    replay("record_plain", |d| {
        fuzzing::record_reader(Format::PlainNs, d)
    });
}

#[test]
fn record_obirec() {
    replay("record_obirec", |d| {
        fuzzing::record_reader(Format::Obirec, d)
    });
}

#[test]
fn http_request() {
    replay("http_request", fuzzing::http_request);
}

#[test]
fn config_toml() {
    replay("config_toml", fuzzing::config_toml);
}

/// The seeds reach the code they are for (a corpus of inputs every parser rejects at the first
/// byte would replay cleanly and test nothing).
#[test]
fn seeds_reach_the_parsers() {
    use obi_scalp::record::RecordReader;
    let obirec = inputs("record_obirec");
    let f = obirec.iter().find(|p| {
        let data = std::fs::read(p).unwrap();
        let mut r = RecordReader::from_reader(p, std::io::Cursor::new(data)).unwrap();
        let mut ok = 0;
        while let Some(Ok(_)) = r.next_record() {
            ok += 1;
        }
        ok >= 3
    });
    assert!(f.is_some(), "no obirec seed reads as records");
    let ok = fuzzing::http_request_status(b"GET /healthz HTTP/1.1\r\n\r\n");
    assert!(ok == Some(200) || ok == Some(503), "{ok:?}");
}

/// Every venue with a decoder has a fuzz target (a new venue's decoder fails this until
/// `fuzz/fuzz_targets/decode_VENUE.rs`, its corpus and a test above exist).
#[test]
fn every_decoder_has_a_fuzz_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for v in Venue::connected() {
        let name = format!("decode_{}", v.as_str());
        assert!(
            root.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "no fuzz target {name}"
        );
        assert!(!inputs(&name).is_empty(), "no corpus for {name}");
    }
}
