//! The audit log: `var/logs/audit_events.jsonl`, one JSON object per line, for every order, fill,
//! cancel, reject, risk transition, kill switch, config and start-up/shutdown event.
//!
//! Each line starts with `seq` (1, 2, ... per process, in file order), `ts` (RFC 3339 UTC, when
//! the event was created), `kind` and `pid`, followed by the event's own fields.
//!
//! Events reach the writer thread through a bounded crossbeam channel ([`AuditSender`]), fed by
//! the cold thread only; hot threads never call it. The writer drains what is queued, writes each
//! line with one `write_all` into a buffer, and hands the batch to the OS before waiting again.
//!
//! Rotation is by size: before a line that would take the file past `max_bytes`, the file is
//! fsynced and renamed to `audit_events.jsonl.1` (older ones shift to `.2`, ...; beyond
//! `retention` they are deleted). A line is never split across files, and a line larger than
//! `max_bytes` gets a file of its own. Settings come from config, and the environment variables
//! `AUDIT_LOG_MAX_BYTES` and `AUDIT_LOG_RETENTION` win over it.
//!
//! Loss window: a process crash loses only events still in the channel (not yet handed to the
//! OS); a host crash can also lose what the OS had not yet written, at most `fsync_interval`
//! (1 s by default) of lines. Rotation, [`AuditSender::flush`] and [`AuditLog::close`] fsync.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{self as channel, Receiver, RecvTimeoutError, Sender, TrySendError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rfc3339;

pub const AUDIT_FILE: &str = "audit_events.jsonl";
pub const ENV_MAX_BYTES: &str = "AUDIT_LOG_MAX_BYTES";
pub const ENV_RETENTION: &str = "AUDIT_LOG_RETENTION";

/// What an audit line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Order,
    Fill,
    Cancel,
    Reject,
    RiskTransition,
    KillSwitch,
    Config,
    SecretsReload,
    Startup,
    Shutdown,
    /// Reconciliation with the venue (live): what start-up found and did, fills found by
    /// querying, mismatches.
    Reconcile,
}

impl AuditKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditKind::Order => "order",
            AuditKind::Fill => "fill",
            AuditKind::Cancel => "cancel",
            AuditKind::Reject => "reject",
            AuditKind::RiskTransition => "risk_transition",
            AuditKind::KillSwitch => "kill_switch",
            AuditKind::Config => "config",
            AuditKind::SecretsReload => "secrets_reload",
            AuditKind::Startup => "startup",
            AuditKind::Shutdown => "shutdown",
            AuditKind::Reconcile => "reconcile",
        }
    }
}

const RESERVED: [&str; 4] = ["seq", "ts", "kind", "pid"];

/// One event: a kind, the time it was created, and its fields in insertion order.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    kind: AuditKind,
    ts: SystemTime,
    fields: Vec<(String, Value)>,
}

impl AuditEvent {
    /// An event of `kind`, stamped now.
    pub fn new(kind: AuditKind) -> AuditEvent {
        AuditEvent {
            kind,
            ts: SystemTime::now(),
            fields: Vec::new(),
        }
    }

    /// Adds a field. Keys that clash with the line header (`seq`, `ts`, `kind`, `pid`) are
    /// written with a leading underscore. Values that fail to serialize become `null`.
    pub fn with(mut self, key: &str, value: impl Serialize) -> AuditEvent {
        let key = if RESERVED.contains(&key) {
            format!("_{key}")
        } else {
            key.to_owned()
        };
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.fields.push((key, v));
        self
    }

    /// Overrides the timestamp (for events that happened earlier than they are logged).
    pub fn at(mut self, ts: SystemTime) -> AuditEvent {
        self.ts = ts;
        self
    }

    pub fn kind(&self) -> AuditKind {
        self.kind
    }

