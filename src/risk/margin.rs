//! Margin (docs/RULES.md §3): risk tiers, maintenance and initial margin, order margin (the worse
//! order of fills of the two sides, plus open loss and fees of both sides), available balance,
//! withdrawable, margin ratio.
//!
//! # Invariants
//! - Maintenance margin is exact (`|n| × mmr − amount`, no division), so the liquidation test
//!   `margin_balance ≤ Σ maintenance` is decided exactly.
//! - Requirements that need a division (`/ leverage`, averages) are rounded up once by
//!   [`money::requirement`]: a reported requirement is never below the exact one.
//! - Tiers are ascending in cap (config invariant); a notional above the last cap uses the last
//!   tier. Maintenance margin is continuous in the notional with slope ≤ the last tier's rate,
//!   which the ledger's conservative screening bound relies on.

use rust_decimal::Decimal;

use super::money;
use crate::domain::{MarketSpec, Reject, RiskTier, Side};

/// The tier of a position of absolute notional `notional_abs`: the first whose cap is ≥ it.
pub fn tier_for(tiers: &[RiskTier], notional_abs: Decimal) -> &RiskTier {
    tiers
        .iter()
        .find(|t| notional_abs <= t.notional_cap)
        .unwrap_or_else(|| tiers.last().expect("config guarantees at least one tier"))
}

/// Maintenance margin `|n| × mmr − maintenance_amount` of the tier of `|n|`, exact.
pub fn maintenance_margin(tiers: &[RiskTier], notional_abs: Decimal) -> Decimal {
    if notional_abs.is_zero() {
        return Decimal::ZERO;
    }
    let t = tier_for(tiers, notional_abs);
    notional_abs * t.maintenance_margin_rate - t.maintenance_amount
}

/// Maximum position notional at leverage `leverage`: the highest tier cap whose
/// `max_leverage ≥ leverage`; `None` if no tier allows it.
pub fn max_notional(tiers: &[RiskTier], leverage: u32) -> Option<Decimal> {
    tiers
        .iter()
        .filter(|t| t.max_leverage >= leverage)
        .map(|t| t.notional_cap)
        .next_back()
}

/// `INVALID_LEVERAGE` unless `1 ≤ leverage ≤` the market's maximum.
pub fn check_leverage(spec: &MarketSpec, leverage: u32) -> Result<(), Reject> {
    if leverage == 0 || leverage > spec.max_leverage() {
        return Err(Reject::InvalidLeverage);
    }
    Ok(())
}

/// Position initial margin `|n| / L`, rounded up.
#[inline]
pub fn initial_margin(notional_abs: Decimal, leverage: u32, scale: u32) -> Decimal {
    money::requirement(notional_abs / Decimal::from(leverage), scale)
}

/// The open orders of one side of one market, aggregated. Reduce-only orders count only in
/// `reduce_only_qty`: they bear no margin themselves, but they use up the position the other
/// orders of the side could reduce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideOrders {
    /// Σ open lots of the orders that are not reduce-only.
    pub qty: i64,
    /// Σ `price × quantity` (money).
    pub notional: Decimal,
    /// Σ `quantity × max(0, dir × (price − mark))` (money).
    pub open_loss: Decimal,
    /// Σ open lots of the side's reduce-only orders.
    pub reduce_only_qty: i64,
}

impl SideOrders {
    /// Add an order of `qty` lots at `price`, given the mark.
    pub fn add(&mut self, side: Side, qty: i64, price: Decimal, mark: Decimal, lot: Decimal) {
        let (notional, loss) = Self::terms(side, qty, price, mark, lot);
        self.qty += qty;
        self.notional += notional;
        self.open_loss += loss;
    }

    /// Take out what [`SideOrders::add`] put in for the same order at the same mark. Decimal
    /// sums and differences of these terms are exact, so add-then-remove restores the value.
    pub fn remove(&mut self, side: Side, qty: i64, price: Decimal, mark: Decimal, lot: Decimal) {
        let (notional, loss) = Self::terms(side, qty, price, mark, lot);
        self.qty -= qty;
        self.notional -= notional;
        self.open_loss -= loss;
    }

    fn terms(
        side: Side,
        qty: i64,
        price: Decimal,
        mark: Decimal,
        lot: Decimal,
    ) -> (Decimal, Decimal) {
        let base = Decimal::from(qty) * lot;
        let loss = Decimal::from(side.sign()) * (price - mark);
        let open_loss = if loss > Decimal::ZERO {
            base * loss
        } else {
            Decimal::ZERO
        };
        (base * price, open_loss)
    }
}

