//! Isolated margin over the native API (docs/API.md §6, docs/RULES.md §3a): `PUT
//! /markets/{symbol}/margin_mode` and `POST /markets/{symbol}/isolated_margin`, the account
//! object's `cross_wallet_balance` and the positions' `margin_mode` and `isolated_wallet`, with
//! exact figures, every refusal (and proof that it changed nothing), and the `account` channel
//! of the WebSocket carrying the new fields.
//!
//! Figures: the harness's BTC-PERP has its mark at 50,000 (no timers, so it does not move),
//! taker fee 0.05 %, maker fee 0.02 %; the isolated account trades at leverage 10, so 0.1 BTC
//! at 50,000 is a notional of 5,000, an initial margin of 500 and a taker fee of 2.5.

mod api_common;

use actix_web::test;
use api_common::ws::{connect, next, next_where, send};
use api_common::*;
use serde_json::{json, Value};

const BTC: &str = "BTC-PERP";

fn order(side: &str, price: &str, qty: &str) -> String {
    json!({"side": side, "type": "limit", "quantity": qty, "price": price}).to_string()
}

fn mode_body(mode: &str) -> String {
    json!({ "margin_mode": mode }).to_string()
}

fn move_body(amount: &str, direction: &str) -> String {
    json!({"amount": amount, "direction": direction}).to_string()
}

/// A refused request: its status and code, a message, and the book and `c`'s account as
/// they were.
macro_rules! rejected {
    ($h:expr, $app:expr, $c:expr, $req:expr, $status:expr, $code:expr) => {{
        let before = observe(&$h, &$app, &$c).await;
        let r = call(&$app, $req).await;
        assert_eq!((r.status, r.code()), ($status, $code), "{}", r.body);
        assert!(r.body["error"]["message"].is_string(), "{}", r.body);
        assert_eq!(
            observe(&$h, &$app, &$c).await,
            before,
            "a refused request changed state: {}",
            r.body
        );
        r
    }};
}

async fn put_mode<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    symbol: &str,
    mode: &str,
) -> Resp {
    let path = format!("/api/v1/markets/{symbol}/margin_mode");
    call(app, h.signed(c, "PUT", &path, &mode_body(mode))).await
}

fn move_req(h: &Harness, c: &Creds, amount: &str, direction: &str) -> actix_http::Request {
    h.signed(
        c,
        "POST",
        &format!("/api/v1/markets/{BTC}/isolated_margin"),
        &move_body(amount, direction),
    )
}

