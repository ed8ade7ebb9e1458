//! The journal under SIGKILL: a child process writing it is killed mid-stream; the file is intact,
//! holds whole flushes only (a prefix of what was recorded, nothing torn), and loses at most the
//! records buffered since the last flush. The same for the real `obi-scalp run` binary, which
//! then restarts on the same journal.

use obi_scalp::msg::{ExecKind, ExecReport, Liquidity, OrderSide};
use obi_scalp::store::{Journal, RunInfo, RunKind};
use obi_scalp::trader::TraderEvent;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_obi-scalp");
const CHILD_ENV: &str = "OBI_TEST_JOURNAL_CHILD";
/// Records per flush in the child writer.
const BATCH: u64 = 100;

fn workdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-journal-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fill(id: u64) -> TraderEvent {
    TraderEvent::Exec {
        report: ExecReport {
            id,
            ts_ns: 1_767_571_200_000_000_000 + id,
            kind: ExecKind::Fill {
                px: 100_000 + id as i64,
                qty: 1,
                liquidity: Liquidity::Taker,
                fee: id as i128,
                leaves: 0,
            },
        },
        side: OrderSide::Buy,
    }
}

/// The child process body: writes fills with order ids 1, 2, 3, ... in flushes of BATCH, printing
/// the committed count after each, until killed.
#[test]
#[ignore = "the SIGKILL test's child process: it runs only from that test (--ignored --exact)"]
fn child_writer() {
    let path = std::env::var(CHILD_ENV).expect("run from the SIGKILL test");
    let cfg = obi_scalp::config::Config::builtin();
    let mut j = Journal::open(Path::new(&path)).unwrap();
    j.begin_run(&RunInfo::for_config(&cfg, RunKind::Run, 0))
        .unwrap();
    let mut id = 0;
    loop {
        for _ in 0..BATCH {
            id += 1;
            j.record(&fill(id));
        }
        j.flush().unwrap();
        println!("committed {}", j.stats().written);
    }
}

fn check_intact(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    c
}

#[test]
fn sigkill_loses_at_most_the_unflushed_batch_and_tears_nothing() {
    let dir = workdir("sigkill");
    let path = dir.join("journal.sqlite");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_writer", "--nocapture"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = 0u64;
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            seen = n.trim().parse().unwrap();
            if seen >= 20 * BATCH {
                break;
            }
        }
    }
    assert!(seen >= 20 * BATCH, "the child stopped early");
    // SAFETY: kill(2) of our own child.
    child.kill().expect("SIGKILL the child");
    let st = child.wait().unwrap();
    assert!(!st.success());
    let c = check_intact(&path);
    let (n, max_id, min_id): (i64, i64, i64) = c
        .query_row(
            "SELECT count(*), max(order_id), min(order_id) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // Everything the child reported committed is there...
    assert!(n as u64 >= seen, "{n} rows, {seen} reported committed");
    // ...as whole flushes: a gap-free prefix of ids, a multiple of the batch.
    assert_eq!((min_id, max_id), (1, n));
    assert_eq!(n as u64 % BATCH, 0, "a torn flush: {n} rows");
    // Every row complete.
    let bad: i64 = c
        .query_row(
            "SELECT count(*) FROM events WHERE kind != 'fill' OR px != 100000 + order_id
                OR fee != order_id OR liquidity != 'taker'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad, 0);
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(60), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(path: &Path, sql: &str) -> i64 {
    let Ok(c) = rusqlite::Connection::open(path) else {
        return 0;
    };
    c.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

fn run(dir: &Path) -> std::process::Child {
    std::fs::write(
        dir.join("run.toml"),
        "duration_s = 60\n[ops]\nhttp_addr = \"off\"\nstatus_interval_ms = 500\n\
         [store]\nflush_ms = 50\nequity_interval_ms = 100\n",
    )
    .unwrap();
    Command::new(BIN)
        .current_dir(dir)
        .args(["run", "--config", "run.toml"])
        .env("RUST_LOG", "info")
        .env_remove("OBI_SCALP_LIVE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn run_binary_survives_sigkill_and_restarts_on_its_journal() {
    let dir = workdir("runkill");
    let path = dir.join("var/journal.sqlite");
    let mut child = run(&dir);
    wait_for("equity snapshots in the journal", || {
        count(&path, "SELECT count(*) FROM equity") >= 5
    });
    // SAFETY: kill(2) of our own child.
    child.kill().expect("SIGKILL the child");
    child.wait_with_output().unwrap();
    drop(check_intact(&path));
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM runs WHERE ended_wall_ns IS NULL"
        ),
        1,
        "the killed run has no end"
    );
    let before = count(&path, "SELECT count(*) FROM equity");
    // The restart opens the same journal, carries the risk state and appends a second run.
    let child = run(&dir);
    wait_for("the second run's snapshots", || {
        count(&path, "SELECT count(*) FROM equity WHERE run_id = 2") >= 3
    });
    // SAFETY: kill(2) of our own child.
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill")
        .success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("risk state carried over from the journal"),
        "{err}"
    );
    drop(check_intact(&path));
    assert!(count(&path, "SELECT count(*) FROM equity") > before);
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM runs WHERE run_id = 2 AND clean = 1 AND ended_wall_ns > 0"
        ),
        1
    );
    // A report over both runs: all outputs, both runs counted, one restart, one unclean.
    let r = report(&path, &dir.join("reports"), &["--kind", "run"]);
    assert_eq!(r["runs"], 2);
    assert_eq!(r["restarts"], 1);
    assert_eq!(r["unclean_runs"], 1);
    assert!(r["latency"].as_array().is_some_and(|l| !l.is_empty()));
}

