//! Hedge (dual-side) position mode in the Binance dialect, as ccxt's `set_position_mode`,
//! hummingbot's `binance_perpetual` and Binance's own connector use it:
//! `GET/POST /fapi/v1/positionSide/dual`, `positionSide` on every order route and answer,
//! LONG and SHORT rows in `positionRisk` and `account`, per-leg isolated margin, and `ps` in
//! the user data stream. Every figure is compared with the core's account view.
//!
//! Requests go through [`Api`]: to the app in process ([`Local`]), or over HTTP to the served
//! harness ([`Served`]) where the scenario reads the user data stream; [`Api::cross`] is the
//! step every scenario repeats (the counterparty rests an order, the account crosses it).

mod api_common;

use std::net::SocketAddr;
use std::str::FromStr;

use actix_web::body::BoxBody;
use api_common::binance::{bn, form_encode, signed_params};
use api_common::ws::{connect, next_where, roomy, Conn};
use api_common::*;
use perpx::domain::{AccountId, PositionSide};
use perpx::engine::{AccountView, PositionView};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const DUAL: &str = "/fapi/v1/positionSide/dual";
const ORDER: &str = "/fapi/v1/order";
const RISK_V2: &str = "/fapi/v2/positionRisk";
const RISK_V3: &str = "/fapi/v3/positionRisk";
const MARGIN: &str = "/fapi/v1/positionMargin";
const BTC: &str = "symbol=BTCUSDT";

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

/// Where a scenario's signed Binance-form requests go.
trait Api {
    /// `c`'s request; the status and the body.
    async fn send(&self, c: &Creds, method: &str, path: &str, params: &str) -> (u16, Value);

    /// Answered 200; the body.
    async fn ok(&self, c: &Creds, method: &str, path: &str, params: &str) -> Value {
        let (status, body) = self.send(c, method, path, params).await;
        assert_eq!(status, 200, "{method} {path} {params}: {body}");
        body
    }

    /// Refused with 400 and a Binance code; the code.
    async fn refused(&self, c: &Creds, method: &str, path: &str, params: &str) -> i64 {
        let (status, body) = self.send(c, method, path, params).await;
        assert_eq!(status, 400, "{method} {path} {params}: {body}");
        assert!(body["msg"].is_string(), "{body}");
        body["code"].as_i64().unwrap()
    }

    /// `c`'s new [`order`] through `POST /fapi/v1/order`, answered 200; the answer.
    async fn place(&self, c: &Creds, side: &str, ps: &str, qty: &str, px: Option<&str>) -> Value {
        self.ok(c, "POST", ORDER, &order(side, ps, qty, px)).await
    }

    /// `c`'s new [`order`] refused with 400; the Binance code.
    async fn place_refused(
        &self,
        c: &Creds,
        side: &str,
        ps: &str,
        qty: &str,
        px: Option<&str>,
    ) -> i64 {
        self.refused(c, "POST", ORDER, &order(side, ps, qty, px))
            .await
    }

    /// `maker` rests the other side of `qty` at 50,000 (no `positionSide`), and `taker`
    /// crosses it with a MARKET `side` on leg `ps`; the taker's answer.
    async fn cross(&self, maker: &Creds, taker: &Creds, side: &str, ps: &str, qty: &str) -> Value {
        let rest = if side == "BUY" { "SELL" } else { "BUY" };
        self.place(maker, rest, "", qty, Some("50000")).await;
        self.place(taker, side, ps, qty, None).await
    }

    /// `c` switches to hedge mode (`on`) or one-way mode: answered success, and the mode read
    /// back is the new one.
    async fn set_hedge(&self, c: &Creds, on: bool) {
        let set = format!("dualSidePosition={on}");
        let success = json!({"code": 200, "msg": "success"});
        assert_eq!(self.ok(c, "POST", DUAL, &set).await, success);
        let mode = self.ok(c, "GET", DUAL, "").await;
        assert_eq!(mode, json!({"dualSidePosition": on}));
    }

