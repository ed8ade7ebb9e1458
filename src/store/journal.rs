//! The journal writer: records buffered in memory by the cold thread, written in one SQLite
//! transaction per flush (WAL mode), so a SIGKILL loses at most the records since the last flush
//! and never leaves half a batch.

use super::schema;
use super::StoreError;
use crate::msg::{ExecKind, Liquidity, Money, Tif};
use crate::pipeline::cold::Latencies;
use crate::pipeline::stats::LatencyKind;
use crate::risk::{Reasons, RiskStatus};
use crate::trader::TraderEvent;
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{params, Connection, ToSql};
use std::path::{Path, PathBuf};

/// Records kept in memory while the journal cannot be written (a full disk): past this the oldest
/// are dropped and counted.
pub const MAX_PENDING: usize = 1 << 20;

/// Free space the journal's file system must have at start-up.
pub const MIN_FREE_BYTES: u64 = 16 << 20;

/// What kind of process writes a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Run,
    Replay,
}

impl RunKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            RunKind::Run => "run",
            RunKind::Replay => "replay",
        }
    }
}

/// The `runs` row written when a run begins.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub kind: RunKind,
    pub started_wall_ns: u64,
    pub venue: String,
    pub symbol: String,
    pub quote: String,
    /// `tick.step_units * lot.step_units`: money units times this are units of
    /// `10^-money_decimals` of the quote currency.
    pub money_per: i64,
    pub money_decimals: u8,
    /// Decimals the quote currency is printed with (trailing zeros beyond trimmed).
    pub quote_decimals: u8,
    pub initial_equity: Money,
    pub config_digest: String,
    /// The carried risk state was cleared by the operator for this run.
    pub risk_reset: bool,
}

impl RunInfo {
    /// The run's instrument facts from a config.
    pub fn for_config(cfg: &crate::config::Config, kind: RunKind, wall_ns: u64) -> RunInfo {
        let inst = &cfg.market.instrument;
        RunInfo {
            kind,
            started_wall_ns: wall_ns,
            venue: inst.key.venue_label(),
            symbol: inst.key.symbol.to_string(),
            quote: inst.quote.to_string(),
            money_per: inst.tick.step_units() * inst.lot.step_units(),
            money_decimals: inst.notional_decimals() + 6,
            quote_decimals: inst.quote_decimals(),
            initial_equity: cfg.risk.initial_equity,
            config_digest: cfg.digest.clone(),
            risk_reset: false,
        }
    }
}

/// The end of a run.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub ended_wall_ns: u64,
    pub stop_reason: String,
    pub clean: bool,
    pub max_drawdown: Option<Money>,
    pub position: Option<i64>,
    pub cash_change: Option<Money>,
    pub risk_status: Option<RiskStatus>,
}

/// One equity snapshot: the run's net PnL so far (open position at the mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EquitySnap {
    pub ts_ns: u64,
    pub pnl: Money,
    pub position: i64,
    pub status: RiskStatus,
    pub reasons: Reasons,
}

/// The journal's own health, for the status board and the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records committed.
    pub written: u64,
    /// Records waiting for the next flush.
    pub pending: u64,
    /// Flushes that failed (the records stayed pending).
    pub write_errors: u64,
    /// Records dropped because more than [`MAX_PENDING`] were pending.
    pub dropped: u64,
    /// The last flush failed.
    pub degraded: bool,
    pub last_error: Option<String>,
    /// The highest seq committed.
    pub committed_seq: i64,
}

/// One `events` row.
#[derive(Debug, Clone, Default)]
struct EventRow {
    seq: i64,
    ts_ns: u64,
    kind: &'static str,
    order_id: Option<u64>,
    side: Option<&'static str>,
    px: Option<i64>,
    qty: Option<i64>,
    tif: Option<&'static str>,
    reduce_only: Option<bool>,
    reason: Option<&'static str>,
    liquidity: Option<&'static str>,
    fee: Option<Money>,
    leaves: Option<i64>,
    recv_ns: Option<u64>,
    obi_ppm: Option<i64>,
}

#[derive(Debug, Clone)]
enum Row {
    Event(EventRow),
    Trade {
        seq: i64,
        t: crate::exec::ClosedTrade,
        exit: Option<&'static str>,
    },
    Risk {
        seq: i64,
        e: crate::risk::RiskEvent,
    },
    Equity {
        seq: i64,
        s: EquitySnap,
    },
    Latency {
        seq: i64,
        ts_ns: u64,
        kind: &'static str,
        v: [u64; 6],
    },
}

