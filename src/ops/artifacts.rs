//! Run artifacts: `run_progress.json` (rewritten while running) and `run_complete.json` (once,
//! at exit), in a configurable directory (`var/artifacts` by default).
//!
//! Every write is atomic: the JSON goes to a temporary file in the same directory, which is
//! fsynced and renamed over the target, and then the directory is fsynced. A reader (or a
//! crash) sees the old file or the new one, never a torn one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use super::exit::Exit;
use super::kill::KillEvent;
use super::status::Status;
use super::{rfc3339, unix_ms};

pub const PROGRESS_FILE: &str = "run_progress.json";
pub const COMPLETE_FILE: &str = "run_complete.json";

/// Writes `value` as pretty JSON to `path` atomically (temp file + fsync + rename + dir fsync).
pub fn write_json_atomic<T: Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically (temp file + fsync + rename + dir fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Persist the rename itself.
        File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

#[derive(Serialize)]
struct Progress<'a> {
    ts: String,
    unix_ms: u64,
    pid: u32,
    kill: Option<&'a KillEvent>,
    status: &'a Status,
}

/// The contents of `run_progress.json` for a status snapshot, stamped now.
pub fn progress_bytes(status: &Status, kill: Option<&KillEvent>) -> io::Result<Vec<u8>> {
    let now = SystemTime::now();
    let mut bytes = serde_json::to_vec_pretty(&Progress {
        ts: rfc3339(now),
        unix_ms: unix_ms(now),
        pid: std::process::id(),
        kill,
        status,
    })
    .map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// What a [`ProgressWriter`] does with each version (the artifacts file, or a test's writer).
pub type WriteFn = Box<dyn FnMut(&[u8]) -> io::Result<()> + Send>;

#[derive(Default)]
struct WriterState {
    /// The newest version not yet taken by the writer.
    pending: Option<Vec<u8>>,
    busy: bool,
    closed: bool,
    /// Versions replaced by a newer one before the writer took them.
    superseded: u64,
}

/// Writes `run_progress.json` on its own thread, so that the cold loop, which also turns a
/// kill (HTTP, file, SIGUSR1) into the hot stages' kill flag, never waits for an fsync (one can
/// take 100 ms and more on a busy disk). [`ProgressWriter::offer`] only swaps a buffer under a
/// lock the writer holds for no I/O; when the writer is still busy with one version, a newer
/// one replaces the one waiting (the file shows the latest state, never a queue of old ones).
pub struct ProgressWriter {
    shared: std::sync::Arc<(std::sync::Mutex<WriterState>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ProgressWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressWriter").finish_non_exhaustive()
    }
}

impl ProgressWriter {
    /// A writer of `path` (atomic: temp file, fsync, rename, directory fsync).
    pub fn to_file(path: PathBuf) -> io::Result<ProgressWriter> {
        ProgressWriter::spawn(Box::new(move |b| write_atomic(&path, b)))
    }

    /// A writer thread calling `write` for each version it takes.
    pub fn spawn(mut write: WriteFn) -> io::Result<ProgressWriter> {
        let shared = std::sync::Arc::new((
            std::sync::Mutex::new(WriterState::default()),
            std::sync::Condvar::new(),
        ));
        let s = std::sync::Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("obi-progress".into())
            .spawn(move || {
                let (lock, cv) = &*s;
                let relock = || lock.lock().unwrap_or_else(|e| e.into_inner());
                let mut st = relock();
                loop {
                    if let Some(bytes) = st.pending.take() {
                        st.busy = true;
                        drop(st);
                        if let Err(e) = write(&bytes) {
                            tracing::warn!(error = %e, "run_progress.json not written");
                        }
                        st = relock();
                        st.busy = false;
                        cv.notify_all();
                    } else if st.closed {
                        return;
                    } else {
                        st = cv.wait(st).unwrap_or_else(|e| e.into_inner());
                    }
                }
            })?;
        Ok(ProgressWriter {
            shared,
            thread: Some(thread),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a new version to the writer without waiting for any I/O.
    pub fn offer(&self, bytes: Vec<u8>) {
        let mut st = self.state();
        if st.pending.replace(bytes).is_some() {
            st.superseded += 1;
        }
        self.shared.1.notify_all();
    }

    /// Versions replaced by a newer one before they were written (the writer was slower than
    /// the offers).
    pub fn superseded(&self) -> u64 {
        self.state().superseded
    }

    /// Waits until every version offered so far is written (or replaced and the newest
    /// written).
    pub fn flush(&self) {
        let mut st = self.state();
        while st.pending.is_some() || st.busy {
            st = self.shared.1.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for ProgressWriter {
    /// Writes what is pending, then stops the thread.
    fn drop(&mut self) {
        self.state().closed = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How the run ended, for `run_complete.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunComplete {
    /// One-line reason (for example `"SIGTERM"`, `"risk abort: max_loss"`, `"bind 127.0.0.1:9754:
    /// address in use"`).
    pub stop_reason: String,
    pub exit: Exit,
    /// Whether the drain finished within its bound (orders cancelled, files flushed).
    pub clean: bool,
    pub kill: Option<KillEvent>,
    /// The last status snapshot, if the pipeline got far enough to have one.
    pub status: Option<Status>,
}

#[derive(Serialize)]
struct Complete<'a> {
    ts: String,
    unix_ms: u64,
    pid: u32,
    exit_code: u8,
    exit_name: &'static str,
    exit_description: &'static str,
    stop_reason: &'a str,
    clean: bool,
    kill: Option<&'a KillEvent>,
    status: Option<&'a Status>,
}

/// The artifacts directory.
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
}

impl Artifacts {
    /// Creates `dir` if needed.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Artifacts> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| {
            io::Error::new(e.kind(), format!("artifacts dir {}: {e}", dir.display()))
        })?;
        Ok(Artifacts { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn progress_path(&self) -> PathBuf {
        self.dir.join(PROGRESS_FILE)
    }

    pub fn complete_path(&self) -> PathBuf {
        self.dir.join(COMPLETE_FILE)
    }

    /// Rewrites `run_progress.json` from a status snapshot.
    pub fn write_progress(&self, status: &Status, kill: Option<&KillEvent>) -> io::Result<()> {
        write_atomic(&self.progress_path(), &progress_bytes(status, kill)?)
    }

    /// Writes `run_complete.json` (at exit, also on start-up failures).
    pub fn write_complete(&self, c: &RunComplete) -> io::Result<()> {
        let now = SystemTime::now();
        write_json_atomic(
            &self.complete_path(),
            &Complete {
                ts: rfc3339(now),
                unix_ms: unix_ms(now),
                pid: std::process::id(),
                exit_code: c.exit.code(),
                exit_name: c.exit.name(),
                exit_description: c.exit.describe(),
                stop_reason: &c.stop_reason,
                clean: c.clean,
                kill: c.kill.as_ref(),
                status: c.status.as_ref(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::kill::KillSource;
    use crate::ops::status::{Mode, Phase};

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("obi-art-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn progress_and_complete_round_trip() {
        let dir = tmpdir("rt");
        let a = Artifacts::new(dir.join("nested/artifacts")).unwrap();
        let mut s = Status::new("0.1.0", "deadbeef", Mode::Paper);
        s.phase = Phase::Running;
        s.trades = 3;
        a.write_progress(&s, None).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(a.progress_path()).unwrap()).unwrap();
        assert_eq!(v["status"]["trades"], 3);
        assert_eq!(v["status"]["phase"], "running");
        assert_eq!(v["pid"], std::process::id());
        assert!(v["ts"].as_str().unwrap().ends_with('Z'));

        s.trades = 4;
        a.write_progress(&s, None).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(a.progress_path()).unwrap()).unwrap();
        assert_eq!(v["status"]["trades"], 4);

        let kill = KillEvent {
            source: KillSource::File,
            detail: "var/KILL".into(),
            unix_ms: 1,
        };
        a.write_complete(&RunComplete {
            stop_reason: "kill switch: file".into(),
            exit: Exit::Killed,
            clean: true,
            kill: Some(kill),
            status: Some(s),
        })
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(a.complete_path()).unwrap()).unwrap();
        assert_eq!(v["exit_code"], 8);
        assert_eq!(v["exit_name"], "killed");
        assert_eq!(v["stop_reason"], "kill switch: file");
        assert_eq!(v["kill"]["source"], "file");
        assert_eq!(v["status"]["trades"], 4);
        // No temporary files left behind.
        let names: Vec<String> = fs::read_dir(a.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_readers_never_see_a_torn_file() {
        let dir = tmpdir("torn");
        let a = Artifacts::new(&dir).unwrap();
        let mut s = Status::new("v", "d", Mode::Paper);
        s.risk_reasons = vec!["x".repeat(20_000)];
        a.write_progress(&s, None).unwrap();
        let path = a.progress_path();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let b = fs::read(&path).unwrap();
                    serde_json::from_slice::<serde_json::Value>(&b).expect("whole JSON");
                    reads += 1;
                }
                reads
            })
        };
        for i in 0..50 {
            s.trades = i;
            a.write_progress(&s, None).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
