//! What a market engine reports: facts, in order, for the journal, the publisher and R2.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{
    AccountId, BookEvent, OrderId, OrderType, Price, Qty, Side, Stp, TimeInForce, TriggerBy,
};

/// An order the market accepted (before its book events). Everything needed to rebuild it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedOrder {
    pub order_id: OrderId,
    pub account: AccountId,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub price: Option<Price>,
    pub trigger_price: Option<Price>,
    pub trigger_by: TriggerBy,
    pub qty: Qty,
    pub reduce_only: bool,
    pub stp: Stp,
    /// A liquidation order (docs/RULES.md §6): exempt from STP, bands and margin.
    pub liquidation: bool,
}

/// One fact from a market engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarketEvent {
    Accepted(AcceptedOrder),
    /// A conditional order was parked in the trigger book (status `untriggered`).
    Parked {
        order_id: OrderId,
    },
    Book(BookEvent),
    MarkSet {
        #[serde(with = "crate::domain::dec")]
        mark: Decimal,
        /// Whether the index feeding the mark was stale (new orders are refused meanwhile).
        index_stale: bool,
    },
}
