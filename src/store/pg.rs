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
//! exact `numeric` (money units, as in the journal). TimescaleDB: when the server offers the
//! extension ([`timescale`]), a record table created new is a hypertable on its time column
//! (`ts_ns`, `close_ns` for trades; integer nanoseconds, one-day chunks) with its primary key
//! `(journal_id, seq, <time>)` (TimescaleDB wants the time column in every unique key; a resent
//! row has the same time, so it is still inserted once) and compression of chunks older than 7
//! days (segmented by `journal_id`, ordered by `seq`). Otherwise, and for a table that already
//! exists as a plain one, plain tables keyed `(journal_id, seq)`.
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

/// The column a record table is partitioned by as a TimescaleDB hypertable.
pub fn time_column(table: &str) -> Option<&'static str> {
    match table {
        "events" | "risk" | "equity" | "latency" => Some("ts_ns"),
        "trades" => Some("close_ns"),
        _ => None,
    }
}

/// One day and seven days in the tables' time unit (nanoseconds).
const CHUNK_NS: i64 = 86_400_000_000_000;
const COMPRESS_AFTER_NS: i64 = 7 * CHUNK_NS;

/// Whether TimescaleDB is in this database: `CREATE EXTENSION IF NOT EXISTS timescaledb` when the
/// server offers it (`pg_available_extensions`); a failure there (the library not preloaded, a
/// role that may not create it) is logged and the tables stay plain.
pub fn timescale(pg: &mut postgres::Client) -> Result<bool, StoreError> {
    let offered: bool = pg
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')",
            &[],
        )
        .map_err(pg_err)?
        .get(0);
    if offered {
        if let Err(e) = pg.batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb") {
            tracing::warn!(error = %pg_err(e), "timescaledb offered but not created: plain tables");
        }
    }
    let present: bool = pg
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')",
            &[],
        )
        .map_err(pg_err)?
        .get(0);
    Ok(present)
}

/// The statements that create table `t` (absent so far) with `cols`: a hypertable with
/// compression when `hyper` and `t` has a time column, else a plain table.
fn create_sql(t: &str, cols: &[Col], hyper: bool) -> Vec<String> {
    let defs: Vec<String> = cols
        .iter()
        .map(|c| format!("{} {}", c.name, c.pg))
        .collect();
    let key = key_of(t);
    match time_column(t).filter(|_| hyper) {
        None => vec![format!(
            "CREATE TABLE IF NOT EXISTS {t} (journal_id text NOT NULL, {}, PRIMARY KEY (journal_id, {key}))",
            defs.join(", ")
        )],
        Some(time) => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (journal_id text NOT NULL, {}, PRIMARY KEY (journal_id, {key}, {time}))",
                defs.join(", ")
            ),
            format!(
                "SELECT create_hypertable('{t}', '{time}', chunk_time_interval => {CHUNK_NS}::bigint, if_not_exists => TRUE)"
            ),
            format!("SELECT set_integer_now_func('{t}', 'obi_now_ns', replace_if_exists => TRUE)"),
            format!(
                "ALTER TABLE {t} SET (timescaledb.compress, timescaledb.compress_segmentby = 'journal_id', timescaledb.compress_orderby = '{key}')"
            ),
            format!(
                "SELECT add_compression_policy('{t}', compress_after => {COMPRESS_AFTER_NS}::bigint, if_not_exists => TRUE)"
            ),
        ],
    }
}

/// What [`ensure_schema`] found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgLayout {
    /// The TimescaleDB extension is in the database.
    pub timescale: bool,
    /// The record tables that are hypertables (empty without TimescaleDB).
    pub hypertables: Vec<String>,
}

