//! A signed HTTP client for the public API (the same signing any client does).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use awc::http::Method;
use serde_json::Value;

/// An account as the admin route created it.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: u64,
    pub key: String,
    pub secret: String,
    /// The last timestamp this account signed with (shared by its clones).
    pub last_ts: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Account {
    /// A timestamp no earlier than now and later than the account's last one: the server
    /// refuses a write whose signature it has seen (docs/API.md "Authentication"), and two
    /// identical orders in one millisecond would otherwise sign alike.
    fn next_ts(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let now = now_ms();
        let prev = self
            .last_ts
            .fetch_update(Relaxed, Relaxed, |last| Some(now.max(last + 1)))
            .unwrap_or(now);
        now.max(prev + 1)
    }
}

/// What one request came back with.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error code, or `"OK"`.
    pub fn code(&self) -> String {
        if self.status < 300 {
            return "OK".into();
        }
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("HTTP_ERROR")
            .to_owned()
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Clone)]
pub struct Api {
    http: awc::Client,
    base: String,
    admin: String,
}

impl Api {
    pub fn new(base: &str, admin: &str, connections: usize) -> Api {
        let connector = awc::Connector::new().limit(connections.max(1));
        let http = awc::Client::builder()
            .connector(connector)
            .timeout(Duration::from_secs(30))
            .finish();
        Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
            admin: admin.to_owned(),
        }
    }

    async fn send(&self, req: awc::ClientRequest, body: &str) -> Answer {
        match req.send_body(body.to_owned()).await {
            Ok(mut r) => {
                let status = r.status().as_u16();
                let bytes = r.body().limit(16 << 20).await.unwrap_or_default();
                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                Answer { status, body }
            }
            Err(e) => Answer {
                status: 599,
                body: serde_json::json!({"error": {"code": "CONNECTION", "message": e.to_string()}}),
            },
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)), "")
            .await
    }

    pub async fn admin(&self, method: Method, path: &str, body: &str) -> Answer {
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .insert_header(("Authorization", format!("Bearer {}", self.admin)))
            .insert_header(("Content-Type", "application/json"));
        self.send(req, body).await
    }

    pub async fn signed(&self, a: &Account, method: Method, path: &str, body: &str) -> Answer {
        let ts = a.next_ts();
        let sig = perpx::api::auth::sign(&a.secret, ts, method.as_str(), path, body.as_bytes());
        let req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .insert_header(("X-API-Key", a.key.as_str()))
            .insert_header(("X-API-Timestamp", ts.to_string()))
            .insert_header(("X-API-Signature", sig))
            .insert_header(("Content-Type", "application/json"));
        self.send(req, body).await
    }

    /// Create and fund an account through the admin routes.
    pub async fn account(&self, label: &str, deposit: &str) -> Result<Account, String> {
        let r = self
            .admin(
                Method::POST,
                "/api/v1/admin/accounts",
                &format!(r#"{{"label":"{label}"}}"#),
            )
            .await;
        if r.status != 201 {
            return Err(format!("creating an account: HTTP {} {}", r.status, r.body));
        }
        let a = Account {
            id: r.body["account_id"].as_u64().unwrap_or(0),
            key: r.body["api_key"].as_str().unwrap_or("").to_owned(),
            secret: r.body["api_secret"].as_str().unwrap_or("").to_owned(),
            last_ts: Default::default(),
        };
        let path = format!("/api/v1/admin/accounts/{}/deposits", a.id);
        let r = self
            .admin(Method::POST, &path, &format!(r#"{{"amount":"{deposit}"}}"#))
            .await;
        if r.status != 200 {
            return Err(format!(
                "funding account {}: HTTP {} {}",
                a.id, r.status, r.body
            ));
        }
        Ok(a)
    }

    pub fn http(&self) -> &awc::Client {
        &self.http
    }
}
