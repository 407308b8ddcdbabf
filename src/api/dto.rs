//! Wire types of spec/API.md. Requests deny unknown fields and convert into domain types only
//! through the checked constructors (off-tick, off-lot or over-precise input is rejected,
//! never rounded). Responses carry prices, quantities and money as decimal strings.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use crate::actors::messages::OrderRequest;
use crate::domain::{
    MarketSpec, OrderStatus, OrderType, Price, Qty, Reject, Side, Stp, TimeInForce, TriggerBy,
};
use crate::engine::orders::{Liquidity, OrderFill, OrderRecord};
use crate::engine::{AccountView, PositionView};

/// Parse a JSON body into `T`, every failure a 400 `INVALID_REQUEST` naming the problem.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

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
    pub leverage: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountBody {
    pub amount: String,
}

/// A positive money amount, at most `scale` decimals (never rounded).
pub fn money(s: &str, scale: u32) -> ApiResult<Decimal> {
    let d: Decimal = s
        .parse()
        .map_err(|_| ApiError::invalid(format!("amount {s:?} is not a decimal")))?;
    if d <= Decimal::ZERO || d.normalize().scale() > scale {
        return Err(ApiError::invalid(format!(
            "amount must be positive with at most {scale} decimals"
        )));
    }
    Ok(d)
}

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

// ------------------------------------------------------------------ responses

/// A decimal as the API writes money and rates: normalized (`1.50` → `"1.5"`).
pub fn decimal(d: Decimal) -> String {
    n(d)
}

