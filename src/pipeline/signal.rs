//! The signal+risk stage: market messages and execution reports in, order messages out.

use super::runner::Stage;
use super::stats::{sample, Flags, HotCounters, LatencyKind, LatencySample};
use crate::clock::now_ns;
use crate::msg::{ExecReport, MarketMsg, Stamped, ToOrder};
use crate::risk::KillSource;
use crate::trader::{Conditions, Trader, TraderEvent};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const BATCH: usize = 256;

pub struct SignalStage {
    pub trader: Trader,
    input: rtrb::Consumer<Stamped<MarketMsg>>,
    execs: rtrb::Consumer<ExecReport>,
    out: rtrb::Producer<Stamped<ToOrder>>,
    events: rtrb::Producer<TraderEvent>,
    lat: rtrb::Producer<LatencySample>,
    counters: Arc<HotCounters>,
    flags: Arc<Flags>,
    overflows: u64,
    events_dropped: u64,
    dropped_samples: u64,
    killed: bool,
    stopping: bool,
    /// Market messages handled per poll. 1 where the order stage runs on the same thread
    /// (the builder sets it): every decision's command is handed on and its reports come back
    /// before the next market message, exactly as `replay` settles them.
    pub market_batch: usize,
    /// The frames carry a recording's receive times: event time is the latest market
    /// message's, not this process's clock (the builder sets it).
    pub recorded_clock: bool,
    /// Commands and ends handed to the order stage (compared with `flags.order_handled`).
    sent: u64,
    /// The end of market data was handed to the order stage.
    end_sent: bool,
    /// The last `flags.wallet_drift_seq` handed to risk.
    drift_seq: u64,
    mismatch_seen: bool,
}

impl SignalStage {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        trader: Trader,
        input: rtrb::Consumer<Stamped<MarketMsg>>,
        execs: rtrb::Consumer<ExecReport>,
        out: rtrb::Producer<Stamped<ToOrder>>,
        events: rtrb::Producer<TraderEvent>,
        lat: rtrb::Producer<LatencySample>,
        counters: Arc<HotCounters>,
        flags: Arc<Flags>,
    ) -> SignalStage {
        SignalStage {
            trader,
            input,
            execs,
            out,
            events,
            lat,
            counters,
            flags,
            overflows: 0,
            events_dropped: 0,
            dropped_samples: 0,
            killed: false,
            stopping: false,
            market_batch: BATCH,
            recorded_clock: false,
            sent: 0,
            end_sent: false,
            drift_seq: 0,
            mismatch_seen: false,
        }
    }

    /// Audit events that could not be handed to the cold thread (ring full).
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    fn publish(&self) {
        let c = &self.counters;
        let t = &self.trader.counters;
        HotCounters::set(&c.signals, t.signals);
        HotCounters::set(&c.orders, t.orders);
        HotCounters::set(&c.fills, t.fills);
        HotCounters::set(&c.cancels, t.cancels);
        HotCounters::set(&c.rejects, t.rejects + t.pre_trade_rejects);
        HotCounters::set(&c.trades_closed, t.trades);
        HotCounters::set(&c.wins, t.wins);
        HotCounters::set(&c.position, self.trader.ledger.position() as u64);
        c.risk_status.set(self.trader.risk.status());
        HotCounters::set(&c.risk_reasons, self.trader.risk.reasons().bits() as u64);
        c.pnl.store(crate::ops::PnlFigures::of(
            &self.trader.ledger,
            self.trader.mark_px(),
        ));
        let r = self.trader.risk.snapshot();
        c.risk_money.store_raw([r.day_pnl, r.drawdown, 0]);
        HotCounters::set(&c.overflow_signal_order, self.overflows);
        HotCounters::set(&c.overflow_signal_cold, self.events_dropped);
    }
}

/// Event time, the clock the market data and the paper exchange run on: the process's event
/// clock live, the latest market message's receive time over a recording. A kill stamped with
/// today's time in a run over a recording would reach the paper exchange only once the
/// recording reached today, that is never.
#[inline]
fn event_now(recorded_clock: bool, trader: &Trader) -> u64 {
    if recorded_clock {
        trader.clock()
    } else {
        now_ns()
    }
}

