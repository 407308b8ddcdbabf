//! Hand-checked outcomes for every matching rule of docs/RULES.md §2 on `perpx::book::Book`.

use perpx::book::{Book, BookOrder, TakeBounds, TakerOutcome, TriggerOrder, Watched};
use perpx::domain::{
    AccountId, BookEvent, CloseReason, OrderId, OrderType, Price, Qty, Reject, Side, Stp,
    TimeInForce, TriggerBy,
};

const A: AccountId = AccountId(101);
const B: AccountId = AccountId(102);
const C: AccountId = AccountId(103);
const D: AccountId = AccountId(104);

fn limit(id: u64, account: AccountId, side: Side, price: i64, qty: i64) -> BookOrder {
    BookOrder {
        position_side: Default::default(),
        id: OrderId(id),
        account,
        side,
        price: Some(Price(price)),
        qty: Qty(qty),
        tif: TimeInForce::Gtc,
        stp: Stp::ExpireMaker,
        reduce_only: false,
        position: Qty(0),
        close_position: false,
    }
}

fn market(id: u64, account: AccountId, side: Side, qty: i64) -> BookOrder {
    BookOrder {
        price: None,
        ..limit(id, account, side, 0, qty)
    }
}

fn with_tif(o: BookOrder, tif: TimeInForce) -> BookOrder {
    BookOrder { tif, ..o }
}

/// (maker id, taker id, price, qty) of every trade in `ev`.
fn trades(ev: &[BookEvent]) -> Vec<(u64, u64, i64, i64)> {
    ev.iter()
        .filter_map(|e| match e {
            BookEvent::Trade(t) => Some((t.maker.order_id.0, t.taker_order.0, t.price.0, t.qty.0)),
            _ => None,
        })
        .collect()
}

fn closed(ev: &[BookEvent]) -> Vec<(u64, i64, CloseReason)> {
    ev.iter()
        .filter_map(|e| match e {
            BookEvent::Closed {
                order_id,
                qty,
                reason,
                ..
            } => Some((order_id.0, qty.0, *reason)),
            _ => None,
        })
        .collect()
}

struct T {
    book: Book,
    ev: Vec<BookEvent>,
}

impl T {
    fn new() -> T {
        T {
            book: Book::new(200),
            ev: Vec::new(),
        }
    }

    fn submit(&mut self, o: BookOrder) -> Result<TakerOutcome, Reject> {
        self.submit_bounded(o, TakeBounds::UNBOUNDED)
    }

    fn submit_bounded(&mut self, o: BookOrder, b: TakeBounds) -> Result<TakerOutcome, Reject> {
        self.ev.clear();
        let r = self.book.submit(o, &b, &mut self.ev);
        self.book.assert_invariants();
        r
    }

    fn rest(&mut self, orders: &[BookOrder]) {
        for &o in orders {
            let r = self.submit(o).unwrap();
            assert_eq!(r.rested, o.qty, "setup order {:?} must rest", o.id);
        }
    }

    /// A rejected command: nothing emitted, state unchanged.
    fn rejected(&mut self, o: BookOrder, want: Reject) {
        let before = self.book.state_hash();
        assert_eq!(self.submit(o), Err(want));
        assert!(self.ev.is_empty(), "a rejection emits nothing");
        assert_eq!(
            self.book.state_hash(),
            before,
            "a rejection changes nothing"
        );
    }
}

#[test]
fn price_time_priority_and_maker_price() {
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Sell, 101, 5),
        limit(2, B, Side::Sell, 100, 3),
        limit(3, C, Side::Sell, 100, 4),
    ]);
    let r = t.submit(limit(4, D, Side::Buy, 105, 10)).unwrap();
    // Best price first (100 before 101), FIFO within 100 (2 before 3), at the maker's price.
    assert_eq!(
        trades(&t.ev),
        vec![(2, 4, 100, 3), (3, 4, 100, 4), (1, 4, 101, 3)]
    );
    assert_eq!(
        r,
        TakerOutcome {
            filled: Qty(10),
            ..Default::default()
        }
    );
    assert_eq!(
        t.book.level_orders(Side::Sell, Price(101)),
        vec![(OrderId(1), Qty(2))]
    );
    assert_eq!(t.book.last_price(), Some(Price(101)));
}

