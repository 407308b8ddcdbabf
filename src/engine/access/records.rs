//! The access records (docs/API.md "API keys", docs/OPERATIONS.md "Access control"): account
//! keys, admin tokens and audit entries, as the ledger holds, journals and snapshots them.
//! Positional postcard records: never reorder a field (append, with a new snapshot format).
//!
//! No secret is stored: a key's secret is derived from the installation's master key and the
//! key's public name (`api/auth.rs`), a token is kept as its SHA-256.

use serde::{Deserialize, Serialize};

use crate::domain::AccountId;

/// What a key may do: a set of [`Permissions::READ`], [`Permissions::TRADE`],
/// [`Permissions::WITHDRAW`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Permissions(pub u8);

impl Permissions {
    /// Read the account: balances, positions, orders, fills, income, keys; private streams.
    pub const READ: Permissions = Permissions(1);
    /// Change the account's orders and settings; create and revoke keys.
    pub const TRADE: Permissions = Permissions(2);
    /// Withdraw from the account.
    pub const WITHDRAW: Permissions = Permissions(4);
    /// Every permission (an account's primary key).
    pub const ALL: Permissions = Permissions(7);
    /// The wire names, in bit order.
    pub const NAMES: [(&'static str, Permissions); 3] = [
        ("read", Permissions::READ),
        ("trade", Permissions::TRADE),
        ("withdraw", Permissions::WITHDRAW),
    ];

    pub fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 & Permissions::ALL.0 == 0
    }

    /// The permission named `name` (`None`: unknown).
    pub fn named(name: &str) -> Option<Permissions> {
        Permissions::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }

    /// The wire names of the set, in bit order.
    pub fn names(self) -> Vec<&'static str> {
        Permissions::NAMES
            .iter()
            .filter(|(_, p)| self.contains(*p))
            .map(|(n, _)| *n)
            .collect()
    }
}

/// An account's API key. `nonce == None` is the account's primary key, whose public name
/// derives from the account id alone (the key every account had before keys were records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub account: AccountId,
    /// Per account, from 1 (the primary key), never reused.
    pub key_no: u32,
    /// 16 random bytes from the OS (drawn by the shell) that name the key publicly.
    pub nonce: Option<[u8; 16]>,
    pub label: String,
    pub permissions: Permissions,
    /// Canonical CIDR texts (`ipnet` form); empty: any address.
    pub ip_allowlist: Vec<String>,
    /// Milliseconds; `None`: never expires.
    pub expires_at: Option<u64>,
    pub created_at: u64,
}

impl KeyRecord {
    /// The primary key of `account`, as opening the account creates it.
    pub fn primary(account: AccountId, created_at: u64) -> KeyRecord {
        KeyRecord {
            account,
            key_no: 1,
            nonce: None,
            label: "primary".into(),
            permissions: Permissions::ALL,
            ip_allowlist: Vec::new(),
            expires_at: None,
            created_at,
        }
    }
}

/// What an admin token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Everything.
    Operator,
    /// Reads only.
    Viewer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn named(name: &str) -> Option<Role> {
        match name {
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A named admin token (the bootstrap token from the configuration is not a record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// From 1, never reused.
    pub token_no: u32,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the token (256 random bits: a hash is enough, no salt or stretching).
    pub hash: [u8; 32],
    pub created_at: u64,
    /// The name of the token that created it.
    pub created_by: String,
}

/// One admin action: who, what, when, from where, and the result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// From 1, in journal order (assigned on apply).
    pub id: u64,
    pub time: u64,
    /// The acting token's name (`bootstrap`, or a token record's name; `-` if none matched).
    pub actor: String,
    pub token_no: Option<u32>,
    /// The client address (after `trusted_proxies`).
    pub ip: String,
    pub method: String,
    pub path: String,
    /// The request body, cut to [`AUDIT_BODY_CHARS`] characters.
    pub body: String,
    pub status: u16,
    /// The error code of a refused request.
    pub code: Option<String>,
}

/// Audit bodies are cut to this many characters.
pub const AUDIT_BODY_CHARS: usize = 512;
/// Labels and token names: 1 to this many characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Entries of a key's IP allow-list, at most.
pub const MAX_ALLOWLIST: usize = 30;

/// A fact that changed the access records (journaled inside a ledger batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessEvent {
    KeyCreated(KeyRecord),
    KeyRevoked {
        account: AccountId,
        key_no: u32,
    },
    TokenCreated(TokenRecord),
    TokenRevoked {
        token_no: u32,
    },
    /// `id` of the record is assigned on apply (the next one).
    Audited(AuditRecord),
}

