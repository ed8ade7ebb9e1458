//! `obi-scalp sweep`: rows reproducible by `replay`, shards merge to the unsharded run,
//! walk-forward figures reproducible.

use std::path::{Path, PathBuf};
use std::process::Command;

fn shared(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")).join(name);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} not found (../shared/data is needed)",
            p.display()
        );
        None
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn obi(args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/bybit-btcusdt.toml");
const PARAMS: [&str; 4] = [
    "--param",
    "strategy.long_threshold=0.10:0.20:0.05",
    "--param",
    "strategy.hold_ms=100,300",
];

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn best_toml_replays_to_the_best_row_and_shards_merge_to_the_whole() {
    let Some(input) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let input = input.to_str().unwrap();
    let d = tmp("rows");
    let all = d.join("all");
    let mut args = vec!["sweep", "--config", CONFIG, "--input", input, "--jobs", "2"];
    args.extend(PARAMS);
    args.extend(["--out", all.to_str().unwrap()]);
    obi(&args);
    let res: serde_json::Value = serde_json::from_str(&read(&all.join("results.json"))).unwrap();
    let rows = res["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter().any(|r| r["trades"].as_u64().unwrap() > 1),
        "some point must trade more than once for the check to mean anything"
    );
    // best.toml through `replay` gives the best row's figures exactly.
    let best = &res["best"];
    let out = d.join("replay");
    obi(&[
        "replay",
        "--config",
        all.join("best.toml").to_str().unwrap(),
        "--input",
        input,
        "--out",
        out.to_str().unwrap(),
    ]);
    let s: serde_json::Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    for k in [
        "trades",
        "wins",
        "win_rate",
        "gross_pnl",
        "fees",
        "net_pnl",
        "profit_factor",
        "max_drawdown",
        "sharpe_per_trade",
    ] {
        assert_eq!(s[k], best[k], "{k}");
    }
    // Every row through `replay` with its values written into the config.
    let base = read(Path::new(CONFIG));
    for r in rows {
        let v = r["values"].as_array().unwrap();
        let text = base
            .replace(
                "long_threshold = 0.25",
                &format!("long_threshold = \"{}\"", v[0].as_str().unwrap()),
            )
            .replace(
                "hold_ms = 500",
                &format!("hold_ms = {}", v[1].as_str().unwrap()),
            );
        let c = d.join("row.toml");
        std::fs::write(&c, text).unwrap();
        obi(&[
            "replay",
            "--config",
            c.to_str().unwrap(),
            "--input",
            input,
            "--out",
            out.to_str().unwrap(),
        ]);
        let s: serde_json::Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
        for k in [
            "trades",
            "net_pnl",
            "fees",
            "max_drawdown",
            "sharpe_per_trade",
        ] {
            assert_eq!(s[k], r[k], "point {} {k}", r["point"]);
        }
    }
    // Two shards merged == the unsharded run, byte for byte.
    let mut dirs = Vec::new();
    for i in 0..2 {
        let sd = d.join(format!("shard{i}"));
        let shard = format!("{i}/2");
        let mut a = vec!["sweep", "--config", CONFIG, "--input", input, "--jobs", "1"];
        a.extend(PARAMS);
        a.extend(["--shard", &shard, "--out", sd.to_str().unwrap()]);
        obi(&a);
        dirs.push(sd);
    }
    let merged = d.join("merged");
    let mut a = vec!["sweep", "merge"];
    a.extend(dirs.iter().map(|p| p.to_str().unwrap()));
    a.extend(["--out", merged.to_str().unwrap()]);
    obi(&a);
    for f in ["results.csv", "results.json", "best.toml"] {
        assert_eq!(read(&merged.join(f)), read(&all.join(f)), "{f}");
    }
    // One shard alone does not pass for the whole.
    let o = Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
        .args(["sweep", "merge", dirs[0].to_str().unwrap(), "--out"])
        .arg(d.join("half"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a shard is missing"));
}

#[test]
fn walk_forward_report_is_reproducible() {
    let Some(input) = shared("bybit_v5_cryptofeed_20260809.jsonl.zst") else {
        return;
    };
    let input = input.to_str().unwrap();
    let d = tmp("walk");
    let mut texts = Vec::new();
    for (k, jobs) in ["1", "2"].iter().enumerate() {
        let out = d.join(format!("w{k}"));
        let mut a = vec![
            "sweep", "--config", CONFIG, "--input", input, "--jobs", jobs,
        ];
        a.extend(PARAMS);
        a.extend([
            "--walk-forward",
            "train=20s,test=10s,step=10s",
            "--min-trades",
            "0",
            "--out",
            out.to_str().unwrap(),
        ]);
        obi(&a);
        texts.push((
            read(&out.join("walk_forward.json")),
            read(&out.join("walk_forward.csv")),
        ));
    }
    assert_eq!(texts[0], texts[1]);
    let r: serde_json::Value = serde_json::from_str(&texts[0].0).unwrap();
    let w = r["windows"].as_array().unwrap();
    assert_eq!(w.len(), 3, "45 s: windows at 0, 10 and 20 s");
    assert!(w
        .iter()
        .all(|w| w["best"].is_object() && w["out_of_sample"].is_object()));
}

#[test]
fn bad_sweep_params_name_the_key() {
    let o = Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
        .args(["sweep", "--config", CONFIG, "--input", "x.jsonl"])
        .args(["--param", "strategy.long_threshold=0.1:2:0.5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("strategy.long_threshold"), "{e}");
}
