//! Tests of `domain::terms`: the journal encoding of terms, the one checked constructor.

use super::*;
use crate::domain::market::tests::{btc, d};

fn draft(order_type: OrderType) -> OrderDraft {
    OrderDraft {
        side: Side::Buy,
        order_type,
        tif: TimeInForce::Gtc,
        price: order_type.has_price().then(|| d("50000.1")),
        trigger_price: order_type.is_conditional().then(|| d("51000")),
        trigger_by: TriggerBy::Last,
        qty: Some(d("0.002")),
        reduce_only: false,
        stp: Stp::ExpireMaker,
        position_side: PositionSide::Both,
        client_order_id: Some("a-1".into()),
        close_position: false,
        take_profit: None,
        stop_loss: None,
        tpsl_trigger_by: TriggerBy::Last,
    }
}

/// Terms as records before hedge mode held them (`reduce_only: bool`).
#[derive(Serialize)]
struct TermsBeforeHedge {
    side: Side,
    order_type: OrderType,
    tif: TimeInForce,
    price: Option<Price>,
    trigger_price: Option<Price>,
    trigger_by: TriggerBy,
    qty: Qty,
    reduce_only: bool,
    stp: Stp,
}

#[test]
fn journaled_terms_read_old_records_and_round_trip_every_leg() {
    let old = TermsBeforeHedge {
        side: Side::Sell,
        order_type: OrderType::Limit,
        tif: TimeInForce::Gtc,
        price: Some(Price(7)),
        trigger_price: None,
        trigger_by: TriggerBy::Mark,
        qty: Qty(3),
        reduce_only: true,
        stp: Stp::None,
    };
    let bytes = postcard::to_stdvec(&old).unwrap();
    let t: OrderTerms = postcard::from_bytes(&bytes).unwrap();
    assert!(t.reduce_only);
    assert_eq!(t.position_side, PositionSide::Both);
    assert_eq!(
        (t.side, t.price, t.qty, t.stp),
        (Side::Sell, Some(Price(7)), Qty(3), Stp::None)
    );
    for ps in [PositionSide::Both, PositionSide::Long, PositionSide::Short] {
        for ro in [false, true] {
            let t = OrderTerms {
                position_side: ps,
                reduce_only: ro,
                ..t
            };
            let bytes = postcard::to_stdvec(&t).unwrap();
            assert_eq!(postcard::from_bytes::<OrderTerms>(&bytes).unwrap(), t);
        }
    }
}

fn kind(r: Result<OrderRequest, Reject>) -> Option<NumberFaultKind> {
    match r {
        Err(Reject::InvalidPrice(n) | Reject::InvalidQuantity(n)) => Some(n.kind),
        Err(Reject::InvalidTriggerPrice(n)) => Some(n.kind),
        _ => None,
    }
}

#[test]
fn every_rule_is_checked_once_here() {
    let spec = btc();
    let ok = OrderRequest::new(draft(OrderType::StopLimit), &spec).unwrap();
    assert_eq!(ok.terms.price, Some(Price(500_001)));
    assert_eq!(ok.terms.trigger_price, Some(Price(510_000)));
    assert_eq!(ok.terms.qty, Qty(2));
    let mut no_price = draft(OrderType::Limit);
    no_price.price = None;
    let r = OrderRequest::new(no_price, &spec);
    assert_eq!(r, Err(Reject::InvalidRequest(RequestFault::PriceRequired)));
    let mut priced = draft(OrderType::Market);
    priced.price = Some(d("1"));
    let r = OrderRequest::new(priced, &spec);
    assert_eq!(
        r,
        Err(Reject::InvalidRequest(RequestFault::PriceNotAllowed))
    );
    let mut post = draft(OrderType::StopMarket);
    post.tif = TimeInForce::PostOnly;
    let r = OrderRequest::new(post, &spec);
    assert_eq!(
        r,
        Err(Reject::InvalidRequest(RequestFault::PostOnlyConditional))
    );
    let mut off = draft(OrderType::Limit);
    off.qty = Some(d("0.0015"));
    let tick = d("0.001");
    let got = kind(OrderRequest::new(off, &spec));
    assert_eq!(got, Some(NumberFaultKind::TooPrecise { step: tick }));
    let mut trig = draft(OrderType::TakeProfitMarket);
    trig.trigger_price = Some(d("50000.15"));
    let r = OrderRequest::new(trig, &spec);
    assert!(matches!(r, Err(Reject::InvalidTriggerPrice(_))), "{r:?}");
    let mut cid = draft(OrderType::Limit);
    cid.client_order_id = Some("has space".into());
    let r = OrderRequest::new(cid, &spec);
    assert_eq!(r, Err(Reject::InvalidClientOrderId));
}

#[test]
fn quantities_name_their_limit() {
    let spec = btc();
    assert!(matches!(
        spec.qty(d("0")),
        Err(Reject::InvalidQuantity(NumberFault {
            kind: NumberFaultKind::NotPositive,
            ..
        }))
    ));
    let too_big = spec.qty(d("1000000000"));
    assert!(
        matches!(&too_big, Err(Reject::InvalidQuantity(n)) if matches!(n.kind, NumberFaultKind::AboveMax { .. })),
        "{too_big:?}"
    );
    assert!(matches!(
        spec.price(d("50000.05")),
        Err(Reject::InvalidPrice(NumberFault {
            kind: NumberFaultKind::TooPrecise { .. },
            ..
        }))
    ));
    assert!(matches!(
        spec.parse_price("5e4"),
        Err(Reject::InvalidPrice(NumberFault {
            kind: NumberFaultKind::Malformed,
            ..
        }))
    ));
}
