use super::*;
use proptest::prelude::*;

fn fill(exec_id: u64, qty: i64) -> VenueEvent {
    VenueEvent::Fill {
        exec_id,
        px: 100,
        qty,
        fee: qty as Money * 7,
        liquidity: Liquidity::Maker,
    }
}

fn run(t: &mut OrderTable, id: u64, evs: &[VenueEvent]) -> Vec<ExecKind> {
    let mut got = Vec::new();
    for (i, e) in evs.iter().enumerate() {
        t.apply(id, i as u64, *e, &mut |r| got.push(r.kind));
    }
    got
}

fn table_with(id: u64, qty: i64) -> OrderTable {
    let mut t = OrderTable::new(8);
    t.place(id, OrderSide::Buy, 100, qty).unwrap();
    t
}

#[test]
fn ack_then_partial_then_full_fill_walks_the_states() {
    let mut t = table_with(1, 10);
    let mut seen = Vec::new();
    let mut step = |t: &mut OrderTable, e| {
        let s = t.apply(1, 0, e, &mut |_| {}).unwrap();
        seen.push(s);
    };
    step(&mut t, VenueEvent::Ack);
    step(&mut t, fill(1, 4));
    step(&mut t, fill(2, 6));
    assert_eq!(
        seen,
        [
            OrderState::Acked,
            OrderState::PartiallyFilled,
            OrderState::Filled
        ]
    );
    assert_eq!(t.get(1).unwrap().fees, 70);
}

#[test]
fn a_fill_before_the_ack_reports_accepted_first_and_the_late_ack_is_ignored() {
    let mut t = table_with(1, 10);
    let got = run(&mut t, 1, &[fill(9, 3), VenueEvent::Ack]);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], ExecKind::Accepted);
    assert!(matches!(
        got[1],
        ExecKind::Fill {
            qty: 3,
            leaves: 7,
            ..
        }
    ));
    assert_eq!(t.counters().late_events, 1);
    assert_eq!(t.get(1).unwrap().state, OrderState::PartiallyFilled);
}

#[test]
fn a_duplicate_fill_is_applied_once() {
    let mut t = table_with(1, 10);
    let got = run(&mut t, 1, &[VenueEvent::Ack, fill(5, 4), fill(5, 4)]);
    assert_eq!(got.len(), 2);
    assert_eq!(t.get(1).unwrap().filled, 4);
    assert_eq!(t.counters().duplicate_fills, 1);
}

#[test]
fn a_cancel_ack_after_the_order_filled_is_ignored() {
    let mut t = table_with(1, 10);
    t.apply(1, 0, VenueEvent::Ack, &mut |_| {});
    assert!(t.cancel_sent(1));
    let got = run(
        &mut t,
        1,
        &[fill(1, 10), VenueEvent::Cancelled { cum_qty: 10 }],
    );
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0], ExecKind::Fill { leaves: 0, .. }));
    assert_eq!(t.get(1).unwrap().state, OrderState::Filled);
    assert!(!t.cancel_sent(1), "nothing to cancel once filled");
}

#[test]
fn a_cancel_that_overtook_its_fills_waits_for_them() {
    let mut t = table_with(1, 10);
    t.apply(1, 0, VenueEvent::Ack, &mut |_| {});
    t.cancel_sent(1);
    // The venue says 6 executed before the cancel; the fills arrive after the cancel.
    let got = run(
        &mut t,
        1,
        &[VenueEvent::Cancelled { cum_qty: 6 }, fill(1, 2), fill(2, 4)],
    );
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(matches!(
        got[0],
        ExecKind::Fill {
            qty: 2,
            leaves: 8,
            ..
        }
    ));
    assert!(matches!(
        got[1],
        ExecKind::Fill {
            qty: 4,
            leaves: 4,
            ..
        }
    ));
    assert_eq!(got[2], ExecKind::Cancelled { leaves: 4 });
    assert_eq!(t.get(1).unwrap().state, OrderState::Cancelled);
}

