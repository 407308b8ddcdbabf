//! `GET /metrics` after real traffic: orders (accepted, filled, rejected), trades, a funding
//! settlement and a liquidation (ManualClock, `Tick` barriers, `WhenIdle`), plus journal
//! commits. Every family of docs/ARCHITECTURE.md §6 must be rendered with its help line; counters and
//! histograms must have moved. The recorder is process-wide and shared by every exchange in
//! this test binary, so counters are compared as deltas and gauges only for presence.

mod api_common;

use std::collections::BTreeMap;

use actix_web::test as web_test;
use api_common::*;
use perpx::actors::messages::{AccountQuery, Tick};
use perpx::actors::risk::WhenIdle;
use perpx::domain::Timestamp;
use perpx::telemetry::metrics as names;
use serde_json::json;

/// BTC without fees (figures as in tests/actors.rs), rate limits off.
const CONFIG: &str = r#"
[server]
rate_limit_per_key = 0
rate_limit_per_ip = 0
[[markets]]
symbol = "BTC-PERP"
base_asset = "BTC"
tick_size = "0.1"
lot_size = "0.001"
maker_fee = "0"
taker_fee = "0"
initial_index_price = "50000"
  [[markets.risk_tiers]]
  notional_cap = "60000"
  max_leverage = 100
  maintenance_margin_rate = "0.004"
  [[markets.risk_tiers]]
  notional_cap = "250000"
  max_leverage = 50
  maintenance_margin_rate = "0.005"
"#;

/// Series (`name{labels}` exactly as rendered) → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn get(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    m.get(series).copied().unwrap_or(0.0)
}

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, series: &str) -> f64 {
    get(after, series) - get(before, series)
}

async fn scrape<S, B>(app: &S) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let res = web_test::call_service(
        app,
        web_test::TestRequest::get().uri("/metrics").to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let ct = res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("text/plain"), "{ct}");
    String::from_utf8(web_test::read_body(res).await.to_vec()).unwrap()
}

