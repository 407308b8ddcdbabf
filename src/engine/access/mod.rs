//! [`Access`]: the access records of the exchange — each account's API keys, the named admin
//! tokens and the audit log of admin actions — held by the ledger (so they are journaled,
//! snapshotted, recovered and replicated with it) and changed only by [`Access::apply`].
//!
//! # Invariants
//! - Every opened account gets its primary key (number 1) on `AccountOpened`; key numbers
//!   per account and token numbers are never reused, so an audit line or a revoked key
//!   always names one key.
//! - A revoked key or token is gone from the records (the journal keeps its history).
//! - Commands check everything before they return their event; applying it cannot fail.
//! - Pure: time comes in as `now`, random nonces come from the caller.

pub mod records;
pub mod snapshot;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::domain::{AccountId, Reject};
pub use records::{
    AccessEvent, AccessFault, AuditRecord, KeyRecord, NewKey, Permissions, Role, TokenRecord,
};

/// Live keys an account may hold when the configuration says nothing.
pub const DEFAULT_MAX_KEYS: usize = 30;

/// The access records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Live keys by (account, key number).
    keys: BTreeMap<(AccountId, u32), KeyRecord>,
    /// The next key number per account that has one.
    next_key: FxHashMap<AccountId, u32>,
    tokens: BTreeMap<u32, TokenRecord>,
    next_token: u32,
    audit: Vec<AuditRecord>,
    /// Live keys per account at most (a setting, not state).
    max_keys: usize,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            keys: BTreeMap::new(),
            next_key: FxHashMap::default(),
            tokens: BTreeMap::new(),
            next_token: 1,
            audit: Vec::new(),
            max_keys: DEFAULT_MAX_KEYS,
        }
    }
}

fn refused(f: AccessFault) -> Reject {
    Reject::InvalidKey(f)
}

impl Access {
    pub fn set_max_keys(&mut self, n: usize) {
        self.max_keys = n.max(1);
    }

    /// The only way the records change (live and replay). `now` is the batch's time.
    pub fn apply(&mut self, e: &AccessEvent, now: u64) {
        match e {
            AccessEvent::KeyCreated(k) => {
                let next = self.next_key.entry(k.account).or_insert(1);
                *next = (*next).max(k.key_no + 1);
                self.keys.insert((k.account, k.key_no), k.clone());
            }
            AccessEvent::KeyRevoked { account, key_no } => {
                self.keys.remove(&(*account, *key_no));
            }
            AccessEvent::TokenCreated(t) => {
                self.next_token = self.next_token.max(t.token_no + 1);
                self.tokens.insert(t.token_no, t.clone());
            }
            AccessEvent::TokenRevoked { token_no } => {
                self.tokens.remove(token_no);
            }
            AccessEvent::Audited(r) => {
                let id = self.audit.len() as u64 + 1;
                self.audit.push(AuditRecord {
                    id,
                    time: if r.time == 0 { now } else { r.time },
                    ..r.clone()
                });
            }
        }
    }

    /// `AccountOpened`: the account's primary key.
    pub fn open_primary(&mut self, account: AccountId, now: u64) {
        self.apply(
            &AccessEvent::KeyCreated(KeyRecord::primary(account, now)),
            now,
        );
    }

    /// A new key for `account` (which the caller checked exists) with `nonce`, asked for by a
    /// key holding `granter` (`None`: an operator, who may grant anything).
    pub fn create_key(
        &self,
        account: AccountId,
        spec: NewKey,
        granter: Option<Permissions>,
        nonce: [u8; 16],
        now: u64,
    ) -> Result<AccessEvent, Reject> {
        let spec = spec.check(now).map_err(refused)?;
        if let Some(g) = granter {
            if !g.contains(Permissions::TRADE) || !g.contains(spec.permissions) {
                return Err(Reject::PermissionDenied);
            }
        }
        if self.keys_of(account).count() >= self.max_keys {
            return Err(Reject::KeyLimit);
        }
        Ok(AccessEvent::KeyCreated(KeyRecord {
            account,
            key_no: self.next_key.get(&account).copied().unwrap_or(1),
            nonce: Some(nonce),
            label: spec.label,
            permissions: spec.permissions,
            ip_allowlist: spec.ip_allowlist,
            expires_at: spec.expires_at,
            created_at: now,
        }))
    }

    pub fn revoke_key(&self, account: AccountId, key_no: u32) -> Result<AccessEvent, Reject> {
        if !self.keys.contains_key(&(account, key_no)) {
            return Err(Reject::KeyNotFound);
        }
        Ok(AccessEvent::KeyRevoked { account, key_no })
    }

    /// A new admin token kept as `hash`.
    pub fn create_token(
        &self,
        name: String,
        role: Role,
        hash: [u8; 32],
        created_by: String,
        now: u64,
    ) -> Result<TokenRecord, Reject> {
        records::name_ok(&name).map_err(refused)?;
        Ok(TokenRecord {
            token_no: self.next_token,
            name,
            role,
            hash,
            created_at: now,
            created_by,
        })
    }

    pub fn revoke_token(&self, token_no: u32) -> Result<AccessEvent, Reject> {
        if !self.tokens.contains_key(&token_no) {
            return Err(Reject::TokenNotFound);
        }
        Ok(AccessEvent::TokenRevoked { token_no })
    }

    /// An audit line (its id and, if 0, its time are set on apply).
    pub fn audit(&self, mut record: AuditRecord) -> AccessEvent {
        record.body = record
            .body
            .chars()
            .take(records::AUDIT_BODY_CHARS)
            .collect();
        AccessEvent::Audited(record)
    }

    pub fn keys(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.values()
    }