fn n(d: Decimal) -> String {
    d.normalize().to_string()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Tier {
    pub notional_cap: String,
    pub max_leverage: u32,
    pub maintenance_margin_rate: String,
    pub maintenance_amount: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarketSpecDto {
    pub symbol: String,
    pub base_asset: String,
    pub quote_asset: String,
    pub tick_size: String,
    pub lot_size: String,
    pub min_quantity: String,
    pub max_quantity: String,
    pub min_notional: String,
    pub max_leverage: u32,
    pub default_leverage: u32,
    pub maker_fee: String,
    pub taker_fee: String,
    pub liquidation_fee: String,
    pub funding_interval_ms: u64,
    pub price_band: String,
    pub market_take_bound: String,
    pub risk_tiers: Vec<Tier>,
}

impl MarketSpecDto {
    pub fn new(s: &MarketSpec) -> MarketSpecDto {
        MarketSpecDto {
            symbol: s.symbol.clone(),
            base_asset: s.base_asset.clone(),
            quote_asset: s.quote_asset.clone(),
            tick_size: n(s.tick_size),
            lot_size: n(s.lot_size),
            min_quantity: n(s.qty_decimal(s.min_quantity)),
            max_quantity: n(s.qty_decimal(s.max_quantity)),
            min_notional: n(s.min_notional),
            max_leverage: s.max_leverage(),
            default_leverage: s.default_leverage,
            maker_fee: n(s.maker_fee),
            taker_fee: n(s.taker_fee),
            liquidation_fee: n(s.liquidation_fee),
            funding_interval_ms: s.funding_interval.as_millis() as u64,
            price_band: n(s.price_band),
            market_take_bound: n(s.market_take_bound),
            risk_tiers: s
                .risk_tiers
                .iter()
                .map(|t| Tier {
                    notional_cap: n(t.notional_cap),
                    max_leverage: t.max_leverage,
                    maintenance_margin_rate: n(t.maintenance_margin_rate),
                    maintenance_amount: n(t.maintenance_amount),
                })
                .collect(),
        }
    }
}

/// Market spec plus live state (`GET /markets/{symbol}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketDto {
    #[serde(flatten)]
    pub spec: MarketSpecDto,
    pub mark_price: Option<String>,
    pub index_price: Option<String>,
    pub last_price: Option<String>,
    pub best_bid: Option<String>,
    pub best_ask: Option<String>,
    pub funding_rate: Option<String>,
    pub last_funding_rate: Option<String>,
    pub next_funding_time: Option<u64>,
    pub open_interest: String,
    pub volume_24h: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FillDto {
    pub trade_id: u64,
    pub order_id: u64,
    pub symbol: String,
    #[schema(value_type = String, example = "buy")]
    pub side: Side,
    pub price: String,
    pub quantity: String,
    pub fee: String,
    /// `maker` or `taker`
    #[schema(value_type = String)]
    pub liquidity: Liquidity,
    pub realized_pnl: String,
    pub time: u64,
}

impl FillDto {
    pub fn new(spec: &MarketSpec, f: &OrderFill) -> FillDto {
        FillDto {
            trade_id: f.trade_id.0,
            order_id: f.order_id.0,
            symbol: spec.symbol.clone(),
            side: f.side,
            price: spec.price_decimal(f.price).to_string(),
            quantity: n(spec.qty_decimal(f.qty)),
            fee: n(f.fee.0),
            liquidity: f.liquidity,
            realized_pnl: n(f.realized_pnl.0),
            time: f.time.0,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    pub order_id: u64,
    pub client_order_id: Option<String>,
    pub symbol: String,
    #[schema(value_type = String, example = "buy")]
    pub side: Side,
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "limit")]
    pub order_type: OrderType,
    #[schema(value_type = String, example = "gtc")]
    pub time_in_force: TimeInForce,
    pub price: Option<String>,
    pub trigger_price: Option<String>,
    #[schema(value_type = String, example = "last")]
    pub trigger_by: TriggerBy,
    pub quantity: String,
    pub filled_quantity: String,
    pub remaining_quantity: String,
    pub average_price: Option<String>,
    /// `new|partially_filled|filled|cancelled|expired|untriggered`
    #[schema(value_type = String, example = "new")]
    pub status: OrderStatus,
    /// for `cancelled`/`expired`: `user|ioc_remainder|fok_unfillable|market_remainder|self_trade|reduce_only|liquidation`
    #[schema(value_type = Option<String>)]
    pub reason: Option<crate::domain::CloseReason>,
    pub reduce_only: bool,
    #[schema(value_type = String, example = "expire_maker")]
    pub stp: Stp,
    pub created_at: u64,
    pub updated_at: u64,
    /// In REST answers: the fills this request produced (POST/PATCH) or all fills (GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fills: Option<Vec<FillDto>>,
}

impl OrderDto {
    /// The order object; `fills`: `Some` for REST (this request's or all), `None` for WS.
    pub fn new(
        spec: &MarketSpec,
        r: &OrderRecord,
        fills: Option<&[OrderFill]>,
        scale: u32,
    ) -> OrderDto {
        let px = |p: Price| spec.price_decimal(p).to_string();
        OrderDto {
            order_id: r.order_id.0,
            client_order_id: r.client_order_id.clone(),
            symbol: spec.symbol.clone(),
            side: r.side,
            order_type: r.order_type,
            time_in_force: r.tif,
            price: r.price.map(px),
            trigger_price: r.trigger_price.map(px),
            trigger_by: r.trigger_by,
            quantity: n(spec.qty_decimal(r.qty)),
            filled_quantity: n(spec.qty_decimal(r.filled)),
            remaining_quantity: n(spec.qty_decimal(r.remaining)),
            average_price: r
                .average_price(spec.tick_size, scale)
                .map(|d| d.to_string()),
            status: r.status,
            reason: r.reason,
            reduce_only: r.reduce_only,
            stp: r.stp,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
            fills: fills.map(|f| f.iter().map(|f| FillDto::new(spec, f)).collect()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PositionDto {
    pub symbol: String,
    pub quantity: String,
    pub entry_price: String,
    pub mark_price: String,
    pub notional: String,
    pub unrealized_pnl: String,
    pub realized_pnl: String,
    pub leverage: u32,
    pub initial_margin: String,
    pub maintenance_margin: String,
    pub liquidation_price: Option<String>,
    pub funding_paid: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDto {
    pub account_id: u64,
    pub margin_asset: String,
    pub wallet_balance: String,
    pub unrealized_pnl: String,
    pub margin_balance: String,
    pub position_margin: String,
    pub order_margin: String,
    pub maintenance_margin: String,
    pub available_balance: String,
    pub withdrawable: String,
    pub margin_ratio: Option<String>,
    pub in_liquidation: bool,
    pub positions: Vec<PositionDto>,
}

impl AccountDto {
    pub fn new(v: &AccountView, specs: &[MarketSpec], margin_asset: &str) -> AccountDto {
        let pos = |p: &PositionView| {
            let spec = &specs[p.market.index()];
            PositionDto {
                symbol: spec.symbol.clone(),
                quantity: n(Decimal::from(p.quantity) * spec.lot_size),
                entry_price: n(p.entry_price),
                mark_price: n(p.mark_price),
                notional: n(p.notional),
                unrealized_pnl: n(p.unrealized_pnl),
                realized_pnl: n(p.realized_pnl),
                leverage: p.leverage,
                initial_margin: n(p.initial_margin),
                maintenance_margin: n(p.maintenance_margin),
                liquidation_price: p.liquidation_price.map(n),
                funding_paid: n(p.funding_paid),
            }
        };
        AccountDto {
            account_id: v.account_id.0,
            margin_asset: margin_asset.to_owned(),
            wallet_balance: n(v.wallet_balance),
            unrealized_pnl: n(v.unrealized_pnl),
            margin_balance: n(v.margin_balance),
            position_margin: n(v.position_margin),
            order_margin: n(v.order_margin),
            maintenance_margin: n(v.maintenance_margin),
            available_balance: n(v.available_balance),
            withdrawable: n(v.withdrawable),
            margin_ratio: v.margin_ratio.map(n),
            in_liquidation: v.in_liquidation,
            positions: v.positions.iter().map(pos).collect(),
        }
    }
}

// ------------------------------------------------------------------ small response bodies

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub markets: usize,
    pub uptime_ms: u64,
}

/// `GET /book`: bids best (highest) first, asks best (lowest) first; `[price, quantity]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Book {
    pub symbol: String,
    pub sequence: u64,
    pub time: u64,
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TradeDto {
    pub trade_id: u64,
    pub price: String,
    pub quantity: String,
    #[schema(value_type = String, example = "buy")]
    pub taker_side: Side,
    pub time: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandleDto {
    pub open_time: u64,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
    pub trades: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FundingDto {
    pub time: u64,
    pub rate: String,
    pub mark_price: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    pub balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    pub cancelled: Vec<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeverageSet {
    pub symbol: String,
    pub leverage: u32,
    pub max_notional: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawal {
    pub amount: String,
    pub wallet_balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountCreated {
    pub account_id: u64,
    pub api_key: String,
    /// Shown once.
    pub api_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deposit {
    pub account_id: u64,
    pub wallet_balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndexSet {
    pub symbol: String,
    pub index_price: String,
    pub mark_price: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SolvencyDto {
    pub total_deposits: String,
    pub total_withdrawals: String,
    pub user_wallets: String,
    pub fee_account: String,
    pub insurance_fund: String,
    pub open_cost_basis: String,
    /// RULES.md §7.1 evaluated exactly.
    pub conserved: bool,
}

/// `{"error": {"code", "message"}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInner,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInner {
    /// A stable code from spec/API.md, e.g. `INSUFFICIENT_MARGIN`.
    pub code: String,
    pub message: String,
}
