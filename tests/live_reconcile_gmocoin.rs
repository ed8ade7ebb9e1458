//! Reconciliation on GMO Coin (leverage `BTC_JPY`) against the local simulator over TLS.
//!
//! **How "ours" is told from "foreign" without a client order id**: GMO Coin orders carry none
//! (VENUES.md §2.2), so the gateway records the venue `orderId` of every order of ours at its
//! acknowledgement in `<artifacts_dir>/gmocoin-our-orders.txt` (`OURS_FILE`); at start an open
//! order whose id is recorded there is ours, any other is foreign (left alone). The tests that
//! start from "our leftover of an earlier start" write that record themselves for an order the
//! account file seeds, or let a first gateway place the order (and record it).
//!
//! - `startup::on_start_tells_ours_from_foreign_by_the_recorded_venue_ids`: refuse / adopt /
//!   cancel_ours on a foreign order and one of ours (in process).
//! - `startup::a_position_at_the_venue_is_adopted_at_its_entry_price_and_refuse_refuses_it`.
//! - `cancel_ours_at_start_cancels_ours_only_and_audits_each_order`: `obi-scalp run` with
//!   `on_start = "cancel_ours"`, the audit log says what happened to each order.
//! - `jpy_changed_behind_the_bots_back_is_wallet_drift_exceeded_within_one_interval`: `POST
//!   /sim/wallet` takes 500 JPY; risk degrades `wallet_drift_exceeded` within one interval.
//! - `position_changed_behind_the_bots_back_is_a_risk_abort_reconcile_mismatch`.
//! - `a_reconnect_of_the_private_stream_reconciles_at_once` (`--fault drop@4s`).
//! - `a_fill_dropped_from_the_private_stream_is_found_and_booked_once` (`--fault dropfill`).
//! - `kill_9_with_a_position_and_a_resting_order_then_a_restart_adopts_them_without_a_duplicate`.
//! - `kill_9_then_restart_carries_the_days_loss_and_daily_loss_limit_still_bites`.

#[path = "common/live_sim.rs"]
mod live_sim;

use live_sim::{detailed, free_port, http_get, reasons, reconcile_audit, sim_post, terminate, Sim};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "obiSIMgmocoinKEY01";
const SECRET: &str = "obi-sim-gmocoin-secret-not-a-real-key";
/// The simulator numbers orders from here: the account file's `[[orders]]` get the first ids.
const FIRST_ORDER_ID: u64 = 1_000_000_001;
/// Where the simulator's synthetic BTC_JPY market trades (about 13,660,000 JPY).
const ENTRY: &str = "13660000.5";

fn tmpdir(name: &str) -> PathBuf {
    live_sim::tmpdir("live-recon-gmo", name)
}

fn start_sim(dir: &Path, account: &Path, faults: &[&str]) -> Sim {
    live_sim::start_sim("gmocoin", dir, account, faults)
}

/// An account with a long of 0.01 BTC_JPY at [`ENTRY`], a foreign order (first id) and one
/// of ours from an earlier start (second id), both far below the market so that they rest;
/// ours is recorded in the artifacts directory's record as an earlier start left it.
fn account_with_leftovers(dir: &Path) -> (PathBuf, u64, u64) {
    let p = dir.join("account.toml");
    std::fs::write(
        &p,
        format!(
            "api_key = \"{KEY}\"\napi_secret = \"{SECRET}\"\n[balances]\nJPY = \"10000000\"\n\
             [positions]\nBTC_JPY = \"0.01\"\n[entry_prices]\nBTC_JPY = \"{ENTRY}\"\n\
             [[orders]]\nside = \"Buy\"\nprice = \"6000000\"\nqty = \"0.01\"\n\
             [[orders]]\nside = \"Buy\"\nprice = \"6000001\"\nqty = \"0.01\"\n"
        ),
    )
    .unwrap();
    let (foreign, ours) = (FIRST_ORDER_ID, FIRST_ORDER_ID + 1);
    let art = dir.join("var/artifacts");
    std::fs::create_dir_all(&art).unwrap();
    std::fs::write(
        art.join(obi_scalp::venue::gmocoin::live::OURS_FILE),
        format!("{ours}\n"),
    )
    .unwrap();
    (p, foreign, ours)
}

