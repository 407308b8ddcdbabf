//! Authentication (docs/API.md "Authentication", docs/OPERATIONS.md "Access control"): API
//! keys with HMAC-SHA256 request signatures inside a timestamp window, and admin tokens.
//!
//! Keys are records (`engine::access`), their secrets are derived, not stored: a key's public
//! name is `"<account_id>.<32 hex>"`, where the hex is 16 random bytes drawn when the key was
//! made (its nonce, kept in the record) or, for an account's primary key, the first 16 bytes
//! of `HMAC(master, "key:" + account_id)`; its secret is `hex HMAC(master, "secret:" + name)`.
//! The 32-byte master key lives in `<data_dir>/master.key` (mode 0600). So no secret rests
//! on disk (a secret is shown once, when its key is made), and a revoked key is refused
//! because its record is gone. Every comparison is constant-time.
//!
//! Per request only the signature's HMAC is computed: a key's entry in the
//! [`AccessDirectory`] caches the HMAC state keyed with its secret (and a primary key's
//! tag), derived on first use.

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use std::sync::Arc;

use crate::actors::access_directory::{AccessDirectory, Derived, KeyAuth};
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
    /// Names this key material in the key entries' caches (derived from it, not secret-bearing).
    cache_id: u64,
}

fn hmac_raw(mut mac: HmacSha256, parts: &[&[u8]]) -> [u8; 32] {
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

    /// The public name of `account`'s key with `nonce` (`None`: its primary key).
    pub fn name(&self, account: AccountId, nonce: Option<[u8; 16]>) -> String {
        format!(
            "{}.{}",
            account.0,
            hex::encode(nonce.unwrap_or_else(|| self.tag(account)))
        )
    }

    /// The tag of `account`'s primary key name.
    fn tag(&self, account: AccountId) -> [u8; 16] {
        let mut mac = mac_of(&self.master);
        mac.update(b"key:");
        mac.update(account.0.to_string().as_bytes());
        let full: [u8; 32] = mac.finalize().into_bytes().into();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&full[..16]);
        tag
    }

    /// The secret of the key named `name`.
    pub fn secret(&self, name: &str) -> String {
        hmac_hex(&self.master, &[b"secret:", name.as_bytes()])
    }

    /// The name and secret of `account`'s primary key.
    pub fn credentials(&self, account: AccountId) -> (String, String) {
        let key = self.name(account, None);
        let secret = self.secret(&key);
        (key, secret)
    }

    /// What a key's checks derive from the master key.
    fn derive(&self, key: &KeyAuth) -> Derived {
        Derived {
            store: self.cache_id,
            tag: self.tag(key.account),
            mac: mac_of(self.secret(&self.name(key.account, key.nonce)).as_bytes()),
        }
    }

    /// The live key `api_key` names, with its derived material, or why not.
    fn resolve(&self, dir: &AccessDirectory, api_key: &str) -> Option<(Arc<KeyAuth>, MacOf)> {
        let (id, hex_part) = api_key.split_once('.')?;
        let account = AccountId(id.parse().ok()?);
        let mut nonce = [0u8; 16];
        hex::decode_to_slice(hex_part, &mut nonce).ok()?;
        let key = dir.lookup(account, &nonce)?;
        let cached = key.derived.get_or_init(|| self.derive(&key));
        let (tag, mac) = if cached.store == self.cache_id {
            (cached.tag, MacOf::Cached(Arc::clone(&key)))
        } else {
            // Another master key than the one cached (tests with two stores): derive anew.
            let d = self.derive(&key);
            (d.tag, MacOf::Owned(Box::new(d.mac)))
        };
        // A primary key is found by account alone: its name must carry the derived tag.
        if key.nonce.is_none() && !bool::from(tag.ct_eq(&nonce)) {
            return None;
        }
        Some((key, mac))
    }

    /// The live key `api_key` names (a well-formed, genuine, unrevoked key).
    pub fn lookup(&self, dir: &AccessDirectory, api_key: &str) -> Option<Arc<KeyAuth>> {
        self.resolve(dir, api_key).map(|(k, _)| k)
    }

    /// Check `signature` = hex HMAC-SHA256(secret of `api_key`, message parts); hex digits
    /// in either case. Answers the key, or why not.
    pub fn verify(
        &self,
        dir: &AccessDirectory,
        api_key: &str,
        parts: &[&[u8]],
        signature: &str,
    ) -> Result<Arc<KeyAuth>, KeyFail> {
        let (key, mac) = self.resolve(dir, api_key).ok_or(KeyFail::UnknownKey)?;
        let mut presented = [0u8; 32];
        hex::decode_to_slice(signature, &mut presented).map_err(|_| KeyFail::BadSignature)?;
        let mac = match &mac {
            MacOf::Owned(m) => m.as_ref().clone(),
            MacOf::Cached(k) => match k.derived.get() {
                Some(d) => d.mac.clone(),
                None => return Err(KeyFail::UnknownKey),
            },
        };
        let expected = hmac_raw(mac, parts);
        if bool::from(expected.ct_eq(&presented)) {
            Ok(key)
        } else {
            Err(KeyFail::BadSignature)
        }
    }
}

/// Where a request's HMAC state comes from.
enum MacOf {
    /// The key entry's cache.
    Cached(Arc<KeyAuth>),
    /// Derived for this request.
    Owned(Box<HmacSha256>),
}

/// Why a key and signature were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFail {
    /// Not a live key of this installation (malformed, unknown, revoked, forged).
    UnknownKey,
    /// The key is live but the signature is not its.
    BadSignature,
}

impl KeyFail {
    /// Its `reason` in `perpx_auth_refusals_total`.
    pub fn reason(self) -> &'static str {
        match self {
            KeyFail::UnknownKey => "unknown_key",
            KeyFail::BadSignature => "bad_signature",
        }
    }
}

