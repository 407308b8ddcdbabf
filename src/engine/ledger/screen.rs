//! Mark updates and liquidation screening (docs/RULES.md §6, docs/ARCHITECTURE.md §4).
//!
//! # Invariants
//! - On a mark update of market m only the holders of m are visited, streaming through m's
//!   position arrays.
//! - A positive `cushion[a]` is a lower bound of `margin_balance − Σ maintenance` of account
//!   a, in units of `10^-scale`; ≤ 0 means "evaluate exactly" (checked by
//!   `check_invariants`). A mark move of |Δ| changes a position's `upnl − maintenance` by at
//!   least `−|q| × lot × |Δ| × (1 + mmr_max)` (maintenance is continuous in the notional with
//!   slope ≤ the last tier's rate), so subtracting the ceiling of that keeps the bound. Wallet
//!   debits and position changes lower or reset it (to 0) elsewhere.
//! - The decision is exact: an account whose bound reaches ≤ 0 is evaluated with exact
//!   decimals; it is liquidatable iff `margin_balance ≤ Σ maintenance`; otherwise the bound is
//!   reset to the exact value (rounded down).
//! - Isolated positions are not in any cushion: each is checked exactly on every mark move
//!   of its market (`isolated wallet + uPnL ≤ maintenance`) and reported as its own pool.
//! - Reserved accounts and pools already in liquidation are never reported.

use rust_decimal::Decimal;

use super::{Ledger, LedgerEvent};
use crate::domain::{AccountId, MarginPool};
use crate::risk::{liquidation, money, MarketId};

impl Ledger {
    /// Set the mark of `market` and report the pools holding it that are now liquidatable
    /// (appended to `liquidatable`: cross accounts in position-slot order, then isolated
    /// positions in slot order).
    pub fn set_mark(
        &mut self,
        market: MarketId,
        mark: Decimal,
        out: &mut Vec<LedgerEvent>,
        liquidatable: &mut Vec<MarginPool>,
    ) {
        self.apply_mark(market, mark, liquidatable);
        out.push(LedgerEvent::MarkSet { market, mark });
    }

    /// Set the mark, lower the cushions of the market's holders, and evaluate exactly those
    /// whose cushion reached ≤ 0.
    pub(super) fn apply_mark(
        &mut self,
        market: MarketId,
        mark: Decimal,
        liquidatable: &mut Vec<MarginPool>,
    ) {
        let scale = self.scale;
        let mut check: Vec<u32> = Vec::new();
        let mut isolated: Vec<(u32, crate::domain::PositionSide)> = Vec::new();
        {
            let Ledger {
                markets, cushion, ..
            } = self;
            let m = &mut markets[market.index()];
            let moved = (mark - m.mark).abs();
            m.mark = mark;
            m.mark_seq += 1;
            let mmr_max = m
                .spec
                .risk_tiers
                .last()
                .expect("config guarantees at least one tier")
                .maintenance_margin_rate;
            let per_lot =
                money::units_ceil(moved * m.spec.lot_size * (Decimal::ONE + mmr_max), scale);
            let ps = &m.positions;
            for (i, ((&a, &q), &iso)) in
                ps.account.iter().zip(&ps.qty).zip(&ps.isolated).enumerate()
            {
                if iso {
                    // An isolated pool has no cushion: checked exactly below.
                    isolated.push((a, ps.side[i]));
                    continue;
                }
                let c = &mut cushion[a as usize];
                *c = c.saturating_sub(i128::from(q.unsigned_abs()) * per_lot);
                if *c <= 0 {
                    check.push(a);
                }
            }
        }
        // A hedge-mode account may hold both legs of the market: check it once (in slot
        // order, as the doc says).
        let mut seen = rustc_hash::FxHashSet::default();
        check.retain(|a| seen.insert(*a));
        for a in check {
            let a = a as usize;
            let acc = &self.accounts[a];
            if acc.id.is_reserved() || acc.in_liquidation {
                continue;
            }
            let t = self.totals_cached(a);
            let mb = t.margin_balance();
            if t.has_positions && liquidation::is_liquidatable(mb, t.maintenance_margin) {
                liquidatable.push(MarginPool::Cross(self.accounts[a].id));
            } else {
                self.cushion[a] = money::units_floor(mb - t.maintenance_margin, scale);
            }
        }
        self.screen_isolated(market, &isolated, liquidatable);
    }

    /// Exact liquidation test of one account (docs/RULES.md §6): has positions and
    /// `margin_balance ≤ Σ maintenance`.
    pub fn is_liquidatable(&self, account: AccountId) -> bool {
        self.totals(account).is_ok_and(|t| {
            t.has_positions
                && liquidation::is_liquidatable(t.margin_balance(), t.maintenance_margin)
        })
    }
}
