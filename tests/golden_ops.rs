//! The golden ops test: what an operator reads off a run, pinned exactly.
//!
//! A scripted run: the project's own simulator (`obi-scalp sim --venue bybit --synthetic`) on a
//! free 127.0.0.1 port, `obi-scalp run` in paper mode against it (`config/sim-bybit.toml` with
//! the port, an HTTP port of its own and the `[ops]` intervals set), then SIGTERM. Pinned:
//! the exact shape (every key path) of `/health/detailed` and `run_complete.json` and every
//! value in them that the script determines; `/metrics` has a series for every latency kind,
//! each histogram consistent. Then the exit code of every subcommand (`sim` included) on bad
//! arguments, a bad config and the failures each can have, against the one exit-code table
//! ([`obi_scalp::ops::Exit`]), and the README's table against that table.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use obi_scalp::ops::Exit;
use obi_scalp::pipeline::stats::LatencyKind;
use serde_json::Value;

#[path = "common/child.rs"]
mod child;
use child::{http, read_json, samples};

const BIN: &str = env!("CARGO_BIN_EXE_obi-scalp");

/// One GET: (status, body).
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http(addr, "GET", path, None).map(|r| (r.code, r.body))
}

fn workdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-golden-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = child::command(BIN, dir);
    c.args(args);
    c
}

/// A child process with its stdout and stderr collected by reader threads.
struct Proc {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Proc {
    /// Spawns `cmd` and waits (bounded) for its first line of stdout.
    fn start(cmd: Command, what: &str) -> (Proc, String) {
        let s = child::spawn_collecting(cmd, what);
        let p = Proc {
            child: s.child,
            stdout: s.stdout,
            stderr: s.stderr,
            readers: s.readers,
        };
        (p, s.first_line)
    }

    fn wait(&mut self, limit: Duration) -> i32 {
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                return st.code().unwrap_or(-1);
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "did not exit within {limit:?}; stdout:\n{}\nstderr:\n{}",
                    self.stdout.lock().unwrap(),
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[allow(unsafe_code)] // kill(2) has no safe wrapper in the dependencies
fn sigterm(pid: u32) {
    // SAFETY: kill(2) with a pid of our own child has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill({pid}, SIGTERM)");
}

/// Paths in `leaves` are not descended into.
fn shape(v: &Value, at: &str, leaves: &[&str], out: &mut BTreeSet<String>) {
    if leaves.contains(&at) {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                out.insert(p.clone());
                shape(x, &p, leaves, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                shape(x, &format!("{at}[]"), leaves, out);
            }
        }
        _ => {}
    }
}

fn shape_of(v: &Value, leaves: &[&str]) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    shape(v, "", leaves, &mut s);
    s
}

/// The simulator on a free port: (process, its address).
fn start_sim(dir: &Path) -> (Proc, SocketAddr) {
    let cmd = command(
        dir,
        &[
            "sim",
            "--venue",
            "bybit",
            "--listen",
            "127.0.0.1:0",
            "--synthetic",
            "7",
        ],
    );
    let (p, line) = Proc::start(cmd, "obi-scalp sim");
    // "obi-scalp sim: bybit listening on ws://127.0.0.1:PORT and http://127.0.0.1:PORT"
    let addr = line
        .split("ws://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in the simulator's first line: {line}"));
    (p, addr)
}

