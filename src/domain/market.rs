//! The validated specification of one market (built from `markets.toml` by `config.rs`), and
//! the entry checks that need only the spec and the mark price.
//!
//! # Invariants (established by `config.rs`, relied on everywhere)
//! - `tick_size`, `lot_size` > 0; `min_quantity` ≤ `max_quantity`, both whole lots.
//! - `risk_tiers` non-empty, strictly increasing in cap and maintenance rate, non-increasing in
//!   leverage; `maintenance_amount` derived per docs/RULES.md §3.

use std::time::Duration;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Price, Qty, Reject, Side};

/// Where a market's index price comes from (docs/RULES.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexSource {
    /// Pushed by the operator through the admin route.
    Oracle,
    /// An EMA of the book's own mid price.
    BookEma,
    /// A bounded deterministic random walk around `initial_index_price` (±2 %), computed from
    /// the time alone: a live market with no feed, for demos, trials and development. Operator
    /// pushes are accepted and re-centre the walk.
    Demo,
}

/// One notional bracket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskTier {
    pub notional_cap: Decimal,
    pub max_leverage: u32,
    pub maintenance_margin_rate: Decimal,
    /// Derived: `amount(n−1) + cap(n−1) × (mmr(n) − mmr(n−1))`, tier 1 = 0.
    pub maintenance_amount: Decimal,
}

/// Everything fixed about one market.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarketSpec {
    pub symbol: String,
    pub base_asset: String,
    pub quote_asset: String,
    pub tick_size: Decimal,
    pub lot_size: Decimal,
    pub min_quantity: Qty,
    pub max_quantity: Qty,
    pub min_notional: Decimal,
    pub price_band: Decimal,
    pub market_take_bound: Decimal,
    pub maker_fee: Decimal,
    pub taker_fee: Decimal,
    pub liquidation_fee: Decimal,
    pub default_leverage: u32,
    pub max_open_orders: u32,
    pub funding_interval: Duration,
    pub interest_rate: Decimal,
    pub funding_cap: Decimal,
    pub impact_notional: Decimal,
    pub index_source: IndexSource,
    pub initial_index_price: Decimal,
    pub index_stale_after: Duration,
    pub max_spread: Decimal,
    pub risk_tiers: Vec<RiskTier>,
    /// The market's name in the Binance USDⓈ-M dialect (`BTCUSDT`): unique, `^[A-Z0-9]{1,20}$`.
    pub binance_symbol: String,
}

/// The price limits a market order may fill within (docs/RULES.md §2), in ticks, derived from the
/// mark price once per mark update rather than once per order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TakeBounds {
    /// Highest price a market buy may pay: `floor(mark × (1 + bound) / tick)`.
    pub buy_max: Price,
    /// Lowest price a market sell may accept: `ceil(mark × (1 − bound) / tick)`.
    pub sell_min: Price,
}

impl TakeBounds {
    /// No limit at all (for tests and benchmarks of pure matching).
    pub const UNBOUNDED: TakeBounds = TakeBounds {
        buy_max: Price(i64::MAX),
        sell_min: Price(1),
    };

    /// The limit for a market order of `side`.
    #[inline]
    pub fn limit(&self, side: Side) -> Price {
        match side {
            Side::Buy => self.buy_max,
            Side::Sell => self.sell_min,
        }
    }

    /// These bounds with `side`'s limit tightened to `worst` (a per-order price protection),
    /// never loosened.
    #[inline]
    pub fn protected(self, side: Side, worst: Option<Price>) -> TakeBounds {
        match (side, worst) {
            (_, None) => self,
            (Side::Buy, Some(p)) => TakeBounds {
                buy_max: self.buy_max.min(p),
                ..self
            },
            (Side::Sell, Some(p)) => TakeBounds {
                sell_min: self.sell_min.max(p),
                ..self
            },
        }
    }
}

impl MarketSpec {
    /// The market's maximum leverage: its first tier's.
    pub fn max_leverage(&self) -> u32 {
        self.risk_tiers[0].max_leverage
    }

    pub fn price_decimal(&self, p: Price) -> Decimal {
        p.to_decimal(self.tick_size)
    }

    pub fn qty_decimal(&self, q: Qty) -> Decimal {
        q.to_decimal(self.lot_size)
    }

    /// Exact notional `price × quantity` in money.
    pub fn notional(&self, price: Price, qty: Qty) -> Decimal {
        self.price_decimal(price) * self.qty_decimal(qty)
    }

    /// `MIN_NOTIONAL` unless `price × qty ≥ min_notional`.
    pub fn check_min_notional(&self, price: Price, qty: Qty) -> Result<(), Reject> {
        if self.notional(price, qty) < self.min_notional {
            return Err(Reject::MinNotional);
        }
        Ok(())
    }