async fn place<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    body: &str,
) -> Value {
    let path = format!("/api/v1/markets/{BTC}/orders");
    let r = call(app, h.signed(c, "POST", &path, body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

async fn account_of<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
) -> Value {
    let r = call(app, h.signed(c, "GET", "/api/v1/account", "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// The account's figures that isolated margin moves, as the wire shows them.
fn wallets(a: &Value) -> (&str, &str, &str) {
    (
        a["wallet_balance"].as_str().unwrap(),
        a["cross_wallet_balance"].as_str().unwrap(),
        a["positions"][0]["isolated_wallet"].as_str().unwrap_or("-"),
    )
}

#[actix_web::test]
async fn the_margin_mode_switches_and_is_locked_by_an_open_order() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    for (mode, changed) in [
        ("isolated", true),
        ("isolated", false),
        ("cross", true),
        ("cross", false),
    ] {
        let r = put_mode(&h, &app, &a, BTC, mode).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                200,
                json!({"symbol": BTC, "margin_mode": mode, "changed": changed})
            ),
            "{mode}"
        );
    }
    // A market never touched is cross already.
    let r = put_mode(&h, &app, &a, "ETH-PERP", "cross").await;
    assert_eq!((r.status, &r.body["changed"]), (200, &json!(false)));

    // An open order locks the mode, in either direction; cancelling it unlocks it.
    let o = place(&h, &app, &a, &order("buy", "49000.0", "0.01")).await;
    let path = format!("/api/v1/markets/{BTC}/margin_mode");
    let r = rejected!(
        h,
        app,
        a,
        h.signed(&a, "PUT", &path, &mode_body("isolated")),
        409,
        "MARGIN_MODE_LOCKED"
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("open orders"),
        "{}",
        r.body
    );
    let cancel = format!("/api/v1/markets/{BTC}/orders/{}", o["order_id"]);
    assert_eq!(
        call(&app, h.signed(&a, "DELETE", &cancel, "")).await.status,
        200
    );
    let r = put_mode(&h, &app, &a, BTC, "isolated").await;
    assert_eq!((r.status, &r.body["changed"]), (200, &json!(true)));
    // An order placed in isolated mode locks it as well.
    place(&h, &app, &a, &order("buy", "49000.0", "0.01")).await;
    rejected!(
        h,
        app,
        a,
        h.signed(&a, "PUT", &path, &mode_body("cross")),
        409,
        "MARGIN_MODE_LOCKED"
    );
    // The same mode is not a change, locked or not.
    let r = put_mode(&h, &app, &a, BTC, "isolated").await;
    assert_eq!((r.status, &r.body["changed"]), (200, &json!(false)));
}

#[actix_web::test]
async fn malformed_margin_requests_are_400_and_change_nothing() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let mode_path = format!("/api/v1/markets/{BTC}/margin_mode");
    for body in [
        "{not json",
        "[]",
        "{}",
        r#"{"margin_mode":"both"}"#,
        r#"{"margin_mode":"ISOLATED"}"#,
        r#"{"margin_mode":1}"#,
        r#"{"margin_mode":"isolated","leverage":5}"#,
    ] {
        let r = rejected!(
            h,
            app,
            a,
            h.signed(&a, "PUT", &mode_path, body),
            400,
            "INVALID_REQUEST"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid JSON body"),
            "{body}: {}",
            r.body
        );
    }
    let r = call(
        &app,
        h.signed(&a, "PUT", &mode_path, r#"{"margin_mode":"both"}"#),
    )
    .await;
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`cross`") && message.contains("`isolated`"),
        "names the modes: {message}"
    );
    put_mode(&h, &app, &a, BTC, "isolated").await;
    let move_path = format!("/api/v1/markets/{BTC}/isolated_margin");
    for body in [
        "{not json".to_owned(),
        "{}".to_owned(),
        r#"{"amount":"10"}"#.to_owned(),
        r#"{"direction":"add"}"#.to_owned(),
        r#"{"amount":10,"direction":"add"}"#.to_owned(),
        move_body("10", "up"),
        move_body("10", "ADD"),
        move_body("0", "add"),
        move_body("-1", "add"),
        move_body("-1", "reduce"),
        move_body("1e2", "add"),
        move_body("1.000000001", "add"),
        move_body("01", "add"),
        json!({"amount": "1", "direction": "add", "symbol": BTC}).to_string(),
    ] {
        rejected!(
            h,
            app,
            a,
            h.signed(&a, "POST", &move_path, &body),
            400,
            "INVALID_REQUEST"
        );
    }
    let r = call(&app, move_req(&h, &a, "10", "up")).await;
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`add`") && message.contains("`reduce`"),
        "names the directions: {message}"
    );
    // The symbol and the signature come first.
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "PUT",
            "/api/v1/markets/NOPE/margin_mode",
            &mode_body("isolated")
        ),
        404,
        "UNKNOWN_MARKET"
    );
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "POST",
            "/api/v1/markets/NOPE/isolated_margin",
            &move_body("1", "add")
        ),
        404,
        "UNKNOWN_MARKET"
    );
    let unsigned = test::TestRequest::put()
        .uri(&mode_path)
        .set_payload(mode_body("cross"))
        .to_request();
    rejected!(h, app, a, unsigned, 401, "UNAUTHORIZED");
}

