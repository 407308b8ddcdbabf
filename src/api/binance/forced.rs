//! The account's forced orders and trading status (USER_DATA):
//!
//! - `GET /fapi/v1/forceOrders`: the account's liquidation orders (orders the liquidation
//!   workflow placed for it, `liquidation` natively), in Binance's shape, oldest first;
//!   `symbol`, `autoCloseType` (`LIQUIDATION`; `ADL` is always empty: perpx deleverages by
//!   moving positions, without orders), `startTime`, `endTime` (without `startTime`, the 7
//!   days before `endTime` or now), `limit` (default 50, at most 100). Only the retained
//!   closed orders are there (`keep_closed_orders` per account).
//! - `GET /fapi/v1/apiTradingStatus`: perpx applies none of Binance's quantitative trading
//!   rules, so nothing is ever locked: each market (or the one named) shows Binance's four
//!   indicators `isLocked: false`, `value` 0, with Binance's trigger values, and `ACCOUNT`
//!   its `TMV` the same way.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::errors::{BnError, BnResult};
use super::market::now;
use super::{auth, ok, orders, render, symbols};
use crate::api::State;

/// The 7 days a `forceOrders` window spans without `startTime`.
const WEEK: u64 = 7 * 24 * 60 * 60 * 1000;

/// The fields of Binance's force order object.
const FIELDS: [&str; 20] = [
    "orderId",
    "symbol",
    "status",
    "clientOrderId",
    "price",
    "avgPrice",
    "origQty",
    "executedQty",
    "cumQuote",
    "timeInForce",
    "type",
    "reduceOnly",
    "closePosition",
    "side",
    "positionSide",
    "stopPrice",
    "workingType",
    "origType",
    "time",
    "updateTime",
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v1/forceOrders").get(force_orders))
        .service(crate::fapi_resource!("/v1/apiTradingStatus").get(trading_status));
}

async fn force_orders(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, b"")?;
    let markets = symbols::selected(&st, &mut p)?;
    let adl = match p.opt("autoCloseType").as_deref() {
        None | Some("LIQUIDATION") => false,
        Some("ADL") => true,
        Some(_) => return Err(BnError::malformed("autoCloseType", "LIQUIDATION or ADL")),
    };
    let end = p.u64("endTime")?;
    let start = p.u64("startTime")?;
    let limit = p.limit("limit", 50, 100)?;
    p.finish()?;
    let start = start.unwrap_or_else(|| end.unwrap_or_else(|| now(&st)).saturating_sub(WEEK));
    let mut all = Vec::new();
    if !adl {
        for m in markets {
            let v = orders::orders_of(&st, account, m, true, true).await?;
            all.extend(v.into_iter().filter(|r| r.order.liquidation));
        }
    }
    all.sort_by_key(|r| (r.created_at.0, r.market, r.order.order_id.0));
    let v = orders::window(all, |r| r.created_at.0, Some(start), end, false, limit);
    let rows: Vec<Value> = v
        .iter()
        .map(|r| {
            let full = serde_json::to_value(render::order(st.ex.spec(r.market), r, st.money_scale))
                .unwrap_or(Value::Null);
            let picked: Map<String, Value> = FIELDS
                .iter()
                .map(|k| ((*k).to_owned(), full[*k].clone()))
                .collect();
            Value::Object(picked)
        })
        .collect();
    ok(&rows)
}

/// Binance's per-symbol indicators and their trigger values.
const INDICATORS: [(&str, f64); 4] = [("UFR", 0.995), ("IFER", 0.99), ("GCR", 0.99), ("DR", 0.99)];

fn indicator(name: &str, trigger: Value) -> Value {
    json!({"isLocked": false, "plannedRecoverTime": 0, "indicator": name,
           "value": 0, "triggerValue": trigger})
}

async fn trading_status(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (_, mut p) = auth::signed(&st, &req, b"")?;
    let markets = symbols::selected(&st, &mut p)?;
    p.finish()?;
    let mut indicators = Map::new();
    for m in markets {
        let v: Vec<Value> = INDICATORS
            .iter()
            .map(|(n, t)| indicator(n, json!(t)))
            .collect();
        indicators.insert(st.ex.spec(m).binance_symbol.clone(), Value::Array(v));
    }
    indicators.insert("ACCOUNT".into(), json!([indicator("TMV", json!(1))]));
    ok(&json!({"indicators": indicators, "updateTime": now(&st)}))
}
