//! The audit log's middleware (docs/OPERATIONS.md "Audit log"): every admin write — a request
//! other than GET to an admin route, refused ones included — is journaled as an audit record
//! (who, what, when, from where, the result) before its answer is sent. Reads are not
//! recorded (the operator view polls them).
//!
//! # Invariants
//! - The record is durable before the client sees the answer (the command's own journal
//!   entry came first, so the log never shows an action the journal lacks).
//! - The actor is the token `AppState::admin` recognised (left in the request's extensions);
//!   `-` when none was (no or an unknown token).
//! - If the audit record cannot be journaled, the answer is still the action's (it happened),
//!   and the failure is logged: the journal failing stops the exchange anyway.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::authenticate::Admin;
use super::error::ApiError;
use super::State;
use crate::actors::messages::AccessCmd;
use crate::engine::access::AuditRecord;

/// Record the admin write `req` and its answer.
pub async fn record(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.call(req).await;
    }
    // The body, read once here and handed back to the handler.
    let body = req.extract::<web::Bytes>().await.unwrap_or_default();
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    let st = req.app_data::<State>().cloned();
    let ip = super::client_ip::client_ip(
        req.request(),
        st.as_ref().map_or(&[][..], |s| &s.trusted_proxies),
    )
    .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    let (method, path) = (req.method().to_string(), req.path().to_owned());
    let res = next.call(req).await?;
    let Some(st) = st else {
        return Ok(res);
    };
    let admin = res.request().extensions().get::<Admin>().cloned();
    let code = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(|e| e.code.to_owned());
    let record = AuditRecord {
        id: 0,
        time: st.ex.clock.now().0,
        actor: admin
            .as_ref()
            .map_or_else(|| "-".into(), |a| a.name.clone()),
        token_no: admin.and_then(|a| a.token_no),
        ip,
        method,
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: res.status().as_u16(),
        code,
    };
    if let Err(e) = st
        .ex
        .access(|reply| AccessCmd::Audit { record, reply })
        .await
    {
        tracing::error!(error = %e, "audit record not journaled");
    }
    Ok(res.map_body(|_, b| b.boxed()))
}
