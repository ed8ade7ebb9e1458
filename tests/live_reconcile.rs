//! Restart safety against the local simulator over TLS: start-up reconciliation with foreign
//! orders, our own leftover orders and an open position at the simulator (each `[live]
//! on_start` policy), continuous reconciliation (the wallet changed behind the bot's back is
//! `wallet_drift_exceeded` within one interval; a reconnect of the private stream reconciles at
//! once), a fill dropped from the private stream
//! found by querying the order and booked exactly once, and the unexplained mismatches that
//! are risk aborts (`reconcile_mismatch`): a leftover of ours still open after its start-up
//! cancel, a position changed behind the bot's back while it runs; and `kill -9` with a
//! position and resting orders, then a restart that adopts what the venue has (no duplicate
//! order, the books agree, the journal's risk state carried over).
//!
//! The simulator starts from an account file the test writes (`[[orders]]`, `positions`,
//! `entry_prices`); `POST /sim/wallet` and `POST /sim/position` change its account behind the
//! bot's back; `--fault dropfill` leaves an execution out of the private stream.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "obiSIMbybitKEY01";
const SECRET: &str = "obi-sim-bybit-secret-not-a-real-key";
/// One of ours from an earlier start (prefix `obi-`), a foreign one with a client id, and one
/// placed in the web UI (no client id); all far below the market, so they rest.
const OURS: &str = "obi-mfx0a1b2-7";
const FOREIGN: &str = "manual-hedge-1";

#[path = "common/live_sim.rs"]
mod live_sim;
use live_sim::{detailed, field, free_port, http_get, reconcile_audit, terminate, RunOut, Sim};

fn tmpdir(name: &str) -> PathBuf {
    live_sim::tmpdir("live-recon", name)
}

/// The account: 100000 USDT, a long of 0.010 BTCUSDT at 65000.05 and three resting orders
/// (`leftovers`), or a clean one.
fn account(dir: &Path, leftovers: bool) -> PathBuf {
    let mut text = format!(
        "api_key = \"{KEY}\"\napi_secret = \"{SECRET}\"\nmaker_fee_bps = \"2\"\ntaker_fee_bps = \"5.5\"\n\
         [balances]\nUSDT = \"100000\"\n"
    );
    if leftovers {
        text.push_str(&format!(
            "[positions]\nBTCUSDT = \"0.010\"\n[entry_prices]\nBTCUSDT = \"65000.05\"\n\
             [[orders]]\nlink_id = \"{OURS}\"\nside = \"Buy\"\nprice = \"1000.0\"\nqty = \"0.002\"\n\
             [[orders]]\nlink_id = \"{FOREIGN}\"\nside = \"Sell\"\nprice = \"900000.0\"\nqty = \"0.003\"\n\
             [[orders]]\nside = \"Buy\"\nprice = \"1100.0\"\nqty = \"0.001\"\n"
        ));
    } else {
        text.push_str("[positions]\nBTCUSDT = \"0\"\n");
    }
    let p = dir.join("account.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn start_sim(dir: &Path, leftovers: bool, faults: &[&str]) -> Sim {
    live_sim::start_sim("bybit", dir, &account(dir, leftovers), faults)
}

fn sim_state(sim: &Sim) -> Value {
    live_sim::state_at(sim.port, &sim.ca)
}

fn order<'a>(st: &'a Value, link: &str) -> &'a Value {
    st["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_link_id"] == link)
        .unwrap_or_else(|| panic!("no order {link} at the simulator"))
}

fn config(dir: &Path, sim: &Sim, secs: u64, edits: &[(&str, &str)]) -> PathBuf {
    live_sim::sim_live_config("bybit", 19102, dir, sim, secs, edits)
}

fn live_command(cfg: &Path) -> Command {
    live_sim::live_command(cfg, KEY, SECRET, None)
}

fn run(cfg: &Path) -> RunOut {
    live_sim::run_output(live_command(cfg))
}

