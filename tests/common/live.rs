//! Signed HTTP requests against a running perpx binary, and the order-placing clients and
//! state check of the tests that kill it: the crash test (`tests/crash.rs`: SIGKILL and
//! restart) and the replication tests (`tests/replication`: failover to a follower). Included
//! by each with `#[path]` (also by `tests/shutdown.rs`); the binary must run with [`TOKEN`] as
//! its admin token ([`spawn_perpx`] starts it so).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::Value;

/// The admin token the tests start perpx with (`PERPX_ADMIN_TOKEN`).
pub const TOKEN: &str = "perpx-test-admin-token";

/// Start this build's perpx on `127.0.0.1:port` with `config` and `<dir>/data`, the test
/// admin token and its output discarded.
pub fn spawn_perpx(
    config: &std::path::Path,
    dir: &std::path::Path,
    port: u16,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_perpx"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.join("data").to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("PERPX_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start perpx")
}

/// A client whose every request is bounded (a node that hangs fails the test, not CI).
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish()
}

pub async fn wait_healthy(base: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(r) = client().get(format!("{base}/api/v1/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{base} did not come up within {secs} s (recovery failed?)"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Clone)]
pub struct Acct {
    pub key: String,
    pub secret: String,
}

/// `None`: no answer (connection refused or reset: the node is gone).
pub async fn req(
    base: &str,
    a: Option<&Acct>,
    method: Method,
    path: &str,
    body: &str,
) -> Option<(u16, Value)> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut r = client()
        .request(method.clone(), format!("{base}{path}"))
        .insert_header(("Content-Type", "application/json"));
    match a {
        Some(a) => {
            let sig = perpx::api::auth::sign(&a.secret, ts, method.as_str(), path, body.as_bytes());
            r = r
                .insert_header(("X-API-Key", a.key.as_str()))
                .insert_header(("X-API-Timestamp", ts.to_string()))
                .insert_header(("X-API-Signature", sig));
        }
        None => r = r.insert_header(("Authorization", format!("Bearer {TOKEN}"))),
    }
    let mut resp = r.send_body(body.to_owned()).await.ok()?;
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(64 << 20).await.ok()?;
    Some((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// Open `n` funded accounts.
pub async fn accounts(base: &str, n: usize) -> Vec<Acct> {
    let mut v = Vec::new();
    for _ in 0..n {
        let (s, a) = req(base, None, Method::POST, "/api/v1/admin/accounts", "{}")
            .await
            .unwrap();
        assert_eq!(s, 201, "{a}");
        let id = a["account_id"].as_u64().unwrap();
        let (s, _) = req(
            base,
            None,
            Method::POST,
            &format!("/api/v1/admin/accounts/{id}/deposits"),
            r#"{"amount":"1000000"}"#,
        )
        .await
        .unwrap();
        assert_eq!(s, 200);
        v.push(Acct {
            key: a["api_key"].as_str().unwrap().into(),
            secret: a["api_secret"].as_str().unwrap().into(),
        });
    }
    v
}

/// What the clients were told, per client order id.
#[derive(Clone, Default)]
pub struct Acked {
    /// client id → (account index, order id)
    pub placed: HashMap<String, (usize, u64)>,
    /// client ids whose cancel was acknowledged
    pub cancelled: Vec<String>,
}

/// What a client does with a 503: a lone server that sheds load answers it and goes on
/// (the client carries on); a node that is no longer primary answers it for good.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum On503 {
    CarryOn,
    Stop,
}

/// Place, cancel and amend on BTC-PERP until the node stops answering (or answers 503 and
/// `on_503` says stop) or `stop` is set; every acknowledged place and cancel is recorded.
pub async fn drive(
    base: String,
    accts: Rc<Vec<Acct>>,
    who: usize,
    round: usize,
    acked: Rc<RefCell<Acked>>,
    stop: Rc<std::cell::Cell<bool>>,
    on_503: On503,
) {
    let gone = |r: &Option<(u16, Value)>| match r {
        None => true,
        Some((503, _)) => on_503 == On503::Stop,
        Some(_) => false,
    };
    let mut rng = 0x9E37_79B9u64 ^ ((round * 31 + who) as u64 + 1);
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut mine: Vec<(String, u64)> = Vec::new();
    for n in 0..100_000u64 {
        if stop.get() {
            return;
        }
        let a = who % accts.len();
        let r = next() % 10;
        if r < 6 || mine.is_empty() {
            let cid = format!("r{round}c{who}n{n}");
            let buy = next() % 2 == 0;
            let px = 50_000 + (next() % 21) as i64 - 10;
            let body = format!(
                r#"{{"side":"{}","type":"limit","quantity":"0.00{}","price":"{px}","client_order_id":"{cid}"}}"#,
                if buy { "buy" } else { "sell" },
                1 + next() % 5
            );
            let r = req(
                &base,
                Some(&accts[a]),
                Method::POST,
                "/api/v1/markets/BTC-PERP/orders",
                &body,
            )
            .await;
            if gone(&r) {
                return;
            }
            if let Some((201, v)) = r {
                let id = v["order_id"].as_u64().unwrap();
                acked.borrow_mut().placed.insert(cid.clone(), (a, id));
                if v["status"] == "new" || v["status"] == "partially_filled" {
                    mine.push((cid, id));
                }
            }
        } else if r < 8 {
            let (cid, id) = mine.swap_remove((next() as usize) % mine.len());
            let r = req(
                &base,
                Some(&accts[a]),
                Method::DELETE,
                &format!("/api/v1/markets/BTC-PERP/orders/{id}"),
                "",
            )
            .await;
            if gone(&r) {
                return;
            }
            if let Some((200, _)) = r {
                acked.borrow_mut().cancelled.push(cid);
            }
        } else {
            let (_, id) = mine[(next() as usize) % mine.len()];
            let px = 50_000 + (next() % 21) as i64 - 10;
            let r = req(
                &base,
                Some(&accts[a]),
                Method::PATCH,
                &format!("/api/v1/markets/BTC-PERP/orders/{id}"),
                &format!(r#"{{"price":"{px}"}}"#),
            )
            .await;
            if gone(&r) {
                return;
            }
        }
    }
}

/// Every acknowledged order present once (by client id and id), acknowledged cancels stayed
/// cancelled, money conserved, positions net to zero, the book equals the open orders.
/// `GET` a BTC-PERP order of `acct` by its client order id: `(status, body)`.
pub async fn by_client_id(base: &str, acct: &Acct, cid: &str) -> (u16, Value) {
    req(
        base,
        Some(acct),
        Method::GET,
        &format!("/api/v1/markets/BTC-PERP/orders/by-client-id/{cid}"),
        "",
    )
    .await
    .expect("by client id")
}

pub async fn check(base: &str, accts: &[Acct], acked: &Acked) {
    let (_, solv) = req(base, None, Method::GET, "/api/v1/admin/solvency", "")
        .await
        .expect("solvency");
    assert_eq!(solv["conserved"], true, "money not conserved: {solv}");
    let mut net = rust_decimal::Decimal::ZERO;
    let mut resting: BTreeMap<(String, String), rust_decimal::Decimal> = BTreeMap::new();
    let mut client_ids: HashMap<String, u64> = HashMap::new();
    for a in accts {
        let (_, acc) = req(base, Some(a), Method::GET, "/api/v1/account", "")
            .await
            .expect("account");
        for p in acc["positions"].as_array().unwrap() {
            net += p["quantity"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap();
        }
        let (_, orders) = req(
            base,
            Some(a),
            Method::GET,
            "/api/v1/markets/BTC-PERP/orders?status=all&limit=1000",
            "",
        )
        .await
        .expect("orders");
        for o in orders.as_array().unwrap() {
            if let Some(cid) = o["client_order_id"].as_str() {
                assert!(
                    client_ids
                        .insert(cid.to_owned(), o["order_id"].as_u64().unwrap())
                        .is_none(),
                    "client id {cid} twice"
                );
            }
            if matches!(o["status"].as_str(), Some("new" | "partially_filled")) {
                let side = o["side"].as_str().unwrap().to_owned();
                *resting
                    .entry((side, o["price"].as_str().unwrap().to_owned()))
                    .or_default() += o["remaining_quantity"]
                    .as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap();
            }
        }
    }
    assert!(net.is_zero(), "positions do not net to zero: {net}");
    for (cid, &(a, id)) in &acked.placed {
        let (status, o) = by_client_id(base, &accts[a], cid).await;
        assert_eq!(
            (status, o["order_id"].as_u64()),
            (200, Some(id)),
            "acknowledged order {cid} lost or changed"
        );
    }
    for cid in &acked.cancelled {
        let (a, _) = acked.placed[cid];
        let (_, o) = req(
            base,
            Some(&accts[a]),
            Method::GET,
            &format!("/api/v1/markets/BTC-PERP/orders/by-client-id/{cid}"),
            "",
        )
        .await
        .expect("order");
        assert_eq!(
            o["status"], "cancelled",
            "acknowledged cancel of {cid} undone"
        );
    }
    let book = book(base, "BTC-PERP").await;
    let mut from_book = BTreeMap::new();
    for (side, levels) in [("buy", &book.1), ("sell", &book.2)] {
        for (p, q) in levels {
            from_book.insert(
                (side.to_owned(), p.clone()),
                q.parse::<rust_decimal::Decimal>().unwrap(),
            );
        }
    }
    assert_eq!(from_book, resting, "the book differs from the open orders");
}

/// `(sequence, bids, asks)` of the REST book (1,000 levels), prices and quantities as strings.
pub async fn book(base: &str, symbol: &str) -> (u64, Vec<(String, String)>, Vec<(String, String)>) {
    let (_, b) = req(
        base,
        None,
        Method::GET,
        &format!("/api/v1/markets/{symbol}/book?depth=1000"),
        "",
    )
    .await
    .expect("book");
    let side = |k: &str| {
        b[k].as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l[0].as_str().unwrap().to_owned(),
                    l[1].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    (b["sequence"].as_u64().unwrap(), side("bids"), side("asks"))
}

/// The node's replication status (admin).
pub async fn replication(base: &str) -> Option<Value> {
    req(base, None, Method::GET, "/api/v1/admin/replication", "")
        .await
        .map(|r| r.1)
}
