//! Take-profit / stop-loss and close-position orders (docs/RULES.md §2a) over the native API
//! and the Binance dialect: attached to an entry (waiting for it to fill, cancelled with it
//! when it never fills), set on a position (`POST /markets/{symbol}/tpsl`), one-cancels-other,
//! cancelled when the position goes flat, waiting while flat, reserving nothing, and every
//! refusal leaving the state as it was.
//!
//! Prices move only by trades (the triggers here watch the last price): the harness's BTC-PERP
//! has its mark at 50,000 and no timers, tick 0.1, lot 0.001, at most 3 open orders per account.

mod api_common;

use api_common::*;
use serde_json::{json, Value};

const BTC: &str = "BTC-PERP";
const ORDERS: &str = "/api/v1/markets/BTC-PERP/orders";

async fn post<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    body: Value,
) -> Resp {
    call(app, h.signed(c, "POST", ORDERS, &body.to_string())).await
}

fn limit(side: &str, price: &str, qty: &str) -> Value {
    json!({"side": side, "type": "limit", "quantity": qty, "price": price})
}

async fn order<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
    id: u64,
) -> Value {
    let r = call(app, h.signed(c, "GET", &format!("{ORDERS}/{id}"), "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn open_ids<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
) -> Vec<u64> {
    let r = call(app, h.signed(c, "GET", ORDERS, "")).await;
    let mut ids: Vec<u64> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

async fn position_qty<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
) -> String {
    let r = call(app, h.signed(c, "GET", "/api/v1/account", "")).await;
    r.body["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == BTC)
        .map_or("0".to_string(), |p| {
            p["quantity"].as_str().unwrap().to_string()
        })
}

/// A trade between `a` and `b` at `price` (moves the last price there).
async fn print<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    a: &Creds,
    b: &Creds,
    price: &str,
) {
    let r = post(h, app, a, limit("sell", price, "0.001")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = post(h, app, b, limit("buy", price, "0.001")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "filled", "{}", r.body);
}

/// A trader and two counterparties, 100,000 each.
async fn three<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
) -> (Creds, Creds, Creds) {
    (
        account(h, app, "100000").await,
        account(h, app, "100000").await,
        account(h, app, "100000").await,
    )
}

/// The TP/SL of `entry`: the two orders placed with it (the next two ids).
fn children(entry: &Value) -> (u64, u64) {
    let id = entry["order_id"].as_u64().unwrap();
    (id + 1, id + 2)
}

#[actix_web::test]
async fn an_entry_with_tp_and_sl_takes_profit_and_cancels_the_stop() {
    let h = harness();
    let app = app!(h);
    let (t, m, n) = three(&h, &app).await;
    let r = post(&h, &app, &m, limit("sell", "50000", "0.01")).await;
    assert_eq!(r.status, 201);
    let before = call(&app, h.signed(&t, "GET", "/api/v1/account", ""))
        .await
        .body;
    let mut entry = limit("buy", "50000", "0.01");
    entry["take_profit"] = json!("50100.0");
    entry["stop_loss"] = json!("49900");
    let e = post(&h, &app, &t, entry).await;
    assert_eq!(e.status, 201, "{}", e.body);
    assert_eq!(e.body["status"], "filled");
    let (tp, sl) = children(&e.body);
    assert_eq!(open_ids(&h, &app, &t).await, vec![tp, sl]);
    for (id, kind, trigger) in [
        (tp, "take_profit_market", "50100.0"),
        (sl, "stop_market", "49900.0"),
    ] {
        let o = order(&h, &app, &t, id).await;
        assert_eq!(
            (
                &o["type"],
                &o["side"],
                &o["status"],
                &o["trigger_price"],
                &o["quantity"],
                &o["close_position"],
                &o["reduce_only"]
            ),
            (
                &json!(kind),
                &json!("sell"),
                &json!("untriggered"),
                &json!(trigger),
                &json!("0"),
                &json!(true),
                &json!(true)
            ),
            "{o}"
        );
    }
    // They reserve nothing: what the fill took is all that moved.
    let after = call(&app, h.signed(&t, "GET", "/api/v1/account", ""))
        .await
        .body;
    assert_eq!(after["order_margin"], "0", "{after}");
    assert_ne!(after["available_balance"], before["available_balance"]);
    // Bids for the take-profit to sell into, then a print at its trigger.
    let r = post(&h, &app, &m, limit("buy", "50050", "0.01")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    print(&h, &app, &m, &n, "50100.0").await;
    let tp_o = order(&h, &app, &t, tp).await;
    assert_eq!(
        (&tp_o["status"], &tp_o["quantity"], &tp_o["filled_quantity"]),
        (&json!("filled"), &json!("0.01"), &json!("0.01")),
        "{tp_o}"
    );
    let sl_o = order(&h, &app, &t, sl).await;
    assert_eq!(
        (&sl_o["status"], &sl_o["reason"]),
        (&json!("expired"), &json!("oco")),
        "{sl_o}"
    );
    assert_eq!(position_qty(&h, &app, &t).await, "0");
    assert!(open_ids(&h, &app, &t).await.is_empty());
}

#[actix_web::test]
async fn tp_and_sl_wait_for_their_entry_and_go_with_it_when_it_never_fills() {
    let h = harness();
    let app = app!(h);
    let (t, m, n) = three(&h, &app).await;
    let mut entry = limit("buy", "49500", "0.01");
    entry["take_profit"] = json!("50500");
    entry["stop_loss"] = json!("49000");
    let e = post(&h, &app, &t, entry).await;
    assert_eq!(
        (e.status, &e.body["status"]),
        (201, &json!("new")),
        "{}",
        e.body
    );
    let (tp, sl) = children(&e.body);
    // The price passes the take-profit's trigger while the entry rests: with nothing to
    // close, it keeps waiting (no fire, no event).
    print(&h, &app, &m, &n, "50500").await;
    assert_eq!(order(&h, &app, &t, tp).await["status"], "untriggered");
    // The entry is cancelled unfilled: its TP/SL go with it.
    let id = e.body["order_id"].as_u64().unwrap();
    let r = call(&app, h.signed(&t, "DELETE", &format!("{ORDERS}/{id}"), "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for id in [tp, sl] {
        let o = order(&h, &app, &t, id).await;
        assert_eq!(
            (&o["status"], &o["reason"]),
            (&json!("expired"), &json!("entry_unfilled")),
            "{o}"
        );
    }
    assert!(open_ids(&h, &app, &t).await.is_empty());
}

#[actix_web::test]
async fn a_position_tp_sl_pair_is_cancelled_when_the_position_is_closed_by_hand() {
    let h = harness();
    let app = app!(h);
    let (t, m) = (
        account(&h, &app, "100000").await,
        account(&h, &app, "100000").await,
    );
    let r = post(&h, &app, &m, limit("sell", "50000", "0.02")).await;
    assert_eq!(r.status, 201);
    let r = post(&h, &app, &t, limit("buy", "50000", "0.02")).await;
    assert_eq!(r.body["status"], "filled");
    let body = json!({"take_profit": "51000", "stop_loss": "49000"}).to_string();
    let r = call(
        &app,
        h.signed(&t, "POST", "/api/v1/markets/BTC-PERP/tpsl", &body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let placed = r.body.as_array().unwrap();
    assert_eq!(placed.len(), 2);
    assert_eq!(
        (&placed[0]["type"], &placed[0]["side"]),
        (&json!("take_profit_market"), &json!("sell"))
    );
    assert_eq!(
        (&placed[1]["type"], &placed[1]["trigger_price"]),
        (&json!("stop_market"), &json!("49000.0"))
    );
    let ids: Vec<u64> = placed
        .iter()
        .map(|o| o["order_id"].as_u64().unwrap())
        .collect();
    // Half closed: they stay (they close whatever is left when they fire).
    let r = post(&h, &app, &m, limit("buy", "50000", "0.02")).await;
    assert_eq!(r.status, 201);
    let close = json!({"side": "sell", "type": "market", "quantity": "0.01", "reduce_only": true});
    assert_eq!(
        post(&h, &app, &t, close.clone()).await.body["status"],
        "filled"
    );
    assert_eq!(open_ids(&h, &app, &t).await, ids);
    // Flat: both expire with `position_closed`.
    assert_eq!(post(&h, &app, &t, close).await.body["status"], "filled");
    assert_eq!(position_qty(&h, &app, &t).await, "0");
    for id in ids {
        let o = order(&h, &app, &t, id).await;
        assert_eq!(
            (&o["status"], &o["reason"]),
            (&json!("expired"), &json!("position_closed")),
            "{o}"
        );
    }
}

#[actix_web::test]
async fn a_stop_loss_closes_the_whole_position_it_finds_when_it_fires() {
    let h = harness();
    let app = app!(h);
    let (t, m, n) = three(&h, &app).await;
    let r = post(&h, &app, &m, limit("sell", "50000", "0.03")).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        post(&h, &app, &t, limit("buy", "50000", "0.01")).await.body["status"],
        "filled"
    );
    let body = json!({"stop_loss": "49900"}).to_string();
    let r = call(
        &app,
        h.signed(&t, "POST", "/api/v1/markets/BTC-PERP/tpsl", &body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sl = r.body[0]["order_id"].as_u64().unwrap();
    // The position grows after the stop was set: the stop closes all of it.
    assert_eq!(
        post(&h, &app, &t, limit("buy", "50000", "0.02")).await.body["status"],
        "filled"
    );
    assert_eq!(position_qty(&h, &app, &t).await, "0.03");
    let r = post(&h, &app, &m, limit("buy", "49850", "0.03")).await;
    assert_eq!(r.status, 201);
    print(&h, &app, &n, &m, "49900").await;
    let o = order(&h, &app, &t, sl).await;
    assert_eq!(
        (&o["status"], &o["quantity"], &o["filled_quantity"]),
        (&json!("filled"), &json!("0.03"), &json!("0.03")),
        "{o}"
    );
    assert_eq!(position_qty(&h, &app, &t).await, "0");
}

#[actix_web::test]
async fn tp_sl_refusals_name_their_rule_and_change_nothing() {
    let h = harness();
    let app = app!(h);
    let t = account(&h, &app, "100000").await;
    let tpsl = "/api/v1/markets/BTC-PERP/tpsl";
    let cases: Vec<(String, String, u16, &str)> = vec![
        // take-profit below a buy's price
        (ORDERS.into(), json!({"side":"buy","type":"limit","quantity":"0.01","price":"49000","take_profit":"48500"}).to_string(), 400, "INVALID_TPSL"),
        // stop-loss above a sell's price
        (ORDERS.into(), json!({"side":"sell","type":"limit","quantity":"0.01","price":"51000","stop_loss":"50000"}).to_string(), 400, "INVALID_TPSL"),
        // on a reduce-only order
        (ORDERS.into(), json!({"side":"sell","type":"limit","quantity":"0.01","price":"51000","reduce_only":true,"take_profit":"50000"}).to_string(), 400, "INVALID_TPSL"),
        // a market buy whose stop-loss is above the price now
        (ORDERS.into(), json!({"side":"buy","type":"market","quantity":"0.01","stop_loss":"50000.1","tpsl_trigger_by":"mark"}).to_string(), 400, "WOULD_TRIGGER_IMMEDIATELY"),
        // off the tick
        (ORDERS.into(), json!({"side":"buy","type":"limit","quantity":"0.01","price":"49000","take_profit":"50000.05"}).to_string(), 400, "INVALID_PRICE"),
        // close_position with a quantity, on a limit type, with reduce_only
        (ORDERS.into(), json!({"side":"sell","type":"stop_market","quantity":"0.01","trigger_price":"49000","close_position":true}).to_string(), 400, "INVALID_REQUEST"),
        (ORDERS.into(), json!({"side":"sell","type":"stop_limit","price":"48000","trigger_price":"49000","close_position":true}).to_string(), 400, "INVALID_REQUEST"),
        (ORDERS.into(), json!({"side":"sell","type":"stop_market","reduce_only":true,"trigger_price":"49000","close_position":true}).to_string(), 400, "INVALID_REQUEST"),
        // no quantity without close_position
        (ORDERS.into(), json!({"side":"sell","type":"stop_market","trigger_price":"49000"}).to_string(), 400, "INVALID_REQUEST"),
        // a position TP/SL without a position, with nothing, off the tick
        (tpsl.into(), json!({"stop_loss":"49000"}).to_string(), 409, "NO_POSITION"),
        (tpsl.into(), json!({}).to_string(), 400, "INVALID_REQUEST"),
        (tpsl.into(), json!({"stop_loss":"49000.05"}).to_string(), 400, "INVALID_PRICE"),
    ];
    for (path, body, status, code) in cases {
        let before = observe(&h, &app, &t).await;
        let r = call(&app, h.signed(&t, "POST", &path, &body)).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {}", r.body);
        assert_eq!(observe(&h, &app, &t).await, before, "{body} changed state");
    }
    // The entry and its TP/SL need room together (3 open orders at most here): two resting
    // orders leave room for one, so an entry with a pair is refused whole.
    for p in ["40000", "40000.1"] {
        assert_eq!(
            post(&h, &app, &t, limit("buy", p, "0.01")).await.status,
            201
        );
    }
    let before = observe(&h, &app, &t).await;
    let mut entry = limit("buy", "45000", "0.01");
    entry["take_profit"] = json!("52000");
    entry["stop_loss"] = json!("44000");
    let r = post(&h, &app, &t, entry).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "TOO_MANY_OPEN_ORDERS"),
        "{}",
        r.body
    );
    assert_eq!(observe(&h, &app, &t).await, before);
}

#[actix_web::test]
async fn a_close_position_order_never_opens_a_position() {
    let h = harness();
    let app = app!(h);
    let (t, m, n) = three(&h, &app).await;
    // A close-position sell placed while flat: the price passes it, it waits.
    let cp =
        json!({"side":"sell","type":"stop_market","trigger_price":"49900","close_position":true});
    let r = post(&h, &app, &t, cp).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["order_id"].as_u64().unwrap();
    print(&h, &app, &m, &n, "49900").await;
    assert_eq!(order(&h, &app, &t, id).await["status"], "untriggered");
    assert_eq!(position_qty(&h, &app, &t).await, "0");
    // Short now: the sell cannot close a short, so when it fires it closes nothing.
    assert_eq!(
        post(&h, &app, &m, limit("buy", "49900", "0.01"))
            .await
            .status,
        201
    );
    assert_eq!(
        post(&h, &app, &t, limit("sell", "49900", "0.01"))
            .await
            .body["status"],
        "filled"
    );
    print(&h, &app, &n, &m, "49800").await;
    let o = order(&h, &app, &t, id).await;
    assert_eq!(
        (&o["status"], &o["filled_quantity"]),
        (&json!("cancelled"), &json!("0")),
        "{o}"
    );
    assert_eq!(position_qty(&h, &app, &t).await, "-0.01");
}

#[actix_web::test]
async fn binance_close_position_orders_through_the_algo_api() {
    let h = harness();
    let app = app!(h);
    let (t, m) = (
        account(&h, &app, "100000").await,
        account(&h, &app, "100000").await,
    );
    assert_eq!(
        post(&h, &app, &m, limit("sell", "50000", "0.01"))
            .await
            .status,
        201
    );
    assert_eq!(
        post(&h, &app, &t, limit("buy", "50000", "0.01")).await.body["status"],
        "filled"
    );
    let r = api_common::binance::bn(&h, &app, &t, "POST", "/fapi/v1/algoOrder",
        "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&triggerPrice=49000&closePosition=true").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["closePosition"], &r.body["quantity"]),
        (&json!(true), &json!("0")),
        "{}",
        r.body
    );
    let r = api_common::binance::bn(&h, &app, &t, "POST", "/fapi/v1/algoOrder",
        "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&triggerPrice=49000&closePosition=true&quantity=0.01").await;
    assert_eq!(
        (r.status, &r.body["code"]),
        (400, &json!(-4137)),
        "{}",
        r.body
    );
}

#[actix_web::test]
async fn a_waiting_stop_moves_its_trigger_and_fires_there_only() {
    let h = harness();
    let app = app!(h);
    let (t, m, n) = three(&h, &app).await;
    assert_eq!(
        post(&h, &app, &m, limit("sell", "50000", "0.02"))
            .await
            .status,
        201
    );
    assert_eq!(
        post(&h, &app, &t, limit("buy", "50000", "0.02")).await.body["status"],
        "filled"
    );
    let body = json!({"stop_loss": "49000"}).to_string();
    let r = call(
        &app,
        h.signed(&t, "POST", "/api/v1/markets/BTC-PERP/tpsl", &body),
    )
    .await;
    let sl = r.body[0]["order_id"].as_u64().unwrap();
    let path = format!("{ORDERS}/{sl}");
    let patch = |b: Value| h.signed(&t, "PATCH", &path, &b.to_string());
    // Trail the stop up to 49,800: the order keeps its id, its new trigger shows.
    let r = call(&app, patch(json!({"trigger_price": "49800"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["trigger_price"], &r.body["status"]),
        (&json!("49800.0"), &json!("untriggered"))
    );
    // A close-position order has no quantity to change; a stop-market no limit price; a
    // trigger the last price already passed is refused; each leaves the order as it was.
    assert_eq!(
        post(&h, &app, &m, limit("sell", "49900", "0.001"))
            .await
            .status,
        201
    );
    assert_eq!(
        post(&h, &app, &n, limit("buy", "49900", "0.001"))
            .await
            .body["status"],
        "filled"
    );
    for (b, status, code) in [
        (json!({"quantity": "0.01"}), 409, "ORDER_NOT_AMENDABLE"),
        (json!({"price": "49000"}), 409, "ORDER_NOT_AMENDABLE"),
        (
            json!({"trigger_price": "49950"}),
            400,
            "WOULD_TRIGGER_IMMEDIATELY",
        ),
        (json!({"trigger_price": "49800.05"}), 400, "INVALID_PRICE"),
    ] {
        let before = observe(&h, &app, &t).await;
        let r = call(&app, patch(b.clone())).await;
        assert_eq!((r.status, r.code()), (status, code), "{b}: {}", r.body);
        assert_eq!(observe(&h, &app, &t).await, before);
        assert_eq!(order(&h, &app, &t, sl).await["trigger_price"], "49800.0");
    }
    // A trigger on a resting limit order is not a thing.
    let rest = post(&h, &app, &t, limit("sell", "52000", "0.01")).await;
    let id = rest.body["order_id"].as_u64().unwrap();
    let r = call(
        &app,
        h.signed(
            &t,
            "PATCH",
            &format!("{ORDERS}/{id}"),
            &json!({"trigger_price": "51000"}).to_string(),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "ORDER_NOT_AMENDABLE"),
        "{}",
        r.body
    );
    // The old trigger (49,000) is never reached: the price falls to 49,800 and the stop fires.
    assert_eq!(
        post(&h, &app, &m, limit("buy", "49700", "0.02"))
            .await
            .status,
        201
    );
    print(&h, &app, &n, &m, "49800").await;
    let o = order(&h, &app, &t, sl).await;
    assert_eq!(
        (&o["status"], &o["filled_quantity"]),
        (&json!("filled"), &json!("0.02")),
        "{o}"
    );
    assert_eq!(position_qty(&h, &app, &t).await, "0");
}

#[actix_web::test]
async fn an_amended_stop_limit_holds_margin_for_its_new_terms() {
    let h = harness();
    let app = app!(h);
    let t = account(&h, &app, "1000").await;
    let stop = json!({"side":"buy","type":"stop_limit","quantity":"0.01","price":"50500","trigger_price":"50400","trigger_by":"mark"});
    let r = post(&h, &app, &t, stop).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["order_id"].as_u64().unwrap();
    let margin = |v: &Value| {
        v["order_margin"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap()
    };
    let before = call(&app, h.signed(&t, "GET", "/api/v1/account", ""))
        .await
        .body;
    let path = format!("{ORDERS}/{id}");
    let body = json!({"trigger_price": "50600", "price": "50700", "quantity": "0.03"}).to_string();
    let r = call(&app, h.signed(&t, "PATCH", &path, &body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            &r.body["trigger_price"],
            &r.body["price"],
            &r.body["quantity"],
            &r.body["remaining_quantity"]
        ),
        (
            &json!("50600.0"),
            &json!("50700.0"),
            &json!("0.03"),
            &json!("0.03")
        )
    );
    let after = call(&app, h.signed(&t, "GET", "/api/v1/account", ""))
        .await
        .body;
    // Three times the lots at a higher price: more than three times the hold (the open loss
    // above the mark grows too).
    assert!(
        margin(&after) > margin(&before) * rust_decimal::Decimal::from(3),
        "{before} -> {after}"
    );
    // Beyond the account: refused, the order as it was.
    let before = observe(&h, &app, &t).await;
    let r = call(
        &app,
        h.signed(&t, "PATCH", &path, &json!({"quantity": "1"}).to_string()),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "INSUFFICIENT_MARGIN"),
        "{}",
        r.body
    );
    assert_eq!(observe(&h, &app, &t).await, before);
}