    /// `PRICE_OUT_OF_BAND` for a buy above `mark × (1 + band)` or a sell below
    /// `mark × (1 − band)`; the other directions cannot take and are allowed.
    pub fn check_band(&self, side: Side, price: Price, mark: Decimal) -> Result<(), Reject> {
        let limit = self.limit_around(side, mark, self.price_band);
        if side.accepts(limit.0, price.0) {
            Ok(())
        } else {
            Err(Reject::PriceOutOfBand)
        }
    }

    /// Market-order fill limits for the current mark.
    pub fn take_bounds(&self, mark: Decimal) -> TakeBounds {
        TakeBounds {
            buy_max: self.limit_around(Side::Buy, mark, self.market_take_bound),
            sell_min: self.limit_around(Side::Sell, mark, self.market_take_bound),
        }
    }

    /// The tick limit `mark × (1 ± frac)`, rounded inward so that comparing an integer tick
    /// price with it is exactly comparing with the decimal bound: floor for buys, ceil for sells.
    fn limit_around(&self, side: Side, mark: Decimal, frac: Decimal) -> Price {
        let ticks = match side {
            Side::Buy => (mark * (Decimal::ONE + frac) / self.tick_size).floor(),
            Side::Sell => (mark * (Decimal::ONE - frac) / self.tick_size).ceil(),
        };
        // A bound beyond i64 ticks is no bound; below one tick, one tick is the floor.
        Price(ticks.to_i64().unwrap_or(i64::MAX).max(1))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::str::FromStr;

    pub fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// A BTC-like spec for unit tests: tick 0.1, lot 0.001.
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
            risk_tiers: vec![RiskTier {
                notional_cap: d("50000"),
                max_leverage: 100,
                maintenance_margin_rate: d("0.004"),
                maintenance_amount: d("0"),
            }],
            binance_symbol: "BTCUSDT".into(),
        }
    }

    #[test]
    fn parse_price_rejects_off_tick_and_garbage() {
        let s = btc();
        assert_eq!(s.parse_price("50000.10"), Ok(Price(500001)));
        assert_eq!(
            s.parse_price("50000.05").unwrap_err().code(),
            "INVALID_PRICE"
        );
        assert_eq!(s.parse_price("abc").unwrap_err().code(), "INVALID_PRICE");
        assert_eq!(s.parse_price("-5").unwrap_err().code(), "INVALID_PRICE");
    }

    #[test]
    fn parse_qty_enforces_lot_and_bounds() {
        let s = btc();
        assert_eq!(s.parse_qty("0.5"), Ok(Qty(500)));
        assert_eq!(
            s.parse_qty("0.0005").unwrap_err().code(),
            "INVALID_QUANTITY"
        );
        assert_eq!(
            s.parse_qty("1000.001").unwrap_err().code(),
            "INVALID_QUANTITY"
        );
        assert_eq!(s.parse_qty("0").unwrap_err().code(), "INVALID_QUANTITY");
    }

    #[test]
    fn band_is_exact_at_the_edge() {
        let s = btc();
        let mark = d("50000");
        // 50000 × 1.05 = 52500.0 exactly: allowed; one tick more is not.
        assert!(s.check_band(Side::Buy, Price(525000), mark).is_ok());
        assert_eq!(
            s.check_band(Side::Buy, Price(525001), mark),
            Err(Reject::PriceOutOfBand)
        );
        // 50000 × 0.95 = 47500.0: allowed; one tick less is not.
        assert!(s.check_band(Side::Sell, Price(475000), mark).is_ok());
        assert_eq!(
            s.check_band(Side::Sell, Price(474999), mark),
            Err(Reject::PriceOutOfBand)
        );
        // A deep bid or a high ask cannot take: always allowed.
        assert!(s.check_band(Side::Buy, Price(1), mark).is_ok());
        assert!(s.check_band(Side::Sell, Price(10_000_000), mark).is_ok());
    }

    #[test]
    fn take_bounds_round_inward() {
        let s = btc();
        // 50000.03 × 1.05 = 52500.0315 → floor 525000 ticks; × 0.95 = 47500.0285 → ceil 475001.
        let b = s.take_bounds(d("50000.03"));
        assert_eq!(b.buy_max, Price(525000));
        assert_eq!(b.sell_min, Price(475001));
    }

    #[test]
    fn min_notional_uses_exact_product() {
        let s = btc();
        assert!(s.check_min_notional(Price(50000), Qty(1)).is_ok()); // 5000.0 × 0.001 = 5
        assert_eq!(
            s.check_min_notional(Price(49999), Qty(1)),
            Err(Reject::MinNotional)
        );
    }
}