/// The position margin one side's open orders would add if they all filled: the open
/// quantity beyond what only reduces the position, at the side's average order price, over `L`.
/// Reduce-only orders may fill first: what they reduce, the others cannot.
fn side_margin(orders: &SideOrders, reducible: i64, leverage: u32) -> Decimal {
    let reducible = (reducible - orders.reduce_only_qty).max(0);
    let excess = (orders.qty - reducible).max(0);
    if excess == 0 {
        return Decimal::ZERO;
    }
    // excess × (notional / qty) / L, one division.
    orders.notional * Decimal::from(excess) / (Decimal::from(orders.qty) * Decimal::from(leverage))
}

/// A market's order margin (docs/RULES.md §3), rounded up: the position margin the open orders
/// could add, plus what any fill costs that no margin covers, on both sides: the open loss (a
/// fill priced worse than the mark) and the fee at `fee_rate` ([`fee_reserve_rate`]).
///
/// The position margin term is the worse of two orders of events: all buys fill first, then
/// all sells (whose reducing part is then measured against the position the buys left), or
/// the other way round. Without reduce-only orders this is the familiar "larger side" (when
/// one side fills, the other side's orders reduce what it added); with them it is not: a
/// reduce-only buy can absorb whatever the sells add to a short, so the ordinary buys behind it
/// stay opening orders. Counting the costs of both sides keeps, at an unchanged mark, every
/// order of fills within what was reserved. `position` is the signed position in lots; buys
/// reduce a short, sells reduce a long.
pub fn order_margin(
    position: i64,
    buys: &SideOrders,
    sells: &SideOrders,
    leverage: u32,
    fee_rate: Decimal,
    scale: u32,
) -> Decimal {
    let long = position.max(0);
    let short = (-position).max(0);
    let none = |s: &SideOrders| s.qty == 0 && s.reduce_only_qty == 0;
    let position_margin = if none(sells) {
        // One side only (the common case): the order of fills does not matter.
        side_margin(buys, short, leverage)
    } else if none(buys) {
        side_margin(sells, long, leverage)
    } else {
        // Buys first: reduce-only buys close (part of) the short, the others add to the long.
        let after_buys = position + buys.qty + buys.reduce_only_qty.min(short);
        let buys_first =
            side_margin(buys, short, leverage) + side_margin(sells, after_buys.max(0), leverage);
        // Sells first, symmetrically.
        let after_sells = position - sells.qty - sells.reduce_only_qty.min(long);
        let sells_first =
            side_margin(sells, long, leverage) + side_margin(buys, (-after_sells).max(0), leverage);
        buys_first.max(sells_first)
    };
    let mut costs = buys.open_loss + sells.open_loss;
    if !fee_rate.is_zero() {
        costs += (buys.notional + sells.notional) * fee_rate;
    }
    money::requirement(position_margin + costs, scale)
}

/// The fee rate order margin reserves: the higher of the market's taker and maker rates,
/// never below zero (a rebate is not counted on).
pub fn fee_reserve_rate(spec: &MarketSpec) -> Decimal {
    spec.taker_fee.max(spec.maker_fee).max(Decimal::ZERO)
}

/// `margin_balance − Σ position_margin − Σ order_margin`.
#[inline]
pub fn available_balance(
    margin_balance: Decimal,
    position_margin: Decimal,
    order_margin: Decimal,
) -> Decimal {
    margin_balance - position_margin - order_margin
}

/// `max(0, wallet + min(0, Σ upnl) − Σ position_margin − Σ order_margin)`: unrealized profit is
/// never withdrawable.
pub fn withdrawable(
    wallet: Decimal,
    unrealized: Decimal,
    position_margin: Decimal,
    order_margin: Decimal,
) -> Decimal {
    (wallet + unrealized.min(Decimal::ZERO) - position_margin - order_margin).max(Decimal::ZERO)
}

/// `Σ maintenance / margin_balance` rounded down to 4 decimals (display); `None` when the
/// margin balance is not positive (the ratio is unbounded).
pub fn margin_ratio(maintenance: Decimal, margin_balance: Decimal) -> Option<Decimal> {
    (margin_balance > Decimal::ZERO).then(|| {
        (maintenance / margin_balance)
            .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::ToZero)
    })
}