fn report(journal: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = Command::new(BIN)
        .args(["report", "--period", "month", "--journal"])
        .arg(journal)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut json = None;
    for e in std::fs::read_dir(out).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("report_month_") && name.ends_with(".json") {
            json = Some(serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap());
        }
    }
    for ext in ["md", "html"] {
        assert!(
            std::fs::read_dir(out).unwrap().any(|e| e
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == ext)),
            "no .{ext} written"
        );
    }
    let json: serde_json::Value = json.expect("report json written");
    // Every chart as PNG and SVG; the PNG decodes at the chart's size and is not blank.
    let stem = format!("report_month_{}", json["from"].as_str().unwrap());
    for chart in ["equity", "drawdown", "daily_pnl", "trade_pnl", "latency"] {
        let svg = std::fs::read_to_string(out.join(format!("{stem}_{chart}.svg")))
            .unwrap_or_else(|e| panic!("{chart}.svg: {e}"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let file = out.join(format!("{stem}_{chart}.png"));
        let png = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (w, h, px) = decode_png(&png);
        assert_eq!((w, h), (900, 360), "{}", file.display());
        let n = px.len() as f64;
        let mean = px.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = px
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let ink = px.chunks(3).filter(|p| p.iter().all(|&v| v < 160)).count();
        assert!(
            var > 10.0 && ink > 300,
            "{}: variance {var}, {ink} dark pixels",
            file.display()
        );
    }
    json
}

/// `(width, height, RGB pixels)` of a PNG file.
fn decode_png(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// `replay --journal` then `report` on that journal: the figures equal `summary.json` exactly.
#[test]
fn report_on_a_replay_journal_equals_summary_json() {
    let dir = std::env::var("OBI_SHARED_DATA")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data").to_string());
    let data = PathBuf::from(dir).join("bybit_v5_cryptofeed_20260809.jsonl.zst");
    if !data.exists() {
        assert_ne!(
            std::env::var("OBI_REQUIRE_DATA").as_deref(),
            Ok("1"),
            "OBI_REQUIRE_DATA=1 but {} is missing",
            data.display()
        );
        eprintln!(
            "skipping: {} not found (../shared/data is needed)",
            data.display()
        );
        return;
    }
    let dir = workdir("report");
    let j = dir.join("replay.sqlite");
    let o = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["replay", "--config", "config/bybit-btcusdt.toml", "--input"])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("replay"))
        .arg("--journal")
        .arg(&j)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("replay/summary.json")).unwrap())
            .unwrap();
    let r = report(&j, &dir.join("out"), &[]);
    assert!(dir.join("out/monthly_report_202608.json").exists());
    assert!(dir.join("out/monthly_report_202608.md").exists());
    for k in [
        "signals",
        "orders",
        "fills",
        "cancels",
        "rejects",
        "trades",
        "wins",
        "win_rate",
        "gross_pnl",
        "fees",
        "net_pnl",
        "profit_factor",
        "max_drawdown",
        "sharpe_per_trade",
    ] {
        assert_eq!(r[k], summary[k], "{k}");
    }
    assert!(
        summary["trades"].as_u64().unwrap() >= 1,
        "a recording with trades"
    );
    // The charts are drawn from the journal: one equity point per journaled equity row, one
    // daily bar per day with trades, red for this loss.
    let svg = |name: &str| {
        std::fs::read_to_string(dir.join(format!("out/report_month_2026-08-01_{name}.svg")))
            .unwrap_or_else(|e| panic!("{name}.svg: {e}"))
    };
    let eq = svg("equity");
    let line = eq
        .lines()
        .find(|l| l.starts_with("<polyline") && l.contains("stroke=\"#1F5FBF\""))
        .expect("equity polyline");
    let at = line.find("points=\"").unwrap() + 8;
    let points = line[at..at + line[at..].find('"').unwrap()]
        .split_whitespace()
        .count();
    assert_eq!(points as i64, count(&j, "SELECT count(*) FROM equity"));
    assert!(summary["net_pnl"].as_str().unwrap().starts_with('-'));
    let daily = svg("daily_pnl");
    assert_eq!(daily.matches("fill=\"#C03030\"").count(), 1, "one red bar");
    assert!(daily.contains("\n08-09\n"));
    assert!(svg("drawdown").contains("drawdown (USDT)"));
    assert!(svg("latency").contains("no latency samples"));
    let html = std::fs::read_to_string(dir.join("out/report_month_2026-08-01.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 5, "charts inline in the HTML");
    let md = std::fs::read_to_string(dir.join("out/report_month_2026-08-01.md")).unwrap();
    assert!(md.contains("](report_month_2026-08-01_equity.png)"));
    assert!(md.contains("](report_month_2026-08-01_equity.svg)"));
}

fn journal_cmd(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(BIN)
        .arg("journal")
        .args(args)
        .output()
        .unwrap()
}

/// A backup taken while a writer commits: the copy is consistent (its manifest's row counts are
/// its own), a restore to a new path has those rows exactly, and one flipped byte in the backup
/// is caught by `journal verify` and refused by `journal restore`.
#[test]
fn backup_during_writes_restores_equal_rows_and_a_corrupted_copy_is_detected() {
    let dir = workdir("backup");
    let path = dir.join("live.sqlite");
    let cfg = obi_scalp::config::Config::builtin();
    let mut j = Journal::open(&path).unwrap();
    j.begin_run(&RunInfo::for_config(&cfg, RunKind::Run, 0))
        .unwrap();
    for id in 1..=500 {
        j.record(&fill(id));
    }
    j.flush().unwrap();
    std::fs::write(dir.join("run.toml"), "# the config\n").unwrap();
    // The writer keeps committing batches until the backup is done.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut id = 500;
            let mut batches = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || batches < 3 {
                for _ in 0..200 {
                    id += 1;
                    j.record(&fill(id));
                }
                j.flush().unwrap();
                batches += 1;
            }
            j.stats().written
        })
    };
    let root = dir.join("backups");
    let o = journal_cmd(&[
        "backup".as_ref(),
        "--journal".as_ref(),
        path.as_os_str(),
        "--out".as_ref(),
        root.as_os_str(),
        "--include".as_ref(),
        dir.join("run.toml").as_os_str(),
    ]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let b = std::fs::read_dir(&root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("manifest.json")).unwrap()).unwrap();
    let events = m["rows"]["events"].as_i64().unwrap();
    // At least the first commit, at most all of them, and whole batches only.
    assert!(
        events >= 500 && events <= written as i64,
        "{events} of {written}"
    );
    assert_eq!((events - 500) % 200, 0, "a torn batch: {events}");
    assert_eq!(m["files"].as_array().unwrap().len(), 2);

    let o = journal_cmd(&["verify".as_ref(), b.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let restored = dir.join("restored/journal.sqlite");
    let files = dir.join("restored/files");
    let o = journal_cmd(&[
        "restore".as_ref(),
        "--from".as_ref(),
        b.as_os_str(),
        "--to".as_ref(),
        restored.as_os_str(),
        "--files-to".as_ref(),
        files.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(count(&restored, "SELECT count(*) FROM events"), events);
    assert_eq!(count(&restored, "SELECT count(*) FROM runs"), 1);
    assert_eq!(
        std::fs::read_to_string(files.join("run.toml")).unwrap(),
        "# the config\n"
    );
    // The source has everything the writer committed.
    assert_eq!(count(&path, "SELECT count(*) FROM events"), written as i64);

    // One byte flipped in the copy's last page.
    let copy = b.join("journal.sqlite");
    let mut bytes = std::fs::read(&copy).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x55;
    std::fs::write(&copy, &bytes).unwrap();
    let o = journal_cmd(&["verify".as_ref(), b.as_os_str()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("journal.sqlite: does not match the manifest"),
        "{err}"
    );
    let o = journal_cmd(&[
        "restore".as_ref(),
        "--from".as_ref(),
        b.as_os_str(),
        "--to".as_ref(),
        dir.join("again.sqlite").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.join("again.sqlite").exists());
}

/// `obi-scalp backup --config` finds what the run keeps from its config (journal, the config,
/// audit logs, recordings), applies the config's retention, and `obi-scalp restore` brings every
/// file back byte for byte into a new folder; a changed audit log in the backup is refused by name.
#[test]
fn backup_from_a_config_takes_journal_config_audit_and_recordings_and_restores_them() {
    let dir = workdir("backup-config");
    let var = dir.join("var");
    std::fs::create_dir_all(var.join("logs")).unwrap();
    std::fs::create_dir_all(var.join("recordings")).unwrap();
    let journal = var.join("journal.sqlite");
    let cfg_path = dir.join("svc.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[store]\njournal = {:?}\nbackup_retention_days = 7\n[ops]\nhttp_addr = \"off\"\n\
             log_dir = {:?}\n[record]\ndir = {:?}\n",
            journal.to_str().unwrap(),
            var.join("logs").to_str().unwrap(),
            var.join("recordings").to_str().unwrap()
        ),
    )
    .unwrap();
    let cfg = obi_scalp::config::Config::load(&cfg_path).unwrap();
    let mut j = Journal::open(&journal).unwrap();
    j.begin_run(&RunInfo::for_config(&cfg, RunKind::Run, 0))
        .unwrap();
    for id in 1..=50 {
        j.record(&fill(id));
    }
    j.flush().unwrap();
    drop(j);
    let audit = b"{\"kind\":\"start\"}\n{\"kind\":\"stop\"}\n";
    std::fs::write(var.join("logs/audit_events.jsonl"), audit).unwrap();
    let rec: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    std::fs::write(var.join("recordings/feed-1.obirec"), &rec).unwrap();

    let root = dir.join("backups");
    let backup = || {
        Command::new(BIN)
            .args(["backup", "--config"])
            .arg(&cfg_path)
            .arg("--to")
            .arg(&root)
            .output()
            .unwrap()
    };
    let o = backup();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // An old backup (renamed to a date long past) goes by the config's 7-day retention.
    let first = std::fs::read_dir(&root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let old = root.join("backup-20200101T000000Z");
    std::fs::rename(&first, &old).unwrap();
    let o = backup();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("removed") && out.contains("older than 7 days"),
        "{out}"
    );
    assert!(!old.exists());
    let b = std::fs::read_dir(&root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("manifest.json")).unwrap()).unwrap();
    let mut listed: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "files/logs/audit_events.jsonl",
            "files/recordings/feed-1.obirec",
            "files/svc.toml",
            "journal.sqlite"
        ]
    );

    let to = dir.join("restored");
    let restore = |to: &Path| {
        Command::new(BIN)
            .args(["restore", "--from"])
            .arg(&b)
            .arg("--to")
            .arg(to)
            .output()
            .unwrap()
    };
    let o = restore(&to);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        count(&to.join("journal.sqlite"), "SELECT count(*) FROM events"),
        50
    );
    assert_eq!(
        std::fs::read(to.join("files/svc.toml")).unwrap(),
        std::fs::read(&cfg_path).unwrap()
    );
    assert_eq!(
        std::fs::read(to.join("files/logs/audit_events.jsonl")).unwrap(),
        audit
    );
    assert_eq!(
        std::fs::read(to.join("files/recordings/feed-1.obirec")).unwrap(),
        rec
    );
    // Never over existing files.
    let o = restore(&to);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));

    // An audit line changed in the backup: refused, naming the file.
    std::fs::write(
        b.join("files/logs/audit_events.jsonl"),
        b"{\"kind\":\"start\"}\n{\"kind\":\"kill\"}\n",
    )
    .unwrap();
    let again = dir.join("again");
    let o = restore(&again);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("audit_events.jsonl: does not match the manifest"),
        "{err}"
    );
    assert!(!again.join("journal.sqlite").exists());
}

