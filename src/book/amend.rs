//! Cancel and amend of open orders (docs/RULES.md §2; API.md `DELETE`/`PATCH` order).
//!
//! # Invariants
//! - Another account's order is `OrderNotFound` (never "forbidden"), so ids cannot be probed.
//! - A rejected amend leaves the order exactly as it was, priority included.

use super::matching::reduce_only_cap;
use super::{Book, BookOrder, Node, TakerOutcome};
use crate::domain::{
    AccountId, BookEvent, CloseReason, NumberFault, NumberFaultKind, OrderId, Price, Qty, Reject,
    Side, TimeInForce,
};

impl Book {
    /// Take resting order `h` out of the book (unlinked and freed). Returns the node.
    fn remove_resting(&mut self, h: u32, out: &mut Vec<BookEvent>) -> Node {
        let node = *self.slab.get(h);
        let total = match node.side {
            Side::Buy => self.bids.unlink(&mut self.slab, h),
            Side::Sell => self.asks.unlink(&mut self.slab, h),
        };
        self.slab.remove(h);
        self.index.remove(&node.id);
        Book::dec_open(&mut self.open, node.account);
        let sequence = self.bump_sequence();
        out.push(BookEvent::Level {
            side: node.side,
            price: node.price,
            qty: total,
            sequence,
        });
        node
    }

    /// Cancel an open order (resting or untriggered). `account: None` skips the ownership
    /// check (liquidation, operator). Another account's order is `OrderNotFound`, so ids cannot
    /// be probed. Returns the quantity that was open.
    pub fn cancel(
        &mut self,
        id: OrderId,
        account: Option<AccountId>,
        reason: CloseReason,
        out: &mut Vec<BookEvent>,
    ) -> Result<Qty, Reject> {
        let owner_ok = |a: AccountId| account.is_none_or(|want| want == a);
        if let Some(&h) = self.index.get(&id) {
            if !owner_ok(self.slab.get(h).account) {
                return Err(Reject::OrderNotFound);
            }
            let node = self.remove_resting(h, out);
            out.push(BookEvent::Closed {
                order_id: id,
                account: node.account,
                qty: node.remaining,
                reason,
            });
            return Ok(node.remaining);
        }
        match self.triggers.get(id) {
            Some(t) if owner_ok(t.order.account) => {
                // expect: `get` just found it.
                let t = self.triggers.remove(id).expect("trigger vanished");
                Book::dec_open(&mut self.open, t.order.account);
                out.push(BookEvent::Closed {
                    order_id: id,
                    account: t.order.account,
                    qty: t.order.qty,
                    reason,
                });
                Ok(t.order.qty)
            }
            _ => Err(Reject::OrderNotFound),
        }
    }

    /// Amend a resting order to `price` and/or a new remaining quantity. Lowering only the
    /// quantity keeps queue priority; any other change re-queues the order, which may then
    /// match at once as a taker (with its own STP mode and, if reduce-only, capped to
    /// `position`). A post-only order that would take is rejected and left as it was.
    pub fn amend(
        &mut self,
        id: OrderId,
        account: AccountId,
        price: Option<Price>,
        remaining: Option<Qty>,
        position: Qty,
        out: &mut Vec<BookEvent>,
    ) -> Result<TakerOutcome, Reject> {
        let &h = self.index.get(&id).ok_or(Reject::OrderNotFound)?;
        let node = *self.slab.get(h);
        if node.account != account {
            return Err(Reject::OrderNotFound);
        }
        let new_price = price.unwrap_or(node.price);
        let new_qty = remaining.unwrap_or(node.remaining);
        if new_qty <= Qty::ZERO {
            // The market checked the new total against its filled count before (a zero
            // remainder cannot reach here from it); answered the same way if it ever does.
            let fault = NumberFault::new(NumberFaultKind::NotAboveFilled, "0");
            return Err(Reject::InvalidQuantity(fault));
        }
        if new_price == node.price && new_qty <= node.remaining {
            return Ok(self.shrink_in_place(h, id, new_qty, out));
        }
        let flags = node.flags;
        if flags.post_only() && self.would_take(node.side, new_price) {
            return Err(Reject::PostOnlyWouldTake);
        }
        let o = BookOrder {
            id,
            account,
            side: node.side,
            price: Some(new_price),
            qty: new_qty,
            tif: if flags.post_only() {
                TimeInForce::PostOnly
            } else {
                TimeInForce::Gtc
            },
            stp: flags.stp(),
            reduce_only: flags.reduce_only(),
            position_side: flags.position_side(),
            position,
            close_position: false,
        };
        let want = reduce_only_cap(&o)?;
        if !o.reduce_only && !self.would_take(o.side, new_price) {
            return Ok(self.move_resting(h, new_price, new_qty, out));
        }
        self.remove_resting(h, out);
        out.push(BookEvent::Amended {
            order_id: id,
            price: new_price,
            remaining: new_qty,
            requeued: true,
        });
        // Every check that could refuse it was made above (post-only, reduce-only); the order
        // keeps its open-order slot, so the per-account cap does not apply to its re-entry
        // (a lowered `max_open_orders` must not strand an order mid-amend).
        Ok(self.execute(o, want, new_price, node.filled(), out))
    }

    /// Lower resting order `id` (node `h`) to `qty` at its price, keeping its place in the
    /// queue: its level shrinks (no `Level` event if nothing changed), then `Amended`.
    fn shrink_in_place(
        &mut self,
        h: u32,
        id: OrderId,
        qty: Qty,
        out: &mut Vec<BookEvent>,
    ) -> TakerOutcome {
        let node = *self.slab.get(h);
        let by = node.remaining - qty;
        if !by.is_zero() {
            self.slab.get_mut(h).remaining = qty;
            let total = match node.side {
                Side::Buy => self.bids.shrink(node.price, by),
                Side::Sell => self.asks.shrink(node.price, by),
            };
            let sequence = self.bump_sequence();
            out.push(BookEvent::Level {
                side: node.side,
                price: node.price,
                qty: total,
                sequence,
            });
        }
        out.push(BookEvent::Amended {
            order_id: id,
            price: node.price,
            remaining: qty,
            requeued: false,
        });
        TakerOutcome {
            rested: qty,
            ..TakerOutcome::default()
        }
    }

    /// Re-queue a resting order that cannot take: move its node to the back of the new level
    /// in place (no free/realloc, no index or open-count churn). Emits exactly what the slow
    /// path (remove + submit) would: old `Level`, `Amended`, new `Level`, `Rested`.
    fn move_resting(
        &mut self,
        h: u32,
        price: Price,
        qty: Qty,
        out: &mut Vec<BookEvent>,
    ) -> TakerOutcome {
        let node = *self.slab.get(h);
        let book_side = match node.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let old_total = book_side.unlink(&mut self.slab, h);
        {
            let n = self.slab.get_mut(h);
            n.price = price;
            n.remaining = qty;
        }
        let new_total = book_side.push(&mut self.slab, h);
        self.sequence += 1;
        out.push(BookEvent::Level {
            side: node.side,
            price: node.price,
            qty: old_total,
            sequence: self.sequence,
        });
        out.push(BookEvent::Amended {
            order_id: node.id,
            price,
            remaining: qty,
            requeued: true,
        });
        self.sequence += 1;
        out.push(BookEvent::Level {
            side: node.side,
            price,
            qty: new_total,
            sequence: self.sequence,
        });
        out.push(BookEvent::Rested {
            order_id: node.id,
            account: node.account,
            side: node.side,
            price,
            qty,
        });
        TakerOutcome {
            rested: qty,
            ..TakerOutcome::default()
        }
    }
}
