//! What a held order reserves: the order itself, united with the targets of amends still on
//! their way to the market (shadows), aggregated per side at one mark sequence and kept in
//! step with every change so R1 costs O(1) in the number of open orders.
//!
//! # Invariants
//! - A shadow is transient: never journaled, hashed or snapshotted. It exists from an amend's
//!   R1 until its R2 (applied or refused), so the margin an amend was checked against stays
//!   reserved while the market has not answered (docs/ARCHITECTURE.md §3: "reserve what you check").
//! - The effective order of a held order is its quantity and price united with every shadow
//!   of it: the larger quantity and, per side, the price that needs more margin (buys: the
//!   higher; sells: the one with the larger `p / L + max(0, mark − p)`). Order margin is
//!   non-decreasing in the quantity, so the effective order reserves at least what either the
//!   old or the new order needs.
//! - Fills shrink a held order and its shadows alike (a shadow's quantity is "new total −
//!   filled", and each fill raises "filled").
//! - Reduce-only orders count in the aggregates only as reduce-only lots: they bear no margin,
//!   but they use up the position the side's other orders could reduce.
//! - `check_invariants` compares the aggregates with a fresh sum of the effective orders.

use rust_decimal::Decimal;

use super::{AccountMarket, MarketState, OpenOrder};
use crate::domain::{OrderId, Side};
use crate::risk::margin::SideOrders;

/// Side aggregates of an entry's effective orders, valid for `mark_seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sides {
    pub(super) mark_seq: u64,
    pub(super) buys: SideOrders,
    pub(super) sells: SideOrders,
}

/// The reservation of one amend in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shadow {
    pub(super) order_id: OrderId,
    /// Names the amend (several may be in flight for one order).
    pub(super) ticket: u64,
    /// Open lots the order will have if the amend applies (new total − filled).
    pub(super) qty: i64,
    pub(super) price: Decimal,
}

/// The price of `a` and `b` that needs more margin for an order of `side` at `leverage`.
fn worse_price(side: Side, a: Decimal, b: Decimal, mark: Decimal, leverage: u32) -> Decimal {
    match side {
        Side::Buy => a.max(b),
        Side::Sell => {
            let per_unit = |p: Decimal| p / Decimal::from(leverage) + (mark - p).max(Decimal::ZERO);
            if per_unit(b) > per_unit(a) {
                b
            } else {
                a
            }
        }
    }
}

/// `o` united with a target of `qty` lots at `price`: the larger quantity, the worse price.
pub(super) fn unite(
    o: &OpenOrder,
    qty: i64,
    price: Decimal,
    mark: Decimal,
    leverage: u32,
) -> OpenOrder {
    OpenOrder {
        qty: o.qty.max(qty),
        price: worse_price(o.side, o.price, price, mark, leverage),
        ..*o
    }
}

impl AccountMarket {
    /// `o` united with its shadows, at the market's current mark.
    pub(super) fn effective(&self, o: &OpenOrder, mark: Decimal) -> OpenOrder {
        let mut e = *o;
        for s in self.shadows.iter().filter(|s| s.order_id == o.order_id) {
            e = unite(&e, s.qty, s.price, mark, self.leverage);
        }
        e
    }

    /// The effective order of held order `id`, if held.
    fn effective_of(&self, id: OrderId, mark: Decimal) -> Option<OpenOrder> {
        self.orders.get(&id).map(|o| self.effective(o, mark))
    }

    /// Every held order as margined.
    pub(super) fn effective_orders<'a>(
        &'a self,
        mark: Decimal,
    ) -> impl Iterator<Item = OpenOrder> + 'a {
        self.orders.values().map(move |o| self.effective(o, mark))
    }

    /// Change what is held for order `id` (its order or its shadows) with `change`, keeping
    /// the aggregates and the cache in step.
    pub(super) fn retrack(
        &mut self,
        m: &MarketState,
        id: OrderId,
        change: impl FnOnce(&mut AccountMarket),
    ) {
        let before = self.effective_of(id, m.mark);
        change(self);
        let after = self.effective_of(id, m.mark);
        if before != after {
            if let Some(b) = before {
                self.track(m, &b, false);
            }
            if let Some(a) = after {
                self.track(m, &a, true);
            }
        }
        self.cache = None;
    }

    /// The side aggregates at the market's current mark, rebuilt if stale.
    pub(super) fn sides(&mut self, m: &MarketState) -> (SideOrders, SideOrders) {
        match self.sides {
            Some(s) if s.mark_seq == m.mark_seq => (s.buys, s.sells),
            _ => {
                let s = fresh_sides(m, self);
                self.sides = Some(s);
                (s.buys, s.sells)
            }
        }
    }

    /// Keep valid aggregates in step with one effective order arriving (`add`) or leaving.
    fn track(&mut self, m: &MarketState, o: &OpenOrder, add: bool) {
        let Some(s) = self.sides.as_mut().filter(|s| s.mark_seq == m.mark_seq) else {
            self.sides = None;
            return;
        };
        let side = if o.side == Side::Buy {
            &mut s.buys
        } else {
            &mut s.sells
        };
        add_to(side, o, m, add);
    }

    /// Shrink held order `id` and its shadows by `qty` filled lots; drop the order (and its
    /// shadows) when nothing is left of it.
    pub(super) fn fill(&mut self, m: &MarketState, id: OrderId, qty: i64) {
        if !self.orders.contains_key(&id) {
            return;
        }
        self.retrack(m, id, |e| {
            for s in e.shadows.iter_mut().filter(|s| s.order_id == id) {
                s.qty -= qty;
            }
            if let Some(o) = e.orders.get_mut(&id) {
                o.qty -= qty;
                if o.qty <= 0 {
                    e.orders.remove(&id);
                    e.shadows.retain(|s| s.order_id != id);
                }
            }
        });
    }
}

/// Side aggregates of an entry's effective orders, computed from scratch.
pub(super) fn fresh_sides(m: &MarketState, e: &AccountMarket) -> Sides {
    let mut s = Sides {
        mark_seq: m.mark_seq,
        ..Sides::default()
    };
    for o in e.effective_orders(m.mark) {
        let side = if o.side == Side::Buy {
            &mut s.buys
        } else {
            &mut s.sells
        };
        add_to(side, &o, m, true);
    }
    s
}

/// Put order `o` into (or take it out of) its side's aggregate at the market's mark: a
/// reduce-only order only as reduce-only lots.
pub(super) fn add_to(side: &mut SideOrders, o: &OpenOrder, m: &MarketState, add: bool) {
    let sign = if add { 1 } else { -1 };
    if o.reduce_only {
        side.reduce_only_qty += sign * o.qty;
    } else if add {
        side.add(o.side, o.qty, o.price, m.mark, m.spec.lot_size);
    } else {
        side.remove(o.side, o.qty, o.price, m.mark, m.spec.lot_size);
    }
}
