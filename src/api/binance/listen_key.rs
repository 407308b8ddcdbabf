//! Listen keys for the user data stream (USER_STREAM: the API key alone):
//! `POST /fapi/v1/listenKey` returns the account's active key (extended) or a new one,
//! `PUT` extends it, `DELETE` closes it.
//!
//! # Invariants
//! - At most one key per account; a key is 64 hex characters from the OS random source.
//! - A key is valid for [`VALIDITY`] after its last POST or PUT (server clock); after that,
//!   or after DELETE, streams on it get `listenKeyExpired` and end, and PUT is -1125.
//! - Keys live in memory: a restart ends every stream anyway, and clients ask for a new key.
//! - A listen key remembers every API key that opened or extended it; revoking any of them
//!   closes it (its streams end within the revocation's notice, `ws/user.rs`): a listen key
//!   is a bearer credential the revoked key may have handed out.

use std::sync::Mutex;

use actix_web::{web, HttpRequest, HttpResponse};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::errors::{BnError, BnResult};
use super::{auth, ok};
use crate::api::State;
use crate::domain::AccountId;

/// How long a key lives without a keep-alive.
pub const VALIDITY_MS: u64 = 60 * 60 * 1000;

#[derive(Clone, Debug)]
struct Entry {
    account: AccountId,
    expires: u64,
    /// The API keys (numbers of `account`'s keys) that opened or extended it.
    by: Vec<u32>,
}

#[derive(Default)]
pub struct Store {
    keys: Mutex<FxHashMap<String, Entry>>,
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<String, Entry>> {
        // A poisoned lock only means a panic elsewhere, which stops the process (fail fast).
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key_of(map: &FxHashMap<String, Entry>, account: AccountId) -> Option<String> {
        map.iter()
            .find(|(_, e)| e.account == account)
            .map(|(k, _)| k.clone())
    }

    /// POST: the account's key, extended, or a new one (an error only if the OS random source
    /// fails while making a new one).
    pub fn open(&self, account: AccountId, by: u32, now: u64) -> std::io::Result<String> {
        let mut map = self.lock();
        map.retain(|_, e| e.expires > now);
        let key = match Self::key_of(&map, account) {
            Some(k) => k,
            None => hex::encode(crate::api::auth::random_bytes()?),
        };
        let e = map.entry(key.clone()).or_insert(Entry {
            account,
            expires: 0,
            by: Vec::new(),
        });
        e.expires = now + VALIDITY_MS;
        if !e.by.contains(&by) {
            e.by.push(by);
        }
        Ok(key)
    }

    /// PUT: extend the account's key (-1125 if it has none).
    pub fn keep_alive(&self, account: AccountId, by: u32, now: u64) -> BnResult<String> {
        let mut map = self.lock();
        map.retain(|_, e| e.expires > now);
        let key = Self::key_of(&map, account).ok_or_else(unknown)?;
        if let Some(e) = map.get_mut(&key) {
            e.expires = now + VALIDITY_MS;
            if !e.by.contains(&by) {
                e.by.push(by);
            }
        }
        Ok(key)
    }

    /// API key `key_no` of `account` was revoked: close every listen key it touched.
    pub fn revoked(&self, account: AccountId, key_no: u32) {
        self.lock()
            .retain(|_, e| !(e.account == account && e.by.contains(&key_no)));
    }

    /// Close every listen key touched by an API key that `live` says is gone.
    pub fn drop_revoked(&self, live: impl Fn(AccountId, u32) -> bool) {
        self.lock()
            .retain(|_, e| e.by.iter().all(|&no| live(e.account, no)));
    }

    /// DELETE: close the account's key.
    pub fn close(&self, account: AccountId) {
        self.lock().retain(|_, e| e.account != account);
    }

    /// The account of a live key.
    pub fn account(&self, key: &str, now: u64) -> Option<AccountId> {
        self.lock()
            .get(key)
            .filter(|e| e.expires > now)
            .map(|e| e.account)
    }
}

fn unknown() -> BnError {
    BnError::bad(-1125, "This listenKey does not exist.")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::fapi_resource!("/v1/listenKey")
            .post(open)
            .put(keep_alive)
            .delete(close),
    );
}

async fn open(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let k = auth::user_stream_key(&st, &req)?;
    let key = st
        .binance
        .listen_keys
        .open(k.account, k.key_no, st.ex.clock.now().0)
        .map_err(|e| {
            tracing::error!(error = %e, "listen key not created");
            BnError::new(
                500,
                -1001,
                "Internal error; unable to process your request.",
            )
        })?;
    ok(&json!({ "listenKey": key }))
}

async fn keep_alive(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let k = auth::user_stream_key(&st, &req)?;
    let key = st
        .binance
        .listen_keys
        .keep_alive(k.account, k.key_no, st.ex.clock.now().0)?;
    ok(&json!({ "listenKey": key }))
}

async fn close(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let account = auth::user_stream(&st, &req)?;
    st.binance.listen_keys.close(account);
    ok(&json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_per_account_with_expiry() {
        let s = Store::default();
        let a = AccountId(100);
        let k = s.open(a, 1, 0).unwrap();
        assert_eq!(k.len(), 64);
        assert_eq!(
            s.open(a, 1, 10).unwrap(),
            k,
            "the active key is returned again"
        );
        assert_eq!(
            s.account(&k, VALIDITY_MS),
            Some(a),
            "extended by the second POST"
        );
        assert_eq!(s.account(&k, VALIDITY_MS + 10), None);
        assert_eq!(
            s.keep_alive(a, 1, VALIDITY_MS + 10).unwrap_err().code,
            -1125
        );
        let k2 = s.open(a, 1, VALIDITY_MS + 20).unwrap();
        assert_ne!(k2, k);
        s.close(a);
        assert_eq!(s.account(&k2, VALIDITY_MS + 21), None);
    }

    #[test]
    fn revoking_any_key_that_touched_it_closes_it() {
        let s = Store::default();
        let (a, b) = (AccountId(100), AccountId(101));
        let k = s.open(a, 2, 0).unwrap();
        s.keep_alive(a, 3, 1).unwrap();
        let kb = s.open(b, 2, 0).unwrap();
        s.revoked(a, 4);
        assert_eq!(
            s.account(&k, 2),
            Some(a),
            "an untouched key's revocation changes nothing"
        );
        s.revoked(a, 3);
        assert_eq!(
            s.account(&k, 2),
            None,
            "the key that extended it was revoked"
        );
        assert_eq!(
            s.account(&kb, 2),
            Some(b),
            "another account's listen key stays"
        );
    }
}
