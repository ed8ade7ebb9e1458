//! Live trading on Coincheck against the local simulator over TLS.
//!
//! - `place_ack_fill_booked_with_the_venues_fee`: the gateway alone, a marketable buy: the
//!   venue's acknowledgement, then its fill polled from `transactions` with the price and fee
//!   the simulator booked (taker 2 bp), and the gateway's position and cash equal the
//!   simulator's exactly.
//! - `cancel_of_a_resting_order_is_confirmed_at_the_venue`.
//! - `unanswered_places_are_resolved_without_a_second_order`: the simulator's `timeout` (not
//!   executed, no answer) and `lostack` (executed, no answer) faults on the first two order
//!   requests, both of the first order: its first request is found absent (fills and open
//!   orders read) and sent once more, that copy's lost answer is resolved by finding it in
//!   the open orders, not by a third send; the simulator holds exactly one order per order of
//!   ours.
//! - `wrong_secret_is_exit_code_4_at_start_up`: `obi-scalp run` in live mode.
//! - `live_run_trades_and_books_exactly_what_the_venue_did`: `obi-scalp run` in live mode
//!   (config/sim-coincheck-live.toml) for `OBI_LIVE_TEST_SECS` seconds (default 12, to keep
//!   the suite fast; the 60 s run: `OBI_LIVE_TEST_SECS=60 cargo test --test
//!   live_coincheck live_run -- --nocapture`): orders placed, filled and cancelled at the
//!   simulator, every order the bot sent held once by the simulator, every fill polled, and
//!   the bot's position, cash and fees equal the simulator's exactly.
//! - `dry_run_signs_and_journals_without_sending`.
//! - `kill_switch_cancels_every_open_order`: the gateway alone rests 3 orders, then the kill
//!   switch's cancel-all; 20 trials, every order cancelled at the simulator; prints p50/p99
//!   of the cancel-all command -> the gateway's cancel-all acknowledgement
//!   (`cargo test --test live_coincheck kill_switch -- --nocapture`).
//! - `sighup_rotated_credentials_reach_the_running_gateway`: credentials from files in a
//!   credentials directory; the simulator gets a second key pair, the files are rewritten and
//!   the run gets SIGHUP; the simulator then sees the new pair, the old one is retired, orders
//!   go on and none is refused; the books agree at the end.
//! - `keys_rotated_without_sighup_is_a_risk_abort`: the simulator's keys replaced at once
//!   while a position is open, no SIGHUP: the next signed request is refused, a risk abort
//!   (`venue_auth_failed`, exit code 7) within 15 s, and at most 3 requests refused.

#[path = "common/live_sim.rs"]
mod live_sim;

use live_sim::{
    field, live_secs, pump, repo, run_output, sim_counts, state_at, InSim, RunOut, Sim,
};
use obi_scalp::exec::live::{LiveSettings, LiveStats};
use obi_scalp::exec::Gateway;
use obi_scalp::instrument::{Instrument, InstrumentTable, Market, Venue};
use obi_scalp::msg::{ExecKind, OrderCmd, OrderSide, Tif};
use obi_scalp::sim::private::AccountFile;
use obi_scalp::venue::coincheck::live::CoincheckLive;
use obi_scalp::venue::coincheck::sim_private::CoincheckPrivate;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const KEY: &str = "obiSIMcoincheckKEY01";
const SECRET: &str = "obi-sim-coincheck-secret-not-a-real-key";

fn inst() -> Instrument {
    *InstrumentTable::default()
        .get(Venue::Coincheck, Market::Spot, "btc_jpy")
        .unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    live_sim::tmpdir("live-cc", name)
}

// ---------------------------------------------------------------------------------------------
// The gateway alone, against an in-process simulator.

/// The TLS simulator in this process: maker 1 bp, taker 2 bp (so that fees show).
fn in_sim(dir: &Path, faults: &[&str]) -> InSim {
    let account: AccountFile = toml::from_str(&format!(
        "api_key = \"{KEY}\"\napi_secret = \"{SECRET}\"\nmaker_fee_bps = \"1\"\ntaker_fee_bps = \"2\"\n\
         [balances]\njpy = \"100000000\"\nbtc = \"1\"\n"
    ))
    .unwrap();
    let api = CoincheckPrivate::new(&account, inst(), "https").unwrap();
    live_sim::in_process_sim(dir, Venue::Coincheck, Box::new(api), faults)
}

