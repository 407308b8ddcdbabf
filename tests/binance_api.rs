//! The Binance USDⓈ-M dialect over HTTP (`api::binance`): the signature rules, every
//! rejection's Binance code (and that a rejected request changes nothing), and that each
//! Binance answer is the native API's answer for the same account, in Binance's words.

mod api_common;

use actix_web::test::TestRequest;
use api_common::binance::{bn, form_encode, In};
use api_common::*;
use perpx::api::binance::errors::{from_reject, Ctx};
use perpx::domain::reject::NotAmendable;
use perpx::domain::{NumberFault, NumberFaultKind, Reject, RequestFault, Side};
use serde_json::{json, Value};

/// Assert a Binance error (status, code) and that nothing changed.
macro_rules! refused {
    ($h:expr, $app:expr, $c:expr, $req:expr, $status:expr, $code:expr) => {{
        let before = observe(&$h, &$app, &$c).await;
        let r = call(&$app, $req).await;
        assert_eq!(
            (r.status, r.body["code"].as_i64()),
            ($status, Some($code)),
            "{}",
            r.body
        );
        assert!(r.body["msg"].is_string(), "{}", r.body);
        assert_eq!(
            observe(&$h, &$app, &$c).await,
            before,
            "changed state: {}",
            r.body
        );
        r
    }};
}

#[actix_web::test]
async fn signature_rules() {
    let h = harness_with(CONFIG, 1000, 0, 4096);
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let ts = h.clock.now_ms();
    let ok = |r: &Resp| assert_eq!(r.status, 200, "{}", r.body);

    // Query and body forms; the native key pair is the Binance key pair.
    ok(&bn(&h, &app, &a, "GET", "/fapi/v2/balance", "").await);
    ok(&call(
        &app,
        h.bn_in(&a, "POST", "/fapi/v1/listenKey", "", In::Body),
    )
    .await);
    // totalParams = query + body, concatenated without '&'; the signature last in the body.
    let query = "symbol=BTCUSDT";
    let body = format!("leverage=7&timestamp={ts}");
    let sig = perpx::api::binance::auth::sign(&a.secret, query, &body);
    let r = call(
        &app,
        TestRequest::post()
            .uri(&format!("/fapi/v1/leverage?{query}"))
            .insert_header(("X-MBX-APIKEY", a.key.as_str()))
            .set_payload(format!("{body}&signature={sig}"))
            .to_request(),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["leverage"]),
        (200, &json!(7)),
        "{}",
        r.body
    );
    // The hex is case-insensitive.
    let p = format!("timestamp={ts}");
    let upper = perpx::api::binance::auth::sign(&a.secret, &p, "").to_uppercase();
    let raw = format!("{p}&signature={upper}");
    ok(&call(
        &app,
        h.bn_raw(&a, "GET", "/fapi/v2/balance", &raw, In::Query),
    )
    .await);

    let code = |r: Resp| (r.status, r.body["code"].as_i64().unwrap_or(0));
    // The signature must be the last parameter, and cover everything.
    let sig = perpx::api::binance::auth::sign(&a.secret, &p, "");
    let not_last = format!("signature={sig}&{p}");
    assert_eq!(
        code(
            call(
                &app,
                h.bn_raw(&a, "GET", "/fapi/v2/balance", &not_last, In::Query)
            )
            .await
        ),
        (400, -1022)
    );
    let tampered = format!("{p}&symbol=BTCUSDT&signature={sig}");
    assert_eq!(
        code(
            call(
                &app,
                h.bn_raw(&a, "GET", "/fapi/v2/positionRisk", &tampered, In::Query)
            )
            .await
        ),
        (400, -1022)
    );
    // A signature in the query with a body after it is not last.
    let r = TestRequest::post()
        .uri(&format!(
            "/fapi/v1/leverage?symbol=BTCUSDT&timestamp={ts}&signature={sig}"
        ))
        .insert_header(("X-MBX-APIKEY", a.key.as_str()))
        .set_payload("leverage=5")
        .to_request();
    assert_eq!(code(call(&app, r).await), (400, -1022));
    // Another account's secret.
    let b = account(&h, &app, "1000").await;
    let forged = Creds {
        secret: b.secret.clone(),
        ..a.clone()
    };
    assert_eq!(
        code(bn(&h, &app, &forged, "GET", "/fapi/v2/balance", "").await),
        (400, -1022)
    );
    // Missing pieces.
    let unsigned = format!("timestamp={ts}");
    assert_eq!(
        code(
            call(
                &app,
                h.bn_raw(&a, "GET", "/fapi/v2/balance", &unsigned, In::Query)
            )
            .await
        ),
        (400, -1102)
    );
    let no_ts = format!(
        "signature={}",
        perpx::api::binance::auth::sign(&a.secret, "", "")
    );
    assert_eq!(
        code(
            call(
                &app,
                h.bn_raw(&a, "GET", "/fapi/v2/balance", &no_ts, In::Query)
            )
            .await
        ),
        (400, -1102)
    );
    let r = TestRequest::get()
        .uri(&format!(
            "/fapi/v2/balance?{}",
            api_common::binance::signed_params(&a.secret, "", ts)
        ))
        .to_request();
    assert_eq!(code(call(&app, r).await), (401, -2014));
    let unknown = Creds {
        key: "100.0123456789abcdef0123456789abcdef".into(),
        ..a.clone()
    };
    assert_eq!(
        code(bn(&h, &app, &unknown, "GET", "/fapi/v2/balance", "").await),
        (401, -2015)
    );
    // The timestamp window: default 5,000 ms; recvWindow up to 60,000; at most 1 s ahead.
    let at = |params: &str, t: u64| {
        let raw = api_common::binance::signed_params(&a.secret, params, t);
        h.bn_raw(&a, "GET", "/fapi/v2/balance", &raw, In::Query)
    };
    ok(&call(&app, at("", ts - 5000)).await);
    assert_eq!(code(call(&app, at("", ts - 5001)).await), (400, -1021));
    ok(&call(&app, at("recvWindow=60000", ts - 60_000)).await);
    assert_eq!(
        code(call(&app, at("recvWindow=60001", ts)).await),
        (400, -1131)
    );
    ok(&call(&app, at("", ts + 999)).await);
    assert_eq!(code(call(&app, at("", ts + 1000)).await), (400, -1021));
    // USER_STREAM: the key alone.
    let r = TestRequest::post()
        .uri("/fapi/v1/listenKey")
        .insert_header(("X-MBX-APIKEY", a.key.as_str()))
        .to_request();
    ok(&call(&app, r).await);
}

