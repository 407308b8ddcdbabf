//! Funding (docs/RULES.md §5): impact prices, premium samples, the rate, and per-position payments.
//!
//! # Invariants
//! - Premium samples are averaged with weights 1..n (the newest weighs most).
//! - `F = P̄ + clamp(I − P̄, −0.0005, +0.0005)`, scaled by `funding_interval / 8h`, clamped to
//!   `±funding_cap`, rounded half-even to [`RATE_SCALE`] decimals (a rate, not money).
//! - A position of `q` lots pays `q × mark × F` (F > 0: longs pay), rounded by
//!   [`money::charge`]: debits up, credits down. Since Σq = 0 in a market, the exact payments sum
//!   to zero, so the rounded ones sum to a residue ≥ 0 that goes to the insurance fund:
//!   payments plus residue are exactly zero.

use std::time::Duration;

use rust_decimal::{Decimal, RoundingStrategy};

use super::money;
use crate::domain::{Amount, Price, Qty, Timestamp};

/// Decimals of a funding rate.
pub const RATE_SCALE: u32 = 8;
/// The interest clamp `±0.0005` (docs/RULES.md §5).
pub const INTEREST_CLAMP: Decimal = Decimal::from_parts(5, 0, 0, false, 4);
/// The reference interval of `interest_rate` and of the premium: 8 hours.
pub const EIGHT_HOURS_MS: u64 = 8 * 3600 * 1000;

/// The average fill price of a market order of `notional` money walking `levels` (best first,
/// `(price ticks, qty lots)`), or `None` if the side is too thin. Exact (one final division).
pub fn impact_price(
    levels: impl IntoIterator<Item = (Price, Qty)>,
    notional: Decimal,
    tick: Decimal,
    lot: Decimal,
) -> Option<Decimal> {
    if notional <= Decimal::ZERO {
        return None;
    }
    let mut left = notional;
    let mut base = Decimal::ZERO;
    for (p, q) in levels {
        let price = p.to_decimal(tick);
        let level_base = q.to_decimal(lot);
        let level_notional = price * level_base;
        if level_notional >= left {
            // The last level fills partially: a fractional base amount is fine for a price.
            base += left / price;
            return Some(notional / base);
        }
        left -= level_notional;
        base += level_base;
    }
    None
}

/// The premium `(max(0, impact_bid − index) − max(0, index − impact_ask)) / index`.
pub fn premium(impact_bid: Decimal, impact_ask: Decimal, index: Decimal) -> Decimal {
    ((impact_bid - index).max(Decimal::ZERO) - (index - impact_ask).max(Decimal::ZERO)) / index
}

/// The premium samples of the current funding interval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PremiumSamples {
    samples: Vec<Decimal>,
    last: Option<Decimal>,
}

impl PremiumSamples {
    /// Record one sample; a side too thin (`None`) reuses the previous sample (0 if none yet).
    /// Returns the recorded premium.
    pub fn sample(
        &mut self,
        impact_bid: Option<Decimal>,
        impact_ask: Option<Decimal>,
        index: Decimal,
    ) -> Decimal {
        let p = match (impact_bid, impact_ask) {
            (Some(b), Some(a)) if index > Decimal::ZERO => premium(b, a, index),
            _ => self.last.unwrap_or(Decimal::ZERO),
        };
        self.samples.push(p);
        self.last = Some(p);
        p
    }

    /// `Σ i × P_i / Σ i` for i = 1..n; `None` without samples.
    pub fn weighted_average(&self) -> Option<Decimal> {
        if self.samples.is_empty() {
            return None;
        }
        let mut num = Decimal::ZERO;
        for (i, p) in self.samples.iter().enumerate() {
            num += Decimal::from(i as u64 + 1) * *p;
        }
        let n = self.samples.len() as u64;
        Some(num / Decimal::from(n * (n + 1) / 2))
    }