impl InSim {
    /// The best (bid, ask) once the market has one.
    fn touch(&self) -> (i64, i64) {
        self.touch_of("btc_jpy", &inst())
    }

    fn gateway(&self, dir: &Path, timeout: Duration) -> CoincheckLive {
        CoincheckLive::start(
            LiveSettings {
                inst: inst(),
                rest_url: format!("https://127.0.0.1:{}", self.port()),
                private_ws_url: String::new(),
                ca_file: Some(self.ca.clone()),
                api_key: KEY.into(),
                api_secret: SECRET.into(),
                credentials: None,
                recv_window_ms: 5000,
                request_timeout: timeout,
                connect_timeout: Duration::from_secs(5),
                order_rate_per_sec: 10,
                keep_warm: Duration::from_secs(15),
                dry_run: false,
                journal_dir: dir.to_path_buf(),
                start_ms: obi_scalp::clock::wall_ns() / 1_000_000,
                client_id_prefix: "obi".into(),
                on_start: obi_scalp::config::OnStart::Refuse,
                reconcile_interval: Duration::from_secs(60),
            },
            Duration::from_millis(20),
            Duration::from_millis(500),
        )
        .unwrap()
    }
}

fn place(id: u64, side: OrderSide, px: i64, qty: i64) -> OrderCmd {
    OrderCmd::Place {
        id,
        side,
        px,
        qty,
        tif: Tif::Gtc,
        reduce_only: false,
    }
}

fn lots(s: &str) -> i64 {
    inst().lot.parse(s.as_bytes()).unwrap()
}

/// The gateway's position and cash equal the simulator's account exactly.
fn assert_gateway_agrees(g: &CoincheckLive, st: &Value) {
    let (pos, cash) = g.balance();
    assert_eq!(
        pos,
        st["position_lots"].as_i64().unwrap() - st["start_position_lots"].as_i64().unwrap()
    );
    assert_eq!(cash.to_string(), st["cash_change_money"].as_str().unwrap());
}

