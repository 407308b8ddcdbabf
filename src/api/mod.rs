//! The public API (docs/API.md): one [`routes`] used by `app.rs` and by the tests, REST
//! handlers split by audience ([`public`], [`private`], [`admin`]), the WebSocket ([`ws`]),
//! authentication ([`auth`]), wire types ([`dto`]) and the error contract ([`error`]).
//!
//! # Invariants
//! - Every non-2xx response is `{"error":{"code","message"}}` with a stable code.
//! - A rejected request changes nothing (rejections come from checks made before any change,
//!   in the handlers here or at R1 / in the market).
//! - Another account's order is `404 ORDER_NOT_FOUND`, never 403: ids cannot be probed.

pub mod account_lists;
pub mod admin;
pub mod admin_access;
pub mod audit;
pub mod auth;
pub mod authenticate;
pub mod binance;
pub mod client_ip;
pub mod dto;
pub mod error;
pub mod http_metrics;
pub mod income;
pub mod keys;
pub mod openapi;
pub mod permissions;
pub mod private;
pub mod public;
pub mod reject_text;
pub mod replay;
pub mod shutdown;
pub mod terminal;
pub mod tpsl;
pub mod ws;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, HttpRequest};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::actors::Exchange;
use crate::domain::AccountId;
use auth::KeyStore;
use error::{ApiError, ApiResult};

