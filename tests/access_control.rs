//! Access control over the real binary (docs/API.md "API keys", "Permissions"; docs/OPERATIONS.md
//! "Access control"): revocation (next request, WebSocket sessions and listen keys), read-only
//! keys, expiry, IP allow-lists behind a trusted proxy, replayed signatures, admin roles and
//! the audit log, persistence across a restart, and every signed route × every permission set
//! against the one permission table.

#[path = "common/live.rs"]
mod live;

use std::time::{Duration, Instant};

use actix_http::ws::Frame;
use futures_util::{SinkExt, StreamExt};
use live::*;
use serde_json::{json, Value};

const SYMBOL: &str = "BTC-PERP";
const BN_SYMBOL: &str = "BTCUSDT";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A fresh timestamp per request (one ms later each, up to 4 s back, cycling): distinct
/// requests carry distinct signatures, as a real client's do.
fn ts() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    now_ms() - 4_000 + N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4_000
}

struct Node {
    base: String,
    port: u16,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped configuration with 127.0.0.1 as a trusted proxy (so `X-Forwarded-For` from
/// the test names the client address).
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/markets.toml"))
        .unwrap()
        .replacen(
            "[server]",
            "[server]\ntrusted_proxies = [\"127.0.0.1\"]\nrate_limit_per_key = 0\nrate_limit_per_ip = 0\nbinance_weight_per_minute = 0\nbinance_orders_per_10s = 0\nbinance_orders_per_minute = 0",
            1,
        );
    let path = dir.join("perpx.toml");
    std::fs::write(&path, shipped).unwrap();
    path
}

async fn start(offset: u16) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let port = 19_400 + offset * 100 + (std::process::id() % 90) as u16;
    let child = spawn_perpx(&config(dir.path()), dir.path(), port);
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base, 60).await;
    Node {
        base,
        port,
        child,
        dir,
    }
}

/// A signed native request with the given extra headers; status and JSON body.
async fn signed(
    base: &str,
    a: &Acct,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let t = ts();
    signed_at(base, a, method, path, body, headers, t).await
}

async fn signed_at(
    base: &str,
    a: &Acct,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
    t: u64,
) -> (u16, Value) {
    let sig = perpx::api::auth::sign(&a.secret, t, method, path, body.as_bytes());
    let mut r = client()
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("X-API-Key", a.key.as_str()))
        .insert_header(("X-API-Timestamp", t.to_string()))
        .insert_header(("X-API-Signature", sig));
    for h in headers {
        r = r.insert_header(*h);
    }
    let mut resp = r.send_body(body.to_owned()).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(1 << 24).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A signed Binance request: `params` + timestamp + signature in the query.
async fn binance(base: &str, a: &Acct, method: &str, path: &str, params: &str) -> (u16, Value) {
    let p = if params.is_empty() {
        format!("timestamp={}", ts())
    } else {
        format!("{params}&timestamp={}", ts())
    };
    binance_raw(base, a, method, path, &p).await
}

