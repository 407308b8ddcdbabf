//! Book snapshots: the logical content only (resting orders level by level in FIFO order, the
//! trigger book, sequence, next trade id, last price). Slab slots, tombstones, the id index
//! and the per-account open counts are rebuilt on restore, not stored.
//!
//! # Invariants
//! - `Book::restore(b.snapshot())` has the same [`Book::state_hash`] as `b` and passes
//!   [`Book::assert_invariants`].
//! - Orders are stored worst level first within each side, so restoring appends every level
//!   at the end of its side's vector (no shifting): O(n) plus one hash insert per order.

use serde::{Deserialize, Serialize};

use super::{Book, Flags, Node, TriggerOrder, NIL};
use crate::domain::{AccountId, ApplyError, OrderId, Price, Qty, Side};

/// One resting order of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestingOrder {
    pub id: OrderId,
    pub account: AccountId,
    pub side: Side,
    pub price: Price,
    pub remaining: Qty,
    /// Lots filled so far (an amend's new total counts against it).
    pub filled: Qty,
    pub flags: u8,
}

/// The state of a [`Book`], as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSnapshot {
    pub max_open_orders: u32,
    pub sequence: u64,
    pub next_trade_id: u64,
    pub last_price: Option<Price>,
    /// Bids then asks, each side worst live level first, FIFO within a level.
    pub orders: Vec<RestingOrder>,
    /// In firing order per queue.
    pub triggers: Vec<TriggerOrder>,
}

impl Book {
    /// The book's logical state.
    pub fn snapshot(&self) -> BookSnapshot {
        let mut orders = Vec::with_capacity(self.slab.len());
        for side in [&self.bids, &self.asks] {
            for level in side.raw_levels().iter().filter(|l| l.is_live()) {
                let mut h = level.head;
                while h != NIL {
                    let n = self.slab.get(h);
                    orders.push(RestingOrder {
                        id: n.id,
                        account: n.account,
                        side: n.side,
                        price: n.price,
                        remaining: n.remaining,
                        filled: n.filled(),
                        flags: n.flags.bits(),
                    });
                    h = n.next;
                }
            }
        }
        BookSnapshot {
            max_open_orders: self.max_open_orders,
            sequence: self.sequence,
            next_trade_id: self.next_trade_id,
            last_price: self.last_price,
            orders,
            triggers: self.triggers.iter().copied().collect(),
        }
    }

    /// Rebuild a book from a snapshot, checking what the encoding cannot guarantee (levels in
    /// order, positive quantities, unique ids); a violation is an [`ApplyError`].
    pub fn restore(s: &BookSnapshot) -> Result<Book, ApplyError> {
        let mut b = Book::new(s.max_open_orders);
        b.sequence = s.sequence;
        b.next_trade_id = s.next_trade_id;
        b.last_price = s.last_price;
        b.index.reserve(s.orders.len());
        let bad = |o: &RestingOrder, why: &str| ApplyError(format!("book snapshot: {o:?}: {why}"));
        for o in &s.orders {
            let flags = Flags::from_bits(o.flags).ok_or_else(|| bad(o, "unknown flags"))?;
            if o.remaining <= Qty::ZERO {
                return Err(bad(o, "rests with nothing"));
            }
            let side = match o.side {
                Side::Buy => &mut b.bids,
                Side::Sell => &mut b.asks,
            };
            // Worst first: each order's level is the last one or a new one after it.
            if side
                .best_price()
                .is_some_and(|best| best != o.price && !o.side.accepts(o.price.0, best.0))
            {
                return Err(bad(o, "levels out of order"));
            }
            if o.filled < Qty::ZERO {
                return Err(bad(o, "negative filled quantity"));
            }
            let h = b.slab.insert(Node::new(
                o.id,
                o.account,
                o.side,
                o.price,
                o.remaining,
                o.filled,
                flags,
            ));
            side.push(&mut b.slab, h);
            if b.index.insert(o.id, h).is_some() {
                return Err(bad(o, "duplicate order id"));
            }
            b.inc_open(o.account);
        }
        if let (Some(bid), Some(ask)) = (b.best_bid(), b.best_ask()) {
            if bid >= ask {
                return Err(ApplyError(format!(
                    "book snapshot: crossed ({bid:?} >= {ask:?})"
                )));
            }
        }
        for t in &s.triggers {
            b.apply_park(*t)?;
        }
        Ok(b)
    }
}
