//! The WebSocket against a real server on 127.0.0.1:0: a book rebuilt from snapshot + diffs
//! equals the REST book; trades equal fills; private channels reach only their account; a
//! client that stops reading is closed as a slow consumer while others keep receiving, and
//! memory stays bounded; a subscriber whose feed receiver lags is closed as a slow consumer in
//! both dialects. Every wait has a bound; none is a sleep.

mod api_common;

use std::collections::BTreeMap;
use std::time::Duration;

use api_common::ws::*;
use api_common::*;
use awc::ws::Frame;
use futures_util::StreamExt;
use perpx::domain::{Price, Side};
use serde_json::json;

#[actix_web::test]
async fn book_from_snapshot_and_diffs_equals_the_rest_book() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    // Some depth before subscribing, so the snapshot is not empty.
    for i in 0..5 {
        h.state
            .ex
            .place_order(a, BTC, limit(Side::Buy, 499_900 - i, 10))
            .await
            .unwrap();
    }
    let mut ws = connect(addr, "/ws").await;
    send(
        &mut ws,
        json!({"op": "subscribe", "channel": "book", "symbol": "BTC-PERP"}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
    let snap = next(&mut ws).await.unwrap();
    assert_eq!(snap["type"], "book_snapshot");
    let (mut bids, mut asks) = (BTreeMap::new(), BTreeMap::new());
    apply(&mut bids, &snap["bids"]);
    apply(&mut asks, &snap["asks"]);
    let mut seq = snap["sequence"].as_u64().unwrap();
    // Activity: resting orders, crossing orders, cancels and amends on both sides.
    let mut ids = Vec::new();
    for i in 0..60i64 {
        let (acct, side) = if i % 2 == 0 {
            (a, Side::Buy)
        } else {
            (b, Side::Sell)
        };
        let px = 500_000
            + if side == Side::Buy {
                -(i % 7)
            } else {
                i % 5 - 2
            };
        let r = h
            .state
            .ex
            .place_order(acct, BTC, limit(side, px, 1 + i % 4))
            .await
            .unwrap();
        if !r.order.status.is_closed() {
            ids.push((acct, r.order.order.order_id));
        }
        if i % 9 == 0 {
            if let Some((acct, id)) = ids.pop() {
                let _ = h.state.ex.cancel_order(acct, BTC, id).await;
            }
        }
        if i % 11 == 0 {
            if let Some(&(acct, id)) = ids.first() {
                let _ = h
                    .state
                    .ex
                    .amend_order(acct, BTC, id, Some(Price(499_800)), None, None)
                    .await;
            }
        }
    }
    let rest = get(addr, "/api/v1/markets/BTC-PERP/book?depth=1000").await;
    let target = rest["sequence"].as_u64().unwrap();
    while seq < target {
        let u = next(&mut ws).await.expect("diffs up to the REST sequence");
        assert_eq!(u["type"], "book_update");
        assert_eq!(
            u["prev_sequence"].as_u64(),
            Some(seq),
            "gap in the diff chain"
        );
        seq = u["sequence"].as_u64().unwrap();
        apply(&mut bids, &u["bids"]);
        apply(&mut asks, &u["asks"]);
    }
    assert_eq!(seq, target);
    let (mut rb, mut ra) = (BTreeMap::new(), BTreeMap::new());
    apply(&mut rb, &rest["bids"]);
    apply(&mut ra, &rest["asks"]);
    assert_eq!((bids, asks), (rb, ra));
}

#[actix_web::test]
async fn trades_equal_fills_and_private_channels_stay_private() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let mut public = connect(addr, "/ws").await;
    send(
        &mut public,
        json!({"op": "subscribe", "channel": "trades", "symbol": "BTC-PERP"}),
    )
    .await;
    assert_eq!(next(&mut public).await.unwrap()["type"], "subscribed");
    // Private sessions for both accounts.
    let mut sessions = Vec::new();
    for acct in [a, b] {
        let mut ws = connect(addr, "/ws").await;
        let (key, secret) = h.state.keys.credentials(acct);
        let ts = h.clock.now_ms();
        let sig = perpx::api::auth::sign(&secret, ts, "GET", "/ws", b"");
        send(
            &mut ws,
            json!({"op": "auth", "api_key": key, "timestamp": ts, "signature": "00"}),
        )
        .await;
        assert_eq!(
            next(&mut ws).await.unwrap()["code"],
            "UNAUTHORIZED",
            "a bad signature is refused, the session stays"
        );
        send(&mut ws, json!({"op": "subscribe", "channel": "orders"})).await;
        assert_eq!(
            next(&mut ws).await.unwrap()["code"],
            "UNAUTHORIZED",
            "private channels need auth"
        );
        send(
            &mut ws,
            json!({"op": "auth", "api_key": key, "timestamp": ts, "signature": sig}),
        )
        .await;
        assert_eq!(next(&mut ws).await.unwrap()["account_id"], acct.0);
        for ch in ["orders", "fills"] {
            send(&mut ws, json!({"op": "subscribe", "channel": ch})).await;
            assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
        }
        send(&mut ws, json!({"op": "hello"})).await;
        assert_eq!(next(&mut ws).await.unwrap()["code"], "INVALID_REQUEST");
        send(&mut ws, json!({"op": "ping"})).await;
        assert_eq!(next(&mut ws).await.unwrap()["type"], "pong");
        sessions.push(ws);
    }
    // A rests, B takes: both see their own order and fill; public trades match the fills.
    let maker = h
        .state
        .ex
        .place_order(a, BTC, limit(Side::Sell, 500_000, 30))
        .await
        .unwrap()
        .order
        .order
        .order_id;
    let taker = h
        .state
        .ex
        .place_order(b, BTC, limit(Side::Buy, 500_100, 20))
        .await
        .unwrap();
    let mut seen_a = Vec::new();
    while seen_a.len() < 3 {
        seen_a.push(next(&mut sessions[0]).await.unwrap());
    }
    let mut seen_b = Vec::new();
    while seen_b.len() < 2 {
        seen_b.push(next(&mut sessions[1]).await.unwrap());
    }
    assert!(
        seen_a
            .iter()
            .all(|m| m["type"] == "fill" || m["order_id"] == maker.0),
        "{seen_a:?}"
    );
    assert!(
        seen_b
            .iter()
            .all(|m| m["order_id"] == taker.order.order.order_id.0),
        "B saw only its own order: {seen_b:?}"
    );
    let order_a = seen_a
        .iter()
        .find(|m| m["type"] == "order")
        .expect("A's order update");
    assert_eq!(
        order_a["order_type"], "limit",
        "the order's own type survives the message type: {order_a}"
    );
    let fill_a = seen_a
        .iter()
        .find(|m| m["type"] == "fill")
        .expect("A's fill");
    assert_eq!(
        (fill_a["liquidity"].as_str(), fill_a["quantity"].as_str()),
        (Some("maker"), Some("0.02"))
    );
    let trade = next(&mut public).await.unwrap();
    let f = &taker.fills[0];
    assert_eq!(
        (
            trade["trade_id"].as_u64(),
            trade["price"].as_str(),
            trade["quantity"].as_str()
        ),
        (Some(f.trade_id.0), Some("50000.0"), Some("0.02"))
    );
    assert_eq!(trade["taker_side"], "buy");
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_closed_and_others_keep_receiving() {
    let config = roomy_with_queue(1024);
    let h = harness_with(&config, 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    // The slow client subscribes and then never reads again.
    let mut slow = connect(addr, "/ws").await;
    for ch in ["book", "trades"] {
        send(
            &mut slow,
            json!({"op": "subscribe", "channel": ch, "symbol": "BTC-PERP"}),
        )
        .await;
    }
    // The fast client reads everything on its own task.
    let mut fast = connect(addr, "/ws").await;
    send(
        &mut fast,
        json!({"op": "subscribe", "channel": "trades", "symbol": "BTC-PERP"}),
    )
    .await;
    let received = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let r = received.clone();
    actix_web::rt::spawn(async move {
        while let Some(Ok(f)) = fast.next().await {
            if matches!(f, Frame::Text(_)) {
                r.set(r.get() + 1);
            }
        }
    });
    let rss_before = rss_bytes();
    let stats = &h.state.ws;
    let mut orders = 0u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while stats
        .slow_consumers
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline && orders < 400_000,
            "the slow client was never closed"
        );
        // Each pair: a resting order and one that takes it (a trade and book updates); the
        // sides alternate so positions stay small.
        let (maker, taker) = if orders.is_multiple_of(4) {
            (a, b)
        } else {
            (b, a)
        };
        h.state
            .ex
            .place_order(maker, BTC, limit(Side::Sell, 500_000, 1))
            .await
            .unwrap();
        h.state
            .ex
            .place_order(taker, BTC, limit(Side::Buy, 500_000, 1))
            .await
            .unwrap();
        orders += 2;
        if orders.is_multiple_of(2000) {
            actix_web::rt::task::yield_now().await;
        }
    }
    let slow_total = slow_consumers_metric();
    assert!(
        slow_total >= Some(1.0),
        "the metric counts the close: {slow_total:?}"
    );
    let after_close = received.get();
    for i in 0..100 {
        let (maker, taker) = if i % 2 == 0 { (a, b) } else { (b, a) };
        h.state
            .ex
            .place_order(maker, BTC, limit(Side::Sell, 500_000, 1))
            .await
            .unwrap();
        h.state
            .ex
            .place_order(taker, BTC, limit(Side::Buy, 500_000, 1))
            .await
            .unwrap();
    }
    let deadline = std::time::Instant::now() + WAIT;
    while received.get() < after_close + 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "the fast client stopped receiving"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "only the client that stopped reading was closed"
    );
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(
        grown < 200 << 20,
        "memory grew by {} MB while a client did not read",
        grown >> 20
    );
    // Reading the slow client now ends in a close (1008 slow consumer) or a reset.
    if let Some((code, reason)) = close_reason(&mut slow).await {
        assert_eq!((code, reason.as_deref()), (1008, Some("slow consumer")));
    }
    println!(
        "slow consumer closed after {orders} orders; fast client received {} messages",
        received.get()
    );
}