impl Stage for SignalStage {
    #[inline]
    fn poll(&mut self) -> bool {
        let overflows_before = self.overflows;
        let out = &mut self.out;
        let overflows = &mut self.overflows;
        let sent = std::cell::Cell::new(self.sent);
        let mut push = |m: ToOrder| {
            // Commands are stamped at hand-off: the order stage's time is measured from here.
            let answered = matches!(m, ToOrder::Cmd { .. } | ToOrder::End);
            let sent_ns = if answered { now_ns() } else { 0 };
            if out.push(Stamped { sent_ns, msg: m }).is_err() {
                *overflows += 1;
            } else if answered {
                sent.set(sent.get() + 1);
            }
        };
        let events = &mut self.events;
        let events_dropped = &mut self.events_dropped;
        let mut ev = |e: TraderEvent| {
            if events.push(e).is_err() {
                *events_dropped += 1;
            }
        };
        // Kill and shutdown act at once, not at the next book update: a quiet market may send
        // none before the feed stops.
        let mut acted = false;
        // Both are stamped in event time ([`event_now`]).
        if !self.killed && self.flags.kill.load(Ordering::Relaxed) {
            self.killed = true;
            acted = true;
            let now = event_now(self.recorded_clock, &self.trader);
            self.trader
                .kill(now, KillSource::Operator, &mut push, &mut ev);
        }
        if !self.stopping && self.flags.no_new_positions.load(Ordering::Relaxed) {
            self.stopping = true;
            acted = true;
            let now = event_now(self.recorded_clock, &self.trader);
            self.trader.cancel_all(now, &mut push, &mut ev);
        }
        // Reconciliation's findings (a live gateway's I/O thread, copied by the cold thread).
        let seq = self.flags.wallet_drift_seq.load(Ordering::Acquire);
        if seq != self.drift_seq {
            self.drift_seq = seq;
            let d = self.flags.wallet_drift.load(Ordering::Relaxed);
            acted = true;
            let now = event_now(self.recorded_clock, &self.trader);
            self.trader
                .wallet_drift(now, d as crate::msg::Money, &mut push, &mut ev);
        }
        if !self.mismatch_seen && self.flags.reconcile_mismatch.load(Ordering::Relaxed) {
            self.mismatch_seen = true;
            acted = true;
            let now = event_now(self.recorded_clock, &self.trader);
            self.trader
                .risk
                .reconcile_mismatch(now, &mut |e| ev(TraderEvent::Risk(e)));
        }
        let mut n = 0;
        while let Ok(r) = self.execs.pop() {
            self.trader.on_exec(&r, &mut push, &mut ev);
            n += 1;
        }
        let cond = Conditions {
            feed_active: self.flags.feed_active.load(Ordering::Relaxed),
            degraded: self.flags.degraded.load(Ordering::Relaxed),
            stopping: self.flags.no_new_positions.load(Ordering::Relaxed),
        };
        let mut markets = 0;
        while markets < self.market_batch && n < BATCH {
            markets += 1;
            let Ok(Stamped { sent_ns, msg: m }) = self.input.pop() else {
                break;
            };
            n += 1;
            self.trader.on_market(&m, cond, &mut push, &mut ev);
            let t = now_ns();
            sample(
                &mut self.lat,
                &mut self.dropped_samples,
                LatencyKind::Signal,
                t.saturating_sub(sent_ns),
            );
            sample(
                &mut self.lat,
                &mut self.dropped_samples,
                LatencyKind::DecisionSinceReceive,
                t.saturating_sub(m.recv_ns()),
            );
        }
        // The market data has ended: the order stage learns it (the paper exchange runs the
        // cancels pending, at their own time); once it has answered everything sent, the
        // reports still on their way back (report latency) arrive in event time, as at the end
        // of a replay.
        if !self.end_sent && self.flags.is_done(1) && self.input.is_empty() {
            let before = sent.get();
            push(ToOrder::End);
            self.end_sent = sent.get() > before;
            acted = true;
        }
        if self.end_sent
            && self.flags.order_handled.load(Ordering::Acquire) == sent.get()
            && self.execs.is_empty()
        {
            if let Some(due) = self.trader.next_report_due() {
                self.trader.advance_to(due, &mut push, &mut ev);
                acted = true;
            }
        }
        self.sent = sent.get();
        if *overflows > overflows_before {
            self.flags.overflowed();
        }
        if n > 0 || acted {
            self.publish();
        }
        n > 0 || acted
    }

    fn done(&self) -> bool {
        // `order_handled` before the exec ring: the reports of what it counts are on it.
        self.flags.is_done(1)
            && self.input.is_empty()
            && self.end_sent
            && self.flags.order_handled.load(Ordering::Acquire) == self.sent
            && self.execs.is_empty()
            && self.trader.next_report_due().is_none()
    }

    fn name(&self) -> &'static str {
        "signal"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::msg::OrderCmd;
    use crate::risk::RiskStatus;

