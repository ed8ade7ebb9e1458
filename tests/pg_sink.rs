//! The PostgreSQL sink against a real PostgreSQL (`OBI_TEST_POSTGRES_URL`, set by `.ci/run`):
//! the rows there equal the journal's, and a database that goes away mid-run (every connection
//! cut and new ones refused, by a TCP proxy on 127.0.0.1) and comes back ends with every row
//! there exactly once; so does a private cluster really stopped (`pg_ctl stop`) and started again. Without the variable the tests print a skip, or fail under
//! `OBI_REQUIRE_TOOLS=1`.

use obi_scalp::msg::{ExecKind, ExecReport, Liquidity, OrderSide};
use obi_scalp::store::pg::{self, PgSink};
use obi_scalp::store::{Journal, RunEnd, RunInfo, RunKind};
use obi_scalp::trader::TraderEvent;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn url() -> Option<String> {
    match std::env::var("OBI_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert_ne!(
                std::env::var("OBI_REQUIRE_TOOLS").as_deref(),
                Ok("1"),
                "OBI_REQUIRE_TOOLS=1 but OBI_TEST_POSTGRES_URL is not set"
            );
            eprintln!(
                "SKIP: OBI_TEST_POSTGRES_URL not set (.ci/run starts PostgreSQL and sets it)"
            );
            None
        }
    }
}

fn workdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obi-pg-{tag}-{}", std::process::id()));
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
                liquidity: Liquidity::Maker,
                // Beyond 64 bits for some: numeric keeps them exact.
                fee: if id.is_multiple_of(7) {
                    i128::from(i64::MAX) * 3 + id as i128
                } else {
                    -(id as i128)
                },
                leaves: 0,
            },
        },
        side: OrderSide::Sell,
    }
}

fn closed(id: u64) -> TraderEvent {
    TraderEvent::Closed {
        trade: obi_scalp::exec::ClosedTrade {
            side: OrderSide::Buy,
            qty: 1,
            max_position: 1,
            entry_value: 1000 * id as i128,
            exit_value: 1001 * id as i128,
            gross_pnl: id as i128,
            fees: 1,
            net_pnl: id as i128 - 1,
            open_ns: id,
            close_ns: id + 1,
        },
        exit: Some(obi_scalp::strategy::ExitReason::TakeProfit),
    }
}

fn write_batch(j: &mut Journal, from: u64, n: u64) {
    for id in from..from + n {
        j.record(&fill(id));
        if id % 10 == 0 {
            j.record(&closed(id));
        }
    }
    j.flush().unwrap();
}

