//! What the derived document cannot say by itself, added so that it describes exactly what the
//! server enforces: the request bodies (including which fields each order type takes), every
//! parameter's values (the configured market symbols, enums, ranges), every status each
//! operation can answer with the error body and its codes, and the links from a created
//! resource to the operations on it.
//!
//! # Invariants
//! - A request the document allows is one the server parses; a request it forbids is refused
//!   with a 4xx. Checked from both sides by schemathesis (`.ci/schemathesis.sh`); the decimal
//!   patterns are the server's own grammar ([`crate::domain::decimal_text`]).
//! - Every status an operation answers is listed on it, with `ErrorBody` for every error.

use serde_json::{json, Map, Value};

use crate::api::dto::MAX_SAFE_INTEGER;

use crate::domain::{IndexSource, MarketSpec};

/// Refine `doc` (the derived document as JSON) for these markets and money scale.
pub fn refine(doc: &mut Value, specs: &[MarketSpec], money_scale: u32) {
    let schemas = &mut doc["components"]["schemas"];
    for (name, schema) in super::requests::request_schemas(specs, money_scale) {
        schemas[name] = schema;
    }
    // Response enums the derive writes as plain strings.
    for name in ["PositionDto", "MarginModeSet"] {
        if let Some(mode) = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut("margin_mode"))
        {
            mode["enum"] = json!(["cross", "isolated"]);
        }
    }
    let sides = json!(["both", "long", "short"]);
    let modes = json!(["one_way", "hedge"]);
    for (name, field, values) in [
        ("PositionDto", "position_side", &sides),
        ("OrderDto", "position_side", &sides),
        ("FillDto", "position_side", &sides),
        ("IsolatedMarginSet", "position_side", &sides),
        ("AccountDto", "position_mode", &modes),
        ("PositionModeSet", "position_mode", &modes),
    ] {
        if let Some(p) = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(field))
        {
            p["enum"] = values.clone();
        }
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            parameters(path, op, specs);
            responses(path, method, op);
            if path == "/api/v1/admin/accounts" {
                // The body is optional: no body, `{}` and `{"label": ...}` all create an account.
                op["requestBody"]["required"] = json!(false);
            }
        }
    }
    links(doc);
}

/// `client_order_id` (see [`crate::api::dto::valid_client_order_id`]).
pub(super) const CLIENT_ORDER_ID: &str = "^[A-Za-z0-9._:/-]{1,36}$";