/// Money as SQL: an INTEGER when it fits 64 bits, else its exact decimal text.
pub(crate) struct M(pub Money);

impl ToSql for M {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Owned(match i64::try_from(self.0) {
            Ok(v) => Value::Integer(v),
            Err(_) => Value::Text(self.0.to_string()),
        }))
    }
}

/// Reads a money column written by [`M`].
pub(crate) fn money(v: rusqlite::types::ValueRef<'_>) -> rusqlite::Result<Money> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Integer(i) => Ok(i as Money),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(rusqlite::Error::InvalidQuery),
        _ => Err(rusqlite::Error::InvalidQuery),
    }
}

fn ns(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The embedded journal of one process.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    run_id: Option<i64>,
    next_seq: i64,
    buf: Vec<Row>,
    stats: JournalStats,
    /// The writer's lock, held while the journal is open ([`lock_writer`]).
    _lock: std::fs::File,
}

/// Takes the one-writer lock of the journal at `path`: an exclusive `flock` on `<path>.lock`,
/// which holds the writer's pid. Two writers would hand out the same sequence numbers; the
/// second is refused naming the file and the holder. The kernel drops the lock when the process
/// ends, however it ends, so a SIGKILLed run never leaves a stale lock.
#[allow(unsafe_code)] // flock(2) has no safe std wrapper in our MSRV
fn lock_writer(path: &Path) -> Result<std::fs::File, StoreError> {
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsRawFd;
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| StoreError::msg(path, format!("cannot open {}: {e}", lock_path.display())))?;
    // SAFETY: the descriptor is open and owned by `f` for the whole call.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "unknown" } else { holder };
            return Err(StoreError::msg(
                path,
                format!(
                    "is in use by another writer (pid {holder}, lock {}); one journal per running process",
                    lock_path.display()
                ),
            ));
        }
        return Err(StoreError::msg(
            path,
            format!("flock {}: {err}", lock_path.display()),
        ));
    }
    let pid = std::process::id().to_string();
    f.set_len(0)
        .and_then(|_| f.rewind())
        .and_then(|_| f.write_all(pid.as_bytes()))
        .map_err(|e| StoreError::msg(path, format!("writing {}: {e}", lock_path.display())))?;
    Ok(f)
}

/// The page cache of each journal connection `run` holds, in KiB (SQLite's default is 2000).
pub const PAGE_CACHE_KIB: i64 = 256;

/// Opens (creating when missing) a journal connection in WAL mode with the schema current.
pub fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError::at(path, "cannot open", e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| StoreError::at(path, "busy timeout", e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| StoreError::at(path, "cannot switch to WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::msg(
            path,
            format!("journal_mode is {mode}, expected wal"),
        ));
    }
    // NORMAL in WAL mode: a committed transaction survives a process crash (SIGKILL); an OS crash
    // or power loss may lose the last commits but never corrupts the file.
    // The page cache of a connection that appends: SQLite's default (2 MB) fills as the file
    // grows, which a long `run` shows as resident memory creeping up for hours; appends and
    // the sink's reads by sequence number need only the b-tree's right edge.
    conn.execute_batch(&format!(
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-{PAGE_CACHE_KIB};"
    ))
    .map_err(|e| StoreError::at(path, "pragmas", e))?;
    migrate(&conn, path)?;
    Ok(conn)
}

/// Applies the migrations the file lacks; refuses a file newer than this build.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let have: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::at(path, "reading the schema version", e))?;
    if have > schema::VERSION {
        return Err(StoreError::msg(
            path,
            format!(
                "journal schema v{have} is newer than this build's v{}",
                schema::VERSION
            ),
        ));
    }
    for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(have as usize) {
        let v = i as i64 + 1;
        let tx = conn
            .unchecked_transaction()
            .map_err(|e| StoreError::at(path, "migration", e))?;
        tx.execute_batch(sql)
            .and_then(|_| tx.execute_batch(&format!("PRAGMA user_version={v}")))
            .map_err(|e| StoreError::at(path, &format!("migration to v{v}"), e))?;
        if v == 1 {
            let id = journal_id_new();
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ('journal_id', ?1)",
                [id],
            )
            .map_err(|e| StoreError::at(path, "meta", e))?;
        }
        tx.commit()
            .map_err(|e| StoreError::at(path, &format!("migration to v{v}"), e))?;
    }
    Ok(())
}

