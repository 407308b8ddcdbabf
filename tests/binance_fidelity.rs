//! Binance USDⓈ-M fidelity against a real server on 127.0.0.1:0: the user data stream's exact
//! event sequences with running values (`NEW` before a taker's trades, `z`/`ap`/`X` after each
//! fill, one `AMENDMENT` per amend, one `ACCOUNT_UPDATE` once every fill of a command is shown,
//! `b`/`a` open notional); the rate-limit headers (`X-MBX-USED-WEIGHT-1M`,
//! `X-MBX-ORDER-COUNT-10S`/`-1M`, `Retry-After` on 429); `premiumIndexKlines`, `forceOrders`
//! and `apiTradingStatus`. Every wait is bounded (`api_common::ws::WAIT`); none is a sleep.

mod api_common;

use std::str::FromStr;

use api_common::binance::bn;
use api_common::ws::*;
use api_common::*;
use perpx::actors::messages::OrderRequest;
use perpx::domain::{AccountId, OrderTerms, OrderType, Qty, Side, Stp, TimeInForce, TriggerBy};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn market(side: Side, lots: i64) -> OrderRequest {
    OrderRequest {
        terms: OrderTerms {
            position_side: Default::default(),
            side,
            order_type: OrderType::Market,
            tif: TimeInForce::Ioc,
            price: None,
            qty: Qty(lots),
            reduce_only: false,
            stp: Stp::None,
            trigger_price: None,
            trigger_by: TriggerBy::Last,
            close_position: false,
        },
        client_order_id: None,
        attached: Default::default(),
    }
}

fn ioc(side: Side, ticks: i64, lots: i64) -> OrderRequest {
    let mut o = limit(side, ticks, lots);
    o.terms.tif = TimeInForce::Ioc;
    o
}

/// A user data stream of `a` (a listen key from the REST route, then `/ws/<key>`), once it
/// runs: its first event (a leverage change) proves it has read its starting state.
async fn user_stream(h: &Harness, addr: std::net::SocketAddr, a: AccountId) -> Conn {
    let (key, _) = h.state.keys.credentials(a);
    let mut r = awc::Client::new()
        .post(format!("http://{addr}/fapi/v1/listenKey"))
        .insert_header(("X-MBX-APIKEY", key))
        .send()
        .await
        .expect("listenKey");
    let v: Value = serde_json::from_slice(&r.body().await.unwrap()).unwrap();
    let mut ws = connect(addr, &format!("/ws/{}", v["listenKey"].as_str().unwrap())).await;
    marker(h, &mut ws, a, 20).await;
    ws
}

/// The next `n` events of a user stream.
async fn events(ws: &mut Conn, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..n {
        match next(ws).await {
            Some(v) => out.push(v),
            None => panic!("stream closed after {out:#?}"),
        }
    }
    out
}

/// The fields of an `ORDER_TRADE_UPDATE` that change from event to event.
fn brief(e: &Value) -> Value {
    assert_eq!(e["e"], "ORDER_TRADE_UPDATE", "{e}");
    let o = &e["o"];
    json!([o["x"], o["X"], o["l"], o["L"], o["z"], o["ap"], o["b"], o["a"]])
}

/// A leverage change as an end marker: its `ACCOUNT_CONFIG_UPDATE` is the next event iff
/// nothing else was sent before it.
async fn marker(h: &Harness, ws: &mut Conn, a: AccountId, lev: u32) {
    h.state.ex.set_leverage(a, BTC, lev).await.unwrap();
    let e = next(ws).await.expect("stream open");
    assert_eq!(
        (&e["e"], &e["ac"]["l"]),
        (&json!("ACCOUNT_CONFIG_UPDATE"), &json!(lev)),
        "expected nothing before the marker: {e}"
    );
}