#[actix_web::test]
async fn an_isolated_position_holds_its_own_margin_exactly() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let b = account(&h, &app, "100000").await;
    let lev = call(
        &app,
        h.signed(
            &a,
            "PUT",
            &format!("/api/v1/markets/{BTC}/leverage"),
            r#"{"leverage":10}"#,
        ),
    )
    .await;
    assert_eq!(lev.status, 200, "{}", lev.body);
    assert_eq!(
        put_mode(&h, &app, &a, BTC, "isolated").await.body["changed"],
        true
    );
    // Isolated, no position yet: nothing to move.
    rejected!(h, app, a, move_req(&h, &a, "1", "add"), 409, "NO_POSITION");

    // A opens 0.1 long against B's resting sell.
    place(&h, &app, &b, &order("sell", "50000.0", "0.1")).await;
    let o = place(&h, &app, &a, &order("buy", "50000.0", "0.1")).await;
    assert_eq!(
        (&o["status"], &o["fills"][0]["fee"]),
        (&json!("filled"), &json!("2.5"))
    );
    let acc = account_of(&h, &app, &a).await;
    // The cross wallet gave exactly the initial margin (500) and nothing else; the isolated
    // wallet holds it less the taker fee; the wallet balance is both.
    assert_eq!(wallets(&acc), ("9997.5", "9500", "497.5"), "{acc}");
    let p = &acc["positions"][0];
    assert_eq!(
        (
            &p["symbol"],
            &p["quantity"],
            &p["margin_mode"],
            &p["initial_margin"],
            &p["leverage"],
            &p["unrealized_pnl"]
        ),
        (
            &json!(BTC),
            &json!("0.1"),
            &json!("isolated"),
            &json!("500"),
            &json!(10),
            &json!("0")
        )
    );
    assert_eq!(
        (
            &acc["margin_balance"],
            &acc["position_margin"],
            &acc["available_balance"],
            &acc["withdrawable"]
        ),
        (
            &json!("9997.5"),
            &json!("500"),
            &json!("9500"),
            &json!("9500")
        ),
        "totals cover the isolated position; available and withdrawable are the cross pool's"
    );
    // The counterparty is cross: its position says so and its two wallets are one.
    let acc_b = account_of(&h, &app, &b).await;
    assert_eq!(wallets(&acc_b), ("99999", "99999", "0"), "maker fee 1");
    assert_eq!(acc_b["positions"][0]["margin_mode"], "cross");
    assert_eq!(
        put_mode(&h, &app, &b, BTC, "isolated").await.code(),
        "MARGIN_MODE_LOCKED"
    );

    // The mode is locked by the position; B cannot move margin of a cross position.
    let mode_path = format!("/api/v1/markets/{BTC}/margin_mode");
    let r = rejected!(
        h,
        app,
        a,
        h.signed(&a, "PUT", &mode_path, &mode_body("cross")),
        409,
        "MARGIN_MODE_LOCKED"
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("position"));
    rejected!(h, app, b, move_req(&h, &b, "1", "add"), 409, "NOT_ISOLATED");

    // Add 100: the cross wallet gives exactly what the isolated wallet gets.
    let r = call(&app, move_req(&h, &a, "100", "add")).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            200,
            json!({"symbol": BTC, "position_side": "both", "isolated_wallet": "597.5"})
        )
    );
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(wallets(&acc), ("9997.5", "9400", "597.5"));
    assert_eq!(acc["available_balance"], "9400");

    // Reduce: at most down to the initial margin at mark (500), so 97.5 and not a unit more.
    rejected!(
        h,
        app,
        a,
        move_req(&h, &a, "97.50000001", "reduce"),
        422,
        "INSUFFICIENT_ISOLATED_MARGIN"
    );
    let r = call(&app, move_req(&h, &a, "97.5", "reduce")).await;
    assert_eq!(
        (r.status, &r.body["isolated_wallet"]),
        (200, &json!("500")),
        "{}",
        r.body
    );
    assert_eq!(
        wallets(&account_of(&h, &app, &a).await),
        ("9997.5", "9497.5", "500")
    );
    rejected!(
        h,
        app,
        a,
        move_req(&h, &a, "0.00000001", "reduce"),
        422,
        "INSUFFICIENT_ISOLATED_MARGIN"
    );
    // Add: at most the cross wallet's withdrawable (9497.5, nothing else is held).
    rejected!(
        h,
        app,
        a,
        move_req(&h, &a, "9497.50000001", "add"),
        422,
        "INSUFFICIENT_BALANCE"
    );

    // A closes against B's resting buy: the isolated wallet pays its fee (2.5) and what is
    // left (497.5) returns to the cross wallet.
    place(&h, &app, &b, &order("buy", "50000.0", "0.1")).await;
    let o = place(&h, &app, &a, &order("sell", "50000.0", "0.1")).await;
    assert_eq!(
        (&o["status"], &o["fills"][0]["realized_pnl"]),
        (&json!("filled"), &json!("0"))
    );
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(acc["positions"], json!([]), "{acc}");
    assert_eq!(
        (&acc["wallet_balance"], &acc["cross_wallet_balance"]),
        (&json!("9995"), &json!("9995")),
        "10,000 less two taker fees"
    );
    assert_eq!(
        (&acc["available_balance"], &acc["withdrawable"]),
        (&json!("9995"), &json!("9995"))
    );

    // Flat: no position to move margin of; the mode is free again, and cross refuses moves.
    rejected!(h, app, a, move_req(&h, &a, "1", "add"), 409, "NO_POSITION");
    let r = put_mode(&h, &app, &a, BTC, "cross").await;
    assert_eq!((r.status, &r.body["changed"]), (200, &json!(true)));
    rejected!(h, app, a, move_req(&h, &a, "1", "add"), 409, "NOT_ISOLATED");
    // The two moves are in the income history (the fills' own transfers are not).
    let moves = call(
        &app,
        h.signed(&a, "GET", "/api/v1/account/income?type=isolated_margin", ""),
    )
    .await
    .body;
    let amounts: Vec<(&Value, &Value)> = moves
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (&r["amount"], &r["symbol"]))
        .collect();
    assert_eq!(
        amounts,
        [(&json!("-97.5"), &json!(BTC)), (&json!("100"), &json!(BTC))],
        "{moves}"
    );
    let s = call(&app, h.admin("GET", "/api/v1/admin/solvency", "")).await;
    assert_eq!(s.body["conserved"], true, "{}", s.body);
}

