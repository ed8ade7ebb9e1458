//! The run's supervisor: [`Session`] owns the run's life once the config is read and ops are
//! up: the order entry ([`order_entry`], the live-mode hook), the pipeline's start through the
//! builder, the cold loop (status board, ops ticks and `STATUS=`, the journal, audit lines and
//! by-reason order counters from the trader's events), the run's [`State`] with its stop
//! machine ([`Stop`]), the flatten wait, the final summary and `run_complete.json`. `app::run`
//! is the glue in front of it: config, secrets, ops start-up, the connector and the source.
//!
//! States: [`State::Starting`] (ops up, no pipeline) → [`State::Warming`] (the pipeline runs,
//! `/healthz` is 503 until the traded book first syncs) → [`State::Trading`] →
//! [`State::Stopping`] → [`State::Stopped`]. A stop reason (signal, duration, kill switch, risk
//! abort, from any running state) moves to [`Stop::Cancelling`]: no new positions, the signal
//! stage cancels what rests. After [`CANCEL_WAIT`] (and, after a kill or abort with
//! `flatten_on_abort`, once the position is flat or [`FLATTEN_WAIT`] has passed) it moves to
//! [`Stop::Draining`]: the feed stops and the stages drain their rings.

use super::AppError;
use crate::config::{format_money, Config, Mode, Source};
use crate::exec::Gateway as _;
use crate::msg::{ExecKind, Liquidity};
use crate::ops::{self, AuditEvent, AuditKind, Exit, Ops, RiskStatus, StatusBoard};
use crate::pipeline::build::{FrameClock, Pipeline, Running, StartError};
use crate::pipeline::cold::{Collector, Latencies};
use crate::pipeline::feed::FrameSource;
use crate::pipeline::live::LiveStats;
use crate::pipeline::stats::{Flags, HotCounters, LatencyKind};
use crate::pipeline::tap::{FrameTap, Recorder};
use crate::risk::Reasons;
use crate::store::cold::ColdJournal;
use crate::trader::TraderEvent;
use crate::venue::{AnyDecoder, Decoder};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// After a kill or risk abort with `flatten_on_abort`, how long the feed keeps running for the
/// flatten to fill before the process stops anyway (with the position still open).
pub const FLATTEN_WAIT: Duration = Duration::from_secs(5);

/// How long [`Stop::Cancelling`] lasts at least: the cancels reach the gateway before the feed stops.
pub const CANCEL_WAIT: Duration = Duration::from_millis(200);

/// Where the run is in its life (driven by the [`Session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Ops are up (HTTP, audit, artifacts); the pipeline is not running yet.
    Starting,
    /// The pipeline runs; the traded book has not synced yet (`/healthz` 503, no trading).
    Warming,
    /// The traded book synced: trading.
    Trading,
    /// A stop reason is set; where the stop sequence is.
    Stopping(Stop),
    /// The stages finished and drained; the summary is out.
    Stopped,
}

impl State {
    /// The phase the status board (`/health/detailed`, `obi_scalp_phase`) shows for it.
    pub const fn phase(self) -> ops::Phase {
        match self {
            State::Starting => ops::Phase::Starting,
            State::Warming | State::Trading => ops::Phase::Running,
            State::Stopping(_) | State::Stopped => ops::Phase::Stopping,
        }
    }
}

/// The stop sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// No new positions, resting orders cancelled; the feed still runs (an abort's flatten is
    /// priced off the next book update).
    Cancelling { since: Instant },
    /// The feed is told to stop; the stages drain their rings and finish.
    Draining,
}

/// How a run ended: the exit status, the stop reason, and whether the drain was clean (not
/// clean: an abort's flatten did not finish within [`FLATTEN_WAIT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub exit: Exit,
    pub reason: String,
    pub clean: bool,
}

/// Where the run's orders go.
#[allow(clippy::large_enum_variant)]
pub enum OrderEntry {
    /// The pipeline's paper exchange: fills simulated against the book.
    Paper,
    /// A venue's live gateway (built by [`super::live::gateway_for`] after the live gate).
    Live(crate::exec::OrderGateway),
}

