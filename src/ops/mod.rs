//! Operations, all on cold threads: what the operator sees and controls.
//!
//! - [`status`]: the [`Status`] snapshot the pipeline's cold collector fills, shared as
//!   `Arc<StatusBoard>`.
//! - [`http`]: `/healthz`, `/health/detailed`, `/metrics` ([`metrics`]), `POST /kill`.
//! - [`artifacts`]: `run_progress.json` / `run_complete.json`, written atomically.
//! - [`audit`]: `audit_events.jsonl` with size rotation, fed through a channel.
//! - [`kill`] + [`signals`]: the kill switch latch (file, HTTP, SIGUSR1) and SIGINT/SIGTERM/SIGHUP.
//! - [`secrets`]: API credentials from systemd credentials, `/run/secrets` or the environment.
//! - [`logging`]: `RUST_LOG`, plain text off a terminal, journald priorities under systemd.
//! - [`sdnotify`]: `READY=1`, `WATCHDOG=1`, `STOPPING=1` for `Type=notify` units.
//! - [`watchdog`]: `WATCHDOG=1` only while every hot thread makes progress.
//! - [`feed_log`]: reconnects, gaps, resyncs and book states logged from the cold thread.
//! - [`exit`]: the process exit codes.
//!
//! [`Ops`] bundles them for `main`: start it after the config is loaded, call [`Ops::tick`] from
//! the cold loop every ~100 ms, and [`Ops::finish`] at exit.

pub mod artifacts;
pub mod audit;
pub mod drill;
pub mod exit;
pub mod feed_log;
pub mod http;
pub mod kill;
pub mod logging;
pub mod metrics;
pub mod pnl;
pub mod sd_status;
pub mod sdnotify;
pub mod secrets;
pub mod signals;
pub mod status;
pub mod watchdog;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use artifacts::{Artifacts, ProgressWriter, RunComplete};
pub use audit::{AuditConfig, AuditEvent, AuditKind, AuditLog, AuditSender};
pub use exit::Exit;
pub use http::{Handler, HttpConfig, HttpContext, HttpError, HttpServer};
pub use kill::{KillEvent, KillFile, KillSource, KillSwitch};
pub use pnl::{PnlCell, PnlFigures};
pub use sdnotify::SdNotify;
pub use secrets::{Credentials, Secret, SecretSources, SecretStore};
pub use signals::Signals;
pub use status::{FeedStatus, Health, Mode, Phase, Pnl, RiskStatus, Status, StatusBoard};

/// The `[ops]` settings: the one ops config type. `config::Config::ops` is this, read from the
/// `[ops]` table of the config file (keys in the README's configuration section); tests build
/// it from [`OpsConfig::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsConfig {
    /// `http_addr` (`"off"`: `enabled = false`); `kill_enabled` is set at start-up from
    /// whether the `kill_token` secret is loaded.
    pub http: HttpConfig,
    /// `log_dir`, `audit_max_bytes`, `audit_retention`.
    pub audit: AuditConfig,
    /// Directory of `run_progress.json` and `run_complete.json` (`artifacts_dir`).
    pub artifacts_dir: PathBuf,
    /// How often `run_progress.json` is rewritten, ms ([`PROGRESS_INTERVAL_MS`]).
    pub progress_interval_ms: u64,
    /// The kill file: when it exists, the kill switch fires.
    pub kill_file: PathBuf,
    /// How long the feed may be not `active` before `/healthz` answers 503, ms
    /// ([`FEED_DOWN_TOLERANCE_MS`]).
    pub feed_down_tolerance_ms: u64,
    /// The config's fallback for the `kill_token` secret (`[ops] kill_token`).
    pub kill_token: Option<String>,
    /// How often `run` prints its status line on stdout, ms ([`STATUS_INTERVAL_MS`]).
    pub status_interval_ms: u64,
    /// JSON log lines instead of plain text.
    pub json_logs: bool,
    /// After a kill switch or risk abort (exit 8 / 7): how long the process keeps answering
    /// `/healthz` (503), `/health/detailed` and `/metrics` before it exits, so that Prometheus
    /// scrapes the final state and the kill-switch / risk-abort alerts fire, ms
    /// ([`STOP_LINGER_MS`]; 0: exit at once). SIGTERM or SIGINT ends the wait.
    pub stop_linger_ms: u64,
}

