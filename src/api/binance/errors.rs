//! Binance error bodies (`{"code":<negative>,"msg":...}` with an HTTP 4xx/5xx) and the one
//! table that maps every perpx rejection to its Binance code and message.
//!
//! # Invariants
//! - Every [`Reject`] maps to exactly one code per request context ([`Ctx`]); the match is
//!   exhaustive, so a new rejection cannot ship without a Binance code.
//! - Messages are Binance's own texts, or the text ccxt matches on where ccxt maps messages
//!   rather than codes (with a non-Binance host ccxt only knows its global code list: the
//!   message is what turns, e.g., an insufficient-margin rejection into `InsufficientFunds`).

use std::borrow::Cow;

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::reject::NotAmendable;
use crate::domain::{Fault, ModeLock, NumberFault, NumberFaultKind, Reject, RequestFault, Side};

/// A Binance-form failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BnError {
    pub status: StatusCode,
    pub code: i32,
    pub msg: Cow<'static, str>,
}

pub type BnResult<T> = Result<T, BnError>;

impl BnError {
    pub fn new(status: u16, code: i32, msg: impl Into<Cow<'static, str>>) -> BnError {
        BnError {
            // expect: callers pass only 4xx/5xx constants.
            status: StatusCode::from_u16(status).expect("valid HTTP status"),
            code,
            msg: msg.into(),
        }
    }

    /// `400` with `code`.
    pub fn bad(code: i32, msg: impl Into<Cow<'static, str>>) -> BnError {
        BnError::new(400, code, msg)
    }

    /// -1102: a mandatory parameter is missing, empty or malformed.
    pub fn mandatory(name: &str) -> BnError {
        BnError::bad(
            -1102,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    }

    /// -1102 with a reason (a parameter that is present but unusable).
    pub fn malformed(name: &str, why: impl std::fmt::Display) -> BnError {
        BnError::bad(-1102, format!("Parameter '{name}' is malformed: {why}."))
    }

    /// -1121: unknown symbol.
    pub fn bad_symbol() -> BnError {
        BnError::bad(-1121, "Invalid symbol.")
    }

    /// -1003: rate limited (HTTP 429, which ccxt maps to `DDoSProtection`).
    pub fn rate_limited() -> BnError {
        BnError::new(
            429,
            -1003,
            "Too many requests; current limit exceeded. Please slow down.",
        )
    }

    /// -1000 for features this venue does not offer, with the reason.
    pub fn unsupported(what: impl std::fmt::Display) -> BnError {
        BnError::bad(-1000, format!("{what} is not supported by this exchange."))
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: i32,
    msg: &'a str,
}

/// The JSON error body.
pub fn body(code: i32, msg: &str) -> String {
    // expect: an integer and a string always serialize.
    serde_json::to_string(&Body { code, msg }).expect("error body serializes")
}

impl std::fmt::Display for BnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.msg)
    }
}

impl ResponseError for BnError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        HttpResponse::build(self.status)
            .content_type("application/json")
            .body(body(self.code, &self.msg))
    }
}

/// What the request was doing when it was refused: Binance gives some rejections different
/// codes per endpoint (an unknown order is -2011 for a cancel, -2013 for a query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// A new order of this side (the price band code depends on it), whose trigger price is
    /// the named parameter (`stopPrice` on `/order`, `triggerPrice` on `/algoOrder`).
    Place(Side, &'static str),
    Cancel,
    Query,
    Amend,
    Other,
}

