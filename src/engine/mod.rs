//! The engines: pure state machines that the actors drive.
//! - [`market`]: one market's [`market::MarketEngine`] (book, triggers, position cache for
//!   reduce-only orders, market data).
//! - [`ledger`]: the [`Ledger`] (accounts, positions, margin holds, funding, liquidation
//!   steps, income histories).
//! - [`orders`]: the order records and fill histories queries and replies are made from.
//! - [`access`]: the access records (API keys, admin tokens, audit log) the ledger holds.
//! - [`accounts`]: [`accounts::Accounts`], the account side of the order path (R1 and R2)
//!   over the ledger and the order records: what the AccountActor and the test driver call.
//!
//! # Invariants
//! - Pure and deterministic: no clock (time is an argument), no I/O, no floats, no
//!   actix/tokio/redb/metrics imports.
//! - The ledger changes state only through `apply(event)`; live operations validate, build the
//!   event and apply it through that same path.

pub mod access;
pub mod accounts;
pub mod income;
pub mod ledger;
pub mod market;
pub mod orders;
pub mod retention;
pub mod state;

pub use ledger::{
    AccountView, FillKind, FillRecord, Hold, InvariantViolation, Ledger, LedgerEvent,
    MarketPositions, MarketSetting, OpenOrder, PositionView, Totals, TransferKind,
};
pub use retention::Retention;
pub use state::ExchangeState;