/// The live-mode hook: decides the run's order entry before the pipeline starts (the
/// [`Session`] calls it first). Paper mode: the paper exchange. Live mode: the venue's live
/// gateway, built by `run` ([`super::live::gateway_for`]) once the live gate and the venue's
/// credential check passed; live mode without one is a config error.
pub fn order_entry(
    cfg: &Config,
    gateway: Option<crate::exec::OrderGateway>,
) -> Result<OrderEntry, AppError> {
    match (cfg.mode, gateway) {
        (Mode::Paper, None) => Ok(OrderEntry::Paper),
        (Mode::Live, Some(g)) => Ok(OrderEntry::Live(g)),
        (Mode::Paper, Some(_)) => Err(AppError::exit(
            Exit::Internal,
            "a live gateway was built for a paper-mode run",
        )),
        (Mode::Live, None) => Err(AppError::exit(
            Exit::Config,
            format!(
                "live order entry is not available for venue {}: run mode = \"paper\"",
                cfg.market.instrument.key.venue
            ),
        )),
    }
}

/// What the session needs to know of the source besides its frames.
pub enum Feed {
    /// Not a socket (the synthetic market, a test's source): frames are stamped when the feed
    /// takes them, and the feed counts as active from the start.
    Local,
    /// A venue connection: frames carry their receive time, the connection's statistics give
    /// the feed status, and `tap` copies every raw event to the `recorder`.
    Venue {
        live: Arc<LiveStats>,
        tap: Option<FrameTap>,
        /// Boxed: a recorder is large and a `Feed` is passed by value.
        recorder: Option<Box<Recorder>>,
    },
}

/// The exit code an error carries, in the one table ([`Exit`]).
pub fn exit_of(e: &AppError) -> Exit {
    Exit::from_code(i32::from(e.code)).unwrap_or(Exit::Internal)
}

/// Start-up failed after the config was read but before ops started: records the reason in
/// `run_complete.json` (best effort; nothing was started, so there is nothing to drain) and
/// hands the error back.
pub fn failed_before_start(cfg: &Config, status: Option<ops::Status>, e: AppError) -> AppError {
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

/// The supervisor of one run (see the module doc).
pub struct Session<'c> {
    cfg: &'c Config,
    ops: Ops,
    board: Arc<StatusBoard>,
    kill: Arc<ops::KillSwitch>,
    shutdown: Arc<AtomicBool>,
    flags: Arc<Flags>,
    journal: Option<ColdJournal>,
    entry: OrderEntry,
    state: State,
}

