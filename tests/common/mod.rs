//! Shared builders for the risk and ledger tests: market specs, decimals, trades.
#![allow(dead_code, clippy::too_many_arguments)]

pub mod reference_book;

use std::str::FromStr;
use std::time::Duration;

use perpx::domain::{
    AccountId, IndexSource, Maker, MarketSpec, OrderId, Price, Qty, RiskTier, Side, Timestamp,
    Trade, TradeId,
};
use perpx::engine::{FillKind, Ledger, LedgerEvent};
use perpx::risk::MarketId;
use rust_decimal::Decimal;

pub const BTC: MarketId = MarketId(0);

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("test literal is a decimal")
}

pub fn tier(cap: &str, lev: u32, mmr: &str, amount: &str) -> RiskTier {
    RiskTier {
        notional_cap: d(cap),
        max_leverage: lev,
        maintenance_margin_rate: d(mmr),
        maintenance_amount: d(amount),
    }
}

/// A BTC-like market: tick 0.1, lot 0.001, two tiers (100x 0.4 % to 50k; 50x 0.5 % to 250k,
/// amount 50), maker 0.02 %, taker 0.05 %, liquidation fee 1.25 %, default leverage 20.
pub fn btc() -> MarketSpec {
    MarketSpec {
        symbol: "BTC-PERP".into(),
        base_asset: "BTC".into(),
        quote_asset: "USDT".into(),
        tick_size: d("0.1"),
        lot_size: d("0.001"),
        min_quantity: Qty(1),
        max_quantity: Qty(1_000_000),
        min_notional: d("5"),
        price_band: d("0.05"),
        market_take_bound: d("0.05"),
        maker_fee: d("0.0002"),
        taker_fee: d("0.0005"),
        liquidation_fee: d("0.0125"),
        default_leverage: 20,
        max_open_orders: 200,
        funding_interval: Duration::from_secs(8 * 3600),
        interest_rate: d("0.0001"),
        funding_cap: d("0.003"),
        impact_notional: d("10000"),
        index_source: IndexSource::Oracle,
        initial_index_price: d("50000"),
        index_stale_after: Duration::from_secs(60),
        max_spread: d("0.01"),
        risk_tiers: vec![
            tier("50000", 100, "0.004", "0"),
            tier("250000", 50, "0.005", "50"),
        ],
        binance_symbol: "BTCUSDT".into(),
    }
}

/// [`btc`] without trading fees.
pub fn btc_no_fees() -> MarketSpec {
    MarketSpec {
        maker_fee: Decimal::ZERO,
        taker_fee: Decimal::ZERO,
        ..btc()
    }
}

/// A trade of `lots` at `price` ticks: `taker` on `taker_side` against `maker`.
#[allow(clippy::too_many_arguments)] // a trade has this many fields
pub fn trade(
    id: u64,
    taker: AccountId,
    taker_order: u64,
    taker_side: Side,
    maker: AccountId,
    maker_order: u64,
    price: i64,
    lots: i64,
) -> Trade {
    Trade {
        maker_position: Default::default(),
        taker_position: Default::default(),
        trade_id: TradeId(id),
        price: Price(price),
        qty: Qty(lots),
        taker_side,
        taker_order: OrderId(taker_order),
        taker_account: taker,
        maker: Maker {
            order_id: OrderId(maker_order),
            account: maker,
            remaining: Qty(0),
        },
    }
}

/// Open `ids` with `deposit` each.
pub fn accounts(l: &mut Ledger, ids: &[u64], deposit: &str) -> Vec<LedgerEvent> {
    let mut out = Vec::new();
    for &id in ids {
        l.open_account(AccountId(id), Timestamp(0), &mut out)
            .expect("fresh id");
        l.deposit(AccountId(id), d(deposit), Timestamp(0), &mut out)
            .expect("positive deposit");
    }
    out
}

/// Settle a plain fill (no holds) between two accounts.
#[allow(clippy::too_many_arguments)] // mirrors `trade`
pub fn fill(
    l: &mut Ledger,
    market: MarketId,
    taker: u64,
    side: Side,
    maker: u64,
    price: i64,
    lots: i64,
    out: &mut Vec<LedgerEvent>,
) {
    let t = trade(
        0,
        AccountId(taker),
        0,
        side,
        AccountId(maker),
        0,
        price,
        lots,
    );
    l.settle_fill(market, &t, FillKind::Normal, Timestamp(0), out)
        .expect("both accounts exist");
}
