//! The Binance WebSocket forms against a real server on 127.0.0.1:0: a local book kept by
//! Binance's own procedure (snapshot `lastUpdateId`, `U`/`u`/`pu`) never needs a resync and
//! equals the REST book, also after a reconnect; control messages and path forms; the user
//! data stream (order, trade, account and config events with native values, expiry); a
//! client that stops reading is closed as a slow consumer, the same way as on the native
//! `/ws`. Every wait is bounded.

mod api_common;

use std::collections::BTreeMap;
use std::time::Duration;

use api_common::ws::*;
use api_common::*;
use futures_util::StreamExt;
use perpx::domain::{AccountId, Side};
use serde_json::{json, Value};

/// A local book kept exactly as Binance documents for USDⓈ-M futures.
struct LocalBook {
    bids: BookSide,
    asks: BookSide,
    last_u: Option<u64>,
}

impl LocalBook {
    fn from_snapshot(s: &Value) -> LocalBook {
        let mut b = LocalBook {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            last_u: None,
        };
        apply(&mut b.bids, &s["bids"]);
        apply(&mut b.asks, &s["asks"]);
        b.last_u = Some(s["lastUpdateId"].as_u64().unwrap());
        b
    }

    /// Apply one diff; panics where Binance's procedure would have to resync.
    fn apply(&mut self, e: &Value, first: &mut bool) {
        let (big_u, u, pu) = (
            e["U"].as_u64().unwrap(),
            e["u"].as_u64().unwrap(),
            e["pu"].as_u64().unwrap(),
        );
        let last = self.last_u.unwrap();
        assert!(big_u <= u, "U ≤ u: {e}");
        if u < last {
            return; // older than the snapshot: dropped
        }
        if *first {
            assert!(
                (big_u <= last && u >= last) || pu == last,
                "first event must straddle the snapshot {last}: {e}"
            );
            *first = false;
        } else {
            assert_eq!(pu, last, "pu must chain to the previous u: {e}");
        }
        apply(&mut self.bids, &e["b"]);
        apply(&mut self.asks, &e["a"]);
        self.last_u = Some(u);
    }

    fn matches(&self, rest: &Value) -> bool {
        let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
        apply(&mut b, &rest["bids"]);
        apply(&mut a, &rest["asks"]);
        b == self.bids && a == self.asks
    }
}

/// Book activity: resting orders on both sides, crossing orders, cancels.
async fn activity(h: &Harness, a: AccountId, b: AccountId, rounds: i64, offset: i64) {
    let mut ids = Vec::new();
    for i in 0..rounds {
        let (acct, side, px) = if i % 2 == 0 {
            (a, Side::Buy, 499_990 - (i + offset) % 9)
        } else {
            (b, Side::Sell, 500_010 + (i + offset) % 7)
        };
        let r = h
            .state
            .ex
            .place_order(acct, BTC, limit(side, px, 1 + i % 3))
            .await
            .unwrap();
        ids.push((acct, r.order.order.order_id));
        if i % 5 == 4 {
            // A taker through the best level, and a cancel.
            h.state
                .ex
                .place_order(b, BTC, limit(Side::Sell, 499_980, 2))
                .await
                .unwrap();
            let (acct, id) = ids.remove(0);
            let _ = h.state.ex.cancel_order(acct, BTC, id).await;
        }
    }
}

/// Follow a depth stream through activity, then check the local book against REST.
async fn follow(
    h: &Harness,
    addr: std::net::SocketAddr,
    ws: &mut Conn,
    combined: bool,
    offset: i64,
) {
    let (a, b) = (funded(h).await, funded(h).await);
    let unwrap = |v: Value| if combined { v["data"].clone() } else { v };
    // Activity before the snapshot (buffered), then the snapshot, then more activity.
    activity(h, a, b, 20, offset).await;
    let snap = get(addr, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000").await;
    activity(h, a, b, 30, offset + 3).await;
    let target = get(addr, "/fapi/v1/depth?symbol=BTCUSDT&limit=1000").await;
    let end = target["lastUpdateId"].as_u64().unwrap();
    assert!(end > snap["lastUpdateId"].as_u64().unwrap());
    let mut book = LocalBook::from_snapshot(&snap);
    let mut first = true;
    while book.last_u.unwrap() < end {
        let e = unwrap(next(ws).await.expect("stream open"));
        if combined {
            // (checked by `unwrap` above: the wrapped form names its stream)
        }
        assert_eq!(e["e"], "depthUpdate", "{e}");
        assert_eq!(e["s"], "BTCUSDT");
        book.apply(&e, &mut first);
    }
    assert_eq!(
        book.last_u,
        Some(end),
        "the stream ends exactly at the REST sequence"
    );
    assert!(
        book.matches(&target),
        "local book differs from REST at {end}"
    );
}

#[actix_web::test]
async fn depth_stream_chains_across_reconnects() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let mut ws = connect(addr, "/ws/btcusdt@depth@100ms").await;
    follow(&h, addr, &mut ws, false, 0).await;
    drop(ws);
    // Changes while nobody listens, then a new connection in the combined form at 250 ms.
    let (a, b) = (funded(&h).await, funded(&h).await);
    activity(&h, a, b, 25, 11).await;
    let mut ws = connect(addr, "/stream?streams=btcusdt@depth").await;
    follow(&h, addr, &mut ws, true, 5).await;
    // And the 500 ms speed, subscribed at run time on a routed path (ccxt's form).
    let mut ws = connect(addr, "/public/ws/0").await;
    send(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@depth@500ms"], "id": 1}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"result": null, "id": 1})
    );
    follow(&h, addr, &mut ws, false, 7).await;
}