#[actix_web::test]
async fn rate_limits_answer_429_with_minus_1003() {
    let h = harness_with(CONFIG, 2, 0, 4096);
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = bn(&h, &app, &a, "GET", "/fapi/v2/balance", "").await;
        codes.push((r.status, r.body["code"].as_i64()));
    }
    assert!(codes.contains(&(429, Some(-1003))), "{codes:?}");
}

fn off_step() -> NumberFault {
    NumberFault::new(
        NumberFaultKind::OffStep {
            step: rust_decimal::Decimal::new(1, 1),
        },
        "0.05",
    )
}

#[test]
fn every_rejection_has_a_binance_code() {
    use Reject::*;
    let all = [
        InvalidRequest(RequestFault::Edge("x".into())),
        InvalidPrice(off_step()),
        InvalidQuantity(off_step()),
        MinNotional,
        PriceOutOfBand,
        InvalidLeverage,
        InvalidClientOrderId,
        WouldTriggerImmediately,
        UnknownMarket,
        OrderNotFound,
        AccountNotFound,
        DuplicateClientOrderId,
        DuplicateOrderId,
        OrderNotOpen,
        OrderNotAmendable(NotAmendable::Untriggered),
        IndexNotPushable,
        InsufficientMargin,
        InsufficientBalance,
        PostOnlyWouldTake,
        ReduceOnlyRejected,
        PositionLimitExceeded,
        AccountInLiquidation,
        TooManyOpenOrders,
        IndexStale,
        RateLimited,
        Overloaded,
    ];
    let expected = [
        -1102, -4014, -4023, -4164, -4016, -4028, -4015, -2021, -1121, -2013, -2015, -4116, -4116,
        -2013, -5025, -1000, -2019, -2019, -5022, -2022, -2027, -2023, -2025, -2010, -1003, -1008,
    ];
    assert_eq!(all.len(), expected.len());
    for (r, want) in all.iter().zip(expected) {
        let e = from_reject(r, Ctx::Query);
        assert_eq!(e.code, want, "{r:?}");
        assert!(
            e.status.is_client_error() || e.status.as_u16() == 503,
            "{r:?}"
        );
        assert!(!e.msg.is_empty());
    }
    // Per context: an unknown or closed order is -2011 for a cancel, -2013 otherwise; the
    // band is -4016 above (buys) and -4024 below (sells).
    for r in [OrderNotFound, OrderNotOpen] {
        assert_eq!(from_reject(&r, Ctx::Cancel).code, -2011);
        assert_eq!(from_reject(&r, Ctx::Amend).code, -2013);
    }
    assert_eq!(
        from_reject(&PriceOutOfBand, Ctx::Place(Side::Sell, "stopPrice")).code,
        -4024
    );
    assert_eq!(
        from_reject(&PriceOutOfBand, Ctx::Place(Side::Buy, "stopPrice")).code,
        -4016
    );
    // The message texts ccxt maps to its error classes.
    assert_eq!(
        from_reject(&InsufficientMargin, Ctx::Other).msg,
        "Account has insufficient balance for requested action."
    );
    assert_eq!(
        from_reject(&WouldTriggerImmediately, Ctx::Other).msg,
        "Order would trigger immediately."
    );
    assert_eq!(
        from_reject(&PostOnlyWouldTake, Ctx::Other).msg,
        "Order would immediately match and take."
    );
    assert_eq!(
        from_reject(&OrderNotFound, Ctx::Cancel).msg,
        "Unknown order sent."
    );
    assert_eq!(from_reject(&RateLimited, Ctx::Other).status.as_u16(), 429);
}

