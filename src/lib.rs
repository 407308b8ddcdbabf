//! # perpx
//!
//! A self-hostable multi-market perpetual-futures exchange: fast, exact, crash-safe.
//!
//! # Layout
//! The pure core (synchronous, deterministic, takes `now` as an argument, no I/O):
//! - [`domain`]: units (`Price` ticks, `Qty` lots, `Amount` money), ids, market specs,
//!   order vocabulary, events, rejections.
//! - [`book`]: the order book and matching of one market, with its trigger book.
//! - [`risk`]: money rounding, positions, margin, fees, mark, funding, liquidation, ADL.
//! - [`engine`]: the [`engine::market::MarketEngine`] of each market and the
//!   [`engine::Ledger`] (accounts, positions, holds; R1/R2, funding, liquidation steps, state
//!   hash and invariants).
//!
//! The shell (threads, I/O, time):
//! - [`config`]: `markets.toml` → validated [`domain::MarketSpec`]s, or an error naming the
//!   key and market.
//! - [`persistence`]: the redb store, the journal thread (group commit, snapshots),
//!   recovery (snapshots + journal tail through the core's `apply`), and the snapshotter
//!   (a replica fed by the journal that writes snapshot sets and prunes the journal).
//! - [`actors`]: pinned MarketActors, the Account, Risk and Funding actors, the supervisor.
//! - [`clock`]: the clock the shell reads (system, or manual in tests).
//! - [`telemetry`]: Prometheus metrics (`GET /metrics`), request ids, structured logs.
//!
//! `docs/ARCHITECTURE.md` describes the whole architecture; modules arrive issue by issue.

pub mod actors;
pub mod api;
pub mod app;
pub mod book;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod persistence;
pub mod risk;
pub mod telemetry;
