//! Command-line behaviour: check-config, usage errors.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_obi-scalp"))
}

#[test]
fn check_config_prints_the_effective_values() {
    let out = bin().arg("check-config").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    for want in [
        "long_threshold = 0.250000",
        "short_threshold = 0.270000",
        "hold_ms = 500.000000",
        "instant_factor = 1.500000",
        "symbol = \"btc_jpy\"",
        "wait = \"auto\"",
        "layout = \"auto\"",
        "max_consecutive_failures = 5",
    ] {
        assert!(s.contains(want), "missing `{want}` in:\n{s}");
    }
    let out = bin()
        .args(["check-config", "--config"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/bybit-btcusdt.toml"
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("taker_fee_bps = 5.50"), "{s}");
    assert!(s.contains("tick = \"0.10\""), "{s}");
}

#[test]
fn check_config_errors_name_the_key_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("obi-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, key) in [
        (
            "[strategy]\nlong_threshold = -0.1\n",
            "strategy.long_threshold",
        ),
        ("[strategy]\nhold_ms = 0\n", "strategy.hold_ms"),
        ("[strategy]\nentry_offset = 50\n", "strategy.entry_offset"),
        ("[risk]\nmax_drawdown = \"lots\"\n", "risk.max_drawdown"),
        ("[pipeline]\nwait = \"busy\"\n", "pipeline.wait"),
        ("[typo]\nx = 1\n", "typo"),
    ] {
        let p = dir.join("c.toml");
        std::fs::write(&p, text).unwrap();
        let out = bin()
            .args(["check-config", "--config"])
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(key), "`{key}` not named in: {err}");
        assert!(err.contains("c.toml"), "the file is named: {err}");
    }
    let out = bin()
        .args(["check-config", "--config", "no/such.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

/// `record` against a venue nobody listens on exits with the table's `venue_unreachable` (5),
/// not 3 (`missing_secret`).
#[test]
fn record_exits_venue_unreachable_when_nobody_listens() {
    // A port that was free a moment ago: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("obi-cli-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("rec.toml");
    std::fs::write(
        &cfg,
        format!(
            "[market]\nvenue = \"bybit\"\nmarket = \"linear\"\nsymbol = \"BTCUSDT\"\nsource = \"live\"\n\
             ws_url = \"ws://127.0.0.1:{port}/v5/public/linear\"\nrest_url = \"http://127.0.0.1:{port}\"\n\
             reconnect_initial_ms = 50\nreconnect_max_ms = 100\n"
        ),
    )
    .unwrap();
    let out = bin()
        .args(["record", "--connect-timeout", "0.5", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "stderr: {err}");
    assert!(err.contains("not reachable"), "{err}");
}