    /// The line for `seq`, with its trailing newline.
    fn to_line(&self, seq: u64, pid: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + 32 * self.fields.len());
        let _ = write!(
            out,
            "{{\"seq\":{seq},\"ts\":\"{}\",\"kind\":\"{}\",\"pid\":{pid}",
            rfc3339(self.ts),
            self.kind.as_str()
        );
        for (k, v) in &self.fields {
            out.push(b',');
            // Writing JSON into a Vec cannot fail for strings and `Value`s.
            let _ = serde_json::to_writer(&mut out, k);
            out.push(b':');
            let _ = serde_json::to_writer(&mut out, v);
        }
        out.extend_from_slice(b"}\n");
        out
    }
}

/// Audit log settings (the `[ops.audit]` config table; env vars win, see [`AuditConfig::apply_env`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Directory of `audit_events.jsonl`.
    pub dir: PathBuf,
    /// Rotate before a line would take the file past this size.
    pub max_bytes: u64,
    /// Rotated files kept (`.1` .. `.N`), at least 1.
    pub retention: u32,
    /// Events the channel holds before `send` blocks.
    pub channel_capacity: usize,
    /// Longest time written lines stay un-fsynced, in ms.
    pub fsync_interval_ms: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            dir: PathBuf::from("var/logs"),
            max_bytes: 64 * 1024 * 1024,
            retention: 10,
            channel_capacity: 65_536,
            fsync_interval_ms: 1_000,
        }
    }
}

impl AuditConfig {
    /// Applies `AUDIT_LOG_MAX_BYTES` / `AUDIT_LOG_RETENTION` from the process environment.
    pub fn apply_env(&mut self) -> Result<(), String> {
        self.apply_env_with(|k| std::env::var(k).ok())
    }

    /// Same with an explicit lookup (tests).
    pub fn apply_env_with(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(v) = get(ENV_MAX_BYTES) {
            self.max_bytes = v
                .trim()
                .parse()
                .map_err(|_| format!("{ENV_MAX_BYTES}={v:?}: expected a whole number of bytes"))?;
        }
        if let Some(v) = get(ENV_RETENTION) {
            self.retention = v
                .trim()
                .parse()
                .map_err(|_| format!("{ENV_RETENTION}={v:?}: expected a whole number of files"))?;
        }
        self.validate()
    }

    /// Checks ranges; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes < 256 {
            return Err(format!(
                "audit max_bytes ({ENV_MAX_BYTES}) = {}: expected at least 256",
                self.max_bytes
            ));
        }
        if self.retention == 0 {
            return Err(format!(
                "audit retention ({ENV_RETENTION}) = 0: expected at least 1 rotated file"
            ));
        }
        if self.channel_capacity == 0 {
            return Err("audit channel_capacity = 0: expected at least 1".to_owned());
        }
        if self.fsync_interval_ms == 0 {
            return Err("audit fsync_interval_ms = 0: expected at least 1".to_owned());
        }
        Ok(())
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(AUDIT_FILE)
    }
}

enum Msg {
    Event(AuditEvent),
    /// Flush and fsync, then answer.
    Flush(Sender<()>),
    Shutdown,
}

/// What the writer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    pub lines: u64,
    pub bytes: u64,
    pub rotations: u64,
    pub last_seq: u64,
}