#[actix_web::test]
async fn a_market_order_in_three_fills_is_new_then_running_trades_then_one_account_update() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let mut ws = user_stream(&h, addr, a).await;
    for (px, lots) in [(500_001, 1), (500_002, 2), (500_003, 3)] {
        h.state
            .ex
            .place_order(b, BTC, limit(Side::Sell, px, lots))
            .await
            .unwrap();
    }
    let taker = h
        .state
        .ex
        .place_order(a, BTC, market(Side::Buy, 6))
        .await
        .unwrap();
    let ev = events(&mut ws, 5).await;
    let got: Vec<Value> = ev[..4].iter().map(brief).collect();
    assert_eq!(
        got,
        [
            json!(["NEW", "NEW", "0", "0", "0", "0", "0", "0"]),
            json!([
                "TRADE",
                "PARTIALLY_FILLED",
                "0.001",
                "50000.1",
                "0.001",
                "50000.1",
                "0",
                "0"
            ]),
            json!([
                "TRADE",
                "PARTIALLY_FILLED",
                "0.002",
                "50000.2",
                "0.003",
                "50000.16666667",
                "0",
                "0"
            ]),
            json!([
                "TRADE",
                "FILLED",
                "0.003",
                "50000.3",
                "0.006",
                "50000.23333333",
                "0",
                "0"
            ]),
        ],
        "{ev:#?}"
    );
    // The same trades, fees and PnL as the native fills.
    let mut fills = taker.fills.clone();
    fills.sort_by_key(|f| f.trade_id.0);
    for (e, f) in ev[1..4].iter().zip(&fills) {
        assert_eq!(e["o"]["t"], json!(f.trade_id.0));
        assert_eq!(e["o"]["n"], json!(f.fee.0.normalize().to_string()));
        assert_eq!(e["o"]["rp"], "0");
        assert_eq!(e["o"]["i"], json!(taker.order.order.order_id.0));
    }
    // One ACCOUNT_UPDATE, after the last TRADE: the wallet less the three fees, the position
    // of all three fills — the state the account is in after that fill.
    let acc = &ev[4];
    assert_eq!(acc["e"], "ACCOUNT_UPDATE", "{acc}");
    let fees: Decimal = ev[1..4]
        .iter()
        .map(|e| d(e["o"]["n"].as_str().unwrap()))
        .sum();
    let view = h.state.ex.account_view(a).await.unwrap();
    assert_eq!(view.wallet_balance, d("10000000") - fees);
    assert_eq!(
        (
            &acc["a"]["m"],
            &acc["a"]["B"][0]["wb"],
            &acc["a"]["P"][0]["pa"]
        ),
        (
            &json!("ORDER"),
            &json!(view.wallet_balance.normalize().to_string()),
            &json!("0.006")
        ),
        "{acc}"
    );
    assert_eq!(acc["a"]["P"][0]["ep"], "50000.23333333", "{acc}");
    marker(&h, &mut ws, a, 9).await;
}

#[actix_web::test]
async fn one_amend_is_one_amendment_and_b_a_are_the_open_notional_per_side() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let a = funded(&h).await;
    let mut ws = user_stream(&h, addr, a).await;
    let buy = h
        .state
        .ex
        .place_order(a, BTC, limit(Side::Buy, 490_000, 2))
        .await
        .unwrap();
    let id = buy.order.order.order_id;
    // Re-priced (requeued: the book emits Amended and Rested) and resized with Binance's
    // modify, as python-binance sends it: one event.
    let (key, secret) = h.state.keys.credentials(a);
    let body = api_common::binance::signed_params(
        &secret,
        &format!(
            "symbol=BTCUSDT&orderId={}&side=BUY&quantity=0.003&price=49500",
            id.0
        ),
        h.clock.now_ms(),
    );
    let mut r = awc::Client::new()
        .put(format!("http://{addr}/fapi/v1/order"))
        .insert_header(("X-MBX-APIKEY", key))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body(body)
        .await
        .expect("PUT order");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.body().await);
    assert_eq!(
        r.headers()
            .get("x-mbx-order-count-10s")
            .unwrap()
            .to_str()
            .unwrap(),
        "1",
        "a modify counts as an order"
    );
    h.state
        .ex
        .place_order(a, BTC, limit(Side::Sell, 510_000, 1))
        .await
        .unwrap();
    h.state.ex.cancel_order(a, BTC, id).await.unwrap();
    let ev = events(&mut ws, 4).await;
    let got: Vec<Value> = ev
        .iter()
        .map(|e| json!([e["o"]["i"], e["o"]["p"], e["o"]["q"], brief(e)]))
        .collect();
    let sell = id.0 + 1;
    assert_eq!(
        got,
        [
            json!([
                id.0,
                "49000.0",
                "0.002",
                ["NEW", "NEW", "0", "0", "0", "0", "98", "0"]
            ]),
            json!([
                id.0,
                "49500.0",
                "0.003",
                ["AMENDMENT", "NEW", "0", "0", "0", "0", "148.5", "0"]
            ]),
            json!([
                sell,
                "51000.0",
                "0.001",
                ["NEW", "NEW", "0", "0", "0", "0", "148.5", "51"]
            ]),
            json!([
                id.0,
                "49500.0",
                "0.003",
                ["CANCELED", "CANCELED", "0", "0", "0", "0", "0", "51"]
            ]),
        ],
        "{ev:#?}"
    );
    marker(&h, &mut ws, a, 8).await;
}

