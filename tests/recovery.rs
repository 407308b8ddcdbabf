//! Recovery (docs/ARCHITECTURE.md §5): journal only, snapshots + tail, the snapshotter keeping the
//! journal bounded, and refusals with clear messages (corrupt entry, unknown format, gap,
//! unknown snapshot format, mismatched config).

#[path = "common/driver.rs"]
mod driver;

use std::sync::Arc;

use driver::{config, random_batches, Sim};
use perpx::config::Config;
use perpx::engine::market::MarketEngine;
use perpx::persistence::codec::{self, Batch};
use perpx::persistence::{
    recover, Journal, JournalConfig, Snapshotter, StateHashes, Store, DB_FILE, JOURNAL,
};

fn live_hashes(sim: &Sim) -> StateHashes {
    StateHashes {
        ledger: sim.accounts.ledger.state_hash(),
        orders: sim.accounts.orders.state_hash(),
        markets: sim.engines.iter().map(MarketEngine::state_hash).collect(),
    }
}

fn hashes_of(r: &perpx::persistence::Recovered) -> StateHashes {
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

/// Append raw payloads through the journal thread and close it.
fn journal_raw(dir: &std::path::Path, payloads: Vec<Vec<u8>>) {
    let j = Journal::start(Store::open(dir).unwrap(), JournalConfig::default(), None).unwrap();
    for p in payloads {
        j.try_append(p, 1, None).unwrap();
    }
    j.close().unwrap();
}

fn journal(dir: &std::path::Path, batches: &[Batch]) {
    journal_raw(dir, batches.iter().map(codec::encode).collect());
}

fn workload(seed: u64, commands: usize) -> (Sim, Vec<Batch>) {
    let mut sim = Sim::new(&config());
    let b = random_batches(&mut sim, seed, 8, commands);
    (sim, b)
}

fn refusal(dir: &std::path::Path, cfg: &Config) -> String {
    match recover(&Store::open(dir).unwrap(), cfg) {
        Ok(_) => panic!("recovery should have refused"),
        Err(e) => {
            let msg = e.to_string();
            eprintln!("refused: {msg}");
            msg
        }
    }
}

#[test]
fn journal_only_recovery_equals_live_state() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, batches) = workload(3, 2000);
    journal(dir.path(), &batches);
    let r = recover(&Store::open(dir.path()).unwrap(), &config()).unwrap();
    assert_eq!(r.last_seq, batches.len() as u64);
    assert_eq!(r.replayed, batches.len() as u64);
    assert_eq!(hashes_of(&r), live_hashes(&sim));
}

#[test]
fn empty_store_recovers_the_fresh_state() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let r = recover(&Store::open(dir.path()).unwrap(), &cfg).unwrap();
    assert_eq!((r.last_seq, r.replayed), (0, 0));
    assert_eq!(hashes_of(&r), live_hashes(&Sim::new(&cfg)));
}

/// The journal and a snapshotter on the same store, as the shell wires them.
fn run_with_snapshotter(dir: &std::path::Path, batches: &[Batch], every: u64) -> u64 {
    let cfg = config();
    let store = Store::open(dir).unwrap();
    let recovered = recover(&store, &cfg).unwrap();
    let view = store.clone();
    let j = Arc::new(Journal::start(store, JournalConfig::default(), None).unwrap());
    let snapshotter =
        Snapshotter::start(view, cfg, recovered.last_seq, Some(Arc::clone(&j)), every);
    for b in batches {
        while j
            .try_append(codec::encode(b), b.len() as u32, None)
            .is_err()
        {
            std::thread::yield_now();
        }
    }
    let durable = j.flush().unwrap();
    let report = snapshotter.stop(durable);
    assert_eq!(report.error, None);
    assert_eq!(report.last_seq, durable);
    drop(Arc::try_unwrap(j).ok().expect("only handle").close());
    report.sets
}

#[test]
fn snapshotter_keeps_the_journal_bounded_and_recovery_matches_live() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, batches) = workload(11, 3000);
    let (first, second) = batches.split_at(batches.len() / 2);
    let sets = run_with_snapshotter(dir.path(), first, 500);
    assert!(sets >= 1, "snapshots were written ({sets})");
    // Restart from snapshots + tail, continue, restart again.
    let sets = run_with_snapshotter(dir.path(), second, 500);
    assert!(sets >= 1);
    let store = Store::open(dir.path()).unwrap();
    // The final set at shutdown pruned everything: the journal holds no tail.
    assert_eq!(store.journal_len().unwrap(), 0);
    assert_eq!(store.last_seq().unwrap(), batches.len() as u64);
    let r = recover(&store, &config()).unwrap();
    assert_eq!(r.replayed, 0);
    assert_eq!(hashes_of(&r), live_hashes(&sim));
}

