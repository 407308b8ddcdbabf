//! Binance wire objects built from native records: the order object, the user trade, enum
//! spellings, decimals.
//!
//! # Invariants
//! - Pure functions of the native record and the market spec: nothing here computes a figure
//!   the native API does not have (sums of exact decimals are exact).
//! - Prices keep the tick's scale (`"50000.0"`), quantities and money are normalized decimal
//!   strings, ids and times integers, as in the native API; absent prices are `"0"`.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{
    CloseReason, MarketSpec, OrderStatus, OrderType, PositionSide, Price, Qty, Side, Stp,
    TimeInForce, TriggerBy,
};
use crate::engine::orders::{Liquidity, OrderFill, OrderRecord};

/// A normalized decimal string.
pub fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

pub fn px(spec: &MarketSpec, p: Price) -> String {
    spec.price_decimal(p).to_string()
}

pub fn qty(spec: &MarketSpec, q: Qty) -> String {
    q.text(spec.lot_size)
}

/// `price × qty` summed in ticks × lots, as money.
pub fn quote(spec: &MarketSpec, ticks_lots: i128) -> String {
    dec(Decimal::from_i128_with_scale(ticks_lots, 0) * spec.tick_size * spec.lot_size)
}

pub fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// `positionSide` / `ps`: `BOTH` (one-way mode), `LONG` or `SHORT` (hedge mode).
pub fn position_side(s: PositionSide) -> &'static str {
    match s {
        PositionSide::Both => "BOTH",
        PositionSide::Long => "LONG",
        PositionSide::Short => "SHORT",
    }
}

pub fn order_type(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "LIMIT",
        OrderType::Market => "MARKET",
        OrderType::StopMarket => "STOP_MARKET",
        OrderType::StopLimit => "STOP",
        OrderType::TakeProfitMarket => "TAKE_PROFIT_MARKET",
        OrderType::TakeProfitLimit => "TAKE_PROFIT",
    }
}

pub fn tif(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::PostOnly => "GTX",
    }
}

pub fn stp(s: Stp) -> &'static str {
    match s {
        Stp::None => "NONE",
        Stp::ExpireTaker => "EXPIRE_TAKER",
        Stp::ExpireMaker => "EXPIRE_MAKER",
        Stp::ExpireBoth => "EXPIRE_BOTH",
    }
}

pub fn working_type(t: TriggerBy) -> &'static str {
    match t {
        TriggerBy::Last => "CONTRACT_PRICE",
        TriggerBy::Mark => "MARK_PRICE",
    }
}

/// Binance's order status. An untriggered conditional order is `NEW` (as on Binance); an
/// order expired by self-trade prevention is `EXPIRED_IN_MATCH`.
pub fn status(s: OrderStatus, reason: Option<CloseReason>) -> &'static str {
    match s {
        OrderStatus::New | OrderStatus::Untriggered => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Cancelled => "CANCELED",
        OrderStatus::Expired if reason == Some(CloseReason::SelfTrade) => "EXPIRED_IN_MATCH",
        OrderStatus::Expired => "EXPIRED",
    }
}

/// The user-data stream's expiry reason `er` (0 none, 1 STP, 2 IOC, 4 reduce-only — also a
/// close-position or TP/SL order removed with its position, its pair or its entry —, 5
/// liquidation, 9 market remainder).
pub fn expiry_reason(r: Option<CloseReason>) -> u8 {
    match r {
        None | Some(CloseReason::User) => 0,
        Some(CloseReason::SelfTrade) => 1,
        Some(CloseReason::IocRemainder) | Some(CloseReason::FokUnfillable) => 2,
        Some(CloseReason::ReduceOnly)
        | Some(CloseReason::PositionClosed)
        | Some(CloseReason::Oco)
        | Some(CloseReason::EntryUnfilled) => 4,
        Some(CloseReason::Liquidation) => 5,
        Some(CloseReason::MarketRemainder) => 9,
    }
}

/// The prefix of the client order id shown for an order placed without one.
pub const IMPLICIT_CLIENT_ID: &str = "perpx-";

/// A client order id for display: Binance names every order, so one placed without a client
/// id shows `perpx-<orderId>` (and can be looked up by it, see `orders::resolve`).
pub fn client_id(r: &OrderRecord) -> String {
    r.client_order_id
        .clone()
        .unwrap_or_else(|| format!("{IMPLICIT_CLIENT_ID}{}", r.order.order_id.0))
}

