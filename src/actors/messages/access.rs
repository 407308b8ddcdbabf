//! The access-control messages to the AccountActor (`actors/account/access.rs`).

use actix::prelude::*;

use super::Reply;
use crate::domain::AccountId;

/// A change to the access records (`engine::access`): journaled like any ledger command,
/// answered once durable. The AccountActor keeps `Exchange::access` equal to the records.
#[derive(Message)]
#[rtype(result = "()")]
pub enum AccessCmd {
    /// A new key; `granter`: the permissions of the key asking (`None`: an operator).
    CreateKey {
        account: AccountId,
        spec: crate::engine::access::NewKey,
        granter: Option<crate::engine::access::Permissions>,
        nonce: [u8; 16],
        reply: Reply<crate::engine::access::KeyRecord>,
    },
    RevokeKey {
        account: AccountId,
        key_no: u32,
        reply: Reply<()>,
    },
    CreateToken {
        name: String,
        role: crate::engine::access::Role,
        hash: [u8; 32],
        created_by: String,
        reply: Reply<crate::engine::access::TokenRecord>,
    },
    RevokeToken {
        token_no: u32,
        reply: Reply<()>,
    },
    /// Journal an audit line (its id is assigned on apply).
    Audit {
        record: crate::engine::access::AuditRecord,
        reply: Reply<()>,
    },
}

/// Reads of the access records.
#[derive(Message)]
#[rtype(result = "()")]
pub enum AccessQuery {
    /// `account`'s live keys (`AccountNotFound` if there is no such account).
    Keys {
        account: AccountId,
        reply: Reply<Vec<crate::engine::access::KeyRecord>>,
    },
    Tokens {
        reply: Reply<Vec<crate::engine::access::TokenRecord>>,
    },
    /// Audit records below `before`, newest first.
    Audit {
        before: Option<u64>,
        limit: usize,
        reply: Reply<Vec<crate::engine::access::AuditRecord>>,
    },
}
