//! Every non-2xx answer is `{"error":{"code","message"}}` with the status of docs/API.md.
//! Rejections map one to one; extractor failures (bad JSON, query, path), oversize bodies,
//! unknown routes and wrong methods are mapped here too, so no response ever has another shape.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::Reject;

/// An API failure: a rejection from the core, or a shell-level error with its own status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            // expect: only the contract's statuses are passed in.
            status: StatusCode::from_u16(status).expect("valid HTTP status"),
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_REQUEST", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "UNAUTHORIZED", message)
    }
}

impl From<Reject> for ApiError {
    fn from(r: Reject) -> ApiError {
        ApiError::new(r.status(), r.code(), r.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

/// The contract body for `code` and `message`.
pub fn body(code: &str, message: &str) -> String {
    // expect: two strings always serialize.
    serde_json::to_string(&Body {
        error: Inner { code, message },
    })
    .expect("error body serializes")
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        HttpResponse::build(self.status)
            .content_type("application/json")
            .body(body(self.code, &self.message))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Rewrite any error response that is not already a contract body (produced by actix itself:
/// 404 for unknown routes, 405, 413 for oversize payloads, extractor failures).
pub fn rewrite<B: MessageBody + 'static>(
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
    let (code, message) = match status.as_u16() {
        413 => (
            "PAYLOAD_TOO_LARGE",
            "request body larger than 64 KiB".to_owned(),
        ),
        404 => (
            "NOT_FOUND",
            format!(
                "no route for {} {}",
                res.request().method(),
                res.request().path()
            ),
        ),
        405 => (
            "METHOD_NOT_ALLOWED",
            format!("method {} not allowed here", res.request().method()),
        ),
        s if s >= 500 => ("INTERNAL", "internal error".to_owned()),
        _ => (
            "INVALID_REQUEST",
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_owned(),
        ),
    };
    let allow = (status == StatusCode::METHOD_NOT_ALLOWED).then(|| {
        let pattern = res
            .request()
            .app_data::<super::RouteLabel>()
            .map_or("", |l| l.0);
        super::openapi::allowed(pattern).to_owned()
    });
    let (req, _) = res.into_parts();
    let mut new = HttpResponse::build(status);
    new.content_type("application/json");
    if let Some(allow) = allow {
        new.insert_header((header::ALLOW, allow));
    }
    let new = new.body(body(code, &message));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}
