//! The order stage: commands to the [`Gateway`] (the paper exchange, or a venue's live
//! gateway), reports back.

use super::runner::Stage;
use super::stats::{sample, Flags, HotCounters, LatencyKind, LatencySample};
use crate::clock::now_ns;
use crate::exec::{Gateway, PaperExchange};
use crate::msg::{ExecReport, OrderCmd, Stamped, ToOrder};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const BATCH: usize = 256;

pub struct OrderStage<G: Gateway = PaperExchange> {
    pub gateway: G,
    input: rtrb::Consumer<Stamped<ToOrder>>,
    out: rtrb::Producer<ExecReport>,
    lat: rtrb::Producer<LatencySample>,
    counters: Arc<HotCounters>,
    flags: Arc<Flags>,
    overflows: u64,
    dropped_samples: u64,
    /// Orders handed to the gateway.
    pub sent: u64,
    /// Commands and ends handed to the gateway (published as `flags.order_handled`).
    handled: u64,
}

impl<G: Gateway> OrderStage<G> {
    pub fn new(
        gateway: G,
        input: rtrb::Consumer<Stamped<ToOrder>>,
        out: rtrb::Producer<ExecReport>,
        lat: rtrb::Producer<LatencySample>,
        counters: Arc<HotCounters>,
        flags: Arc<Flags>,
    ) -> OrderStage<G> {
        OrderStage {
            gateway,
            input,
            out,
            lat,
            counters,
            flags,
            overflows: 0,
            dropped_samples: 0,
            sent: 0,
            handled: 0,
        }
    }
}

impl<G: Gateway + Send + 'static> Stage for OrderStage<G> {
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
                ToOrder::Book(u) => self.gateway.on_book(&u, &mut push),
                ToOrder::Trade(t) => self.gateway.on_trade(&t, &mut push),
                ToOrder::End => {
                    self.handled += 1;
                    self.gateway.on_end(&mut push);
                }
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
                    self.handled += 1;
                    self.gateway.on_cmd(decided_ns, cmd, &mut push);
                }
            }
        }
        if n > 0 {
            // After the reports: whoever sees the count sees them on the ring.
            self.flags
                .order_handled
                .store(self.handled, Ordering::Release);
        }
        // The venue's answers and private stream (nothing for the paper exchange).
        let polled = self.gateway.poll(&mut push);
        if n > 0 || polled {
            self.flags
                .gateway_busy
                .store(self.gateway.busy(), Ordering::Relaxed);
        }
        if self.overflows > overflows_before {
            self.flags.overflowed();
        }
        if n > 0 || polled {
            HotCounters::set(&self.counters.overflow_order_signal, self.overflows);
        }
        n > 0 || polled
    }

    fn done(&self) -> bool {
        self.flags.is_done(2) && self.input.is_empty()
    }

    fn name(&self) -> &'static str {
        "order"
    }
}
