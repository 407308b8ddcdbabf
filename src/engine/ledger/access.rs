//! The ledger's side of access control: it holds the access records (`engine::access`) so
//! they are journaled, snapshotted and replicated with it, and checks the account a key is
//! made for.

use super::{Ledger, LedgerEvent};
use crate::domain::{AccountId, Reject, Timestamp};
use crate::engine::access::{Access, AccessEvent, KeyRecord, NewKey, Permissions};

impl Ledger {
    /// The access records (keys, admin tokens, audit log).
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// At most `n` live keys per account from now on.
    pub fn set_max_keys(&mut self, n: usize) {
        self.access.set_max_keys(n);
    }

    /// A new key for an existing, non-reserved `account` (see [`Access::create_key`]),
    /// applied; its record and event.
    pub fn create_key(
        &mut self,
        account: AccountId,
        spec: NewKey,
        granter: Option<Permissions>,
        nonce: [u8; 16],
        now: Timestamp,
    ) -> Result<(KeyRecord, Vec<LedgerEvent>), Reject> {
        if account.is_reserved() || !self.index.contains_key(&account) {
            return Err(Reject::AccountNotFound);
        }
        let e = self
            .access
            .create_key(account, spec, granter, nonce, now.0)?;
        let AccessEvent::KeyCreated(k) = &e else {
            return Err(Reject::Fault(crate::domain::Fault::Unexpected(
                "create_key",
            )));
        };
        let k = k.clone();
        Ok((k, self.applied(e, now)))
    }

    /// Apply an access event made by an [`Access`] command; the ledger event to journal.
    pub fn applied(&mut self, e: AccessEvent, now: Timestamp) -> Vec<LedgerEvent> {
        let ev = LedgerEvent::Access(e);
        self.apply(&ev, now);
        vec![ev]
    }
}
