//! The PostgreSQL copy of the journal (`[store] postgres_url`).
//!
//! The SQLite journal is the outbox: the sink thread copies each table's rows with a `seq` above
//! what PostgreSQL already holds for this journal (`journal_id`, a random id in the journal's
//! `meta`), in batches, one transaction each, `ON CONFLICT DO NOTHING` on `(journal_id, seq)`.
//! The database down or slow: rows wait in the journal and go when it is back; a re-sent batch
//! inserts nothing twice. The cold thread only wakes the sink (a bounded queue of one wake-up:
//! it never blocks); `runs` rows are upserted (their end is written last).
//!
//! Tables mirror the journal's: INTEGER columns as `bigint`, TEXT as `text`, money columns as
//! exact `numeric` (money units, as in the journal). Plain tables; TimescaleDB hypertables are
//! not created by this build.
//!
//! Client: the `postgres` crate (sync wrapper of `tokio-postgres`) with default features off; it
//! brings tokio (a current-thread runtime on the sink thread only), no TLS: use a local socket or
//! 127.0.0.1, or a TLS-terminating proxy.

use super::journal::connect;
use super::schema::TABLES;
use super::StoreError;
use rusqlite::types::ValueRef;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Rows per INSERT statement, and per transaction.
const ROWS_PER_STMT: usize = 200;
const ROWS_PER_TX: usize = 5_000;

/// How far the copy is: read by `/metrics` and the summary.
#[derive(Debug, Default)]
pub struct PgStats {
    /// Rows PostgreSQL holds from this journal (as of the last sync).
    pub sent: AtomicU64,
    /// Journal rows not yet in PostgreSQL (as of the last look at both).
    pub behind: AtomicI64,
    /// Connection or statement failures.
    pub errors: AtomicU64,
    pub connected: AtomicBool,
}

/// A column of a journal table and its PostgreSQL type.
#[derive(Debug, Clone)]
struct Col {
    name: String,
    pg: &'static str,
}

fn columns(lite: &rusqlite::Connection, table: &str) -> rusqlite::Result<Vec<Col>> {
    let mut st = lite.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = st.query_map([], |r| {
        let name: String = r.get(1)?;
        let ty: String = r.get(2)?;
        Ok(Col {
            name,
            pg: match ty.to_ascii_uppercase().as_str() {
                "INTEGER" => "bigint",
                "TEXT" => "text",
                _ => "numeric",
            },
        })
    })?;
    rows.collect()
}

fn key_of(table: &str) -> &'static str {
    if table == "runs" {
        "run_id"
    } else {
        "seq"
    }
}

fn pg_err(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => StoreError(format!("postgresql: {}: {}", d.code().code(), d.message())),
        None => StoreError(format!("postgresql: {e}")),
    }
}

fn lite_err(e: rusqlite::Error) -> StoreError {
    StoreError(format!("journal read: {e}"))
}

/// The journal's id (names its rows in PostgreSQL).
pub fn journal_id(lite: &rusqlite::Connection) -> Result<String, StoreError> {
    lite.query_row("SELECT value FROM meta WHERE key = 'journal_id'", [], |r| {
        r.get(0)
    })
    .map_err(lite_err)
}

/// Creates the tables PostgreSQL lacks.
pub fn ensure_schema(
    pg: &mut postgres::Client,
    lite: &rusqlite::Connection,
) -> Result<(), StoreError> {
    for t in TABLES {
        let cols = columns(lite, t).map_err(lite_err)?;
        let defs: Vec<String> = cols
            .iter()
            .map(|c| format!("{} {}", c.name, c.pg))
            .collect();
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {t} (journal_id text NOT NULL, {}, PRIMARY KEY (journal_id, {}))",
            defs.join(", "),
            key_of(t)
        );
        pg.batch_execute(&sql).map_err(pg_err)?;
        // Columns a newer journal schema added.
        for c in &cols {
            pg.batch_execute(&format!(
                "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {} {}",
                c.name, c.pg
            ))
            .map_err(pg_err)?;
        }
    }
    Ok(())
}

fn text_of(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
    }
}

/// Copies what PostgreSQL lacks, table by table; returns rows inserted.
pub fn sync_once(
    pg: &mut postgres::Client,
    lite: &rusqlite::Connection,
    jid: &str,
) -> Result<u64, StoreError> {
    let mut inserted = 0u64;
    for t in TABLES {
        let cols = columns(lite, t).map_err(lite_err)?;
        let key = key_of(t);
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        // runs: every row is re-upserted (few rows; their end arrives late).
        let from: i64 = if *t == "runs" {
            0
        } else {
            let r = pg
                .query_one(
                    &format!("SELECT coalesce(max({key}), 0) FROM {t} WHERE journal_id = $1"),
                    &[&jid],
                )
                .map_err(pg_err)?;
            r.get(0)
        };
        let mut st = lite
            .prepare(&format!(
                "SELECT {} FROM {t} WHERE {key} > ?1 ORDER BY {key} LIMIT {ROWS_PER_TX}",
                names.join(", ")
            ))
            .map_err(lite_err)?;
        let mut rows = st.query([from]).map_err(lite_err)?;
        let mut vals: Vec<Option<String>> = Vec::new();
        let mut n = 0usize;
        while let Some(r) = rows.next().map_err(lite_err)? {
            for i in 0..cols.len() {
                vals.push(text_of(r.get_ref(i).map_err(lite_err)?));
            }
            n += 1;
        }
        if n == 0 {
            continue;
        }
        let conflict = if *t == "runs" {
            let set: Vec<String> = names
                .iter()
                .filter(|c| **c != key)
                .map(|c| format!("{c} = EXCLUDED.{c}"))
                .collect();
            format!(
                "ON CONFLICT (journal_id, {key}) DO UPDATE SET {}",
                set.join(", ")
            )
        } else {
            format!("ON CONFLICT (journal_id, {key}) DO NOTHING")
        };
        let mut tx = pg.transaction().map_err(pg_err)?;
        let per = cols.len();
        for chunk in vals.chunks(per * ROWS_PER_STMT) {
            let rows_here = chunk.len() / per;
            let mut sql = format!("INSERT INTO {t} (journal_id, {}) VALUES ", names.join(", "));
            let mut p = 2;
            for row in 0..rows_here {
                if row > 0 {
                    sql.push(',');
                }
                sql.push_str("($1");
                for c in &cols {
                    sql.push_str(&format!(", CAST(${p}::text AS {})", c.pg));
                    p += 1;
                }
                sql.push(')');
            }
            sql.push(' ');
            sql.push_str(&conflict);
            let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&jid];
            for v in chunk {
                params.push(v);
            }
            let k = tx.execute(sql.as_str(), &params).map_err(pg_err)?;
            if *t != "runs" {
                inserted += k;
            }
        }
        tx.commit().map_err(pg_err)?;
    }
    Ok(inserted)
}

