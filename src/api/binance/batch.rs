//! `/fapi/v1/batchOrders` (TRADE): up to 5 new orders (POST) or modifies (PUT), up to 10
//! cancels (DELETE), one answer per item in request order: the order object, or
//! `{"code","msg"}` for an item that failed (the others are not affected).
//!
//! # Invariants
//! - Each item takes exactly the single-order path (`orders.rs`), one after the other.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::errors::{BnError, BnResult};
use super::orders::{self, OrderRef, ORDER};
use super::params::Params;
use super::{auth, ok, symbols};
use crate::api::State;
use crate::domain::{AccountId, OrderId};

/// New orders and modifies per request.
pub const MAX_ORDERS: usize = 5;
/// Cancels per request.
pub const MAX_CANCELS: usize = 10;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::fapi_resource!("/v1/batchOrders")
            .post(place)
            .put(modify)
            .delete(cancel),
    );
}

fn item_json<T: serde::Serialize>(r: BnResult<T>) -> Value {
    match r {
        Ok(o) => serde_json::to_value(o).unwrap_or(Value::Null),
        Err(e) => json!({"code": e.code, "msg": e.msg}),
    }
}

fn items(p: &mut Params) -> BnResult<Vec<Value>> {
    let text = p.req("batchOrders")?;
    let v: Vec<Value> = serde_json::from_str(&text)
        .map_err(|_| BnError::malformed("batchOrders", "expected a JSON array of objects"))?;
    if v.is_empty() || v.len() > MAX_ORDERS {
        return Err(BnError::bad(
            -1130,
            format!(
                "Data sent for parameter 'batchOrders' is not valid: 1 to {MAX_ORDERS} orders."
            ),
        ));
    }
    Ok(v)
}

async fn place_item(st: &State, account: AccountId, item: &Value) -> BnResult<Value> {
    let started = Instant::now();
    let mut p = Params::from_json(item)?;
    let m = symbols::required(st, &mut p)?;
    let parsed =
        orders::parse_new(&mut p, st.ex.spec(m), &ORDER).and_then(|o| p.finish().map(|_| o));
    let order = match parsed {
        Ok(o) => o,
        Err(e) => {
            st.ex.metrics.orders.outcome(started, "rejected");
            return Err(e);
        }
    };
    let o = orders::place_parsed(st, account, m, order, started).await?;
    Ok(serde_json::to_value(o).unwrap_or(Value::Null))
}

async fn place(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let list = items(&mut p)?;
    p.finish()?;
    let mut out = Vec::with_capacity(list.len());
    for item in &list {
        out.push(item_json(place_item(&st, account, item).await));
    }
    ok(&out)
}

async fn modify_item(st: &State, account: AccountId, item: &Value) -> BnResult<Value> {
    let mut p = Params::from_json(item)?;
    let m = symbols::required(st, &mut p)?;
    let x = orders::parse_modify(&mut p, st.ex.spec(m))?;
    p.finish()?;
    let o = orders::modify_one(st, account, m, x).await?;
    Ok(serde_json::to_value(o).unwrap_or(Value::Null))
}

async fn modify(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let list = items(&mut p)?;
    p.finish()?;
    let mut out = Vec::with_capacity(list.len());
    for item in &list {
        out.push(item_json(modify_item(&st, account, item).await));
    }
    ok(&out)
}

/// `DELETE`: `symbol` and `orderIdList` (JSON integers) or `origClientOrderIdList`; Binance
/// also takes them in lower case, which is how ccxt's `cancel_orders` sends them.
async fn cancel(st: State, req: HttpRequest, body: web::Bytes) -> BnResult<HttpResponse> {
    let (account, mut p) = auth::signed(&st, &req, &body)?;
    let m = symbols::required(&st, &mut p)?;
    let ids = p.opt("orderIdList").or_else(|| p.opt("orderidlist"));
    let cids = p
        .opt("origClientOrderIdList")
        .or_else(|| p.opt("origclientorderidlist"));
    let refs: Vec<OrderRef> = match (ids, cids) {
        (Some(ids), _) => serde_json::from_str::<Vec<u64>>(&ids)
            .map_err(|_| BnError::malformed("orderIdList", "expected a JSON array of integers"))?
            .into_iter()
            .map(|i| OrderRef::Id(OrderId(i)))
            .collect(),
        (None, Some(c)) => serde_json::from_str::<Vec<String>>(&c)
            .map_err(|_| {
                BnError::malformed("origClientOrderIdList", "expected a JSON array of strings")
            })?
            .into_iter()
            .map(OrderRef::Client)
            .collect(),
        (None, None) => return Err(BnError::mandatory("orderIdList' or 'origClientOrderIdList")),
    };
    p.finish()?;
    if refs.is_empty() || refs.len() > MAX_CANCELS {
        return Err(BnError::bad(
            -1130,
            format!(
                "Data sent for parameter 'orderIdList' is not valid: 1 to {MAX_CANCELS} orders."
            ),
        ));
    }
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        out.push(item_json(orders::cancel_one(&st, account, m, r).await));
    }
    ok(&out)
}
