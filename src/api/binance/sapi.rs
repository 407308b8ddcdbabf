//! The few `/sapi` answers ccxt needs to load markets with API keys set: perpx has no wallet
//! network, so no coin configuration and no margin pairs; the system status is normal.
//! Wallet routes perpx does not offer (deposit addresses, transfers, ...) are unknown paths.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::errors::BnResult;
use super::{auth, ok};
use crate::api::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::api::resource(
            "/v1/capital/config/getall",
            "/sapi/v1/capital/config/getall",
        )
        .get(empty_signed),
    )
    .service(
        crate::api::resource("/v1/margin/allPairs", "/sapi/v1/margin/allPairs").get(empty_signed),
    )
    .service(
        crate::api::resource(
            "/v1/margin/isolated/allPairs",
            "/sapi/v1/margin/isolated/allPairs",
        )
        .get(empty_signed),
    )
    .service(crate::api::resource("/v1/system/status", "/sapi/v1/system/status").get(status));
}

/// `[]`: nothing to list, whoever asks (so the key and signature are not checked).
async fn empty_signed(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    auth::limit_ip(&st, &req)?;
    ok(&json!([]))
}

async fn status(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    auth::limit_ip(&st, &req)?;
    ok(&json!({"status": 0, "msg": "normal"}))
}
