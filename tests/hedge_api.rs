//! Hedge (dual-side) position mode over the native API (docs/API.md §5–§6, docs/RULES.md §3b):
//! `PUT /account/position_mode`, `position_side` on orders, positions, fills and isolated margin
//! moves, every refusal (and proof that it changed nothing), and the WebSocket's private
//! channels carrying the legs.
//!
//! Figures: the harness's BTC-PERP has its mark at 50,000 (no timers, so it does not move),
//! taker fee 0.05 %, maker fee 0.02 %. The hedge account `a` always takes; its counterparty `b`
//! (one-way) rests the other side first.

mod api_common;

use actix_web::test;
use api_common::ws::{connect, next, next_where, send};
use api_common::*;
use serde_json::{json, Value};

const BTC: &str = "BTC-PERP";

fn order(side: &str, price: &str, qty: &str) -> Value {
    json!({"side": side, "type": "limit", "quantity": qty, "price": price})
}

/// `order` on a position side.
fn leg_order(side: &str, leg: &str, price: &str, qty: &str) -> Value {
    let mut o = order(side, price, qty);
    o["position_side"] = json!(leg);
    o
}

fn orders_path() -> String {
    format!("/api/v1/markets/{BTC}/orders")
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

fn mode_req(h: &Harness, c: &Creds, body: &str) -> actix_http::Request {
    h.signed(c, "PUT", "/api/v1/account/position_mode", body)
}

async fn put_mode<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    mode: &str,
) -> Resp {
    call(
        app,
        mode_req(h, c, &json!({ "position_mode": mode }).to_string()),
    )
    .await
}

async fn place<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    body: &Value,
) -> Value {
    let r = call(app, h.signed(c, "POST", &orders_path(), &body.to_string())).await;
    assert_eq!(r.status, 201, "{body}: {}", r.body);
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

/// The account's positions as (symbol, position_side, quantity).
fn legs(a: &Value) -> Vec<(String, String, String)> {
    a["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["symbol"].as_str().unwrap().to_owned(),
                p["position_side"].as_str().unwrap().to_owned(),
                p["quantity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn leg(side: &str, qty: &str) -> (String, String, String) {
    (BTC.to_owned(), side.to_owned(), qty.to_owned())
}

/// The position of `a` on `side` in BTC.
fn position<'a>(a: &'a Value, side: &str) -> &'a Value {
    a["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == BTC && p["position_side"] == side)
        .unwrap_or_else(|| panic!("no {side} position in {a}"))
}

async fn solvent<S: TestApp<B>, B: actix_web::body::MessageBody>(h: &Harness, app: &S) {
    let s = call(app, h.admin("GET", "/api/v1/admin/solvency", "")).await;
    assert_eq!(s.body["conserved"], true, "{}", s.body);
}

#[actix_web::test]
async fn the_position_mode_switches_and_is_locked_by_an_open_order_or_a_position() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let b = account(&h, &app, "100000").await;
    assert_eq!(account_of(&h, &app, &a).await["position_mode"], "one_way");
    for (mode, changed) in [
        ("hedge", true),
        ("hedge", false),
        ("one_way", true),
        ("one_way", false),
        ("hedge", true),
    ] {
        let r = put_mode(&h, &app, &a, mode).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (200, json!({"position_mode": mode, "changed": changed})),
            "{mode}"
        );
        assert_eq!(account_of(&h, &app, &a).await["position_mode"], mode);
    }

    // An open order in any market locks the mode, either way; the message says why.
    let eth = "/api/v1/markets/ETH-PERP/orders";
    let body = leg_order("buy", "long", "2900.00", "0.1").to_string();
    let r = call(&app, h.signed(&a, "POST", eth, &body)).await;
    assert_eq!((r.status, &r.body["position_side"]), (201, &json!("long")));
    let r = rejected!(
        h,
        app,
        a,
        mode_req(&h, &a, r#"{"position_mode":"one_way"}"#),
        409,
        "POSITION_MODE_LOCKED"
    );
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("open orders"), "{message}");
    // The same mode is not a change, locked or not.
    let r = put_mode(&h, &app, &a, "hedge").await;
    assert_eq!((r.status, &r.body["changed"]), (200, &json!(false)));
    let cancel = format!(
        "{eth}/{}",
        r_id(&call(&app, h.signed(&a, "GET", eth, "")).await)
    );
    assert_eq!(
        call(&app, h.signed(&a, "DELETE", &cancel, "")).await.status,
        200
    );

    // A position locks it too (and b, one-way with a position, cannot switch either).
    place(&h, &app, &b, &order("sell", "50000.0", "0.01")).await;
    place(&h, &app, &a, &leg_order("buy", "long", "50000.0", "0.01")).await;
    let r = rejected!(
        h,
        app,
        a,
        mode_req(&h, &a, r#"{"position_mode":"one_way"}"#),
        409,
        "POSITION_MODE_LOCKED"
    );
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("position"), "{message}");
    rejected!(
        h,
        app,
        b,
        mode_req(&h, &b, r#"{"position_mode":"hedge"}"#),
        409,
        "POSITION_MODE_LOCKED"
    );

    // Flat again (the long closed by sell + long): the mode is free.
    place(&h, &app, &b, &order("buy", "50000.0", "0.01")).await;
    let o = place(&h, &app, &a, &leg_order("sell", "long", "50000.0", "0.01")).await;
    assert_eq!(o["status"], "filled", "{o}");
    assert_eq!(account_of(&h, &app, &a).await["positions"], json!([]));
    let r = put_mode(&h, &app, &a, "one_way").await;
    assert_eq!(
        (r.status, r.body),
        (200, json!({"position_mode": "one_way", "changed": true}))
    );
    solvent(&h, &app).await;
}

/// The id of the only order in a list answer.
fn r_id(r: &Resp) -> u64 {
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.body);
    list[0]["order_id"].as_u64().unwrap()
}