#[test]
fn gtc_remainder_rests_and_sequence_counts_level_changes() {
    let mut t = T::new();
    t.rest(&[limit(1, A, Side::Sell, 100, 2)]);
    assert_eq!(t.book.sequence(), 1);
    let r = t.submit(limit(2, B, Side::Buy, 100, 5)).unwrap();
    assert_eq!((r.filled, r.rested), (Qty(2), Qty(3)));
    // Two level changes: the ask level at 100 vanished, a bid level at 100 appeared.
    assert_eq!(t.book.sequence(), 3);
    let levels: Vec<_> =
        t.ev.iter()
            .filter_map(|e| match e {
                BookEvent::Level {
                    side,
                    price,
                    qty,
                    sequence,
                } => Some((*side, price.0, qty.0, *sequence)),
                _ => None,
            })
            .collect();
    assert_eq!(
        levels,
        vec![(Side::Sell, 100, 0, 2), (Side::Buy, 100, 3, 3)]
    );
    let d = t.book.depth(10);
    assert_eq!(
        (d.bids, d.asks, d.sequence),
        (vec![(Price(100), Qty(3))], vec![], 3)
    );
}

#[test]
fn ioc_remainder_expires() {
    let mut t = T::new();
    t.rest(&[limit(1, A, Side::Sell, 100, 2)]);
    let r = t
        .submit(with_tif(limit(2, B, Side::Buy, 100, 5), TimeInForce::Ioc))
        .unwrap();
    assert_eq!(
        (r.filled, r.closed, r.reason),
        (Qty(2), Qty(3), Some(CloseReason::IocRemainder))
    );
    assert!(t.book.is_empty());
}

#[test]
fn fok_fills_completely_or_not_at_all() {
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Sell, 100, 2),
        limit(2, A, Side::Sell, 101, 2),
    ]);
    let before = t.book.state_hash();
    let r = t
        .submit(with_tif(limit(3, B, Side::Buy, 100, 3), TimeInForce::Fok))
        .unwrap();
    assert_eq!(
        (r.filled, r.closed, r.reason),
        (Qty(0), Qty(3), Some(CloseReason::FokUnfillable))
    );
    assert!(trades(&t.ev).is_empty());
    assert_eq!(
        t.book.state_hash(),
        before,
        "an unfillable FOK touches nothing"
    );
    let r = t
        .submit(with_tif(limit(4, B, Side::Buy, 101, 4), TimeInForce::Fok))
        .unwrap();
    assert_eq!(r.filled, Qty(4));
    assert!(t.book.is_empty());
}

#[test]
fn post_only_rests_or_is_rejected_unchanged() {
    let mut t = T::new();
    t.rest(&[limit(1, A, Side::Sell, 100, 2)]);
    t.rejected(
        with_tif(limit(2, B, Side::Buy, 100, 1), TimeInForce::PostOnly),
        Reject::PostOnlyWouldTake,
    );
    let r = t
        .submit(with_tif(
            limit(3, B, Side::Buy, 99, 1),
            TimeInForce::PostOnly,
        ))
        .unwrap();
    assert_eq!(r.rested, Qty(1));
}

#[test]
fn market_orders_fill_within_bounds_and_never_rest() {
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Sell, 100, 2),
        limit(2, A, Side::Sell, 106, 2),
    ]);
    let bounds = TakeBounds {
        buy_max: Price(105),
        sell_min: Price(95),
    };
    let r = t
        .submit_bounded(market(3, B, Side::Buy, 5), bounds)
        .unwrap();
    assert_eq!(trades(&t.ev), vec![(1, 3, 100, 2)]);
    assert_eq!(
        (r.filled, r.closed, r.reason),
        (Qty(2), Qty(3), Some(CloseReason::MarketRemainder))
    );
    assert_eq!(t.book.len(), 1, "the market remainder did not rest");
    // Against an empty side: expired with nothing filled.
    let r = t
        .submit_bounded(market(4, B, Side::Sell, 1), bounds)
        .unwrap();
    assert_eq!(
        (r.filled, r.closed, r.reason),
        (Qty(0), Qty(1), Some(CloseReason::MarketRemainder))
    );
}

#[test]
fn stp_expire_maker_removes_own_orders_and_continues() {
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Sell, 100, 2),
        limit(2, B, Side::Sell, 100, 2),
        limit(3, A, Side::Sell, 101, 2),
    ]);
    let r = t.submit(limit(4, A, Side::Buy, 101, 3)).unwrap();
    assert_eq!(trades(&t.ev), vec![(2, 4, 100, 2)]);
    assert_eq!(
        closed(&t.ev),
        vec![
            (1, 2, CloseReason::SelfTrade),
            (3, 2, CloseReason::SelfTrade)
        ]
    );
    assert_eq!((r.filled, r.rested), (Qty(2), Qty(1)));
    assert_eq!(t.book.best_bid(), Some(Price(101)));
    assert_eq!(t.book.best_ask(), None);
}

