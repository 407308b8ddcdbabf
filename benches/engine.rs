//! Orders through the actor path, no HTTP (issue: actor runtime).
//!
//! Every command goes API handle → AccountActor (R1) → MarketActor → AccountActor (R2) →
//! reply, with market data published. Journal: off (pure actor path), then the same with
//! `durability = "immediate"` on a temporary redb journal. The shipped `markets.toml`
//! markets; accounts with large deposits.
//!
//! Workloads:
//! - closed loop with 1, 16 and 256 concurrent submitters: each places GTC limit orders of one
//!   lot on BTC-PERP at a random price within ±5 ticks of 50,000 (about half cross and trade),
//!   and every fourth command cancels one of its own earlier orders; completed commands/s;
//! - open loop at 100,000 orders/s offered: 20 maker accounts first fill the book with 1,000
//!   bids and 1,000 asks of 150 lots within ±50 ticks; then IOC limit orders of one lot at
//!   ±60 ticks on a random side, each with a planned send time; latency = reply time −
//!   planned time (queueing is not hidden). Dispatch runs on the submitting runtime's timer,
//!   so it is batched per millisecond, and that delay is counted too.
//!
//! The machine has 2 cores; the market, account, risk and funding arbiters and the submitters
//! all share them. Run: `cargo bench --bench engine` (`PERPX_BENCH_SECS` per run, default 3).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use perpx::actors::messages::OrderRequest;
use perpx::actors::{Exchange, StartOptions};
use perpx::clock::SystemClock;
use perpx::config::{Config, Durability};
use perpx::domain::OrderTerms;
use perpx::domain::{AccountId, OrderId, OrderType, Price, Qty, Side, Stp, TimeInForce, TriggerBy};
use perpx::persistence::{Journal, JournalConfig, Store};
use perpx::risk::MarketId;
use rust_decimal::Decimal;

const BTC: MarketId = MarketId(0);

fn secs() -> f64 {
    std::env::var("PERPX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0)
}

/// A small deterministic generator (xorshift), one per submitter.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn order(rng: &mut Rng) -> OrderRequest {
    let side = if rng.next().is_multiple_of(2) {
        Side::Buy
    } else {
        Side::Sell
    };
    let offset = (rng.next() % 11) as i64 - 5;
    OrderRequest {
        terms: OrderTerms {
            position_side: Default::default(),
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Some(Price(500_000 + offset)),
            qty: Qty(1),
            reduce_only: false,
            stp: Stp::None,
            trigger_price: None,
            trigger_by: TriggerBy::Last,
            close_position: false,
        },
        client_order_id: None,
        attached: Default::default(),
    }
}

async fn setup(journal: Option<Arc<Journal>>, accounts: usize) -> (Exchange, Vec<AccountId>) {
    let mut config = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/markets.toml"
    )))
    .expect("markets.toml");
    config.server.durability = Durability::Immediate;
    let opts = StartOptions {
        clock: Arc::new(SystemClock),
        journal,
        timers: false,
        market_in_flight: 1 << 20,
        account_in_flight: 1 << 20,
        feed_capacity: 4096,
        follower: false,
    };
    let ex = Exchange::start(&config, config.fresh_state(), opts);
    let mut ids = Vec::new();
    for _ in 0..accounts {
        let a = ex.open_account().await.expect("account");
        ex.deposit(a, Decimal::from(1_000_000_000u64))
            .await
            .expect("deposit");
        ids.push(a);
    }
    (ex, ids)
}

/// One submitter: place, and every fourth command cancel an earlier own order.
async fn submit_loop(
    ex: Rc<Exchange>,
    account: AccountId,
    seed: u64,
    until: Instant,
    done: Rc<RefCell<(u64, u64)>>,
) {
    let mut rng = Rng(seed | 1);
    let mut mine: Vec<OrderId> = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let ok = if n.is_multiple_of(4) && !mine.is_empty() {
            let id = mine.swap_remove((rng.next() as usize) % mine.len());
            // Filled meanwhile by someone else: ORDER_NOT_OPEN is a normal answer here.
            matches!(
                ex.cancel_order(account, BTC, id).await,
                Ok(_) | Err(perpx::domain::Reject::OrderNotOpen)
            )
        } else {
            match ex.place_order(account, BTC, order(&mut rng)).await {
                Ok(r) => {
                    if !r.order.status.is_closed() {
                        mine.push(r.order.order.order_id);
                    }
                    true
                }
                Err(_) => false,
            }
        };
        let mut d = done.borrow_mut();
        d.0 += 1;
        d.1 += u64::from(!ok);
    }
}

