//! The kill switch: one latch that several sources can set, read by the risk stage.
//!
//! Sources: a file (`var/KILL` or configured path) polled by the cold thread
//! ([`KillFile::poll`]), `POST /kill` on the ops HTTP server, and SIGUSR1 (see
//! [`super::signals`]). The first source to fire is recorded; the latch never resets within a
//! process. The pipeline's risk stage calls [`KillSwitch::is_triggered`] (two relaxed-cost atomic
//! loads, no lock) and turns a set latch into `abort`.
//!
//! SIGUSR1 sets [`KillSwitch::signal_flag`] directly from the signal handler, so a kill by
//! signal reaches the risk stage even when the cold thread is stuck.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Where a kill came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillSource {
    /// The kill file appeared.
    File,
    /// `POST /kill` with a valid token.
    Http,
    /// SIGUSR1.
    Signal,
    /// Code in the process (for example a supervisor stage or a test).
    Api,
}

impl KillSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            KillSource::File => "file",
            KillSource::Http => "http",
            KillSource::Signal => "signal",
            KillSource::Api => "api",
        }
    }

    const fn to_u8(self) -> u8 {
        match self {
            KillSource::File => 1,
            KillSource::Http => 2,
            KillSource::Signal => 3,
            KillSource::Api => 4,
        }
    }

    const fn from_u8(v: u8) -> Option<KillSource> {
        match v {
            1 => Some(KillSource::File),
            2 => Some(KillSource::Http),
            3 => Some(KillSource::Signal),
            4 => Some(KillSource::Api),
            _ => None,
        }
    }
}

impl fmt::Display for KillSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The recorded first trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KillEvent {
    pub source: KillSource,
    /// Free text from the source (file path, peer address, signal name).
    pub detail: String,
    /// Wall-clock time the trigger was recorded, ms since the Unix epoch.
    pub unix_ms: u64,
}

/// The shared latch (`Arc<KillSwitch>`).
pub struct KillSwitch {
    /// 0 while not triggered, else the first source's code.
    source: AtomicU8,
    /// Set by the SIGUSR1 handler (signal-hook `flag::register`).
    signal: Arc<AtomicBool>,
    /// Detail of the first trigger, for the cold side.
    event: Mutex<Option<KillEvent>>,
}

impl fmt::Debug for KillSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillSwitch")
            .field("source", &self.source())
            .finish()
    }
}

