//! The one module that rounds money (docs/RULES.md §1).
//!
//! # Invariants
//! - Every rounding of an amount of money happens here, at `scale` decimals (`money_scale`).
//! - A charge to a user rounds toward +∞ ([`charge`]); a credit rounds toward −∞ ([`credit`]).
//!   Applied to a signed flow "the user pays `x`", [`charge`] is right for both signs: a debit
//!   grows, a credit shrinks. The difference between exact and rounded flows is residue that the
//!   caller sends to the insurance fund, so rounding never creates money.
//! - Margin requirements are not transfers; they round up ([`requirement`]) so that a rounded
//!   requirement is never below the exact one.
//! - Display values (entry price, liquidation price) round half-even ([`display`]); they never
//!   move money.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::domain::Amount;

/// What a user pays for a signed flow `x` (positive: a debit; negative: a credit):
/// rounded toward +∞, so the payer never pays less and the payee never gets more.
#[inline]
pub fn charge(x: Decimal, scale: u32) -> Amount {
    Amount(x).round_up(scale)
}

/// What a user receives for a signed credit `x`: rounded toward −∞.
#[inline]
pub fn credit(x: Decimal, scale: u32) -> Amount {
    Amount(x).round_down(scale)
}

/// A margin requirement, rounded up: never below the exact requirement.
#[inline]
pub fn requirement(x: Decimal, scale: u32) -> Decimal {
    Amount(x).round_up(scale).0
}

/// The cost-basis share removed by a reducing fill (docs/RULES.md §3), rounded toward +∞: the
/// realized PnL `closed × price × sign − share` is then a credit rounded down. The remaining
/// basis is `C − share` exactly, so this rounding moves no money between accounts.
#[inline]
pub fn basis_share(x: Decimal, scale: u32) -> Decimal {
    Amount(x).round_up(scale).0
}

/// A value for display only (entry price, liquidation price, ratios).
#[inline]
pub fn display(x: Decimal, scale: u32) -> Decimal {
    x.round_dp_with_strategy(scale, RoundingStrategy::MidpointNearestEven)
}

/// `x` in integer units of `10^-scale`, rounded toward −∞ (a lower bound); saturates.
pub fn units_floor(x: Decimal, scale: u32) -> i128 {
    to_units(
        x.round_dp_with_strategy(scale, RoundingStrategy::ToNegativeInfinity),
        scale,
    )
}

/// `x` in integer units of `10^-scale`, rounded toward +∞ (an upper bound); saturates.
pub fn units_ceil(x: Decimal, scale: u32) -> i128 {
    to_units(
        x.round_dp_with_strategy(scale, RoundingStrategy::ToPositiveInfinity),
        scale,
    )
}

fn to_units(mut x: Decimal, scale: u32) -> i128 {
    // `x` has at most `scale` decimals here; rescaling up to `scale` is exact when it fits.
    x.rescale(scale);
    if x.scale() != scale {
        // Too large to carry `scale` decimals: saturate in the sign's direction.
        return if x.is_sign_negative() {
            i128::MIN / 2
        } else {
            i128::MAX / 2
        };
    }
    x.mantissa()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn charge_and_credit_never_create_money() {
        assert_eq!(charge(d("0.123456781"), 8).0, d("0.12345679"));
        assert_eq!(charge(d("-0.123456789"), 8).0, d("-0.12345678"));
        assert_eq!(credit(d("0.123456789"), 8).0, d("0.12345678"));
    }

    #[test]
    fn units_bound_the_value() {
        assert_eq!(units_floor(d("1.234"), 2), 123);
        assert_eq!(units_ceil(d("1.231"), 2), 124);
        assert_eq!(units_floor(d("-1.231"), 2), -124);
        assert_eq!(units_ceil(d("5"), 8), 500_000_000);
    }
}