#[actix_web::test]
async fn metrics_move_with_orders_trades_funding_and_liquidation() {
    let h = harness_with(CONFIG, 0, 0, 4096);
    let app = app!(h);
    let before = parse(&scrape(&app).await);

    let mut accounts = Vec::new();
    for deposit in ["1000", "100000", "100000"] {
        let r = call(
            &app,
            h.admin("POST", "/api/v1/admin/accounts", r#"{"label":"m"}"#),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let c = Creds {
            id: r.body["account_id"].as_u64().unwrap(),
            key: r.body["api_key"].as_str().unwrap().into(),
            secret: r.body["api_secret"].as_str().unwrap().into(),
        };
        let path = format!("/api/v1/admin/accounts/{}/deposits", c.id);
        let body = format!(r#"{{"amount":"{deposit}"}}"#);
        assert_eq!(call(&app, h.admin("POST", &path, &body)).await.status, 200);
        accounts.push(c);
    }
    let (a, b, c) = (&accounts[0], &accounts[1], &accounts[2]);
    let lev = h.signed(
        a,
        "PUT",
        "/api/v1/markets/BTC-PERP/leverage",
        r#"{"leverage":100}"#,
    );
    assert_eq!(call(&app, lev).await.status, 200);
    let orders = "/api/v1/markets/BTC-PERP/orders";
    let order = |side: &str, price: &str, qty: &str| {
        json!({"side": side, "type": "limit", "quantity": qty, "price": price}).to_string()
    };
    for (who, body, status) in [
        (b, order("sell", "50000", "1"), 201),
        (a, order("buy", "50000", "1"), 201),
        (a, order("buy", "40000", "0.01"), 201),
        (c, order("buy", "49050", "0.4"), 201),
        (c, order("buy", "50000.05", "0.4"), 400),
    ] {
        let r = call(&app, h.signed(who, "POST", orders, &body)).await;
        assert_eq!(r.status, status, "{}", r.body);
    }
    assert_eq!(
        call(
            &app,
            web_test::TestRequest::get().uri("/nowhere").to_request()
        )
        .await
        .status,
        404
    );

    // Funding at 2023-11-15T00:00:00Z, index = last = 50,000.
    let index = |p: &str| {
        h.admin(
            "POST",
            "/api/v1/admin/markets/BTC-PERP/index-price",
            &format!(r#"{{"price":"{p}"}}"#),
        )
    };
    assert_eq!(call(&app, index("50000")).await.status, 200);
    h.clock.set(Timestamp(1_700_006_400_000));
    h.state.ex.funding.send(Tick).await.unwrap();

    // Mark 49,100 (index 48,200, last 50,000): A is liquidated (tests/actors.rs figures).
    assert_eq!(call(&app, index("48200")).await.status, 200);
    for m in &h.state.ex.markets {
        m.send(perpx::actors::market::query::DepthQuery(1))
            .await
            .unwrap();
    }
    let _ = h
        .state
        .ex
        .query(|reply| AccountQuery::StateHash { reply })
        .await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    h.state.ex.risk.do_send(WhenIdle(tx));
    rx.await.unwrap();
    h.state.ex.risk.send(Tick).await.unwrap(); // a mark sample refreshes open interest

    let text = scrape(&app).await;
    let after = parse(&text);
    for family in names::REQUIRED {
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "no help line for {family}"
        );
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "no type line for {family}"
        );
    }
    let btc = |name: &str, extra: &str| format!("{name}{{market=\"BTC-PERP\"{extra}}}");
    let outcome = |o: &str| format!("{}{{outcome=\"{o}\"}}", names::ORDERS_TOTAL);
    assert!(
        delta(&before, &after, &outcome("accepted")) >= 3.0,
        "{text}"
    );
    assert!(delta(&before, &after, &outcome("filled")) >= 1.0);
    assert!(delta(&before, &after, &outcome("rejected")) >= 1.0);
    assert!(
        delta(&before, &after, &btc(names::TRADES_TOTAL, "")) >= 2.0,
        "taker fill and liquidation fill"
    );
    assert!(delta(&before, &after, &btc(names::LIQUIDATIONS_TOTAL, "")) >= 1.0);
    assert!(delta(&before, &after, "perpx_funding_settlements_total") >= 1.0);
    for (hist, at_least) in [
        (names::ORDER_LATENCY_SECONDS, 5.0),
        (names::MATCH_DURATION_SECONDS, 4.0),
    ] {
        let count = format!("{hist}_count");
        assert!(delta(&before, &after, &count) >= at_least, "{count}");
        assert!(after.contains_key(&format!("{hist}_sum")));
        let inf = format!("{hist}_bucket{{le=\"+Inf\"}}");
        assert_eq!(
            get(&after, &inf),
            get(&after, &count),
            "+Inf bucket equals the count"
        );
    }
    let posted = format!(
        "{}{{method=\"POST\",route=\"/api/v1/markets/{{symbol}}/orders\",status=\"201\"}}",
        names::HTTP_REQUESTS_TOTAL
    );
    assert!(
        delta(&before, &after, &posted) >= 4.0,
        "route pattern, not path: {text}"
    );
    let unmatched = format!(
        "{}{{method=\"GET\",route=\"unmatched\",status=\"404\"}}",
        names::HTTP_REQUESTS_TOTAL
    );
    assert!(delta(&before, &after, &unmatched) >= 1.0);
    for gauge in [
        btc(names::MARK_PRICE, ""),
        btc(names::INDEX_PRICE, ""),
        btc(names::FUNDING_RATE, ""),
        btc(names::OPEN_INTEREST, ""),
        btc(names::BOOK_ORDERS, ",side=\"bid\""),
        btc(names::BOOK_ORDERS, ",side=\"ask\""),
        btc("perpx_market_in_flight", ""),
        names::INSURANCE_FUND_BALANCE.to_owned(),
        names::WS_CONNECTIONS.to_owned(),
        names::RECOVERY_SECONDS.to_owned(),
        "perpx_journal_queue_depth".to_owned(),
    ] {
        assert!(after.contains_key(&gauge), "missing {gauge}");
    }
    for channel in names::WS_CHANNELS {
        let s = format!("{}{{channel=\"{channel}\"}}", names::WS_MESSAGES_TOTAL);
        assert!(after.contains_key(&s), "missing {s}");
    }
}

/// A market adds only the families of `PER_MARKET` to a scrape (9 lines: `book_orders` has
/// two sides), each of them present from start.
#[actix_web::test]
async fn a_market_adds_only_its_per_market_series() {
    let h = harness();
    let app = app!(h);
    let text = scrape(&app).await;
    let mine: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("market=\"BTC-PERP\""))
        .collect();
    for line in &mine {
        let family = line.split('{').next().unwrap();
        assert!(
            names::PER_MARKET.contains(&family),
            "{family} has a market label but is not in PER_MARKET: {line}"
        );
    }
    for family in names::PER_MARKET {
        assert!(
            mine.iter().any(|l| l.starts_with(&format!("{family}{{"))),
            "{family} not rendered for BTC-PERP"
        );
    }
    assert_eq!(mine.len(), 9, "{mine:#?}");
}

#[actix_web::test]
async fn responses_carry_a_request_id_and_keep_the_clients() {
    let h = harness();
    let app = app!(h);
    let res = web_test::call_service(
        &app,
        web_test::TestRequest::get()
            .uri("/api/v1/markets")
            .to_request(),
    )
    .await;
    assert!(!res.headers().get("x-request-id").unwrap().is_empty());
    let req = web_test::TestRequest::get()
        .uri("/api/v1/markets")
        .insert_header(("x-request-id", "trace-42"))
        .to_request();
    let res = web_test::call_service(&app, req).await;
    assert_eq!(res.headers().get("x-request-id").unwrap(), "trace-42");
}

