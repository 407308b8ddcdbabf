//! The native API's words for a rejection (docs/API.md "Errors"): the one place a [`Reject`]
//! and its typed reason become text. The Binance dialect has its own table
//! (`api/binance/errors.rs`); logs use this one.
//!
//! # Invariants
//! - Every variant and every reason has a message; the wire code and status come from
//!   [`Reject::code`] and [`Reject::status`], never from here.

use std::fmt;

use crate::domain::reject::{Fault, NotAmendable, NumberFault, NumberFaultKind, RequestFault};
use crate::domain::{decimal_text, ModeLock, Reject};
use crate::engine::access::AccessFault;

/// A number's fault in words; `field` is its parameter name.
fn number(f: &mut fmt::Formatter<'_>, field: &str, n: &NumberFault) -> fmt::Result {
    let shape = if field == "quantity" {
        decimal_text::QUANTITY
    } else {
        decimal_text::PRICE
    };
    let step = if field == "quantity" {
        "lot_size"
    } else {
        "tick_size"
    };
    let text = &n.text;
    match n.kind {
        NumberFaultKind::Malformed
        | NumberFaultKind::IntegerTooLong
        | NumberFaultKind::FractionTooLong => {
            write!(f, "{field} {text:?} is not {}", shape.describe())
        }
        NumberFaultKind::NotPositive => write!(f, "{field} {text} must be positive"),
        NumberFaultKind::TooPrecise { step: s } | NumberFaultKind::OffStep { step: s } => {
            write!(
                f,
                "{field} {text} must be positive and a multiple of {step} {s}"
            )
        }
        NumberFaultKind::BelowMin { min, max } | NumberFaultKind::AboveMax { min, max } => {
            write!(f, "{field} {text} must be between {min} and {max}")
        }
        NumberFaultKind::NotAboveFilled => {
            write!(f, "{field} {text} must exceed the filled quantity")
        }
    }
}

fn request(f: &mut fmt::Formatter<'_>, r: &RequestFault) -> fmt::Result {
    match r {
        RequestFault::PriceRequired => {
            f.write_str("price is required for limit, stop_limit and take_profit_limit orders")
        }
        RequestFault::PriceNotAllowed => f.write_str(
            "price is not allowed for market, stop_market and take_profit_market orders",
        ),
        RequestFault::TriggerRequired => {
            f.write_str("trigger_price is required for stop and take-profit orders")
        }
        RequestFault::TriggerNotAllowed => {
            f.write_str("trigger_price is only allowed for stop and take-profit orders")
        }
        RequestFault::PostOnlyConditional => {
            f.write_str("post_only is not allowed on stop or take-profit orders")
        }
        RequestFault::NothingToAmend => {
            f.write_str("give price, quantity, trigger_price or several")
        }
        RequestFault::AccountExists(a) => write!(f, "account {a} already exists"),
        RequestFault::BadAmount { scale } => {
            write!(f, "amount must be positive with at most {scale} decimals")
        }
        RequestFault::ReservedAccount => {
            f.write_str("reserved accounts are never liquidated or cleared")
        }
        RequestFault::ReduceOnlyInHedgeMode => f.write_str(
            "reduce_only is not taken in hedge mode: an order closes its leg by its side \
             (sell + long, buy + short)",
        ),
        RequestFault::ClosePositionType => {
            f.write_str("close_position is only taken by stop_market and take_profit_market orders")
        }
        RequestFault::ClosePositionQuantity => f.write_str(
            "close_position closes whatever the position is when it fires: send no quantity \
             and no reduce_only",
        ),
        RequestFault::QuantityRequired => f.write_str("quantity is required"),
        RequestFault::Edge(m) => f.write_str(m),
    }
}

fn access(f: &mut fmt::Formatter<'_>, a: &AccessFault) -> fmt::Result {
    use crate::engine::access::records::{MAX_ALLOWLIST, MAX_NAME_CHARS};
    match a {
        AccessFault::NameLength => write!(
            f,
            "label / name: 1 to {MAX_NAME_CHARS} characters, no control characters"
        ),
        AccessFault::Permissions(why) => write!(f, "permissions: {why}"),
        AccessFault::WithdrawNeedsAllowlist => {
            f.write_str("a key with the withdraw permission needs an ip_allowlist")
        }
        AccessFault::AllowlistTooLong => {
            write!(f, "ip_allowlist: at most {MAX_ALLOWLIST} entries")
        }
        AccessFault::BadAddress(t) => {
            write!(f, "ip_allowlist: {t:?} is not an IP address or CIDR block")
        }
        AccessFault::ExpiryPast => f.write_str("expires_at must be in the future"),
        AccessFault::Role(r) => write!(f, "role {r:?}: operator or viewer"),
    }
}

fn fault(f: &mut fmt::Formatter<'_>, x: &Fault) -> fmt::Result {
    match x {
        Fault::ReplyDropped => f.write_str(
            "the exchange dropped this request before answering (it is stopping?): its \
             outcome is unknown; look the order up before retrying",
        ),
        Fault::JournalFailed => f.write_str(
            "the journal failed (disk full or I/O error): this command may not be durable; \
             the exchange stops to protect what it acknowledged",
        ),
        Fault::LiquidationStuck { pool, steps } => {
            write!(f, "liquidation of {pool} did not converge in {steps} steps")
        }
        Fault::InvariantBroken(v) => write!(f, "invariant broken: {v}"),
        Fault::Unexpected(what) => write!(f, "internal error ({what}); please report it"),
    }
}