    struct Rig {
        stage: SignalStage,
        _input: rtrb::Producer<Stamped<MarketMsg>>,
        _execs: rtrb::Producer<ExecReport>,
        out: rtrb::Consumer<Stamped<ToOrder>>,
        events: rtrb::Consumer<TraderEvent>,
        counters: Arc<HotCounters>,
        flags: Arc<Flags>,
    }

    fn rig() -> Rig {
        let cfg = Config::builtin();
        let (input, input_rx) = rtrb::RingBuffer::new(16);
        let (execs, execs_rx) = rtrb::RingBuffer::new(16);
        let (out_tx, out) = rtrb::RingBuffer::new(16);
        let (ev_tx, events) = rtrb::RingBuffer::new(16);
        let (lat_tx, _lat) = rtrb::RingBuffer::new(16);
        let counters = Arc::new(HotCounters::default());
        let flags = Arc::new(Flags::default());
        let stage = SignalStage::new(
            Trader::new(&cfg, 0),
            input_rx,
            execs_rx,
            out_tx,
            ev_tx,
            lat_tx,
            counters.clone(),
            flags.clone(),
        );
        Rig {
            stage,
            _input: input,
            _execs: execs,
            out,
            events,
            counters,
            flags,
        }
    }

    fn cancel_alls(r: &mut Rig) -> (usize, usize) {
        let mut cmds = 0;
        while let Ok(Stamped { msg: m, .. }) = r.out.pop() {
            if matches!(
                m,
                ToOrder::Cmd {
                    cmd: OrderCmd::CancelAll,
                    ..
                }
            ) {
                cmds += 1;
            }
        }
        let mut evs = 0;
        while let Ok(e) = r.events.pop() {
            if matches!(e, TraderEvent::CancelAll { .. }) {
                evs += 1;
            }
        }
        (cmds, evs)
    }

    #[test]
    fn shutdown_cancels_all_without_waiting_for_market_data() {
        let mut r = rig();
        assert!(!r.stage.poll(), "nothing to do yet");
        assert_eq!(cancel_alls(&mut r), (0, 0));
        r.flags.no_new_positions.store(true, Ordering::Relaxed);
        assert!(r.stage.poll(), "the stop is work");
        assert_eq!(cancel_alls(&mut r), (1, 1));
        assert!(!r.stage.poll(), "once");
        assert_eq!(cancel_alls(&mut r), (0, 0));
        assert_eq!(r.counters.risk_status.get(), RiskStatus::Ok);
    }

    /// Over a recording, kill and stop are decided at the recording's time (the latest market
    /// message), the clock the paper exchange runs on: stamped with the process clock, the
    /// cancel-all would be due decades after the recording's last frame and never take effect.
    #[test]
    fn kill_over_a_recording_is_stamped_in_the_recording_time() {
        use crate::msg::{BookState, BookUpdate, Depth};
        let mut r = rig();
        r.stage.recorded_clock = true;
        let t = 1_000_000_000; // 1 s after the epoch: a recording's clock, not today's.
        let u = BookUpdate {
            recv_ns: t,
            exch_ts_ms: t / 1_000_000,
            book: 0,
            state: BookState::Synced,
            crossed: false,
            bid_px: 100,
            bid_qty: 1,
            ask_px: 101,
            ask_qty: 1,
            obi_ppm: 0,
            micro_e6: 0,
            spread_ticks: 1,
            ofi_lots: 0,
            ofi_cum_lots: 0,
            depth: Depth::default(),
            levels_n: 0,
        };
        r._input
            .push(Stamped {
                sent_ns: 0,
                msg: MarketMsg::Book(u),
            })
            .unwrap();
        assert!(r.stage.poll());
        while r.out.pop().is_ok() {}
        r.flags.kill.store(true, Ordering::Relaxed);
        assert!(r.stage.poll());
        let mut stamps = Vec::new();
        while let Ok(Stamped { msg: m, .. }) = r.out.pop() {
            if let ToOrder::Cmd {
                decided_ns,
                cmd: OrderCmd::CancelAll,
                ..
            } = m
            {
                stamps.push(decided_ns);
            }
        }
        assert_eq!(
            stamps,
            [t],
            "the cancel-all is decided at the recording's time"
        );
        let mut kill_ts = None;
        while let Ok(e) = r.events.pop() {
            if let TraderEvent::CancelAll { ts_ns } = e {
                kill_ts = Some(ts_ns);
            }
        }
        assert_eq!(kill_ts, Some(t));
    }

