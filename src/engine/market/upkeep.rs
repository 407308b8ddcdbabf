//! What follows every book command inside the engine: positions and market data from the
//! trades, `last` triggers fired by a moved last price, and the reduce-only invariant (resting
//! reduce-only orders never add up to more than the position on the reducing side).

use super::{Holder, MarketEngine, MarketEvent};
use crate::book::Watched;
use crate::domain::{
    AccountId, BookEvent, CloseReason, OrderId, PositionSide, Qty, Side, Timestamp, TriggerBy,
};

impl MarketEngine {
    /// Carry `scratch` (book events of this command) to `out`, applying their consequences in
    /// this market: positions, market data, last-price triggers, reduce-only upkeep.
    pub(super) fn after_book(&mut self, now: Timestamp, out: &mut Vec<MarketEvent>) {
        let mut i = 0;
        let mut touched: Vec<Holder> = Vec::new();
        loop {
            while i < self.scratch.len() {
                let e = self.scratch[i];
                i += 1;
                // The bookkeeping replay does too (one function for both), then what only the
                // live path needs: which accounts' reduce-only orders to re-check.
                self.after_apply(&e, now);
                match e {
                    BookEvent::Trade(t) => {
                        for h in [
                            (t.taker_account, t.taker_position),
                            (t.maker.account, t.maker_position),
                        ] {
                            if self.reduce_only.contains_key(&h) && !touched.contains(&h) {
                                touched.push(h);
                            }
                        }
                    }
                    BookEvent::Rested {
                        order_id, account, ..
                    } => {
                        if let Some(h) = self.reduce_only_holder(order_id, account) {
                            if !touched.contains(&h) {
                                touched.push(h);
                            }
                        }
                    }
                    _ => {}
                }
                out.push(MarketEvent::Book(e));
            }
            // Positions are current now: fire `last` triggers if a trade moved the last price
            // (the book cascades further `last` triggers itself), then keep reduce-only orders.
            let last = self.book.last_price();
            if last != self.last_checked {
                if let Some(p) = last {
                    self.run_triggers(TriggerBy::Last, Watched::at(p));
                }
                self.last_checked = self.book.last_price();
                continue;
            }
            if let Some(a) = touched.pop() {
                self.reduce_only_upkeep(a);
                continue;
            }
            // Then the TP/SL links: legs left flat lose their close-position orders, a fired
            // pair member its sibling, an entry closed unfilled its TP/SL.
            // The direct causes (in the order they happened) before a leg's flatness.
            if !self.tpsl_cancels.is_empty() {
                let (id, reason) = self.tpsl_cancels.remove(0);
                if self.book.triggers().contains(id) {
                    let mut events = std::mem::take(&mut self.scratch);
                    // expect: the id was just found waiting in the trigger book.
                    self.book
                        .cancel(id, None, reason, &mut events)
                        .expect("waiting trigger order");
                    self.scratch = events;
                }
                continue;
            }
            if let Some(h) = self.tpsl_flat.pop() {
                let mut cancels = std::mem::take(&mut self.tpsl_cancels);
                self.tpsl_flat(h, &mut cancels);
                self.tpsl_cancels = cancels;
                continue;
            }
            break;
        }
        self.scratch.clear();
    }

    /// The leg of `account`'s resting order `id` if it is reduce-only.
    pub(super) fn reduce_only_holder(&self, id: OrderId, account: AccountId) -> Option<Holder> {
        let n = self.book.order(id)?;
        n.flags
            .reduce_only()
            .then_some((account, n.flags.position_side()))
    }

    /// Drop `id` from the reduce-only index of `account` (any leg: the order may have left
    /// the book already).
    pub(super) fn forget_reduce_only(&mut self, account: AccountId, id: OrderId) {
        for leg in [PositionSide::Both, PositionSide::Long, PositionSide::Short] {
            let h = (account, leg);
            if let Some(v) = self.reduce_only.get_mut(&h) {
                v.retain(|&o| o != id);
                if v.is_empty() {
                    self.reduce_only.remove(&h);
                }
            }
        }
    }

    /// Keep the resting reduce-only orders of leg `holder` within its position (module
    /// invariant). Appends the resulting book events to `scratch`.
    pub(super) fn reduce_only_upkeep(&mut self, holder: Holder) {
        let Some(ids) = self.reduce_only.get(&holder).cloned() else {
            return;
        };
        let (account, leg) = holder;
        let pos = self.position(account, leg).0;
        let reducing = if pos > 0 {
            Some(Side::Sell)
        } else if pos < 0 {
            Some(Side::Buy)
        } else {
            None
        };
        let mut allowance = pos.abs();
        let mut events = std::mem::take(&mut self.scratch);
        for id in ids {
            let Some(node) = self.book.order(id).copied() else {
                continue;
            };
            let keep = if Some(node.side) == reducing {
                node.remaining.0.min(allowance)
            } else {
                0
            };
            allowance -= keep;
            if keep == 0 {
                // expect: `node` was just read from the book.
                self.book
                    .cancel(id, None, CloseReason::ReduceOnly, &mut events)
                    .expect("resting order");
                if let Some(v) = self.reduce_only.get_mut(&holder) {
                    v.retain(|&o| o != id);
                }
            } else if keep < node.remaining.0 {
                // Lowering the quantity keeps priority and cannot be rejected.
                self.book
                    .amend(id, account, None, Some(Qty(keep)), Qty(pos), &mut events)
                    .expect("shrinking a resting order");
            }
        }
        if self.reduce_only.get(&holder).is_some_and(Vec::is_empty) {
            self.reduce_only.remove(&holder);
        }
        self.scratch = events;
    }
}
