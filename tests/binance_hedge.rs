//! Hedge (dual-side) position mode in the Binance dialect, as ccxt's `set_position_mode`,
//! hummingbot's `binance_perpetual` and Binance's own connector use it:
//! `GET/POST /fapi/v1/positionSide/dual`, `positionSide` on every order route and answer,
//! LONG and SHORT rows in `positionRisk` and `account`, per-leg isolated margin, and `ps` in
//! the user data stream. Every figure is compared with the core's account view.

mod api_common;

use std::str::FromStr;

use api_common::binance::{bn, signed_params};
use api_common::ws::{connect, next_where};
use api_common::*;
use perpx::domain::{AccountId, PositionSide};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("not a decimal string: {v}")),
    )
    .unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A new order's parameters: `positionSide` only when `ps` is not empty; a LIMIT when a
/// price is given, else a MARKET.
fn order(side: &str, ps: &str, qty: &str, price: Option<&str>) -> String {
    let mut p = format!("symbol=BTCUSDT&side={side}&quantity={qty}");
    match price {
        Some(px) => p += &format!("&type=LIMIT&timeInForce=GTC&price={px}"),
        None => p += "&type=MARKET",
    }
    if !ps.is_empty() {
        p += &format!("&positionSide={ps}");
    }
    p
}

/// Answered 200; the body.
async fn ok<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    method: &str,
    path: &str,
    params: &str,
) -> Value {
    let r = bn(h, app, c, method, path, params).await;
    assert_eq!(r.status, 200, "{method} {path} {params}: {}", r.body);
    r.body
}

/// Refused with 400 and a Binance code; the code.
async fn refused<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    method: &str,
    path: &str,
    params: &str,
) -> i64 {
    let r = bn(h, app, c, method, path, params).await;
    assert_eq!(r.status, 400, "{method} {path} {params}: {}", r.body);
    assert!(r.body["msg"].is_string(), "{}", r.body);
    r.body["code"].as_i64().unwrap()
}

/// `(positionSide, positionAmt)` of the rows of `symbol` in a list of position rows.
fn legs_of(rows: &Value, symbol: &str) -> Vec<(String, Decimal)> {
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["symbol"] == symbol)
        .map(|r| {
            (
                r["positionSide"].as_str().unwrap().to_owned(),
                dec(&r["positionAmt"]),
            )
        })
        .collect()
}

fn row<'a>(rows: &'a Value, symbol: &str, side: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["symbol"] == symbol && r["positionSide"] == side)
        .unwrap_or_else(|| panic!("no {symbol} {side} row in {rows}"))
}

fn leg_side(s: &str) -> PositionSide {
    match s {
        "LONG" => PositionSide::Long,
        "SHORT" => PositionSide::Short,
        _ => PositionSide::Both,
    }
}

/// Every row of `rows` with a position equals the core's view of that leg; a row without one
/// is flat in the view.
async fn rows_match_view(h: &Harness, c: &Creds, rows: &Value) {
    let v = h.state.ex.account_view(AccountId(c.id)).await.unwrap();
    for r in rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["symbol"] == "BTCUSDT")
    {
        let side = leg_side(r["positionSide"].as_str().unwrap());
        let p = v
            .positions
            .iter()
            .find(|p| p.market.0 == 0 && p.position_side == side);
        match p {
            None => assert_eq!(dec(&r["positionAmt"]), Decimal::ZERO, "{r}"),
            Some(p) => {
                assert_eq!(
                    dec(&r["positionAmt"]),
                    Decimal::from(p.quantity) * d("0.001"),
                    "{r}"
                );
                for (k, want) in [
                    ("entryPrice", p.entry_price),
                    ("unRealizedProfit", p.unrealized_pnl),
                    ("unrealizedProfit", p.unrealized_pnl),
                    ("notional", p.notional),
                    ("isolatedWallet", p.isolated_wallet),
                    ("maintMargin", p.maintenance_margin),
                    ("positionInitialMargin", p.initial_margin),
                ] {
                    if !r[k].is_null() {
                        assert_eq!(dec(&r[k]), want, "{k}: {r}");
                    }
                }
                if !r["liquidationPrice"].is_null() {
                    assert_eq!(
                        dec(&r["liquidationPrice"]),
                        p.liquidation_price.unwrap_or_default(),
                        "{r}"
                    );
                }
            }
        }
    }
}