#[actix_web::test]
async fn a_partly_filled_ioc_shows_its_trades_then_expires_and_a_maker_runs_its_average() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    let mut wa = user_stream(&h, addr, a).await;
    let mut wb = user_stream(&h, addr, b).await;
    // B's resting sell of 0.004, taken by two commands of A: 0.001 at 50,000.2 by an IOC that
    // also takes 0.001 of B's 50,000.1 ask, then the rest by a limit order.
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Sell, 500_001, 1))
        .await
        .unwrap();
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Sell, 500_002, 4))
        .await
        .unwrap();
    h.state
        .ex
        .place_order(a, BTC, ioc(Side::Buy, 500_002, 5))
        .await
        .unwrap();
    let ev = events(&mut wa, 4).await;
    // The IOC's five lots: 1 at 50,000.1, 4 at 50,000.2 fill it entirely.
    let got: Vec<Value> = ev[..3].iter().map(brief).collect();
    assert_eq!(
        got,
        [
            json!(["NEW", "NEW", "0", "0", "0", "0", "250.001", "0"]),
            json!([
                "TRADE",
                "PARTIALLY_FILLED",
                "0.001",
                "50000.1",
                "0.001",
                "50000.1",
                "200.0008",
                "0"
            ]),
            json!(["TRADE", "FILLED", "0.004", "50000.2", "0.005", "50000.18", "0", "0"]),
        ],
        "{ev:#?}"
    );
    assert_eq!(ev[3]["e"], "ACCOUNT_UPDATE", "{ev:#?}");
    assert_eq!(ev[3]["a"]["P"][0]["pa"], "0.005");
    // B's side: two makers, one fill each, each its own running values.
    let eb = events(&mut wb, 2 + 2 + 1).await;
    let got: Vec<Value> = eb[..4].iter().map(brief).collect();
    assert_eq!(
        got,
        [
            json!(["NEW", "NEW", "0", "0", "0", "0", "0", "50.0001"]),
            json!(["NEW", "NEW", "0", "0", "0", "0", "0", "250.0009"]),
            json!(["TRADE", "FILLED", "0.001", "50000.1", "0.001", "50000.1", "0", "200.0008"]),
            json!(["TRADE", "FILLED", "0.004", "50000.2", "0.004", "50000.2", "0", "0"]),
        ],
        "{eb:#?}"
    );
    assert_eq!(eb[4]["e"], "ACCOUNT_UPDATE", "{eb:#?}");
    assert_eq!(eb[4]["a"]["P"][0]["pa"], "-0.005");
    // An IOC that finds half of what it asks for: TRADE (partially filled), then EXPIRED.
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Sell, 500_003, 1))
        .await
        .unwrap();
    let o = h
        .state
        .ex
        .place_order(a, BTC, ioc(Side::Buy, 500_003, 2))
        .await
        .unwrap();
    assert_eq!(o.order.filled, Qty(1));
    let ev = events(&mut wa, 4).await;
    assert_eq!(
        [brief(&ev[0]), brief(&ev[1])],
        [
            json!(["NEW", "NEW", "0", "0", "0", "0", "100.0006", "0"]),
            json!([
                "TRADE",
                "PARTIALLY_FILLED",
                "0.001",
                "50000.3",
                "0.001",
                "50000.3",
                "50.0003",
                "0"
            ]),
        ],
        "{ev:#?}"
    );
    // The account after the fill (sent once the fill is shown), then the close.
    assert_eq!(
        (&ev[2]["e"], &ev[2]["a"]["P"][0]["pa"]),
        (&json!("ACCOUNT_UPDATE"), &json!("0.006")),
        "{ev:#?}"
    );
    assert_eq!(
        brief(&ev[3]),
        json!(["EXPIRED", "EXPIRED", "0", "0", "0.001", "50000.3", "0", "0"]),
        "{ev:#?}"
    );
    marker(&h, &mut wa, a, 11).await;
}

