//! Telemetry, the shell's eyes (docs/ARCHITECTURE.md §6): Prometheus metrics and structured logs.
//!
//! - [`metrics`]: metric names (a contract with `grafana/` and alerts), descriptions, units,
//!   histogram buckets, and the process-wide recorder rendered by `GET /metrics`.
//! - [`handles`]: cached handles per actor (MarketActor, RiskActor, FundingActor,
//!   AccountActor) and per market for order outcomes; building them registers every series.
//! - [`health`]: entry-gate, journal and WebSocket health, the journal commit hook, recovery
//!   time, the upkeep timer, rate-limited overload warnings.
//!
//! A leaf of the shell: it imports no other shell module (the HTTP middleware and the
//! `/metrics` route live in `api::http_metrics`; handles take plain values).
//!
//! Logs go through `tracing` (filtered by `RUST_LOG`); at the default `info` level nothing is
//! logged per order or per request, only starts/stops, configuration, recovery, liquidations,
//! funding settlements, slow consumers, overload (rate-limited) and errors.

pub mod handles;
pub mod health;
pub mod metrics;

pub use handles::{AccountMetrics, FundingMetrics, MarketMetrics, OrderMetrics, RiskMetrics};
pub use health::{journal_hook, recovery_done, run_upkeep, ExchangeMetrics};
