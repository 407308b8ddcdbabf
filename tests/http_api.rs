//! Every route of docs/API.md through `api::routes`: success paths, every error code that can
//! be reached over HTTP, signing, and — after each rejected request — proof that the book and
//! the account are unchanged.

mod api_common;

use actix_web::test;
use api_common::*;
use serde_json::{json, Value};

fn order(side: &str, price: &str, qty: &str) -> String {
    json!({"side": side, "type": "limit", "quantity": qty, "price": price}).to_string()
}

macro_rules! rejected {
    ($h:expr, $app:expr, $c:expr, $req:expr, $status:expr, $code:expr) => {{
        let before = observe(&$h, &$app, &$c).await;
        let r = call(&$app, $req).await;
        assert_eq!((r.status, r.code()), ($status, $code), "{}", r.body);
        assert!(r.body["error"]["message"].is_string());
        assert_eq!(
            observe(&$h, &$app, &$c).await,
            before,
            "a rejected request changed state: {}",
            r.body
        );
    }};
}

#[actix_web::test]
async fn public_routes() {
    let h = harness();
    let app = app!(h);
    let get = |uri: &str| test::TestRequest::get().uri(uri).to_request();
    let r = call(&app, get("/api/v1/health")).await;
    assert_eq!(
        (r.status, &r.body["status"], &r.body["markets"]),
        (200, &json!("ok"), &json!(2))
    );
    let r = call(&app, get("/api/v1/markets")).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    assert_eq!(r.body[0]["tick_size"], "0.1");
    assert_eq!(r.body[0]["risk_tiers"][1]["maintenance_amount"], "60");
    let r = call(&app, get("/api/v1/markets/BTC-PERP")).await;
    assert_eq!(
        (r.body["mark_price"].as_str(), r.body["last_price"].clone()),
        (Some("50000"), Value::Null)
    );
    assert_eq!(r.body["open_interest"], "0");
    let r = call(&app, get("/api/v1/markets/BTC-PERP/book?depth=5")).await;
    assert_eq!(
        (
            r.body["sequence"].as_u64(),
            r.body["bids"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        call(&app, get("/api/v1/markets/BTC-PERP/trades?limit=10"))
            .await
            .body,
        json!([])
    );
    assert_eq!(
        call(&app, get("/api/v1/markets/BTC-PERP/candles?interval=1h"))
            .await
            .body,
        json!([])
    );
    assert_eq!(
        call(&app, get("/api/v1/markets/BTC-PERP/funding"))
            .await
            .body,
        json!([])
    );
    assert_eq!(
        call(&app, get("/api/v1/insurance-fund")).await.body,
        json!({"balance": "0"})
    );
    for (uri, code) in [
        ("/api/v1/markets/NOPE", "UNKNOWN_MARKET"),
        ("/api/v1/markets/NOPE/book", "UNKNOWN_MARKET"),
        (
            "/api/v1/markets/BTC-PERP/book?depth=1001",
            "INVALID_REQUEST",
        ),
        ("/api/v1/markets/BTC-PERP/book?depth=abc", "INVALID_REQUEST"),
        ("/api/v1/markets/BTC-PERP/trades?limit=0", "INVALID_REQUEST"),
        (
            "/api/v1/markets/BTC-PERP/candles?interval=2m",
            "INVALID_REQUEST",
        ),
        ("/api/v1/no/such/route", "NOT_FOUND"),
        ("/elsewhere", "NOT_FOUND"),
    ] {
        let r = call(&app, get(uri)).await;
        assert_eq!(r.code(), code, "{uri}: {}", r.body);
        assert!(r.status >= 400);
    }
}

/// 405 names what the resource serves (`Allow`): also for methods no route knows (TRACE), on
/// a resource serving several methods, and on the pattern route behind each market's static
/// POST route (`api::routes_for` lets other methods fall through to it).
#[actix_web::test]
async fn a_method_the_resource_does_not_serve_answers_405_with_allow() {
    use actix_web::http::Method;
    let h = harness();
    let app = app!(h);
    for (method, uri, allow) in [
        (Method::DELETE, "/api/v1/health", "GET"),
        (
            Method::TRACE,
            "/api/v1/markets/BTC-PERP/orders/7",
            "GET, PATCH, DELETE",
        ),
        (
            Method::PUT,
            "/api/v1/markets/BTC-PERP/orders",
            "GET, POST, DELETE",
        ),
    ] {
        let req = test::TestRequest::default()
            .method(method.clone())
            .uri(uri)
            .to_request();
        let r = call(&app, req).await;
        assert_eq!(
            (r.status, r.code()),
            (405, "METHOD_NOT_ALLOWED"),
            "{method} {uri}: {}",
            r.body
        );
        assert_eq!(
            r.headers.get("allow").map(String::as_str),
            Some(allow),
            "{method} {uri}"
        );
    }
}

#[actix_web::test]
async fn orders_trade_and_both_accounts_see_the_fill() {
    let h = harness();
    let app = app!(h);
    let (a, b) = (
        account(&h, &app, "100000").await,
        account(&h, &app, "100000").await,
    );
    let r = call(
        &app,
        h.signed(
            &a,
            "POST",
            "/api/v1/markets/BTC-PERP/orders",
            &order("sell", "50000.0", "0.5"),
        ),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (201, &json!("new")),
        "{}",
        r.body
    );
    let maker_id = r.body["order_id"].as_u64().unwrap();
    let body = json!({"side":"buy","type":"limit","quantity":"0.2","price":"50100","client_order_id":"b-1","stp":"expire_maker","time_in_force":"gtc","reduce_only":false,"trigger_price":null,"trigger_by":"last"}).to_string();
    let r = call(
        &app,
        h.signed(&b, "POST", "/api/v1/markets/BTC-PERP/orders", &body),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["status"], &r.body["average_price"]),
        (201, &json!("filled"), &json!("50000")),
        "{}",
        r.body
    );
    assert_eq!(r.body["fills"][0]["price"], "50000.0");
    assert_eq!(
        r.body["fills"][0]["fee"], "5",
        "0.2 × 50,000 × 0.05 % taker fee"
    );
    assert_eq!(r.body["fills"][0]["liquidity"], "taker");
    // Identical retry: 200 with the original order, nothing new.
    let again = call(
        &app,
        h.signed(&b, "POST", "/api/v1/markets/BTC-PERP/orders", &body),
    )
    .await;
    assert_eq!(
        (again.status, &again.body["order_id"]),
        (200, &r.body["order_id"])
    );
    // The maker sees its partial fill; queries by id and client id.
    let m = call(
        &app,
        h.signed(
            &a,
            "GET",
            &format!("/api/v1/markets/BTC-PERP/orders/{maker_id}"),
            "",
        ),
    )
    .await;
    assert_eq!(
        (
            &m.body["status"],
            &m.body["filled_quantity"],
            &m.body["remaining_quantity"]
        ),
        (&json!("partially_filled"), &json!("0.2"), &json!("0.3"))
    );
    assert_eq!(m.body["fills"][0]["liquidity"], "maker");
    let c = call(
        &app,
        h.signed(
            &b,
            "GET",
            "/api/v1/markets/BTC-PERP/orders/by-client-id/b-1",
            "",
        ),
    )
    .await;
    assert_eq!(c.body["order_id"], r.body["order_id"]);
    // Accounts: positions on both sides; fills history.
    let acc_b = call(&app, h.signed(&b, "GET", "/api/v1/account", ""))
        .await
        .body;
    assert_eq!(acc_b["positions"][0]["quantity"], "0.2");
    assert_eq!(acc_b["wallet_balance"], "99995");
    let acc_a = call(&app, h.signed(&a, "GET", "/api/v1/account", ""))
        .await
        .body;
    assert_eq!(acc_a["positions"][0]["quantity"], "-0.2");
    assert_eq!(
        acc_a["wallet_balance"], "99998",
        "maker fee 0.02 % of 10,000"
    );
    let f = call(
        &app,
        h.signed(
            &b,
            "GET",
            "/api/v1/account/fills?symbol=BTC-PERP&limit=10",
            "",
        ),
    )
    .await;
    assert_eq!(f.body.as_array().unwrap().len(), 1);
    let tid = f.body[0]["trade_id"].as_u64().unwrap();
    let f = call(
        &app,
        h.signed(
            &b,
            "GET",
            &format!("/api/v1/account/fills?before={tid}"),
            "",
        ),
    )
    .await;
    assert_eq!(f.body, json!([]), "paging before the only fill");
    // Market data moved.
    let t = call(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/markets/BTC-PERP/trades")
            .to_request(),
    )
    .await;
    assert_eq!(
        (
            t.body[0]["price"].as_str(),
            t.body[0]["taker_side"].as_str()
        ),
        (Some("50000.0"), Some("buy"))
    );
    let c = call(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/markets/BTC-PERP/candles?interval=1m")
            .to_request(),
    )
    .await;
    assert_eq!(
        (c.body[0]["volume"].as_str(), c.body[0]["trades"].as_u64()),
        (Some("0.2"), Some(1))
    );
    let s = call(&app, h.admin("GET", "/api/v1/admin/solvency", "")).await;
    assert_eq!(
        (
            s.body["conserved"].as_bool(),
            s.body["fee_account"].as_str()
        ),
        (Some(true), Some("7"))
    );
    assert_eq!(
        call(
            &app,
            test::TestRequest::get()
                .uri("/api/v1/markets/BTC-PERP")
                .to_request()
        )
        .await
        .body["open_interest"],
        "0.2"
    );
}

#[actix_web::test]
async fn every_entry_rejection_changes_nothing() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let post = |body: &str| h.signed(&a, "POST", "/api/v1/markets/BTC-PERP/orders", body);
    call(&app, post(&order("buy", "40000", "0.001"))).await;
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "INVALID_REQUEST"),
        // A JSON array in the fields' order: serde's derive would take it, the contract not.
        (r#"["buy","limit"]"#.into(), 400, "INVALID_REQUEST"),
        (r#"{"side":"buy","type":"limit","price":"1"}"#.into(), 400, "INVALID_REQUEST"),
        (r#"{"side":"buy","type":"limit","price":"1","quantity":"1","colour":"red"}"#.into(), 400, "INVALID_REQUEST"),
        (r#"{"side":"buy","type":"limit","price":1,"quantity":"1"}"#.into(), 400, "INVALID_REQUEST"),
        (r#"{"side":"buy","type":"market","price":"50000","quantity":"0.01"}"#.into(), 400, "INVALID_REQUEST"),
        (r#"{"side":"buy","type":"limit","quantity":"0.01"}"#.into(), 400, "INVALID_REQUEST"),
        (order("buy", "50000.05", "0.01"), 400, "INVALID_PRICE"),
        (order("buy", "0", "0.01"), 400, "INVALID_PRICE"),
        (order("buy", "50000", "0.0005"), 400, "INVALID_QUANTITY"),
        (order("buy", "50000", "1000.001"), 400, "INVALID_QUANTITY"),
        (order("buy", "4000", "0.001"), 400, "MIN_NOTIONAL"),
        (order("buy", "52500.1", "0.01"), 400, "PRICE_OUT_OF_BAND"),
        (json!({"side":"buy","type":"limit","quantity":"0.01","price":"40000","client_order_id":"bad id!"}).to_string(), 400, "INVALID_CLIENT_ORDER_ID"),
        (json!({"side":"buy","type":"stop_market","quantity":"0.01","trigger_price":"49000","trigger_by":"mark"}).to_string(), 400, "WOULD_TRIGGER_IMMEDIATELY"),
        (order("buy", "50000", "0.5"), 422, "INSUFFICIENT_MARGIN"),
        (json!({"side":"sell","type":"market","quantity":"0.01","reduce_only":true}).to_string(), 422, "REDUCE_ONLY_REJECTED"),
    ];
    for (body, status, code) in cases {
        rejected!(h, app, a, post(&body), status, code);
    }
    // The book and the open-order cap (3 per account in this config).
    let b = account(&h, &app, "1000000").await;
    call(
        &app,
        h.signed(
            &b,
            "POST",
            "/api/v1/markets/BTC-PERP/orders",
            &order("sell", "50000", "0.01"),
        ),
    )
    .await;
    rejected!(h, app, b, h.signed(&b, "POST", "/api/v1/markets/BTC-PERP/orders", &json!({"side":"buy","type":"limit","quantity":"0.01","price":"50000","time_in_force":"post_only"}).to_string()), 422, "POST_ONLY_WOULD_TAKE");
    rejected!(
        h,
        app,
        b,
        h.signed(
            &b,
            "POST",
            "/api/v1/markets/BTC-PERP/orders",
            &order("buy", "49000", "5.2")
        ),
        422,
        "POSITION_LIMIT_EXCEEDED"
    );
    for p in ["49000", "49001"] {
        assert_eq!(
            call(
                &app,
                h.signed(
                    &b,
                    "POST",
                    "/api/v1/markets/BTC-PERP/orders",
                    &order("buy", p, "0.01")
                )
            )
            .await
            .status,
            201
        );
    }
    rejected!(
        h,
        app,
        b,
        h.signed(
            &b,
            "POST",
            "/api/v1/markets/BTC-PERP/orders",
            &order("buy", "49002", "0.01")
        ),
        422,
        "TOO_MANY_OPEN_ORDERS"
    );
    rejected!(
        h,
        app,
        b,
        h.signed(
            &b,
            "POST",
            "/api/v1/markets/NOPE/orders",
            &order("buy", "49002", "0.01")
        ),
        404,
        "UNKNOWN_MARKET"
    );
    // A duplicate client id of an open order.
    let with_id = json!({"side":"buy","type":"limit","quantity":"0.001","price":"45000","client_order_id":"x:1/a-b.c"}).to_string();
    assert_eq!(call(&app, post(&with_id)).await.status, 201);
    let other = json!({"side":"buy","type":"limit","quantity":"0.002","price":"45000","client_order_id":"x:1/a-b.c"}).to_string();
    rejected!(h, app, a, post(&other), 409, "DUPLICATE_CLIENT_ORDER_ID");
}

#[actix_web::test]
async fn a_stale_index_refuses_new_orders() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    h.clock.advance_ms(11_000);
    h.state
        .ex
        .risk
        .send(perpx::actors::messages::Tick)
        .await
        .unwrap();
    h.state.ex.markets[1]
        .send(perpx::actors::market::query::DepthQuery(1))
        .await
        .unwrap();
    let body = json!({"side":"buy","type":"limit","quantity":"0.01","price":"3000"}).to_string();
    rejected!(
        h,
        app,
        a,
        h.signed(&a, "POST", "/api/v1/markets/ETH-PERP/orders", &body),
        422,
        "INDEX_STALE"
    );
    // A fresh oracle price revives it.
    let r = call(
        &app,
        h.admin(
            "POST",
            "/api/v1/admin/markets/ETH-PERP/index-price",
            r#"{"price":"3000"}"#,
        ),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["index_price"]),
        (200, &json!("3000")),
        "{}",
        r.body
    );
    h.state.ex.markets[1]
        .send(perpx::actors::market::query::DepthQuery(1))
        .await
        .unwrap();
    assert_eq!(
        call(
            &app,
            h.signed(&a, "POST", "/api/v1/markets/ETH-PERP/orders", &body)
        )
        .await
        .status,
        201
    );
}

#[actix_web::test]
async fn cancel_amend_cancel_all_leverage_withdraw() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let b = account(&h, &app, "10000").await;
    let o = call(
        &app,
        h.signed(
            &a,
            "POST",
            "/api/v1/markets/BTC-PERP/orders",
            &order("buy", "49000", "0.1"),
        ),
    )
    .await
    .body;
    let id = o["order_id"].as_u64().unwrap();
    let uri = format!("/api/v1/markets/BTC-PERP/orders/{id}");
    // Another account cannot see or touch it: 404, never 403.
    rejected!(
        h,
        app,
        a,
        h.signed(&b, "GET", &uri, ""),
        404,
        "ORDER_NOT_FOUND"
    );
    rejected!(
        h,
        app,
        a,
        h.signed(&b, "DELETE", &uri, ""),
        404,
        "ORDER_NOT_FOUND"
    );
    rejected!(
        h,
        app,
        a,
        h.signed(&b, "PATCH", &uri, r#"{"quantity":"0.05"}"#),
        404,
        "ORDER_NOT_FOUND"
    );
    // Amend down keeps priority; a total at or below the filled quantity is refused.
    let r = call(&app, h.signed(&a, "PATCH", &uri, r#"{"quantity":"0.05"}"#)).await;
    assert_eq!(
        (r.status, &r.body["quantity"], &r.body["remaining_quantity"]),
        (200, &json!("0.05"), &json!("0.05")),
        "{}",
        r.body
    );
    rejected!(
        h,
        app,
        a,
        h.signed(&a, "PATCH", &uri, r#"{"quantity":"0.05001"}"#),
        400,
        "INVALID_QUANTITY"
    );
    rejected!(
        h,
        app,
        a,
        h.signed(&a, "PATCH", &uri, r#"{}"#),
        400,
        "INVALID_REQUEST"
    );
    let r = call(&app, h.signed(&a, "PATCH", &uri, r#"{"price":"49500.0"}"#)).await;
    assert_eq!(r.body["price"], "49500.0");
    let r = call(&app, h.signed(&a, "DELETE", &uri, "")).await;
    assert_eq!(
        (r.status, &r.body["status"], &r.body["reason"]),
        (200, &json!("cancelled"), &json!("user"))
    );
    rejected!(
        h,
        app,
        a,
        h.signed(&a, "DELETE", &uri, ""),
        409,
        "ORDER_NOT_OPEN"
    );
    let list = call(
        &app,
        h.signed(
            &a,
            "GET",
            "/api/v1/markets/BTC-PERP/orders?status=closed",
            "",
        ),
    )
    .await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(
        call(
            &app,
            h.signed(&a, "GET", "/api/v1/markets/BTC-PERP/orders", "")
        )
        .await
        .body,
        json!([])
    );
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "GET",
            "/api/v1/markets/BTC-PERP/orders?status=maybe",
            ""
        ),
        400,
        "INVALID_REQUEST"
    );
    // Cancel-all.
    let ids: Vec<u64> = futures(&h, &app, &a, 2).await;
    let r = call(
        &app,
        h.signed(&a, "DELETE", "/api/v1/markets/BTC-PERP/orders", ""),
    )
    .await;
    assert_eq!(r.body["cancelled"], json!(ids));
    // Leverage.
    let r = call(
        &app,
        h.signed(
            &a,
            "PUT",
            "/api/v1/markets/BTC-PERP/leverage",
            r#"{"leverage":50}"#,
        ),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["leverage"], &r.body["max_notional"]),
        (200, &json!(50), &json!("250000")),
        "{}",
        r.body
    );
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "PUT",
            "/api/v1/markets/BTC-PERP/leverage",
            r#"{"leverage":101}"#
        ),
        400,
        "INVALID_LEVERAGE"
    );
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "PUT",
            "/api/v1/markets/BTC-PERP/leverage",
            r#"{"leverage":0}"#
        ),
        400,
        "INVALID_LEVERAGE"
    );
    // Any integer out of range is INVALID_LEVERAGE (negative, beyond u32, beyond any
    // integer type); a fraction or a string is a malformed request.
    for body in [
        r#"{"leverage":-1}"#,
        r#"{"leverage":4294967296}"#,
        r#"{"leverage":99999999999999999999999}"#,
    ] {
        rejected!(
            h,
            app,
            a,
            h.signed(&a, "PUT", "/api/v1/markets/BTC-PERP/leverage", body),
            400,
            "INVALID_LEVERAGE"
        );
    }
    for body in [r#"{"leverage":1.5}"#, r#"{"leverage":"10"}"#] {
        rejected!(
            h,
            app,
            a,
            h.signed(&a, "PUT", "/api/v1/markets/BTC-PERP/leverage", body),
            400,
            "INVALID_REQUEST"
        );
    }
    // Withdrawals.
    let r = call(
        &app,
        h.signed(
            &a,
            "POST",
            "/api/v1/account/withdrawals",
            r#"{"amount":"100"}"#,
        ),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["wallet_balance"]),
        (200, &json!("9900")),
        "{}",
        r.body
    );
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "POST",
            "/api/v1/account/withdrawals",
            r#"{"amount":"9900.00000001"}"#
        ),
        422,
        "INSUFFICIENT_BALANCE"
    );
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "POST",
            "/api/v1/account/withdrawals",
            r#"{"amount":"-1"}"#
        ),
        400,
        "INVALID_REQUEST"
    );
}