#[actix_web::test]
async fn control_messages_path_forms_and_market_streams() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let mut ws = connect(addr, "/market/ws/3").await;
    send(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@aggTrade"], "id": 7}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"result": null, "id": 7})
    );
    send(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 8})).await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"result": ["btcusdt@aggTrade", "btcusdt@trade"], "id": 8})
    );
    send(
        &mut ws,
        json!({"method": "SUBSCRIBE", "params": ["btcusdt@nothing"], "id": 9}),
    )
    .await;
    let e = next(&mut ws).await.unwrap();
    assert_eq!(
        (&e["error"]["code"], &e["id"]),
        (&json!(2), &json!(9)),
        "{e}"
    );
    // A trade: raw payloads with the native id, price and quantity.
    h.state
        .ex
        .place_order(a, BTC, limit(Side::Sell, 500_000, 3))
        .await
        .unwrap();
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Buy, 500_000, 2))
        .await
        .unwrap();
    let native = get(addr, "/api/v1/markets/BTC-PERP/trades?limit=1").await;
    let t = next_where(&mut ws, |v| v["e"] == "trade").await;
    assert_eq!(
        (&t["t"], &t["p"], &t["q"], &t["m"], &t["s"]),
        (
            &native[0]["trade_id"],
            &native[0]["price"],
            &native[0]["quantity"],
            &json!(false),
            &json!("BTCUSDT")
        )
    );
    let g = next_where(&mut ws, |v| v["e"] == "aggTrade").await;
    assert_eq!((&g["a"], &g["f"], &g["l"]), (&t["t"], &t["t"], &t["t"]));
    // Combined from now on: wrapped in {"stream","data"}.
    send(
        &mut ws,
        json!({"method": "SET_PROPERTY", "params": ["combined", true], "id": 10}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"result": null, "id": 10})
    );
    send(
        &mut ws,
        json!({"method": "GET_PROPERTY", "params": ["combined"], "id": 11}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"result": true, "id": 11})
    );
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Buy, 500_000, 1))
        .await
        .unwrap();
    let w = next_where(&mut ws, |v| v["stream"] == "btcusdt@trade").await;
    assert_eq!(w["data"]["e"], "trade");
    send(
        &mut ws,
        json!({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@aggTrade"], "id": 12}),
    )
    .await;
    let _ = next_where(&mut ws, |v| v["id"] == 12).await;
    send(&mut ws, json!({"method": "LIST_SUBSCRIPTIONS", "id": 13})).await;
    assert_eq!(
        next_where(&mut ws, |v| v["id"] == 13).await["result"],
        json!([])
    );
    // Paths naming an unknown stream or a dead listen key are refused before the upgrade.
    for bad in [
        "/ws/btcusdt@nothing",
        "/stream?streams=ethusdt@trade/zzz@depth",
        &format!("/private/ws?listenKey={}", "ab".repeat(32)),
    ] {
        let r = awc::Client::new()
            .ws(format!("ws://{addr}{bad}"))
            .connect()
            .await;
        assert!(r.is_err(), "{bad} must be refused");
    }
    // Mark price every second, equal to the native summary; the partial book and the best
    // bid/ask from the book.
    h.state
        .ex
        .place_order(a, BTC, limit(Side::Sell, 500_100, 4))
        .await
        .unwrap();
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Buy, 499_900, 6))
        .await
        .unwrap();
    let mut ws = connect(
        addr,
        "/stream?streams=btcusdt@markPrice@1s/btcusdt@depth5@100ms/btcusdt@bookTicker",
    )
    .await;
    let market = get(addr, "/api/v1/markets/BTC-PERP").await;
    let rest = get(addr, "/fapi/v1/depth?symbol=BTCUSDT&limit=5").await;
    // One message of each (they come in any order; the book does not change meanwhile).
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    while seen.len() < 3 {
        let v = next(&mut ws).await.expect("stream open");
        seen.insert(v["stream"].as_str().unwrap().to_owned(), v["data"].clone());
    }
    let m = &seen["btcusdt@markPrice@1s"];
    assert_eq!(
        (&m["e"], &m["p"], &m["i"]),
        (
            &json!("markPriceUpdate"),
            &market["mark_price"],
            &market["index_price"]
        )
    );
    let d = &seen["btcusdt@depth5@100ms"];
    assert_eq!(
        (&d["b"], &d["a"], &d["u"]),
        (&rest["bids"], &rest["asks"], &rest["lastUpdateId"])
    );
    let bt = &seen["btcusdt@bookTicker"];
    assert_eq!(
        (&bt["a"], &bt["A"], &bt["b"], &bt["B"]),
        (
            &rest["asks"][0][0],
            &rest["asks"][0][1],
            &rest["bids"][0][0],
            &rest["bids"][0][1]
        )
    );
}

