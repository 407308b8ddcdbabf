//! A type per unit: [`Price`] in integer ticks, [`Qty`] in integer lots, [`Amount`] of money.
//!
//! # Invariants
//! - A `Price` or `Qty` built by [`from_decimal`](Price::from_decimal) is exactly
//!   `n × step` of the input: off-step or over-precise input is rejected, never rounded.
//! - Money rounding happens only here ([`Amount::round_up`], [`Amount::round_down`]), in the
//!   direction the caller names; the risk core decides which direction never creates money.

use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// A price in integer ticks of its market (`tick_size`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Price(pub i64);

/// A quantity in integer lots of its market (`lot_size`). Signed where it is a position.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Qty(pub i64);

/// `value / step` as an integer, if `value` is a positive exact multiple of `step` that fits.
/// The product is re-checked so no precision loss in the division can slip through.
fn exact_steps(value: Decimal, step: Decimal) -> Option<i64> {
    if value <= Decimal::ZERO || step <= Decimal::ZERO {
        return None;
    }
    let n = value.checked_div(step)?;
    if !n.fract().is_zero() {
        return None;
    }
    let n = n.to_i64()?;
    (Decimal::from(n).checked_mul(step)? == value).then_some(n)
}

impl Price {
    /// Ticks of `tick` in `value`; `None` if not positive, off tick, or out of range.
    pub fn from_decimal(value: Decimal, tick: Decimal) -> Option<Price> {
        exact_steps(value, tick).map(Price)
    }

    /// The decimal price, with the tick's scale (`500001` ticks of `0.1` is `50000.1`).
    pub fn to_decimal(self, tick: Decimal) -> Decimal {
        Decimal::from(self.0) * tick
    }

    #[inline]
    pub fn ticks(self) -> i64 {
        self.0
    }
}

impl Qty {
    pub const ZERO: Qty = Qty(0);

    /// Lots of `lot` in `value`; `None` if not positive, off lot, or out of range.
    pub fn from_decimal(value: Decimal, lot: Decimal) -> Option<Qty> {
        exact_steps(value, lot).map(Qty)
    }

    /// The decimal quantity, with the lot's scale.
    pub fn to_decimal(self, lot: Decimal) -> Decimal {
        Decimal::from(self.0) * lot
    }

    /// The quantity as every API and export writes it: the decimal of lots of `lot`,
    /// normalized (`20` lots of `0.001` is `"0.02"`, not `"0.020"`; prices instead keep the
    /// tick's scale).
    pub fn text(self, lot: Decimal) -> String {
        self.to_decimal(lot).normalize().to_string()
    }

    #[inline]
    pub fn lots(self) -> i64 {
        self.0
    }

    #[inline]
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    #[inline]
    pub fn abs(self) -> Qty {
        Qty(self.0.abs())
    }

    #[inline]
    pub fn min(self, other: Qty) -> Qty {
        Qty(self.0.min(other.0))
    }
}

impl Add for Qty {
    type Output = Qty;
    #[inline]
    fn add(self, rhs: Qty) -> Qty {
        Qty(self.0 + rhs.0)
    }
}

impl Sub for Qty {
    type Output = Qty;
    #[inline]
    fn sub(self, rhs: Qty) -> Qty {
        Qty(self.0 - rhs.0)
    }
}

impl AddAssign for Qty {
    #[inline]
    fn add_assign(&mut self, rhs: Qty) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Qty {
    #[inline]
    fn sub_assign(&mut self, rhs: Qty) {
        self.0 -= rhs.0;
    }
}

impl Neg for Qty {
    type Output = Qty;
    #[inline]
    fn neg(self) -> Qty {
        Qty(-self.0)
    }
}

/// An amount of the margin asset. Exact decimal; see the module doc on rounding.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(#[serde(with = "super::dec")] pub Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    pub fn new(value: Decimal) -> Amount {
        Amount(value)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// Rounded toward +∞ at `scale` decimals (a charge: the payer never pays less).
    pub fn round_up(self, scale: u32) -> Amount {
        Amount(
            self.0
                .round_dp_with_strategy(scale, RoundingStrategy::ToPositiveInfinity),
        )
    }

    /// Rounded toward −∞ at `scale` decimals (a credit: the payee never gets more).
    pub fn round_down(self, scale: u32) -> Amount {
        Amount(
            self.0
                .round_dp_with_strategy(scale, RoundingStrategy::ToNegativeInfinity),
        )
    }

    pub fn max(self, other: Amount) -> Amount {
        Amount(self.0.max(other.0))
    }

    pub fn min(self, other: Amount) -> Amount {
        Amount(self.0.min(other.0))
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.normalize().fmt(f)
    }
}

impl Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0 + rhs.0)
    }
}

impl Sub for Amount {
    type Output = Amount;
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0 - rhs.0)
    }
}

impl AddAssign for Amount {
    fn add_assign(&mut self, rhs: Amount) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Amount {
    fn sub_assign(&mut self, rhs: Amount) {
        self.0 -= rhs.0;
    }
}

impl Neg for Amount {
    type Output = Amount;
    fn neg(self) -> Amount {
        Amount(-self.0)
    }
}

impl Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, |a, b| a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn qty_text_is_normalized() {
        assert_eq!(Qty(20).text(d("0.001")), "0.02");
        assert_eq!(Qty(3000).text(d("0.001")), "3");
        assert_eq!(Qty(-5).text(d("0.1")), "-0.5");
        assert_eq!(Qty(0).text(d("0.001")), "0");
    }

    #[test]
    fn price_accepts_exact_ticks_with_trailing_zeros() {
        assert_eq!(
            Price::from_decimal(d("50000.10"), d("0.1")),
            Some(Price(500001))
        );
        assert_eq!(
            Price::from_decimal(d("50000"), d("0.1")),
            Some(Price(500000))
        );
        assert_eq!(Price::from_decimal(d("0.5"), d("0.5")), Some(Price(1)));
    }

    #[test]
    fn price_rejects_off_tick_zero_and_negative() {
        assert_eq!(Price::from_decimal(d("50000.05"), d("0.1")), None);
        assert_eq!(Price::from_decimal(d("0"), d("0.1")), None);
        assert_eq!(Price::from_decimal(d("-1"), d("0.1")), None);
        assert_eq!(Price::from_decimal(d("1.25"), d("0.5")), None);
    }

    #[test]
    fn qty_rejects_out_of_range() {
        assert_eq!(
            Qty::from_decimal(d("79228162514264337593543950335"), d("0.001")),
            None
        );
        assert_eq!(Qty::from_decimal(d("0.0015"), d("0.001")), None);
        assert_eq!(Qty::from_decimal(d("1.500"), d("0.001")), Some(Qty(1500)));
    }

    #[test]
    fn decimal_round_trip_keeps_step_scale() {
        assert_eq!(Price(500001).to_decimal(d("0.1")).to_string(), "50000.1");
        assert_eq!(Qty(1500).to_decimal(d("0.001")).to_string(), "1.500");
    }

    #[test]
    fn money_rounds_in_the_named_direction() {
        let a = Amount(d("1.000000005"));
        assert_eq!(a.round_up(8), Amount(d("1.00000001")));
        assert_eq!(a.round_down(8), Amount(d("1.00000000")));
        let n = Amount(d("-1.000000005"));
        assert_eq!(n.round_up(8), Amount(d("-1.00000000")));
        assert_eq!(n.round_down(8), Amount(d("-1.00000001")));
    }
}
