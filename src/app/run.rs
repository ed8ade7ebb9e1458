//! `obi-scalp run`: the main job. Market data in, the threaded pipeline, paper orders out, with
//! the cold thread serving `/healthz` and `/metrics`, writing artifacts and the audit log.
//!
//! Shutdown: the first SIGINT/SIGTERM (or the run duration) stops opening positions and cancels
//! resting orders, then stops the feed; the stages drain their rings and the final summary is
//! written; exit 0. A second signal exits at once.

use super::AppError;
use crate::config::{format_money, Config, Mode, Source};
use crate::msg::{ExecKind, Liquidity};
use crate::ops::{self, AuditEvent, AuditKind, Exit, Ops, StatusBoard};
use crate::pipeline::build::{FrameClock, Pipeline, Running, StartError};
use crate::pipeline::cold::{Collector, Latencies};
use crate::pipeline::feed::FrameSource;
use crate::pipeline::live::{LiveSource, LiveStats};
use crate::pipeline::sources::SyntheticSource;
use crate::pipeline::stats::{Flags, HotCounters, LatencyKind};
use crate::pipeline::tap::{FrameTap, Recorder};
use crate::risk::{Reasons, RiskStatus};
use crate::trader::TraderEvent;
use crate::venue::{AnyDecoder, Decoder};
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// After a kill or risk abort with `flatten_on_abort`, how long the feed keeps running for the
/// flatten to fill before the process stops anyway (with the position still open).
pub const FLATTEN_WAIT: Duration = Duration::from_secs(5);

fn exit_err(e: Exit, msg: impl Into<String>) -> AppError {
    AppError::with_code(e.code(), msg)
}

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
    if cfg.mode == Mode::Live {
        let why = "live order entry is not available in this build: run mode = \"paper\" \
                   (live market data with paper fills works)";
        return Err(startup_failed(&cfg, None, exit_err(Exit::Config, why)));
    }
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

/// What differs between sources: frame stamping, the recorder tap, live feed statistics.
pub struct Extras {
    /// Stamp frames with the time the feed takes them (sources that are not sockets).
    pub restamp: bool,
    pub tap: Option<FrameTap>,
    pub recorder: Option<Recorder>,
    pub live: Option<Arc<LiveStats>>,
    /// The trade journal the cold thread writes.
    pub journal: Option<crate::store::cold::ColdJournal>,
}

/// Runs the pipeline on `src` until the duration, a signal, the kill switch or the end of input.
/// Returns the exit status, the stop reason and whether the drain was clean.
#[allow(clippy::too_many_arguments)]
pub fn drive<S: FrameSource>(
    cfg: &Config,
    src: S,
    decoder: AnyDecoder,
    flags: Arc<Flags>,
    board: &StatusBoard,
    ops: &mut Ops,
    kill: &ops::KillSwitch,
    shutdown: &std::sync::atomic::AtomicBool,
) -> Result<(Exit, String, bool), AppError> {
    let extras = Extras {
        restamp: true,
        tap: None,
        recorder: None,
        live: None,
        journal: None,
    };
    drive_with(cfg, src, decoder, flags, board, ops, kill, shutdown, extras)
}

