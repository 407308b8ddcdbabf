//! Trading and liquidation fees (docs/RULES.md §3, §6).
//!
//! # Invariants
//! - A fee is `notional × rate`, rounded by [`money::charge`]: a positive fee rounds up, a
//!   negative maker rate (a rebate) rounds toward zero, so fee + rebate of one fill is never
//!   below the exact `notional × (maker + taker) ≥ 0` and the fee account cannot go negative.
//! - A liquidation fee never exceeds what is left of the account's margin balance (rounded
//!   down to `money_scale`), and is never negative.

use rust_decimal::Decimal;

use super::money;
use crate::domain::Amount;

/// The fee for one side of a fill of `notional` at `rate` (negative: a rebate paid to the user).
#[inline]
pub fn trading_fee(notional: Decimal, rate: Decimal, scale: u32) -> Amount {
    money::charge(notional * rate, scale)
}

/// The liquidation fee on a liquidation fill: `notional × rate`, capped at the account's
/// remaining margin balance, never negative.
pub fn liquidation_fee(
    notional: Decimal,
    rate: Decimal,
    margin_balance_left: Decimal,
    scale: u32,
) -> Amount {
    let full = money::charge(notional * rate, scale);
    // The cap is what the user still has, rounded down: never take more than that.
    let cap = money::credit(margin_balance_left.max(Decimal::ZERO), scale);
    full.min(cap).max(Amount::ZERO)
}