/// Place `n` resting orders for `c`; returns their ids.
async fn futures<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    n: usize,
) -> Vec<u64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = call(
            app,
            h.signed(
                c,
                "POST",
                "/api/v1/markets/BTC-PERP/orders",
                &order("buy", &format!("4800{i}"), "0.01"),
            ),
        )
        .await;
        ids.push(r.body["order_id"].as_u64().unwrap());
    }
    ids
}

#[actix_web::test]
async fn signatures_are_checked() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let ok = call(&app, h.signed(&a, "GET", "/api/v1/account", "")).await;
    assert_eq!(ok.status, 200);
    let wrong_secret = Creds {
        secret: "00".repeat(32),
        ..a.clone()
    };
    let forged_key = Creds {
        key: a.key.replace(&format!("{}.", a.id), "999."),
        ..a.clone()
    };
    for c in [&wrong_secret, &forged_key] {
        rejected!(
            h,
            app,
            a,
            h.signed(c, "GET", "/api/v1/account", ""),
            401,
            "UNAUTHORIZED"
        );
    }
    // Stale and future timestamps.
    for shift in [-6000i64, 6000] {
        let ts = (h.clock.now_ms() as i64 + shift) as u64;
        let sig = perpx::api::auth::sign(&a.secret, ts, "GET", "/api/v1/account", b"");
        let req = test::TestRequest::get()
            .uri("/api/v1/account")
            .insert_header(("X-API-Key", a.key.as_str()))
            .insert_header(("X-API-Timestamp", ts.to_string()))
            .insert_header(("X-API-Signature", sig))
            .to_request();
        rejected!(h, app, a, req, 401, "UNAUTHORIZED");
    }
    // Body tampering: signed for one body, sent with another.
    let ts = h.clock.now_ms();
    let sig = perpx::api::auth::sign(
        &a.secret,
        ts,
        "POST",
        "/api/v1/account/withdrawals",
        br#"{"amount":"1"}"#,
    );
    let req = test::TestRequest::post()
        .uri("/api/v1/account/withdrawals")
        .insert_header(("X-API-Key", a.key.as_str()))
        .insert_header(("X-API-Timestamp", ts.to_string()))
        .insert_header(("X-API-Signature", sig))
        .set_payload(r#"{"amount":"999"}"#)
        .to_request();
    rejected!(h, app, a, req, 401, "UNAUTHORIZED");
    // The query string is signed too.
    let sig = perpx::api::auth::sign(&a.secret, ts, "GET", "/api/v1/account/fills", b"");
    let req = test::TestRequest::get()
        .uri("/api/v1/account/fills?limit=5")
        .insert_header(("X-API-Key", a.key.as_str()))
        .insert_header(("X-API-Timestamp", ts.to_string()))
        .insert_header(("X-API-Signature", sig))
        .to_request();
    rejected!(h, app, a, req, 401, "UNAUTHORIZED");
    // Missing headers.
    rejected!(
        h,
        app,
        a,
        test::TestRequest::get().uri("/api/v1/account").to_request(),
        401,
        "UNAUTHORIZED"
    );
}