/// The bot's ledger equals the simulator's account: the position absolutely (the adopted
/// start included), cash and fees since start (the adopted position's cost at its entry price
/// is the ledger's starting cash).
fn assert_books_agree(out: &RunOut, st: &Value, adopted_basis: i128) {
    let pos: i64 = field(&out.stdout, "ledger:", "position_lots")
        .parse()
        .unwrap();
    assert_eq!(
        pos,
        st["position_lots"].as_i64().unwrap(),
        "position (lots)"
    );
    let cash: i128 = field(&out.stdout, "ledger:", "cash_money").parse().unwrap();
    let sim_cash: i128 = st["cash_change_money"].as_str().unwrap().parse().unwrap();
    assert_eq!(cash, sim_cash - adopted_basis, "cash change");
    assert_eq!(
        field(&out.stdout, "ledger:", "fees_money"),
        st["fees_money"].as_str().unwrap(),
        "fees"
    );
}

/// 0.010 BTC at 65000.05: 10 lots * 650000.5 ticks, in Money (10^6 per tick-lot).
const ADOPTED_BASIS: i128 = 6_500_005 * 1_000_000;

#[test]
fn on_start_cancel_ours_cancels_only_ours_and_adopts_the_position() {
    let dir = tmpdir("cancel");
    let sim = start_sim(&dir, true, &[]);
    let cfg = config(
        &dir,
        &sim,
        5,
        &[("on_start = \"refuse\"", "on_start = \"cancel_ours\"")],
    );
    let out = run(&cfg);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = sim_state(&sim);
    assert_eq!(order(&st, OURS)["status"], "cancelled", "ours cancelled");
    assert_eq!(order(&st, FOREIGN)["status"], "new", "foreign left alone");
    assert_eq!(order(&st, "")["status"], "new", "the web UI's left alone");
    assert_books_agree(&out, &st, ADOPTED_BASIS);
    let audit = reconcile_audit(&dir);
    let find = |whose: &str, link: &str| {
        audit
            .iter()
            .find(|a| a["whose"] == whose && a["order_link_id"] == link)
            .unwrap_or_else(|| panic!("no audit line for {whose} {link}: {audit:?}"))
            .clone()
    };
    assert_eq!(find("ours", OURS)["action"], "cancelled");
    assert_eq!(find("foreign", FOREIGN)["action"], "left_alone");
    assert_eq!(find("foreign", "")["action"], "left_alone");
    let done = audit
        .iter()
        .find(|a| a["outcome"] == "ok")
        .expect("summary line");
    assert_eq!(done["position"], "0.010");
    assert_eq!(done["position_action"], "adopted");
    assert_eq!(
        done["entry_price"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        65000.05
    );
    assert!(!out.stdout.contains("unknown_order_report"));
}

#[test]
fn on_start_adopt_keeps_our_orders_working_and_leaves_foreign_ones() {
    let dir = tmpdir("adopt");
    let sim = start_sim(&dir, true, &[]);
    let cfg = config(
        &dir,
        &sim,
        60,
        &[("on_start = \"refuse\"", "on_start = \"adopt\"")],
    );
    let mut child = live_command(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) for the start-up line in the audit log, then check our order still works.
    let end = Instant::now() + Duration::from_secs(30);
    let mut adopted = None;
    while Instant::now() < end && adopted.is_none() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        adopted = reconcile_audit(&dir)
            .into_iter()
            .find(|a| a["whose"] == "ours" && a["order_link_id"] == OURS);
        std::thread::sleep(Duration::from_millis(20));
    }
    let adopted = adopted.expect("the adoption was audited");
    assert_eq!(adopted["action"], "adopted");
    assert_eq!(
        order(&sim_state(&sim), OURS)["status"],
        "new",
        "still working"
    );
    // A normal stop cancels what rests: our adopted order (known by its earlier start's client
    // id), never the foreign ones.
    let out = terminate(child);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = sim_state(&sim);
    assert_eq!(
        order(&st, OURS)["status"],
        "cancelled",
        "the stop cancelled ours"
    );
    assert_eq!(order(&st, FOREIGN)["status"], "new", "foreign left alone");
    assert_eq!(order(&st, "")["status"], "new", "the web UI's left alone");
    assert_books_agree(&out, &st, ADOPTED_BASIS);
    assert!(
        !out.stdout.contains("unknown_order_report")
            && !out.stderr.contains("unknown_order_report"),
        "the adopted order's reports were ours"
    );
}

