//! The HTTP side of replication: off the primary, writes answer `503 NOT_PRIMARY` with the
//! primary's address (a fenced node answers it to every API request: its state may hold
//! writes the stream never took); the admin routes `POST /api/v1/admin/promote` and
//! `GET /api/v1/admin/replication`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::follower::PromoteRequest;
use super::{Role, Status};
use crate::api::State;

/// What the HTTP layer needs of the node: its status and a way to ask for promotion.
pub struct Replication {
    pub status: Arc<Status>,
    pub promote: mpsc::UnboundedSender<PromoteRequest>,
    pub journal: Arc<crate::persistence::JournalStats>,
    /// `[replication] max_lag` and `max_lag_entries`: the loss window writes are refused past.
    pub max_lag: std::time::Duration,
    pub max_lag_entries: u64,
}

/// Paths served whatever the role (health, metrics, the replication admin routes).
fn always(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/health"
            | "/api/v1/openapi.json"
            | "/metrics"
            | "/api/v1/admin/promote"
            | "/api/v1/admin/replication"
    )
}

fn not_primary(status: &Status, role: Role) -> HttpResponse {
    let primary = status.primary();
    let message = match (role, &primary) {
        (Role::Fenced, _) => "this node was replaced as primary; it serves nothing".to_owned(),
        (_, Some(p)) => format!(
            "this node is a {}; send writes to the primary at {p}",
            role.name()
        ),
        (_, None) => format!("this node is a {}; the primary is unknown", role.name()),
    };
    let mut r = HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE);
    if let Some(p) = &primary {
        r.insert_header(("X-Perpx-Primary", p.as_str()));
    }
    r.insert_header(("Retry-After", "1"));
    r.json(json!({"error": {"code": "NOT_PRIMARY", "message": message, "primary": primary}}))
}

/// Middleware (installed only with `[replication]`): route by role.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let repl = req.app_data::<web::Data<Replication>>().cloned();
    let Some(repl) = repl else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let status = &repl.status;
    let role = status.role();
    let path = req.path();
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if role == Role::Primary && write && !always(path) {
        let committed = status.local_upto.load(Ordering::Acquire);
        if let Some(why) = status.over_max_lag(repl.max_lag, repl.max_lag_entries, committed) {
            crate::telemetry::health::overloaded(path);
            let resp = HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
                .insert_header(("Retry-After", "1"))
                .json(json!({"error": {"code": "OVERLOADED", "message": why}}));
            return Ok(req.into_response(resp).map_into_right_body());
        }
    }
    let refuse = match role {
        Role::Primary => false,
        _ if always(path) => false,
        Role::Fenced => true,
        Role::Follower | Role::Promoting => write,
    };
    if refuse {
        let resp = not_primary(status, role);
        return Ok(req.into_response(resp).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The admin routes; register before `api::routes` (its `/api/v1` scope answers 404 for
/// anything it does not know). Their OpenAPI description is `api::openapi::ReplicationDoc`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // The API's OpenAPI document lists these routes only where they are served.
    cfg.app_data(web::Data::new(crate::api::openapi::ReplicationServed));
    cfg.service(
        crate::api::resource("/api/v1/admin/promote", "/api/v1/admin/promote").post(promote),
    )
    .service(
        crate::api::resource("/api/v1/admin/replication", "/api/v1/admin/replication")
            .get(replication),
    );
}

/// Promote this follower: drain the stream, publish the fence, become the primary. (Its
/// OpenAPI description is `api::openapi::ReplicationDoc`'s: keep the two in step.)
pub async fn promote(
    st: State,
    repl: web::Data<Replication>,
    req: HttpRequest,
) -> crate::api::error::ApiResult<HttpResponse> {
    st.admin(&req)?;
    match repl.status.role() {
        Role::Follower => {}
        r => {
            return Ok(HttpResponse::Conflict().json(json!({"error": {"code": "NOT_FOLLOWER",
                "message": format!("this node is a {}: only a follower can be promoted", r.name())}})))
        }
    }
    let (tx, rx) = oneshot::channel();
    if repl.promote.send(PromoteRequest { reply: tx }).is_err() {
        return Ok(HttpResponse::ServiceUnavailable()
            .json(json!({"error": {"code": "NOT_FOLLOWING",
            "message": "the follower stopped (see the log)"}})));
    }
    match rx.await {
        Ok(Ok(report)) => Ok(HttpResponse::Ok().json(
            json!({"role": "primary", "fence_seq": report.fence_seq,
            "drained": report.drained, "took_ms": report.took_ms,
            "last_head_seq": report.last_head_seq, "missing": report.missing}),
        )),
        Ok(Err(e)) => Ok(HttpResponse::ServiceUnavailable()
            .json(json!({"error": {"code": "PROMOTION_FAILED", "message": e.to_string()}}))),
        Err(_) => Ok(HttpResponse::ServiceUnavailable()
            .json(json!({"error": {"code": "NOT_FOLLOWING",
            "message": "the follower stopped (see the log)"}}))),
    }
}

/// This node's replication status. (Its OpenAPI description is
/// `api::openapi::ReplicationDoc`'s: keep the two in step.)
pub async fn replication(
    st: State,
    repl: web::Data<Replication>,
    req: HttpRequest,
) -> crate::api::error::ApiResult<HttpResponse> {
    st.admin(&req)?;
    let s = &repl.status;
    Ok(HttpResponse::Ok().json(json!({
        "role": s.role().name(),
        "advertise": s.advertise,
        "primary": s.primary(),
        "replicated_seq": s.replicated_upto.load(Ordering::Acquire),
        "stream_last_seq": s.stream_last.load(Ordering::Acquire),
        "local_seq": repl.journal.durable_upto.load(Ordering::Acquire),
        "primary_head_seq": (s.role() != Role::Primary).then(|| s.last_head().map(|h| h.committed)).flatten(),
        "heartbeat_age_ms": (s.role() != Role::Primary).then(|| s.silence().as_millis() as u64),
    })))
}

#[cfg(test)]
mod tests {
    use actix_web::{test, App};
    use utoipa::OpenApi;

    use crate::api::openapi::ReplicationDoc;

    /// The description kept in the API (see `api::openapi::ReplicationDoc`) names exactly the
    /// routes served here, with their methods.
    #[actix_web::test]
    async fn the_documented_routes_are_the_served_ones() {
        let app = test::init_service(App::new().configure(super::routes)).await;
        let doc = ReplicationDoc::openapi();
        let mut operations = 0;
        for (path, item) in &doc.paths.paths {
            for (method, on) in [("GET", item.get.is_some()), ("POST", item.post.is_some())] {
                let req = test::TestRequest::default()
                    .method(method.parse().expect("a method"))
                    .uri(path)
                    .to_request();
                let status = test::call_service(&app, req).await.status().as_u16();
                // Without the app's state the handler cannot run (500); a route that is not
                // served for this method answers 404 or 405.
                assert_eq!(
                    on,
                    ![404, 405].contains(&status),
                    "{method} {path}: {status}"
                );
                operations += usize::from(on);
            }
        }
        assert_eq!(operations, 2);
    }
}
