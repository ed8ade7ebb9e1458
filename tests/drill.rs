//! `obi-scalp drill` against the simulator over TLS (`obi-scalp sim --venue bybit|coincheck|
//! gmocoin --account`): every check ok on a healthy simulator; each failure class from a
//! simulator fault (auth: a wrong key; network: a closed port; rate_limit: `read429`;
//! exchange: `read500` and `skew`), with its own exit code and the JSON artifact saying so;
//! refusal of an endpoint off this machine without `OBI_SCALP_DRILL_REAL_CONNECT=1`.

use obi_scalp::ops::Exit;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/live_sim.rs"]
mod live_sim;
use live_sim::{bin, repo, run_output, start_sim, tmpdir, RunOut, Sim};

/// One venue's simulator set-up: its live config (and the port and directories written in
/// it), its test account and keys.
struct V {
    name: &'static str,
    config: &'static str,
    port: &'static str,
    var: &'static str,
    account: &'static str,
    key: &'static str,
    secret: &'static str,
}

const BYBIT: V = V {
    name: "bybit",
    config: "config/sim-bybit-live.toml",
    port: "127.0.0.1:19102",
    var: "var/sim-bybit-live",
    account: "config/sim-account-bybit.toml",
    key: "obiSIMbybitKEY01",
    secret: "obi-sim-bybit-secret-not-a-real-key",
};

const COINCHECK: V = V {
    name: "coincheck",
    config: "config/sim-coincheck-live.toml",
    port: "127.0.0.1:19101",
    var: "var/sim-coincheck-live",
    account: "config/sim-account-coincheck.toml",
    key: "obiSIMcoincheckKEY01",
    secret: "obi-sim-coincheck-secret-not-a-real-key",
};

const GMOCOIN: V = V {
    name: "gmocoin",
    config: "config/sim-gmocoin-live.toml",
    port: "127.0.0.1:19104",
    var: "var/sim-gmocoin-live",
    account: "config/sim-account-gmocoin.toml",
    key: "obiSIMgmocoinKEY01",
    secret: "obi-sim-gmocoin-secret-not-a-real-key",
};

const KEY: &str = BYBIT.key;
const SECRET: &str = BYBIT.secret;
const WRONG_KEY: &str = "obiWRONGkey00001";

