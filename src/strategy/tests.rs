use super::*;
use crate::config::Config;
use crate::msg::{Depth, Liquidity, NO_PRICE};

fn cfg() -> StrategyConfig {
    Config::builtin().strategy
}

fn upd(t_ms: u64, obi_ppm: i64, bid: i64, ask: i64) -> BookUpdate {
    BookUpdate {
        recv_ns: t_ms * 1_000_000,
        exch_ts_ms: t_ms,
        book: 0,
        state: BookState::Synced,
        crossed: false,
        bid_px: bid,
        bid_qty: 10,
        ask_px: ask,
        ask_qty: 10,
        obi_ppm,
        micro_e6: 0,
        spread_ticks: ask - bid,
        ofi_lots: 0,
        ofi_cum_lots: 0,
        depth: Depth::default(),
    }
}

fn run(s: &mut ObiScalper, u: &BookUpdate, gate: Gate) -> (Option<SignalFire>, Vec<OrderCmd>) {
    let mut cmds = Vec::new();
    let f = s.on_book(u, gate, &mut |c| cmds.push(c));
    (f, cmds)
}

fn fill(id: u64, t_ms: u64, px: i64, qty: i64, leaves: i64) -> ExecReport {
    ExecReport {
        id,
        ts_ns: t_ms * 1_000_000,
        kind: ExecKind::Fill {
            px,
            qty,
            liquidity: Liquidity::Taker,
            fee: 0,
            leaves,
        },
    }
}

#[test]
fn signal_must_hold_for_hold_ms() {
    let mut s = ObiScalper::new(cfg());
    assert!(s.signal(&upd(1000, 300_000, 100, 101)).is_none());
    assert!(s.signal(&upd(1400, 300_000, 100, 101)).is_none());
    let f = s.signal(&upd(1500, 300_000, 100, 101)).unwrap();
    assert_eq!(f.dir, Dir::Long);
    assert!(!f.instant);
    // fires once per episode
    assert!(s.signal(&upd(1600, 300_000, 100, 101)).is_none());
    // broken by a neutral update: a new episode must hold again
    assert!(s.signal(&upd(1700, 0, 100, 101)).is_none());
    assert!(s.signal(&upd(1800, -280_000, 100, 101)).is_none());
    assert_eq!(
        s.signal(&upd(2300, -280_000, 100, 101)).unwrap().dir,
        Dir::Short
    );
}

#[test]
fn instant_factor_fires_at_once() {
    let mut s = ObiScalper::new(cfg());
    // 0.25 * 1.5 = 0.375
    assert!(s.signal(&upd(1000, 374_999, 100, 101)).is_none());
    let mut s = ObiScalper::new(cfg());
    let f = s.signal(&upd(1000, 375_000, 100, 101)).unwrap();
    assert!(f.instant);
    // short side uses its own threshold: 0.27 * 1.5 = 0.405
    let mut s = ObiScalper::new(cfg());
    assert!(s.signal(&upd(1000, -400_000, 100, 101)).is_none());
    assert!(s.signal(&upd(1001, -405_000, 100, 101)).unwrap().instant);
}

#[test]
fn entry_take_profit_and_cooldown() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let OrderCmd::Place {
        id,
        side,
        px,
        qty,
        reduce_only,
        ..
    } = cmds[0]
    else {
        panic!("entry expected: {cmds:?}")
    };
    assert_eq!(
        (side, px, qty, reduce_only),
        (OrderSide::Buy, 101, 1_000_000, false)
    );
    s.on_exec(&fill(id, 1005, 101, qty, 0), &mut |_| {});
    assert!(matches!(
        s.phase(),
        Phase::Open {
            dir: Dir::Long,
            entry_px: 101,
            ..
        }
    ));
    // +2 ticks on the bid: not yet
    let (_, cmds) = run(&mut s, &upd(1100, 0, 103, 104), Gate::OPEN);
    assert!(cmds.is_empty());
    // +3 ticks: take profit with a reduce-only IOC sell at the bid
    let (_, cmds) = run(&mut s, &upd(1200, 0, 104, 105), Gate::OPEN);
    let OrderCmd::Place {
        id: xid,
        side,
        px,
        tif,
        reduce_only,
        ..
    } = cmds[0]
    else {
        panic!()
    };
    assert_eq!(
        (side, px, tif, reduce_only),
        (OrderSide::Sell, 104, Tif::Ioc, true)
    );
    assert_eq!(s.last_exit, Some(ExitReason::TakeProfit));
    s.on_exec(&fill(xid, 1205, 104, qty, 0), &mut |_| {});
    assert!(s.is_flat());
    // cooldown: a new signal within 1 s is not traded
    let (f, cmds) = run(&mut s, &upd(1300, -500_000, 104, 105), Gate::OPEN);
    assert!(f.is_some() && cmds.is_empty());
    let (_, cmds) = run(&mut s, &upd(2300, 0, 104, 105), Gate::OPEN);
    assert!(cmds.is_empty());
    let (_, cmds) = run(&mut s, &upd(2400, -500_000, 104, 105), Gate::OPEN);
    assert!(matches!(
        cmds[0],
        OrderCmd::Place {
            side: OrderSide::Sell,
            px: 104,
            ..
        }
    ));
}