fn new_order(side: &str, price: &str, qty: &str) -> String {
    format!("symbol=BTCUSDT&side={side}&type=LIMIT&timeInForce=GTC&quantity={qty}&price={price}")
}

#[actix_web::test]
async fn rejections_map_to_binance_codes_and_change_nothing() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &new_order("BUY", "40000", "0.001"),
    )
    .await;
    let place = |p: &str| h.bn(&a, "POST", "/fapi/v1/order", p);
    let cases: Vec<(String, u16, i64)> = vec![
        ("symbol=NOPE&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=1".into(), 400, -1121),
        (new_order("HOLD", "40000", "0.01"), 400, -1117),
        ("symbol=BTCUSDT&side=BUY&type=ICEBERG&quantity=0.01".into(), 400, -1116),
        ("symbol=BTCUSDT&side=BUY&type=TRAILING_STOP_MARKET&quantity=0.01&callbackRate=1".into(), 400, -1116),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.01&price=40000".into(), 400, -1102),
        ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTD&quantity=0.01&price=40000".into(), 400, -1130),
        ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&price=40000".into(), 400, -1106),
        (format!("{}&colour=red", new_order("BUY", "40000", "0.01")), 400, -1104),
        (format!("{}&positionSide=LONG", new_order("BUY", "40000", "0.01")), 400, -4061),
        (new_order("BUY", "40000.05", "0.01"), 400, -1111),
        (new_order("BUY", "0", "0.01"), 400, -4001),
        // Outside Binance's decimal rule (sign, exponent): -1100 as on Binance.
        (new_order("BUY", "-40000", "0.01"), 400, -1100),
        (new_order("BUY", "40000", "1e-2"), 400, -1100),
        (new_order("BUY", "40000.", "0.01"), 400, -1100),
        // Inside Binance's rule, beyond perpx's digit limits.
        (new_order("BUY", "1000000000000", "0.01"), 400, -4002),
        (new_order("BUY", "40000", "0.0005"), 400, -1111),
        (new_order("BUY", "40000", "1000.001"), 400, -4005),
        (new_order("BUY", "4000", "0.001"), 400, -4164),
        (new_order("BUY", "52500.1", "0.01"), 400, -4016),
        (new_order("SELL", "47499.9", "0.01"), 400, -4024),
        (format!("{}&newClientOrderId=bad%20id!", new_order("BUY", "40000", "0.01")), 400, -4015),
        ("symbol=BTCUSDT&side=BUY&type=STOP_MARKET&quantity=0.01&stopPrice=49000&workingType=MARK_PRICE".into(), 400, -2021),
        (new_order("BUY", "50000", "0.5"), 400, -2019),
        ("symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.01&reduceOnly=true".into(), 400, -2022),
    ];
    for (params, status, code) in cases {
        refused!(h, app, a, place(&params), status, code);
    }
    // Queries and cancels of unknown orders: -2013 and -2011.
    refused!(
        h,
        app,
        a,
        h.bn(&a, "GET", "/fapi/v1/order", "symbol=BTCUSDT&orderId=999"),
        400,
        -2013
    );
    refused!(
        h,
        app,
        a,
        h.bn(&a, "DELETE", "/fapi/v1/order", "symbol=BTCUSDT&orderId=999"),
        400,
        -2011
    );
    refused!(
        h,
        app,
        a,
        h.bn(
            &a,
            "DELETE",
            "/fapi/v1/order",
            "symbol=BTCUSDT&origClientOrderId=nope"
        ),
        400,
        -2011
    );
    refused!(
        h,
        app,
        a,
        h.bn(
            &a,
            "PUT",
            "/fapi/v1/order",
            "symbol=BTCUSDT&orderId=999&side=BUY&quantity=0.01&price=40000"
        ),
        400,
        -2013
    );
    refused!(
        h,
        app,
        a,
        h.bn(
            &a,
            "POST",
            "/fapi/v1/leverage",
            "symbol=BTCUSDT&leverage=101"
        ),
        400,
        -4028
    );
    // Margin and position modes: the one in force is "no need to change"; isolated margin is
    // refused while the account has open orders in the symbol (-4047), hedge mode while it
    // has open orders anywhere (-4067).
    let r = refused!(
        h,
        app,
        a,
        h.bn(
            &a,
            "POST",
            "/fapi/v1/marginType",
            "symbol=BTCUSDT&marginType=CROSSED"
        ),
        400,
        -4046
    );
    assert_eq!(r.body["msg"], "No need to change margin type.");
    refused!(
        h,
        app,
        a,
        h.bn(
            &a,
            "POST",
            "/fapi/v1/marginType",
            "symbol=BTCUSDT&marginType=ISOLATED"
        ),
        400,
        -4047
    );
    refused!(
        h,
        app,
        a,
        h.bn(
            &a,
            "POST",
            "/fapi/v1/positionSide/dual",
            "dualSidePosition=false"
        ),
        400,
        -4059
    );
    refused!(
        h,
        app,
        a,
        h.bn(
            &a,
            "POST",
            "/fapi/v1/positionSide/dual",
            "dualSidePosition=true"
        ),
        400,
        -4067
    );

    // Against a counterparty: post-only that would take, FOK that cannot fill, the
    // open-order cap (3 per account here), a duplicate client order id.
    let b = account(&h, &app, "1000000").await;
    let c = account(&h, &app, "1000000").await;
    bn(
        &h,
        &app,
        &c,
        "POST",
        "/fapi/v1/order",
        &new_order("SELL", "50000", "0.01"),
    )
    .await;
    let place_b = |p: &str| h.bn(&b, "POST", "/fapi/v1/order", p);
    refused!(
        h,
        app,
        b,
        place_b("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTX&quantity=0.01&price=50000"),
        400,
        -5022
    );
    // perpx records the FOK as expired (natively visible); Binance answers -5021.
    let r = call(
        &app,
        place_b("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=FOK&quantity=0.02&price=50000"),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].as_i64()),
        (400, Some(-5021)),
        "{}",
        r.body
    );
    let closed = call(
        &app,
        h.signed(
            &b,
            "GET",
            "/api/v1/markets/BTC-PERP/orders?status=closed",
            "",
        ),
    )
    .await
    .body;
    assert_eq!(
        (&closed[0]["status"], &closed[0]["reason"]),
        (&json!("expired"), &json!("fok_unfillable"))
    );
    for p in ["49000", "49001", "49002"] {
        let r = call(&app, place_b(&new_order("BUY", p, "0.01"))).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    refused!(
        h,
        app,
        b,
        place_b(&new_order("BUY", "49003", "0.01")),
        400,
        -2025
    );
    let with_id = format!(
        "{}&newClientOrderId=x:1/a-b.c",
        new_order("BUY", "45000", "0.001")
    );
    assert_eq!(call(&app, place(&with_id)).await.status, 200);
    let other = format!(
        "{}&newClientOrderId=x:1/a-b.c",
        new_order("BUY", "45000", "0.002")
    );
    refused!(h, app, a, place(&other), 400, -4116);
    // What ccxt sends: zeros that carry no value are fine (Binance's rule), the order is the
    // same as without them (a fresh account: the market allows 3 open orders each).
    let c = account(&h, &app, "1000").await;
    let place = |p: &str| h.bn(&c, "POST", "/fapi/v1/order", p);
    let r = call(&app, place(&new_order("BUY", "045000.00", "0.0010"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["price"].as_str(), r.body["origQty"].as_str()),
        (Some("45000.0"), Some("0.001")),
        "{}",
        r.body
    );
    // An untriggered stop cannot be modified: Binance's modify takes LIMIT orders only.
    let stop = call(
        &app,
        place("symbol=BTCUSDT&side=BUY&type=STOP_MARKET&quantity=0.01&stopPrice=51000"),
    )
    .await;
    assert_eq!(stop.status, 200, "{}", stop.body);
    let modify = format!(
        "symbol=BTCUSDT&orderId={}&side=BUY&quantity=0.01&price=50000",
        stop.body["orderId"]
    );
    refused!(
        h,
        app,
        c,
        h.bn(&c, "PUT", "/fapi/v1/order", &modify),
        400,
        -5025
    );
    // A wrong method on a Binance route is Binance's answer, not the native 405.
    let r = bn(&h, &app, &a, "PATCH", "/fapi/v1/order", "symbol=BTCUSDT").await;
    assert_eq!(
        (r.status, r.body["code"].as_i64()),
        (405, Some(-5000)),
        "{}",
        r.body
    );
    // Unknown paths and bad parameters keep the Binance shape.
    let r = call(&app, h.bn_public("/fapi/v1/nothing")).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (404, Some(-5000)));
    let r = call(&app, h.bn_public("/fapi/v1/depth?symbol=BTCUSDT&limit=0")).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(-1130)));
    let r = call(
        &app,
        h.bn_public("/fapi/v1/klines?symbol=BTCUSDT&interval=2m"),
    )
    .await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(-1120)));
}

