//! Executable invariants and a state hash independent of hash-map iteration order.

use sha2::{Digest, Sha256};

use super::{Book, BookSide, NIL};
use crate::domain::{AccountId, Qty, Side};

impl Book {
    /// Panic with a description if any invariant of the module doc is broken. O(n); for tests.
    pub fn assert_invariants(&self) {
        if let (Some(b), Some(a)) = (self.best_bid(), self.best_ask()) {
            assert!(b < a, "book crossed: bid {b:?} >= ask {a:?}");
        }
        let mut seen = 0usize;
        let mut open = rustc_hash::FxHashMap::<AccountId, u32>::default();
        for side in [&self.bids, &self.asks] {
            seen += self.check_side(side, &mut open);
        }
        assert_eq!(seen, self.slab.len(), "slab live count");
        assert_eq!(seen, self.index.len(), "index size");
        self.triggers.check();
        for t in self.triggers.iter() {
            *open.entry(t.order.account).or_default() += 1;
        }
        assert_eq!(open, self.open, "open-order counts per account");
    }

    fn check_side(
        &self,
        side: &BookSide,
        open: &mut rustc_hash::FxHashMap<AccountId, u32>,
    ) -> usize {
        let levels = side.raw_levels();
        if let Some(best) = levels.last() {
            assert!(
                best.is_live(),
                "best level of {:?} is a tombstone",
                side.side()
            );
        }
        let key = |p: i64| if side.side() == Side::Buy { p } else { -p };
        for w in levels.windows(2) {
            assert!(
                key(w[0].price.0) < key(w[1].price.0),
                "levels out of order: {w:?}"
            );
        }
        let tombstones = levels.iter().filter(|l| !l.is_live()).count();
        assert_eq!(tombstones, side.tombstone_count(), "tombstone count");
        let mut seen = 0;
        for level in levels {
            if !level.is_live() {
                assert_eq!(level.total, Qty::ZERO, "tombstone with quantity");
                assert_eq!(level.tail, NIL, "tombstone with a tail");
                continue;
            }
            let (mut h, mut prev, mut sum) = (level.head, NIL, Qty::ZERO);
            while h != NIL {
                let n = self.slab.get(h);
                assert_eq!(n.prev, prev, "broken back link at {:?}", n.id);
                assert_eq!(n.price, level.price, "order {:?} in the wrong level", n.id);
                assert_eq!(n.side, side.side(), "order {:?} on the wrong side", n.id);
                assert!(
                    n.remaining > Qty::ZERO,
                    "order {:?} rests with nothing",
                    n.id
                );
                assert_eq!(self.index.get(&n.id), Some(&h), "index entry of {:?}", n.id);
                *open.entry(n.account).or_default() += 1;
                sum += n.remaining;
                seen += 1;
                prev = h;
                h = n.next;
            }
            assert_eq!(level.tail, prev, "level tail at {:?}", level.price);
            assert_eq!(level.total, sum, "level total at {:?}", level.price);
            assert!(sum > Qty::ZERO, "empty live level at {:?}", level.price);
        }
        seen
    }

    /// SHA-256 over the book's logical state: both sides best-first in FIFO order, the trigger
    /// book in firing order, the sequences and the last price. Equal books hash equal no matter
    /// how they were built (tombstones, slab slots and map order are excluded).
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut put = |x: i64| h.update(x.to_le_bytes());
        for side in [&self.bids, &self.asks] {
            for level in side.iter() {
                put(level.price.0);
                put(level.total.0);
                let mut n = level.head;
                while n != NIL {
                    let o = self.slab.get(n);
                    put(o.id.0 as i64);
                    put(o.account.0 as i64);
                    put(o.remaining.0);
                    put(o.filled().0);
                    put(i64::from(o.flags.bits()));
                    n = o.next;
                }
            }
            put(-1);
        }
        for t in self.triggers.iter() {
            put(t.order.id.0 as i64);
            put(t.order.account.0 as i64);
            put(t.trigger_price.0);
            put(t.order.qty.0);
            put(t.order.price.map_or(0, |p| p.0));
        }
        put(self.sequence as i64);
        put(self.next_trade_id as i64);
        put(self.last_price.map_or(0, |p| p.0));
        h.finalize().into()
    }
}
