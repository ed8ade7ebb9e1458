//! The order stage: commands to the gateway (the paper exchange here), reports back.

use super::runner::Stage;
use super::stats::{sample, Flags, HotCounters, LatencyKind, LatencySample};
use crate::clock::now_ns;
use crate::exec::PaperExchange;
use crate::msg::{ExecReport, OrderCmd, Stamped, ToOrder};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const BATCH: usize = 256;

pub struct OrderStage {
    pub paper: PaperExchange,
    input: rtrb::Consumer<Stamped<ToOrder>>,
    out: rtrb::Producer<ExecReport>,
    lat: rtrb::Producer<LatencySample>,
    counters: Arc<HotCounters>,
    flags: Arc<Flags>,
    overflows: u64,
    dropped_samples: u64,
    /// Orders handed to the gateway.
    pub sent: u64,
}

impl OrderStage {
    pub fn new(
        paper: PaperExchange,
        input: rtrb::Consumer<Stamped<ToOrder>>,
        out: rtrb::Producer<ExecReport>,
        lat: rtrb::Producer<LatencySample>,
        counters: Arc<HotCounters>,
        flags: Arc<Flags>,
    ) -> OrderStage {
        OrderStage {
            paper,
            input,
            out,
            lat,
            counters,
            flags,
            overflows: 0,
            dropped_samples: 0,
            sent: 0,
        }
    }
}

impl Stage for OrderStage {
    #[inline]
    fn poll(&mut self) -> bool {
        let overflows_before = self.overflows;
        let out = &mut self.out;
        let overflows = &mut self.overflows;
        let mut push = |r: ExecReport| {
            if out.push(r).is_err() {
                *overflows += 1;
            }
        };
        let mut n = 0;
        while n < BATCH {
            let Ok(Stamped { sent_ns, msg: m }) = self.input.pop() else {
                break;
            };
            n += 1;
            match m {
                ToOrder::Book(u) => self.paper.on_book(&u, &mut push),
                ToOrder::Trade(t) => self.paper.on_trade(&t, &mut push),
                ToOrder::Cmd {
                    recv_ns,
                    decided_ns,
                    cmd,
                } => {
                    // Handed to the gateway now: internal tick-to-trade ends here.
                    let t = now_ns();
                    if matches!(cmd, OrderCmd::Place { .. }) {
                        self.sent += 1;
                        sample(
                            &mut self.lat,
                            &mut self.dropped_samples,
                            LatencyKind::TickToTrade,
                            t.saturating_sub(recv_ns),
                        );
                        sample(
                            &mut self.lat,
                            &mut self.dropped_samples,
                            LatencyKind::Order,
                            t.saturating_sub(sent_ns),
                        );
                    }
                    self.paper.on_cmd(decided_ns, cmd, &mut push);
                }
            }
        }
        if self.overflows > overflows_before {
            self.flags.overflowed();
        }
        if n > 0 {
            HotCounters::set(&self.counters.overflow_order_signal, self.overflows);
            self.counters.progress.fetch_add(1, Ordering::Relaxed);
        }
        n > 0
    }

    fn done(&self) -> bool {
        self.flags.is_done(2) && self.input.is_empty()
    }

    fn name(&self) -> &'static str {
        "order"
    }
}
