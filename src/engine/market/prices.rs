//! Prices derived from the book for the risk and funding actors: mid and spread (for a
//! `book_ema` index and the mark's basis), impact prices (docs/RULES.md §5).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::MarketEngine;
use crate::domain::Side;

/// An integral decimal tick count as i64 (saturating: a mark beyond i64 ticks is no market).
pub(super) fn to_ticks(d: Decimal) -> i64 {
    d.to_i64().unwrap_or(if d.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

impl MarketEngine {
    /// `(mid, spread / mid)` when both sides have orders.
    pub fn mid(&self) -> Option<(Decimal, Decimal)> {
        let (b, a) = (self.book.best_bid()?, self.book.best_ask()?);
        let (b, a) = (self.spec.price_decimal(b), self.spec.price_decimal(a));
        let mid = (a + b) / Decimal::TWO;
        Some((mid, (a - b) / mid))
    }

    /// The average fill price of a market order of `notional` taking from the `side` of the book
    /// (`Side::Buy`: selling into the bids gives the impact bid). `None` if the side is too thin.
    pub fn impact_price(&self, side: Side, notional: Decimal) -> Option<Decimal> {
        let levels = self.book.side(side).iter().map(|l| (l.price, l.total));
        crate::risk::funding::impact_price(
            levels,
            notional,
            self.spec.tick_size,
            self.spec.lot_size,
        )
    }
}