#[actix_web::test]
async fn admin_routes_need_the_token() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    for (method, uri) in [
        ("POST", "/api/v1/admin/accounts"),
        ("POST", "/api/v1/admin/accounts/100/deposits"),
        ("POST", "/api/v1/admin/markets/BTC-PERP/index-price"),
        ("GET", "/api/v1/admin/solvency"),
    ] {
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(uri)
            .insert_header(("Authorization", "Bearer nope"))
            .to_request();
        rejected!(h, app, a, req, 403, "FORBIDDEN");
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(uri)
            .to_request();
        rejected!(h, app, a, req, 401, "UNAUTHORIZED");
    }
    rejected!(
        h,
        app,
        a,
        h.admin(
            "POST",
            "/api/v1/admin/accounts/77777/deposits",
            r#"{"amount":"1"}"#
        ),
        404,
        "ACCOUNT_NOT_FOUND"
    );
    rejected!(
        h,
        app,
        a,
        h.admin(
            "POST",
            "/api/v1/admin/accounts/100/deposits",
            r#"{"amount":"0.000000001"}"#
        ),
        400,
        "INVALID_REQUEST"
    );
    // Only an object (or nothing) creates an account: `[]` once did (schemathesis ST201).
    rejected!(
        h,
        app,
        a,
        h.admin("POST", "/api/v1/admin/accounts", "[]"),
        400,
        "INVALID_REQUEST"
    );
    let big = "x".repeat(70 * 1024);
    rejected!(
        h,
        app,
        a,
        h.admin("POST", "/api/v1/admin/accounts", &big),
        413,
        "PAYLOAD_TOO_LARGE"
    );
}

