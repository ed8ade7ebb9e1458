//! Unix signals, turned into flags the cold thread and the pipeline read.
//!
//! - SIGINT / SIGTERM: the first sets the shutdown flag (the pipeline drains and exits with the
//!   code it chose); a second one of the same kind while the flag is set exits at once with
//!   130 (SIGINT) or 143 (SIGTERM), see [`super::exit`].
//! - SIGHUP: sets the reload flag (the cold thread re-reads secrets, [`Signals::take_reload`]).
//! - SIGUSR1: sets the kill switch's signal flag (see [`super::kill`]).
//!
//! Handlers only store to atomics (signal-hook's `flag` module), so they are async-signal-safe.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::flag;
use signal_hook::SigId;

use super::exit::Exit;
use super::kill::KillSwitch;

/// Installed signal handlers and the flags they set.
pub struct Signals {
    shutdown: Arc<AtomicBool>,
    /// The signal number that requested shutdown (0 if none).
    shutdown_by: Arc<AtomicUsize>,
    reload: Arc<AtomicBool>,
    ids: Vec<SigId>,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals")
            .field("shutdown", &self.shutdown_requested())
            .field("reload", &self.reload.load(Ordering::Relaxed))
            .finish()
    }
}

impl Signals {
    /// Installs the handlers. Call once, early in `main`, before spawning threads.
    pub fn install(kill: &KillSwitch) -> io::Result<Signals> {
        let shutdown = Arc::new(AtomicBool::new(false));
        let shutdown_by = Arc::new(AtomicUsize::new(0));
        let reload = Arc::new(AtomicBool::new(false));
        let mut ids = Vec::new();
        let forced = [(SIGINT, Exit::ForcedSigint), (SIGTERM, Exit::ForcedSigterm)];
        for (sig, exit) in forced {
            // Order matters: handlers run in registration order, so the conditional exit sees
            // the flag as it was before this signal set it. The first signal only sets it.
            ids.push(flag::register_conditional_shutdown(
                sig,
                i32::from(exit.code()),
                Arc::clone(&shutdown),
            )?);
            ids.push(flag::register_usize(
                sig,
                Arc::clone(&shutdown_by),
                sig as usize,
            )?);
            ids.push(flag::register(sig, Arc::clone(&shutdown))?);
        }
        ids.push(flag::register(SIGHUP, Arc::clone(&reload))?);
        ids.push(flag::register(SIGUSR1, kill.signal_flag())?);
        Ok(Signals {
            shutdown,
            shutdown_by,
            reload,
            ids,
        })
    }

    /// Whether SIGINT/SIGTERM asked for shutdown (or [`Signals::request_shutdown`] was called).
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// The shared shutdown flag, for the pipeline's stage runners.
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shutdown)
    }

    /// Requests shutdown from code (same effect as the first SIGTERM, without the forced exit on
    /// a second call).
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// Name of the signal that requested shutdown, if one did.
    pub fn shutdown_signal(&self) -> Option<&'static str> {
        match self.shutdown_by.load(Ordering::Acquire) {
            0 => None,
            s if s == SIGINT as usize => Some("SIGINT"),
            s if s == SIGTERM as usize => Some("SIGTERM"),
            _ => Some("unknown"),
        }
    }

    /// `true` once per SIGHUP (or burst of them): the caller should reload secrets.
    pub fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::AcqRel)
    }

    /// Removes the handlers (the flags keep their values). Mostly for tests.
    pub fn uninstall(self) {
        for id in self.ids {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::kill::KillSource;
    use std::process::Command;
    use std::time::{Duration, Instant};

    fn raise(sig: i32) {
        signal_hook::low_level::raise(sig).unwrap_or_else(|e| panic!("raise({sig}): {e}"));
    }

    fn wait_for(mut f: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        f()
    }

    // SIGUSR1 and SIGHUP only set flags, so raising them in the test process is harmless. This is
    // the only in-process test that raises signals: SIGUSR1 would set every installed kill flag.
    #[test]
    fn sigusr1_kills_and_sighup_reloads() {
        let kill = KillSwitch::new();
        let sig = Signals::install(&kill).unwrap();
        assert!(!kill.is_triggered());
        assert!(!sig.take_reload());

        raise(SIGHUP);
        assert!(wait_for(|| sig.take_reload()));
        assert!(!sig.take_reload(), "reload is taken once");

        raise(SIGUSR1);
        assert!(wait_for(|| kill.is_triggered()));
        assert_eq!(kill.source(), Some(KillSource::Signal));
        assert!(!kill.trigger(KillSource::Http, "late"));
        assert_eq!(kill.event().unwrap().detail, "SIGUSR1");
        assert!(!sig.shutdown_requested());
        sig.uninstall();
    }

    /// Runs one `child_*` test in a fresh process (SIGINT/SIGTERM must not hit this one).
    fn run_child(name: &str) -> (Option<i32>, String) {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args([
                name,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OBI_SCALP_SIGNAL_CHILD", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn child_double(sig: i32) {
        if std::env::var_os("OBI_SCALP_SIGNAL_CHILD").is_none() {
            return;
        }
        let kill = KillSwitch::new();
        let s = Signals::install(&kill).unwrap();
        raise(sig);
        assert!(wait_for(|| s.shutdown_requested()));
        let name = s.shutdown_signal().unwrap();
        println!("first-signal-ok {name}");
        assert!(!kill.is_triggered());
        raise(sig);
        std::thread::sleep(Duration::from_secs(2));
        println!("still-alive");
    }

    #[test]
    #[ignore = "run by double_sigterm_exits_143 in a child process"]
    fn child_double_sigterm() {
        child_double(SIGTERM);
    }

    #[test]
    #[ignore = "run by double_sigint_exits_130 in a child process"]
    fn child_double_sigint() {
        child_double(SIGINT);
    }

    #[test]
    fn double_sigterm_exits_143() {
        let (code, out) = run_child("ops::signals::tests::child_double_sigterm");
        assert!(out.contains("first-signal-ok SIGTERM"), "{out}");
        assert!(!out.contains("still-alive"), "{out}");
        assert_eq!(code, Some(143), "{out}");
    }

    #[test]
    fn double_sigint_exits_130() {
        let (code, out) = run_child("ops::signals::tests::child_double_sigint");
        assert!(out.contains("first-signal-ok SIGINT"), "{out}");
        assert!(!out.contains("still-alive"), "{out}");
        assert_eq!(code, Some(130), "{out}");
    }
}