/// Enums, ranges and patterns of the parameters, by name.
fn parameters(path: &str, op: &mut Value, specs: &[MarketSpec]) {
    // `get_mut`, not `op["parameters"]`: indexing a missing key mutably would insert a null.
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for p in params {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let schema = match name.as_str() {
            "symbol" => {
                // Index prices are pushed only to markets that take them.
                let pushable = path.ends_with("/index-price");
                let symbols: Vec<&str> = specs
                    .iter()
                    .filter(|s| !pushable || s.index_source != IndexSource::BookEma)
                    .map(|s| s.symbol.as_str())
                    .collect();
                let all: Vec<&str> = specs.iter().map(|s| s.symbol.as_str()).collect();
                json!({"type": "string", "enum": if symbols.is_empty() { all } else { symbols }})
            }
            "order_id" | "account_id" => {
                json!({"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER})
            }
            "client_order_id" => json!({"type": "string", "pattern": CLIENT_ORDER_ID}),
            "interval" => {
                json!({"type": "string", "enum": ["1m", "5m", "15m", "1h", "4h", "1d"], "default": "1m"})
            }
            "status" => {
                json!({"type": "string", "enum": ["open", "closed", "all"], "default": "open"})
            }
            "type" => {
                let kinds: Vec<&str> = crate::engine::income::IncomeKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect();
                json!({"type": "string", "enum": kinds})
            }
            "limit" => json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
            "depth" => json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}),
            "before" | "start_time" | "end_time" => {
                json!({"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER})
            }
            _ => continue,
        };
        p["schema"] = schema;
    }
}

/// The codes behind each generic status, for the descriptions.
fn generic(status: &str, path: &str) -> &'static str {
    match status {
        "400" => "INVALID_REQUEST: a parameter or the body does not match this document (malformed JSON, unknown or missing field, wrong type, value out of range), or a more specific code listed on the operation",
        "401" => {
            if path.starts_with("/api/v1/admin") {
                "UNAUTHORIZED: no `Authorization: Bearer <admin token>` header"
            } else {
                "UNAUTHORIZED: missing X-API-Key, X-API-Timestamp or X-API-Signature; unknown or revoked key or bad signature; timestamp outside recv_window. KEY_EXPIRED: the key's expires_at has passed. SIGNATURE_REPLAYED: this write's signature was already used"
            }
        }
        "403" => {
            if path.starts_with("/api/v1/admin") {
                "FORBIDDEN: unknown or revoked admin token, or a viewer token on a write"
            } else {
                "PERMISSION_DENIED: the key lacks the permission this route needs (docs/API.md \"Permissions\"). IP_NOT_ALLOWED: the client address is outside the key's ip_allowlist"
            }
        }
        "404" => "UNKNOWN_MARKET, ORDER_NOT_FOUND (also another account's order) or ACCOUNT_NOT_FOUND",
        "413" => "PAYLOAD_TOO_LARGE: body above 64 KiB",
        "429" => "RATE_LIMITED: per-address or per-key request rate exceeded",
        "503" => "OVERLOADED: the engine's queues are full; nothing was changed, retry later. With replication (docs/REPLICATION.md) also NOT_PRIMARY: this node is a follower (writes), or a former primary that was replaced (every request); `error.primary` and the X-Perpx-Primary header name the primary's base URL when known",
        _ => "",
    }
}

/// Every status the operation can answer, each with `ErrorBody`.
fn responses(path: &str, method: &str, op: &mut Value) {
    let secured_by = op["security"][0]
        .as_object()
        .and_then(|o| o.keys().next().cloned());
    let has_query = op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let has_body = op.get("requestBody").is_some();
    let has_lookup = path.contains('{')
        || op["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "symbol"));
    let is_doc = path == "/api/v1/openapi.json";
    let mut statuses: Vec<&str> = vec![];
    if has_query || has_body {
        statuses.push("400");
    }
    match secured_by.as_deref() {
        Some("api_key") => statuses.extend(["401", "403"]),
        Some("admin_token") => statuses.extend(["401", "403"]),
        _ => {}
    }
    if has_lookup {
        statuses.push("404");
    }
    if has_body {
        statuses.push("413");
    }
    if !is_doc {
        statuses.push("429");
    }
    if !is_doc && path != "/api/v1/health" {
        statuses.push("503");
    }
    let _ = method;
    let Some(responses) = op["responses"].as_object_mut() else {
        return;
    };
    for status in statuses {
        let entry = responses
            .entry(status.to_owned())
            .or_insert_with(|| json!({}));
        add_error(entry, generic(status, path));
    }
    // Operation-specific entries (409, 422, specific 400/404) were declared on the handlers:
    // give them the error body and a description too.
    for (status, entry) in responses.iter_mut() {
        if status.starts_with('4') || status.starts_with('5') {
            add_error(entry, generic(status, path));
        }
    }
}

fn add_error(entry: &mut Value, description: &str) {
    let Some(e) = entry.as_object_mut() else {
        return;
    };
    let current = e
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if current.is_empty() {
        e.insert("description".into(), json!(description));
    }
    e.insert(
        "content".into(),
        json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}),
    );
}

/// From a created order to the operations on it, and from a created account to its deposits
/// (clients and stateful testers follow these).
fn links(doc: &mut Value) {
    let order = |operation: &str| {
        json!({
            "operationId": operation,
            "parameters": {"symbol": "$request.path.symbol", "order_id": "$response.body#/order_id"},
        })
    };
    let mut placed = Map::new();
    placed.insert("GetOrder".into(), order("get"));
    placed.insert("AmendOrder".into(), order("amend"));
    placed.insert("CancelOrder".into(), order("cancel"));
    let place = &mut doc["paths"]["/api/v1/markets/{symbol}/orders"]["post"]["responses"];
    for status in ["200", "201"] {
        if place.get(status).is_some() {
            place[status]["links"] = Value::Object(placed.clone());
        }
    }
    let created = &mut doc["paths"]["/api/v1/admin/accounts"]["post"]["responses"]["201"];
    if created.is_object() {
        created["links"] = json!({"Deposit": {
            "operationId": "deposit",
            "parameters": {"account_id": "$response.body#/account_id"},
        }});
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dto::valid_client_order_id;

    #[test]
    fn the_client_order_id_pattern_is_the_servers_rule() {
        let re = regex::Regex::new(CLIENT_ORDER_ID).unwrap();
        for s in [
            "a",
            "A-1._:/",
            "x".repeat(36).as_str(),
            "",
            "x".repeat(37).as_str(),
            "a b",
            "é",
            "a\n",
        ] {
            assert_eq!(re.is_match(s), valid_client_order_id(s), "{s:?}");
        }
    }
}