#[actix_web::test]
async fn rate_limits_answer_429() {
    let h = harness_with(CONFIG, 5, 0, 4096);
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let codes: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(
                call(&app, h.signed(&a, "GET", "/api/v1/account", ""))
                    .await
                    .status,
            );
        }
        v
    };
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 5, "{codes:?}");
    let r = call(&app, h.signed(&a, "GET", "/api/v1/account", "")).await;
    assert_eq!((r.status, r.code()), (429, "RATE_LIMITED"));
}

#[actix_web::test]
async fn a_full_market_answers_503_overloaded() {
    let h = harness_with(CONFIG, 0, 0, 1);
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let held = h.state.ex.market_gates[0].enter().unwrap();
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "POST",
            "/api/v1/markets/BTC-PERP/orders",
            &order("buy", "40000", "0.001")
        ),
        503,
        "OVERLOADED"
    );
    drop(held);
    assert_eq!(
        call(
            &app,
            h.signed(
                &a,
                "POST",
                "/api/v1/markets/BTC-PERP/orders",
                &order("buy", "40000", "0.001")
            )
        )
        .await
        .status,
        201
    );
}

#[actix_web::test]
async fn the_openapi_document_matches_the_router() {
    let h = harness();
    let app = app!(h);
    let doc = call(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/openapi.json")
            .to_request(),
    )
    .await
    .body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let uri = path
                .replace("{symbol}", "BTC-PERP")
                .replace("{order_id}", "1")
                .replace("{client_order_id}", "x")
                .replace("{account_id}", "100");
            let req = test::TestRequest::default()
                .method(method.to_uppercase().parse().unwrap())
                .uri(&uri)
                .to_request();
            let r = call(&app, req).await;
            assert!(
                !matches!(r.code(), "NOT_FOUND") && r.status != 405,
                "{method} {path} is documented but not routed: {}",
                r.body
            );
            let secured = op["security"]
                .as_array()
                .and_then(|s| s.first())
                .and_then(|s| s.as_object())
                .and_then(|o| o.keys().next().cloned());
            match secured.as_deref() {
                Some("api_key") => assert_eq!(r.status, 401, "{method} {path}"),
                // No credentials at all: 401 (a wrong token is 403, see admin_routes).
                Some("admin_token") => assert_eq!(r.status, 401, "{method} {path}"),
                _ => assert!(r.status < 500, "{method} {path}"),
            }
        }
    }
    // The 23 REST routes of the contract (GET /metrics and /ws aside), the income history, the
    // admin list of liquidations, the margin mode, isolated margin and position mode routes, and
    // this document; the API keys (3 routes, 3 admin), admin tokens (3), whoami, the audit log
    // the open orders of every market, and a position's take-profit / stop-loss.
    assert_eq!(operations, 42, "documented operations");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in ["NewOrder", "OrderDto", "AccountDto", "ErrorBody", "Book"] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
    // One branch per family of order types, each with its required fields.
    let branches = schemas["NewOrder"]["oneOf"].as_array().expect("oneOf");
    let required: Vec<&Value> = branches.iter().map(|b| &b["required"]).collect();
    assert_eq!(
        required,
        [
            &json!(["side", "type", "quantity", "price"]),
            &json!(["side", "type", "quantity"]),
            &json!(["side", "type", "quantity", "trigger_price"]),
            &json!(["side", "type", "quantity", "price", "trigger_price"]),
            // close-position stop / take-profit market orders take no quantity
            &json!(["side", "type", "trigger_price", "close_position"]),
        ]
    );
    // The configured markets are the symbols, and every error is documented with its body.
    let place = &doc["paths"]["/api/v1/markets/{symbol}/orders"]["post"];
    assert_eq!(
        place["parameters"][0]["schema"]["enum"],
        json!(["BTC-PERP", "ETH-PERP"])
    );
    for status in ["400", "401", "404", "409", "413", "422", "429", "503"] {
        assert_eq!(
            place["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{status}"
        );
    }
    // Query parameters are query parameters, with their ranges.
    let fills = doc["paths"]["/api/v1/account/fills"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let limit = fills.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(
        (
            &limit["in"],
            &limit["schema"]["minimum"],
            &limit["schema"]["maximum"]
        ),
        (&json!("query"), &json!(1), &json!(1000))
    );
}

/// `GET /api/v1/account/open_orders`: the open orders of every market in one answer, newest
/// first, each naming its market; another account sees none of them; `limit` bounds it.
#[actix_web::test]
async fn open_orders_of_every_market_in_one_request() {
    let h = harness();
    let app = app!(h);
    let (a, b) = (
        account(&h, &app, "100000").await,
        account(&h, &app, "100000").await,
    );
    let mut placed = Vec::new();
    for (symbol, side, price) in [
        ("BTC-PERP", "sell", "60000.0"),
        ("ETH-PERP", "buy", "2500.00"),
        ("BTC-PERP", "buy", "40000.0"),
    ] {
        h.clock.advance_ms(1);
        let r = call(
            &app,
            h.signed(
                &a,
                "POST",
                &format!("/api/v1/markets/{symbol}/orders"),
                &order(side, price, "0.01"),
            ),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
        placed.push((symbol, r.body["order_id"].as_u64().unwrap()));
    }
    let list = |c, q: &str| {
        let req = h.signed(c, "GET", &format!("/api/v1/account/open_orders{q}"), "");
        call(&app, req)
    };
    let r = list(&a, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got: Vec<(String, u64)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["status"], "new");
            (
                o["symbol"].as_str().unwrap().to_owned(),
                o["order_id"].as_u64().unwrap(),
            )
        })
        .collect();
    let newest_first: Vec<(String, u64)> = placed
        .iter()
        .rev()
        .map(|(s, id)| (s.to_string(), *id))
        .collect();
    assert_eq!(got, newest_first);
    assert_eq!(list(&b, "").await.body, json!([]));
    assert_eq!(list(&a, "?limit=2").await.body.as_array().unwrap().len(), 2);
    assert_eq!(list(&a, "?limit=0").await.status, 400);
    // A cancelled order leaves the list.
    let (symbol, id) = placed[1];
    let r = call(
        &app,
        h.signed(
            &a,
            "DELETE",
            &format!("/api/v1/markets/{symbol}/orders/{id}"),
            "",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(list(&a, "").await.body.as_array().unwrap().len(), 2);
}