/// Why a key or token request is refused (rendered at the edge, `api/reject_text.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessFault {
    /// A label or name empty or longer than [`MAX_NAME_CHARS`].
    NameLength,
    /// No permission asked for, or an unknown one.
    Permissions(String),
    /// A key with `withdraw` needs an IP allow-list.
    WithdrawNeedsAllowlist,
    /// More than [`MAX_ALLOWLIST`] entries.
    AllowlistTooLong,
    /// An entry that is not an IP address or CIDR block.
    BadAddress(String),
    /// An expiry not after now.
    ExpiryPast,
    /// An unknown admin role.
    Role(String),
}

/// A key as asked for: validated by [`NewKey::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    pub label: String,
    pub permissions: Permissions,
    pub ip_allowlist: Vec<String>,
    pub expires_at: Option<u64>,
}

impl NewKey {
    /// Check the request's own shape at `now`; the allow-list comes back canonical.
    pub fn check(mut self, now: u64) -> Result<NewKey, AccessFault> {
        name_ok(&self.label)?;
        if self.permissions.is_empty() || !Permissions::ALL.contains(self.permissions) {
            return Err(AccessFault::Permissions(
                "at least one of read, trade, withdraw".into(),
            ));
        }
        if self.ip_allowlist.len() > MAX_ALLOWLIST {
            return Err(AccessFault::AllowlistTooLong);
        }
        self.ip_allowlist = self
            .ip_allowlist
            .iter()
            .map(|t| canonical_net(t).ok_or_else(|| AccessFault::BadAddress(t.clone())))
            .collect::<Result<_, _>>()?;
        if self.permissions.contains(Permissions::WITHDRAW) && self.ip_allowlist.is_empty() {
            return Err(AccessFault::WithdrawNeedsAllowlist);
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            return Err(AccessFault::ExpiryPast);
        }
        Ok(self)
    }
}

/// A label or name of 1 to [`MAX_NAME_CHARS`] characters, without control characters.
pub fn name_ok(name: &str) -> Result<(), AccessFault> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AccessFault::NameLength);
    }
    Ok(())
}

/// `text` as a canonical network (`10.0.0.0/8`, `2001:db8::/32`; an address alone is its
/// host network, `/32` or `/128`); host bits are cleared.
pub fn canonical_net(text: &str) -> Option<String> {
    let t = text.trim();
    let net = match t.parse::<ipnet::IpNet>() {
        Ok(n) => n.trunc(),
        Err(_) => ipnet::IpNet::from(t.parse::<core::net::IpAddr>().ok()?),
    };
    Some(net.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(perms: u8, ips: &[&str]) -> NewKey {
        NewKey {
            label: "bot".into(),
            permissions: Permissions(perms),
            ip_allowlist: ips.iter().map(|s| s.to_string()).collect(),
            expires_at: None,
        }
    }

    #[test]
    fn new_keys_are_checked_and_their_networks_made_canonical() {
        let k = key(1, &["10.1.2.3/8", "127.0.0.1", " ::1 "])
            .check(0)
            .unwrap();
        assert_eq!(k.ip_allowlist, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
        assert_eq!(
            key(0, &[]).check(0).unwrap_err(),
            AccessFault::Permissions("at least one of read, trade, withdraw".into())
        );
        assert!(matches!(
            key(8, &[]).check(0),
            Err(AccessFault::Permissions(_))
        ));
        assert_eq!(
            key(4, &[]).check(0).unwrap_err(),
            AccessFault::WithdrawNeedsAllowlist
        );
        assert!(key(5, &["1.2.3.4"]).check(0).is_ok());
        assert_eq!(
            key(1, &["1.2.3.4/33"]).check(0).unwrap_err(),
            AccessFault::BadAddress("1.2.3.4/33".into())
        );
        assert_eq!(
            key(1, &["host"]).check(0).unwrap_err(),
            AccessFault::BadAddress("host".into())
        );
        let many: Vec<&str> = vec!["1.1.1.1"; MAX_ALLOWLIST + 1];
        assert_eq!(
            key(1, &many).check(0).unwrap_err(),
            AccessFault::AllowlistTooLong
        );
        let mut k = key(1, &[]);
        k.expires_at = Some(10);
        assert_eq!(k.clone().check(10).unwrap_err(), AccessFault::ExpiryPast);
        assert!(k.check(9).is_ok());
        for bad in ["", "a\nb", &"x".repeat(MAX_NAME_CHARS + 1)] {
            let mut k = key(1, &[]);
            k.label = bad.to_string();
            assert_eq!(k.check(0).unwrap_err(), AccessFault::NameLength);
        }
    }

    #[test]
    fn permission_sets() {
        let rt = Permissions::READ.union(Permissions::TRADE);
        assert!(rt.contains(Permissions::READ) && rt.contains(Permissions::TRADE));
        assert!(!rt.contains(Permissions::WITHDRAW) && !Permissions::READ.contains(rt));
        assert_eq!(rt.names(), ["read", "trade"]);
        assert_eq!(Permissions::named("withdraw"), Some(Permissions::WITHDRAW));
        assert_eq!(Permissions::named("admin"), None);
    }
}