/// The OpenAPI document describes both routes exactly: the request bodies as the server
/// enforces them, the modes as an enum, and the refusals on each.
#[actix_web::test]
async fn the_openapi_document_describes_both_routes() {
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
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["MarginModeChange"]["properties"]["margin_mode"]["enum"],
        json!(["cross", "isolated"])
    );
    assert_eq!(
        schemas["IsolatedMarginMove"]["properties"]["direction"]["enum"],
        json!(["add", "reduce"])
    );
    assert_eq!(
        schemas["IsolatedMarginMove"]["required"],
        json!(["amount", "direction"])
    );
    for (name, field) in [
        ("MarginModeSet", "margin_mode"),
        ("PositionDto", "margin_mode"),
    ] {
        assert_eq!(
            schemas[name]["properties"][field]["enum"],
            json!(["cross", "isolated"]),
            "{name}"
        );
    }
    assert!(schemas["AccountDto"]["properties"]["cross_wallet_balance"].is_object());
    assert!(schemas["PositionDto"]["properties"]["isolated_wallet"].is_object());
    for (path, method, codes) in [
        (
            "/api/v1/markets/{symbol}/margin_mode",
            "put",
            &["MARGIN_MODE_LOCKED", "ACCOUNT_IN_LIQUIDATION"][..],
        ),
        (
            "/api/v1/markets/{symbol}/isolated_margin",
            "post",
            &[
                "NOT_ISOLATED",
                "NO_POSITION",
                "INSUFFICIENT_BALANCE",
                "INSUFFICIENT_ISOLATED_MARGIN",
                "ACCOUNT_IN_LIQUIDATION",
            ][..],
        ),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        let described: String = ["400", "409", "422"]
            .iter()
            .map(|s| responses[s]["description"].as_str().unwrap_or_default())
            .collect();
        for code in codes {
            assert!(described.contains(code), "{method} {path}: {code}");
        }
        for status in ["200", "400", "401", "404", "409", "422", "429", "503"] {
            assert!(responses[status].is_object(), "{method} {path}: {status}");
        }
    }
}

/// The `account` channel sends the account object with the new fields, and an isolated
/// margin move sends one.
#[actix_web::test]
async fn the_account_channel_carries_the_isolated_wallets() {
    let h = harness();
    let app = app!(h);
    let addr = serve(&h);
    let a = account(&h, &app, "10000").await;
    let b = account(&h, &app, "100000").await;
    let mut ws = connect(addr, "/ws").await;
    let ts = h.clock.now_ms();
    let sig = perpx::api::auth::sign(&a.secret, ts, "GET", "/ws", b"");
    send(
        &mut ws,
        json!({"op": "auth", "api_key": a.key, "timestamp": ts, "signature": sig}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["account_id"], a.id);
    send(&mut ws, json!({"op": "subscribe", "channel": "account"})).await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");

    call(
        &app,
        h.signed(
            &a,
            "PUT",
            &format!("/api/v1/markets/{BTC}/leverage"),
            r#"{"leverage":10}"#,
        ),
    )
    .await;
    put_mode(&h, &app, &a, BTC, "isolated").await;
    place(&h, &app, &b, &order("sell", "50000.0", "0.1")).await;
    place(&h, &app, &a, &order("buy", "50000.0", "0.1")).await;
    let m = next_where(&mut ws, |m| {
        m["type"] == "account" && m["positions"][0]["quantity"] == "0.1"
    })
    .await;
    assert_eq!(wallets(&m), ("9997.5", "9500", "497.5"), "{m}");
    assert_eq!(m["positions"][0]["margin_mode"], "isolated");
    // A move of isolated margin is pushed too.
    assert_eq!(call(&app, move_req(&h, &a, "2.5", "add")).await.status, 200);
    let m = next_where(&mut ws, |m| {
        m["type"] == "account" && m["positions"][0]["isolated_wallet"] == "500"
    })
    .await;
    assert_eq!(wallets(&m), ("9997.5", "9497.5", "500"), "{m}");
    // The pushed object is the REST one (the mark has not moved since).
    let mut pushed = m.clone();
    pushed.as_object_mut().unwrap().remove("type");
    assert_eq!(pushed, account_of(&h, &app, &a).await);
}
