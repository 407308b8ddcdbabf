//! Conditional orders through Binance's algo API (what ccxt uses for stop and take-profit
//! orders): `POST/DELETE/GET /fapi/v1/algoOrder`, `openAlgoOrders`, `allAlgoOrders`,
//! `DELETE algoOpenOrders`.
//!
//! # Invariants
//! - An algo order is a native conditional order (the trigger book of its market): placed,
//!   cancelled and queried through the same handle as `/fapi/v1/order`; the same order is
//!   visible through both APIs.
//! - `algoId` = market index × 2⁴⁸ + order id, so routes without a symbol find the market;
//!   `clientAlgoId` is the native client order id.
//! - `algoStatus`: `NEW` while untriggered, `TRIGGERED` once triggered and open,
//!   `FINISHED` once triggered and closed, `CANCELED` / `EXPIRED` as the order.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::json;

use super::errors::{from_reject, BnError, BnResult, Ctx};
use super::orders::{self, OrderRef};
use super::params::Params;
use super::render::{self, px, qty};
use super::{auth, ok, symbols};
use crate::api::State;
use crate::domain::{AccountId, MarketSpec, OrderId, OrderStatus, Reject};
use crate::engine::orders::OrderRecord;
use crate::risk::MarketId;

const SHIFT: u32 = 48;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::fapi_resource!("/v1/algoOrder")
            .post(place)
            .delete(cancel)
            .get(query),
    )
    .service(crate::fapi_resource!("/v1/openAlgoOrders").get(open_orders))
    .service(crate::fapi_resource!("/v1/allAlgoOrders").get(all_orders))
    .service(crate::fapi_resource!("/v1/algoOpenOrders").delete(cancel_open));
}

pub fn algo_id(m: MarketId, id: OrderId) -> u64 {
    (u64::from(m.0) << SHIFT) | id.0
}

fn split(algo_id: u64) -> (MarketId, OrderId) {
    (
        MarketId((algo_id >> SHIFT) as u16),
        OrderId(algo_id & ((1 << SHIFT) - 1)),
    )
}

/// The Binance algo order object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Algo {
    algo_id: u64,
    client_algo_id: String,
    algo_type: &'static str,
    order_type: &'static str,
    symbol: String,
    side: &'static str,
    position_side: &'static str,
    time_in_force: &'static str,
    quantity: String,
    algo_status: &'static str,
    trigger_price: String,
    price: String,
    iceberg_quantity: Option<String>,
    self_trade_prevention_mode: &'static str,
    working_type: &'static str,
    price_match: &'static str,
    close_position: bool,
    price_protect: bool,
    reduce_only: bool,
    activate_price: String,
    callback_rate: String,
    create_time: u64,
    update_time: u64,
    trigger_time: u64,
    good_till_date: u64,
    /// The order the trigger produced: the same order, once triggered.
    actual_order_id: String,
    actual_price: String,
}

fn algo_status(r: &OrderRecord) -> &'static str {
    match r.status {
        OrderStatus::Untriggered => "NEW",
        OrderStatus::Cancelled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
        OrderStatus::New | OrderStatus::PartiallyFilled => "TRIGGERED",
        OrderStatus::Filled => "FINISHED",
    }
}

pub fn algo(spec: &MarketSpec, m: MarketId, r: &OrderRecord, scale: u32) -> Algo {
    let triggered =
        !matches!(r.status, OrderStatus::Untriggered | OrderStatus::Cancelled) || r.filled.0 > 0;
    Algo {
        algo_id: algo_id(m, r.order.order_id),
        client_algo_id: render::client_id(r),
        algo_type: "CONDITIONAL",
        order_type: render::order_type(r.order.terms.order_type),
        symbol: spec.binance_symbol.clone(),
        side: render::side(r.order.terms.side),
        position_side: render::position_side(r.order.terms.position_side),
        time_in_force: render::tif(r.order.terms.tif),
        quantity: qty(spec, r.order.terms.qty),
        algo_status: algo_status(r),
        trigger_price: r
            .order
            .terms
            .trigger_price
            .map_or_else(|| "0".into(), |p| px(spec, p)),
        price: r
            .order
            .terms
            .price
            .map_or_else(|| "0".into(), |p| px(spec, p)),
        iceberg_quantity: None,
        self_trade_prevention_mode: render::stp(r.order.terms.stp),
        working_type: render::working_type(r.order.terms.trigger_by),
        price_match: "NONE",
        close_position: r.order.terms.close_position,
        price_protect: false,
        reduce_only: r.order.terms.reduce_only,
        activate_price: String::new(),
        callback_rate: String::new(),
        create_time: r.created_at.0,
        update_time: r.updated_at.0,
        trigger_time: 0,
        good_till_date: 0,
        actual_order_id: if triggered {
            r.order.order_id.0.to_string()
        } else {
            String::new()
        },
        actual_price: render::avg_price(spec, r, scale),
    }
}

const NAMES: orders::Names = orders::Names {
    trigger: "triggerPrice",
    client_id: "clientAlgoId",
};

/// `POST /fapi/v1/algoOrder`: `algoType=CONDITIONAL` with a stop or take-profit type.
async fn place(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let started = Instant::now();
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let parsed = parse(&mut p, st.ex.spec(m)).and_then(|o| p.finish().map(|_| o));
    let order = match parsed {
        Ok(o) => o,
        Err(e) => {
            st.ex.metrics.orders.outcome(started, "rejected");
            return Err(e);
        }
    };
    let side = order.terms.side;
    let r = st.ex.place_order(account, m, order).await;
    st.ex
        .metrics
        .orders
        .record(started, r.as_ref().map(|rep| (rep.order.status, rep.retry)));
    let r = r.map_err(|e| from_reject(&e, Ctx::Place(side, NAMES.trigger)))?;
    ok(&algo(st.ex.spec(m), m, &r.order, st.money_scale))
}

