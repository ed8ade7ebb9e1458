//! Helpers for the live-gateway tests that run `obi-scalp sim` (TLS, with a test account) and
//! `obi-scalp run` in live mode against it: the simulator child, `/sim/state`, the run's
//! output and its `key=value` lines.
#![allow(dead_code)]

use obi_scalp::config::OnStart;
use obi_scalp::exec::live::{LiveStartError, LiveStats};
use obi_scalp::exec::Gateway;
use obi_scalp::instrument::{Instrument, Venue};
use obi_scalp::msg::{ExecKind, ExecReport, OrderCmd, OrderSide, Tif};
use obi_scalp::sim::fault::FaultSpec;
use obi_scalp::sim::private::{PrivateApi, PrivateSide};
use obi_scalp::sim::server::{SimConfig, SimServer, TlsSetup};
use obi_scalp::sim::SyntheticFeed;
use obi_scalp::venue::bybit::recon::StartReport;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_obi-scalp")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh temporary directory `obi-<prefix>-<name>-<pid>`.
pub fn tmpdir(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The simulator, killed on drop.
pub struct Sim {
    child: Child,
    pub port: u16,
    pub ca: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the TLS simulator of `venue` with `account` and `faults` on a free port; waits
/// (bounded: ten lines) for its address line.
pub fn start_sim(venue: &str, dir: &Path, account: &Path, faults: &[&str]) -> Sim {
    let tls = dir.join("sim-tls");
    let mut cmd = Command::new(bin());
    cmd.args(["sim", "--venue", venue, "--listen", "127.0.0.1:0"])
        .arg("--tls-self-signed")
        .arg(&tls)
        .arg("--account")
        .arg(account)
        .args(["--duration", "300"]);
    for f in faults {
        cmd.args(["--fault", f]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut port = None;
    let mut line = String::new();
    for _ in 0..10 {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(rest) = line.split("https://127.0.0.1:").nth(1) {
            port = rest.trim().split('/').next().and_then(|p| p.parse().ok());
            break;
        }
    }
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while out.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    Sim {
        child,
        port: port.expect("simulator printed its address"),
        ca: tls.join("ca.pem"),
    }
}

/// `GET /sim/state` of the simulator on `port`.
pub fn state_at(port: u16, ca: &Path) -> Value {
    let (status, body) = obi_scalp::net::rest::get(
        &format!("https://127.0.0.1:{port}/sim/state"),
        Some(ca),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

pub struct RunOut {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end.
pub fn run_output(mut cmd: Command) -> RunOut {
    let out = cmd.output().unwrap();
    RunOut {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `key=value` from the line of stdout starting with `prefix`.
pub fn field(stdout: &str, prefix: &str, key: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"));
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .trim_matches('"')
        .to_string()
}

/// A live run's length: `OBI_LIVE_TEST_SECS`, 12 s by default (to keep the suite fast).
pub fn live_secs() -> u64 {
    std::env::var("OBI_LIVE_TEST_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

/// What `/sim/state` holds: orders by how they ended, and fills.
#[derive(Debug)]
pub struct SimCounts {
    pub orders: usize,
    pub filled: usize,
    pub cancelled: usize,
    /// Orders that executed part of their size (and were then cancelled, or still rest).
    pub part: usize,
    pub open: usize,
    pub rejected: usize,
    pub fills: usize,
}

pub fn sim_counts(st: &Value) -> SimCounts {
    let orders = st["orders"].as_array().unwrap();
    let n = |f: &dyn Fn(&Value) -> bool| orders.iter().filter(|o| f(o)).count();
    let c = SimCounts {
        orders: orders.len(),
        filled: n(&|o| o["status"] == "filled"),
        cancelled: n(&|o| o["status"] == "cancelled"),
        part: n(&|o| {
            let (c, q) = (
                o["cum_lots"].as_i64().unwrap(),
                o["qty_lots"].as_i64().unwrap(),
            );
            c > 0 && c < q
        }),
        open: n(&|o| o["status"] == "new" || o["status"] == "partially_filled"),
        rejected: n(&|o| o["status"] == "rejected"),
        fills: st["fills"].as_array().unwrap().len(),
    };
    println!(
        "sim: orders={} filled={} cancelled={} part_filled={} open={} rejected={} fills={}",
        c.orders, c.filled, c.cancelled, c.part, c.open, c.rejected, c.fills
    );
    c
}

/// The run's `ledger:` line (position, cash change and fees) equals the simulator's account
/// exactly.
pub fn assert_books_agree(stdout: &str, st: &Value) {
    let pos: i64 = field(stdout, "ledger:", "position_lots").parse().unwrap();
    let sim_pos =
        st["position_lots"].as_i64().unwrap() - st["start_position_lots"].as_i64().unwrap();
    assert_eq!(pos, sim_pos, "position (lots)");
    assert_eq!(
        field(stdout, "ledger:", "cash_money"),
        st["cash_change_money"].as_str().unwrap(),
        "cash change"
    );
    assert_eq!(
        field(stdout, "ledger:", "fees_money"),
        st["fees_money"].as_str().unwrap(),
        "fees"
    );
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET path` on the run's ops server (empty when it does not answer).
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut b = String::new();
    let _ = s.read_to_string(&mut b);
    b.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// `/health/detailed` of the run's ops server, parsed.
pub fn detailed(port: u16) -> Option<Value> {
    serde_json::from_str(&http_get(port, "/health/detailed")).ok()
}

// ---------------------------------------------------------------------------------------------
// Credentials in files, rotated while the run goes on (SIGHUP), and the simulator's keys.

/// Writes `api_key` and `api_secret` into the credentials directory `dir` (as systemd's
/// `LoadCredential=` gives them) the way an operator replaces them: write, then rename.
pub fn put_creds(dir: &Path, key: &str, secret: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, v) in [("api_key", key), ("api_secret", secret)] {
        let tmp = dir.join(format!(".{name}.new"));
        std::fs::write(&tmp, format!("{v}\n")).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// A running child (`obi-scalp run`), its stdout and stderr collected on threads; killed on
/// drop if still running.
pub struct Running {
    child: Child,
    out: std::sync::Arc<std::sync::Mutex<String>>,
    err: std::sync::Arc<std::sync::Mutex<String>>,
}

fn collect(r: impl std::io::Read + Send + 'static) -> std::sync::Arc<std::sync::Mutex<String>> {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            b.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    buf
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        Running { child, out, err }
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// `kill -SIG` (`"HUP"`, `"TERM"`) to the child.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} of the run");
    }

    /// Waits (at most `limit`) for the exit; then the output collected.
    pub fn wait(mut self, limit: Duration) -> RunOut {
        let end = std::time::Instant::now() + limit;
        let code = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st.code();
            }
            if std::time::Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the run did not exit within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The readers finish at the pipes' end (bounded: the child is gone).
        for _ in 0..200 {
            if std::sync::Arc::strong_count(&self.out) == 1
                && std::sync::Arc::strong_count(&self.err) == 1
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        RunOut {
            code,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `POST path` on the simulator (its control hooks); the answer, which must be 200.
pub fn post_sim(port: u16, ca: &Path, path: &str, body: &str) -> Value {
    let (status, b) = obi_scalp::net::rest::post_json(
        &format!("https://127.0.0.1:{port}{path}"),
        Some(ca),
        body,
        Duration::from_secs(5),
    )
    .unwrap();
    let text = String::from_utf8_lossy(&b).into_owned();
    assert_eq!(status, 200, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Polls `f` every 20 ms until it holds, at most `limit`; panics naming `what` otherwise.
pub fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("not within {limit:?}: {what}");
}

/// Requests the simulator accepted signed with its key pair `index` (0: the account file's).
pub fn key_accepted(st: &Value, index: usize) -> u64 {
    st["venue"]["keys"][index]["accepted"].as_u64().unwrap_or(0)
}

/// The rotation drill on a live `obi-scalp run` (`run`: its command, credentials read from
/// `creds`, which holds the first pair) against the simulator on `port`:
/// 1. the run trades with the first pair;
/// 2. the simulator gets the new pair and keeps the old one for now (a venue's second key);
/// 3. the credentials files are rewritten with the new pair and the run gets SIGHUP;
/// 4. the simulator sees requests signed with the new pair (bounded wait: the gateway picked
///    it up without a restart);
/// 5. the old pair is retired at the simulator: orders continue, none refused;
/// 6. SIGTERM: the output, for the caller's checks (exit code, books, no auth error).
pub fn sighup_rotation_drill(
    run: Command,
    creds: &Path,
    port: u16,
    ca: &Path,
    new_key: &str,
    new_secret: &str,
) -> (RunOut, Value) {
    let state = || state_at(port, ca);
    let orders = |st: &Value| st["orders"].as_array().map_or(0, Vec::len);
    let mut r = Running::spawn(run);
    wait_until(
        Duration::from_secs(60),
        "orders with the first pair",
        || {
            assert!(r.running(), "the run ended early:\n{}", r.stderr());
            let st = state();
            orders(&st) >= 2 && key_accepted(&st, 0) > 0
        },
    );
    assert!(r.running(), "the run ended early:\n{}", r.stderr());
    let rot = post_sim(
        port,
        ca,
        "/sim/rotate",
        &format!(r#"{{"api_key":"{new_key}","api_secret":"{new_secret}","keep_old":true}}"#),
    );
    assert_eq!(rot["rotations"], 1);
    put_creds(creds, new_key, new_secret);
    r.signal("HUP");
    wait_until(
        Duration::from_secs(10),
        "the run's 'SIGHUP: secrets reloaded'",
        || r.stderr().contains("SIGHUP: secrets reloaded"),
    );
    assert!(
        r.stderr()
            .lines()
            .any(|l| l.contains("SIGHUP: secrets reloaded") && l.contains("changed=true")),
        "the reload saw the new pair:\n{}",
        r.stderr()
    );
    wait_until(
        Duration::from_secs(15),
        "a request signed with the new pair accepted by the simulator (the running gateway \
         still signs with the old one)",
        || key_accepted(&state(), 1) > 0,
    );
    post_sim(port, ca, "/sim/rotate", r#"{"retire_old":true}"#);
    let retired = state();
    let (n0, old0) = (orders(&retired), key_accepted(&retired, 0));
    wait_until(
        Duration::from_secs(30),
        "three more orders after the old pair was retired",
        || orders(&state()) >= n0 + 3,
    );
    assert!(
        r.running(),
        "the run ended after the rotation:\n{}",
        r.stderr()
    );
    let st = state();
    assert_eq!(
        key_accepted(&st, 0),
        old0,
        "nothing signed with the retired pair"
    );
    assert_eq!(
        st["venue"]["auth_failures"].as_u64(),
        Some(0),
        "no request refused"
    );
    r.signal("TERM");
    let out = r.wait(Duration::from_secs(30));
    (out, state_at(port, ca))
}

/// The simulator's keys replaced at once (`POST /sim/rotate`, no grace) under a trading live
/// `obi-scalp run` that gets no SIGHUP: its next signed request is refused, which must be a
/// risk abort (`venue_auth_failed`, exit code 7) within `limit`, not a retry loop (the
/// rotation comes while a position is open: the abort's flatten is refused too, and must not
/// be sent again and again). Returns the output and the time from the rotation to the exit.
pub fn auth_abort_drill(run: Command, port: u16, ca: &Path, limit: Duration) -> (RunOut, Duration) {
    let mut r = Running::spawn(run);
    // With a position open, so that the abort's flatten order is among what is refused.
    wait_until(
        Duration::from_secs(60),
        "a position open before the rotation",
        || {
            assert!(r.running(), "the run ended early:\n{}", r.stderr());
            let st = state_at(port, ca);
            st["orders"].as_array().map_or(0, Vec::len) >= 2
                && st["position_lots"] != st["start_position_lots"]
        },
    );
    assert!(r.running(), "the run ended early:\n{}", r.stderr());
    post_sim(
        port,
        ca,
        "/sim/rotate",
        r#"{"api_key":"obiSIMrotatedKEY02","api_secret":"obi-sim-rotated-secret-set-b-test"}"#,
    );
    let t0 = std::time::Instant::now();
    let out = r.wait(limit);
    (out, t0.elapsed())
}

/// Ours that rest at the simulator (`new` or `partially_filled`).
pub fn open_orders(st: &Value) -> usize {
    st["orders"].as_array().map_or(0, |o| {
        o.iter()
            .filter(|o| matches!(o["status"].as_str(), Some("new" | "partially_filled")))
            .count()
    })
}

/// Config edits that keep an entry resting far from the touch (200 ticks passive, no timeout
/// within a test) on the sim-*-live.toml configs.
pub const RESTING_ENTRY: &[(&str, &str)] = &[
    (
        "entry_offset = 0",
        "entry_offset = -200\nmax_entry_offset = 200",
    ),
    ("entry_timeout_ms = 300", "entry_timeout_ms = 600000"),
];

/// Sends one ready-made HTTP request (`bytes`, e.g. a signed request built by a venue's request
/// builder) to the simulator over TLS; the answer's status code.
pub fn send_raw(port: u16, ca: &Path, bytes: &[u8]) -> u16 {
    use std::io::Write;
    let cfg = obi_scalp::net::tls::client_config(Some(ca)).unwrap();
    let name = obi_scalp::net::tls::server_name("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(cfg, name).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    tls.get_mut().write_all(bytes).unwrap();
    tls.get_mut().flush().unwrap();
    let mut line = String::new();
    tls.read_line(&mut line).unwrap();
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {line:?}"))
}

/// `obi-scalp run --config CFG` in live mode; credentials in files under `creds` when given
/// (as systemd's `LoadCredential=` gives them), else `key` and `secret` in the environment.
pub fn live_command(cfg: &Path, key: &str, secret: &str, creds: Option<&Path>) -> Command {
    let mut c = Command::new(bin());
    c.args(["run", "--config"])
        .arg(cfg)
        .env("OBI_SCALP_LIVE", "yes");
    match creds {
        Some(d) => {
            c.env("CREDENTIALS_DIRECTORY", d)
                .env_remove("OBI_SCALP_API_KEY")
                .env_remove("OBI_SCALP_API_SECRET");
        }
        None => {
            c.env("OBI_SCALP_API_KEY", key)
                .env("OBI_SCALP_API_SECRET", secret)
                .env_remove("CREDENTIALS_DIRECTORY");
        }
    }
    c
}

/// The second key pair the rotation drills give the simulator.
pub const KEY_B: &str = "obiSIMrotatedKEY02";
pub const SECRET_B: &str = "obi-sim-rotated-secret-set-b-test";

/// `sighup_rotated_credentials_reach_the_running_gateway` for one venue: [`sighup_rotation_drill`]
/// on a run (`cfg`, credentials `key`/`secret` in files under `dir/creds`) that must exit 0 with
/// no auth error on its `<label>` line ("bybit live:"), the new pair accepted, and no key or
/// secret in its output. Returns the output and the simulator's state at the end, for the
/// books check.
pub fn sighup_rotation_test(
    label: &str,
    dir: &Path,
    cfg: &Path,
    sim: &Sim,
    key: &str,
    secret: &str,
) -> (RunOut, Value) {
    let creds = dir.join("creds");
    put_creds(&creds, key, secret);
    let (out, st) = sighup_rotation_drill(
        live_command(cfg, key, secret, Some(&creds)),
        &creds,
        sim.port,
        &sim.ca,
        KEY_B,
        SECRET_B,
    );
    println!("{}", out.stdout);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert_eq!(field(&out.stdout, label, "auth_errors"), "0");
    assert!(key_accepted(&st, 1) > 0);
    for s in [key, secret, KEY_B, SECRET_B] {
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "a secret in the output"
        );
    }
    (out, st)
}

/// `keys_rotated_without_sighup_is_a_risk_abort` for one venue: [`auth_abort_drill`] on `run`
/// (15 s); it must exit 7 for `venue_auth_failed`, count the refusal on its `<label>` line,
/// and the simulator must have refused few requests (no retry loop: the flatten is refused
/// locally, the cancels go out at most once a second).
pub fn auth_abort_test(label: &str, run: Command, sim: &Sim) {
    let (out, dt) = auth_abort_drill(run, sim.port, &sim.ca, Duration::from_secs(15));
    println!(
        "{}\nexit {:?} {dt:?} after the rotation",
        out.stdout, out.code
    );
    assert_eq!(
        out.code,
        Some(7),
        "exit code 7 (risk abort); stderr:\n{}",
        out.stderr
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("venue_auth_failed"),
        "reason venue_auth_failed:\n{all}"
    );
    assert!(
        field(&out.stdout, label, "auth_errors")
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let refused = state_at(sim.port, &sim.ca)["venue"]["auth_failures"]
        .as_u64()
        .unwrap();
    println!("{refused} requests refused");
    // The first refusal, the cancel-alls (the abort's, the exit's: one request per order or
    // one in all) and the strategy's single cancels at most once a second while refused
    // (`BLOCKED_CANCEL_GAP_NS`): no retry loop (35-63 refusals before the abort stopped the
    // flatten; 15 when the cancels went out unbounded).
    let bound = 4 + dt.as_secs();
    assert!(
        (1..=bound).contains(&refused),
        "{refused} requests refused in {dt:?} (at most {bound}):\n{}",
        out.stderr
    );
}

// The kill switch on a gateway alone (no strategy), any venue's.

/// Polls `g` until `done` (bounded), 200 µs apart; returns whether it was.
pub fn pump<G: Gateway>(
    g: &mut G,
    reports: &mut Vec<ExecReport>,
    limit: Duration,
    done: &dyn Fn(&[ExecReport]) -> bool,
) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        g.poll(&mut |r| reports.push(r));
        if done(reports) {
            return true;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    false
}

/// Polls `g` without sleeping until `done` (bounded): for timing.
fn spin_until<G: Gateway>(
    g: &mut G,
    reports: &mut Vec<ExecReport>,
    limit: Duration,
    done: &dyn Fn() -> bool,
) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        g.poll(&mut |r| reports.push(r));
        if done() {
            return true;
        }
        std::hint::spin_loop();
    }
    false
}

/// What [`kill_switch_test`] rests and where.
pub struct KillSwitch<'a> {
    /// Names the printed line ("coincheck").
    pub venue: &'a str,
    pub port: u16,
    pub ca: &'a Path,
    /// The resting buys' price (far from the market) and size, in ticks and lots.
    pub px: i64,
    pub qty: i64,
    /// Between trials: under the venue's order rate (3 places and 3 cancels a trial; pacing,
    /// not waiting for an event).
    pub pace: Duration,
}

/// `kill_switch_cancels_every_open_order` for one venue: `g` (whose counters are `stats`)
/// rests 3 buys, then the order stage's cancel-all (what the kill switch sends); 20 trials.
/// Every order must be cancelled at the simulator; printed: the trigger (the cancel-all
/// command) to the gateway's cancel-all acknowledgement (every order's cancel answered by the
/// venue, and its executed size read), p50 and p99 (of 20: the slowest but none), loopback TLS.
pub fn kill_switch_test<G: Gateway>(g: &mut G, stats: &LiveStats, k: KillSwitch) {
    let per_trial = 3;
    let mut next_id = 1u64;
    let mut lat_ms = Vec::new();
    let mut gw_ms = Vec::new();
    let mut reports = Vec::with_capacity(4096);
    for trial in 0..20 {
        if trial > 0 {
            std::thread::sleep(k.pace);
        }
        reports.clear();
        let first = next_id;
        for _ in 0..per_trial {
            let cmd = OrderCmd::Place {
                id: next_id,
                side: OrderSide::Buy,
                px: k.px,
                qty: k.qty,
                tif: Tif::Gtc,
                reduce_only: false,
            };
            g.on_cmd(0, cmd, &mut |r| reports.push(r));
            next_id += 1;
        }
        let acked = pump(g, &mut reports, Duration::from_secs(10), &|r| {
            r.iter().filter(|r| r.kind == ExecKind::Accepted).count() == per_trial
        });
        assert!(acked, "trial {trial}: orders acknowledged: {reports:?}");
        let acks_before = LiveStats::get(&stats.cancel_all_acks);
        let t0 = Instant::now();
        g.on_cmd(0, OrderCmd::CancelAll, &mut |r| reports.push(r));
        let ok = spin_until(g, &mut reports, Duration::from_secs(10), &|| {
            LiveStats::get(&stats.cancel_all_acks) > acks_before
        });
        let dt = t0.elapsed();
        assert!(ok, "trial {trial}: cancel-all acknowledged: {reports:?}");
        lat_ms.push(dt.as_secs_f64() * 1e3);
        gw_ms.push(LiveStats::get(&stats.last_cancel_all_ns) as f64 / 1e6);
        let all = pump(g, &mut reports, Duration::from_secs(10), &|r| {
            r.iter()
                .filter(|r| r.id >= first && matches!(r.kind, ExecKind::Cancelled { .. }))
                .count()
                == per_trial
        });
        assert!(
            all,
            "trial {trial}: every order reported cancelled: {reports:?}"
        );
        let st = state_at(k.port, k.ca);
        let open = st["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "new" || o["status"] == "partially_filled")
            .count();
        assert_eq!(open, 0, "trial {trial}: nothing open at the simulator");
    }
    let st = state_at(k.port, k.ca);
    let orders = st["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 20 * per_trial);
    assert!(
        orders.iter().all(|o| o["status"] == "cancelled"),
        "all cancelled at the simulator"
    );
    let pct = |v: &mut Vec<f64>, p: usize| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[(v.len() * p / 100).min(v.len() - 1)]
    };
    let (p50, p99) = (pct(&mut lat_ms, 50), pct(&mut lat_ms, 99));
    let (g50, g99) = (pct(&mut gw_ms, 50), pct(&mut gw_ms, 99));
    println!(
        "{} kill switch (cancel-all command -> the gateway's cancel-all ack, every cancel \
         answered by the simulator, loopback TLS, {} trials of {per_trial} open orders): \
         p50 = {p50:.3} ms, p99 = {p99:.3} ms, min = {:.3} ms; the gateway's own figure \
         (last_cancel_all): p50 = {g50:.3} ms, p99 = {g99:.3} ms",
        k.venue,
        lat_ms.len(),
        lat_ms[0],
    );
    assert!(p50 < 1000.0, "p50 {p50} ms");
}

/// `config/sim-<venue>-live.toml` pointed at this simulator (the file's `127.0.0.1:<listen>`)
/// and this test's directory, running `secs`, with `edits` (each `from` must be in the file)
/// made first; written to `dir/live.toml`.
pub fn sim_live_config(
    venue: &str,
    listen: u16,
    dir: &Path,
    sim: &Sim,
    secs: u64,
    edits: &[(&str, &str)],
) -> PathBuf {
    let mut text =
        std::fs::read_to_string(repo().join(format!("config/sim-{venue}-live.toml"))).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "config has {from}");
        text = text.replace(from, to);
    }
    let text = text
        .replace(
            &format!("127.0.0.1:{listen}"),
            &format!("127.0.0.1:{}", sim.port),
        )
        .replace("var/sim-tls/ca.pem", &sim.ca.display().to_string())
        .replace(
            &format!("var/sim-{venue}-live"),
            &dir.join("var").display().to_string(),
        )
        .replace("duration_s = 60", &format!("duration_s = {secs}"));
    let p = dir.join("live.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// SIGTERM to a running `obi-scalp run` (a normal stop), then its output.
pub fn terminate(child: Child) -> RunOut {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    RunOut {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The risk reasons of a `/status/detailed` answer (none: empty).
pub fn reasons(v: &Value) -> Vec<String> {
    v["risk"]["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The `reconcile` events of the audit log under `dir/var/logs`.
pub fn reconcile_audit(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("var/logs/audit_events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|a| a["kind"] == "reconcile")
        .collect()
}

/// Starts a live run (`command` on the config `config` writes with the reconcile interval,
/// a drift limit of 100 in the quote coin and the HTTP endpoint on `http`), waits (`limit`)
/// for the first published drift, returns it with the child.
pub fn start_reconciling(
    config: impl FnOnce(&[(&str, &str)]) -> PathBuf,
    command: impl FnOnce(&Path) -> Command,
    http: u16,
    interval_ms: u64,
    limit: Duration,
) -> (Child, Value) {
    let cfg = config(&[
        (
            "on_start = \"refuse\"",
            &format!("on_start = \"refuse\"\nreconcile_interval_ms = {interval_ms}"),
        ),
        (
            "max_wallet_drift = \"100000\"",
            "max_wallet_drift = \"100\"",
        ),
        (
            "http_addr = \"off\"",
            &format!("http_addr = \"127.0.0.1:{http}\""),
        ),
    ]);
    let mut child = command(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if child.try_wait().unwrap().is_some() {
            let o = child.wait_with_output().unwrap();
            panic!(
                "the run ended early: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        if let Some(v) = detailed(http) {
            if v["pnl"]["wallet_drift"].is_string() && v["pnl"]["wallet_drift"] != "n/a" {
                return (child, v);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = terminate(child);
    panic!("no reconciliation published a drift: {}", out.stderr);
}

/// How [`day_loss_carried_test`] waits, and what it prints and reads.
pub struct DayLoss<'a> {
    /// Starts the printed line ("gmocoin: ", or "").
    pub label: &'a str,
    /// The `/metrics` day PnL's currency ("JPY").
    pub currency: &'a str,
    /// The first run: how long it may take to latch the limit and hold flat, and how often
    /// `/health/detailed` is read meanwhile.
    pub latch_within: Duration,
    pub every: Duration,
    /// How long the restart may take to show the carried day PnL.
    pub restart_within: Duration,
    /// After that, before `/metrics` and the stop (book updates an entry would go out on).
    pub settle: Duration,
}

/// `kill_9_then_restart_carries_the_days_loss_and_daily_loss_limit_still_bites` for one venue:
/// `command()` (its config with a tiny `daily_loss_limit`, the HTTP endpoint on `http` and
/// short journal intervals) trades until a loss latches the daily limit and holds flat (the
/// same day PnL seen twice, a journal interval and more apart, flat and degraded); then
/// `kill -9` and a restart, whose risk day PnL (on `/health/detailed` and `/metrics`) must be
/// the killed run's, still degraded, and with no new order sent.
pub fn day_loss_carried_test(command: impl Fn() -> Command, http: u16, sim: &Sim, d: DayLoss) {
    let mut child = command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + d.latch_within;
    let mut last: Option<String> = None;
    let mut settled = None;
    while Instant::now() < end {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        if let Some(v) = detailed(http) {
            let flat = v["position_lots"].as_i64() == Some(0);
            let latched = reasons(&v).contains(&"daily_loss_limit_exceeded".to_string());
            let day = v["risk"]["day_pnl"].as_str().map(String::from);
            if flat && latched && day.is_some() && day == last {
                settled = day;
                break;
            }
            last = if flat && latched { day } else { None };
        }
        std::thread::sleep(d.every);
    }
    let Some(before) = settled else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("a loss latched daily_loss_limit_exceeded and the bot held flat");
    };
    assert!(before.starts_with('-'), "a loss: {before}");
    child.kill().unwrap(); // SIGKILL: no summary, no journal close
    let _ = child.wait();
    let places_before = state_at(sim.port, &sim.ca)["place_requests"]
        .as_u64()
        .unwrap();
    // The restart.
    let mut child = command()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + d.restart_within;
    let mut after = None;
    while Instant::now() < end {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restart ended early"
        );
        if let Some(v) = detailed(http) {
            if v["book"] == "synced" && v["risk"]["day_pnl"].as_str() == Some(before.as_str()) {
                after = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(d.settle);
    let metrics = http_get(http, "/metrics");
    let out = terminate(child);
    let after = after.unwrap_or_else(|| {
        panic!(
            "the restart's risk day PnL is the killed run's {before}: {:?}\n{}",
            detailed(http),
            out.stderr
        )
    });
    println!(
        "{}day pnl before kill -9: {before}; after the restart: {}",
        d.label, after["risk"]["day_pnl"]
    );
    assert!(
        reasons(&after).contains(&"daily_loss_limit_exceeded".to_string()),
        "{after}"
    );
    assert_eq!(after["risk"]["status"], "degraded");
    assert!(
        metrics.contains(&format!(
            "obi_scalp_risk_day_pnl{{currency=\"{}\"}} {before}",
            d.currency
        )),
        "{metrics}"
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let sent: u64 = field(&out.stdout, "summary:", "orders").parse().unwrap();
    assert_eq!(
        sent, 0,
        "no entry while the carried daily loss holds: {}",
        out.stdout
    );
    assert_eq!(
        state_at(sim.port, &sim.ca)["place_requests"].as_u64(),
        Some(places_before)
    );
}

// Start-up reconciliation, a venue's gateway alone against an in-process simulator.

/// An in-process simulator of one venue and the gateway of that venue against it, for
/// [`on_start_tells_ours_from_foreign`].
pub trait StartupSim {
    type Gw: Gateway;
    /// A gateway whose record of our orders lives in `home`.
    fn gateway(&self, home: &Path, on_start: OnStart) -> Result<Self::Gw, LiveStartError>;
    /// The best bid (ticks).
    fn bid(&self) -> i64;
    /// The venue order ids of the simulator's open orders.
    fn open_ids(&self) -> Vec<String>;
    /// 0.001 of the instrument, in lots.
    fn small_qty(&self) -> i64;
    /// What the gateway's start-up reconciliation found and did.
    fn report(g: &Self::Gw) -> Option<&StartReport>;
    /// Whether order `id` works in the gateway's order table.
    fn working(g: &Self::Gw, id: u64) -> bool;
}

/// Polls `g` until `done` (10 s, 200 µs apart); panics naming the reports otherwise.
pub fn pump_until<G: Gateway>(
    g: &mut G,
    reports: &mut Vec<ExecReport>,
    done: &dyn Fn(&[ExecReport]) -> bool,
) {
    if !pump(g, reports, Duration::from_secs(10), done) {
        panic!("no such report: {reports:?}");
    }
}

/// Places a resting buy at `px` (far below the market) through a gateway living in `home`,
/// then drops the gateway (no cancel: what a crash leaves).
pub fn leave_resting<S: StartupSim>(sim: &S, home: &Path, px: i64) {
    let mut g = sim.gateway(home, OnStart::Adopt).unwrap();
    let mut reports = Vec::new();
    g.on_cmd(
        0,
        OrderCmd::Place {
            id: 1,
            side: OrderSide::Buy,
            px,
            qty: sim.small_qty(),
            tif: Tif::Gtc,
            reduce_only: false,
        },
        &mut |r| reports.push(r),
    );
    pump_until(&mut g, &mut reports, &|r| {
        r.iter().any(|r| r.kind == ExecKind::Accepted)
    });
}

/// `on_start_tells_ours_from_foreign_by_the_recorded_venue_ids` for one venue: a foreign
/// order (another client of the account, its own record) and one of ours (recorded in
/// `ours_file` under our home); `refuse` names ours and a foreign order alone does not refuse;
/// `adopt` takes ours into the order table (its cancel goes to the venue under its venue id)
/// and leaves the foreign one; `cancel_ours` cancels ours only. Returns our home directory.
pub fn on_start_tells_ours_from_foreign<S: StartupSim>(
    sim: &S,
    dir: &Path,
    ours_file: &str,
) -> PathBuf {
    let bid = sim.bid();
    let (ours_home, other_home) = (dir.join("ours"), dir.join("other"));
    leave_resting(sim, &other_home, bid / 2);
    leave_resting(sim, &ours_home, bid / 2 + 1);
    let recorded = std::fs::read_to_string(ours_home.join(ours_file)).unwrap();
    let ours_id = recorded.trim().to_string();
    let open = sim.open_ids();
    assert_eq!(open.len(), 2, "{open:?}");
    assert!(open.contains(&ours_id), "{open:?} {ours_id}");
    let foreign_id = open.iter().find(|o| **o != ours_id).unwrap().clone();

    // refuse: exit 10's error, naming ours.
    match sim.gateway(&ours_home, OnStart::Refuse) {
        Err(LiveStartError::Refused(m)) => assert!(m.contains(&ours_id), "{m}"),
        Err(e) => panic!("refuse: {e}"),
        Ok(_) => panic!("refuse started with our order open"),
    }
    // A foreign order alone does not refuse.
    let g = sim
        .gateway(&dir.join("empty"), OnStart::Refuse)
        .expect("foreign only");
    let r = S::report(&g).unwrap();
    assert_eq!((r.ours.len(), r.foreign.len()), (0, 2));
    drop(g);

    // adopt: ours in the order table (working), the foreign one reported and left alone.
    let mut g = sim.gateway(&ours_home, OnStart::Adopt).unwrap();
    let r = S::report(&g).unwrap().clone();
    assert_eq!(r.adopted.len(), 1);
    assert_eq!(r.adopted[0].1.order_id, ours_id);
    assert_eq!(r.foreign.len(), 1);
    assert_eq!(r.foreign[0].order_id, foreign_id);
    let adopted_id = r.adopted[0].0;
    assert!(S::working(&g, adopted_id));
    // Its cancel goes to the venue under its venue id.
    let mut reports = Vec::new();
    g.on_cmd(0, OrderCmd::Cancel { id: adopted_id }, &mut |r| {
        reports.push(r)
    });
    pump_until(&mut g, &mut reports, &|r| {
        r.iter()
            .any(|r| r.id == adopted_id && matches!(r.kind, ExecKind::Cancelled { .. }))
    });
    drop(g);
    assert_eq!(sim.open_ids(), vec![foreign_id.clone()]);

    // cancel_ours: ours cancelled, the foreign one untouched.
    leave_resting(sim, &ours_home, bid / 2 + 2);
    assert_eq!(sim.open_ids().len(), 2);
    let g = sim.gateway(&ours_home, OnStart::CancelOurs).unwrap();
    let r = S::report(&g).unwrap();
    assert_eq!(r.cancelled.len(), 1);
    assert_eq!(r.foreign.len(), 1);
    drop(g);
    assert_eq!(sim.open_ids(), vec![foreign_id]);
    ours_home
}

/// `POST path` on the simulator (its control hooks), which must answer 200 (the body unread).
pub fn sim_post(sim: &Sim, path: &str, body: &str) {
    let (status, b) = obi_scalp::net::rest::post_json(
        &format!("https://127.0.0.1:{}{path}", sim.port),
        Some(&sim.ca),
        body,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
}

// The TLS simulator in this process (a gateway's tests without `obi-scalp sim`).

/// A TLS simulator in this process.
pub struct InSim {
    pub server: SimServer,
    pub ca: PathBuf,
}

/// Starts one on a free port: `venue`'s synthetic feed (seed 7), the private side `api`, the
/// `faults`, a self-signed certificate under `dir/tls`.
pub fn in_process_sim(
    dir: &Path,
    venue: Venue,
    api: Box<dyn PrivateApi>,
    faults: &[&str],
) -> InSim {
    let mut cfg = SimConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.tls = Some(TlsSetup::SelfSigned {
        dir: dir.join("tls"),
    });
    cfg.private = Some(PrivateSide::new(api));
    cfg.faults = faults
        .iter()
        .map(|f| FaultSpec::parse(f).unwrap())
        .collect();
    let server =
        SimServer::start(Box::new(SyntheticFeed::default_for(venue, 7).unwrap()), cfg).unwrap();
    InSim {
        server,
        ca: dir.join("tls/ca.pem"),
    }
}

impl InSim {
    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    /// The best (bid, ask) of `symbol` (ticks of `inst`) once the market has one (bounded).
    pub fn touch_of(&self, symbol: &str, inst: &Instrument) -> (i64, i64) {
        for _ in 0..500 {
            if let Some((b, a)) = self.server.handle().feed_book(symbol) {
                if let (Some(b), Some(a)) = (b.first(), a.first()) {
                    return (
                        inst.tick.parse(b.0.as_bytes()).unwrap(),
                        inst.tick.parse(a.0.as_bytes()).unwrap(),
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the simulator's market never showed a book");
    }
}

/// `..._changed_behind_the_bots_back_is_a_risk_abort_reconcile_mismatch` for one venue: on a
/// run from [`start_reconciling`] (`child`, its `/health/detailed` on `http`), `POST
/// /sim/position` adds 0.005 of the base coin that no fill of ours explains; within 10 s risk
/// must abort with `reconcile_mismatch`, audited with the 0.005 unexplained.
pub fn position_mismatch_test(dir: &Path, sim: &Sim, child: Child, http: u16) {
    sim_post(sim, "/sim/position", r#"{"delta":"0.005"}"#);
    let t0 = Instant::now();
    let mut after = None;
    while t0.elapsed() < Duration::from_secs(10) {
        if let Some(v) = detailed(http) {
            if reasons(&v).contains(&"reconcile_mismatch".to_string()) {
                after = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = terminate(child);
    let after = after.unwrap_or_else(|| panic!("reconcile_mismatch: {}", out.stderr));
    assert_eq!(after["risk"]["status"], "abort", "{after}");
    assert!(
        reconcile_audit(dir)
            .iter()
            .any(|a| a["reason_code"] == "reconcile_mismatch"
                && a["unexplained"].as_str().unwrap_or("").starts_with("0.005")),
        "{:?}",
        reconcile_audit(dir)
    );
}

/// `a_reconnect_of_the_private_stream_reconciles_at_once`'s run: `command` (no timed
/// reconciliation, its `/health/detailed` on `http`) against a simulator that drops every
/// WebSocket once. The drift must read `n/a` first (no reconciliation before the drop), then a
/// value within `limit`: the reconciliation the reconnect made. Returns that value, when it
/// came (since `t0`, the simulator's start) and the run's output after SIGTERM.
pub fn first_drift_after_reconnect(
    mut command: Command,
    http: u16,
    t0: Instant,
    limit: Duration,
) -> (String, Duration, RunOut) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let drift = || detailed(http).map(|v| v["pnl"]["wallet_drift"].clone());
    let end = Instant::now() + limit;
    let mut seen_na = false;
    let mut after = None;
    while Instant::now() < end {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        match drift() {
            Some(Value::String(s)) if s == "n/a" => seen_na = true,
            Some(Value::String(s)) => {
                after = Some((s, t0.elapsed()));
                break;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = terminate(child);
    assert!(seen_na, "no reconciliation before the drop");
    let (drift, at) = after.expect("reconciled after the reconnect");
    (drift, at, out)
}