#[test]
fn journal_commits_feed_the_commit_histograms() {
    use perpx::persistence::{Journal, JournalConfig, Store};
    let before = parse(&perpx::telemetry::metrics::render());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hook = perpx::telemetry::journal_hook();
    let journal = Journal::start(store, JournalConfig::default(), Some(Box::new(hook))).unwrap();
    for _ in 0..3 {
        journal.try_append(vec![1, 2, 3], 2, None).unwrap();
    }
    journal.close().unwrap();
    let after = parse(&perpx::telemetry::metrics::render());
    // The journal weighs the closing flush's barrier as one event too.
    assert!(delta(&before, &after, names::JOURNAL_EVENTS_TOTAL) >= 6.0);
    let batches = format!("{}_count", names::JOURNAL_BATCH_EVENTS);
    assert!(delta(&before, &after, &batches) >= 1.0);
    let commits = format!("{}_count", names::JOURNAL_COMMIT_SECONDS);
    assert_eq!(
        get(&after, &commits),
        get(&after, &batches),
        "one sample each per commit"
    );
    assert!(after.contains_key(&format!(
        "{}_bucket{{le=\"4096\"}}",
        names::JOURNAL_BATCH_EVENTS
    )));
}

/// The health sample exports the journal's durable commits as a counter (what `relaxed`'s
/// lazy fsync shows an operator).
#[test]
fn the_health_sample_exports_the_journals_durable_commits() {
    use perpx::persistence::{Journal, JournalConfig, Store};
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::start(
        Store::open(dir.path()).unwrap(),
        JournalConfig::default(),
        None,
    )
    .unwrap();
    for _ in 0..3 {
        journal.try_append(vec![1], 1, None).unwrap();
        journal.flush().unwrap();
    }
    let syncs = journal.stats().syncs.load(Ordering::Acquire);
    assert!(
        syncs >= 3,
        "each flushed append was a durable commit ({syncs})"
    );
    let m = perpx::telemetry::ExchangeMetrics::new(&[]);
    m.sample(
        [],
        0,
        Some(perpx::telemetry::health::JournalSample { queued: 0, syncs }),
    );
    let after = parse(&perpx::telemetry::metrics::render());
    // At least ours (a counter set by `absolute` keeps the largest value another test's
    // journal reported).
    assert!(get(&after, names::JOURNAL_SYNCS_TOTAL) >= syncs as f64);
    journal.close().unwrap();
}

/// A real server: a WebSocket session counts as a connection, its subscription as a
/// subscriber, and its messages per channel (`control` for replies to its own ops).
#[actix_web::test]
async fn websocket_sessions_subscribers_and_messages_are_counted() {
    use api_common::ws::{connect, funded, limit, next, send, BTC};
    use perpx::domain::Side;
    let h = harness_with(CONFIG, 0, 0, 4096);
    let addr = serve(&h);
    let client = awc::Client::new();
    let scrape_real = || async {
        let mut res = client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap();
        parse(std::str::from_utf8(&res.body().limit(1 << 22).await.unwrap()).unwrap())
    };
    let before = scrape_real().await;
    let mut ws = connect(addr, "/ws").await;
    send(
        &mut ws,
        json!({"op": "subscribe", "channel": "trades", "symbol": "BTC-PERP"}),
    )
    .await;
    assert_eq!(next(&mut ws).await.expect("open")["type"], "subscribed");
    let (a, b) = (funded(&h).await, funded(&h).await);
    // 0.1 BTC at 50,000 (tick 0.1, lot 0.001).
    let ex = &h.state.ex;
    ex.place_order(a, BTC, limit(Side::Sell, 500_000, 100))
        .await
        .unwrap();
    ex.place_order(b, BTC, limit(Side::Buy, 500_000, 100))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await.expect("open")["type"], "trade");
    let after = scrape_real().await;
    assert!(get(&after, names::WS_CONNECTIONS) >= 1.0);
    assert!(get(&after, "perpx_ws_subscribers{channel=\"trades\"}") >= 1.0);
    let sent = |c: &str| format!("{}{{channel=\"{c}\"}}", names::WS_MESSAGES_TOTAL);
    assert!(delta(&before, &after, &sent("control")) >= 1.0);
    assert!(delta(&before, &after, &sent("trades")) >= 1.0);
}

#[test]
fn the_heap_gauge_follows_allocations() {
    let heap = || {
        get(
            &parse(&perpx::telemetry::metrics::render()),
            "perpx_heap_bytes",
        )
    };
    let before = heap();
    assert!(before > 0.0, "perpx_heap_bytes rendered: {before}");
    // 64 MiB held (written, so it is really allocated), then freed.
    let block = vec![1u8; 64 << 20];
    let held = heap();
    assert!(held - before >= f64::from(60u32 << 20), "{before} → {held}");
    drop(std::hint::black_box(block));
    let after = heap();
    assert!(held - after >= f64::from(60u32 << 20), "{held} → {after}");
}