/// The range `ops.progress_interval_ms` must be in (10 ms to 1 h).
pub const PROGRESS_INTERVAL_MS: std::ops::RangeInclusive<u64> = 10..=3_600_000;
/// The range `ops.feed_down_tolerance_ms` must be in (100 ms to 1 day).
pub const FEED_DOWN_TOLERANCE_MS: std::ops::RangeInclusive<u64> = 100..=86_400_000;
/// The range `ops.status_interval_ms` must be in (10 ms to 1 h).
pub const STATUS_INTERVAL_MS: std::ops::RangeInclusive<u64> = 10..=3_600_000;
/// The range `ops.stop_linger_ms` must be in (0 to 5 min).
pub const STOP_LINGER_MS: std::ops::RangeInclusive<u64> = 0..=300_000;

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            http: HttpConfig::default(),
            audit: AuditConfig::default(),
            artifacts_dir: PathBuf::from("var/artifacts"),
            progress_interval_ms: 1_000,
            kill_file: PathBuf::from("var/KILL"),
            feed_down_tolerance_ms: 30_000,
            kill_token: None,
            status_interval_ms: 5_000,
            stop_linger_ms: 0,
            json_logs: false,
        }
    }
}

/// `ops.KEY = v` must be in `range`: the message names the key and the range.
pub fn check_range(key: &str, v: u64, range: &std::ops::RangeInclusive<u64>) -> Result<(), String> {
    if range.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "ops.{key} = {v}: expected {} to {}",
            range.start(),
            range.end()
        ))
    }
}

impl OpsConfig {
    /// Checks every field (the HTTP address parses, intervals are in range, audit limits hold);
    /// the message names the key and what it expects.
    pub fn validate(&self) -> Result<(), String> {
        self.http.validate()?;
        self.audit
            .validate()
            .map_err(|e| format!("ops.audit: {e}"))?;
        check_range(
            "progress_interval_ms",
            self.progress_interval_ms,
            &PROGRESS_INTERVAL_MS,
        )?;
        check_range(
            "feed_down_tolerance_ms",
            self.feed_down_tolerance_ms,
            &FEED_DOWN_TOLERANCE_MS,
        )?;
        check_range(
            "status_interval_ms",
            self.status_interval_ms,
            &STATUS_INTERVAL_MS,
        )?;
        if self.kill_file.as_os_str().is_empty() {
            return Err("ops.kill_file is empty: expected a path".to_owned());
        }
        Ok(())
    }

    pub fn feed_down_tolerance(&self) -> Duration {
        Duration::from_millis(self.feed_down_tolerance_ms)
    }
}

/// Why [`Ops::start`] failed; [`OpsError::exit`] gives the exit code.
#[derive(Debug)]
pub enum OpsError {
    Config(String),
    Http(HttpError),
    Io { what: String, error: io::Error },
}

impl fmt::Display for OpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpsError::Config(m) => f.write_str(m),
            OpsError::Http(e) => e.fmt(f),
            OpsError::Io { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

impl std::error::Error for OpsError {}

impl OpsError {
    pub fn exit(&self) -> Exit {
        match self {
            OpsError::Config(_) => Exit::Config,
            OpsError::Http(e) => e.exit(),
            OpsError::Io { .. } => Exit::Internal,
        }
    }
}

/// What one [`Ops::tick`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    /// The kill switch fired since the last tick (any source); it was audited.
    pub killed: bool,
    /// Secrets were reloaded (SIGHUP).
    pub reloaded: bool,
    /// A new `run_progress.json` was handed to its writer thread ([`Ops::flush_progress`]
    /// waits until it is on disk).
    pub progress_written: bool,
    /// `WATCHDOG=1` was sent.
    pub watchdog_sent: bool,
}

/// The cold-side operations of one process.
pub struct Ops {
    board: Arc<StatusBoard>,
    kill: Arc<KillSwitch>,
    secrets: Arc<SecretStore>,
    signals: Option<Signals>,
    audit: Option<AuditLog>,
    audit_tx: AuditSender,
    http: Option<HttpServer>,
    artifacts: Artifacts,
    progress: Option<ProgressWriter>,
    kill_file: KillFile,
    sd: Option<SdNotify>,
    watchdog: Option<Duration>,
    progress_every: Duration,
    last_progress: Option<Instant>,
    last_watchdog: Option<Instant>,
    kill_audited: bool,
    feed_down_tolerance: Duration,
    /// What `STATUS=` names (set by [`Ops::ready`]), and the line last sent.
    subject: Option<String>,
    last_status: String,
}