#[actix_web::test]
async fn malformed_position_mode_requests_are_400_and_change_nothing() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    for body in [
        "{not json",
        "[]",
        "{}",
        r#"{"position_mode":"both"}"#,
        r#"{"position_mode":"HEDGE"}"#,
        r#"{"position_mode":"dual"}"#,
        r#"{"position_mode":true}"#,
        r#"{"position_mode":"hedge","symbol":"BTC-PERP"}"#,
    ] {
        let r = rejected!(h, app, a, mode_req(&h, &a, body), 400, "INVALID_REQUEST");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid JSON body"),
            "{body}: {}",
            r.body
        );
    }
    let r = call(&app, mode_req(&h, &a, r#"{"position_mode":"dual"}"#)).await;
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`one_way`") && message.contains("`hedge`"),
        "names the modes: {message}"
    );
    let unsigned = test::TestRequest::put()
        .uri("/api/v1/account/position_mode")
        .set_payload(r#"{"position_mode":"hedge"}"#)
        .to_request();
    rejected!(h, app, a, unsigned, 401, "UNAUTHORIZED");
    // Bad position sides on orders and margin moves are malformed too.
    for body in [
        leg_order("buy", "LONG", "49000.0", "0.01"),
        leg_order("buy", "dual", "49000.0", "0.01"),
        leg_order("buy", "", "49000.0", "0.01"),
    ] {
        rejected!(
            h,
            app,
            a,
            h.signed(&a, "POST", &orders_path(), &body.to_string()),
            400,
            "INVALID_REQUEST"
        );
    }
    assert_eq!(account_of(&h, &app, &a).await["position_mode"], "one_way");
}

#[actix_web::test]
async fn orders_must_name_a_side_of_the_accounts_mode() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let path = orders_path();
    // One-way: `both` (or nothing) only.
    for side in ["long", "short"] {
        let body = leg_order("buy", side, "49000.0", "0.01").to_string();
        let r = rejected!(
            h,
            app,
            a,
            h.signed(&a, "POST", &path, &body),
            409,
            "POSITION_SIDE_MISMATCH"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("position mode"),
            "{}",
            r.body
        );
    }
    let o = place(&h, &app, &a, &leg_order("buy", "both", "49000.0", "0.01")).await;
    assert_eq!(
        (&o["position_side"], &o["reduce_only"]),
        (&json!("both"), &json!(false))
    );
    let o2 = place(&h, &app, &a, &order("buy", "49000.0", "0.01")).await;
    assert_eq!(o2["position_side"], "both", "the default");
    let r = call(
        &app,
        h.signed(&a, "DELETE", &format!("/api/v1/markets/{BTC}/orders"), ""),
    )
    .await;
    assert_eq!(r.body["cancelled"].as_array().unwrap().len(), 2);

    // Hedge: `long` or `short`, never `both` (nor the default).
    assert_eq!(put_mode(&h, &app, &a, "hedge").await.status, 200);
    for body in [
        order("buy", "49000.0", "0.01"),
        leg_order("buy", "both", "49000.0", "0.01"),
    ] {
        rejected!(
            h,
            app,
            a,
            h.signed(&a, "POST", &path, &body.to_string()),
            409,
            "POSITION_SIDE_MISMATCH"
        );
    }
    // reduce_only is not taken in hedge mode: the side says whether an order closes.
    let mut body = leg_order("sell", "long", "51000.0", "0.01");
    body["reduce_only"] = json!(true);
    let r = rejected!(
        h,
        app,
        a,
        h.signed(&a, "POST", &path, &body.to_string()),
        400,
        "INVALID_REQUEST"
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("reduce_only is not taken in hedge mode"),
        "{}",
        r.body
    );
    // A closing order without a position on its leg reduces nothing.
    for (side, leg) in [("sell", "long"), ("buy", "short")] {
        let price = if side == "sell" { "51000.0" } else { "49000.0" };
        rejected!(
            h,
            app,
            a,
            h.signed(
                &a,
                "POST",
                &path,
                &leg_order(side, leg, price, "0.01").to_string()
            ),
            422,
            "REDUCE_ONLY_REJECTED"
        );
    }
    // Opening orders rest on their leg; an explicit `reduce_only: false` is accepted.
    let mut body = leg_order("buy", "long", "49000.0", "0.01");
    body["reduce_only"] = json!(false);
    let o = place(&h, &app, &a, &body).await;
    assert_eq!(
        (&o["position_side"], &o["reduce_only"], &o["status"]),
        (&json!("long"), &json!(false), &json!("new"))
    );
    let o = place(&h, &app, &a, &leg_order("sell", "short", "51000.0", "0.01")).await;
    assert_eq!(o["position_side"], "short");
    // Both are listed with their legs.
    let list = call(&app, h.signed(&a, "GET", &path, "")).await.body;
    let sides: Vec<(&Value, &Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (&o["side"], &o["position_side"]))
        .collect();
    assert_eq!(
        sides,
        [
            (&json!("sell"), &json!("short")),
            (&json!("buy"), &json!("long"))
        ]
    );
}

