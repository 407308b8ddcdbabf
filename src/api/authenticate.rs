//! Who is asking (docs/API.md "Authentication", "Permissions"; docs/OPERATIONS.md "Access
//! control"): a signed request's API key, checked in one order for both dialects and the
//! WebSocket ([`AppState::check_key`]), and an admin request's token and role.
//!
//! # Order of the checks (a signed request)
//! 1. headers and the timestamp window, 2. the key is live and the signature is its
//!    (`api/auth.rs`), 3. the per-key rate limit, 4. not expired, 5. the client address is
//!    in the key's allow-list, 6. the key has the route's permission (`api/permissions.rs`),
//! 7. a write's signature was not used before (`api/replay.rs`). A request refused at any
//!    step changes nothing and records no signature.
//!
//! Replay protection covers every request that changes something (POST, PUT, PATCH, DELETE)
//! and the WebSocket's `auth`; signed reads (GET) are exempt: replaying one changes nothing,
//! and bots do send identical reads within one millisecond (concurrent polls), which a
//! once-only rule would refuse.

use std::sync::Arc;

use actix_web::{HttpMessage, HttpRequest};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
use super::{auth, permissions, AppState};
use crate::actors::access_directory::KeyAuth;
use crate::domain::AccountId;
use crate::engine::access::{Permissions, Role};

/// Why a genuine key may not make this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRefusal {
    Expired,
    IpNotAllowed,
    PermissionDenied,
    /// The signature was used before inside its window.
    Replayed,
}

impl KeyRefusal {
    /// Its `reason` in `perpx_auth_refusals_total`.
    pub fn reason(self) -> &'static str {
        match self {
            KeyRefusal::Expired => "expired",
            KeyRefusal::IpNotAllowed => "ip_not_allowed",
            KeyRefusal::PermissionDenied => "permission_denied",
            KeyRefusal::Replayed => "replayed",
        }
    }

    /// The native API's error.
    pub fn native(self) -> ApiError {
        match self {
            KeyRefusal::Expired => ApiError::new(401, "KEY_EXPIRED", "this API key has expired"),
            KeyRefusal::IpNotAllowed => ApiError::new(
                403,
                "IP_NOT_ALLOWED",
                "this API key is not allowed from this address (its ip_allowlist)",
            ),
            KeyRefusal::PermissionDenied => ApiError::new(
                403,
                "PERMISSION_DENIED",
                "this API key lacks the permission this route needs",
            ),
            KeyRefusal::Replayed => ApiError::new(
                401,
                "SIGNATURE_REPLAYED",
                "this signature was already used: sign each request anew (with a fresh timestamp)",
            ),
        }
    }
}

/// An admin request's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    /// `bootstrap`, or the token record's name.
    pub name: String,
    /// `None`: the bootstrap token.
    pub token_no: Option<u32>,
    pub role: Role,
}

impl AppState {
    /// Steps 4–7 of the module's order for a key whose signature `sig` (raw bytes) verified,
    /// for a request needing `need`, valid until `until` (ms). `sig: None`: a request the key
    /// alone authenticates (Binance USER_STREAM), which has no signature to replay.
    pub fn check_key(
        &self,
        key: &KeyAuth,
        req: &HttpRequest,
        need: Permissions,
        sig: Option<&[u8]>,
        until: u64,
    ) -> Result<(), KeyRefusal> {
        let now = self.ex.clock.now().0;
        let refused = |r: KeyRefusal| {
            crate::telemetry::health::auth_refused(r.reason());
            Err(r)
        };
        if key.expired(now) {
            return refused(KeyRefusal::Expired);
        }
        if !key.ip_allowlist.is_empty()
            && !key.allows(super::client_ip::client_ip(req, &self.trusted_proxies))
        {
            return refused(KeyRefusal::IpNotAllowed);
        }
        if !key.permissions.contains(need) {
            return refused(KeyRefusal::PermissionDenied);
        }
        // Reads are exempt (see the module docs); the WebSocket's `auth` is not a read.
        let read = req.method() == actix_web::http::Method::GET && req.path() != "/ws";
        let replayed = |sig| !self.replay.first_use(sig, until, now);
        if !read && sig.is_some_and(replayed) {
            return refused(KeyRefusal::Replayed);
        }
        key.used(now);
        Ok(())
    }

