//! Reconciliation on Coincheck (spot `btc_jpy`) against the local simulator over TLS: the
//! balance read every `[live] reconcile_interval_ms` against what our fills explain.
//!
//! - `jpy_changed_behind_the_bots_back_is_wallet_drift_exceeded_within_one_interval`: `POST
//!   /sim/wallet` takes 500 JPY from the account while the bot trades; risk degrades
//!   `wallet_drift_exceeded` within one interval, `/health/detailed` and `/metrics` show the
//!   drift as 500.
//! - `btc_changed_behind_the_bots_back_is_a_risk_abort_reconcile_mismatch`: `POST
//!   /sim/position` adds 0.005 BTC no fill of ours explains; two reconciliations later risk
//!   aborts with `reconcile_mismatch`, audited.

#[path = "common/live_sim.rs"]
mod live_sim;

use live_sim::{detailed, free_port, http_get, reasons, repo, sim_post, terminate, Sim};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "obiSIMcoincheckKEY01";
const SECRET: &str = "obi-sim-coincheck-secret-not-a-real-key";

fn tmpdir(name: &str) -> PathBuf {
    live_sim::tmpdir("live-recon-cc", name)
}

fn start_sim(dir: &Path) -> Sim {
    live_sim::start_sim(
        "coincheck",
        dir,
        &repo().join("config/sim-account-coincheck.toml"),
        &[],
    )
}

fn config(dir: &Path, sim: &Sim, secs: u64, edits: &[(&str, &str)]) -> PathBuf {
    live_sim::sim_live_config("coincheck", 19101, dir, sim, secs, edits)
}

fn live_command(cfg: &Path) -> Command {
    live_sim::live_command(cfg, KEY, SECRET, None)
}

/// Starts a live run with the reconcile interval and drift limit, waits (bounded) for the
/// first published drift, returns it with the child.
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
        Duration::from_secs(30),
    )
}

#[test]
fn jpy_changed_behind_the_bots_back_is_wallet_drift_exceeded_within_one_interval() {
    let dir = tmpdir("drift");
    let sim = start_sim(&dir);
    let http = free_port();
    let interval_ms = 500u64;
    let (child, before) = start_reconciling(&dir, &sim, http, interval_ms);
    assert_eq!(before["pnl"]["wallet_drift"], "0", "{before}");
    assert!(!reasons(&before).contains(&"wallet_drift_exceeded".to_string()));
    // Behind the bot's back: 500 JPY leave the account.
    sim_post(&sim, "/sim/wallet", r#"{"coin":"jpy","delta":"-500"}"#);
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
        "coincheck: jpy changed -> risk degraded wallet_drift_exceeded seen on /health/detailed after {} ms (reconcile_interval_ms = {interval_ms})",
        dt.as_millis()
    );
    assert_eq!(after["risk"]["status"], "degraded");
    assert_eq!(after["pnl"]["wallet_drift"], "500", "{after}");
    let metrics = http_get(http, "/metrics");
    if dt >= Duration::from_millis(interval_ms + 500) {
        let out = terminate(child);
        let why: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("coincheck"))
            .collect();
        panic!("{dt:?}: {}", why.join("\n"));
    }
    assert!(
        metrics.contains("obi_scalp_wallet_drift{currency=\"JPY\"} 500"),
        "{metrics}"
    );
    assert!(metrics.contains("obi_scalp_risk_reason{code=\"wallet_drift_exceeded\"} 1"));
    let out = terminate(child);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn btc_changed_behind_the_bots_back_is_a_risk_abort_reconcile_mismatch() {
    let dir = tmpdir("mismatch");
    let sim = start_sim(&dir);
    let http = free_port();
    let (child, _) = start_reconciling(&dir, &sim, http, 300);
    live_sim::position_mismatch_test(&dir, &sim, child, http);
}

// ---------------------------------------------------------------------------------------------
// Start-up reconciliation, the gateway alone against an in-process simulator.

mod startup {
    use super::live_sim::{in_process_sim, on_start_tells_ours_from_foreign, InSim, StartupSim};
    use obi_scalp::config::OnStart;
    use obi_scalp::exec::live::{LiveSettings, LiveStartError};
    use obi_scalp::instrument::{Instrument, InstrumentTable, Market, Venue};
    use obi_scalp::sim::private::AccountFile;
    use obi_scalp::venue::bybit::recon::StartReport;
    use obi_scalp::venue::coincheck::live::{CoincheckLive, OURS_FILE};
    use obi_scalp::venue::coincheck::sim_private::CoincheckPrivate;
    use serde_json::Value;
    use std::path::Path;
    use std::time::Duration;

