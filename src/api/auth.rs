//! Authentication (docs/API.md): account keys with HMAC-SHA256 request signatures inside a
//! timestamp window, and the admin bearer token.
//!
//! Keys are derived, not stored: `api_key = "<account_id>.<hex HMAC(master, account_id)>"` and
//! `api_secret = hex HMAC(master, api_key)`, with a 32-byte master key kept in
//! `<data_dir>/master.key` (mode 0600). So no per-account secret ever rests on disk (the
//! secret is shown once, at account creation), a restart needs nothing but the master key,
//! and checking a key costs HMACs, no lookup. Every comparison is constant-time.
//!
//! Per request only the signature's HMAC is computed: each worker thread keeps the keyed HMAC
//! state of the genuine keys it has verified (bounded; a key enters only after its HMAC tag
//! checked out, so invalid keys cannot fill it), which saves deriving the key's tag and secret
//! (two HMACs) and keying the signature's HMAC on every request.
//! Limitation: one key per account, no rotation short of replacing the master key.

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::AccountId;

type HmacSha256 = Hmac<Sha256>;

/// Header names.
pub const KEY_HEADER: &str = "X-API-Key";
pub const TIMESTAMP_HEADER: &str = "X-API-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-API-Signature";

/// hex HMAC-SHA256(key, the concatenation of `parts`).
pub fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    // expect: HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac key");
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The installation's key material.
#[derive(Clone)]
pub struct KeyStore {
    master: [u8; 32],
    /// Names this key material in the per-thread cache (derived from it, not secret-bearing).
    cache_id: u64,
}

/// Verified keys cached per worker thread: at most this many, then the cache starts over.
const KEY_CACHE: usize = 65_536;

thread_local! {
    /// api key → (key store, account, HMAC keyed with the account's secret).
    static VERIFIED: std::cell::RefCell<rustc_hash::FxHashMap<Box<str>, (u64, AccountId, HmacSha256)>> =
        std::cell::RefCell::new(rustc_hash::FxHashMap::default());
}

fn hmac_raw(mac: &HmacSha256, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = mac.clone();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyStore(..)")
    }
}

/// 32 random bytes from the OS. Fails only if the OS refuses its random source (a sandbox
/// without `getrandom`): an error for the caller to report, never a panic in a handler.
pub fn random_bytes() -> std::io::Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| std::io::Error::other(format!("the OS random source failed: {e}")))?;
    Ok(b)
}

/// Write `contents` to a new file readable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(path)?.write_all(contents)
}

impl KeyStore {
    pub fn new(master: [u8; 32]) -> KeyStore {
        let tag = hmac_hex(&master, &[b"cache-id"]);
        let cache_id = u64::from_str_radix(&tag[..16], 16).unwrap_or(0);
        KeyStore { master, cache_id }
    }

    /// Load `<data_dir>/master.key`, creating it (0600) on first start.
    pub fn open(data_dir: &Path) -> std::io::Result<KeyStore> {
        let path = data_dir.join("master.key");
        if !path.exists() {
            write_private(&path, hex::encode(random_bytes()?).as_bytes())?;
        }
        let text = std::fs::read_to_string(&path)?;
        let bytes = hex::decode(text.trim())
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
        let master: [u8; 32] = bytes.try_into().map_err(|_| {
            std::io::Error::other(format!("{}: expected 32 bytes of hex", path.display()))
        })?;
        Ok(KeyStore::new(master))
    }

    /// The key and secret of `account` (the secret is shown once, at creation).
    pub fn credentials(&self, account: AccountId) -> (String, String) {
        let id = account.0.to_string();
        let tag = &hmac_hex(&self.master, &[b"key:", id.as_bytes()])[..32];
        let key = format!("{id}.{tag}");
        let secret = hmac_hex(&self.master, &[b"secret:", key.as_bytes()]);
        (key, secret)
    }

    /// The account a well-formed, genuine key belongs to.
    pub fn account_of(&self, api_key: &str) -> Option<AccountId> {
        let (id, _) = api_key.split_once('.')?;
        let account = AccountId(id.parse().ok()?);
        let (expected, _) = self.credentials(account);
        bool::from(expected.as_bytes().ct_eq(api_key.as_bytes())).then_some(account)
    }

