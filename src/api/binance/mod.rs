//! The Binance USDⓈ-M dialect (`/fapi`, a few `/sapi` answers, the `fstream` WebSocket
//! forms), so clients written for Binance futures (ccxt `binanceusdm`, hummingbot
//! `binance_perpetual`) trade on perpx unmodified. `docs/BINANCE.md` maps it to the native API.
//!
//! One file per resource: [`auth`] (keys, timestamps, signatures), [`errors`] (the rejection
//! table), [`params`] (form parameters), [`symbols`] and [`render`] (names and wire objects),
//! [`market`], [`ticker`] and [`klines`] (public data), [`exchange_info`], [`orders`] and
//! [`order_params`], [`batch`],
//! [`algo`], [`account`], [`history`], [`forced`], [`settings`], [`listen_key`], [`sapi`],
//! the rate-limit headers in [`limits`], and the WebSocket in [`ws`].
//!
//! # Invariants
//! - Same path as the native API: every order, cancel, amend, leverage change and account
//!   read goes through the [`Exchange`](crate::actors::Exchange) handle and its contracts
//!   (R1 → market → R2 → journal, durable reply, exact money). Only parsing and rendering
//!   differ: a Binance answer is the native answer in Binance's words.
//! - Every failure is `{"code":<negative>,"msg":...}` with a 4xx/5xx status, never the native
//!   error shape; a rejected request changes nothing.
//! - Public data carries the same sequences, ids and decimals as the native API: the depth
//!   `lastUpdateId` and the stream `U`/`u`/`pu` are the native book sequence.

pub mod account;
pub mod algo;
pub mod auth;
pub mod batch;
pub mod errors;
pub mod exchange_info;
pub mod forced;
pub mod history;
pub mod klines;
pub mod limits;
pub mod listen_key;
pub mod market;
pub mod order_params;
pub mod orders;
pub mod params;
pub mod position_risk;
pub mod render;
pub mod sapi;
pub mod settings;
pub mod symbols;
pub mod ticker;
pub mod ws;

use std::sync::{Arc, OnceLock};

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::api::http_metrics;
use crate::api::State;
use errors::{BnError, BnResult};

/// What the dialect keeps beside the exchange: listen keys, rate-limit counters and the
/// WebSocket feeds.
#[derive(Default)]
pub struct BinanceState {
    pub listen_keys: listen_key::Store,
    /// Request weight per IP and order counts per account (the `X-MBX-*` headers).
    pub limits: limits::RateLimits,
    symbols: OnceLock<symbols::Symbols>,
    hubs: OnceLock<Arc<ws::hub::Hubs>>,
}

impl BinanceState {
    /// Empty state with the configured rate limits.
    pub fn new(limits: limits::BinanceLimits) -> BinanceState {
        BinanceState {
            limits: limits::RateLimits::new(limits),
            ..BinanceState::default()
        }
    }

    /// The symbol table (built on first use from the market specs).
    pub fn symbols(&self, st: &State) -> &symbols::Symbols {
        self.symbols
            .get_or_init(|| symbols::Symbols::new(&st.ex.specs))
    }

    /// The per-market Binance feeds, started on first use.
    pub fn hubs(&self, st: &State) -> Arc<ws::hub::Hubs> {
        Arc::clone(self.hubs.get_or_init(|| ws::hub::Hubs::start(st)))
    }
}

/// Start what should run from the first second (the mark and index price recorders behind
/// `markPriceKlines`/`indexPriceKlines`), rather than on the dialect's first use.
pub fn start(st: &State) {
    st.binance.hubs(st);
}

/// A JSON `200` answer.
pub fn ok<T: Serialize>(v: &T) -> BnResult<HttpResponse> {
    // Rendered into one buffer sized for an order (`json()` grows a String from empty:
    // several reallocations per answer on the order path).
    let mut body = Vec::with_capacity(1024);
    // Answers are plain data, but a failure is a 500 for this request, never a panic.
    serde_json::to_writer(&mut body, v).map_err(|e| {
        errors::BnError::new(
            500,
            -1000,
            format!("An unknown error occurred while processing the request. ({e})"),
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body))
}

/// A resource under `/fapi`, labelled with its full pattern for metrics.
#[macro_export]
macro_rules! fapi_resource {
    ($path:literal) => {
        $crate::api::resource($path, concat!("/fapi", $path))
    };
}

/// Every Binance route: REST under `/fapi`, `/sapi` and `/futures/data`, and the WebSocket
/// path forms (registered after the native `/ws`, which they do not overlap).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/fapi")
            .wrap(binance_errors())
            .wrap(from_fn(limits::meter))
            .wrap(from_fn(http_metrics::observe))
            // The hot order route first.
            .configure(orders::routes)
            .configure(batch::routes)
            .configure(algo::routes)
            .configure(market::routes)
            .configure(ticker::routes)
            .configure(exchange_info::routes)
            .configure(account::routes)
            .configure(history::routes)
            .configure(forced::routes)
            .configure(settings::routes)
            .configure(listen_key::routes)
            .default_service(web::to(unknown_path)),
    )
    .service(
        web::scope("/sapi")
            .wrap(binance_errors())
            .wrap(from_fn(limits::meter))
            .wrap(from_fn(http_metrics::observe))
            .configure(sapi::routes)
            .default_service(web::to(unknown_path)),
    )
    .service(
        web::scope("/futures/data")
            .wrap(binance_errors())
            .wrap(from_fn(limits::meter))
            .wrap(from_fn(http_metrics::observe))
            .configure(market::data_routes)
            .default_service(web::to(unknown_path)),
    )
    .configure(ws::routes);
}

async fn unknown_path(req: HttpRequest) -> BnResult<HttpResponse> {
    Err(BnError::new(
        404,
        -5000,
        format!("Path {}, Method {} is invalid", req.path(), req.method()),
    ))
}

/// Rewrite actix's own error responses (oversize body, wrong method, ...) into Binance's
/// shape.
fn binance_errors<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    let mut h = ErrorHandlers::new();
    for s in [400u16, 404, 405, 411, 413, 415, 500] {
        // expect: the listed statuses are valid.
        h = h.handler(StatusCode::from_u16(s).expect("status"), rewrite);
    }
    h
}

fn rewrite<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, msg) = match status.as_u16() {
        413 => (-1000, "Request body larger than 64 KiB.".to_owned()),
        404 | 405 => (
            -5000,
            format!(
                "Path {}, Method {} is invalid",
                res.request().path(),
                res.request().method()
            ),
        ),
        s if s >= 500 => (
            -1000,
            "An unknown error occurred while processing the request.".to_owned(),
        ),
        _ => (
            -1100,
            status
                .canonical_reason()
                .unwrap_or("Bad request")
                .to_owned(),
        ),
    };
    let (req, _) = res.into_parts();
    let new = HttpResponse::build(status)
        .content_type("application/json")
        .body(errors::body(code, &msg));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}
