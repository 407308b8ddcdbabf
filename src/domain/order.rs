//! Order vocabulary: types, time in force, self-trade prevention, statuses and close reasons.
//! Wire spellings are the lowercase snake_case of docs/API.md.

use serde::{Deserialize, Serialize};

/// What the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    Limit,
    Market,
    StopMarket,
    StopLimit,
    TakeProfitMarket,
    TakeProfitLimit,
}

impl OrderType {
    /// Whether the order carries a limit price (required for these, forbidden for the others).
    pub fn has_price(self) -> bool {
        matches!(
            self,
            OrderType::Limit | OrderType::StopLimit | OrderType::TakeProfitLimit
        )
    }

    /// Whether the order waits in the trigger book first.
    pub fn is_conditional(self) -> bool {
        !matches!(self, OrderType::Limit | OrderType::Market)
    }

    /// Whether a conditional order is a stop (fires when price moves against the order's
    /// side: a buy stop fires at or above its trigger) rather than a take-profit.
    pub fn is_stop(self) -> bool {
        matches!(self, OrderType::StopMarket | OrderType::StopLimit)
    }
}

/// How long a limit order lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Rests until filled or cancelled.
    #[default]
    Gtc,
    /// Fills what it can at once; the remainder expires (`ioc_remainder`).
    Ioc,
    /// Fills completely at once or expires with nothing filled (`fok_unfillable`).
    Fok,
    /// Rests only; rejected (`POST_ONLY_WOULD_TAKE`) if any part would take.
    PostOnly,
}

/// Self-trade prevention: the taker's mode decides what happens when it meets its own order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stp {
    /// Remove the resting own order (`self_trade`) and continue matching.
    #[default]
    ExpireMaker,
    /// Expire the taker's remainder (`self_trade`).
    ExpireTaker,
    /// Both of the above.
    ExpireBoth,
    /// Allow the self trade.
    None,
}

/// Which price a conditional order watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerBy {
    #[default]
    Last,
    Mark,
}

/// The lifecycle of an order, as clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    New,
    PartiallyFilled,
    Filled,
    Cancelled,
    Expired,
    Untriggered,
}

impl OrderStatus {
    /// Closed orders have `remaining_quantity` 0 and never change again.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Expired
        )
    }
}

/// Why an order was cancelled or expired (the `reason` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    User,
    IocRemainder,
    FokUnfillable,
    MarketRemainder,
    SelfTrade,
    ReduceOnly,
    Liquidation,
    /// A close-position order whose leg went flat (docs/RULES.md §2a).
    PositionClosed,
    /// The other order of a take-profit / stop-loss pair fired (one cancels the other).
    Oco,
    /// The entry order a take-profit / stop-loss was attached to closed with nothing filled.
    EntryUnfilled,
}

impl CloseReason {
    /// Cancelled (someone asked) versus expired (a rule removed it).
    pub fn status(self) -> OrderStatus {
        match self {
            CloseReason::User | CloseReason::Liquidation | CloseReason::ReduceOnly => {
                OrderStatus::Cancelled
            }
            CloseReason::IocRemainder
            | CloseReason::FokUnfillable
            | CloseReason::MarketRemainder
            | CloseReason::SelfTrade
            | CloseReason::PositionClosed
            | CloseReason::Oco
            | CloseReason::EntryUnfilled => OrderStatus::Expired,
        }
    }
}