// ------------------------------------------------------------------ rate-limit headers

/// A public GET from `ip`.
fn from_ip(target: &str, ip: [u8; 4]) -> actix_http::Request {
    actix_web::test::TestRequest::get()
        .uri(target)
        .peer_addr(std::net::SocketAddr::from((ip, 40_000)))
        .to_request()
}

fn header(r: &Resp, name: &str) -> Option<u64> {
    r.headers.get(name).map(|v| v.parse().unwrap())
}

const IP: [u8; 4] = [10, 0, 0, 1];

#[actix_web::test]
async fn used_weight_counts_each_routes_binance_weight_per_ip_and_minute() {
    let h = harness();
    let app = app!(h);
    let used = |r: &Resp| header(r, "x-mbx-used-weight-1m");
    let info = call(&app, from_ip("/fapi/v1/exchangeInfo", IP)).await;
    assert_eq!((info.status, used(&info)), (200, Some(1)));
    let limit = |t: &str, i: &str, n: u32, l: u32| json!({"rateLimitType": t, "interval": i, "intervalNum": n, "limit": l});
    assert_eq!(
        info.body["rateLimits"],
        json!([
            limit("REQUEST_WEIGHT", "MINUTE", 1, 2400),
            limit("ORDERS", "SECOND", 10, 300),
            limit("ORDERS", "MINUTE", 1, 1200),
        ]),
        "what is enforced below (the per-second buckets are off in this harness)"
    );
    let depth = |limit: u32| format!("/fapi/v1/depth?symbol=BTCUSDT&limit={limit}");
    let steps = [
        (depth(1000), 21),
        (
            "/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=1500".to_owned(),
            31,
        ),
        (depth(5), 33),
        ("/fapi/v1/ticker/24hr".to_owned(), 73),
        ("/fapi/v1/ticker/price?symbol=BTCUSDT".to_owned(), 74),
        ("/fapi/v1/nothing".to_owned(), 75),
    ];
    for (target, want) in steps {
        let r = call(&app, from_ip(&target, IP)).await;
        assert_eq!(used(&r), Some(want), "{target}: {}", r.body);
    }
    // Another address has its own minute.
    let other = call(&app, from_ip("/fapi/v1/ping", [10, 0, 0, 2])).await;
    assert_eq!(used(&other), Some(1));
    // 2,400 a minute: 116 × 20 more is 2,395; a 20 does not fit, answered 429 / -1003 with
    // the seconds to the next minute (the clock is 20 s into its minute) and nothing added.
    for _ in 0..116 {
        assert_eq!(call(&app, from_ip(&depth(1000), IP)).await.status, 200);
    }
    let r = call(&app, from_ip(&depth(1000), IP)).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (429, Some(-1003)));
    assert_eq!(
        (used(&r), header(&r, "retry-after")),
        (Some(2395), Some(40))
    );
    let r = call(&app, from_ip(&depth(5), IP)).await;
    assert_eq!((r.status, used(&r)), (200, Some(2397)));
    for want in [2398, 2399, 2400] {
        let r = call(&app, from_ip("/fapi/v1/time", IP)).await;
        assert_eq!((r.status, used(&r)), (200, Some(want)));
    }
    let r = call(&app, from_ip("/sapi/v1/system/status", IP)).await;
    assert_eq!((r.status, used(&r)), (429, Some(2400)));
    assert_eq!(header(&r, "retry-after"), Some(40));
    // The next minute starts from zero.
    h.clock.advance_ms(40_000);
    let r = call(&app, from_ip("/sapi/v1/system/status", IP)).await;
    assert_eq!((r.status, used(&r)), (200, Some(1)));
}

