//! Leverage changes (docs/RULES.md §3).
//!
//! # Invariants
//! - A change is checked against what the account can come to hold in the market: its
//!   position plus its open orders on the worse side, for the tier cap and for margin; a
//!   change that adds margin is refused if it leaves the available balance below zero.
//! - Frozen while the account is in liquidation, and in a market while its isolated position
//!   is.

use rust_decimal::Decimal;

use super::{AccountMarket, Ledger, LedgerEvent, NO_SLOT};
use crate::domain::Timestamp;
use crate::domain::{AccountId, Reject};
use crate::risk::margin;
use crate::risk::MarketId;

impl Ledger {
    /// Set the leverage of (account, market); returns the maximum position notional at it.
    /// Checked against what the account can come to hold there (docs/RULES.md §3): its position
    /// plus its open orders on the worse side, for the tier cap and for margin. Frozen while
    /// the account is in liquidation.
    pub fn set_leverage(
        &mut self,
        account: AccountId,
        market: MarketId,
        leverage: u32,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let a = self.try_idx(account)?;
        let m = &self.markets[market.index()];
        margin::check_leverage(&m.spec, leverage)?;
        // Every leg of the market (one, or a long and a short in hedge mode) shares it.
        let legs: Vec<&AccountMarket> = self.accounts[a]
            .markets
            .iter()
            .filter(|e| e.market == market)
            .collect();
        if self.accounts[a].in_liquidation || legs.iter().any(|e| e.iso_liquidation) {
            return Err(Reject::AccountInLiquidation);
        }
        let cap =
            margin::max_notional(&m.spec.risk_tiers, leverage).ok_or(Reject::InvalidLeverage)?;
        let mut t = self.totals(account)?;
        let mut added = Decimal::ZERO;
        for e in legs {
            let position = if e.slot == NO_SLOT {
                0
            } else {
                m.positions.qty[e.slot as usize]
            };
            let pos_notional = Decimal::from(position) * m.spec.lot_size * m.mark;
            let mut changed = e.clone();
            changed.leverage = leverage;
            changed.sides = None;
            changed.cache = None;
            let fresh = super::fresh_sides(m, &changed);
            // Worse side: the long exposure (position + buys) or the short one.
            let exposure =
                (pos_notional + fresh.buys.notional).max(fresh.sells.notional - pos_notional);
            if exposure > cap {
                return Err(Reject::PositionLimitExceeded);
            }
            let old = self.figures(e);
            let new = self.figures(&changed);
            // An isolated position's margin is its own wallet, not the cross pool's: only its
            // orders' margin weighs on the cross available balance (docs/RULES.md §3a).
            let pm = |f: &super::Figures| {
                if e.mode.is_isolated() {
                    Decimal::ZERO
                } else {
                    f.position_margin
                }
            };
            t.position_margin += pm(&new) - pm(&old);
            t.order_margin += new.order_margin - old.order_margin;
            added += pm(&new) + new.order_margin - pm(&old) - old.order_margin;
        }
        if added > Decimal::ZERO && t.available_balance() < Decimal::ZERO {
            return Err(Reject::InsufficientMargin);
        }
        self.emit(
            LedgerEvent::LeverageSet {
                account,
                market,
                leverage,
            },
            now,
            out,
        );
        Ok(cap)
    }

    /// Whether account index `a` has a cross position (isolated ones have their own pools).
    pub(super) fn has_positions(&self, a: usize) -> bool {
        self.accounts[a]
            .markets
            .iter()
            .any(|e| e.slot != NO_SLOT && !e.mode.is_isolated())
    }
}