#[test]
fn a_refused_cancel_returns_the_order_to_its_state() {
    let mut t = table_with(1, 10);
    run(&mut t, 1, &[VenueEvent::Ack, fill(1, 3)]);
    t.cancel_sent(1);
    assert_eq!(t.get(1).unwrap().state, OrderState::PendingCancel);
    let got = run(
        &mut t,
        1,
        &[VenueEvent::CancelRejected {
            reason: RejectReason::Venue,
        }],
    );
    assert_eq!(
        got,
        [ExecKind::CancelRejected {
            reason: RejectReason::Venue
        }]
    );
    assert_eq!(t.get(1).unwrap().state, OrderState::PartiallyFilled);
}

#[test]
fn reject_is_terminal_and_later_events_change_nothing() {
    let mut t = table_with(1, 10);
    let got = run(
        &mut t,
        1,
        &[
            VenueEvent::Rejected {
                reason: RejectReason::Venue,
            },
            VenueEvent::Ack,
            fill(1, 1),
            VenueEvent::Cancelled { cum_qty: 0 },
        ],
    );
    assert_eq!(
        got,
        [ExecKind::Rejected {
            reason: RejectReason::Venue
        }]
    );
    assert_eq!(t.get(1).unwrap().state, OrderState::Rejected);
    assert_eq!(t.counters().inconsistent, 1);
}

#[test]
fn expiry_reports_a_cancel_with_the_rest() {
    let mut t = table_with(1, 10);
    let got = run(
        &mut t,
        1,
        &[
            VenueEvent::Ack,
            fill(1, 4),
            VenueEvent::Expired { cum_qty: 4 },
        ],
    );
    assert_eq!(got[2], ExecKind::Cancelled { leaves: 6 });
    assert_eq!(t.get(1).unwrap().state, OrderState::Expired);
}

#[test]
fn an_overfill_is_cut_at_the_size_and_counted() {
    let mut t = table_with(1, 5);
    let got = run(&mut t, 1, &[VenueEvent::Ack, fill(1, 8)]);
    assert!(matches!(
        got[1],
        ExecKind::Fill {
            qty: 5,
            leaves: 0,
            ..
        }
    ));
    assert_eq!(t.counters().inconsistent, 1);
}

#[test]
fn finished_slots_are_reused_oldest_first_and_working_ones_never() {
    let mut t = OrderTable::new(2);
    t.place(1, OrderSide::Buy, 1, 1).unwrap();
    t.place(2, OrderSide::Buy, 1, 1).unwrap();
    assert_eq!(t.place(3, OrderSide::Buy, 1, 1), Err(PlaceError::Full));
    assert_eq!(t.place(2, OrderSide::Buy, 1, 1), Err(PlaceError::Duplicate));
    t.apply(2, 0, fill(1, 1), &mut |_| {});
    t.apply(1, 0, fill(2, 1), &mut |_| {});
    t.place(3, OrderSide::Buy, 1, 1).unwrap();
    // Both finished: the one placed first gives its slot.
    assert!(t.get(1).is_none() && t.get(2).is_some());
    assert_eq!(t.apply(77, 0, VenueEvent::Ack, &mut |_| {}), None);
    assert_eq!(t.counters().unknown_orders, 1);
}

#[test]
fn client_ids_round_trip_and_refuse_foreign_ids() {
    let ids = ClientIds::new("obi", 1_790_000_000_123);
    let c = ids.of(42);
    assert!(c.len() <= 36);
    assert!(c.starts_with("obi-"));
    assert_eq!(ids.id_of(&c), Some(42));
    assert_eq!(ids.id_of(&ids.of(u64::MAX / 100)), Some(u64::MAX / 100));
    // The longest prefix still fits Bybit's 36 characters.
    let long = ClientIds::new("abcdef", 1_790_000_000_123);
    assert_eq!(long.id_of(&long.of(u64::MAX / 100)), Some(u64::MAX / 100));
    assert_eq!(ClientIds::new("obi", 1).id_of(&c), None);
    assert_eq!(ids.id_of(ids.start_prefix()), None);
    assert_eq!(ids.id_of(&format!("{}1x", ids.start_prefix())), None);
    assert_ne!(
        ClientIds::new("obi", 1_790_000_000_123).of(1),
        ClientIds::new("obi", 1_790_000_000_124).of(1)
    );
}

