//! API key routes (docs/API.md "API keys"): an account's keys, listed, made and revoked by a
//! signed request of that account (`/api/v1/keys`) or by an operator
//! (`/api/v1/admin/accounts/{account_id}/keys`). A key made by a key never has more
//! permissions than it, and needs `trade`; an operator may grant anything. The secret is in
//! the creation's answer only.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{self, ErrorBody, KeyCreated, KeyDto, KeyRevoked};
use super::error::ApiResult;
use super::State;
use crate::actors::messages::{AccessCmd, AccessQuery};
use crate::domain::{AccountId, Reject};
use crate::engine::access::{KeyRecord, Permissions};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api_resource!("/keys").get(list).post(create))
        .service(crate::api_resource!("/keys/{key_id}").delete(revoke));
}

/// The admin routes (registered with the other admin routes, audited).
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    use actix_web::middleware::from_fn;
    cfg.service(
        crate::api_resource!("/admin/accounts/{account_id}/keys")
            .wrap(from_fn(super::audit::record))
            .get(admin_list)
            .post(admin_create),
    )
    .service(
        crate::api_resource!("/admin/accounts/{account_id}/keys/{key_id}")
            .wrap(from_fn(super::audit::record))
            .delete(admin_revoke),
    );
}

fn dtos(st: &State, keys: &[KeyRecord]) -> Vec<KeyDto> {
    keys.iter()
        .map(|k| KeyDto::new(k, st.keys.name(k.account, k.nonce), &st.ex.access))
        .collect()
}

fn key_no(text: &str) -> Result<u32, Reject> {
    text.parse().map_err(|_| Reject::KeyNotFound)
}

fn account_id(text: &str) -> Result<AccountId, Reject> {
    text.parse()
        .map(AccountId)
        .map_err(|_| Reject::AccountNotFound)
}

async fn keys_of(st: &State, account: AccountId) -> ApiResult<HttpResponse> {
    let keys = st
        .ex
        .access_query(|reply| AccessQuery::Keys { account, reply })
        .await?;
    Ok(HttpResponse::Ok().json(dtos(st, &keys)))
}

async fn make(
    st: &State,
    account: AccountId,
    body: &[u8],
    granter: Option<Permissions>,
) -> ApiResult<HttpResponse> {
    let spec = dto::parse::<dto::NewKeyBody>(body)?.into_spec()?;
    let nonce: [u8; 16] = {
        let b = super::auth::random_bytes().map_err(|e| {
            tracing::error!(error = %e, "no key made");
            Reject::Fault(crate::domain::Fault::Unexpected(
                "the OS random source failed",
            ))
        })?;
        let mut n = [0u8; 16];
        n.copy_from_slice(&b[..16]);
        n
    };
    let k = st
        .ex
        .access(|reply| AccessCmd::CreateKey {
            account,
            spec,
            granter,
            nonce,
            reply,
        })
        .await?;
    let name = st.keys.name(k.account, k.nonce);
    let api_secret = st.keys.secret(&name);
    tracing::info!(account = account.0, key_id = k.key_no, "API key created");
    Ok(HttpResponse::Created().json(KeyCreated {
        key: KeyDto::new(&k, name, &st.ex.access),
        api_secret,
    }))
}

async fn unmake(st: &State, account: AccountId, key_no: u32) -> ApiResult<HttpResponse> {
    st.ex
        .access(|reply| AccessCmd::RevokeKey {
            account,
            key_no,
            reply,
        })
        .await?;
    // Listen keys the revoked key opened or extended (their streams end at once).
    st.binance.listen_keys.revoked(account, key_no);
    tracing::info!(account = account.0, key_id = key_no, "API key revoked");
    Ok(HttpResponse::Ok().json(KeyRevoked {
        key_id: key_no,
        revoked: true,
    }))
}

#[utoipa::path(get, path = "/api/v1/keys", tag = "account", security(("api_key" = [])),
    responses((status = 200, description = "the account's live keys (read)", body = Vec<KeyDto>)))]
pub async fn list(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, b"")?;
    keys_of(&st, account).await
}

#[utoipa::path(post, path = "/api/v1/keys", tag = "account", security(("api_key" = [])), request_body = dto::NewKeyBody,
    responses((status = 201, description = "the new key and its secret, shown once (trade)", body = KeyCreated),
              (status = 403, description = "PERMISSION_DENIED: the signing key lacks trade or a permission it asks to grant", body = ErrorBody),
              (status = 409, description = "KEY_LIMIT: the account holds server.max_keys_per_account live keys", body = ErrorBody)))]
pub async fn create(st: State, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let k = st.authenticate_key(&req, &body)?;
    make(&st, k.account, &body, Some(k.permissions)).await
}

#[utoipa::path(delete, path = "/api/v1/keys/{key_id}", tag = "account", security(("api_key" = [])),
    params(("key_id" = u32, Path,)),
    responses((status = 200, description = "revoked at once: its sessions and listen keys close (trade)", body = KeyRevoked),
              (status = 404, description = "KEY_NOT_FOUND", body = ErrorBody)))]
pub async fn revoke(
    st: State,
    req: HttpRequest,
    key_id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, b"")?;
    unmake(&st, account, key_no(&key_id)?).await
}

#[utoipa::path(get, path = "/api/v1/admin/accounts/{account_id}/keys", tag = "admin", security(("admin_token" = [])),
    params(("account_id" = u64, Path,)),
    responses((status = 200, body = Vec<KeyDto>), (status = 404, description = "ACCOUNT_NOT_FOUND", body = ErrorBody)))]
pub async fn admin_list(
    st: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    keys_of(&st, account_id(&id)?).await
}

#[utoipa::path(post, path = "/api/v1/admin/accounts/{account_id}/keys", tag = "admin", security(("admin_token" = [])),
    params(("account_id" = u64, Path,)), request_body = dto::NewKeyBody,
    responses((status = 201, body = KeyCreated), (status = 404, description = "ACCOUNT_NOT_FOUND", body = ErrorBody),
              (status = 409, description = "KEY_LIMIT", body = ErrorBody)))]
pub async fn admin_create(
    st: State,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    make(&st, account_id(&id)?, &body, None).await
}

#[utoipa::path(delete, path = "/api/v1/admin/accounts/{account_id}/keys/{key_id}", tag = "admin", security(("admin_token" = [])),
    params(("account_id" = u64, Path,), ("key_id" = u32, Path,)),
    responses((status = 200, body = KeyRevoked), (status = 404, description = "KEY_NOT_FOUND", body = ErrorBody)))]
pub async fn admin_revoke(
    st: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let (a, k) = path.into_inner();
    unmake(&st, account_id(&a)?, key_no(&k)?).await
}
