//! The account's history (USER_DATA): `userTrades` and `income`.
//!
//! # Invariants
//! - Trades are the native fills (same ids, prices, fees, realized PnL), ascending by id;
//!   perpx keeps the newest `keep_fills` fills per account (`[server]` in markets.toml). A
//!   trade's `positionSide` is its order's leg (BOTH for a fill whose order is no longer
//!   retained, `keep_closed_orders`).
//! - Income is the native income history (every wallet flow, `tranId` = its id), ascending;
//!   Binance types perpx never produces (bonuses, rebates, ...) are valid filters that match
//!   nothing; a liquidation fee is `LIQUIDATION_FEE`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::errors::{BnError, BnResult};
use super::orders::window;
use super::{auth, ok, render, symbols};
use crate::actors::messages::AccountQuery;
use crate::api::State;
use crate::domain::Timestamp;
use crate::engine::income::IncomeKind;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v1/userTrades").get(user_trades))
        .service(crate::fapi_resource!("/v1/income").get(income));
}

/// Binance's income type of a native kind (isolated-margin transfers have none: Binance
/// lists them in `positionMargin/history`, never in `income`).
pub fn income_type(k: IncomeKind) -> &'static str {
    match k {
        IncomeKind::IsolatedMargin => "ISOLATED_MARGIN",
        IncomeKind::Transfer => "TRANSFER",
        IncomeKind::RealizedPnl => "REALIZED_PNL",
        IncomeKind::FundingFee => "FUNDING_FEE",
        IncomeKind::Commission => "COMMISSION",
        IncomeKind::InsuranceClear => "INSURANCE_CLEAR",
        IncomeKind::LiquidationFee => "LIQUIDATION_FEE",
    }
}

/// Binance income types that exist but that perpx never records.
const NEVER: [&str; 12] = [
    "WELCOME_BONUS",
    "REFERRAL_KICKBACK",
    "COMMISSION_REBATE",
    "API_REBATE",
    "CONTEST_REWARD",
    "CROSS_COLLATERAL_TRANSFER",
    "OPTIONS_PREMIUM_FEE",
    "OPTIONS_SETTLE_PROFIT",
    "INTERNAL_TRANSFER",
    "AUTO_EXCHANGE",
    "COIN_SWAP_DEPOSIT",
    "COIN_SWAP_WITHDRAW",
];

/// `GET /fapi/v1/income`: `symbol`, `incomeType`, `startTime`, `endTime`, `limit`
/// (default 100, at most 1000), `page` (1 only).
async fn income(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let market = symbols::optional(&st, &mut p)?;
    let kind = match p.opt("incomeType") {
        None => None,
        Some(t) => match IncomeKind::ALL
            .into_iter()
            .filter(|&k| k != IncomeKind::IsolatedMargin)
            .find(|k| income_type(*k) == t)
        {
            Some(k) => Some(Some(k)),
            None if NEVER.contains(&t.as_str()) => Some(None),
            None => {
                return Err(BnError::malformed(
                    "incomeType",
                    "not a Binance income type",
                ))
            }
        },
    };
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    let limit = p.limit("limit", 100, 1000)?;
    if p.u64("page")?.is_some_and(|n| n != 1) {
        return Err(BnError::bad(
            -1130,
            "Data sent for parameter 'page' is not valid: page through startTime instead.",
        ));
    }
    p.finish()?;
    if kind == Some(None) {
        return ok(&Value::Array(Vec::new()));
    }
    let v = st
        .ex
        .query(|reply| AccountQuery::Income {
            account,
            market,
            kind: kind.flatten(),
            // Binance has no income type for isolated-margin transfers (they are in
            // `positionMargin/history`).
            hide: Some(IncomeKind::IsolatedMargin),
            start: start.map(Timestamp),
            end: end.map(Timestamp),
            limit,
            reply,
        })
        .await?;
    let out: Vec<Value> = v
        .iter()
        .map(|r| {
            json!({
                "symbol": r.market.map_or(String::new(), |m| st.ex.spec(m).binance_symbol.clone()),
                "incomeType": income_type(r.kind),
                "income": render::dec(r.amount),
                "asset": st.margin_asset,
                "info": r.trade_id.map_or_else(|| income_type(r.kind).to_owned(), |t| t.0.to_string()),
                "time": r.time.0,
                "tranId": r.id,
                "tradeId": r.trade_id.map_or(String::new(), |t| t.0.to_string()),
            })
        })
        .collect();
    ok(&out)
}

/// `GET /fapi/v1/userTrades`: one market's fills; `orderId`, `startTime`/`endTime`,
/// `fromId` (from that trade on), `limit` (default 500, at most 1000). With `startTime` or
/// `fromId` the page starts there (the oldest first: ccxt's `since` paging), otherwise it is
/// the newest `limit`; ascending either way.
async fn user_trades(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let m = symbols::required(&st, &mut p)?;
    let order = p.u64("orderId")?;
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    let from = p.u64("fromId")?;
    let limit = p.limit("limit", 500, 1000)?;
    p.finish()?;
    let mut v = st
        .ex
        .query(|reply| AccountQuery::Fills {
            account,
            market: Some(m),
            before: None,
            // Every retained fill (`keep_fills` in `[server]`).
            limit: usize::MAX,
            reply,
        })
        .await?;
    v.reverse();
    v.retain(|f| order.is_none_or(|o| f.order_id.0 == o));
    let v = window(v, |f| f.time.0, start, end, start.is_some(), usize::MAX);
    let forward = from.is_some() || start.is_some();
    let v = window(v, |f| f.trade_id.0, from, None, forward, limit);
    let spec = st.ex.spec(m);
    let out: Vec<_> = v
        .iter()
        .map(|f| render::user_trade(spec, f, f.position_side, &st.margin_asset))
        .collect();
    ok(&out)
}
