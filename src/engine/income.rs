//! The income history of an account: every flow that changed its wallet, as a trader's
//! statement shows it (Binance's `/fapi/v1/income`, our `GET /api/v1/account/income`).
//!
//! # Invariants
//! - Records are derived from ledger events by the ledger's `apply`, so live processing and
//!   replay produce the same history (part of the ledger's state and hash).
//! - Σ of an account's records (while none was forgotten) equals its wallet balance: every
//!   wallet change is one record (transfers, realized PnL, fees, funding, insurance clears,
//!   liquidation fees). Reserved accounts (fee account, insurance fund) keep no history.
//! - Ids are global and increasing; each account keeps its newest records up to a bound.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, Timestamp, TradeId};
use crate::risk::MarketId;

/// Income records kept per account (older ones are forgotten).
pub const KEEP_INCOME: usize = 1000;

/// What kind of flow a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeKind {
    /// Deposit (+) or withdrawal (−).
    Transfer,
    /// PnL realized by a reducing fill, takeover or ADL.
    RealizedPnl,
    /// Funding paid (−) or received (+).
    FundingFee,
    /// Trading fee paid (−) or maker rebate received (+).
    Commission,
    /// The insurance fund cleared a negative wallet (+), inside a liquidation.
    InsuranceClear,
    /// Liquidation fee paid to the insurance fund (−).
    LiquidationFee,
}

impl IncomeKind {
    pub const ALL: [IncomeKind; 6] = [
        IncomeKind::Transfer,
        IncomeKind::RealizedPnl,
        IncomeKind::FundingFee,
        IncomeKind::Commission,
        IncomeKind::InsuranceClear,
        IncomeKind::LiquidationFee,
    ];

    /// The wire name (`funding_fee`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            IncomeKind::Transfer => "transfer",
            IncomeKind::RealizedPnl => "realized_pnl",
            IncomeKind::FundingFee => "funding_fee",
            IncomeKind::Commission => "commission",
            IncomeKind::InsuranceClear => "insurance_clear",
            IncomeKind::LiquidationFee => "liquidation_fee",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<IncomeKind> {
        IncomeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One wallet flow of one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomeRecord {
    /// Global, increasing (Binance's `tranId`).
    pub id: u64,
    pub account: AccountId,
    pub kind: IncomeKind,
    pub market: Option<MarketId>,
    /// Signed: positive is credited to the account.
    #[serde(with = "crate::domain::dec")]
    pub amount: Decimal,
    pub time: Timestamp,
    pub trade_id: Option<TradeId>,
}

/// A query over one account's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IncomeFilter {
    pub market: Option<MarketId>,
    pub kind: Option<IncomeKind>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub limit: usize,
}

/// Records of `history` matching `f`, ascending by id: with `start`, the first `limit` from
/// it; otherwise the last `limit` up to `end`.
pub fn select(history: &VecDeque<IncomeRecord>, f: &IncomeFilter) -> Vec<IncomeRecord> {
    let keep = |r: &&IncomeRecord| {
        f.market.is_none_or(|m| r.market == Some(m))
            && f.kind.is_none_or(|k| r.kind == k)
            && f.start.is_none_or(|s| r.time >= s)
            && f.end.is_none_or(|e| r.time <= e)
    };
    if f.start.is_some() {
        history.iter().filter(keep).take(f.limit).copied().collect()
    } else {
        let mut v: Vec<IncomeRecord> = history
            .iter()
            .rev()
            .filter(keep)
            .take(f.limit)
            .copied()
            .collect();
        v.reverse();
        v
    }
}