#[test]
fn stp_expire_taker_keeps_the_maker() {
    let mut t = T::new();
    t.rest(&[
        limit(1, B, Side::Sell, 100, 1),
        limit(2, A, Side::Sell, 100, 2),
    ]);
    let o = BookOrder {
        stp: Stp::ExpireTaker,
        ..limit(3, A, Side::Buy, 100, 5)
    };
    let r = t.submit(o).unwrap();
    assert_eq!(trades(&t.ev), vec![(1, 3, 100, 1)]);
    assert_eq!(
        (r.filled, r.closed, r.reason),
        (Qty(1), Qty(4), Some(CloseReason::SelfTrade))
    );
    assert_eq!(
        t.book.level_orders(Side::Sell, Price(100)),
        vec![(OrderId(2), Qty(2))]
    );
}

#[test]
fn stp_expire_both_and_none() {
    let mut t = T::new();
    t.rest(&[limit(1, A, Side::Sell, 100, 2)]);
    let r = t
        .submit(BookOrder {
            stp: Stp::ExpireBoth,
            ..limit(2, A, Side::Buy, 100, 5)
        })
        .unwrap();
    assert_eq!(
        closed(&t.ev),
        vec![
            (1, 2, CloseReason::SelfTrade),
            (2, 5, CloseReason::SelfTrade)
        ]
    );
    assert_eq!(r.filled, Qty(0));
    assert!(t.book.is_empty());
    t.rest(&[limit(3, A, Side::Sell, 100, 2)]);
    t.submit(BookOrder {
        stp: Stp::None,
        ..limit(4, A, Side::Buy, 100, 2)
    })
    .unwrap();
    assert_eq!(
        trades(&t.ev),
        vec![(3, 4, 100, 2)],
        "stp none allows the self trade"
    );
}

#[test]
fn reduce_only_is_capped_or_rejected() {
    let mut t = T::new();
    t.rest(&[limit(1, B, Side::Buy, 100, 10)]);
    let ro = |id, side, qty, pos| BookOrder {
        reduce_only: true,
        position: Qty(pos),
        tif: TimeInForce::Ioc,
        ..limit(id, A, side, 100, qty)
    };
    t.rejected(ro(2, Side::Sell, 5, 0), Reject::ReduceOnlyRejected); // flat
    t.rejected(ro(3, Side::Sell, 5, -3), Reject::ReduceOnlyRejected); // would grow a short
    let r = t.submit(ro(4, Side::Sell, 5, 3)).unwrap(); // long 3: capped to 3
    assert_eq!(trades(&t.ev), vec![(1, 4, 100, 3)]);
    assert_eq!(
        (r.filled, r.closed, r.reason),
        (Qty(3), Qty(2), Some(CloseReason::ReduceOnly))
    );
}

#[test]
fn cancel_by_id_checks_the_owner() {
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Buy, 100, 2),
        limit(2, A, Side::Buy, 100, 3),
    ]);
    let mut ev = Vec::new();
    assert_eq!(
        t.book
            .cancel(OrderId(1), Some(B), CloseReason::User, &mut ev),
        Err(Reject::OrderNotFound)
    );
    assert!(ev.is_empty());
    assert_eq!(
        t.book
            .cancel(OrderId(1), Some(A), CloseReason::User, &mut ev),
        Ok(Qty(2))
    );
    assert_eq!(closed(&ev), vec![(1, 2, CloseReason::User)]);
    assert_eq!(
        t.book
            .cancel(OrderId(1), Some(A), CloseReason::User, &mut ev),
        Err(Reject::OrderNotFound)
    );
    assert_eq!(
        t.book
            .cancel(OrderId(2), None, CloseReason::Liquidation, &mut ev),
        Ok(Qty(3))
    );
    assert!(t.book.is_empty());
    assert_eq!(t.book.open_orders(A), 0);
    t.book.assert_invariants();
}

