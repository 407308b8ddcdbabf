//! What a market engine reports: facts, in order, for the journal, the publisher and R2.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{BookEvent, Order, OrderId};

/// One fact from a market engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarketEvent {
    /// An order the market accepted (before its book events): everything needed to rebuild it.
    Accepted(Order),
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
    /// Close-position orders accepted and parked in this command (after their `Accepted` and
    /// `Parked`): two are a one-cancels-other pair; with `entry`, they wait for that order to
    /// fill (docs/RULES.md §2a). Appended last: journals before it never hold it.
    Linked {
        entry: Option<OrderId>,
        orders: Vec<OrderId>,
    },
}