    /// Start a new interval (the last sample is kept for reuse).
    pub fn reset(&mut self) {
        self.samples.clear();
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// The funding rate of one interval (docs/RULES.md §5).
pub fn funding_rate(
    avg_premium: Decimal,
    interest_rate: Decimal,
    interval: Duration,
    cap: Decimal,
) -> Decimal {
    let f8 = avg_premium + (interest_rate - avg_premium).clamp(-INTEREST_CLAMP, INTEREST_CLAMP);
    let ms = Decimal::from(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX));
    let f = (f8 * ms / Decimal::from(EIGHT_HOURS_MS)).clamp(-cap, cap);
    f.round_dp_with_strategy(RATE_SCALE, RoundingStrategy::MidpointNearestEven)
}

/// What one lot pays at `mark` and `rate`: `lot × mark × rate` (exact).
#[inline]
pub fn per_lot(lot: Decimal, mark: Decimal, rate: Decimal) -> Decimal {
    lot * mark * rate
}

/// What a position of `qty` lots pays given [`per_lot`] (negative: receives), rounded so no
/// money is created.
#[inline]
pub fn payment(qty: i64, per_lot: Decimal, scale: u32) -> Amount {
    money::charge(Decimal::from(qty) * per_lot, scale)
}

/// [`payment`] prepared once per settlement: the same values, exactly (the same mantissa and
/// scale), computed in integers. `q × k` is exact in `Decimal`, and rounding it up to `scale`
/// decimals is a ceiling division of `q × mantissa(k)` by `10^(scale(k) − scale)`; a product
/// that would not fit falls back to [`payment`].
#[derive(Clone, Copy, Debug)]
pub struct Payments {
    per_lot: Decimal,
    scale: u32,
    mantissa: i128,
    /// `10^(scale(k) − scale)` when `k` has more decimals than `scale` (then the payment is
    /// rounded), else `None` (exact, at `k`'s own scale).
    divisor: Option<i128>,
    /// `10^(scale − scale(k))`: from `k`'s scale up to `scale` units (exact case only).
    up: i128,
}

impl Payments {
    pub fn new(per_lot: Decimal, scale: u32) -> Payments {
        let (mantissa, ks) = (per_lot.mantissa(), per_lot.scale());
        let pow = |e: u32| 10i128.checked_pow(e);
        let (divisor, up) = if ks > scale {
            (pow(ks - scale), 1)
        } else {
            (None, pow(scale - ks).unwrap_or(0))
        };
        Payments {
            per_lot,
            scale,
            mantissa,
            divisor: divisor.or((ks > scale).then_some(0)),
            up,
        }
    }

    /// What a position of `qty` lots pays (negative: receives), as [`payment`] rounds it, and
    /// the same amount in integer units of `10^-scale`.
    #[inline]
    pub fn of(&self, qty: i64) -> (Decimal, i128) {
        if let Some(p) = i128::from(qty).checked_mul(self.mantissa) {
            match self.divisor {
                // Rounded to `scale` decimals, toward +∞ (what `charge` does).
                Some(div) if div > 0 => {
                    let units = p / div + i128::from(p % div > 0);
                    if let Ok(d) = Decimal::try_from_i128_with_scale(units, self.scale) {
                        return (d, units);
                    }
                }
                // Exact: `k`'s own scale, as the `Decimal` product keeps it.
                None if self.up > 0 => {
                    if let (Ok(d), Some(units)) = (
                        Decimal::try_from_i128_with_scale(p, self.per_lot.scale()),
                        p.checked_mul(self.up),
                    ) {
                        return (d, units);
                    }
                }
                _ => {}
            }
        }
        let d = payment(qty, self.per_lot, self.scale).0;
        (d, money::units_ceil(d, self.scale))
    }
}

/// The first funding time strictly after `now` (multiples of the interval since the epoch).
pub fn next_funding_time(now: Timestamp, interval: Duration) -> Timestamp {
    let ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Timestamp((now.0 / ms + 1).saturating_mul(ms))
}

#[cfg(test)]
mod payments_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The integer route gives exactly `payment`'s value and scale (signs of zero aside),
        /// and its units are that value in `10^-scale`.
        #[test]
        fn payments_equal_the_decimal_route(
            // Products within `Decimal`'s 96 bits (beyond, `payment` itself overflows).
            qty in -(1i64 << 40)..(1i64 << 40),
            mantissa in -(1i64 << 50)..(1i64 << 50),
            kscale in 0u32..20,
            scale in 0u32..12,
        ) {
            let k = Decimal::new(mantissa, kscale);
            let (d, units) = Payments::new(k, scale).of(qty);
            let want = payment(qty, k, scale).0;
            prop_assert_eq!(d, want);
            if !want.is_zero() {
                prop_assert_eq!(d.scale(), want.scale());
            }
            // `units_ceil` saturates where the units would not fit a `Decimal` mantissa (96
            // bits); the integer route is exact there (either way the cushion goes ≤ 0).
            if units.unsigned_abs() < (1u128 << 95) {
                prop_assert_eq!(units, money::units_ceil(want, scale));
            }
        }
    }

    #[test]
    fn typical_settlements_take_the_integer_route_with_the_same_results() {
        // BTC: lot 0.001 × mark 50,000 × rate 0.00012345 (k has 8 decimals, money 8: exact);
        // a rate with more decimals (rounded up, credits down).
        for (rate, scale) in [
            ("0.00012345", 8),
            ("-0.0001", 8),
            ("0.000123456789", 8),
            ("0.01", 2),
        ] {
            let k = per_lot(
                Decimal::new(1, 3),
                Decimal::from(50_000),
                rate.parse().unwrap(),
            );
            let p = Payments::new(k, scale);
            for q in [-1_000_000i64, -7, -1, 0, 1, 3, 999_999] {
                let (d, units) = p.of(q);
                assert_eq!(d, payment(q, k, scale).0, "rate {rate} q {q}");
                assert_eq!(units, money::units_ceil(d, scale));
            }
        }
    }
}
