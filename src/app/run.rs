//! `obi-scalp run`: the main job. Market data in, the threaded pipeline, paper orders out, with
//! the cold thread serving `/healthz` and `/metrics`, writing artifacts and the audit log.
//!
//! This file is the glue: config, the live gate, secrets, the journal, ops start-up, the source;
//! the run's life after that (order entry, the live-mode hook, pipeline start, cold loop, stop
//! state machine, summary, `run_complete.json`) is the [`super::session::Session`].
//!
//! Shutdown: the first SIGINT/SIGTERM (or the run duration) stops opening positions and cancels
//! resting orders, then stops the feed; the stages drain their rings and the final summary is
//! written; exit 0. A second signal exits at once.

use super::session::{failed_before_start, Feed, Session};
use super::AppError;
use crate::config::{Config, Mode, Source};
use crate::ops::{self, Exit, Ops, StatusBoard};
use crate::pipeline::live::LiveSource;
use crate::pipeline::sources::SyntheticSource;
use crate::pipeline::tap::Recorder;
use crate::venue::AnyDecoder;
use clap::Args;
use std::path::PathBuf;
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

pub fn run(a: RunArgs) -> Result<(), AppError> {
    let mut cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::builtin(),
    };
    if let Some(d) = a.duration {
        cfg.duration_ns = (d > 0).then_some(d * 1_000_000_000);
    }
    ops::logging::init(cfg.ops.json_logs);
    // Fail fast, before anything looks alive.
    if cfg.mode == Mode::Live && std::env::var(LIVE_CONFIRM_ENV).as_deref() != Ok("yes") {
        let why = format!(
            "mode = \"live\" needs {LIVE_CONFIRM_ENV}=yes in the environment as a second confirmation"
        );
        return Err(failed_before_start(
            &cfg,
            None,
            AppError::exit(Exit::Config, why),
        ));
    }
    // The thread layout and pins must fit this machine (an unknown core is a config error).
    let plan = crate::pipeline::Plan::resolve(
        &cfg.pipeline.layout,
        cfg.pipeline.wait,
        &cfg.pipeline.cores,
        &crate::pipeline::layout::available_cores(),
    )
    .map_err(|e| failed_before_start(&cfg, None, AppError::exit(Exit::Config, e.to_string())))?;
    let kill = ops::KillSwitch::new();
    let signals = ops::Signals::install(&kill).map_err(|e| {
        AppError::exit(
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
    if let Err(e) = secrets.require_credentials(cfg.mode) {
        return Err(failed_before_start(
            &cfg,
            None,
            AppError::exit(
                Exit::MissingSecret,
                format!("live mode needs API credentials: {e}"),
            ),
        ));
    }
    // The journal first: it rebuilds the carried risk state into the config.
    let journal = crate::store::cold::ColdJournal::start(&mut cfg, a.reset_risk).map_err(|e| {
        failed_before_start(&cfg, None, AppError::exit(Exit::Config, e.to_string()))
    })?;
    let inst = cfg.market.instrument;
    let mut status = ops::Status::new(env!("CARGO_PKG_VERSION"), cfg.digest.clone(), cfg.mode);
    status.venue = inst.key.venue_label();
    status.symbol = inst.key.symbol.to_string();
    status.pnl = ops::Pnl::for_instrument(&inst);
    status.pipeline = Some(plan.to_json());
    status.awaiting_first_sync = true;
    let board = Arc::new(StatusBoard::new(status));
    // `POST /kill` is on when the `kill_token` secret is loaded: from
    // `$CREDENTIALS_DIRECTORY/kill_token`, `/run/secrets/kill_token`, `OBI_SCALP_KILL_TOKEN`,
    // or else `[ops] kill_token` in the config.
    let mut ocfg = cfg.ops.clone();
    ocfg.http.kill_enabled = secrets.get(ops::secrets::KILL_TOKEN).is_some();
    let ops =
        Ops::start(&ocfg, board.clone(), kill, secrets.clone(), Some(signals)).map_err(|e| {
            let err = AppError::exit(e.exit(), format!("start-up failed: {e}"));
            failed_before_start(&cfg, Some(board.snapshot()), err)
        })?;
    if let Some(addr) = ops.http_addr() {
        tracing::info!(%addr, "serving /healthz, /health/detailed and /metrics");
    }
    // Live mode: the venue's gateway, its credentials checked (exit 4 when refused), then
    // start-up reconciliation (audited; `refuse` is exit 10, a mismatch a risk abort).
    let gateway = match super::live::gateway_for(&cfg, &secrets, ops.audit()) {
        Ok(g) => g,
        Err(e) => {
            let done = ops::RunComplete {
                stop_reason: e.msg.clone(),
                exit: super::session::exit_of(&e),
                clean: true,
                kill: None,
                status: Some(board.snapshot()),
            };
            let _ = ops.finish(done);
            return Err(e);
        }
    };
    match &gateway {
        Some(crate::exec::OrderGateway::Bybit(g)) => {
            cfg.live.adopted = g.start_report().map(super::live::adopted_of);
        }
        Some(crate::exec::OrderGateway::Coincheck(g)) => {
            cfg.live.adopted = g.start_report().map(super::live::adopted_of);
        }
        Some(crate::exec::OrderGateway::GmoCoin(g)) => {
            cfg.live.adopted = g.start_report().map(super::live::adopted_of);
        }
        _ => {}
    }
    // From here the session writes run_complete.json, whatever happens.
    let mut session = Session::start_with(&cfg, ops, shutdown, journal, gateway)?;
    let decoder = match AnyDecoder::for_config(&cfg) {
        Ok(d) => d,
        Err(e) => return Err(session.abort(AppError::exit(Exit::Config, e))),
    };
    let res = match cfg.market.source {
        Source::Synthetic => match SyntheticSource::from_config(&cfg, 1) {
            Ok(src) => session.run(src, decoder, Feed::Local),
            Err(e) => {
                let e = AppError::exit(Exit::Config, format!("synthetic market: {e}"));
                return Err(session.abort(e));
            }
        },
        Source::Live => {
            let mut src = match LiveSource::for_config(&cfg, &decoder) {
                Ok(s) => s,
                Err(e) => {
                    let e = AppError::exit(Exit::Config, format!("live source: {e}"));
                    return Err(session.abort(e));
                }
            };
            // Start-up fails loudly when the venue cannot be reached in time.
            let timeout = Duration::from_nanos(cfg.market.connect_timeout_ns);
            if let Err(e) = src.connect_first(timeout) {
                let why = format!("venue unreachable: {} ({e})", src.ws_url());
                return Err(session.abort(AppError::exit(Exit::VenueUnreachable, why)));
            }
            let (tap, recorder) = if cfg.record.enabled {
                match Recorder::for_config(&cfg, &cfg.record.dir, src.ws_url(), 8 << 20) {
                    Ok((t, r)) => (Some(t), Some(Box::new(r))),
                    Err(e) => {
                        let e = AppError::exit(Exit::Config, format!("recorder: {e}"));
                        return Err(session.abort(e));
                    }
                }
            } else {
                (None, None)
            };
            let live = src.stats();
            let feed = Feed::Venue {
                live,
                tap,
                recorder,
            };
            session.run(src, decoder, feed)
        }
    };
    session.finish(res)
}