fn config(dir: &Path, sim: &Sim, secs: u64, edits: &[(&str, &str)]) -> PathBuf {
    live_sim::sim_live_config("gmocoin", 19104, dir, sim, secs, edits)
}

fn live_command(cfg: &Path) -> Command {
    let mut c = live_sim::live_command(cfg, KEY, SECRET, None);
    c.stdin(Stdio::null());
    c
}

fn open_ids(st: &Value) -> Vec<u64> {
    st["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "new" || o["status"] == "partially_filled")
        .map(|o| o["order_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn status_of(st: &Value, id: u64) -> String {
    st["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"].as_str().and_then(|s| s.parse().ok()) == Some(id))
        .map(|o| o["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn clean_account(dir: &Path) -> PathBuf {
    let p = dir.join("account.toml");
    std::fs::write(
        &p,
        format!("api_key = \"{KEY}\"\napi_secret = \"{SECRET}\"\n[balances]\nJPY = \"10000000\"\n"),
    )
    .unwrap();
    p
}

/// Starts a live run with the reconcile interval and a drift limit of 100 JPY, waits
/// (bounded) for the first published drift, returns it with the child.
fn start_reconciling(
    dir: &Path,
    sim: &Sim,
    http: u16,
    interval_ms: u64,
) -> (std::process::Child, Value) {
    live_sim::start_reconciling(
        |edits| config(dir, sim, 120, edits),
        live_command,
        http,
        interval_ms,
        Duration::from_secs(20),
    )
}

#[test]
fn jpy_changed_behind_the_bots_back_is_wallet_drift_exceeded_within_one_interval() {
    let dir = tmpdir("drift");
    let sim = start_sim(&dir, &clean_account(&dir), &[]);
    let http = free_port();
    let interval_ms = 500u64;
    let (child, before) = start_reconciling(&dir, &sim, http, interval_ms);
    assert_eq!(before["pnl"]["wallet_drift"], "0", "{before}");
    assert!(!reasons(&before).contains(&"wallet_drift_exceeded".to_string()));
    // Behind the bot's back: 500 JPY leave the account.
    sim_post(&sim, "/sim/wallet", r#"{"coin":"JPY","delta":"-500"}"#);
    let t0 = Instant::now();
    let (mut measured, mut after) = (None, None);
    while t0.elapsed() < Duration::from_secs(10) {
        if let Some(v) = detailed(http) {
            if measured.is_none() && v["pnl"]["wallet_drift"] == "500" {
                measured = Some(t0.elapsed());
            }
            if reasons(&v).contains(&"wallet_drift_exceeded".to_string()) {
                after = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let dt = t0.elapsed();
    let metrics = http_get(http, "/metrics");
    let out = terminate(child);
    let after = after.unwrap_or_else(|| panic!("wallet_drift_exceeded: {}", out.stderr));
    let measured = measured.unwrap_or(dt);
    println!(
        "gmocoin: jpy changed -> drift 500 on /health/detailed after {} ms, risk degraded wallet_drift_exceeded after {} ms (reconcile_interval_ms = {interval_ms})",
        measured.as_millis(),
        dt.as_millis()
    );
    assert_eq!(after["risk"]["status"], "degraded", "{after}");
    assert_eq!(after["pnl"]["wallet_drift"], "500", "{after}");
    // Within one interval (and the reads' time), not at the next book update (GMO's book
    // comes every 500 ms).
    assert!(
        measured < Duration::from_millis(interval_ms + 250),
        "{measured:?}: drift not measured within one interval"
    );
    assert!(
        dt < Duration::from_millis(interval_ms + 250),
        "{dt:?}: not degraded within one interval"
    );
    assert!(
        metrics.contains("obi_scalp_wallet_drift{currency=\"JPY\"} 500"),
        "{metrics}"
    );
    assert!(metrics.contains("obi_scalp_risk_reason{code=\"wallet_drift_exceeded\"} 1"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn position_changed_behind_the_bots_back_is_a_risk_abort_reconcile_mismatch() {
    let dir = tmpdir("mismatch");
    let sim = start_sim(&dir, &clean_account(&dir), &[]);
    let http = free_port();
    let (child, _) = start_reconciling(&dir, &sim, http, 300);
    live_sim::position_mismatch_test(&dir, &sim, child, http);
}

/// Every WebSocket connection (public and private) is dropped once, 4 s in; with no timed
/// reconciliation within the test, the private stream's reopening alone reconciles.
#[test]
fn a_reconnect_of_the_private_stream_reconciles_at_once() {
    let dir = tmpdir("reconnect");
    let t_sim = Instant::now();
    let sim = start_sim(&dir, &clean_account(&dir), &["drop@4s"]);
    let http = free_port();
    let cfg = config(
        &dir,
        &sim,
        120,
        &[
            (
                "on_start = \"refuse\"",
                "on_start = \"refuse\"\nreconcile_interval_ms = 3600000",
            ),
            (
                "http_addr = \"off\"",
                &format!("http_addr = \"127.0.0.1:{http}\""),
            ),
        ],
    );
    let (drift, at, out) = live_sim::first_drift_after_reconnect(
        live_command(&cfg),
        http,
        t_sim,
        Duration::from_secs(20),
    );
    println!("gmocoin: first reconciliation {at:?} after the simulator started (drop at 4 s)");
    assert_eq!(drift, "0");
    assert!(at >= Duration::from_secs(4), "{at:?}: before the drop");
    assert_eq!(out.code, Some(0), "{}", out.stdout);
}

/// `on_start = "cancel_ours"` with a foreign order, one of ours (recorded) and a position at
/// the simulator: ours is cancelled, the foreign one rests on, the position is adopted, and
/// the audit log says so for each.
#[test]
fn cancel_ours_at_start_cancels_ours_only_and_audits_each_order() {
    let dir = tmpdir("cancelours");
    let (account, foreign, ours) = account_with_leftovers(&dir);
    let sim = start_sim(&dir, &account, &[]);
    let cfg = config(
        &dir,
        &sim,
        2,
        &[
            ("on_start = \"refuse\"", "on_start = \"cancel_ours\""),
            ("max_hold_ms = 1500", "max_hold_ms = 600000"),
            ("take_profit = 200", "take_profit = 1000000"),
            ("stop_loss = 300", "stop_loss = 1000000"),
        ],
    );
    let out = live_sim::run_output(live_command(&cfg));
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = live_sim::state_at(sim.port, &sim.ca);
    assert_eq!(status_of(&st, ours), "cancelled");
    assert_eq!(
        status_of(&st, foreign),
        "new",
        "the foreign order is left alone"
    );
    let audit = reconcile_audit(&dir);
    let of = |id: u64| {
        audit
            .iter()
            .find(|a| a["venue_order_id"].as_str().and_then(|s| s.parse().ok()) == Some(id))
            .unwrap_or_else(|| panic!("no audit event for order {id}: {audit:?}"))
            .clone()
    };
    let (o, f) = (of(ours), of(foreign));
    assert_eq!(
        (&o["whose"], &o["action"]),
        (&"ours".into(), &"cancelled".into()),
        "{o}"
    );
    assert_eq!(
        (&f["whose"], &f["action"]),
        (&"foreign".into(), &"left_alone".into()),
        "{f}"
    );
    let ok = audit.iter().find(|a| a["outcome"] == "ok").unwrap();
    assert_eq!(ok["position"], "0.010", "{ok}");
    assert_eq!(ok["position_action"], "adopted");
    assert_eq!(ok["entry_price"], ENTRY);
    assert_eq!(
        st["place_requests"].as_u64().unwrap(),
        live_sim::field(&out.stdout, "summary:", "orders")
            .parse::<u64>()
            .unwrap()
    );
}

/// The simulator's `dropfill` leaves the run's first execution out of the private stream
/// (`executionEvents`); reading the order at the venue (reconciliation, or the order's end)
/// finds it in `executions?orderId=` and books it exactly once: the books agree with the
/// simulator's exactly and the audit names how it was found.
#[test]
fn a_fill_dropped_from_the_private_stream_is_found_and_booked_once() {
    let dir = tmpdir("dropfill");
    let sim = start_sim(&dir, &clean_account(&dir), &["dropfill"]);
    let cfg = config(
        &dir,
        &sim,
        live_sim::live_secs().min(8),
        &[(
            "on_start = \"refuse\"",
            "on_start = \"refuse\"\nreconcile_interval_ms = 300",
        )],
    );
    let out = live_sim::run_output(live_command(&cfg));
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = live_sim::state_at(sim.port, &sim.ca);
    assert_eq!(
        st["venue"]["dropped_fills"].as_u64(),
        Some(1),
        "the fault fired: {st}"
    );
    let dropped: Vec<String> = st["venue"]["dropped_exec_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap().to_string())
        .collect();
    live_sim::assert_books_agree(&out.stdout, &st);
    let found: Vec<Value> = reconcile_audit(&dir)
        .into_iter()
        .filter(|a| a["outcome"] == "fill_found")
        .collect();
    let mut ids: Vec<String> = found
        .iter()
        .map(|f| f["exec_id"].as_str().unwrap().to_string())
        .collect();
    for d in &dropped {
        assert!(ids.contains(d), "the dropped fill {d} was found: {found:?}");
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), found.len(), "a fill found twice: {found:?}");
    let fills = st["fills"].as_array().unwrap();
    for f in &found {
        println!("found: {f}");
        assert!(f["found_by"]
            .as_str()
            .unwrap()
            .contains("/private/v1/executions?orderId="));
        assert!(
            fills.iter().any(|v| v["exec_id"] == f["exec_id"]),
            "the found fill is the simulator's: {f}"
        );
    }
}

/// `kill -9` in the middle of a session holding a position and a resting order of ours (both
/// adopted at its start from an earlier start's leftovers, so that the state does not hang on
/// what the strategy did in a window), then a restart with `on_start = "adopt"`: the resting
/// order is adopted by its recorded venue id, the position at the venue's entry price, the
/// foreign order left alone; no order is sent twice (the simulator's place count is run 1's
/// plus run 2's); the stop cancels what of ours rests; the restarted ledger equals the
/// simulator's account (position, and cash since the restart from the adopted entry cost);
/// the journal's risk state (the day's PnL) is carried over.
#[test]
fn kill_9_with_a_position_and_a_resting_order_then_a_restart_adopts_them_without_a_duplicate() {
    let dir = tmpdir("kill9");
    let (account, foreign, ours) = account_with_leftovers(&dir);
    let sim = start_sim(&dir, &account, &[]);
    let edits = [
        (
            "on_start = \"refuse\"",
            "on_start = \"adopt\"\nreconcile_interval_ms = 500",
        ),
        ("max_hold_ms = 1500", "max_hold_ms = 600000"),
        ("take_profit = 200", "take_profit = 1000000"),
        ("stop_loss = 300", "stop_loss = 1000000"),
        (
            "[store]\n",
            "[store]\nequity_interval_ms = 100\nflush_ms = 100\n",
        ),
    ];
    let cfg = config(&dir, &sim, 120, &edits);
    let mut child = live_command(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Mid-session: its private stream is up (a token and a connection at the simulator) and
    // its start-up audited; then a journal flush interval more.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(child.try_wait().unwrap().is_none(), "run 1 ended early");
        let st = live_sim::state_at(sim.port, &sim.ca);
        let started = reconcile_audit(&dir).iter().any(|a| a["outcome"] == "ok");
        if started && st["venue"]["ws_connections"].as_u64() >= Some(1) {
            break;
        }
        assert!(Instant::now() < end, "run 1 never started trading: {st}");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap(); // SIGKILL: no cancel, no summary, no journal close
    let _ = child.wait();
    let st = live_sim::state_at(sim.port, &sim.ca);
    let left = open_ids(&st);
    let pos0 = st["position_lots"].as_i64().unwrap();
    assert!(left.contains(&ours), "killed with our order resting: {st}");
    assert_ne!(pos0, 0, "killed with a position");
    println!("killed with open orders {left:?}, position {pos0} lots");
    let places_before = st["place_requests"].as_u64().unwrap();
    let cash0: i128 = st["cash_change_money"].as_str().unwrap().parse().unwrap();
    let audit_before = reconcile_audit(&dir).len();

    // The restart trades: the default exits close the adopted position (take-profit,
    // stop-loss, max-hold 1.5 s) and new entries follow.
    let cfg2 = config(
        &dir,
        &sim,
        6,
        &[(
            "on_start = \"refuse\"",
            "on_start = \"adopt\"\nreconcile_interval_ms = 500",
        )],
    );
    let out = live_sim::run_output(live_command(&cfg2));
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let audit: Vec<Value> = reconcile_audit(&dir).split_off(audit_before);
    let whose = |w: &str, action: &str| -> Vec<u64> {
        audit
            .iter()
            .filter(|a| a["whose"] == w && a["action"] == action)
            .map(|a| a["venue_order_id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let mut ours_left: Vec<u64> = left.iter().copied().filter(|id| *id != foreign).collect();
    ours_left.sort();
    let mut adopted = whose("ours", "adopted");
    adopted.sort();
    assert_eq!(
        adopted, ours_left,
        "every order of ours left open was adopted"
    );
    assert_eq!(whose("foreign", "left_alone"), vec![foreign]);
    let ok = audit.iter().find(|a| a["outcome"] == "ok").unwrap();
    let inst = *obi_scalp::instrument::InstrumentTable::default()
        .get(
            obi_scalp::instrument::Venue::GmoCoin,
            obi_scalp::instrument::Market::Linear,
            "BTC_JPY",
        )
        .unwrap();
    assert_eq!(
        ok["position"].as_str().unwrap(),
        inst.lot.format(pos0),
        "the position adopted is the venue's: {ok}"
    );
    let st = live_sim::state_at(sim.port, &sim.ca);
    let sent2: u64 = live_sim::field(&out.stdout, "summary:", "orders")
        .parse()
        .unwrap();
    assert_eq!(
        st["place_requests"].as_u64().unwrap(),
        places_before + sent2,
        "no order sent twice"
    );
    assert_eq!(
        open_ids(&st),
        vec![foreign],
        "the stop cancelled what of ours rested, adopted ones too; the foreign one rests on"
    );
    let pos: i64 = live_sim::field(&out.stdout, "ledger:", "position_lots")
        .parse()
        .unwrap();
    assert_eq!(pos, st["position_lots"].as_i64().unwrap(), "position");
    let cash: i128 = live_sim::field(&out.stdout, "ledger:", "cash_money")
        .parse()
        .unwrap();
    let basis0 =
        obi_scalp::exec::ledger::basis_at(&inst, ok["entry_price"].as_str().unwrap(), pos0)
            .unwrap();
    let cash1: i128 = st["cash_change_money"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        cash + basis0,
        cash1 - cash0,
        "cash since the restart (the ledger starts from the adopted entry cost)"
    );
    let carried = out
        .stderr
        .lines()
        .find(|l| l.contains("risk state carried over from the journal"))
        .unwrap_or_else(|| panic!("the day's PnL carried over: {}", out.stderr));
    println!("{carried}");
}

/// The daily loss is real state across `kill -9`: the restarted process's risk day PnL (on
/// `/health/detailed` and `/metrics`) is the one the killed process had, from the journal, and
/// `daily_loss_limit` still holds it degraded (no new entries).
#[test]
fn kill_9_then_restart_carries_the_days_loss_and_daily_loss_limit_still_bites() {
    let dir = tmpdir("dayloss");
    let sim = start_sim(&dir, &clean_account(&dir), &[]);
    let http = free_port();
    let edits = [
        (
            "daily_loss_limit = \"30000\"",
            "daily_loss_limit = \"0.001\"",
        ),
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
        label: "gmocoin: ",
        currency: "JPY",
        latch_within: Duration::from_secs(25),
        every: Duration::from_millis(300),
        restart_within: Duration::from_secs(20),
        // A book update or two more: an entry would go out on one.
        settle: Duration::from_millis(1200),
    };
    live_sim::day_loss_carried_test(|| live_command(&cfg), http, &sim, d);
}

// ---------------------------------------------------------------------------------------------
// Start-up reconciliation, the gateway alone against an in-process simulator.

mod startup {
    use super::live_sim::{in_process_sim, on_start_tells_ours_from_foreign, InSim, StartupSim};
    use obi_scalp::config::OnStart;
    use obi_scalp::exec::live::{LiveSettings, LiveStartError};
    use obi_scalp::exec::Gateway;
    use obi_scalp::instrument::{Instrument, InstrumentTable, Market, Venue};
    use obi_scalp::sim::private::AccountFile;
    use obi_scalp::venue::bybit::recon::StartReport;
    use obi_scalp::venue::gmocoin::live::{GmoLive, OURS_FILE};
    use obi_scalp::venue::gmocoin::sim_private::GmoPrivate;
    use std::path::Path;
    use std::time::Duration;

    fn inst() -> Instrument {
        *InstrumentTable::default()
            .get(Venue::GmoCoin, Market::Linear, "BTC_JPY")
            .unwrap()
    }

    fn in_sim(dir: &Path, extra: &str) -> InSim {
        let account: AccountFile = toml::from_str(&format!(
            "api_key = \"{}\"\napi_secret = \"{}\"\n[balances]\nJPY = \"100000000\"\n{extra}",
            super::KEY,
            super::SECRET
        ))
        .unwrap();
        let api = GmoPrivate::new(&account, inst()).unwrap();
        in_process_sim(dir, Venue::GmoCoin, Box::new(api), &[])
    }

    impl StartupSim for InSim {
        type Gw = GmoLive;

        fn bid(&self) -> i64 {
            self.touch_of("BTC_JPY", &inst()).0
        }

        /// A gateway whose record of our orders lives in `home`.
        fn gateway(&self, home: &Path, on_start: OnStart) -> Result<GmoLive, LiveStartError> {
            GmoLive::start(LiveSettings {
                inst: inst(),
                rest_url: format!("https://127.0.0.1:{}", self.port()),
                private_ws_url: format!("wss://127.0.0.1:{}/ws/private/v1", self.port()),
                ca_file: Some(self.ca.clone()),
                api_key: super::KEY.into(),
                api_secret: super::SECRET.into(),
                credentials: None,
                recv_window_ms: 5000,
                request_timeout: Duration::from_secs(2),
                connect_timeout: Duration::from_secs(5),
                order_rate_per_sec: 20,
                keep_warm: Duration::from_secs(15),
                dry_run: false,
                journal_dir: home.to_path_buf(),
                start_ms: obi_scalp::clock::wall_ns() / 1_000_000,
                client_id_prefix: "obi".into(),
                on_start,
                reconcile_interval: Duration::from_secs(60),
            })
        }

        fn open_ids(&self) -> Vec<String> {
            let st = super::live_sim::state_at(self.port(), &self.ca);
            super::open_ids(&st).iter().map(u64::to_string).collect()
        }

        fn small_qty(&self) -> i64 {
            inst().lot.parse(b"0.001").unwrap()
        }

        fn report(g: &GmoLive) -> Option<&StartReport> {
            g.start_report()
        }

        fn working(g: &GmoLive, id: u64) -> bool {
            g.table().working().any(|o| o.id == id)
        }
    }

    #[test]
    fn on_start_tells_ours_from_foreign_by_the_recorded_venue_ids() {
        let dir = super::tmpdir("onstart");
        let sim = in_sim(&dir, "");
        let ours_home = on_start_tells_ours_from_foreign(&sim, &dir, OURS_FILE);
        // The record keeps nothing cancelled.
        let recorded = std::fs::read_to_string(ours_home.join(OURS_FILE)).unwrap();
        assert_eq!(recorded.trim(), "");
    }

    #[test]
    fn a_position_at_the_venue_is_adopted_at_its_entry_price_and_refuse_refuses_it() {
        let dir = super::tmpdir("position");
        let sim = in_sim(
            &dir,
            "[positions]\nBTC_JPY = \"-0.02\"\n[entry_prices]\nBTC_JPY = \"13660000.5\"\n",
        );
        match sim.gateway(&dir, OnStart::Refuse) {
            Err(LiveStartError::Refused(m)) => assert!(m.contains("-0.020"), "{m}"),
            Err(e) => panic!("refuse: {e}"),
            Ok(_) => panic!("refuse started with a position open"),
        }
        for policy in [OnStart::Adopt, OnStart::CancelOurs] {
            let g = sim.gateway(&dir, policy).unwrap();
            let r = g.start_report().unwrap();
            assert_eq!(r.position.lots, -20, "{policy:?}");
            assert_eq!(r.position.avg_price, "13660000.5");
            assert_eq!(
                r.position.basis,
                obi_scalp::exec::ledger::basis_at(&inst(), "13660000.5", -20).unwrap()
            );
            // The gateway's own books start from it: never flattened.
            let (pos, cash) = g.balance();
            assert_eq!((pos, cash), (-20, -r.position.basis));
            assert_eq!(
                r.wallet,
                100_000_000 * 1_000_000_000,
                "JPY 100000000 in Money"
            );
        }
        let st = super::live_sim::state_at(sim.port(), &sim.ca);
        assert_eq!(st["place_requests"], 0, "nothing sent to flatten it");
    }
}
