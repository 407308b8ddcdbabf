//! The web terminal: static files from `web/`, embedded in the binary at compile time
//! (rust-embed with `debug-embed`, so debug builds and tests serve the same bytes as a release).
//!
//! Routes: `GET /` (trader view, `web/index.html`), `GET /admin` (operator view,
//! `web/admin.html`) and `GET /assets/{path}` (`web/assets/...`). They are registered before
//! the JSON 404 fallback; an unknown asset is that fallback's `404 NOT_FOUND`.
//!
//! # Invariants
//! - Every response carries the Content-Security-Policy [`CSP`]: scripts, styles and images
//!   only from this origin, network only to this origin and its WebSocket. The pages use no
//!   inline script or style, so nothing has to be allowed beyond `'self'`.
//! - The ETag is the file's SHA-256 (computed at compile time); a matching `If-None-Match`
//!   gets `304` with no body. Pages and first-party assets are `no-cache` (always revalidated,
//!   so an upgraded binary is picked up at once); vendored files carry their version in the
//!   path and are cached for a year as immutable.

use std::borrow::Cow;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use super::error::{ApiError, ApiResult};

/// The policy every web response carries.
pub const CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
                       base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Register the web routes (call before the default service).
pub fn routes(cfg: &mut web::ServiceConfig) {
    use actix_web::middleware::from_fn;

    use crate::api::http_metrics::observe;
    cfg.service(
        super::resource("/", "/")
            .wrap(from_fn(observe))
            .route(get_or_head().to(|r: HttpRequest| async move { serve(&r, "index.html") })),
    )
    .service(
        super::resource("/admin", "/admin")
            .wrap(from_fn(observe))
            .route(get_or_head().to(|r: HttpRequest| async move { serve(&r, "admin.html") })),
    )
    .service(
        super::resource("/assets/{path:.*}", "/assets/{path}")
            .wrap(super::contract_errors())
            .wrap(from_fn(observe))
            .route(get_or_head().to(asset)),
    );
}

/// GET, and HEAD (same headers, no body: actix drops the body of a HEAD response).
fn get_or_head() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let path = path.into_inner();
    // rust-embed only knows the embedded names, so `..` cannot escape; refuse it anyway.
    if path.split('/').any(|p| p == ".." || p.is_empty()) {
        return Err(not_found(&req));
    }
    match Assets::get(&format!("assets/{path}")) {
        Some(_) => Ok(serve(&req, &format!("assets/{path}"))),
        None => Err(not_found(&req)),
    }
}

fn not_found(req: &HttpRequest) -> ApiError {
    ApiError::new(404, "NOT_FOUND", format!("no such file: {}", req.path()))
}

/// The embedded file `name` (which exists: the pages are checked by a test) with its headers.
fn serve(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some(file) = Assets::get(name) else {
        return HttpResponse::from_error(not_found(req));
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if name.starts_with("assets/vendor/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if fresh {
        return res.finish();
    }
    let body = match file.data {
        Cow::Borrowed(b) => web::Bytes::from_static(b),
        Cow::Owned(v) => web::Bytes::from(v),
    };
    res.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    ))
    .body(body)
}

/// The content type of the few kinds of file `web/` holds.
fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}
