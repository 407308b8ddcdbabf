//! Isolated margin in the Binance dialect, as ccxt's `set_margin_mode`, `add_margin`,
//! `reduce_margin` and `fetch_positions` use it: `POST /fapi/v1/marginType`, `POST
//! /fapi/v1/positionMargin`, `GET /fapi/v1/positionMargin/history`, and the isolated fields of
//! `positionRisk`, `account` and `symbolConfig`, every value compared with the native API.

mod api_common;

use api_common::binance::bn;
use api_common::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("not a decimal string: {v}")),
    )
    .unwrap()
}

#[actix_web::test]
async fn margin_type_position_margin_and_isolated_fields() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "10000").await;
    let b = account(&h, &app, "100000").await;

    // Switch BTCUSDT to isolated; asking again is Binance's "no need to change".
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=ISOLATED",
    )
    .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"code": 200, "msg": "success"}))
    );
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=ISOLATED",
    )
    .await;
    assert_eq!(r.body["code"], -4046, "{}", r.body);
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/symbolConfig",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(r.body[0]["marginType"], "ISOLATED", "{}", r.body);
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=HALF",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // An open order locks the mode (-4047).
    let buy = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000";
    let r = bn(&h, &app, &a, "POST", "/fapi/v1/order", buy).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=CROSSED",
    )
    .await;
    assert_eq!(r.body["code"], -4047, "{}", r.body);
    let r = bn(
        &h,
        &app,
        &a,
        "DELETE",
        "/fapi/v1/allOpenOrders",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A buys 0.1 at 50,000 from B: an isolated long.
    let sell = "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.1&price=50000";
    assert_eq!(
        bn(&h, &app, &b, "POST", "/fapi/v1/order", sell)
            .await
            .status,
        200
    );
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.1",
    )
    .await;
    assert_eq!(r.body["status"], "FILLED", "{}", r.body);
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=CROSSED",
    )
    .await;
    assert_eq!(r.body["code"], -4048, "{}", r.body);

    // positionRisk and account agree with the native account object.
    let native = call(&app, h.signed(&a, "GET", "/api/v1/account", ""))
        .await
        .body;
    let pos = &native["positions"][0];
    assert_eq!(pos["margin_mode"], "isolated", "{native}");
    let iw = dec(&pos["isolated_wallet"]);
    let im = dec(&pos["initial_margin"]);
    let fee: Decimal = bn(&h, &app, &a, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| dec(&t["commission"]))
        .sum();
    // The opening fill moved the initial margin (at 50,000 = mark) and paid its fee from it.
    assert_eq!(iw, im - fee);
    assert_eq!(
        dec(&native["cross_wallet_balance"]),
        Decimal::from(10_000) - im
    );
    let risk = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    assert_eq!(risk[0]["marginType"], "isolated", "{risk}");
    assert_eq!(dec(&risk[0]["isolatedWallet"]), iw);
    assert_eq!(
        dec(&risk[0]["isolatedMargin"]),
        iw + dec(&pos["unrealized_pnl"])
    );
    assert_eq!(risk[0]["liquidationPrice"], pos["liquidation_price"]);
    let v3 = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v3/positionRisk",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    assert_eq!(dec(&v3[0]["isolatedWallet"]), iw);
    let acct = bn(&h, &app, &a, "GET", "/fapi/v2/account", "").await.body;
    assert_eq!(
        dec(&acct["totalWalletBalance"]),
        dec(&native["wallet_balance"])
    );
    assert_eq!(
        dec(&acct["totalCrossWalletBalance"]),
        dec(&native["cross_wallet_balance"])
    );
    assert_eq!(
        dec(&acct["totalWalletBalance"]) - dec(&acct["totalCrossWalletBalance"]),
        iw
    );
    let row = acct["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == "BTCUSDT")
        .unwrap();
    assert_eq!(
        (row["isolated"].clone(), dec(&row["isolatedWallet"])),
        (json!(true), iw)
    );

    // Add 10, reduce 4: the isolated wallet moves by exactly that, the cross wallet opposite.
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionMargin",
        "symbol=BTCUSDT&amount=10&type=1",
    )
    .await;
    assert_eq!(
        r.body,
        json!({"amount": 10.0, "code": 200, "msg": "Successfully modify position margin.", "type": 1})
    );
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionMargin",
        "symbol=BTCUSDT&amount=4&type=2&positionSide=BOTH",
    )
    .await;
    assert_eq!(r.body["type"], 2, "{}", r.body);
    let risk = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v2/positionRisk",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    assert_eq!(dec(&risk[0]["isolatedWallet"]), iw + Decimal::from(6));
    let native2 = call(&app, h.signed(&a, "GET", "/api/v1/account", ""))
        .await
        .body;
    assert_eq!(
        dec(&native2["cross_wallet_balance"]),
        dec(&native["cross_wallet_balance"]) - Decimal::from(6)
    );
    // Binance's refusals.
    for (query, code) in [
        ("symbol=BTCUSDT&amount=100000&type=2", -4051),
        ("symbol=BTCUSDT&amount=1000000&type=1", -4050),
        ("symbol=BTCUSDT&amount=1&type=1&positionSide=LONG", -4061),
        ("symbol=BTCUSDT&amount=0&type=1", -4055),
        ("symbol=ETHUSDT&amount=1&type=1", -4049),
    ] {
        let r = bn(&h, &app, &a, "POST", "/fapi/v1/positionMargin", query).await;
        assert_eq!(
            (r.status, r.body["code"].clone()),
            (400, json!(code)),
            "{query}: {}",
            r.body
        );
    }
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=ETHUSDT&marginType=ISOLATED",
    )
    .await;
    assert_eq!(r.status, 200);
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/positionMargin",
        "symbol=ETHUSDT&amount=1&type=1",
    )
    .await;
    assert_eq!(r.body["code"], -4054, "{}", r.body);

    // The history lists both transfers, oldest first, and filters by type; Binance's income
    // does not list them (the native income history does, as `isolated_margin`).
    let hist = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/positionMargin/history",
        "symbol=BTCUSDT",
    )
    .await
    .body;
    let rows: Vec<(Value, Value)> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["type"].clone(), r["amount"].clone()))
        .collect();
    assert_eq!(
        rows,
        [(json!(1), json!("10")), (json!(2), json!("4"))],
        "{hist}"
    );
    let adds = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/positionMargin/history",
        "symbol=BTCUSDT&type=1",
    )
    .await
    .body;
    assert_eq!(adds.as_array().unwrap().len(), 1, "{adds}");
    let income = bn(&h, &app, &a, "GET", "/fapi/v1/income", "").await.body;
    assert!(
        income
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["incomeType"] != "ISOLATED_MARGIN"),
        "{income}"
    );
    let native_income = call(
        &app,
        h.signed(&a, "GET", "/api/v1/account/income?type=isolated_margin", ""),
    )
    .await;
    assert_eq!(native_income.status, 200, "{}", native_income.body);
    let amounts: Vec<Decimal> = native_income.body["income"]
        .as_array()
        .or_else(|| native_income.body.as_array())
        .unwrap()
        .iter()
        .map(|r| dec(&r["amount"]))
        .collect();
    assert_eq!(amounts.len(), 2, "{}", native_income.body);
    assert_eq!(amounts.iter().copied().sum::<Decimal>(), Decimal::from(6));

    // Closing returns the isolated wallet: flat, the mode may change again.
    let buy_back = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.1&price=50000";
    assert_eq!(
        bn(&h, &app, &b, "POST", "/fapi/v1/order", buy_back)
            .await
            .status,
        200
    );
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/order",
        "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.1&reduceOnly=true",
    )
    .await;
    assert_eq!(r.body["status"], "FILLED", "{}", r.body);
    let native3 = call(&app, h.signed(&a, "GET", "/api/v1/account", ""))
        .await
        .body;
    assert_eq!(native3["positions"], json!([]));
    assert_eq!(native3["wallet_balance"], native3["cross_wallet_balance"]);
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/marginType",
        "symbol=BTCUSDT&marginType=CROSSED",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