impl fmt::Debug for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ops")
            .field("http", &self.http.as_ref().map(HttpServer::local_addr))
            .field("artifacts", &self.artifacts.dir())
            .field("kill_file", &self.kill_file.path())
            .finish_non_exhaustive()
    }
}

impl Ops {
    /// Starts the audit writer and the HTTP server, opens the artifacts directory and the
    /// systemd notify socket, and audits a `startup` event. `secrets` should already be loaded
    /// (`SecretStore::reload`); `signals` is `None` when the caller handles signals itself.
    /// The audit settings take `AUDIT_LOG_MAX_BYTES` / `AUDIT_LOG_RETENTION` from the environment.
    pub fn start(
        cfg: &OpsConfig,
        board: Arc<StatusBoard>,
        kill: Arc<KillSwitch>,
        secrets: Arc<SecretStore>,
        signals: Option<Signals>,
    ) -> Result<Ops, OpsError> {
        cfg.validate().map_err(OpsError::Config)?;
        let mut audit_cfg = cfg.audit.clone();
        audit_cfg.apply_env().map_err(OpsError::Config)?;
        let io_err = |what: &str| {
            let what = what.to_owned();
            move |error| OpsError::Io { what, error }
        };
        let artifacts = Artifacts::new(&cfg.artifacts_dir).map_err(io_err("artifacts"))?;
        let progress = ProgressWriter::to_file(artifacts.progress_path())
            .map_err(io_err("progress writer"))?;
        let audit = AuditLog::start(audit_cfg).map_err(io_err("audit log"))?;
        let audit_tx = audit.sender();
        let http = if cfg.http.enabled {
            let ctx = HttpContext {
                board: Arc::clone(&board),
                kill: Arc::clone(&kill),
                secrets: Some(Arc::clone(&secrets)),
                // Kill events are audited centrally by `tick`, whatever their source.
                audit: None,
                feed_down_tolerance: cfg.feed_down_tolerance(),
            };
            Some(HttpServer::start(&cfg.http, ctx).map_err(OpsError::Http)?)
        } else {
            None
        };
        let sd = match SdNotify::from_env() {
            Ok(sd) => sd,
            Err(e) => {
                tracing::warn!(error = %e, "NOTIFY_SOCKET unusable; not notifying systemd");
                None
            }
        };
        let watchdog = sd.as_ref().and_then(|_| sdnotify::watchdog_interval());
        let (version, digest, mode) =
            board.read(|s| (s.version.clone(), s.config_digest.clone(), s.mode));
        audit_tx.send(
            AuditEvent::new(AuditKind::Startup)
                .with("version", version)
                .with("config_digest", digest)
                .with("mode", mode)
                .with("http", http.as_ref().map(|h| h.local_addr().to_string())),
        );
        Ok(Ops {
            board,
            kill,
            secrets,
            signals,
            audit: Some(audit),
            audit_tx,
            http,
            artifacts,
            progress: Some(progress),
            kill_file: KillFile::new(&cfg.kill_file),
            sd,
            watchdog,
            progress_every: Duration::from_millis(cfg.progress_interval_ms),
            last_progress: None,
            last_watchdog: None,
            kill_audited: false,
            feed_down_tolerance: cfg.feed_down_tolerance(),
            subject: None,
            last_status: String::new(),
        })
    }

    /// Replaces the writer of `run_progress.json` (a test injects a slow one).
    pub fn set_progress_writer(&mut self, w: ProgressWriter) {
        self.progress = Some(w);
    }

    /// Waits until the last `run_progress.json` handed over by [`Ops::tick`] is written.
    pub fn flush_progress(&self) {
        if let Some(w) = &self.progress {
            w.flush();
        }
    }

    /// The audit channel (clone it for other cold threads).
    pub fn audit(&self) -> &AuditSender {
        &self.audit_tx
    }

    pub fn board(&self) -> &Arc<StatusBoard> {
        &self.board
    }

