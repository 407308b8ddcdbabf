//! The market engine: validation against the mark, id assignment, triggers on last and mark
//! (including cascades with reduce-only orders), reduce-only upkeep, market data, impact prices.

use std::str::FromStr;

use perpx::config::Config;
use perpx::domain::{
    AccountId, BookEvent, CloseReason, MarketSpec, Order, OrderDraft, OrderId, OrderRequest,
    OrderTerms, OrderType, Price, Qty, Reject, RequestFault, Side, Stp, TimeInForce, Timestamp,
    TriggerBy,
};
use perpx::engine::market::{MarketEngine, MarketEvent, PlaceOrder};
use rust_decimal::Decimal;

const A: AccountId = AccountId(101);
const B: AccountId = AccountId(102);
const NOW: Timestamp = Timestamp(1_700_000_000_000);

thread_local! {
    static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
}

/// Ids as R1 would assign them: sequential per test (tests run on separate threads).
fn next_id() -> OrderId {
    NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        OrderId(id)
    })
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// BTC-PERP from the shipped markets.toml: tick 0.1, lot 0.001, mark 50000.
fn btc() -> MarketSpec {
    let c = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/markets.toml"
    )))
    .unwrap();
    c.markets
        .into_iter()
        .find(|m| m.symbol == "BTC-PERP")
        .unwrap()
}

/// A GTC limit at `price` (decimal string) for `qty` (decimal string).
fn limit(account: AccountId, side: Side, price: &str, qty: &str) -> PlaceOrder {
    let s = btc();
    PlaceOrder {
        order: Order {
            order_id: next_id(),
            account,
            terms: OrderTerms {
                position_side: Default::default(),
                side,
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
                price: Some(s.parse_price(price).unwrap()),
                trigger_price: None,
                trigger_by: TriggerBy::Last,
                qty: s.parse_qty(qty).unwrap(),
                reduce_only: false,
                stp: Stp::ExpireMaker,
                close_position: false,
            },
            liquidation: false,
        },
        protect: None,
        linked: Default::default(),
    }
}

/// `p` with its order changed by `f`.
fn with(mut p: PlaceOrder, f: impl FnOnce(&mut Order)) -> PlaceOrder {
    f(&mut p.order);
    p
}

fn market(account: AccountId, side: Side, qty: &str) -> PlaceOrder {
    with(limit(account, side, "50000", qty), |o| {
        o.terms.order_type = OrderType::Market;
        o.terms.price = None;
    })
}

fn stop_market(
    account: AccountId,
    side: Side,
    trigger: &str,
    qty: &str,
    by: TriggerBy,
) -> PlaceOrder {
    with(market(account, side, qty), |o| {
        o.terms.order_type = OrderType::StopMarket;
        o.terms.trigger_price = Some(btc().parse_price(trigger).unwrap());
        o.terms.trigger_by = by;
    })
}

fn trades(ev: &[MarketEvent]) -> Vec<(u64, u64, i64, i64)> {
    ev.iter()
        .filter_map(|e| match e {
            MarketEvent::Book(BookEvent::Trade(t)) => {
                Some((t.maker.order_id.0, t.taker_order.0, t.price.0, t.qty.0))
            }
            _ => None,
        })
        .collect()
}

