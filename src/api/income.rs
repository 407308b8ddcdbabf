//! `GET /api/v1/account/income`: the account's wallet flows (transfers, realized PnL, fees,
//! funding, insurance clears, liquidation fees), newest first.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::dto::{decimal, ErrorBody, IncomeDto};
use super::error::{ApiError, ApiResult};
use super::State;
use crate::actors::messages::AccountQuery;
use crate::domain::Timestamp;
use crate::engine::income::IncomeKind;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api_resource!("/account/income").get(income));
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncomeQuery {
    /// One market only
    symbol: Option<String>,
    /// `transfer`, `realized_pnl`, `funding_fee`, `commission`, `insurance_clear`, `liquidation_fee`
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Records at or after this time (ms); with it, the oldest `limit` from there
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    start_time: Option<u64>,
    /// Records at or before this time (ms)
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    end_time: Option<u64>,
    /// 1..1000, default 100
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/account/income", tag = "account", security(("api_key" = [])), params(IncomeQuery),
    responses((status = 200, description = "newest first (with `start_time`: the oldest `limit` from it, still newest first)", body = Vec<IncomeDto>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "UNKNOWN_MARKET", body = ErrorBody)))]
pub async fn income(
    st: State,
    req: HttpRequest,
    q: web::Query<IncomeQuery>,
) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, b"")?;
    let market = q
        .symbol
        .as_deref()
        .map(|s| st.ex.market_id(s))
        .transpose()?;
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(IncomeKind::parse(k).ok_or_else(|| {
            ApiError::invalid(format!(
                "type {k:?}: expected transfer, realized_pnl, funding_fee, commission, insurance_clear or liquidation_fee"
            ))
        })?),
    };
    let limit = super::dto::page_limit(q.limit, 100)?;
    let start = super::dto::safe_integer(q.start_time, "start_time")?.map(Timestamp);
    let end = super::dto::safe_integer(q.end_time, "end_time")?.map(Timestamp);
    let v = st
        .ex
        .query(|reply| AccountQuery::Income {
            account,
            market,
            kind,
            hide: None,
            start,
            end,
            limit,
            reply,
        })
        .await?;
    let out: Vec<IncomeDto> = v
        .iter()
        .rev()
        .map(|r| IncomeDto {
            id: r.id,
            kind: r.kind.as_str(),
            symbol: r.market.map(|m| st.ex.spec(m).symbol.clone()),
            amount: decimal(r.amount),
            time: r.time.0,
            trade_id: r.trade_id.map(|t| t.0),
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
