//! The signal+risk stage: market messages and execution reports in, order messages out.

use super::runner::Stage;
use super::stats::{sample, Flags, HotCounters, LatencyKind, LatencySample};
use crate::clock::now_ns;
use crate::msg::{ExecReport, MarketMsg, ToOrder};
use crate::risk::KillSource;
use crate::trader::{Conditions, Trader, TraderEvent};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const BATCH: usize = 256;

pub struct SignalStage {
    pub trader: Trader,
    input: rtrb::Consumer<MarketMsg>,
    execs: rtrb::Consumer<ExecReport>,
    out: rtrb::Producer<ToOrder>,
    events: rtrb::Producer<TraderEvent>,
    lat: rtrb::Producer<LatencySample>,
    counters: Arc<HotCounters>,
    flags: Arc<Flags>,
    overflows: u64,
    events_dropped: u64,
    dropped_samples: u64,
    killed: bool,
}

impl SignalStage {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        trader: Trader,
        input: rtrb::Consumer<MarketMsg>,
        execs: rtrb::Consumer<ExecReport>,
        out: rtrb::Producer<ToOrder>,
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
        HotCounters::set(&c.risk_status, self.trader.risk.status() as u64);
        HotCounters::set(&c.risk_reasons, self.trader.risk.reasons().bits() as u64);
        let pnl = match self.trader.mark_px() {
            Some(m) => self.trader.ledger.equity(m) - self.trader.ledger.initial_equity(),
            None => self.trader.ledger.realized() - self.trader.ledger.fees(),
        };
        HotCounters::set(&c.pnl_lo, pnl as i64 as u64);
        c.progress.fetch_add(1, Ordering::Relaxed);
    }
}

impl Stage for SignalStage {
    #[inline]
    fn poll(&mut self) -> bool {
        let overflows_before = self.overflows;
        let out = &mut self.out;
        let overflows = &mut self.overflows;
        let mut push = |m: ToOrder| {
            if out.push(m).is_err() {
                *overflows += 1;
            }
        };
        let events = &mut self.events;
        let events_dropped = &mut self.events_dropped;
        let mut ev = |e: TraderEvent| {
            if events.push(e).is_err() {
                *events_dropped += 1;
            }
        };
        if !self.killed && self.flags.kill.load(Ordering::Relaxed) {
            self.killed = true;
            self.trader
                .kill(now_ns(), KillSource::Operator, &mut push, &mut ev);
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
        while n < BATCH {
            let Ok(m) = self.input.pop() else { break };
            n += 1;
            self.trader.on_market(&m, cond, &mut push, &mut ev);
            let t = now_ns();
            sample(
                &mut self.lat,
                &mut self.dropped_samples,
                LatencyKind::Signal,
                t.saturating_sub(m.recv_ns()),
            );
        }
        if *overflows > overflows_before {
            self.flags.overflowed();
        }
        if n > 0 {
            self.publish();
        }
        n > 0
    }

    fn done(&self) -> bool {
        self.flags.is_done(1) && self.input.is_empty() && self.execs.is_empty()
    }

    fn name(&self) -> &'static str {
        "signal"
    }
}
