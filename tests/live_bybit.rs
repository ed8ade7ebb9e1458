//! Live trading on Bybit against the local simulator over TLS: `obi-scalp sim --venue bybit
//! --account ...` and `obi-scalp run` in live mode (the live gate open, the simulator's test
//! keys), then the bot's ledger compared with the simulator's account (`GET /sim/state`).
//!
//! - `live_run_trades_and_books_exactly_what_the_venue_did`: orders placed, acknowledged, part
//!   filled, filled and cancelled at the simulator; position, cash and fees equal exactly. The
//!   run lasts `OBI_LIVE_TEST_SECS` seconds (default 12, to keep the suite fast). The 60 s run
//!   of the issue: `OBI_LIVE_TEST_SECS=60 cargo test --test live_bybit live_run -- --nocapture`.
//! - `lostack_and_timeout_are_resolved_without_a_duplicate_order`: the first order request is
//!   never answered and not executed (`timeout`), the second executed but never answered
//!   (`lostack`); both are resolved by querying the `orderLinkId`; the simulator counts no
//!   duplicate place, and the books still agree.
//! - `kill_switch_cancels_every_open_order_fast`: the gateway alone (no strategy) rests orders
//!   far from the market, then a cancel-all as the kill switch sends it; 20 trials, every order
//!   cancelled at the simulator; prints the p50 of command → the venue's cancel-all answer.
//!   The order stage's side of the gateway (`on_cmd`, `poll`) allocates nothing after the first
//!   trial (counted on the calling thread; the I/O thread's TLS records and JSON parsing do
//!   allocate and are not counted here).
//! - `kill_file_during_a_live_run_cancels_everything_at_the_venue`: `obi-scalp run` with orders
//!   resting at the simulator, the kill file touched: exit code 8, nothing open at the simulator.
//! - `dry_run_signs_and_journals_without_sending`.
//! - `wrong_secret_is_exit_code_4_at_start_up`.
//! - `sighup_rotated_credentials_reach_the_running_gateway`: credentials from files in a
//!   credentials directory; the simulator gets a second key pair, the files are rewritten and
//!   the run gets SIGHUP; the simulator then sees the new pair, the old one is retired, orders
//!   go on and none is refused; the books agree at the end.
//! - `an_auth_refusal_outside_an_order_reaches_risk_as_an_abort`: an I/O thread that reports
//!   [`IoEvent::AuthFailed`] (a read or keep-alive refused) makes the order stage report a
//!   cancel refused for auth of order 0, which risk turns into `venue_auth_failed`.
//! - `keys_rotated_without_sighup_is_a_risk_abort`: the simulator's keys replaced at once and
//!   no SIGHUP: the next signed request is refused, a risk abort (`venue_auth_failed`, exit
//!   code 7) within 15 s.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/live_sim.rs"]
mod live_sim;

use obi_scalp::exec::Gateway;
use obi_scalp::instrument::{InstrumentTable, Market, Venue};
use obi_scalp::msg::{ExecKind, ExecReport, OrderCmd, OrderSide, Tif};
use obi_scalp::venue::bybit::live::{BybitLive, LiveSettings, LiveStats};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "obiSIMbybitKEY01";
const SECRET: &str = "obi-sim-bybit-secret-not-a-real-key";

use live_sim::{field, live_secs, repo, run_output, sim_counts, RunOut, Sim};

fn tmpdir(name: &str) -> PathBuf {
    live_sim::tmpdir("live-bybit", name)
}

fn start_sim(dir: &Path, faults: &[&str]) -> Sim {
    let account = repo().join("config/sim-account-bybit.toml");
    live_sim::start_sim("bybit", dir, &account, faults)
}

fn sim_state(sim: &Sim) -> Value {
    live_sim::state_at(sim.port, &sim.ca)
}

/// config/sim-bybit-live.toml pointed at this simulator and this test's directories.
fn live_config(dir: &Path, sim: &Sim, secs: u64) -> PathBuf {
    live_config_with(dir, sim, secs, &[])
}

