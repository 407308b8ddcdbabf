//! Money safety under concurrent and hostile clients, against the real binary on 127.0.0.1:
//! OS threads race requests of one account (and of colluding accounts) through the whole
//! order path, in rounds bounded in count and time:
//! - amend storms (several raises that each fit alone, sent at once: at most what fits lands);
//! - leverage changes racing orders (a leverage is checked against position plus orders);
//! - cancels racing fills (`409 ORDER_NOT_OPEN`, never `404`, whichever wins);
//! - withdrawals racing orders;
//! - reduce-only orders beyond bankruptcy against a colluding bid (refused; a reduce-only
//!   market order is capped at the bankruptcy price);
//! - isolated margin: margin transfers racing orders of the same account (never over-committed),
//!   margin-mode switches racing orders (a switch never lands while an order or a position is
//!   there), and an isolated position liquidated while the cross wallet stays whole;
//! - hedge mode: closing orders (`sell` + `long`) fired at once for several times the long leg
//!   (the leg never flips and the short leg never grows), and position-mode switches racing
//!   an order (never both land);
//! - take-profit / stop-loss: a TP/SL pair, a close-position stop and a manual close of the
//!   position at once (the position never flips, no close-position order fills beyond it), and
//!   a stop-loss firing while it is trailed and the position closed by hand;
//! - a liquidation cascade of 40 accounts while other clients keep trading (every account
//!   flat and out of liquidation within the bound; the time it took is printed).
//!
//! After every round: only contract status codes were seen, the available balance of accounts
//! whose mark did not move is ≥ 0, `filled + remaining ≤ quantity` for every order, money is
//! conserved (`GET /api/v1/admin/solvency`), the insurance fund is never negative, and no
//! account is left in liquidation.

#[path = "adversarial/tpsl.rs"]
mod tpsl;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{json, Value};

const TOKEN: &str = "adversarial-token";
const SYMBOL: &str = "BTC-PERP";
const ROUNDS: usize = 10;

/// One market as shipped (BTC tiers, fees), with an oracle index that does not go stale during
/// the test, fast marks, and rate limits off (the clients here are the attack, not a flood).
const CONFIG: &str = r#"
[server]
durability = "immediate"
rate_limit_per_key = 0
rate_limit_per_ip = 0
[exchange]
mark_interval = "200ms"
[[markets]]
symbol = "BTC-PERP"
base_asset = "BTC"
tick_size = "0.1"
lot_size = "0.001"
max_open_orders = 1000
initial_index_price = "50000"
index_stale_after = "1h"
  [[markets.risk_tiers]]
  notional_cap = "50000"
  max_leverage = 125
  maintenance_margin_rate = "0.004"
  [[markets.risk_tiers]]
  notional_cap = "250000"
  max_leverage = 100
  maintenance_margin_rate = "0.005"
  [[markets.risk_tiers]]
  notional_cap = "1000000"
  max_leverage = 50
  maintenance_margin_rate = "0.01"
  [[markets.risk_tiers]]
  notional_cap = "10000000"
  max_leverage = 20
  maintenance_margin_rate = "0.025"
"#;

