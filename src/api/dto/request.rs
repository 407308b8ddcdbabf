//! Request bodies: unknown fields are errors; conversion only through checked constructors.

use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;

use super::super::error::{ApiError, ApiResult};
use crate::domain::{
    decimal_text, MarginMode, MarketSpec, NumberFault, OrderDraft, OrderRequest, OrderType,
    PositionMode, PositionSide, Price, Qty, Reject, RequestFault, Side, Stp, TimeInForce,
    TriggerBy,
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
    /// Required, except with `close_position` (which takes none).
    #[serde(default)]
    pub quantity: Option<String>,
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
    /// `both` (default; one-way mode), `long` or `short` (hedge mode): the position leg the
    /// order trades. In hedge mode `sell` + `long` and `buy` + `short` close their leg.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub position_side: Option<PositionSide>,
    /// `stop_market` / `take_profit_market` only, without `quantity` and `reduce_only`: when it
    /// fires, close whatever the position (leg) is; cancelled when the position goes flat
    /// (docs/RULES.md §2a).
    #[serde(default)]
    pub close_position: Option<bool>,
    /// Trigger price of a take-profit to attach: a `take_profit_market` close-position order,
    /// one-cancels-other with `stop_loss`, waiting until the order fills.
    #[serde(default)]
    pub take_profit: Option<String>,
    /// Trigger price of a stop-loss to attach (a `stop_market` close-position order).
    #[serde(default)]
    pub stop_loss: Option<String>,
    /// What the attached take-profit and stop-loss watch: `last` (default) or `mark`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub tpsl_trigger_by: Option<TriggerBy>,
}

pub use crate::domain::valid_client_order_id;

/// A native decimal text in `shape`'s grammar; `fault` names the field its error is about.
fn lex(
    s: &str,
    shape: decimal_text::DecimalText,
    fault: fn(NumberFault) -> Reject,
) -> Result<Decimal, Reject> {
    shape.lex(s).map_err(|k| fault(NumberFault::new(k, s)))
}

impl NewOrder {
    /// The native reading of the body (its decimal grammar, its defaults), then the one
    /// checked constructor every dialect shares ([`OrderRequest::new`]).
    pub fn into_request(self, spec: &MarketSpec) -> ApiResult<OrderRequest> {
        let price = |t: &Option<String>, fault| {
            t.as_deref()
                .map(|p| lex(p, decimal_text::PRICE, fault))
                .transpose()
        };
        let draft = OrderDraft {
            side: self.side,
            order_type: self.order_type,
            tif: self.time_in_force.unwrap_or_default(),
            price: price(&self.price, Reject::InvalidPrice)?,
            trigger_price: price(&self.trigger_price, Reject::InvalidTriggerPrice)?,
            trigger_by: self.trigger_by.unwrap_or_default(),
            qty: self
                .quantity
                .as_deref()
                .map(|q| lex(q, decimal_text::QUANTITY, Reject::InvalidQuantity))
                .transpose()?,
            reduce_only: self.reduce_only.unwrap_or(false),
            stp: self.stp.unwrap_or_default(),
            position_side: self.position_side.unwrap_or_default(),
            client_order_id: self.client_order_id,
            close_position: self.close_position.unwrap_or(false),
            take_profit: price(&self.take_profit, Reject::InvalidTriggerPrice)?,
            stop_loss: price(&self.stop_loss, Reject::InvalidTriggerPrice)?,
            tpsl_trigger_by: self.tpsl_trigger_by.unwrap_or_default(),
        };
        Ok(OrderRequest::new(draft, spec)?)
    }
}

/// A take-profit and/or stop-loss on a position (`POST /markets/{symbol}/tpsl`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionTpSl {
    #[serde(default)]
    pub take_profit: Option<String>,
    #[serde(default)]
    pub stop_loss: Option<String>,
    /// `last` (default) or `mark`
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub trigger_by: Option<TriggerBy>,
    /// The position's leg: `both` (default; one-way mode), `long` or `short`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub position_side: Option<PositionSide>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Amend {
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub quantity: Option<String>,
    /// A new trigger price, for a stop or take-profit order waiting for its trigger.
    #[serde(default)]
    pub trigger_price: Option<String>,
}

impl Amend {
    /// The new price, total quantity and trigger price (at least one).
    pub fn parse(
        self,
        spec: &MarketSpec,
    ) -> ApiResult<(Option<Price>, Option<Qty>, Option<Price>)> {
        if self.price.is_none() && self.quantity.is_none() && self.trigger_price.is_none() {
            return Err(Reject::InvalidRequest(RequestFault::NothingToAmend).into());
        }
        let trigger = self
            .trigger_price
            .as_deref()
            .map(|p| spec.parse_price(p).map_err(Reject::trigger))
            .transpose()?;
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
        Ok((price, qty, trigger))
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

/// `PUT /markets/{symbol}/margin_mode` (docs/RULES.md §3a).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarginModeChange {
    /// `cross` or `isolated`
    #[schema(value_type = String, example = "isolated")]
    pub margin_mode: MarginMode,
}

/// `PUT /account/position_mode` (docs/RULES.md §3b).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionModeChange {
    /// `one_way` or `hedge`
    #[schema(value_type = String, example = "hedge")]
    pub position_mode: PositionMode,
}

/// Which way [`IsolatedMarginMove`] moves money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginDirection {
    /// From the cross wallet into the isolated wallet.
    Add,
    /// From the isolated wallet back to the cross wallet.
    Reduce,
}

/// `POST /markets/{symbol}/isolated_margin`: move `amount` into or out of the position's
/// isolated wallet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IsolatedMarginMove {
    /// A money amount (the grammar of deposits and withdrawals).
    pub amount: String,
    /// `add` (cross → isolated) or `reduce` (isolated → cross)
    #[schema(value_type = String, example = "add")]
    pub direction: MarginDirection,
    /// The position's leg: `both` (default; one-way mode), `long` or `short` (hedge mode).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub position_side: Option<PositionSide>,
}

impl IsolatedMarginMove {
    /// The signed amount the core moves: positive adds, negative reduces.
    pub fn signed_amount(&self, scale: u32) -> ApiResult<Decimal> {
        let amount = money(&self.amount, scale)?;
        Ok(match self.direction {
            MarginDirection::Add => amount,
            MarginDirection::Reduce => -amount,
        })
    }
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

/// A list route's `limit` query value: 1..=1000, `default` when absent.
pub fn page_limit(v: Option<usize>, default: usize) -> ApiResult<usize> {
    let limit = v.unwrap_or(default);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 1000"));
    }
    Ok(limit)
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
