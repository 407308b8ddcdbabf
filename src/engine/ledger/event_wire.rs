//! The journal and snapshot encodings of [`OpenOrder`] and [`FillRecord`]: their position
//! legs travel in spare bits of the byte that held `reduce_only` or the taker side
//! (`domain::position_side::{pack,unpack}_*`), so holds and fills recorded before hedge mode
//! read as leg `both`.
//!
//! # Invariants
//! - The field order of each wire struct is its encoding (postcard, positional): do not
//!   reorder fields.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{FillRecord, OpenOrder};
use crate::domain::position_side::{
    pack_reduce_only, pack_trade_sides, unpack_reduce_only, unpack_trade_sides,
};
use crate::domain::{AccountId, Amount, MarketId, OrderId, Price, Side, Timestamp, TradeId};

/// [`OpenOrder`] as encoded: bit 0 of `flags` is `reduce_only` (the byte that held the bool),
/// bits 1–2 the position side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOrderWire {
    order_id: OrderId,
    side: Side,
    qty: i64,
    #[serde(with = "crate::domain::dec")]
    price: Decimal,
    flags: u8,
}

impl From<OpenOrder> for OpenOrderWire {
    fn from(o: OpenOrder) -> OpenOrderWire {
        OpenOrderWire {
            order_id: o.order_id,
            side: o.side,
            qty: o.qty,
            price: o.price,
            flags: pack_reduce_only(o.reduce_only, o.position_side),
        }
    }
}

impl From<OpenOrderWire> for OpenOrder {
    fn from(w: OpenOrderWire) -> OpenOrder {
        let (reduce_only, position_side) = unpack_reduce_only(w.flags);
        OpenOrder {
            order_id: w.order_id,
            side: w.side,
            qty: w.qty,
            price: w.price,
            reduce_only,
            position_side,
        }
    }
}

/// [`FillRecord`] as journaled: `sides` holds the taker side in bit 0 (the byte that held
/// `taker_side`: 0 buy, 1 sell), the taker's leg in bits 1–2 and the maker's in bits 3–4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillWire {
    market: MarketId,
    trade_id: TradeId,
    price: Price,
    qty: i64,
    sides: u8,
    taker: AccountId,
    taker_order: OrderId,
    maker: AccountId,
    maker_order: OrderId,
    taker_fee: Amount,
    maker_fee: Amount,
    liquidation_fee: Amount,
    fee_residue: Amount,
    taker_realized: Amount,
    maker_realized: Amount,
    time: Timestamp,
}

impl From<FillRecord> for FillWire {
    fn from(r: FillRecord) -> FillWire {
        FillWire {
            market: r.market,
            trade_id: r.trade_id,
            price: r.price,
            qty: r.qty,
            sides: pack_trade_sides(r.taker_side, r.taker_position, r.maker_position),
            taker: r.taker,
            taker_order: r.taker_order,
            maker: r.maker,
            maker_order: r.maker_order,
            taker_fee: r.taker_fee,
            maker_fee: r.maker_fee,
            liquidation_fee: r.liquidation_fee,
            fee_residue: r.fee_residue,
            taker_realized: r.taker_realized,
            maker_realized: r.maker_realized,
            time: r.time,
        }
    }
}

impl From<FillWire> for FillRecord {
    fn from(w: FillWire) -> FillRecord {
        let (taker_side, taker_position, maker_position) = unpack_trade_sides(w.sides);
        FillRecord {
            market: w.market,
            trade_id: w.trade_id,
            price: w.price,
            qty: w.qty,
            taker_side,
            taker: w.taker,
            taker_order: w.taker_order,
            maker: w.maker,
            maker_order: w.maker_order,
            taker_fee: w.taker_fee,
            maker_fee: w.maker_fee,
            liquidation_fee: w.liquidation_fee,
            fee_residue: w.fee_residue,
            taker_realized: w.taker_realized,
            maker_realized: w.maker_realized,
            time: w.time,
            taker_position,
            maker_position,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PositionSide;

    /// A hold as journals and snapshots before hedge mode held it.
    #[derive(Serialize)]
    struct OpenOrderBeforeHedge {
        order_id: OrderId,
        side: Side,
        qty: i64,
        #[serde(with = "crate::domain::dec")]
        price: Decimal,
        reduce_only: bool,
    }

    #[test]
    fn holds_and_fills_read_old_records_and_round_trip_every_leg() {
        let old = OpenOrderBeforeHedge {
            order_id: OrderId(3),
            side: Side::Sell,
            qty: 5,
            price: Decimal::new(5_000_012, 2),
            reduce_only: true,
        };
        let o: OpenOrder = postcard::from_bytes(&postcard::to_stdvec(&old).unwrap()).unwrap();
        assert_eq!(
            o,
            OpenOrder {
                order_id: OrderId(3),
                side: Side::Sell,
                qty: 5,
                price: Decimal::new(5_000_012, 2),
                reduce_only: true,
                position_side: PositionSide::Both,
            }
        );
        for ps in [PositionSide::Long, PositionSide::Short] {
            let o = OpenOrder {
                position_side: ps,
                reduce_only: false,
                ..o
            };
            let bytes = postcard::to_stdvec(&o).unwrap();
            assert_eq!(postcard::from_bytes::<OpenOrder>(&bytes).unwrap(), o);
        }
        // A fill's legs share the taker side's byte: 0/1 as before, legs in the upper bits.
        let f = FillRecord {
            market: MarketId(1),
            trade_id: TradeId(2),
            price: Price(3),
            qty: 4,
            taker_side: Side::Sell,
            taker: AccountId(100),
            taker_order: OrderId(5),
            maker: AccountId(101),
            maker_order: OrderId(6),
            taker_fee: Amount(Decimal::ONE),
            maker_fee: Amount(Decimal::NEGATIVE_ONE),
            liquidation_fee: Amount(Decimal::ZERO),
            fee_residue: Amount(Decimal::ZERO),
            taker_realized: Amount(Decimal::TWO),
            maker_realized: Amount(Decimal::ZERO),
            time: Timestamp(9),
            taker_position: PositionSide::Both,
            maker_position: PositionSide::Both,
        };
        let both = postcard::to_stdvec(&f).unwrap();
        let byte = both[1 + 1 + 1 + 1]; // market, trade id, price, qty: one varint byte each
        assert_eq!(byte, 1, "a one-way fill keeps the old taker-side byte");
        let hedged = FillRecord {
            taker_position: PositionSide::Short,
            maker_position: PositionSide::Long,
            ..f
        };
        let bytes = postcard::to_stdvec(&hedged).unwrap();
        assert_eq!(bytes.len(), both.len());
        assert_eq!(postcard::from_bytes::<FillRecord>(&bytes).unwrap(), hedged);
    }
}
