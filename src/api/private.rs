//! Private routes (signed with account keys): orders, leverage, margin mode and isolated
//! margin, position mode, account, withdrawals (the account's lists of fills and of every
//! market's open orders are in `account_lists.rs`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::dto::{
    self, decimal, AccountDto, Cancelled, ErrorBody, IsolatedMarginSet, LeverageSet, MarginModeSet,
    OrderDto, PositionModeSet, Withdrawal,
};
use super::error::{ApiError, ApiResult};
use super::State;
use crate::actors::messages::{AccountQuery, OrderReport};
use crate::domain::MarketId;
use crate::domain::{AccountId, OrderId};
use crate::engine::orders::OrderRecord;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::api_resource!("/markets/{symbol}/orders")
            .post(place)
            .get(list)
            .delete(cancel_all),
    )
    .service(
        crate::api_resource!("/markets/{symbol}/orders/by-client-id/{client_order_id}")
            .get(by_client_id),
    )
    .service(
        crate::api_resource!("/markets/{symbol}/orders/{order_id}")
            .get(get)
            .delete(cancel)
            .patch(amend),
    )
    .service(crate::api_resource!("/markets/{symbol}/tpsl").post(super::tpsl::place))
    .service(crate::api_resource!("/markets/{symbol}/leverage").put(leverage))
    .service(crate::api_resource!("/markets/{symbol}/margin_mode").put(margin_mode))
    .service(crate::api_resource!("/markets/{symbol}/isolated_margin").post(isolated_margin))
    .service(crate::api_resource!("/account").get(account))
    .service(crate::api_resource!("/account/position_mode").put(position_mode))
    .service(crate::api_resource!("/account/fills").get(super::account_lists::fills))
    .service(crate::api_resource!("/account/open_orders").get(super::account_lists::open_orders))
    .service(crate::api_resource!("/account/withdrawals").post(withdraw));
}

/// Authenticate, then resolve the market (after auth, so unknown symbols are not probeable
/// without a key).
pub(super) fn enter(
    st: &State,
    req: &HttpRequest,
    body: &[u8],
    symbol: &str,
) -> ApiResult<(AccountId, MarketId)> {
    let account = st.authenticate(req, body)?;
    Ok((account, st.ex.market_id(symbol)?))
}

pub(super) fn order_json(
    st: &State,
    m: MarketId,
    r: &OrderRecord,
    fills: &[crate::engine::orders::OrderFill],
) -> OrderDto {
    OrderDto::new(st.ex.spec(m), r, Some(fills), st.money_scale)
}

