//! Take-profit / stop-loss under races (docs/RULES.md §2a), in rounds bounded in count:
//! 1. an account with a long sets a TP/SL pair, places a close-position stop and closes the
//!    position by hand, all at once: whatever lands, the position never flips (close-position
//!    orders only ever close), and once it is flat no close-position order it had is left
//!    filled beyond it;
//! 2. a stop-loss fires (trades at its trigger) while its owner trails it and closes by hand:
//!    the position ends flat, never short, and at most one of the pair filled.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::{code, d, race, Acct, Venue, ROUNDS, SYMBOL};

fn tpsl(v: &Venue, a: &Acct, body: Value) -> (u16, Value) {
    let path = format!("/api/v1/markets/{SYMBOL}/tpsl");
    v.req(a, "POST", &path, &body.to_string())
}

/// The account's close-position orders (any status) with an id above `after`, newest first.
fn close_orders(v: &Venue, a: &Acct, after: u64) -> Vec<Value> {
    let path = format!("{}?status=all&limit=1000", Venue::orders_path());
    let (st, orders) = v.req(a, "GET", &path, "");
    assert_eq!(st, 200, "{orders}");
    orders
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["close_position"] == true && o["order_id"].as_u64().unwrap() > after)
        .cloned()
        .collect()
}

/// Open a long of `qty` for `a` against `mm`, with bids under it deep enough for any close.
fn open_long(v: &Venue, a: &Acct, mm: &Acct, qty: &str) {
    let (st, o) = v.place(
        mm,
        json!({"side":"sell","type":"limit","quantity":qty,"price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, o) = v.place(a, json!({"side":"buy","type":"market","quantity":qty}));
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    let (st, o) = v.place(
        mm,
        json!({"side":"buy","type":"limit","quantity":"1","price":"49990"}),
    );
    assert_eq!(st, 201, "{o}");
}

/// The highest order id so far (ids count per market): a probe order, cancelled.
fn last_id(v: &Venue, a: &Acct) -> u64 {
    let (st, o) = v.place(
        a,
        json!({"side":"buy","type":"limit","quantity":"0.1","price":"10000"}),
    );
    assert_eq!(st, 201, "{o}");
    let id = o["order_id"].as_u64().unwrap();
    let (st, o) = v.req(a, "DELETE", &format!("{}/{id}", Venue::orders_path()), "");
    assert_eq!(st, 200, "{o}");
    id
}

pub(super) fn races(v: &Venue, mm: &Acct) {
    let t = v.account("20000");
    let ok = |(st, body): &(u16, Value), allowed: &[&str]| {
        assert!(
            (200..300).contains(st) || allowed.contains(&code(body)),
            "{st} {body}"
        );
    };
    // How the races went (printed: a race that always goes one way tests little).
    let (mut gone_with_position, mut refused_flat, mut stop_fired) = (0, 0, 0);
    for round in 0..ROUNDS {
        // ---- 1. Protection and a manual close at once.
        open_long(v, &t, mm, "0.1");
        let after = last_id(v, mm);
        let (v1, v2, v3, v4) = (v, v, v, v);
        let (t1, t2, t3, t4) = (t.clone(), t.clone(), t.clone(), t.clone());
        let answers = race(vec![
            Box::new(move || tpsl(v1, &t1, json!({"take_profit":"50100","stop_loss":"49000"}))),
            Box::new(move || tpsl(v2, &t2, json!({"stop_loss":"49500","trigger_by":"mark"}))),
            Box::new(move || {
                v3.place(&t3, json!({"side":"sell","type":"stop_market","trigger_price":"48000","close_position":true}))
            }),
            Box::new(move || {
                v4.place(
                    &t4,
                    json!({"side":"sell","type":"market","quantity":"0.1","reduce_only":true}),
                )
            }),
        ]);
        for a in &answers {
            ok(a, &["NO_POSITION"]);
            refused_flat += usize::from(code(&a.1) == "NO_POSITION");
        }
        assert_eq!(
            v.position(&t),
            Decimal::ZERO,
            "round {round}: the manual close filled"
        );
        for o in close_orders(v, &t, after) {
            assert_eq!(
                d(&o["filled_quantity"]),
                Decimal::ZERO,
                "round {round}: {o}"
            );
            // Placed before the close: gone with the position; after it: waiting.
            let s = o["status"].as_str().unwrap();
            gone_with_position += usize::from(s == "expired");
            assert!(
                s == "untriggered" || (s == "expired" && o["reason"] == "position_closed"),
                "round {round}: {o}"
            );
        }
        v.cancel_all(&t);
        v.cancel_all(mm);
        v.check(&format!("tpsl race {round}"), &[&t], &[&t, mm]);

        // ---- 2. A stop-loss firing while it is trailed and the position closed by hand.
        open_long(v, &t, mm, "0.05");
        let (st, pair) = tpsl(v, &t, json!({"take_profit":"51000","stop_loss":"49995"}));
        assert_eq!(st, 201, "{pair}");
        let (tp, sl) = (
            pair[0]["order_id"].as_u64().unwrap(),
            pair[1]["order_id"].as_u64().unwrap(),
        );
        // An ask at 49,995 that one IOC buy takes: a print there fires the stop into the
        // 49,990 bids, in one request (as fast as the manual close racing it).
        let seller = v.account("10000");
        let ask = json!({"side":"sell","type":"limit","quantity":"0.001","price":"49995"});
        assert_eq!(v.place(&seller, ask).0, 201);
        let (v1, v2, v3) = (v, v, v);
        let (t2, t3, mm1) = (t.clone(), t.clone(), mm.clone());
        let sl_path = format!("{}/{sl}", Venue::orders_path());
        let answers = race(vec![
            Box::new(move || {
                v1.place(&mm1, json!({"side":"buy","type":"limit","time_in_force":"ioc","quantity":"0.001","price":"49995"}))
            }),
            Box::new(move || v2.req(&t2, "PATCH", &sl_path, r#"{"trigger_price":"49996"}"#)),
            Box::new(move || {
                v3.place(
                    &t3,
                    json!({"side":"sell","type":"market","quantity":"0.05","reduce_only":true}),
                )
            }),
        ]);
        for a in &answers {
            ok(
                a,
                &[
                    "ORDER_NOT_OPEN",
                    "WOULD_TRIGGER_IMMEDIATELY",
                    "REDUCE_ONLY_REJECTED",
                ],
            );
        }
        assert_eq!(
            v.position(&t),
            Decimal::ZERO,
            "round {round}: flat at the end"
        );
        let orders = close_orders(v, &t, 0);
        let of = |id: u64| {
            orders
                .iter()
                .find(|o| o["order_id"] == id)
                .cloned()
                .unwrap()
        };
        let (tp, sl) = (of(tp), of(sl));
        let filled = d(&tp["filled_quantity"]) + d(&sl["filled_quantity"]);
        assert!(
            filled <= "0.05".parse().unwrap(),
            "round {round}: {tp} {sl}"
        );
        assert_eq!(
            d(&tp["filled_quantity"]),
            Decimal::ZERO,
            "round {round}: {tp}"
        );
        stop_fired += usize::from(sl["status"] == "filled");
        assert!(
            tp["reason"] == "oco" || tp["reason"] == "position_closed",
            "round {round}: {tp}"
        );
        v.cancel_all(&t);
        v.cancel_all(mm);
        v.back_to_50000(mm, &v.account("10000"));
        v.check(&format!("stop-loss race {round}"), &[], &[&t, mm]);
    }
    eprintln!(
        "tpsl races: {gone_with_position} TP/SL orders placed before the manual close expired \
         with it, {refused_flat} came after it (NO_POSITION); the stop-loss fired first in \
         {stop_fired} of {ROUNDS} rounds"
    );
}
