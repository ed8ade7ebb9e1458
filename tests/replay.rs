//! `obi-scalp replay`: deterministic outputs that reconcile exactly.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/shared_data.rs"]
mod shared_data;
use shared_data::shared_data as shared;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn replay(config: &Path, input: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
        .args(["replay", "--config"])
        .arg(config)
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// A decimal string as an exact integer at `scale` decimal places.
fn dec(s: &str, scale: u32) -> i128 {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (i, f) = s.split_once('.').unwrap_or((s, ""));
    assert!(
        f.len() as u32 <= scale,
        "{s} has more than {scale} decimals"
    );
    let mut v: i128 = i.parse::<i128>().unwrap() * 10i128.pow(scale);
    if !f.is_empty() {
        v += f.parse::<i128>().unwrap() * 10i128.pow(scale - f.len() as u32);
    }
    if neg {
        -v
    } else {
        v
    }
}

fn config_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/config")).join(name)
}

#[test]
fn bybit_replay_is_byte_identical_and_reconciles() {
    let Some(input) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    // The shipped config, and a more active variant so that several trades reconcile.
    let cfg_dir = tmp("cfg");
    let active = cfg_dir.join("active.toml");
    let base = std::fs::read_to_string(config_path("bybit-btcusdt.toml")).unwrap();
    let text = base
        .replace("long_threshold = 0.25", "long_threshold = 0.15")
        .replace("short_threshold = 0.27", "short_threshold = 0.15")
        .replace("hold_ms = 500", "hold_ms = 200")
        .replace("max_hold_ms = 15000", "max_hold_ms = 5000");
    assert_ne!(
        text, base,
        "the variant must differ from the shipped config"
    );
    std::fs::write(&active, &text).unwrap();
    // Reports 20 ms late and cancels slower than orders: late entry fills and exits decided on
    // late news must still reconcile.
    let slow = cfg_dir.join("slow.toml");
    let slow_text = text.replace(
        "cancel_latency_ms = 5",
        "cancel_latency_ms = 30\nreport_latency_ms = 20",
    );
    assert_ne!(slow_text, text);
    std::fs::write(&slow, slow_text).unwrap();
    for (name, cfg) in [
        ("shipped", config_path("bybit-btcusdt.toml")),
        ("active", active),
        ("slow_reports", slow),
    ] {
        let (a, b) = (tmp(&format!("{name}-a")), tmp(&format!("{name}-b")));
        let ra = replay(&cfg, &input, &a);
        let rb = replay(&cfg, &input, &b);
        assert!(
            ra.status.success(),
            "{}",
            String::from_utf8_lossy(&ra.stderr)
        );
        assert!(rb.status.success());
        let csv = std::fs::read(a.join("trades.csv")).unwrap();
        let json = std::fs::read(a.join("summary.json")).unwrap();
        assert_eq!(
            csv,
            std::fs::read(b.join("trades.csv")).unwrap(),
            "{name}: trades.csv differs"
        );
        assert_eq!(
            json,
            std::fs::read(b.join("summary.json")).unwrap(),
            "{name}: summary.json differs"
        );
        // The human summary too, but for the line naming the output directory.
        let human = |o: &std::process::Output| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.starts_with("wrote "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(human(&ra), human(&rb));

        let summary: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let trades = summary["trades"].as_u64().unwrap();
        assert!(trades >= 1, "{name}: the replay produces trades: {summary}");
        assert_eq!(summary["book"]["gaps"], 0);
        assert_eq!(summary["book"]["crossed"], 0);
        assert_eq!(summary["venue"], "bybit_linear");

        // Reconcile at 20 decimals: every fill's cash flow and fee against the PnL.
        const S: u32 = 20;
        let csv = String::from_utf8(csv).unwrap();
        let mut cash: i128 = 0;
        let mut fees: i128 = 0;
        let mut pos: i128 = 0;
        let (mut net_sum, mut gross_sum, mut trade_fees, mut rows) = (0i128, 0i128, 0i128, 0u64);
        for line in csv.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 14, "{line}");
            match f[0] {
                "fill" => {
                    let px = dec(f[4], 10);
                    let qty = dec(f[5], 10);
                    let fee = dec(f[7], S);
                    let notional = px * qty; // 20 decimals
                    match f[3] {
                        "buy" => {
                            cash -= notional;
                            pos += qty;
                        }
                        "sell" => {
                            cash += notional;
                            pos -= qty;
                        }
                        s => panic!("side {s}"),
                    }
                    cash -= fee;
                    fees += fee;
                }
                "trade" => {
                    rows += 1;
                    let gross = dec(f[10], S);
                    let net = dec(f[11], S);
                    let tf = dec(f[7], S);
                    assert_eq!(gross - tf, net, "{line}");
                    net_sum += net;
                    gross_sum += gross;
                    trade_fees += tf;
                }
                t => panic!("row type {t}"),
            }
        }
        assert_eq!(rows, trades);
        assert_eq!(
            dec(summary["cash_change"].as_str().unwrap(), S),
            cash,
            "{name}: cash"
        );
        assert_eq!(dec(summary["net_pnl"].as_str().unwrap(), S), net_sum);
        assert_eq!(dec(summary["gross_pnl"].as_str().unwrap(), S), gross_sum);
        assert_eq!(dec(summary["fees"].as_str().unwrap(), S), trade_fees);
        assert_eq!(dec(summary["final_position"].as_str().unwrap(), 10), pos);
        if pos == 0 {
            // Flat: the cash moved by the fills is exactly the trades' net PnL.
            assert_eq!(cash, net_sum, "{name}");
            assert_eq!(fees, trade_fees);
        } else {
            // The open position's fills are in the cash but not yet in a closed trade.
            assert!(fees >= trade_fees);
        }
    }
}