#[test]
fn place_ack_fill_booked_with_the_venues_fee() {
    let dir = tmpdir("fill");
    let sim = in_sim(&dir, &[]);
    let (_, ask) = sim.touch();
    let mut g = sim.gateway(&dir, Duration::from_secs(2));
    let mut reports = Vec::new();
    // Well above the ask: takes at once (a taker, at the venue's prices).
    g.on_cmd(
        0,
        place(1, OrderSide::Buy, ask + 5_000, lots("0.001")),
        &mut |r| reports.push(r),
    );
    let filled = pump(&mut g, &mut reports, Duration::from_secs(10), &|r| {
        r.iter()
            .any(|r| matches!(r.kind, ExecKind::Fill { leaves, .. } if leaves == 0))
    });
    assert!(filled, "filled: {reports:?}");
    assert_eq!(reports[0].kind, ExecKind::Accepted, "acknowledged first");
    let st = state_at(sim.port(), &sim.ca);
    let fills = st["fills"].as_array().unwrap();
    let ours: Vec<(i64, i64, String)> = reports
        .iter()
        .filter_map(|r| match r.kind {
            ExecKind::Fill { px, qty, fee, .. } => Some((px, qty, fee.to_string())),
            _ => None,
        })
        .collect();
    let venue: Vec<(i64, i64, String)> = fills
        .iter()
        .map(|f| {
            (
                f["px_ticks"].as_i64().unwrap(),
                f["qty_lots"].as_i64().unwrap(),
                f["fee_money"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ours, venue, "every fill at the venue's price and fee");
    assert!(
        venue.iter().all(|f| f.2 != "0"),
        "a taker fee is charged: {venue:?}"
    );
    assert_gateway_agrees(&g, &st);
    let stats = g.stats();
    assert_eq!(LiveStats::get(&stats.polled_fills), fills.len() as u64);
    assert_eq!(LiveStats::get(&stats.places), 1);
}

#[test]
fn cancel_of_a_resting_order_is_confirmed_at_the_venue() {
    let dir = tmpdir("cancel");
    let sim = in_sim(&dir, &[]);
    let (bid, _) = sim.touch();
    let mut g = sim.gateway(&dir, Duration::from_secs(2));
    let mut reports = Vec::new();
    g.on_cmd(
        0,
        place(1, OrderSide::Buy, bid - 100_000, lots("0.01")),
        &mut |r| reports.push(r),
    );
    assert!(pump(&mut g, &mut reports, Duration::from_secs(10), &|r| r
        .iter()
        .any(|r| r.kind == ExecKind::Accepted)));
    let st = state_at(sim.port(), &sim.ca);
    assert_eq!(st["orders"][0]["status"], "new");
    g.on_cmd(0, OrderCmd::Cancel { id: 1 }, &mut |r| reports.push(r));
    let done = pump(&mut g, &mut reports, Duration::from_secs(10), &|r| {
        r.iter()
            .any(|r| matches!(r.kind, ExecKind::Cancelled { .. }))
    });
    assert!(done, "{reports:?}");
    let st = state_at(sim.port(), &sim.ca);
    assert_eq!(st["orders"].as_array().unwrap().len(), 1);
    assert_eq!(st["orders"][0]["status"], "cancelled");
    assert!(!g.busy(), "nothing left working");
}

#[test]
fn unanswered_places_are_resolved_without_a_second_order() {
    let dir = tmpdir("lostack");
    // The first order request: not executed, never answered; the second (order 1 sent once
    // more): executed (it rests), never answered.
    let sim = in_sim(&dir, &["timeout", "lostack"]);
    let (bid, ask) = sim.touch();
    let mut g = sim.gateway(&dir, Duration::from_millis(500));
    let mut reports = Vec::new();
    // Order 1 meets the `timeout`: absent at the venue, sent once more; that copy meets the
    // `lostack`: placed, found in the open orders, not sent again.
    g.on_cmd(
        0,
        place(1, OrderSide::Buy, bid - 100_000, lots("0.01")),
        &mut |r| reports.push(r),
    );
    assert!(pump(&mut g, &mut reports, Duration::from_secs(10), &|r| r
        .iter()
        .any(|r| r.id == 1 && r.kind == ExecKind::Accepted)));
    // Order 2 goes through as usual, and is not taken for the lost one.
    g.on_cmd(
        0,
        place(2, OrderSide::Sell, ask + 100_000, lots("0.02")),
        &mut |r| reports.push(r),
    );
    assert!(
        pump(&mut g, &mut reports, Duration::from_secs(10), &|r| r
            .iter()
            .any(|r| r.id == 2 && r.kind == ExecKind::Accepted)),
        "{reports:?}"
    );
    let st = state_at(sim.port(), &sim.ca);
    let orders = st["orders"].as_array().unwrap();
    assert_eq!(st["venue"]["unanswered_requests"].as_u64(), Some(2));
    assert_eq!(
        orders.len(),
        2,
        "one order at the venue per order of ours: {orders:?}"
    );
    assert_eq!(st["place_requests"].as_u64(), Some(2));
    let stats = g.stats();
    assert_eq!(LiveStats::get(&stats.timeouts), 2);
    assert_eq!(
        LiveStats::get(&stats.resends),
        1,
        "only the unexecuted one re-sent"
    );
    // Both are ours: a cancel-all cancels both at the venue.
    g.on_cmd(0, OrderCmd::CancelAll, &mut |r| reports.push(r));
    assert!(pump(&mut g, &mut reports, Duration::from_secs(10), &|r| r
        .iter()
        .filter(|r| matches!(r.kind, ExecKind::Cancelled { .. }))
        .count()
        == 2));
    let st = state_at(sim.port(), &sim.ca);
    assert!(st["orders"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["status"] == "cancelled"));
}

// ---------------------------------------------------------------------------------------------
// `obi-scalp run` in live mode against `obi-scalp sim`.

fn start_sim(dir: &Path, account: &Path) -> Sim {
    live_sim::start_sim("coincheck", dir, account, &[])
}

/// The repository's test account with fees (maker 1 bp, taker 2 bp) so that they show.
fn account_with_fees(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("config/sim-account-coincheck.toml"))
        .unwrap()
        .replace("maker_fee_bps = \"0\"", "maker_fee_bps = \"1\"")
        .replace("taker_fee_bps = \"0\"", "taker_fee_bps = \"2\"");
    let p = dir.join("account.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn live_config(dir: &Path, sim: &Sim, secs: u64, edits: &[(&str, &str)]) -> PathBuf {
    live_sim::sim_live_config("coincheck", 19101, dir, sim, secs, edits)
}

fn run_live(cfg: &Path, secret: &str) -> RunOut {
    let mut c = std::process::Command::new(live_sim::bin());
    c.args(["run", "--config"])
        .arg(cfg)
        .env("OBI_SCALP_LIVE", "yes")
        .env("OBI_SCALP_API_KEY", KEY)
        .env("OBI_SCALP_API_SECRET", secret)
        .env_remove("CREDENTIALS_DIRECTORY");
    run_output(c)
}

#[test]
fn live_run_trades_and_books_exactly_what_the_venue_did() {
    let dir = tmpdir("run");
    let sim = start_sim(&dir, &account_with_fees(&dir));
    let secs = live_secs();
    let cfg = live_config(&dir, &sim, secs, &[]);
    let t0 = Instant::now();
    let out = run_live(&cfg, SECRET);
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(t0.elapsed() >= Duration::from_secs(secs));
    assert!(
        out.stdout.contains("btc_jpy live trading") && !out.stdout.contains("paper trading"),
        "{}",
        out.stdout.lines().next().unwrap_or("")
    );
    let st = state_at(sim.port, &sim.ca);
    let c = sim_counts(&st);
    assert!(c.orders >= 5, "it trades");
    assert!(c.filled > 0 && c.cancelled > 0, "filled and cancelled");
    assert_eq!(c.open, 0, "the stop cancels everything that rests");
    assert_eq!(c.rejected, 0);
    // Every order the bot sent is held once by the simulator (no client id: the simulator's
    // count of place requests is the test), and every fill was polled.
    let sent: u64 = field(&out.stdout, "summary:", "orders").parse().unwrap();
    assert_eq!(st["place_requests"].as_u64(), Some(sent));
    assert_eq!(c.orders as u64, sent);
    assert_eq!(field(&out.stdout, "coincheck live:", "timeouts"), "0");
    assert_eq!(
        field(&out.stdout, "coincheck live:", "polled_fills")
            .parse::<usize>()
            .unwrap(),
        c.fills,
        "every fill polled once"
    );
    live_sim::assert_books_agree(&out.stdout, &st);
    assert_ne!(st["fees_money"].as_str().unwrap(), "0", "fees were charged");
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
}

#[test]
fn wrong_secret_is_exit_code_4_at_start_up() {
    let dir = tmpdir("auth");
    let sim = start_sim(&dir, &repo().join("config/sim-account-coincheck.toml"));
    let cfg = live_config(&dir, &sim, 5, &[]);
    let out = run_live(&cfg, "not-the-secret");
    assert_eq!(
        out.code,
        Some(4),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("invalid authentication"),
        "{}",
        out.stderr
    );
    assert_eq!(
        state_at(sim.port, &sim.ca)["place_requests"].as_u64(),
        Some(0)
    );
}

#[test]
fn dry_run_signs_and_journals_without_sending() {
    let dir = tmpdir("dry");
    let sim = start_sim(&dir, &repo().join("config/sim-account-coincheck.toml"));
    let cfg = live_config(&dir, &sim, 6, &[("dry_run = false", "dry_run = true")]);
    let out = run_live(&cfg, SECRET);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let st = state_at(sim.port, &sim.ca);
    assert_eq!(st["place_requests"].as_u64(), Some(0), "nothing sent");
    let journal =
        std::fs::read_to_string(dir.join("var/artifacts/dry-run-requests.jsonl")).unwrap();
    let lines: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["path"] == "/api/exchange/orders"
            && l["payload"]
                .as_str()
                .unwrap()
                .contains("\"pair\":\"btc_jpy\"")),
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
fn sighup_rotated_credentials_reach_the_running_gateway() {
    let dir = tmpdir("rotate");
    let sim = start_sim(&dir, &repo().join("config/sim-account-coincheck.toml"));
    let cfg = live_config(&dir, &sim, 300, &[]);
    let (out, st) =
        live_sim::sighup_rotation_test("coincheck live:", &dir, &cfg, &sim, KEY, SECRET);
    live_sim::assert_books_agree(&out.stdout, &st);
}

#[test]
fn keys_rotated_without_sighup_is_a_risk_abort() {
    let dir = tmpdir("authabort");
    let sim = start_sim(&dir, &repo().join("config/sim-account-coincheck.toml"));
    let cfg = live_config(&dir, &sim, 300, &[]);
    let run = live_sim::live_command(&cfg, KEY, SECRET, None);
    live_sim::auth_abort_test("coincheck live:", run, &sim);
}

/// The kill switch with orders open ([`live_sim::kill_switch_test`]): 3 buys far from the
/// market, then the order stage's cancel-all; 20 trials, paced under the venue's order rate
/// (10/s); p50 and p99 printed.
#[test]
fn kill_switch_cancels_every_open_order() {
    let dir = tmpdir("kill");
    let sim = in_sim(&dir, &[]);
    let (bid, _) = sim.touch();
    let mut g = sim.gateway(&dir, Duration::from_secs(2));
    let stats = g.stats();
    let k = live_sim::KillSwitch {
        venue: "coincheck",
        port: sim.port(),
        ca: &sim.ca,
        px: bid - 100_000,
        qty: lots("0.01"),
        pace: Duration::from_millis(700),
    };
    live_sim::kill_switch_test(&mut g, &stats, k);
}

/// A refusal that passes must not leave our orders resting: another client of the same key
/// (as `obi-scalp drill` run on the bot's key) moves Coincheck's nonce 3 s ahead of the wall
/// clock, so the gateway's next request is refused ("Nonce must be incremented", an auth-class
/// error): the run aborts (`venue_auth_failed`, exit 7) and sends no new order, but its cancels
/// still go out, and once its nonce is ahead again they are taken: nothing of ours rests at the
/// end. (Before: every cancel was dropped unsent after the refusal, and the resting entry
/// outlived the run.)
#[test]
fn a_passing_nonce_refusal_aborts_without_leaving_orders_resting() {
    use obi_scalp::venue::coincheck::private::{CoincheckRequests, BALANCE_PATH};
    let dir = tmpdir("noncejump");
    let sim = start_sim(&dir, &repo().join("config/sim-account-coincheck.toml"));
    let cfg = live_config(&dir, &sim, 300, live_sim::RESTING_ENTRY);
    let mut r = live_sim::Running::spawn(live_sim::live_command(&cfg, KEY, SECRET, None));
    live_sim::wait_until(Duration::from_secs(60), "a resting order of ours", || {
        assert!(r.running(), "the run ended early:\n{}", r.stderr());
        live_sim::open_orders(&live_sim::state_at(sim.port, &sim.ca)) > 0
    });
    let i = inst();
    let mut other = CoincheckRequests::new(
        &format!("https://127.0.0.1:{}", sim.port),
        KEY,
        SECRET.as_bytes(),
        "btc_jpy",
        i.tick,
        i.lot,
    )
    .unwrap();
    let ahead = obi_scalp::clock::wall_ns() / 1_000_000 + 3_000;
    let req = other.get(ahead, BALANCE_PATH).unwrap();
    assert_eq!(live_sim::send_raw(sim.port, &sim.ca, req.bytes()), 200);
    let out = r.wait(Duration::from_secs(30));
    println!("{}", out.stdout);
    assert_eq!(
        out.code,
        Some(7),
        "exit 7 (risk abort); stderr:\n{}",
        out.stderr
    );
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("venue_auth_failed"),
        "reason venue_auth_failed"
    );
    let st = live_sim::state_at(sim.port, &sim.ca);
    assert_eq!(
        live_sim::open_orders(&st),
        0,
        "orders left resting at the venue: {}",
        st["orders"]
    );
}