/// The server process; killed when dropped (also when a test fails).
struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("markets.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_perpx"))
        .args(["--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("PERPX_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perpx");
    let s = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while call(&s.base, None, "GET", "/api/v1/health", "").0 != 200 {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

#[derive(Clone, Debug)]
struct Acct {
    id: u64,
    key: String,
    secret: String,
}

/// One HTTP request on its own little runtime (so any thread can call it): status and body.
fn call(base: &str, a: Option<&Acct>, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (base, method, path, body) = (
        base.to_owned(),
        method.to_owned(),
        path.to_owned(),
        body.to_owned(),
    );
    let a = a.cloned();
    actix_web::rt::System::new().block_on(async move {
        // Up to 4 s back, one ms later per request, cycling: concurrent identical requests are distinct
        // requests (their signatures differ), not replays of one (which the server refuses).
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            - 4_000
            + N.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4_000;
        let m: awc::http::Method = method.parse().unwrap();
        let mut r = awc::Client::builder()
            .timeout(Duration::from_secs(20))
            .finish()
            .request(m, format!("{base}{path}"))
            .insert_header(("Content-Type", "application/json"));
        match &a {
            Some(a) => {
                let sig = perpx::api::auth::sign(&a.secret, ts, &method, &path, body.as_bytes());
                r = r
                    .insert_header(("X-API-Key", a.key.as_str()))
                    .insert_header(("X-API-Timestamp", ts.to_string()))
                    .insert_header(("X-API-Signature", sig));
            }
            None => r = r.insert_header(("Authorization", format!("Bearer {TOKEN}"))),
        }
        let Ok(mut resp) = r.send_body(body).await else {
            return (0, Value::Null);
        };
        let status = resp.status().as_u16();
        let bytes = resp.body().limit(16 << 20).await.unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

fn d(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("decimal string expected, got {v}"))
        .parse()
        .unwrap()
}

struct Venue {
    s: Server,
}

impl Venue {
    fn admin(&self, method: &str, path: &str, body: &str) -> Value {
        let (st, v) = call(&self.s.base, None, method, path, body);
        assert!((200..300).contains(&st), "{method} {path}: {st} {v}");
        v
    }

    fn account(&self, deposit: &str) -> Acct {
        let v = self.admin("POST", "/api/v1/admin/accounts", "{}");
        let a = Acct {
            id: v["account_id"].as_u64().unwrap(),
            key: v["api_key"].as_str().unwrap().into(),
            secret: v["api_secret"].as_str().unwrap().into(),
        };
        self.admin(
            "POST",
            &format!("/api/v1/admin/accounts/{}/deposits", a.id),
            &json!({ "amount": deposit }).to_string(),
        );
        a
    }

    fn req(&self, a: &Acct, method: &str, path: &str, body: &str) -> (u16, Value) {
        call(&self.s.base, Some(a), method, path, body)
    }

    fn orders_path() -> String {
        format!("/api/v1/markets/{SYMBOL}/orders")
    }

    fn place(&self, a: &Acct, order: Value) -> (u16, Value) {
        self.req(a, "POST", &Self::orders_path(), &order.to_string())
    }

    fn leverage(&self, a: &Acct, l: i64) -> (u16, Value) {
        let path = format!("/api/v1/markets/{SYMBOL}/leverage");
        self.req(a, "PUT", &path, &json!({ "leverage": l }).to_string())
    }

    fn cancel_all(&self, a: &Acct) {
        let (st, v) = self.req(a, "DELETE", &Self::orders_path(), "");
        assert_eq!(st, 200, "{v}");
    }

    fn view(&self, a: &Acct) -> Value {
        let (st, v) = self.req(a, "GET", "/api/v1/account", "");
        assert_eq!(st, 200, "{v}");
        v
    }

    fn index(&self, price: &str) {
        self.admin(
            "POST",
            &format!("/api/v1/admin/markets/{SYMBOL}/index-price"),
            &json!({ "price": price }).to_string(),
        );
    }

    /// One trade of 0.001 at `price`, `seller` resting and `buyer` taking (it moves the last
    /// price, which the mark follows with the index), then a pause of 50 ms.
    fn trade_at(&self, seller: &Acct, buyer: &Acct, price: &str) {
        let (st, o) = self.place(
            seller,
            json!({"side":"sell","type":"limit","quantity":"0.001","price":price}),
        );
        assert_eq!(st, 201, "{o}");
        let (st, o) = self.place(
            buyer,
            json!({"side":"buy","type":"limit","time_in_force":"ioc","quantity":"0.001","price":price}),
        );
        assert_eq!(st, 201, "{o}");
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Index and trades back to 50,000 until the mark is within 10 of it (bounded: 20 s).
    fn back_to_50000(&self, seller: &Acct, buyer: &Acct) {
        self.index("50000");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = self.admin("GET", &format!("/api/v1/markets/{SYMBOL}"), "");
            if d(&m["mark_price"]) >= Decimal::from(49_990) {
                break;
            }
            assert!(Instant::now() < deadline, "the mark did not come back: {m}");
            self.trade_at(seller, buyer, "50000");
        }
    }

    fn position(&self, a: &Acct) -> Decimal {
        self.view(a)["positions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["symbol"] == SYMBOL)
            .map_or(Decimal::ZERO, |p| d(&p["quantity"]))
    }

    /// The checks after every round (see the module doc). `fixed_mark`: accounts whose
    /// available balance must be ≥ 0.
    fn check(&self, what: &str, fixed_mark: &[&Acct], all: &[&Acct]) {
        let s = self.admin("GET", "/api/v1/admin/solvency", "");
        assert_eq!(s["conserved"], true, "{what}: money not conserved: {s}");
        assert!(
            d(&s["insurance_fund"]) >= Decimal::ZERO,
            "{what}: insurance fund {s}"
        );
        assert_eq!(s["accounts_in_liquidation"], 0, "{what}: {s}");
        for a in fixed_mark {
            let v = self.view(a);
            assert!(
                d(&v["available_balance"]) >= Decimal::ZERO,
                "{what}: account {} available {}",
                a.id,
                v
            );
        }
        for a in all {
            let v = self.view(a);
            assert_eq!(v["in_liquidation"], false, "{what}: {v}");
            let path = format!("{}?status=all&limit=1000", Self::orders_path());
            let (st, orders) = self.req(a, "GET", &path, "");
            assert_eq!(st, 200);
            for o in orders.as_array().unwrap() {
                let (q, f, r) = (
                    d(&o["quantity"]),
                    d(&o["filled_quantity"]),
                    d(&o["remaining_quantity"]),
                );
                assert!(f + r <= q, "{what}: order {o}");
            }
        }
    }
}

/// Run `n` closures on `n` threads released together; their results in order.
fn race<T: Send>(jobs: Vec<Box<dyn FnOnce() -> T + Send + '_>>) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(jobs.len()));
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let b = Arc::clone(&barrier);
                s.spawn(move || {
                    b.wait();
                    job()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn hostile_clients_cannot_break_money_safety() {
    let started = Instant::now();
    let v = Venue { s: start() };
    v.index("50000");
    let mm = v.account("10000000");

    // ---- 1. Amend storm: four raises, each fitting alone, sent at once.
    let a = v.account("1000");
    assert_eq!(v.leverage(&a, 10).0, 200);
    for round in 0..ROUNDS {
        let ids: Vec<u64> = (0..4)
            .map(|_| {
                let (st, o) = v.place(
                    &a,
                    json!({"side":"buy","type":"limit","quantity":"0.01","price":"40000"}),
                );
                assert_eq!(st, 201, "{o}");
                o["order_id"].as_u64().unwrap()
            })
            .collect();
        let jobs: Vec<Box<dyn FnOnce() -> (u16, Value) + Send>> = ids
            .iter()
            .map(|&id| {
                let (v, a) = (&v, a.clone());
                Box::new(move || {
                    let path = format!("{}/{id}", Venue::orders_path());
                    v.req(&a, "PATCH", &path, r#"{"quantity":"0.2"}"#)
                }) as Box<dyn FnOnce() -> (u16, Value) + Send>
            })
            .collect();
        let answers = race(jobs);
        let ok = answers.iter().filter(|(st, _)| *st == 200).count();
        for (st, body) in &answers {
            assert!(
                *st == 200 || (*st == 422 && code(body) == "INSUFFICIENT_MARGIN"),
                "round {round}: {st} {body}"
            );
        }
        assert!(ok <= 1, "round {round}: {ok} raises landed, only one fits");
        let view = v.view(&a);
        assert!(
            d(&view["order_margin"]) <= Decimal::from(1000),
            "round {round}: {view}"
        );
        v.check(&format!("amend storm {round}"), &[&a], &[&a]);
        v.cancel_all(&a);
    }

    // ---- 2. Leverage racing orders: at 100x (cap 250,000) a buy of 1.5 @ 45,000 fits; at 125x
    // (cap 50,000) it does not. Sent together, never both land.
    let l = v.account("20000");
    for round in 0..ROUNDS {
        assert_eq!(v.leverage(&l, 100).0, 200);
        let (v1, l1, v2, l2) = (&v, l.clone(), &v, l.clone());
        let answers = race(vec![
            Box::new(move || v1.leverage(&l1, 125)),
            Box::new(move || {
                v2.place(
                    &l2,
                    json!({"side":"buy","type":"limit","quantity":"1.5","price":"45000"}),
                )
            }),
        ]);
        let (lev, order) = (&answers[0], &answers[1]);
        assert!(
            lev.0 == 200 || (lev.0 == 422 && code(&lev.1) == "POSITION_LIMIT_EXCEEDED"),
            "{lev:?}"
        );
        assert!(
            order.0 == 201 || (order.0 == 422 && code(&order.1) == "POSITION_LIMIT_EXCEEDED"),
            "{order:?}"
        );
        assert!(
            !(lev.0 == 200 && order.0 == 201),
            "round {round}: both the 125x leverage and the order landed"
        );
        v.check(&format!("leverage race {round}"), &[&l], &[&l]);
        v.cancel_all(&l);
    }

    // ---- 3. Cancels racing fills: whoever wins, a closed order is 409, never 404.
    let c = v.account("100000");
    let mut fills = 0;
    for round in 0..2 * ROUNDS {
        let (st, o) = v.place(
            &c,
            json!({"side":"sell","type":"limit","quantity":"0.01","price":"50100"}),
        );
        assert_eq!(st, 201, "{o}");
        let id = o["order_id"].as_u64().unwrap();
        let (v1, m1, v2, c2) = (&v, mm.clone(), &v, c.clone());
        let answers = race(vec![
            Box::new(move || {
                v1.place(&m1, json!({"side":"buy","type":"limit","time_in_force":"ioc","quantity":"0.01","price":"50100"}))
            }),
            Box::new(move || v2.req(&c2, "DELETE", &format!("{}/{id}", Venue::orders_path()), "")),
        ]);
        let (take, cancel) = (&answers[0], &answers[1]);
        assert_eq!(take.0, 201, "{take:?}");
        let filled = d(&take.1["filled_quantity"]) > Decimal::ZERO;
        match cancel.0 {
            200 => assert!(!filled, "round {round}: cancelled and filled"),
            409 => {
                assert_eq!(code(&cancel.1), "ORDER_NOT_OPEN");
                assert!(filled, "round {round}: 409 without a fill");
            }
            other => panic!("round {round}: cancel answered {other} {}", cancel.1),
        }
        fills += usize::from(filled);
        // The same for an amend of the (now closed) order: 409.
        let (st, body) = v.req(
            &c,
            "PATCH",
            &format!("{}/{id}", Venue::orders_path()),
            r#"{"quantity":"0.02"}"#,
        );
        assert_eq!((st, code(&body)), (409, "ORDER_NOT_OPEN"), "{body}");
    }
    eprintln!(
        "cancel-vs-fill: {fills} of {} rounds filled first",
        2 * ROUNDS
    );
    v.check("cancel races", &[], &[&c, &mm]);

    // ---- 4. Withdrawals racing orders of the same account.
    for round in 0..ROUNDS {
        let w = v.account("1000");
        assert_eq!(v.leverage(&w, 10).0, 200);
        let mut jobs: Vec<Box<dyn FnOnce() -> (u16, Value) + Send>> = Vec::new();
        for i in 0..8 {
            let (vv, ww) = (&v, w.clone());
            jobs.push(if i % 2 == 0 {
                Box::new(move || {
                    vv.req(
                        &ww,
                        "POST",
                        "/api/v1/account/withdrawals",
                        r#"{"amount":"300"}"#,
                    )
                })
            } else {
                Box::new(move || {
                    vv.place(
                        &ww,
                        json!({"side":"buy","type":"limit","quantity":"0.05","price":"49000"}),
                    )
                })
            });
        }
        for (st, body) in race(jobs) {
            assert!(
                matches!(st, 200 | 201)
                    || (st == 422
                        && matches!(code(&body), "INSUFFICIENT_BALANCE" | "INSUFFICIENT_MARGIN")),
                "round {round}: {st} {body}"
            );
        }
        let view = v.view(&w);
        assert!(d(&view["wallet_balance"]) >= Decimal::ZERO);
        v.check(&format!("withdrawal race {round}"), &[&w], &[&w]);
    }

    // ---- 5. A reduce-only close far beyond bankruptcy against a colluding bid.
    let r = v.account("600");
    let colluder = v.account("100000");
    assert_eq!(v.leverage(&r, 100).0, 200);
    let fund_before = d(&v.admin("GET", "/api/v1/admin/solvency", "")["insurance_fund"]);
    let (st, o) = v.place(
        &mm,
        json!({"side":"sell","type":"limit","quantity":"1","price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, o) = v.place(
        &r,
        json!({"side":"buy","type":"limit","time_in_force":"ioc","quantity":"1","price":"50000"}),
    );
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    let (st, o) = v.place(
        &colluder,
        json!({"side":"buy","type":"limit","quantity":"1","price":"40000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, body) = v.place(&r, json!({"side":"sell","type":"limit","time_in_force":"ioc","quantity":"1","price":"40000","reduce_only":true}));
    assert_eq!((st, code(&body)), (422, "INSUFFICIENT_MARGIN"), "{body}");
    // A reduce-only market sell is capped at the bankruptcy price: the 40,000 bid is out of reach.
    let (st, o) = v.place(
        &r,
        json!({"side":"sell","type":"market","quantity":"1","reduce_only":true}),
    );
    assert_eq!(st, 201, "{o}");
    assert_eq!(
        (o["status"].as_str(), o["filled_quantity"].as_str()),
        (Some("expired"), Some("0")),
        "{o}"
    );
    assert_eq!(v.position(&r), Decimal::ONE);
    let fund_after = d(&v.admin("GET", "/api/v1/admin/solvency", "")["insurance_fund"]);
    assert!(
        fund_after >= fund_before,
        "the fund paid for a chosen loss: {fund_before} → {fund_after}"
    );
    // Within the bound it closes normally.
    v.cancel_all(&colluder);
    let (st, _) = v.place(
        &mm,
        json!({"side":"buy","type":"limit","quantity":"1","price":"49990"}),
    );
    assert_eq!(st, 201);
    let (st, o) = v.place(
        &r,
        json!({"side":"sell","type":"market","quantity":"1","reduce_only":true}),
    );
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    assert!(d(&v.view(&r)["wallet_balance"]) > Decimal::ZERO);
    v.cancel_all(&mm);
    v.check(
        "reduce-only beyond bankruptcy",
        &[&r],
        &[&r, &colluder, &mm],
    );

    // ---- 6. Isolated margin under races.
    isolated_races(&v, &mm);

    // ---- 7. Hedge mode under races.
    hedge_races(&v, &mm);

    // ---- 8. Take-profit / stop-loss under races.
    tpsl::races(&v, &mm);

    // ---- 9. A liquidation cascade of 40 accounts while three clients keep trading.
    cascade(&v, &mm);
    eprintln!(
        "adversarial suite took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Isolated margin under concurrent commands of one account (docs/RULES.md §3a):
/// 1. margin added and removed while orders arrive: whatever lands, the available balance
///    stays ≥ 0 and the isolated wallet never goes below zero;
/// 2. a switch back to cross racing a new order: never both (a mode change needs no order and
///    no position, and the order is placed in the mode it was checked in);
/// 3. the isolated long is liquidated by a price fall while its owner's cross wallet (and
///    the cross position next to it) is untouched.
fn isolated_races(v: &Venue, mm: &Acct) {
    let mode = |a: &Acct, m: &str| {
        let path = format!("/api/v1/markets/{SYMBOL}/margin_mode");
        v.req(a, "PUT", &path, &json!({ "margin_mode": m }).to_string())
    };
    let margin = |a: &Acct, amount: &str, direction: &str| {
        let path = format!("/api/v1/markets/{SYMBOL}/isolated_margin");
        let body = json!({ "amount": amount, "direction": direction }).to_string();
        v.req(a, "POST", &path, &body)
    };
    let i = v.account("3000");
    assert_eq!(mode(&i, "isolated").0, 200);
    assert_eq!(v.leverage(&i, 20).0, 200);
    // An isolated long of 0.5 @ 50,000: 1,250 moves into its wallet.
    let (st, o) = v.place(
        mm,
        json!({"side":"sell","type":"limit","quantity":"0.5","price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, o) = v.place(&i, json!({"side":"buy","type":"market","quantity":"0.5"}));
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    for round in 0..ROUNDS {
        let mut jobs: Vec<Box<dyn FnOnce() -> (u16, Value) + Send>> = Vec::new();
        for k in 0..8 {
            let (vv, ii) = (v, i.clone());
            jobs.push(match k % 4 {
                0 => Box::new(move || {
                    let path = format!("/api/v1/markets/{SYMBOL}/isolated_margin");
                    vv.req(&ii, "POST", &path, r#"{"amount":"600","direction":"add"}"#)
                }),
                1 => Box::new(move || {
                    let path = format!("/api/v1/markets/{SYMBOL}/isolated_margin");
                    vv.req(
                        &ii,
                        "POST",
                        &path,
                        r#"{"amount":"500","direction":"reduce"}"#,
                    )
                }),
                _ => Box::new(move || {
                    vv.place(
                        &ii,
                        json!({"side":"buy","type":"limit","quantity":"0.02","price":"45000"}),
                    )
                }),
            });
        }
        for (st, body) in race(jobs) {
            assert!(
                matches!(st, 200 | 201)
                    || (st == 422
                        && matches!(
                            code(&body),
                            "INSUFFICIENT_BALANCE"
                                | "INSUFFICIENT_MARGIN"
                                | "INSUFFICIENT_ISOLATED_MARGIN"
                        )),
                "round {round}: {st} {body}"
            );
        }
        let view = v.view(&i);
        let p = &view["positions"][0];
        assert!(
            d(&p["isolated_wallet"]) > Decimal::ZERO,
            "round {round}: {view}"
        );
        v.check(&format!("isolated transfers {round}"), &[&i], &[&i]);
        v.cancel_all(&i);
    }
    // Flat and without orders, a switch to cross races a new order: never both land in a way
    // that breaks the rule (the ledger's audit in `check` would flag a position whose mode
    // disagrees with its market's).
    let (st, o) = v.place(
        mm,
        json!({"side":"buy","type":"limit","quantity":"0.5","price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, o) = v.place(
        &i,
        json!({"side":"sell","type":"market","quantity":"0.5","reduce_only":true}),
    );
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    v.cancel_all(mm);
    for round in 0..ROUNDS {
        let target = if round % 2 == 0 { "cross" } else { "isolated" };
        let (v1, i1, v2, i2) = (v, i.clone(), v, i.clone());
        let answers = race(vec![
            Box::new(move || {
                let path = format!("/api/v1/markets/{SYMBOL}/margin_mode");
                v1.req(
                    &i1,
                    "PUT",
                    &path,
                    &json!({ "margin_mode": target }).to_string(),
                )
            }),
            Box::new(move || {
                v2.place(
                    &i2,
                    json!({"side":"buy","type":"limit","quantity":"0.01","price":"44000"}),
                )
            }),
        ]);
        let (sw, order) = (&answers[0], &answers[1]);
        assert_eq!(order.0, 201, "{order:?}");
        match sw.0 {
            // The switch came first (or changed nothing).
            200 => {}
            409 => assert_eq!(code(&sw.1), "MARGIN_MODE_LOCKED", "{sw:?}"),
            other => panic!("round {round}: switch answered {other} {}", sw.1),
        }
        v.check(&format!("mode switch race {round}"), &[&i], &[&i]);
        v.cancel_all(&i);
        // Whatever happened, a switch without orders now lands.
        assert_eq!(mode(&i, target).0, 200, "round {round}");
    }
    // An isolated long liquidated by a fall, next to a cross short in the same account... in
    // one market the account is either mode, so the cross part is its wallet: it must not move.
    assert_eq!(mode(&i, "isolated").0, 200);
    assert_eq!(v.leverage(&i, 50).0, 200);
    let (st, o) = v.place(
        mm,
        json!({"side":"sell","type":"limit","quantity":"0.2","price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, o) = v.place(&i, json!({"side":"buy","type":"market","quantity":"0.2"}));
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    let cross = d(&v.view(&i)["cross_wallet_balance"]);
    assert_eq!(margin(&i, "1", "add").0, 200);
    let cross = cross - Decimal::ONE;
    // The index and the trades (the mark's inputs) fall to 48,800: the isolated long (wallet
    // 196, liquidation price ≈ 49,217) is liquidated, by the book, the fund or ADL.
    v.index("48800");
    let t = v.account("100000");
    let deadline = Instant::now() + Duration::from_secs(20);
    while v.position(&i) != Decimal::ZERO {
        assert!(
            Instant::now() < deadline,
            "isolated liquidation did not finish: {}",
            v.view(&i)
        );
        v.trade_at(&t, mm, "48800");
    }
    let view = v.view(&i);
    assert!(
        d(&view["cross_wallet_balance"]) >= cross,
        "the cross wallet paid: {view}"
    );
    assert_eq!(
        view["wallet_balance"], view["cross_wallet_balance"],
        "{view}"
    );
    // Back to 50,000 (index and trades) for what follows.
    v.back_to_50000(&t, mm);
    v.cancel_all(mm);
    v.cancel_all(&t);
    v.check("isolated liquidation", &[&i], &[&i, mm]);
    assert_eq!(mode(&i, "cross").0, 200);
}

/// Hedge mode under concurrent commands of one account (docs/RULES.md §3b):
/// 1. eight closing sells (`sell` + `long`, 0.03 each) race against a long leg of 0.1 with
///    deep bids: at most the leg closes, it never flips short, and the short leg beside it is
///    untouched (a close never opens);
/// 2. a switch back to one-way racing a `long` order: either the switch lands and the order is
///    refused (`POSITION_SIDE_MISMATCH`), or the order lands and the switch is refused
///    (`POSITION_MODE_LOCKED`); never both;
/// 3. a hedge account's cross pool (long 0.3, short 0.05) liquidated by a fall, through the
///    actors: the long leg is closed, the short never flips, money is conserved.
fn hedge_races(v: &Venue, mm: &Acct) {
    let mode = |a: &Acct, m: &str| {
        let body = json!({ "position_mode": m }).to_string();
        v.req(a, "PUT", "/api/v1/account/position_mode", &body)
    };
    let legs = |a: &Acct| {
        let view = v.view(a);
        let mut long = Decimal::ZERO;
        let mut short = Decimal::ZERO;
        for p in view["positions"].as_array().unwrap() {
            match p["position_side"].as_str() {
                Some("long") => long = d(&p["quantity"]),
                Some("short") => short = d(&p["quantity"]),
                other => panic!("a hedge position on leg {other:?}: {view}"),
            }
        }
        (long, short)
    };
    let h = v.account("5000");
    let (st, body) = mode(&h, "hedge");
    assert_eq!(st, 200, "{body}");
    // A short leg of 0.05 that no close may touch.
    let (st, o) = v.place(
        mm,
        json!({"side":"buy","type":"limit","quantity":"0.05","price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, o) = v.place(
        &h,
        json!({"side":"sell","type":"market","quantity":"0.05","position_side":"short"}),
    );
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    for round in 0..ROUNDS {
        // Open a long of 0.1, then bids deep enough for every close.
        let (st, o) = v.place(
            mm,
            json!({"side":"sell","type":"limit","quantity":"0.1","price":"50000"}),
        );
        assert_eq!(st, 201, "{o}");
        let (st, o) = v.place(
            &h,
            json!({"side":"buy","type":"market","quantity":"0.1","position_side":"long"}),
        );
        assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
        let (st, o) = v.place(
            mm,
            json!({"side":"buy","type":"limit","quantity":"1","price":"49990"}),
        );
        assert_eq!(st, 201, "{o}");
        let jobs: Vec<Box<dyn FnOnce() -> (u16, Value) + Send>> = (0..8)
            .map(|_| {
                let (vv, hh) = (v, h.clone());
                Box::new(move || {
                    vv.place(
                        &hh,
                        json!({"side":"sell","type":"market","quantity":"0.03","position_side":"long"}),
                    )
                }) as Box<dyn FnOnce() -> (u16, Value) + Send>
            })
            .collect();
        let mut sold = Decimal::ZERO;
        for (st, body) in race(jobs) {
            match st {
                201 => sold += d(&body["filled_quantity"]),
                422 => assert_eq!(code(&body), "REDUCE_ONLY_REJECTED", "round {round}: {body}"),
                other => panic!("round {round}: close answered {other} {body}"),
            }
        }
        let (long, short) = legs(&h);
        assert_eq!(
            sold,
            Decimal::new(1, 1),
            "round {round}: the closes sold the whole leg"
        );
        assert_eq!(long, Decimal::ZERO, "round {round}: the long leg");
        assert_eq!(
            short,
            Decimal::new(-5, 2),
            "round {round}: the short leg moved"
        );
        v.cancel_all(mm);
        v.check(&format!("hedge closes {round}"), &[&h], &[&h, mm]);
    }
    // Close the short: flat, without orders.
    let (st, o) = v.place(
        mm,
        json!({"side":"sell","type":"limit","quantity":"0.05","price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    let (st, o) = v.place(
        &h,
        json!({"side":"buy","type":"market","quantity":"0.05","position_side":"short"}),
    );
    assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    v.cancel_all(mm);
    for round in 0..ROUNDS {
        // Each round starts in hedge mode, flat and without orders.
        let (v1, h1, v2, h2) = (v, h.clone(), v, h.clone());
        let answers = race(vec![
            Box::new(move || {
                let body = json!({ "position_mode": "one_way" }).to_string();
                v1.req(&h1, "PUT", "/api/v1/account/position_mode", &body)
            }),
            Box::new(move || {
                v2.place(
                    &h2,
                    json!({"side":"buy","type":"limit","quantity":"0.01","price":"44000","position_side":"long"}),
                )
            }),
        ]);
        let (sw, order) = (&answers[0], &answers[1]);
        match (sw.0, order.0) {
            (200, 409) => assert_eq!(code(&order.1), "POSITION_SIDE_MISMATCH", "{order:?}"),
            (409, 201) => assert_eq!(code(&sw.1), "POSITION_MODE_LOCKED", "{sw:?}"),
            other => panic!("round {round}: switch and order answered {other:?}: {answers:?}"),
        }
        v.check(&format!("position mode race {round}"), &[&h], &[&h]);
        v.cancel_all(&h);
        assert_eq!(mode(&h, "hedge").0, 200, "round {round}");
    }
    assert_eq!(mode(&h, "one_way").0, 200);

    // A hedge account's cross pool liquidated through the actors: a long of 0.3 beside a short
    // of 0.05 at 50x on 380. The market falls to 48,500: the long loses 450, the short gains
    // 75, the pool is under maintenance. The workflow closes the long leg with an order of
    // its own leg (or the fund / ADL takes it); the short leg never flips.
    let g = v.account("380");
    assert_eq!(mode(&g, "hedge").0, 200);
    assert_eq!(v.leverage(&g, 50).0, 200);
    for (side, qty, leg) in [("buy", "0.3", "long"), ("sell", "0.05", "short")] {
        let other = if side == "buy" { "sell" } else { "buy" };
        let (st, o) = v.place(
            mm,
            json!({"side": other, "type": "limit", "quantity": qty, "price": "50000"}),
        );
        assert_eq!(st, 201, "{o}");
        let (st, o) = v.place(
            &g,
            json!({"side": side, "type": "limit", "time_in_force": "ioc", "price": "50000",
                   "quantity": qty, "position_side": leg}),
        );
        assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    }
    assert_eq!(legs(&g), (Decimal::new(3, 1), Decimal::new(-5, 2)));
    v.index("48500");
    let t = v.account("100000");
    let deadline = Instant::now() + Duration::from_secs(20);
    while legs(&g).0 != Decimal::ZERO {
        assert!(
            Instant::now() < deadline,
            "hedge liquidation did not finish: {}",
            v.view(&g)
        );
        v.trade_at(&t, mm, "48500");
    }
    let (long, short) = legs(&g);
    assert_eq!(long, Decimal::ZERO);
    assert!(
        short <= Decimal::ZERO && short >= Decimal::new(-5, 2),
        "the short leg flipped or grew: {short}"
    );
    // Back to 50,000 (index and trades) for what follows.
    v.back_to_50000(&t, mm);
    v.cancel_all(mm);
    v.cancel_all(&t);
    v.check("hedge liquidation", &[], &[&g, mm]);
}

/// 40 longs of 0.1 @ 50,000 at 50x on 130 each; the market (trades and index) moves to 48,500
/// in three steps while three clients trade at the current level. Every long must end flat and
/// out of liquidation, its wallet ≥ 0, with the fund never negative.
fn cascade(v: &Venue, mm: &Acct) {
    let longs: Vec<Acct> = (0..40).map(|_| v.account("130")).collect();
    let (st, o) = v.place(
        mm,
        json!({"side":"sell","type":"limit","quantity":"4","price":"50000"}),
    );
    assert_eq!(st, 201, "{o}");
    for a in &longs {
        assert_eq!(v.leverage(a, 50).0, 200);
        let (st, o) = v.place(a, json!({"side":"buy","type":"limit","time_in_force":"ioc","quantity":"0.1","price":"50000"}));
        assert_eq!((st, o["status"].as_str()), (201, Some("filled")), "{o}");
    }
    let traders: Vec<Acct> = (0..3).map(|_| v.account("10000000")).collect();
    let level = Arc::new(std::sync::atomic::AtomicI64::new(500_000));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let base = v.s.base.clone();
    let mut done_at = None;
    std::thread::scope(|s| {
        for (i, t) in traders.iter().enumerate() {
            let (level, stop, base) = (Arc::clone(&level), Arc::clone(&stop), base.clone());
            let other = traders[(i + 1) % traders.len()].clone();
            s.spawn(move || {
                // Rest a small ask at the level and take it from another trader: trades (and so
                // `last`, one of the mark's inputs) follow the level.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let p = level.load(std::sync::atomic::Ordering::Relaxed);
                    let price = format!("{}.{}", p / 10, p % 10);
                    let ask = json!({"side":"sell","type":"limit","quantity":"0.001","price": price});
                    let (st, body) = call(&base, Some(t), "POST", &Venue::orders_path(), &ask.to_string());
                    assert!(matches!(st, 201 | 422), "trader: {st} {body}");
                    let bid = json!({"side":"buy","type":"limit","time_in_force":"ioc","quantity":"0.001","price": price});
                    let (st, body) = call(&base, Some(&other), "POST", &Venue::orders_path(), &bid.to_string());
                    assert!(matches!(st, 201 | 422), "trader: {st} {body}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        let mut pushed = Instant::now();
        for step in ["49500", "49000", "48500"] {
            let ticks: i64 = step.parse::<i64>().unwrap() * 10;
            level.store(ticks, std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(300));
            v.index(step);
            pushed = Instant::now();
            if step != "48500" {
                std::thread::sleep(Duration::from_millis(700));
            }
        }
        let deadline = pushed + Duration::from_secs(60);
        loop {
            let s = v.admin("GET", "/api/v1/admin/solvency", "");
            assert!(
                d(&s["insurance_fund"]) >= Decimal::ZERO,
                "fund went negative: {s}"
            );
            let flat = longs.iter().all(|a| v.position(a).is_zero());
            if flat && s["accounts_in_liquidation"] == 0 {
                done_at = Some(pushed.elapsed());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "liquidations stuck: {s}, {}",
                v.admin("GET", "/api/v1/admin/liquidations", "")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let took = done_at.expect("measured");
    // They were liquidated, not merely flat: each account and market counts once.
    let (st, metrics) = {
        let (base, _) = (v.s.base.clone(), ());
        actix_web::rt::System::new().block_on(async move {
            let mut r = awc::Client::default()
                .get(format!("{base}/metrics"))
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                String::from_utf8(r.body().limit(16 << 20).await.unwrap().to_vec()).unwrap(),
            )
        })
    };
    assert_eq!(st, 200);
    let liquidated: f64 = metrics
        .lines()
        .find(|l| l.starts_with("perpx_liquidations_total{market=\"BTC-PERP\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("liquidations counted");
    assert!(liquidated >= 40.0, "{liquidated} liquidations counted");
    eprintln!(
        "liquidation cascade: 40 accounts flat and out of liquidation {:.2} s after the last index push",
        took.as_secs_f64()
    );
    for a in &longs {
        let view = v.view(a);
        assert!(d(&view["wallet_balance"]) >= Decimal::ZERO, "{view}");
        assert_eq!(view["in_liquidation"], false);
    }
    let all: Vec<&Acct> = longs.iter().chain(traders.iter()).chain([mm]).collect();
    v.check("cascade", &[], &all);
}