async fn binance_raw(base: &str, a: &Acct, method: &str, path: &str, p: &str) -> (u16, Value) {
    let sig = perpx::api::binance::auth::sign(&a.secret, p, "");
    let mut resp = client()
        .request(
            method.parse().unwrap(),
            format!("{base}{path}?{p}&signature={sig}"),
        )
        .insert_header(("X-MBX-APIKEY", a.key.as_str()))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(1 << 24).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// An admin request with `token`.
async fn admin(base: &str, token: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let mut resp = client()
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_body(body.to_owned())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(1 << 24).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A new key of `owner` with `body`; its credentials and id.
async fn new_key(base: &str, owner: &Acct, body: Value) -> (Acct, u64) {
    let (s, k) = signed(base, owner, "POST", "/api/v1/keys", &body.to_string(), &[]).await;
    assert_eq!(s, 201, "{k}");
    assert_eq!(k["api_secret"].as_str().unwrap().len(), 64);
    (
        Acct {
            key: k["api_key"].as_str().unwrap().into(),
            secret: k["api_secret"].as_str().unwrap().into(),
        },
        k["key_id"].as_u64().unwrap(),
    )
}

fn order_body() -> String {
    json!({"side":"buy","type":"limit","quantity":"0.01","price":"40000"}).to_string()
}

async fn open_orders(base: &str, a: &Acct) -> usize {
    let (s, v) = signed(
        base,
        a,
        "GET",
        &format!("/api/v1/markets/{SYMBOL}/orders"),
        "",
        &[],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v.as_array().unwrap().len()
}

async fn wallet(base: &str, a: &Acct) -> String {
    let (s, v) = signed(base, a, "GET", "/api/v1/account", "", &[]).await;
    assert_eq!(s, 200, "{v}");
    v["wallet_balance"].as_str().unwrap().to_owned()
}

type Conn = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// The next close frame's code within `within` (other frames skipped).
async fn closed_within(conn: &mut Conn, within: Duration) -> Option<u16> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, conn.next()).await {
            Ok(Some(Ok(Frame::Close(r)))) => return Some(r.map_or(0, |r| u16::from(r.code))),
            Ok(Some(Ok(_))) => {}
            Ok(_) => return Some(0),
            Err(_) => return None,
        }
    }
}

#[actix_web::test]
async fn a_revoked_key_is_refused_at_once_and_its_sessions_close_within_a_second() {
    let n = start(0).await;
    let base = &n.base;
    let owner = accounts(base, 1).await.remove(0);
    let (k, id) = new_key(
        base,
        &owner,
        json!({"label":"bot","permissions":["read","trade"]}),
    )
    .await;
    assert_eq!(wallet(base, &k).await, "1000000");
    // A native private session authenticated with the key.
    let (_, mut native) = awc::Client::new()
        .ws(format!("ws://127.0.0.1:{}/ws", n.port))
        .connect()
        .await
        .unwrap();
    let t = ts();
    let sig = perpx::api::auth::sign(&k.secret, t, "GET", "/ws", b"");
    let auth = json!({"op":"auth","api_key":k.key,"timestamp":t,"signature":sig});
    native
        .send(awc::ws::Message::Text(auth.to_string().into()))
        .await
        .unwrap();
    let sub = json!({"op":"subscribe","channel":"orders"});
    native
        .send(awc::ws::Message::Text(sub.to_string().into()))
        .await
        .unwrap();
    let mut saw = Vec::new();
    while saw.len() < 2 {
        if let Some(Ok(Frame::Text(t))) = native.next().await {
            saw.push(serde_json::from_slice::<Value>(&t).unwrap()["type"].clone());
        }
    }
    assert_eq!(saw, [json!("authenticated"), json!("subscribed")]);
    // The replay of the auth message on another connection (once the first was accepted) is
    // refused.
    let (_, mut other) = awc::Client::new()
        .ws(format!("ws://127.0.0.1:{}/ws", n.port))
        .connect()
        .await
        .unwrap();
    other
        .send(awc::ws::Message::Text(auth.to_string().into()))
        .await
        .unwrap();
    let v = loop {
        match other.next().await {
            Some(Ok(Frame::Text(t))) => break serde_json::from_slice::<Value>(&t).unwrap(),
            Some(Ok(_)) => {}
            other => panic!("no answer: {other:?}"),
        }
    };
    assert_eq!(v["code"], "SIGNATURE_REPLAYED", "{v}");
    // A Binance user data stream on a listen key the key opened.
    let (s, lk) = binance_raw(base, &k, "POST", "/fapi/v1/listenKey", "").await;
    assert_eq!(s, 200, "{lk}");
    let listen_key = lk["listenKey"].as_str().unwrap().to_owned();
    let (_, mut stream) = awc::Client::new()
        .ws(format!("ws://127.0.0.1:{}/ws/{listen_key}", n.port))
        .connect()
        .await
        .unwrap();
    // Revoke it with the primary key.
    let t0 = Instant::now();
    let (s, v) = signed(
        base,
        &owner,
        "DELETE",
        &format!("/api/v1/keys/{id}"),
        "",
        &[],
    )
    .await;
    assert_eq!((s, &v["revoked"]), (200, &json!(true)), "{v}");
    let (native_close, stream_close) = futures_util::join!(
        closed_within(&mut native, Duration::from_secs(1)),
        closed_within(&mut stream, Duration::from_secs(1)),
    );
    eprintln!(
        "sessions closed {:?} after the revocation was sent",
        t0.elapsed()
    );
    assert_eq!(
        native_close,
        Some(1008),
        "the native session closes (policy) within 1 s"
    );
    assert!(
        stream_close.is_some(),
        "the user data stream ends within 1 s"
    );
    // The next request with the key is refused, in both dialects; the listen key is gone.
    let (s, v) = signed(base, &k, "GET", "/api/v1/account", "", &[]).await;
    assert_eq!((s, code(&v)), (401, "UNAUTHORIZED"), "{v}");
    let (s, v) = binance(base, &k, "GET", "/fapi/v2/account", "").await;
    assert_eq!((s, &v["code"]), (401, &json!(-2015)), "{v}");
    let (s, v) = binance_raw(base, &owner, "PUT", "/fapi/v1/listenKey", "").await;
    assert_eq!(v["code"], json!(-1125), "{s} {v}");
    // It is gone from the list; the primary key still works.
    let (s, keys) = signed(base, &owner, "GET", "/api/v1/keys", "", &[]).await;
    assert_eq!(s, 200);
    let ids: Vec<u64> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1]);
    // Revoking it again: 404.
    let (s, v) = signed(
        base,
        &owner,
        "DELETE",
        &format!("/api/v1/keys/{id}"),
        "",
        &[],
    )
    .await;
    assert_eq!((s, code(&v)), (404, "KEY_NOT_FOUND"));
}

