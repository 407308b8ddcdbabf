//! Replay: rebuilding a book from the events its commands emitted ([`Book::apply`]).
//!
//! Deviation from docs/ARCHITECTURE.md §1 ("one `apply(event)` for live and replay"): live matching keeps
//! mutating the book in place (the matching loop is the hot path and allocates nothing);
//! replay applies the recorded outcomes instead. Equivalence is not assumed but tested: random
//! command streams run live and replayed into a fresh book give the same [`Book::state_hash`]
//! after every command (`tests/replay.rs`).
//!
//! # Invariants
//! - Applying the events of one command to the state that emitted them yields the state the
//!   command left (same hash, same open counts, same trade id and sequence).
//! - Every event is checked against the state (the maker exists and had the recorded
//!   quantity, sequences and trade ids are consecutive, ...); a mismatch is an [`ApplyError`]
//!   naming the event, never a silent repair.
//! - `Rested` needs the flags of the order entering matching: the caller announces a new order
//!   with [`Book::enter`]; `Triggered` and a requeuing `Amended` announce themselves.

use super::{Book, Flags, Node, TriggerOrder};
use crate::domain::{
    AccountId, ApplyError, BookEvent, OrderId, Price, Qty, Side, TimeInForce, Trade,
};

fn err(e: &BookEvent, why: &str) -> ApplyError {
    ApplyError(format!("book event {e:?}: {why}"))
}

/// The flags a resting remainder of `o` gets (as `matching::rest` sets them).
pub fn flags_of(o: &super::BookOrder) -> Flags {
    Flags::new(
        o.reduce_only,
        o.tif == TimeInForce::PostOnly,
        o.stp,
        o.position_side,
    )
}

impl Book {
    /// Announce the order about to enter matching (its `Rested` event will need its flags).
    pub fn enter(&mut self, id: OrderId, flags: Flags) {
        self.entering = Some((id, flags, Qty::ZERO));
    }

    /// Park a conditional order recorded as accepted and parked (no checks: they passed live).
    pub fn apply_park(&mut self, t: TriggerOrder) -> Result<(), ApplyError> {
        if self.contains(t.order.id) {
            return Err(ApplyError(format!(
                "parking order {:?}: the id is already open",
                t.order.id
            )));
        }
        self.inc_open(t.order.account);
        self.triggers.insert(t);
        Ok(())
    }

    /// Apply one recorded book event (see the module doc).
    pub fn apply(&mut self, e: &BookEvent) -> Result<(), ApplyError> {
        match *e {
            BookEvent::Trade(t) => self.apply_trade(e, &t)?,
            BookEvent::Rested {
                order_id,
                account,
                side,
                price,
                qty,
            } => self.apply_rested(e, order_id, account, side, price, qty)?,
            BookEvent::Closed { order_id, .. } => {
                if let Some(&h) = self.index.get(&order_id) {
                    self.remove_node(h);
                } else if let Some(t) = self.triggers.remove(order_id) {
                    Book::dec_open(&mut self.open, t.order.account);
                }
                // Otherwise a taker that never rested: nothing in the book to change.
            }
            BookEvent::Amended {
                order_id,
                remaining,
                requeued,
                ..
            } => self.apply_amended(e, order_id, remaining, requeued)?,
            BookEvent::Level { sequence, .. } => {
                if sequence != self.sequence + 1 {
                    return Err(err(e, &format!("book sequence is {}", self.sequence)));
                }
                self.sequence = sequence;
            }
            BookEvent::Triggered { order_id } => {
                let t = self
                    .triggers
                    .remove(order_id)
                    .ok_or_else(|| err(e, "not in the trigger book"))?;
                Book::dec_open(&mut self.open, t.order.account);
                self.entering = Some((order_id, flags_of(&t.order), Qty::ZERO));
            }
            BookEvent::TriggerAmended {
                order_id,
                trigger_price,
                price,
                qty,
            } => {
                let mut t = self
                    .triggers
                    .remove(order_id)
                    .ok_or_else(|| err(e, "not in the trigger book"))?;
                t.trigger_price = trigger_price;
                t.order.price = price;
                t.order.qty = qty;
                self.triggers.insert(t);
            }
            BookEvent::Sized { order_id, .. } => {
                // The fired close-position order enters as a market order (it never rests):
                // its size is the account side's to record; the book only checks the order.
                if self.entering.map(|(id, ..)| id) != Some(order_id) {
                    return Err(err(e, "not the order that just fired"));
                }
            }
        }
        Ok(())
    }

