//! Events: immutable facts returned by the core. The shell journals, publishes and replies with
//! them; it never changes state any other way.

use serde::{Deserialize, Serialize};

use super::position_side::{pack_trade_sides, unpack_trade_sides};
use super::{AccountId, CloseReason, OrderId, PositionSide, Price, Qty, Side, TradeId};

/// The resting side of a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maker {
    pub order_id: OrderId,
    pub account: AccountId,
    /// What is left of the maker order after this trade (0: filled and removed).
    pub remaining: Qty,
}

/// One taker order meeting one maker order, at the maker's price.
///
/// Journal encoding: [`TradeWire`] (the position legs share the byte of `taker_side`, so
/// trades journaled before hedge mode read as legs `both`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "TradeWire", from = "TradeWire")]
pub struct Trade {
    pub trade_id: TradeId,
    pub price: Price,
    pub qty: Qty,
    pub taker_side: Side,
    pub taker_order: OrderId,
    pub taker_account: AccountId,
    pub maker: Maker,
    /// The leg of the taker's position this fill moves.
    pub taker_position: PositionSide,
    /// The leg of the maker's position this fill moves.
    pub maker_position: PositionSide,
}

/// [`Trade`] as journaled: `sides` is the byte that held `taker_side` (postcard: 0 buy,
/// 1 sell) with the taker's leg in bits 1–2 and the maker's in bits 3–4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeWire {
    trade_id: TradeId,
    price: Price,
    qty: Qty,
    sides: u8,
    taker_order: OrderId,
    taker_account: AccountId,
    maker: Maker,
}

impl From<Trade> for TradeWire {
    fn from(t: Trade) -> TradeWire {
        TradeWire {
            trade_id: t.trade_id,
            price: t.price,
            qty: t.qty,
            sides: pack_trade_sides(t.taker_side, t.taker_position, t.maker_position),
            taker_order: t.taker_order,
            taker_account: t.taker_account,
            maker: t.maker,
        }
    }
}

impl From<TradeWire> for Trade {
    fn from(w: TradeWire) -> Trade {
        let (taker_side, taker_position, maker_position) = unpack_trade_sides(w.sides);
        Trade {
            trade_id: w.trade_id,
            price: w.price,
            qty: w.qty,
            taker_side,
            taker_order: w.taker_order,
            taker_account: w.taker_account,
            maker: w.maker,
            taker_position,
            maker_position,
        }
    }
}

/// What the order book did. One command emits a sequence of these, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BookEvent {
    /// A fill.
    Trade(Trade),
    /// The (remainder of the) order now rests in the book.
    Rested {
        order_id: OrderId,
        account: AccountId,
        side: Side,
        price: Price,
        qty: Qty,
    },
    /// `qty` of the order left the book or the taker unfilled, for `reason`
    /// (`reason.status()` tells cancelled from expired). The order is closed.
    Closed {
        order_id: OrderId,
        account: AccountId,
        qty: Qty,
        reason: CloseReason,
    },
    /// A resting order changed in place (`requeued == false`: priority kept) or was taken out
    /// to be re-entered at `price` (`requeued == true`; trades and `Rested` may follow).
    Amended {
        order_id: OrderId,
        price: Price,
        remaining: Qty,
        requeued: bool,
    },
    /// The absolute quantity at one price level after a change (0: the level is gone);
    /// `sequence` is the book sequence after this change (one per level change).
    Level {
        side: Side,
        price: Price,
        qty: Qty,
        sequence: u64,
    },
    /// A conditional order fired and left the trigger book; its taker order follows.
    Triggered { order_id: OrderId },
    /// A close-position order that just fired (`Triggered` precedes it) takes `qty`, the
    /// whole position of its leg at that moment (docs/RULES.md §2a).
    Sized { order_id: OrderId, qty: Qty },
    /// A stop or take-profit order waiting for its trigger now has these terms (an amend:
    /// trigger price, limit price for the limit types, quantity; it keeps its id).
    TriggerAmended {
        order_id: OrderId,
        trigger_price: Price,
        price: Option<Price>,
        qty: Qty,
    },
}

/// An event that does not fit the state it is applied to: the input is corrupt, out of order
/// or from another history. Replay stops on it rather than build a state nobody had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ApplyError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    /// A trade as journals before hedge mode held it (`taker_side` a plain enum).
    #[derive(Serialize)]
    struct TradeBeforeHedge {
        trade_id: TradeId,
        price: Price,
        qty: Qty,
        taker_side: Side,
        taker_order: OrderId,
        taker_account: AccountId,
        maker: Maker,
    }

    #[test]
    fn journaled_trades_read_old_records_and_round_trip_every_leg() {
        let maker = Maker {
            order_id: OrderId(9),
            account: AccountId(101),
            remaining: Qty(4),
        };
        for side in [Side::Buy, Side::Sell] {
            let old = TradeBeforeHedge {
                trade_id: TradeId(7),
                price: Price(500_000),
                qty: Qty(3),
                taker_side: side,
                taker_order: OrderId(8),
                taker_account: AccountId(100),
                maker,
            };
            let t: Trade = postcard::from_bytes(&postcard::to_stdvec(&old).unwrap()).unwrap();
            assert_eq!(t.taker_side, side);
            assert_eq!((t.taker_position, t.maker_position), Default::default());
            assert_eq!((t.trade_id, t.qty, t.maker), (TradeId(7), Qty(3), maker));
            use PositionSide::*;
            for (tp, mp) in [(Long, Short), (Short, Both), (Both, Long)] {
                let t = Trade {
                    taker_position: tp,
                    maker_position: mp,
                    ..t
                };
                let bytes = postcard::to_stdvec(&t).unwrap();
                assert_eq!(postcard::from_bytes::<Trade>(&bytes).unwrap(), t);
            }
        }
    }
}