/// The table: a perpx rejection in a context → its Binance code, message and status. A flat
/// table (one arm per rejection), longer than a function should be on purpose: keep it whole.
pub fn from_reject(r: &Reject, ctx: Ctx) -> BnError {
    use Reject::*;
    let (status, code, msg): (u16, i32, Cow<'static, str>) = match r {
        InvalidRequest(f) => return request(f, ctx),
        InvalidPrice(n) => return number(Field::Price, n),
        InvalidTriggerPrice(n) => return number(Field::Trigger, n),
        InvalidQuantity(n) => return number(Field::Quantity, n),
        Fault(f) => return fault(f),
        MinNotional => (
            400,
            -4164,
            "Order's notional must be no smaller than the minimum notional (unless you choose reduce only)."
                .into(),
        ),
        PriceOutOfBand => match ctx {
            Ctx::Place(Side::Sell, _) => (
                400,
                -4024,
                "Limit price can't be lower than the allowed band below the mark price.".into(),
            ),
            _ => (
                400,
                -4016,
                "Limit price can't be higher than the allowed band above the mark price.".into(),
            ),
        },
        InvalidLeverage => (400, -4028, "Leverage is not valid.".into()),
        InvalidClientOrderId => (400, -4015, "Client order id is not valid.".into()),
        // The text ccxt matches (`OrderImmediatelyFillable`).
        WouldTriggerImmediately => (400, -2021, "Order would trigger immediately.".into()),
        InvalidTpSl(_) => (400, -4136, r.to_string().into()),
        UnknownMarket => (400, -1121, "Invalid symbol.".into()),
        OrderNotFound | OrderNotOpen => match ctx {
            Ctx::Cancel => (400, -2011, "Unknown order sent.".into()),
            _ => (400, -2013, "Order does not exist.".into()),
        },
        // Binance's `PUT /fapi/v1/order` modifies LIMIT orders only and answers any other
        // kind with -5025 ONLY_LIMIT_ORDER; perpx's reason (an untriggered stop, a market
        // order) follows Binance's text.
        OrderNotAmendable(why) => (
            400,
            -5025,
            match why {
                NotAmendable::Untriggered | NotAmendable::NoTrigger | NotAmendable::ClosePosition => {
                    "Only limit order is supported (untriggered stop and take-profit orders cannot be amended; cancel and replace)."
                }
                NotAmendable::MarketOrder => {
                    "Only limit order is supported (market orders cannot be amended)."
                }
            }
            .into(),
        ),
        // Only the native admin route pushes an index; no Binance route can meet this.
        IndexNotPushable => (
            400,
            -1000,
            "This market takes its index price from its own book; it cannot be pushed.".into(),
        ),
        // A valid key whose account was never opened; a key without the permission (no
        // Binance route manages keys, so the access records' other refusals cannot arise).
        AccountNotFound | PermissionDenied | KeyNotFound | TokenNotFound | KeyLimit
        | InvalidKey(_) => (
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.".into(),
        ),
        DuplicateClientOrderId | DuplicateOrderId => {
            (400, -4116, "ClientOrderId is duplicated.".into())
        }
        // The text ccxt maps to `InsufficientFunds`.
        InsufficientMargin | InsufficientBalance => (
            400,
            -2019,
            "Account has insufficient balance for requested action.".into(),
        ),
        // The text ccxt maps to `OrderImmediatelyFillable`.
        PostOnlyWouldTake => (400, -5022, "Order would immediately match and take.".into()),
        ReduceOnlyRejected => (400, -2022, "ReduceOnly Order is rejected.".into()),
        PositionLimitExceeded => (
            400,
            -2027,
            "Exceeded the maximum allowable position at current leverage.".into(),
        ),
        AccountInLiquidation => (400, -2023, "User in liquidation mode now.".into()),
        MarginModeLocked(ModeLock::OpenOrders) => (
            400,
            -4047,
            "Margin type cannot be changed if there exists open orders.".into(),
        ),
        MarginModeLocked(ModeLock::Position) => (
            400,
            -4048,
            "Margin type cannot be changed if there exists position.".into(),
        ),
        NotIsolated => (
            400,
            -4049,
            "Add margin only support for isolated position.".into(),
        ),
        PositionSideMismatch => (
            400,
            -4061,
            "Order's position side does not match user's setting.".into(),
        ),
        PositionModeLocked(ModeLock::OpenOrders) => (
            400,
            -4067,
            "Position side cannot be changed if there exists open orders.".into(),
        ),
        PositionModeLocked(ModeLock::Position) => (
            400,
            -4068,
            "Position side cannot be changed if there exists position.".into(),
        ),
        NoPosition => (400, -4054, "Cannot add position margin: position is 0.".into()),
        InsufficientIsolatedMargin => (400, -4051, "Isolated balance insufficient.".into()),
        TooManyOpenOrders => (400, -2025, "Reach max open order limit.".into()),
        IndexStale => (
            400,
            -2010,
            "Order rejected: the index price is stale, new orders are paused.".into(),
        ),
        RateLimited => (
            429,
            -1003,
            "Too many requests; current limit exceeded. Please slow down.".into(),
        ),
        Overloaded => (
            503,
            -1008,
            "Server is currently overloaded with other requests. Please try again in a few minutes."
                .into(),
        ),
        NotPrimary => (
            503,
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
                .into(),
        ),
    };
    BnError::new(status, code, msg)
}