/// One true venue history of an order of size `qty`: fills (distinct exec ids) and an ending.
fn history() -> impl Strategy<Value = (i64, Vec<i64>, u8)> {
    (1i64..20).prop_flat_map(|qty| {
        (
            Just(qty),
            prop::collection::vec(1i64..6, 0..6),
            0u8..3, // 0: nothing more, 1: cancelled, 2: expired
        )
    })
}

proptest! {
    /// Any delivery order of the venue's events, with any duplicates, gives the trader: at most
    /// one Accepted, before any fill, fills summing to the true executed size with consistent
    /// leaves, at most one ending and nothing after it, and the cancel's rest equal to the
    /// true rest.
    #[test]
    fn any_delivery_order_and_duplication_reports_the_true_history(
        (qty, fills, ending) in history(),
        order in prop::collection::vec(any::<u32>(), 0..20),
        dups in prop::collection::vec(any::<u16>(), 0..6),
    ) {
        // The true history, cut so the fills never exceed the size.
        let mut truth = vec![VenueEvent::Ack];
        let mut cum = 0;
        for (i, f) in fills.iter().enumerate() {
            let f = (*f).min(qty - cum);
            if f == 0 { break; }
            cum += f;
            truth.push(fill(i as u64 + 1, f));
        }
        let ended = cum < qty && ending != 0;
        if ended {
            truth.push(if ending == 1 {
                VenueEvent::Cancelled { cum_qty: cum }
            } else {
                VenueEvent::Expired { cum_qty: cum }
            });
        }
        let mut delivered = truth.clone();
        for d in &dups {
            let e = truth[*d as usize % truth.len()];
            delivered.push(e);
        }
        // Shuffle by the random keys.
        let n = delivered.len();
        for (k, r) in order.iter().enumerate() {
            let (a, b) = (k % n, *r as usize % n);
            delivered.swap(a, b);
        }
        let mut t = table_with(1, qty);
        let got = run(&mut t, 1, &delivered);
        // Accepted at most once, first; always when something filled (a cancel that overtook
        // the ack needs none).
        prop_assert!(got.iter().filter(|k| **k == ExecKind::Accepted).count() <= 1);
        if cum > 0 || !ended {
            prop_assert_eq!(got[0], ExecKind::Accepted);
        }
        let mut sum = 0;
        let mut ends = 0;
        for (i, k) in got.iter().enumerate() {
            prop_assert_eq!(ends, 0, "a report after the ending: {:?}", got);
            match *k {
                ExecKind::Fill { qty: q, leaves, .. } => {
                    sum += q;
                    prop_assert_eq!(leaves, qty - sum);
                    if leaves == 0 { ends += 1; }
                }
                ExecKind::Cancelled { leaves } => {
                    prop_assert_eq!(leaves, qty - cum);
                    ends += 1;
                }
                ExecKind::Accepted => prop_assert_eq!(i, 0),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(sum, cum);
        let o = *t.get(1).unwrap();
        prop_assert_eq!(o.filled, cum);
        let want = if cum == qty {
            OrderState::Filled
        } else if !ended {
            if cum > 0 { OrderState::PartiallyFilled } else { OrderState::Acked }
        } else if ending == 1 {
            OrderState::Cancelled
        } else {
            OrderState::Expired
        };
        prop_assert_eq!(o.state, want);
        prop_assert_eq!(ends, usize::from(o.state.is_terminal()));
    }
}

#[test]
fn a_restarted_process_recognises_its_own_client_ids() {
    // Two starts of the same config, a second apart: what they share must identify our orders.
    let first = ClientIds::new("obi", 1_790_000_000_123);
    let second = ClientIds::new("obi", 1_790_000_001_123);
    assert_eq!(
        first.prefix(),
        second.prefix(),
        "the prefix is stable across restarts"
    );
    assert!(
        second.is_ours(&first.of(5)),
        "an earlier start's order is ours"
    );
    assert_eq!(second.id_of(&first.of(5)), None, "but not this start's");
    assert_ne!(first.of(5), second.of(5), "ids stay unique across restarts");
    assert!(!second.is_ours("manual-order-1"));
    assert!(!ClientIds::new("obj", 1).is_ours(&first.of(5)));
}
