//! The account's lists across markets (signed with account keys): fills, and the open orders
//! of every market in one request.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::dto::{self, FillDto, OrderDto};
use super::error::ApiResult;
use super::private::order_json;
use super::State;
use crate::actors::messages::AccountQuery;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FillsQuery {
    /// One market only
    symbol: Option<String>,
    /// 1..1000, default 100
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Fills with a smaller `trade_id` (paging)
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    before: Option<u64>,
}

/// Query of `GET /api/v1/account/open_orders`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenOrdersQuery {
    /// 1..1000, default 1000
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// The open orders of every market in one request (a client of hundreds of markets need not
/// ask each market).
#[utoipa::path(get, path = "/api/v1/account/open_orders", tag = "account", security(("api_key" = [])), params(OpenOrdersQuery),
    responses((status = 200, description = "newest first, every market", body = Vec<OrderDto>)))]
pub async fn open_orders(
    st: State,
    req: HttpRequest,
    q: web::Query<OpenOrdersQuery>,
) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, b"")?;
    let limit = dto::page_limit(q.limit, 1000)?;
    let v = st
        .ex
        .query(|reply| AccountQuery::OpenOrders {
            account,
            limit,
            reply,
        })
        .await?;
    let out: Vec<OrderDto> = v
        .iter()
        .map(|r| order_json(&st, r.market, r, &r.fills))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/account/fills", tag = "account", security(("api_key" = [])), params(FillsQuery),
    responses((status = 200, description = "newest first", body = Vec<FillDto>)))]
pub async fn fills(
    st: State,
    req: HttpRequest,
    q: web::Query<FillsQuery>,
) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, b"")?;
    let market = q
        .symbol
        .as_deref()
        .map(|s| st.ex.market_id(s))
        .transpose()?;
    let limit = dto::page_limit(q.limit, 100)?;
    let before = dto::safe_integer(q.before, "before")?;
    let v = st
        .ex
        .query(|reply| AccountQuery::Fills {
            account,
            market,
            before,
            limit,
            reply,
        })
        .await?;
    let out: Vec<FillDto> = v
        .iter()
        .map(|f| FillDto::new(st.ex.spec(f.market), f))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