#[actix_web::test]
async fn long_and_short_legs_live_side_by_side_and_close_separately() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let b = account(&h, &app, "100000").await;
    assert_eq!(put_mode(&h, &app, &a, "hedge").await.status, 200);

    // Open long 0.1 and short 0.05 in the same market.
    place(&h, &app, &b, &order("sell", "50000.0", "0.1")).await;
    let o = place(&h, &app, &a, &leg_order("buy", "long", "50000.0", "0.1")).await;
    assert_eq!(
        (
            &o["status"],
            &o["position_side"],
            &o["reduce_only"],
            &o["fills"][0]["position_side"]
        ),
        (
            &json!("filled"),
            &json!("long"),
            &json!(false),
            &json!("long")
        ),
        "{o}"
    );
    place(&h, &app, &b, &order("buy", "50000.0", "0.05")).await;
    let o = place(&h, &app, &a, &leg_order("sell", "short", "50000.0", "0.05")).await;
    assert_eq!(
        (
            &o["status"],
            &o["position_side"],
            &o["fills"][0]["realized_pnl"]
        ),
        (&json!("filled"), &json!("short"), &json!("0")),
        "opening the short realizes nothing from the long: {o}"
    );
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(acc["position_mode"], "hedge");
    assert_eq!(
        legs(&acc),
        [leg("long", "0.1"), leg("short", "-0.05")],
        "{acc}"
    );
    let (long, short) = (position(&acc, "long"), position(&acc, "short"));
    assert_eq!(
        (&long["entry_price"], &short["entry_price"]),
        (&json!("50000"), &json!("50000"))
    );
    assert_eq!(
        (&long["initial_margin"], &short["initial_margin"]),
        (&json!("250"), &json!("125")),
        "each leg is margined on its own (leverage 20)"
    );
    // b (one-way) nets: sold 0.1, bought 0.05.
    assert_eq!(
        legs(&account_of(&h, &app, &b).await),
        [leg("both", "-0.05")]
    );

    // Close 0.03 of the long with sell + long: the long shrinks, the short is untouched.
    place(&h, &app, &b, &order("buy", "50000.0", "0.03")).await;
    let o = place(&h, &app, &a, &leg_order("sell", "long", "50000.0", "0.03")).await;
    assert_eq!(
        (&o["status"], &o["position_side"], &o["reduce_only"]),
        (&json!("filled"), &json!("long"), &json!(true)),
        "a closing order is stored reduce-only: {o}"
    );
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(legs(&acc), [leg("long", "0.07"), leg("short", "-0.05")]);
    assert_eq!(position(&acc, "short")["initial_margin"], "125");

    // A close bigger than the leg never flips it: 0.5 against b's bid of 0.5 fills 0.07.
    place(&h, &app, &b, &order("buy", "50000.0", "0.5")).await;
    let o = place(&h, &app, &a, &leg_order("sell", "long", "50000.0", "0.5")).await;
    assert_eq!(o["filled_quantity"], "0.07", "{o}");
    assert_eq!(o["remaining_quantity"], "0", "nothing of it rests: {o}");
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(legs(&acc), [leg("short", "-0.05")], "{acc}");
    let r = call(
        &app,
        h.signed(&b, "DELETE", &format!("/api/v1/markets/{BTC}/orders"), ""),
    )
    .await;
    assert_eq!(
        r.body["cancelled"].as_array().unwrap().len(),
        1,
        "b's bid rests"
    );
    // The long is flat: closing it again has nothing to reduce.
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "POST",
            &orders_path(),
            &leg_order("sell", "long", "50000.0", "0.01").to_string()
        ),
        422,
        "REDUCE_ONLY_REJECTED"
    );

    // Close the short with buy + short against b's resting ask.
    place(&h, &app, &b, &order("sell", "50000.0", "0.05")).await;
    let o = place(&h, &app, &a, &leg_order("buy", "short", "50000.0", "0.05")).await;
    assert_eq!(
        (&o["status"], &o["reduce_only"]),
        (&json!("filled"), &json!(true))
    );
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(acc["positions"], json!([]), "{acc}");
    // Five taker fills at 50,000 of 0.1 + 0.05 + 0.03 + 0.07 + 0.05 = 0.3 BTC: 15,000 × 0.05 %.
    assert_eq!(acc["wallet_balance"], "9992.5", "{acc}");

    // Every fill names its leg, in the order answers and the fill history alike.
    let fills = call(
        &app,
        h.signed(&a, "GET", "/api/v1/account/fills?symbol=BTC-PERP", ""),
    )
    .await
    .body;
    let seen: Vec<(&Value, &Value, &Value)> = fills
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (&f["side"], &f["position_side"], &f["quantity"]))
        .collect();
    assert_eq!(
        seen,
        [
            (&json!("buy"), &json!("short"), &json!("0.05")),
            (&json!("sell"), &json!("long"), &json!("0.07")),
            (&json!("sell"), &json!("long"), &json!("0.03")),
            (&json!("sell"), &json!("short"), &json!("0.05")),
            (&json!("buy"), &json!("long"), &json!("0.1")),
        ],
        "{fills}"
    );
    let b_fills = call(&app, h.signed(&b, "GET", "/api/v1/account/fills", "")).await;
    assert!(
        b_fills
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["position_side"] == "both"),
        "{}",
        b_fills.body
    );

    // Flat on both legs: back to one-way.
    let r = put_mode(&h, &app, &a, "one_way").await;
    assert_eq!((r.status, &r.body["changed"]), (200, &json!(true)));
    let o = place(&h, &app, &a, &order("buy", "49000.0", "0.01")).await;
    assert_eq!(o["position_side"], "both");
    solvent(&h, &app).await;
}

