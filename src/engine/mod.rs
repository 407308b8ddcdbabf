//! The engine: pure state machines that the actors drive. So far the [`Ledger`] (accounts,
//! positions, margin holds; R1 and R2 of the order path, funding, liquidation steps).
//!
//! # Invariants
//! - Pure and deterministic: no clock (time is an argument), no I/O, no floats, no
//!   actix/tokio/redb/metrics imports.
//! - State changes only through `apply(event)`; live operations validate, build the event and
//!   apply it through that same path.

pub mod ledger;

pub use ledger::{
    AccountView, FillKind, FillRecord, Hold, Ledger, LedgerEvent, OpenOrder, PositionView,
    TransferKind,
};