/// Every row of every table, as text, from each side.
fn dump_lite(c: &rusqlite::Connection, t: &str) -> Vec<Vec<Option<String>>> {
    let key = if t == "runs" { "run_id" } else { "seq" };
    let mut st = c
        .prepare(&format!("SELECT * FROM {t} ORDER BY {key}"))
        .unwrap();
    let n = st.column_count();
    let rows = st
        .query_map([], |r| {
            Ok((0..n)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => None,
                    rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                    rusqlite::types::ValueRef::Text(t) => {
                        Some(String::from_utf8_lossy(t).into_owned())
                    }
                    v => panic!("unexpected {v:?}"),
                })
                .collect())
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

fn dump_pg(
    pg: &mut postgres::Client,
    t: &str,
    cols: &[String],
    jid: &str,
) -> Vec<Vec<Option<String>>> {
    let key = if t == "runs" { "run_id" } else { "seq" };
    let sel: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
    pg.query(
        &format!(
            "SELECT {} FROM {t} WHERE journal_id = $1 ORDER BY {t}.{key}",
            sel.join(", ")
        ),
        &[&jid],
    )
    .unwrap()
    .iter()
    .map(|r| {
        (0..cols.len())
            .map(|i| r.get::<_, Option<String>>(i))
            .collect()
    })
    .collect()
}

fn assert_equal(lite: &rusqlite::Connection, pg: &mut postgres::Client) {
    let jid = pg::journal_id(lite).unwrap();
    for t in obi_scalp::store::schema::TABLES {
        let st = lite.prepare(&format!("SELECT * FROM {t}")).unwrap();
        let cols: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
        drop(st);
        let a = dump_lite(lite, t);
        let b = dump_pg(pg, t, &cols, &jid);
        assert_eq!(a.len(), b.len(), "{t}: row counts");
        assert_eq!(a, b, "{t}: rows differ");
    }
}

fn info() -> RunInfo {
    RunInfo::for_config(&obi_scalp::config::Config::builtin(), RunKind::Run, 1)
}

#[test]
fn rows_in_postgres_equal_the_journal() {
    let Some(url) = url() else { return };
    let dir = workdir("equal");
    let mut j = Journal::open(&dir.join("j.sqlite")).unwrap();
    j.begin_run(&info()).unwrap();
    write_batch(&mut j, 1, 1234);
    j.end_run(&RunEnd {
        ended_wall_ns: 2,
        stop_reason: "test".into(),
        clean: true,
        max_drawdown: Some(5),
        position: Some(0),
        cash_change: Some(-7),
        risk_status: None,
    })
    .unwrap();
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    pg::ensure_schema(&mut pgc, j.connection()).unwrap();
    let mut total = 0;
    loop {
        let n = pg::sync_once(
            &mut pgc,
            j.connection(),
            &pg::journal_id(j.connection()).unwrap(),
        )
        .unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total as i64, pg::journal_rows(j.connection()).unwrap());
    assert_equal(j.connection(), &mut pgc);
    // A second sync sends nothing again.
    let jid = pg::journal_id(j.connection()).unwrap();
    assert_eq!(pg::sync_once(&mut pgc, j.connection(), &jid).unwrap(), 0);
}

/// TimescaleDB on the test server or not: `pg::ensure_schema` says what `pg_extension` says (and
/// never claims it where `pg_available_extensions` lacks it); without it every record table is
/// plain, keyed `(journal_id, seq)`; with it, each is a hypertable keyed with its time column.
/// The rows arrive once either way. (Debian bookworm ships no timescaledb package, so CI runs the
/// plain branch.)
#[test]
fn timescale_hypertables_when_present_plain_tables_otherwise() {
    let Some(url) = url() else { return };
    let dir = workdir("timescale");
    let mut j = Journal::open(&dir.join("j.sqlite")).unwrap();
    j.begin_run(&info()).unwrap();
    write_batch(&mut j, 1, 50);
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let schema = format!("obi_ts_{}", std::process::id());
    pgc.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema}"
    ))
    .unwrap();
    let offered: bool = pgc
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')",
            &[],
        )
        .unwrap()
        .get(0);
    let layout = pg::ensure_schema(&mut pgc, j.connection()).unwrap();
    let present: bool = pgc
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(layout.timescale, present);
    assert!(offered || !present);
    eprintln!("timescaledb offered: {offered}, in the database: {present}");
    let records = &obi_scalp::store::schema::TABLES[1..];
    for t in records {
        let key: Vec<String> = pgc
            .query(
                "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
                 ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary \
                 ORDER BY array_position(i.indkey::int2[], a.attnum)",
                &[t],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if present {
            let time = pg::time_column(t).unwrap().to_string();
            assert_eq!(key, ["journal_id".to_string(), "seq".into(), time], "{t}");
        } else {
            assert_eq!(key, ["journal_id", "seq"], "{t}");
        }
    }
    if present {
        assert_eq!(layout.hypertables, records);
    } else {
        assert!(layout.hypertables.is_empty());
    }
    let jid = pg::journal_id(j.connection()).unwrap();
    while pg::sync_once(&mut pgc, j.connection(), &jid).unwrap() > 0 {}
    assert_equal(j.connection(), &mut pgc);
    // A second ensure_schema keeps the layout; a resend inserts nothing.
    assert_eq!(pg::ensure_schema(&mut pgc, j.connection()).unwrap(), layout);
    assert_eq!(pg::sync_once(&mut pgc, j.connection(), &jid).unwrap(), 0);
    pgc.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

/// A TCP proxy to PostgreSQL that can be taken down (cutting every connection) and brought up.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (d, cs) = (down.clone(), conns.clone());
        std::thread::spawn(move || {
            for c in l.incoming() {
                let Ok(c) = c else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = c.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(s) = TcpStream::connect(&target) else {
                    continue;
                };
                cs.lock().unwrap().push(c.try_clone().unwrap());
                cs.lock().unwrap().push(s.try_clone().unwrap());
                for (mut a, mut b) in [(c.try_clone().unwrap(), s.try_clone().unwrap()), (s, c)] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        loop {
                            match a.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if b.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = b.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, down, conns }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            for c in self.conns.lock().unwrap().drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }
}

/// `user:pw@host:port/db` -> (`host:port`, the URL with `127.0.0.1:<port>` instead).
fn via_proxy(url: &str, port: u16) -> (String, String) {
    let at = url.rfind('@').expect("URL with user@host");
    let rest = &url[at + 1..];
    let end = rest.find('/').unwrap_or(rest.len());
    let hostport = &rest[..end];
    let target = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    let new = format!("{}@127.0.0.1:{port}{}", &url[..at], &rest[end..]);
    (target, new)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(60), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn database_gone_mid_run_then_back_ends_with_every_row_once() {
    let Some(url) = url() else { return };
    let dir = workdir("outage");
    let path = dir.join("j.sqlite");
    let mut j = Journal::open(&path).unwrap();
    j.begin_run(&info()).unwrap();
    let (target, purl) = via_proxy(&url, 0);
    let proxy = Proxy::start(target);
    let (_, purl) = via_proxy(&purl, proxy.port);
    let sink = PgSink::spawn(purl, path.clone()).unwrap();
    let stats = sink.stats().clone();
    let mut id = 1;
    for _ in 0..5 {
        write_batch(&mut j, id, 100);
        id += 100;
        sink.wake();
    }
    wait_for("the first rows copied", || {
        stats.connected.load(Ordering::Relaxed) && stats.sent.load(Ordering::Relaxed) > 0
    });
    // The database goes away: writing goes on into the journal.
    proxy.set_down(true);
    for _ in 0..5 {
        write_batch(&mut j, id, 100);
        id += 100;
        sink.wake();
    }
    wait_for("the sink to notice", || {
        !stats.connected.load(Ordering::Relaxed) && stats.behind.load(Ordering::Relaxed) > 0
    });
    // Back: everything arrives.
    proxy.set_down(false);
    write_batch(&mut j, id, 100);
    sink.wake();
    let want = pg::journal_rows(j.connection()).unwrap();
    wait_for("every row in PostgreSQL", || {
        stats.connected.load(Ordering::Relaxed) && stats.sent.load(Ordering::Relaxed) as i64 == want
    });
    let s = sink.finish();
    assert_eq!(s.behind.load(Ordering::Relaxed), 0);
    assert!(s.errors.load(Ordering::Relaxed) >= 1);
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    assert_equal(j.connection(), &mut pgc);
}

/// `ops/grafana/obi-scalp-pnl-postgres.json`: well-formed, and every panel's SQL runs against the
/// tables the sink writes (in a schema of its own) with Grafana's macro and variables filled in;
/// the total, count and win-rate panels give the journal's own figures.
#[test]
fn grafana_pnl_dashboard_queries_run_on_the_sink_tables() {
    let Some(url) = url() else { return };
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/ops/grafana/obi-scalp-pnl-postgres.json"
        ))
        .unwrap(),
    )
    .expect("the dashboard is JSON");
    let dir = workdir("grafana");
    let mut j = Journal::open(&dir.join("j.sqlite")).unwrap();
    j.begin_run(&info()).unwrap();
    write_batch(&mut j, 1, 100); // closed trades 10, 20, ..., 100: net = id - 1
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let schema = format!("obi_grafana_{}", std::process::id());
    pgc.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema}"
    ))
    .unwrap();
    pg::ensure_schema(&mut pgc, j.connection()).unwrap();
    let jid = pg::journal_id(j.connection()).unwrap();
    while pg::sync_once(&mut pgc, j.connection(), &jid).unwrap() > 0 {}
    let r = &obi_scalp::store::report::build(
        j.connection(),
        "run",
        obi_scalp::store::report::Period::Day,
        obi_scalp::store::report::Range {
            from_ns: 0,
            to_ns: i64::MAX,
        },
    )
    .unwrap()
    .0;
    assert_eq!(r.trades, 10);

    let mut ran = 0;
    for p in dash["panels"].as_array().unwrap() {
        let title = p["title"].as_str().unwrap();
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}");
        for t in p["targets"].as_array().unwrap() {
            let mut sql = t["rawSql"].as_str().unwrap().to_string();
            // $__unixEpochFilter(expr) as Grafana expands it, over all time.
            while let Some(i) = sql.find("$__unixEpochFilter(") {
                let rest = &sql[i + 19..];
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .unwrap()
                    .0;
                let e = rest[..end].to_string();
                sql = format!(
                    "{}{e} >= 0 AND {e} <= 4102444800{}",
                    &sql[..i],
                    &rest[end + 1..]
                );
            }
            sql = sql.replace("$kind", "run");
            assert!(!sql.contains('$'), "{title}: unexpanded {sql}");
            let rows = pgc
                .simple_query(&sql)
                .unwrap_or_else(|e| panic!("{title}: {e}\n{sql}"));
            let first = rows.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap().to_string()),
                _ => None,
            });
            let trim = |s: String| {
                let s = if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    s
                };
                s
            };
            match title {
                "Total net PnL" => assert_eq!(trim(first.unwrap()), r.net_pnl, "{title}"),
                "Closed trades" => assert_eq!(first.unwrap(), "10"),
                "Win rate" => assert_eq!(
                    first.unwrap().parse::<f64>().unwrap(),
                    r.win_rate.parse::<f64>().unwrap()
                ),
                "Recent trades" | "Cumulative net PnL" => {
                    let n = rows
                        .iter()
                        .filter(|m| matches!(m, postgres::SimpleQueryMessage::Row(_)))
                        .count();
                    assert_eq!(n, 10, "{title}");
                }
                _ => assert!(first.is_some(), "{title}: no rows"),
            }
            ran += 1;
        }
    }
    assert_eq!(ran, 6);
    pgc.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