#[test]
fn amend_down_keeps_priority_anything_else_requeues() {
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Buy, 100, 5),
        limit(2, B, Side::Buy, 100, 5),
    ]);
    let mut ev = Vec::new();
    t.book
        .amend(OrderId(1), A, None, Some(Qty(3)), Qty(0), &mut ev)
        .unwrap();
    assert_eq!(
        t.book.level_orders(Side::Buy, Price(100)),
        vec![(OrderId(1), Qty(3)), (OrderId(2), Qty(5))]
    );
    t.book
        .amend(OrderId(1), A, None, Some(Qty(4)), Qty(0), &mut ev)
        .unwrap();
    assert_eq!(
        t.book.level_orders(Side::Buy, Price(100)),
        vec![(OrderId(2), Qty(5)), (OrderId(1), Qty(4))],
        "raising the quantity loses priority"
    );
    // A price change that crosses matches at once, at the maker's price.
    t.rest(&[limit(3, C, Side::Sell, 102, 2)]);
    ev.clear();
    let r = t
        .book
        .amend(OrderId(2), B, Some(Price(103)), None, Qty(0), &mut ev)
        .unwrap();
    assert_eq!(trades(&ev), vec![(3, 2, 102, 2)]);
    assert_eq!((r.filled, r.rested), (Qty(2), Qty(3)));
    t.book.assert_invariants();
    assert_eq!(
        t.book
            .amend(OrderId(2), A, None, Some(Qty(1)), Qty(0), &mut ev),
        Err(Reject::OrderNotFound)
    );
}

#[test]
fn an_amend_that_crosses_after_the_open_order_cap_was_lowered_does_not_panic() {
    // Three resting orders of A, then the operator lowers max_open_orders to 1 (a restart with
    // a new config): re-entering an amended order keeps its slot, it is not a new order.
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Buy, 99, 2),
        limit(2, A, Side::Buy, 98, 2),
        limit(3, A, Side::Buy, 97, 2),
        limit(4, B, Side::Sell, 101, 1),
    ]);
    t.book.set_max_open_orders(1);
    let mut ev = Vec::new();
    let r = t
        .book
        .amend(OrderId(1), A, Some(Price(101)), None, Qty(0), &mut ev)
        .unwrap();
    assert_eq!(trades(&ev), vec![(4, 1, 101, 1)]);
    assert_eq!((r.filled, r.rested), (Qty(1), Qty(1)));
    assert_eq!(t.book.order(OrderId(1)).unwrap().filled(), Qty(1));
    t.book.assert_invariants();
    // New orders are held to the lowered cap.
    assert_eq!(
        t.book.submit(
            limit(5, A, Side::Buy, 90, 1),
            &TakeBounds::UNBOUNDED,
            &mut ev
        ),
        Err(Reject::TooManyOpenOrders)
    );
}

#[test]
fn post_only_amend_that_would_take_leaves_the_order() {
    let mut t = T::new();
    t.rest(&[
        limit(1, A, Side::Sell, 101, 1),
        with_tif(limit(2, B, Side::Buy, 99, 4), TimeInForce::PostOnly),
    ]);
    let before = t.book.state_hash();
    let mut ev = Vec::new();
    let r = t
        .book
        .amend(OrderId(2), B, Some(Price(101)), None, Qty(0), &mut ev);
    assert_eq!(r, Err(Reject::PostOnlyWouldTake));
    assert!(ev.is_empty());
    assert_eq!(t.book.state_hash(), before);
}

#[test]
fn open_order_cap_applies_to_resting_orders_only() {
    let mut t = T {
        book: Book::new(2),
        ev: Vec::new(),
    };
    t.rest(&[limit(1, A, Side::Buy, 90, 1), limit(2, A, Side::Buy, 91, 1)]);
    t.rejected(limit(3, A, Side::Buy, 92, 1), Reject::TooManyOpenOrders);
    // An IOC cannot rest, so the cap does not apply to it.
    let r = t
        .submit(with_tif(limit(4, A, Side::Buy, 92, 1), TimeInForce::Ioc))
        .unwrap();
    assert_eq!(r.reason, Some(CloseReason::IocRemainder));
    t.rest(&[limit(5, B, Side::Buy, 92, 1)]);
}

fn stop(
    id: u64,
    account: AccountId,
    side: Side,
    kind: OrderType,
    trigger: i64,
    qty: i64,
) -> TriggerOrder {
    TriggerOrder::new(
        market(id, account, side, qty),
        kind,
        Price(trigger),
        TriggerBy::Last,
    )
}

#[test]
fn trigger_directions() {
    let buy_stop = stop(1, A, Side::Buy, OrderType::StopMarket, 105, 1);
    let sell_stop = stop(2, A, Side::Sell, OrderType::StopMarket, 95, 1);
    let buy_tp = stop(3, A, Side::Buy, OrderType::TakeProfitMarket, 95, 1);
    let sell_tp = stop(4, A, Side::Sell, OrderType::TakeProfitMarket, 105, 1);
    assert!(buy_stop.fires_at(Price(105)) && !buy_stop.fires_at(Price(104)));
    assert!(sell_stop.fires_at(Price(95)) && !sell_stop.fires_at(Price(96)));
    assert!(buy_tp.fires_at(Price(95)) && !buy_tp.fires_at(Price(96)));
    assert!(sell_tp.fires_at(Price(105)) && !sell_tp.fires_at(Price(104)));
    let mut book = Book::new(200);
    assert_eq!(
        book.place_trigger(buy_stop, Some(Watched::at(Price(106)))),
        Err(Reject::WouldTriggerImmediately)
    );
    assert_eq!(
        book.place_trigger(buy_stop, Some(Watched::at(Price(100)))),
        Ok(())
    );
    assert_eq!(book.open_orders(A), 1);
    book.assert_invariants();
}

