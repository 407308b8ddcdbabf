//! What ccxt sends that Binance accepts, as ccxt sends it: `cancel_orders` names its lists in
//! lower case (`orderidlist`, `origclientorderidlist`), and `fetch_my_trades(since, limit)`
//! pages forward from `startTime` (the oldest trades at or after it first).

mod api_common;

use api_common::binance::form_encode;
use api_common::*;
use serde_json::{json, Value};

fn limit(side: &str, price: &str, qty: &str, cid: &str) -> String {
    format!(
        "symbol=BTCUSDT&side={side}&type=LIMIT&timeInForce=GTC&quantity={qty}&price={price}&newClientOrderId={cid}"
    )
}

#[actix_web::test]
async fn cancel_orders_takes_ccxts_lower_case_lists() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "100000").await;
    let mut ids = Vec::new();
    for (price, cid) in [("40000", "lc-1"), ("40100", "lc-2"), ("40200", "lc-3")] {
        let r = call(
            &app,
            h.bn(
                &a,
                "POST",
                "/fapi/v1/order",
                &limit("BUY", price, "0.01", cid),
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.push(r.body["orderId"].as_u64().unwrap());
    }
    let by_id = format!(
        "symbol=BTCUSDT&orderidlist={}",
        form_encode(&format!("[{}]", ids[0]))
    );
    let r = call(&app, h.bn(&a, "DELETE", "/fapi/v1/batchOrders", &by_id)).await;
    assert_eq!(
        (r.status, &r.body[0]["status"]),
        (200, &json!("CANCELED")),
        "{}",
        r.body
    );
    let by_cid = format!(
        "symbol=BTCUSDT&origclientorderidlist={}",
        form_encode(r#"["lc-2","lc-3"]"#)
    );
    let r = call(&app, h.bn(&a, "DELETE", "/fapi/v1/batchOrders", &by_cid)).await;
    let statuses: Vec<&Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!("CANCELED"), &json!("CANCELED")],
        "{}",
        r.body
    );
    let open = call(
        &app,
        h.bn(&a, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT"),
    )
    .await;
    assert_eq!(open.body, json!([]));
}

#[actix_web::test]
async fn user_trades_page_forward_from_start_time() {
    let h = harness();
    let app = app!(h);
    let maker = account(&h, &app, "100000").await;
    let taker = account(&h, &app, "100000").await;
    for (price, cid) in [("50000", "mk-1"), ("50000.1", "mk-2"), ("50000.2", "mk-3")] {
        let r = call(
            &app,
            h.bn(
                &maker,
                "POST",
                "/fapi/v1/order",
                &limit("SELL", price, "0.01", cid),
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let buy = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.03";
    let r = call(&app, h.bn(&taker, "POST", "/fapi/v1/order", buy)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let all = call(
        &app,
        h.bn(&maker, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT"),
    )
    .await
    .body;
    let ids: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{all}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending: {all}");
    let first = all[0]["time"].as_u64().unwrap();
    // From `startTime`: the oldest trades first (ccxt's `since` paging).
    let since = format!("symbol=BTCUSDT&startTime={first}&limit=2");
    let page = call(&app, h.bn(&maker, "GET", "/fapi/v1/userTrades", &since))
        .await
        .body;
    let got: Vec<u64> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, ids[..2], "{page}");
    // Without a start: the newest `limit`, still in ascending order (Binance's default).
    let newest = call(
        &app,
        h.bn(
            &maker,
            "GET",
            "/fapi/v1/userTrades",
            "symbol=BTCUSDT&limit=2",
        ),
    )
    .await
    .body;
    let got: Vec<u64> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, ids[1..], "{newest}");
}