    pub fn keys_of(&self, account: AccountId) -> impl Iterator<Item = &KeyRecord> {
        self.keys
            .range((account, 0)..=(account, u32::MAX))
            .map(|(_, k)| k)
    }

    pub fn key(&self, account: AccountId, key_no: u32) -> Option<&KeyRecord> {
        self.keys.get(&(account, key_no))
    }

    pub fn tokens(&self) -> impl Iterator<Item = &TokenRecord> {
        self.tokens.values()
    }

    /// Up to `limit` audit records with ids below `before` (`None`: the newest), newest first.
    pub fn audit_page(&self, before: Option<u64>, limit: usize) -> Vec<AuditRecord> {
        let end = before.map_or(self.audit.len(), |b| {
            (b.saturating_sub(1) as usize).min(self.audit.len())
        });
        self.audit[..end]
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }

    /// Feed the records to a hasher (part of the ledger's state hash).
    pub fn hash_into(&self, h: &mut impl FnMut(&[u8])) {
        // expect: plain data, which postcard always serializes.
        h(&postcard::to_stdvec(&self.to_snapshot()).expect("access records serialize"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(perms: Permissions) -> NewKey {
        NewKey {
            label: "bot".into(),
            permissions: perms,
            ip_allowlist: vec![],
            expires_at: None,
        }
    }

    #[test]
    fn keys_are_numbered_per_account_never_reused_and_bounded() {
        let a = AccountId(100);
        let mut acc = Access::default();
        acc.set_max_keys(3);
        acc.open_primary(a, 5);
        let e = acc
            .create_key(
                a,
                spec(Permissions::READ),
                Some(Permissions::ALL),
                [1; 16],
                6,
            )
            .unwrap();
        acc.apply(&e, 6);
        assert_eq!(acc.keys_of(a).map(|k| k.key_no).collect::<Vec<_>>(), [1, 2]);
        acc.apply(&acc.revoke_key(a, 2).unwrap(), 7);
        assert_eq!(acc.revoke_key(a, 2), Err(Reject::KeyNotFound));
        let e = acc
            .create_key(a, spec(Permissions::READ), None, [2; 16], 8)
            .unwrap();
        acc.apply(&e, 8);
        assert_eq!(
            acc.key(a, 3).map(|k| k.nonce),
            Some(Some([2; 16])),
            "2 is not reused"
        );
        let e = acc
            .create_key(a, spec(Permissions::READ), None, [3; 16], 8)
            .unwrap();
        acc.apply(&e, 8);
        assert_eq!(
            acc.create_key(a, spec(Permissions::READ), None, [4; 16], 9),
            Err(Reject::KeyLimit)
        );
        // Another account numbers its own keys.
        acc.open_primary(AccountId(101), 9);
        assert_eq!(acc.keys_of(AccountId(101)).count(), 1);
    }

    #[test]
    fn a_key_grants_at_most_what_it_has_and_only_with_trade() {
        let (a, acc) = (AccountId(100), Access::default());
        let rt = Permissions::READ.union(Permissions::TRADE);
        assert_eq!(
            acc.create_key(
                a,
                spec(Permissions::READ),
                Some(Permissions::READ),
                [0; 16],
                1
            ),
            Err(Reject::PermissionDenied)
        );
        assert!(acc
            .create_key(a, spec(Permissions::READ), Some(rt), [0; 16], 1)
            .is_ok());
        assert!(acc.create_key(a, spec(rt), Some(rt), [0; 16], 1).is_ok());
        let mut w = spec(Permissions::ALL);
        w.ip_allowlist = vec!["10.0.0.1".into()];
        assert_eq!(
            acc.create_key(a, w.clone(), Some(rt), [0; 16], 1),
            Err(Reject::PermissionDenied)
        );
        assert!(
            acc.create_key(a, w, None, [0; 16], 1).is_ok(),
            "an operator grants anything"
        );
    }

    #[test]
    fn tokens_and_audit_pages() {
        let mut acc = Access::default();
        let t = acc
            .create_token("ops".into(), Role::Viewer, [9; 32], "bootstrap".into(), 3)
            .unwrap();
        acc.apply(&AccessEvent::TokenCreated(t), 3);
        assert_eq!(
            acc.tokens()
                .map(|t| (t.token_no, t.role))
                .collect::<Vec<_>>(),
            [(1, Role::Viewer)]
        );
        acc.apply(&acc.revoke_token(1).unwrap(), 4);
        assert_eq!(acc.revoke_token(1), Err(Reject::TokenNotFound));
        let t = acc
            .create_token(
                "ops2".into(),
                Role::Operator,
                [8; 32],
                "bootstrap".into(),
                5,
            )
            .unwrap();
        acc.apply(&AccessEvent::TokenCreated(t), 5);
        assert_eq!(acc.tokens().next().map(|t| t.token_no), Some(2));
        for i in 0..5u16 {
            let r = AuditRecord {
                id: 0,
                time: 0,
                actor: "bootstrap".into(),
                token_no: None,
                ip: "127.0.0.1".into(),
                method: "POST".into(),
                path: format!("/x/{i}"),
                body: "b".repeat(600),
                status: 200 + i,
                code: None,
            };
            acc.apply(&acc.audit(r), 10 + u64::from(i));
        }
        let page = acc.audit_page(None, 2);
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), [5, 4]);
        assert_eq!(
            (page[0].time, page[0].body.len()),
            (14, records::AUDIT_BODY_CHARS)
        );
        assert_eq!(
            acc.audit_page(Some(4), 10)
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>(),
            [3, 2, 1]
        );
        assert!(acc.audit_page(Some(1), 10).is_empty());
        assert_eq!(acc.audit_page(Some(99), 1)[0].id, 5);
    }
}