/// `config/sim-bybit.toml` pointed at `sim`, with HTTP on a free port, `duration_s = 60` as a
/// backstop, and the `[ops]` intervals this test pins.
fn sim_config(dir: &Path, sim: SocketAddr) -> PathBuf {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sim-bybit.toml"),
    )
    .unwrap();
    let text = base
        .replace("127.0.0.1:19102", &sim.to_string())
        .replace("duration_s = 0", "duration_s = 60")
        .replace(
            "http_addr = \"off\"",
            "http_addr = \"127.0.0.1:0\"\nfeed_down_tolerance_ms = 4500\nprogress_interval_ms = 50\nstatus_interval_ms = 200",
        );
    assert!(text.contains(&sim.to_string()) && text.contains("feed_down_tolerance_ms"));
    let p = dir.join("golden.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Maps keyed by what happened (disconnect causes, reject reasons): their keys are data, not
/// shape, so the shape stops at them.
const DATA_KEYED: &[&str] = &["status.feed_counters.disconnects", "status.orders.rejects"];

/// The shape of `/health/detailed` (every key path).
const HEALTH_SHAPE: &[&str] = &[
    "book",
    "config_digest",
    "feed",
    "feed.last_frame_age_seconds",
    "feed.status",
    "feed.status_age_seconds",
    "feed.tolerance_seconds",
    "kill_switch",
    "mode",
    "notes",
    "phase",
    // The thread layout in force, as README's "Quick start" says.
    "pipeline",
    "pipeline.cores_online",
    "pipeline.hot_threads",
    "pipeline.layout",
    "pipeline.note",
    "pipeline.requested",
    "pipeline.threads",
    "pipeline.threads[].core",
    "pipeline.threads[].stages",
    "pipeline.threads[].wait",
    "pipeline.wait_requested",
    "pnl",
    "pnl.currency",
    "pnl.fees",
    "pnl.realized",
    "pnl.total",
    "pnl.unrealized",
    "pnl.wallet_drift",
    "position_lots",
    "reasons",
    "risk",
    "risk.day_pnl",
    "risk.drawdown",
    "risk.reasons",
    "risk.status",
    "run_loop_failures",
    "status",
    "symbol",
    "trades",
    "uptime_seconds",
    "venue",
    "version",
    "wins",
];

/// The shape of `run_complete.json` but for the latency histograms (added by [`hist_shape`]).
const COMPLETE_SHAPE: &[&str] = &[
    "clean",
    "exit_code",
    "exit_description",
    "exit_name",
    "kill",
    "pid",
    "status",
    "status.awaiting_first_sync",
    "status.book",
    "status.book_counters",
    "status.book_counters.crossed",
    "status.book_counters.snapshots",
    "status.book_counters.trades",
    "status.book_counters.updates",
    "status.config_digest",
    "status.feed",
    "status.feed_counters",
    "status.feed_counters.bytes",
    "status.feed_counters.connects",
    "status.feed_counters.disconnects",
    "status.feed_counters.frames",
    "status.feed_counters.gaps",
    "status.feed_counters.malformed",
    "status.feed_counters.pings",
    "status.feed_counters.resyncs",
    "status.feed_counters.stale_events",
    "status.feed_status_age_ns",
    "status.last_frame_age_ns",
    "status.latency",
    "status.latency.budget_ns",
    "status.latency.since_receive",
    "status.latency.stages",
    "status.mode",
    "status.orders",
    "status.orders.cancels",
    "status.orders.cancels.cancel_all",
    "status.orders.cancels.order",
    "status.orders.fills",
    "status.orders.fills.maker",
    "status.orders.fills.taker",
    "status.orders.orders",
    "status.orders.orders.close",
    "status.orders.orders.open",
    "status.orders.rejects",
    "status.phase",
    "status.pipeline",
    "status.pipeline.cores_online",
    "status.pipeline.hot_threads",
    "status.pipeline.layout",
    "status.pipeline.note",
    "status.pipeline.requested",
    "status.pipeline.threads",
    "status.pipeline.threads[].core",
    "status.pipeline.threads[].stages",
    "status.pipeline.threads[].wait",
    "status.pipeline.wait_requested",
    "status.pnl",
    "status.pnl.currency",
    "status.pnl.fees",
    "status.pnl.realized",
    "status.pnl.total",
    "status.pnl.unrealized",
    "status.pnl.wallet_drift",
    "status.position_lots",
    "status.ring_overflows",
    "status.ring_overflows.book_order",
    "status.ring_overflows.book_signal",
    "status.ring_overflows.feed_book",
    "status.ring_overflows.order_signal",
    "status.ring_overflows.signal_cold",
    "status.ring_overflows.signal_order",
    "status.risk",
    "status.risk_reasons",
    "status.run_loop_failures",
    "status.symbol",
    "status.trades",
    "status.uptime_ns",
    "status.venue",
    "status.version",
    "status.wins",
    "stop_reason",
    "ts",
    "unix_ms",
];

/// The latency histograms of `run_complete.json`'s status: one per latency kind, by the name
/// each is published under (JSON path, `/metrics` series).
const LATENCIES: &[(&str, &str)] = &[
    (
        "status.latency.stages.feed",
        "obi_scalp_stage_seconds{stage=\"feed\"}",
    ),
    (
        "status.latency.since_receive.book",
        "obi_scalp_since_receive_seconds{point=\"book\"}",
    ),
    (
        "status.latency.stages.signal",
        "obi_scalp_stage_seconds{stage=\"signal\"}",
    ),
    (
        "status.latency.stages.order",
        "obi_scalp_stage_seconds{stage=\"order\"}",
    ),
    (
        "status.latency.since_receive.tick_to_trade",
        "obi_scalp_since_receive_seconds{point=\"tick_to_trade\"}",
    ),
    (
        "status.latency.since_receive.decision",
        "obi_scalp_since_receive_seconds{point=\"decision\"}",
    ),
    (
        "status.latency.tick_to_trade",
        "obi_scalp_tick_to_trade_seconds",
    ),
];

const HIST_FIELDS: &[&str] = &[
    "count", "max_ns", "min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns",
];

fn hist_shape(out: &mut BTreeSet<String>) {
    for (path, _) in LATENCIES {
        out.insert(path.to_string());
        for f in HIST_FIELDS {
            out.insert(format!("{path}.{f}"));
        }
    }
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

/// `name{labels}` with an extra label (or `name{label}` where it had none).
fn with_label(series: &str, suffix: &str, label: Option<&str>) -> String {
    let (name, labels) = match series.split_once('{') {
        Some((n, l)) => (n, l.trim_end_matches('}')),
        None => (series, ""),
    };
    let all: Vec<&str> = [labels, label.unwrap_or("")]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    if all.is_empty() {
        format!("{name}{suffix}")
    } else {
        format!("{name}{suffix}{{{}}}", all.join(","))
    }
}

#[test]
fn golden_run_against_the_simulator() {
    // Every latency kind is pinned below; a new kind must be added there.
    assert_eq!(
        LatencyKind::ALL.len() + 1,
        LATENCIES.len(),
        "tick_to_trade has its own series too"
    );
    let dir = workdir("run");
    let (_sim, sim_addr) = start_sim(&dir);
    let cfg_path = sim_config(&dir, sim_addr);
    let cfg = obi_scalp::config::Config::load(&cfg_path).unwrap();
    assert_eq!(
        (
            cfg.ops.feed_down_tolerance_ms,
            cfg.ops.progress_interval_ms,
            cfg.ops.status_interval_ms
        ),
        (4500, 50, 200)
    );
    // The layout this machine gets for the config (what start-up, /health/detailed and
    // run_complete.json must state).
    let plan = obi_scalp::pipeline::Plan::resolve(
        &cfg.pipeline.layout,
        cfg.pipeline.wait,
        &cfg.pipeline.cores,
        &obi_scalp::pipeline::layout::available_cores(),
    )
    .unwrap();
    let cmd = command(&dir, &["run", "--config", cfg_path.to_str().unwrap()]);
    let (mut run, line) = Proc::start(cmd, "obi-scalp run");
    let addr: SocketAddr = line
        .split("; ")
        .find_map(|p| p.strip_prefix("http "))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no http address in the start-up line: {line}"));

    // Trading: the feed active and the book synced (waited for, bounded).
    let end = Instant::now() + Duration::from_secs(30);
    let d = loop {
        if let Ok((200, body)) = get(addr, "/health/detailed") {
            let v: Value = serde_json::from_str(&body).unwrap();
            if v["feed"]["status"] == "active" && v["book"] == "synced" && v["status"] == "ok" {
                break v;
            }
        }
        assert!(
            Instant::now() < end,
            "not trading within 30 s; stderr:\n{}",
            run.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let want: BTreeSet<String> = HEALTH_SHAPE.iter().map(|s| s.to_string()).collect();
    assert_eq!(shape_of(&d, &[]), want, "/health/detailed shape: {d}");
    let pinned = [
        ("status", Value::from("ok")),
        ("phase", Value::from("running")),
        ("mode", Value::from("paper")),
        ("venue", Value::from("bybit_linear")),
        ("symbol", Value::from("BTCUSDT")),
        ("version", Value::from(env!("CARGO_PKG_VERSION"))),
        ("config_digest", Value::from(cfg.digest.as_str())),
        ("book", Value::from("synced")),
        ("feed.status", Value::from("active")),
        // `[ops] feed_down_tolerance_ms = 4500` of the config.
        ("feed.tolerance_seconds", Value::from(4.5)),
        ("kill_switch", Value::Null),
        ("notes", serde_json::json!([])),
        ("reasons", serde_json::json!([])),
        ("risk.status", Value::from("ok")),
        ("risk.reasons", serde_json::json!([])),
        ("run_loop_failures", Value::from(0)),
        ("pnl.currency", Value::from("USDT")),
        ("pnl.wallet_drift", Value::from("n/a")),
        ("pipeline", plan.to_json()),
    ];
    for (k, v) in &pinned {
        assert_eq!(at(&d, k), v, "/health/detailed {k}: {d}");
    }

    // /metrics once an order went out (so every latency kind has samples), bounded.
    let end = Instant::now() + Duration::from_secs(40);
    let m = loop {
        let (code, text) = get(addr, "/metrics").unwrap();
        assert_eq!(code, 200);
        let m = samples(&text);
        if m.get("obi_scalp_tick_to_trade_seconds_count")
            .copied()
            .unwrap_or(0.0)
            >= 1.0
        {
            break m;
        }
        assert!(Instant::now() < end, "no order within 40 s:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for (_, series) in LATENCIES {
        let count = with_label(series, "_count", None);
        let inf = with_label(series, "_bucket", Some("le=\"+Inf\""));
        let n = *m.get(&count).unwrap_or_else(|| panic!("{count} missing"));
        assert!(n >= 1.0, "{count} = {n}: no samples after an order");
        assert_eq!(m.get(&inf), Some(&n), "{inf} must equal {count}");
        assert!(
            m.contains_key(&with_label(series, "_sum", None)),
            "{series}_sum"
        );
    }
    let exact = [
        ("obi_scalp_healthy", 1.0),
        ("obi_scalp_live_mode", 0.0),
        ("obi_scalp_kill_switch_engaged", 0.0),
        ("obi_scalp_run_loop_failures_total", 0.0),
        ("obi_scalp_feed_connects_total", 1.0),
        ("obi_scalp_feed_gaps_total", 0.0),
        ("obi_scalp_feed_resyncs_total", 0.0),
        ("obi_scalp_feed_malformed_frames_total", 0.0),
        ("obi_scalp_book_crossed_total", 0.0),
        ("obi_scalp_book_snapshots_total", 1.0),
        ("obi_scalp_monitor_status{status=\"active\"}", 1.0),
        ("obi_scalp_monitor_status{status=\"reconnecting\"}", 0.0),
        ("obi_scalp_monitor_status{status=\"degraded\"}", 0.0),
        ("obi_scalp_phase{phase=\"starting\"}", 0.0),
        ("obi_scalp_phase{phase=\"running\"}", 1.0),
        ("obi_scalp_phase{phase=\"stopping\"}", 0.0),
        ("obi_scalp_risk_status{status=\"ok\"}", 1.0),
        ("obi_scalp_risk_status{status=\"degraded\"}", 0.0),
        ("obi_scalp_risk_status{status=\"abort\"}", 0.0),
        ("obi_scalp_book_state{state=\"synced\"}", 1.0),
        ("obi_scalp_book_state{state=\"stale\"}", 0.0),
        ("obi_scalp_book_state{state=\"resyncing\"}", 0.0),
    ];
    for (k, v) in exact {
        assert_eq!(m.get(k), Some(&v), "/metrics {k}");
    }
    let rings: Vec<&str> = m
        .iter()
        .filter(|(k, _)| k.starts_with("obi_scalp_ring_overflows_total{"))
        .map(|(k, v)| {
            assert_eq!(*v, 0.0, "{k}");
            k.as_str()
        })
        .collect();
    assert_eq!(
        rings,
        [
            "obi_scalp_ring_overflows_total{ring=\"book_order\"}",
            "obi_scalp_ring_overflows_total{ring=\"book_signal\"}",
            "obi_scalp_ring_overflows_total{ring=\"feed_book\"}",
            "obi_scalp_ring_overflows_total{ring=\"order_signal\"}",
            "obi_scalp_ring_overflows_total{ring=\"signal_cold\"}",
            "obi_scalp_ring_overflows_total{ring=\"signal_order\"}",
        ]
    );
    let info = format!(
        "obi_scalp_build_info{{version=\"{}\",config_digest=\"{}\",venue=\"bybit_linear\",symbol=\"BTCUSDT\",mode=\"paper\"}}",
        env!("CARGO_PKG_VERSION"),
        cfg.digest
    );
    assert_eq!(m.get(&info), Some(&1.0), "{info}");

    // SIGTERM: a clean stop, and run_complete.json.
    sigterm(run.child.id());
    let code = run.wait(Duration::from_secs(20));
    assert_eq!(
        code,
        i32::from(Exit::Ok.code()),
        "stderr:\n{}",
        run.stderr()
    );
    let rc = read_json(&dir.join(&cfg.ops.artifacts_dir).join("run_complete.json"));
    let mut want: BTreeSet<String> = COMPLETE_SHAPE.iter().map(|s| s.to_string()).collect();
    hist_shape(&mut want);
    assert_eq!(
        shape_of(&rc, DATA_KEYED),
        want,
        "run_complete.json shape: {rc}"
    );
    let pinned = [
        ("stop_reason", Value::from("signal")),
        ("exit_code", Value::from(0)),
        ("exit_name", Value::from("ok")),
        ("exit_description", Value::from(Exit::Ok.describe())),
        ("clean", Value::from(true)),
        ("kill", Value::Null),
        ("pid", Value::from(run.child.id())),
        ("status.phase", Value::from("stopping")),
        ("status.mode", Value::from("paper")),
        ("status.venue", Value::from("bybit_linear")),
        ("status.symbol", Value::from("BTCUSDT")),
        ("status.version", Value::from(env!("CARGO_PKG_VERSION"))),
        ("status.config_digest", Value::from(cfg.digest.as_str())),
        ("status.awaiting_first_sync", Value::from(false)),
        ("status.book", Value::from("synced")),
        ("status.risk", Value::from("ok")),
        ("status.risk_reasons", serde_json::json!([])),
        ("status.run_loop_failures", Value::from(0)),
        ("status.feed_counters.connects", Value::from(1)),
        ("status.feed_counters.gaps", Value::from(0)),
        ("status.feed_counters.resyncs", Value::from(0)),
        ("status.feed_counters.malformed", Value::from(0)),
        ("status.book_counters.crossed", Value::from(0)),
        ("status.book_counters.snapshots", Value::from(1)),
        // The stop cancels what rests: one cancel-all.
        ("status.orders.cancels.cancel_all", Value::from(1)),
        ("status.latency.budget_ns", Value::Null),
        ("status.pnl.currency", Value::from("USDT")),
        ("status.pipeline", plan.to_json()),
    ];
    for (k, v) in &pinned {
        assert_eq!(at(&rc, k), v, "run_complete.json {k}: {rc}");
    }
    for ring in &rings {
        let name = ring.split('"').nth(1).unwrap();
        assert_eq!(rc["status"]["ring_overflows"][name], 0, "{name}");
    }
    for (path, _) in LATENCIES {
        let h = at(&rc, path);
        let q: Vec<u64> = ["min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"]
            .iter()
            .map(|f| h[f].as_u64().unwrap_or_else(|| panic!("{path}.{f}: {h}")))
            .collect();
        assert!(h["count"].as_u64().unwrap() >= 1, "{path}: {h}");
        assert!(
            q.windows(2).all(|w| w[0] <= w[1]),
            "{path} quantiles out of order: {h}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Exit codes: every command through the one table.

/// Runs `args` in `dir` to its end (bounded): (exit code, stderr).
fn exit_code(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut c = command(dir, args);
    c.stdout(Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let st = child::wait_bounded(&mut child, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{args:?} did not exit within 30 s"));
    (st.code().unwrap_or(-1), reader.join().unwrap())
}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn every_command_exits_through_the_one_table() {
    let dir = workdir("exits");
    let d = |p: &str| dir.join(p).to_str().unwrap().to_owned();
    let missing_cfg = d("missing.toml");
    let missing_in = d("missing.jsonl");
    let bad_ops = d("bad_ops.toml");
    std::fs::write(&bad_ops, "[ops]\nfeed_down_tolerance_ms = 50\n").unwrap();
    let bad_progress = d("bad_progress.toml");
    std::fs::write(&bad_progress, "[ops]\nprogress_interval_ms = 3600001\n").unwrap();
    let unreachable = sim_config(&dir, closed_port());
    let unreachable = unreachable.to_str().unwrap();
    let out = d("out");
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let held_addr = held.local_addr().unwrap().to_string();

    let commands = [
        "run",
        "replay",
        "report",
        "backup",
        "restore",
        "drill",
        "journal",
        "sweep",
        "book",
        "verify-book",
        "bench-latency",
        "check-config",
        "sim",
        "record",
    ];
    // (args, exit, words the one-line reason must contain)
    let mut cases: Vec<(Vec<&str>, Exit, Vec<&str>)> = vec![
        (vec![], Exit::Config, vec![]),
        (vec!["no-such-command"], Exit::Config, vec![]),
        (vec!["--help"], Exit::Ok, vec![]),
    ];
    for c in commands {
        cases.push((
            vec![c, "--no-such-flag"],
            Exit::Config,
            vec!["--no-such-flag"],
        ));
        cases.push((vec![c, "--help"], Exit::Ok, vec![]));
    }
    let more: Vec<(Vec<&str>, Exit, Vec<&str>)> = vec![
        // A config that cannot be read.
        (
            vec!["run", "--config", &missing_cfg],
            Exit::Config,
            vec!["missing.toml"],
        ),
        (
            vec!["replay", "--config", &missing_cfg, "--input", &missing_in],
            Exit::Config,
            vec!["missing.toml"],
        ),
        (
            vec![
                "sweep",
                "--config",
                &missing_cfg,
                "--input",
                &missing_in,
                "--param",
                "strategy.hold_ms=1:2:1",
                "--out",
                &out,
            ],
            Exit::Config,
            vec!["missing.toml"],
        ),
        (
            vec![
                "bench-latency",
                "--config",
                &missing_cfg,
                "--input",
                &missing_in,
            ],
            Exit::Config,
            vec!["missing.toml"],
        ),
        (
            vec!["check-config", "--config", &missing_cfg],
            Exit::Config,
            vec!["missing.toml"],
        ),
        (
            vec!["record", "--config", &missing_cfg, "--out", &out],
            Exit::Config,
            vec!["missing.toml"],
        ),
        // The [ops] intervals out of range: the key and the range are named.
        (
            vec!["run", "--config", &bad_ops],
            Exit::Config,
            vec!["ops.feed_down_tolerance_ms", "100 to 86400000"],
        ),
        (
            vec!["check-config", "--config", &bad_ops],
            Exit::Config,
            vec!["ops.feed_down_tolerance_ms", "100 to 86400000"],
        ),
        (
            vec!["run", "--config", &bad_progress],
            Exit::Config,
            vec!["ops.progress_interval_ms", "10 to 3600000"],
        ),
        // Inputs that are not there.
        (
            vec!["book", "--input", &missing_in],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec!["verify-book", "--input", &missing_in],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec!["report", "--journal", &missing_in, "--out", &out],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec!["drill", "--config", &missing_cfg],
            Exit::Config,
            vec!["missing.toml"],
        ),
        (
            vec!["backup", "--config", &missing_cfg, "--to", &out],
            Exit::Config,
            vec!["missing.toml"],
        ),
        (
            vec!["restore", "--from", &missing_in, "--to", &out],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec!["journal", "verify", &missing_in],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec!["journal", "backup", "--journal", &missing_in, "--out", &out],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec!["journal", "restore", "--from", &missing_in, "--to", &out],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec![
                "sim",
                "--venue",
                "bybit",
                "--listen",
                "127.0.0.1:0",
                "--input",
                &missing_in,
            ],
            Exit::Config,
            vec!["missing.jsonl"],
        ),
        (
            vec![
                "sim",
                "--venue",
                "kraken",
                "--listen",
                "127.0.0.1:0",
                "--synthetic",
                "1",
            ],
            Exit::Config,
            vec!["kraken"],
        ),
        // The simulator's port is taken: it cannot bind its listener.
        (
            vec![
                "sim",
                "--venue",
                "bybit",
                "--listen",
                &held_addr,
                "--synthetic",
                "1",
            ],
            Exit::Bind,
            vec![&held_addr],
        ),
        // Nothing listens where the venue should be.
        (
            vec![
                "record",
                "--config",
                unreachable,
                "--out",
                &out,
                "--connect-timeout",
                "1",
            ],
            Exit::VenueUnreachable,
            vec!["reachable"],
        ),
        (
            vec!["run", "--config", unreachable],
            Exit::VenueUnreachable,
            vec!["reachable"],
        ),
    ];
    cases.extend(more);
    let mut wrong = Vec::new();
    for (args, want, words) in &cases {
        let (code, err) = exit_code(&dir, args);
        if code != i32::from(want.code()) {
            wrong.push(format!(
                "{args:?}: exit {code}, the table says {} ({}); stderr: {}",
                want.code(),
                want.name(),
                err.lines().last().unwrap_or("")
            ));
            continue;
        }
        for w in words {
            if !err.contains(w) {
                wrong.push(format!("{args:?}: stderr lacks {w:?}: {err}"));
            }
        }
    }
    drop(held);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's exit-code table lists exactly the codes of the one table, with its meanings.
#[test]
fn readme_exit_codes_match_the_table() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("### Exit codes")
        .nth(1)
        .expect("README has an `### Exit codes` section");
    let mut listed = BTreeSet::new();
    for row in section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let first = row.trim_matches('|').split('|').next().unwrap().trim();
        for c in first.split('/') {
            let c: u8 = c
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("README exit-code row without a code: {row}"));
            assert!(listed.insert(c), "README lists {c} twice");
        }
    }
    let table: BTreeSet<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(listed, table, "README's exit codes vs ops::Exit");
}

// ---------------------------------------------------------------------------------------------
// The session's states, in process.

#[test]
fn session_goes_from_starting_to_stopped_on_the_duration() {
    use obi_scalp::app::session::{Feed, Session, State};
    use obi_scalp::ops::{self, Ops, StatusBoard};
    use std::sync::atomic::AtomicBool;

    let dir = workdir("session");
    let mut cfg = obi_scalp::config::Config::builtin();
    cfg.duration_ns = Some(1_000_000_000);
    cfg.pipeline.wait = obi_scalp::config::WaitStrategy::Park;
    cfg.ops.http.enabled = false;
    cfg.ops.artifacts_dir = dir.join("artifacts");
    cfg.ops.audit.dir = dir.join("logs");
    cfg.ops.kill_file = dir.join("KILL");
    let board = Arc::new(StatusBoard::new(ops::Status::new(
        "test",
        "",
        ops::Mode::Paper,
    )));
    let secrets = Arc::new(ops::SecretStore::new(
        ops::SecretSources::new(None, None, "OBI_TEST_", |_| None),
        &[],
    ));
    let o = Ops::start(
        &cfg.ops,
        board.clone(),
        ops::KillSwitch::new(),
        secrets,
        None,
    )
    .unwrap();
    let mut s = Session::start(&cfg, o, Arc::new(AtomicBool::new(false)), None).unwrap();
    assert_eq!(s.state(), State::Starting);
    assert_eq!(board.snapshot().phase, ops::Phase::Starting);
    let src = obi_scalp::pipeline::sources::SyntheticSource::from_config(&cfg, 1).unwrap();
    let decoder = obi_scalp::venue::AnyDecoder::for_config(&cfg).unwrap();
    let out = s.run(src, decoder, Feed::Local).unwrap();
    assert_eq!(s.state(), State::Stopped);
    assert_eq!(board.snapshot().phase, ops::Phase::Stopping);
    assert_eq!(
        (out.exit, out.reason.as_str(), out.clean),
        (Exit::Ok, "duration reached", true)
    );
    s.finish(Ok(out)).unwrap();
    let rc = read_json(&dir.join("artifacts/run_complete.json"));
    assert_eq!(rc["stop_reason"], "duration reached", "{rc}");
    assert_eq!(rc["exit_code"], 0, "{rc}");
    assert_eq!(
        rc["status"]["awaiting_first_sync"], false,
        "trading began: {rc}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