fn closes(ev: &[MarketEvent]) -> Vec<(u64, i64, CloseReason)> {
    ev.iter()
        .filter_map(|e| match e {
            MarketEvent::Book(BookEvent::Closed {
                order_id,
                qty,
                reason,
                ..
            }) => Some((order_id.0, qty.0, *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn accepted_orders_keep_their_ids_and_rejections_change_nothing() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    assert_eq!(
        m.place(limit(A, Side::Sell, "50000", "1"), NOW, &mut ev),
        Ok(OrderId(1))
    );
    // 50000 × 1.05 = 52500: a buy above is out of band; nothing changes.
    let before = m.book().state_hash();
    assert_eq!(
        m.place(limit(B, Side::Buy, "52500.1", "1"), NOW, &mut ev),
        Err(Reject::PriceOutOfBand)
    );
    assert_eq!(
        m.place(limit(B, Side::Buy, "4000", "0.001"), NOW, &mut ev),
        Err(Reject::MinNotional)
    );
    assert_eq!(m.book().state_hash(), before);
    ev.clear();
    // Ids 2 and 3 went to the refused orders (a gap, as after a refusal at R1 or in the book).
    assert_eq!(
        m.place(market(B, Side::Buy, "0.4"), NOW, &mut ev),
        Ok(OrderId(4))
    );
    assert!(
        matches!(ev[0], MarketEvent::Accepted(a) if a.order_id == OrderId(4) && a.account == B)
    );
    assert_eq!(trades(&ev), vec![(1, 4, 500_000, 400)]);
    // A duplicate id is refused by the book.
    let dup = with(limit(B, Side::Buy, "49000", "1"), |o| {
        o.order_id = OrderId(1)
    });
    assert_eq!(m.place(dup, NOW, &mut ev), Err(Reject::DuplicateOrderId));
    assert_eq!(
        (
            m.position(A, perpx::domain::PositionSide::Both),
            m.position(B, perpx::domain::PositionSide::Both)
        ),
        (Qty(-400), Qty(400))
    );
    assert_eq!(m.open_interest(), Qty(400));
    let t = m.data().recent_trades(10);
    assert_eq!((t.len(), t[0].price, t[0].time), (1, Price(500_000), NOW));
}

/// The terms' own rules are checked once, where an order is built (`OrderRequest::new`, which
/// both API dialects call); the engine holds such terms and checks only what needs the mark.
#[test]
fn type_price_and_trigger_must_agree() {
    let spec = btc();
    let draft = |order_type: OrderType, price: Option<&str>, trigger: Option<&str>| OrderDraft {
        position_side: Default::default(),
        side: Side::Buy,
        order_type,
        tif: TimeInForce::Gtc,
        price: price.map(d),
        trigger_price: trigger.map(d),
        trigger_by: TriggerBy::Last,
        qty: Some(d("1")),
        reduce_only: false,
        stp: Stp::ExpireMaker,
        client_order_id: None,
        close_position: false,
        take_profit: None,
        stop_loss: None,
        tpsl_trigger_by: TriggerBy::Last,
    };
    for (no_fit, why) in [
        (
            draft(OrderType::Limit, None, None),
            RequestFault::PriceRequired,
        ),
        (
            draft(OrderType::Market, Some("50000"), None),
            RequestFault::PriceNotAllowed,
        ),
        (
            draft(OrderType::StopMarket, None, None),
            RequestFault::TriggerRequired,
        ),
        (
            draft(OrderType::Limit, Some("50000"), Some("1")),
            RequestFault::TriggerNotAllowed,
        ),
    ] {
        assert_eq!(
            OrderRequest::new(no_fit, &spec),
            Err(Reject::InvalidRequest(why))
        );
    }
    let ok = OrderRequest::new(draft(OrderType::StopMarket, None, Some("51000")), &spec);
    assert_eq!(ok.unwrap().terms.trigger_price, Some(Price(510_000)));
}

#[test]
fn a_stale_index_stops_new_orders_but_not_liquidations() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    m.set_mark(d("50000"), true, NOW, &mut ev);
    assert_eq!(
        m.place(limit(A, Side::Sell, "50000", "1"), NOW, &mut ev),
        Err(Reject::IndexStale)
    );
    let liq = with(limit(A, Side::Sell, "60000", "1"), |o| {
        o.liquidation = true;
        o.terms.tif = TimeInForce::Ioc;
    });
    assert!(
        m.place(liq, NOW, &mut ev).is_ok(),
        "liquidation orders are exempt from band and staleness"
    );
}

#[test]
fn a_trade_moving_the_last_price_fires_last_stops() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    m.place(limit(B, Side::Sell, "50000", "1"), NOW, &mut ev)
        .unwrap(); // 1
    m.place(limit(B, Side::Sell, "50100", "1"), NOW, &mut ev)
        .unwrap(); // 2
                   // No trade yet: a last-price stop parks (no immediate check possible).
    ev.clear();
    let id = m
        .place(
            stop_market(A, Side::Buy, "50000", "0.5", TriggerBy::Last),
            NOW,
            &mut ev,
        )
        .unwrap();
    assert!(ev.contains(&MarketEvent::Parked { order_id: id }));
    // A's order 4 lifts 0.5 at 50000 → last 50000 ≥ 50000 → stop 3 fires and takes the rest.
    ev.clear();
    m.place(market(AccountId(103), Side::Buy, "0.5"), NOW, &mut ev)
        .unwrap();
    assert!(ev.contains(&MarketEvent::Book(BookEvent::Triggered { order_id: id })));
    assert_eq!(
        trades(&ev),
        vec![(1, 4, 500_000, 500), (1, 3, 500_000, 500)]
    );
    assert_eq!(m.position(A, perpx::domain::PositionSide::Both), Qty(500));
    // Now last = 50000: a buy stop at or below it would fire at once.
    let again = stop_market(A, Side::Buy, "49999", "0.5", TriggerBy::Last);
    assert_eq!(
        m.place(again, NOW, &mut ev),
        Err(Reject::WouldTriggerImmediately)
    );
}

#[test]
fn mark_stops_fire_exactly_at_the_decimal_mark() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    m.place(limit(B, Side::Buy, "49000", "1"), NOW, &mut ev)
        .unwrap();
    let id = m
        .place(
            stop_market(A, Side::Sell, "49500", "0.1", TriggerBy::Mark),
            NOW,
            &mut ev,
        )
        .unwrap();
    // 49500.05 is above the trigger: a sell stop (fires at mark ≤ 49500) must not fire.
    ev.clear();
    m.set_mark(d("49500.05"), false, NOW, &mut ev);
    assert!(trades(&ev).is_empty());
    m.set_mark(d("49500"), false, NOW, &mut ev);
    assert!(ev.contains(&MarketEvent::Book(BookEvent::Triggered { order_id: id })));
    assert_eq!(trades(&ev), vec![(1, id.0, 490_000, 100)]);
}

#[test]
fn reduce_only_orders_follow_the_position() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    // A goes long 0.3.
    m.place(limit(B, Side::Sell, "50000", "0.3"), NOW, &mut ev)
        .unwrap(); // 1
    m.place(market(A, Side::Buy, "0.3"), NOW, &mut ev).unwrap(); // 2
    assert_eq!(m.position(A, perpx::domain::PositionSide::Both), Qty(300));
    // Two resting reduce-only sells: the first keeps 0.2, the newer is cut to 0.1.
    let ro = |price: &str, qty: &str| {
        with(limit(A, Side::Sell, price, qty), |o| {
            o.terms.reduce_only = true
        })
    };
    let o3 = m.place(ro("51000", "0.2"), NOW, &mut ev).unwrap();
    ev.clear();
    let o4 = m.place(ro("51100", "0.2"), NOW, &mut ev).unwrap();
    assert!(ev.iter().any(
        |e| matches!(e, MarketEvent::Book(BookEvent::Amended { order_id, remaining, .. })
        if *order_id == o4 && *remaining == Qty(100))
    ));
    assert_eq!(m.book().order(o4).unwrap().remaining, Qty(100));
    // A sells 0.2 at market elsewhere: position 0.1 → o3 keeps 0.1, o4 is cancelled.
    m.place(limit(B, Side::Buy, "49900", "0.2"), NOW, &mut ev)
        .unwrap();
    ev.clear();
    m.place(market(A, Side::Sell, "0.2"), NOW, &mut ev).unwrap();
    assert_eq!(m.position(A, perpx::domain::PositionSide::Both), Qty(100));
    assert_eq!(closes(&ev), vec![(o4.0, 100, CloseReason::ReduceOnly)]);
    assert_eq!(m.book().order(o3).unwrap().remaining, Qty(100));
    // Flat: every reduce-only order goes.
    m.place(limit(B, Side::Buy, "49900", "0.1"), NOW, &mut ev)
        .unwrap();
    ev.clear();
    m.place(market(A, Side::Sell, "0.1"), NOW, &mut ev).unwrap();
    assert_eq!(closes(&ev), vec![(o3.0, 100, CloseReason::ReduceOnly)]);
    assert!(m.open_order_ids(A).is_empty());
    m.book().assert_invariants();
}