#[actix_web::test]
async fn position_mode_switches_only_when_flat_without_orders() {
    let h = harness_with(&api_common::ws::roomy(), 0, 0, 4096);
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "1000000").await;
    let dual = "/fapi/v1/positionSide/dual";

    assert_eq!(
        ok(&h, &app, &a, "GET", dual, "").await,
        json!({"dualSidePosition": false})
    );
    // The mode in force: Binance's "no need to change".
    assert_eq!(
        refused(&h, &app, &a, "POST", dual, "dualSidePosition=false").await,
        -4059
    );
    let r = bn(&h, &app, &a, "POST", dual, "dualSidePosition=maybe").await;
    assert_eq!(r.status, 400, "{}", r.body);

    // An open order anywhere locks the mode (-4067); so does a position (-4068).
    let rest = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.01", Some("40000")),
    )
    .await;
    assert_eq!(rest["positionSide"], "BOTH", "{rest}");
    assert_eq!(
        refused(&h, &app, &a, "POST", dual, "dualSidePosition=true").await,
        -4067
    );
    ok(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/allOpenOrders",
        "symbol=BTCUSDT",
    )
    .await;
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "", "0.01", Some("50000")),
    )
    .await;
    let m = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.01", None),
    )
    .await;
    assert_eq!(m["status"], "FILLED", "{m}");
    assert_eq!(
        refused(&h, &app, &a, "POST", dual, "dualSidePosition=true").await,
        -4068
    );
    // One-way mode takes BOTH (or nothing) only.
    assert_eq!(
        refused(
            &h,
            &app,
            &a,
            "POST",
            "/fapi/v1/order",
            &order("SELL", "LONG", "0.01", None)
        )
        .await,
        -4061
    );
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.01", Some("50000")),
    )
    .await;
    let close = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &format!("{}&reduceOnly=true", order("SELL", "BOTH", "0.01", None)),
    )
    .await;
    assert_eq!(close["status"], "FILLED", "{close}");

    // Flat, no orders: hedge mode, shown by both routes; asking again is -4059.
    assert_eq!(
        ok(&h, &app, &a, "POST", dual, "dualSidePosition=true").await,
        json!({"code": 200, "msg": "success"})
    );
    assert_eq!(
        ok(&h, &app, &a, "GET", dual, "").await,
        json!({"dualSidePosition": true})
    );
    assert_eq!(
        ok(&h, &app, &a, "GET", "/fapi/v1/accountConfig", "").await["dualSidePosition"],
        true
    );
    assert_eq!(
        refused(&h, &app, &a, "POST", dual, "dualSidePosition=true").await,
        -4059
    );
    // Another account is untouched.
    assert_eq!(
        ok(&h, &app, &b, "GET", dual, "").await,
        json!({"dualSidePosition": false})
    );

    // Hedge mode: every order names LONG or SHORT (-4061 without, or with BOTH);
    // reduceOnly is not taken (-1106); closing a leg without a position is -2022.
    for params in [
        order("BUY", "", "0.01", Some("40000")),
        order("BUY", "BOTH", "0.01", Some("40000")),
    ] {
        assert_eq!(
            refused(&h, &app, &a, "POST", "/fapi/v1/order", &params).await,
            -4061,
            "{params}"
        );
    }
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &format!("{}&reduceOnly=true", order("SELL", "LONG", "0.01", None)),
    )
    .await;
    assert_eq!(
        (r.status, r.body["code"].clone(), r.body["msg"].clone()),
        (
            400,
            json!(-1106),
            json!("Parameter 'reduceonly' sent when not required.")
        ),
        "{}",
        r.body
    );
    assert_eq!(
        refused(
            &h,
            &app,
            &a,
            "POST",
            "/fapi/v1/order",
            &order("SELL", "LONG", "0.01", Some("60000"))
        )
        .await,
        -2022
    );
    // The same rules through batchOrders, item by item.
    let batch = r#"[{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"0.01","price":"40000","positionSide":"LONG"},{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"0.01","price":"40000"}]"#;
    let r = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/batchOrders",
        &format!("batchOrders={}", api_common::binance::form_encode(batch)),
    )
    .await;
    assert_eq!(r[0]["positionSide"], "LONG", "{r}");
    assert_eq!(r[1]["code"], -4061, "{r}");
    // An order open in hedge mode locks the way back.
    assert_eq!(
        refused(&h, &app, &a, "POST", dual, "dualSidePosition=false").await,
        -4067
    );
    ok(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/allOpenOrders",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(
        ok(&h, &app, &a, "POST", dual, "dualSidePosition=false").await,
        json!({"code": 200, "msg": "success"})
    );
    assert_eq!(
        ok(&h, &app, &a, "GET", dual, "").await,
        json!({"dualSidePosition": false})
    );
}