    /// Authenticate a signed native request: its key, after every check of the module's
    /// order (the route's permission from [`permissions::TABLE`]).
    pub fn authenticate_key(&self, req: &HttpRequest, body: &[u8]) -> ApiResult<Arc<KeyAuth>> {
        self.limit_ip(req)?;
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let key = header(auth::KEY_HEADER)
            .ok_or_else(|| ApiError::unauthorized("missing X-API-Key header"))?;
        let ts_text = header(auth::TIMESTAMP_HEADER)
            .ok_or_else(|| ApiError::unauthorized("missing X-API-Timestamp header"))?;
        let sig = header(auth::SIGNATURE_HEADER)
            .ok_or_else(|| ApiError::unauthorized("missing X-API-Signature header"))?;
        let ts: u64 = ts_text.parse().map_err(|_| {
            ApiError::unauthorized("X-API-Timestamp must be milliseconds since the epoch")
        })?;
        let now = self.ex.clock.now().0;
        if now.abs_diff(ts) > self.recv_window_ms {
            return Err(ApiError::unauthorized(format!(
                "timestamp {ts} is outside the {} ms window around server time {now}",
                self.recv_window_ms
            )));
        }
        let need = permissions::required(req)
            .ok_or_else(|| ApiError::new(500, "INTERNAL", "this route has no permission entry"))?;
        let target = req
            .uri()
            .path_and_query()
            .map_or(req.path(), |p| p.as_str());
        let parts: [&[u8]; 4] = [
            ts_text.as_bytes(),
            req.method().as_str().as_bytes(),
            target.as_bytes(),
            body,
        ];
        let k = self
            .keys
            .verify(&self.ex.access, key, &parts, sig)
            .map_err(|f| {
                crate::telemetry::health::auth_refused(f.reason());
                ApiError::unauthorized("unknown API key or bad signature")
            })?;
        self.limits.check_key(k.account)?;
        let mut raw = [0u8; 32];
        // The signature verified, so it is 64 hex digits.
        let _ = hex::decode_to_slice(sig, &mut raw);
        self.check_key(&k, req, need, Some(&raw), ts + self.recv_window_ms)
            .map_err(KeyRefusal::native)?;
        Ok(k)
    }

    /// [`AppState::authenticate_key`]'s account.
    pub fn authenticate(&self, req: &HttpRequest, body: &[u8]) -> ApiResult<AccountId> {
        Ok(self.authenticate_key(req, body)?.account)
    }

    /// Check the admin bearer token: `401` without one, `403 FORBIDDEN` for an unknown one or
    /// a `viewer` token on anything but GET. The admin is also left in the request's
    /// extensions for the audit log (`api/audit.rs`).
    pub fn admin(&self, req: &HttpRequest) -> ApiResult<Admin> {
        self.limit_ip(req)?;
        let presented = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if presented.is_empty() {
            return Err(ApiError::new(
                401,
                "UNAUTHORIZED",
                "admin route: send Authorization: Bearer <admin token>",
            ));
        }
        let admin = if auth::admin_ok(&self.admin_token, presented) {
            Admin {
                name: "bootstrap".into(),
                token_no: None,
                role: Role::Operator,
            }
        } else {
            let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
            let t = self.ex.access.token(&hash).ok_or_else(|| {
                ApiError::new(
                    403,
                    "FORBIDDEN",
                    "admin route: unknown or revoked admin token",
                )
            })?;
            t.used(self.ex.clock.now().0);
            Admin {
                name: t.name.clone(),
                token_no: Some(t.token_no),
                role: t.role,
            }
        };
        req.extensions_mut().insert(admin.clone());
        if admin.role == Role::Viewer && req.method() != actix_web::http::Method::GET {
            crate::telemetry::health::auth_refused("admin_forbidden");
            return Err(ApiError::new(
                403,
                "FORBIDDEN",
                "admin route: a viewer token may only read",
            ));
        }
        Ok(admin)
    }
}
