//! Helpers for the live-gateway tests that run `obi-scalp sim` (TLS, with a test account) and
//! `obi-scalp run` in live mode against it: the simulator child, `/sim/state`, the run's
//! output and its `key=value` lines.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