fn mac_of(key: &[u8]) -> HmacSha256 {
    // expect: HMAC accepts keys of any length.
    HmacSha256::new_from_slice(key).expect("hmac key")
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
    use crate::engine::access::{AccessEvent, KeyRecord, Permissions};
    use crate::engine::{Ledger, LedgerEvent};

    /// A directory with account 101's primary key and a second key with nonce `[5; 16]`.
    fn directory() -> (Ledger, AccessDirectory) {
        let mut l = Ledger::new(vec![], 8);
        l.apply(
            &LedgerEvent::AccountOpened {
                account: AccountId(101),
            },
            crate::domain::Timestamp(1),
        );
        let k = KeyRecord {
            key_no: 2,
            nonce: Some([5; 16]),
            permissions: Permissions::READ,
            ..KeyRecord::primary(AccountId(101), 1)
        };
        l.apply(
            &LedgerEvent::Access(AccessEvent::KeyCreated(k)),
            crate::domain::Timestamp(2),
        );
        let d = AccessDirectory::new(&l);
        (l, d)
    }

    #[test]
    fn keys_are_derived_and_checked() {
        let (_, dir) = directory();
        let ks = KeyStore::new([7; 32]);
        let (key, secret) = ks.credentials(AccountId(101));
        assert!(key.starts_with("101."));
        assert_eq!(ks.lookup(&dir, &key).map(|k| k.key_no), Some(1));
        assert!(
            ks.lookup(&dir, &key.replace("101.", "102.")).is_none(),
            "a key cannot be moved to another account"
        );
        assert!(
            KeyStore::new([8; 32]).lookup(&dir, &key).is_none(),
            "another installation's key"
        );
        let second = ks.name(AccountId(101), Some([5; 16]));
        assert_eq!(ks.lookup(&dir, &second).map(|k| k.key_no), Some(2));
        assert!(
            ks.lookup(&dir, &ks.name(AccountId(101), Some([6; 16])))
                .is_none(),
            "an unknown nonce is not the primary key"
        );
        let sig = sign(&secret, 5, "GET", "/api/v1/account", b"");
        let msg: [&[u8]; 4] = [b"5", b"GET", b"/api/v1/account", b""];
        assert_eq!(ks.verify(&dir, &key, &msg, &sig).map(|k| k.key_no), Ok(1));
        assert!(ks.verify(&dir, &key, &msg, &sig.to_uppercase()).is_ok());
        let tampered: [&[u8]; 4] = [b"5", b"GET", b"/api/v1/account?x=1", b""];
        assert_eq!(
            ks.verify(&dir, &key, &tampered, &sig).err(),
            Some(KeyFail::BadSignature)
        );
        // The second key signs with its own secret, not the primary's.
        assert_eq!(
            ks.verify(&dir, &second, &msg, &sig).err(),
            Some(KeyFail::BadSignature)
        );
        let sig2 = sign(&ks.secret(&second), 5, "GET", "/api/v1/account", b"");
        assert_eq!(
            ks.verify(&dir, &second, &msg, &sig2).map(|k| k.key_no),
            Ok(2)
        );
    }

    /// The cached key material changes no answer: a cached key still needs a right
    /// signature, another installation's store does not reuse this one's entry, and a
    /// malformed signature is refused.
    #[test]
    fn the_cached_key_material_changes_no_answer() {
        let (_, dir) = directory();
        let (a, b) = (KeyStore::new([1; 32]), KeyStore::new([2; 32]));
        let (key, secret) = a.credentials(AccountId(101));
        let msg: [&[u8]; 4] = [b"9", b"POST", b"/api/v1/x", b"{}"];
        let sig = sign(&secret, 9, "POST", "/api/v1/x", b"{}");
        let flipped = if sig.starts_with('0') { "1" } else { "0" };
        let wrong = format!("{flipped}{}", &sig[1..]);
        for _ in 0..3 {
            assert!(a.verify(&dir, &key, &msg, &sig).is_ok());
            assert_eq!(
                a.verify(&dir, &key, &msg, &wrong).err(),
                Some(KeyFail::BadSignature)
            );
            assert_eq!(
                b.verify(&dir, &key, &msg, &sig).err(),
                Some(KeyFail::UnknownKey),
                "another store's key"
            );
            assert!(a.verify(&dir, &key, &msg, &sig[..62]).is_err(), "too short");
            assert!(
                a.verify(&dir, &key, &msg, &format!("{sig}00")).is_err(),
                "too long"
            );
            assert!(a.verify(&dir, &key, &msg, "zz").is_err(), "not hex");
        }
        // A store with the same key material accepts what the first one cached.
        assert!(KeyStore::new([1; 32])
            .verify(&dir, &key, &msg, &sig)
            .is_ok());
    }

    #[test]
    fn a_revoked_key_is_unknown_at_once() {
        let (l, dir) = directory();
        let ks = KeyStore::new([3; 32]);
        let (key, secret) = ks.credentials(AccountId(101));
        let msg: [&[u8]; 4] = [b"1", b"GET", b"/", b""];
        let sig = sign(&secret, 1, "GET", "/", b"");
        let held = ks.verify(&dir, &key, &msg, &sig).expect("live");
        let rx = dir.revocations();
        dir.observe(
            &LedgerEvent::Access(AccessEvent::KeyRevoked {
                account: AccountId(101),
                key_no: 1,
            }),
            &l,
        );
        assert_eq!(
            ks.verify(&dir, &key, &msg, &sig).err(),
            Some(KeyFail::UnknownKey)
        );
        assert!(
            held.is_revoked(),
            "a session holding the key sees it revoked"
        );
        assert!(rx.has_changed().unwrap_or(false), "watchers are told");
    }
}