#[actix_web::test]
async fn orders_are_the_native_orders_in_binance_words() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "100000").await;
    // A resting order, then a taker that fills it in part.
    let r = call(
        &app,
        h.bn(
            &a,
            "POST",
            "/fapi/v1/order",
            &format!(
                "{}&newClientOrderId=mk-1",
                new_order("SELL", "50000", "0.03")
            ),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["orderId"].as_u64().unwrap();
    assert_eq!(
        (
            &r.body["status"],
            &r.body["clientOrderId"],
            &r.body["price"],
            &r.body["origQty"],
            &r.body["timeInForce"],
            &r.body["type"],
            &r.body["positionSide"]
        ),
        (
            &json!("NEW"),
            &json!("mk-1"),
            &json!("50000.0"),
            &json!("0.03"),
            &json!("GTC"),
            &json!("LIMIT"),
            &json!("BOTH")
        )
    );
    let r = bn(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newOrderRespType=RESULT",
    )
    .await;
    assert_eq!(
        (
            &r.body["status"],
            &r.body["executedQty"],
            &r.body["avgPrice"],
            &r.body["cumQuote"]
        ),
        (
            &json!("FILLED"),
            &json!("0.01"),
            &json!("50000"),
            &json!("500")
        ),
        "{}",
        r.body
    );
    // The same order, natively and in Binance form.
    let native = call(
        &app,
        h.signed(
            &a,
            "GET",
            &format!("/api/v1/markets/BTC-PERP/orders/{id}"),
            "",
        ),
    )
    .await
    .body;
    let by_client = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/order",
        "symbol=BTCUSDT&origClientOrderId=mk-1",
    )
    .await
    .body;
    assert_eq!(by_client["orderId"], json!(id));
    assert_eq!(by_client["status"], "PARTIALLY_FILLED");
    assert_eq!(by_client["executedQty"], native["filled_quantity"]);
    assert_eq!(by_client["avgPrice"], native["average_price"]);
    assert_eq!(by_client["updateTime"], native["updated_at"]);
    // Modify: price and new total quantity, as a native amend.
    let r = bn(
        &h,
        &app,
        &a,
        "PUT",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&orderId={id}&side=SELL&quantity=0.05&price=50001"),
    )
    .await;
    assert_eq!(
        (&r.body["price"], &r.body["origQty"]),
        (&json!("50001.0"), &json!("0.05")),
        "{}",
        r.body
    );
    let native = call(
        &app,
        h.signed(
            &a,
            "GET",
            &format!("/api/v1/markets/BTC-PERP/orders/{id}"),
            "",
        ),
    )
    .await
    .body;
    assert_eq!(
        (&native["price"], &native["quantity"]),
        (&json!("50001.0"), &json!("0.05"))
    );
    // Open orders, user trades, then a cancel and all orders.
    let open = bn(&h, &app, &a, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT")
        .await
        .body;
    assert_eq!(open.as_array().unwrap().len(), 1);
    // An order placed without a client id is shown, and found, as `perpx-<orderId>`.
    let r = bn(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &new_order("BUY", "40000", "0.001"),
    )
    .await;
    let implicit = format!("perpx-{}", r.body["orderId"]);
    assert_eq!(r.body["clientOrderId"], implicit.as_str());
    let q = bn(
        &h,
        &app,
        &b,
        "GET",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&origClientOrderId={implicit}"),
    )
    .await;
    assert_eq!(q.body["orderId"], r.body["orderId"], "{}", q.body);
    let c = bn(
        &h,
        &app,
        &b,
        "DELETE",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&origClientOrderId={implicit}"),
    )
    .await;
    assert_eq!(c.body["status"], "CANCELED", "{}", c.body);
    let fills = call(&app, h.signed(&a, "GET", "/api/v1/account/fills", ""))
        .await
        .body;
    let trades = bn(&h, &app, &a, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT")
        .await
        .body;
    assert_eq!(trades.as_array().unwrap().len(), 1);
    let (t, f) = (&trades[0], &fills[0]);
    assert_eq!(
        (
            &t["id"],
            &t["orderId"],
            &t["price"],
            &t["qty"],
            &t["commission"],
            &t["realizedPnl"],
            &t["maker"],
            &t["buyer"]
        ),
        (
            &f["trade_id"],
            &f["order_id"],
            &f["price"],
            &f["quantity"],
            &f["fee"],
            &f["realized_pnl"],
            &json!(true),
            &json!(false)
        )
    );
    let r = bn(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&orderId={id}"),
    )
    .await;
    assert_eq!(r.body["status"], "CANCELED", "{}", r.body);
    // Cancelling it again: the order is closed, -2011.
    let r = bn(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&orderId={id}"),
    )
    .await;
    assert_eq!(r.body["code"], -2011);
    let all = bn(&h, &app, &a, "GET", "/fapi/v1/allOrders", "symbol=BTCUSDT")
        .await
        .body;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["status"], "CANCELED");

    // Batches: one good item, one refused, each answered in order.
    let batch = json!([
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "49000"},
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "49000.05"}
    ]);
    let enc: String = form_encode(&batch.to_string());
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/batchOrders",
        &format!("batchOrders={enc}"),
    )
    .await;
    assert_eq!(r.body[0]["status"], "NEW", "{}", r.body);
    assert_eq!(r.body[1]["code"], -1111, "{}", r.body);
    let bid = r.body[0]["orderId"].as_u64().unwrap();
    let list = form_encode(&format!("[{bid},999]"));
    let r = bn(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/batchOrders",
        &format!("symbol=BTCUSDT&orderIdList={list}"),
    )
    .await;
    assert_eq!(
        (&r.body[0]["status"], &r.body[1]["code"]),
        (&json!("CANCELED"), &json!(-2011)),
        "{}",
        r.body
    );

    // A batch modify, and the commission rates of the spec.
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &new_order("BUY", "48000", "0.01"),
    )
    .await;
    let mid = r.body["orderId"].as_u64().unwrap();
    let batch = form_encode(&json!([{"symbol": "BTCUSDT", "orderId": mid, "side": "BUY", "quantity": "0.02", "price": "48100"}]).to_string());
    let r = bn(
        &h,
        &app,
        &a,
        "PUT",
        "/fapi/v1/batchOrders",
        &format!("batchOrders={batch}"),
    )
    .await;
    assert_eq!(
        (&r.body[0]["price"], &r.body[0]["origQty"]),
        (&json!("48100.0"), &json!("0.02")),
        "{}",
        r.body
    );
    let fees = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/commissionRate",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    assert_eq!(
        (&fees["makerCommissionRate"], &fees["takerCommissionRate"]),
        (&json!("0.0002"), &json!("0.0005"))
    );
    bn(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&orderId={mid}"),
    )
    .await;

    // Conditional orders through the algo API are native trigger orders.
    let r = bn(&h, &app, &a, "POST", "/fapi/v1/algoOrder", "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&quantity=0.01&triggerPrice=45000&clientAlgoId=stop-1").await;
    assert_eq!(
        (
            &r.body["algoStatus"],
            &r.body["orderType"],
            &r.body["triggerPrice"]
        ),
        (&json!("NEW"), &json!("STOP_MARKET"), &json!("45000.0")),
        "{}",
        r.body
    );
    let algo_id = r.body["algoId"].as_u64().unwrap();
    let native = call(
        &app,
        h.signed(
            &a,
            "GET",
            "/api/v1/markets/BTC-PERP/orders/by-client-id/stop-1",
            "",
        ),
    )
    .await
    .body;
    assert_eq!(
        (&native["status"], &native["trigger_price"]),
        (&json!("untriggered"), &json!("45000.0"))
    );
    let open = bn(&h, &app, &a, "GET", "/fapi/v1/openAlgoOrders", "")
        .await
        .body;
    assert_eq!(open[0]["algoId"], json!(algo_id), "{open}");
    let r = bn(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/algoOrder",
        &format!("algoId={algo_id}"),
    )
    .await;
    assert_eq!(r.body["code"], "200", "{}", r.body);
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/algoOrder",
        "clientAlgoId=stop-1",
    )
    .await;
    assert_eq!(r.body["algoStatus"], "CANCELED", "{}", r.body);
    // Cancel all.
    bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &new_order("BUY", "48000", "0.01"),
    )
    .await;
    let r = bn(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/allOpenOrders",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(r.body["code"], 200);
    let open = call(
        &app,
        h.signed(&a, "GET", "/api/v1/markets/BTC-PERP/orders", ""),
    )
    .await
    .body;
    assert_eq!(open, json!([]));
}

