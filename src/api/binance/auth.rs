//! Binance request security on the native key pairs (`api/auth.rs`): the `X-MBX-APIKEY`
//! header names the account, and signed requests (TRADE, USER_DATA) carry
//! `signature = hex HMAC-SHA256(api_secret, totalParams)`.
//!
//! # Rules (Binance USDⓈ-M "General info")
//! - `totalParams` is the raw query string followed directly (no `&`) by the raw form body,
//!   without the `signature` parameter, which must be the **last** parameter: of the body when
//!   there is one, else of the query string. The hex is case-insensitive.
//! - `timestamp` (ms) is required; `recvWindow` is optional (default 5,000, at most 60,000).
//!   The request is accepted iff `timestamp < now + 1000` and `now − timestamp ≤ recvWindow`,
//!   else -1021.
//! - Missing key: -2014 (401); unknown, revoked or expired key, an address outside the key's
//!   allow-list, a key without the route's permission (`api/permissions.rs`): -2015 (401);
//!   bad signature: -1022; a signature used before inside its window: -1021 (400).
//! - USER_STREAM endpoints (listen keys) need the key only.
//! - Limits: the per-IP bucket before anything, the per-key bucket after authentication,
//!   both answering 429 / -1003; then an order route counts on the account's order limits
//!   (429 / -1015, `super::limits`). The request weight is counted before the handler.

use actix_web::HttpRequest;

use std::sync::Arc;

use super::errors::{BnError, BnResult};
use super::params::Params;
use crate::actors::access_directory::KeyAuth;
use crate::api::auth::KeyFail;
use crate::api::authenticate::KeyRefusal;
use crate::api::State;
use crate::domain::AccountId;
use crate::engine::access::Permissions;

/// The API key header.
pub const KEY_HEADER: &str = "X-MBX-APIKEY";
/// `recvWindow` when the request has none.
pub const DEFAULT_RECV_WINDOW: u64 = 5_000;
/// The largest `recvWindow` accepted.
pub const MAX_RECV_WINDOW: u64 = 60_000;
/// How far ahead of the server's clock a timestamp may be.
pub const AHEAD_MS: u64 = 1_000;

/// The per-IP limit (every Binance route, public ones included).
pub fn limit_ip(st: &State, req: &HttpRequest) -> BnResult<()> {
    st.limit_ip(req).map_err(|_| BnError::rate_limited())
}

fn invalid_key() -> BnError {
    BnError::new(
        401,
        -2015,
        "Invalid API-key, IP, or permissions for action.",
    )
}

/// A refusal of a genuine key in Binance's words: every reason is -2015 (what Binance answers
/// for an IP outside the key's list or a missing permission) but a replay, which is a
/// timestamp problem (-1021, ccxt's `InvalidNonce`: sign anew).
fn refused(r: KeyRefusal) -> BnError {
    match r {
        KeyRefusal::Replayed => BnError::bad(
            -1021,
            "Timestamp for this request was already used (a replayed signature); sign a new request.",
        ),
        _ => invalid_key(),
    }
}

/// The route's permission (a signed route missing from the table is an internal error:
/// fail closed).
fn need(req: &HttpRequest) -> BnResult<Permissions> {
    crate::api::permissions::required(req).ok_or_else(|| {
        BnError::new(
            500,
            -1001,
            "Internal error; unable to process your request.",
        )
    })
}

/// USER_STREAM (and MARKET_DATA with a key): the API key alone names the account; it must be
/// live, unexpired, allowed from this address and have the route's permission.
pub fn user_stream(st: &State, req: &HttpRequest) -> BnResult<AccountId> {
    Ok(user_stream_key(st, req)?.account)
}

/// [`user_stream`]'s key.
pub fn user_stream_key(st: &State, req: &HttpRequest) -> BnResult<Arc<KeyAuth>> {
    limit_ip(st, req)?;
    let key = req
        .headers()
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| BnError::new(401, -2014, "API-key format invalid."))?;
    let k = st.keys.lookup(&st.ex.access, key).ok_or_else(|| {
        crate::telemetry::health::auth_refused("unknown_key");
        invalid_key()
    })?;
    st.limits_key(k.account)
        .map_err(|_| BnError::rate_limited())?;
    st.check_key(&k, req, need(req)?, None, 0)
        .map_err(refused)?;
    Ok(k)
}

/// Split a trailing `signature=<hex>` parameter off `raw`: `(raw without it, hex)`.
pub fn split_signature(raw: &str) -> Option<(&str, &str)> {
    let (before, sig) = match raw.rfind("&signature=") {
        Some(i) => (&raw[..i], &raw[i + "&signature=".len()..]),
        None => ("", raw.strip_prefix("signature=")?),
    };
    (!sig.contains('&')).then_some((before, sig))
}