#[actix_web::test]
async fn order_counts_per_account_and_minus_1015_with_retry_after() {
    let h = harness();
    let app = app!(h);
    let (a, b) = (
        account(&h, &app, "1000000").await,
        account(&h, &app, "1000000").await,
    );
    let order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=40000";
    let counts = |r: &Resp| {
        (
            header(r, "x-mbx-order-count-10s"),
            header(r, "x-mbx-order-count-1m"),
        )
    };
    let r = bn(&h, &app, &a, "POST", "/fapi/v1/order", order).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(counts(&r), (Some(1), Some(1)));
    assert_eq!(
        header(&r, "x-mbx-used-weight-1m"),
        Some(0),
        "a new order weighs 0"
    );
    let r = bn(&h, &app, &a, "POST", "/fapi/v1/order", order).await;
    assert_eq!(counts(&r), (Some(2), Some(2)));
    // Reads carry the weight, not the order counts.
    let r = bn(&h, &app, &a, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT").await;
    assert_eq!(counts(&r), (None, None));
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(1));
    // Per account.
    let r = bn(&h, &app, &b, "POST", "/fapi/v1/order", order).await;
    assert_eq!(counts(&r), (Some(1), Some(1)));
    // A refused order counts too (Binance counts order requests): 298 more reach 300.
    for i in 3..=300 {
        let r = bn(&h, &app, &a, "POST", "/fapi/v1/order", "symbol=BTCUSDT").await;
        assert_eq!((r.status, counts(&r)), (400, (Some(i), Some(i))));
    }
    let r = bn(&h, &app, &a, "POST", "/fapi/v1/order", order).await;
    assert_eq!(
        (r.status, r.body["code"].as_i64(), header(&r, "retry-after")),
        (429, Some(-1015), Some(10)),
        "{}",
        r.body
    );
    let open = bn(&h, &app, &a, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT").await;
    assert_eq!(
        open.body.as_array().unwrap().len(),
        2,
        "the refused order changed nothing"
    );
    // The next ten seconds; the minute goes on. A batch is 5 on 10 s, 1 on the minute.
    h.clock.advance_ms(10_000);
    let r = bn(&h, &app, &a, "PUT", "/fapi/v1/order", "symbol=BTCUSDT").await;
    assert_eq!(counts(&r), (Some(1), Some(301)));
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/batchOrders",
        "batchOrders=%5B%5D",
    )
    .await;
    assert_eq!(counts(&r), (Some(6), Some(302)));
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(5 + 1 + 1 + 1));
}

// ------------------------------------------------------------------ the three routes

#[actix_web::test]
async fn premium_index_klines_are_mark_over_index_of_the_recorded_samples() {
    let h = harness();
    let app = app!(h);
    let history = &h.state.binance.hubs(&h.state).markets[0].history;
    // Two minutes ahead of the clock (START is 20 s into its minute): samples the one-second
    // pulse takes at the clock's time are older, and dropped, so these are alone.
    let t = START.0 + 120_000;
    let minute = t - 20_000;
    for (at, mark) in [
        (t, "50100"),
        (t + 1_000, "49950"),
        (t + 2_000, "50000.5"),
        (t + 60_000, "50050"),
    ] {
        history.record(at, d(mark), d("50000"), Decimal::ZERO);
    }
    let get = |path: &str| format!("/fapi/v1/{path}?symbol=BTCUSDT&interval=1m&startTime={minute}");
    let r = call(&app, h.bn_public(&get("premiumIndexKlines"))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!([
            [
                minute,
                "0.002",
                "0.002",
                "-0.001",
                "0.00001",
                "0",
                minute + 59_999,
                "0",
                3,
                "0",
                "0",
                "0"
            ],
            [
                minute + 60_000,
                "0.001",
                "0.001",
                "0.001",
                "0.001",
                "0",
                minute + 119_999,
                "0",
                1,
                "0",
                "0",
                "0"
            ],
        ])
    );
    assert_eq!(
        header(&r, "x-mbx-used-weight-1m"),
        Some(5),
        "klines weight, limit 500"
    );
    // The same samples as the mark price klines.
    let r = call(&app, h.bn_public(&get("markPriceKlines"))).await;
    assert_eq!(
        (&r.body[0][1], &r.body[0][4], &r.body[0][8], &r.body[1][1]),
        (
            &json!("50100"),
            &json!("50000.5"),
            &json!(3),
            &json!("50050")
        )
    );
    // Binance's intervals and errors, as the other kline routes.
    let r = call(
        &app,
        h.bn_public(&format!(
            "/fapi/v1/premiumIndexKlines?symbol=BTCUSDT&interval=3m&startTime={minute}"
        )),
    )
    .await;
    assert_eq!(
        r.body.as_array().map(Vec::len),
        Some(2 - usize::from(minute % 180_000 < 120_000))
    );
    let r = call(
        &app,
        h.bn_public("/fapi/v1/premiumIndexKlines?symbol=BTCUSDT&interval=7m"),
    )
    .await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(-1120)));
}