    #[test]
    fn kill_aborts_and_publishes_without_market_data() {
        let mut r = rig();
        r.flags.kill.store(true, Ordering::Relaxed);
        r.flags.no_new_positions.store(true, Ordering::Relaxed);
        assert!(r.stage.poll());
        // One cancel-all for the kill; the stop finds it already sent.
        assert_eq!(cancel_alls(&mut r), (1, 1));
        assert_eq!(
            r.counters.risk_status.get(),
            RiskStatus::Abort,
            "the abort is visible to the cold side at once"
        );
        assert!(!r.stage.poll());
    }

    /// The threaded stages over a recording: a kill decided on the last market message, with
    /// none after it. The cancel-all takes effect at its own event time once the market data
    /// has ended (decision + cancel latency), its report reaches the strategy, and the signal
    /// stage finishes only after that: the order is neither left open at the venue nor
    /// working for the strategy.
    #[test]
    fn a_kill_after_the_last_market_message_is_cancelled_at_its_time() {
        use crate::exec::PaperExchange;
        use crate::msg::{BookState, BookUpdate, Depth, ExecKind};
        use crate::pipeline::order::OrderStage;
        const MS: u64 = 1_000_000;
        let mut cfg = Config::builtin();
        cfg.paper.order_latency_ns = 0;
        cfg.paper.cancel_latency_ns = 5 * MS;
        cfg.paper.report_latency_ns = 2 * MS;
        cfg.strategy.entry_offset_ticks = -2; // the entry rests below the touch
        let (mut input, input_rx) = rtrb::RingBuffer::new(16);
        let (ex_tx, ex_rx) = rtrb::RingBuffer::new(64);
        let (to_tx, to_rx) = rtrb::RingBuffer::new(64);
        let (ev_tx, mut events) = rtrb::RingBuffer::new(64);
        let (lat_tx, _lat) = rtrb::RingBuffer::new(64);
        let (lat2_tx, _lat2) = rtrb::RingBuffer::new(64);
        let counters = Arc::new(HotCounters::default());
        let flags = Arc::new(Flags::default());
        flags.feed_active.store(true, Ordering::Relaxed);
        let mut signal = SignalStage::new(
            Trader::new(&cfg, 0),
            input_rx,
            ex_rx,
            to_tx,
            ev_tx,
            lat_tx,
            counters.clone(),
            flags.clone(),
        );
        signal.recorded_clock = true;
        signal.market_batch = 1;
        let mut order = OrderStage::new(
            PaperExchange::new(cfg.paper, 8),
            to_rx,
            ex_tx,
            lat2_tx,
            counters,
            flags.clone(),
        );
        let mut depth = Depth::default();
        for i in 0..depth.bids.len() {
            depth.bids[i] = (100 - i as i64, 10_000_000);
            depth.asks[i] = (101 + i as i64, 10_000_000);
        }
        let t = 1000 * MS;
        let u = BookUpdate {
            recv_ns: t,
            exch_ts_ms: t / MS,
            book: 0,
            state: BookState::Synced,
            crossed: false,
            bid_px: 100,
            bid_qty: 10_000_000,
            ask_px: 101,
            ask_qty: 10_000_000,
            obi_ppm: 900_000,
            micro_e6: 0,
            spread_ticks: 1,
            ofi_lots: 0,
            ofi_cum_lots: 0,
            depth,
            levels_n: 0,
        };
        input
            .push(Stamped {
                sent_ns: 0,
                msg: MarketMsg::Book(u),
            })
            .unwrap();
        let round = |signal: &mut SignalStage, order: &mut OrderStage| {
            let a = signal.poll();
            let b = order.poll();
            a || b
        };
        for _ in 0..4 {
            round(&mut signal, &mut order);
        }
        assert_eq!(order.gateway.open_orders().len(), 1, "the entry rests");
        flags.kill.store(true, Ordering::Relaxed);
        for _ in 0..4 {
            round(&mut signal, &mut order);
        }
        assert_eq!(
            order.gateway.open_orders().len(),
            1,
            "no time has passed yet: the cancel-all is due at 1005 ms"
        );
        // The recording ends: the book stage is done, nothing follows.
        flags.done[1].store(true, Ordering::Release);
        let mut rounds = 0;
        while !signal.done() {
            rounds += 1;
            assert!(rounds < 100, "the signal stage must finish");
            round(&mut signal, &mut order);
        }
        assert!(order.gateway.open_orders().is_empty());
        assert_eq!(signal.trader.working_ids().count(), 0);
        let mut cancelled = Vec::new();
        while let Ok(e) = events.pop() {
            if let TraderEvent::Exec { report, .. } = e {
                if matches!(report.kind, ExecKind::Cancelled { .. }) {
                    cancelled.push(report.ts_ns);
                }
            }
        }
        assert_eq!(
            cancelled,
            [t + 5 * MS],
            "at the kill's time + cancel latency"
        );
    }
}
