//! Rejections: values with stable codes (docs/API.md "Errors"), grouped by the stage that
//! decides them. A rejected command changes nothing.

use std::fmt;

/// Why a command was refused. `code()` is the wire code; the API maps it to a status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    // -- entry validation (400)
    InvalidRequest(String),
    InvalidPrice(String),
    InvalidQuantity(String),
    MinNotional,
    PriceOutOfBand,
    InvalidLeverage,
    InvalidClientOrderId,
    WouldTriggerImmediately,
    // -- lookups (404)
    UnknownMarket,
    OrderNotFound,
    AccountNotFound,
    // -- state conflicts (409)
    DuplicateClientOrderId,
    DuplicateOrderId,
    OrderNotOpen,
    /// The order is open but its kind or state does not allow the change (an untriggered
    /// stop or take-profit, a market order): cancel and replace instead.
    OrderNotAmendable(&'static str),
    /// An index price pushed to a market that takes its index from its own book.
    IndexNotPushable,
    // -- risk and book rules (422)
    InsufficientMargin,
    InsufficientBalance,
    PostOnlyWouldTake,
    ReduceOnlyRejected,
    PositionLimitExceeded,
    AccountInLiquidation,
    TooManyOpenOrders,
    IndexStale,
    // -- shell (429, 503)
    RateLimited,
    Overloaded,
    /// Replication: this node was replaced as primary before the stream took the command;
    /// its outcome is unknown here (look it up on the new primary).
    NotPrimary,
}

impl Reject {
    /// The stable wire code.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::InvalidRequest(_) => "INVALID_REQUEST",
            Reject::InvalidPrice(_) => "INVALID_PRICE",
            Reject::InvalidQuantity(_) => "INVALID_QUANTITY",
            Reject::MinNotional => "MIN_NOTIONAL",
            Reject::PriceOutOfBand => "PRICE_OUT_OF_BAND",
            Reject::InvalidLeverage => "INVALID_LEVERAGE",
            Reject::InvalidClientOrderId => "INVALID_CLIENT_ORDER_ID",
            Reject::WouldTriggerImmediately => "WOULD_TRIGGER_IMMEDIATELY",
            Reject::UnknownMarket => "UNKNOWN_MARKET",
            Reject::OrderNotFound => "ORDER_NOT_FOUND",
            Reject::AccountNotFound => "ACCOUNT_NOT_FOUND",
            Reject::DuplicateClientOrderId => "DUPLICATE_CLIENT_ORDER_ID",
            // An engine-assigned id never repeats; reaching this is a caller bug, reported as
            // a conflict rather than a panic.
            Reject::DuplicateOrderId => "DUPLICATE_CLIENT_ORDER_ID",
            Reject::OrderNotOpen => "ORDER_NOT_OPEN",
            Reject::OrderNotAmendable(_) => "ORDER_NOT_AMENDABLE",
            Reject::IndexNotPushable => "INDEX_NOT_PUSHABLE",
            Reject::InsufficientMargin => "INSUFFICIENT_MARGIN",
            Reject::InsufficientBalance => "INSUFFICIENT_BALANCE",
            Reject::PostOnlyWouldTake => "POST_ONLY_WOULD_TAKE",
            Reject::ReduceOnlyRejected => "REDUCE_ONLY_REJECTED",
            Reject::PositionLimitExceeded => "POSITION_LIMIT_EXCEEDED",
            Reject::AccountInLiquidation => "ACCOUNT_IN_LIQUIDATION",
            Reject::TooManyOpenOrders => "TOO_MANY_OPEN_ORDERS",
            Reject::IndexStale => "INDEX_STALE",
            Reject::RateLimited => "RATE_LIMITED",
            Reject::Overloaded => "OVERLOADED",
            Reject::NotPrimary => "NOT_PRIMARY",
        }
    }

    /// The HTTP status of this code (docs/API.md table).
    pub fn status(&self) -> u16 {
        match self {
            Reject::InvalidRequest(_)
            | Reject::InvalidPrice(_)
            | Reject::InvalidQuantity(_)
            | Reject::MinNotional
            | Reject::PriceOutOfBand
            | Reject::InvalidLeverage
            | Reject::InvalidClientOrderId
            | Reject::WouldTriggerImmediately => 400,
            Reject::UnknownMarket | Reject::OrderNotFound | Reject::AccountNotFound => 404,
            Reject::DuplicateClientOrderId
            | Reject::DuplicateOrderId
            | Reject::OrderNotOpen
            | Reject::OrderNotAmendable(_)
            | Reject::IndexNotPushable => 409,
            Reject::InsufficientMargin
            | Reject::InsufficientBalance
            | Reject::PostOnlyWouldTake
            | Reject::ReduceOnlyRejected
            | Reject::PositionLimitExceeded
            | Reject::AccountInLiquidation
            | Reject::TooManyOpenOrders
            | Reject::IndexStale => 422,
            Reject::RateLimited => 429,
            Reject::Overloaded | Reject::NotPrimary => 503,
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = match self {
            Reject::InvalidRequest(m) | Reject::InvalidPrice(m) | Reject::InvalidQuantity(m) => {
                return f.write_str(m)
            }
            Reject::MinNotional => "order notional is below the market's min_notional",
            Reject::PriceOutOfBand => {
                "limit price is beyond the allowed band around the mark price"
            }
            Reject::InvalidLeverage => "leverage must be between 1 and the market's maximum",
            Reject::InvalidClientOrderId => "client_order_id must match ^[A-Za-z0-9._:/-]{1,36}$",
            Reject::WouldTriggerImmediately => "the trigger price would fire immediately",
            Reject::UnknownMarket => "unknown market symbol",
            Reject::OrderNotFound => "order not found",
            Reject::AccountNotFound => "account not found",
            Reject::DuplicateClientOrderId => "client_order_id is already used by an open order",
            Reject::DuplicateOrderId => "order id already exists in the book",
            Reject::OrderNotOpen => "order is not open",
            Reject::OrderNotAmendable(m) => m,
            Reject::IndexNotPushable => {
                "this market takes its index from its own book (index_source = \"book_ema\")"
            }
            Reject::InsufficientMargin => "available balance is too low for this order",
            Reject::InsufficientBalance => "amount exceeds the withdrawable balance",
            Reject::PostOnlyWouldTake => "post-only order would take liquidity",
            Reject::ReduceOnlyRejected => "reduce-only order would not reduce the position",
            Reject::PositionLimitExceeded => {
                "position notional would exceed the limit for this leverage"
            }
            Reject::AccountInLiquidation => "account is being liquidated",
            Reject::TooManyOpenOrders => "too many open orders in this market",
            Reject::IndexStale => {
                "the market's oracle index price is stale (no push within index_stale_after): \
                 the operator must push one with POST /api/v1/admin/markets/{symbol}/index-price \
                 (a price feed, or loadgen), or run the market with index_source = \"demo\""
            }
            Reject::RateLimited => "rate limit exceeded",
            Reject::Overloaded => "server is overloaded, nothing was changed; retry later",
            Reject::NotPrimary => {
                "this node was replaced as primary before the replication stream took this \
                 command: it is not in the exchange's history unless the new primary shows it; \
                 look it up there (by client_order_id) before retrying"
            }
        };
        f.write_str(detail)
    }
}

impl std::error::Error for Reject {}
