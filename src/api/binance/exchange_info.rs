//! `GET /fapi/v1/exchangeInfo`: every market as a Binance USDⓈ-M perpetual with its filters,
//! built from the market specs.
//!
//! # Invariants
//! - Filters state exactly the rules the order path enforces: PRICE_FILTER (tick, any positive
//!   price a tick count can hold), LOT_SIZE and MARKET_LOT_SIZE (the same lot and bounds: perpx
//!   has one quantity range), MIN_NOTIONAL, PERCENT_PRICE (the band around mark), the
//!   open-order limit.
//! - `orderTypes` and `timeInForce` list only what the order path accepts (ccxt refuses to
//!   send a type not listed).

use actix_web::{web, HttpRequest, HttpResponse};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::errors::BnResult;
use super::market::{now, public};
use super::ok;
use super::render::{dec, qty};
use crate::api::State;
use crate::domain::{MarketSpec, Price};

/// Binance's delivery date for perpetuals (2100-12-25), which ccxt reads as "no expiry".
const PERPETUAL_DELIVERY: u64 = 4_133_404_800_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v1/exchangeInfo").get(exchange_info));
}

fn precision(d: Decimal) -> u32 {
    d.normalize().scale()
}

fn symbol(spec: &MarketSpec, onboard: u64) -> Value {
    let band = spec.price_band;
    let t1 = &spec.risk_tiers[0];
    let lot = |q| qty(spec, q);
    let lot_filter = |kind: &str| {
        json!({"filterType": kind, "minQty": lot(spec.min_quantity),
               "maxQty": lot(spec.max_quantity), "stepSize": dec(spec.lot_size)})
    };
    json!({
        "symbol": spec.binance_symbol,
        "pair": spec.binance_symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY,
        "onboardDate": onboard,
        "status": "TRADING",
        "maintMarginPercent": dec(t1.maintenance_margin_rate * Decimal::ONE_HUNDRED),
        "requiredMarginPercent": dec(Decimal::ONE_HUNDRED / Decimal::from(t1.max_leverage)),
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": precision(spec.tick_size),
        "quantityPrecision": precision(spec.lot_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0",
        "liquidationFee": dec(spec.liquidation_fee),
        "marketTakeBound": dec(spec.market_take_bound),
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": dec(spec.tick_size),
             "maxPrice": dec(spec.price_decimal(Price(i64::MAX))), "tickSize": dec(spec.tick_size)},
            lot_filter("LOT_SIZE"),
            lot_filter("MARKET_LOT_SIZE"),
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_open_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": spec.max_open_orders},
            {"filterType": "MIN_NOTIONAL", "notional": dec(spec.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": dec(Decimal::ONE + band),
             "multiplierDown": dec(Decimal::ONE - band), "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    })
}

async fn exchange_info(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    public(&st, &req)?.finish()?;
    let t = now(&st);
    // perpx keeps no listing date: markets are listed since the server started.
    let onboard = t.saturating_sub(st.started.elapsed().as_millis() as u64);
    let (per_key, per_ip) = st.limits.rates;
    let limit = |what: &str, interval: &str, n: u32, limit: u32| json!({"rateLimitType": what, "interval": interval, "intervalNum": n, "limit": limit});
    // Binance's three (`super::limits`: weight per IP and minute, orders per account and
    // 10 s and minute), then the native per-second buckets when set: requests per IP, and
    // signed requests per API key.
    let caps = st.binance.limits.caps;
    let mut limits: Vec<Value> = [
        ("REQUEST_WEIGHT", "MINUTE", 1, caps.weight_per_minute),
        ("ORDERS", "SECOND", 10, caps.orders_per_10s),
        ("ORDERS", "MINUTE", 1, caps.orders_per_minute),
    ]
    .into_iter()
    .filter(|l| l.3 > 0)
    .map(|(what, interval, n, cap)| limit(what, interval, n, cap))
    .collect();
    limits.extend(
        [per_ip, per_key]
            .into_iter()
            .filter(|&n| n > 0)
            .map(|n| limit("RAW_REQUESTS", "SECOND", 1, n)),
    );
    ok(&json!({
        "timezone": "UTC",
        "serverTime": t,
        "futuresType": "U_MARGINED",
        "rateLimits": limits,
        "exchangeFilters": [],
        "assets": [{"asset": st.margin_asset, "marginAvailable": true, "autoAssetExchange": "0"}],
        "symbols": st.ex.specs.iter().map(|s| symbol(s, onboard)).collect::<Vec<_>>(),
    }))
}