/// The venue's live config pointed at `port` (the simulator's, or a closed one).
fn config_of(v: &V, dir: &Path, port: u16, ca: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(v.config))
        .unwrap()
        .replace(v.port, &format!("127.0.0.1:{port}"))
        .replace("var/sim-tls/ca.pem", &ca.display().to_string())
        .replace(v.var, &dir.join("var").display().to_string());
    let p = dir.join("drill.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// config/sim-bybit-live.toml pointed at `port`.
fn config(dir: &Path, port: u16, ca: &Path) -> PathBuf {
    config_of(&BYBIT, dir, port, ca)
}

fn drill_as(cfg: &Path, key: &str, secret: &str) -> RunOut {
    let mut c = Command::new(bin());
    c.args(["drill", "--config"])
        .arg(cfg)
        .args(["--stream-timeout-ms", "5000"])
        .env_remove("OBI_SCALP_DRILL_REAL_CONNECT")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("OBI_SCALP_API_KEY", key)
        .env("OBI_SCALP_API_SECRET", secret);
    let out = run_output(c);
    println!(
        "---- drill -> {:?}\n{}\n{}",
        out.code, out.stdout, out.stderr
    );
    out
}

fn drill(cfg: &Path, key: &str) -> RunOut {
    drill_as(cfg, key, SECRET)
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

fn sim_of(v: &V, dir: &Path, faults: &[&str]) -> Sim {
    start_sim(v.name, dir, &repo().join(v.account), faults)
}

fn sim(dir: &Path, faults: &[&str]) -> Sim {
    sim_of(&BYBIT, dir, faults)
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
    for secret in [BYBIT.secret, COINCHECK.secret, GMOCOIN.secret] {
        assert!(!out.stdout.contains(secret) && !j.to_string().contains(secret));
    }
}

/// Every check ok, one line each, and neither the secret nor the key anywhere.
fn assert_all_ok(out: &RunOut, j: &Value, v: &V) {
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(j["result"], "ok", "{j}");
    assert_eq!(j["exit_code"], 0);
    assert!(j["class"].is_null());
    for name in CHECKS {
        let c = check(j, name);
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
    let text = j.to_string();
    assert!(!text.contains(v.secret) && !text.contains(v.key), "{text}");
    assert!(!out.stdout.contains(v.secret) && !out.stdout.contains(v.key));
}

#[test]
fn drill_ok_against_the_simulator_over_tls() {
    let dir = tmpdir("drill", "ok");
    let s = sim(&dir, &[]);
    let cfg = config(&dir, s.port, &s.ca);
    let out = drill(&cfg, KEY);
    let j = artifact(&dir);
    assert_all_ok(&out, &j, &BYBIT);
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
}

#[test]
fn bad_key_is_auth() {
    let j = venue_bad_key(&BYBIT);
    assert_eq!(check(&j, "auth")["data"]["ret_code"], 10003, "{j}");
}

#[test]
fn closed_port_is_network() {
    venue_closed_port(&BYBIT, &[]);
}

#[test]
fn rate_limit_fault_is_rate_limit() {
    let j = venue_rate_limited(&BYBIT);
    assert_eq!(check(&j, "auth")["data"]["ret_code"], 10006, "{j}");
}

#[test]
fn venue_error_is_exchange() {
    let j = venue_error(&BYBIT);
    assert_eq!(check(&j, "auth")["data"]["ret_code"], 10016, "{j}");
}

#[test]
fn clock_skew_is_exchange() {
    // 3 s ahead: inside Bybit's 5 s recv window (signed reads pass), past the 1 s limit.
    venue_skewed(&BYBIT);
}

#[test]
fn real_venue_refused_without_the_opt_in() {
    let dir = tmpdir("drill", "refuse");
    let cfg = config(&dir, 1, &dir.join("none.pem"));
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("https://127.0.0.1:1", "https://api.bybit.com");
    std::fs::write(&cfg, text).unwrap();
    let out = drill(&cfg, KEY);
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
    let (code, line, sum) = prep(WRONG_KEY);
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

// ---------------------------------------------------------------------------------------------
// The checks every venue's drill answers alike (Bybit above, Coincheck and GMO Coin below).

/// A healthy simulator: every check ok, with the account file's figures.
fn venue_ok(v: &V) -> Value {
    let dir = tmpdir("drill", &format!("{}-ok", v.name));
    let s = sim_of(v, &dir, &[]);
    let cfg = config_of(v, &dir, s.port, &s.ca);
    let out = drill_as(&cfg, v.key, v.secret);
    let j = artifact(&dir);
    assert_all_ok(&out, &j, v);
    assert_eq!(check(&j, "open_orders")["data"]["open_orders"], 0, "{j}");
    let ts = &check(&j, "time_skew")["data"];
    assert!(ts["skew_ms"].as_i64().unwrap().abs() <= 1000, "{j}");
    let ps = check(&j, "public_stream");
    assert!(ps["data"]["connects"].as_u64().unwrap() >= 2, "{j}");
    // No rate-limit headers at either venue: no headroom figure is made up.
    let rl = check(&j, "rate_limit");
    assert!(rl["data"]["headroom_pct"].is_null(), "{j}");
    assert!(rl["data"]["rate_limited"] == 0, "{j}");
    assert!(
        rl["detail"]
            .as_str()
            .unwrap()
            .contains("no rate-limit headers"),
        "{j}"
    );
    j
}

/// A key the simulator does not know: `auth` (20); the public checks still pass.
fn venue_bad_key(v: &V) -> Value {
    let dir = tmpdir("drill", &format!("{}-auth", v.name));
    let s = sim_of(v, &dir, &[]);
    let cfg = config_of(v, &dir, s.port, &s.ca);
    let out = drill_as(&cfg, WRONG_KEY, v.secret);
    let j = artifact(&dir);
    assert_failed(&out, &j, "auth", Exit::DrillAuth, "auth");
    for name in ["balance", "open_orders", "private_stream"] {
        assert_eq!(check(&j, name)["class"], "auth", "{name}: {j}");
    }
    assert_eq!(check(&j, "time_skew")["result"], "ok", "{j}");
    assert_eq!(check(&j, "public_stream")["result"], "ok", "{j}");
    j
}

/// Nothing listens on the port: `network` (21) for every check that connects.
fn venue_closed_port(v: &V, not_connecting: &[&str]) {
    let dir = tmpdir("drill", &format!("{}-network", v.name));
    // The simulator only for its CA file.
    let s = sim_of(v, &dir, &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config_of(v, &dir, port, &s.ca);
    let out = drill_as(&cfg, v.key, v.secret);
    let j = artifact(&dir);
    assert_failed(&out, &j, "network", Exit::DrillNetwork, "auth");
    for name in CHECKS.iter().filter(|c| !not_connecting.contains(c)) {
        assert_eq!(check(&j, name)["class"], "network", "{name}: {j}");
    }
}

/// The simulator's `read429` fault: `rate_limit` (22) from the first signed read on.
fn venue_rate_limited(v: &V) -> Value {
    let dir = tmpdir("drill", &format!("{}-ratelimit", v.name));
    let s = sim_of(v, &dir, &["read429:100"]);
    let cfg = config_of(v, &dir, s.port, &s.ca);
    let out = drill_as(&cfg, v.key, v.secret);
    let j = artifact(&dir);
    assert_failed(&out, &j, "rate_limit", Exit::DrillRateLimit, "auth");
    let rl = check(&j, "rate_limit");
    assert_eq!(rl["class"], "rate_limit", "{j}");
    assert!(rl["data"]["rate_limited"].as_u64().unwrap() >= 4, "{j}");
    j
}

/// The simulator's `read500` fault: `exchange` (23) at the first signed read.
fn venue_error(v: &V) -> Value {
    let dir = tmpdir("drill", &format!("{}-venueerr", v.name));
    let s = sim_of(v, &dir, &["read500:100"]);
    let cfg = config_of(v, &dir, s.port, &s.ca);
    let out = drill_as(&cfg, v.key, v.secret);
    let j = artifact(&dir);
    assert_failed(&out, &j, "exchange", Exit::DrillExchange, "auth");
    j
}

/// The venue's clock 3 s ahead (`skew:3s`): `exchange` (23) at `time_skew`; the signed reads
/// still pass.
fn venue_skewed(v: &V) -> Value {
    let dir = tmpdir("drill", &format!("{}-skew", v.name));
    let s = sim_of(v, &dir, &["skew:3s"]);
    let cfg = config_of(v, &dir, s.port, &s.ca);
    let out = drill_as(&cfg, v.key, v.secret);
    let j = artifact(&dir);
    assert_failed(&out, &j, "exchange", Exit::DrillExchange, "time_skew");
    assert_eq!(check(&j, "auth")["result"], "ok", "{j}");
    let skew = check(&j, "time_skew")["data"]["skew_ms"].as_i64().unwrap();
    assert!((2000..=4000).contains(&skew), "{j}");
    j
}

#[test]
fn coincheck_drill_ok_against_the_simulator_over_tls() {
    let j = venue_ok(&COINCHECK);
    // The account file: jpy 10000000, btc 0.5.
    let b = &check(&j, "balance")["data"];
    assert_eq!(b["wallet"], "10000000", "{j}");
    assert_eq!(b["base"], "0.50000000", "{j}");
    // The clock from the Date header, known to its whole second.
    let ts = &check(&j, "time_skew")["data"];
    assert_eq!(ts["resolution_ms"], 1000, "{j}");
    assert_eq!(ts["source"], "the HTTP Date header", "{j}");
    // No private stream in our Coincheck gateway: the fills poll is what is checked.
    let ps = check(&j, "private_stream");
    assert_eq!(ps["data"]["stream"], false, "{j}");
    assert!(
        ps["detail"].as_str().unwrap().contains("no private stream"),
        "{j}"
    );
    // Only the endpoints it uses are in the report.
    let ep = j["endpoints"].as_object().unwrap();
    assert!(
        ep.contains_key("live.rest_url") && ep.contains_key("market.ws_url"),
        "{j}"
    );
    assert!(!ep.contains_key("live.private_ws_url"), "{j}");
}

#[test]
fn coincheck_bad_key_is_auth() {
    let j = venue_bad_key(&COINCHECK);
    assert_eq!(
        check(&j, "auth")["data"]["error"],
        "invalid authentication",
        "{j}"
    );
}

#[test]
fn coincheck_closed_port_is_network() {
    // Spot: the position check asks nothing.
    venue_closed_port(&COINCHECK, &["position"]);
}

#[test]
fn coincheck_rate_limit_fault_is_rate_limit() {
    let j = venue_rate_limited(&COINCHECK);
    assert_eq!(check(&j, "auth")["data"]["http_status"], 429, "{j}");
}

#[test]
fn coincheck_venue_error_is_exchange() {
    let j = venue_error(&COINCHECK);
    assert_eq!(check(&j, "auth")["data"]["http_status"], 500, "{j}");
}

#[test]
fn coincheck_clock_skew_is_exchange() {
    let j = venue_skewed(&COINCHECK);
    assert!(
        check(&j, "time_skew")["data"]["skew_min_ms"]
            .as_i64()
            .unwrap()
            > 1000,
        "{j}"
    );
}

#[test]
fn gmocoin_drill_ok_against_the_simulator_over_tls() {
    let j = venue_ok(&GMOCOIN);
    let b = &check(&j, "balance")["data"];
    assert_eq!(b["wallet"], "10000000", "{j}");
    assert_eq!(b["available"], "10000000", "{j}");
    assert_eq!(check(&j, "position")["data"]["position"], "0.000", "{j}");
    let ts = &check(&j, "time_skew")["data"];
    assert_eq!(ts["resolution_ms"], 1, "{j}");
    assert_eq!(ts["venue_status"], "OPEN", "{j}");
    // The private stream on a ws-auth token: connected twice, the token given back.
    let ps = &check(&j, "private_stream")["data"];
    assert!(ps["connects"].as_u64().unwrap() >= 2, "{j}");
    assert_eq!(ps["token_deleted"], true, "{j}");
}

#[test]
fn gmocoin_bad_key_is_auth() {
    let j = venue_bad_key(&GMOCOIN);
    assert_eq!(check(&j, "auth")["data"]["message_code"], "ERR-5012", "{j}");
}

#[test]
fn gmocoin_closed_port_is_network() {
    venue_closed_port(&GMOCOIN, &[]);
}

#[test]
fn gmocoin_rate_limit_fault_is_rate_limit() {
    let j = venue_rate_limited(&GMOCOIN);
    assert_eq!(check(&j, "auth")["data"]["message_code"], "ERR-5003", "{j}");
    assert_eq!(check(&j, "auth")["data"]["http_status"], 429, "{j}");
}

#[test]
fn gmocoin_venue_error_is_exchange() {
    let j = venue_error(&GMOCOIN);
    assert_eq!(check(&j, "auth")["data"]["http_status"], 500, "{j}");
}

#[test]
fn gmocoin_clock_skew_is_exchange() {
    // 3 s ahead: inside the simulator's 5 s API-TIMESTAMP window (signed reads pass).
    venue_skewed(&GMOCOIN);
}

#[test]
fn gmocoin_real_private_stream_refused_without_the_opt_in() {
    let dir = tmpdir("drill", "gmocoin-refuse");
    let cfg = config_of(&GMOCOIN, &dir, 1, &dir.join("none.pem"));
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "wss://127.0.0.1:1/ws/private",
        "wss://api.coin.z.com/ws/private",
    );
    std::fs::write(&cfg, text).unwrap();
    let out = drill_as(&cfg, GMOCOIN.key, GMOCOIN.secret);
    assert_eq!(
        out.code,
        Some(i32::from(Exit::Config.code())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("live.private_ws_url") && out.stderr.contains("api.coin.z.com"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("[drill] check="), "{}", out.stdout);
}

/// `jpy` whole yen in the money units of GMO's BTC_JPY (tick 1, lot 0.001).
fn money_of_jpy(jpy: i128) -> i128 {
    let scale = |s: &str| obi_scalp::num::Scale::from_step(s).unwrap();
    obi_scalp::venue::coincheck::private::money_from_decimal(
        &jpy.to_string(),
        scale("1"),
        scale("0.001"),
    )
    .unwrap()
}

/// A short position at the simulator: the drill reads it from `positionSummary` (SELL), and
/// the account value from `account/margin` moves with it.
#[test]
fn gmocoin_drill_reads_a_short_position() {
    let dir = tmpdir("drill", "gmocoin-short");
    let account = dir.join("account.toml");
    let text = std::fs::read_to_string(repo().join(GMOCOIN.account)).unwrap()
        + "\n[positions]\nBTC_JPY = \"-0.020\"\n\n[entry_prices]\nBTC_JPY = \"10000000\"\n";
    std::fs::write(&account, text).unwrap();
    let s = start_sim("gmocoin", &dir, &account, &[]);
    let cfg = config_of(&GMOCOIN, &dir, s.port, &s.ca);
    let out = drill_as(&cfg, GMOCOIN.key, GMOCOIN.secret);
    let j = artifact(&dir);
    assert_all_ok(&out, &j, &GMOCOIN);
    assert_eq!(check(&j, "position")["data"]["position"], "-0.020", "{j}");
    let b = &check(&j, "balance")["data"];
    // Half the position's cost (0.020 at 10000000: 200000 JPY) is held as margin.
    let scale = |s: &str| obi_scalp::num::Scale::from_step(s).unwrap();
    let money = |k: &str| {
        obi_scalp::venue::coincheck::private::money_from_decimal(
            b[k].as_str().unwrap(),
            scale("1"),
            scale("0.001"),
        )
        .unwrap()
    };
    let jpy = money_of_jpy(100_000);
    assert_eq!(money("wallet") - money("available"), jpy, "{j}");
}