#[actix_web::test]
async fn read_keys_read_and_cannot_trade_or_grant_expired_and_foreign_address_keys_are_refused() {
    let n = start(1).await;
    let base = &n.base;
    let owner = accounts(base, 1).await.remove(0);
    let (r, _) = new_key(
        base,
        &owner,
        json!({"label":"viewer","permissions":["read"]}),
    )
    .await;
    let orders = format!("/api/v1/markets/{SYMBOL}/orders");
    // Reads work.
    assert_eq!(wallet(base, &r).await, "1000000");
    assert_eq!(
        binance(base, &r, "GET", "/fapi/v2/account", "").await.0,
        200
    );
    // Every write is refused and changes nothing.
    let (s, placed) = signed(base, &owner, "POST", &orders, &order_body(), &[]).await;
    assert_eq!(s, 201, "{placed}");
    let oid = placed["order_id"].as_u64().unwrap();
    let writes = [
        ("POST", orders.clone(), order_body()),
        ("DELETE", format!("{orders}/{oid}"), String::new()),
        (
            "PATCH",
            format!("{orders}/{oid}"),
            json!({"price":"39000"}).to_string(),
        ),
        ("DELETE", orders.clone(), String::new()),
        (
            "PUT",
            format!("/api/v1/markets/{SYMBOL}/leverage"),
            json!({"leverage":5}).to_string(),
        ),
        (
            "POST",
            "/api/v1/keys".into(),
            json!({"label":"x","permissions":["read"]}).to_string(),
        ),
        (
            "POST",
            "/api/v1/account/withdrawals".into(),
            json!({"amount":"1"}).to_string(),
        ),
    ];
    for (m, p, b) in &writes {
        let (s, v) = signed(base, &r, m, p, b, &[]).await;
        assert_eq!((s, code(&v)), (403, "PERMISSION_DENIED"), "{m} {p}: {v}");
    }
    let (s, v) = binance(
        base,
        &r,
        "POST",
        "/fapi/v1/order",
        &format!(
            "symbol={BN_SYMBOL}&side=BUY&type=LIMIT&quantity=0.01&price=40000&timeInForce=GTC"
        ),
    )
    .await;
    assert_eq!((s, &v["code"]), (401, &json!(-2015)), "{v}");
    let (s, v) = binance(
        base,
        &r,
        "POST",
        "/fapi/v1/leverage",
        &format!("symbol={BN_SYMBOL}&leverage=5"),
    )
    .await;
    assert_eq!((s, &v["code"]), (401, &json!(-2015)), "{v}");
    assert_eq!(open_orders(base, &owner).await, 1, "the order is untouched");
    assert_eq!(wallet(base, &owner).await, "1000000");
    // A trading key cannot grant withdraw (it does not hold it).
    let (t, _) = new_key(
        base,
        &owner,
        json!({"label":"trader","permissions":["read","trade"]}),
    )
    .await;
    let body = json!({"label":"w","permissions":["read","withdraw"],"ip_allowlist":["127.0.0.1"]});
    let (s, v) = signed(base, &t, "POST", "/api/v1/keys", &body.to_string(), &[]).await;
    assert_eq!((s, code(&v)), (403, "PERMISSION_DENIED"), "{v}");

    // Expiry: a key valid for 1.5 s works, then is refused.
    let expires = now_ms() + 1_500;
    let (e, _) = new_key(
        base,
        &owner,
        json!({"label":"brief","permissions":["read"],"expires_at":expires}),
    )
    .await;
    assert_eq!(wallet(base, &e).await, "1000000");
    while now_ms() <= expires + 5 {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, v) = signed(base, &e, "GET", "/api/v1/account", "", &[]).await;
    assert_eq!((s, code(&v)), (401, "KEY_EXPIRED"), "{v}");
    assert_eq!(
        binance(base, &e, "GET", "/fapi/v2/account", "").await.1["code"],
        json!(-2015)
    );

    // IP allow-lists, the client named by X-Forwarded-For from the trusted proxy 127.0.0.1.
    let (lan, _) = new_key(
        base,
        &owner,
        json!({"label":"lan","permissions":["read"],"ip_allowlist":["10.0.0.0/8"]}),
    )
    .await;
    let from = |ip: &'static str| [("X-Forwarded-For", ip)];
    let (s, v) = signed(base, &lan, "GET", "/api/v1/account", "", &[]).await;
    assert_eq!(
        (s, code(&v)),
        (403, "IP_NOT_ALLOWED"),
        "127.0.0.1 is not in 10/8: {v}"
    );
    let (s, v) = signed(base, &lan, "GET", "/api/v1/account", "", &from("10.1.2.3")).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = signed(
        base,
        &lan,
        "GET",
        "/api/v1/account",
        "",
        &from("192.168.0.1"),
    )
    .await;
    assert_eq!((s, code(&v)), (403, "IP_NOT_ALLOWED"), "{v}");
    // A spoofed hop left of the proxy's proves nothing: the right-most untrusted one counts.
    let (s, _) = signed(
        base,
        &lan,
        "GET",
        "/api/v1/account",
        "",
        &from("10.1.2.3, 8.8.8.8"),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(
        binance(base, &lan, "GET", "/fapi/v2/account", "").await.1["code"],
        json!(-2015)
    );
}

#[actix_web::test]
async fn a_replayed_signed_request_is_refused_and_changes_nothing() {
    let n = start(2).await;
    let base = &n.base;
    let a = accounts(base, 1).await.remove(0);
    let orders = format!("/api/v1/markets/{SYMBOL}/orders");
    // The same signed order, sent twice: one order.
    let t = ts();
    let first = signed_at(base, &a, "POST", &orders, &order_body(), &[], t).await;
    assert_eq!(first.0, 201, "{}", first.1);
    let again = signed_at(base, &a, "POST", &orders, &order_body(), &[], t).await;
    assert_eq!(
        (again.0, code(&again.1)),
        (401, "SIGNATURE_REPLAYED"),
        "{}",
        again.1
    );
    assert_eq!(open_orders(base, &a).await, 1);
    // A captured withdrawal, replayed concurrently 8 times: exactly one lands.
    let t = ts();
    let body = json!({"amount":"10"}).to_string();
    let answers = futures_util::future::join_all((0..8).map(|_| {
        signed_at(
            base,
            &a,
            "POST",
            "/api/v1/account/withdrawals",
            &body,
            &[],
            t,
        )
    }))
    .await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(answers
        .iter()
        .all(|(s, v)| *s == 200 || code(v) == "SIGNATURE_REPLAYED"));
    assert_eq!(wallet(base, &a).await, "999990");
    // Binance: a replayed order is -1021 and places nothing.
    let p = format!("symbol={BN_SYMBOL}&side=BUY&type=LIMIT&quantity=0.01&price=40000&timeInForce=GTC&timestamp={}", ts());
    assert_eq!(
        binance_raw(base, &a, "POST", "/fapi/v1/order", &p).await.0,
        200
    );
    let (s, v) = binance_raw(base, &a, "POST", "/fapi/v1/order", &p).await;
    assert_eq!((s, &v["code"]), (400, &json!(-1021)), "{v}");
    assert_eq!(open_orders(base, &a).await, 2);
    // Reads may repeat (a replayed read changes nothing).
    let t = ts();
    for _ in 0..2 {
        assert_eq!(
            signed_at(base, &a, "GET", "/api/v1/account", "", &[], t)
                .await
                .0,
            200
        );
    }
}

#[actix_web::test]
async fn viewers_cannot_write_every_admin_write_is_audited_and_access_survives_a_restart() {
    let mut n = start(3).await;
    let base = n.base.clone();
    // Tokens made by the bootstrap token.
    let (s, viewer) = admin(
        &base,
        TOKEN,
        "POST",
        "/api/v1/admin/tokens",
        r#"{"name":"watcher","role":"viewer"}"#,
    )
    .await;
    assert_eq!(s, 201, "{viewer}");
    let (s, op) = admin(
        &base,
        TOKEN,
        "POST",
        "/api/v1/admin/tokens",
        r#"{"name":"ops-bot","role":"operator"}"#,
    )
    .await;
    assert_eq!(s, 201, "{op}");
    let (vt, ot) = (
        viewer["token"].as_str().unwrap(),
        op["token"].as_str().unwrap().to_owned(),
    );
    let (s, me) = admin(&base, vt, "GET", "/api/v1/admin/whoami", "").await;
    assert_eq!(
        (s, &me["role"], &me["name"]),
        (200, &json!("viewer"), &json!("watcher"))
    );
    // The viewer reads and cannot write.
    assert_eq!(
        admin(&base, vt, "GET", "/api/v1/admin/solvency", "")
            .await
            .0,
        200
    );
    let (s, v) = admin(&base, vt, "POST", "/api/v1/admin/accounts", "{}").await;
    assert_eq!((s, code(&v)), (403, "FORBIDDEN"), "{v}");
    let (s, v) = admin(
        &base,
        vt,
        "POST",
        "/api/v1/admin/tokens",
        r#"{"name":"x","role":"operator"}"#,
    )
    .await;
    assert_eq!((s, code(&v)), (403, "FORBIDDEN"), "{v}");
    // The operator token opens and funds an account, and makes it a read key.
    let (s, acct) = admin(&base, &ot, "POST", "/api/v1/admin/accounts", "{}").await;
    assert_eq!(s, 201, "{acct}");
    let id = acct["account_id"].as_u64().unwrap();
    let owner = Acct {
        key: acct["api_key"].as_str().unwrap().into(),
        secret: acct["api_secret"].as_str().unwrap().into(),
    };
    assert_eq!(
        admin(
            &base,
            &ot,
            "POST",
            &format!("/api/v1/admin/accounts/{id}/deposits"),
            r#"{"amount":"500"}"#
        )
        .await
        .0,
        200
    );
    let (s, k) = admin(
        &base,
        &ot,
        "POST",
        &format!("/api/v1/admin/accounts/{id}/keys"),
        r#"{"label":"ops-made","permissions":["read"]}"#,
    )
    .await;
    assert_eq!(s, 201, "{k}");
    let read = Acct {
        key: k["api_key"].as_str().unwrap().into(),
        secret: k["api_secret"].as_str().unwrap().into(),
    };
    let (_, gone) = new_key(
        &base,
        &owner,
        json!({"label":"to-revoke","permissions":["read"]}),
    )
    .await;
    assert_eq!(
        admin(
            &base,
            &ot,
            "DELETE",
            &format!("/api/v1/admin/accounts/{id}/keys/{gone}"),
            ""
        )
        .await
        .0,
        200
    );
    // Revoking the operator token stops it at once.
    let op_id = op["token_id"].as_u64().unwrap();
    assert_eq!(
        admin(
            &base,
            TOKEN,
            "DELETE",
            &format!("/api/v1/admin/tokens/{op_id}"),
            ""
        )
        .await
        .0,
        200
    );
    let (s, v) = admin(&base, &ot, "GET", "/api/v1/admin/solvency", "").await;
    assert_eq!((s, code(&v)), (403, "FORBIDDEN"), "{v}");
    let (s, v) = admin(&base, "not-a-token", "POST", "/api/v1/admin/accounts", "{}").await;
    assert_eq!(s, 403, "{v}");

    // The audit log: every write, with its actor, newest first.
    let expect = [
        ("-", "POST", "/api/v1/admin/accounts".to_owned(), 403),
        (
            "bootstrap",
            "DELETE",
            format!("/api/v1/admin/tokens/{op_id}"),
            200,
        ),
        (
            "ops-bot",
            "DELETE",
            format!("/api/v1/admin/accounts/{id}/keys/{gone}"),
            200,
        ),
        (
            "ops-bot",
            "POST",
            format!("/api/v1/admin/accounts/{id}/keys"),
            201,
        ),
        (
            "ops-bot",
            "POST",
            format!("/api/v1/admin/accounts/{id}/deposits"),
            200,
        ),
        ("ops-bot", "POST", "/api/v1/admin/accounts".to_owned(), 201),
        ("watcher", "POST", "/api/v1/admin/tokens".to_owned(), 403),
        ("watcher", "POST", "/api/v1/admin/accounts".to_owned(), 403),
        ("bootstrap", "POST", "/api/v1/admin/tokens".to_owned(), 201),
        ("bootstrap", "POST", "/api/v1/admin/tokens".to_owned(), 201),
    ];
    let check = |page: &Value| {
        let records = page["records"].as_array().unwrap();
        assert_eq!(records.len(), expect.len(), "{page}");
        for (r, (actor, method, path, status)) in records.iter().zip(&expect) {
            assert_eq!(
                (
                    r["actor"].as_str().unwrap(),
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap(),
                    r["status"].as_u64().unwrap()
                ),
                (*actor, *method, path.as_str(), *status as u64),
                "{r}"
            );
            assert_eq!(r["ip"], "127.0.0.1");
            assert!(r["time"].as_u64().unwrap() > 1_700_000_000_000);
        }
        assert_eq!(records[4]["body"], r#"{"amount":"500"}"#);
        assert_eq!(records[6]["code"], "FORBIDDEN");
    };
    let (s, page) = admin(&base, vt, "GET", "/api/v1/admin/audit", "").await;
    assert_eq!(s, 200, "{page}");
    check(&page);
    // Paging: 3 per page, then the rest from next_before.
    let (_, p1) = admin(&base, vt, "GET", "/api/v1/admin/audit?limit=3", "").await;
    let before = p1["next_before"].as_u64().unwrap();
    let (_, p2) = admin(
        &base,
        vt,
        "GET",
        &format!("/api/v1/admin/audit?before={before}&limit=100"),
        "",
    )
    .await;
    assert_eq!(
        p1["records"].as_array().unwrap().len() + p2["records"].as_array().unwrap().len(),
        expect.len()
    );
    assert_eq!(p2["next_before"], Value::Null);

    // Restart on the same data: keys, tokens and the audit log are journaled.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &n.child.id().to_string()])
        .status();
    let _ = n.child.wait();
    n.child = spawn_perpx(&config(n.dir.path()), n.dir.path(), n.port);
    wait_healthy(&base, 60).await;
    assert_eq!(
        wallet(&base, &read).await,
        "500",
        "the operator-made read key survives"
    );
    let (s, v) = signed(
        &base,
        &read,
        "POST",
        &format!("/api/v1/markets/{SYMBOL}/orders"),
        &order_body(),
        &[],
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (403, "PERMISSION_DENIED"),
        "and its permissions"
    );
    assert_eq!(
        admin(&base, vt, "GET", "/api/v1/admin/whoami", "").await.0,
        200
    );
    assert_eq!(
        admin(&base, &ot, "GET", "/api/v1/admin/whoami", "").await.0,
        403,
        "a revoked token stays revoked"
    );
    let (_, page) = admin(&base, vt, "GET", "/api/v1/admin/audit", "").await;
    check(&page);
}

/// A concrete path for a route pattern.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{symbol}", SYMBOL)
        .replace("{order_id}", "1")
        .replace("{client_order_id}", "none")
        .replace("{key_id}", "999")
}

/// Every entry of the permission table, called with keys of every permission set: a key
/// without the permission is refused (403 PERMISSION_DENIED natively, 401 -2015 in the Binance
/// dialect), a key with it is not. And every signed route of the OpenAPI document is in the
/// table.
#[actix_web::test]
async fn every_signed_route_checks_its_permission_from_the_one_table() {
    use perpx::engine::access::Permissions;
    let n = start(4).await;
    let base = &n.base;
    let owner = accounts(base, 1).await.remove(0);
    let sets: [&[&str]; 5] = [
        &["read"],
        &["trade"],
        &["withdraw"],
        &["read", "trade"],
        &["read", "trade", "withdraw"],
    ];
    let mut keys = Vec::new();
    for set in sets {
        let body =
            json!({"label": set.join("+"), "permissions": set, "ip_allowlist": ["127.0.0.1"]});
        let (k, _) = new_key(base, &owner, body).await;
        let mut p = Permissions::default();
        for name in set {
            p = p.union(Permissions::named(name).unwrap());
        }
        keys.push((p, k));
    }
    let mut calls = 0;
    for &(method, pattern, need) in perpx::api::permissions::TABLE {
        let path = concrete(pattern);
        for (have, k) in &keys {
            let bn = pattern.starts_with("/fapi") || pattern.starts_with("/sapi");
            let (s, v) = if bn {
                if pattern.ends_with("/listenKey") {
                    let mut resp = client()
                        .request(method.parse().unwrap(), format!("{base}{path}"))
                        .insert_header(("X-MBX-APIKEY", k.key.as_str()))
                        .send()
                        .await
                        .unwrap();
                    let s = resp.status().as_u16();
                    (
                        s,
                        serde_json::from_slice(&resp.body().await.unwrap()).unwrap_or(Value::Null),
                    )
                } else {
                    binance(base, k, method, &path, &format!("symbol={BN_SYMBOL}")).await
                }
            } else {
                let body = if matches!(method, "POST" | "PUT" | "PATCH") {
                    "{}"
                } else {
                    ""
                };
                signed(base, k, method, &path, body, &[]).await
            };
            calls += 1;
            let refused = if bn {
                s == 401 && v["code"] == json!(-2015)
            } else {
                s == 403 && code(&v) == "PERMISSION_DENIED"
            };
            assert_eq!(
                refused,
                !have.contains(need),
                "{method} {pattern} with {:?}: {s} {v}",
                have.names()
            );
            assert!(
                code(&v) != "NOT_FOUND" && s != 405,
                "{method} {pattern} is not routed: {s} {v}"
            );
            assert!(s < 500, "{method} {pattern}: {s} {v}");
        }
    }
    eprintln!(
        "{calls} calls over {} table entries",
        perpx::api::permissions::TABLE.len()
    );
    // Every operation the OpenAPI document secures with an API key is in the table.
    let mut resp = client()
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&resp.body().limit(1 << 24).await.unwrap()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["security"][0].get("api_key").is_some() {
                let m = method.to_uppercase();
                assert!(
                    perpx::api::permissions::lookup(&m, path).is_some(),
                    "{m} {path} is signed but not in the permission table"
                );
            }
        }
    }
}
