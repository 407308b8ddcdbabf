//! Identifier newtypes. Order and trade ids are assigned by a market's engine, sequentially
//! from 1; account ids by the ledger. They are plain integers on the wire (docs/API.md).

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An order, unique within its market.
    OrderId
);
id_type!(
    /// A trade (one maker order touched by one taker), unique within its market.
    TradeId
);
id_type!(
    /// A trading account. Ids below [`AccountId::FIRST_USER`] are reserved ledger accounts.
    AccountId
);

impl AccountId {
    /// The exchange's fee account: receives fees, pays maker rebates.
    pub const FEE: AccountId = AccountId(1);
    /// The insurance fund: receives liquidation fees and rounding residue, absorbs bankrupt
    /// positions.
    pub const INSURANCE: AccountId = AccountId(2);
    /// The first id handed to a user account.
    pub const FIRST_USER: u64 = 100;

    /// Whether this is one of the exchange's own reserved accounts.
    pub fn is_reserved(self) -> bool {
        self.0 < Self::FIRST_USER
    }
}

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
