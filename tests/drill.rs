//! `obi-scalp drill` against the simulator over TLS (`obi-scalp sim --venue bybit --account`):
//! every check ok on a healthy simulator; each failure class from a simulator fault, with its
//! own exit code and the JSON artifact saying so; refusal of an endpoint off this machine
//! without `OBI_SCALP_DRILL_REAL_CONNECT=1`.

use obi_scalp::ops::Exit;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/live_sim.rs"]
mod live_sim;
use live_sim::{bin, repo, run_output, start_sim, tmpdir, RunOut, Sim};

const KEY: &str = "obiSIMbybitKEY01";
const SECRET: &str = "obi-sim-bybit-secret-not-a-real-key";

/// config/sim-bybit-live.toml pointed at `port` (the simulator's, or a closed one).
fn config(dir: &Path, port: u16, ca: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("config/sim-bybit-live.toml"))
        .unwrap()
        .replace("127.0.0.1:19102", &format!("127.0.0.1:{port}"))
        .replace("var/sim-tls/ca.pem", &ca.display().to_string())
        .replace("var/sim-bybit-live", &dir.join("var").display().to_string());
    let p = dir.join("drill.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn drill(cfg: &Path, key: &str, extra_env: &[(&str, &str)]) -> RunOut {
    let mut c = Command::new(bin());
    c.args(["drill", "--config"])
        .arg(cfg)
        .args(["--stream-timeout-ms", "5000"])
        .env_remove("OBI_SCALP_DRILL_REAL_CONNECT")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("OBI_SCALP_API_KEY", key)
        .env("OBI_SCALP_API_SECRET", SECRET);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = run_output(c);
    println!(
        "---- drill -> {:?}\n{}\n{}",
        out.code, out.stdout, out.stderr
    );
    out
}

fn artifact(dir: &Path) -> Value {
    let p = dir.join("var/artifacts/live_connectivity_drill.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

const CHECKS: [&str; 8] = [
    "auth",
    "time_skew",
    "balance",
    "position",
    "open_orders",
    "public_stream",
    "private_stream",
    "rate_limit",
];

fn check<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {j}"))
}

fn sim(dir: &Path, faults: &[&str]) -> Sim {
    start_sim(
        "bybit",
        dir,
        &repo().join("config/sim-account-bybit.toml"),
        faults,
    )
}

/// The drill failed with `class`: exit code, the JSON's overall result and the named check.
fn assert_failed(out: &RunOut, j: &Value, class: &str, exit: Exit, first: &str) {
    assert_eq!(out.code, Some(i32::from(exit.code())), "{}", out.stdout);
    assert_eq!(j["result"], "fail", "{j}");
    assert_eq!(j["class"], class, "{j}");
    assert_eq!(j["exit_code"], i64::from(exit.code()), "{j}");
    let failed = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["result"] == "fail")
        .unwrap();
    assert_eq!(failed["check"], first, "{j}");
    assert_eq!(failed["class"], class, "{j}");
    assert!(
        out.stdout.lines().any(
            |l| l.starts_with(&format!("[drill] check={first} result=fail"))
                && l.contains(&format!("class={class}"))
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(SECRET) && !j.to_string().contains(SECRET));
}

#[test]
fn drill_ok_against_the_simulator_over_tls() {
    let dir = tmpdir("drill", "ok");
    let s = sim(&dir, &[]);
    let cfg = config(&dir, s.port, &s.ca);
    let out = drill(&cfg, KEY, &[]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let j = artifact(&dir);
    assert_eq!(j["result"], "ok", "{j}");
    assert_eq!(j["exit_code"], 0);
    assert!(j["class"].is_null());
    for name in CHECKS {
        let c = check(&j, name);
        assert_eq!(c["result"], "ok", "{name}: {c}");
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("[drill] check={name} result=ok latency_ms="))),
            "{name}: {}",
            out.stdout
        );
    }
    assert_eq!(j["checks"].as_array().unwrap().len(), CHECKS.len());
    // The figures: the wallet and position the account file starts with, the clock close,
    // both streams reconnected, headroom read from X-Bapi-Limit-Status.
    assert_eq!(check(&j, "balance")["data"]["wallet"], "100000.00");
    assert_eq!(check(&j, "open_orders")["data"]["open_orders"], 0);
    assert!(
        check(&j, "time_skew")["data"]["skew_ms"]
            .as_i64()
            .unwrap()
            .abs()
            <= 1000
    );
    for s in ["public_stream", "private_stream"] {
        assert!(
            check(&j, s)["data"]["connects"].as_u64().unwrap() >= 2,
            "{j}"
        );
    }
    let h = check(&j, "rate_limit")["data"]["headroom_pct"]
        .as_u64()
        .unwrap();
    assert!((20..=100).contains(&h), "{j}");
    // No secret in the artifact or the output, and the key is not there either.
    let text = j.to_string();
    assert!(!text.contains(SECRET) && !text.contains(KEY), "{text}");
    assert!(!out.stdout.contains(SECRET) && !out.stdout.contains(KEY));
}

