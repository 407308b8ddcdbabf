//! Per-market positions as a struct of arrays, and the one function that moves a position.
//!
//! # Invariants
//! - Slot `i` of every array describes the same position; only non-flat positions have a slot.
//! - `account[i]`'s entry for this market has `slot == i` (kept on swap-remove).
//! - Hot fields (`account`, `qty`, `cost`) are contiguous, so a mark update or a funding pass
//!   over one market streams through them.

use rust_decimal::Decimal;

use super::isolated::{isolated_flows, IsolatedMove};
use super::{Ledger, NO_SLOT};
use crate::domain::{Leg, PositionSide};
use crate::risk::position::{FillEffect, Position};

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
    /// The holder's leg (`both`, or `long`/`short` in hedge mode): with `account`, it names
    /// the entry that owns the slot.
    pub side: Vec<PositionSide>,
}

impl MarketPositions {
    pub fn len(&self) -> usize {
        self.qty.len()
    }

    pub fn is_empty(&self) -> bool {
        self.qty.is_empty()
    }

    fn push(&mut self, account: u32, side: PositionSide, p: Position, isolated: bool) -> u32 {
        let slot = u32::try_from(self.qty.len()).expect("fewer than 2^32 positions per market");
        self.account.push(account);
        self.qty.push(p.qty);
        self.cost.push(p.cost);
        self.realized_pnl.push(Decimal::ZERO);
        self.funding_paid.push(Decimal::ZERO);
        self.isolated.push(isolated);
        self.side.push(side);
        slot
    }

    /// Remove slot `i`; returns the holder (account, leg) whose position moved into `i`.
    fn swap_remove(&mut self, i: usize) -> Option<(u32, PositionSide)> {
        self.account.swap_remove(i);
        self.qty.swap_remove(i);
        self.cost.swap_remove(i);
        self.realized_pnl.swap_remove(i);
        self.funding_paid.swap_remove(i);
        self.isolated.swap_remove(i);
        self.side.swap_remove(i);
        self.account.get(i).copied().zip(self.side.get(i).copied())
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
        leg: Leg,
        delta: i64,
        price: Decimal,
        fee: Decimal,
    ) -> FillEffect {
        let scale = self.scale;
        let market = leg.market;
        let (slot, mode, leverage) = {
            let e = self.entry(a, leg);
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
        let new_slot = reslot(ps, accounts, (a, leg), slot, &p, &effect, isolated);
        let acc = &mut accounts[a];
        let cross = acc.wallet;
        let e = acc.leg_mut(leg).expect("entry() created it above");
        e.slot = new_slot;
        e.cache = None;
        acc.wallet = if isolated {
            let m = IsolatedMove {
                before,
                after: p.qty,
                flipped: effect.flipped,
                realized: effect.realized,
                fee,
                opened_notional: Decimal::from(opened_lots(before, p.qty)) * lot * price.min(mark),
                leverage,
            };
            isolated_flows(e, cross, &m, scale)
        } else {
            cross + effect.realized - fee
        };
        effect
    }
}

/// Put account `a`'s moved position `p` (it was in `slot`) into `market`'s arrays: a new
/// slot, the same one updated, or none (swap-remove, relinking the position moved into the
/// hole). Returns its slot.
fn reslot(
    ps: &mut MarketPositions,
    accounts: &mut [super::Account],
    (a, leg): (usize, Leg),
    slot: u32,
    p: &Position,
    effect: &FillEffect,
    isolated: bool,
) -> u32 {
    if slot == NO_SLOT {
        if p.qty == 0 {
            NO_SLOT
        } else {
            ps.push(a as u32, leg.side, *p, isolated)
        }
    } else if p.qty == 0 {
        if let Some((moved, side)) = ps.swap_remove(slot as usize) {
            let e = accounts[moved as usize]
                .leg_mut(Leg::new(leg.market, side))
                .expect("a slot's holder has an entry for its leg");
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