impl Default for KillSwitch {
    fn default() -> Self {
        KillSwitch {
            source: AtomicU8::new(0),
            signal: Arc::new(AtomicBool::new(false)),
            event: Mutex::new(None),
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl KillSwitch {
    pub fn new() -> Arc<KillSwitch> {
        Arc::new(KillSwitch::default())
    }

    /// Whether any source fired. Lock-free; safe on a hot thread.
    #[inline]
    pub fn is_triggered(&self) -> bool {
        // Acquire pairs with the Release/AcqRel in `trigger` and the signal handler's store, so a
        // reader that sees the latch also sees what the trigger wrote before it.
        self.source.load(Ordering::Acquire) != 0 || self.signal.load(Ordering::Acquire)
    }

    /// The first source that fired, if any.
    pub fn source(&self) -> Option<KillSource> {
        match KillSource::from_u8(self.source.load(Ordering::Acquire)) {
            Some(s) => Some(s),
            None if self.signal.load(Ordering::Acquire) => Some(KillSource::Signal),
            None => None,
        }
    }

    /// The recorded first trigger with its detail. A SIGUSR1 that the cold side has not yet
    /// recorded (see [`KillSwitch::sync_signal`]) shows with an empty detail and time 0.
    pub fn event(&self) -> Option<KillEvent> {
        let ev = self.event.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ev.or_else(|| {
            self.signal.load(Ordering::Acquire).then(|| KillEvent {
                source: KillSource::Signal,
                detail: String::new(),
                unix_ms: 0,
            })
        })
    }

    /// One-line description for health reasons: `"<source>"` or `"<source>:<detail>"`.
    pub fn describe(&self) -> Option<String> {
        self.event().map(|e| {
            if e.detail.is_empty() {
                e.source.as_str().to_owned()
            } else {
                format!("{}:{}", e.source, e.detail)
            }
        })
    }

    /// Sets the latch. Returns `true` if this call was the first trigger (its source and detail
    /// are recorded), `false` if the switch had already fired.
    pub fn trigger(&self, source: KillSource, detail: impl Into<String>) -> bool {
        // A SIGUSR1 that arrived before this call fired first: record it as such.
        self.sync_signal();
        // The event is stored under its lock before the latch is visible: a reader that sees
        // `is_triggered` and then asks `event`/`describe` waits for this lock, never sees `None`.
        let mut slot = self.event.lock().unwrap_or_else(|e| e.into_inner());
        let first = self
            .source
            .compare_exchange(0, source.to_u8(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        let logged = first.then(|| {
            let detail: String = detail.into();
            *slot = Some(KillEvent {
                source,
                detail: detail.clone(),
                unix_ms: unix_ms(),
            });
            detail
        });
        drop(slot);
        if let Some(detail) = logged {
            tracing::warn!(source = source.as_str(), detail = %detail, "kill switch triggered");
        }
        first
    }

    /// Records a SIGUSR1 seen by the handler as the trigger (cold side; returns `true` once,
    /// when it is the first trigger). Called by `trigger` and by the cold tick.
    pub fn sync_signal(&self) -> bool {
        if !self.signal.load(Ordering::Acquire) {
            return false;
        }
        // As in `trigger`: the event is in place before the source is.
        let mut slot = self.event.lock().unwrap_or_else(|e| e.into_inner());
        let first = self
            .source
            .compare_exchange(
                0,
                KillSource::Signal.to_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if first {
            *slot = Some(KillEvent {
                source: KillSource::Signal,
                detail: "SIGUSR1".to_owned(),
                unix_ms: unix_ms(),
            });
        }
        drop(slot);
        if first {
            tracing::warn!(
                source = "signal",
                detail = "SIGUSR1",
                "kill switch triggered"
            );
        }
        first
    }

    /// The flag the SIGUSR1 handler sets (for `signal_hook::flag::register`).
    pub fn signal_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.signal)
    }
}

/// The kill file: its appearance triggers the switch. Polled by the cold thread.
#[derive(Debug, Clone)]
pub struct KillFile {
    path: PathBuf,
}

impl KillFile {
    pub fn new(path: impl Into<PathBuf>) -> KillFile {
        KillFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Triggers `kill` if the file exists. Returns `true` when this poll fired the switch.
    /// The file is left in place (remove it before restarting, or the new process stops at once).
    pub fn poll(&self, kill: &KillSwitch) -> bool {
        // `symlink_metadata` so a dangling symlink also counts as "present".
        if std::fs::symlink_metadata(&self.path).is_ok() {
            return kill.trigger(KillSource::File, self.path.display().to_string());
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that sees the latch set also sees what fired it: `describe` is never `None`
    /// once `is_triggered` (the cold loop builds the stop reason from it at once).
    #[test]
    fn a_triggered_switch_always_describes_its_source() {
        for round in 0..2000 {
            let k = KillSwitch::new();
            let reader = {
                let k = k.clone();
                std::thread::spawn(move || {
                    while !k.is_triggered() {
                        std::hint::spin_loop();
                    }
                    k.describe()
                })
            };
            k.trigger(KillSource::Http, "op");
            let seen = reader.join().unwrap();
            assert_eq!(seen.as_deref(), Some("http:op"), "round {round}");
        }
    }

    #[test]
    fn first_source_wins_and_latch_stays() {
        let k = KillSwitch::new();
        assert!(!k.is_triggered());
        assert_eq!(k.source(), None);
        assert_eq!(k.describe(), None);
        assert!(k.trigger(KillSource::Http, "127.0.0.1:5555"));
        assert!(!k.trigger(KillSource::File, "var/KILL"));
        assert!(k.is_triggered());
        assert_eq!(k.source(), Some(KillSource::Http));
        assert_eq!(k.describe().unwrap(), "http:127.0.0.1:5555");
        assert!(k.event().unwrap().unix_ms > 0);
    }

    #[test]
    fn signal_flag_counts_as_first_trigger() {
        let k = KillSwitch::new();
        k.signal_flag().store(true, Ordering::Release);
        assert!(k.is_triggered());
        assert_eq!(k.source(), Some(KillSource::Signal));
        assert_eq!(
            k.event().unwrap().unix_ms,
            0,
            "not yet recorded by the cold side"
        );
        // A later trigger from another source finds the signal first.
        assert!(!k.trigger(KillSource::File, "x"));
        let ev = k.event().unwrap();
        assert_eq!(
            (ev.source, ev.detail.as_str()),
            (KillSource::Signal, "SIGUSR1")
        );
        assert!(ev.unix_ms > 0);
        assert!(!k.sync_signal());
    }

    #[test]
    fn kill_file_poll() {
        let dir = std::env::temp_dir().join(format!("obi-kill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("KILL");
        let _ = std::fs::remove_file(&path);
        let kf = KillFile::new(&path);
        let k = KillSwitch::new();
        assert!(!kf.poll(&k));
        assert!(!k.is_triggered());
        std::fs::write(&path, b"").unwrap();
        assert!(kf.poll(&k));
        assert!(!kf.poll(&k), "fires once");
        assert_eq!(k.source(), Some(KillSource::File));
        assert!(k.describe().unwrap().ends_with("KILL"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