/// A private PostgreSQL cluster (initdb + pg_ctl from `PG_BINDIR` or /usr/lib/postgresql/*/bin,
/// run as the `postgres` user when the test runs as root, as initdb requires), on a free port of
/// 127.0.0.1. Stopped and removed on drop.
struct Cluster {
    bindir: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn cmd(&self, tool: &str) -> std::process::Command {
        let bin = self.bindir.join(tool);
        if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin);
            c
        } else {
            std::process::Command::new(bin)
        }
    }

    fn run(&self, mut c: std::process::Command, what: &str) {
        let o = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            o.status.success(),
            "{what}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn start(&self) {
        let mut c = self.cmd("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .args(["-w", "-l"])
            .arg(self.data.join("log"));
        c.arg("-o").arg(format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.data.display()
        ));
        c.arg("start");
        self.run(c, "pg_ctl start");
    }

    fn stop(&self) {
        let mut c = self.cmd("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "fast", "stop"]);
        self.run(c, "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgresql://obi@127.0.0.1:{}/postgres", self.port)
    }

    fn new() -> Option<Cluster> {
        let bindir = std::env::var("PG_BINDIR")
            .map(PathBuf::from)
            .ok()
            .or_else(|| {
                let mut v: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                    .ok()?
                    .flatten()
                    .map(|e| e.path().join("bin"))
                    .filter(|p| p.join("initdb").exists())
                    .collect();
                v.sort();
                v.pop()
            });
        let Some(bindir) = bindir else {
            assert_ne!(
                std::env::var("OBI_REQUIRE_TOOLS").as_deref(),
                Ok("1"),
                "OBI_REQUIRE_TOOLS=1 but no PostgreSQL initdb (PG_BINDIR or /usr/lib/postgresql/*/bin)"
            );
            eprintln!("SKIP: no PostgreSQL initdb found");
            return None;
        };
        // initdb refuses to run as root.
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let data = std::env::temp_dir().join(format!("obi-pg-cluster-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Cluster {
            bindir,
            data,
            port,
            as_postgres: root,
        };
        let mut init = c.cmd("initdb");
        init.arg("-D")
            .arg(&c.data)
            .args(["-U", "obi", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        c.run(init, "initdb");
        c.start();
        Some(c)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut c = self.cmd("pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "immediate", "stop"]);
        let _ = c.output();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// The must-show: the database really stopped mid-run (`pg_ctl stop`) and started again; the
/// records written meanwhile wait in the journal and every row ends up there exactly once.
#[test]
fn database_stopped_mid_run_and_started_again_ends_with_every_row_once() {
    let Some(cluster) = Cluster::new() else {
        return;
    };
    let url = cluster.url();
    let dir = workdir("stopstart");
    let path = dir.join("j.sqlite");
    let mut j = Journal::open(&path).unwrap();
    j.begin_run(&info()).unwrap();
    let sink = PgSink::spawn(url.clone(), path.clone()).unwrap();
    let stats = sink.stats().clone();
    let mut id = 1;
    for _ in 0..5 {
        write_batch(&mut j, id, 100);
        id += 100;
        sink.wake();
    }
    wait_for("the first rows copied", || {
        stats.connected.load(Ordering::Relaxed) && stats.sent.load(Ordering::Relaxed) > 0
    });
    cluster.stop();
    for _ in 0..5 {
        write_batch(&mut j, id, 100);
        id += 100;
        sink.wake();
    }
    wait_for("the sink to notice", || {
        !stats.connected.load(Ordering::Relaxed) && stats.behind.load(Ordering::Relaxed) > 0
    });
    cluster.start();
    write_batch(&mut j, id, 100);
    sink.wake();
    let want = pg::journal_rows(j.connection()).unwrap();
    wait_for("every row in PostgreSQL", || {
        stats.connected.load(Ordering::Relaxed) && stats.sent.load(Ordering::Relaxed) as i64 == want
    });
    let s = sink.finish();
    assert_eq!(s.behind.load(Ordering::Relaxed), 0);
    assert!(s.errors.load(Ordering::Relaxed) >= 1);
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    assert_equal(j.connection(), &mut pgc);
}
