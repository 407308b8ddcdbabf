//! The "naive but decent" baseline: the price-time priority book a competent engineer writes
//! first (its benchmark adapter is `naive.rs`).
//!
//! - Each side is a `BTreeMap<Price, VecDeque<Order>>`: the best bid is the map's last key,
//!   the best ask its first; each level is a FIFO queue (arrival order = priority).
//! - An `FxHashMap<OrderId, (Side, Price)>` finds a resting order's level for cancel and
//!   amend; inside the level the order is found by a linear scan and removed with
//!   `VecDeque::remove` (O(level length), which is what the plain structure allows).
//!
//! The hasher is `rustc_hash::FxHashMap`, not std's SipHash `HashMap`: perpx's own id index is
//! an `FxHashMap` over the same integer ids, so with the same hasher the comparison measures
//! the data structures, not the hash function. (Ids here are not attacker-chosen: a venue's
//! ids are its own sequence numbers.) A std `HashMap` would only make this baseline slower.
//!
//! Semantics, exactly those the stream needs and the same as `perpx::book::Book` for them:
//! - limit GTC (match, rest the remainder at the back of its level) and IOC (match, drop the
//!   remainder); market orders match up to a price bound (the mark-derived limit perpx takes
//!   as `TakeBounds`) and never rest; trades happen at the maker's price;
//! - cancel and amend of a resting order, owner-checked (another account's order is "not
//!   found", as in perpx); amend lowering only the quantity keeps queue priority, any other
//!   change (price, or quantity up) re-queues the order as a new GTC with the same id, which
//!   may trade at once;
//! - duplicate ids and non-positive quantities are rejected without any change.
//!
//! Not supported (the stream uses none of them): post-only, FOK, reduce-only, self-trade
//! prevention, per-account open-order caps, stop orders. The book reports fills only (into a
//! caller-owned vector, reused like perpx's events vector); it emits no market-data events,
//! whereas perpx also emits a `Level` event (the level's new total, a sequence number) per
//! touched level and `Rested`/`Closed`/`Amended` order events.
//!
//! # Invariants
//! - No level is empty; every resting order has `qty > 0` and is in exactly one level, the one
//!   its index entry names; the book is never crossed after an operation.

use std::collections::{BTreeMap, VecDeque};

use perpx::domain::Side;
use rustc_hash::FxHashMap;

pub type Price = i64;
pub type Qty = i64;
pub type OrderId = u64;
pub type AccountId = u64;

/// A resting order: the price and side are its level's.
#[derive(Clone, Copy, Debug)]
pub struct Order {
    pub id: OrderId,
    pub account: AccountId,
    pub qty: Qty,
}

/// One trade against a resting order, at the maker's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub maker: OrderId,
    pub price: Price,
    pub qty: Qty,
    /// The maker's quantity left after this fill (0: it left the book).
    pub maker_left: Qty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tif {
    Gtc,
    Ioc,
}

/// An incoming limit order.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub id: OrderId,
    pub account: AccountId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub tif: Tif,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    DuplicateId,
    NotFound,
    BadQty,
}

/// What happened to an incoming (or re-queued) order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placed {
    pub filled: Qty,
    pub rested: Qty,
}

type Levels = BTreeMap<Price, VecDeque<Order>>;

#[derive(Clone, Debug, Default)]
pub struct NaiveBook {
    bids: Levels,
    asks: Levels,
    index: FxHashMap<OrderId, (Side, Price)>,
}