impl<'c> Session<'c> {
    /// Takes over `ops` (started, with the run's status board and kill switch) and decides the
    /// order entry ([`order_entry`]); a failure there is written to `run_complete.json`.
    /// `shutdown` is the signal handlers' flag; `journal` the trade journal the cold thread
    /// writes.
    pub fn start(
        cfg: &'c Config,
        ops: Ops,
        shutdown: Arc<AtomicBool>,
        journal: Option<ColdJournal>,
    ) -> Result<Session<'c>, AppError> {
        Session::start_with(cfg, ops, shutdown, journal, None)
    }

    /// [`Session::start`] with the live gateway `run` built for a live-mode run.
    pub fn start_with(
        cfg: &'c Config,
        ops: Ops,
        shutdown: Arc<AtomicBool>,
        journal: Option<ColdJournal>,
        gateway: Option<crate::exec::OrderGateway>,
    ) -> Result<Session<'c>, AppError> {
        let board = ops.board().clone();
        let kill = ops.kill().clone();
        let mut s = Session {
            cfg,
            ops,
            board,
            kill,
            shutdown,
            flags: Arc::new(Flags::default()),
            journal,
            entry: OrderEntry::Paper,
            state: State::Starting,
        };
        s.set_state(State::Starting);
        match order_entry(cfg, gateway) {
            Ok(e) => s.entry = e,
            Err(e) => return Err(s.abort(e)),
        }
        Ok(s)
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn ops(&self) -> &Ops {
        &self.ops
    }

    /// The flags shared with the hot stages.
    pub fn flags(&self) -> &Arc<Flags> {
        &self.flags
    }

    fn set_state(&mut self, st: State) {
        self.state = st;
        self.board.update(|s| s.phase = st.phase());
    }

    /// Start-up failed before the pipeline ran: writes `run_complete.json` with the reason
    /// (clean: nothing to drain), stops ops and hands the error back.
    pub fn abort(self, e: AppError) -> AppError {
        let snapshot = self.board.snapshot();
        let _ = self.ops.finish(ops::RunComplete {
            stop_reason: e.msg.clone(),
            exit: exit_of(&e),
            clean: true,
            kill: None,
            status: Some(snapshot),
        });
        e
    }

    /// The end of the run: writes `run_complete.json` from `res` (an error is an unclean stop),
    /// stops ops; `Ok` only for a clean [`Exit::Ok`].
    pub fn finish(mut self, res: Result<Outcome, AppError>) -> Result<(), AppError> {
        if let Ok(o) = &res {
            let linger = self.cfg.ops.stop_linger_ms;
            if matches!(o.exit, Exit::RiskAbort | Exit::Killed) && linger > 0 {
                self.ops
                    .linger(Duration::from_millis(linger), &self.shutdown);
            }
        }
        let snapshot = Some(self.board.snapshot());
        match res {
            Ok(o) => {
                let kill = self.kill.event();
                self.ops
                    .finish(ops::RunComplete {
                        stop_reason: o.reason.clone(),
                        exit: o.exit,
                        clean: o.clean,
                        kill,
                        status: snapshot,
                    })
                    .map_err(|e| {
                        AppError::exit(Exit::Internal, format!("writing run_complete.json: {e}"))
                    })?;
                match o.exit {
                    Exit::Ok => Ok(()),
                    x => Err(AppError::exit(x, o.reason)),
                }
            }
            Err(e) => {
                let _ = self.ops.finish(ops::RunComplete {
                    stop_reason: e.msg.clone(),
                    exit: exit_of(&e),
                    clean: false,
                    kill: None,
                    status: snapshot,
                });
                Err(e)
            }
        }
    }

    /// Runs the pipeline on `src` until the duration, a signal, the kill switch, a risk abort
    /// or the end of input, then prints the summary.
    pub fn run<S: FrameSource>(
        &mut self,
        src: S,
        decoder: AnyDecoder,
        feed: Feed,
    ) -> Result<Outcome, AppError> {
        let cfg = self.cfg;
        let inst = cfg.market.instrument;
        let (clock, tap, recorder, live) = match feed {
            Feed::Local => {
                self.flags.feed_active.store(true, Ordering::Relaxed);
                (FrameClock::Local, None, None, None)
            }
            Feed::Venue {
                live,
                tap,
                recorder,
            } => (FrameClock::Source, tap, recorder, Some(live)),
        };
        // The order entry decided at start: the paper exchange is the pipeline's default.
        let gateway = match std::mem::replace(&mut self.entry, OrderEntry::Paper) {
            OrderEntry::Paper => None,
            OrderEntry::Live(g) => Some(g),
        };
        // A live gateway's reconciliation (drift, mismatch, findings for the audit log).
        let recon = match &gateway {
            Some(crate::exec::OrderGateway::Bybit(g)) => Some(g.recon()),
            Some(crate::exec::OrderGateway::Coincheck(g)) => Some(g.recon()),
            Some(crate::exec::OrderGateway::GmoCoin(g)) => Some(g.recon()),
            _ => None,
        };
        let running: Running<S, AnyDecoder> = Pipeline::new(cfg, src, decoder)
            .clock(clock)
            .tap(tap)
            .flags(self.flags.clone())
            .gateway(gateway)
            .start()
            .map_err(|e| match e {
                StartError::Plan(e) => AppError::exit(Exit::Config, format!("config: {e}")),
                e => AppError::exit(Exit::Internal, format!("cannot start the pipeline: {e}")),
            })?;
        let rec_stop = Arc::new(AtomicBool::new(false));
        let recorder = match recorder {
            Some(r) => Some(
                r.spawn(rec_stop.clone(), Duration::from_millis(5))
                    .map_err(|e| {
                        AppError::exit(Exit::Internal, format!("cannot start the recorder: {e}"))
                    })?,
            ),
            None => None,
        };
        let counters = running.counters.clone();
        let mut hot_watch = crate::ops::watchdog::HotWatch::new(&running);
        let mut feed_log = crate::ops::feed_log::FeedLog::new();
        self.set_state(State::Warming);
        let mode = match cfg.mode {
            Mode::Paper => "paper",
            Mode::Live => "live",
        };
        self.ops.ready(&format!(
            "{} {} ({mode})",
            inst.key.venue_label(),
            inst.key.symbol
        ));
        println!(
            "obi-scalp {}: {} {} {mode} trading on the {} market; http {}; Ctrl-C stops",
            env!("CARGO_PKG_VERSION"),
            inst.key.venue_label(),
            inst.key.symbol,
            match cfg.market.source {
                Source::Synthetic => "built-in synthetic",
                Source::Live => "live",
            },
            self.ops
                .http_addr()
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
        let status_every = Duration::from_millis(cfg.ops.status_interval_ms);
        let mut last_status = Instant::now();
        let mut last_board = Instant::now();
        let mut stop_reason: Option<String> = None;
        let mut exit = Exit::Ok;
        let mut flatten_cut_off = false;
        let audit = self.ops.audit().clone();
        // Orders, fills, cancels and rejects by reason, counted here on the cold thread from
        // the trader's events (the hot stages only keep totals).
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
        let journal = std::cell::RefCell::new(self.journal.take());
        let mut on_event = |e: &TraderEvent| {
            count_event(&mut tally.borrow_mut(), e);
            if let Some(j) = journal.borrow_mut().as_mut() {
                j.record(e);
            }
            audit_event(&audit, &inst, e)
        };
        let Session {
            ops,
            board,
            kill,
            shutdown,
            flags,
            state,
            ..
        } = self;
        let board: &StatusBoard = board;
        // The cold loop runs inside `join` between drains.
        let mut on_tick = |c: &Collector| {
            if let Some(j) = journal.borrow_mut().as_mut() {
                j.tick(&counters, &c.latencies);
            }
            if let Some(v) = &recon {
                relay_recon(v, flags, board, &audit);
            }
            if last_board.elapsed() >= Duration::from_millis(100) {
                last_board = Instant::now();
                publish(
                    board,
                    &counters,
                    &c.latencies,
                    &tally.borrow(),
                    flags,
                    live.as_deref(),
                );
                if *state == State::Warming
                    && counters.book_state.get() == crate::msg::BookState::Synced
                {
                    *state = State::Trading;
                }
                feed_log.observe(&counters, live.as_deref());
                let alive =
                    !flags.stop.load(Ordering::Relaxed) || matches!(state, State::Stopping(_));
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
                } else if counters.risk_status.get() == RiskStatus::Abort {
                    exit = Exit::RiskAbort;
                    stop_reason = Some(format!(
                        "risk abort: {}",
                        reasons_text(HotCounters::get(&counters.risk_reasons))
                    ));
                }
            }
            if stop_reason.is_some() && matches!(state, State::Warming | State::Trading) {
                // No new positions, cancel what rests (the signal stage sends CancelAll).
                *state = State::Stopping(Stop::Cancelling {
                    since: Instant::now(),
                });
                flags.no_new_positions.store(true, Ordering::Relaxed);
                board.update(|s| s.phase = state.phase());
                tracing::info!(reason = stop_reason.as_deref().unwrap_or(""), "stopping");
            }
            if let State::Stopping(Stop::Cancelling { since: t }) = *state {
                // Then, once the cancels have had time to reach the gateway (and after an abort
                // with flatten_on_abort, once the position is flat: the flatten order is priced
                // off the next book update, so the feed must keep running): stop the feed; the
                // stages drain their rings and finish.
                let flattening = matches!(exit, Exit::Killed | Exit::RiskAbort)
                    && cfg.risk.limits.flatten_on_abort
                    && HotCounters::get(&counters.position) != 0;
                // A live gateway's requests and the venue's last reports are booked first.
                let settling =
                    flags.gateway_busy.load(Ordering::Relaxed) && t.elapsed() < FLATTEN_WAIT;
                if t.elapsed() >= CANCEL_WAIT
                    && !settling
                    && (!flattening || t.elapsed() >= FLATTEN_WAIT)
                {
                    if flattening {
                        flatten_cut_off = true;
                        tracing::warn!(
                            "position not flat {FLATTEN_WAIT:?} after the abort; stopping anyway"
                        );
                    }
                    flags.stop.store(true, Ordering::Relaxed);
                    *state = State::Stopping(Stop::Draining);
                }
            }
            if last_status.elapsed() >= status_every {
                last_status = Instant::now();
                println!(
                    "{}",
                    status_line(started, &counters, &c.latencies, &inst, flags)
                );
            }
        };
        let fin = running
            .join(&mut on_event, &mut on_tick)
            .map_err(|_| AppError::exit(Exit::Internal, "a pipeline thread panicked"))?;
        self.set_state(State::Stopped);
        let stop_reason = stop_reason.unwrap_or_else(|| "end of input".into());
        publish(
            &self.board,
            &counters,
            &fin.latencies,
            &tally.borrow(),
            &self.flags,
            live.as_deref(),
        );
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
        println!(
            "{}",
            summary_line(
                &fin,
                &counters,
                live.as_deref(),
                &inst,
                &stop_reason,
                started
            )
        );
        println!(
            "ledger: position_lots={} cash_money={} fees_money={}",
            fin.signal.trader.ledger.position(),
            fin.signal.trader.ledger.cash(),
            fin.signal.trader.ledger.fees()
        );
        if let Some(j) = journal.into_inner() {
            let s = j.finish(&counters, &fin.latencies, &stop_reason, !flatten_cut_off);
            println!(
                "journal: written={} pending={} write_errors={} dropped={}",
                s.written, s.pending, s.write_errors, s.dropped
            );
        }
        Ok(Outcome {
            exit,
            reason: stop_reason,
            clean: !flatten_cut_off,
        })
    }
}

