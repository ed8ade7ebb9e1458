//! The paper exchange, the ledger and the risk engine do not allocate after warm-up.
//!
//! A counting global allocator counts allocations made by this test's thread in the window; a synthetic market drives every hot-path call (book updates, trades, places, cancels,
//! fills, marks, risk evaluation, pre-trade checks, exec reports).

use arrayvec::ArrayVec;
use obi_scalp::exec::{Ledger, PaperConfig, PaperExchange};
use obi_scalp::msg::{
    BookState, BookUpdate, Depth, ExecKind, ExecReport, OrderCmd, OrderSide, Side, Tif, TradePrint,
    DEPTH_LEVELS, MONEY_PER_TICK_LOT,
};
use obi_scalp::risk::{RiskEngine, RiskLimits, WorkingLots};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

fn book(ns: u64, mid: i64) -> BookUpdate {
    let mut d = Depth::default();
    for i in 0..DEPTH_LEVELS {
        d.bids[i] = (mid - i as i64, 3 + i as i64);
        d.asks[i] = (mid + 1 + i as i64, 2 + i as i64);
    }
    BookUpdate {
        recv_ns: ns,
        exch_ts_ms: ns / 1_000_000,
        book: 0,
        state: BookState::Synced,
        crossed: false,
        bid_px: d.bids[0].0,
        bid_qty: d.bids[0].1,
        ask_px: d.asks[0].0,
        ask_qty: d.asks[0].1,
        obi_ppm: 0,
        micro_e6: 0,
        spread_ticks: 1,
        ofi_lots: 0,
        ofi_cum_lots: 0,
        depth: d,
        levels_n: 0,
    }
}

/// A small deterministic pseudo-random walk (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Sim {
    x: PaperExchange,
    ledger: Ledger,
    risk: RiskEngine,
    rng: Rng,
    mid: i64,
    t: u64,
    next_id: u64,
    /// Side of each order id, by id modulo the table size.
    sides: [OrderSide; 64],
    fills: u64,
    closed: u64,
    events: u64,
}

impl Sim {
    fn handle(&mut self, reports: &ArrayVec<ExecReport, 256>) {
        for r in reports {
            if let ExecKind::Fill { px, qty, fee, .. } = r.kind {
                self.fills += 1;
                let side = self.sides[(r.id % 64) as usize];
                if self.ledger.on_fill(r.ts_ns, side, px, qty, fee).is_some() {
                    self.closed += 1;
                }
            }
            let mut ev = 0;
            self.risk.on_exec(r, &mut |_| ev += 1);
            self.events += ev;
        }
    }

    fn step(&mut self) {
        let mut reports: ArrayVec<ExecReport, 256> = ArrayVec::new();
        self.t += 1_000_000;
        let r = self.rng.next();
        match r % 4 {
            0 | 1 => {
                self.mid += (r >> 8) as i64 % 3 - 1;
                let b = book(self.t, self.mid);
                self.x.on_book(&b, &mut |e| reports.push(e));
            }
            2 => {
                let aggressor = if r & 256 == 0 { Side::Bid } else { Side::Ask };
                let px = self.mid + (r >> 16) as i64 % 3 - 1;
                let t = TradePrint {
                    recv_ns: self.t,
                    exch_ts_ms: self.t / 1_000_000,
                    book: 0,
                    px,
                    qty: 1 + (r >> 24) as i64 % 6,
                    aggressor,
                };
                self.x.on_trade(&t, &mut |e| reports.push(e));
            }
            _ => {
                let cmd = match (r >> 8) % 5 {
                    0 => OrderCmd::CancelAll,
                    1 => OrderCmd::Cancel {
                        id: self.next_id.saturating_sub((r >> 16) % 4),
                    },
                    _ => {
                        self.next_id += 1;
                        let side = if r & (1 << 20) == 0 {
                            OrderSide::Buy
                        } else {
                            OrderSide::Sell
                        };
                        self.sides[(self.next_id % 64) as usize] = side;
                        let off = (r >> 24) as i64 % 3;
                        let px = match side {
                            OrderSide::Buy => self.mid + 1 - off,
                            OrderSide::Sell => self.mid + off,
                        };
                        let tif = [Tif::Gtc, Tif::PostOnly, Tif::Ioc][((r >> 28) % 3) as usize];
                        let qty = 1 + (r >> 32) as i64 % 4;
                        let reduce = self.ledger.position() != 0 && r & (1 << 40) != 0;
                        if self
                            .risk
                            .pre_trade(
                                self.t,
                                side,
                                px,
                                qty,
                                &self.ledger,
                                WorkingLots::NONE,
                                reduce,
                            )
                            .is_err()
                        {
                            return;
                        }
                        OrderCmd::Place {
                            id: self.next_id,
                            side,
                            px,
                            qty,
                            tif,
                            reduce_only: reduce,
                        }
                    }
                };
                self.x.on_cmd(self.t, cmd, &mut |e| reports.push(e));
            }
        }
        self.handle(&reports);
        self.ledger.mark(self.mid);
        let mut ev = 0;
        let bal = Some(self.x.balance());
        self.risk
            .evaluate(self.t, &self.ledger, self.mid, bal, &mut |_| ev += 1);
        self.events += ev;
    }
}

#[test]
fn exec_and_risk_do_not_allocate_after_warm_up() {
    let cfg = PaperConfig {
        order_latency_ns: 2_500_000,
        cancel_latency_ns: 1_500_000,
        report_latency_ns: 0,
        maker_fee_cbps: -25,
        taker_fee_cbps: 550,
    };
    let mut limits = RiskLimits::unlimited();
    limits.max_position_size = 20;
    limits.max_order_size = 10;
    limits.max_orders_per_sec = 400;
    limits.order_burst = 20;
    limits.max_wallet_drift = MONEY_PER_TICK_LOT;
    limits.max_consecutive_failures = u32::MAX;
    let mut sim = Sim {
        x: PaperExchange::new(cfg, 16),
        ledger: Ledger::new(1_000_000 * MONEY_PER_TICK_LOT),
        risk: RiskEngine::new(limits),
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        mid: 10_000,
        t: 1_767_571_200_000_000_000,
        next_id: 0,
        sides: [OrderSide::Buy; 64],
        fills: 0,
        closed: 0,
        events: 0,
    };
    for _ in 0..1_000 {
        sim.step();
    }
    let warm_fills = sim.fills;
    let ((), allocs) = counting_alloc::counted(|| {
        for _ in 0..50_000 {
            sim.step();
        }
    });
    assert_eq!(allocs, 0, "allocations on the hot path after warm-up");
    // The run exercised the paths it claims to.
    assert!(sim.fills - warm_fills > 1_000, "fills: {}", sim.fills);
    assert!(sim.closed > 100, "closed trades: {}", sim.closed);
    let c = sim.x.counters();
    assert!(c.maker_fills > 100 && c.taker_fills > 100, "{c:?}");
    assert!(c.cancelled > 100 && c.rejected > 10, "{c:?}");
    // The paper venue and our ledger agree.
    assert_eq!(sim.x.balance(), (sim.ledger.position(), sim.ledger.cash()));
    assert_eq!(sim.risk.snapshot().wallet_drift, Some(0));
}
