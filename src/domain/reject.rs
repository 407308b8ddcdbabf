//! Rejections: values with stable codes (docs/API.md "Errors"), grouped by the stage that
//! decides them. A rejected command changes nothing.

use rust_decimal::Decimal;

/// Why a command was refused. `code()` is the wire code; the API maps it to a status. Reasons
/// are values ([`NumberFault`], [`RequestFault`], [`Fault`]); each dialect renders its own
/// words and codes from them at its edge (`api/reject_text.rs`, `api/binance/errors.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    // -- entry validation (400)
    InvalidRequest(RequestFault),
    InvalidPrice(NumberFault),
    /// A stop or take-profit order's `trigger_price` (same wire code as a price).
    InvalidTriggerPrice(NumberFault),
    InvalidQuantity(NumberFault),
    MinNotional,
    PriceOutOfBand,
    InvalidLeverage,
    InvalidClientOrderId,
    WouldTriggerImmediately,
    /// A take-profit / stop-loss that does not fit its order (docs/RULES.md §2a).
    InvalidTpSl(TpSlFault),
    // -- lookups (404)
    UnknownMarket,
    OrderNotFound,
    AccountNotFound,
    // -- state conflicts (409)
    DuplicateClientOrderId,
    DuplicateOrderId,
    OrderNotOpen,
    /// The order is open but its kind or state does not allow the change.
    OrderNotAmendable(NotAmendable),
    /// An index price pushed to a market that takes its index from its own book.
    IndexNotPushable,
    /// The margin mode of a market changes only without a position and open orders there.
    MarginModeLocked(crate::domain::ModeLock),
    /// Isolated-margin transfers need the market to be isolated.
    NotIsolated,
    /// Isolated-margin transfers need an open position.
    NoPosition,
    /// The order's position side does not fit the account's position mode (`both` in
    /// one-way mode, `long`/`short` in hedge mode).
    PositionSideMismatch,
    /// The position mode changes only without positions and open orders in any market.
    PositionModeLocked(crate::domain::ModeLock),
    // -- risk and book rules (422)
    InsufficientMargin,
    InsufficientBalance,
    PostOnlyWouldTake,
    ReduceOnlyRejected,
    PositionLimitExceeded,
    AccountInLiquidation,
    TooManyOpenOrders,
    IndexStale,
    /// Reducing an isolated wallet below what the position needs (its initial margin at the
    /// current leverage, and what keeps it above maintenance), or below zero.
    InsufficientIsolatedMargin,
    // -- access control (400, 403, 404, 409)
    /// A key or admin token request that breaks a rule of keys (`engine::access`).
    InvalidKey(crate::engine::access::AccessFault),
    /// The key asks for, or grants, a permission it does not have.
    PermissionDenied,
    KeyNotFound,
    TokenNotFound,
    /// The account already holds its maximum of live keys.
    KeyLimit,
    // -- shell (429, 503)
    RateLimited,
    /// A bounded queue is full (or replication is behind `max_lag`): nothing was changed.
    Overloaded,
    /// Replication: this node was replaced as primary before the stream took the command;
    /// its outcome is unknown here (look it up on the new primary).
    NotPrimary,
    /// The exchange itself failed the command (500): not the client's doing.
    Fault(Fault),
}

/// What is wrong with a decimal number of a request (a price, trigger price or quantity).
/// `text` is the value as the client sent it (or as its dialect read it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberFault {
    pub kind: NumberFaultKind,
    pub text: String,
}

/// The reasons a number is refused, in the order they are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberFaultKind {
    /// Not a decimal in the dialect's grammar (sign, exponent, separators, leading zeros).
    Malformed,
    /// More integer digits than the wire shape allows ([`crate::domain::decimal_text`]).
    IntegerTooLong,
    /// More fraction digits than the wire shape allows.
    FractionTooLong,
    /// Zero.
    NotPositive,
    /// More decimals than the market's step (tick or lot) has.
    TooPrecise { step: Decimal },
    /// Not a multiple of the market's step.
    OffStep { step: Decimal },
    /// Quantities: below the market's `min_quantity`.
    BelowMin { min: Decimal, max: Decimal },
    /// Quantities: above the market's `max_quantity`.
    AboveMax { min: Decimal, max: Decimal },
    /// Amends: the new total does not exceed what the order has filled.
    NotAboveFilled,
}

