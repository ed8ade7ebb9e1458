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
        levels_n: 0,
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

fn cancelled(id: u64, t_ms: u64, leaves: i64) -> ExecReport {
    ExecReport {
        id,
        ts_ns: t_ms * 1_000_000,
        kind: ExecKind::Cancelled { leaves },
    }
}

/// The strategy's signed position, read from its phase.
fn pos(s: &ObiScalper) -> i64 {
    match s.phase() {
        Phase::Open {
            dir: Dir::Long,
            qty,
            ..
        } => qty,
        Phase::Open {
            dir: Dir::Short,
            qty,
            ..
        } => -qty,
        _ => 0,
    }
}

fn place_of(c: &OrderCmd) -> (u64, OrderSide, i64, i64) {
    match *c {
        OrderCmd::Place {
            id, side, px, qty, ..
        } => (id, side, px, qty),
        other => panic!("a place expected: {other:?}"),
    }
}

/// The sequence: the entry part-fills, the rest is cancelled, a stop-loss IOC exit of
/// the first part is sent, the entry's rest fills before the exit arrives, the IOC fills in
/// full (no `Cancelled` follows). The strategy must still hold the rest and exit it.
#[test]
fn filled_ioc_exit_with_a_late_entry_rest_leaves_no_stuck_position() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let (id, _, _, qty) = place_of(&cmds[0]);
    let q1 = qty * 4 / 10;
    let mut out = Vec::new();
    s.on_exec(&fill(id, 1001, 101, q1, qty - q1), &mut |c| out.push(c));
    assert_eq!(out, vec![OrderCmd::Cancel { id }]);
    // stop loss: the bid 5 ticks below the entry
    let (_, cmds) = run(&mut s, &upd(1100, 0, 96, 97), Gate::OPEN);
    let (xid, side, _, xqty) = place_of(&cmds[0]);
    assert_eq!((side, xqty), (OrderSide::Sell, q1));
    // the entry's rest fills before the exit arrives
    s.on_exec(&fill(id, 1101, 101, qty - q1, 0), &mut |_| {});
    // the IOC fills its whole size: no cancel will follow
    s.on_exec(&fill(xid, 1102, 96, q1, 0), &mut |_| {});
    assert!(
        matches!(s.phase(), Phase::Open { qty: q, exit_id: None, .. } if q == qty - q1),
        "the rest is open and no exit works: {:?}",
        s.phase()
    );
    // the next update exits the rest
    let (_, cmds) = run(&mut s, &upd(1200, 0, 96, 97), Gate::OPEN);
    assert_eq!(
        cmds.len(),
        1,
        "an exit is armed for the rest: {:?}",
        s.phase()
    );
    let (xid2, side, _, q) = place_of(&cmds[0]);
    assert_eq!((side, q), (OrderSide::Sell, qty - q1));
    s.on_exec(&fill(xid2, 1201, 96, q, 0), &mut |_| {});
    assert!(s.is_flat());
}

/// With the cancel slower than an order, the entry's rest can fill after an exit closed the
/// first part (the strategy was flat): that fill is a position the strategy must hold and exit.
#[test]
fn late_entry_fill_after_flat_reopens_the_position() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let (id, _, _, qty) = place_of(&cmds[0]);
    let q1 = qty / 2;
    s.on_exec(&fill(id, 1001, 101, q1, qty - q1), &mut |_| {});
    let (_, cmds) = run(&mut s, &upd(1100, 0, 104, 105), Gate::OPEN);
    let (xid, _, _, _) = place_of(&cmds[0]);
    s.on_exec(&fill(xid, 1101, 104, q1, 0), &mut |_| {});
    assert_eq!(pos(&s), 0);
    // the cancel has not landed yet: the rest fills
    s.on_exec(&fill(id, 1102, 101, qty - q1, 0), &mut |_| {});
    assert_eq!(pos(&s), qty - q1, "{:?}", s.phase());
    let (_, cmds) = run(&mut s, &upd(1200, 0, 104, 105), Gate::OPEN);
    let (_, side, _, q) = place_of(&cmds[0]);
    assert_eq!((side, q), (OrderSide::Sell, qty - q1));
    // the cancel lands late and is rejected (nothing left): nothing changes
    s.on_exec(
        &ExecReport {
            id,
            ts_ns: 1_203_000_000,
            kind: ExecKind::CancelRejected {
                reason: crate::msg::RejectReason::UnknownOrder,
            },
        },
        &mut |_| {},
    );
    assert_eq!(pos(&s), qty - q1);
}

/// A rest that is cancelled after the flat keeps the strategy flat, and no new entry is sent
/// while it works.
#[test]
fn no_new_entry_while_an_entry_rest_works() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let (id, _, _, qty) = place_of(&cmds[0]);
    s.on_exec(&fill(id, 1001, 101, qty / 2, qty - qty / 2), &mut |_| {});
    let (_, cmds) = run(&mut s, &upd(1100, 0, 104, 105), Gate::OPEN);
    let (xid, _, _, _) = place_of(&cmds[0]);
    s.on_exec(&fill(xid, 1101, 104, qty / 2, 0), &mut |_| {});
    assert!(!s.is_flat(), "the rest still works");
    let (_, cmds) = run(&mut s, &upd(5000, -900_000, 104, 105), Gate::OPEN);
    assert!(cmds.is_empty(), "{cmds:?}");
    s.on_exec(&cancelled(id, 5001, qty - qty / 2), &mut |_| {});
    assert!(s.is_flat());
    run(&mut s, &upd(6000, 0, 104, 105), Gate::OPEN);
    let (_, cmds) = run(&mut s, &upd(7000, -900_000, 104, 105), Gate::OPEN);
    assert_eq!(cmds.len(), 1);
}