/// A resource's route pattern, attached as resource data so middleware can label metrics
/// without re-running the router (see [`resource`]).
pub struct RouteLabel(pub &'static str);

/// `web::resource(path)` labelled with `label` (the full pattern, prefix included).
pub fn resource(path: &'static str, label: &'static str) -> actix_web::Resource {
    web::resource(path).app_data(RouteLabel(label))
}

/// A resource under `/api/v1`, labelled with its full pattern.
#[macro_export]
macro_rules! api_resource {
    ($path:literal) => {
        $crate::api::resource($path, concat!("/api/v1", $path))
    };
}

/// Request bodies above this are `413 PAYLOAD_TOO_LARGE`.
pub const MAX_BODY: usize = 64 * 1024;

/// Per-key and per-IP token buckets (`0` turns a limit off).
pub struct Limits {
    per_key: Option<DefaultKeyedRateLimiter<AccountId>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// The configured requests per second (per key, per IP; 0 is no limit).
    pub rates: (u32, u32),
}

impl Limits {
    pub fn new(per_key: u32, per_ip: u32) -> Limits {
        Limits {
            per_key: NonZeroU32::new(per_key).map(|n| RateLimiter::keyed(Quota::per_second(n))),
            per_ip: NonZeroU32::new(per_ip).map(|n| RateLimiter::keyed(Quota::per_second(n))),
            rates: (per_key, per_ip),
        }
    }

    fn check_key(&self, a: AccountId) -> ApiResult<()> {
        match &self.per_key {
            Some(l) if l.check_key(&a).is_err() => Err(ApiError::new(
                429,
                "RATE_LIMITED",
                "too many requests for this API key",
            )),
            _ => Ok(()),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> ApiResult<()> {
        match &self.per_ip {
            Some(l) if l.check_key(&ip).is_err() => Err(ApiError::new(
                429,
                "RATE_LIMITED",
                "too many requests from this address",
            )),
            _ => Ok(()),
        }
    }
}

/// WebSocket counters (exported as metrics), and the shutdown signal every session watches.
#[derive(Debug, Default)]
pub struct WsStats {
    pub connections: std::sync::atomic::AtomicI64,
    pub slow_consumers: std::sync::atomic::AtomicU64,
    pub messages: std::sync::atomic::AtomicU64,
    /// `true` once the server is stopping: every session closes at once (see [`ws::session`]).
    pub closing: tokio::sync::watch::Sender<bool>,
}

impl WsStats {
    /// Close every WebSocket session now (server shutdown): each sends its client a close
    /// frame (1012 service restart) and ends, so the HTTP server's graceful stop does not
    /// wait for clients that would never leave by themselves.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub ex: Arc<Exchange>,
    pub keys: KeyStore,
    /// The bootstrap admin token (an operator named `bootstrap`).
    pub admin_token: String,
    /// Proxies whose `X-Forwarded-For` names the client ([`client_ip`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Signatures already used ([`replay`]).
    pub replay: replay::ReplayGuard,
    pub recv_window_ms: u64,
    pub margin_asset: String,
    pub money_scale: u32,
    pub ws_queue: usize,
    pub started: Instant,
    pub limits: Limits,
    pub ws: Arc<WsStats>,
    /// The Binance USDⓈ-M dialect's own state (listen keys, stream feeds).
    pub binance: binance::BinanceState,
}

pub type State = web::Data<AppState>;

impl AppState {
    /// Per-IP rate limit for every request.
    pub fn limit_ip(&self, req: &HttpRequest) -> ApiResult<()> {
        match req.peer_addr() {
            Some(a) => self.limits.check_ip(a.ip()),
            None => Ok(()),
        }
    }

    /// Per-key rate limit (for authentication schemes other than [`AppState::authenticate`]).
    pub fn limits_key(&self, account: AccountId) -> ApiResult<()> {
        self.limits.check_key(account)
    }
}

/// [`routes`] preceded by a static route per market for the hottest request, `POST
/// /api/v1/markets/{symbol}/orders`: actix matches a pattern with a `{symbol}` segment by
/// running a regex over the path on every request (4.5 % of the server's CPU under the order
/// benchmark); a static path is a string comparison. Same handler, same route label, same
/// middleware; other methods on the path fall through (the guard) to the pattern route.
pub fn routes_for(symbols: &[String]) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let symbols = symbols.to_vec();
    move |cfg: &mut web::ServiceConfig| {
        for s in &symbols {
            cfg.service(
                web::resource(format!("/api/v1/markets/{s}/orders"))
                    .guard(actix_web::guard::Post())
                    .app_data(RouteLabel("/api/v1/markets/{symbol}/orders"))
                    .app_data(private::FastSymbol(s.clone()))
                    .wrap(contract_errors())
                    .wrap(from_fn(http_metrics::observe))
                    .to(private::place_fast),
            );
        }
        routes(cfg);
    }
}

/// Every route of docs/API.md, the WebSocket, `GET /metrics`, and the error contract for
/// everything else. Each top-level service is wrapped by [`http_metrics::observe`]
/// (request id, span, `perpx_http_requests_total`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let json_err = |e: actix_web::error::JsonPayloadError, _: &HttpRequest| {
        ApiError::invalid(e.to_string()).into()
    };
    let query_err = |e: actix_web::error::QueryPayloadError, _: &HttpRequest| {
        ApiError::invalid(e.to_string()).into()
    };
    let path_err =
        |e: actix_web::error::PathError, _: &HttpRequest| ApiError::invalid(e.to_string()).into();
    cfg.app_data(web::PayloadConfig::new(MAX_BODY))
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_BODY)
                .error_handler(json_err),
        )
        .app_data(web::QueryConfig::default().error_handler(query_err))
        .app_data(web::PathConfig::default().error_handler(path_err))
        .service(
            web::scope("/api/v1")
                .wrap(contract_errors())
                .wrap(from_fn(http_metrics::observe))
                // Routes are tried in order: the hot order routes first.
                .configure(private::routes)
                .configure(income::routes)
                .configure(keys::routes)
                .configure(public::routes)
                .configure(admin::routes),
        )
        .service(
            resource("/ws", "/ws")
                .wrap(from_fn(http_metrics::observe))
                .get(ws::handler),
        )
        .configure(binance::routes)
        .service(
            resource("/metrics", "/metrics")
                .wrap(contract_errors())
                .wrap(from_fn(http_metrics::observe))
                .get(http_metrics::metrics),
        )
        // The web terminal (`/`, `/admin`, `/assets/...`), before the JSON 404 fallback.
        .configure(terminal::routes)
        .default_service(
            web::to(not_found)
                .wrap(contract_errors())
                .wrap(from_fn(http_metrics::observe)),
        );
}

/// Rewrites actix's own error responses into the contract shape.
pub fn contract_errors<B: actix_web::body::MessageBody + 'static>() -> ErrorHandlers<B> {
    let mut h = ErrorHandlers::new();
    for s in [400u16, 404, 405, 411, 413, 415, 500] {
        // expect: the listed statuses are valid.
        h = h.handler(StatusCode::from_u16(s).expect("status"), error::rewrite);
    }
    h
}

async fn not_found(req: HttpRequest) -> ApiResult<actix_web::HttpResponse> {
    Err(ApiError::new(
        404,
        "NOT_FOUND",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}