/// A random 64-bit journal id (hex): names this journal's rows in PostgreSQL.
fn journal_id_new() -> String {
    let mut b = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Free bytes on the file system holding `dir`.
#[allow(unsafe_code)] // one libc call with no safe std equivalent
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("path has a NUL byte"))?;
    // SAFETY: statvfs is plain old data, so all-zero bytes are a valid value.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and outlives the call; `s` is a struct we own for it to fill.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(s.f_bavail as u64 * s.f_frsize as u64)
}

impl Journal {
    /// Opens the journal at `path` (creating it and its directory), checks there is room and that
    /// it can be written. Any failure is a start-up error naming the path.
    pub fn open(path: &Path) -> Result<Journal, StoreError> {
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).map_err(|e| {
                StoreError::msg(path, format!("cannot create {}: {e}", d.display()))
            })?;
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let free = free_bytes(dir).map_err(|e| StoreError::msg(path, format!("statvfs: {e}")))?;
        if free < MIN_FREE_BYTES {
            return Err(StoreError::msg(
                path,
                format!(
                    "only {free} bytes free on its file system, {MIN_FREE_BYTES} needed to start"
                ),
            ));
        }
        let lock = lock_writer(path)?;
        let conn = connect(path)?;
        let next_seq = 1 + max_seq(&conn).map_err(|e| StoreError::at(path, "reading seq", e))?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
            run_id: None,
            next_seq,
            buf: Vec::with_capacity(4096),
            stats: JournalStats {
                committed_seq: next_seq - 1,
                ..JournalStats::default()
            },
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The page cache this journal's connection holds, in bytes (SQLite's per-connection
    /// `SQLITE_DBSTATUS_CACHE_USED`).
    #[allow(unsafe_code)] // rusqlite has no safe wrapper for sqlite3_db_status
    pub fn page_cache_bytes(&self) -> i64 {
        let (mut cur, mut hi) = (0, 0);
        // SAFETY: `handle()` is this open connection's pointer, used only while `self.conn` is
        // borrowed; sqlite3_db_status writes the two ints it is given and nothing else.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_db_status(
                self.conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
                &mut cur,
                &mut hi,
                0,
            )
        };
        if rc == 0 {
            i64::from(cur)
        } else {
            -1
        }
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn run_id(&self) -> Option<i64> {
        self.run_id
    }

    pub fn stats(&self) -> JournalStats {
        let mut s = self.stats.clone();
        s.pending = self.buf.len() as u64;
        s
    }

    /// Writes the `runs` row at once (a failed write here is a start-up error).
    pub fn begin_run(&mut self, r: &RunInfo) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO runs(kind, started_wall_ns, pid, venue, symbol, quote, money_per,
                    money_decimals, quote_decimals, initial_equity, config_digest, risk_reset)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    r.kind.as_str(),
                    ns(r.started_wall_ns),
                    std::process::id(),
                    r.venue,
                    r.symbol,
                    r.quote,
                    r.money_per,
                    r.money_decimals,
                    r.quote_decimals,
                    M(r.initial_equity),
                    r.config_digest,
                    r.risk_reset,
                ],
            )
            .map_err(|e| StoreError::at(&self.path, "cannot write the runs row", e))?;
        let id = self.conn.last_insert_rowid();
        self.run_id = Some(id);
        Ok(id)
    }

    /// Flushes what is pending and closes the run's row.
    pub fn end_run(&mut self, e: &RunEnd) -> Result<(), StoreError> {
        self.flush()?;
        let Some(id) = self.run_id else {
            return Ok(());
        };
        self.conn
            .execute(
                "UPDATE runs SET ended_wall_ns = ?2, stop_reason = ?3, clean = ?4,
                    final_max_drawdown = ?5, final_position = ?6, final_cash_change = ?7,
                    final_risk_status = ?8
                 WHERE run_id = ?1",
                params![
                    id,
                    ns(e.ended_wall_ns),
                    e.stop_reason,
                    e.clean,
                    e.max_drawdown.map(M),
                    e.position,
                    e.cash_change.map(M),
                    e.risk_status.map(|s| s.as_str()),
                ],
            )
            .map_err(|e| StoreError::at(&self.path, "cannot close the runs row", e))?;
        Ok(())
    }

    fn seq(&mut self) -> i64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    fn push(&mut self, r: Row) {
        if self.buf.len() >= MAX_PENDING {
            self.buf.remove(0);
            self.stats.dropped += 1;
        }
        self.buf.push(r);
    }

    /// Buffers one trader event (signals, orders, executions, trades, risk transitions).
    pub fn record(&mut self, e: &TraderEvent) {
        let seq = self.seq();
        let ev = |ts_ns: u64, kind: &'static str| EventRow {
            seq,
            ts_ns,
            kind,
            ..EventRow::default()
        };
        let row = match *e {
            TraderEvent::Signal(f) => Row::Event(EventRow {
                side: Some(f.dir.as_str()),
                obi_ppm: Some(f.obi_ppm),
                recv_ns: Some(f.recv_ns),
                reason: Some(if f.instant { "instant" } else { "held" }),
                ..ev(f.recv_ns, "signal")
            }),
            TraderEvent::Order {
                ts_ns,
                recv_ns,
                id,
                side,
                px,
                qty,
                tif,
                reduce_only,
            } => Row::Event(EventRow {
                order_id: Some(id),
                side: Some(side.as_str()),
                px: Some(px),
                qty: Some(qty),
                tif: Some(match tif {
                    Tif::Gtc => "gtc",
                    Tif::PostOnly => "post_only",
                    Tif::Ioc => "ioc",
                }),
                reduce_only: Some(reduce_only),
                recv_ns: Some(recv_ns),
                ..ev(ts_ns, "order")
            }),
            TraderEvent::Cancel { ts_ns, id } => Row::Event(EventRow {
                order_id: Some(id),
                ..ev(ts_ns, "cancel")
            }),
            TraderEvent::CancelAll { ts_ns } => Row::Event(ev(ts_ns, "cancel_all")),
            TraderEvent::PreTradeReject {
                ts_ns,
                id,
                side,
                px,
                qty,
                reason,
            } => Row::Event(EventRow {
                order_id: Some(id),
                side: Some(side.as_str()),
                px: Some(px),
                qty: Some(qty),
                reason: Some(reason.as_str()),
                ..ev(ts_ns, "pre_trade_reject")
            }),
            TraderEvent::Exec { report, side } => {
                let b = EventRow {
                    order_id: Some(report.id),
                    side: Some(side.as_str()),
                    ..ev(report.ts_ns, "ack")
                };
                Row::Event(match report.kind {
                    ExecKind::Accepted => b,
                    ExecKind::Fill {
                        px,
                        qty,
                        liquidity,
                        fee,
                        leaves,
                    } => EventRow {
                        kind: "fill",
                        px: Some(px),
                        qty: Some(qty),
                        liquidity: Some(match liquidity {
                            Liquidity::Maker => "maker",
                            Liquidity::Taker => "taker",
                        }),
                        fee: Some(fee),
                        leaves: Some(leaves),
                        ..b
                    },
                    ExecKind::Cancelled { leaves } => EventRow {
                        kind: "cancelled",
                        leaves: Some(leaves),
                        ..b
                    },
                    ExecKind::Rejected { reason } => EventRow {
                        kind: "reject",
                        reason: Some(reason.as_str()),
                        ..b
                    },
                    ExecKind::CancelRejected { reason } => EventRow {
                        kind: "cancel_reject",
                        reason: Some(reason.as_str()),
                        ..b
                    },
                })
            }
            TraderEvent::Closed { trade, exit } => Row::Trade {
                seq,
                t: trade,
                exit: exit.map(|x| x.as_str()),
            },
            TraderEvent::Risk(e) => Row::Risk { seq, e },
            TraderEvent::UnknownReport { report } => Row::Event(EventRow {
                order_id: Some(report.id),
                ..ev(report.ts_ns, "unknown_report")
            }),
        };
        self.push(row);
    }

    /// Buffers one equity snapshot.
    pub fn equity(&mut self, s: EquitySnap) {
        let seq = self.seq();
        self.push(Row::Equity { seq, s });
    }

    /// Buffers the run's latency percentiles so far (one row per kind with samples).
    pub fn latencies(&mut self, ts_ns: u64, l: &Latencies) {
        for k in LatencyKind::ALL {
            let h = l.get(k);
            if h.is_empty() {
                continue;
            }
            let seq = self.seq();
            let v = [
                h.len(),
                h.value_at_quantile(0.50),
                h.value_at_quantile(0.90),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
            ];
            self.push(Row::Latency {
                seq,
                ts_ns,
                kind: k.as_str(),
                v,
            });
        }
    }

    /// Writes what is pending in one transaction. On failure everything stays pending (retried by
    /// the next flush), the journal is degraded and the error is returned.
    pub fn flush(&mut self) -> Result<usize, StoreError> {
        if self.buf.is_empty() {
            return Ok(0);
        }
        let Some(run) = self.run_id else {
            return Err(StoreError::msg(&self.path, "flush before begin_run"));
        };
        match write_rows(&self.conn, run, &self.buf) {
            Ok(()) => {
                let n = self.buf.len();
                self.stats.written += n as u64;
                self.stats.committed_seq = self.next_seq - 1;
                self.stats.degraded = false;
                self.buf.clear();
                Ok(n)
            }
            Err(e) => {
                self.stats.write_errors += 1;
                self.stats.degraded = true;
                let err = StoreError::at(&self.path, "write failed (records kept pending)", e);
                self.stats.last_error = Some(err.to_string());
                Err(err)
            }
        }
    }
}