/// Fills and cancels of orders the strategy never sent change nothing.
#[test]
fn reports_of_unknown_orders_are_ignored() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let (id, _, _, qty) = place_of(&cmds[0]);
    s.on_exec(&fill(id, 1001, 101, qty, 0), &mut |_| {});
    s.on_exec(&fill(777, 1002, 101, qty, 0), &mut |_| {});
    assert_eq!(pos(&s), qty);
}

/// Take-profit, stop-loss and max-hold are not decided on a book that is not synced (old levels
/// kept under `resyncing`) or crossed; the first synced book decides.
#[test]
fn exits_are_decided_on_synced_books_only() {
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let (id, _, _, qty) = place_of(&cmds[0]);
    s.on_exec(&fill(id, 1001, 101, qty, 0), &mut |_| {});
    for state in [BookState::Resyncing, BookState::Stale] {
        let mut u = upd(1100, 0, 96, 97); // stop loss on these levels
        u.state = state;
        assert!(run(&mut s, &u, Gate::OPEN).1.is_empty(), "{state:?}");
    }
    let mut u = upd(1150, 0, 110, 109); // crossed: take profit on these levels
    u.crossed = true;
    assert!(run(&mut s, &u, Gate::OPEN).1.is_empty());
    let mut u = upd(40_000, 0, 100, 101); // past max hold
    u.state = BookState::Resyncing;
    assert!(run(&mut s, &u, Gate::OPEN).1.is_empty());
    let (_, cmds) = run(&mut s, &upd(40_001, 0, 100, 101), Gate::OPEN);
    assert_eq!(cmds.len(), 1);
    assert_eq!(s.last_exit, Some(ExitReason::MaxHold));
}

/// A flatten on an unsynced book: `wait` sends nothing until a synced book, `market` sends a
/// reduce-only IOC at once, priced through any level.
#[test]
fn flatten_on_an_unsynced_book_follows_the_policy() {
    let open = |s: &mut ObiScalper| {
        let (_, cmds) = run(s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
        let (id, _, _, qty) = place_of(&cmds[0]);
        s.on_exec(&fill(id, 1001, 101, qty, 0), &mut |_| {});
        qty
    };
    let mut stale = upd(1100, 0, 100, 101);
    stale.state = BookState::Resyncing;
    let wait = Gate {
        flatten: true,
        ..Gate::OPEN
    };
    let mut s = ObiScalper::new(cfg());
    open(&mut s);
    assert!(run(&mut s, &stale, wait).1.is_empty());
    let (_, cmds) = run(&mut s, &upd(1200, 0, 100, 101), wait);
    assert_eq!(place_of(&cmds[0]).2, 100, "at the synced bid");
    assert_eq!(s.last_exit, Some(ExitReason::Flatten));

    let market = Gate {
        flatten_unsynced: FlattenPolicy::Market,
        ..wait
    };
    let mut s = ObiScalper::new(cfg());
    let qty = open(&mut s);
    let mut cmds = Vec::new();
    s.flatten_now(&stale, market, &mut |c| cmds.push(c));
    assert!(matches!(
        cmds[..],
        [OrderCmd::Place {
            side: OrderSide::Sell,
            px: 50,
            qty: q,
            tif: Tif::Ioc,
            reduce_only: true,
            ..
        }] if q == qty
    ));
    // a short flattens with a buy far above the ask
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, -500_000, 100, 101), Gate::OPEN);
    let (id, _, _, qty) = place_of(&cmds[0]);
    s.on_exec(&fill(id, 1001, 100, qty, 0), &mut |_| {});
    let (_, cmds) = run(&mut s, &stale, market);
    assert_eq!(place_of(&cmds[0]).1, OrderSide::Buy);
    assert_eq!(place_of(&cmds[0]).2, 202);
}

/// A cancel the venue refused (not "unknown order": the order still works) is sent again on the
/// next update, for a working entry and for the rest of a partly filled one: no order is left
/// without a path to its end.
#[test]
fn a_refused_cancel_is_sent_again() {
    let refused = |id, t_ms: u64| ExecReport {
        id,
        ts_ns: t_ms * 1_000_000,
        kind: ExecKind::CancelRejected {
            reason: crate::msg::RejectReason::Venue,
        },
    };
    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let (id, _, _, qty) = place_of(&cmds[0]);
    let (_, cmds) = run(&mut s, &upd(4000, 0, 100, 101), Gate::OPEN);
    assert_eq!(cmds, vec![OrderCmd::Cancel { id }]);
    s.on_exec(&refused(id, 4001), &mut |_| {});
    let (_, cmds) = run(&mut s, &upd(4100, 0, 100, 101), Gate::OPEN);
    assert_eq!(cmds, vec![OrderCmd::Cancel { id }], "entry cancel again");

    let mut s = ObiScalper::new(cfg());
    let (_, cmds) = run(&mut s, &upd(1000, 500_000, 100, 101), Gate::OPEN);
    let (id, _, _, _) = place_of(&cmds[0]);
    let mut out = Vec::new();
    s.on_exec(&fill(id, 1001, 101, qty / 2, qty - qty / 2), &mut |c| {
        out.push(c)
    });
    assert_eq!(out, vec![OrderCmd::Cancel { id }]);
    s.on_exec(&refused(id, 1002), &mut |_| {});
    let (_, cmds) = run(&mut s, &upd(1100, 0, 101, 102), Gate::OPEN);
    assert_eq!(cmds, vec![OrderCmd::Cancel { id }], "rest cancel again");
    let (_, cmds) = run(&mut s, &upd(1200, 0, 101, 102), Gate::OPEN);
    assert!(cmds.is_empty(), "once per refusal: {cmds:?}");
}
