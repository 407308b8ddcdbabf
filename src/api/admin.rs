//! Admin routes (bearer token): accounts, deposits, oracle index prices, solvency.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{
    self, decimal, AccountCreated, AccountDto, Deposit, ErrorBody, IndexSet, SolvencyDto,
};
use super::error::{ApiError, ApiResult};
use super::State;
use crate::actors::messages::AccountQuery;
use crate::domain::{AccountId, Reject};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use actix_web::middleware::from_fn;
    let audited = || from_fn(super::audit::record);
    cfg.service(
        crate::api_resource!("/admin/accounts")
            .wrap(audited())
            .post(create_account),
    )
    .service(
        crate::api_resource!("/admin/accounts/{account_id}/deposits")
            .wrap(audited())
            .post(deposit),
    )
    .service(
        crate::api_resource!("/admin/markets/{symbol}/index-price")
            .wrap(audited())
            .post(index_price),
    )
    .service(crate::api_resource!("/admin/solvency").get(solvency))
    .service(crate::api_resource!("/admin/liquidations").get(liquidations))
    .configure(super::keys::admin_routes)
    .configure(super::admin_access::routes);
}

#[utoipa::path(post, path = "/api/v1/admin/accounts", tag = "admin", security(("admin_token" = [])), request_body = dto::NewAccount,
    responses((status = 201, body = AccountCreated), (status = 403, body = ErrorBody)))]
pub async fn create_account(
    st: State,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    // The label is informational (logged); an empty body is fine.
    let label = if body.is_empty() {
        None
    } else {
        dto::parse::<dto::NewAccount>(&body)?.label
    };
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > dto::MAX_LABEL_CHARS)
    {
        return Err(ApiError::invalid(format!(
            "label: at most {} characters",
            dto::MAX_LABEL_CHARS
        )));
    }
    let account = st.ex.open_account().await?;
    let (api_key, api_secret) = st.keys.credentials(account);
    tracing::info!(
        account = account.0,
        label = label.as_deref().unwrap_or(""),
        "account created"
    );
    Ok(HttpResponse::Created().json(AccountCreated {
        account_id: account.0,
        api_key,
        api_secret,
    }))
}

#[utoipa::path(post, path = "/api/v1/admin/accounts/{account_id}/deposits", tag = "admin", security(("admin_token" = [])),
    params(("account_id" = u64, Path,)), request_body = dto::AmountBody,
    responses((status = 200, body = Deposit), (status = 404, description = "ACCOUNT_NOT_FOUND", body = ErrorBody)))]
pub async fn deposit(
    st: State,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let account = AccountId(id.parse().map_err(|_| Reject::AccountNotFound)?);
    let amount = dto::money(
        &dto::parse::<dto::AmountBody>(&body)?.amount,
        st.money_scale,
    )?;
    let wallet = st.ex.deposit(account, amount).await?;
    Ok(HttpResponse::Ok().json(Deposit {
        account_id: account.0,
        wallet_balance: decimal(wallet),
    }))
}

#[utoipa::path(post, path = "/api/v1/admin/markets/{symbol}/index-price", tag = "admin", security(("admin_token" = [])),
    params(("symbol" = String, Path,)), request_body = dto::IndexPrice,
    responses((status = 200, body = IndexSet),
              (status = 409, description = "INDEX_NOT_PUSHABLE: the market takes its index from its own book (index_source = \"book_ema\")", body = ErrorBody)))]
pub async fn index_price(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let m = st.ex.market_id(&symbol)?;
    let price = dto::index_price(&dto::parse::<dto::IndexPrice>(&body)?.price)?;
    let (index, mark) = st.ex.push_index(m, price).await?;
    Ok(HttpResponse::Ok().json(IndexSet {
        symbol: st.ex.spec(m).symbol.clone(),
        index_price: decimal(index),
        mark_price: decimal(mark),
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/solvency", tag = "admin", security(("admin_token" = [])), responses((status = 200, body = SolvencyDto)))]
pub async fn solvency(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let s = st
        .ex
        .query(|reply| AccountQuery::Solvency { reply })
        .await?;
    Ok(HttpResponse::Ok().json(SolvencyDto {
        total_deposits: decimal(s.total_deposits),
        total_withdrawals: decimal(s.total_withdrawals),
        user_wallets: decimal(s.user_wallets),
        fee_account: decimal(s.fee_account),
        insurance_fund: decimal(s.insurance_fund),
        open_cost_basis: decimal(s.open_cost_basis),
        conserved: s.conserved,
        accounts_in_liquidation: s.accounts_in_liquidation,
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/liquidations", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "accounts in liquidation now, with their figures", body = Vec<AccountDto>),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn liquidations(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    st.admin(&req)?;
    let v = st
        .ex
        .query(|reply| AccountQuery::Liquidating { reply })
        .await?;
    let out: Vec<AccountDto> = v
        .iter()
        .map(|a| AccountDto::new(a, &st.ex.specs, &st.margin_asset))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