#[actix_web::test]
async fn isolated_margin_moves_on_one_leg() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let b = account(&h, &app, "100000").await;
    assert_eq!(put_mode(&h, &app, &a, "hedge").await.status, 200);
    let r = call(
        &app,
        h.signed(
            &a,
            "PUT",
            &format!("/api/v1/markets/{BTC}/leverage"),
            r#"{"leverage":10}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &app,
        h.signed(
            &a,
            "PUT",
            &format!("/api/v1/markets/{BTC}/margin_mode"),
            r#"{"margin_mode":"isolated"}"#,
        ),
    )
    .await;
    assert_eq!((r.status, &r.body["changed"]), (200, &json!(true)));

    // A long 0.1 and a short 0.1, each with its own isolated wallet: initial margin 500 less
    // the taker fee 2.5.
    place(&h, &app, &b, &order("sell", "50000.0", "0.1")).await;
    place(&h, &app, &a, &leg_order("buy", "long", "50000.0", "0.1")).await;
    place(&h, &app, &b, &order("buy", "50000.0", "0.1")).await;
    place(&h, &app, &a, &leg_order("sell", "short", "50000.0", "0.1")).await;
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(legs(&acc), [leg("long", "0.1"), leg("short", "-0.1")]);
    for side in ["long", "short"] {
        let p = position(&acc, side);
        assert_eq!(
            (&p["margin_mode"], &p["isolated_wallet"]),
            (&json!("isolated"), &json!("497.5")),
            "{side}"
        );
    }
    assert_eq!(
        (&acc["wallet_balance"], &acc["cross_wallet_balance"]),
        (&json!("9995"), &json!("9000"))
    );

    // Add 100 to the long only.
    let path = format!("/api/v1/markets/{BTC}/isolated_margin");
    let add = json!({"amount": "100", "direction": "add", "position_side": "long"});
    let r = call(&app, h.signed(&a, "POST", &path, &add.to_string())).await;
    assert_eq!(
        (r.status, r.body),
        (
            200,
            json!({"symbol": BTC, "position_side": "long", "isolated_wallet": "597.5"})
        )
    );
    let acc = account_of(&h, &app, &a).await;
    assert_eq!(position(&acc, "long")["isolated_wallet"], "597.5");
    assert_eq!(position(&acc, "short")["isolated_wallet"], "497.5");
    assert_eq!(acc["cross_wallet_balance"], "8900");
    // The short's wallet (497.5) is below its initial margin at mark (500): nothing may leave.
    let reduce = json!({"amount": "1", "direction": "reduce", "position_side": "short"});
    rejected!(
        h,
        app,
        a,
        h.signed(&a, "POST", &path, &reduce.to_string()),
        422,
        "INSUFFICIENT_ISOLATED_MARGIN"
    );
    // The one-way leg (the default) is not a side of a hedge account.
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "POST",
            &path,
            &json!({"amount": "1", "direction": "add"}).to_string()
        ),
        409,
        "POSITION_SIDE_MISMATCH"
    );
    rejected!(
        h,
        app,
        a,
        h.signed(
            &a,
            "POST",
            &path,
            &json!({"amount": "1", "direction": "add", "position_side": "sideways"}).to_string()
        ),
        400,
        "INVALID_REQUEST"
    );
    // The leg's isolated wallet and positions lock the position mode.
    rejected!(
        h,
        app,
        a,
        mode_req(&h, &a, r#"{"position_mode":"one_way"}"#),
        409,
        "POSITION_MODE_LOCKED"
    );
    solvent(&h, &app).await;
}

