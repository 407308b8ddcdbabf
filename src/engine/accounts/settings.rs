//! The account commands that involve no market: leverage, margin mode, isolated-margin
//! transfers, opening accounts, deposits and withdrawals. Each is one ledger call whose events
//! the shell journals (docs/RULES.md §3, §3a).

use rust_decimal::Decimal;

use super::Accounts;
use crate::domain::{AccountId, MarginMode, MarketId, Reject, Timestamp};
use crate::engine::LedgerEvent;

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
        let mut ev = Vec::new();
        let cap = self
            .ledger
            .set_leverage(account, market, leverage, now, &mut ev)?;
        Ok((cap, ev))
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
        let mut ev = Vec::new();
        let changed = self
            .ledger
            .set_margin_mode(account, market, mode, now, &mut ev)?;
        Ok((changed, ev))
    }

    /// Move `amount` into (negative: out of) the isolated wallet of (account, market);
    /// returns the isolated wallet after it.
    pub fn move_isolated_margin(
        &mut self,
        account: AccountId,
        market: MarketId,
        amount: Decimal,
        now: Timestamp,
    ) -> Result<(Decimal, Vec<LedgerEvent>), Reject> {
        self.known(market)?;
        let mut ev = Vec::new();
        let wallet = self
            .ledger
            .move_isolated_margin(account, market, amount, now, &mut ev)?;
        Ok((wallet, ev))
    }

    /// Open a user account.
    pub fn open_account(
        &mut self,
        id: AccountId,
        now: Timestamp,
    ) -> Result<Vec<LedgerEvent>, Reject> {
        let mut ev = Vec::new();
        self.ledger.open_account(id, now, &mut ev)?;
        Ok(ev)
    }

    /// A deposit; returns the new wallet balance and the events.
    pub fn deposit(
        &mut self,
        account: AccountId,
        amount: Decimal,
        now: Timestamp,
    ) -> Result<(Decimal, Vec<LedgerEvent>), Reject> {
        let mut ev = Vec::new();
        let w = self.ledger.deposit(account, amount, now, &mut ev)?;
        Ok((w, ev))
    }

    /// A withdrawal (at most `withdrawable`, which counts every hold and reservation);
    /// returns the new wallet balance and the events.
    pub fn withdraw(
        &mut self,
        account: AccountId,
        amount: Decimal,
        now: Timestamp,
    ) -> Result<(Decimal, Vec<LedgerEvent>), Reject> {
        let mut ev = Vec::new();
        let w = self.ledger.withdraw(account, amount, now, &mut ev)?;
        Ok((w, ev))
    }
}
