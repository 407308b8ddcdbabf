//! `/fapi/v1/order` (new, query, cancel, modify), `allOpenOrders`, `openOrders`,
//! `openOrder` and `allOrders`, on the native order path.
//!
//! # Invariants
//! - A new order is parsed and checked against the market spec ([`super::order_params`]:
//!   Binance's codes for side, type, time in force, tick, step and size), then placed with
//!   [`Exchange::place_order`](crate::actors::Exchange::place_order) exactly as a native one;
//!   the answer is rendered from the same [`OrderReport`].
//! - Every order names its leg (`positionSide`: BOTH in one-way mode, LONG or SHORT in hedge
//!   mode; R1 refuses a mismatch with -4061) and every answer shows it from the record.
//! - Features perpx does not have (`closePosition`, trailing stops, GTD, `priceMatch`,
//!   `priceProtect`) are refused with a clear error, never approximated.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

pub use super::order_params::{order_ref, parse_modify, parse_new, Modify, Names, OrderRef, ORDER};

use super::errors::{self, from_reject, BnError, BnResult, Ctx};
use super::{auth, ok, render, symbols};
use crate::actors::messages::{AccountQuery, OrderReport, OrderRequest};
use crate::api::State;
use crate::domain::{AccountId, CloseReason, OrderId, OrderStatus, Reject, TimeInForce};
use crate::engine::orders::OrderRecord;
use crate::risk::MarketId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::fapi_resource!("/v1/order")
            .post(place)
            .get(query)
            .delete(cancel)
            .put(modify),
    )
    .service(crate::fapi_resource!("/v1/allOpenOrders").delete(cancel_all))
    .service(crate::fapi_resource!("/v1/openOrders").get(open_orders))
    .service(crate::fapi_resource!("/v1/openOrder").get(open_order))
    .service(crate::fapi_resource!("/v1/allOrders").get(all_orders));
}

/// The order `r` names (the rejection rendered for `ctx`).
pub async fn resolve(
    st: &State,
    account: AccountId,
    market: MarketId,
    r: OrderRef,
    ctx: Ctx,
) -> BnResult<OrderRecord> {
    let q = match r {
        OrderRef::Id(order_id) => {
            st.ex
                .query(|reply| AccountQuery::Order {
                    account,
                    market,
                    order_id,
                    reply,
                })
                .await
        }
        OrderRef::Client(client_order_id) => {
            let implicit = render::implicit_order_id(&client_order_id);
            let named = st
                .ex
                .query(|reply| AccountQuery::OrderByClientId {
                    account,
                    market,
                    client_order_id,
                    reply,
                })
                .await;
            match (named, implicit) {
                // An order placed without a client id, named by the id it is shown with.
                (Err(Reject::OrderNotFound), Some(id)) => {
                    let o = st
                        .ex
                        .query(|reply| AccountQuery::Order {
                            account,
                            market,
                            order_id: OrderId(id),
                            reply,
                        })
                        .await;
                    match o {
                        Ok(o) if o.client_order_id.is_none() => Ok(o),
                        Ok(_) => Err(Reject::OrderNotFound),
                        Err(e) => Err(e),
                    }
                }
                (r, _) => r,
            }
        }
    };
    q.map_err(|e| from_reject(&e, ctx))
}

/// The order id `r` names (a client id is looked up first).
async fn resolve_id(
    st: &State,
    account: AccountId,
    market: MarketId,
    r: OrderRef,
    ctx: Ctx,
) -> BnResult<OrderId> {
    match r {
        OrderRef::Id(id) => Ok(id),
        c => Ok(resolve(st, account, market, c, ctx).await?.order.order_id),
    }
}

/// The order object of a report; a FOK order that expired unfilled is -5021, as on Binance.
pub fn report_json(st: &State, m: MarketId, r: &OrderReport) -> BnResult<render::Order> {
    let o = &r.order;
    if o.order.terms.tif == TimeInForce::Fok
        && o.status == OrderStatus::Expired
        && o.reason == Some(CloseReason::FokUnfillable)
        && !r.retry
    {
        return Err(errors::fok_rejected());
    }
    Ok(render::order(st.ex.spec(m), o, st.money_scale))
}

// ------------------------------------------------------------------ handlers

/// Place one parsed order the native way (metrics included).
pub async fn place_parsed(
    st: &State,
    account: AccountId,
    m: MarketId,
    order: OrderRequest,
    started: Instant,
) -> BnResult<render::Order> {
    let side = order.terms.side;
    let r = st.ex.place_order(account, m, order).await;
    st.ex
        .metrics
        .orders
        .record(started, r.as_ref().map(|rep| (rep.order.status, rep.retry)));
    let r = r.map_err(|e| from_reject(&e, Ctx::Place(side, ORDER.trigger)))?;
    report_json(st, m, &r)
}

/// `POST /fapi/v1/order` (TRADE).
pub async fn place(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let started = Instant::now();
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let parsed = parse_new(&mut p, st.ex.spec(m), &ORDER).and_then(|o| p.finish().map(|_| o));
    let order = match parsed {
        Ok(o) => o,
        Err(e) => {
            st.ex.metrics.orders.outcome(started, "rejected");
            return Err(e);
        }
    };
    ok(&place_parsed(&st, account, m, order, started).await?)
}

/// `GET /fapi/v1/order` (USER_DATA).
async fn query(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let m = symbols::required(&st, &mut p)?;
    let r = order_ref(&mut p, "orderId", "origClientOrderId")?;
    p.finish()?;
    let o = resolve(&st, account, m, r, Ctx::Query).await?;
    ok(&render::order(st.ex.spec(m), &o, st.money_scale))
}