#[actix_web::test]
async fn force_orders_are_the_accounts_liquidation_orders_in_binance_shape() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let b = account(&h, &app, "100000").await;
    let c = account(&h, &app, "100000").await;
    let place = |who: &Creds, side: &str, px: &str, q: &str| {
        let p = format!(
            "symbol=BTCUSDT&side={side}&type=LIMIT&timeInForce=GTC&quantity={q}&price={px}"
        );
        h.bn(who, "POST", "/fapi/v1/order", &p)
    };
    let r = bn(
        &h,
        &app,
        &a,
        "POST",
        "/fapi/v1/leverage",
        "symbol=BTCUSDT&leverage=100",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        call(&app, place(&b, "SELL", "50000", "1")).await.status,
        200
    );
    assert_eq!(call(&app, place(&a, "BUY", "50000", "1")).await.status, 200);
    assert_eq!(
        call(&app, place(&c, "BUY", "49050", "0.4")).await.status,
        200
    );
    // Index 48,200 with last 50,000: mark 49,100, where A's margin balance is under its
    // maintenance; the liquidation sells into C's bid, then the fund takes the rest.
    h.state
        .ex
        .push_index(perpx::risk::MarketId(0), d("48200"))
        .await
        .unwrap();
    // Barriers, as tests/metrics.rs: the markets and then the AccountActor have handled the
    // mark (so the liquidation was handed to the RiskActor) before asking it for idleness.
    for m in &h.state.ex.markets {
        m.send(perpx::actors::market::query::DepthQuery(1))
            .await
            .unwrap();
    }
    let _ = h
        .state
        .ex
        .query(|reply| perpx::actors::messages::AccountQuery::StateHash { reply })
        .await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    h.state.ex.risk.do_send(perpx::actors::risk::WhenIdle(tx));
    rx.await.unwrap();
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/forceOrders",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body.as_array().unwrap().clone();
    assert!(!rows.is_empty(), "a liquidation order: {}", r.body);
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "orderId",
        "symbol",
        "status",
        "clientOrderId",
        "price",
        "avgPrice",
        "origQty",
        "executedQty",
        "cumQuote",
        "timeInForce",
        "type",
        "reduceOnly",
        "closePosition",
        "side",
        "positionSide",
        "stopPrice",
        "workingType",
        "origType",
        "time",
        "updateTime",
    ];
    want.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, want);
    // Each is the account's order as allOrders shows it, a sell of the long.
    let all = bn(&h, &app, &a, "GET", "/fapi/v1/allOrders", "symbol=BTCUSDT").await;
    for row in &rows {
        let o = all
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["orderId"] == row["orderId"])
            .expect("listed in allOrders");
        for k in &want {
            assert_eq!(row[*k], o[*k], "{k}");
        }
        assert_eq!(
            (&row["side"], &row["symbol"]),
            (&json!("SELL"), &json!("BTCUSDT"))
        );
    }
    let sold: Decimal = rows
        .iter()
        .map(|r| d(r["executedQty"].as_str().unwrap()))
        .sum();
    assert_eq!(sold, d("0.4"), "what C's bid took: {rows:?}");
    // The same without a symbol; none for ADL, before startTime, or for another account.
    let r = bn(&h, &app, &a, "GET", "/fapi/v1/forceOrders", "").await;
    assert_eq!(r.body.as_array().unwrap().len(), rows.len());
    // leverage 1, forceOrders with a symbol 20, allOrders 5, forceOrders without one 50.
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(1 + 20 + 5 + 50));
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/forceOrders",
        "autoCloseType=ADL",
    )
    .await;
    assert_eq!(r.body, json!([]));
    let after = START.0 + 1;
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/forceOrders",
        &format!("startTime={after}"),
    )
    .await;
    assert_eq!(r.body, json!([]));
    let r = bn(&h, &app, &b, "GET", "/fapi/v1/forceOrders", "").await;
    assert_eq!(r.body, json!([]));
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/forceOrders",
        "autoCloseType=OTHER",
    )
    .await;
    assert_eq!((r.status, r.body["code"].as_i64()), (400, Some(-1102)));
    let r = call(&app, h.bn_public("/fapi/v1/forceOrders")).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (401, Some(-2014)));
}

