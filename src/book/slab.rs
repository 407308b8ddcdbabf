//! Order storage: a slab of fixed-size nodes addressed by `u32` handles, with a free list, so
//! resting an order allocates nothing once the slab has grown to the book's high-water mark.
//!
//! # Invariants
//! - A live node is in exactly one level's FIFO list; a free node is in the free list only.
//! - `prev`/`next` of a live node point to live nodes of the same level, or are [`NIL`].

use crate::domain::{AccountId, OrderId, PositionSide, Price, Qty, Side, Stp};

/// The null handle.
pub const NIL: u32 = u32::MAX;

/// Per-order flags packed in one byte (keeps a node at 48 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    const REDUCE_ONLY: u8 = 1;
    const POST_ONLY: u8 = 2;
    const STP_SHIFT: u8 = 2;
    const LEG_SHIFT: u8 = 4;

    pub fn new(reduce_only: bool, post_only: bool, stp: Stp, leg: PositionSide) -> Flags {
        let stp_bits = match stp {
            Stp::ExpireMaker => 0,
            Stp::ExpireTaker => 1,
            Stp::ExpireBoth => 2,
            Stp::None => 3,
        };
        Flags(
            (u8::from(reduce_only) * Self::REDUCE_ONLY)
                | (u8::from(post_only) * Self::POST_ONLY)
                | (stp_bits << Self::STP_SHIFT)
                | (leg.bits() << Self::LEG_SHIFT),
        )
    }

    /// The position leg the order trades.
    pub fn position_side(self) -> PositionSide {
        // `from_bits` refuses 3, and `new` never writes it.
        PositionSide::from_bits((self.0 >> Self::LEG_SHIFT) & 3).unwrap_or_default()
    }

    pub fn reduce_only(self) -> bool {
        self.0 & Self::REDUCE_ONLY != 0
    }

    pub fn post_only(self) -> bool {
        self.0 & Self::POST_ONLY != 0
    }

    pub fn stp(self) -> Stp {
        match (self.0 >> Self::STP_SHIFT) & 3 {
            0 => Stp::ExpireMaker,
            1 => Stp::ExpireTaker,
            2 => Stp::ExpireBoth,
            _ => Stp::None,
        }
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// Flags from [`Flags::bits`] (snapshots); unknown bits are refused.
    pub fn from_bits(bits: u8) -> Option<Flags> {
        let leg = (bits >> Self::LEG_SHIFT) & 3;
        (bits < 64 && PositionSide::from_bits(leg).is_some()).then_some(Flags(bits))
    }
}

/// A resting order: just what matching needs. Order metadata (client id, times, fills) lives
/// with the engine's order records, not here.
///
/// `filled` (lots filled so far, so an amend can apply a new *total* quantity against the
/// market's own count) is packed into the 6 bytes the other fields leave as padding: 48 bits,
/// enough for any order the config allows (`max_quantity` is checked to stay below 2^47 lots).
#[derive(Clone, Copy, Debug)]
pub struct Node {
    pub id: OrderId,
    pub account: AccountId,
    pub price: Price,
    pub remaining: Qty,
    pub prev: u32,
    pub next: u32,
    pub side: Side,
    pub flags: Flags,
    filled_hi: u16,
    filled_lo: u32,
}

/// The largest quantity, in lots, a [`Node`] can count as filled.
pub const MAX_FILLED_LOTS: i64 = (1 << 48) - 1;

impl Node {
    /// A resting order with `filled` lots already filled (0 for a fresh order).
    #[allow(clippy::too_many_arguments)] // the node's fields
    pub fn new(
        id: OrderId,
        account: AccountId,
        side: Side,
        price: Price,
        remaining: Qty,
        filled: Qty,
        flags: Flags,
    ) -> Node {
        let mut n = Node {
            id,
            account,
            price,
            remaining,
            prev: NIL,
            next: NIL,
            side,
            flags,
            filled_hi: 0,
            filled_lo: 0,
        };
        n.set_filled(filled);
        n
    }

