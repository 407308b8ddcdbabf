//! The [`AccessDirectory`]: what the HTTP workers check a request's API key or admin token
//! against, without asking an actor. The AccountActor keeps it equal to the ledger's access
//! records (`engine::access`): built from the recovered records at start, then changed as each
//! access event is applied (live, replayed on a follower) — a revocation the moment it is
//! applied, before it is durable, so a revoked key is refused from then on.
//!
//! # Invariants
//! - A key or token is found here iff it is live in the ledger's records (after the event the
//!   actor is applying).
//! - Revoking marks the entry revoked (sessions holding it see that) and bumps the
//!   [`AccessDirectory::revocations`] counter, which every private WebSocket session and
//!   user data stream watches: they re-check their key at once and close if it is gone.
//! - Derived key material (the keyed HMAC of a key's secret) is cached in the entry on first
//!   use; it never leaves the process.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rustc_hash::FxHashMap;

use crate::domain::AccountId;
use crate::engine::access::{AccessEvent, KeyRecord, Permissions, Role, TokenRecord};
use crate::engine::Ledger;

/// A live API key as the HTTP workers see it.
#[derive(Debug)]
pub struct KeyAuth {
    pub account: AccountId,
    pub key_no: u32,
    /// `None`: the primary key (its name derives from the account id).
    pub nonce: Option<[u8; 16]>,
    pub permissions: Permissions,
    /// Empty: any address.
    pub ip_allowlist: Box<[ipnet::IpNet]>,
    pub expires_at: Option<u64>,
    revoked: AtomicBool,
    /// Milliseconds, 0: not used since the server started.
    last_used: AtomicU64,
    /// Key material derived from the master key on first use (see `api/auth.rs`).
    pub derived: OnceLock<Derived>,
}

/// What a key's checks derive from the master key, cached in its entry.
#[derive(Debug)]
pub struct Derived {
    /// Which master key it was derived from (`KeyStore`'s cache id).
    pub store: u64,
    /// The tag a primary key's name must carry (unused for keys with a nonce).
    pub tag: [u8; 16],
    /// HMAC-SHA256 keyed with the key's secret, ready to clone per request.
    pub mac: hmac::Hmac<sha2::Sha256>,
}

impl KeyAuth {
    fn new(k: &KeyRecord) -> KeyAuth {
        KeyAuth {
            account: k.account,
            key_no: k.key_no,
            nonce: k.nonce,
            permissions: k.permissions,
            // The records hold canonical, checked networks; one that does not parse (a
            // record from a newer build) allows nothing rather than everything.
            ip_allowlist: k
                .ip_allowlist
                .iter()
                .map(|t| t.parse().unwrap_or_else(|_| nothing()))
                .collect(),
            expires_at: k.expires_at,
            revoked: AtomicBool::new(false),
            last_used: AtomicU64::new(0),
            derived: OnceLock::new(),
        }
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Relaxed)
    }

    /// Whether `ip` may use the key.
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        self.ip_allowlist.is_empty()
            || ip.is_some_and(|ip| self.ip_allowlist.iter().any(|n| n.contains(&canon(ip))))
    }

    pub fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }

    /// Record a use at `now` (written at most once a second: no cache-line traffic per request).
    pub fn used(&self, now: u64) {
        if now >= self.last_used.load(Relaxed) + 1000 {
            self.last_used.store(now, Relaxed);
        }
    }

    pub fn last_used(&self) -> Option<u64> {
        Some(self.last_used.load(Relaxed)).filter(|&t| t > 0)
    }
}

