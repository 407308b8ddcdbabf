//! Per-entry side aggregates of the held orders (Σ lots, Σ notional, Σ open loss per side)
//! at one mark sequence, kept in step with every hold change so R1 costs O(1) in the number
//! of open orders. `check_invariants` compares them with a fresh sum.

use super::{AccountMarket, MarketState, OpenOrder};
use crate::domain::Side;
use crate::risk::margin::SideOrders;

/// Side aggregates of an entry's held orders, valid for `mark_seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sides {
    pub(super) mark_seq: u64,
    pub(super) buys: SideOrders,
    pub(super) sells: SideOrders,
}

impl AccountMarket {
    /// The side aggregates at the market's current mark, rebuilt from the orders if stale.
    pub(super) fn sides(&mut self, m: &MarketState) -> (SideOrders, SideOrders) {
        match self.sides {
            Some(s) if s.mark_seq == m.mark_seq => (s.buys, s.sells),
            _ => {
                let s = fresh_sides(m, &self.orders);
                self.sides = Some(s);
                (s.buys, s.sells)
            }
        }
    }

    /// Keep valid aggregates in step with a hold change (`add`: the order arrives, else leaves).
    pub(super) fn track(&mut self, m: &MarketState, o: &OpenOrder, add: bool) {
        let Some(s) = self.sides.as_mut().filter(|s| s.mark_seq == m.mark_seq) else {
            self.sides = None;
            return;
        };
        if o.reduce_only {
            return;
        }
        let side = if o.side == Side::Buy {
            &mut s.buys
        } else {
            &mut s.sells
        };
        let lot = m.spec.lot_size;
        if add {
            side.add(o.side, o.qty, o.price, m.mark, lot);
        } else {
            side.remove(o.side, o.qty, o.price, m.mark, lot);
        }
    }
}

/// Side aggregates computed from scratch.
pub(super) fn fresh_sides(m: &MarketState, orders: &[OpenOrder]) -> Sides {
    let mut s = Sides {
        mark_seq: m.mark_seq,
        ..Sides::default()
    };
    for o in orders.iter().filter(|o| !o.reduce_only) {
        let side = if o.side == Side::Buy {
            &mut s.buys
        } else {
            &mut s.sells
        };
        side.add(o.side, o.qty, o.price, m.mark, m.spec.lot_size);
    }
    s
}
