//! `obi-scalp run`: the main job. Market data in, the threaded pipeline, paper orders out, with
//! the cold thread serving `/healthz` and `/metrics`, writing artifacts and the audit log.
//!
//! This file is the glue: config, secrets, ops start-up, the source; the lifecycle after that
//! (cold loop, stop state machine, summary) is [`super::session`].
//!
//! Shutdown: the first SIGINT/SIGTERM (or the run duration) stops opening positions and cancels
//! resting orders, then stops the feed; the stages drain their rings and the final summary is
//! written; exit 0. A second signal exits at once.

use super::session::{drive_with, exit_err, Extras};
use super::AppError;
use crate::config::{Config, Mode, Source};
use crate::ops::{self, Exit, Ops, StatusBoard};
use crate::pipeline::live::LiveSource;
use crate::pipeline::sources::SyntheticSource;
use crate::pipeline::stats::Flags;
use crate::pipeline::tap::Recorder;
use crate::venue::AnyDecoder;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Config file (default: the built-in config/default.toml: synthetic market, paper trading).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run time in seconds (overrides duration_s; 0 = until SIGINT/SIGTERM).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Start without the risk state the journal carries over (daily loss, drawdown, latched
    /// abort reasons); the journal records the reset.
    #[arg(long)]
    pub reset_risk: bool,
}

/// The environment variable that must say `yes` before `mode = "live"` is honoured.
pub const LIVE_CONFIRM_ENV: &str = "OBI_SCALP_LIVE";

fn exit_of(e: &AppError) -> Exit {
    Exit::from_code(i32::from(e.code)).unwrap_or(Exit::Internal)
}

/// Start-up failed after the config was read: records the reason in `run_complete.json` (best
/// effort; nothing was started, so there is nothing to drain) and hands the error back.
fn startup_failed(cfg: &Config, status: Option<ops::Status>, e: AppError) -> AppError {
    let done = ops::RunComplete {
        stop_reason: e.msg.clone(),
        exit: exit_of(&e),
        clean: true,
        kill: None,
        status,
    };
    if let Err(w) =
        ops::Artifacts::new(&cfg.ops.artifacts_dir).and_then(|a| a.write_complete(&done))
    {
        tracing::warn!(error = %w, "run_complete.json not written");
    }
    e
}

/// Maps our config onto the ops settings. `POST /kill` is on when the `kill_token` secret is
/// loaded: from `$CREDENTIALS_DIRECTORY/kill_token`, `/run/secrets/kill_token`,
/// `OBI_SCALP_KILL_TOKEN`, or else `[ops] kill_token` in the config.
fn ops_config(cfg: &Config, has_kill_token: bool) -> ops::OpsConfig {
    let o = &cfg.ops;
    let mut c = ops::OpsConfig::default();
    match o.http_addr {
        Some(a) => c.http.addr = a.to_string(),
        None => c.http.enabled = false,
    }
    c.http.kill_enabled = has_kill_token;
    c.audit.dir = o.log_dir.clone();
    c.audit.max_bytes = o.audit_max_bytes;
    c.audit.retention = o.audit_retention;
    c.artifacts_dir = o.artifacts_dir.clone();
    c.kill_file = o.kill_file.clone();
    c.progress_interval_ms = 1000;
    c
}