/// [`drive`] with the source's extras.
#[allow(clippy::too_many_arguments)]
pub fn drive_with<S: FrameSource>(
    cfg: &Config,
    src: S,
    decoder: AnyDecoder,
    flags: Arc<Flags>,
    board: &StatusBoard,
    ops: &mut Ops,
    kill: &ops::KillSwitch,
    shutdown: &std::sync::atomic::AtomicBool,
    extras: Extras,
) -> Result<(Exit, String, bool), AppError> {
    let inst = cfg.market.instrument;
    let Extras {
        restamp,
        tap,
        recorder,
        live,
        journal,
    } = extras;
    let journal = std::cell::RefCell::new(journal);
    let running: Running<S, AnyDecoder> = Pipeline::new(cfg, src, decoder)
        .clock(if restamp {
            FrameClock::Local
        } else {
            FrameClock::Source
        })
        .tap(tap)
        .flags(flags.clone())
        .start()
        .map_err(|e| match e {
            StartError::Plan(e) => exit_err(Exit::Config, format!("config: {e}")),
            e => exit_err(Exit::Internal, format!("cannot start the pipeline: {e}")),
        })?;
    let rec_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let recorder = match recorder {
        Some(r) => Some(
            r.spawn(rec_stop.clone(), Duration::from_millis(5))
                .map_err(|e| exit_err(Exit::Internal, format!("cannot start the recorder: {e}")))?,
        ),
        None => None,
    };
    let counters = running.counters.clone();
    let mut hot_watch = crate::ops::watchdog::HotWatch::new(&running);
    let mut feed_log = crate::ops::feed_log::FeedLog::new();
    board.update(|s| s.phase = ops::Phase::Running);
    ops.ready(&format!(
        "{} {} (paper)",
        inst.key.venue_label(),
        inst.key.symbol
    ));
    println!(
        "obi-scalp {}: {} {} paper trading on the {} market; http {}; Ctrl-C stops",
        env!("CARGO_PKG_VERSION"),
        inst.key.venue_label(),
        inst.key.symbol,
        match cfg.market.source {
            Source::Synthetic => "built-in synthetic",
            Source::Live => "live",
        },
        ops.http_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "off".into())
    );
    // After the start-up line (the first line of stdout, which scripts read).
    let plan = running.plan.describe();
    tracing::info!("pipeline {plan}");
    println!("pipeline: {plan}");
    if let Some(why) = &running.plan.note {
        tracing::warn!("{why}");
    }
    let started = Instant::now();
    let deadline = cfg.duration_ns.map(Duration::from_nanos);
    let status_every = Duration::from_nanos(cfg.ops.status_interval_ns);
    let mut last_status = Instant::now();
    let mut last_board = Instant::now();
    let mut stop_reason: Option<String> = None;
    let mut stopping_since: Option<Instant> = None;
    let mut exit = Exit::Ok;
    let mut flatten_cut_off = false;
    let audit = ops.audit().clone();
    // Orders, fills, cancels and rejects by reason, counted here on the cold thread from the
    // trader's events (the hot stages only keep totals).
    let tally = std::cell::RefCell::new(ops::status::OrderCounters::default());
    {
        // Known series start at zero so dashboards and rate() see them from the first scrape.
        let mut t = tally.borrow_mut();
        for k in ["open", "close"] {
            t.orders.insert(k.into(), 0);
        }
        for k in ["maker", "taker"] {
            t.fills.insert(k.into(), 0);
        }
        for k in ["order", "cancel_all"] {
            t.cancels.insert(k.into(), 0);
        }
    }
    let mut on_event = |e: &TraderEvent| {
        count_event(&mut tally.borrow_mut(), e);
        if let Some(j) = journal.borrow_mut().as_mut() {
            j.record(e);
        }
        audit_event(&audit, &inst, e)
    };
    // The cold loop runs inside `join` between drains.
    let mut on_tick = |c: &Collector| {
        if let Some(j) = journal.borrow_mut().as_mut() {
            j.tick(&counters, &c.latencies);
        }
        if last_board.elapsed() >= Duration::from_millis(100) {
            last_board = Instant::now();
            publish(
                board,
                &counters,
                &c.latencies,
                &tally.borrow(),
                &flags,
                live.as_deref(),
            );
            feed_log.observe(&counters, live.as_deref());
            let alive = !flags.stop.load(Ordering::Relaxed) || stopping_since.is_some();
            ops.tick_with(&mut || alive && hot_watch.check());
        }
        if kill.is_triggered() && !flags.kill.load(Ordering::Relaxed) {
            flags.kill.store(true, Ordering::Relaxed);
            // A SIGUSR1 is only a flag until recorded; record it so the reason names it.
            kill.sync_signal();
            let why = format!("kill switch: {}", kill.describe().unwrap_or_default());
            tracing::warn!("{why}; cancelling all orders");
            exit = Exit::Killed;
            stop_reason.get_or_insert(why);
        }
        if stop_reason.is_none() {
            if shutdown.load(Ordering::Relaxed) {
                stop_reason = Some("signal".into());
            } else if deadline.is_some_and(|d| started.elapsed() >= d) {
                stop_reason = Some("duration reached".into());
            } else if HotCounters::get(&counters.risk_status) == RiskStatus::Abort as u64 {
                exit = Exit::RiskAbort;
                stop_reason = Some(format!(
                    "risk abort: {}",
                    reasons_text(HotCounters::get(&counters.risk_reasons))
                ));
            }
        }
        if stop_reason.is_some() && stopping_since.is_none() {
            // Step one: no new positions, cancel what rests (the signal stage sends CancelAll).
            stopping_since = Some(Instant::now());
            flags.no_new_positions.store(true, Ordering::Relaxed);
            board.update(|s| s.phase = ops::Phase::Stopping);
            tracing::info!(reason = stop_reason.as_deref().unwrap_or(""), "stopping");
        }
        if let Some(t) = stopping_since {
            // Step two, once the cancels have had time to reach the gateway (and after an abort
            // with flatten_on_abort, once the position is flat: the flatten order is priced off
            // the next book update, so the feed must keep running): stop the feed; the stages
            // drain their rings and finish.
            let flattening = matches!(exit, Exit::Killed | Exit::RiskAbort)
                && cfg.risk.limits.flatten_on_abort
                && HotCounters::get(&counters.position) != 0;
            if t.elapsed() >= Duration::from_millis(200)
                && (!flattening || t.elapsed() >= FLATTEN_WAIT)
                && !flags.stop.load(Ordering::Relaxed)
            {
                if flattening {
                    flatten_cut_off = true;
                    tracing::warn!(
                        "position not flat {FLATTEN_WAIT:?} after the abort; stopping anyway"
                    );
                }
                flags.stop.store(true, Ordering::Relaxed);
            }
        }
        if last_status.elapsed() >= status_every {
            last_status = Instant::now();
            println!(
                "{}",
                status_line(started, &counters, &c.latencies, &inst, &flags)
            );
        }
    };
    let fin = running
        .join(&mut on_event, &mut on_tick)
        .map_err(|_| exit_err(Exit::Internal, "a pipeline thread panicked"))?;
    let stop_reason = stop_reason.unwrap_or_else(|| "end of input".into());
    publish(
        board,
        &counters,
        &fin.latencies,
        &tally.borrow(),
        &flags,
        live.as_deref(),
    );
    let t = &fin.signal.trader;
    let (pos, cash) = fin.order.gateway.balance();
    let pnl = ops::PnlFigures::of(&t.ledger, t.mark_px());
    let f = fin.feed.decoder.counters();
    let lat = fin.latencies.get(LatencyKind::TickToTrade);
    // The recorder drains what the feed tapped, then closes its files.
    rec_stop.store(true, Ordering::Relaxed);
    if let Some(h) = recorder {
        match h.join() {
            Ok(Ok(s)) => println!(
                "recorded {} records ({} dropped) into {} file(s)",
                s.records,
                s.dropped,
                s.files.len()
            ),
            Ok(Err(e)) => tracing::error!(error = %e, "recorder failed"),
            Err(_) => tracing::error!("recorder thread panicked"),
        }
    }
    let (reconnects, rest) = match live.as_deref().map(|l| l.snapshot()) {
        Some(s) => (s.ws.connects.saturating_sub(1), s.rest.delivered),
        None => (0, f.rest_snapshots),
    };
    println!(
        "summary: reason=\"{}\" elapsed_s={} frames={} updates={} snapshots={} reconnects={} rest={} gaps={} resyncs={} malformed={} stale={} old_frames={} crossed={} signals={} orders={} fills={} trades={} wins={} position={} pnl={} realized={} unrealized={} fees={} cash_change={} risk={} book_state={} ring_overflows={} t2t_p50_ns={} t2t_p99_ns={} t2t_p999_ns={}",
        stop_reason,
        started.elapsed().as_secs(),
        f.frames,
        f.updates,
        f.snapshots + f.rest_snapshots,
        reconnects,
        rest,
        f.gaps,
        f.resyncs,
        f.malformed,
        f.stale,
        fin.feed.old_frames,
        fin.book.books.counters.first().map(|c| c.crossed).unwrap_or(0),
        t.counters.signals,
        t.counters.orders,
        t.counters.fills,
        t.counters.trades,
        t.counters.wins,
        inst.lot.format(pos),
        format_money(&inst, pnl.total()),
        format_money(&inst, pnl.realized),
        format_money(&inst, pnl.unrealized),
        format_money(&inst, pnl.fees),
        format_money(&inst, cash),
        format!("{:?}", t.risk.status()).to_lowercase(),
        fin.book.books.books.first().map(|b| b.state.as_str()).unwrap_or("none"),
        counters.ring_overflows().iter().map(|(_, n)| n).sum::<u64>(),
        lat.value_at_quantile(0.5),
        lat.value_at_quantile(0.99),
        lat.value_at_quantile(0.999),
    );
    if let Some(j) = journal.into_inner() {
        let s = j.finish(&counters, &fin.latencies, &stop_reason, !flatten_cut_off);
        println!(
            "journal: written={} pending={} write_errors={} dropped={}",
            s.written, s.pending, s.write_errors, s.dropped
        );
    }
    // Not clean when an abort's flatten did not finish in time.
    Ok((exit, stop_reason, !flatten_cut_off))
}