#[test]
fn stop_loss_and_max_hold() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, -500_000, 100, 101), Gate::OPEN);
    let OrderCmd::Place { id, qty, .. } = cmds[0] else {
        panic!()
    };
    s.on_exec(&fill(id, 1001, 100, qty, 0), &mut |_| {});
    // short from 100: ask at 105 is -5 ticks: stop loss, buy at the ask
    let (_, cmds) = run(&mut s, &upd(1100, 0, 104, 105), Gate::OPEN);
    assert!(matches!(
        cmds[0],
        OrderCmd::Place {
            side: OrderSide::Buy,
            px: 105,
            reduce_only: true,
            ..
        }
    ));
    assert_eq!(s.last_exit, Some(ExitReason::StopLoss));

    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let OrderCmd::Place { id, qty, .. } = cmds[0] else {
        panic!()
    };
    s.on_exec(&fill(id, 1000, 101, qty, 0), &mut |_| {});
    let (_, cmds) = run(&mut s, &upd(30_999, 0, 100, 101), Gate::OPEN);
    assert!(cmds.is_empty());
    let (_, cmds) = run(&mut s, &upd(31_000, 0, 100, 101), Gate::OPEN);
    assert_eq!(cmds.len(), 1);
    assert_eq!(s.last_exit, Some(ExitReason::MaxHold));
}

#[test]
fn no_entry_unless_synced_active_tight_and_allowed() {
    let strong = |t| upd(t, 900_000, 100, 101);
    let mut s = ObiScalper::new(cfg());
    let mut u = strong(1000);
    u.state = BookState::Resyncing;
    assert!(run(&mut s, &u, Gate::OPEN).1.is_empty());
    let mut s = ObiScalper::new(cfg());
    let mut u = strong(1000);
    u.state = BookState::Stale;
    assert!(run(&mut s, &u, Gate::OPEN).1.is_empty());
    let mut s = ObiScalper::new(cfg());
    let mut u = strong(1000);
    u.crossed = true;
    assert!(run(&mut s, &u, Gate::OPEN).1.is_empty());
    let mut s = ObiScalper::new(cfg());
    let mut u = strong(1000);
    u.ask_px = NO_PRICE;
    assert!(run(&mut s, &u, Gate::OPEN).1.is_empty());
    let mut s = ObiScalper::new(cfg());
    assert!(run(&mut s, &upd(1000, 900_000, 100, 106), Gate::OPEN)
        .1
        .is_empty());
    assert_eq!(s.counters.blocked_spread, 1);
    let mut s = ObiScalper::new(cfg());
    let g = Gate {
        feed_active: false,
        ..Gate::OPEN
    };
    assert!(run(&mut s, &strong(1000), g).1.is_empty());
    let mut s = ObiScalper::new(cfg());
    let g = Gate {
        may_open: false,
        ..Gate::OPEN
    };
    assert!(run(&mut s, &strong(1000), g).1.is_empty());
    assert_eq!(s.counters.blocked_risk, 1);
}

#[test]
fn unfilled_entry_is_cancelled_after_timeout() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let OrderCmd::Place { id, .. } = cmds[0] else {
        panic!()
    };
    assert!(run(&mut s, &upd(3999, 0, 100, 101), Gate::OPEN)
        .1
        .is_empty());
    let (_, cmds) = run(&mut s, &upd(4000, 0, 100, 101), Gate::OPEN);
    assert_eq!(cmds, vec![OrderCmd::Cancel { id }]);
    // only once
    assert!(run(&mut s, &upd(4100, 0, 100, 101), Gate::OPEN)
        .1
        .is_empty());
    s.on_exec(
        &ExecReport {
            id,
            ts_ns: 4_105_000_000,
            kind: ExecKind::Cancelled { leaves: 1 },
        },
        &mut |_| {},
    );
    assert!(s.is_flat());
}

#[test]
fn partial_entry_opens_and_cancels_the_rest() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let OrderCmd::Place { id, .. } = cmds[0] else {
        panic!()
    };
    let mut out = Vec::new();
    s.on_exec(&fill(id, 1001, 101, 400_000, 600_000), &mut |c| out.push(c));
    assert_eq!(out, vec![OrderCmd::Cancel { id }]);
    assert!(matches!(s.phase(), Phase::Open { qty: 400_000, .. }));
    // the flatten gate exits whatever is open
    let g = Gate {
        flatten: true,
        ..Gate::OPEN
    };
    let (_, cmds) = run(&mut s, &upd(1100, 0, 100, 101), g);
    assert!(matches!(
        cmds[0],
        OrderCmd::Place {
            side: OrderSide::Sell,
            qty: 400_000,
            ..
        }
    ));
    assert_eq!(s.last_exit, Some(ExitReason::Flatten));
}
