//! Request bodies: unknown fields are errors; conversion only through checked constructors.

use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;

use super::super::error::{ApiError, ApiResult};
use crate::actors::messages::OrderRequest;
use crate::domain::{
    decimal_text, MarketSpec, OrderType, Price, Qty, Reject, Side, Stp, TimeInForce, TriggerBy,
};

// ------------------------------------------------------------------ requests

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    #[schema(value_type = String, example = "buy")]
    pub side: Side,
    /// `limit|market|stop_market|stop_limit|take_profit_market|take_profit_limit`
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "limit")]
    pub order_type: OrderType,
    pub quantity: String,
    #[serde(default)]
    pub price: Option<String>,
    /// `gtc` (default), `ioc`, `fok`, `post_only`
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub time_in_force: Option<TimeInForce>,
    #[serde(default)]
    pub reduce_only: Option<bool>,
    /// `expire_maker` (default), `expire_taker`, `expire_both`, `none`
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub stp: Option<Stp>,
    #[serde(default)]
    pub client_order_id: Option<String>,
    #[serde(default)]
    pub trigger_price: Option<String>,
    /// `last` (default) or `mark`
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub trigger_by: Option<TriggerBy>,
}

/// `^[A-Za-z0-9._:/-]{1,36}$`
pub fn valid_client_order_id(s: &str) -> bool {
    (1..=36).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_/-".contains(&b))
}

impl NewOrder {
    /// Validate against the market spec (everything that needs no mark).
    pub fn into_request(self, spec: &MarketSpec) -> ApiResult<OrderRequest> {
        if self.order_type.has_price() != self.price.is_some() {
            return Err(ApiError::invalid(if self.price.is_some() {
                "price is not allowed for market, stop_market and take_profit_market orders"
            } else {
                "price is required for limit, stop_limit and take_profit_limit orders"
            }));
        }
        if self.order_type.is_conditional() != self.trigger_price.is_some() {
            return Err(ApiError::invalid(if self.trigger_price.is_some() {
                "trigger_price is only allowed for stop and take-profit orders"
            } else {
                "trigger_price is required for stop and take-profit orders"
            }));
        }
        if let Some(c) = &self.client_order_id {
            if !valid_client_order_id(c) {
                return Err(Reject::InvalidClientOrderId.into());
            }
        }
        let qty = spec.parse_qty(&self.quantity)?;
        let price = self
            .price
            .as_deref()
            .map(|p| spec.parse_price(p))
            .transpose()?;
        let trigger_price = self
            .trigger_price
            .as_deref()
            .map(|p| spec.parse_price(p))
            .transpose()?;
        Ok(OrderRequest {
            side: self.side,
            order_type: self.order_type,
            tif: self.time_in_force.unwrap_or_default(),
            price,
            qty,
            reduce_only: self.reduce_only.unwrap_or(false),
            stp: self.stp.unwrap_or_default(),
            trigger_price,
            trigger_by: self.trigger_by.unwrap_or_default(),
            client_order_id: self.client_order_id,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Amend {
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub quantity: Option<String>,
}

impl Amend {
    pub fn parse(self, spec: &MarketSpec) -> ApiResult<(Option<Price>, Option<Qty>)> {
        if self.price.is_none() && self.quantity.is_none() {
            return Err(ApiError::invalid("give price, quantity or both"));
        }
        let price = self
            .price
            .as_deref()
            .map(|p| spec.parse_price(p))
            .transpose()?;
        let qty = self
            .quantity
            .as_deref()
            .map(|q| spec.parse_qty(q))
            .transpose()?;
        Ok((price, qty))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Leverage {
    /// An integer from 1 to the market's maximum leverage.
    #[schema(value_type = u32, minimum = 1)]
    pub leverage: serde_json::Number,
}

impl Leverage {
    /// The leverage as an integer: any integer out of range (negative, zero, too large for
    /// any market) is `INVALID_LEVERAGE`, like one above the market's maximum; a fraction is
    /// `INVALID_REQUEST`.
    pub fn value(&self) -> ApiResult<u32> {
        let n = &self.leverage;
        if let Some(u) = n.as_u64() {
            return u32::try_from(u).map_err(|_| Reject::InvalidLeverage.into());
        }
        if n.as_i64().is_some() {
            return Err(Reject::InvalidLeverage.into());
        }
        match n.as_f64() {
            // `5.0` is the integer 5 (as in JSON Schema); a whole number outside u32 is out
            // of range like any other.
            Some(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => Ok(f as u32),
            Some(f) if f.fract() == 0.0 => Err(Reject::InvalidLeverage.into()),
            _ => Err(ApiError::invalid("leverage must be an integer")),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    pub amount: String,
}

/// The largest id or time a query takes: 2^53 − 1, exact in every JSON client.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// An optional id or time query value, at most [`MAX_SAFE_INTEGER`].
pub fn safe_integer(v: Option<u64>, name: &str) -> ApiResult<Option<u64>> {
    match v {
        Some(v) if v > MAX_SAFE_INTEGER => Err(ApiError::invalid(format!(
            "{name} must be at most {MAX_SAFE_INTEGER}"
        ))),
        v => Ok(v),
    }
}

/// A positive money amount below 10^15 with at most `scale` decimals (never rounded).
pub fn money(s: &str, scale: u32) -> ApiResult<Decimal> {
    let shape = decimal_text::money(scale);
    if !shape.check(s) {
        return Err(ApiError::invalid(format!(
            "amount {s:?} is not {}",
            shape.describe()
        )));
    }
    s.parse()
        .map_err(|_| ApiError::invalid(format!("amount {s:?} is not a decimal")))
}

/// An oracle index price: the grammar of order prices (any precision up to its 16 decimals,
/// not bound to the tick).
pub fn index_price(s: &str) -> ApiResult<Decimal> {
    if !decimal_text::PRICE.check(s) {
        return Err(ApiError::invalid(format!(
            "price {s:?} is not {}",
            decimal_text::PRICE.describe()
        )));
    }
    s.parse()
        .map_err(|_| ApiError::invalid(format!("price {s:?} is not a decimal")))
}

/// The longest account label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexPrice {
    pub price: String,
}