#[actix_web::test]
async fn account_positions_and_market_data_match_the_native_api() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "100000").await;
    bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/leverage",
        "symbol=BTCUSDT&leverage=10",
    )
    .await;
    bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &new_order("SELL", "50000", "0.2"),
    )
    .await;
    bn(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.05",
    )
    .await;
    bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &new_order("BUY", "49000", "0.1"),
    )
    .await;

    let native = call(&app, h.signed(&a, "GET", "/api/v1/account", ""))
        .await
        .body;
    let v3 = bn(&h, &app, &a, "GET", "/fapi/v3/account", "").await.body;
    let pairs = [
        ("totalWalletBalance", "wallet_balance"),
        ("totalUnrealizedProfit", "unrealized_pnl"),
        ("totalMarginBalance", "margin_balance"),
        ("totalPositionInitialMargin", "position_margin"),
        ("totalOpenOrderInitialMargin", "order_margin"),
        ("totalMaintMargin", "maintenance_margin"),
        ("availableBalance", "available_balance"),
        ("maxWithdrawAmount", "withdrawable"),
    ];
    for (bn, nat) in pairs {
        assert_eq!(v3[bn], native[nat], "{bn} vs {nat}");
    }
    assert!(v3["assets"][0]["updateTime"].as_u64().unwrap() > 0);
    let p = &native["positions"][0];
    assert_eq!(v3["positions"][0]["positionAmt"], p["quantity"]);
    let risk = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v3/positionRisk",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    let r = &risk[0];
    assert_eq!(
        (
            &r["positionAmt"],
            &r["entryPrice"],
            &r["markPrice"],
            &r["unRealizedProfit"],
            &r["notional"],
            &r["positionInitialMargin"],
            &r["maintMargin"]
        ),
        (
            &p["quantity"],
            &p["entry_price"],
            &p["mark_price"],
            &p["unrealized_pnl"],
            &p["notional"],
            &p["initial_margin"],
            &p["maintenance_margin"]
        )
    );
    assert_eq!(
        r["openOrderInitialMargin"], native["order_margin"],
        "all open orders are in BTC"
    );
    let v2 = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    assert_eq!(
        (&v2[0]["leverage"], &v2[0]["marginType"]),
        (&json!("10"), &json!("cross"))
    );
    let cfg = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/symbolConfig",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    assert_eq!(cfg[0]["leverage"], 10);
    let bal = bn(&h, &app, &a, "GET", "/fapi/v2/balance", "").await.body;
    assert_eq!(bal[0]["balance"], native["wallet_balance"]);
    let brackets = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/leverageBracket",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    assert_eq!(brackets["brackets"][1]["notionalFloor"], 60000);
    assert_eq!(brackets["brackets"][1]["cum"].as_f64(), Some(60.0));

    // Public data: the book sequence, trades, candles and the 24 h volume are native.
    let book = call(&app, h.bn_public("/api/v1/markets/BTC-PERP/book?depth=5"))
        .await
        .body;
    let depth = call(&app, h.bn_public("/fapi/v1/depth?symbol=BTCUSDT&limit=5"))
        .await
        .body;
    assert_eq!(depth["lastUpdateId"], book["sequence"]);
    assert_eq!(
        (&depth["bids"], &depth["asks"]),
        (&book["bids"], &book["asks"])
    );
    let trades = call(&app, h.bn_public("/api/v1/markets/BTC-PERP/trades"))
        .await
        .body;
    let agg = call(&app, h.bn_public("/fapi/v1/aggTrades?symbol=BTCUSDT"))
        .await
        .body;
    assert_eq!(agg[0]["a"], trades[0]["trade_id"]);
    assert_eq!(
        (&agg[0]["p"], &agg[0]["m"]),
        (&trades[0]["price"], &json!(false))
    );
    let candles = call(
        &app,
        h.bn_public("/api/v1/markets/BTC-PERP/candles?interval=1m"),
    )
    .await
    .body;
    let klines = call(
        &app,
        h.bn_public("/fapi/v1/klines?symbol=BTCUSDT&interval=1m"),
    )
    .await
    .body;
    let (c, k) = (&candles[0], &klines[0]);
    assert_eq!(
        (&k[0], &k[1], &k[4], &k[5], &k[8]),
        (
            &c["open_time"],
            &c["open"],
            &c["close"],
            &c["volume"],
            &c["trades"]
        )
    );
    assert_eq!(
        (&k[7], &k[9], &k[10]),
        (&json!("2500"), &json!("0.05"), &json!("2500")),
        "quote and taker-buy volumes"
    );
    let market = call(&app, h.bn_public("/api/v1/markets/BTC-PERP"))
        .await
        .body;
    let t = call(&app, h.bn_public("/fapi/v1/ticker/24hr?symbol=BTCUSDT"))
        .await
        .body;
    assert_eq!(
        (
            &t["volume"],
            &t["lastPrice"],
            &t["quoteVolume"],
            &t["weightedAvgPrice"]
        ),
        (
            &market["volume_24h"],
            &market["last_price"],
            &json!("2500"),
            &json!("50000")
        )
    );
    let pi = call(&app, h.bn_public("/fapi/v1/premiumIndex?symbol=BTCUSDT"))
        .await
        .body;
    assert_eq!(
        (&pi["markPrice"], &pi["indexPrice"]),
        (&market["mark_price"], &market["index_price"])
    );
    let all = call(&app, h.bn_public("/fapi/v1/premiumIndex")).await.body;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let oi = call(&app, h.bn_public("/fapi/v1/openInterest?symbol=BTCUSDT"))
        .await
        .body;
    assert_eq!(oi["openInterest"], market["open_interest"]);
    let info = call(&app, h.bn_public("/fapi/v1/exchangeInfo")).await.body;
    let s = &info["symbols"][0];
    assert_eq!(
        (
            &s["symbol"],
            &s["contractType"],
            &s["status"],
            &s["marginAsset"]
        ),
        (
            &json!("BTCUSDT"),
            &json!("PERPETUAL"),
            &json!("TRADING"),
            &json!("USDT")
        )
    );
    let filters = s["filters"].as_array().unwrap();
    let f = |t: &str| {
        filters
            .iter()
            .find(|f| f["filterType"] == t)
            .unwrap()
            .clone()
    };
    assert_eq!(f("PRICE_FILTER")["tickSize"], "0.1");
    assert_eq!(
        (
            f("LOT_SIZE")["stepSize"].clone(),
            f("LOT_SIZE")["minQty"].clone()
        ),
        (json!("0.001"), json!("0.001"))
    );
    assert_eq!(f("MIN_NOTIONAL")["notional"], "5");
    assert_eq!(f("MAX_NUM_ORDERS")["limit"], 3);
}

