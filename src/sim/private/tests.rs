use super::*;
use crate::instrument::{InstrumentTable, Market, Venue};

fn engine() -> Engine {
    let inst = *InstrumentTable::default()
        .get(Venue::Bybit, Market::Linear, "BTCUSDT")
        .unwrap();
    // maker 2 bp, taker 5.5 bp
    let mut e = Engine::new(inst, 200, 550, 0);
    e.on_book(
        &side(&[("100.0", "0.005"), ("99.9", "1")]),
        &side(&[("100.1", "0.002"), ("100.2", "0.003")]),
        1,
    );
    e
}

fn side(levels: &[(&str, &str)]) -> BookSide {
    levels
        .iter()
        .map(|(p, q)| (p.to_string(), q.to_string()))
        .collect()
}

#[test]
fn a_crossing_order_takes_levels_at_their_prices_and_rests_the_rest() {
    let mut e = engine();
    let i = e
        .place("a", OrderSide::Buy, 1002, 7, Tif::Gtc, false, 2)
        .unwrap();
    let f = e.fills();
    assert_eq!(f.len(), 2);
    assert_eq!((f[0].px, f[0].qty, f[0].maker), (1001, 2, false));
    assert_eq!((f[1].px, f[1].qty), (1002, 3));
    let o = &e.orders()[i];
    assert_eq!((o.cum, o.status), (5, Status::PartiallyFilled));
    assert_eq!(e.position(), 5);
    // taker fee: px*qty*550 per fill
    assert_eq!(e.fees(), 1001 * 2 * 550 + 1002 * 3 * 550);
    assert_eq!(
        e.cash(),
        -((1001 * 2 + 1002 * 3) as i128 * MONEY_PER_TICK_LOT) - e.fees()
    );
}

#[test]
fn a_resting_order_fills_only_through_its_price_and_partially() {
    let mut e = engine();
    let i = e
        .place("b", OrderSide::Sell, 1003, 4, Tif::PostOnly, false, 2)
        .unwrap();
    assert!(e.fills().is_empty());
    // Bids at the order's price: a touch, no fill.
    e.on_book(&side(&[("100.3", "9")]), &side(&[("100.4", "1")]), 3);
    assert!(e.fills().is_empty());
    // 0.003 bid strictly through: fills 3 of 4 as maker at 100.3.
    e.on_book(
        &side(&[("100.5", "0.001"), ("100.4", "0.002"), ("100.3", "9")]),
        &side(&[("100.6", "1")]),
        4,
    );
    assert_eq!(e.fills().len(), 1);
    assert_eq!(
        (e.fills()[0].px, e.fills()[0].qty, e.fills()[0].maker),
        (1003, 3, true)
    );
    assert_eq!(e.orders()[i].status, Status::PartiallyFilled);
    assert_eq!(e.fees(), 1003 * 3 * 200);
    assert!(e.cancel(i, 5));
    assert!(!e.cancel(i, 6), "a second cancel finds nothing open");
    assert_eq!(e.orders()[i].leaves(), 0);
}

#[test]
fn refusals_post_only_duplicate_reduce_only_and_fault() {
    let mut e = engine();
    assert_eq!(
        e.place("c", OrderSide::Buy, 1001, 1, Tif::PostOnly, false, 2),
        Err(Refusal::PostOnlyWouldCross)
    );
    e.place("d", OrderSide::Buy, 999, 1, Tif::Gtc, false, 2)
        .unwrap();
    assert_eq!(
        e.place("d", OrderSide::Buy, 999, 1, Tif::Gtc, false, 2),
        Err(Refusal::DuplicateLinkId)
    );
    assert_eq!(e.duplicate_places, 1);
    assert_eq!(
        e.place("e", OrderSide::Sell, 1005, 1, Tif::Gtc, true, 2),
        Err(Refusal::ReduceOnly)
    );
    e.reject_next(1);
    assert_eq!(
        e.place("f", OrderSide::Buy, 990, 1, Tif::Gtc, false, 2),
        Err(Refusal::Fault)
    );
    e.place("g", OrderSide::Buy, 990, 1, Tif::Gtc, false, 2)
        .unwrap();
    assert_eq!(e.place_requests, 6);
}

#[test]
fn money_prints_as_exact_quote_decimals() {
    let e = engine();
    // One tick (0.10: 2 places) on one lot (0.001) = 0.0001 USDT = MONEY_PER_TICK_LOT, at
    // 2 + 3 + 6 places.
    assert_eq!(e.money_str(MONEY_PER_TICK_LOT), "0.00010000000");
    assert_eq!(e.money_str(-1), "-0.00000000010");
}