impl fmt::Display for Reject {
    /// The native words of every rejection: a flat table (one arm per code), longer than a
    /// function should be on purpose: keep it whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = match self {
            Reject::InvalidRequest(r) => return request(f, r),
            Reject::InvalidPrice(n) => return number(f, "price", n),
            Reject::InvalidTriggerPrice(n) => return number(f, "trigger_price", n),
            Reject::InvalidQuantity(n) => return number(f, "quantity", n),
            Reject::Fault(x) => return fault(f, x),
            Reject::InvalidKey(a) => return access(f, a),
            Reject::MinNotional => "order notional is below the market's min_notional",
            Reject::PriceOutOfBand => {
                "limit price is beyond the allowed band around the mark price"
            }
            Reject::InvalidLeverage => "leverage must be between 1 and the market's maximum",
            Reject::InvalidClientOrderId => "client_order_id must match ^[A-Za-z0-9._:/-]{1,36}$",
            Reject::WouldTriggerImmediately => "the trigger price would fire immediately",
            Reject::InvalidTpSl(crate::domain::reject::TpSlFault::OnClosingOrder) => {
                "take_profit / stop_loss attach only to an order that can open a position (not \
                 to reduce_only or close_position orders, nor a hedge-mode closing order)"
            }
            Reject::InvalidTpSl(crate::domain::reject::TpSlFault::WrongSide) => {
                "take_profit must be beyond the entry price and stop_loss before it (above and \
                 below a buy's price, below and above a sell's)"
            }
            Reject::UnknownMarket => "unknown market symbol",
            Reject::OrderNotFound => "order not found",
            Reject::AccountNotFound => "account not found",
            Reject::DuplicateClientOrderId => "client_order_id is already used by an open order",
            Reject::DuplicateOrderId => "order id already exists in the book",
            Reject::OrderNotOpen => "order is not open",
            Reject::OrderNotAmendable(NotAmendable::Untriggered) => {
                "untriggered stop and take-profit orders are amended through the native API \
                 (PATCH with trigger_price)"
            }
            Reject::OrderNotAmendable(NotAmendable::NoTrigger) => {
                "trigger_price can only be amended on a stop or take-profit order waiting for its \
                 trigger"
            }
            Reject::OrderNotAmendable(NotAmendable::MarketOrder) => {
                "market orders (also stop and take-profit market orders) have no price to amend"
            }
            Reject::OrderNotAmendable(NotAmendable::ClosePosition) => {
                "a close-position order has no quantity to amend: it takes the whole position"
            }
            Reject::IndexNotPushable => {
                "this market takes its index from its own book (index_source = \"book_ema\")"
            }
            Reject::MarginModeLocked(ModeLock::OpenOrders) => {
                "the margin mode cannot change while the account has open orders in this market"
            }
            Reject::MarginModeLocked(ModeLock::Position) => {
                "the margin mode cannot change while the account has a position in this market"
            }
            Reject::NotIsolated => {
                "the market is not isolated for this account (margin_mode cross)"
            }
            Reject::NoPosition => {
                "no position in this market: isolated margin moves with a position"
            }
            Reject::PositionSideMismatch => {
                "position_side does not match the account's position mode (both in one_way, \
                 long or short in hedge)"
            }
            Reject::PositionModeLocked(ModeLock::OpenOrders) => {
                "the position mode cannot change while the account has open orders"
            }
            Reject::PositionModeLocked(ModeLock::Position) => {
                "the position mode cannot change while the account has a position"
            }
            Reject::InsufficientIsolatedMargin => {
                "the isolated wallet would fall below the position's initial margin (or its \
                 maintenance, or zero)"
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
            Reject::PermissionDenied => {
                "this API key lacks the permission this action needs (or asks to grant one it \
                 does not have)"
            }
            Reject::KeyNotFound => "no such live API key for this account",
            Reject::TokenNotFound => "no such live admin token",
            Reject::KeyLimit => {
                "the account holds its maximum of live API keys (server.max_keys_per_account); \
                 revoke one first"
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

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn numbers_keep_the_contract_words() {
        let off = Reject::InvalidPrice(NumberFault::new(
            NumberFaultKind::OffStep {
                step: Decimal::new(1, 1),
            },
            "50000.05",
        ));
        assert_eq!(
            off.to_string(),
            "price 50000.05 must be positive and a multiple of tick_size 0.1"
        );
        let big = Reject::InvalidQuantity(NumberFault::new(
            NumberFaultKind::AboveMax {
                min: Decimal::new(1, 3),
                max: Decimal::new(1000, 0),
            },
            "2000",
        ));
        assert_eq!(
            big.to_string(),
            "quantity 2000 must be between 0.001 and 1000"
        );
        let bad = Reject::InvalidTriggerPrice(NumberFault::new(NumberFaultKind::Malformed, "1e3"));
        assert!(bad.to_string().starts_with("trigger_price \"1e3\" is not "));
    }
}
