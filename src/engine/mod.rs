//! The engine: pure state machines that the actors drive. So far the [`Ledger`] (accounts,
//! positions, margin holds; R1 and R2 of the order path, funding, liquidation steps).
//!
//! # Invariants
//! - Pure and deterministic: no clock (time is an argument), no I/O, no floats, no
//!   imports of the async runtime, storage or telemetry crates (DESIGN.md §1).
//! - State changes only through `apply(event)`; live operations validate, build the event and
//!   apply it through that same path.

pub mod ledger;

pub use ledger::{
    AccountView, FillKind, FillRecord, Hold, InvariantViolation, Ledger, LedgerEvent,
    MarketPositions, OpenOrder, PositionView, Totals, TransferKind,
};