#[actix_web::test]
async fn long_and_short_legs_side_by_side() {
    let h = harness_with(&api_common::ws::roomy(), 0, 0, 4096);
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "1000000").await;
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionSide/dual",
        "dualSidePosition=true",
    )
    .await;

    // Flat in hedge mode: a LONG and a SHORT row per symbol in v2, nothing in v3.
    let risk = ok(&h, &app, &a, "GET", "/fapi/v2/positionRisk", "").await;
    for s in ["BTCUSDT", "ETHUSDT"] {
        assert_eq!(
            legs_of(&risk, s),
            [
                ("LONG".to_owned(), Decimal::ZERO),
                ("SHORT".to_owned(), Decimal::ZERO)
            ],
            "{risk}"
        );
    }
    assert_eq!(
        ok(&h, &app, &a, "GET", "/fapi/v3/positionRisk", "").await,
        json!([])
    );

    // A LONG 0.1 and a SHORT 0.05 at 50,000, side by side.
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "", "0.1", Some("50000")),
    )
    .await;
    let long = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "LONG", "0.1", None),
    )
    .await;
    assert_eq!(
        (&long["status"], &long["positionSide"], &long["reduceOnly"]),
        (&json!("FILLED"), &json!("LONG"), &json!(false)),
        "{long}"
    );
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.05", Some("50000")),
    )
    .await;
    let short = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "SHORT", "0.05", None),
    )
    .await;
    assert_eq!(
        (&short["status"], &short["positionSide"]),
        (&json!("FILLED"), &json!("SHORT")),
        "{short}"
    );
    for path in [
        "/fapi/v2/positionRisk",
        "/fapi/v3/positionRisk",
        "/fapi/v2/account",
        "/fapi/v3/account",
    ] {
        let body = ok(&h, &app, &a, "GET", path, "").await;
        let rows = if body.is_array() {
            body.clone()
        } else {
            body["positions"].clone()
        };
        assert_eq!(
            legs_of(&rows, "BTCUSDT"),
            [
                ("LONG".to_owned(), d("0.1")),
                ("SHORT".to_owned(), d("-0.05"))
            ],
            "{path}: {rows}"
        );
        // v3 lists only legs with a position or open orders; v2 every symbol's two legs.
        let eth = legs_of(&rows, "ETHUSDT").len();
        assert_eq!(eth, if path.contains("v3") { 0 } else { 2 }, "{path}");
        rows_match_view(&h, &a, &rows).await;
    }
    let risk = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await;
    for side in ["LONG", "SHORT"] {
        let r = row(&risk, "BTCUSDT", side);
        assert_eq!(
            (&r["marginType"], &r["leverage"]),
            (&json!("cross"), &risk[0]["leverage"]),
            "{r}"
        );
        assert_eq!(dec(&r["markPrice"]), d("50000"), "{r}");
    }
    // ccxt reads the side from the sign of `notional`.
    assert!(dec(&row(&risk, "BTCUSDT", "LONG")["notional"]) > Decimal::ZERO);
    assert!(dec(&row(&risk, "BTCUSDT", "SHORT")["notional"]) < Decimal::ZERO);

    // Order answers name the leg: an opening LONG bid, a closing SELL LONG ask (reduce-only,
    // as Binance shows a closing order in hedge mode).
    let bid = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "LONG", "0.01", Some("40000")),
    )
    .await;
    let ask = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "LONG", "0.05", Some("60000")),
    )
    .await;
    assert_eq!(
        (&bid["positionSide"], &bid["reduceOnly"]),
        (&json!("LONG"), &json!(false))
    );
    assert_eq!(
        (&ask["positionSide"], &ask["reduceOnly"]),
        (&json!("LONG"), &json!(true))
    );
    let (bid_id, ask_id) = (
        bid["orderId"].as_u64().unwrap(),
        ask["orderId"].as_u64().unwrap(),
    );
    let q = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&orderId={ask_id}"),
    )
    .await;
    assert_eq!(q["positionSide"], "LONG", "{q}");
    let open = ok(&h, &app, &a, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT").await;
    let sides: Vec<(u64, Value)> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["orderId"].as_u64().unwrap(), o["positionSide"].clone()))
        .collect();
    assert_eq!(sides, [(bid_id, json!("LONG")), (ask_id, json!("LONG"))]);
    // The open bid's order margin is on the LONG row (v3 lists the symbol's legs with a
    // position or orders).
    let v3 = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v3/positionRisk",
        "symbol=BTCUSDT",
    )
    .await;
    let view = h.state.ex.account_view(AccountId(a.id)).await.unwrap();
    assert!(view.order_margin > Decimal::ZERO);
    assert_eq!(
        dec(&row(&v3, "BTCUSDT", "LONG")["openOrderInitialMargin"]),
        view.order_margin
    );
    assert_eq!(
        dec(&row(&v3, "BTCUSDT", "SHORT")["openOrderInitialMargin"]),
        Decimal::ZERO
    );
    // With margin-bearing orders on both legs each row holds a share, and the shares add up
    // to the account's order margin.
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "SHORT", "0.01", Some("61000")),
    )
    .await;
    let v3 = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v3/positionRisk",
        "symbol=BTCUSDT",
    )
    .await;
    let view = h.state.ex.account_view(AccountId(a.id)).await.unwrap();
    let (l, s) = (
        dec(&row(&v3, "BTCUSDT", "LONG")["openOrderInitialMargin"]),
        dec(&row(&v3, "BTCUSDT", "SHORT")["openOrderInitialMargin"]),
    );
    assert!(l > Decimal::ZERO && s > Decimal::ZERO, "{v3}");
    assert_eq!(l + s, view.order_margin);
    // Modify: positionSide, when sent, must be the order's.
    let put = |ps: &str, px: &str| {
        format!("symbol=BTCUSDT&orderId={ask_id}&side=SELL&quantity=0.05&price={px}{ps}")
    };
    assert_eq!(
        refused(
            &h,
            &app,
            &a,
            "PUT",
            "/fapi/v1/order",
            &put("&positionSide=SHORT", "59000")
        )
        .await,
        -4061
    );
    let m = ok(
        &h,
        &app,
        &a,
        "PUT",
        "/fapi/v1/order",
        &put("&positionSide=LONG", "59000"),
    )
    .await;
    assert_eq!(
        (&m["price"], &m["positionSide"]),
        (&json!("59000.0"), &json!("LONG"))
    );
    let m = ok(&h, &app, &a, "PUT", "/fapi/v1/order", &put("", "58000")).await;
    assert_eq!(m["price"], "58000.0");
    let c = ok(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/order",
        &format!("symbol=BTCUSDT&orderId={bid_id}"),
    )
    .await;
    assert_eq!(
        (&c["status"], &c["positionSide"]),
        (&json!("CANCELED"), &json!("LONG"))
    );
    ok(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/allOpenOrders",
        "symbol=BTCUSDT",
    )
    .await;

    // Close 0.04 of the LONG (SELL + LONG): the SHORT is untouched.
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.04", Some("50000")),
    )
    .await;
    let part = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "LONG", "0.04", None),
    )
    .await;
    assert_eq!(part["status"], "FILLED", "{part}");
    let risk = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(
        legs_of(&risk, "BTCUSDT"),
        [
            ("LONG".to_owned(), d("0.06")),
            ("SHORT".to_owned(), d("-0.05"))
        ]
    );
    rows_match_view(&h, &a, &risk).await;

    // SELL + LONG beyond the LONG closes it and never opens a short on that leg.
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.2", Some("50000")),
    )
    .await;
    let beyond = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "LONG", "0.2", None),
    )
    .await;
    assert_eq!(dec(&beyond["executedQty"]), d("0.06"), "{beyond}");
    // The excess is closed as a one-way reduce-only order's excess is.
    assert_eq!(beyond["status"], "CANCELED", "{beyond}");
    assert_eq!(beyond["reduceOnly"], true, "{beyond}");
    let risk = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(
        legs_of(&risk, "BTCUSDT"),
        [
            ("LONG".to_owned(), Decimal::ZERO),
            ("SHORT".to_owned(), d("-0.05"))
        ]
    );
    // The LONG is flat now: closing it again is -2022.
    assert_eq!(
        refused(
            &h,
            &app,
            &a,
            "POST",
            "/fapi/v1/order",
            &order("SELL", "LONG", "0.01", None)
        )
        .await,
        -2022
    );
    // v3 lists only the SHORT now.
    let v3 = ok(&h, &app, &a, "GET", "/fapi/v3/positionRisk", "").await;
    assert_eq!(
        legs_of(&v3, "BTCUSDT"),
        [("SHORT".to_owned(), d("-0.05"))],
        "{v3}"
    );

    // userTrades name each fill's leg.
    let trades = ok(&h, &app, &a, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT").await;
    let legs: Vec<(Value, Value, Value)> = trades
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["side"].clone(),
                t["positionSide"].clone(),
                t["qty"].clone(),
            )
        })
        .collect();
    assert_eq!(
        legs,
        [
            (json!("BUY"), json!("LONG"), json!("0.1")),
            (json!("SELL"), json!("SHORT"), json!("0.05")),
            (json!("SELL"), json!("LONG"), json!("0.04")),
            (json!("SELL"), json!("LONG"), json!("0.06")),
        ],
        "{trades}"
    );
    let all = ok(&h, &app, &a, "GET", "/fapi/v1/allOrders", "symbol=BTCUSDT").await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|o| o["positionSide"] == "LONG" || o["positionSide"] == "SHORT"),
        "{all}"
    );

    // Close the SHORT (BUY + SHORT), then back to one-way: one BOTH row per symbol.
    ok(
        &h,
        &app,
        &b,
        "DELETE",
        "/fapi/v1/allOpenOrders",
        "symbol=BTCUSDT",
    )
    .await;
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "", "0.05", Some("50000")),
    )
    .await;
    let cover = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "SHORT", "0.05", None),
    )
    .await;
    assert_eq!(
        (&cover["status"], &cover["reduceOnly"]),
        (&json!("FILLED"), &json!(true))
    );
    assert_eq!(
        ok(
            &h,
            &app,
            &a,
            "POST",
            "/fapi/v1/positionSide/dual",
            "dualSidePosition=false"
        )
        .await["code"],
        200
    );
    let risk = ok(&h, &app, &a, "GET", "/fapi/v2/positionRisk", "").await;
    assert_eq!(
        legs_of(&risk, "BTCUSDT"),
        [("BOTH".to_owned(), Decimal::ZERO)]
    );
    assert_eq!(legs_of(&risk, "ETHUSDT").len(), 1);
}

