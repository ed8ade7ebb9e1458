//! The paper exchange sweeps the full depth of the traded book: a taker order takes every level
//! its price and size reach, at each level's price and size with the taker fee, however deep;
//! the rest that rests is a maker only for liquidity that comes after it rested. Driven through
//! the replay engine's own book stage and paper exchange (the code path of every run).

use obi_scalp::config::Config;
use obi_scalp::exec::Ledger;
use obi_scalp::msg::{
    BookOp, BookUpdate, ExecKind, ExecReport, Liquidity, MarketMsg, MdEvent, OrderCmd, OrderSide,
    Side, Tif, TradePrint, MONEY_PER_TICK_LOT,
};
use obi_scalp::replay::Engine;

const MS: u64 = 1_000_000;
const TAKER: i64 = 550;
const MAKER: i64 = -25;

fn apply(e: &mut Engine, t: u64, op: BookOp) -> Option<MarketMsg> {
    e.books.apply(&MdEvent {
        recv_ns: t,
        book: 0,
        op,
    })
}

fn set(e: &mut Engine, t: u64, side: Side, px: i64, qty: i64) {
    assert!(apply(e, t, BookOp::Set { side, px, qty }).is_none());
}

fn commit(e: &mut Engine, t: u64) -> BookUpdate {
    match apply(
        e,
        t,
        BookOp::Commit {
            seq: 0,
            exch_ts_ms: t / MS,
        },
    ) {
        Some(MarketMsg::Book(u)) => u,
        other => panic!("a commit publishes: {other:?}"),
    }
}

fn fill(ts: u64, px: i64, qty: i64, liquidity: Liquidity, rate: i64, leaves: i64) -> ExecReport {
    ExecReport {
        id: 1,
        ts_ns: ts,
        kind: ExecKind::Fill {
            px,
            qty,
            liquidity,
            fee: px as i128 * qty as i128 * rate as i128,
            leaves,
        },
    }
}

#[test]
fn a_taker_sweeps_seven_levels_and_its_rest_is_a_maker_only_afterwards() {
    let mut cfg = Config::builtin();
    cfg.paper.order_latency_ns = 0;
    cfg.paper.cancel_latency_ns = 0;
    cfg.paper.maker_fee_cbps = MAKER;
    cfg.paper.taker_fee_cbps = TAKER;
    let mut e = Engine::new(&cfg).unwrap();
    let mut r = Vec::new();

    // A snapshot: bids at 99 and 98; eight ask levels 101..=108, 2 lots each but 9 at 108.
    let t0 = 1_000 * MS;
    assert!(apply(&mut e, t0, BookOp::Clear).is_none());
    set(&mut e, t0, Side::Bid, 99, 5);
    set(&mut e, t0, Side::Bid, 98, 5);
    for px in 101..=107 {
        set(&mut e, t0, Side::Ask, px, 2);
    }
    set(&mut e, t0, Side::Ask, 108, 9);
    let u = commit(&mut e, t0);
    e.paper.on_book(&u, &mut |x| r.push(x));
    assert!(r.is_empty());

    // A buy of 20 up to 107: takes the seven levels 101..=107 (14 lots), rests 6 at 107.
    let place = OrderCmd::Place {
        id: 1,
        side: OrderSide::Buy,
        px: 107,
        qty: 20,
        tif: Tif::Gtc,
        reduce_only: false,
    };
    e.paper.on_cmd(t0, place, &mut |x| r.push(x));
    let mut want = vec![ExecReport {
        id: 1,
        ts_ns: t0,
        kind: ExecKind::Accepted,
    }];
    for (i, px) in (101..=107).enumerate() {
        want.push(fill(t0, px, 2, Liquidity::Taker, TAKER, 18 - 2 * i as i64));
    }
    assert_eq!(r, want, "every level at its own price and size, taker fee");
    let notional: i64 = (101..=107).map(|px| px * 2).sum();
    assert_eq!(
        e.paper.balance(),
        (
            14,
            -(notional as i128) * MONEY_PER_TICK_LOT - notional as i128 * TAKER as i128
        )
    );
    let o = e.paper.open_orders();
    assert_eq!((o.len(), o[0].px, o[0].leaves), (1, 107, 6));

    // The next update still shows the asks it took (the market data does not know our fills):
    // that liquidity was taken once, as taker; it fills nothing again.
    r.clear();
    set(&mut e, t0 + MS, Side::Ask, 108, 9);
    let u = commit(&mut e, t0 + MS);
    e.paper.on_book(&u, &mut |x| r.push(x));
    assert!(r.is_empty(), "{r:?}");

    // Liquidity after it rested fills it as maker: a sell print at its price, then an ask
    // below everything it swept.
    let print = TradePrint {
        recv_ns: t0 + 2 * MS,
        exch_ts_ms: 0,
        book: 0,
        px: 107,
        qty: 3,
        aggressor: Side::Ask,
    };
    e.paper.on_trade(&print, &mut |x| r.push(x));
    set(&mut e, t0 + 3 * MS, Side::Ask, 100, 1);
    let u = commit(&mut e, t0 + 3 * MS);
    e.paper.on_book(&u, &mut |x| r.push(x));
    assert_eq!(
        r,
        [
            fill(t0 + 2 * MS, 107, 3, Liquidity::Maker, MAKER, 3),
            fill(t0 + 3 * MS, 107, 3, Liquidity::Maker, MAKER, 0),
        ]
    );

    // Every fill reconciles exactly: fills x prices + fees = the venue's cash.
    let mut ledger = Ledger::new(0);
    let mut all = want;
    all.extend(r);
    for x in &all {
        if let ExecKind::Fill { px, qty, fee, .. } = x.kind {
            ledger.on_fill(x.ts_ns, OrderSide::Buy, px, qty, fee);
        }
    }
    assert_eq!(e.paper.balance(), (ledger.position(), ledger.cash()));
    assert_eq!(ledger.position(), 20);
}