/// The signed payload and the signature, per the rules above.
fn signed_payload<'a>(query: &'a str, body: &'a str) -> BnResult<(String, &'a str)> {
    let invalid = || BnError::bad(-1022, "Signature for this request is not valid.");
    if body.is_empty() {
        let (q, sig) = split_signature(query).ok_or_else(|| {
            if query.contains("signature=") {
                invalid()
            } else {
                BnError::mandatory("signature")
            }
        })?;
        return Ok((q.to_owned(), sig));
    }
    match split_signature(body) {
        Some((b, sig)) => Ok((format!("{query}{b}"), sig)),
        // A signature in the query with a body after it is not the last parameter.
        None if query.contains("signature=") || body.contains("signature=") => Err(invalid()),
        None => Err(BnError::mandatory("signature")),
    }
}

/// Check `timestamp` and `recvWindow` against `now` (ms); the end of the request's window.
pub fn check_time(p: &mut Params, now: u64) -> BnResult<u64> {
    let ts = p
        .u64("timestamp")?
        .ok_or_else(|| BnError::mandatory("timestamp"))?;
    let window = p.u64("recvWindow")?.unwrap_or(DEFAULT_RECV_WINDOW);
    if window > MAX_RECV_WINDOW {
        return Err(BnError::bad(
            -1131,
            format!("recvWindow must be less than {MAX_RECV_WINDOW}."),
        ));
    }
    if ts >= now + AHEAD_MS {
        return Err(BnError::bad(
            -1021,
            "Timestamp for this request was 1000ms ahead of the server's time.",
        ));
    }
    if now.saturating_sub(ts) > window {
        return Err(BnError::bad(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(ts + window)
}

/// TRADE / USER_DATA: key, timestamp window and signature. Returns the account and the
/// request's parameters (authentication's own are marked read).
pub fn signed(st: &State, req: &HttpRequest, body: &[u8]) -> BnResult<(AccountId, Params)> {
    limit_ip(st, req)?;
    let key = req
        .headers()
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| BnError::new(401, -2014, "API-key format invalid."))?;
    let body_text =
        std::str::from_utf8(body).map_err(|_| BnError::malformed("body", "not UTF-8"))?;
    let query = req.query_string();
    let mut p = Params::parse(query, body)?;
    let until = check_time(&mut p, st.ex.clock.now().0)?;
    let (payload, sig) = signed_payload(query, body_text)?;
    let need = need(req)?;
    let k = match st
        .keys
        .verify(&st.ex.access, key, &[payload.as_bytes()], sig)
    {
        Ok(k) => k,
        Err(KeyFail::UnknownKey) => return Err(invalid_key()),
        Err(KeyFail::BadSignature) => {
            return Err(BnError::bad(
                -1022,
                "Signature for this request is not valid.",
            ))
        }
    };
    p.skip(&["signature"]);
    st.limits_key(k.account)
        .map_err(|_| BnError::rate_limited())?;
    let mut raw = [0u8; 32];
    // The signature verified, so it is 64 hex digits.
    let _ = hex::decode_to_slice(sig, &mut raw);
    st.check_key(&k, req, need, Some(&raw), until)
        .map_err(refused)?;
    super::limits::count_order(st, req, k.account)?;
    Ok((k.account, p))
}

/// Sign like a client: hex HMAC-SHA256(secret, query + body).
pub fn sign(secret: &str, query: &str, body: &str) -> String {
    crate::api::auth::hmac_hex(secret.as_bytes(), &[query.as_bytes(), body.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_must_be_last() {
        assert_eq!(split_signature("a=1&signature=ab"), Some(("a=1", "ab")));
        assert_eq!(split_signature("signature=ab"), Some(("", "ab")));
        assert_eq!(split_signature("signature=ab&a=1"), None);
        assert_eq!(split_signature("a=1"), None);
        let (p, s) = signed_payload("symbol=X", "q=1&signature=ff").unwrap();
        assert_eq!((p.as_str(), s), ("symbol=Xq=1", "ff"));
        assert_eq!(
            signed_payload("symbol=X&signature=ff", "q=1")
                .unwrap_err()
                .code,
            -1022
        );
        assert_eq!(signed_payload("symbol=X", "").unwrap_err().code, -1102);
    }

    #[test]
    fn time_window() {
        let check = |q: &str, now| check_time(&mut Params::parse(q, b"").unwrap(), now);
        assert!(check("timestamp=10000", 15_000).is_ok());
        assert_eq!(check("timestamp=10000", 15_001).unwrap_err().code, -1021);
        assert!(check("timestamp=10000&recvWindow=60000", 70_000).is_ok());
        assert_eq!(
            check("timestamp=10000&recvWindow=60001", 10_000)
                .unwrap_err()
                .code,
            -1131
        );
        assert!(check("timestamp=10999", 10_000).is_ok());
        assert_eq!(check("timestamp=11000", 10_000).unwrap_err().code, -1021);
        assert_eq!(check("recvWindow=1", 10_000).unwrap_err().code, -1102);
    }
}