/// The `summary:` line at the end of a run.
fn summary_line<S: FrameSource>(
    fin: &crate::pipeline::build::Finished<S, AnyDecoder>,
    counters: &HotCounters,
    live: Option<&LiveStats>,
    inst: &crate::instrument::Instrument,
    stop_reason: &str,
    started: Instant,
) -> String {
    let t = &fin.signal.trader;
    let (pos, cash) = fin.order.gateway.balance();
    let pnl = ops::PnlFigures::of(&t.ledger, t.mark_px());
    let f = fin.feed.decoder.counters();
    let lat = fin.latencies.get(LatencyKind::TickToTrade);
    let (reconnects, rest) = match live.map(|l| l.snapshot()) {
        Some(s) => (s.ws.connects.saturating_sub(1), s.rest.delivered),
        None => (0, f.rest_snapshots),
    };
    format!(
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
        format_money(inst, pnl.total()),
        format_money(inst, pnl.realized),
        format_money(inst, pnl.unrealized),
        format_money(inst, pnl.fees),
        format_money(inst, cash),
        t.risk.status().as_str(),
        fin.book.books.books.first().map(|b| b.state.as_str()).unwrap_or("none"),
        counters.ring_overflows().iter().map(|(_, n)| n).sum::<u64>(),
        lat.value_at_quantile(0.5),
        lat.value_at_quantile(0.99),
        lat.value_at_quantile(0.999),
    )
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
        c.book_state.get().as_str(),
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
        c.risk_status.get().as_str(),
        t2t.value_at_quantile(0.5) / 1000,
        t2t.value_at_quantile(0.99) / 1000,
    )
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
            l.status
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
        s.book = c.book_state.get();
        if s.book == crate::msg::BookState::Synced {
            s.awaiting_first_sync = false;
        }
        s.risk = c.risk_status.get();
        s.risk_reasons = Reasons::from_bits(g(&c.risk_reasons) as u16)
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        s.position_lots = g(&c.position) as i64;
        s.pnl.set(c.pnl.load());
        let [day, drawdown, _] = c.risk_money.load_raw();
        s.pnl.risk_day_units = day.saturating_mul(s.pnl.units_per_money);
        s.pnl.risk_drawdown_units = drawdown.saturating_mul(s.pnl.units_per_money);
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