async fn closed_loop(submitters: usize, journal: bool) -> (f64, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let j = journal.then(|| {
        Arc::new(
            Journal::start(
                Store::open(dir.path()).expect("store"),
                JournalConfig::default(),
                None,
            )
            .expect("journal"),
        )
    });
    let (ex, accounts) = setup(j, submitters.min(64)).await;
    let ex = Rc::new(ex);
    let done = Rc::new(RefCell::new((0u64, 0u64)));
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs_f64(secs());
    let tasks: Vec<_> = (0..submitters)
        .map(|i| {
            let (ex, done) = (Rc::clone(&ex), Rc::clone(&done));
            tokio::task::spawn_local(submit_loop(
                ex,
                accounts[i % accounts.len()],
                0x9E37_79B9 * (i as u64 + 1),
                until,
                done,
            ))
        })
        .collect();
    for t in tasks {
        t.await.expect("submitter");
    }
    let (n, errors) = *done.borrow();
    (n as f64 / t0.elapsed().as_secs_f64(), errors)
}

async fn open_loop(rate: u64) -> (f64, Histogram<u64>, u64) {
    let (ex, accounts) = setup(None, 84).await;
    let (makers, accounts) = accounts.split_at(20);
    for (i, &m) in makers.iter().enumerate() {
        for k in 0..50i64 {
            for side in [Side::Buy, Side::Sell] {
                let off = 1 + (k + i as i64 * 50) % 50;
                let price = if side == Side::Buy {
                    500_000 - off
                } else {
                    500_000 + off
                };
                let base = order(&mut Rng(1));
                let req = OrderRequest {
                    terms: OrderTerms {
                        side,
                        price: Some(Price(price)),
                        qty: Qty(150),
                        ..base.terms
                    },
                    ..base
                };
                ex.place_order(m, BTC, req)
                    .await
                    .expect("pre-fill order rests");
            }
        }
    }
    let ex = Rc::new(ex);
    let hist = Rc::new(RefCell::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
    ));
    let t0 = Instant::now();
    let total = (rate as f64 * secs()) as u64;
    let mut rng = Rng(42);
    let mut tasks = Vec::with_capacity(total as usize);
    let mut errors = 0u64;
    for i in 0..total {
        let planned = t0 + Duration::from_nanos(i * 1_000_000_000 / rate);
        if planned > Instant::now() {
            tokio::time::sleep_until(planned.into()).await;
        }
        let (ex, hist) = (Rc::clone(&ex), Rc::clone(&hist));
        let account = accounts[(i as usize) % accounts.len()];
        let mut req = order(&mut rng);
        req.terms.tif = TimeInForce::Ioc;
        req.terms.price = Some(Price(if req.terms.side == Side::Buy {
            500_060
        } else {
            499_940
        }));
        tasks.push(tokio::task::spawn_local(async move {
            let ok = ex.place_order(account, BTC, req).await.is_ok();
            let us = planned.elapsed().as_micros() as u64;
            hist.borrow_mut().record(us.max(1)).expect("record");
            ok
        }));
    }
    for t in tasks {
        if !t.await.unwrap_or(false) {
            errors += 1;
        }
    }
    let achieved = total as f64 / t0.elapsed().as_secs_f64();
    let h = hist.borrow().clone();
    (achieved, h, errors)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sys = actix::System::new();
    sys.block_on(async {
        println!("engine bench: actor path without HTTP, {:.0} s per run, 2 cores shared by everything", secs());
        let mut rows = Vec::new();
        for (n, journal) in [(1, false), (16, false), (256, false), (256, true)] {
            println!("  closed loop, {n} submitter(s){} ...", if journal { ", journal immediate" } else { "" });
            let (r, errors) = closed_loop(n, journal).await;
            println!("    {r:.0} commands/s ({errors} refused)");
            rows.push((n, journal, r));
        }
        println!("  open loop, 100,000 orders/s offered ...");
        let (achieved, h, errors) = open_loop(100_000).await;
        let us = |q: f64| h.value_at_quantile(q);
        println!("\n| run | commands/s |\n|---|---:|");
        for (n, j, r) in &rows {
            println!("| closed loop, {n} submitters{} | {r:.0} |", if *j { ", journal immediate" } else { "" });
        }
        println!(
            "\nopen loop at 100,000 orders/s offered: {achieved:.0} orders/s sent, errors {errors}; latency from planned send time: p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
            us(0.5),
            us(0.99),
            us(0.999),
            h.max()
        );
        let best = rows.iter().filter(|r| r.0 == 256 && !r.1).map(|r| r.2).fold(0.0, f64::max);
        println!(
            "targets: >= 500,000 orders/s with 256 submitters: {} ({best:.0}); p99 <= 50 µs at 100k/s offered: {} ({} µs)",
            if best >= 500_000.0 { "PASS" } else { "MISS" },
            if us(0.99) <= 50 { "PASS" } else { "MISS" },
            us(0.99)
        );
    });
}