/// Rows of this journal in PostgreSQL and in the journal (record tables; `runs` excluded).
pub fn counts(
    pg: &mut postgres::Client,
    lite: &rusqlite::Connection,
    jid: &str,
) -> Result<(i64, i64), StoreError> {
    let (mut a, mut b) = (0i64, 0i64);
    for t in &TABLES[1..] {
        let r = pg
            .query_one(
                &format!("SELECT count(*) FROM {t} WHERE journal_id = $1"),
                &[&jid],
            )
            .map_err(pg_err)?;
        a += r.get::<_, i64>(0);
        b += lite
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(lite_err)?;
    }
    Ok((a, b))
}

/// Rows in the journal's record tables (`runs` excluded).
pub fn journal_rows(lite: &rusqlite::Connection) -> rusqlite::Result<i64> {
    let mut n = 0;
    for t in &TABLES[1..] {
        n += lite.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
            r.get::<_, i64>(0)
        })?;
    }
    Ok(n)
}

/// The sink thread's handle: wake it after each flush, stop it at the end.
pub struct PgSink {
    wake: crossbeam_channel::Sender<()>,
    stop: Arc<AtomicBool>,
    stats: Arc<PgStats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PgSink {
    /// Starts the sink thread for the journal at `journal` (already open and migrated).
    pub fn spawn(url: String, journal: PathBuf) -> std::io::Result<PgSink> {
        let (wake, rx) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(PgStats::default());
        let (s2, st2) = (stop.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("pg-sink".into())
            .spawn(move || sink_loop(&url, &journal, &rx, &s2, &st2))?;
        Ok(PgSink {
            wake,
            stop,
            stats,
            thread: Some(thread),
        })
    }

    /// Never blocks: a wake-up already queued is enough.
    pub fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    pub fn stats(&self) -> &Arc<PgStats> {
        &self.stats
    }

    /// One last sync (bounded by the connect timeout), then the thread ends.
    pub fn finish(mut self) -> Arc<PgStats> {
        self.stop.store(true, Ordering::Relaxed);
        self.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stats.clone()
    }
}

fn connect_pg(url: &str) -> Result<postgres::Client, StoreError> {
    let mut cfg: postgres::Config = url
        .parse()
        .map_err(|e| StoreError(format!("postgres_url: {e}")))?;
    cfg.connect_timeout(Duration::from_secs(5));
    cfg.connect(postgres::NoTls).map_err(pg_err)
}

fn sink_loop(
    url: &str,
    journal: &Path,
    rx: &crossbeam_channel::Receiver<()>,
    stop: &AtomicBool,
    stats: &PgStats,
) {
    let lite = match connect(journal) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "postgres sink: cannot read the journal");
            return;
        }
    };
    let jid = match journal_id(&lite) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(error = %e, "postgres sink: no journal id");
            return;
        }
    };
    let mut client: Option<postgres::Client> = None;
    let mut backoff = Duration::from_millis(200);
    let mut warned = false;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let res = (|| -> Result<(), StoreError> {
            if client.is_none() {
                let mut c = connect_pg(url)?;
                ensure_schema(&mut c, &lite)?;
                client = Some(c);
            }
            let c = client.as_mut().expect("connected");
            while sync_once(c, &lite, &jid)? > 0 {}
            let (a, b) = counts(c, &lite, &jid)?;
            stats.sent.store(a as u64, Ordering::Relaxed);
            stats.behind.store(b - a, Ordering::Relaxed);
            Ok(())
        })();
        match res {
            Ok(()) => {
                stats.connected.store(true, Ordering::Relaxed);
                backoff = Duration::from_millis(200);
                if warned {
                    warned = false;
                    tracing::info!("postgres sink caught up");
                }
            }
            Err(e) => {
                client = None;
                stats.connected.store(false, Ordering::Relaxed);
                stats.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(n) = journal_rows(&lite) {
                    let sent = stats.sent.load(Ordering::Relaxed) as i64;
                    stats.behind.store((n - sent).max(0), Ordering::Relaxed);
                }
                if !warned {
                    warned = true;
                    tracing::warn!(error = %e, "postgres sink behind: rows stay in the journal");
                }
                if stopping {
                    return;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        }
        if stopping {
            return;
        }
        let _ = rx.recv_timeout(Duration::from_secs(1));
    }
}
