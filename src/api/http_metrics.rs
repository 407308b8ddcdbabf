//! HTTP metrics (the API's side of telemetry, here so `telemetry` stays a leaf): a middleware giving every request an `x-request-id`, a
//! tracing span and one `perpx_http_requests_total{method,route,status}` count (the route is
//! the matched **pattern**, `unmatched` otherwise), and the `GET /metrics` handler.
//!
//! The middleware wraps each top-level service of `api::routes`; a request passing two
//! wrapped layers is counted once (a marker in its extensions).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use metrics::{counter, Counter};
use rustc_hash::FxHashMap;
use tracing::Instrument;

use crate::api::State;
use crate::telemetry::health::overloaded;
use crate::telemetry::metrics as m;

/// The response (and accepted request) header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";
/// Route label of requests no resource matched.
pub const UNMATCHED: &str = "unmatched";

/// Marks a request already observed by an outer layer.
#[derive(Clone, Copy)]
struct Observed;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The client's `x-request-id` if it is short and printable, else a new one (a number: no
/// formatting per request).
fn request_id(req: &ServiceRequest) -> HeaderValue {
    req.headers()
        .get(REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| HeaderValue::from(NEXT_ID.fetch_add(1, Ordering::Relaxed)))
}

/// The method as a `'static` label (other methods share one label).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

thread_local! {
    /// `perpx_http_requests_total` handles by (method, route, status), per worker thread: the
    /// counter macro with labels costs a registry lookup and three label strings per call.
    static COUNTERS: RefCell<FxHashMap<(&'static str, &'static str, u16), Counter>> =
        RefCell::new(FxHashMap::default());
}

fn count(method: &'static str, route: &'static str, status: StatusCode) {
    COUNTERS.with(|c| {
        c.borrow_mut()
            .entry((method, route, status.as_u16()))
            .or_insert_with(|| {
                counter!(m::HTTP_REQUESTS_TOTAL, "method" => method, "route" => route,
                    "status" => status.as_str().to_owned())
            })
            .increment(1)
    });
}

/// The middleware (use with `actix_web::middleware::from_fn(observe)`).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.extensions().contains::<Observed>() {
        return next.call(req).await;
    }
    req.extensions_mut().insert(Observed);
    let id = request_id(&req);
    let method = method_label(req.method());
    let span = if tracing::enabled!(tracing::Level::DEBUG) {
        let id = String::from_utf8_lossy(id.as_bytes()).into_owned();
        tracing::debug_span!("http", request_id = %id, %method, path = %req.path())
    } else {
        tracing::Span::none()
    };
    let result = next.call(req).instrument(span.clone()).await;
    let (status, route) = match &result {
        // The resource's own label (`api::RouteLabel`): `match_pattern()` would re-run the
        // router's regexes over every resource, a tenth of the server's CPU under load.
        Ok(res) => (
            res.status(),
            res.request()
                .app_data::<crate::api::RouteLabel>()
                .map_or(UNMATCHED, |l| l.0),
        ),
        Err(e) => (e.as_response_error().status_code(), UNMATCHED),
    };
    count(method, route, status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        overloaded(route);
    } else if status.is_server_error() {
        let _in = span.enter();
        tracing::error!(%method, route, status = status.as_u16(), "request failed");
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        let _in = span.enter();
        tracing::debug!(%method, route, status = status.as_u16(), "request");
    }
    result.map(|mut res| {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), id);
        res
    })
}

/// `GET /metrics`: every series in the Prometheus text format (health gauges sampled now).
pub async fn metrics(st: State) -> HttpResponse {
    st.ex.sample_health();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m::render())
}