/// `scripts/restore_drill.sh` end to end: backup, verify, restore, row comparison; with the test
/// PostgreSQL (`OBI_TEST_POSTGRES_URL`) also its pg_dump / pg_restore leg.
#[test]
fn restore_drill_script_passes() {
    let dir = workdir("drill");
    let path = dir.join("live.sqlite");
    let cfg = obi_scalp::config::Config::builtin();
    let mut j = Journal::open(&path).unwrap();
    j.begin_run(&RunInfo::for_config(&cfg, RunKind::Run, 0))
        .unwrap();
    for id in 1..=50 {
        j.record(&fill(id));
    }
    j.flush().unwrap();
    drop(j);
    let mut cmd = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/restore_drill.sh"
    ));
    cmd.arg(&path).arg(BIN);
    match std::env::var("OBI_TEST_POSTGRES_URL") {
        Ok(url) => {
            cmd.env("OBI_DRILL_POSTGRES_URL", url);
        }
        Err(_) => assert_ne!(
            std::env::var("OBI_REQUIRE_TOOLS").as_deref(),
            Ok("1"),
            "OBI_REQUIRE_TOOLS=1 but OBI_TEST_POSTGRES_URL is not set"
        ),
    }
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("events: backup 50, live 50"), "{out}");
    assert!(out.ends_with("restore drill: ok\n"), "{out}");
}
