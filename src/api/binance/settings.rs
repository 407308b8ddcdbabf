//! Account settings: `leverage`, `marginType`, `positionSide/dual`, `multiAssetsMargin`,
//! `accountConfig`, `symbolConfig`, `positionMargin`.
//!
//! # Invariants
//! - Leverage goes through [`Exchange::set_leverage`](crate::actors::Exchange::set_leverage)
//!   (R1 checks it against position and open orders, as natively).
//! - perpx has one margin mode (cross), one position mode (one-way) and one margin asset:
//!   asking for the mode already in force answers Binance's "no need to change" codes, which
//!   clients treat as success; asking for another is a clear -1130 error.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::errors::{from_reject, BnError, BnResult, Ctx};
use super::render::dec;
use super::{account, auth, ok, symbols};
use crate::api::State;
use crate::domain::Reject;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v1/leverage").post(leverage))
        .service(crate::fapi_resource!("/v1/marginType").post(margin_type))
        .service(
            crate::fapi_resource!("/v1/positionSide/dual")
                .get(position_mode)
                .post(set_position_mode),
        )
        .service(
            crate::fapi_resource!("/v1/multiAssetsMargin")
                .get(multi_assets)
                .post(set_multi_assets),
        )
        .service(crate::fapi_resource!("/v1/positionMargin").post(position_margin))
        .service(crate::fapi_resource!("/v1/accountConfig").get(account_config))
        .service(crate::fapi_resource!("/v1/symbolConfig").get(symbol_config));
}

fn not_offered(name: &str, why: &str) -> BnError {
    BnError::bad(
        -1130,
        format!("Data sent for parameter '{name}' is not valid: {why}."),
    )
}

/// `POST /fapi/v1/leverage` (TRADE).
async fn leverage(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let lev = p.req("leverage")?;
    p.finish()?;
    let lev: u32 = lev
        .parse()
        .map_err(|_| from_reject(&Reject::InvalidLeverage, Ctx::Other))?;
    let max = st
        .ex
        .set_leverage(account, m, lev)
        .await
        .map_err(|e| from_reject(&e, Ctx::Other))?;
    ok(&json!({
        "leverage": lev,
        "maxNotionalValue": dec(max),
        "symbol": st.ex.spec(m).binance_symbol,
    }))
}

/// `POST /fapi/v1/marginType`: every position is cross margin.
async fn margin_type(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (_, mut p) = auth::signed(&st, &req, &body)?;
    symbols::required(&st, &mut p)?;
    let t = p.req("marginType")?;
    p.finish()?;
    match t.as_str() {
        "CROSSED" | "CROSS" => Err(BnError::bad(-4046, "No need to change margin type.")),
        "ISOLATED" => Err(not_offered(
            "marginType",
            "isolated margin is not offered, every position is cross margin",
        )),
        _ => Err(BnError::malformed("marginType", "ISOLATED or CROSSED")),
    }
}

async fn position_mode(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    auth::signed(&st, &req, b"")?.1.finish()?;
    ok(&json!({"dualSidePosition": false}))
}

/// `POST /fapi/v1/positionSide/dual`: one-way mode only.
async fn set_position_mode(
    st: State,
    req: HttpRequest,
    body: web::Bytes,
) -> BnResult<HttpResponse> {
    let (_, mut p) = auth::signed(&st, &req, &body)?;
    let dual = p
        .bool("dualSidePosition")?
        .ok_or_else(|| BnError::mandatory("dualSidePosition"))?;
    p.finish()?;
    if dual {
        return Err(not_offered(
            "dualSidePosition",
            "hedge mode is not offered, positions are one-way",
        ));
    }
    Err(BnError::bad(-4059, "No need to change position side."))
}

async fn multi_assets(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    auth::signed(&st, &req, b"")?.1.finish()?;
    ok(&json!({"multiAssetsMargin": false}))
}

async fn set_multi_assets(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (_, mut p) = auth::signed(&st, &req, &body)?;
    let multi = p
        .bool("multiAssetsMargin")?
        .ok_or_else(|| BnError::mandatory("multiAssetsMargin"))?;
    p.finish()?;
    if multi {
        return Err(not_offered(
            "multiAssetsMargin",
            "there is a single margin asset",
        ));
    }
    Err(BnError::bad(
        -4171,
        "Multi-Assets mode is already disabled.",
    ))
}

/// `POST /fapi/v1/positionMargin`: isolated margin only, which perpx does not offer.
async fn position_margin(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (_, mut p) = auth::signed(&st, &req, &body)?;
    symbols::required(&st, &mut p)?;
    p.skip(&["amount", "type", "positionSide"]);
    p.finish()?;
    Err(not_offered(
        "symbol",
        "position margin applies to isolated positions, and every position is cross margin",
    ))
}

async fn account_config(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    auth::signed(&st, &req, b"")?.1.finish()?;
    ok(&json!({
        "feeTier": 0,
        "canTrade": true,
        "canDeposit": true,
        "canWithdraw": true,
        "dualSidePosition": false,
        "updateTime": 0,
        "multiAssetsMargin": false,
        "tradeGroupId": -1,
    }))
}

/// `GET /fapi/v1/symbolConfig`: leverage and margin mode per market.
async fn symbol_config(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, mut p) = account::view(&st, &req).await?;
    let only = symbols::optional(&st, &mut p)?;
    p.finish()?;
    let out: Vec<Value> = account::rows(&st, &v, true)
        .iter()
        .filter(|r| only.is_none_or(|m| m == r.market))
        .map(|r| {
            json!({
                "symbol": r.spec.binance_symbol,
                "marginType": "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": r.leverage,
                "maxNotionalValue": dec(crate::risk::margin::max_notional(&r.spec.risk_tiers, r.leverage).unwrap_or_default()),
            })
        })
        .collect();
    ok(&out)
}
