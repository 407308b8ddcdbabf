//! Admin tokens and the audit log (docs/API.md "Admin tokens and audit log"): operators make
//! and revoke named tokens (`operator`: everything, `viewer`: reads), everyone with a token
//! reads the audit log and who they are. The bootstrap token (`PERPX_ADMIN_TOKEN` or
//! `<data_dir>/admin.token`) is an operator named `bootstrap` that cannot be revoked here.

use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::dto::{self, AuditPage, ErrorBody, TokenCreated, TokenDto, TokenRevoked, WhoAmI};
use super::error::{ApiError, ApiResult};
use super::State;
use crate::actors::messages::{AccessCmd, AccessQuery};
use crate::domain::Reject;
use crate::engine::access::{AccessFault, Role};

/// Audit pages hold at most this many records.
pub const MAX_AUDIT_PAGE: usize = 1000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use actix_web::middleware::from_fn;
    cfg.service(
        crate::api_resource!("/admin/tokens")
            .wrap(from_fn(super::audit::record))
            .get(list_tokens)
            .post(create_token),
    )
    .service(
        crate::api_resource!("/admin/tokens/{token_id}")
            .wrap(from_fn(super::audit::record))
            .delete(revoke_token),
    )
    .service(crate::api_resource!("/admin/audit").get(audit))
    .service(crate::api_resource!("/admin/whoami").get(whoami));
}

#[utoipa::path(get, path = "/api/v1/admin/whoami", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = WhoAmI)))]
pub async fn whoami(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    let a = st.admin(&req)?;
    Ok(HttpResponse::Ok().json(WhoAmI {
        name: a.name,
        role: a.role.name(),
        token_id: a.token_no,
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/tokens", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "the live named tokens (not the bootstrap token)", body = Vec<TokenDto>)))]
pub async fn list_tokens(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let tokens = st
        .ex
        .access_query(|reply| AccessQuery::Tokens { reply })
        .await?;
    let out: Vec<TokenDto> = tokens
        .iter()
        .map(|t| TokenDto::new(t, &st.ex.access))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(post, path = "/api/v1/admin/tokens", tag = "admin", security(("admin_token" = [])), request_body = dto::NewTokenBody,
    responses((status = 201, description = "the new token, shown once", body = TokenCreated)))]
pub async fn create_token(
    st: State,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let admin = st.admin(&req)?;
    let b = dto::parse::<dto::NewTokenBody>(&body)?;
    let role = Role::named(&b.role)
        .ok_or_else(|| ApiError::from(Reject::InvalidKey(AccessFault::Role(b.role.clone()))))?;
    let token = format!(
        "pxa_{}",
        hex::encode(super::auth::random_bytes().map_err(|e| {
            tracing::error!(error = %e, "no token made");
            Reject::Fault(crate::domain::Fault::Unexpected(
                "the OS random source failed",
            ))
        })?)
    );
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let t = st
        .ex
        .access(|reply| AccessCmd::CreateToken {
            name: b.name,
            role,
            hash,
            created_by: admin.name,
            reply,
        })
        .await?;
    tracing::info!(
        token_id = t.token_no,
        role = role.name(),
        "admin token created"
    );
    Ok(HttpResponse::Created().json(TokenCreated {
        info: TokenDto::new(&t, &st.ex.access),
        token,
    }))
}

#[utoipa::path(delete, path = "/api/v1/admin/tokens/{token_id}", tag = "admin", security(("admin_token" = [])),
    params(("token_id" = u32, Path,)),
    responses((status = 200, description = "revoked at once", body = TokenRevoked),
              (status = 404, description = "TOKEN_NOT_FOUND", body = ErrorBody)))]
pub async fn revoke_token(
    st: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let token_no: u32 = id.parse().map_err(|_| Reject::TokenNotFound)?;
    st.ex
        .access(|reply| AccessCmd::RevokeToken { token_no, reply })
        .await?;
    tracing::info!(token_id = token_no, "admin token revoked");
    Ok(HttpResponse::Ok().json(TokenRevoked {
        token_id: token_no,
        revoked: true,
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("admin_token" = [])),
    params(dto::AuditQuery),
    responses((status = 200, description = "admin writes, newest first", body = AuditPage)))]
pub async fn audit(
    st: State,
    req: HttpRequest,
    q: web::Query<dto::AuditQuery>,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!("limit: 1 to {MAX_AUDIT_PAGE}")));
    }
    let before = dto::safe_integer(q.before, "before")?;
    let records = st
        .ex
        .access_query(|reply| AccessQuery::Audit {
            before,
            limit,
            reply,
        })
        .await?;
    let next_before = records
        .last()
        .filter(|r| r.id > 1 && records.len() == limit)
        .map(|r| r.id);
    Ok(HttpResponse::Ok().json(AuditPage {
        records: records.into_iter().map(Into::into).collect(),
        next_before,
    }))
}