fn live_config_with(dir: &Path, sim: &Sim, secs: u64, edits: &[(&str, &str)]) -> PathBuf {
    live_sim::sim_live_config("bybit", 19102, dir, sim, secs, edits)
}

/// `obi-scalp run --config CFG` in live mode with the credentials in the environment only.
fn live_command(cfg: &Path, secret: &str) -> Command {
    live_sim::live_command(cfg, KEY, secret, None)
}

fn run_live(cfg: &Path, secret: &str) -> RunOut {
    run_output(live_command(cfg, secret))
}

fn assert_books_agree(out: &RunOut, st: &Value) {
    live_sim::assert_books_agree(&out.stdout, st)
}

#[test]
fn live_run_trades_and_books_exactly_what_the_venue_did() {
    let dir = tmpdir("run");
    let sim = start_sim(&dir, &[]);
    let secs = live_secs();
    let cfg = live_config(&dir, &sim, secs);
    let t0 = Instant::now();
    let out = run_live(&cfg, SECRET);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(t0.elapsed() >= Duration::from_secs(secs));
    // The operator is told it is live, not paper.
    assert!(
        out.stdout.contains("BTCUSDT live trading") && !out.stdout.contains("paper trading"),
        "{}",
        out.stdout.lines().next().unwrap_or("")
    );
    assert!(
        out.stderr.contains("BTCUSDT (live)"),
        "systemd status line says live"
    );
    let st = sim_state(&sim);
    let c = sim_counts(&st);
    assert!(c.orders >= 5, "it trades");
    assert!(
        c.filled > 0 && c.cancelled > 0 && c.part > 0,
        "filled, cancelled, part filled"
    );
    assert_eq!(c.open, 0, "the stop cancels everything that rests");
    assert_eq!(c.rejected, 0);
    // Every order the bot sent reached the venue once and was acknowledged (nothing rejected,
    // nothing sent twice).
    let sent: u64 = field(&out.stdout, "summary:", "orders").parse().unwrap();
    assert_eq!(st["place_requests"].as_u64(), Some(sent));
    assert_eq!(st["duplicate_places"].as_u64(), Some(0));
    assert_eq!(field(&out.stdout, "bybit live:", "timeouts"), "0");
    assert_eq!(
        field(&out.stdout, "bybit live:", "ws_fills")
            .parse::<usize>()
            .unwrap(),
        st["fills"].as_array().unwrap().len(),
        "every fill came from the private stream"
    );
    assert_books_agree(&out, &st);
    // The API secret appears nowhere in what the run printed or wrote.
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
}

#[test]
fn lostack_and_timeout_are_resolved_without_a_duplicate_order() {
    let dir = tmpdir("faults");
    // The first order request: not executed, never answered; the second: executed, never
    // answered.
    let sim = start_sim(&dir, &["timeout", "lostack"]);
    let cfg = live_config(&dir, &sim, 8);
    let out = run_live(&cfg, SECRET);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = sim_state(&sim);
    assert_eq!(st["venue"]["unanswered_requests"].as_u64(), Some(2));
    assert_eq!(
        st["duplicate_places"].as_u64(),
        Some(0),
        "no order sent twice"
    );
    let timeouts: u64 = field(&out.stdout, "bybit live:", "timeouts")
        .parse()
        .unwrap();
    let queries: u64 = field(&out.stdout, "bybit live:", "queries")
        .parse()
        .unwrap();
    assert!(timeouts >= 2 && queries >= 2, "both resolved by a query");
    assert_books_agree(&out, &st);
}

#[test]
fn wrong_secret_is_exit_code_4_at_start_up() {
    let dir = tmpdir("auth");
    let sim = start_sim(&dir, &[]);
    let cfg = live_config(&dir, &sim, 5);
    let out = run_live(&cfg, "not-the-secret");
    assert_eq!(
        out.code,
        Some(4),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.contains("10004"), "{}", out.stderr);
    assert_eq!(sim_state(&sim)["place_requests"].as_u64(), Some(0));
}