    /// `c`'s switch to hedge mode (`on`) or one-way mode refused with 400; the Binance code.
    async fn set_hedge_refused(&self, c: &Creds, on: bool) -> i64 {
        self.refused(c, "POST", DUAL, &format!("dualSidePosition={on}"))
            .await
    }

    /// Every open BTCUSDT order of `c` cancelled.
    async fn cancel_all(&self, c: &Creds) {
        self.ok(c, "DELETE", "/fapi/v1/allOpenOrders", BTC).await;
    }
}

/// The harness and its app, in process.
struct Local<S> {
    h: Harness,
    app: S,
}

impl<S: TestApp<BoxBody>> Api for Local<S> {
    async fn send(&self, c: &Creds, method: &str, path: &str, params: &str) -> (u16, Value) {
        let r = bn(&self.h, &self.app, c, method, path, params).await;
        (r.status, r.body)
    }
}

/// The harness served on a socket: a POST's parameters in the form body, any other method
/// sent as a GET with them in the query.
struct Served<'a> {
    h: &'a Harness,
    addr: SocketAddr,
}

impl Api for Served<'_> {
    async fn send(&self, c: &Creds, method: &str, path: &str, params: &str) -> (u16, Value) {
        let all = signed_params(&c.secret, params, self.h.clock.now_ms());
        let addr = self.addr;
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
        (r.status().as_u16(), body)
    }
}

/// A harness with room for the user stream, its app, an account `a` with 100,000 and its
/// counterparty `b` with 1,000,000.
async fn setup() -> (Local<impl TestApp<BoxBody>>, Creds, Creds) {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let b = account(&h, &app, "1000000").await;
    (Local { h, app }, a, b)
}

/// The core's account view of `c`.
async fn core_view(h: &Harness, c: &Creds) -> AccountView {
    h.state.ex.account_view(AccountId(c.id)).await.unwrap()
}