#[actix_web::test]
async fn api_trading_status_is_never_locked() {
    let h = harness();
    let app = app!(h);
    let a = account(&h, &app, "1000").await;
    let r = bn(
        &h,
        &app,
        &a,
        "GET",
        "/fapi/v1/apiTradingStatus",
        "symbol=BTCUSDT",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ind = |name: &str, t: Value| {
        json!({"isLocked": false, "plannedRecoverTime": 0, "indicator": name, "value": 0,
               "triggerValue": t})
    };
    let symbol = json!([
        ind("UFR", json!(0.995)),
        ind("IFER", json!(0.99)),
        ind("GCR", json!(0.99)),
        ind("DR", json!(0.99)),
    ]);
    assert_eq!(
        r.body,
        json!({"indicators": {"BTCUSDT": symbol, "ACCOUNT": [ind("TMV", json!(1))]},
               "updateTime": START.0})
    );
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(1));
    let r = bn(&h, &app, &a, "GET", "/fapi/v1/apiTradingStatus", "").await;
    let mut names: Vec<&String> = r.body["indicators"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["ACCOUNT", "BTCUSDT", "ETHUSDT"]);
    assert_eq!(header(&r, "x-mbx-used-weight-1m"), Some(1 + 10));
    let r = call(&app, h.bn_public("/fapi/v1/apiTradingStatus")).await;
    assert_eq!((r.status, r.body["code"].as_i64()), (401, Some(-2014)));
}

#[actix_web::test]
async fn a_stop_shows_new_when_placed_and_when_it_triggers_then_its_trade_and_one_account_update() {
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b, c) = (funded(&h).await, funded(&h).await, funded(&h).await);
    let mut ws = user_stream(&h, addr, a).await;
    let mut stop = market(Side::Buy, 1);
    stop.terms.order_type = OrderType::StopMarket;
    stop.terms.trigger_price = Some(perpx::domain::Price(500_005));
    let placed = h.state.ex.place_order(a, BTC, stop).await.unwrap();
    // Accepted untriggered: `NEW` at once (a STOP_MARKET waiting at its stop price).
    let e = next(&mut ws).await.expect("stream open");
    assert_eq!(
        (brief(&e), &e["o"]["o"], &e["o"]["sp"]),
        (
            json!(["NEW", "NEW", "0", "0", "0", "0", "0", "0"]),
            &json!("STOP_MARKET"),
            &json!("50000.5")
        ),
        "{e}"
    );
    marker(&h, &mut ws, a, 21).await;
    // B's asks; C buys at 50,000.5: the last price reaches the trigger, the stop takes 50,001.
    for (px, lots) in [(500_005, 1), (500_010, 1)] {
        h.state
            .ex
            .place_order(b, BTC, limit(Side::Sell, px, lots))
            .await
            .unwrap();
    }
    h.state
        .ex
        .place_order(c, BTC, limit(Side::Buy, 500_005, 1))
        .await
        .unwrap();
    let ev = events(&mut ws, 3).await;
    let got: Vec<Value> = ev[..2].iter().map(brief).collect();
    assert_eq!(
        got,
        [
            json!(["NEW", "NEW", "0", "0", "0", "0", "0", "0"]),
            json!(["TRADE", "FILLED", "0.001", "50001.0", "0.001", "50001", "0", "0"]),
        ],
        "{ev:#?}"
    );
    assert!(ev[..2]
        .iter()
        .all(|e| e["o"]["i"] == json!(placed.order.order.order_id.0)));
    assert_eq!(
        (&ev[2]["e"], &ev[2]["a"]["P"][0]["pa"]),
        (&json!("ACCOUNT_UPDATE"), &json!("0.001")),
        "{ev:#?}"
    );
    marker(&h, &mut ws, a, 12).await;
}