impl NaiveBook {
    pub fn new() -> NaiveBook {
        NaiveBook::default()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn best_bid(&self) -> Option<Price> {
        self.bids.last_key_value().map(|(&p, _)| p)
    }

    pub fn best_ask(&self) -> Option<Price> {
        self.asks.first_key_value().map(|(&p, _)| p)
    }

    /// Total resting quantity on both sides (a full walk).
    pub fn resting_qty(&self) -> u64 {
        self.bids
            .values()
            .chain(self.asks.values())
            .flatten()
            .map(|o| o.qty as u64)
            .sum()
    }

    fn side_mut(&mut self, side: Side) -> &mut Levels {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// A limit order: match up to `price`, then rest (GTC) or drop (IOC) the remainder.
    pub fn limit(&mut self, o: Limit, fills: &mut Vec<Fill>) -> Result<Placed, Reject> {
        if o.qty <= 0 {
            return Err(Reject::BadQty);
        }
        if self.index.contains_key(&o.id) {
            return Err(Reject::DuplicateId);
        }
        let filled = self.take(o.side, o.price, o.qty, fills);
        let left = o.qty - filled;
        if left > 0 && o.tif == Tif::Gtc {
            self.side_mut(o.side)
                .entry(o.price)
                .or_default()
                .push_back(Order {
                    id: o.id,
                    account: o.account,
                    qty: left,
                });
            self.index.insert(o.id, (o.side, o.price));
            return Ok(Placed {
                filled,
                rested: left,
            });
        }
        Ok(Placed { filled, rested: 0 })
    }

    /// A market order: match at prices no worse than `bound`; the remainder is dropped.
    pub fn market(
        &mut self,
        id: OrderId,
        side: Side,
        qty: Qty,
        bound: Price,
        fills: &mut Vec<Fill>,
    ) -> Result<Qty, Reject> {
        if qty <= 0 {
            return Err(Reject::BadQty);
        }
        if self.index.contains_key(&id) {
            return Err(Reject::DuplicateId);
        }
        Ok(self.take(side, bound, qty, fills))
    }

    /// Match a taker of `side` against the opposite side's best levels while they are within
    /// `limit`; returns the quantity filled.
    fn take(&mut self, side: Side, limit: Price, qty: Qty, fills: &mut Vec<Fill>) -> Qty {
        let mut want = qty;
        while want > 0 {
            let mut level = match side {
                Side::Buy => match self.asks.first_entry() {
                    Some(e) if *e.key() <= limit => e,
                    _ => break,
                },
                Side::Sell => match self.bids.last_entry() {
                    Some(e) if *e.key() >= limit => e,
                    _ => break,
                },
            };
            let price = *level.key();
            let queue = level.get_mut();
            while want > 0 {
                let Some(maker) = queue.front_mut() else {
                    break;
                };
                let q = want.min(maker.qty);
                maker.qty -= q;
                want -= q;
                fills.push(Fill {
                    maker: maker.id,
                    price,
                    qty: q,
                    maker_left: maker.qty,
                });
                if maker.qty == 0 {
                    let id = maker.id;
                    queue.pop_front();
                    self.index.remove(&id);
                }
            }
            if queue.is_empty() {
                level.remove();
            }
        }
        qty - want
    }

    /// Take a resting order of `account` out of its level; `None` if there is none.
    fn unlink(&mut self, id: OrderId, account: AccountId) -> Option<(Side, Price, Order)> {
        let &(side, price) = self.index.get(&id)?;
        let levels = self.side_mut(side);
        let queue = levels.get_mut(&price)?;
        let pos = queue.iter().position(|o| o.id == id)?;
        if queue[pos].account != account {
            return None;
        }
        let order = queue.remove(pos)?;
        if queue.is_empty() {
            levels.remove(&price);
        }
        self.index.remove(&id);
        Some((side, price, order))
    }

    /// Cancel a resting order; returns its remaining quantity.
    pub fn cancel(&mut self, id: OrderId, account: AccountId) -> Result<Qty, Reject> {
        self.unlink(id, account)
            .map(|(_, _, o)| o.qty)
            .ok_or(Reject::NotFound)
    }

    /// Amend a resting order's price and/or remaining quantity. Lowering only the quantity
    /// keeps its place in the queue; any other change re-queues it (it may trade at once).
    pub fn amend(
        &mut self,
        id: OrderId,
        account: AccountId,
        price: Option<Price>,
        qty: Option<Qty>,
        fills: &mut Vec<Fill>,
    ) -> Result<Placed, Reject> {
        if qty.is_some_and(|q| q <= 0) {
            return Err(Reject::BadQty);
        }
        let &(side, old_price) = self.index.get(&id).ok_or(Reject::NotFound)?;
        let new_price = price.unwrap_or(old_price);
        if new_price == old_price {
            let queue = self
                .side_mut(side)
                .get_mut(&old_price)
                .ok_or(Reject::NotFound)?;
            let o = queue
                .iter_mut()
                .find(|o| o.id == id && o.account == account)
                .ok_or(Reject::NotFound)?;
            let new_qty = qty.unwrap_or(o.qty);
            if new_qty <= o.qty {
                o.qty = new_qty;
                return Ok(Placed {
                    filled: 0,
                    rested: new_qty,
                });
            }
        }
        let (_, _, o) = self.unlink(id, account).ok_or(Reject::NotFound)?;
        let requeued = Limit {
            id,
            account,
            side,
            price: new_price,
            qty: qty.unwrap_or(o.qty),
            tif: Tif::Gtc,
        };
        self.limit(requeued, fills)
    }

    /// Check the module's invariants (a full walk; the benchmark calls it after each pass).
    pub fn assert_invariants(&self) {
        let mut n = 0;
        for (side, levels) in [(Side::Buy, &self.bids), (Side::Sell, &self.asks)] {
            for (&price, queue) in levels {
                assert!(!queue.is_empty(), "empty level {price}");
                for o in queue {
                    assert!(o.qty > 0);
                    assert_eq!(self.index.get(&o.id), Some(&(side, price)));
                    n += 1;
                }
            }
        }
        assert_eq!(n, self.index.len());
        if let (Some(b), Some(a)) = (self.best_bid(), self.best_ask()) {
            assert!(b < a, "crossed: {b} >= {a}");
        }
    }
}