#[test]
fn simultaneous_triggers_fire_nearest_first_then_by_id_and_cascade() {
    let mut t = T::new();
    // Asks to be lifted by the stops; B's bid for the sell stop at the end.
    t.rest(&[
        limit(1, B, Side::Sell, 103, 1),
        limit(2, B, Side::Sell, 104, 1),
        limit(3, B, Side::Sell, 106, 1),
        limit(4, B, Side::Buy, 90, 1),
    ]);
    for tr in [
        stop(12, A, Side::Buy, OrderType::StopMarket, 103, 1),
        stop(11, A, Side::Buy, OrderType::StopMarket, 103, 1),
        stop(10, C, Side::Buy, OrderType::StopMarket, 102, 1),
        // Fires only when the cascade lifts the last price to 106.
        stop(13, C, Side::Buy, OrderType::StopMarket, 105, 1),
        // Not a buy-side trigger: must not fire on the way up.
        stop(14, A, Side::Sell, OrderType::StopMarket, 95, 1),
    ] {
        t.book
            .place_trigger(tr, Some(Watched::at(Price(100))))
            .unwrap();
    }
    let mut ev = Vec::new();
    let done = t.book.run_triggers(
        TriggerBy::Last,
        Watched::at(Price(103)),
        &TakeBounds::UNBOUNDED,
        &mut |_, _| Qty(0),
        &mut ev,
    );
    let order: Vec<u64> = done.iter().map(|(tr, _)| tr.order.id.0).collect();
    // 102 is nearest to where the price came from, then 103 by id (11 before 12). Order 12
    // lifts the ask at 106, which moves the last price past 105 and fires 13 in the cascade;
    // 13 finds no ask left and expires.
    assert_eq!(order, vec![10, 11, 12, 13]);
    assert_eq!(
        trades(&ev),
        vec![(1, 10, 103, 1), (2, 11, 104, 1), (3, 12, 106, 1)]
    );
    let last = done.last().unwrap().1;
    assert_eq!(
        (last.filled, last.reason),
        (Qty(0), Some(CloseReason::MarketRemainder))
    );
    assert_eq!(t.book.triggers().len(), 1);
    assert_eq!(t.book.open_orders(A), 1, "only the sell stop is still open");
    t.book.assert_invariants();
}

#[test]
fn fired_reduce_only_without_position_closes() {
    let mut book = Book::new(200);
    let o = BookOrder {
        reduce_only: true,
        ..market(1, A, Side::Sell, 2)
    };
    let tr = TriggerOrder::new(o, OrderType::StopMarket, Price(95), TriggerBy::Mark);
    book.place_trigger(tr, Some(Watched::at(Price(100))))
        .unwrap();
    let mut ev = Vec::new();
    // A last-price move does not fire a mark trigger.
    assert!(book
        .run_triggers(
            TriggerBy::Last,
            Watched::at(Price(90)),
            &TakeBounds::UNBOUNDED,
            &mut |_, _| Qty(0),
            &mut ev
        )
        .is_empty());
    let done = book.run_triggers(
        TriggerBy::Mark,
        Watched::between(Price(94), Price(95)),
        &TakeBounds::UNBOUNDED,
        &mut |_, _| Qty(0),
        &mut ev,
    );
    assert_eq!(done.len(), 1);
    assert_eq!(closed(&ev), vec![(1, 2, CloseReason::ReduceOnly)]);
    assert!(book.triggers().is_empty());
    assert_eq!(book.open_orders(A), 0);
}

#[test]
fn cancel_removes_untriggered_orders() {
    let mut book = Book::new(200);
    book.place_trigger(stop(1, A, Side::Buy, OrderType::StopMarket, 105, 3), None)
        .unwrap();
    let mut ev = Vec::new();
    assert_eq!(
        book.cancel(OrderId(1), Some(B), CloseReason::User, &mut ev),
        Err(Reject::OrderNotFound)
    );
    assert_eq!(
        book.cancel(OrderId(1), Some(A), CloseReason::User, &mut ev),
        Ok(Qty(3))
    );
    assert!(book.triggers().is_empty());
    book.assert_invariants();
}