/// Copies reconciliation's findings where they act: the drift and a mismatch to the flags the
/// signal stage hands to risk, the drift to the status board (`/health/detailed`,
/// `/metrics`), the notes to the audit log.
fn relay_recon(
    v: &crate::exec::recon::ReconView,
    flags: &crate::pipeline::stats::Flags,
    board: &StatusBoard,
    audit: &ops::AuditSender,
) {
    let seq = v.reconciles.load(Ordering::Acquire);
    if seq != flags.wallet_drift_seq.load(Ordering::Relaxed) {
        if let Some(d) = v.drift() {
            let d64 = i64::try_from(d).unwrap_or(i64::MAX);
            flags.wallet_drift.store(d64, Ordering::Relaxed);
            flags.wallet_drift_seq.store(seq, Ordering::Release);
            board.update(|s| {
                s.pnl.wallet_drift_units = Some(d.saturating_mul(s.pnl.units_per_money));
            });
        }
    }
    if v.mismatch.load(Ordering::Relaxed) {
        flags.reconcile_mismatch.store(true, Ordering::Relaxed);
    }
    for n in v.take_notes() {
        let mut e = AuditEvent::new(AuditKind::Reconcile).with("phase", "running");
        for (k, val) in n {
            e = e.with(&k, val);
        }
        audit.send(e);
    }
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
