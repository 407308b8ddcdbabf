//! Position mode (docs/RULES.md §3b): one-way or hedge, per account.
//!
//! # Invariants
//! - The mode changes only while the account has no position, no isolated wallet, no held
//!   order (orders on their way to a market are held since R1) on any leg of any market, and
//!   is not being liquidated: so no leg of the old mode survives the change.
//! - Entries of the old mode's legs stay (flat, without orders): they keep the market's
//!   leverage and margin mode, which a new leg copies (`Ledger::entry`).

use super::{Ledger, LedgerEvent, NO_SLOT};
use crate::domain::{AccountId, ModeLock, PositionMode, Reject, RequestFault, Timestamp};

impl Ledger {
    /// Set `account`'s position mode; `Ok(false)` when it already was `mode`.
    pub fn set_position_mode(
        &mut self,
        account: AccountId,
        mode: PositionMode,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<bool, Reject> {
        let a = self.try_idx(account)?;
        if account.is_reserved() {
            return Err(Reject::InvalidRequest(RequestFault::ReservedAccount));
        }
        let acc = &self.accounts[a];
        if acc.position_mode == mode {
            return Ok(false);
        }
        if acc.in_liquidation || acc.markets.iter().any(|e| e.iso_liquidation) {
            return Err(Reject::AccountInLiquidation);
        }
        if acc
            .markets
            .iter()
            .any(|e| e.slot != NO_SLOT || !e.iso_wallet.is_zero())
        {
            return Err(Reject::PositionModeLocked(ModeLock::Position));
        }
        if acc.markets.iter().any(|e| !e.orders.is_empty()) {
            return Err(Reject::PositionModeLocked(ModeLock::OpenOrders));
        }
        self.emit(LedgerEvent::PositionModeSet { account, mode }, now, out);
        Ok(true)
    }
}
