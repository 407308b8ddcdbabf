//! Account settings: `leverage`, `marginType`, `positionSide/dual`, `multiAssetsMargin`,
//! `accountConfig`, `symbolConfig`, `positionMargin`.
//!
//! # Invariants
//! - Leverage goes through [`Exchange::set_leverage`](crate::actors::Exchange::set_leverage)
//!   (R1 checks it against position and open orders, as natively).
//! - Margin type and isolated margin go through the native core calls
//!   ([`Exchange::set_margin_mode`](crate::actors::Exchange::set_margin_mode),
//!   [`Exchange::move_isolated_margin`](crate::actors::Exchange::move_isolated_margin)); the
//!   mode already in force answers -4046, which clients treat as success.
//! - The position mode goes through
//!   [`Exchange::set_position_mode`](crate::actors::Exchange::set_position_mode) (one-way or
//!   hedge, only without positions and open orders: -4068 / -4067); the mode in force answers
//!   -4059, which clients treat as success.
//! - perpx has one margin asset: asking for multi-assets mode is a clear -1130 error.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::errors::{from_reject, BnError, BnResult, Ctx};
use super::render::{self, dec};
use super::{account, auth, ok, order_params, symbols};
use crate::actors::messages::AccountQuery;
use crate::api::State;
use crate::domain::{MarginMode, PositionMode, Reject, Timestamp};
use crate::engine::income::IncomeKind;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

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
        .service(crate::fapi_resource!("/v1/positionMargin/history").get(position_margin_history))
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

/// `POST /fapi/v1/marginType`: `ISOLATED` or `CROSSED` for one symbol (only without a
/// position and open orders there: -4048 / -4047).
async fn margin_type(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let t = p.req("marginType")?;
    p.finish()?;
    let mode = match t.as_str() {
        "CROSSED" | "CROSS" => MarginMode::Cross,
        "ISOLATED" => MarginMode::Isolated,
        _ => return Err(BnError::malformed("marginType", "ISOLATED or CROSSED")),
    };
    let changed = st
        .ex
        .set_margin_mode(account, m, mode)
        .await
        .map_err(|e| from_reject(&e, Ctx::Other))?;
    if !changed {
        return Err(BnError::bad(-4046, "No need to change margin type."));
    }
    ok(&json!({"code": 200, "msg": "success"}))
}

/// `GET /fapi/v1/positionSide/dual` (USER_DATA): `true` in hedge mode.
async fn position_mode(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, p) = account::view(&st, &req).await?;
    p.finish()?;
    ok(&json!({"dualSidePosition": v.position_mode.is_hedge()}))
}

/// `POST /fapi/v1/positionSide/dual` (TRADE): `dualSidePosition=true` is hedge mode, `false`
/// one-way, for every symbol of the account; the mode in force is -4059.
async fn set_position_mode(
    st: State,
    req: HttpRequest,
    body: web::Bytes,
) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let dual = p
        .bool("dualSidePosition")?
        .ok_or_else(|| BnError::mandatory("dualSidePosition"))?;
    p.finish()?;
    let mode = if dual {
        PositionMode::Hedge
    } else {
        PositionMode::OneWay
    };
    let changed = st
        .ex
        .set_position_mode(account, mode)
        .await
        .map_err(|e| from_reject(&e, Ctx::Other))?;
    if !changed {
        return Err(BnError::bad(-4059, "No need to change position side."));
    }
    ok(&json!({"code": 200, "msg": "success"}))
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

/// `POST /fapi/v1/positionMargin`: `type` 1 adds `amount` to the isolated wallet of the
/// symbol's `positionSide` leg (BOTH in one-way mode, LONG or SHORT in hedge mode), 2 reduces
/// it.
async fn position_margin(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let amount = p
        .decimal("amount")?
        .ok_or_else(|| BnError::mandatory("amount"))?;
    let kind = p.req("type")?;
    let leg = crate::domain::Leg::new(m, order_params::position_side(&mut p)?);
    p.finish()?;
    if amount <= Decimal::ZERO {
        return Err(BnError::bad(-4055, "Amount must be positive."));
    }
    let signed = match kind.as_str() {
        "1" => amount,
        "2" => -amount,
        _ => return Err(BnError::malformed("type", "1 (add) or 2 (reduce)")),
    };
    st.ex
        .move_isolated_margin(account, leg, signed)
        .await
        .map_err(|e| match e {
            // Adding more than the cross wallet can give is Binance's -4050.
            Reject::InsufficientBalance => BnError::bad(-4050, "Cross balance insufficient."),
            e => from_reject(&e, Ctx::Other),
        })?;
    ok(&json!({
        "amount": amount.to_f64().unwrap_or_default(),
        "code": 200,
        "msg": "Successfully modify position margin.",
        "type": if signed > Decimal::ZERO { 1 } else { 2 },
    }))
}

/// `GET /fapi/v1/positionMargin/history`: the symbol's isolated-margin transfers (`type` 1
/// add, 2 reduce; `startTime`, `endTime`, `limit` default 500), oldest first.
async fn position_margin_history(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let m = symbols::required(&st, &mut p)?;
    let kind = match p.opt("type").as_deref() {
        None => None,
        Some("1") => Some(true),
        Some("2") => Some(false),
        Some(_) => return Err(BnError::malformed("type", "1 (add) or 2 (reduce)")),
    };
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    let limit = p.limit("limit", 500, 1000)?;
    order_params::position_side(&mut p)?;
    p.finish()?;
    let v = st
        .ex
        .query(|reply| AccountQuery::Income {
            account,
            market: Some(m),
            kind: Some(IncomeKind::IsolatedMargin),
            hide: None,
            start: start.map(Timestamp),
            end: end.map(Timestamp),
            limit: 1000,
            reply,
        })
        .await?;
    let symbol = &st.ex.spec(m).binance_symbol;
    let out: Vec<Value> = v
        .iter()
        .filter(|r| kind.is_none_or(|add| (r.amount > Decimal::ZERO) == add))
        .take(limit)
        .map(|r| {
            json!({
                "symbol": symbol,
                "type": if r.amount > Decimal::ZERO { 1 } else { 2 },
                "deltaType": "USER_ADJUST",
                "amount": dec(r.amount.abs()),
                "asset": st.margin_asset,
                "time": r.time.0,
                "positionSide": render::position_side(r.position_side),
            })
        })
        .collect();
    ok(&out)
}

async fn account_config(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, p) = account::view(&st, &req).await?;
    p.finish()?;
    ok(&json!({
        "feeTier": 0,
        "canTrade": true,
        "canDeposit": true,
        "canWithdraw": true,
        "dualSidePosition": v.position_mode.is_hedge(),
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
    let out: Vec<Value> = account::markets(&st, &v)
        .iter()
        .filter(|r| only.is_none_or(|m| m == r.market))
        .map(|r| {
            json!({
                "symbol": r.spec.binance_symbol,
                "marginType": if r.margin_mode.is_isolated() { "ISOLATED" } else { "CROSSED" },
                "isAutoAddMargin": "false",
                "leverage": r.leverage,
                "maxNotionalValue": dec(crate::risk::margin::max_notional(&r.spec.risk_tiers, r.leverage).unwrap_or_default()),
            })
        })
        .collect();
    ok(&out)
}