/// An IPv4 address mapped into IPv6 (a dual-stack listener's peers) is checked as IPv4.
fn canon(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A network no address is in (`255.255.255.255/32` is never a peer).
fn nothing() -> ipnet::IpNet {
    ipnet::IpNet::from(IpAddr::from([255, 255, 255, 255]))
}

/// A live admin token as the HTTP workers see it.
#[derive(Debug)]
pub struct TokenAuth {
    pub token_no: u32,
    pub name: String,
    pub role: Role,
    last_used: AtomicU64,
}

impl TokenAuth {
    pub fn used(&self, now: u64) {
        self.last_used.store(now, Relaxed);
    }

    pub fn last_used(&self) -> Option<u64> {
        Some(self.last_used.load(Relaxed)).filter(|&t| t > 0)
    }
}

#[derive(Default)]
struct Maps {
    /// Keys with a nonce, by (account, nonce).
    named: FxHashMap<(AccountId, [u8; 16]), Arc<KeyAuth>>,
    /// Primary keys, by account.
    primary: FxHashMap<AccountId, Arc<KeyAuth>>,
    /// Every live key by (account, number).
    by_no: FxHashMap<(AccountId, u32), Arc<KeyAuth>>,
    /// Admin tokens by the SHA-256 of the token.
    tokens: FxHashMap<[u8; 32], Arc<TokenAuth>>,
}

/// See the module docs.
pub struct AccessDirectory {
    maps: RwLock<Maps>,
    revocations: tokio::sync::watch::Sender<u64>,
}

impl AccessDirectory {
    /// The directory of `ledger`'s access records.
    pub fn new(ledger: &Ledger) -> AccessDirectory {
        let d = AccessDirectory {
            maps: RwLock::default(),
            revocations: tokio::sync::watch::Sender::new(0),
        };
        {
            let mut m = d.write();
            for k in ledger.access().keys() {
                m.insert_key(k);
            }
            for t in ledger.access().tokens() {
                m.insert_token(t);
            }
        }
        d
    }

    // A poisoned lock only means a panic elsewhere, which stops the process (fail fast).
    fn read(&self) -> RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The live key `(account, nonce)` names: a key with that nonce, else the account's
    /// primary key (whose name the caller checks against the derived one).
    pub fn lookup(&self, account: AccountId, nonce: &[u8; 16]) -> Option<Arc<KeyAuth>> {
        let m = self.read();
        m.named
            .get(&(account, *nonce))
            .or_else(|| m.primary.get(&account))
            .cloned()
    }

    /// Live key `key_no` of `account`.
    pub fn key(&self, account: AccountId, key_no: u32) -> Option<Arc<KeyAuth>> {
        self.read().by_no.get(&(account, key_no)).cloned()
    }

    /// The live admin token whose SHA-256 is `hash`.
    pub fn token(&self, hash: &[u8; 32]) -> Option<Arc<TokenAuth>> {
        self.read().tokens.get(hash).cloned()
    }

    /// The live admin token numbered `token_no`.
    pub fn token_no(&self, token_no: u32) -> Option<Arc<TokenAuth>> {
        self.read()
            .tokens
            .values()
            .find(|t| t.token_no == token_no)
            .cloned()
    }

    /// Counts revocations; watch it to learn of one at once.
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    /// Follow one applied ledger event (the AccountActor calls this for every event it
    /// applies; only access events and account openings change anything).
    pub fn observe(&self, e: &crate::engine::LedgerEvent, ledger: &Ledger) {
        use crate::engine::LedgerEvent;
        match e {
            LedgerEvent::AccountOpened { account } => {
                if let Some(k) = ledger.access().key(*account, 1) {
                    self.write().insert_key(k);
                }
            }
            LedgerEvent::Access(a) => self.observe_access(a),
            _ => {}
        }
    }

    fn observe_access(&self, e: &AccessEvent) {
        let revoked = {
            let mut m = self.write();
            match e {
                AccessEvent::KeyCreated(k) => {
                    m.insert_key(k);
                    false
                }
                AccessEvent::KeyRevoked { account, key_no } => {
                    if let Some(k) = m.by_no.remove(&(*account, *key_no)) {
                        k.revoked.store(true, Relaxed);
                        match k.nonce {
                            Some(n) => m.named.remove(&(*account, n)),
                            None => m.primary.remove(account),
                        };
                    }
                    true
                }
                AccessEvent::TokenCreated(t) => {
                    m.insert_token(t);
                    false
                }
                AccessEvent::TokenRevoked { token_no } => {
                    m.tokens.retain(|_, t| t.token_no != *token_no);
                    true
                }
                AccessEvent::Audited(_) => false,
            }
        };
        if revoked {
            self.revocations.send_modify(|n| *n += 1);
        }
    }
}

impl Maps {
    fn insert_key(&mut self, k: &KeyRecord) {
        let auth = Arc::new(KeyAuth::new(k));
        match k.nonce {
            Some(n) => self.named.insert((k.account, n), Arc::clone(&auth)),
            None => self.primary.insert(k.account, Arc::clone(&auth)),
        };
        self.by_no.insert((k.account, k.key_no), auth);
    }

    fn insert_token(&mut self, t: &TokenRecord) {
        self.tokens.insert(
            t.hash,
            Arc::new(TokenAuth {
                token_no: t.token_no,
                name: t.name.clone(),
                role: t.role,
                last_used: AtomicU64::new(0),
            }),
        );
    }
}
