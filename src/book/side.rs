//! One side of the book: price levels in a sorted vector with the best level **last**, each
//! level an intrusive FIFO list of slab nodes.
//!
//! Why a vector: the hot range near the best price is contiguous in memory and the best level
//! is `last()`, so matching and inserting near the top touch few cache lines. Levels that empty
//! away from the top are kept as *tombstones* (`head == NIL`) and revived when an order
//! arrives at that price again, so a churning book stops shifting the vector; tombstones are
//! compacted away once they outnumber live levels (bounded memory).
//!
//! # Invariants
//! - Levels are strictly increasing in `key(price)` (bids: price, asks: −price).
//! - The last level, if any, is live. A tombstone has `total == 0`, `head == tail == NIL`.
//! - A live level's `total` is the sum of its nodes' `remaining`, all > 0.

use super::slab::{Slab, NIL};
use crate::domain::{Price, Qty, Side};

/// Tombstones tolerated beyond the number of live levels before compaction.
const TOMBSTONE_SLACK: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub price: Price,
    pub total: Qty,
    pub head: u32,
    pub tail: u32,
}

impl Level {
    #[inline]
    pub fn is_live(&self) -> bool {
        self.head != NIL
    }
}

#[derive(Clone, Debug)]
pub struct BookSide {
    side: Side,
    levels: Vec<Level>,
    tombstones: usize,
}

impl BookSide {
    pub fn new(side: Side) -> BookSide {
        BookSide {
            side,
            levels: Vec::new(),
            tombstones: 0,
        }
    }

    #[inline]
    fn key(side: Side, p: Price) -> i64 {
        match side {
            Side::Buy => p.0,
            Side::Sell => -p.0,
        }
    }

    #[inline]
    fn find(&self, p: Price) -> Result<usize, usize> {
        let k = Self::key(self.side, p);
        let side = self.side;
        self.levels
            .binary_search_by_key(&k, |l| Self::key(side, l.price))
    }

    /// The best live level.
    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    #[inline]
    pub fn best_price(&self) -> Option<Price> {
        self.levels.last().map(|l| l.price)
    }

    /// Index of the best level (for the matching loop).
    #[inline]
    pub(super) fn best_index(&self) -> Option<usize> {
        self.levels.len().checked_sub(1)
    }

    #[inline]
    pub(super) fn level_mut(&mut self, i: usize) -> &mut Level {
        &mut self.levels[i]
    }

    /// Append node `h` (already in the slab, unlinked) at the tail of its price level.
    /// Returns the level's new total.
    pub fn push(&mut self, slab: &mut Slab, h: u32) -> Qty {
        let (price, qty) = {
            let n = slab.get(h);
            (n.price, n.remaining)
        };
        match self.find(price) {
            Ok(i) => {
                let level = &mut self.levels[i];
                if level.is_live() {
                    let tail = level.tail;
                    slab.get_mut(tail).next = h;
                    let n = slab.get_mut(h);
                    n.prev = tail;
                    n.next = NIL;
                    level.tail = h;
                    level.total += qty;
                } else {
                    self.tombstones -= 1;
                    *level = Self::single(price, qty, slab, h);
                }
                level.total
            }
            Err(i) => {
                self.levels.insert(i, Self::single(price, qty, slab, h));
                qty
            }
        }
    }

    fn single(price: Price, qty: Qty, slab: &mut Slab, h: u32) -> Level {
        let n = slab.get_mut(h);
        n.prev = NIL;
        n.next = NIL;
        Level {
            price,
            total: qty,
            head: h,
            tail: h,
        }
    }

    /// Unlink node `h` from its level (the node stays in the slab). Returns the level's new
    /// total (0: the level is gone).
    pub fn unlink(&mut self, slab: &mut Slab, h: u32) -> Qty {
        let (price, qty, prev, next) = {
            let n = slab.get(h);
            (n.price, n.remaining, n.prev, n.next)
        };
        // expect: a resting node's price always has a level (module invariant).
        let i = self
            .find(price)
            .expect("book: resting order without a level");
        if prev != NIL {
            slab.get_mut(prev).next = next;
        }
        if next != NIL {
            slab.get_mut(next).prev = prev;
        }
        let level = &mut self.levels[i];
        if level.head == h {
            level.head = next;
        }
        if level.tail == h {
            level.tail = prev;
        }
        level.total -= qty;
        let total = level.total;
        if !level.is_live() {
            self.bury(i);
        }
        total
    }

    /// Reduce the total of the level holding a node whose quantity shrank in place.
    pub fn shrink(&mut self, price: Price, by: Qty) -> Qty {
        // expect: only called for resting nodes (module invariant).
        let i = self
            .find(price)
            .expect("book: resting order without a level");
        self.levels[i].total -= by;
        self.levels[i].total
    }

    /// Level `i` just emptied: drop it if it was the best (and any tombstones it exposes),
    /// otherwise keep it as a tombstone, compacting when they pile up.
    pub(super) fn bury(&mut self, i: usize) {
        let level = &mut self.levels[i];
        level.head = NIL;
        level.tail = NIL;
        level.total = Qty::ZERO;
        if i + 1 == self.levels.len() {
            self.levels.pop();
            while self.levels.last().is_some_and(|l| !l.is_live()) {
                self.levels.pop();
                self.tombstones -= 1;
            }
        } else {
            self.tombstones += 1;
            if self.tombstones > self.live_levels() + TOMBSTONE_SLACK {
                self.levels.retain(Level::is_live);
                self.tombstones = 0;
            }
        }
    }

    /// Number of live levels.
    pub fn live_levels(&self) -> usize {
        self.levels.len() - self.tombstones
    }

    /// Live levels, best first.
    pub fn iter(&self) -> impl Iterator<Item = &Level> + '_ {
        self.levels.iter().rev().filter(|l| l.is_live())
    }

    /// The total quantity resting at `price` (0 if none).
    pub fn qty_at(&self, price: Price) -> Qty {
        match self.find(price) {
            Ok(i) => self.levels[i].total,
            Err(_) => Qty::ZERO,
        }
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// All levels including tombstones, in storage order (for invariant checks).
    pub(super) fn raw_levels(&self) -> &[Level] {
        &self.levels
    }

    pub(super) fn tombstone_count(&self) -> usize {
        self.tombstones
    }

    pub fn heap_bytes(&self) -> usize {
        self.levels.capacity() * std::mem::size_of::<Level>()
    }
}
