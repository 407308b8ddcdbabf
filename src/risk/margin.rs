//! Margin (RULES.md §3): risk tiers, maintenance and initial margin, order margin with
//! worst-side netting and open loss, available balance, withdrawable, margin ratio.
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

/// The open orders of one side of one market, aggregated (reduce-only orders excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideOrders {
    /// Σ open lots.
    pub qty: i64,
    /// Σ `price × quantity` (money).
    pub notional: Decimal,
    /// Σ `quantity × max(0, dir × (price − mark))` (money).
    pub open_loss: Decimal,
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

/// Margin of one side: the open quantity beyond what only reduces the position, at the side's
/// average order price, over `L`, plus the side's open loss.
fn side_margin(orders: &SideOrders, reducible: i64, leverage: u32) -> Decimal {
    let excess = (orders.qty - reducible).max(0);
    let mut m = orders.open_loss;
    if excess > 0 {
        // excess × (notional / qty) / L, one division.
        m += orders.notional * Decimal::from(excess)
            / (Decimal::from(orders.qty) * Decimal::from(leverage));
    }
    m
}

/// A market's order margin: the larger (worse) side's margin, rounded up (RULES.md §3).
/// `position` is the signed position in lots; buys reduce a short, sells reduce a long.
pub fn order_margin(
    position: i64,
    buys: &SideOrders,
    sells: &SideOrders,
    leverage: u32,
    scale: u32,
) -> Decimal {
    let buy = side_margin(buys, (-position).max(0), leverage);
    let sell = side_margin(sells, position.max(0), leverage);
    money::requirement(buy.max(sell), scale)
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
