//! Margin modes and margin pools (docs/RULES.md §3a).
//!
//! # Invariants
//! - A market of an account is margined `Cross` (from the account's cross wallet, with every
//!   other cross position) or `Isolated` (from the position's own isolated wallet); the mode
//!   changes only while the account has neither a position nor an open order there.
//! - A [`MarginPool`] names the money that backs a set of positions: the cross wallet of an
//!   account (all its cross positions), or the isolated wallet of one (account, market). The
//!   liquidation workflow works on pools, so an isolated position is liquidated on its own.

use serde::{Deserialize, Serialize};

use super::{AccountId, Leg, MarketId};

/// How one market of an account is margined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarginMode {
    #[default]
    Cross,
    Isolated,
}

impl MarginMode {
    pub fn is_isolated(self) -> bool {
        self == MarginMode::Isolated
    }

    /// The wire name (`cross`, `isolated`).
    pub fn as_str(self) -> &'static str {
        match self {
            MarginMode::Cross => "cross",
            MarginMode::Isolated => "isolated",
        }
    }
}

/// Why a margin mode cannot change now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeLock {
    /// The account has open orders in the market.
    OpenOrders,
    /// The account has a position in the market.
    Position,
}

/// The money backing a set of positions: what the liquidation workflow liquidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MarginPool {
    /// The account's cross wallet and all its cross positions.
    Cross(AccountId),
    /// The isolated wallet and position of one leg (account, market, position side).
    Isolated(AccountId, Leg),
}

impl MarginPool {
    pub fn account(self) -> AccountId {
        match self {
            MarginPool::Cross(a) | MarginPool::Isolated(a, _) => a,
        }
    }

    /// The market of an isolated pool.
    pub fn isolated_market(self) -> Option<MarketId> {
        self.isolated_leg().map(|l| l.market)
    }

    /// The leg of an isolated pool.
    pub fn isolated_leg(self) -> Option<Leg> {
        match self {
            MarginPool::Cross(_) => None,
            MarginPool::Isolated(_, l) => Some(l),
        }
    }
}

impl std::fmt::Display for MarginPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MarginPool::Cross(a) => write!(f, "account {a}"),
            MarginPool::Isolated(a, l) => write!(f, "account {a} isolated in {l}"),
        }
    }
}