    fn inst() -> Instrument {
        *InstrumentTable::default()
            .get(Venue::Coincheck, Market::Spot, "btc_jpy")
            .unwrap()
    }

    fn in_sim(dir: &Path) -> InSim {
        let account: AccountFile = toml::from_str(&format!(
            "api_key = \"{}\"\napi_secret = \"{}\"\n[balances]\njpy = \"100000000\"\nbtc = \"1\"\n",
            super::KEY,
            super::SECRET
        ))
        .unwrap();
        let api = CoincheckPrivate::new(&account, inst(), "https").unwrap();
        in_process_sim(dir, Venue::Coincheck, Box::new(api), &[])
    }

    impl StartupSim for InSim {
        type Gw = CoincheckLive;

        fn bid(&self) -> i64 {
            self.touch_of("btc_jpy", &inst()).0
        }

        /// A gateway whose order-id file lives in `home`.
        fn gateway(&self, home: &Path, on_start: OnStart) -> Result<CoincheckLive, LiveStartError> {
            // Coincheck's nonce (per API key, strictly increasing) is the wall clock in ms, run
            // ahead by each request within one ms. A new gateway of this key starts from the
            // clock again, so, like a real restart, it must come after the previous one's last
            // millisecond (back to back on an idle machine it did not: HTTP 401 "Nonce must be
            // incremented").
            std::thread::sleep(Duration::from_millis(20));
            CoincheckLive::start(
                LiveSettings {
                    inst: inst(),
                    rest_url: format!("https://127.0.0.1:{}", self.port()),
                    private_ws_url: String::new(),
                    ca_file: Some(self.ca.clone()),
                    api_key: super::KEY.into(),
                    api_secret: super::SECRET.into(),
                    credentials: None,
                    recv_window_ms: 5000,
                    request_timeout: Duration::from_secs(2),
                    connect_timeout: Duration::from_secs(5),
                    order_rate_per_sec: 10,
                    keep_warm: Duration::from_secs(15),
                    dry_run: false,
                    journal_dir: home.to_path_buf(),
                    start_ms: obi_scalp::clock::wall_ns() / 1_000_000,
                    client_id_prefix: "obi".into(),
                    on_start,
                    reconcile_interval: Duration::from_secs(60),
                },
                Duration::from_millis(20),
                Duration::from_millis(500),
            )
        }

        fn open_ids(&self) -> Vec<String> {
            let st = super::live_sim::state_at(self.port(), &self.ca);
            st["orders"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["status"] == "new" || o["status"] == "partially_filled")
                .map(|o| match &o["order_id"] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect()
        }

        fn small_qty(&self) -> i64 {
            inst().lot.parse(b"0.001").unwrap()
        }

        fn report(g: &CoincheckLive) -> Option<&StartReport> {
            g.start_report()
        }

        fn working(g: &CoincheckLive, id: u64) -> bool {
            g.table().working().any(|o| o.id == id)
        }
    }

