//! The risk core: money rounding, positions, margin, fees, mark price, funding, liquidation and
//! auto-deleveraging, as pure functions and small value structs (docs/RULES.md §3–§6).
//!
//! # Invariants
//! - Pure and deterministic: no clock (time is a [`Timestamp`](crate::domain::Timestamp)
//!   argument), no I/O, no floats, no imports of the async runtime, storage or telemetry
//!   crates (docs/ARCHITECTURE.md §1).
//! - Money is `rust_decimal::Decimal`; every rounding of money goes through [`money`], in the
//!   direction that never creates money.
//! - Nothing here owns account state: the [`Ledger`](crate::engine::Ledger) calls these
//!   functions and records what they decided as events.

pub mod adl;
pub mod fees;
pub mod funding;
pub mod liquidation;
pub mod margin;
pub mod mark;
pub mod money;
pub mod position;

/// Markets are named by their index (moved to `domain`; re-exported for the risk functions).
pub use crate::domain::MarketId;