/// The view's position on leg `side`.
fn leg(v: &AccountView, side: PositionSide) -> &PositionView {
    v.positions
        .iter()
        .find(|p| p.position_side == side)
        .unwrap()
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

/// The rows of `symbol` are `want`'s `(positionSide, positionAmt)`, in that order.
fn assert_legs(rows: &Value, symbol: &str, want: &[(&str, &str)]) {
    let want: Vec<(String, Decimal)> = want.iter().map(|&(s, q)| (s.to_owned(), d(q))).collect();
    assert_eq!(legs_of(rows, symbol), want, "{symbol}: {rows}");
}

/// The position row of `symbol` on leg `side`.
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
    let v = core_view(h, c).await;
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

/// The next ORDER_TRADE_UPDATE of the order answered `answer`; with `exec`, the next of that
/// execution type (`o.x`).
async fn order_update(ws: &mut Conn, answer: &Value, exec: Option<&str>) -> Value {
    next_where(ws, |v| {
        v["e"] == "ORDER_TRADE_UPDATE"
            && exec.is_none_or(|x| v["o"]["x"] == x)
            && v["o"]["i"] == answer["orderId"]
    })
    .await
}

/// The next ACCOUNT_UPDATE, which holds exactly one position entry; the update and that entry.
async fn position_update(ws: &mut Conn) -> (Value, Value) {
    let u = next_where(ws, |v| v["e"] == "ACCOUNT_UPDATE").await;
    let p = u["a"]["P"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{u}");
    let p = p[0].clone();
    (u, p)
}

#[actix_web::test]
async fn position_mode_switches_only_when_flat_without_orders() {
    let (app, a, b) = setup().await;

    assert_eq!(
        app.ok(&a, "GET", DUAL, "").await,
        json!({"dualSidePosition": false})
    );
    // The mode in force: Binance's "no need to change".
    assert_eq!(app.set_hedge_refused(&a, false).await, -4059);
    let (status, body) = app.send(&a, "POST", DUAL, "dualSidePosition=maybe").await;
    assert_eq!(status, 400, "{body}");

    // An open order anywhere locks the mode (-4067); so does a position (-4068).
    let rest = app.place(&a, "BUY", "", "0.01", Some("40000")).await;
    assert_eq!(rest["positionSide"], "BOTH", "{rest}");
    assert_eq!(app.set_hedge_refused(&a, true).await, -4067);
    app.cancel_all(&a).await;
    let m = app.cross(&b, &a, "BUY", "", "0.01").await;
    assert_eq!(m["status"], "FILLED", "{m}");
    assert_eq!(app.set_hedge_refused(&a, true).await, -4068);
    // One-way mode takes BOTH (or nothing) only.
    assert_eq!(
        app.place_refused(&a, "SELL", "LONG", "0.01", None).await,
        -4061
    );
    app.place(&b, "BUY", "", "0.01", Some("50000")).await;
    let reduce = format!("{}&reduceOnly=true", order("SELL", "BOTH", "0.01", None));
    let close = app.ok(&a, "POST", ORDER, &reduce).await;
    assert_eq!(close["status"], "FILLED", "{close}");

    // Flat, no orders: hedge mode, shown by both routes; asking again is -4059.
    app.set_hedge(&a, true).await;
    assert_eq!(
        app.ok(&a, "GET", "/fapi/v1/accountConfig", "").await["dualSidePosition"],
        true
    );
    assert_eq!(app.set_hedge_refused(&a, true).await, -4059);
    // Another account is untouched.
    assert_eq!(
        app.ok(&b, "GET", DUAL, "").await,
        json!({"dualSidePosition": false})
    );

    // Hedge mode: every order names LONG or SHORT (-4061 without, or with BOTH);
    // reduceOnly is not taken (-1106); closing a leg without a position is -2022.
    for ps in ["", "BOTH"] {
        let code = app
            .place_refused(&a, "BUY", ps, "0.01", Some("40000"))
            .await;
        assert_eq!(code, -4061, "positionSide {ps:?}");
    }
    let reduce = format!("{}&reduceOnly=true", order("SELL", "LONG", "0.01", None));
    let (status, body) = app.send(&a, "POST", ORDER, &reduce).await;
    assert_eq!(
        (status, body["code"].clone(), body["msg"].clone()),
        (
            400,
            json!(-1106),
            json!("Parameter 'reduceonly' sent when not required.")
        ),
        "{body}"
    );
    let code = app
        .place_refused(&a, "SELL", "LONG", "0.01", Some("60000"))
        .await;
    assert_eq!(code, -2022);
    // The same rules through batchOrders, item by item.
    let batch = r#"[{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"0.01","price":"40000","positionSide":"LONG"},{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"0.01","price":"40000"}]"#;
    let batch = format!("batchOrders={}", form_encode(batch));
    let r = app.ok(&a, "POST", "/fapi/v1/batchOrders", &batch).await;
    assert_eq!(r[0]["positionSide"], "LONG", "{r}");
    assert_eq!(r[1]["code"], -4061, "{r}");
    // An order open in hedge mode locks the way back.
    assert_eq!(app.set_hedge_refused(&a, false).await, -4067);
    app.cancel_all(&a).await;
    app.set_hedge(&a, false).await;
}

#[actix_web::test]
async fn long_and_short_legs_side_by_side() {
    let (app, a, b) = setup().await;
    app.ok(&a, "POST", DUAL, "dualSidePosition=true").await;

    // Flat in hedge mode: a LONG and a SHORT row per symbol in v2, nothing in v3.
    let risk = app.ok(&a, "GET", RISK_V2, "").await;
    for s in ["BTCUSDT", "ETHUSDT"] {
        assert_legs(&risk, s, &[("LONG", "0"), ("SHORT", "0")]);
    }
    assert_eq!(app.ok(&a, "GET", RISK_V3, "").await, json!([]));

    // A LONG 0.1 and a SHORT 0.05 at 50,000, side by side.
    let long = app.cross(&b, &a, "BUY", "LONG", "0.1").await;
    assert_eq!(
        (&long["status"], &long["positionSide"], &long["reduceOnly"]),
        (&json!("FILLED"), &json!("LONG"), &json!(false)),
        "{long}"
    );
    let short = app.cross(&b, &a, "SELL", "SHORT", "0.05").await;
    assert_eq!(
        (&short["status"], &short["positionSide"]),
        (&json!("FILLED"), &json!("SHORT")),
        "{short}"
    );
    for path in [RISK_V2, RISK_V3, "/fapi/v2/account", "/fapi/v3/account"] {
        let body = app.ok(&a, "GET", path, "").await;
        let rows = if body.is_array() {
            body.clone()
        } else {
            body["positions"].clone()
        };
        assert_legs(&rows, "BTCUSDT", &[("LONG", "0.1"), ("SHORT", "-0.05")]);
        // v3 lists only legs with a position or open orders; v2 every symbol's two legs.
        let eth = legs_of(&rows, "ETHUSDT").len();
        assert_eq!(eth, if path.contains("v3") { 0 } else { 2 }, "{path}");
        rows_match_view(&app.h, &a, &rows).await;
    }
    let risk = app.ok(&a, "GET", RISK_V2, BTC).await;
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
    let bid = app.place(&a, "BUY", "LONG", "0.01", Some("40000")).await;
    let ask = app.place(&a, "SELL", "LONG", "0.05", Some("60000")).await;
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
    let q = app
        .ok(&a, "GET", ORDER, &format!("{BTC}&orderId={ask_id}"))
        .await;
    assert_eq!(q["positionSide"], "LONG", "{q}");
    let open = app.ok(&a, "GET", "/fapi/v1/openOrders", BTC).await;
    let sides: Vec<(u64, Value)> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["orderId"].as_u64().unwrap(), o["positionSide"].clone()))
        .collect();
    assert_eq!(sides, [(bid_id, json!("LONG")), (ask_id, json!("LONG"))]);
    // The open bid's order margin is on the LONG row (v3 lists the symbol's legs with a
    // position or orders).
    let v3 = app.ok(&a, "GET", RISK_V3, BTC).await;
    let view = core_view(&app.h, &a).await;
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
    app.place(&a, "SELL", "SHORT", "0.01", Some("61000")).await;
    let v3 = app.ok(&a, "GET", RISK_V3, BTC).await;
    let view = core_view(&app.h, &a).await;
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
        app.refused(&a, "PUT", ORDER, &put("&positionSide=SHORT", "59000"))
            .await,
        -4061
    );
    let m = app
        .ok(&a, "PUT", ORDER, &put("&positionSide=LONG", "59000"))
        .await;
    assert_eq!(
        (&m["price"], &m["positionSide"]),
        (&json!("59000.0"), &json!("LONG"))
    );
    let m = app.ok(&a, "PUT", ORDER, &put("", "58000")).await;
    assert_eq!(m["price"], "58000.0");
    let c = app
        .ok(&a, "DELETE", ORDER, &format!("{BTC}&orderId={bid_id}"))
        .await;
    assert_eq!(
        (&c["status"], &c["positionSide"]),
        (&json!("CANCELED"), &json!("LONG"))
    );
    app.cancel_all(&a).await;

    // Close 0.04 of the LONG (SELL + LONG): the SHORT is untouched.
    let part = app.cross(&b, &a, "SELL", "LONG", "0.04").await;
    assert_eq!(part["status"], "FILLED", "{part}");
    let risk = app.ok(&a, "GET", RISK_V2, BTC).await;
    assert_legs(&risk, "BTCUSDT", &[("LONG", "0.06"), ("SHORT", "-0.05")]);
    rows_match_view(&app.h, &a, &risk).await;

    // SELL + LONG beyond the LONG closes it and never opens a short on that leg.
    let beyond = app.cross(&b, &a, "SELL", "LONG", "0.2").await;
    assert_eq!(dec(&beyond["executedQty"]), d("0.06"), "{beyond}");
    // The excess is closed as a one-way reduce-only order's excess is.
    assert_eq!(beyond["status"], "CANCELED", "{beyond}");
    assert_eq!(beyond["reduceOnly"], true, "{beyond}");
    let risk = app.ok(&a, "GET", RISK_V2, BTC).await;
    assert_legs(&risk, "BTCUSDT", &[("LONG", "0"), ("SHORT", "-0.05")]);
    // The LONG is flat now: closing it again is -2022.
    assert_eq!(
        app.place_refused(&a, "SELL", "LONG", "0.01", None).await,
        -2022
    );
    // v3 lists only the SHORT now.
    let v3 = app.ok(&a, "GET", RISK_V3, "").await;
    assert_legs(&v3, "BTCUSDT", &[("SHORT", "-0.05")]);

    // userTrades name each fill's leg.
    let trades = app.ok(&a, "GET", "/fapi/v1/userTrades", BTC).await;
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
    let all = app.ok(&a, "GET", "/fapi/v1/allOrders", BTC).await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|o| o["positionSide"] == "LONG" || o["positionSide"] == "SHORT"),
        "{all}"
    );

    // Close the SHORT (BUY + SHORT), then back to one-way: one BOTH row per symbol.
    app.cancel_all(&b).await;
    let cover = app.cross(&b, &a, "BUY", "SHORT", "0.05").await;
    assert_eq!(
        (&cover["status"], &cover["reduceOnly"]),
        (&json!("FILLED"), &json!(true))
    );
    assert_eq!(
        app.ok(&a, "POST", DUAL, "dualSidePosition=false").await["code"],
        200
    );
    let risk = app.ok(&a, "GET", RISK_V2, "").await;
    assert_legs(&risk, "BTCUSDT", &[("BOTH", "0")]);
    assert_eq!(legs_of(&risk, "ETHUSDT").len(), 1);
}