/// The private channels carry the legs: `orders` and `fills` name the position side, `account`
/// the position mode and each position's side; the pushed account is the REST one.
#[actix_web::test]
async fn the_private_channels_carry_position_sides_and_the_mode() {
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
    for channel in ["orders", "fills", "account"] {
        send(&mut ws, json!({"op": "subscribe", "channel": channel})).await;
        assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
    }
    // A switch sends the account with its new mode.
    assert_eq!(put_mode(&h, &app, &a, "hedge").await.status, 200);
    let m = next_where(&mut ws, |m| m["type"] == "account").await;
    assert_eq!(
        (&m["position_mode"], &m["positions"]),
        (&json!("hedge"), &json!([])),
        "{m}"
    );

    place(&h, &app, &b, &order("sell", "50000.0", "0.1")).await;
    let placed = place(&h, &app, &a, &leg_order("buy", "long", "50000.0", "0.1")).await;
    let id = placed["order_id"].clone();
    let m = next_where(&mut ws, |m| m["type"] == "order" && m["order_id"] == id).await;
    assert_eq!(
        (&m["position_side"], &m["status"]),
        (&json!("long"), &json!("filled")),
        "{m}"
    );
    let m = next_where(&mut ws, |m| m["type"] == "fill").await;
    assert_eq!(
        (&m["order_id"], &m["position_side"], &m["side"]),
        (&id, &json!("long"), &json!("buy")),
        "{m}"
    );
    let m = next_where(&mut ws, |m| {
        m["type"] == "account" && m["positions"][0]["quantity"] == "0.1"
    })
    .await;
    assert_eq!(m["position_mode"], "hedge", "{m}");
    assert_eq!(m["positions"][0]["position_side"], "long", "{m}");

    // The short leg beside it.
    place(&h, &app, &b, &order("buy", "50000.0", "0.04")).await;
    let placed = place(&h, &app, &a, &leg_order("sell", "short", "50000.0", "0.04")).await;
    let m = next_where(&mut ws, |m| m["type"] == "fill").await;
    assert_eq!(
        (&m["order_id"], &m["position_side"], &m["side"]),
        (&placed["order_id"], &json!("short"), &json!("sell")),
        "{m}"
    );
    let m = next_where(&mut ws, |m| {
        m["type"] == "account" && m["positions"].as_array().is_some_and(|p| p.len() == 2)
    })
    .await;
    assert_eq!(legs(&m), [leg("long", "0.1"), leg("short", "-0.04")], "{m}");
    let mut pushed = m.clone();
    pushed.as_object_mut().unwrap().remove("type");
    assert_eq!(pushed, account_of(&h, &app, &a).await);
}

