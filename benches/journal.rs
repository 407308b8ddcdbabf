//! Durable journal throughput and added latency (issue: persistence).
//!
//! Workload: one producer thread appends 128-byte entries (one event each, about the size of an
//! encoded order + fill) to a fresh redb journal in a temporary directory with
//! `Durability::Immediate` group commit. Measured:
//! - open-loop at 10k, 50k and 100k events/s offered: each append has a planned send time
//!   `t0 + i / rate`; latency = ack time − planned time, so queueing is not hidden;
//! - closed-loop maximum: the producer keeps the bounded queue full for a fixed time.
//!
//! Excluded: encoding (the payload is prebuilt), database creation.
//! Run: `cargo bench --bench journal` (≈ 15 s). `PERPX_BENCH_SECS` sets seconds per run.

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use perpx::persistence::{Journal, JournalConfig, Store};

const PAYLOAD: usize = 128;

struct Row {
    name: String,
    offered: Option<u64>,
    achieved: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    commits: u64,
}

fn secs() -> f64 {
    std::env::var("PERPX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0)
}

fn run(rate: Option<u64>) -> Row {
    let dir = tempfile::tempdir().expect("temp dir");
    let journal = Journal::start(
        Store::open(dir.path()).expect("store"),
        JournalConfig::default(),
        None,
    )
    .expect("journal");
    let hist = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
    ));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let payload = vec![7u8; PAYLOAD];
    let duration = Duration::from_secs_f64(secs());
    let t0 = Instant::now();
    let mut sent = 0u64;
    let mut refused = 0u64;
    loop {
        let planned = match rate {
            Some(r) => t0 + Duration::from_nanos(sent * 1_000_000_000 / r),
            None => Instant::now(),
        };
        if planned.duration_since(t0) >= duration {
            break;
        }
        while Instant::now() < planned {
            std::hint::spin_loop();
        }
        let (h, tx) = (Arc::clone(&hist), done_tx.clone());
        let ack = Box::new(move |r: Result<u64, perpx::persistence::AckError>| {
            r.expect("commit");
            let us = planned.elapsed().as_micros() as u64;
            h.lock()
                .expect("histogram lock")
                .record(us.max(1))
                .expect("record");
            let _ = tx.send(());
        });
        match journal.try_append(payload.clone(), 1, Some(ack)) {
            Ok(()) => sent += 1,
            Err(_) => {
                refused += 1;
                std::thread::yield_now();
            }
        }
    }
    for _ in 0..sent {
        done_rx.recv().expect("ack");
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let commits = journal.stats().commits.load(Ordering::Relaxed);
    journal.close().expect("close");
    let h = hist.lock().expect("histogram lock");
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let name = match rate {
        Some(r) => format!("open-loop {}k/s", r / 1000),
        None => format!("closed-loop max ({refused} refusals while full)"),
    };
    Row {
        name,
        offered: rate,
        achieved: sent as f64 / elapsed,
        p50: ms(0.5),
        p99: ms(0.99),
        p999: ms(0.999),
        max: h.max() as f64 / 1000.0,
        commits,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "journal bench: {PAYLOAD}-byte entries, Durability::Immediate, {:.0} s per run",
        secs()
    );
    let mut rows = Vec::new();
    for rate in [Some(10_000), Some(50_000), Some(100_000), None] {
        let label = rate.map_or("max".to_owned(), |r| format!("{r}/s"));
        println!("  running {label} ...");
        let row = run(rate);
        println!(
            "    {:.0} events/s durable, p50 {:.2} ms, p99 {:.2} ms, {} commits ({:.0} events/commit)",
            row.achieved,
            row.p50,
            row.p99,
            row.commits,
            row.achieved * secs() / row.commits.max(1) as f64
        );
        rows.push(row);
    }
    println!(
        "\n| run | offered ev/s | durable ev/s | p50 ms | p99 ms | p99.9 ms | max ms | commits |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            r.name,
            r.offered.map_or("-".into(), |o| o.to_string()),
            r.achieved,
            r.p50,
            r.p99,
            r.p999,
            r.max,
            r.commits
        );
    }
    let max = rows.last().map_or(0.0, |r| r.achieved);
    let at50 = &rows[1];
    println!(
        "\ntargets: >= 200,000 durable events/s: {} ({:.0}); added p50 <= 2 ms at 50k/s: {} ({:.2} ms)",
        if max >= 200_000.0 { "PASS" } else { "MISS" },
        max,
        if at50.p50 <= 2.0 { "PASS" } else { "MISS" },
        at50.p50
    );
}
