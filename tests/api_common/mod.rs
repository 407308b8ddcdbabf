//! A whole exchange behind `api::routes` for API tests: manual clock, no timers, signed
//! request helpers, and a snapshot of observable state to prove rejections change nothing.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Instant;

use actix_web::{test, web};
use perpx::actors::{Exchange, StartOptions};
use perpx::api::auth::{sign, KeyStore};
use perpx::api::{AppState, Limits};
use perpx::clock::ManualClock;
use perpx::config::Config;
use perpx::domain::Timestamp;
use serde_json::Value;

pub mod binance;
pub mod ws;

pub const ADMIN: &str = "test-admin-token";
pub const START: Timestamp = Timestamp(1_700_000_000_000);

/// BTC (tick 0.1, lot 0.001, max 3 open orders per account) and an oracle ETH market whose
/// index goes stale after 10 s.
pub const CONFIG: &str = r#"
[server]
rate_limit_per_key = 0
rate_limit_per_ip = 0
[[markets]]
symbol = "BTC-PERP"
base_asset = "BTC"
tick_size = "0.1"
lot_size = "0.001"
max_open_orders = 3
initial_index_price = "50000"
  [[markets.risk_tiers]]
  notional_cap = "60000"
  max_leverage = 100
  maintenance_margin_rate = "0.004"
  [[markets.risk_tiers]]
  notional_cap = "250000"
  max_leverage = 50
  maintenance_margin_rate = "0.005"
[[markets]]
symbol = "ETH-PERP"
base_asset = "ETH"
tick_size = "0.01"
lot_size = "0.001"
initial_index_price = "3000"
index_stale_after = "10s"
  [[markets.risk_tiers]]
  notional_cap = "50000"
  max_leverage = 50
  maintenance_margin_rate = "0.005"
"#;

pub struct Harness {
    pub state: web::Data<AppState>,
    pub clock: ManualClock,
}

impl Harness {
    /// The configured market symbols (for `api::routes_for`).
    pub fn symbols(&self) -> Vec<String> {
        self.state
            .ex
            .specs
            .iter()
            .map(|s| s.symbol.clone())
            .collect()
    }
}

pub fn harness_with(config: &str, per_key: u32, per_ip: u32, market_in_flight: usize) -> Harness {
    let ws_queue = Config::parse(config, "test")
        .expect("test config")
        .server
        .ws_queue;
    harness_feed(config, per_key, per_ip, market_in_flight, ws_queue)
}

/// [`harness_with`] whose public feeds hold `feed_capacity` messages (sessions still queue
/// `ws_queue`): a small feed makes a forwarder's receiver lag.
pub fn harness_feed(
    config: &str,
    per_key: u32,
    per_ip: u32,
    market_in_flight: usize,
    feed_capacity: usize,
) -> Harness {
    harness_journaled(
        config,
        per_key,
        per_ip,
        market_in_flight,
        feed_capacity,
        None,
    )
}

/// [`harness_feed`] writing to `journal` (with the config's `durability`).
pub fn harness_journaled(
    config: &str,
    per_key: u32,
    per_ip: u32,
    market_in_flight: usize,
    feed_capacity: usize,
    journal: Option<Arc<perpx::persistence::Journal>>,
) -> Harness {
    let config = Config::parse(config, "test").expect("test config");
    let clock = ManualClock::new(START);
    let ex = Exchange::start(
        &config,
        config.fresh_state(),
        StartOptions {
            clock: Arc::new(clock.clone()),
            journal,
            timers: false,
            market_in_flight,
            account_in_flight: 100_000,
            feed_capacity,
            follower: false,
        },
    );
    let state = web::Data::new(AppState {
        ex: Arc::new(ex),
        keys: KeyStore::new([42; 32]),
        admin_token: ADMIN.into(),
        trusted_proxies: Vec::new(),
        replay: Default::default(),
        recv_window_ms: 5000,
        margin_asset: "USDT".into(),
        money_scale: 8,
        ws_queue: config.server.ws_queue,
        started: Instant::now(),
        limits: Limits::new(per_key, per_ip),
        ws: Default::default(),
        binance: perpx::api::binance::BinanceState::new(config.server.binance_limits),
    });
    Harness { state, clock }
}

