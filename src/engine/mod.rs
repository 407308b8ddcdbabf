//! The engines: pure state machines that the actors drive.
//! - [`market`]: one market's [`market::MarketEngine`] (book, triggers, position cache for
//!   reduce-only orders, market data).
//! - [`ledger`]: the [`Ledger`] (accounts, positions, margin holds; R1 and R2 of the order
//!   path, funding, liquidation steps).
//!
//! # Invariants
//! - Pure and deterministic: no clock (time is an argument), no I/O, no floats, no
//!   actix/tokio/redb/metrics imports.
//! - The ledger changes state only through `apply(event)`; live operations validate, build the
//!   event and apply it through that same path.

pub mod ledger;
pub mod market;
pub mod orders;
pub mod settle;

pub use ledger::{
    AccountView, FillKind, FillRecord, Hold, InvariantViolation, Ledger, LedgerEvent,
    MarketPositions, OpenOrder, PositionView, Totals, TransferKind,
};