impl NumberFault {
    pub fn new(kind: NumberFaultKind, text: impl Into<String>) -> NumberFault {
        NumberFault {
            kind,
            text: text.into(),
        }
    }
}

/// A request whose parts do not fit together, or that the state does not allow as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestFault {
    /// `limit`, `stop_limit` and `take_profit_limit` orders need a price.
    PriceRequired,
    /// `market`, `stop_market` and `take_profit_market` orders take no price.
    PriceNotAllowed,
    /// Stop and take-profit orders need a trigger price.
    TriggerRequired,
    /// Only stop and take-profit orders take a trigger price.
    TriggerNotAllowed,
    /// `post_only` on a stop or take-profit order.
    PostOnlyConditional,
    /// An amend with neither a price nor a quantity.
    NothingToAmend,
    /// Opening an account that exists (or a reserved id).
    AccountExists(crate::domain::AccountId),
    /// A money amount that is not positive or has more decimals than the ledger keeps.
    BadAmount { scale: u32 },
    /// Reserved accounts (fees, insurance) are never liquidated or cleared.
    ReservedAccount,
    /// `reduce_only` on an order of a hedge-mode account (the position side says whether it
    /// closes: `sell` + `long`, `buy` + `short`).
    ReduceOnlyInHedgeMode,
    /// `close_position` on a type other than `stop_market` / `take_profit_market`.
    ClosePositionType,
    /// `close_position` with a quantity or `reduce_only` (it closes whatever the leg holds).
    ClosePositionQuantity,
    /// An order without `quantity` (only `close_position` orders take none).
    QuantityRequired,
    /// A request the edge refused while reading it, in its own words.
    Edge(String),
}

/// Why a take-profit / stop-loss does not fit its order (`INVALID_TPSL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TpSlFault {
    /// Attached to an order that only closes (`reduce_only`, `close_position`, or a closing
    /// order in hedge mode).
    OnClosingOrder,
    /// A take-profit not beyond the entry price, or a stop-loss not before it (above and below
    /// a buy's price, below and above a sell's).
    WrongSide,
}

/// Why an order cannot be amended (cancel and replace instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAmendable {
    /// An untriggered stop or take-profit order, through Binance's `PUT /fapi/v1/order`
    /// (LIMIT orders only there; the native PATCH amends it).
    Untriggered,
    /// A `trigger_price` for an order that is not waiting for its trigger.
    NoTrigger,
    /// A quantity for a close-position order (it takes the whole position when it fires).
    ClosePosition,
    /// A market order.
    MarketOrder,
}

/// The exchange failed a command: the client did nothing wrong, and the outcome may be unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The actor that held the request went away without answering (the exchange is
    /// stopping): the command may or may not have been applied.
    ReplyDropped,
    /// The journal failed (disk full, I/O error): the command may not be durable, and the
    /// exchange stops to protect what it acknowledged.
    JournalFailed,
    /// A liquidation did not converge within its step bound.
    LiquidationStuck {
        pool: crate::domain::MarginPool,
        steps: u32,
    },
    /// A live invariant check failed (admin diagnostics).
    InvariantBroken(String),
    /// An internal answer that cannot happen (a bug), named.
    Unexpected(&'static str),
}