async fn listen_key(addr: std::net::SocketAddr, key: &str, method: &str) -> Value {
    let req = match method {
        "POST" => awc::Client::new().post(format!("http://{addr}/fapi/v1/listenKey")),
        "PUT" => awc::Client::new().put(format!("http://{addr}/fapi/v1/listenKey")),
        _ => awc::Client::new().delete(format!("http://{addr}/fapi/v1/listenKey")),
    };
    let mut r = req
        .insert_header(("X-MBX-APIKEY", key))
        .send()
        .await
        .expect("listenKey");
    serde_json::from_slice(&r.body().await.unwrap()).unwrap()
}

#[actix_web::test]
async fn user_data_stream_carries_native_values_and_expires() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let (key, _) = h.state.keys.credentials(a);
    let lk = listen_key(addr, &key, "POST").await["listenKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        listen_key(addr, &key, "POST").await["listenKey"],
        lk.as_str(),
        "one key per account"
    );
    // Both path forms; each is subscribed once the upgrade is answered.
    let mut ws = connect(addr, &format!("/private/ws?listenKey={lk}")).await;
    let mut raw = connect(addr, &format!("/ws/{lk}")).await;
    assert_eq!(
        listen_key(addr, &key, "PUT").await["listenKey"],
        lk.as_str(),
        "a keep-alive returns the same key"
    );
    // A resting order (NEW), then a taker filling it in part (TRADE), then in full.
    let maker = h
        .state
        .ex
        .place_order(a, BTC, limit(Side::Sell, 500_000, 5))
        .await
        .unwrap();
    let id = maker.order.order.order_id.0;
    let new = next_where(&mut ws, |v| v["e"] == "ORDER_TRADE_UPDATE").await;
    assert_eq!(
        next_where(&mut raw, |v| v["e"] == "ORDER_TRADE_UPDATE").await,
        new
    );
    drop(raw);
    assert_eq!(
        (
            &new["o"]["x"],
            &new["o"]["X"],
            &new["o"]["i"],
            &new["o"]["q"]
        ),
        (&json!("NEW"), &json!("NEW"), &json!(id), &json!("0.005")),
        "{new}"
    );
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Buy, 500_000, 2))
        .await
        .unwrap();
    let t1 = next_where(&mut ws, |v| v["e"] == "ORDER_TRADE_UPDATE").await;
    let fills = h
        .state
        .ex
        .query(|reply| perpx::actors::messages::AccountQuery::Fills {
            account: a,
            market: None,
            before: None,
            limit: 10,
            reply,
        })
        .await
        .unwrap();
    let f = &fills[0];
    assert_eq!(
        (
            &t1["o"]["x"],
            &t1["o"]["X"],
            &t1["o"]["l"],
            &t1["o"]["z"],
            &t1["o"]["L"],
            &t1["o"]["t"],
            &t1["o"]["m"]
        ),
        (
            &json!("TRADE"),
            &json!("PARTIALLY_FILLED"),
            &json!("0.002"),
            &json!("0.002"),
            &json!("50000.0"),
            &json!(f.trade_id.0),
            &json!(true)
        ),
        "{t1}"
    );
    assert_eq!(t1["o"]["n"], json!(f.fee.0.normalize().to_string()));
    let acc = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE").await;
    let view = h.state.ex.account_view(a).await.unwrap();
    assert_eq!(acc["a"]["m"], "ORDER");
    assert_eq!(
        acc["a"]["B"][0]["wb"],
        json!(view.wallet_balance.normalize().to_string())
    );
    assert_eq!(
        (&acc["a"]["P"][0]["s"], &acc["a"]["P"][0]["pa"]),
        (&json!("BTCUSDT"), &json!("-0.002")),
        "{acc}"
    );
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Buy, 500_000, 3))
        .await
        .unwrap();
    let t2 = next_where(&mut ws, |v| v["e"] == "ORDER_TRADE_UPDATE").await;
    assert_eq!(
        (&t2["o"]["X"], &t2["o"]["z"], &t2["o"]["ap"]),
        (&json!("FILLED"), &json!("0.005"), &json!("50000")),
        "{t2}"
    );
    // A taker through three makers in one command: one TRADE each, cumulative quantities.
    for px in [500_001, 500_002, 500_003] {
        h.state
            .ex
            .place_order(b, BTC, limit(Side::Sell, px, 1))
            .await
            .unwrap();
    }
    let taker = h
        .state
        .ex
        .place_order(a, BTC, limit(Side::Buy, 500_003, 3))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let e = next_where(&mut ws, |v| {
            v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["i"] == taker.order.order.order_id.0
        })
        .await;
        if e["o"]["x"] == "TRADE" {
            seen.push((
                e["o"]["z"].clone(),
                e["o"]["L"].clone(),
                e["o"]["X"].clone(),
            ));
        }
    }
    assert_eq!(
        seen,
        [
            (json!("0.001"), json!("50000.1"), json!("PARTIALLY_FILLED")),
            (json!("0.002"), json!("50000.2"), json!("PARTIALLY_FILLED")),
            (json!("0.003"), json!("50000.3"), json!("FILLED")),
        ]
    );
    // A leverage change.
    h.state.ex.set_leverage(a, BTC, 7).await.unwrap();
    let c = next_where(&mut ws, |v| v["e"] == "ACCOUNT_CONFIG_UPDATE").await;
    assert_eq!(c["ac"], json!({"s": "BTCUSDT", "l": 7}));
    // An hour without keep-alive: the key expires, the stream says so and ends.
    h.clock.advance_ms(60 * 60 * 1000 + 1);
    let e = next_where(&mut ws, |v| v["e"] == "listenKeyExpired").await;
    assert_eq!(e["listenKey"], lk.as_str());
    assert!(next(&mut ws).await.is_none(), "closed after the expiry");
    assert_eq!(listen_key(addr, &key, "PUT").await["code"], -1125);
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_closed_as_a_slow_consumer() {
    let config = roomy_with_queue(1024);
    let h = harness_with(&config, 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let _slow = connect(
        addr,
        "/stream?streams=btcusdt@trade/btcusdt@aggTrade/btcusdt@depth@100ms",
    )
    .await;
    let mut fast = connect(addr, "/ws/btcusdt@trade").await;
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
        if orders.is_multiple_of(200) {
            // The fast client keeps reading.
            while let Ok(Some(_)) =
                tokio::time::timeout(Duration::from_millis(1), fast.next()).await
            {}
            actix_web::rt::task::yield_now().await;
        }
    }
    // The fast client still receives trades.
    h.state
        .ex
        .place_order(a, BTC, limit(Side::Sell, 500_000, 1))
        .await
        .unwrap();
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Buy, 500_000, 1))
        .await
        .unwrap();
    let id = get(addr, "/api/v1/markets/BTC-PERP/trades?limit=1").await[0]["trade_id"].clone();
    let t = next_where(&mut fast, |v| v["t"] == id).await;
    assert_eq!(t["e"], "trade");
}