fn parse(p: &mut Params, spec: &MarketSpec) -> BnResult<crate::actors::messages::OrderRequest> {
    match p.req("algoType")?.as_str() {
        "CONDITIONAL" => {}
        _ => {
            return Err(BnError::bad(
                -1130,
                "Data sent for parameter 'algoType' is not valid: only CONDITIONAL is offered.",
            ))
        }
    }
    let o = orders::parse_new(p, spec, &NAMES)?;
    if !o.terms.order_type.is_conditional() {
        return Err(BnError::bad(
            -1116,
            "Invalid orderType: algo orders are STOP, STOP_MARKET, TAKE_PROFIT or TAKE_PROFIT_MARKET.",
        ));
    }
    Ok(o)
}

/// The conditional order `algoId` or `clientAlgoId` names (in `symbol`'s market if given).
async fn find(
    st: &State,
    account: AccountId,
    p: &mut Params,
    ctx: Ctx,
) -> BnResult<(MarketId, OrderRecord)> {
    let only = symbols::optional(st, p)?;
    let not_found = || from_reject(&Reject::OrderNotFound, ctx);
    let (markets, r) = match (p.u64("algoId")?, p.opt("clientAlgoId")) {
        (Some(a), _) => {
            let (m, id) = split(a);
            if m.index() >= st.ex.specs.len() || only.is_some_and(|o| o != m) {
                return Err(not_found());
            }
            (vec![m], OrderRef::Id(id))
        }
        (None, Some(c)) => (
            only.map_or_else(
                || (0..st.ex.specs.len()).map(|i| MarketId(i as u16)).collect(),
                |m| vec![m],
            ),
            OrderRef::Client(c),
        ),
        (None, None) => return Err(BnError::mandatory("algoId' or 'clientAlgoId")),
    };
    for m in markets {
        let r = match &r {
            OrderRef::Id(id) => OrderRef::Id(*id),
            OrderRef::Client(c) => OrderRef::Client(c.clone()),
        };
        match orders::resolve(st, account, m, r, ctx).await {
            Ok(o) if o.order.terms.order_type.is_conditional() => return Ok((m, o)),
            Ok(_) => return Err(not_found()),
            Err(_) => continue,
        }
    }
    Err(not_found())
}

async fn cancel(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let (m, o) = find(&st, account, &mut p, Ctx::Cancel).await?;
    p.finish()?;
    st.ex
        .cancel_order(account, m, o.order.order_id)
        .await
        .map_err(|e| from_reject(&e, Ctx::Cancel))?;
    ok(&json!({
        "algoId": algo_id(m, o.order.order_id),
        "clientAlgoId": render::client_id(&o),
        "code": "200",
        "msg": "success",
    }))
}

async fn query(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let (m, o) = find(&st, account, &mut p, Ctx::Query).await?;
    p.finish()?;
    ok(&algo(st.ex.spec(m), m, &o, st.money_scale))
}

async fn conditional(
    st: &State,
    account: AccountId,
    markets: &[MarketId],
    open: bool,
) -> BnResult<Vec<(MarketId, OrderRecord)>> {
    let mut out = Vec::new();
    for &m in markets {
        for o in orders::orders_of(st, account, m, true, !open).await? {
            let keep = if open {
                o.status == OrderStatus::Untriggered
            } else {
                o.order.terms.order_type.is_conditional()
            };
            if keep {
                out.push((m, o));
            }
        }
    }
    Ok(out)
}

/// `GET /fapi/v1/openAlgoOrders`: untriggered conditional orders.
async fn open_orders(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let markets = symbols::selected(&st, &mut p)?;
    p.skip(&["algoType"]);
    p.finish()?;
    let v: Vec<Algo> = conditional(&st, account, &markets, true)
        .await?
        .iter()
        .map(|(m, o)| algo(st.ex.spec(*m), *m, o, st.money_scale))
        .collect();
    ok(&v)
}

/// `GET /fapi/v1/allAlgoOrders`: every retained conditional order of one market.
async fn all_orders(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let m = symbols::required(&st, &mut p)?;
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    let limit = p.limit("limit", 500, 1000)?;
    let from = p.u64("algoId")?;
    p.skip(&["page"]);
    p.finish()?;
    let v = conditional(&st, account, &[m], false).await?;
    let v = orders::window(v, |(_, o)| o.created_at.0, start, end, false, usize::MAX);
    let v = orders::window(
        v,
        |(m, o)| algo_id(*m, o.order.order_id),
        from,
        None,
        from.is_some(),
        limit,
    );
    let out: Vec<Algo> = v
        .iter()
        .map(|(m, o)| algo(st.ex.spec(*m), *m, o, st.money_scale))
        .collect();
    ok(&out)
}

/// `DELETE /fapi/v1/algoOpenOrders`: cancel one market's untriggered conditional orders.
async fn cancel_open(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    p.finish()?;
    for (m, o) in conditional(&st, account, &[m], true).await? {
        match st.ex.cancel_order(account, m, o.order.order_id).await {
            // Triggered or closed meanwhile: nothing left to cancel.
            Ok(_) | Err(Reject::OrderNotOpen | Reject::OrderNotFound) => {}
            Err(e) => return Err(from_reject(&e, Ctx::Cancel)),
        }
    }
    ok(&json!({"code": 200, "msg": "The operation of cancel all open order is done."}))
}
