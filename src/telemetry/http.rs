//! The HTTP side of telemetry: a middleware giving every request an `x-request-id`, a
//! tracing span and one `perpx_http_requests_total{method,route,status}` count (the route is
//! the matched **pattern**, `unmatched` otherwise), and the `GET /metrics` handler.
//!
//! The middleware wraps each top-level service of `api::routes`; a request passing two
//! wrapped layers is counted once (a marker in its extensions).

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};
use metrics::counter;
use tracing::Instrument;

use super::metrics as m;
use crate::api::State;

/// The response (and accepted request) header carrying the request id.
pub const REQUEST_ID: &str = "x-request-id";
/// Route label of requests no resource matched.
pub const UNMATCHED: &str = "unmatched";

/// Marks a request already observed by an outer layer.
#[derive(Clone, Copy)]
struct Observed;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The client's `x-request-id` if it is short and printable, else a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:x}", NEXT_ID.fetch_add(1, Ordering::Relaxed)))
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
    let method = req.method().as_str().to_owned();
    let span = tracing::debug_span!("http", request_id = %id, %method, path = %req.path());
    let result = next.call(req).instrument(span.clone()).await;
    let (status, pattern) = match &result {
        // The resource's own label (`api::RouteLabel`): `match_pattern()` would re-run the
        // router's regexes over every resource, a tenth of the server's CPU under load.
        Ok(res) => (
            res.status(),
            res.request()
                .app_data::<crate::api::RouteLabel>()
                .map(|l| l.0.to_owned()),
        ),
        Err(e) => (e.as_response_error().status_code(), None),
    };
    let route = pattern.unwrap_or_else(|| UNMATCHED.to_owned());
    counter!(m::HTTP_REQUESTS_TOTAL, "method" => method.clone(), "route" => route.clone(),
        "status" => status.as_str().to_owned())
    .increment(1);
    let _in = span.enter();
    if status == actix_web::http::StatusCode::SERVICE_UNAVAILABLE {
        super::health::overloaded(&route);
    } else if status.is_server_error() {
        tracing::error!(request_id = %id, %method, route, status = status.as_u16(), "request failed");
    } else {
        tracing::debug!(request_id = %id, %method, route, status = status.as_u16(), "request");
    }
    drop(_in);
    result.map(|mut res| {
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut()
                .insert(HeaderName::from_static(REQUEST_ID), v);
        }
        res
    })
}

/// `GET /metrics`: every series in the Prometheus text format (health gauges sampled now).
pub async fn metrics(st: State) -> HttpResponse {
    super::health::sample(&st.ex);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m::render())
}