#[test]
fn a_cascade_never_lets_reduce_only_stops_flip_a_position() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    m.place(limit(B, Side::Sell, "50000", "0.2"), NOW, &mut ev)
        .unwrap();
    m.place(market(A, Side::Buy, "0.2"), NOW, &mut ev).unwrap();
    m.place(limit(B, Side::Buy, "49000", "1"), NOW, &mut ev)
        .unwrap();
    // Two reduce-only stop-loss sells of the whole position on the mark.
    let sl = |t: &str| {
        with(stop_market(A, Side::Sell, t, "0.2", TriggerBy::Mark), |o| {
            o.terms.reduce_only = true
        })
    };
    let s1 = m.place(sl("49800"), NOW, &mut ev).unwrap();
    let s2 = m.place(sl("49700"), NOW, &mut ev).unwrap();
    ev.clear();
    m.set_mark(d("49600"), false, NOW, &mut ev);
    // s1 (nearest) closes the long; s2 then has nothing to reduce and closes unfilled.
    assert_eq!(trades(&ev).len(), 1);
    assert_eq!(trades(&ev)[0].1, s1.0);
    assert_eq!(closes(&ev), vec![(s2.0, 200, CloseReason::ReduceOnly)]);
    assert_eq!(m.position(A, perpx::domain::PositionSide::Both), Qty(0));
}

