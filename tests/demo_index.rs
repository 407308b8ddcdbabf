//! The `demo` index source: a bounded, deterministic walk computed from the time alone, so a
//! market with no price feed stays live (first run, trials, the web terminal), and the
//! `INDEX_STALE` answer of an unfed oracle market says what to do.

mod api_common;

use api_common::*;
use perpx::config::Config;
use perpx::domain::{MarketSpec, Timestamp};
use perpx::risk::mark::{demo_offset_ppm, Index, DEMO_AMPLITUDE_PPM};
use rust_decimal::Decimal;
use serde_json::json;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn spec(symbol: &str) -> MarketSpec {
    let text = format!(
        r#"
[[markets]]
symbol = "{symbol}"
base_asset = "BTC"
tick_size = "0.1"
lot_size = "0.001"
index_source = "demo"
initial_index_price = "50000"
  [[markets.risk_tiers]]
  notional_cap = "50000"
  max_leverage = 100
  maintenance_margin_rate = "0.004"
"#
    );
    let c = Config::parse(&text, "demo.toml").expect("a demo market is a valid config");
    c.markets.into_iter().next().unwrap()
}

const T0: u64 = 1_700_000_000_000;

#[test]
fn the_walk_is_bounded_moving_continuous_and_deterministic() {
    let s = spec("BTC-PERP");
    let a = Index::new(&s, Timestamp(T0));
    let b = Index::new(&s, Timestamp(T0 + 123_456));
    let (lo, hi) = (d("49000"), d("51000")); // ±2 %
    let mut prices = std::collections::BTreeSet::new();
    let mut prev = a.reading(Timestamp(T0)).price;
    let mut max_step = Decimal::ZERO;
    // Two hours at one reading per second.
    for i in 0..7200u64 {
        let now = Timestamp(T0 + i * 1000);
        let r = a.reading(now);
        assert!(!r.stale, "a demo index is never stale");
        assert!(
            r.price >= lo && r.price <= hi,
            "{} out of ±2 % at {i}",
            r.price
        );
        assert_eq!(r.price % d("0.1"), Decimal::ZERO, "on tick: {}", r.price);
        assert_eq!(r, b.reading(now), "a function of the time alone");
        max_step = max_step.max((r.price - prev).abs());
        prev = r.price;
        prices.insert(r.price);
    }
    assert!(
        prices.len() > 1000,
        "it moves: {} distinct prices",
        prices.len()
    );
    // One second moves it at most Σ 2·amp/spacing × 1 s = 1,220 ppm of ≤ 51,000 = 62.2.
    assert!(max_step <= d("62.3"), "largest one-second step {max_step}");
    assert!(max_step >= d("1"), "largest one-second step {max_step}");
    // The offset never leaves its bound, whatever the time.
    for t in (0..200_000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A)) {
        assert!(demo_offset_ppm(42, Timestamp(t)).abs() <= DEMO_AMPLITUDE_PPM);
    }
}

#[test]
fn markets_walk_independently() {
    let (btc, eth) = (
        Index::new(&spec("BTC-PERP"), Timestamp(T0)),
        Index::new(&spec("ETH-PERP"), Timestamp(T0)),
    );
    let differ = (0..600u64)
        .filter(|i| {
            let now = Timestamp(T0 + i * 1000);
            btc.reading(now) != eth.reading(now)
        })
        .count();
    assert!(differ > 500, "only {differ} of 600 readings differ");
}

#[test]
fn a_push_recentres_the_walk_and_resume_continues_it() {
    let s = spec("BTC-PERP");
    let mut ix = Index::new(&s, Timestamp(T0));
    let now = Timestamp(T0 + 3_600_000);
    assert!(
        ix.push_oracle(d("60000"), now),
        "a demo index takes operator pushes"
    );
    assert_eq!(ix.reading(now).price, d("60000"));
    let later = ix.reading(Timestamp(now.0 + 600_000)).price;
    assert!(later >= d("58800") && later <= d("61200"), "{later}");
    // Resuming after a restart at the last mark reads that mark, then walks on.
    let mut resumed = Index::new(&s, now);
    resumed.resume_at(d("50123.4"), now);
    assert_eq!(resumed.reading(now).price, d("50123.4"));
    assert!(!resumed.reading(Timestamp(now.0 + 86_400_000)).stale);
}

/// The harness's config with ETH-PERP on the demo source instead of a 10 s oracle.
fn demo_config() -> String {
    CONFIG.replace(
        "initial_index_price = \"3000\"\nindex_stale_after = \"10s\"",
        "initial_index_price = \"3000\"\nindex_stale_after = \"10s\"\nindex_source = \"demo\"",
    )
}

async fn funded<S, B>(h: &Harness, app: &S) -> Creds
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = call(app, h.admin("POST", "/api/v1/admin/accounts", "{}")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let c = Creds {
        id: r.body["account_id"].as_u64().unwrap(),
        key: r.body["api_key"].as_str().unwrap().into(),
        secret: r.body["api_secret"].as_str().unwrap().into(),
    };
    let path = format!("/api/v1/admin/accounts/{}/deposits", c.id);
    let r = call(app, h.admin("POST", &path, r#"{"amount":"100000"}"#)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    c
}

async fn tick(h: &Harness) {
    h.state
        .ex
        .risk
        .send(perpx::actors::messages::Tick)
        .await
        .unwrap();
    for m in &h.state.ex.markets {
        m.send(perpx::actors::market::query::DepthQuery(1))
            .await
            .unwrap();
    }
}

#[actix_web::test]
async fn an_unfed_demo_market_keeps_taking_orders_and_its_index_moves() {
    let h = harness_with(&demo_config(), 0, 0, 4096);
    let app = app!(h);
    let a = funded(&h, &app).await;
    let mut seen = std::collections::BTreeSet::new();
    // Ten minutes with no push, far past index_stale_after = 10 s.
    for _ in 0..10 {
        h.clock.advance_ms(60_000);
        tick(&h).await;
        let r = call(
            &app,
            actix_web::test::TestRequest::get()
                .uri("/api/v1/markets/ETH-PERP")
                .to_request(),
        )
        .await;
        let index: Decimal = r.body["index_price"].as_str().unwrap().parse().unwrap();
        assert!(index >= d("2940") && index <= d("3060"), "{index}");
        seen.insert(index);
    }
    assert!(seen.len() >= 5, "the index moved: {seen:?}");
    let body = json!({"side":"buy","type":"limit","quantity":"0.01","price":"2900"}).to_string();
    let r = call(
        &app,
        h.signed(&a, "POST", "/api/v1/markets/ETH-PERP/orders", &body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A push is taken and read back at once.
    let r = call(
        &app,
        h.admin(
            "POST",
            "/api/v1/admin/markets/ETH-PERP/index-price",
            r#"{"price":"3100"}"#,
        ),
    )
    .await;
    assert_eq!((r.status, &r.body["index_price"]), (200, &json!("3100")));
}

#[actix_web::test]
async fn index_stale_says_what_to_do() {
    let h = harness();
    let app = app!(h);
    let a = funded(&h, &app).await;
    h.clock.advance_ms(11_000);
    tick(&h).await;
    let body = json!({"side":"buy","type":"limit","quantity":"0.01","price":"3000"}).to_string();
    let r = call(
        &app,
        h.signed(&a, "POST", "/api/v1/markets/ETH-PERP/orders", &body),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "INDEX_STALE"), "{}", r.body);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("/api/v1/admin/markets/{symbol}/index-price") && msg.contains("\"demo\""),
        "{msg}"
    );
}