fn reasons_text(r: Reasons) -> String {
    r.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

fn write_rows(conn: &Connection, run: i64, rows: &[Row]) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut ev = tx.prepare(
            "INSERT INTO events(seq, run_id, ts_ns, kind, order_id, side, px, qty, tif, reduce_only,
                reason, liquidity, fee, leaves, recv_ns, obi_ppm)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        let mut tr = tx.prepare(
            "INSERT INTO trades(seq, run_id, open_ns, close_ns, side, qty, max_position, entry_value,
                exit_value, gross_pnl, fees, net_pnl, exit_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let mut rk = tx.prepare(
            "INSERT INTO risk(seq, run_id, ts_ns, from_status, to_status, reasons, reasons_text,
                raised, cleared, kill_source, mark_px, equity, equity_peak, drawdown, day_pnl,
                position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        let mut eq = tx.prepare(
            "INSERT INTO equity(seq, run_id, ts_ns, pnl, position, risk_status, reasons)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut la = tx.prepare(
            "INSERT INTO latency(seq, run_id, ts_ns, kind, count, p50_ns, p90_ns, p99_ns, p999_ns,
                max_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for r in rows {
            match r {
                Row::Event(e) => {
                    ev.execute(params![
                        e.seq,
                        run,
                        ns(e.ts_ns),
                        e.kind,
                        e.order_id.map(ns),
                        e.side,
                        e.px,
                        e.qty,
                        e.tif,
                        e.reduce_only,
                        e.reason,
                        e.liquidity,
                        e.fee.map(M),
                        e.leaves,
                        e.recv_ns.map(ns),
                        e.obi_ppm,
                    ])?;
                }
                Row::Trade { seq, t, exit } => {
                    tr.execute(params![
                        seq,
                        run,
                        ns(t.open_ns),
                        ns(t.close_ns),
                        t.side.as_str(),
                        t.qty,
                        t.max_position,
                        M(t.entry_value),
                        M(t.exit_value),
                        M(t.gross_pnl),
                        M(t.fees),
                        M(t.net_pnl),
                        exit,
                    ])?;
                }
                Row::Risk { seq, e } => {
                    let s = &e.snapshot;
                    rk.execute(params![
                        seq,
                        run,
                        ns(e.ts_ns),
                        e.from.as_str(),
                        e.to.as_str(),
                        e.reasons.bits(),
                        reasons_text(e.reasons),
                        reasons_text(e.raised),
                        reasons_text(e.cleared),
                        e.kill_source.map(|k| k.as_str()),
                        (s.mark_px != crate::msg::NO_PRICE).then_some(s.mark_px),
                        M(s.equity),
                        M(s.equity_peak),
                        M(s.drawdown),
                        M(s.day_pnl),
                        s.position,
                    ])?;
                }
                Row::Equity { seq, s } => {
                    eq.execute(params![
                        seq,
                        run,
                        ns(s.ts_ns),
                        M(s.pnl),
                        s.position,
                        s.status.as_str(),
                        s.reasons.bits(),
                    ])?;
                }
                Row::Latency {
                    seq,
                    ts_ns,
                    kind,
                    v,
                } => {
                    la.execute(params![
                        seq,
                        run,
                        ns(*ts_ns),
                        kind,
                        ns(v[0]),
                        ns(v[1]),
                        ns(v[2]),
                        ns(v[3]),
                        ns(v[4]),
                        ns(v[5]),
                    ])?;
                }
            }
        }
    }
    tx.commit()
}

/// The highest seq in any record table (0 when empty).
pub fn max_seq(conn: &Connection) -> rusqlite::Result<i64> {
    let mut m = 0i64;
    for t in &schema::TABLES[1..] {
        let v: Option<i64> =
            conn.query_row(&format!("SELECT max(seq) FROM {t}"), [], |r| r.get(0))?;
        m = m.max(v.unwrap_or(0));
    }
    Ok(m)
}