/// Polls the gateway until `done` says so (bounded); returns whether it did.
fn pump(
    g: &mut BybitLive,
    reports: &mut Vec<ExecReport>,
    limit: Duration,
    done: &mut dyn FnMut(&BybitLive, &[ExecReport]) -> bool,
) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        g.poll(&mut |r| reports.push(r));
        if done(g, reports) {
            return true;
        }
        std::hint::spin_loop();
    }
    false
}

#[test]
fn kill_switch_cancels_every_open_order_fast() {
    let dir = tmpdir("kill");
    let sim = start_sim(&dir, &[]);
    let inst = *InstrumentTable::default()
        .get(Venue::Bybit, Market::Linear, "BTCUSDT")
        .unwrap();
    let mut g = BybitLive::start(LiveSettings {
        inst,
        rest_url: format!("https://127.0.0.1:{}", sim.port),
        private_ws_url: format!("wss://127.0.0.1:{}/v5/private", sim.port),
        ca_file: Some(sim.ca.clone()),
        api_key: KEY.into(),
        api_secret: SECRET.into(),
        credentials: None,
        recv_window_ms: 5000,
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(5),
        order_rate_per_sec: 10,
        keep_warm: Duration::from_secs(2), // longer than the pacing: none inside a trial
        dry_run: false,
        journal_dir: dir.clone(),
        start_ms: obi_scalp::clock::wall_ns() / 1_000_000,
        client_id_prefix: "obi".into(),
        on_start: obi_scalp::config::OnStart::Refuse,
        reconcile_interval: Duration::from_secs(60),
    })
    .unwrap();
    let stats = g.stats();
    // Far below the market (~65,000): they rest.
    let px = inst.tick.parse(b"50000.00").unwrap();
    let mut lat_ms = Vec::new();
    let mut next_id = 1u64;
    let per_trial = 3;
    let mut reports = Vec::with_capacity(4096);
    let mut hot_allocs = 0;
    for trial in 0..20 {
        if trial > 0 {
            // The venue allows 10 order requests per second per endpoint: 3 places a trial
            // every 350 ms stay under it (pacing, not waiting for an event).
            std::thread::sleep(Duration::from_millis(350));
        }
        reports.clear();
        let first = next_id;
        for _ in 0..per_trial {
            let cmd = OrderCmd::Place {
                id: next_id,
                side: OrderSide::Buy,
                px,
                qty: 1,
                tif: Tif::Gtc,
                reduce_only: false,
            };
            next_id += 1;
            let ((), n) = counting_alloc::counted(|| g.on_cmd(0, cmd, &mut |r| reports.push(r)));
            hot_allocs += if trial > 0 { n } else { 0 };
        }
        let (acked, n) = counting_alloc::counted(|| {
            pump(
                &mut g,
                &mut reports,
                Duration::from_secs(10),
                &mut |_, r| r.iter().filter(|r| r.kind == ExecKind::Accepted).count() == per_trial,
            )
        });
        hot_allocs += if trial > 0 { n } else { 0 };
        assert!(acked, "trial {trial}: orders acknowledged: {reports:?}");
        let acks_before = LiveStats::get(&stats.cancel_all_acks);
        let t0 = Instant::now();
        let (ok, n) = counting_alloc::counted(|| {
            g.on_cmd(0, OrderCmd::CancelAll, &mut |r| reports.push(r));
            pump(
                &mut g,
                &mut reports,
                Duration::from_secs(10),
                &mut |_, _| LiveStats::get(&stats.cancel_all_acks) > acks_before,
            )
        });
        let dt = t0.elapsed();
        hot_allocs += if trial > 0 { n } else { 0 };
        assert!(ok, "trial {trial}: cancel-all answered");
        lat_ms.push(dt.as_secs_f64() * 1e3);
        let all = pump(
            &mut g,
            &mut reports,
            Duration::from_secs(10),
            &mut |_, r| {
                r.iter()
                    .filter(|r| r.id >= first && matches!(r.kind, ExecKind::Cancelled { .. }))
                    .count()
                    == per_trial
            },
        );
        assert!(
            all,
            "trial {trial}: every order reported cancelled: {reports:?}"
        );
    }
    let st = sim_state(&sim);
    let orders = st["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 20 * per_trial);
    assert!(
        orders.iter().all(|o| o["status"] == "cancelled"),
        "all cancelled at the simulator"
    );
    lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p50 = lat_ms[lat_ms.len() / 2];
    println!(
        "kill switch (order-stage cancel-all command -> the simulator's cancel-all answer, \
         loopback TLS, {} trials of {per_trial} open orders): p50 = {p50:.3} ms, min = {:.3} ms, max = {:.3} ms",
        lat_ms.len(),
        lat_ms[0],
        lat_ms[lat_ms.len() - 1]
    );
    assert!(p50 < 100.0, "p50 {p50} ms");
    assert_eq!(
        hot_allocs, 0,
        "the order stage's side allocated after warm-up"
    );
    // One keep-alive TLS connection carried every request, and an idle one is kept warm.
    let ka = LiveStats::get(&stats.keepalives);
    let warm = pump(&mut g, &mut reports, Duration::from_secs(5), &mut |_, _| {
        LiveStats::get(&stats.keepalives) > ka
    });
    assert!(warm, "a keep-warm query on the idle connection");
    assert_eq!(
        LiveStats::get(&stats.connects),
        1,
        "one connection for everything"
    );
}

#[test]
fn kill_file_during_a_live_run_cancels_everything_at_the_venue() {
    let dir = tmpdir("killfile");
    let sim = start_sim(&dir, &[]);
    // Entries 10 ticks inside the touch that never time out: they rest at the venue.
    let cfg = live_config_with(
        &dir,
        &sim,
        120,
        &[
            ("entry_offset = 0", "entry_offset = -10"),
            ("entry_timeout_ms = 300", "entry_timeout_ms = 600000"),
        ],
    );
    let mut child = live_command(&cfg, SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) for an order resting at the simulator.
    let open = |st: &Value| {
        st["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "new" || o["status"] == "partially_filled")
            .count()
    };
    let end = Instant::now() + Duration::from_secs(60);
    let mut resting = 0;
    while Instant::now() < end {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        resting = open(&sim_state(&sim));
        if resting > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(resting > 0, "an order rests at the simulator");
    std::fs::write(dir.join("var/KILL"), "test\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(8), "exit code 8: killed");
    let st = sim_state(&sim);
    assert_eq!(open(&st), 0, "every order cancelled at the simulator");
    assert!(
        field(&stdout, "bybit live:", "cancel_all_acks")
            .parse::<u64>()
            .unwrap()
            >= 1,
        "the venue acknowledged the cancel-all"
    );
    assert_books_agree(
        &RunOut {
            code: out.status.code(),
            stdout,
            stderr: String::new(),
        },
        &st,
    );
}

#[test]
fn dry_run_signs_and_journals_without_sending() {
    let dir = tmpdir("dry");
    let sim = start_sim(&dir, &[]);
    let cfg = live_config_with(&dir, &sim, 6, &[("dry_run = false", "dry_run = true")]);
    let out = run_live(&cfg, SECRET);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = sim_state(&sim);
    assert_eq!(st["place_requests"].as_u64(), Some(0), "nothing sent");
    let journal =
        std::fs::read_to_string(dir.join("var/artifacts/dry-run-requests.jsonl")).unwrap();
    let lines: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["path"] == "/v5/order/create"),
        "places journalled: {journal}"
    );
    for l in &lines {
        let sig = l["signature"].as_str().unwrap();
        assert!(sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert!(
        !journal.contains(SECRET) && !journal.contains(KEY),
        "no credentials journalled"
    );
}

#[test]
fn live_mode_on_a_venue_without_a_live_gateway_refuses_naming_it() {
    let dir = tmpdir("othervenue");
    let cfg = dir.join("cc.toml");
    std::fs::write(
        &cfg,
        "mode = \"live\"\n[market]\nvenue = \"bitflyer\"\nmarket = \"linear\"\nsymbol = \"FX_BTC_JPY\"\nsource = \"live\"\nws_url = \"wss://127.0.0.1:9/\"\n[ops]\nhttp_addr = \"off\"\n",
    )
    .unwrap();
    let out = live_command(&cfg, SECRET)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("venue bitflyer") && stderr.contains("bybit, coincheck and gmocoin only"),
        "{stderr}"
    );
}

#[test]
fn venue_rate_limit_backs_off_and_counts_toward_consecutive_failures() {
    let dir = tmpdir("429");
    // Every order request answered `10006` (Too many visits): the run must back off (at most
    // about one order request a second reaches the venue) and abort once more than
    // `max_consecutive_failures = 5` orders in a row failed.
    let sim = start_sim(&dir, &["order429:50"]);
    let cfg = live_config(&dir, &sim, 60);
    let t0 = Instant::now();
    let out = run_live(&cfg, SECRET);
    let secs = t0.elapsed().as_secs_f64();
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(7), "risk abort; stderr:\n{}", out.stderr);
    assert!(
        out.stdout
            .contains("summary: reason=\"risk abort: consecutive_failures_exceeded"),
        "{}",
        out.stdout
    );
    let limited: f64 = field(&out.stdout, "bybit live:", "venue_rate_limited")
        .parse()
        .unwrap();
    assert!(limited >= 6.0, "six refusals in a row at least");
    assert!(
        limited <= secs + 2.0,
        "backed off: {limited} refusals in {secs:.1} s"
    );
    // The adaptive order rate halved on the refusals (at most every 250 ms) down to its floor:
    // from the configured 10/s to 1/s after four of the six or more.
    let allowed = field(&out.stdout, "bybit live:", "order_rate_allowed");
    assert_eq!(allowed, "1", "{}", out.stdout);
    let st = sim_state(&sim);
    assert_eq!(st["place_requests"].as_u64(), Some(0), "nothing executed");
}

#[test]
fn sighup_rotated_credentials_reach_the_running_gateway() {
    let dir = tmpdir("rotate");
    let sim = start_sim(&dir, &[]);
    let cfg = live_config(&dir, &sim, 300);
    let (out, st) = live_sim::sighup_rotation_test("bybit live:", &dir, &cfg, &sim, KEY, SECRET);
    assert_books_agree(&out, &st);
}

#[test]
fn keys_rotated_without_sighup_is_a_risk_abort() {
    let dir = tmpdir("authabort");
    let sim = start_sim(&dir, &[]);
    let cfg = live_config(&dir, &sim, 300);
    live_sim::auth_abort_test("bybit live:", live_command(&cfg, SECRET), &sim);
}

#[test]
fn an_auth_refusal_outside_an_order_reaches_risk_as_an_abort() {
    use obi_scalp::exec::live::{Front, IoEvent, AUTH_REPORT_ID};
    use obi_scalp::exec::orders::OrderTable;
    use obi_scalp::msg::RejectReason;
    use obi_scalp::risk::{ReasonCode, RiskEngine, RiskLimits, RiskStatus};
    use std::sync::Arc;
    // An I/O thread whose first read was refused for our credentials.
    let mut f = Front::start(
        "test-io",
        OrderTable::new(16),
        Arc::new(LiveStats::default()),
        0,
        0,
        |_rx, mut tx, stop| {
            let _ = tx.push(IoEvent::AuthFailed);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        },
    )
    .unwrap();
    let mut reports = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    while reports.is_empty() && Instant::now() < end {
        f.poll(&mut |r| reports.push(r));
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].id, AUTH_REPORT_ID);
    assert_eq!(
        reports[0].kind,
        ExecKind::CancelRejected {
            reason: RejectReason::Auth
        }
    );
    let mut risk = RiskEngine::new(RiskLimits::unlimited());
    risk.on_exec(&reports[0], &mut |_| {});
    assert_eq!(risk.status(), RiskStatus::Abort);
    assert_eq!(
        risk.reasons().iter().collect::<Vec<_>>(),
        vec![ReasonCode::VenueAuthFailed]
    );
}
