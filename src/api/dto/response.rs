//! Response bodies: prices keep their tick's scale, quantities and money are normalized
//! decimal strings, ids and times integers.

use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::n;
use crate::domain::{
    MarginMode, MarketSpec, OrderStatus, OrderType, PositionMode, PositionSide, Price, Side, Stp,
    TimeInForce, TriggerBy,
};
use crate::engine::orders::{Liquidity, OrderFill, OrderRecord};
use crate::engine::{AccountView, PositionView};

// ------------------------------------------------------------------ responses

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
            min_quantity: s.min_quantity.text(s.lot_size),
            max_quantity: s.max_quantity.text(s.lot_size),
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
    /// The leg the fill moved (its order's): `both` (one-way), `long` or `short` (hedge mode).
    #[schema(value_type = String, example = "both")]
    pub position_side: PositionSide,
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
            position_side: f.position_side,
            price: spec.price_decimal(f.price).to_string(),
            quantity: f.qty.text(spec.lot_size),
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
    /// `both` (one-way mode), `long` or `short` (hedge mode): the position leg the order
    /// trades (docs/RULES.md §3b).
    #[schema(value_type = String, example = "both")]
    pub position_side: PositionSide,
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
    /// for `cancelled`/`expired`: `user|ioc_remainder|fok_unfillable|market_remainder|self_trade|reduce_only|liquidation|position_closed|oco|entry_unfilled`
    #[schema(value_type = Option<String>)]
    pub reason: Option<crate::domain::CloseReason>,
    pub reduce_only: bool,
    /// A close-position order (docs/RULES.md §2a): `quantity` is 0 until it fires, then the
    /// position it closed.
    pub close_position: bool,
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
            order_id: r.order.order_id.0,
            client_order_id: r.client_order_id.clone(),
            symbol: spec.symbol.clone(),
            side: r.order.terms.side,
            position_side: r.order.terms.position_side,
            order_type: r.order.terms.order_type,
            time_in_force: r.order.terms.tif,
            price: r.order.terms.price.map(px),
            trigger_price: r.order.terms.trigger_price.map(px),
            trigger_by: r.order.terms.trigger_by,
            quantity: r.order.terms.qty.text(spec.lot_size),
            filled_quantity: r.filled.text(spec.lot_size),
            remaining_quantity: r.remaining.text(spec.lot_size),
            average_price: r
                .average_price(spec.tick_size, scale)
                .map(|d| d.to_string()),
            status: r.status,
            reason: r.reason,
            reduce_only: r.order.terms.reduce_only,
            close_position: r.order.terms.close_position,
            stp: r.order.terms.stp,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
            fills: fills.map(|f| f.iter().map(|f| FillDto::new(spec, f)).collect()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PositionDto {
    pub symbol: String,
    /// `both` (one-way mode), `long` or `short` (a hedge-mode leg; docs/RULES.md §3b).
    #[schema(value_type = String, example = "both")]
    pub position_side: PositionSide,
    /// Signed: positive long, negative short (a `long` leg is never negative, a `short` one
    /// never positive).
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
    /// `cross` or `isolated` (docs/RULES.md §3a)
    #[schema(value_type = String, example = "cross")]
    pub margin_mode: MarginMode,
    /// The position's isolated wallet: its margin, fees, realized PnL and funding (`"0"` in
    /// cross mode).
    pub isolated_wallet: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDto {
    pub account_id: u64,
    pub margin_asset: String,
    /// The cross wallet plus every isolated wallet.
    pub wallet_balance: String,
    /// The cross wallet alone: what backs cross positions and every open order.
    pub cross_wallet_balance: String,
    pub unrealized_pnl: String,
    pub margin_balance: String,
    pub position_margin: String,
    pub order_margin: String,
    pub maintenance_margin: String,
    pub available_balance: String,
    pub withdrawable: String,
    pub margin_ratio: Option<String>,
    pub in_liquidation: bool,
    /// `one_way` or `hedge` (docs/RULES.md §3b; `PUT /account/position_mode`).
    #[schema(value_type = String, example = "one_way")]
    pub position_mode: PositionMode,
    /// Ascending by market (configuration order), then position side (`long` before `short`).
    pub positions: Vec<PositionDto>,
}

impl AccountDto {
    pub fn new(v: &AccountView, specs: &[MarketSpec], margin_asset: &str) -> AccountDto {
        let pos = |p: &PositionView| {
            let spec = &specs[p.market.index()];
            PositionDto {
                symbol: spec.symbol.clone(),
                position_side: p.position_side,
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
                margin_mode: p.margin_mode,
                isolated_wallet: n(p.isolated_wallet),
            }
        };
        AccountDto {
            account_id: v.account_id.0,
            margin_asset: margin_asset.to_owned(),
            wallet_balance: n(v.wallet_balance),
            cross_wallet_balance: n(v.cross_wallet_balance),
            unrealized_pnl: n(v.unrealized_pnl),
            margin_balance: n(v.margin_balance),
            position_margin: n(v.position_margin),
            order_margin: n(v.order_margin),
            maintenance_margin: n(v.maintenance_margin),
            available_balance: n(v.available_balance),
            withdrawable: n(v.withdrawable),
            margin_ratio: v.margin_ratio.map(n),
            in_liquidation: v.in_liquidation,
            position_mode: v.position_mode,
            positions: v.positions.iter().map(pos).collect(),
        }
    }
}