pub fn harness() -> Harness {
    harness_with(CONFIG, 0, 0, 4096)
}

/// An account's credentials.
#[derive(Clone)]
pub struct Creds {
    pub id: u64,
    pub key: String,
    pub secret: String,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    /// Response headers, names lowercase.
    pub headers: std::collections::HashMap<String, String>,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

#[allow(unused_macros)]
macro_rules! app {
    ($h:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .app_data($h.state.clone())
                .configure(perpx::api::routes_for(&$h.symbols())),
        )
        .await
    };
}
#[allow(unused_imports)]
pub(crate) use app;

pub async fn call<S, B>(app: &S, req: actix_http::Request) -> Resp
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let bytes = test::read_body(res).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Resp {
        status,
        body,
        headers,
    }
}

/// What `app!` builds: a service answering test requests.
pub trait TestApp<B>:
    actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<B>,
    Error = actix_web::Error,
>
{
}

impl<S, B> TestApp<B> for S where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >
{
}

/// Open an account through the admin API with `deposit` (an integer amount); returns its
/// credentials.
pub async fn account<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    deposit: &str,
) -> Creds {
    let r = call(
        app,
        h.admin("POST", "/api/v1/admin/accounts", r#"{"label":"t"}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let c = Creds {
        id: r.body["account_id"].as_u64().unwrap(),
        key: r.body["api_key"].as_str().unwrap().into(),
        secret: r.body["api_secret"].as_str().unwrap().into(),
    };
    let r = call(
        app,
        h.admin(
            "POST",
            &format!("/api/v1/admin/accounts/{}/deposits", c.id),
            &format!(r#"{{"amount":"{deposit}"}}"#),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["wallet_balance"], deposit);
    c
}

/// The observable state a rejected request must not change: the BTC book (without its
/// `time`) and `c`'s account.
pub async fn observe<S: TestApp<B>, B: actix_web::body::MessageBody>(
    h: &Harness,
    app: &S,
    c: &Creds,
) -> (Value, Value) {
    let mut book = call(
        app,
        test::TestRequest::get()
            .uri("/api/v1/markets/BTC-PERP/book")
            .to_request(),
    )
    .await
    .body;
    book.as_object_mut().unwrap().remove("time");
    let acc = call(app, h.signed(c, "GET", "/api/v1/account", ""))
        .await
        .body;
    (book, acc)
}

impl Harness {
    /// A signed private request.
    pub fn signed(&self, c: &Creds, method: &str, target: &str, body: &str) -> actix_http::Request {
        let ts = fresh_ts(self.clock.now_ms());
        let sig = sign(&c.secret, ts, method, target, body.as_bytes());
        test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(target)
            .insert_header(("X-API-Key", c.key.as_str()))
            .insert_header(("X-API-Timestamp", ts.to_string()))
            .insert_header(("X-API-Signature", sig))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_owned())
            .to_request()
    }

    pub fn admin(&self, method: &str, target: &str, body: &str) -> actix_http::Request {
        test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(target)
            .insert_header(("Authorization", format!("Bearer {ADMIN}")))
            .set_payload(body.to_owned())
            .to_request()
    }
}

pub trait NowMs {
    fn now_ms(&self) -> u64;
}

/// A timestamp for a new signed request at `now`: up to 4 s back, one ms later per request,
/// cycling (inside every window the tests use), so
/// two identical requests of a test signed at the same manual-clock time still carry
/// different signatures, as a real client's (whose clock moves) do; the server refuses a
/// write's signature used twice (`api/replay.rs`).
pub fn fresh_ts(now: u64) -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    now - 4_000 + N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4_000
}

impl NowMs for ManualClock {
    fn now_ms(&self) -> u64 {
        use perpx::clock::Clock;
        self.now().0
    }
}

/// Serve the harness on a real socket at 127.0.0.1:0; returns the address.
pub fn serve(h: &Harness) -> std::net::SocketAddr {
    let state = h.state.clone();
    let symbols = h.symbols();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .configure(perpx::api::routes_for(&symbols))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .expect("bind 127.0.0.1:0");
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    addr
}