    /// Lots of this order filled so far (as maker or before it rested).
    #[inline]
    pub fn filled(&self) -> Qty {
        Qty((i64::from(self.filled_hi) << 32) | i64::from(self.filled_lo))
    }

    /// Set the filled count; saturates at [`MAX_FILLED_LOTS`] (config keeps orders below it).
    #[inline]
    pub fn set_filled(&mut self, q: Qty) {
        let v = q.0.clamp(0, MAX_FILLED_LOTS);
        self.filled_hi = (v >> 32) as u16;
        self.filled_lo = v as u32;
    }
}

/// The arena of nodes.
#[derive(Clone, Debug, Default)]
pub struct Slab {
    nodes: Vec<Node>,
    free: u32,
    live: usize,
}

impl Slab {
    pub fn new() -> Slab {
        Slab {
            nodes: Vec::new(),
            free: NIL,
            live: 0,
        }
    }

    /// Store `node`, reusing a freed slot if there is one.
    #[inline]
    pub fn insert(&mut self, node: Node) -> u32 {
        self.live += 1;
        if self.free != NIL {
            let h = self.free;
            self.free = self.nodes[h as usize].next;
            self.nodes[h as usize] = node;
            h
        } else {
            let h = u32::try_from(self.nodes.len()).expect("slab: more than 2^32 resting orders");
            self.nodes.push(node);
            h
        }
    }

    /// Free `h`. The caller has unlinked it from its level.
    #[inline]
    pub fn remove(&mut self, h: u32) {
        self.live -= 1;
        let n = &mut self.nodes[h as usize];
        n.remaining = Qty::ZERO;
        n.next = self.free;
        self.free = h;
    }

    #[inline]
    pub fn get(&self, h: u32) -> &Node {
        &self.nodes[h as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, h: u32) -> &mut Node {
        &mut self.nodes[h as usize]
    }

    /// Number of live (resting) nodes.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Heap bytes held (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_is_compact() {
        assert_eq!(std::mem::size_of::<Node>(), 48);
    }

    #[test]
    fn filled_round_trips_through_48_bits() {
        let mut n = Node::new(
            OrderId(1),
            AccountId(1),
            Side::Sell,
            Price(1),
            Qty(1),
            Qty(7),
            Flags::default(),
        );
        assert_eq!(n.filled(), Qty(7));
        for v in [0, 1, u32::MAX as i64, u32::MAX as i64 + 1, MAX_FILLED_LOTS] {
            n.set_filled(Qty(v));
            assert_eq!(n.filled(), Qty(v));
        }
    }

    #[test]
    fn flags_round_trip() {
        for stp in [
            Stp::ExpireMaker,
            Stp::ExpireTaker,
            Stp::ExpireBoth,
            Stp::None,
        ] {
            for ro in [false, true] {
                for po in [false, true] {
                    for leg in [PositionSide::Both, PositionSide::Long, PositionSide::Short] {
                        let f = Flags::new(ro, po, stp, leg);
                        assert_eq!(
                            (f.reduce_only(), f.post_only(), f.stp(), f.position_side()),
                            (ro, po, stp, leg)
                        );
                        assert_eq!(Flags::from_bits(f.bits()), Some(f));
                    }
                }
            }
            assert_eq!(Flags::from_bits(3 << 4), None);
        }
    }

    #[test]
    fn freed_slots_are_reused() {
        let mut s = Slab::new();
        let n = Node::new(
            OrderId(1),
            AccountId(100),
            Side::Buy,
            Price(1),
            Qty(1),
            Qty::ZERO,
            Flags::default(),
        );
        let a = s.insert(n);
        let b = s.insert(n);
        s.remove(a);
        assert_eq!(s.insert(n), a);
        assert_ne!(a, b);
        assert_eq!(s.len(), 2);
    }
}
