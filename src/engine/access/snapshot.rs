//! The access records in a ledger snapshot (format 5 onwards; see `ledger/snapshot.rs`).
//! Positional postcard: never reorder a field.

use serde::{Deserialize, Serialize};

use super::{Access, AuditRecord, KeyRecord, TokenRecord};
use crate::domain::AccountId;

/// The stored layout.
#[derive(Serialize, Deserialize)]
pub struct AccessSnap {
    keys: Vec<KeyRecord>,
    next_key: Vec<(AccountId, u32)>,
    tokens: Vec<TokenRecord>,
    next_token: u32,
    audit: Vec<AuditRecord>,
}

impl Access {
    pub fn to_snapshot(&self) -> AccessSnap {
        let mut next_key: Vec<(AccountId, u32)> =
            self.next_key.iter().map(|(a, n)| (*a, *n)).collect();
        next_key.sort_unstable();
        AccessSnap {
            keys: self.keys.values().cloned().collect(),
            next_key,
            tokens: self.tokens.values().cloned().collect(),
            next_token: self.next_token,
            audit: self.audit.clone(),
        }
    }

    pub fn from_snapshot(s: AccessSnap) -> Access {
        Access {
            keys: s
                .keys
                .into_iter()
                .map(|k| ((k.account, k.key_no), k))
                .collect(),
            next_key: s.next_key.into_iter().collect(),
            tokens: s.tokens.into_iter().map(|t| (t.token_no, t)).collect(),
            next_token: s.next_token,
            audit: s.audit,
            ..Access::default()
        }
    }

    /// The records of a snapshot written before keys were records (formats 2–4): every
    /// account has its primary key, made at an unknown time (0).
    pub fn with_primaries(accounts: impl Iterator<Item = AccountId>) -> Access {
        let mut a = Access::default();
        for id in accounts {
            a.open_primary(id, 0);
        }
        a
    }
}
