//! Per-market positions as a struct of arrays, and the one function that moves a position.
//!
//! # Invariants
//! - Slot `i` of every array describes the same position; only non-flat positions have a slot.
//! - `account[i]`'s entry for this market has `slot == i` (kept on swap-remove).
//! - Hot fields (`account`, `qty`, `cost`) are contiguous, so a mark update or a funding pass
//!   over one market streams through them.

use rust_decimal::Decimal;

use super::{Ledger, NO_SLOT};
use crate::domain::MarketId;
use crate::risk::position::{FillEffect, Position};
use crate::risk::{margin, money};

/// The open positions of one market.
#[derive(Clone, Debug, Default)]
pub struct MarketPositions {
    /// Ledger index of the holder.
    pub account: Vec<u32>,
    /// Signed lots, never 0.
    pub qty: Vec<i64>,
    /// Signed cost basis.
    pub cost: Vec<Decimal>,
    /// Realized PnL since the position was opened from flat.
    pub realized_pnl: Vec<Decimal>,
    /// Funding paid since opened (negative: received).
    pub funding_paid: Vec<Decimal>,
    /// The holder's entry is isolated (fixed for the slot's life: the mode changes only
    /// while flat). Screening checks these positions on their own.
    pub isolated: Vec<bool>,
}

impl MarketPositions {
    pub fn len(&self) -> usize {
        self.qty.len()
    }

    pub fn is_empty(&self) -> bool {
        self.qty.is_empty()
    }

    fn push(&mut self, account: u32, p: Position, isolated: bool) -> u32 {
        let slot = u32::try_from(self.qty.len()).expect("fewer than 2^32 positions per market");
        self.account.push(account);
        self.qty.push(p.qty);
        self.cost.push(p.cost);
        self.realized_pnl.push(Decimal::ZERO);
        self.funding_paid.push(Decimal::ZERO);
        self.isolated.push(isolated);
        slot
    }

    /// Remove slot `i`; returns the account whose position moved into `i`, if any.
    fn swap_remove(&mut self, i: usize) -> Option<u32> {
        self.account.swap_remove(i);
        self.qty.swap_remove(i);
        self.cost.swap_remove(i);
        self.realized_pnl.swap_remove(i);
        self.funding_paid.swap_remove(i);
        self.isolated.swap_remove(i);
        self.account.get(i).copied()
    }
}

impl Ledger {
    /// Move account `a`'s position in `market` by `delta` signed lots at `price` per base unit:
    /// the position math of docs/RULES.md §3, realized PnL credited and `fee` (negative: a
    /// rebate) debited to the wallet that backs the position (cross, or the entry's isolated
    /// wallet), slots kept. An isolated entry
    /// also moves margin with the position (docs/RULES.md §3a): lots it opens draw their
    /// initial margin at the lower of `price` and the mark from the cross wallet (never more
    /// than the cross wallet holds); a partial close returns the closed fraction of the
    /// isolated wallet; when it ends flat or flips, what is left in its isolated wallet
    /// returns to the cross wallet (a deficit stays, for the insurance fund to clear).
    pub(super) fn move_position(
        &mut self,
        a: usize,
        market: MarketId,
        delta: i64,
        price: Decimal,
        fee: Decimal,
    ) -> FillEffect {
        let scale = self.scale;
        let (slot, mode, leverage) = {
            let e = self.entry(a, market);
            (e.slot, e.mode, e.leverage)
        };
        let Ledger {
            markets,
            accounts,
            cushion,
            ..
        } = self;
        let m = &mut markets[market.index()];
        let (lot, mark) = (m.spec.lot_size, m.mark);
        let ps = &mut m.positions;
        let mut p = if slot == NO_SLOT {
            Position::default()
        } else {
            Position {
                qty: ps.qty[slot as usize],
                cost: ps.cost[slot as usize],
            }
        };
        let before = p.qty;
        let effect = p.apply_fill(delta, price, lot, scale);
        // Any position change can lower the margin cushion: evaluate exactly next time.
        cushion[a] = 0;
        let isolated = mode.is_isolated();
        let new_slot = if slot == NO_SLOT {
            if p.qty == 0 {
                NO_SLOT
            } else {
                ps.push(a as u32, p, isolated)
            }
        } else if p.qty == 0 {
            if let Some(moved) = ps.swap_remove(slot as usize) {
                let e = accounts[moved as usize]
                    .market_mut(market)
                    .expect("a slot's holder has an entry for its market");
                e.slot = slot;
            }
            NO_SLOT
        } else {
            let s = slot as usize;
            ps.qty[s] = p.qty;
            ps.cost[s] = p.cost;
            if effect.flipped {
                // A flip opens a new position: its realized PnL counts from here.
                ps.realized_pnl[s] = Decimal::ZERO;
                ps.funding_paid[s] = Decimal::ZERO;
            } else {
                ps.realized_pnl[s] += effect.realized;
            }
            slot
        };
        let acc = &mut accounts[a];
        let mut cross = acc.wallet;
        let e = acc.market_mut(market).expect("entry() created it above");
        e.slot = new_slot;
        e.cache = None;
        if isolated {
            // The fee first: a close returns what is left after it.
            e.iso_wallet += effect.realized - fee;
            if (p.qty == 0 || effect.flipped) && e.iso_wallet > Decimal::ZERO {
                cross += e.iso_wallet;
                e.iso_wallet = Decimal::ZERO;
            } else if p.qty != 0
                && !effect.flipped
                && p.qty.abs() < before.abs()
                && e.iso_wallet > Decimal::ZERO
                && !e.iso_liquidation
            {
                // A partial close returns the closed fraction of the wallet (rounded down):
                // the rest of the position keeps its margin per lot, so its liquidation price
                // does not move. Not while it is being liquidated (the pool pays its loss).
                let closed = Decimal::from(before.abs() - p.qty.abs());
                let share = e.iso_wallet * closed / Decimal::from(before.abs());
                let release = money::credit(share, scale).0.max(Decimal::ZERO);
                cross += release;
                e.iso_wallet -= release;
            }
            let opened = opened_lots(before, p.qty);
            if opened > 0 {
                // At the lower of the fill price and the mark: never more than R1 reserved
                // for the lots (a buy fills at or below its limit; a sell's reservation
                // covers the mark).
                let notional = Decimal::from(opened) * lot * price.min(mark);
                let im =
                    margin::initial_margin(notional, leverage, scale).min(cross.max(Decimal::ZERO));
                cross -= im;
                e.iso_wallet += im;
            }
        } else {
            cross += effect.realized - fee;
        }
        acc.wallet = cross;
        effect
    }
}

/// Lots a move from `before` to `after` (signed) opened: the growth of a position, or the
/// whole new side of a flip.
fn opened_lots(before: i64, after: i64) -> i64 {
    if before == 0 || (before > 0) != (after > 0) {
        after.abs()
    } else {
        (after.abs() - before.abs()).max(0)
    }
}
