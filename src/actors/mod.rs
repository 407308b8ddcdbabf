//! The shell's actors (docs/ARCHITECTURE.md §2): one [`MarketActor`] per market on its own pinned
//! arbiter, the [`AccountActor`] (ledger, R1/R2), the [`RiskActor`] (mark, liquidation) and the
//! [`FundingActor`], started and wired by [`supervisor::Exchange::start`]. Handlers only turn
//! messages into core calls and route the returned events (journal, publish, reply, next actor).

pub mod access_directory;
pub mod account;
pub mod exchange;
pub mod feed;
pub mod funding;
pub mod gate;
pub mod lazy_broadcast;
pub(crate) mod liquidation;
pub mod mark_board;
pub mod market;
pub mod messages;
pub mod publish;
pub mod release;
pub mod risk;
pub mod supervisor;

pub use account::AccountActor;
pub use exchange::Exchange;
pub use funding::FundingActor;
pub use market::MarketActor;
pub use risk::RiskActor;
pub use supervisor::StartOptions;
