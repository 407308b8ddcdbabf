//! Crash safety of the real binary (docs/ARCHITECTURE.md §5): drive concurrent clients that place, amend
//! and cancel orders, SIGKILL the server at seeded random moments over several rounds, restart
//! it on the same data directory, and check after every restart that
//! - every acknowledged order is present exactly once (by client order id and by order id),
//!   and an acknowledged cancel stayed cancelled;
//! - no two orders share a client order id (nothing applied twice);
//! - money is conserved exactly (admin solvency) and positions net to zero (open interest);
//! - the REST book equals the resting remainder of every account's open orders.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use awc::http::Method;
use serde_json::Value;

const TOKEN: &str = "crash-test-token";
const ROUNDS: usize = 3;
const CLIENTS: usize = 6;

/// The server process; killed when dropped, so a failing test leaves nothing running.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped markets with the history this test relies on: every acknowledged order stays
/// findable by its client id (the default keeps 1,000 closed orders per account, and the
/// drivers close more than that per account before the final check).
fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/markets.toml"))
        .expect("shipped markets.toml");
    let text = shipped.replacen("[server]\n", "[server]\nkeep_closed_orders = 1000000\n", 1);
    assert_ne!(text, shipped, "markets.toml has a [server] section");
    let path = dir.join("crash-markets.toml");
    std::fs::write(&path, text).expect("write the test config");
    path
}

fn start(dir: &std::path::Path, port: u16) -> Server {
    let cfg = config(dir);
    let child = Command::new(env!("CARGO_BIN_EXE_perpx"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            dir.join("data").to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("PERPX_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perpx");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish()
}

async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client().get(format!("{base}/api/v1/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "server did not come up (recovery failed?)"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Clone)]
struct Acct {
    key: String,
    secret: String,
}

async fn req(
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

/// What the clients were told, per client order id.
#[derive(Clone, Default)]
struct Acked {
    /// client id → (account index, order id)
    placed: HashMap<String, (usize, u64)>,
    /// client ids whose cancel was acknowledged
    cancelled: Vec<String>,
}

async fn drive(
    base: String,
    accts: Rc<Vec<Acct>>,
    who: usize,
    round: usize,
    acked: Rc<RefCell<Acked>>,
) {
    let mut rng = 0x9E37_79B9u64 ^ ((round * 31 + who) as u64 + 1);
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut mine: Vec<(String, u64)> = Vec::new();
    for n in 0..100_000u64 {
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
            match req(
                &base,
                Some(&accts[a]),
                Method::POST,
                "/api/v1/markets/BTC-PERP/orders",
                &body,
            )
            .await
            {
                Some((201, v)) => {
                    let id = v["order_id"].as_u64().unwrap();
                    acked.borrow_mut().placed.insert(cid.clone(), (a, id));
                    if v["status"] == "new" || v["status"] == "partially_filled" {
                        mine.push((cid, id));
                    }
                }
                Some(_) => {}
                None => return, // the server is gone
            }
        } else if r < 8 {
            let (cid, id) = mine.swap_remove((next() as usize) % mine.len());
            match req(
                &base,
                Some(&accts[a]),
                Method::DELETE,
                &format!("/api/v1/markets/BTC-PERP/orders/{id}"),
                "",
            )
            .await
            {
                Some((200, _)) => acked.borrow_mut().cancelled.push(cid),
                Some(_) => {}
                None => return,
            }
        } else {
            let (_, id) = mine[(next() as usize) % mine.len()];
            let px = 50_000 + (next() % 21) as i64 - 10;
            if req(
                &base,
                Some(&accts[a]),
                Method::PATCH,
                &format!("/api/v1/markets/BTC-PERP/orders/{id}"),
                &format!(r#"{{"price":"{px}"}}"#),
            )
            .await
            .is_none()
            {
                return;
            }
        }
    }
}

async fn check(base: &str, accts: &[Acct], acked: &Acked) {
    let (_, solv) = req(base, None, Method::GET, "/api/v1/admin/solvency", "")
        .await
        .expect("solvency");
    assert_eq!(
        solv["conserved"], true,
        "money not conserved after restart: {solv}"
    );
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
        let (status, o) = req(
            base,
            Some(&accts[a]),
            Method::GET,
            &format!("/api/v1/markets/BTC-PERP/orders/by-client-id/{cid}"),
            "",
        )
        .await
        .expect("by client id");
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
    let (_, book) = req(
        base,
        None,
        Method::GET,
        "/api/v1/markets/BTC-PERP/book?depth=1000",
        "",
    )
    .await
    .expect("book");
    let mut from_book = BTreeMap::new();
    for (side, key) in [("buy", "bids"), ("sell", "asks")] {
        for l in book[key].as_array().unwrap() {
            from_book.insert(
                (side.to_owned(), l[0].as_str().unwrap().to_owned()),
                l[1].as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap(),
            );
        }
    }
    assert_eq!(from_book, resting, "the book differs from the open orders");
}

#[actix_web::test]
async fn acknowledged_state_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = 18_400 + (std::process::id() % 500) as u16;
    let mut server = start(dir.path(), port);
    wait_healthy(&server.base).await;
    let mut accts = Vec::new();
    for _ in 0..3 {
        let (s, v) = req(
            &server.base,
            None,
            Method::POST,
            "/api/v1/admin/accounts",
            "{}",
        )
        .await
        .unwrap();
        assert_eq!(s, 201);
        let id = v["account_id"].as_u64().unwrap();
        let (s, _) = req(
            &server.base,
            None,
            Method::POST,
            &format!("/api/v1/admin/accounts/{id}/deposits"),
            r#"{"amount":"1000000"}"#,
        )
        .await
        .unwrap();
        assert_eq!(s, 200);
        accts.push(Acct {
            key: v["api_key"].as_str().unwrap().into(),
            secret: v["api_secret"].as_str().unwrap().into(),
        });
    }
    let accts = Rc::new(accts);
    let acked = Rc::new(RefCell::new(Acked::default()));
    for round in 0..ROUNDS {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|who| {
                actix_web::rt::spawn(drive(
                    server.base.clone(),
                    accts.clone(),
                    who,
                    round,
                    acked.clone(),
                ))
            })
            .collect();
        // A seeded "random" moment: 300..900 ms into the round.
        let after = 300 + (round as u64 * 277 + u64::from(port)) % 600;
        actix_web::rt::time::sleep(Duration::from_millis(after)).await;
        server.child.kill().expect("SIGKILL");
        let _ = server.child.wait();
        for t in tasks {
            let _ = t.await;
        }
        server = start(dir.path(), port);
        wait_healthy(&server.base).await;
        let seen = acked.borrow().clone();
        check(&server.base, &accts, &seen).await;
        println!(
            "round {round}: killed after {after} ms; {} acknowledged orders, {} cancels verified",
            acked.borrow().placed.len(),
            acked.borrow().cancelled.len()
        );
    }
    assert!(acked.borrow().placed.len() > 50, "the clients barely ran");
    server.child.kill().ok();
}