/// The order id an implicit client id (`perpx-<orderId>`) stands for.
pub fn implicit_order_id(client_id: &str) -> Option<u64> {
    client_id.strip_prefix(IMPLICIT_CLIENT_ID)?.parse().ok()
}

/// The Binance order object (`POST/GET/DELETE /fapi/v1/order`, `openOrders`, `allOrders`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: u64,
    pub symbol: String,
    pub status: &'static str,
    pub client_order_id: String,
    pub price: String,
    pub avg_price: String,
    pub orig_qty: String,
    pub executed_qty: String,
    pub cum_qty: String,
    pub cum_quote: String,
    pub time_in_force: &'static str,
    #[serde(rename = "type")]
    pub order_type: &'static str,
    pub reduce_only: bool,
    pub close_position: bool,
    pub side: &'static str,
    pub position_side: &'static str,
    pub stop_price: String,
    pub working_type: &'static str,
    pub price_protect: bool,
    pub orig_type: &'static str,
    pub price_match: &'static str,
    pub self_trade_prevention_mode: &'static str,
    pub good_till_date: u64,
    pub time: u64,
    pub update_time: u64,
}

/// The average fill price (`"0"` before the first fill).
pub fn avg_price(spec: &MarketSpec, r: &OrderRecord, scale: u32) -> String {
    r.average_price(spec.tick_size, scale)
        .map_or_else(|| "0".to_owned(), dec)
}

pub fn order(spec: &MarketSpec, r: &OrderRecord, scale: u32) -> Order {
    let t = order_type(r.order.terms.order_type);
    Order {
        order_id: r.order.order_id.0,
        symbol: spec.binance_symbol.clone(),
        status: status(r.status, r.reason),
        client_order_id: client_id(r),
        price: r
            .order
            .terms
            .price
            .map_or_else(|| "0".to_owned(), |p| px(spec, p)),
        avg_price: avg_price(spec, r, scale),
        orig_qty: qty(spec, r.order.terms.qty),
        executed_qty: qty(spec, r.filled),
        cum_qty: qty(spec, r.filled),
        cum_quote: quote(spec, r.filled_ticks_lots),
        time_in_force: tif(r.order.terms.tif),
        order_type: t,
        reduce_only: r.order.terms.reduce_only,
        close_position: r.order.terms.close_position,
        side: side(r.order.terms.side),
        position_side: position_side(r.order.terms.position_side),
        stop_price: r
            .order
            .terms
            .trigger_price
            .map_or_else(|| "0".to_owned(), |p| px(spec, p)),
        working_type: working_type(r.order.terms.trigger_by),
        price_protect: false,
        orig_type: t,
        price_match: "NONE",
        self_trade_prevention_mode: stp(r.order.terms.stp),
        good_till_date: 0,
        time: r.created_at.0,
        update_time: r.updated_at.0,
    }
}

/// One fill as `GET /fapi/v1/userTrades` shows it (`position_side`: the leg of its order).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTrade {
    pub buyer: bool,
    pub commission: String,
    pub commission_asset: String,
    pub id: u64,
    pub maker: bool,
    pub order_id: u64,
    pub price: String,
    pub qty: String,
    pub quote_qty: String,
    pub realized_pnl: String,
    pub side: &'static str,
    pub position_side: &'static str,
    pub symbol: String,
    pub time: u64,
}

pub fn user_trade(
    spec: &MarketSpec,
    f: &OrderFill,
    leg: PositionSide,
    margin_asset: &str,
) -> UserTrade {
    UserTrade {
        buyer: f.side == Side::Buy,
        commission: dec(f.fee.0),
        commission_asset: margin_asset.to_owned(),
        id: f.trade_id.0,
        maker: f.liquidity == Liquidity::Maker,
        order_id: f.order_id.0,
        price: px(spec, f.price),
        qty: qty(spec, f.qty),
        quote_qty: dec(spec.notional(f.price, f.qty)),
        realized_pnl: dec(f.realized_pnl.0),
        side: side(f.side),
        position_side: position_side(leg),
        symbol: spec.binance_symbol.clone(),
        time: f.time.0,
    }
}