#[actix_web::test]
async fn income_is_the_native_income_history() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "100000").await;
    bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &new_order("SELL", "50000", "0.02"),
    )
    .await;
    bn(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.02",
    )
    .await;
    // a buys back lower: realized PnL (50000 − 49000) × 0.01 = 10.
    bn(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &new_order("SELL", "49000", "0.01"),
    )
    .await;
    bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01",
    )
    .await;
    let v = bn(&h, &app, &a, "GET", "/fapi/v1/income", "").await.body;
    let rows = v.as_array().unwrap();
    let types: Vec<&str> = rows
        .iter()
        .map(|r| r["incomeType"].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "TRANSFER", "the deposit first: {v}");
    assert!(types.contains(&"COMMISSION"), "{v}");
    let pnl: Vec<&Value> = rows
        .iter()
        .filter(|r| r["incomeType"] == "REALIZED_PNL")
        .collect();
    assert_eq!((pnl.len(), &pnl[0]["income"]), (1, &json!("10")), "{v}");
    // Ascending ids; the flows sum to the wallet balance.
    let ids: Vec<u64> = rows.iter().map(|r| r["tranId"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let sum: rust_decimal::Decimal = rows
        .iter()
        .map(|r| {
            r["income"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    let native = call(&app, h.signed(&a, "GET", "/api/v1/account", ""))
        .await
        .body;
    assert_eq!(
        sum.normalize().to_string(),
        native["wallet_balance"].as_str().unwrap()
    );
    // Filters: type, symbol, a type perpx never records, garbage.
    let fees = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/income",
        "incomeType=COMMISSION&symbol=BTCUSDT",
    )
    .await
    .body;
    assert!(fees
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["incomeType"] == "COMMISSION"
            && r["symbol"] == "BTCUSDT"
            && r["tradeId"] != ""));
    assert_eq!(fees.as_array().unwrap().len(), 2, "{fees}");
    let none = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/income",
        "incomeType=WELCOME_BONUS",
    )
    .await
    .body;
    assert_eq!(none, json!([]));
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/income",
        "incomeType=FREE_MONEY",
    )
    .await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(-1102)));
    let last = bn(&h, &app, &a, "GET", "/fapi/v1/income", "limit=1")
        .await
        .body;
    assert_eq!(last[0]["tranId"], json!(*ids.last().unwrap()));
}
