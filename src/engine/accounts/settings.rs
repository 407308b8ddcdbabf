//! The account commands that involve no market: leverage, margin mode, isolated-margin
//! transfers, opening accounts, deposits and withdrawals. Each is one ledger call whose events
//! the shell journals (docs/RULES.md §3, §3a).

use rust_decimal::Decimal;

use super::Accounts;
use crate::domain::{AccountId, Leg, MarginMode, MarketId, PositionMode, Reject, Timestamp};
use crate::engine::LedgerEvent;

/// A ledger command's answer and the events to journal.
fn recorded<T>(
    f: impl FnOnce(&mut Vec<LedgerEvent>) -> Result<T, Reject>,
) -> Result<(T, Vec<LedgerEvent>), Reject> {
    let mut ev = Vec::new();
    let answer = f(&mut ev)?;
    Ok((answer, ev))
}

impl Accounts {
    /// Leverage of (account, market): checked against position plus open orders and applied
    /// at once. Returns the maximum position notional and the events to journal.
    pub fn set_leverage(
        &mut self,
        account: AccountId,
        market: MarketId,
        leverage: u32,
        now: Timestamp,
    ) -> Result<(Decimal, Vec<LedgerEvent>), Reject> {
        self.known(market)?;
        recorded(|ev| self.ledger.set_leverage(account, market, leverage, now, ev))
    }

    /// Set the margin mode of (account, market) (docs/RULES.md §3a); `false` when it already
    /// was `mode` (nothing to journal then).
    pub fn set_margin_mode(
        &mut self,
        account: AccountId,
        market: MarketId,
        mode: MarginMode,
        now: Timestamp,
    ) -> Result<(bool, Vec<LedgerEvent>), Reject> {
        self.known(market)?;
        recorded(|ev| self.ledger.set_margin_mode(account, market, mode, now, ev))
    }

    /// Move `amount` into (negative: out of) the isolated wallet of (account, leg); returns
    /// the isolated wallet after it. The leg's side must fit the account's position mode
    /// (`both` in one-way, `long`/`short` in hedge: `POSITION_SIDE_MISMATCH`).
    pub fn move_isolated_margin(
        &mut self,
        account: AccountId,
        leg: Leg,
        amount: Decimal,
        now: Timestamp,
    ) -> Result<(Decimal, Vec<LedgerEvent>), Reject> {
        self.known(leg.market)?;
        if !self.ledger.position_mode(account).admits(leg.side) {
            return Err(Reject::PositionSideMismatch);
        }
        recorded(|ev| {
            self.ledger
                .move_isolated_margin(account, leg, amount, now, ev)
        })
    }

    /// Set the account's position mode; `false` when it already was `mode`.
    pub fn set_position_mode(
        &mut self,
        account: AccountId,
        mode: PositionMode,
        now: Timestamp,
    ) -> Result<(bool, Vec<LedgerEvent>), Reject> {
        recorded(|ev| self.ledger.set_position_mode(account, mode, now, ev))
    }

    /// Open a user account.
    pub fn open_account(
        &mut self,
        id: AccountId,
        now: Timestamp,
    ) -> Result<Vec<LedgerEvent>, Reject> {
        recorded(|ev| self.ledger.open_account(id, now, ev)).map(|((), ev)| ev)
    }

    /// A deposit; returns the new wallet balance and the events.
    pub fn deposit(
        &mut self,
        account: AccountId,
        amount: Decimal,
        now: Timestamp,
    ) -> Result<(Decimal, Vec<LedgerEvent>), Reject> {
        recorded(|ev| self.ledger.deposit(account, amount, now, ev))
    }

    /// A withdrawal (at most `withdrawable`, which counts every hold and reservation);
    /// returns the new wallet balance and the events.
    pub fn withdraw(
        &mut self,
        account: AccountId,
        amount: Decimal,
        now: Timestamp,
    ) -> Result<(Decimal, Vec<LedgerEvent>), Reject> {
        recorded(|ev| self.ledger.withdraw(account, amount, now, ev))
    }
}
