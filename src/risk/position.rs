//! One-way positions with an exact signed cost basis (docs/RULES.md §3).
//!
//! # Invariants
//! - `qty` is signed lots (+ long, − short); `cost` is the signed cost basis `C`: the sum of
//!   signed `price × quantity` of the fills that opened it, in money, exact.
//! - `qty == 0` ⇔ `cost == 0`: a full close removes the whole basis, never a rounded share.
//! - A reducing fill of `closed` lots removes `share = C × closed / |q|` (rounded once, by
//!   [`money::basis_share`]) and realizes `closed × price × sign(q) − share`; the remaining basis
//!   is `C − share` exactly. Hence, per fill, `Δwallet − ΔC = −(signed notional)` exactly for
//!   both sides, which is what makes money conservation (docs/RULES.md §7.1) exact.
//! - A flip closes the old side fully and opens the rest at the fill price.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money;

/// The money-relevant state of one position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Signed lots.
    pub qty: i64,
    /// Signed cost basis `C` in money.
    pub cost: Decimal,
}

/// What one fill did to a position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FillEffect {
    /// PnL realized by the reducing part (0 for a pure increase); credited to the wallet.
    pub realized: Decimal,
    /// The position was flat before the fill (its `realized_pnl` counter restarts).
    pub opened_from_flat: bool,
    /// The fill flipped the position through zero.
    pub flipped: bool,
}

impl Position {
    /// Apply a fill of `delta` signed lots (+ buy, − sell) at `price` per base unit, with `lot`
    /// base units per lot.
    pub fn apply_fill(
        &mut self,
        delta: i64,
        price: Decimal,
        lot: Decimal,
        scale: u32,
    ) -> FillEffect {
        let mut effect = FillEffect {
            opened_from_flat: self.qty == 0,
            ..FillEffect::default()
        };
        if delta == 0 {
            return effect;
        }
        if self.qty == 0 || (self.qty > 0) == (delta > 0) {
            self.qty += delta;
            self.cost += Decimal::from(delta) * lot * price;
            return effect;
        }
        let abs_q = self.qty.abs();
        let closed = delta.abs().min(abs_q);
        let share = if closed == abs_q {
            self.cost
        } else {
            money::basis_share(
                self.cost * Decimal::from(closed) / Decimal::from(abs_q),
                scale,
            )
        };
        let sign = Decimal::from(self.qty.signum());
        effect.realized = Decimal::from(closed) * lot * price * sign - share;
        self.cost -= share;
        self.qty += delta.signum() * closed;
        let rest = delta.abs() - closed;
        if rest > 0 {
            // Flip: the old side is gone (qty and cost both 0 here); open the rest.
            effect.flipped = true;
            self.qty = delta.signum() * rest;
            self.cost = Decimal::from(self.qty) * lot * price;
        }
        effect
    }

    /// Notional at `mark`: `q × mark` (signed).
    #[inline]
    pub fn notional(&self, mark: Decimal, lot: Decimal) -> Decimal {
        Decimal::from(self.qty) * lot * mark
    }

    /// `q × mark − C`.
    #[inline]
    pub fn unrealized_pnl(&self, mark: Decimal, lot: Decimal) -> Decimal {
        self.notional(mark, lot) - self.cost
    }

    /// `C / q` rounded for display; `None` when flat.
    pub fn entry_price(&self, lot: Decimal, scale: u32) -> Option<Decimal> {
        (self.qty != 0).then(|| money::display(self.cost / (Decimal::from(self.qty) * lot), scale))
    }
}
