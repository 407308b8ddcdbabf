//! Domain vocabulary shared by every layer: units, ids, market specs, orders, events, rejections.
//!
//! # Invariants
//! - Prices are integer ticks ([`Price`]), quantities integer lots ([`Qty`]), money is
//!   [`Amount`] over `rust_decimal::Decimal`. No floats anywhere.
//! - Values are validated once at the boundary by checked constructors
//!   ([`OrderRequest::new`], [`MarketSpec::price`], [`MarketSpec::qty`]); inside the core they
//!   are valid.
//! - Pure: no clock, no I/O, no actix/tokio/redb/metrics imports (checked by
//!   `tests/architecture.rs`).

pub mod dec;
pub mod decimal_text;
pub mod event;
pub mod ids;
pub mod margin;
pub mod market;
pub mod order;
pub mod position_side;
pub mod reject;
pub mod side;
pub mod terms;
pub mod time;
pub mod tpsl;
pub mod units;

pub use event::{ApplyError, BookEvent, Maker, Trade};
pub use ids::{AccountId, MarketId, OrderId, TradeId};
pub use margin::{MarginMode, MarginPool, ModeLock};
pub use market::{IndexSource, MarketSpec, RiskTier};
pub use order::{CloseReason, OrderStatus, OrderType, Stp, TimeInForce, TriggerBy};
pub use position_side::{Leg, PositionMode, PositionSide};
pub use reject::{Fault, NumberFault, NumberFaultKind, Reject, RequestFault};
pub use side::Side;
pub use terms::{valid_client_order_id, Order, OrderDraft, OrderRequest, OrderTerms, TpSl};
pub use time::Timestamp;
pub use units::{Amount, Price, Qty};
