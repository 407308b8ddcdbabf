//! The risk core: money rounding, positions, margin, fees, mark price, funding, liquidation and
//! auto-deleveraging, as pure functions and small value structs (RULES.md §3–§6).
//!
//! # Invariants
//! - Pure and deterministic: no clock (time is a [`Timestamp`](crate::domain::Timestamp)
//!   argument), no I/O, no floats, no imports of the async runtime, storage or telemetry
//!   crates (DESIGN.md §1).
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

use serde::{Deserialize, Serialize};

/// A market, as an index into the `Vec<MarketSpec>` the ledger was built with.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MarketId(pub u16);

impl MarketId {
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for MarketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
