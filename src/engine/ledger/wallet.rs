//! Accounts, deposits and withdrawals.
//!
//! # Invariants
//! - Amounts are positive with at most `money_scale` decimals; they are added to Σ deposits /
//!   Σ withdrawals in the same event that moves the wallet, so conservation stays exact.
//! - A withdrawal never exceeds `withdrawable` (unrealized profit is never withdrawable).

use rust_decimal::Decimal;

use super::{Ledger, LedgerEvent};
use crate::domain::Timestamp;
use crate::domain::{AccountId, Amount, Reject, RequestFault};

impl Ledger {
    /// Open a user account (ids of reserved accounts exist from the start).
    pub fn open_account(
        &mut self,
        account: AccountId,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        if self.index.contains_key(&account) || account.is_reserved() {
            return Err(Reject::InvalidRequest(RequestFault::AccountExists(account)));
        }
        self.emit(LedgerEvent::AccountOpened { account }, now, out);
        Ok(())
    }

    /// Credit a deposit (positive, at most `money_scale` decimals).
    pub fn deposit(
        &mut self,
        account: AccountId,
        amount: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let a = self.try_idx(account)?;
        self.check_amount(amount)?;
        self.emit(
            LedgerEvent::Deposited {
                account,
                amount: Amount(amount),
            },
            now,
            out,
        );
        Ok(self.accounts[a].wallet)
    }

    /// Pay out a withdrawal; `INSUFFICIENT_BALANCE` above `withdrawable`.
    pub fn withdraw(
        &mut self,
        account: AccountId,
        amount: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let a = self.try_idx(account)?;
        self.check_amount(amount)?;
        if self.accounts[a].in_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        if amount > self.totals(account)?.withdrawable() {
            return Err(Reject::InsufficientBalance);
        }
        self.emit(
            LedgerEvent::Withdrew {
                account,
                amount: Amount(amount),
            },
            now,
            out,
        );
        Ok(self.accounts[a].wallet)
    }

    pub(super) fn check_amount(&self, amount: Decimal) -> Result<(), Reject> {
        if amount <= Decimal::ZERO || amount.round_dp(self.scale) != amount {
            return Err(Reject::InvalidRequest(RequestFault::BadAmount {
                scale: self.scale,
            }));
        }
        Ok(())
    }
}