#[test]
fn snapshot_plus_tail_recovers_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, batches) = workload(12, 3000);
    let cut = batches.len() * 2 / 3;
    run_with_snapshotter(dir.path(), &batches[..cut], 400);
    // "Crash": the rest reaches the journal but no snapshot follows.
    journal(dir.path(), &batches[cut..]);
    let store = Store::open(dir.path()).unwrap();
    let tail = store.journal_len().unwrap();
    assert_eq!(tail, (batches.len() - cut) as u64, "only the tail is kept");
    let r = recover(&store, &config()).unwrap();
    assert_eq!(r.replayed, tail);
    assert_eq!(hashes_of(&r), live_hashes(&sim));
}

#[test]
fn a_corrupt_entry_is_refused_naming_its_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 50);
    let mut payloads: Vec<Vec<u8>> = batches.iter().map(codec::encode).collect();
    payloads[9] = vec![
        codec::RECORD_FORMAT,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
    ];
    journal_raw(dir.path(), payloads);
    let msg = refusal(dir.path(), &config());
    assert!(
        msg.contains("journal entry 10 cannot be decoded: corrupt record"),
        "{msg}"
    );
}

#[test]
fn an_entry_that_does_not_fit_the_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 300);
    // Drop one market batch with a trade: later events no longer fit.
    let i = batches
        .iter()
        .position(|b| {
            b.r2.iter()
                .any(|e| matches!(e, perpx::engine::LedgerEvent::FillSettled(_)))
        })
        .unwrap();
    let mut kept = batches.clone();
    kept.remove(i);
    journal(dir.path(), &kept);
    let msg = refusal(dir.path(), &config());
    assert!(msg.contains("does not apply"), "{msg}");
}

#[test]
fn an_unknown_record_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 20);
    let mut payloads: Vec<Vec<u8>> = batches.iter().map(codec::encode).collect();
    payloads[2][0] = 9;
    journal_raw(dir.path(), payloads);
    let msg = refusal(dir.path(), &config());
    assert!(
        msg.contains("journal entry 3 cannot be decoded: record format 9 is not known"),
        "{msg}"
    );
}

#[test]
fn a_journal_gap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 50);
    journal(dir.path(), &batches);
    {
        let db = redb::Database::create(dir.path().join(DB_FILE)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(JOURNAL).unwrap().remove(20).unwrap();
        w.commit().unwrap();
    }
    let msg = refusal(dir.path(), &config());
    assert!(
        msg.contains("journal gap: expected entry 20, found 21"),
        "{msg}"
    );
}

#[test]
fn a_truncated_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 50);
    journal(dir.path(), &batches);
    let last = batches.len() as u64;
    {
        let db = redb::Database::create(dir.path().join(DB_FILE)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(JOURNAL).unwrap().remove(last).unwrap();
        w.commit().unwrap();
    }
    let msg = refusal(dir.path(), &config());
    assert!(
        msg.contains(&format!("journal gap: expected entry {last}")),
        "{msg}"
    );
}

#[test]
fn an_unknown_snapshot_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 50);
    journal(dir.path(), &batches);
    Store::open(dir.path())
        .unwrap()
        .snapshots()
        .write_set(10, &[("ledger".into(), vec![42, 1, 2, 3])])
        .unwrap();
    let msg = refusal(dir.path(), &config());
    assert!(
        msg.contains("snapshot of ledger at sequence 10 is unusable: ledger snapshot: format 42 is not known"),
        "{msg}"
    );
}

#[test]
fn a_config_with_other_markets_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 300);
    run_with_snapshotter(dir.path(), &batches, 100);
    // The operator removed SOL-PERP from markets.toml.
    let mut cfg = config();
    cfg.markets.retain(|m| m.symbol != "SOL-PERP");
    let msg = refusal(dir.path(), &cfg);
    assert!(
        msg.contains("snapshot of ledger") && msg.contains("but the config has [BTC-PERP"),
        "{msg}"
    );
    // Or changed a market's tick size.
    let mut cfg = config();
    cfg.markets[0].tick_size /= rust_decimal::Decimal::from(10);
    let msg = refusal(dir.path(), &cfg);
    assert!(msg.contains("BTC-PERP (tick 0.1"), "{msg}");
}

#[test]
fn journal_only_with_fewer_markets_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, batches) = workload(4, 300);
    journal(dir.path(), &batches);
    let mut cfg = config();
    cfg.markets.truncate(1);
    let msg = refusal(dir.path(), &cfg);
    assert!(
        msg.contains("does not apply") && msg.contains("the config has 1 markets"),
        "{msg}"
    );
}