    /// A fill against a resting maker: the maker shrinks or leaves, the entering order counts it.
    fn apply_trade(&mut self, e: &BookEvent, t: &Trade) -> Result<(), ApplyError> {
        if t.trade_id.0 != self.next_trade_id {
            return Err(err(e, &format!("expected trade id {}", self.next_trade_id)));
        }
        let h = *self
            .index
            .get(&t.maker.order_id)
            .ok_or_else(|| err(e, "maker is not resting"))?;
        let n = *self.slab.get(h);
        if n.price != t.price || n.remaining - t.qty != t.maker.remaining {
            return Err(err(
                e,
                &format!("maker rests {:?} at {:?}", n.remaining, n.price),
            ));
        }
        if t.maker.remaining.is_zero() {
            self.remove_node(h);
        } else {
            let node = self.slab.get_mut(h);
            node.remaining = t.maker.remaining;
            node.set_filled(n.filled() + t.qty);
            self.side_mut(n.side).shrink(n.price, t.qty);
        }
        // The order entering matching counts its fills for the node it may rest as.
        if let Some((id, _, filled)) = &mut self.entering {
            if *id == t.taker_order {
                *filled += t.qty;
            }
        }
        self.next_trade_id += 1;
        self.last_price = Some(t.price);
        Ok(())
    }

    /// The order that entered matching rests with what is left of it.
    fn apply_rested(
        &mut self,
        e: &BookEvent,
        order_id: OrderId,
        account: AccountId,
        side: Side,
        price: Price,
        qty: Qty,
    ) -> Result<(), ApplyError> {
        let (flags, filled) = match self.entering {
            Some((id, f, filled)) if id == order_id => (f, filled),
            _ => return Err(err(e, "no such order entered matching")),
        };
        if self.contains(order_id) || qty <= Qty::ZERO {
            return Err(err(e, "already open, or nothing to rest"));
        }
        let h = self.slab.insert(Node::new(
            order_id, account, side, price, qty, filled, flags,
        ));
        self.index.insert(order_id, h);
        self.inc_open(account);
        match side {
            Side::Buy => self.bids.push(&mut self.slab, h),
            Side::Sell => self.asks.push(&mut self.slab, h),
        };
        Ok(())
    }

    /// An amend in place (quantity down) or a requeue (the order re-enters matching).
    fn apply_amended(
        &mut self,
        e: &BookEvent,
        order_id: OrderId,
        remaining: Qty,
        requeued: bool,
    ) -> Result<(), ApplyError> {
        let h = *self
            .index
            .get(&order_id)
            .ok_or_else(|| err(e, "order is not resting"))?;
        let n = *self.slab.get(h);
        if requeued {
            self.remove_node(h);
            self.entering = Some((order_id, n.flags, n.filled()));
        } else if remaining > Qty::ZERO && remaining <= n.remaining {
            self.slab.get_mut(h).remaining = remaining;
            self.side_mut(n.side)
                .shrink(n.price, n.remaining - remaining);
        } else {
            return Err(err(e, &format!("in-place amend of {:?}", n.remaining)));
        }
        Ok(())
    }

    fn side_mut(&mut self, side: Side) -> &mut super::BookSide {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Unlink and free resting node `h` (no event: replay only).
    fn remove_node(&mut self, h: u32) {
        let n = *self.slab.get(h);
        match n.side {
            Side::Buy => self.bids.unlink(&mut self.slab, h),
            Side::Sell => self.asks.unlink(&mut self.slab, h),
        };
        self.slab.remove(h);
        self.index.remove(&n.id);
        Book::dec_open(&mut self.open, n.account);
    }
}