/// Feeds the writer (clone it freely; cold threads only).
#[derive(Clone)]
pub struct AuditSender {
    tx: Sender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for AuditSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSender")
            .field("queued", &self.tx.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl AuditSender {
    /// Queues `ev`, waiting while the channel is full. `false` (and counted as dropped) when the
    /// writer has stopped.
    pub fn send(&self, ev: AuditEvent) -> bool {
        if self.tx.send(Msg::Event(ev)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!("audit writer stopped: event dropped");
            return false;
        }
        true
    }

    /// Queues `ev` without waiting. `false` (and counted) when full or stopped.
    pub fn try_send(&self, ev: AuditEvent) -> bool {
        match self.tx.try_send(Msg::Event(ev)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Waits until everything queued before this call is written and fsynced. `false` on timeout
    /// or when the writer has stopped.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = channel::bounded(1);
        if self.tx.send(Msg::Flush(tx)).is_err() {
            return false;
        }
        rx.recv_timeout(timeout).is_ok()
    }

    /// Events that could not be queued.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events waiting in the channel.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }
}

/// The writer thread.
pub struct AuditLog {
    tx: Sender<Msg>,
    dropped: Arc<AtomicU64>,
    handle: Option<JoinHandle<io::Result<AuditStats>>>,
}

impl AuditLog {
    /// Validates `cfg`, opens (appends to) the file and starts the writer thread.
    pub fn start(cfg: AuditConfig) -> io::Result<AuditLog> {
        cfg.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let writer = Writer::open(cfg.clone())?;
        let (tx, rx) = channel::bounded(cfg.channel_capacity);
        let handle = std::thread::Builder::new()
            .name("ops-audit".into())
            .spawn(move || {
                let r = writer.run(rx);
                if let Err(e) = &r {
                    // Senders now see a closed channel and count their events as dropped.
                    tracing::error!(error = %e, "audit writer failed; audit events are being dropped");
                }
                r
            })?;
        Ok(AuditLog {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
            handle: Some(handle),
        })
    }

    pub fn sender(&self) -> AuditSender {
        AuditSender {
            tx: self.tx.clone(),
            dropped: Arc::clone(&self.dropped),
        }
    }

    /// Writes everything queued so far, fsyncs, and stops the writer. Events sent afterwards
    /// are dropped (and counted).
    pub fn close(mut self) -> io::Result<AuditStats> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<AuditStats> {
        let Some(h) = self.handle.take() else {
            return Ok(AuditStats::default());
        };
        let _ = self.tx.send(Msg::Shutdown);
        h.join()
            .map_err(|_| io::Error::other("audit writer panicked"))?
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(error = %e, "audit log close failed");
        }
    }
}

struct Writer {
    cfg: AuditConfig,
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    seq: u64,
    pid: u32,
    dirty: bool,
    stats: AuditStats,
}

impl Writer {
    fn open(cfg: AuditConfig) -> io::Result<Writer> {
        fs::create_dir_all(&cfg.dir).map_err(|e| {
            io::Error::new(e.kind(), format!("audit dir {}: {e}", cfg.dir.display()))
        })?;
        let path = cfg.path();
        let (file, size) = open_append(&path)?;
        Ok(Writer {
            cfg,
            path,
            out: BufWriter::with_capacity(64 * 1024, file),
            size,
            seq: 0,
            pid: std::process::id(),
            dirty: false,
            stats: AuditStats::default(),
        })
    }

    fn run(mut self, rx: Receiver<Msg>) -> io::Result<AuditStats> {
        let interval = Duration::from_millis(self.cfg.fsync_interval_ms);
        let mut last_sync = Instant::now();
        loop {
            // Idle and synced: sleep until something arrives. Otherwise wake for the fsync.
            let got = if self.dirty {
                rx.recv_timeout(interval.saturating_sub(last_sync.elapsed()))
            } else {
                rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
            };
            let first = match got {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                // Every sender is gone: finish like a shutdown.
                Err(RecvTimeoutError::Disconnected) => Some(Msg::Shutdown),
            };
            let mut next = first;
            let mut shutdown = false;
            // Drain what is queued, then hand the batch to the OS once.
            while let Some(m) = next.take() {
                match m {
                    Msg::Event(ev) => self.write_event(&ev)?,
                    Msg::Flush(ack) => {
                        self.sync()?;
                        last_sync = Instant::now();
                        let _ = ack.send(());
                    }
                    Msg::Shutdown => {
                        shutdown = true;
                        break;
                    }
                }
                next = rx.try_recv().ok();
            }
            self.out.flush()?;
            if shutdown {
                self.sync()?;
                return Ok(self.stats);
            }
            if self.dirty && last_sync.elapsed() >= interval {
                self.sync()?;
                last_sync = Instant::now();
            }
        }
    }

    fn write_event(&mut self, ev: &AuditEvent) -> io::Result<()> {
        let seq = self.seq + 1;
        let line = ev.to_line(seq, self.pid);
        let len = line.len() as u64;
        if self.size > 0 && self.size + len > self.cfg.max_bytes {
            self.rotate()?;
        }
        self.out.write_all(&line)?;
        self.seq = seq;
        self.size += len;
        self.dirty = true;
        self.stats.lines += 1;
        self.stats.bytes += len;
        self.stats.last_seq = seq;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        self.dirty = false;
        Ok(())
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.sync()?;
        let keep = self.cfg.retention;
        remove_if_exists(&self.rotated(keep))?;
        for n in (1..keep).rev() {
            rename_if_exists(&self.rotated(n), &self.rotated(n + 1))?;
        }
        fs::rename(&self.path, self.rotated(1))?;
        let (file, size) = open_append(&self.path)?;
        // Persist the renames and the new file's directory entry.
        if let Ok(d) = File::open(&self.cfg.dir) {
            let _ = d.sync_all();
        }
        self.out = BufWriter::with_capacity(64 * 1024, file);
        self.size = size;
        self.stats.rotations += 1;
        tracing::info!(path = %self.path.display(), rotations = self.stats.rotations, "audit log rotated");
        Ok(())
    }
}

/// Opens `path` for appending. If a crash left a last line without its newline, ends it, so the
/// next line starts clean (the torn line stays invalid; readers skip it).
fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("audit log {}: {e}", path.display())))?;
    let mut size = f.metadata()?.len();
    if size > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::End(-1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            f.write_all(b"\n")?;
            size += 1;
        }
    }
    Ok((f, size))
}