impl Reject {
    /// The stable wire code.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::InvalidRequest(_) => "INVALID_REQUEST",
            Reject::InvalidPrice(_) | Reject::InvalidTriggerPrice(_) => "INVALID_PRICE",
            Reject::InvalidQuantity(_) => "INVALID_QUANTITY",
            Reject::MinNotional => "MIN_NOTIONAL",
            Reject::PriceOutOfBand => "PRICE_OUT_OF_BAND",
            Reject::InvalidLeverage => "INVALID_LEVERAGE",
            Reject::InvalidClientOrderId => "INVALID_CLIENT_ORDER_ID",
            Reject::WouldTriggerImmediately => "WOULD_TRIGGER_IMMEDIATELY",
            Reject::InvalidTpSl(_) => "INVALID_TPSL",
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
            Reject::MarginModeLocked(_) => "MARGIN_MODE_LOCKED",
            Reject::NotIsolated => "NOT_ISOLATED",
            Reject::NoPosition => "NO_POSITION",
            Reject::PositionSideMismatch => "POSITION_SIDE_MISMATCH",
            Reject::PositionModeLocked(_) => "POSITION_MODE_LOCKED",
            Reject::InsufficientMargin => "INSUFFICIENT_MARGIN",
            Reject::InsufficientBalance => "INSUFFICIENT_BALANCE",
            Reject::PostOnlyWouldTake => "POST_ONLY_WOULD_TAKE",
            Reject::ReduceOnlyRejected => "REDUCE_ONLY_REJECTED",
            Reject::PositionLimitExceeded => "POSITION_LIMIT_EXCEEDED",
            Reject::AccountInLiquidation => "ACCOUNT_IN_LIQUIDATION",
            Reject::TooManyOpenOrders => "TOO_MANY_OPEN_ORDERS",
            Reject::IndexStale => "INDEX_STALE",
            Reject::InsufficientIsolatedMargin => "INSUFFICIENT_ISOLATED_MARGIN",
            Reject::InvalidKey(_) => "INVALID_KEY",
            Reject::PermissionDenied => "PERMISSION_DENIED",
            Reject::KeyNotFound => "KEY_NOT_FOUND",
            Reject::TokenNotFound => "TOKEN_NOT_FOUND",
            Reject::KeyLimit => "KEY_LIMIT",
            Reject::RateLimited => "RATE_LIMITED",
            Reject::Overloaded => "OVERLOADED",
            Reject::NotPrimary => "NOT_PRIMARY",
            Reject::Fault(_) => "INTERNAL",
        }
    }

    /// The HTTP status of this code (docs/API.md table).
    pub fn status(&self) -> u16 {
        match self {
            Reject::InvalidRequest(_)
            | Reject::InvalidPrice(_)
            | Reject::InvalidTriggerPrice(_)
            | Reject::InvalidQuantity(_)
            | Reject::MinNotional
            | Reject::PriceOutOfBand
            | Reject::InvalidLeverage
            | Reject::InvalidClientOrderId
            | Reject::WouldTriggerImmediately
            | Reject::InvalidTpSl(_) => 400,
            Reject::UnknownMarket | Reject::OrderNotFound | Reject::AccountNotFound => 404,
            Reject::DuplicateClientOrderId
            | Reject::DuplicateOrderId
            | Reject::OrderNotOpen
            | Reject::OrderNotAmendable(_)
            | Reject::IndexNotPushable
            | Reject::MarginModeLocked(_)
            | Reject::NotIsolated
            | Reject::NoPosition
            | Reject::PositionSideMismatch
            | Reject::PositionModeLocked(_) => 409,
            Reject::InsufficientMargin
            | Reject::InsufficientBalance
            | Reject::PostOnlyWouldTake
            | Reject::ReduceOnlyRejected
            | Reject::PositionLimitExceeded
            | Reject::AccountInLiquidation
            | Reject::TooManyOpenOrders
            | Reject::IndexStale
            | Reject::InsufficientIsolatedMargin => 422,
            Reject::InvalidKey(_) => 400,
            Reject::PermissionDenied => 403,
            Reject::KeyNotFound | Reject::TokenNotFound => 404,
            Reject::KeyLimit => 409,
            Reject::RateLimited => 429,
            Reject::Overloaded | Reject::NotPrimary => 503,
            Reject::Fault(_) => 500,
        }
    }
}

impl std::error::Error for Reject {}