#[test]
fn on_start_refuse_exits_10_naming_what_it_found() {
    let dir = tmpdir("refuse");
    let sim = start_sim(&dir, true, &[]);
    let cfg = config(&dir, &sim, 5, &[]);
    let out = run(&cfg);
    assert_eq!(
        out.code,
        Some(10),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("refuse") && out.stderr.contains(OURS) && out.stderr.contains("0.010"),
        "{}",
        out.stderr
    );
    let st = sim_state(&sim);
    assert_eq!(st["place_requests"].as_u64(), Some(0), "nothing sent");
    assert_eq!(order(&st, OURS)["status"], "new", "nothing cancelled");
    let audit = reconcile_audit(&dir);
    assert!(
        audit
            .iter()
            .any(|a| a["outcome"] == "refused" && a["policy"] == "refuse"),
        "{audit:?}"
    );
    let done: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("var/artifacts/run_complete.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        done["exit_code"].as_i64().or(done["exit"]["code"].as_i64()),
        Some(10),
        "{done}"
    );
}

#[test]
fn wallet_changed_behind_the_bots_back_is_wallet_drift_exceeded_within_one_interval() {
    let dir = tmpdir("drift");
    let sim = start_sim(&dir, false, &[]);
    let http = free_port();
    let interval_ms = 500u64;
    let cfg = config(
        &dir,
        &sim,
        120,
        &[
            (
                "reconcile_interval_ms = 5000",
                &format!("reconcile_interval_ms = {interval_ms}"),
            ),
            ("max_wallet_drift = \"100000\"", "max_wallet_drift = \"10\""),
            (
                "http_addr = \"off\"",
                &format!("http_addr = \"127.0.0.1:{http}\""),
            ),
        ],
    );
    let mut child = live_command(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reasons = |v: &Value| {
        v["risk"]["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    // The first reconciliation: a drift of zero while it trades.
    let end = Instant::now() + Duration::from_secs(30);
    let mut before = None;
    while Instant::now() < end {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        if let Some(v) = detailed(http) {
            if v["pnl"]["wallet_drift"] != "n/a" && v["pnl"]["wallet_drift"].is_string() {
                before = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = before.expect("a reconciliation published the drift");
    assert_eq!(before["pnl"]["wallet_drift"], "0.00", "{before}");
    assert!(!reasons(&before).contains(&"wallet_drift_exceeded".to_string()));
    // Behind the bot's back: 50 USDT leave the wallet.
    let (status, body) = obi_scalp::net::rest::post_json(
        &format!("https://127.0.0.1:{}/sim/wallet", sim.port),
        Some(&sim.ca),
        r#"{"coin":"USDT","delta":"-50"}"#,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let t0 = Instant::now();
    let mut after = None;
    while t0.elapsed() < Duration::from_secs(10) {
        if let Some(v) = detailed(http) {
            if reasons(&v).contains(&"wallet_drift_exceeded".to_string()) {
                after = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let dt = t0.elapsed();
    let after = after.expect("wallet_drift_exceeded");
    println!(
        "wallet changed -> risk degraded wallet_drift_exceeded seen on /health/detailed after {} ms (reconcile_interval_ms = {interval_ms})",
        dt.as_millis()
    );
    assert_eq!(after["risk"]["status"], "degraded");
    assert_eq!(after["pnl"]["wallet_drift"], "50.00");
    // One interval, plus the cold thread's relay and this poll (each about 100 ms at most;
    // slack for a loaded machine).
    assert!(dt < Duration::from_millis(interval_ms + 500), "{dt:?}");
    let metrics = http_get(http, "/metrics");
    assert!(
        metrics.contains("obi_scalp_wallet_drift{currency=\"USDT\"} 50.00"),
        "{metrics}"
    );
    assert!(metrics.contains("obi_scalp_risk_reason{code=\"wallet_drift_exceeded\"} 1"));
    assert_eq!(terminate(child).code, Some(0));
}

#[test]
fn a_fill_dropped_from_the_private_stream_is_found_and_booked_once() {
    let dir = tmpdir("dropfill");
    let sim = start_sim(&dir, false, &["dropfill"]);
    let cfg = config(
        &dir,
        &sim,
        10,
        &[(
            "reconcile_interval_ms = 5000",
            "reconcile_interval_ms = 500",
        )],
    );
    let out = run(&cfg);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = sim_state(&sim);
    assert_eq!(
        st["venue"]["dropped_fills"].as_u64(),
        Some(1),
        "the fault fired"
    );
    let fills = st["fills"].as_array().unwrap().len();
    let ws: usize = field(&out.stdout, "bybit live:", "ws_fills")
        .parse()
        .unwrap();
    assert_eq!(ws + 1, fills, "one fill never came on the stream");
    assert_books_agree(&out, &st, 0);
    let found: Vec<Value> = reconcile_audit(&dir)
        .into_iter()
        .filter(|a| a["outcome"] == "fill_found")
        .collect();
    // The dropped fill is found; on a loaded machine reconciliation can also find a fill the
    // stream delivers later (audited as found, booked once: the books agree above). Each found
    // fill is one of the simulator's, found once.
    assert!(!found.is_empty(), "the dropped fill was found");
    let mut ids: Vec<&str> = found
        .iter()
        .map(|f| f["exec_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), found.len(), "a fill found twice: {found:?}");
    for f in &found {
        assert!(f["found_by"]
            .as_str()
            .unwrap()
            .contains("/v5/execution/list"));
        let venue_exec = st["fills"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["exec_id"] == f["exec_id"]);
        assert!(venue_exec, "the found fill is the simulator's: {f}");
    }
}

#[test]
fn a_position_changed_behind_the_bots_back_is_a_risk_abort_reconcile_mismatch() {
    let dir = tmpdir("mismatch");
    let sim = start_sim(&dir, false, &[]);
    let cfg = config(
        &dir,
        &sim,
        120,
        &[(
            "reconcile_interval_ms = 5000",
            "reconcile_interval_ms = 300",
        )],
    );
    let mut child = live_command(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Once it runs (the start-up line is audited), 0.005 BTC appear that no fill explains.
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end && !reconcile_audit(&dir).iter().any(|a| a["outcome"] == "ok") {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, _) = obi_scalp::net::rest::post_json(
        &format!("https://127.0.0.1:{}/sim/position", sim.port),
        Some(&sim.ca),
        r#"{"delta":"0.005"}"#,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(status, 200);
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    println!("{stdout}");
    assert_eq!(o.status.code(), Some(7), "risk abort");
    // The abort names reconcile_mismatch; other codes may be active beside it (the strategy's
    // orders on top of a position it does not know can be refused until
    // consecutive_failures_exceeded, which sorts first).
    let reason = stdout
        .split("summary: reason=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("");
    assert!(
        reason.starts_with("risk abort: ")
            && reason["risk abort: ".len()..]
                .split(',')
                .any(|c| c == "reconcile_mismatch"),
        "{stdout}"
    );
    let audit = reconcile_audit(&dir);
    let m = audit
        .iter()
        .find(|a| a["outcome"] == "mismatch")
        .unwrap_or_else(|| panic!("{audit:?}"));
    assert_eq!(m["reason_code"], "reconcile_mismatch");
    let venue: f64 = m["venue_position"].as_str().unwrap().parse().unwrap();
    let ours: f64 = m["our_position"].as_str().unwrap().parse().unwrap();
    assert!((venue - ours - 0.005).abs() < 1e-9, "{m}");
}

#[test]
fn a_leftover_of_ours_that_stays_open_after_its_cancel_is_a_start_up_risk_abort() {
    let dir = tmpdir("startmismatch");
    // The start-up cancel of our leftover is answered with the venue's internal error.
    let sim = start_sim(&dir, true, &["order500"]);
    let cfg = config(
        &dir,
        &sim,
        5,
        &[("on_start = \"refuse\"", "on_start = \"cancel_ours\"")],
    );
    let out = run(&cfg);
    assert_eq!(
        out.code,
        Some(7),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("reconcile_mismatch") && out.stderr.contains(OURS),
        "{}",
        out.stderr
    );
    let st = sim_state(&sim);
    assert_eq!(st["place_requests"].as_u64(), Some(0), "nothing traded");
    let audit = reconcile_audit(&dir);
    assert!(
        audit
            .iter()
            .any(|a| a["outcome"] == "mismatch" && a["reason_code"] == "reconcile_mismatch"),
        "{audit:?}"
    );
}

#[test]
fn a_reconnect_of_the_private_stream_reconciles_at_once() {
    let dir = tmpdir("reconnect");
    // Every WebSocket connection (public and private) is dropped once, 4 s in.
    let sim = start_sim(&dir, false, &["drop@4s"]);
    let http = free_port();
    let cfg = config(
        &dir,
        &sim,
        120,
        &[
            // No timed reconciliation within the test: only the reconnect triggers one.
            (
                "reconcile_interval_ms = 5000",
                "reconcile_interval_ms = 3600000",
            ),
            (
                "http_addr = \"off\"",
                &format!("http_addr = \"127.0.0.1:{http}\""),
            ),
        ],
    );
    let (drift, _, out) = live_sim::first_drift_after_reconnect(
        live_command(&cfg),
        http,
        Instant::now(),
        Duration::from_secs(30),
    );
    assert_eq!(drift, "0.00", "reconciled after the reconnect");
    let stdout = out.stdout;
    assert_eq!(out.code, Some(0), "{stdout}");
    let connects: u64 = field(&stdout, "summary:", "reconnects").parse().unwrap();
    assert!(connects >= 1, "the public feed reconnected too: {stdout}");
}

#[test]
fn kill_9_mid_session_then_a_restart_adopts_what_the_venue_has_without_a_duplicate_order() {
    let dir = tmpdir("kill9");
    // The account starts with a position and a resting order of ours from an earlier start
    // (and foreign ones): run 1 adopts them, trades on top, and is killed with them in place, so
    // the state the restart must take over does not hang on what the strategy happened to do
    // within a window on a loaded machine.
    let sim = start_sim(&dir, true, &[]);
    // Entries and exits that wait long, exits 20 ticks away: a take-profit rests while the
    // position is open.
    let cfg = config(
        &dir,
        &sim,
        120,
        &[
            ("on_start = \"refuse\"", "on_start = \"adopt\""),
            ("entry_timeout_ms = 300", "entry_timeout_ms = 600000"),
            ("max_hold_ms = 1500", "max_hold_ms = 600000"),
            ("take_profit = 2", "take_profit = 20"),
            ("stop_loss = 3", "stop_loss = 30"),
        ],
    );
    let open_ours = |st: &Value| -> Vec<String> {
        st["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "new" || o["status"] == "partially_filled")
            .filter(|o| {
                o["order_link_id"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("obi-"))
            })
            .map(|o| o["order_link_id"].as_str().unwrap().to_string())
            .collect()
    };
    // Killed once run 1 has sent an order of its own (bounded: 30 s, then killed anyway) while
    // the simulator shows a position and a resting order of ours; checked again after the kill
    // (and the run started again, adopting what it left, until it holds).
    let mut left = None;
    for attempt in 0..5 {
        let places_at_start = sim_state(&sim)["place_requests"].as_u64().unwrap_or(0);
        println!("run 1, attempt {attempt}");
        let mut child = live_command(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            assert!(child.try_wait().unwrap().is_none(), "the run ended early");
            let st = sim_state(&sim);
            if st["place_requests"].as_u64() > Some(places_at_start)
                && st["position_lots"].as_i64() != Some(0)
                && !open_ours(&st).is_empty()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL: no cancel, no summary, no journal close
        let _ = child.wait();
        let st = sim_state(&sim);
        if st["position_lots"].as_i64() != Some(0) && !open_ours(&st).is_empty() {
            left = Some(st);
            break;
        }
    }
    let st = left.expect("killed with a position and a resting order at the simulator");
    let (pos, open) = (st["position_lots"].as_i64().unwrap(), open_ours(&st));
    let places_before = st["place_requests"].as_u64().unwrap();
    let audit_before = reconcile_audit(&dir).len();
    // The restart (as systemd's Restart=on-failure would): adopt, trade a little, stop.
    let cfg2 = config(
        &dir,
        &sim,
        4,
        &[
            ("on_start = \"refuse\"", "on_start = \"adopt\""),
            ("entry_timeout_ms = 300", "entry_timeout_ms = 600000"),
            ("max_hold_ms = 1500", "max_hold_ms = 600000"),
            ("take_profit = 2", "take_profit = 20"),
            ("stop_loss = 3", "stop_loss = 30"),
        ],
    );
    let out = run(&cfg2);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let audit: Vec<Value> = reconcile_audit(&dir).split_off(audit_before);
    let mut adopted: Vec<String> = audit
        .iter()
        .filter(|a| a["whose"] == "ours" && a["action"] == "adopted")
        .map(|a| a["order_link_id"].as_str().unwrap().to_string())
        .collect();
    adopted.sort();
    let mut open_sorted = open.clone();
    open_sorted.sort();
    assert_eq!(adopted, open_sorted, "every order left open was adopted");
    let done = audit.iter().find(|a| a["outcome"] == "ok").unwrap();
    let lots: f64 = done["position"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        (lots * 1000.0).round() as i64,
        pos,
        "the position adopted is the venue's"
    );
    let st = sim_state(&sim);
    assert_eq!(
        st["duplicate_places"].as_u64(),
        Some(0),
        "no order sent twice"
    );
    let sent2: u64 = field(&out.stdout, "summary:", "orders").parse().unwrap();
    assert_eq!(
        st["place_requests"].as_u64().unwrap(),
        places_before + sent2
    );
    assert!(
        open_ours(&st).is_empty(),
        "the stop cancelled what rested, adopted ones too"
    );
    let ledger_pos: i64 = field(&out.stdout, "ledger:", "position_lots")
        .parse()
        .unwrap();
    assert_eq!(
        ledger_pos,
        st["position_lots"].as_i64().unwrap(),
        "books agree after the restart"
    );
    assert!(
        out.stderr
            .contains("risk state carried over from the journal"),
        "the day's PnL carried over: {}",
        out.stderr
    );
}

/// The daily loss is real state across `kill -9`: the restarted process's risk day PnL (on
/// `/health/detailed` and `/metrics`) is the one the killed process had, from the journal, and
/// `daily_loss_limit` still holds it degraded (no new entries).
#[test]
fn kill_9_then_restart_carries_the_days_loss_and_daily_loss_limit_still_bites() {
    let dir = tmpdir("dayloss");
    let sim = start_sim(&dir, false, &[]);
    let http = free_port();
    let edits = [
        ("daily_loss_limit = \"3000\"", "daily_loss_limit = \"0.01\""),
        (
            "http_addr = \"off\"",
            &format!("http_addr = \"127.0.0.1:{http}\"") as &str,
        ),
        (
            "[store]\n",
            "[store]\nequity_interval_ms = 100\nflush_ms = 100\n",
        ),
    ];
    let cfg = config(&dir, &sim, 120, &edits);
    let d = live_sim::DayLoss {
        label: "",
        currency: "USDT",
        latch_within: Duration::from_secs(90),
        every: Duration::from_millis(700),
        restart_within: Duration::from_secs(30),
        settle: Duration::ZERO,
    };
    live_sim::day_loss_carried_test(|| live_command(&cfg), http, &sim, d);
}