fn remove_if_exists(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("obi-audit-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn cfg(dir: &Path, max_bytes: u64, retention: u32) -> AuditConfig {
        AuditConfig {
            dir: dir.to_owned(),
            max_bytes,
            retention,
            channel_capacity: 64,
            fsync_interval_ms: 50,
        }
    }

    /// All lines of the current file and the rotated ones, oldest first.
    fn read_all(dir: &Path) -> Vec<String> {
        let mut files: Vec<(u32, PathBuf)> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_owned();
                if name == AUDIT_FILE {
                    Some((0, p))
                } else {
                    let n = name.strip_prefix(&format!("{AUDIT_FILE}."))?.parse().ok()?;
                    Some((n, p))
                }
            })
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.0));
        let mut lines = Vec::new();
        for (_, p) in files {
            let text = fs::read_to_string(&p).unwrap();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{} ends mid-line",
                p.display()
            );
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }

    #[test]
    fn many_lines_across_rotations_none_lost_or_torn() {
        let dir = tmpdir("many");
        let log = AuditLog::start(cfg(&dir, 4096, 1000)).unwrap();
        let tx = log.sender();
        const N: u64 = 3000;
        let producer = std::thread::spawn(move || {
            for i in 0..N {
                let kind = [AuditKind::Order, AuditKind::Fill, AuditKind::Cancel][i as usize % 3];
                let ev = AuditEvent::new(kind)
                    .with("i", i)
                    .with("note", "x\"y\n".repeat((i % 7) as usize))
                    .with("seq", "not the header");
                assert!(tx.send(ev));
            }
            assert!(tx.flush(Duration::from_secs(5)));
        });
        producer.join().unwrap();
        let stats = log.close().unwrap();
        assert_eq!(stats.lines, N);
        assert_eq!(stats.last_seq, N);
        assert!(stats.rotations >= 10, "{stats:?}");

        let lines = read_all(&dir);
        assert_eq!(lines.len() as u64, N);
        let mut seen = vec![false; N as usize + 1];
        for (idx, l) in lines.iter().enumerate() {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let seq = v["seq"].as_u64().unwrap();
            assert!(!seen[seq as usize], "seq {seq} twice");
            seen[seq as usize] = true;
            // File order is seq order, and the producer's order.
            assert_eq!(seq, idx as u64 + 1);
            assert_eq!(v["i"].as_u64().unwrap(), seq - 1);
            assert_eq!(v["_seq"], "not the header");
            assert!(v["ts"].as_str().unwrap().ends_with('Z'));
            assert_eq!(v["pid"], std::process::id());
        }
        assert!(seen[1..].iter().all(|s| *s));
        // Every file within its size limit.
        for e in fs::read_dir(&dir).unwrap() {
            assert!(e.unwrap().metadata().unwrap().len() <= 4096);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn retention_deletes_oldest() {
        let dir = tmpdir("ret");
        let log = AuditLog::start(cfg(&dir, 512, 3)).unwrap();
        let tx = log.sender();
        for i in 0..200u32 {
            tx.send(AuditEvent::new(AuditKind::Order).with("i", i));
        }
        let stats = log.close().unwrap();
        assert!(stats.rotations > 3);
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                AUDIT_FILE,
                "audit_events.jsonl.1",
                "audit_events.jsonl.2",
                "audit_events.jsonl.3"
            ]
        );
        // What is kept is the newest, contiguous and ending at the last seq.
        let lines = read_all(&dir);
        let seqs: Vec<u64> = lines
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(*seqs.last().unwrap(), 200);
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        // Sending after close is refused and counted.
        assert!(!tx.send(AuditEvent::new(AuditKind::Shutdown)));
        assert_eq!(tx.dropped(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn oversized_line_gets_its_own_file_and_append_resumes_cleanly() {
        let dir = tmpdir("big");
        fs::create_dir_all(&dir).unwrap();
        // A torn last line left by a crash.
        fs::write(
            dir.join(AUDIT_FILE),
            "{\"seq\":1,\"ts\":\"x\",\"kind\":\"order\"}\n{\"seq\":2,\"tr",
        )
        .unwrap();
        let log = AuditLog::start(cfg(&dir, 300, 5)).unwrap();
        let tx = log.sender();
        tx.send(AuditEvent::new(AuditKind::Config).with("blob", "z".repeat(1000)));
        tx.send(AuditEvent::new(AuditKind::Startup));
        log.close().unwrap();
        let cur = fs::read_to_string(dir.join(AUDIT_FILE)).unwrap();
        assert_eq!(cur.lines().count(), 1);
        assert!(cur.contains("\"kind\":\"startup\""));
        let r1 = fs::read_to_string(dir.join("audit_events.jsonl.1")).unwrap();
        assert!(r1.contains("\"blob\""));
        let r2 = fs::read_to_string(dir.join("audit_events.jsonl.2")).unwrap();
        assert!(r2.ends_with("\"tr\n"), "torn line terminated: {r2:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_overrides_config() {
        let mut c = AuditConfig::default();
        let env: HashMap<&str, &str> = [(ENV_MAX_BYTES, "1048576"), (ENV_RETENTION, " 4 ")].into();
        c.apply_env_with(|k| env.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!((c.max_bytes, c.retention), (1_048_576, 4));
        let e = c
            .apply_env_with(|k| (k == ENV_MAX_BYTES).then(|| "1M".to_string()))
            .unwrap_err();
        assert!(e.contains("AUDIT_LOG_MAX_BYTES") && e.contains("1M"), "{e}");
        let e = c
            .apply_env_with(|k| (k == ENV_RETENTION).then(|| "0".to_string()))
            .unwrap_err();
        assert!(e.contains("AUDIT_LOG_RETENTION"), "{e}");
        let mut c = AuditConfig::default();
        c.apply_env_with(|_| None).unwrap();
        assert_eq!(c, AuditConfig::default());
    }

    #[test]
    fn periodic_fsync_without_traffic_makes_lines_visible() {
        let dir = tmpdir("sync");
        let log = AuditLog::start(cfg(&dir, 1 << 20, 2)).unwrap();
        let tx = log.sender();
        tx.send(AuditEvent::new(AuditKind::Startup).with("version", "1"));
        // Written to the OS after the batch without an explicit flush.
        let end = Instant::now() + Duration::from_secs(2);
        loop {
            let text = fs::read_to_string(dir.join(AUDIT_FILE)).unwrap_or_default();
            if text.contains("\"startup\"") {
                break;
            }
            assert!(Instant::now() < end, "line never reached the file");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(log);
        fs::remove_dir_all(&dir).unwrap();
    }
}
