//! The snapshot encoding of an [`OrderRecord`]: its fields in the order of the first layout
//! (a flat record, before the record held its [`Order`]), so snapshots written by earlier
//! builds still load and the store's state hash is unchanged. A flat table of fields, kept
//! in one place.
//!
//! # Invariants
//! - `encode(decode(x)) == x` for every record; the field order below is the format
//!   (`ORDERS_SNAPSHOT_V1`, postcard, positional): never reorder it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{OrderFill, OrderRecord};
use crate::domain::{
    AccountId, CloseReason, MarketId, Order, OrderId, OrderStatus, OrderTerms, OrderType, Price,
    Qty, Side, Stp, TimeInForce, Timestamp, TriggerBy,
};

/// The record as written: borrowed on the way out, owned on the way in.
#[derive(Serialize, Deserialize)]
struct Wire<C, F> {
    order_id: OrderId,
    market: MarketId,
    account: AccountId,
    client_order_id: C,
    side: Side,
    order_type: OrderType,
    tif: TimeInForce,
    price: Option<Price>,
    trigger_price: Option<Price>,
    trigger_by: TriggerBy,
    qty: Qty,
    filled: Qty,
    remaining: Qty,
    filled_ticks_lots: i128,
    status: OrderStatus,
    reason: Option<CloseReason>,
    /// Bit 0: reduce-only (the byte was a bool before hedge mode); bits 1–2: the position
    /// side ([`PositionSide::bits`]), 0 (`both`) in records written before it.
    flags: u8,
    stp: Stp,
    liquidation: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
    fills: F,
}

impl Serialize for OrderRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (o, t) = (&self.order, &self.order.terms);
        Wire {
            order_id: o.order_id,
            market: self.market,
            account: o.account,
            client_order_id: &self.client_order_id,
            side: t.side,
            order_type: t.order_type,
            tif: t.tif,
            price: t.price,
            trigger_price: t.trigger_price,
            trigger_by: t.trigger_by,
            qty: t.qty,
            filled: self.filled,
            remaining: self.remaining,
            filled_ticks_lots: self.filled_ticks_lots,
            status: self.status,
            reason: self.reason,
            flags: t.flags(),
            stp: t.stp,
            liquidation: o.liquidation,
            created_at: self.created_at,
            updated_at: self.updated_at,
            fills: &self.fills,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for OrderRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OrderRecord, D::Error> {
        let w = Wire::<Option<String>, Vec<OrderFill>>::deserialize(d)?;
        let (reduce_only, position_side, close_position) = OrderTerms::unpack_flags(w.flags);
        Ok(OrderRecord {
            order: Order {
                order_id: w.order_id,
                account: w.account,
                terms: OrderTerms {
                    side: w.side,
                    order_type: w.order_type,
                    tif: w.tif,
                    price: w.price,
                    trigger_price: w.trigger_price,
                    trigger_by: w.trigger_by,
                    qty: w.qty,
                    reduce_only,
                    stp: w.stp,
                    position_side,
                    close_position,
                },
                liquidation: w.liquidation,
            },
            market: w.market,
            client_order_id: w.client_order_id,
            filled: w.filled,
            remaining: w.remaining,
            filled_ticks_lots: w.filled_ticks_lots,
            status: w.status,
            reason: w.reason,
            created_at: w.created_at,
            updated_at: w.updated_at,
            fills: w.fills,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout before the record held its order, as earlier builds wrote it.
    #[derive(Serialize)]
    struct Flat {
        order_id: OrderId,
        market: MarketId,
        account: AccountId,
        client_order_id: Option<String>,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: Option<Price>,
        trigger_price: Option<Price>,
        trigger_by: TriggerBy,
        qty: Qty,
        filled: Qty,
        remaining: Qty,
        filled_ticks_lots: i128,
        status: OrderStatus,
        reason: Option<CloseReason>,
        reduce_only: bool,
        stp: Stp,
        liquidation: bool,
        created_at: Timestamp,
        updated_at: Timestamp,
        fills: Vec<OrderFill>,
    }

    #[test]
    fn records_written_by_earlier_builds_load_and_encode_the_same() {
        let flat = Flat {
            order_id: OrderId(7),
            market: MarketId(1),
            account: AccountId(1001),
            client_order_id: Some("c-1".into()),
            side: Side::Sell,
            order_type: OrderType::StopLimit,
            tif: TimeInForce::Ioc,
            price: Some(Price(500_001)),
            trigger_price: Some(Price(490_000)),
            trigger_by: TriggerBy::Mark,
            qty: Qty(30),
            filled: Qty(10),
            remaining: Qty(20),
            filled_ticks_lots: 5_000_010,
            status: OrderStatus::PartiallyFilled,
            reason: None,
            reduce_only: true,
            stp: Stp::ExpireBoth,
            liquidation: false,
            created_at: Timestamp(5),
            updated_at: Timestamp(9),
            fills: Vec::new(),
        };
        let old = postcard::to_stdvec(&flat).unwrap();
        let r: OrderRecord = postcard::from_bytes(&old).unwrap();
        assert_eq!(r.order.order_id, OrderId(7));
        assert_eq!(r.order.terms.trigger_by, TriggerBy::Mark);
        assert_eq!(r.order.terms.stp, Stp::ExpireBoth);
        assert!(r.order.terms.reduce_only);
        assert_eq!(r.client_order_id.as_deref(), Some("c-1"));
        assert_eq!(postcard::to_stdvec(&r).unwrap(), old);
    }
}