#[test]
fn bad_key_is_auth() {
    let dir = tmpdir("drill", "auth");
    let s = sim(&dir, &[]);
    let cfg = config(&dir, s.port, &s.ca);
    let out = drill(&cfg, "obiWRONGkey00001", &[]);
    let j = artifact(&dir);
    assert_failed(&out, &j, "auth", Exit::DrillAuth, "auth");
    assert_eq!(check(&j, "auth")["data"]["ret_code"], 10003, "{j}");
    assert_eq!(check(&j, "private_stream")["class"], "auth", "{j}");
    // The public side needs no key: still ok.
    assert_eq!(check(&j, "time_skew")["result"], "ok", "{j}");
    assert_eq!(check(&j, "public_stream")["result"], "ok", "{j}");
}

#[test]
fn closed_port_is_network() {
    let dir = tmpdir("drill", "network");
    // The simulator only for its CA file; the drill goes to a port nothing listens on.
    let s = sim(&dir, &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(&dir, port, &s.ca);
    let out = drill(&cfg, KEY, &[]);
    let j = artifact(&dir);
    assert_failed(&out, &j, "network", Exit::DrillNetwork, "auth");
    for name in CHECKS {
        assert_eq!(check(&j, name)["class"], "network", "{name}: {j}");
    }
}

#[test]
fn rate_limit_fault_is_rate_limit() {
    let dir = tmpdir("drill", "ratelimit");
    let s = sim(&dir, &["read429:100"]);
    let cfg = config(&dir, s.port, &s.ca);
    let out = drill(&cfg, KEY, &[]);
    let j = artifact(&dir);
    assert_failed(&out, &j, "rate_limit", Exit::DrillRateLimit, "auth");
    assert_eq!(check(&j, "auth")["data"]["ret_code"], 10006, "{j}");
    let rl = check(&j, "rate_limit");
    assert_eq!(rl["class"], "rate_limit", "{j}");
    assert!(rl["data"]["rate_limited"].as_u64().unwrap() >= 4, "{j}");
}

#[test]
fn venue_error_is_exchange() {
    let dir = tmpdir("drill", "venueerr");
    let s = sim(&dir, &["read500:100"]);
    let cfg = config(&dir, s.port, &s.ca);
    let out = drill(&cfg, KEY, &[]);
    let j = artifact(&dir);
    assert_failed(&out, &j, "exchange", Exit::DrillExchange, "auth");
    assert_eq!(check(&j, "auth")["data"]["ret_code"], 10016, "{j}");
}

#[test]
fn clock_skew_is_exchange() {
    let dir = tmpdir("drill", "skew");
    // 3 s ahead: inside Bybit's 5 s recv window (signed reads pass), past the 1 s limit.
    let s = sim(&dir, &["skew:3s"]);
    let cfg = config(&dir, s.port, &s.ca);
    let out = drill(&cfg, KEY, &[]);
    let j = artifact(&dir);
    assert_failed(&out, &j, "exchange", Exit::DrillExchange, "time_skew");
    assert_eq!(check(&j, "auth")["result"], "ok", "{j}");
    let skew = check(&j, "time_skew")["data"]["skew_ms"].as_i64().unwrap();
    assert!((2000..=4000).contains(&skew), "{j}");
}

#[test]
fn real_venue_refused_without_the_opt_in() {
    let dir = tmpdir("drill", "refuse");
    let cfg = config(&dir, 1, &dir.join("none.pem"));
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("https://127.0.0.1:1", "https://api.bybit.com");
    std::fs::write(&cfg, text).unwrap();
    let out = drill(&cfg, KEY, &[]);
    assert_eq!(
        out.code,
        Some(i32::from(Exit::Config.code())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("live.rest_url")
            && out.stderr.contains("api.bybit.com")
            && out.stderr.contains("OBI_SCALP_DRILL_REAL_CONNECT=1"),
        "{}",
        out.stderr
    );
    // Nothing ran: no check line, no artifact.
    assert!(!out.stdout.contains("[drill] check="), "{}", out.stdout);
    assert!(!dir
        .join("var/artifacts/live_connectivity_drill.json")
        .exists());
}

/// `scripts/go_live_prep.sh` decides on its stages: NO-GO stage=drill with a bad key, GO with
/// the account's key. Only the report and drill stages run here (`--stages report,drill`):
/// go_nogo and the soak take minutes and have their own tests (tests/run_ops.rs, CI's soak).
#[test]
fn go_live_prep_says_no_go_at_the_drill_and_go_when_healthy() {
    let dir = tmpdir("drill", "golive");
    let s = sim(&dir, &[]);
    let cfg = config(&dir, s.port, &s.ca);
    let prep = |key: &str| {
        let mut c = Command::new("bash");
        c.arg(repo().join("scripts/go_live_prep.sh"))
            .arg("--config")
            .arg(&cfg)
            .arg("--artifacts")
            .arg(dir.join("prep"))
            .args(["--stages", "report,drill"])
            .env("OBI_SCALP_BIN", bin())
            .env("TMPDIR", &dir)
            .env_remove("OBI_SCALP_DRILL_REAL_CONNECT")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env("OBI_SCALP_API_KEY", key)
            .env("OBI_SCALP_API_SECRET", SECRET);
        let out = run_output(c);
        println!("---- go_live_prep -> {:?}\n{}", out.code, out.stdout);
        let decisions: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("[go-live-prep] DECISION: "))
            .map(str::to_string)
            .collect();
        assert_eq!(decisions.len(), 1, "{}", out.stdout);
        let summary: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("prep/go_live_prep_summary.json")).unwrap(),
        )
        .unwrap();
        (out.code, decisions[0].clone(), summary)
    };
    let (code, line, sum) = prep("obiWRONGkey00001");
    assert_eq!(code, Some(1));
    assert_eq!(line, "[go-live-prep] DECISION: NO-GO stage=drill");
    assert_eq!(sum["decision"], "NO-GO");
    assert_eq!(sum["failed_stage"], "drill");
    assert_eq!(sum["stages"][0]["stage"], "report");
    assert_eq!(sum["stages"][0]["result"], "ok");
    assert_eq!(
        sum["stages"][1]["exit_code"],
        i64::from(Exit::DrillAuth.code())
    );
    let (code, line, sum) = prep(KEY);
    assert_eq!(code, Some(0));
    assert_eq!(line, "[go-live-prep] DECISION: GO");
    assert_eq!(sum["decision"], "GO");
    assert!(sum["failed_stage"].is_null());
    let reports: Vec<_> = std::fs::read_dir(dir.join("prep/reports"))
        .unwrap()
        .collect();
    assert!(!reports.is_empty(), "no monthly report written");
}
