//! The stored layouts of ledger snapshots, of every format this build reads (the conversion
//! between them and the ledger is `snapshot.rs`). Positional postcard records: never reorder
//! a field; a new format gets a new layout and an upgrade from the one before.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::OpenOrder;
use crate::domain::{AccountId, Leg, MarginMode, MarketId};
use crate::engine::income::Stored;

/// Decimals in their binary form (fast to decode in bulk).
#[derive(Serialize, Deserialize)]
pub(super) struct Dec(#[serde(with = "crate::domain::dec")] pub(super) Decimal);

#[derive(Serialize, Deserialize)]
pub(super) struct MarketSnap {
    pub(super) symbol: String,
    pub(super) tick_size: Dec,
    pub(super) lot_size: Dec,
    pub(super) mark: Dec,
    pub(super) mark_seq: u64,
    pub(super) account: Vec<u32>,
    pub(super) qty: Vec<i64>,
    pub(super) cost: Vec<Dec>,
    pub(super) realized_pnl: Vec<Dec>,
    pub(super) funding_paid: Vec<Dec>,
}

/// An entry as format 2 stored it (cross only).
#[derive(Serialize, Deserialize)]
pub(super) struct EntrySnap2 {
    pub(super) market: MarketId,
    pub(super) leverage: u32,
    pub(super) slot: u32,
    pub(super) orders: Vec<OpenOrder>,
}

/// Formats 3 and 4 (a format-3 `market` reads as its `both` leg).
#[derive(Serialize, Deserialize)]
pub(super) struct EntrySnap {
    pub(super) leg: Leg,
    pub(super) leverage: u32,
    pub(super) slot: u32,
    pub(super) orders: Vec<OpenOrder>,
    pub(super) mode: MarginMode,
    pub(super) iso_wallet: Dec,
    pub(super) iso_liquidation: bool,
}

impl From<EntrySnap2> for EntrySnap {
    fn from(e: EntrySnap2) -> EntrySnap {
        EntrySnap {
            leg: Leg::both(e.market),
            leverage: e.leverage,
            slot: e.slot,
            orders: e.orders,
            mode: MarginMode::Cross,
            iso_wallet: Dec(Decimal::ZERO),
            iso_liquidation: false,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct AccountSnap<E> {
    pub(super) id: AccountId,
    pub(super) wallet: Dec,
    pub(super) in_liquidation: bool,
    pub(super) markets: Vec<E>,
    pub(super) income: Vec<Stored>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct LedgerSnap<E> {
    pub(super) scale: u32,
    pub(super) deposits: Dec,
    pub(super) withdrawals: Dec,
    pub(super) markets: Vec<MarketSnap>,
    pub(super) accounts: Vec<AccountSnap<E>>,
    pub(super) next_income: u64,
}

/// Format 4: format 3's layout, then the accounts in hedge mode.
#[derive(Serialize, Deserialize)]
pub(super) struct LedgerSnap4 {
    pub(super) base: LedgerSnap<EntrySnap>,
    pub(super) hedge: Vec<AccountId>,
}

/// Format 5: format 4's layout, then the access records.
#[derive(Serialize, Deserialize)]
pub(super) struct LedgerSnap5 {
    pub(super) v4: LedgerSnap4,
    pub(super) access: crate::engine::access::snapshot::AccessSnap,
}

impl LedgerSnap<EntrySnap2> {
    pub(super) fn upgrade(self) -> LedgerSnap<EntrySnap> {
        LedgerSnap {
            scale: self.scale,
            deposits: self.deposits,
            withdrawals: self.withdrawals,
            markets: self.markets,
            accounts: self
                .accounts
                .into_iter()
                .map(|a| AccountSnap {
                    id: a.id,
                    wallet: a.wallet,
                    in_liquidation: a.in_liquidation,
                    markets: a.markets.into_iter().map(EntrySnap::from).collect(),
                    income: a.income,
                })
                .collect(),
            next_income: self.next_income,
        }
    }
}

pub(super) fn decs(v: &[Decimal]) -> Vec<Dec> {
    v.iter().map(|d| Dec(*d)).collect()
}

pub(super) fn undecs(v: Vec<Dec>) -> Vec<Decimal> {
    v.into_iter().map(|d| d.0).collect()
}
