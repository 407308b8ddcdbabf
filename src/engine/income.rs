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
use crate::domain::{MarketId, PositionSide};

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
    /// Margin moved by the account between its cross wallet and an isolated wallet (+: into
    /// the isolated wallet). Not a gain or loss: the wallet balance (cross + isolated) is
    /// unchanged by it.
    IsolatedMargin,
}

impl IncomeKind {
    pub const ALL: [IncomeKind; 7] = [
        IncomeKind::Transfer,
        IncomeKind::RealizedPnl,
        IncomeKind::FundingFee,
        IncomeKind::Commission,
        IncomeKind::InsuranceClear,
        IncomeKind::LiquidationFee,
        IncomeKind::IsolatedMargin,
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
            IncomeKind::IsolatedMargin => "isolated_margin",
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
    /// The position leg the record is about (`both` unless an isolated-margin transfer of a
    /// hedge-mode leg).
    pub position_side: PositionSide,
    /// Signed: positive is credited to the account.
    #[serde(with = "crate::domain::dec")]
    pub amount: Decimal,
    pub time: Timestamp,
    pub trade_id: Option<TradeId>,
}

/// One record as an account keeps it (the account is implicit; 48 bytes instead of 80).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub id: u64,
    #[serde(with = "crate::domain::dec")]
    pub amount: Decimal,
    pub time: Timestamp,
    /// 0: none (trade ids start at 1).
    pub trade_id: u64,
    /// The market and leg as a [`Leg`] encodes them (`market | side << 16`; market `u16::MAX`:
    /// none). A `u32` varint of a `both` leg is the `u16` varint of its market, which is what
    /// records kept before hedge mode hold, so they read unchanged.
    pub leg: u32,
    pub kind: IncomeKind,
}

impl Stored {
    pub fn new(
        id: u64,
        kind: IncomeKind,
        market: Option<MarketId>,
        amount: Decimal,
        time: Timestamp,
        trade_id: Option<TradeId>,
    ) -> Stored {
        Stored {
            id,
            amount,
            time,
            trade_id: trade_id.map_or(0, |t| t.0),
            leg: u32::from(market.map_or(u16::MAX, |m| m.0)),
            kind,
        }
    }

    /// The same record about leg `side` of its market.
    pub fn on_side(self, side: PositionSide) -> Stored {
        Stored {
            leg: (self.leg & 0xFFFF) | (u32::from(side.bits()) << 16),
            ..self
        }
    }

    /// The market id (`u16::MAX`: none).
    pub fn market_code(&self) -> u16 {
        (self.leg & 0xFFFF) as u16
    }

    pub fn position_side(&self) -> PositionSide {
        PositionSide::from_bits(((self.leg >> 16) & 3) as u8).unwrap_or_default()
    }

    /// The record of `account`.
    pub fn record(&self, account: AccountId) -> IncomeRecord {
        IncomeRecord {
            id: self.id,
            account,
            kind: self.kind,
            market: (self.market_code() != u16::MAX).then_some(MarketId(self.market_code())),
            position_side: self.position_side(),
            amount: self.amount,
            time: self.time,
            trade_id: (self.trade_id != 0).then_some(TradeId(self.trade_id)),
        }
    }
}

/// A query over one account's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IncomeFilter {
    pub market: Option<MarketId>,
    pub kind: Option<IncomeKind>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub limit: usize,
    /// A kind left out unless `kind` asks for it (a dialect that has no word for it).
    pub hide: Option<IncomeKind>,
}

/// Records of `account`'s `history` matching `f`, ascending by id: with `start`, the first
/// `limit` from it; otherwise the last `limit` up to `end`.
pub fn select(
    account: AccountId,
    history: &VecDeque<Stored>,
    f: &IncomeFilter,
) -> Vec<IncomeRecord> {
    let keep = |r: &&Stored| {
        f.market.is_none_or(|m| r.market_code() == m.0)
            && f.kind.is_none_or(|k| r.kind == k)
            && (f.kind.is_some() || f.hide.is_none_or(|h| r.kind != h))
            && f.start.is_none_or(|s| r.time >= s)
            && f.end.is_none_or(|e| r.time <= e)
    };
    let mut v: Vec<IncomeRecord> = if f.start.is_some() {
        history
            .iter()
            .filter(keep)
            .take(f.limit)
            .map(|r| r.record(account))
            .collect()
    } else {
        history
            .iter()
            .rev()
            .filter(keep)
            .take(f.limit)
            .map(|r| r.record(account))
            .collect()
    };
    if f.start.is_none() {
        v.reverse();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_record_is_compact_and_round_trips() {
        assert_eq!(std::mem::size_of::<Stored>(), 48);
        let s = Stored::new(
            7,
            IncomeKind::FundingFee,
            Some(MarketId(2)),
            Decimal::new(-15, 1),
            Timestamp(9),
            None,
        );
        let r = s.record(AccountId(100));
        assert_eq!(
            (r.id, r.market, r.trade_id, r.kind),
            (7, Some(MarketId(2)), None, IncomeKind::FundingFee)
        );
        assert_eq!(
            Stored::new(r.id, r.kind, r.market, r.amount, r.time, r.trade_id),
            s
        );
    }

    /// Records kept before hedge mode (a `u16` market) read as the `both` leg; a record about a
    /// hedge leg keeps its side.
    #[test]
    fn old_records_read_as_both_and_legs_round_trip() {
        #[derive(Serialize)]
        struct Before {
            id: u64,
            #[serde(with = "crate::domain::dec")]
            amount: Decimal,
            time: Timestamp,
            trade_id: u64,
            market: u16,
            kind: IncomeKind,
        }
        for market in [0u16, 2, 300, u16::MAX] {
            let old = Before {
                id: 1,
                amount: Decimal::new(25, 1),
                time: Timestamp(5),
                trade_id: 0,
                market,
                kind: IncomeKind::IsolatedMargin,
            };
            let s: Stored = postcard::from_bytes(&postcard::to_stdvec(&old).unwrap()).unwrap();
            assert_eq!(
                (s.market_code(), s.position_side()),
                (market, PositionSide::Both)
            );
        }
        let s = Stored::new(
            3,
            IncomeKind::IsolatedMargin,
            Some(MarketId(1)),
            Decimal::ONE,
            Timestamp(1),
            None,
        )
        .on_side(PositionSide::Short);
        let back: Stored = postcard::from_bytes(&postcard::to_stdvec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let r = back.record(AccountId(100));
        assert_eq!(
            (r.market, r.position_side),
            (Some(MarketId(1)), PositionSide::Short)
        );
    }
}