fn reasons_text(bits: u64) -> String {
    let r = Reasons::from_bits(bits as u16);
    r.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

/// One line every few seconds on stdout.
fn status_line(
    started: Instant,
    c: &HotCounters,
    lat: &Latencies,
    inst: &crate::instrument::Instrument,
    flags: &Flags,
) -> String {
    let g = HotCounters::get;
    let t2t = lat.get(LatencyKind::TickToTrade);
    let pnl = c.pnl.load();
    format!(
        "[{:>5}s] feed={} book={} frames={} updates={} signals={} orders={} fills={} trades={} wins={} pos={} pnl={} realized={} unrealized={} fees={} risk={} t2t_p50={}us p99={}us",
        started.elapsed().as_secs(),
        if flags.feed_active.load(Ordering::Relaxed) { "active" } else { "reconnecting" },
        book_state_of(g(&c.book_state)).as_str(),
        g(&c.frames),
        g(&c.book_updates),
        g(&c.signals),
        g(&c.orders),
        g(&c.fills),
        g(&c.trades_closed),
        g(&c.wins),
        inst.lot.format(g(&c.position) as i64),
        format_money(inst, pnl.total()),
        format_money(inst, pnl.realized),
        format_money(inst, pnl.unrealized),
        format_money(inst, pnl.fees),
        risk_of(g(&c.risk_status)).as_str(),
        t2t.value_at_quantile(0.5) / 1000,
        t2t.value_at_quantile(0.99) / 1000,
    )
}

/// The book state the book stage stored as `state as u64`.
fn book_state_of(v: u64) -> crate::msg::BookState {
    use crate::msg::BookState;
    match v {
        x if x == BookState::Synced as u64 => BookState::Synced,
        x if x == BookState::Stale as u64 => BookState::Stale,
        _ => BookState::Resyncing,
    }
}

/// The risk status the signal stage stored as `status as u64`.
fn risk_of(v: u64) -> ops::RiskStatus {
    match v {
        x if x == RiskStatus::Ok as u64 => ops::RiskStatus::Ok,
        x if x == RiskStatus::Degraded as u64 => ops::RiskStatus::Degraded,
        _ => ops::RiskStatus::Abort,
    }
}

/// Copies the hot counters and latency histograms into the status board.
fn publish(
    board: &StatusBoard,
    c: &HotCounters,
    lat: &Latencies,
    tally: &ops::status::OrderCounters,
    flags: &Flags,
    live: Option<&LiveStats>,
) {
    let live = live.map(|l| l.snapshot());
    let g = HotCounters::get;
    board.update(|s| {
        s.feed = if flags.degraded.load(Ordering::Relaxed) {
            ops::FeedStatus::Degraded
        } else if let Some(l) = &live {
            match l.status {
                crate::net::FeedStatus::Active => ops::FeedStatus::Active,
                crate::net::FeedStatus::Reconnecting => ops::FeedStatus::Reconnecting,
                crate::net::FeedStatus::Degraded => ops::FeedStatus::Degraded,
            }
        } else if flags.feed_active.load(Ordering::Relaxed) {
            ops::FeedStatus::Active
        } else {
            ops::FeedStatus::Reconnecting
        };
        if let Some(l) = &live {
            s.feed_counters.connects = l.ws.connects;
            s.feed_counters.pings = l.ws.pings_tx;
            for cause in crate::net::DisconnectCause::ALL {
                let n = l.ws.disconnects_by(cause);
                if n > 0 {
                    s.feed_counters
                        .disconnects
                        .insert(cause.as_str().to_string(), n);
                }
            }
        }
        s.book = book_state_of(g(&c.book_state));
        if s.book == crate::msg::BookState::Synced {
            s.awaiting_first_sync = false;
        }
        s.risk = risk_of(g(&c.risk_status));
        s.risk_reasons = Reasons::from_bits(g(&c.risk_reasons) as u16)
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        s.position_lots = g(&c.position) as i64;
        s.pnl.set(c.pnl.load());
        s.trades = g(&c.trades_closed);
        s.wins = g(&c.wins);
        s.orders = tally.clone();
        s.feed_counters.frames = g(&c.frames);
        s.feed_counters.bytes = g(&c.bytes);
        s.feed_counters.gaps = g(&c.gaps);
        s.feed_counters.resyncs = g(&c.resyncs);
        s.feed_counters.stale_events = g(&c.stale);
        s.feed_counters.malformed = g(&c.malformed);
        s.book_counters.updates = g(&c.book_updates);
        s.book_counters.snapshots = g(&c.snapshots);
        s.book_counters.crossed = g(&c.crossed);
        for (ring, n) in c.ring_overflows() {
            s.ring_overflows.insert(ring.into(), n);
        }
        let last = g(&c.last_frame_ns);
        if last > 0 {
            s.last_frame_age_ns = Some(crate::clock::now_ns().saturating_sub(last));
        }
        s.latency.tick_to_trade = lat.get(LatencyKind::TickToTrade).clone();
        for k in LatencyKind::ALL {
            if k.is_stage() {
                s.latency
                    .stages
                    .insert(k.as_str().to_string(), lat.get(k).clone());
            }
        }
        for (point, k) in [
            ("book", LatencyKind::BookSinceReceive),
            ("decision", LatencyKind::DecisionSinceReceive),
            ("tick_to_trade", LatencyKind::TickToTrade),
        ] {
            s.latency
                .since_receive
                .insert(point.to_string(), lat.get(k).clone());
        }
    });
}

/// Counts one trader event into the by-reason order counters of `/metrics`.
fn count_event(t: &mut ops::status::OrderCounters, e: &TraderEvent) {
    fn bump(m: &mut std::collections::BTreeMap<String, u64>, k: &str) {
        *m.entry(k.to_string()).or_default() += 1;
    }
    match e {
        TraderEvent::Order { reduce_only, .. } => {
            bump(&mut t.orders, if *reduce_only { "close" } else { "open" })
        }
        TraderEvent::Cancel { .. } => bump(&mut t.cancels, "order"),
        TraderEvent::CancelAll { .. } => bump(&mut t.cancels, "cancel_all"),
        TraderEvent::PreTradeReject { reason, .. } => {
            bump(&mut t.rejects, &format!("pre_trade_{}", reason.as_str()))
        }
        TraderEvent::Exec { report, .. } => match report.kind {
            ExecKind::Fill { liquidity, .. } => bump(
                &mut t.fills,
                match liquidity {
                    Liquidity::Maker => "maker",
                    Liquidity::Taker => "taker",
                },
            ),
            ExecKind::Rejected { reason } => bump(&mut t.rejects, reason.as_str()),
            ExecKind::CancelRejected { reason } => {
                bump(&mut t.rejects, &format!("cancel_{}", reason.as_str()))
            }
            _ => {}
        },
        _ => {}
    }
}

/// One audit line per order, fill, cancel, reject and risk transition.
fn audit_event(audit: &ops::AuditSender, inst: &crate::instrument::Instrument, e: &TraderEvent) {
    let px = |p: i64| inst.tick.format(p);
    let qty = |q: i64| inst.lot.format(q);
    let ev = match e {
        TraderEvent::Signal(_) => return,
        TraderEvent::Order {
            ts_ns,
            id,
            side,
            px: p,
            qty: q,
            tif,
            reduce_only,
            ..
        } => AuditEvent::new(AuditKind::Order)
            .with("event_ns", *ts_ns)
            .with("order_id", *id)
            .with("side", side.as_str())
            .with("px", px(*p))
            .with("qty", qty(*q))
            .with("tif", format!("{tif:?}").to_lowercase())
            .with("reduce_only", *reduce_only),
        TraderEvent::Cancel { ts_ns, id } => AuditEvent::new(AuditKind::Cancel)
            .with("event_ns", *ts_ns)
            .with("order_id", *id),
        TraderEvent::CancelAll { ts_ns } => AuditEvent::new(AuditKind::Cancel)
            .with("event_ns", *ts_ns)
            .with("order_id", "all"),
        TraderEvent::PreTradeReject {
            ts_ns, id, reason, ..
        } => AuditEvent::new(AuditKind::Reject)
            .with("event_ns", *ts_ns)
            .with("order_id", *id)
            .with("reason", reason.as_str())
            .with("origin", "pre_trade"),
        TraderEvent::Exec { report, side } => match report.kind {
            ExecKind::Fill {
                px: p,
                qty: q,
                liquidity,
                fee,
                leaves,
            } => AuditEvent::new(AuditKind::Fill)
                .with("event_ns", report.ts_ns)
                .with("order_id", report.id)
                .with("side", side.as_str())
                .with("px", px(p))
                .with("qty", qty(q))
                .with("leaves", qty(leaves))
                .with(
                    "liquidity",
                    match liquidity {
                        Liquidity::Maker => "maker",
                        Liquidity::Taker => "taker",
                    },
                )
                .with("fee", format_money(inst, fee)),
            ExecKind::Rejected { reason } | ExecKind::CancelRejected { reason } => {
                AuditEvent::new(AuditKind::Reject)
                    .with("event_ns", report.ts_ns)
                    .with("order_id", report.id)
                    .with("reason", reason.as_str())
                    .with("origin", "venue")
            }
            ExecKind::Cancelled { leaves } => AuditEvent::new(AuditKind::Cancel)
                .with("event_ns", report.ts_ns)
                .with("order_id", report.id)
                .with("state", "done")
                .with("leaves", qty(leaves)),
            ExecKind::Accepted => return,
        },
        TraderEvent::Closed { trade, exit } => AuditEvent::new(AuditKind::Fill)
            .with("trade_closed", true)
            .with("event_ns", trade.close_ns)
            .with("qty", qty(trade.qty))
            .with("net_pnl", format_money(inst, trade.net_pnl))
            .with("fees", format_money(inst, trade.fees))
            .with("exit", exit.map(|x| x.as_str()).unwrap_or("")),
        TraderEvent::UnknownReport { report } => AuditEvent::new(AuditKind::Reject)
            .with("event_ns", report.ts_ns)
            .with("order_id", report.id)
            .with("reason", "unknown_order_report")
            .with("origin", "venue")
            .with("report", format!("{:?}", report.kind)),
        TraderEvent::Risk(r) => AuditEvent::new(AuditKind::RiskTransition)
            .with("event_ns", r.ts_ns)
            .with("from", format!("{:?}", r.from).to_lowercase())
            .with("to", format!("{:?}", r.to).to_lowercase())
            .with(
                "reasons",
                r.reasons
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
    };
    audit.send(ev);
}
