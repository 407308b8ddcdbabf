//! Recovery time (issue 6): how long a restart takes to rebuild the exchange state.
//!
//! Workload: `PERPX_BENCH_ORDERS` (default 1,000,000) GTC limit orders of 1–5 lots from 500
//! funded accounts, alternating BTC-PERP and ETH-PERP, priced within ±10 ticks of the
//! initial mark (about half cross and trade), plus a cancel of an earlier order after every
//! fourth order and a mark update every 10,000 orders. The batches are exactly what the
//! AccountActor journals (accepted + book events + R1/R2 ledger events + client ids), made
//! by running the engines, ledger and order store directly (`tests/common/driver.rs`), then
//! written through the journal thread (group commit, `Durability::Immediate`).
//!
//! Measured (wall time of `recover`, which includes reading redb, decoding, applying and the
//! final invariant checks), each with the order store on a second thread and on one thread:
//! - from the journal only (no snapshot);
//! - from a snapshot set at 90 % of the journal + the 10 % tail (and each entity's snapshot
//!   size and decode time);
//! - a deep book: one market with 1,000,000 resting orders, snapshot encode and
//!   decode + restore.
//!
//! Also printed, to show where replay time goes: decoding and applying each entity alone, in
//! memory, and reading the journal alone. Excluded from the timings: generating the workload
//! and writing the journal (reported as setup). The machine is shared (2 cores): compare runs
//! only with the load average printed at the end.
//! Run: `cargo bench --bench recovery` (≈ 1–2 min on 2 cores).

#[path = "../tests/common/driver.rs"]
mod driver;

use std::time::{Duration, Instant};

use driver::{config, Order, Rng, Sim};
use perpx::domain::TimeInForce;
use perpx::domain::{AccountId, OrderId, OrderTerms, OrderType, Price, Qty, Side, Stp};
use perpx::domain::{Timestamp, TriggerBy};
use perpx::engine::market::{MarketEngine, MarketSnapshot, PlaceOrder};
use perpx::persistence::codec::{self, Batch};
use perpx::persistence::{
    recover_with, Journal, JournalConfig, RecoveryOptions, Replica, StateHashes, Store,
};
use perpx::risk::MarketId;
use rust_decimal::Decimal;

