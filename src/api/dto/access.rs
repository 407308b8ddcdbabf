//! Wire types of API keys, admin tokens and the audit log (docs/API.md "API keys", "Admin
//! tokens and audit log").

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::actors::access_directory::AccessDirectory;
use crate::engine::access::{AuditRecord, KeyRecord, NewKey, Permissions, TokenRecord};

use super::super::error::{ApiError, ApiResult};

/// `POST /api/v1/keys` and `POST /api/v1/admin/accounts/{account_id}/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// 1 to 64 characters, no control characters.
    #[schema(min_length = 1, max_length = 64)]
    pub label: String,
    /// A non-empty set of `read`, `trade`, `withdraw` (`withdraw` needs an `ip_allowlist`).
    #[schema(value_type = Vec<PermissionName>, min_items = 1)]
    pub permissions: Vec<String>,
    /// IP addresses or CIDR blocks (at most 30); empty or absent: any address.
    #[serde(default)]
    #[schema(max_items = 30)]
    pub ip_allowlist: Vec<String>,
    /// Milliseconds since the epoch, in the future; absent or null: never expires.
    /// (Read as a JSON number: `1.8e12` and `1800000000000.0` are the integer they denote,
    /// as JSON Schema's `integer` says; a fraction is refused.)
    #[serde(default)]
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 9007199254740991_u64)]
    pub expires_at: Option<serde_json::Number>,
}

impl NewKeyBody {
    /// The core's request (its own checks run there).
    pub fn into_spec(self) -> ApiResult<NewKey> {
        let mut permissions = Permissions::default();
        for p in &self.permissions {
            permissions = permissions.union(Permissions::named(p).ok_or_else(|| {
                ApiError::invalid(format!(
                    "permissions: unknown permission {p:?} (read, trade, withdraw)"
                ))
            })?);
        }
        let expires_at = match &self.expires_at {
            None => None,
            Some(n) => {
                let v = n
                    .as_u64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 2f64.powi(63))
                            .map(|f| f as u64)
                    })
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "expires_at: {n} is not a time in milliseconds (a non-negative integer)"
                        ))
                    })?;
                super::safe_integer(Some(v), "expires_at")?
            }
        };
        Ok(NewKey {
            expires_at,
            label: self.label,
            permissions,
            ip_allowlist: self.ip_allowlist,
        })
    }
}

/// An API key (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyDto {
    /// The key's number within its account.
    pub key_id: u32,
    pub account_id: u64,
    /// The key's public name, sent as `X-API-Key` / `X-MBX-APIKEY`.
    pub api_key: String,
    pub label: String,
    pub permissions: Vec<&'static str>,
    pub ip_allowlist: Vec<String>,
    pub expires_at: Option<u64>,
    /// 0 for a primary key made before keys were records.
    pub created_at: u64,
    /// Last successful use since the server started (not persisted).
    pub last_used: Option<u64>,
    /// The key made with the account.
    pub primary: bool,
}

impl KeyDto {
    pub fn new(k: &KeyRecord, api_key: String, dir: &AccessDirectory) -> KeyDto {
        KeyDto {
            key_id: k.key_no,
            account_id: k.account.0,
            api_key,
            label: k.label.clone(),
            permissions: k.permissions.names(),
            ip_allowlist: k.ip_allowlist.clone(),
            expires_at: k.expires_at,
            created_at: k.created_at,
            last_used: dir.key(k.account, k.key_no).and_then(|a| a.last_used()),
            primary: k.nonce.is_none(),
        }
    }
}

/// A new key with its secret: shown once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    #[serde(flatten)]
    pub key: KeyDto,
    /// 64 hex characters: sign with it; it is not shown again.
    pub api_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyRevoked {
    pub key_id: u32,
    pub revoked: bool,
}

/// `POST /api/v1/admin/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// 1 to 64 characters, no control characters; names the token in the audit log.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// `operator` (everything) or `viewer` (GET routes only).
    #[schema(value_type = RoleName)]
    pub role: String,
}

/// A permission's wire name.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: the wire value is read as a string
pub enum PermissionName {
    Read,
    Trade,
    Withdraw,
}

/// An admin role's wire name.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only
pub enum RoleName {
    Operator,
    Viewer,
}

/// An admin token (never the token itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    pub token_id: u32,
    pub name: String,
    pub role: &'static str,
    pub created_at: u64,
    pub created_by: String,
    pub last_used: Option<u64>,
}

impl TokenDto {
    pub fn new(t: &TokenRecord, dir: &AccessDirectory) -> TokenDto {
        TokenDto {
            token_id: t.token_no,
            name: t.name.clone(),
            role: t.role.name(),
            created_at: t.created_at,
            created_by: t.created_by.clone(),
            last_used: dir.token_no(t.token_no).and_then(|a| a.last_used()),
        }
    }
}

/// A new admin token: shown once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub info: TokenDto,
    /// Send as `Authorization: Bearer <token>`; it is not shown again.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenRevoked {
    pub token_id: u32,
    pub revoked: bool,
}

/// Who the presented admin token is.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub name: String,
    pub role: &'static str,
    /// `null`: the bootstrap token.
    pub token_id: Option<u32>,
}

/// One admin action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditDto {
    pub id: u64,
    pub time: u64,
    /// The acting token's name (`-`: no valid token).
    pub actor: String,
    pub token_id: Option<u32>,
    pub ip: String,
    pub method: String,
    pub path: String,
    /// The request body (at most 512 characters).
    pub body: String,
    pub status: u16,
    /// The error code of a refused request.
    pub code: Option<String>,
}

impl From<AuditRecord> for AuditDto {
    fn from(r: AuditRecord) -> AuditDto {
        AuditDto {
            id: r.id,
            time: r.time,
            actor: r.actor,
            token_id: r.token_no,
            ip: r.ip,
            method: r.method,
            path: r.path,
            body: r.body,
            status: r.status,
            code: r.code,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub records: Vec<AuditDto>,
    /// Pass as `before` for the next (older) page; `null`: this was the last.
    pub next_before: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Records with ids below this (default: the newest).
    pub before: Option<u64>,
    /// 1 to 1000 (default 100).
    pub limit: Option<usize>,
}