    /// Check `signature` = hex HMAC-SHA256(secret of `api_key`, message parts); hex digits
    /// in either case.
    pub fn verify(&self, api_key: &str, parts: &[&[u8]], signature: &str) -> Option<AccountId> {
        let mut presented = [0u8; 32];
        hex::decode_to_slice(signature, &mut presented).ok()?;
        let cached = VERIFIED.with_borrow(|c| match c.get(api_key) {
            Some((store, account, mac)) if *store == self.cache_id => Some((*account, mac.clone())),
            _ => None,
        });
        let (account, mac) = match cached {
            Some(hit) => hit,
            None => {
                let account = self.account_of(api_key)?;
                let (_, secret) = self.credentials(account);
                // expect: HMAC accepts keys of any length.
                let mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac key");
                VERIFIED.with_borrow_mut(|c| {
                    if c.len() >= KEY_CACHE {
                        c.clear();
                    }
                    c.insert(api_key.into(), (self.cache_id, account, mac.clone()));
                });
                (account, mac)
            }
        };
        let expected = hmac_raw(&mac, parts);
        bool::from(expected.ct_eq(&presented)).then_some(account)
    }
}

/// Sign like a client: hex HMAC-SHA256(secret, timestamp + METHOD + path_with_query + body).
pub fn sign(
    secret: &str,
    timestamp: u64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    hmac_hex(
        secret.as_bytes(),
        &[
            timestamp.to_string().as_bytes(),
            method.as_bytes(),
            path_and_query.as_bytes(),
            body,
        ],
    )
}

/// Constant-time comparison of the admin token.
pub fn admin_ok(expected: &str, presented: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_derived_and_checked() {
        let ks = KeyStore::new([7; 32]);
        let (key, secret) = ks.credentials(AccountId(101));
        assert!(key.starts_with("101."));
        assert_eq!(ks.account_of(&key), Some(AccountId(101)));
        assert_eq!(
            ks.account_of(&key.replace("101.", "102.")),
            None,
            "a key cannot be moved to another account"
        );
        assert_eq!(
            KeyStore::new([8; 32]).account_of(&key),
            None,
            "another installation's key"
        );
        let sig = sign(&secret, 5, "GET", "/api/v1/account", b"");
        let msg: [&[u8]; 4] = [b"5", b"GET", b"/api/v1/account", b""];
        assert_eq!(ks.verify(&key, &msg, &sig), Some(AccountId(101)));
        assert_eq!(
            ks.verify(&key, &msg, &sig.to_uppercase()),
            Some(AccountId(101))
        );
        let tampered: [&[u8]; 4] = [b"5", b"GET", b"/api/v1/account?x=1", b""];
        assert_eq!(ks.verify(&key, &tampered, &sig), None);
    }

    /// The per-thread cache of verified keys changes no answer: a cached key still needs a
    /// right signature, another installation's store does not reuse this one's entry, and a
    /// malformed signature is refused before any HMAC.
    #[test]
    fn the_verified_key_cache_changes_no_answer() {
        let (a, b) = (KeyStore::new([1; 32]), KeyStore::new([2; 32]));
        let (key, secret) = a.credentials(AccountId(7));
        let msg: [&[u8]; 4] = [b"9", b"POST", b"/api/v1/x", b"{}"];
        let sig = sign(&secret, 9, "POST", "/api/v1/x", b"{}");
        let flipped = if sig.starts_with('0') { "1" } else { "0" };
        let wrong = format!("{flipped}{}", &sig[1..]);
        for _ in 0..3 {
            assert_eq!(a.verify(&key, &msg, &sig), Some(AccountId(7)));
            assert_eq!(a.verify(&key, &msg, &wrong), None);
            assert_eq!(b.verify(&key, &msg, &sig), None, "another store's key");
            assert_eq!(a.verify(&key, &msg, &sig[..62]), None, "too short");
            assert_eq!(a.verify(&key, &msg, &format!("{sig}00")), None, "too long");
            assert_eq!(a.verify(&key, &msg, "zz"), None, "not hex");
        }
        // A store with the same key material accepts what the first one cached.
        assert_eq!(
            KeyStore::new([1; 32]).verify(&key, &msg, &sig),
            Some(AccountId(7))
        );
    }
}
