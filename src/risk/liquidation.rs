//! Liquidation formulas and the step vocabulary (docs/RULES.md §6).
//!
//! # Invariants
//! - An account with positions is liquidatable iff `margin_balance ≤ Σ maintenance_margin`,
//!   decided exactly (no rounding on either side).
//! - The bankruptcy price of a position is where the account's margin balance reaches 0 with
//!   every other position at mark: `p = (C − W − U_others) / (q × lot)`.
//! - The liquidation price (display) solves `margin_balance = Σ maintenance` for this
//!   position's price with others at mark, iterating over tiers until the tier is stable.
//! - A liquidation order's limit is the bankruptcy price rounded to a tick toward the price
//!   that is never worse than bankruptcy for the account (sell: up, buy: down).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{margin, money, MarketId};
use crate::domain::{AccountId, Amount, Leg, OrderId, Price, RiskTier, Side};

/// `margin_balance ≤ Σ maintenance` (only meaningful with open positions).
#[inline]
pub fn is_liquidatable(margin_balance: Decimal, maintenance: Decimal) -> bool {
    margin_balance <= maintenance
}

/// The bankruptcy price of a position of `qty` lots with basis `cost`, given the account's
/// wallet and the unrealized PnL of its other positions. `None` when flat. May be ≤ 0 for a
/// long whose account can absorb any fall.
pub fn bankruptcy_price(
    qty: i64,
    cost: Decimal,
    lot: Decimal,
    wallet: Decimal,
    others_upnl: Decimal,
) -> Option<Decimal> {
    (qty != 0).then(|| (cost - wallet - others_upnl) / (Decimal::from(qty) * lot))
}

/// The price at which closing the whole position as a taker paying `fee` (a rate) leaves the
/// account's margin balance at exactly 0: `W + U_o + q·p − C − |q|·p·fee = 0`, i.e.
/// `p = (C − W − U_o) / (q × lot × (1 − sign(q)·fee))`. A long must not sell below it, a short
/// must not buy above it. `None` when flat.
pub fn bankruptcy_price_with_fee(
    qty: i64,
    cost: Decimal,
    lot: Decimal,
    wallet: Decimal,
    others_upnl: Decimal,
    fee: Decimal,
) -> Option<Decimal> {
    if qty == 0 {
        return None;
    }
    let den = Decimal::from(qty) * lot * (Decimal::ONE - Decimal::from(qty.signum()) * fee);
    (!den.is_zero()).then(|| (cost - wallet - others_upnl) / den)
}

/// The bankruptcy price as a limit in ticks for the closing order: a long's closing sell rounds
/// up, a short's closing buy rounds down, so a fill is never worse than bankruptcy; at least one
/// tick.
pub fn bankruptcy_limit(bankruptcy: Decimal, closing_side: Side, tick: Decimal) -> Price {
    let ticks = bankruptcy / tick;
    let t = match closing_side {
        Side::Sell => ticks.ceil(),
        Side::Buy => ticks.floor(),
    };
    Price(
        i64::try_from(t)
            .unwrap_or(if t.is_sign_negative() { 1 } else { i64::MAX })
            .max(1),
    )
}

/// The rest of the account as seen from one of its positions (cross margin).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Others {
    pub wallet: Decimal,
    /// Σ unrealized PnL of the other positions at mark.
    pub upnl: Decimal,
    /// Σ maintenance margin of the other positions at mark.
    pub maintenance: Decimal,
}

/// The liquidation price of one position of `qty` lots with basis `cost` (display), with the
/// rest of the account in `others`; `None` when flat or when no positive price liquidates the
/// account.
pub fn liquidation_price(
    qty: i64,
    cost: Decimal,
    lot: Decimal,
    tiers: &[RiskTier],
    mark: Decimal,
    others: &Others,
    scale: u32,
) -> Option<Decimal> {
    if qty == 0 {
        return None;
    }
    let q = Decimal::from(qty) * lot;
    let sign = Decimal::from(qty.signum());
    let mut tier = margin::tier_for(tiers, (q * mark).abs());
    // W + U_o + q p − C = MM_o + |q| p mmr − amt  ⇒  p = (C − W − U_o + MM_o − amt) / (q (1 − sign·mmr))
    for _ in 0..=tiers.len() {
        let den = q * (Decimal::ONE - sign * tier.maintenance_margin_rate);
        let p = (cost - others.wallet - others.upnl + others.maintenance - tier.maintenance_amount)
            / den;
        if p <= Decimal::ZERO {
            return None;
        }
        let at = margin::tier_for(tiers, (q * p).abs());
        if std::ptr::eq(at, tier) {
            return Some(money::display(p, scale));
        }
        tier = at;
    }
    None
}

/// The caller's record of how far the liquidation of one account has gone: the book outcomes
/// the pure planner cannot see in the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiquidationProgress {
    /// Step 1 done: all open orders cancelled (and their holds released).
    pub orders_cancelled: bool,
    /// Legs whose liquidation order has been sent to the book and has finished (its fills
    /// settled, the remainder expired).
    pub sent_to_book: Vec<Leg>,
}

/// The next thing to do for an account in liquidation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LiquidationAction {
    /// Step 1: cancel these open orders (reason `liquidation`), release their holds, then
    /// set `orders_cancelled`.
    CancelOrders(Vec<(MarketId, OrderId)>),
    /// Step 2: send a reduce-only IOC limit order at the bankruptcy price for the whole
    /// position, with priority, exempt from STP and margin; publish it. Settle its fills as
    /// liquidation fills (step 3 fee), then add `leg` to `sent_to_book`.
    SendOrder {
        leg: Leg,
        side: Side,
        qty: i64,
        limit: Price,
        bankruptcy: Decimal,
    },
    /// Step 4: the insurance fund takes over `qty` lots (signed, the account's side) at the
    /// bankruptcy price.
    Takeover { leg: Leg, qty: i64, price: Decimal },
    /// Step 5: close against these opposite positions at the bankruptcy price, no fees.
    Adl {
        leg: Leg,
        price: Decimal,
        counterparties: Vec<(AccountId, i64)>,
    },
    /// Step 6: the insurance fund clears `amount` of a negative wallet (all of it, or what
    /// the fund can pay).
    ClearNegative { amount: Amount },
    /// A negative wallet is left that the insurance fund cannot pay now: stay in liquidation
    /// and retry later (the fund grows with fees and residues).
    Wait,
    /// Healthy again, or flat with nothing owed: leave liquidation.
    Done,
}