#[test]
fn cancel_all_and_ownership() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    let a1 = m
        .place(limit(A, Side::Buy, "49000", "1"), NOW, &mut ev)
        .unwrap();
    let b1 = m
        .place(limit(B, Side::Buy, "49000", "1"), NOW, &mut ev)
        .unwrap();
    let a2 = m
        .place(
            stop_market(A, Side::Buy, "51000", "1", TriggerBy::Mark),
            NOW,
            &mut ev,
        )
        .unwrap();
    assert_eq!(
        m.cancel(Some(A), b1, CloseReason::User, NOW, &mut ev),
        Err(Reject::OrderNotFound)
    );
    assert_eq!(
        m.cancel_all(A, CloseReason::User, NOW, &mut ev),
        vec![a1, a2]
    );
    assert_eq!(m.open_order_ids(B), vec![b1]);
    assert_eq!(m.book().open_orders(A), 0);
}

#[test]
fn an_amend_applies_its_new_total_against_the_fills_the_market_counted() {
    // A sells 0.010; B takes 0.002, then 0.003 more while an amend to a total of 0.006 is on its
    // way (the account side still believes 0.002 filled): remaining = 0.006 − 0.005 = 0.001,
    // never 0.004 (which would make the order 0.009 in total).
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    let id = m
        .place(limit(A, Side::Sell, "50000", "0.010"), NOW, &mut ev)
        .unwrap();
    m.place(limit(B, Side::Buy, "50000", "0.002"), NOW, &mut ev)
        .unwrap();
    m.place(limit(B, Side::Buy, "50000", "0.003"), NOW, &mut ev)
        .unwrap();
    assert_eq!(m.book().order(id).unwrap().filled(), Qty(5));
    ev.clear();
    m.amend(A, id, None, Some(Qty(6)), NOW, &mut ev).unwrap();
    let n = m.book().order(id).unwrap();
    assert_eq!((n.remaining, n.filled()), (Qty(1), Qty(5)));
    // A total not above what is filled is refused, and changes nothing.
    let before = m.state_hash();
    assert!(matches!(
        m.amend(A, id, None, Some(Qty(5)), NOW, &mut ev),
        Err(Reject::InvalidQuantity(_))
    ));
    assert_eq!(m.state_hash(), before);
    // Another account's order, or one that is gone, is not found.
    assert_eq!(
        m.amend(B, id, None, Some(Qty(9)), NOW, &mut ev),
        Err(Reject::OrderNotFound)
    );
}

#[test]
fn mid_and_impact_prices() {
    let mut m = MarketEngine::new(btc());
    let mut ev = Vec::new();
    m.place(limit(A, Side::Buy, "49990", "0.1"), NOW, &mut ev)
        .unwrap();
    m.place(limit(A, Side::Buy, "49980", "1"), NOW, &mut ev)
        .unwrap();
    m.place(limit(B, Side::Sell, "50010", "1"), NOW, &mut ev)
        .unwrap();
    let (mid, spread) = m.mid().unwrap();
    assert_eq!(mid, d("50000"));
    assert_eq!(spread, d("20") / d("50000"));
    // Selling 10000 USDT into the bids: 4999 at 49990 (0.1), then 5001 at 49980.
    let base = d("0.1") + d("5001") / d("49980");
    assert_eq!(
        m.impact_price(Side::Buy, d("10000")),
        Some(d("10000") / base)
    );
    assert_eq!(m.impact_price(Side::Sell, d("100000")), None, "too thin");
}