/// Isolated margin on the user stream: the fill's `ACCOUNT_UPDATE` shows `mt` isolated with the
/// isolated wallet `iw` and the cross wallet `cw`; a margin transfer is one `ACCOUNT_UPDATE`
/// with reason `MARGIN_TRANSFER` and the new `iw`.
#[actix_web::test]
async fn isolated_positions_show_mt_iw_and_margin_transfers() {
    use perpx::domain::MarginMode;
    let h = harness_with(&roomy(), 0, 0, 4096);
    let addr = serve(&h);
    let (a, b) = (funded(&h).await, funded(&h).await);
    h.state
        .ex
        .set_margin_mode(a, BTC, MarginMode::Isolated)
        .await
        .unwrap();
    let mut ws = user_stream(&h, addr, a).await;
    h.state
        .ex
        .place_order(b, BTC, limit(Side::Sell, 500_000, 100))
        .await
        .unwrap();
    h.state
        .ex
        .place_order(a, BTC, market(Side::Buy, 100))
        .await
        .unwrap();
    let ev = events(&mut ws, 3).await;
    let up = &ev[2];
    assert_eq!(up["e"], "ACCOUNT_UPDATE", "{up}");
    let view = h.state.ex.account_view(a).await.unwrap();
    let p = &view.positions[0];
    let pos = &up["a"]["P"][0];
    assert_eq!(
        (&pos["mt"], d(pos["iw"].as_str().unwrap())),
        (&json!("isolated"), p.isolated_wallet),
        "{up}"
    );
    assert_eq!(
        d(up["a"]["B"][0]["cw"].as_str().unwrap()),
        view.cross_wallet_balance
    );
    assert_eq!(
        d(up["a"]["B"][0]["wb"].as_str().unwrap()),
        view.wallet_balance
    );
    h.state
        .ex
        .move_isolated_margin(a, perpx::domain::Leg::both(BTC), d("12.5"))
        .await
        .unwrap();
    let e = next(&mut ws).await.expect("stream open");
    assert_eq!(
        (&e["e"], &e["a"]["m"]),
        (&json!("ACCOUNT_UPDATE"), &json!("MARGIN_TRANSFER")),
        "{e}"
    );
    assert_eq!(
        d(e["a"]["P"][0]["iw"].as_str().unwrap()),
        p.isolated_wallet + d("12.5")
    );
    assert_eq!(
        d(e["a"]["B"][0]["cw"].as_str().unwrap()),
        view.cross_wallet_balance - d("12.5")
    );
    marker(&h, &mut ws, a, 21).await;
}

/// The Binance limits are `[server]` settings: 0 turns one off (the counts and headers stay,
/// `exchangeInfo` no longer lists it).
#[actix_web::test]
async fn binance_order_limits_are_settings_and_0_turns_one_off() {
    let config = CONFIG.replace(
        "rate_limit_per_ip = 0\n",
        "rate_limit_per_ip = 0\nbinance_orders_per_10s = 0\nbinance_orders_per_minute = 3\n",
    );
    let h = harness_with(&config, 0, 0, 4096);
    let app = app!(h);
    let info = call(&app, h.bn_public("/fapi/v1/exchangeInfo")).await.body;
    let kinds: Vec<(Value, Value, Value)> = info["rateLimits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["rateLimitType"].clone(),
                l["interval"].clone(),
                l["limit"].clone(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (json!("REQUEST_WEIGHT"), json!("MINUTE"), json!(2400)),
            (json!("ORDERS"), json!("MINUTE"), json!(3)),
        ]
    );
    let a = account(&h, &app, "100000").await;
    let order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=40000";
    for n in 1..=3 {
        let r = bn(&h, &app, &a, "POST", "/fapi/v1/order", order).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["x-mbx-order-count-1m"], n.to_string());
    }
    let r = bn(&h, &app, &a, "POST", "/fapi/v1/order", order).await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (429, json!(-1015)),
        "{}",
        r.body
    );
}