fn orders() -> usize {
    std::env::var("PERPX_BENCH_ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn mid_ticks(sim: &Sim, m: MarketId) -> i64 {
    let s = sim.engines[m.index()].spec();
    (s.initial_index_price / s.tick_size)
        .trunc()
        .to_string()
        .parse()
        .expect("integral ticks")
}

fn generate(n: usize) -> (Sim, Vec<Batch>) {
    let cfg = config();
    let mut sim = Sim::new(&cfg);
    let mut batches = Vec::with_capacity(n * 5 / 4 + 2000);
    let mut accounts = Vec::new();
    for _ in 0..500 {
        let (id, b) = sim.open_funded(Decimal::from(1_000_000_000));
        accounts.push(id);
        batches.extend(b);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut recent: Vec<(MarketId, AccountId, OrderId)> = Vec::new();
    let started = Instant::now();
    let mut accepted = 0u64;
    for i in 0..n {
        let m = MarketId((i % 2) as u16);
        let a = accounts[rng.below(accounts.len() as u64) as usize];
        let side = if rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = mid_ticks(&sim, m) + rng.below(21) as i64 - 10;
        let qty = 1 + rng.below(5) as i64;
        if let Some(b) = sim.place(m, a, Order::limit(side, price, qty)) {
            if let Some(perpx::engine::market::MarketEvent::Accepted(x)) = b.market_events.first() {
                recent.push((m, a, x.order_id));
                accepted += 1;
            }
            batches.push(b);
        }
        if i % 4 == 3 && !recent.is_empty() {
            let (m, a, id) = recent.swap_remove(rng.below(recent.len() as u64) as usize);
            batches.extend(sim.cancel(m, a, id));
        }
        if recent.len() > 4096 {
            recent.drain(..2048);
        }
        if i % 10_000 == 9_999 {
            let spec = sim.engines[m.index()].spec().clone();
            let delta = Decimal::from(rng.below(11) as i64 - 5) * spec.tick_size;
            batches.extend(sim.set_mark(m, spec.initial_index_price + delta));
        }
        if (i + 1) % 100_000 == 0 {
            println!(
                "  generated {:>9} orders ({:>3} %), {} batches, {:.1} s",
                i + 1,
                (i + 1) * 100 / n,
                batches.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!("  {accepted} of {n} orders accepted (the rest refused at R1: open-order limit)");
    (sim, batches)
}

fn write_journal(dir: &std::path::Path, batches: &[Batch]) -> Duration {
    let started = Instant::now();
    let j = Journal::start(
        Store::open(dir).expect("temp store"),
        JournalConfig {
            queue_bound: 65_536,
            max_batch_events: 65_536,
            sync_every: None,
        },
        None,
    )
    .expect("journal starts");
    for (i, b) in batches.iter().enumerate() {
        let bytes = codec::encode(b);
        let events = b.len() as u32;
        while j.try_append(bytes.clone(), events, None).is_err() {
            std::thread::yield_now();
        }
        if (i + 1) % 250_000 == 0 {
            println!("  journaled {:>9} batches", i + 1);
        }
    }
    j.close().expect("journal closes");
    started.elapsed()
}

fn hashes(sim: &Sim) -> StateHashes {
    StateHashes {
        ledger: sim.accounts.ledger.state_hash(),
        orders: sim.accounts.orders.state_hash(),
        markets: sim.engines.iter().map(MarketEngine::state_hash).collect(),
    }
}

fn recovered_hashes(r: &perpx::persistence::Recovered) -> StateHashes {
    StateHashes {
        ledger: r.initial.ledger.state_hash(),
        orders: r.initial.orders.state_hash(),
        markets: r
            .initial
            .engines
            .iter()
            .map(MarketEngine::state_hash)
            .collect(),
    }
}

/// A book with `n` resting orders that never cross (bids below the mark, asks above).
fn deep_book(n: usize) -> MarketEngine {
    let spec = config().markets[0].clone();
    let mut e = MarketEngine::new(spec);
    let mut out = Vec::new();
    for i in 0..n {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let off = 1 + (i / 2 % 10_000) as i64;
        let price = if side == Side::Buy {
            500_000 - off
        } else {
            500_000 + off
        };
        let p = PlaceOrder {
            order: perpx::domain::Order {
                order_id: OrderId(i as u64 + 1),
                account: AccountId(100 + (i / 150) as u64),
                terms: OrderTerms {
                    position_side: Default::default(),
                    side,
                    order_type: OrderType::Limit,
                    tif: TimeInForce::Gtc,
                    price: Some(Price(price)),
                    qty: Qty(1 + (i % 7) as i64),
                    reduce_only: false,
                    stp: Stp::ExpireMaker,
                    trigger_price: None,
                    trigger_by: TriggerBy::Last,
                    close_position: false,
                },
                liquidation: false,
            },
            protect: None,
            linked: Default::default(),
        };
        out.clear();
        e.place(p, Timestamp(1), &mut out)
            .expect("valid resting order");
    }
    e
}

fn main() {
    let n = orders();
    let cfg = config();
    println!("recovery benchmark: {n} orders");
    let t = Instant::now();
    let (sim, batches) = generate(n);
    let gen = t.elapsed();
    let live = hashes(&sim);
    println!(
        "  setup: generated {} batches in {:.1} s",
        batches.len(),
        gen.as_secs_f64()
    );

    // 0. Where replay time goes, in memory (no redb): decode, then each entity alone.
    let payloads: Vec<Vec<u8>> = batches.iter().map(codec::encode).collect();
    let t = Instant::now();
    let decoded: Vec<Batch> = payloads
        .iter()
        .map(|p| codec::decode(p).expect("decodes"))
        .collect();
    let decode = t.elapsed();
    drop(payloads);
    let fresh = Replica::fresh(&cfg);
    let mut ledger = fresh.ledger.clone();
    let t = Instant::now();
    for b in &decoded {
        b.r1.iter()
            .chain(&b.r2)
            .for_each(|e| ledger.apply(e, b.time));
    }
    let ledger_t = t.elapsed();
    let mut engines = fresh.engines.clone();
    let t = Instant::now();
    for b in &decoded {
        if let Some(m) = b.market {
            for e in &b.market_events {
                engines[m.index()].apply(e, b.time).expect("applies");
            }
        }
    }
    let engines_t = t.elapsed();
    let mut store = fresh.orders.clone();
    let t = Instant::now();
    for b in &decoded {
        if let Some(m) = b.market {
            store
                .apply_events(m, &b.market_events, &b.r2, &b.client_ids, b.time)
                .expect("applies");
        }
    }
    let orders_t = t.elapsed();
    println!(
        "  breakdown (in memory): decode {:.3} s, ledger {:.3} s, engines {:.3} s, orders {:.3} s",
        decode.as_secs_f64(),
        ledger_t.as_secs_f64(),
        engines_t.as_secs_f64(),
        orders_t.as_secs_f64()
    );
    drop((decoded, ledger, engines, store, fresh));

    // 1. Journal only.
    let dir = tempfile::tempdir().expect("temp dir");
    let wrote = write_journal(dir.path(), &batches);
    println!("  setup: journal written in {:.1} s", wrote.as_secs_f64());
    let store = Store::open(dir.path()).expect("store");
    let t = Instant::now();
    let mut bytes_read = 0usize;
    store
        .replay_while(0, |_, b| {
            bytes_read += b.len();
            true
        })
        .expect("reads");
    println!(
        "  reading the journal alone: {:.1} MB in {:.3} s",
        bytes_read as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut journal_only = Vec::new();
    for pipeline in [true, false] {
        let r = recover_on(&store, &cfg, pipeline);
        assert_eq!(
            recovered_hashes(&r),
            live,
            "journal-only recovery equals live"
        );
        println!(
            "  journal only ({}): {} entries in {:.3} s",
            threads(pipeline),
            r.replayed,
            r.took.as_secs_f64()
        );
        journal_only.push((r.took, r.replayed));
        if pipeline {
            let t = Instant::now();
            r.initial
                .ledger
                .check_invariants()
                .expect("invariants hold");
            let ledger_check = t.elapsed();
            let t = Instant::now();
            r.initial
                .engines
                .iter()
                .for_each(|e| e.book().assert_invariants());
            println!(
                "  final checks: ledger invariants {:.3} s, book invariants {:.3} s",
                ledger_check.as_secs_f64(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    drop((store, dir));

    // 2. Snapshot at 90 % + tail.
    let cut = batches.len() * 9 / 10;
    let mut replica = Replica::fresh(&cfg);
    for (i, b) in batches[..cut].iter().enumerate() {
        replica.apply(i as u64 + 1, b).expect("applies");
    }
    let t = Instant::now();
    let set = replica.snapshot_set();
    let encode = t.elapsed();
    let set_bytes: usize = set.iter().map(|(_, b)| b.len()).sum();
    for (entity, b) in &set {
        let t = Instant::now();
        let mut one = Replica::fresh(&cfg);
        one.restore_entity(&cfg, entity, cut as u64, b)
            .expect("restores");
        println!(
            "  snapshot {entity}: {:.1} MB, decode + restore {:.3} s",
            b.len() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    write_journal(dir.path(), &batches);
    let store = Store::open(dir.path()).expect("store");
    store
        .snapshots()
        .write_set(cut as u64, &set)
        .expect("snapshot set written");
    let j = Journal::start(store, JournalConfig::default(), None).expect("journal");
    j.try_prune(cut as u64).expect("queue has room");
    j.close().expect("journal closes");
    let store = Store::open(dir.path()).expect("store");
    let mut with_snapshot = Vec::new();
    for pipeline in [true, false] {
        let r = recover_on(&store, &cfg, pipeline);
        assert_eq!(
            recovered_hashes(&r),
            live,
            "snapshot + tail recovery equals live"
        );
        println!(
            "  snapshot + tail ({}): {} tail entries in {:.3} s (set {:.1} MB, encoded in {:.3} s)",
            threads(pipeline),
            r.replayed,
            r.took.as_secs_f64(),
            set_bytes as f64 / 1e6,
            encode.as_secs_f64()
        );
        with_snapshot.push((r.took, r.replayed));
    }
    drop((store, dir));

    // 3. Deep book.
    let deep = deep_book(1_000_000);
    let t = Instant::now();
    let bytes = deep.snapshot().encode();
    let deep_encode = t.elapsed();
    let t = Instant::now();
    let snap = MarketSnapshot::decode(&bytes).expect("decodes");
    let restored = MarketEngine::restore(cfg.markets[0].clone(), &snap).expect("restores");
    let deep_restore = t.elapsed();
    assert_eq!(restored.state_hash(), deep.state_hash());
    println!(
        "  deep book: 1,000,000 resting orders, {:.1} MB, encode {:.3} s, decode + restore {:.3} s",
        bytes.len() as f64 / 1e6,
        deep_encode.as_secs_f64(),
        deep_restore.as_secs_f64()
    );

    println!();
    println!(
        "| case                                         | entries replayed | time (s) | target |"
    );
    println!(
        "|----------------------------------------------|-----------------:|---------:|-------:|"
    );
    for (i, pipeline) in [true, false].into_iter().enumerate() {
        println!(
            "| {n} orders, journal only, {}        | {:>16} | {:>8.3} | ≤ 2 s  |",
            threads(pipeline),
            journal_only[i].1,
            journal_only[i].0.as_secs_f64()
        );
    }
    for (i, pipeline) in [true, false].into_iter().enumerate() {
        println!(
            "| {n} orders, snapshot (90 %) + tail, {} | {:>16} | {:>8.3} | ≤ 2 s  |",
            threads(pipeline),
            with_snapshot[i].1,
            with_snapshot[i].0.as_secs_f64()
        );
    }
    println!(
        "| deep book, 1,000,000 resting: restore        | {:>16} | {:>8.3} | ≤ 2 s  |",
        0,
        deep_restore.as_secs_f64()
    );
    println!("load average at the end: {}", load_average().trim());
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
}

fn threads(pipeline: bool) -> &'static str {
    if pipeline {
        "2 threads"
    } else {
        "1 thread "
    }
}

/// Recovery with the order store's share on a second thread or not.
fn recover_on(
    store: &Store,
    cfg: &perpx::config::Config,
    pipeline: bool,
) -> perpx::persistence::Recovered {
    let opts = RecoveryOptions {
        pipeline,
        ..RecoveryOptions::default()
    };
    recover_with(store, cfg, opts).expect("recovery")
}
