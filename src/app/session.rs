//! The run's lifecycle once the config is read and the source is chosen: starts the pipeline
//! through the builder, runs the cold loop (status board, ops ticks, the journal, audit lines and
//! by-reason order counters from the trader's events), drives the stop state machine ([`Stop`])
//! and prints the final summary. `app::run` is the glue in front of it: config, secrets, ops
//! start-up, the connector and the source.
//!
//! Stop: a reason (signal, duration, kill switch, risk abort) moves [`Stop::Running`] to
//! [`Stop::Cancelling`]: no new positions, the signal stage cancels what rests. After 200 ms (and,
//! after a kill or abort with `flatten_on_abort`, once the position is flat or [`FLATTEN_WAIT`]
//! has passed) it moves to [`Stop::Draining`]: the feed stops and the stages drain their rings.

use super::AppError;
use crate::config::{format_money, Config, Source};
use crate::exec::Gateway as _;
use crate::msg::{ExecKind, Liquidity};
use crate::ops::{self, AuditEvent, AuditKind, Exit, Ops, StatusBoard};
use crate::pipeline::build::{FrameClock, Pipeline, Running, StartError};
use crate::pipeline::cold::{Collector, Latencies};
use crate::pipeline::feed::FrameSource;
use crate::pipeline::live::LiveStats;
use crate::pipeline::stats::{Flags, HotCounters, LatencyKind};
use crate::pipeline::tap::{FrameTap, Recorder};
use crate::risk::{Reasons, RiskStatus};
use crate::trader::TraderEvent;
use crate::venue::{AnyDecoder, Decoder};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// After a kill or risk abort with `flatten_on_abort`, how long the feed keeps running for the
/// flatten to fill before the process stops anyway (with the position still open).
pub const FLATTEN_WAIT: Duration = Duration::from_secs(5);

/// How long [`Stop::Cancelling`] lasts at least: the cancels reach the gateway before the feed stops.
pub const CANCEL_WAIT: Duration = Duration::from_millis(200);

/// Where the run is in its stop sequence (driven by the cold loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Trading; no stop reason yet.
    Running,
    /// A stop reason is set: no new positions, resting orders cancelled; the feed still runs
    /// (an abort's flatten is priced off the next book update).
    Cancelling { since: Instant },
    /// The feed is told to stop; the stages drain their rings and finish.
    Draining,
}

pub(crate) fn exit_err(e: Exit, msg: impl Into<String>) -> AppError {
    AppError::with_code(e.code(), msg)
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
    /// The order stage's gateway (`None`: the paper exchange).
    pub gateway: Option<crate::exec::OrderGateway>,
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
        gateway: None,
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
        gateway,
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
        .gateway(gateway)
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
    let mode = match cfg.mode {
        crate::config::Mode::Paper => "paper",
        crate::config::Mode::Live => "live",
    };
    ops.ready(&format!(
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
    let mut stop = Stop::Running;
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
            let alive = !flags.stop.load(Ordering::Relaxed) || stop != Stop::Running;
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
        if stop_reason.is_some() && stop == Stop::Running {
            // No new positions, cancel what rests (the signal stage sends CancelAll).
            stop = Stop::Cancelling {
                since: Instant::now(),
            };
            flags.no_new_positions.store(true, Ordering::Relaxed);
            board.update(|s| s.phase = ops::Phase::Stopping);
            tracing::info!(reason = stop_reason.as_deref().unwrap_or(""), "stopping");
        }
        if let Stop::Cancelling { since: t } = stop {
            // Then, once the cancels have had time to reach the gateway (and after an abort
            // with flatten_on_abort, once the position is flat: the flatten order is priced off
            // the next book update, so the feed must keep running): stop the feed; the stages
            // drain their rings and finish.
            let flattening = matches!(exit, Exit::Killed | Exit::RiskAbort)
                && cfg.risk.limits.flatten_on_abort
                && HotCounters::get(&counters.position) != 0;
            // A live gateway's requests and the venue's last reports are booked first.
            let settling = flags.gateway_busy.load(Ordering::Relaxed) && t.elapsed() < FLATTEN_WAIT;
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
                stop = Stop::Draining;
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
    println!(
        "ledger: position_lots={} cash_money={} fees_money={}",
        t.ledger.position(),
        t.ledger.cash(),
        t.ledger.fees()
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
