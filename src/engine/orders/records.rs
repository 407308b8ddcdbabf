//! The order records, held densely: records live in a slab (a vector with a free list) and a
//! hash index maps `(market, order id)` to their slot.
//!
//! Why not one hash map of records: a hash table is between 44 % and 87 % full, so a map of
//! 176-byte records spent up to twice that per record (405 bytes per resting order at a million
//! orders, measured with `benches/http/memory.py`); here only the 4-byte slot number sits in the
//! sparse table and the records stay packed (the slab grows by a quarter at a time, so at most
//! a fifth of it is spare).
//!
//! # Invariants
//! - `index[k] = i` exactly when `slots[i]` holds the record whose key is `k`
//!   (`(record.market, record.order.order_id)`).
//! - Serialized as a map from key to record, the same bytes a hash map of records serialized to
//!   (postcard writes the length, then each key and value), so snapshots keep their format.

use std::fmt;

use rustc_hash::FxHashMap;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::OrderRecord;
use crate::domain::{MarketId, OrderId};

/// Slots added at least when the slab is full.
const GROW_AT_LEAST: usize = 64;

/// The key of a record.
pub type Key = (MarketId, OrderId);

fn key_of(r: &OrderRecord) -> Key {
    (r.market, r.order.order_id)
}

/// Order records by `(market, order id)`.
#[derive(Clone, Debug, Default)]
pub struct Records {
    slots: slab::Slab<OrderRecord>,
    index: FxHashMap<Key, u32>,
}

impl Records {
    pub fn get(&self, k: &Key) -> Option<&OrderRecord> {
        self.index.get(k).map(|&i| &self.slots[i as usize])
    }

    pub fn get_mut(&mut self, k: &Key) -> Option<&mut OrderRecord> {
        self.index.get(k).map(|&i| &mut self.slots[i as usize])
    }

    /// Insert `r` under its own key, replacing (and returning) a record with the same key.
    pub fn insert(&mut self, r: OrderRecord) -> Option<OrderRecord> {
        let k = key_of(&r);
        if let Some(&i) = self.index.get(&k) {
            return Some(std::mem::replace(&mut self.slots[i as usize], r));
        }
        if self.slots.len() == self.slots.capacity() {
            // Grow by a quarter, not the vector's double: a doubled slab is up to half empty,
            // which is the waste this type exists to avoid (a large reallocation is a remap).
            self.slots
                .reserve_exact((self.slots.len() / 4).max(GROW_AT_LEAST));
        }
        let i = self.slots.insert(r);
        // expect: 4 billion records would need terabytes; retention keeps far fewer.
        let i = u32::try_from(i).expect("fewer than 2^32 order records");
        self.index.insert(k, i);
        None
    }

    pub fn remove(&mut self, k: &Key) -> Option<OrderRecord> {
        let i = self.index.remove(k)?;
        Some(self.slots.remove(i as usize))
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    /// Every record with its key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &OrderRecord)> {
        self.slots.iter().map(|(_, r)| (key_of(r), r))
    }
}

impl Serialize for Records {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, r) in self.iter() {
            m.serialize_entry(&k, r)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Records {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Records, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Records;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of order records")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Records, A::Error> {
                let n = a.size_hint().unwrap_or(0);
                let mut out = Records {
                    slots: slab::Slab::with_capacity(n),
                    index: FxHashMap::with_capacity_and_hasher(n, Default::default()),
                };
                while let Some((k, r)) = a.next_entry::<Key, OrderRecord>()? {
                    if k != key_of(&r) {
                        return Err(serde::de::Error::custom(format!(
                            "order record {:?} stored under key {k:?}",
                            key_of(&r)
                        )));
                    }
                    out.insert(r);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AccountId, Order, OrderStatus, OrderTerms, OrderType, PositionSide, Price, Qty, Side, Stp,
        TimeInForce, Timestamp, TriggerBy,
    };

    fn record(market: u16, id: u64) -> OrderRecord {
        OrderRecord {
            order: Order {
                order_id: OrderId(id),
                account: AccountId(1),
                terms: OrderTerms {
                    side: Side::Buy,
                    order_type: OrderType::Limit,
                    tif: TimeInForce::Gtc,
                    price: Some(Price(500_000 + id as i64)),
                    trigger_price: None,
                    trigger_by: TriggerBy::Last,
                    qty: Qty(1),
                    reduce_only: false,
                    stp: Stp::None,
                    position_side: PositionSide::Both,
                    close_position: false,
                },
                liquidation: false,
            },
            market: MarketId(market),
            client_order_id: None,
            filled: Qty::ZERO,
            remaining: Qty(1),
            filled_ticks_lots: 0,
            status: OrderStatus::New,
            reason: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            fills: Vec::new(),
        }
    }

    #[test]
    fn insert_get_remove_reuse_and_serialize_like_a_map() {
        let mut r = Records::default();
        let mut map: FxHashMap<Key, OrderRecord> = FxHashMap::default();
        for i in 0..100u64 {
            let rec = record((i % 3) as u16, i);
            assert!(r.insert(rec.clone()).is_none());
            map.insert(key_of(&rec), rec);
        }
        for i in (0..100u64).step_by(2) {
            let k = (MarketId((i % 3) as u16), OrderId(i));
            assert_eq!(r.remove(&k), map.remove(&k));
        }
        // Freed slots are reused.
        for i in 100..150u64 {
            let rec = record(0, i);
            r.insert(rec.clone());
            map.insert(key_of(&rec), rec);
        }
        assert_eq!(r.len(), map.len());
        assert!(r.slots.capacity() <= 128, "slots reused");
        for (k, v) in &map {
            assert_eq!(r.get(k), Some(v));
        }
        r.get_mut(&(MarketId(0), OrderId(120))).unwrap().remaining = Qty(7);
        map.get_mut(&(MarketId(0), OrderId(120))).unwrap().remaining = Qty(7);
        // Snapshots: what a hash map of records wrote reads back, and the other way round.
        let from_map: Records = postcard::from_bytes(&postcard::to_stdvec(&map).unwrap()).unwrap();
        let to_map: FxHashMap<Key, OrderRecord> =
            postcard::from_bytes(&postcard::to_stdvec(&r).unwrap()).unwrap();
        assert_eq!(to_map, map);
        assert_eq!(from_map.len(), map.len());
        for (k, v) in &map {
            assert_eq!(from_map.get(k), Some(v));
        }
    }
}