#[actix_web::test]
async fn isolated_margin_moves_one_leg() {
    let (app, a, b) = setup().await;
    app.ok(&a, "POST", DUAL, "dualSidePosition=true").await;
    let isolated = "symbol=BTCUSDT&marginType=ISOLATED";
    app.ok(&a, "POST", "/fapi/v1/marginType", isolated).await;
    app.cross(&b, &a, "BUY", "LONG", "0.1").await;
    app.cross(&b, &a, "SELL", "SHORT", "0.05").await;
    let before = app.ok(&a, "GET", RISK_V2, BTC).await;
    rows_match_view(&app.h, &a, &before).await;
    let iw = |rows: &Value, side| dec(&row(rows, "BTCUSDT", side)["isolatedWallet"]);
    for side in ["LONG", "SHORT"] {
        assert_eq!(row(&before, "BTCUSDT", side)["marginType"], "isolated");
        assert!(iw(&before, side) > Decimal::ZERO, "{before}");
    }
    // Add 10 to the LONG leg only; BOTH is not a leg in hedge mode.
    let add = "symbol=BTCUSDT&amount=10&type=1&positionSide=LONG";
    let r = app.ok(&a, "POST", MARGIN, add).await;
    assert_eq!(r["code"], 200, "{r}");
    let after = app.ok(&a, "GET", RISK_V2, BTC).await;
    rows_match_view(&app.h, &a, &after).await;
    assert_eq!(iw(&after, "LONG"), iw(&before, "LONG") + Decimal::from(10));
    assert_eq!(iw(&after, "SHORT"), iw(&before, "SHORT"));
    for r in [&after, &app.ok(&a, "GET", RISK_V3, "").await] {
        let long = row(r, "BTCUSDT", "LONG");
        let view = core_view(&app.h, &a).await;
        let p = leg(&view, PositionSide::Long);
        assert_eq!(
            dec(&long["isolatedMargin"]),
            p.isolated_wallet + p.unrealized_pnl
        );
    }
    let both = "symbol=BTCUSDT&amount=1&type=1&positionSide=BOTH";
    let code = app.refused(&a, "POST", MARGIN, both).await;
    assert_eq!(code, -4061);
    // The transfer's history names its leg.
    let hist = app
        .ok(
            &a,
            "GET",
            "/fapi/v1/positionMargin/history",
            "symbol=BTCUSDT",
        )
        .await;
    let hist = hist.as_array().unwrap();
    assert_eq!(hist.len(), 1, "{hist:?}");
    assert_eq!(
        (
            &hist[0]["type"],
            &hist[0]["amount"],
            &hist[0]["positionSide"]
        ),
        (&json!(1), &json!("10"), &json!("LONG")),
        "{hist:?}"
    );
    let acct = app.ok(&a, "GET", "/fapi/v2/account", "").await;
    let rows = &acct["positions"];
    for side in ["LONG", "SHORT"] {
        let r = row(rows, "BTCUSDT", side);
        assert_eq!(r["isolated"], true, "{r}");
        assert_eq!(dec(&r["isolatedWallet"]), iw(&after, side));
    }
}