/// Creates the tables PostgreSQL lacks (hypertables when TimescaleDB is there).
pub fn ensure_schema(
    pg: &mut postgres::Client,
    lite: &rusqlite::Connection,
) -> Result<PgLayout, StoreError> {
    let hyper = timescale(pg)?;
    if hyper {
        // The "now" of the integer time columns, for the compression policy.
        pg.batch_execute(
            "CREATE OR REPLACE FUNCTION obi_now_ns() RETURNS bigint LANGUAGE sql STABLE AS \
             $$ SELECT (extract(epoch FROM now()) * 1000000000)::bigint $$",
        )
        .map_err(pg_err)?;
    }
    let mut hypertables = Vec::new();
    for t in TABLES {
        let cols = columns(lite, t).map_err(lite_err)?;
        let exists: bool = pg
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t])
            .map_err(pg_err)?
            .get(0);
        if !exists {
            for sql in create_sql(t, &cols, hyper) {
                pg.batch_execute(&sql).map_err(pg_err)?;
            }
        }
        // Columns a newer journal schema added.
        for c in &cols {
            pg.batch_execute(&format!(
                "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {} {}",
                c.name, c.pg
            ))
            .map_err(pg_err)?;
        }
        if hyper {
            let is: bool = pg
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables \
                     WHERE hypertable_name = $1 AND hypertable_schema = current_schema())",
                    &[&t],
                )
                .map_err(pg_err)?
                .get(0);
            if is {
                hypertables.push(t.to_string());
            } else if time_column(t).is_some() && exists {
                tracing::info!(
                    table = t,
                    "postgres: a plain table from before TimescaleDB stays plain"
                );
            }
        }
    }
    Ok(PgLayout {
        timescale: hyper,
        hypertables,
    })
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
            // The primary key is (journal_id, seq), or (journal_id, seq, time) on a hypertable:
            // a resent row conflicts with itself either way.
            "ON CONFLICT DO NOTHING".to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Col> {
        vec![
            Col {
                name: "seq".into(),
                pg: "bigint",
            },
            Col {
                name: "ts_ns".into(),
                pg: "bigint",
            },
            Col {
                name: "net_pnl".into(),
                pg: "numeric",
            },
        ]
    }

    #[test]
    fn without_timescale_every_table_is_plain_keyed_by_journal_and_seq() {
        for t in TABLES {
            let sql = create_sql(t, &cols(), false);
            assert_eq!(sql.len(), 1, "{t}: {sql:?}");
            assert!(
                sql[0].ends_with(&format!("PRIMARY KEY (journal_id, {}))", key_of(t))),
                "{sql:?}"
            );
        }
    }

    #[test]
    fn with_timescale_record_tables_are_compressed_hypertables_on_their_time() {
        assert_eq!(time_column("runs"), None);
        assert_eq!(
            create_sql("runs", &cols(), true).len(),
            1,
            "runs stays plain"
        );
        for t in &TABLES[1..] {
            let time = time_column(t).unwrap_or_else(|| panic!("{t}: no time column"));
            let sql = create_sql(t, &cols(), true);
            assert!(
                sql[0].ends_with(&format!("PRIMARY KEY (journal_id, seq, {time}))")),
                "{sql:?}"
            );
            assert!(sql[1].starts_with(&format!(
                "SELECT create_hypertable('{t}', '{time}', chunk_time_interval => 86400000000000::bigint"
            )));
            assert!(sql[2].contains(&format!("set_integer_now_func('{t}', 'obi_now_ns'")));
            assert!(sql[3].contains("timescaledb.compress_segmentby = 'journal_id'"));
            assert!(sql[4].contains(&format!(
                "add_compression_policy('{t}', compress_after => 604800000000000::bigint"
            )));
        }
        // Every record table's time column is one the journal has.
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        for sql in crate::store::schema::MIGRATIONS {
            lite.execute_batch(sql).unwrap();
        }
        for t in &TABLES[1..] {
            let names: Vec<String> = columns(&lite, t)
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect();
            assert!(
                names.iter().any(|n| n == time_column(t).unwrap()),
                "{t}: {names:?}"
            );
        }
    }
}