/// The native `/ws` test of the same name (tests/ws_api.rs), on the Binance forms: a client
/// with market streams and its user data stream that stops reading is closed with 1008
/// `slow consumer`, counted once, while a client of the same stream keeps receiving, and
/// memory stays bounded. Bounded in orders (400,000) and time (120 s).
#[actix_web::test]
async fn a_stream_client_that_stops_reading_is_closed_and_others_keep_receiving() {
    let h = harness_with(&roomy_with_queue(1024), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let (key, _) = h.state.keys.credentials(a);
    let lk = listen_key(addr, &key, "POST").await["listenKey"]
        .as_str()
        .unwrap()
        .to_owned();
    // The slow client opens its streams and then never reads again.
    let mut slow = connect(
        addr,
        &format!("/stream?streams=btcusdt@trade/btcusdt@aggTrade/btcusdt@depth@100ms/{lk}"),
    )
    .await;
    // The fast client reads everything on its own task.
    let mut fast = connect(addr, "/ws/btcusdt@trade").await;
    let received = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let r = received.clone();
    actix_web::rt::spawn(async move {
        while let Some(Ok(f)) = fast.next().await {
            if matches!(f, awc::ws::Frame::Text(_)) {
                r.set(r.get() + 1);
            }
        }
    });
    let rss_before = rss_bytes();
    let stats = &h.state.ws;
    let slow_consumers = || {
        stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let mut orders = 0u64;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while slow_consumers() == 0 {
        assert!(
            std::time::Instant::now() < deadline && orders < 400_000,
            "the slow client was never closed"
        );
        // Each pair: a resting order and one that takes it (a trade, book updates, and user
        // data for A); the sides alternate so positions stay small.
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
        slow_consumers(),
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

/// A burst faster than the session writes fills its queue (4 messages here; a taker sweeping
/// 8 makers publishes 8 trades at once, 16 messages on two streams): the session is closed as
/// a slow consumer; it never stays open with a stream silently dead (the Binance forms once
/// put that signal into the full queue, where it was lost, and the stream's forwarder just
/// stopped). Bounded: 30 sweeps, one [`WAIT`] for the whole read.
#[actix_web::test]
async fn a_full_queue_closes_the_session_and_never_silences_a_stream() {
    let h = harness_with(&roomy_with_queue(4), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let mut ws = connect(addr, "/stream?streams=btcusdt@trade/btcusdt@aggTrade").await;
    for _ in 0..30 {
        for _ in 0..8 {
            h.state
                .ex
                .place_order(a, BTC, limit(Side::Sell, 500_000, 1))
                .await
                .unwrap();
        }
        h.state
            .ex
            .place_order(b, BTC, limit(Side::Buy, 500_000, 8))
            .await
            .unwrap();
    }
    let last = get(addr, "/api/v1/markets/BTC-PERP/trades?limit=1").await[0]["trade_id"].clone();
    // Either both streams carry the last trade, or the session was closed as slow.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut trade, mut agg_trade) = (false, false);
    let outcome = loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the last trade on both streams, or a close: a stream went silent");
        match frame {
            Some(Ok(awc::ws::Frame::Text(t))) => {
                let v: Value = serde_json::from_slice(&t).unwrap();
                trade |= v["stream"] == "btcusdt@trade" && v["data"]["t"] == last;
                agg_trade |= v["stream"] == "btcusdt@aggTrade" && v["data"]["a"] == last;
                if trade && agg_trade {
                    break "every trade delivered";
                }
            }
            Some(Ok(awc::ws::Frame::Close(r))) => {
                let r = r.expect("a close reason");
                assert_eq!(
                    (u16::from(r.code), r.description.as_deref()),
                    (1008, Some("slow consumer"))
                );
                break "closed as a slow consumer";
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break "connection reset",
        }
    };
    if outcome != "every trade delivered" {
        assert_eq!(
            h.state
                .ws
                .slow_consumers
                .load(std::sync::atomic::Ordering::Relaxed),
            1,
            "{outcome}: counted as the one slow consumer"
        );
    }
    println!("{outcome}");
}

/// `@kline_1m`: the kline task has no timer while nobody listens; a subscriber wakes it and
/// gets the current candle with a fresh trade's price, also after the last subscriber left
/// and the task went back to sleep.
#[actix_web::test]
async fn kline_stream_wakes_on_each_first_subscriber() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    for round in 0..3 {
        let mut ws = connect(addr, "/ws/btcusdt@kline_1m").await;
        let px = 500_100 + round;
        h.state
            .ex
            .place_order(a, BTC, limit(Side::Sell, px, 1))
            .await
            .unwrap();
        h.state
            .ex
            .place_order(b, BTC, limit(Side::Buy, px, 1))
            .await
            .unwrap();
        let want = format!("{}.{}", px / 10, px % 10);
        let e = next_where(&mut ws, |e| e["k"]["c"] == want.as_str()).await;
        assert_eq!(e["e"], "kline", "{e}");
        assert_eq!(e["s"], "BTCUSDT");
        assert_eq!(e["k"]["i"], "1m");
        drop(ws);
        // The session ends on the server (its receiver dropped), the task sees no subscriber
        // and goes to sleep before the next round subscribes (bounded wait).
        let hubs = h.state.binance.hubs(&h.state);
        let mut polls = 0;
        while !hubs.markets[0]
            .kline_asleep
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            polls += 1;
            assert!(
                polls < 1000,
                "the kline task did not go to sleep without a subscriber"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