    pub fn kill(&self) -> &Arc<KillSwitch> {
        &self.kill
    }

    pub fn secrets(&self) -> &Arc<SecretStore> {
        &self.secrets
    }

    pub fn signals(&self) -> Option<&Signals> {
        self.signals.as_ref()
    }

    /// The HTTP server's bound address, if it runs.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().map(HttpServer::local_addr)
    }

    /// Start-up finished: tells systemd `READY=1` with the `STATUS=` line of the current health
    /// ([`sd_status::status_line`] about `subject`, e.g. `bybit BTCUSDT (paper)`); from then
    /// on [`Ops::tick`] sends a new `STATUS=` whenever the health's wording changes. (Set
    /// `Status::phase` to `Running` on the board first; `/healthz` reads that.)
    pub fn ready(&mut self, subject: &str) {
        self.subject = Some(subject.to_owned());
        let line = self.health_line();
        tracing::info!(status = %line, "ready");
        if let Some(sd) = &self.sd {
            if let Err(e) = sd.ready_with_status(&line) {
                tracing::warn!(error = %e, "sd_notify READY failed");
            }
        }
        self.last_status = line;
    }

    /// The `STATUS=` line for the board's health now.
    fn health_line(&self) -> String {
        let kill = self.kill.describe();
        let subject = self.subject.as_deref().unwrap_or("");
        self.board.read(|s| {
            sd_status::status_line(
                subject,
                s.phase,
                &s.health(self.feed_down_tolerance, kill.as_deref()),
            )
        })
    }

    /// Sends `STATUS=` (and logs it) when the health's wording changed since the last one.
    fn follow_health(&mut self) {
        if self.subject.is_none() {
            return;
        }
        let line = self.health_line();
        if line == self.last_status {
            return;
        }
        tracing::info!(status = %line, "status changed");
        if let Some(sd) = &self.sd {
            if let Err(e) = sd.status(&line) {
                tracing::warn!(error = %e, "sd_notify STATUS failed");
            }
        }
        self.last_status = line;
    }

    /// One cold-loop step (call every ~100 ms): polls the kill file, records a SIGUSR1, reloads
    /// secrets after SIGHUP, rewrites `run_progress.json` when due, and sends `WATCHDOG=1` when
    /// due and `pipeline_alive` (pass `false` when the hot stages stopped making progress, so
    /// systemd's watchdog restarts a stuck process).
    pub fn tick(&mut self, pipeline_alive: bool) -> TickReport {
        self.tick_with(&mut || pipeline_alive)
    }

    /// [`Ops::tick`] asking `pipeline_alive` only when a `WATCHDOG=1` is due (at most once per
    /// watchdog interval): a check like [`crate::pipeline::heartbeat::HeartbeatWatch::check`]
    /// compares progress since its previous call, so it must run at the ping's pace.
    pub fn tick_with(&mut self, pipeline_alive: &mut dyn FnMut() -> bool) -> TickReport {
        let mut r = TickReport::default();
        self.kill.sync_signal();
        self.kill_file.poll(&self.kill);
        if !self.kill_audited {
            if let Some(ev) = self.kill.event() {
                self.audit_tx.send(
                    AuditEvent::new(AuditKind::KillSwitch)
                        .with("source", ev.source)
                        .with("detail", &ev.detail)
                        .with("unix_ms", ev.unix_ms),
                );
                self.kill_audited = true;
                r.killed = true;
            }
        }
        if self.signals.as_ref().is_some_and(Signals::take_reload) {
            let rep = self.secrets.reload();
            let errors: Vec<String> = rep
                .errors
                .iter()
                .map(|(n, e)| format!("{n}: {e}"))
                .collect();
            self.audit_tx.send(
                AuditEvent::new(AuditKind::SecretsReload)
                    .with("changed", rep.changed)
                    .with("generation", self.secrets.generation())
                    .with(
                        "loaded",
                        rep.loaded.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                    )
                    .with("missing", &rep.missing)
                    .with("errors", errors),
            );
            tracing::info!(
                changed = rep.changed,
                missing = ?rep.missing,
                errors = rep.errors.len(),
                "SIGHUP: secrets reloaded"
            );
            r.reloaded = true;
        }
        self.follow_health();
        let now = Instant::now();
        if self
            .last_progress
            .is_none_or(|t| now.duration_since(t) >= self.progress_every)
        {
            let kill = self.kill.event();
            // Serialized here, written and fsynced on the writer's thread: a slow disk never
            // delays the kill handling of the next tick.
            match self
                .board
                .read(|s| artifacts::progress_bytes(s, kill.as_ref()))
            {
                Ok(bytes) => {
                    if let Some(w) = &self.progress {
                        w.offer(bytes);
                        r.progress_written = true;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "run_progress.json not serialized"),
            }
            self.last_progress = Some(now);
        }
        if let (Some(sd), Some(every)) = (&self.sd, self.watchdog) {
            let due = self
                .last_watchdog
                .is_none_or(|t| now.duration_since(t) >= every);
            if due {
                // The next check is a whole interval later whether or not this one passed.
                self.last_watchdog = Some(now);
                if pipeline_alive() {
                    match sd.watchdog() {
                        Ok(()) => r.watchdog_sent = true,
                        Err(e) => tracing::warn!(error = %e, "sd_notify WATCHDOG failed"),
                    }
                }
            }
        }
        r
    }

    /// Shutdown: tells systemd `STOPPING=1`, audits `shutdown`, writes `run_complete.json`
    /// (with the last status when `complete.status` is `None`), stops the HTTP server and
    /// closes the audit log (flushed and fsynced).
    /// After a kill switch or risk abort: tells systemd the service is stopping, then keeps the
    /// HTTP server answering (`/healthz` 503, `/metrics` with the kill switch or abort) for `d`
    /// or until `stop` is set (SIGTERM / SIGINT), so that a scrape sees the final state before
    /// the target goes away. Returns how long it waited.
    pub fn linger(&mut self, d: Duration, stop: &std::sync::atomic::AtomicBool) -> Duration {
        if let Some(sd) = &self.sd {
            let _ = sd.stopping();
        }
        tracing::info!(
            seconds = d.as_secs_f64(),
            "trading stopped; serving /healthz and /metrics for ops.stop_linger_ms before exiting (SIGTERM ends the wait)"
        );
        let start = Instant::now();
        let end = start + d;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let now = Instant::now();
            if now >= end {
                break;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
        start.elapsed()
    }

    pub fn finish(mut self, mut complete: RunComplete) -> io::Result<()> {
        if let Some(sd) = &self.sd {
            let _ = sd.stopping();
        }
        if complete.status.is_none() {
            complete.status = Some(self.board.snapshot());
        }
        if complete.kill.is_none() {
            complete.kill = self.kill.event();
        }
        self.audit_tx.send(
            AuditEvent::new(AuditKind::Shutdown)
                .with("exit_code", complete.exit.code())
                .with("exit", complete.exit.name())
                .with("stop_reason", &complete.stop_reason)
                .with("clean", complete.clean),
        );
        // The last progress version is written before the completion.
        drop(self.progress.take());
        let written = self.artifacts.write_complete(&complete);
        if let Some(h) = self.http.take() {
            h.stop();
        }
        let closed = match self.audit.take() {
            Some(a) => a.close().map(|_| ()),
            None => Ok(()),
        };
        written.and(closed)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC with microseconds: `2026-05-01T12:34:56.123456Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        let at = |s: u64, us: u32| UNIX_EPOCH + Duration::new(s, us * 1000);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.000005Z");
        assert_eq!(
            rfc3339(at(1_709_251_199, 999_999)),
            "2024-02-29T23:59:59.999999Z"
        );
        assert_eq!(rfc3339(at(4_102_444_800, 0)), "2100-01-01T00:00:00.000000Z");
    }

    #[test]
    fn validate_names_the_key_and_the_range() {
        OpsConfig::default().validate().unwrap();
        let bad = OpsConfig {
            progress_interval_ms: 0,
            ..OpsConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "ops.progress_interval_ms = 0: expected 10 to 3600000"
        );
        let bad = OpsConfig {
            feed_down_tolerance_ms: 86_400_001,
            ..OpsConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err(),
            "ops.feed_down_tolerance_ms = 86400001: expected 100 to 86400000"
        );
        let ok = OpsConfig {
            feed_down_tolerance_ms: 100,
            progress_interval_ms: 3_600_000,
            ..OpsConfig::default()
        };
        ok.validate().unwrap();
    }
}