#[actix_web::test]
async fn isolated_margin_moves_one_leg() {
    let h = harness_with(&api_common::ws::roomy(), 0, 0, 4096);
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "1000000").await;
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionSide/dual",
        "dualSidePosition=true",
    )
    .await;
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=ISOLATED",
    )
    .await;
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "", "0.1", Some("50000")),
    )
    .await;
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "LONG", "0.1", None),
    )
    .await;
    ok(
        &h,
        &app,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.05", Some("50000")),
    )
    .await;
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "SHORT", "0.05", None),
    )
    .await;
    let before = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await;
    rows_match_view(&h, &a, &before).await;
    let iw = |rows: &Value, side| dec(&row(rows, "BTCUSDT", side)["isolatedWallet"]);
    for side in ["LONG", "SHORT"] {
        assert_eq!(row(&before, "BTCUSDT", side)["marginType"], "isolated");
        assert!(iw(&before, side) > Decimal::ZERO, "{before}");
    }
    // Add 10 to the LONG leg only; BOTH is not a leg in hedge mode.
    let r = ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionMargin",
        "symbol=BTCUSDT&amount=10&type=1&positionSide=LONG",
    )
    .await;
    assert_eq!(r["code"], 200, "{r}");
    let after = ok(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await;
    rows_match_view(&h, &a, &after).await;
    assert_eq!(iw(&after, "LONG"), iw(&before, "LONG") + Decimal::from(10));
    assert_eq!(iw(&after, "SHORT"), iw(&before, "SHORT"));
    for r in [
        &after,
        &ok(&h, &app, &a, "GET", "/fapi/v3/positionRisk", "").await,
    ] {
        let long = row(r, "BTCUSDT", "LONG");
        let view = h.state.ex.account_view(AccountId(a.id)).await.unwrap();
        let p = view
            .positions
            .iter()
            .find(|p| p.position_side == PositionSide::Long)
            .unwrap();
        assert_eq!(
            dec(&long["isolatedMargin"]),
            p.isolated_wallet + p.unrealized_pnl
        );
    }
    let code = refused(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionMargin",
        "symbol=BTCUSDT&amount=1&type=1&positionSide=BOTH",
    )
    .await;
    assert_eq!(code, -4061);
    let acct = ok(&h, &app, &a, "GET", "/fapi/v2/account", "").await;
    let rows = &acct["positions"];
    for side in ["LONG", "SHORT"] {
        let r = row(rows, "BTCUSDT", side);
        assert_eq!(r["isolated"], true, "{r}");
        assert_eq!(dec(&r["isolatedWallet"]), iw(&after, side));
    }
}