#[actix_web::test]
async fn user_stream_names_the_leg_of_orders_and_positions() {
    let (app, a, b) = setup().await;
    let addr = serve(&app.h);
    let http = Served { h: &app.h, addr };
    app.ok(&a, "POST", DUAL, "dualSidePosition=true").await;
    let isolated = "symbol=BTCUSDT&marginType=ISOLATED";
    app.ok(&a, "POST", "/fapi/v1/marginType", isolated).await;
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
    let long = http.cross(&b, &a, "BUY", "LONG", "0.1").await;
    let t = order_update(&mut ws, &long, Some("TRADE")).await;
    assert_eq!(
        (&t["o"]["ps"], &t["o"]["R"]),
        (&json!("LONG"), &json!(false)),
        "{t}"
    );
    let (u, p) = position_update(&mut ws).await;
    assert_eq!(u["a"]["m"], "ORDER");
    assert_eq!(
        (&p["s"], &p["ps"], &p["pa"], &p["ep"]),
        (
            &json!("BTCUSDT"),
            &json!("LONG"),
            &json!("0.1"),
            &json!("50000")
        ),
        "{u}"
    );

    // SHORT 0.05 beside it: only the SHORT leg changed.
    let short = http.cross(&b, &a, "SELL", "SHORT", "0.05").await;
    let t = order_update(&mut ws, &short, Some("TRADE")).await;
    assert_eq!(t["o"]["ps"], "SHORT", "{t}");
    let (u, p) = position_update(&mut ws).await;
    assert_eq!(
        (&p["ps"], &p["pa"]),
        (&json!("SHORT"), &json!("-0.05")),
        "{u}"
    );

    // A resting closing order: NEW with ps LONG and R true (reduce-only, as on Binance).
    let close = http.place(&a, "SELL", "LONG", "0.03", Some("50000")).await;
    let n = order_update(&mut ws, &close, None).await;
    assert_eq!(
        (&n["o"]["x"], &n["o"]["ps"], &n["o"]["R"]),
        (&json!("NEW"), &json!("LONG"), &json!(true)),
        "{n}"
    );
    // b lifts it: the LONG leg shrinks to 0.07, the SHORT is not in the update.
    http.place(&b, "BUY", "", "0.03", None).await;
    let t = order_update(&mut ws, &close, Some("TRADE")).await;
    assert_eq!(
        (&t["o"]["ps"], &t["o"]["X"]),
        (&json!("LONG"), &json!("FILLED")),
        "{t}"
    );
    let (u, p) = position_update(&mut ws).await;
    assert_eq!(
        (&p["ps"], &p["pa"]),
        (&json!("LONG"), &json!("0.07")),
        "{u}"
    );
    let view = core_view(&app.h, &a).await;
    assert_eq!(
        u["a"]["B"][0]["wb"],
        json!(view.wallet_balance.normalize().to_string())
    );

    // A margin transfer into the LONG leg: one MARGIN_TRANSFER update with that leg's wallet.
    let add = "symbol=BTCUSDT&amount=5&type=1&positionSide=LONG";
    http.ok(&a, "POST", MARGIN, add).await;
    let (u, p) = position_update(&mut ws).await;
    let view = core_view(&app.h, &a).await;
    let long = leg(&view, PositionSide::Long);
    assert_eq!(u["a"]["m"], "MARGIN_TRANSFER", "{u}");
    assert_eq!(
        (&p["ps"], &p["mt"], &p["iw"]),
        (
            &json!("LONG"),
            &json!("isolated"),
            &json!(long.isolated_wallet.normalize().to_string())
        ),
        "{u}"
    );
}