/// Which decimal parameter a number fault is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Price,
    Trigger,
    Quantity,
}

/// A number's typed fault as Binance words it (the filters of `exchangeInfo`).
fn number(field: Field, n: &NumberFault) -> BnError {
    use Field::*;
    use NumberFaultKind as K;
    let (code, msg): (i32, &'static str) = match (n.kind, field) {
        (K::NotPositive, Price) => (-4001, "Price less than 0."),
        (K::NotPositive, Trigger) => (-4006, "Stop price less than zero."),
        (K::NotPositive, Quantity) => (-4003, "Quantity less than or equal to zero."),
        (K::IntegerTooLong, Price) => (-4002, "Price greater than max price."),
        (K::IntegerTooLong, Trigger) => (-4007, "Stop price greater than max price."),
        (K::IntegerTooLong | K::AboveMax { .. }, Quantity) => {
            (-4005, "Quantity greater than max quantity.")
        }
        (K::FractionTooLong | K::TooPrecise { .. }, _) => {
            (-1111, "Precision is over the maximum defined for this asset.")
        }
        (K::OffStep { .. }, Price | Trigger) => (-4014, "Price not increased by tick size."),
        (K::OffStep { .. }, Quantity) => (-4023, "Quantity not increased by step size."),
        (K::BelowMin { .. }, _) => (-4004, "Quantity less than min quantity."),
        (K::NotAboveFilled, _) => (
            -4023,
            "Quantity not increased by step size: the new quantity must exceed the filled quantity.",
        ),
        // Not produced for prices (limits and fills are quantities') nor by a lexer that
        // passed Binance's own rule; answered as a malformed parameter if ever met.
        (K::Malformed | K::AboveMax { .. }, _) => {
            return BnError::bad(-1102, format!("Parameter is malformed: {}.", n.text));
        }
    };
    BnError::bad(code, msg)
}

/// A request whose parts do not fit, in Binance's parameter words.
fn request(f: &RequestFault, ctx: Ctx) -> BnError {
    let trigger = match ctx {
        Ctx::Place(_, name) => name,
        _ => "stopPrice",
    };
    match f {
        RequestFault::PriceRequired => BnError::mandatory("price"),
        RequestFault::PriceNotAllowed => {
            BnError::bad(-1106, "Parameter 'price' sent when not required.")
        }
        RequestFault::TriggerRequired => BnError::mandatory(trigger),
        RequestFault::TriggerNotAllowed => BnError::bad(
            -1106,
            format!("Parameter '{trigger}' sent when not required."),
        ),
        RequestFault::PostOnlyConditional => BnError::bad(
            -1102,
            "timeInForce GTX (post-only) is not allowed on stop or take-profit orders.",
        ),
        RequestFault::ReduceOnlyInHedgeMode => {
            BnError::bad(-1106, "Parameter 'reduceonly' sent when not required.")
        }
        RequestFault::ClosePositionQuantity => BnError::bad(
            -4137,
            "Quantity must be zero with closePosition equals true (and reduceOnly is not sent with it).",
        ),
        RequestFault::ClosePositionType => BnError::bad(
            -4136,
            Reject::InvalidRequest(f.clone()).to_string(),
        ),
        other => BnError::bad(-1102, Reject::InvalidRequest(other.clone()).to_string()),
    }
}

/// The exchange's own failure: -1007 (execution status unknown) when the command may have
/// been applied, -1000 otherwise.
fn fault(f: &Fault) -> BnError {
    let text = Reject::Fault(f.clone()).to_string();
    match f {
        Fault::ReplyDropped | Fault::JournalFailed => BnError::new(
            503,
            -1007,
            format!("Timeout waiting for response from backend server. Send status unknown; execution status unknown. ({text})"),
        ),
        _ => BnError::new(500, -1000, format!("An unknown error occurred while processing the request. ({text})")),
    }
}

/// -5021: a FOK order that could not fill completely. perpx records it as expired
/// (`fok_unfillable`); Binance answers with this error instead of the order.
pub fn fok_rejected() -> BnError {
    BnError::bad(
        -5021,
        "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history",
    )
}

impl From<Reject> for BnError {
    fn from(r: Reject) -> BnError {
        from_reject(&r, Ctx::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_binance_shaped() {
        assert_eq!(
            body(-1121, "Invalid symbol."),
            r#"{"code":-1121,"msg":"Invalid symbol."}"#
        );
    }
}