fn report(st: &State, m: MarketId, r: &OrderReport, created: bool) -> HttpResponse {
    let dto = order_json(st, m, &r.order, &r.fills);
    // Rendered into one buffer sized for an order with a few fills (`json()` grows a String
    // from empty: several reallocations per answer on the order path).
    let mut body = Vec::with_capacity(1024);
    // expect: the DTO is plain data that serde_json always serializes.
    serde_json::to_writer(&mut body, &dto).expect("an order serializes");
    let mut reply = if created && !r.retry {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    reply
        .content_type(actix_web::http::header::ContentType::json())
        .body(body)
}

fn order_id(text: &str) -> ApiResult<OrderId> {
    // A malformed id cannot name an order: not found, like any other unknown id.
    text.parse()
        .map(OrderId)
        .map_err(|_| crate::domain::Reject::OrderNotFound.into())
}

#[utoipa::path(post, path = "/api/v1/markets/{symbol}/orders", tag = "orders", security(("api_key" = [])), params(("symbol" = String, Path,)),
    request_body = dto::NewOrder,
    responses((status = 201, description = "the new order with the fills this request produced", body = OrderDto),
              (status = 200, description = "an identical retry of an earlier client_order_id: the original order", body = OrderDto),
              (status = 400, description = "INVALID_REQUEST (also reduce_only: true from a hedge-mode account), INVALID_PRICE, INVALID_QUANTITY, MIN_NOTIONAL, PRICE_OUT_OF_BAND, INVALID_CLIENT_ORDER_ID, WOULD_TRIGGER_IMMEDIATELY", body = ErrorBody),
              (status = 401, body = ErrorBody),
              (status = 409, description = "DUPLICATE_CLIENT_ORDER_ID; POSITION_SIDE_MISMATCH (position_side is not a side of the account's position mode: both in one_way, long or short in hedge)", body = ErrorBody),
              (status = 422, description = "INSUFFICIENT_MARGIN, POST_ONLY_WOULD_TAKE, REDUCE_ONLY_REJECTED (also a hedge-mode close without a position on its leg), POSITION_LIMIT_EXCEEDED, ACCOUNT_IN_LIQUIDATION, TOO_MANY_OPEN_ORDERS, INDEX_STALE", body = ErrorBody),
              (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn place(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    place_in(st, &req, &symbol, body).await
}

/// The market of a static order route (`api::routes_for`).
#[derive(Clone)]
pub struct FastSymbol(pub String);

/// `POST /api/v1/markets/{symbol}/orders` reached through its static route.
pub async fn place_fast(st: State, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let symbol = req.app_data::<FastSymbol>().map_or("", |s| s.0.as_str());
    place_in(st.clone(), &req, symbol, body).await
}

async fn place_in(
    st: State,
    req: &HttpRequest,
    symbol: &str,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let started = std::time::Instant::now();
    let (account, m) = enter(&st, req, &body, symbol)?;
    let orders = &st.ex.metrics.orders;
    let order = match dto::parse::<dto::NewOrder>(&body).and_then(|o| o.into_request(st.ex.spec(m)))
    {
        Ok(o) => o,
        Err(e) => {
            orders.outcome(started, "rejected");
            return Err(e);
        }
    };
    let r = st.ex.place_order(account, m, order).await;
    orders.record(started, r.as_ref().map(|rep| (rep.order.status, rep.retry)));
    Ok(report(&st, m, &r?, true))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open` (default), `closed`, `all`
    status: Option<String>,
    /// 1..1000, default 100
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}/orders", tag = "orders", security(("api_key" = [])), params(("symbol" = String, Path,), ListQuery),
    responses((status = 200, description = "newest first", body = Vec<OrderDto>)))]
pub async fn list(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    q: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, b"", &symbol)?;
    let (open, closed) = match q.status.as_deref().unwrap_or("open") {
        "open" => (true, false),
        "closed" => (false, true),
        "all" => (true, true),
        other => {
            return Err(ApiError::invalid(format!(
                "status {other:?}: expected open, closed or all"
            )))
        }
    };
    let limit = dto::page_limit(q.limit, 100)?;
    let v = st
        .ex
        .query(|reply| AccountQuery::Orders {
            account,
            market: m,
            open,
            closed,
            limit,
            reply,
        })
        .await?;
    let out: Vec<OrderDto> = v.iter().map(|r| order_json(&st, m, r, &r.fills)).collect();
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}/orders/{order_id}", tag = "orders", security(("api_key" = [])),
    params(("symbol" = String, Path,), ("order_id" = u64, Path,)),
    responses((status = 200, body = OrderDto), (status = 404, description = "ORDER_NOT_FOUND (also for another account's order)", body = ErrorBody)))]
pub async fn get(
    st: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, b"", &path.0)?;
    let r = order_record(&st, account, m, order_id(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(order_json(&st, m, &r, &r.fills)))
}

/// The record of `account`'s order `order_id` in `m` (`ORDER_NOT_FOUND` for another's).
pub(super) async fn order_record(
    st: &State,
    account: AccountId,
    m: MarketId,
    order_id: OrderId,
) -> ApiResult<OrderRecord> {
    let query = |reply| AccountQuery::Order {
        account,
        market: m,
        order_id,
        reply,
    };
    Ok(st.ex.query(query).await?)
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}/orders/by-client-id/{client_order_id}", tag = "orders", security(("api_key" = [])),
    params(("symbol" = String, Path,), ("client_order_id" = String, Path,)),
    responses((status = 200, body = OrderDto), (status = 404, body = ErrorBody)))]
pub async fn by_client_id(
    st: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, b"", &path.0)?;
    let client_order_id = path.1.clone();
    let r = st
        .ex
        .query(|reply| AccountQuery::OrderByClientId {
            account,
            market: m,
            client_order_id,
            reply,
        })
        .await?;
    Ok(HttpResponse::Ok().json(order_json(&st, m, &r, &r.fills)))
}

#[utoipa::path(delete, path = "/api/v1/markets/{symbol}/orders/{order_id}", tag = "orders", security(("api_key" = [])),
    params(("symbol" = String, Path,), ("order_id" = u64, Path,)),
    responses((status = 200, description = "status cancelled", body = OrderDto), (status = 404, body = ErrorBody),
              (status = 409, description = "ORDER_NOT_OPEN", body = ErrorBody)))]
pub async fn cancel(
    st: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, b"", &path.0)?;
    let r = st.ex.cancel_order(account, m, order_id(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(order_json(&st, m, &r.order, &r.order.fills)))
}

#[utoipa::path(patch, path = "/api/v1/markets/{symbol}/orders/{order_id}", tag = "orders", security(("api_key" = [])),
    params(("symbol" = String, Path,), ("order_id" = u64, Path,)), request_body = dto::Amend,
    responses((status = 200, description = "the amended order", body = OrderDto), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "ORDER_NOT_OPEN; ORDER_NOT_AMENDABLE (a market order; a trigger_price for an order not waiting for its trigger)", body = ErrorBody),
              (status = 422, description = "INSUFFICIENT_MARGIN, POST_ONLY_WOULD_TAKE (the order is left as it was), POSITION_LIMIT_EXCEEDED, ACCOUNT_IN_LIQUIDATION", body = ErrorBody)))]
pub async fn amend(
    st: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, &body, &path.0)?;
    let id = order_id(&path.1)?;
    let (price, qty, trigger) = dto::parse::<dto::Amend>(&body)?.parse(st.ex.spec(m))?;
    let r = st
        .ex
        .amend_order(account, m, id, price, qty, trigger)
        .await?;
    Ok(report(&st, m, &r, false))
}

#[utoipa::path(delete, path = "/api/v1/markets/{symbol}/orders", tag = "orders", security(("api_key" = [])),
    params(("symbol" = String, Path,)), responses((status = 200, body = Cancelled)))]
pub async fn cancel_all(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, b"", &symbol)?;
    let ids = st.ex.cancel_all(account, m).await?;
    Ok(HttpResponse::Ok().json(Cancelled {
        cancelled: ids.iter().map(|i| i.0).collect(),
    }))
}

#[utoipa::path(put, path = "/api/v1/markets/{symbol}/leverage", tag = "account", security(("api_key" = [])),
    params(("symbol" = String, Path,)), request_body = dto::Leverage,
    responses((status = 200, body = LeverageSet), (status = 400, description = "INVALID_LEVERAGE", body = ErrorBody),
              (status = 422, description = "POSITION_LIMIT_EXCEEDED (position plus open orders above the new cap), INSUFFICIENT_MARGIN, ACCOUNT_IN_LIQUIDATION", body = ErrorBody)))]
pub async fn leverage(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, &body, &symbol)?;
    let leverage = dto::parse::<dto::Leverage>(&body)?.value()?;
    let max = st.ex.set_leverage(account, m, leverage).await?;
    Ok(HttpResponse::Ok().json(LeverageSet {
        symbol: st.ex.spec(m).symbol.clone(),
        leverage,
        max_notional: decimal(max),
    }))
}

#[utoipa::path(put, path = "/api/v1/markets/{symbol}/margin_mode", tag = "account", security(("api_key" = [])),
    params(("symbol" = String, Path,)), request_body = dto::MarginModeChange,
    responses((status = 200, description = "the market's margin mode for this account; `changed` is false when it already was that mode", body = MarginModeSet),
              (status = 400, description = "INVALID_REQUEST: margin_mode is not `cross` or `isolated`", body = ErrorBody),
              (status = 409, description = "MARGIN_MODE_LOCKED: the account has a position or open orders in this market", body = ErrorBody),
              (status = 422, description = "ACCOUNT_IN_LIQUIDATION", body = ErrorBody)))]
pub async fn margin_mode(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, &body, &symbol)?;
    let mode = dto::parse::<dto::MarginModeChange>(&body)?.margin_mode;
    let changed = st.ex.set_margin_mode(account, m, mode).await?;
    Ok(HttpResponse::Ok().json(MarginModeSet {
        symbol: st.ex.spec(m).symbol.clone(),
        margin_mode: mode,
        changed,
    }))
}

#[utoipa::path(post, path = "/api/v1/markets/{symbol}/isolated_margin", tag = "account", security(("api_key" = [])),
    params(("symbol" = String, Path,)), request_body = dto::IsolatedMarginMove,
    responses((status = 200, description = "the position's isolated wallet after the move", body = IsolatedMarginSet),
              (status = 400, description = "INVALID_REQUEST: a malformed amount, a direction other than `add` or `reduce`", body = ErrorBody),
              (status = 409, description = "NOT_ISOLATED (the market is cross for this account), NO_POSITION (no position on this leg), POSITION_SIDE_MISMATCH (position_side is not a side of the account's position mode)", body = ErrorBody),
              (status = 422, description = "INSUFFICIENT_BALANCE (add: above the cross wallet's withdrawable), INSUFFICIENT_ISOLATED_MARGIN (reduce: the isolated wallet would fall below the position's initial margin at mark after unrealized losses, or to zero), ACCOUNT_IN_LIQUIDATION", body = ErrorBody)))]
pub async fn isolated_margin(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, &body, &symbol)?;
    let mv = dto::parse::<dto::IsolatedMarginMove>(&body)?;
    let amount = mv.signed_amount(st.money_scale)?;
    let side = mv.position_side.unwrap_or_default();
    let leg = crate::domain::Leg::new(m, side);
    let wallet = st.ex.move_isolated_margin(account, leg, amount).await?;
    Ok(HttpResponse::Ok().json(IsolatedMarginSet {
        symbol: st.ex.spec(m).symbol.clone(),
        position_side: side,
        isolated_wallet: decimal(wallet),
    }))
}

#[utoipa::path(put, path = "/api/v1/account/position_mode", tag = "account", security(("api_key" = [])),
    request_body = dto::PositionModeChange,
    responses((status = 200, description = "the account's position mode; `changed` is false when it already was that mode", body = PositionModeSet),
              (status = 400, description = "INVALID_REQUEST: position_mode is not `one_way` or `hedge`", body = ErrorBody),
              (status = 409, description = "POSITION_MODE_LOCKED: the account has a position (or an isolated wallet) or open orders in some market", body = ErrorBody),
              (status = 422, description = "ACCOUNT_IN_LIQUIDATION", body = ErrorBody)))]
pub async fn position_mode(
    st: State,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, &body)?;
    let mode = dto::parse::<dto::PositionModeChange>(&body)?.position_mode;
    let changed = st.ex.set_position_mode(account, mode).await?;
    Ok(HttpResponse::Ok().json(PositionModeSet {
        position_mode: mode,
        changed,
    }))
}

#[utoipa::path(get, path = "/api/v1/account", tag = "account", security(("api_key" = [])), responses((status = 200, body = AccountDto)))]
pub async fn account(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, b"")?;
    let v = st.ex.account_view(account).await?;
    Ok(HttpResponse::Ok().json(AccountDto::new(&v, &st.ex.specs, &st.margin_asset)))
}

#[utoipa::path(post, path = "/api/v1/account/withdrawals", tag = "account", security(("api_key" = [])), request_body = dto::AmountBody,
    responses((status = 200, body = Withdrawal), (status = 422, description = "INSUFFICIENT_BALANCE", body = ErrorBody)))]
pub async fn withdraw(st: State, req: HttpRequest, body: web::Bytes) -> ApiResult<HttpResponse> {
    let account = st.authenticate(&req, &body)?;
    let b = dto::parse::<dto::AmountBody>(&body)?;
    let amount = dto::money(&b.amount, st.money_scale)?;
    let wallet = st.ex.withdraw(account, amount).await?;
    Ok(HttpResponse::Ok().json(Withdrawal {
        amount: decimal(amount),
        wallet_balance: decimal(wallet),
    }))
}