#[test]
fn service_start_shutdown_restart_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    cfg.server.data_dir = dir.path().to_owned();
    cfg.server.snapshot_every = 300;
    let (sim, batches) = workload(21, 1500);
    let (first, second) = batches.split_at(batches.len() / 3);
    for part in [first, second] {
        let (p, recovered) =
            perpx::persistence::service::start(&cfg, JournalConfig::default(), None).unwrap();
        for b in part {
            p.journal
                .try_append(codec::encode(b), b.len() as u32, None)
                .unwrap();
        }
        let report = p.shutdown().unwrap();
        assert_eq!(report.last_seq, recovered.last_seq + part.len() as u64);
        assert!(report.sets >= 1);
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.journal_len().unwrap(),
        0,
        "final snapshot pruned the journal"
    );
    let r = recover(&store, &cfg).unwrap();
    assert_eq!(hashes_of(&r), live_hashes(&sim));
}

#[test]
fn periodic_snapshots_prune_the_journal_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let (sim, batches) = workload(31, 3000);
    let store = Store::open(dir.path()).unwrap();
    let view = store.clone();
    let j = Arc::new(Journal::start(store, JournalConfig::default(), None).unwrap());
    let snapshotter = Snapshotter::start(view, cfg.clone(), 0, Some(Arc::clone(&j)), 200);
    // After each part, wait (bounded) for the set it makes due and for the journal to prune
    // behind it: idle, the snapshotter writes a due set and the journal prunes in chunks.
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    };
    for part in batches.chunks(batches.len() / 5 + 1) {
        let sets = snapshotter.sets_written();
        for b in part {
            j.try_append(codec::encode(b), b.len() as u32, None)
                .unwrap();
        }
        j.flush().unwrap();
        // Each part is more than `every` events: at least one set becomes due during it.
        wait("a snapshot set", &|| snapshotter.sets_written() > sets);
    }
    let last_set = snapshotter.set_upto();
    wait("pruning", &|| {
        j.stats()
            .pruned_upto
            .load(std::sync::atomic::Ordering::Acquire)
            >= last_set
    });
    // Crash: no final set.
    let report = snapshotter.abort();
    assert!(
        report.sets >= 2,
        "periodic sets were written ({})",
        report.sets
    );
    drop(Arc::try_unwrap(j).ok().expect("only handle").close());
    let store = Store::open(dir.path()).unwrap();
    let kept = store.journal_len().unwrap();
    assert!(
        kept < batches.len() as u64 / 2,
        "journal pruned to a tail ({kept})"
    );
    let r = recover(&store, &cfg).unwrap();
    assert_eq!(r.replayed, kept);
    assert_eq!(hashes_of(&r), live_hashes(&sim));
}

#[test]
fn the_replay_tool_matches_live_and_exports_every_fill() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, batches) = workload(11, 1500);
    journal(dir.path(), &batches);
    let fills: Vec<(u64, u64)> = batches
        .iter()
        .enumerate()
        .flat_map(|(i, b)| {
            b.r2.iter().filter_map(move |e| match e {
                perpx::engine::LedgerEvent::FillSettled(f) => Some((i as u64 + 1, f.trade_id.0)),
                _ => None,
            })
        })
        .collect();
    assert!(
        fills.len() > 100,
        "the workload trades ({} fills)",
        fills.len()
    );
    let csv = dir.path().join("fills.csv");
    let data = dir.path().to_path_buf();
    let r = perpx::replication::replay::replay(&config(), &data, None, Some(&csv)).unwrap();
    let live = live_hashes(&sim);
    assert_eq!(r.seq, batches.len() as u64);
    assert_eq!(r.replayed, batches.len() as u64);
    assert_eq!(r.ledger, hex::encode(live.ledger));
    assert_eq!(r.orders, hex::encode(live.orders));
    let markets: Vec<String> = live.markets.iter().map(hex::encode).collect();
    assert_eq!(
        r.markets.iter().map(|m| m.1.clone()).collect::<Vec<_>>(),
        markets
    );
    assert_eq!(r.invariants, Ok(()));
    assert_eq!(r.fills, fills.len() as u64);
    // One line per fill, in journal order: the entry's sequence and the trade id.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("seq,time,symbol,trade_id,price"));
    let rows: Vec<(u64, u64)> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), 13, "{l}");
            assert!(c[6] == "buy" || c[6] == "sell", "{l}");
            (c[0].parse().unwrap(), c[3].parse().unwrap())
        })
        .collect();
    assert_eq!(rows, fills);

    // Up to a sequence in the middle: the state there, the fills up to it.
    let mid = batches.len() as u64 / 2;
    let r = perpx::replication::replay::replay(&config(), &data, Some(mid), None).unwrap();
    assert_eq!(r.seq, mid);
    assert_eq!(r.fills, fills.iter().filter(|f| f.0 <= mid).count() as u64);
    assert_ne!(r.ledger, hex::encode(live.ledger));
}
