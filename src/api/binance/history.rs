//! The account's history (USER_DATA): `userTrades` (and `income`).
//!
//! # Invariants
//! - Trades are the native fills (same ids, prices, fees, realized PnL), ascending by id;
//!   perpx keeps the newest 5,000 fills per account.

use actix_web::{web, HttpRequest, HttpResponse};

use super::errors::BnResult;
use super::orders::window;
use super::{auth, ok, render, symbols};
use crate::actors::messages::AccountQuery;
use crate::api::State;
use crate::engine::orders::KEEP_FILLS;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v1/userTrades").get(user_trades));
}

/// `GET /fapi/v1/userTrades`: one market's fills; `orderId`, `startTime`/`endTime`,
/// `fromId` (from that trade on), `limit` (default 500, at most 1000).
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
            limit: KEEP_FILLS,
            reply,
        })
        .await?;
    v.reverse();
    v.retain(|f| order.is_none_or(|o| f.order_id.0 == o));
    let v = window(v, |f| f.time.0, start, end, start.is_some(), usize::MAX);
    let v = window(v, |f| f.trade_id.0, from, None, from.is_some(), limit);
    let spec = st.ex.spec(m);
    let out: Vec<_> = v
        .iter()
        .map(|f| render::user_trade(spec, f, &st.margin_asset))
        .collect();
    ok(&out)
}