/// Cancel one order, rendering rejections as a cancel's.
pub async fn cancel_one(
    st: &State,
    account: AccountId,
    m: MarketId,
    r: OrderRef,
) -> BnResult<render::Order> {
    let id = resolve_id(st, account, m, r, Ctx::Cancel).await?;
    let rep = st
        .ex
        .cancel_order(account, m, id)
        .await
        .map_err(|e| from_reject(&e, Ctx::Cancel))?;
    Ok(render::order(st.ex.spec(m), &rep.order, st.money_scale))
}

/// `DELETE /fapi/v1/order` (TRADE).
async fn cancel(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let r = order_ref(&mut p, "orderId", "origClientOrderId")?;
    p.finish()?;
    ok(&cancel_one(&st, account, m, r).await?)
}

/// Amend the order to the new price and total quantity.
pub async fn modify_one(
    st: &State,
    account: AccountId,
    m: MarketId,
    x: Modify,
) -> BnResult<render::Order> {
    let order = resolve(st, account, m, x.order, Ctx::Amend).await?;
    if order.order.terms.side != x.side {
        return Err(BnError::malformed("side", "it is not the order's side"));
    }
    if order.status == crate::domain::OrderStatus::Untriggered {
        // Binance modifies LIMIT orders only (the native PATCH amends triggers too).
        let e = Reject::OrderNotAmendable(crate::domain::reject::NotAmendable::Untriggered);
        return Err(from_reject(&e, Ctx::Amend));
    }
    if x.position_side
        .is_some_and(|s| s != order.order.terms.position_side)
    {
        return Err(from_reject(&Reject::PositionSideMismatch, Ctx::Amend));
    }
    let rep = st
        .ex
        .amend_order(
            account,
            m,
            order.order.order_id,
            Some(x.price),
            Some(x.qty),
            None,
        )
        .await
        .map_err(|e| from_reject(&e, Ctx::Amend))?;
    Ok(render::order(st.ex.spec(m), &rep.order, st.money_scale))
}

/// `PUT /fapi/v1/order` (TRADE): price and quantity of a resting order.
async fn modify(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let x = parse_modify(&mut p, st.ex.spec(m))?;
    p.finish()?;
    ok(&modify_one(&st, account, m, x).await?)
}

/// `DELETE /fapi/v1/allOpenOrders` (TRADE).
async fn cancel_all(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    p.finish()?;
    st.ex
        .cancel_all(account, m)
        .await
        .map_err(|e| from_reject(&e, Ctx::Cancel))?;
    ok(&json!({"code": 200, "msg": "The operation of cancel all open order is done."}))
}

/// The account's orders in `m`, ascending by id.
pub async fn orders_of(
    st: &State,
    account: AccountId,
    m: MarketId,
    open: bool,
    closed: bool,
) -> BnResult<Vec<OrderRecord>> {
    // Everything retained (open orders, and closed ones up to the configured retention).
    let limit = usize::MAX;
    let mut v = st
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
    v.reverse();
    Ok(v)
}

/// `GET /fapi/v1/openOrders` (USER_DATA): one market or all.
async fn open_orders(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let markets = symbols::selected(&st, &mut p)?;
    p.finish()?;
    let mut out = Vec::new();
    for m in markets {
        for o in orders_of(&st, account, m, true, false).await? {
            out.push(render::order(st.ex.spec(m), &o, st.money_scale));
        }
    }
    ok(&out)
}

/// `GET /fapi/v1/openOrder` (USER_DATA): one open order (-2013 if it is closed).
async fn open_order(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let m = symbols::required(&st, &mut p)?;
    let r = order_ref(&mut p, "orderId", "origClientOrderId")?;
    p.finish()?;
    let o = resolve(&st, account, m, r, Ctx::Query).await?;
    if o.status.is_closed() {
        return Err(from_reject(&Reject::OrderNotFound, Ctx::Query));
    }
    ok(&render::order(st.ex.spec(m), &o, st.money_scale))
}

/// Keep the records in `[start, end]` (by `key`); with `from` the first `limit` from it,
/// otherwise the last `limit`. `v` is ascending.
pub fn window<T>(
    mut v: Vec<T>,
    key: impl Fn(&T) -> u64,
    start: Option<u64>,
    end: Option<u64>,
    from: bool,
    limit: usize,
) -> Vec<T> {
    v.retain(|x| start.is_none_or(|s| key(x) >= s) && end.is_none_or(|e| key(x) <= e));
    if from {
        v.truncate(limit);
    } else if v.len() > limit {
        v.drain(..v.len() - limit);
    }
    v
}

/// `GET /fapi/v1/allOrders` (USER_DATA): open and retained closed orders, ascending.
async fn all_orders(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let m = symbols::required(&st, &mut p)?;
    let from_id = p.u64("orderId")?;
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    let limit = p.limit("limit", 500, 1000)?;
    p.finish()?;
    let v = orders_of(&st, account, m, true, true).await?;
    let v = window(v, |o| o.created_at.0, start, end, false, usize::MAX);
    let v = window(
        v,
        |o| o.order.order_id.0,
        from_id,
        None,
        from_id.is_some(),
        limit,
    );
    let spec = st.ex.spec(m);
    let out: Vec<_> = v
        .iter()
        .map(|o| render::order(spec, o, st.money_scale))
        .collect();
    ok(&out)
}