/// The OpenAPI document describes the route, the fields and the codes.
#[actix_web::test]
async fn the_openapi_document_describes_position_modes() {
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
        schemas["PositionModeChange"]["properties"]["position_mode"]["enum"],
        json!(["one_way", "hedge"])
    );
    assert_eq!(
        schemas["PositionModeChange"]["required"],
        json!(["position_mode"])
    );
    for (name, field) in [
        ("PositionModeSet", "position_mode"),
        ("AccountDto", "position_mode"),
    ] {
        assert_eq!(
            schemas[name]["properties"][field]["enum"],
            json!(["one_way", "hedge"]),
            "{name}"
        );
    }
    for name in ["PositionDto", "OrderDto", "FillDto", "IsolatedMarginSet"] {
        assert_eq!(
            schemas[name]["properties"]["position_side"]["enum"],
            json!(["both", "long", "short"]),
            "{name}"
        );
    }
    // Requests take it, optional: every NewOrder branch and the margin move.
    for branch in schemas["NewOrder"]["oneOf"].as_array().unwrap() {
        assert_eq!(
            branch["properties"]["position_side"]["enum"],
            json!(["both", "long", "short", null])
        );
    }
    assert_eq!(
        schemas["IsolatedMarginMove"]["properties"]["position_side"]["enum"],
        json!(["both", "long", "short", null])
    );
    let put = &doc["paths"]["/api/v1/account/position_mode"]["put"];
    assert_eq!(put["security"], json!([{"api_key": []}]));
    for (status, code) in [
        ("400", "INVALID_REQUEST"),
        ("409", "POSITION_MODE_LOCKED"),
        ("422", "ACCOUNT_IN_LIQUIDATION"),
    ] {
        assert!(
            put["responses"][status]["description"]
                .as_str()
                .unwrap()
                .contains(code),
            "{status}"
        );
    }
    let place = &doc["paths"]["/api/v1/markets/{symbol}/orders"]["post"]["responses"];
    assert!(place["409"]["description"]
        .as_str()
        .unwrap()
        .contains("POSITION_SIDE_MISMATCH"));
    assert!(place["400"]["description"]
        .as_str()
        .unwrap()
        .contains("reduce_only"));
}