    #[test]
    fn on_start_tells_ours_from_foreign_by_the_recorded_venue_ids() {
        let dir = super::tmpdir("onstart");
        let sim = in_sim(&dir);
        on_start_tells_ours_from_foreign(&sim, &dir, OURS_FILE);
    }
}

/// The simulator's `dropfill` leaves a fill out of `transactions_pagination` (what the bot
/// polls); reconciliation (or the end of its order) finds it in `transactions` and books it
/// exactly once: every fill of the simulator booked once, the books agree.
#[test]
fn a_fill_the_poll_missed_is_found_and_booked_once() {
    let dir = tmpdir("dropfill");
    let sim = live_sim::start_sim(
        "coincheck",
        &dir,
        &repo().join("config/sim-account-coincheck.toml"),
        &["dropfill"],
    );
    let cfg = config(
        &dir,
        &sim,
        live_sim::live_secs().min(10),
        &[(
            "on_start = \"refuse\"",
            "on_start = \"refuse\"\nreconcile_interval_ms = 500",
        )],
    );
    let out = live_sim::run_output(live_command(&cfg));
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = live_sim::state_at(sim.port, &sim.ca);
    assert_eq!(
        st["venue"]["hidden_fills"].as_u64(),
        Some(1),
        "the fault fired: {st}"
    );
    let fills = st["fills"].as_array().unwrap();
    let booked: usize = live_sim::field(&out.stdout, "coincheck live:", "polled_fills")
        .parse()
        .unwrap();
    assert_eq!(booked, fills.len(), "every fill booked once");
    live_sim::assert_books_agree(&out.stdout, &st);
    let audit = std::fs::read_to_string(dir.join("var/logs/audit_events.jsonl")).unwrap();
    let found: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|a| a["kind"] == "reconcile" && a["outcome"] == "fill_found")
        .collect();
    assert!(!found.is_empty(), "the missed fill was found");
    let mut ids: Vec<&str> = found
        .iter()
        .map(|f| f["exec_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), found.len(), "a fill found twice: {found:?}");
    for f in &found {
        assert!(f["found_by"].as_str().unwrap().contains("transactions"));
        assert!(
            fills.iter().any(|v| v["exec_id"] == f["exec_id"]),
            "the found fill is the simulator's: {f}"
        );
    }
}

/// `kill -9` mid-session with resting orders of ours (and, when the market filled one, a
/// position), then a restart with `on_start = "adopt"`: every order left open is adopted by
/// its recorded venue id, no order is sent twice (the simulator's place count is run 1's plus
/// run 2's), the stop cancels what rests, and the restarted ledger equals the simulator's
/// account change since the restart; the journal's risk state is carried over.
#[test]
fn kill_9_then_a_restart_adopts_our_resting_orders_without_a_duplicate() {
    let dir = tmpdir("kill9");
    let sim = start_sim(&dir);
    let edits = [
        (
            "on_start = \"refuse\"",
            "on_start = \"adopt\"\nreconcile_interval_ms = 500",
        ),
        (
            "entry_offset = 0",
            "entry_offset = -3000\nmax_entry_offset = 5000",
        ),
        ("entry_timeout_ms = 300", "entry_timeout_ms = 600000"),
        ("max_hold_ms = 1500", "max_hold_ms = 600000"),
        ("take_profit = 200", "take_profit = 20000"),
        ("stop_loss = 300", "stop_loss = 30000"),
    ];
    let open = |st: &Value| -> Vec<String> {
        st["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "new" || o["status"] == "partially_filled")
            .map(|o| o["order_id"].as_str().unwrap().to_string())
            .collect()
    };
    let cfg = config(&dir, &sim, 120, &edits);
    let mut child = live_command(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        if !open(&live_sim::state_at(sim.port, &sim.ca)).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no cancel, no summary
    let _ = child.wait();
    let st = live_sim::state_at(sim.port, &sim.ca);
    let left = open(&st);
    assert!(!left.is_empty(), "killed with an order of ours resting");
    println!(
        "killed with {} resting order(s), position {} lots",
        left.len(),
        st["position_lots"].as_i64().unwrap() - st["start_position_lots"].as_i64().unwrap()
    );
    let places_before = st["place_requests"].as_u64().unwrap();
    let pos0 = st["position_lots"].as_i64().unwrap();
    let cash0: i128 = st["cash_change_money"].as_str().unwrap().parse().unwrap();
    let cfg2 = config(&dir, &sim, 4, &edits);
    let out = live_sim::run_output(live_command(&cfg2));
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let audit = std::fs::read_to_string(dir.join("var/logs/audit_events.jsonl")).unwrap();
    let mut adopted: Vec<String> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|a| a["kind"] == "reconcile" && a["whose"] == "ours" && a["action"] == "adopted")
        .map(|a| a["venue_order_id"].as_str().unwrap().to_string())
        .collect();
    adopted.sort();
    let mut left_sorted = left.clone();
    left_sorted.sort();
    assert_eq!(adopted, left_sorted, "every order left open was adopted");
    let st = live_sim::state_at(sim.port, &sim.ca);
    let sent2: u64 = live_sim::field(&out.stdout, "summary:", "orders")
        .parse()
        .unwrap();
    assert_eq!(
        st["place_requests"].as_u64().unwrap(),
        places_before + sent2,
        "no order sent twice"
    );
    assert!(
        open(&st).is_empty(),
        "the stop cancelled what rested, adopted ones too"
    );
    let pos: i64 = live_sim::field(&out.stdout, "ledger:", "position_lots")
        .parse()
        .unwrap();
    let cash: i128 = live_sim::field(&out.stdout, "ledger:", "cash_money")
        .parse()
        .unwrap();
    assert_eq!(
        pos,
        st["position_lots"].as_i64().unwrap() - pos0,
        "position since the restart"
    );
    let cash1: i128 = st["cash_change_money"].as_str().unwrap().parse().unwrap();
    assert_eq!(cash, cash1 - cash0, "cash since the restart");
    assert!(
        out.stderr
            .contains("risk state carried over from the journal"),
        "{}",
        out.stderr
    );
}