/// A Binance-form signed request over HTTP to the served harness.
async fn http(
    h: &Harness,
    addr: std::net::SocketAddr,
    c: &Creds,
    method: &str,
    path: &str,
    params: &str,
) -> Value {
    let all = signed_params(&c.secret, params, h.clock.now_ms());
    let req = match method {
        "POST" => awc::Client::new().post(format!("http://{addr}{path}")),
        _ => awc::Client::new().get(format!("http://{addr}{path}?{all}")),
    }
    .insert_header(("X-MBX-APIKEY", c.key.as_str()));
    let mut r = if method == "POST" {
        req.insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .send_body(all)
            .await
    } else {
        req.send().await
    }
    .expect("request");
    let body: Value = serde_json::from_slice(&r.body().await.unwrap()).unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path} {params}: {body}");
    body
}

#[actix_web::test]
async fn user_stream_names_the_leg_of_orders_and_positions() {
    let h = harness_with(&api_common::ws::roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "1000000").await;
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionSide/dual",
        "dualSidePosition=true",
    )
    .await;
    ok(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=ISOLATED",
    )
    .await;
    let mut r = awc::Client::new()
        .post(format!("http://{addr}/fapi/v1/listenKey"))
        .insert_header(("X-MBX-APIKEY", a.key.as_str()))
        .send()
        .await
        .expect("listenKey");
    let lk: Value = serde_json::from_slice(&r.body().await.unwrap()).unwrap();
    let lk = lk["listenKey"].as_str().unwrap().to_owned();
    let mut ws = connect(addr, &format!("/private/ws?listenKey={lk}")).await;

    // LONG 0.1: NEW and TRADE with ps LONG, then one ACCOUNT_UPDATE entry for the LONG leg.
    http(
        &h,
        addr,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "", "0.1", Some("50000")),
    )
    .await;
    let long = http(
        &h,
        addr,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "LONG", "0.1", None),
    )
    .await;
    let t = next_where(&mut ws, |v| {
        v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["x"] == "TRADE" && v["o"]["i"] == long["orderId"]
    })
    .await;
    assert_eq!(
        (&t["o"]["ps"], &t["o"]["R"]),
        (&json!("LONG"), &json!(false)),
        "{t}"
    );
    let u = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE").await;
    assert_eq!(u["a"]["m"], "ORDER");
    let p = u["a"]["P"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{u}");
    assert_eq!(
        (&p[0]["s"], &p[0]["ps"], &p[0]["pa"], &p[0]["ep"]),
        (
            &json!("BTCUSDT"),
            &json!("LONG"),
            &json!("0.1"),
            &json!("50000")
        ),
        "{u}"
    );

    // SHORT 0.05 beside it: only the SHORT leg changed.
    http(
        &h,
        addr,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.05", Some("50000")),
    )
    .await;
    let short = http(
        &h,
        addr,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "SHORT", "0.05", None),
    )
    .await;
    let t = next_where(&mut ws, |v| {
        v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["x"] == "TRADE" && v["o"]["i"] == short["orderId"]
    })
    .await;
    assert_eq!(t["o"]["ps"], "SHORT", "{t}");
    let u = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE").await;
    let p = u["a"]["P"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{u}");
    assert_eq!(
        (&p[0]["ps"], &p[0]["pa"]),
        (&json!("SHORT"), &json!("-0.05")),
        "{u}"
    );

    // A resting closing order: NEW with ps LONG and R true (reduce-only, as on Binance).
    let close = http(
        &h,
        addr,
        &a,
        "POST",
        "/fapi/v1/order",
        &order("SELL", "LONG", "0.03", Some("50000")),
    )
    .await;
    let n = next_where(&mut ws, |v| {
        v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["i"] == close["orderId"]
    })
    .await;
    assert_eq!(
        (&n["o"]["x"], &n["o"]["ps"], &n["o"]["R"]),
        (&json!("NEW"), &json!("LONG"), &json!(true)),
        "{n}"
    );
    // b lifts it: the LONG leg shrinks to 0.07, the SHORT is not in the update.
    http(
        &h,
        addr,
        &b,
        "POST",
        "/fapi/v1/order",
        &order("BUY", "", "0.03", None),
    )
    .await;
    let t = next_where(&mut ws, |v| {
        v["e"] == "ORDER_TRADE_UPDATE" && v["o"]["x"] == "TRADE" && v["o"]["i"] == close["orderId"]
    })
    .await;
    assert_eq!(
        (&t["o"]["ps"], &t["o"]["X"]),
        (&json!("LONG"), &json!("FILLED")),
        "{t}"
    );
    let u = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE").await;
    let p = u["a"]["P"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{u}");
    assert_eq!(
        (&p[0]["ps"], &p[0]["pa"]),
        (&json!("LONG"), &json!("0.07")),
        "{u}"
    );
    let view = h.state.ex.account_view(AccountId(a.id)).await.unwrap();
    assert_eq!(
        u["a"]["B"][0]["wb"],
        json!(view.wallet_balance.normalize().to_string())
    );

    // A margin transfer into the LONG leg: one MARGIN_TRANSFER update with that leg's wallet.
    http(
        &h,
        addr,
        &a,
        "POST",
        "/fapi/v1/positionMargin",
        "symbol=BTCUSDT&amount=5&type=1&positionSide=LONG",
    )
    .await;
    let u = next_where(&mut ws, |v| v["e"] == "ACCOUNT_UPDATE").await;
    let view = h.state.ex.account_view(AccountId(a.id)).await.unwrap();
    let long = view
        .positions
        .iter()
        .find(|p| p.position_side == PositionSide::Long)
        .unwrap();
    let p = u["a"]["P"].as_array().unwrap();
    assert_eq!(u["a"]["m"], "MARGIN_TRANSFER", "{u}");
    assert_eq!(p.len(), 1, "{u}");
    assert_eq!(
        (&p[0]["ps"], &p[0]["mt"], &p[0]["iw"]),
        (
            &json!("LONG"),
            &json!("isolated"),
            &json!(long.isolated_wallet.normalize().to_string())
        ),
        "{u}"
    );
}