/// A session whose receiver falls behind the market feed (`Lagged`) is closed as a slow
/// consumer (1008, counted) although its client reads everything: the native `trades`
/// channel, and the Binance `@trade` and `@depth` streams alike (a Binance stream once skipped
/// what it missed and carried on).
#[actix_web::test]
async fn a_lagging_receiver_is_closed_as_a_slow_consumer_in_both_dialects() {
    // Sessions queue 100,000 messages, so only the feed (one message) can be outrun.
    let h = harness_feed(&roomy_with_queue(100_000), 0, 0, 4096, 1);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let mut native = connect(addr, "/ws").await;
    let sub = json!({"op": "subscribe", "channel": "trades", "symbol": "BTC-PERP"});
    send(&mut native, sub).await;
    next_where(&mut native, |v| v["type"] == "subscribed").await;
    let trade = connect(addr, "/ws/btcusdt@trade").await;
    let depth = connect(addr, "/ws/btcusdt@depth@100ms").await;
    // Every client reads all it gets, on its own task, and records how it was closed.
    let mut closes = Vec::new();
    for mut ws in [native, trade, depth] {
        let close = std::rc::Rc::new(std::cell::RefCell::new(None));
        let c = close.clone();
        actix_web::rt::spawn(async move {
            while let Some(Ok(f)) = ws.next().await {
                if let Frame::Close(r) = f {
                    *c.borrow_mut() = Some(r.map(|r| (u16::from(r.code), r.description)));
                    return;
                }
            }
            *c.borrow_mut() = Some(None);
        });
        closes.push(close);
    }
    let slow = || {
        h.state
            .ws
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut round = 0;
    while slow() < 3 || closes.iter().any(|c| c.borrow().is_none()) {
        assert!(
            std::time::Instant::now() < deadline,
            "not every lagging session was closed: {} slow consumers",
            slow()
        );
        // 20 resting orders at once (one drain: 20 book updates in a burst), then one order
        // taking them all (20 trades from one command).
        let (maker, taker) = if round % 2 == 0 { (a, b) } else { (b, a) };
        let rest = (0..20).map(|_| {
            h.state
                .ex
                .place_order(maker, BTC, limit(Side::Sell, 500_000, 1))
        });
        for r in futures_util::future::join_all(rest).await {
            r.unwrap();
        }
        h.state
            .ex
            .place_order(taker, BTC, limit(Side::Buy, 500_000, 20))
            .await
            .unwrap();
        round += 1;
    }
    for (c, name) in closes.iter().zip(["native trades", "@trade", "@depth"]) {
        assert_eq!(
            c.borrow().clone(),
            Some(Some((1008, Some("slow consumer".to_owned())))),
            "{name}"
        );
    }
    assert_eq!(slow(), 3, "each lagging session counted once");
    assert!(slow_consumers_metric() >= Some(3.0));
    println!("three lagging sessions closed after {round} rounds");
}