pub fn run(a: RunArgs) -> Result<(), AppError> {
    let mut cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::builtin(),
    };
    if let Some(d) = a.duration {
        cfg.duration_ns = (d > 0).then_some(d * 1_000_000_000);
    }
    ops::logging::init(cfg.ops.json_logs);
    let mode = match cfg.mode {
        Mode::Paper => ops::Mode::Paper,
        Mode::Live => ops::Mode::Live,
    };
    // Fail fast, before anything looks alive.
    if cfg.mode == Mode::Live && std::env::var(LIVE_CONFIRM_ENV).as_deref() != Ok("yes") {
        let why = format!(
            "mode = \"live\" needs {LIVE_CONFIRM_ENV}=yes in the environment as a second confirmation"
        );
        return Err(startup_failed(&cfg, None, exit_err(Exit::Config, why)));
    }
    // The thread layout and pins must fit this machine (an unknown core is a config error).
    let plan = crate::pipeline::Plan::resolve(
        &cfg.pipeline.layout,
        cfg.pipeline.wait,
        &cfg.pipeline.cores,
        &crate::pipeline::layout::available_cores(),
    )
    .map_err(|e| startup_failed(&cfg, None, exit_err(Exit::Config, e.to_string())))?;
    let kill = ops::KillSwitch::new();
    let signals = ops::Signals::install(&kill).map_err(|e| {
        exit_err(
            Exit::Internal,
            format!("cannot install signal handlers: {e}"),
        )
    })?;
    let shutdown = signals.shutdown_flag();
    let mut sources = ops::SecretSources::from_env();
    if let Some(t) = &cfg.ops.kill_token {
        sources = sources.with_config_value(ops::secrets::KILL_TOKEN, "ops.kill_token", t);
    }
    let secrets = Arc::new(ops::SecretStore::new(
        sources,
        &[
            ops::secrets::API_KEY,
            ops::secrets::API_SECRET,
            ops::secrets::KILL_TOKEN,
        ],
    ));
    secrets.reload();
    if let Err(e) = secrets.require_credentials(mode) {
        return Err(startup_failed(
            &cfg,
            None,
            exit_err(
                Exit::MissingSecret,
                format!("live mode needs API credentials: {e}"),
            ),
        ));
    }
    let gateway =
        super::live::gateway_for(&cfg, &secrets).map_err(|e| startup_failed(&cfg, None, e))?;
    // The journal first: it rebuilds the carried risk state into the config.
    let journal = crate::store::cold::ColdJournal::start(&mut cfg, a.reset_risk)
        .map_err(|e| startup_failed(&cfg, None, exit_err(Exit::Config, e.to_string())))?;
    let inst = cfg.market.instrument;
    let mut status = ops::Status::new(env!("CARGO_PKG_VERSION"), cfg.digest.clone(), mode);
    status.venue = inst.key.venue_label();
    status.symbol = inst.key.symbol.to_string();
    status.pnl = ops::Pnl::for_instrument(&inst);
    status.pipeline = Some(plan.to_json());
    status.awaiting_first_sync = true;
    let board = Arc::new(StatusBoard::new(status));
    let ocfg = ops_config(&cfg, secrets.get(ops::secrets::KILL_TOKEN).is_some());
    let mut ops = Ops::start(
        &ocfg,
        board.clone(),
        kill.clone(),
        secrets.clone(),
        Some(signals),
    )
    .map_err(|e| {
        let err = AppError::with_code(e.exit().code(), format!("start-up failed: {e}"));
        startup_failed(&cfg, Some(board.snapshot()), err)
    })?;
    if let Some(addr) = ops.http_addr() {
        tracing::info!(%addr, "serving /healthz, /health/detailed and /metrics");
    }
    let decoder = match AnyDecoder::for_config(&cfg) {
        Ok(d) => d,
        Err(e) => {
            let snapshot = Some(board.snapshot());
            let e = exit_err(Exit::Config, e);
            let _ = ops.finish(ops::RunComplete {
                stop_reason: e.msg.clone(),
                exit: exit_of(&e),
                clean: true,
                kill: None,
                status: snapshot,
            });
            return Err(e);
        }
    };
    let flags = Arc::new(Flags::default());
    let res = match cfg.market.source {
        Source::Synthetic => {
            let src = SyntheticSource::from_config(&cfg, 1)
                .map_err(|e| exit_err(Exit::Config, format!("synthetic market: {e}")))?;
            flags.feed_active.store(true, Ordering::Relaxed);
            let extras = Extras {
                restamp: true,
                tap: None,
                recorder: None,
                live: None,
                journal,
                gateway,
            };
            drive_with(
                &cfg, src, decoder, flags, &board, &mut ops, &kill, &shutdown, extras,
            )
        }
        Source::Live => {
            let mut src = LiveSource::for_config(&cfg, &decoder)
                .map_err(|e| exit_err(Exit::Config, format!("live source: {e}")))?;
            let live = src.stats();
            // Start-up fails loudly when the venue cannot be reached in time.
            let timeout = Duration::from_nanos(cfg.market.connect_timeout_ns);
            if let Err(e) = src.connect_first(timeout) {
                let e = exit_err(
                    Exit::VenueUnreachable,
                    format!("venue unreachable: {} ({e})", src.ws_url()),
                );
                let _ = ops.finish(ops::RunComplete {
                    stop_reason: e.msg.clone(),
                    exit: Exit::VenueUnreachable,
                    clean: true,
                    kill: None,
                    status: Some(board.snapshot()),
                });
                return Err(e);
            }
            let (tap, recorder) = if cfg.record.enabled {
                let (t, r) = Recorder::for_config(&cfg, &cfg.record.dir, src.ws_url(), 8 << 20)
                    .map_err(|e| exit_err(Exit::Config, format!("recorder: {e}")))?;
                (Some(t), Some(r))
            } else {
                (None, None)
            };
            drive_with(
                &cfg,
                src,
                decoder,
                flags,
                &board,
                &mut ops,
                &kill,
                &shutdown,
                Extras {
                    restamp: false,
                    tap,
                    recorder,
                    live: Some(live),
                    journal,
                    gateway,
                },
            )
        }
    };
    let (exit, reason, clean) = match res {
        Ok(x) => x,
        Err(e) => {
            let _ = ops.finish(ops::RunComplete {
                stop_reason: e.msg.clone(),
                exit: exit_of(&e),
                clean: false,
                kill: None,
                status: Some(board.snapshot()),
            });
            return Err(e);
        }
    };
    let kill_ev = kill.event();
    let snapshot = board.snapshot();
    ops.finish(ops::RunComplete {
        stop_reason: reason.clone(),
        exit,
        clean,
        kill: kill_ev,
        status: Some(snapshot),
    })
    .map_err(|e| exit_err(Exit::Internal, format!("writing run_complete.json: {e}")))?;
    if exit == Exit::Ok {
        Ok(())
    } else {
        Err(exit_err(exit, reason))
    }
}
