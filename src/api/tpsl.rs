//! `POST /api/v1/markets/{symbol}/tpsl`: a take-profit and/or stop-loss on a position
//! (docs/RULES.md §2a, docs/API.md §5.3). Two are one-cancels-other; both are close-position
//! orders, cancelled when the position goes flat.

use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::{self, ErrorBody, OrderDto};
use super::error::ApiResult;
use super::private::{enter, order_json, order_record};
use super::State;
use crate::domain::{OrderId, Reject, RequestFault};

#[utoipa::path(post, path = "/api/v1/markets/{symbol}/tpsl", tag = "orders", security(("api_key" = [])),
    params(("symbol" = String, Path,)), request_body = dto::PositionTpSl,
    responses((status = 201, description = "the orders placed: the take-profit first, then the stop-loss (one-cancels-other when both)", body = Vec<OrderDto>),
              (status = 400, description = "INVALID_PRICE (a trigger off the tick grid), WOULD_TRIGGER_IMMEDIATELY (the watched price already passed a trigger: a take-profit on the loss side or a stop-loss on the profit side)", body = ErrorBody),
              (status = 409, description = "NO_POSITION (the leg is flat), POSITION_SIDE_MISMATCH", body = ErrorBody),
              (status = 422, description = "TOO_MANY_OPEN_ORDERS, INDEX_STALE, ACCOUNT_IN_LIQUIDATION", body = ErrorBody)))]
pub async fn place(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (account, m) = enter(&st, &req, &body, &symbol)?;
    let b = dto::parse::<dto::PositionTpSl>(&body)?;
    let (position_side, tpsl) = b.parse(st.ex.spec(m))?;
    let first = st.ex.place_tpsl(account, m, position_side, tpsl).await?;
    let mut orders = vec![order_json(&st, m, &first.order, &first.fills)];
    if tpsl.take_profit.is_some() && tpsl.stop_loss.is_some() {
        // R1 numbers a pair consecutively: the stop-loss has the next id.
        let order_id = OrderId(first.order.order.order_id.0 + 1);
        let r = order_record(&st, account, m, order_id).await?;
        orders.push(order_json(&st, m, &r, &[]));
    }
    Ok(HttpResponse::Created().json(orders))
}

impl dto::PositionTpSl {
    /// The leg and the checked triggers; neither given is `INVALID_REQUEST`.
    pub fn parse(
        self,
        spec: &crate::domain::MarketSpec,
    ) -> Result<(crate::domain::PositionSide, crate::domain::TpSl), Reject> {
        let trigger = |t: &Option<String>| {
            t.as_deref()
                .map(|p| spec.parse_price(p).map_err(Reject::trigger))
                .transpose()
        };
        let tpsl = crate::domain::TpSl {
            take_profit: trigger(&self.take_profit)?,
            stop_loss: trigger(&self.stop_loss)?,
            trigger_by: self.trigger_by.unwrap_or_default(),
        };
        if tpsl.is_empty() {
            let why = "give take_profit, stop_loss or both".to_string();
            return Err(Reject::InvalidRequest(RequestFault::Edge(why)));
        }
        Ok((self.position_side.unwrap_or_default(), tpsl))
    }
}