#[test]
fn replay_errors_name_the_problem() {
    let dir = tmp("err");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[strategy]\nhold_ms = 0\n").unwrap();
    let out = replay(&bad, Path::new("x.jsonl"), &dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("strategy.hold_ms"), "{err}");
    let out = replay(
        &config_path("bybit-btcusdt.toml"),
        Path::new("missing.jsonl"),
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("missing.jsonl"));
}

/// `input::stream` yields exactly the records, connections and order of `input::load` (a stable
/// sort by receive time), on every shared recording, on several files at once (two copies of one
/// recording, the second shifted a day later, like multi-day inputs) and on a file with more
/// out-of-order stretches than the streamer opens readers for.
#[test]
fn streamed_input_equals_loaded_input() {
    use obi_scalp::replay::input;
    let mut sets: Vec<Vec<PathBuf>> = Vec::new();
    for f in [
        "bybit_v5_cryptofeed_20260809.jsonl.zst",
        "bitflyer_cryptofeed_20211212.jsonl.zst",
        "binance_spot_cryptofeed_20211012.jsonl",
    ] {
        let Some(p) = shared(f) else { return };
        sets.push(vec![p]);
    }
    let d = tmp("stream");
    let bybit = shared("bybit_v5_cryptofeed_20260809.jsonl").unwrap();
    let shifted = d.join("bybit-next-day.jsonl");
    shift_cryptofeed(&bybit, &shifted, 86_400);
    sets.push(vec![bybit.clone(), shifted.clone()]);
    // Same times in both files: ties keep file order.
    sets.push(vec![bybit.clone(), bybit.clone()]);
    // A plain `<ns> <frame>` file whose times fall back 40 times.
    let plain = d.join("zigzag.txt");
    let mut text = String::new();
    for run in 0..41u64 {
        for k in 0..3u64 {
            let ts = 1_000_000_000 + (40 - run) * 1000 + k * 7;
            text.push_str(&format!("{ts} {{\"n\":{run},\"k\":{k}}}\n"));
        }
    }
    std::fs::write(&plain, text).unwrap();
    sets.push(vec![plain.clone(), bybit.clone()]);
    for paths in &sets {
        let venue = if paths[0] == plain {
            Some(obi_scalp::instrument::Venue::Bybit)
        } else {
            None
        };
        let loaded = input::load(paths, venue, None).unwrap();
        let mut s = input::stream(paths, venue, None).unwrap();
        assert_eq!(s.scan.conns, loaded.conns, "{paths:?}");
        assert_eq!(s.scan.venue, loaded.venue, "{paths:?}");
        assert_eq!(s.total(), loaded.records.len() as u64, "{paths:?}");
        let mut i = 0;
        while let Some(r) = s.next_record() {
            let (r, conn) = r.unwrap();
            // Compared whole, reported briefly (frames are large).
            let brief = |r: &obi_scalp::record::Record| (r.kind, r.ts_ns, r.conn.clone(), r.line);
            assert!(
                r == &loaded.records[i],
                "{paths:?} record {i}: streamed {:?}, loaded {:?}",
                brief(r),
                brief(&loaded.records[i])
            );
            assert_eq!(conn, loaded.conns.get(&r.conn).copied());
            i += 1;
        }
        assert_eq!(i, loaded.records.len(), "{paths:?}");
        if paths[0] == plain || paths[0] == bybit {
            assert!(
                s.scan.spilled_bytes > 0,
                "{paths:?}: times fall back in these files"
            );
        }
    }
}

/// Writes a copy of a cryptofeed recording with every line's `ts` (and the header's `recorded`)
/// moved `secs` seconds later, digits kept exactly (test input; never committed). Keys inside
/// `data` are escaped (`\"ts\"`), so only the line's own keys match.
fn shift_cryptofeed(from: &Path, to: &Path, secs: u64) {
    let text = std::fs::read_to_string(from).unwrap();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut l = line.to_string();
        for key in ["\"ts\":", "\"recorded\":"] {
            if let Some(at) = l.find(key) {
                let start = at + key.len();
                let end = start + l[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
                let n: u64 = l[start..end].parse::<u64>().unwrap() + secs;
                l.replace_range(start..end, &n.to_string());
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    std::fs::write(to, out).unwrap();
}
