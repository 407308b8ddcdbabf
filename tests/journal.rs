//! The redb journal: group commit with acknowledgements in order, restart continuity, bounded
//! queue backpressure, snapshots with pruning, and refusal of unusable files.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use perpx::persistence::{Journal, JournalConfig, Store, StoreError, DB_FILE, META, META_FORMAT};

fn acked(tx: &mpsc::Sender<u64>) -> perpx::persistence::Ack {
    let tx = tx.clone();
    Box::new(move |r| tx.send(r.expect("commit ok")).unwrap())
}

fn entries(store: &Store, after: u64) -> Vec<(u64, Vec<u8>)> {
    let mut v = Vec::new();
    store.replay(after, |s, p| v.push((s, p.to_vec()))).unwrap();
    v
}

#[test]
fn appends_are_acked_in_order_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel();
    let journal = Journal::start(
        Store::open(dir.path()).unwrap(),
        JournalConfig::default(),
        None,
    )
    .unwrap();
    for i in 0..100u32 {
        journal
            .try_append(i.to_le_bytes().to_vec(), 1, Some(acked(&tx)))
            .unwrap();
    }
    let seqs: Vec<u64> = (0..100).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    assert_eq!(journal.close(), Ok(100));

    // Reopen: everything is there, and new entries continue the sequence.
    let store = Store::open(dir.path()).unwrap();
    let all = entries(&store, 0);
    assert_eq!(all.len(), 100);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, (s, p))| *s == i as u64 + 1 && p == &(i as u32).to_le_bytes()));
    let journal = Journal::start(store, JournalConfig::default(), None).unwrap();
    journal
        .try_append(b"next".to_vec(), 1, Some(acked(&tx)))
        .unwrap();
    assert_eq!(rx.recv().unwrap(), 101);
}

#[test]
fn concurrent_producers_get_unique_consecutive_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(
        Journal::start(
            Store::open(dir.path()).unwrap(),
            JournalConfig::default(),
            None,
        )
        .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let (j, tx) = (Arc::clone(&journal), tx.clone());
            std::thread::spawn(move || {
                for i in 0..250u8 {
                    while j.try_append(vec![t, i], 1, Some(acked(&tx))).is_err() {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let mut seqs: Vec<u64> = (0..1000).map(|_| rx.recv().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    assert_eq!(journal.flush(), Ok(1000));
    // Each producer's entries are in its own order.
    drop(journal);
    let all = entries(&Store::open(dir.path()).unwrap(), 0);
    for t in 0..4u8 {
        let mine: Vec<u8> = all
            .iter()
            .filter(|(_, p)| p[0] == t)
            .map(|(_, p)| p[1])
            .collect();
        assert_eq!(mine, (0..250).collect::<Vec<u8>>());
    }
}

#[test]
fn a_full_queue_refuses_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    // The commit hook runs on the journal thread: hold it there after the first commit.
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let gate = Mutex::new((entered_tx, release_rx));
    let hook = Box::new(move |_: usize, _: u64, _| {
        let g = gate.lock().unwrap();
        let _ = g.0.send(());
        let _ = g.1.recv();
    });
    let config = JournalConfig {
        queue_bound: 4,
        max_batch_events: 4096,
        sync_every: None,
    };
    let journal = Journal::start(Store::open(dir.path()).unwrap(), config, Some(hook)).unwrap();
    journal.try_append(vec![0], 1, None).unwrap();
    entered_rx.recv().unwrap(); // the thread is now parked inside the hook
    for i in 1..=4u8 {
        journal.try_append(vec![i], 1, None).unwrap();
    }
    assert!(
        journal.try_append(vec![9], 1, None).is_err(),
        "the fifth queued entry must be refused"
    );
    for _ in 0..3 {
        release_tx.send(()).unwrap();
    }
    drop(release_tx);
    assert_eq!(
        journal.close(),
        Ok(5),
        "the refused entry was never written"
    );
}

#[test]
fn snapshots_supersede_and_prune_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let snapshots = store.snapshots();
    let journal = Journal::start(store, JournalConfig::default(), None).unwrap();
    for i in 1..=10u8 {
        journal.try_append(vec![i], 1, None).unwrap();
    }
    journal.flush().unwrap();
    // Sets go to the snapshot file, in their own transactions; a newer one supersedes.
    snapshots
        .write_set(3, &[("ledger".into(), b"at-3".to_vec())])
        .unwrap();
    snapshots
        .write_set(5, &[("ledger".into(), b"at-5".to_vec())])
        .unwrap();
    journal.try_prune(5).unwrap();
    journal.close().unwrap();
    drop(snapshots);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.latest_snapshot("ledger").unwrap(),
        Some((5, b"at-5".to_vec()))
    );
    assert_eq!(store.latest_snapshot("BTC-PERP").unwrap(), None);
    let left: Vec<u64> = entries(&store, 0).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        left,
        vec![6, 7, 8, 9, 10],
        "entries up to the snapshot were pruned"
    );

    // Prune everything: the sequence still continues after a restart.
    let journal = Journal::start(store, JournalConfig::default(), None).unwrap();
    journal.try_prune(10).unwrap();
    journal.close().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(entries(&store, 0).is_empty());
    assert_eq!(store.last_seq().unwrap(), 10);
}

#[test]
fn pruning_goes_in_bounded_chunks_and_never_past_the_request() {
    use perpx::persistence::journal::PRUNE_CHUNK;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::start(
        Store::open(dir.path()).unwrap(),
        JournalConfig::default(),
        None,
    )
    .unwrap();
    let n = 3 * PRUNE_CHUNK + 10;
    for i in 0..n {
        journal
            .try_append(i.to_le_bytes().to_vec(), 1, None)
            .unwrap();
    }
    journal.flush().unwrap();
    let upto = 2 * PRUNE_CHUNK + 5;
    journal.try_prune(upto).unwrap();
    // One more commit deletes at most one chunk; idle, the rest follows.
    journal.try_append(vec![0], 1, None).unwrap();
    journal.flush().unwrap();
    journal.close().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.first_seq().unwrap(),
        Some(upto + 1),
        "pruned exactly up to the request"
    );
    assert_eq!(store.last_seq().unwrap(), n + 1);
}

#[test]
fn an_older_format_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = redb::Database::create(dir.path().join(DB_FILE)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META).unwrap().insert(META_FORMAT, 1).unwrap();
        w.commit().unwrap();
    }
    let err = Store::open(dir.path()).err().expect("must refuse");
    assert!(
        matches!(err, StoreError::OlderFormat { found: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("empty data directory"), "{err}");
}

#[test]
fn a_newer_format_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    {
        let db = redb::Database::create(dir.path().join(DB_FILE)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META).unwrap().insert(META_FORMAT, 99).unwrap();
        w.commit().unwrap();
    }
    let err = Store::open(dir.path()).err().expect("must refuse");
    assert!(
        matches!(err, StoreError::NewerFormat { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("format version 99"), "{err}");
}

#[test]
fn a_corrupt_file_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0xAB; 64 * 1024]).unwrap();
    let err = Store::open(dir.path()).err().expect("must refuse");
    assert!(err.to_string().contains(DB_FILE), "{err}");
}

/// `relaxed`'s journal (`sync_every`): under a continuous stream most commits skip the fsync,
/// yet an acknowledgement still means durable (it never runs before `durable_upto` covers its
/// entry), and entries left without a later commit are made durable within the window, with
/// no flush.
#[test]
fn lazy_sync_acknowledges_only_durable_entries_and_syncs_when_idle() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let config = JournalConfig {
        sync_every: Some(std::time::Duration::from_millis(20)),
        ..JournalConfig::default()
    };
    let journal = std::sync::Arc::new(
        Journal::start(Store::open(dir.path()).unwrap(), config, None).unwrap(),
    );
    let stats = std::sync::Arc::clone(journal.stats());
    let acked = std::sync::Arc::new(AtomicU64::new(0));
    let early = std::sync::Arc::new(AtomicBool::new(false));
    const N: u64 = 20_000;
    // Two producers, so the queue is rarely empty when a batch is committed.
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let (journal, stats, acked, early) = (
                std::sync::Arc::clone(&journal),
                std::sync::Arc::clone(&stats),
                std::sync::Arc::clone(&acked),
                std::sync::Arc::clone(&early),
            );
            std::thread::spawn(move || {
                for i in 0..N / 2 {
                    let (stats, acked, early) = (
                        std::sync::Arc::clone(&stats),
                        std::sync::Arc::clone(&acked),
                        std::sync::Arc::clone(&early),
                    );
                    let ack: perpx::persistence::Ack = Box::new(move |r| {
                        let seq = r.expect("committed");
                        if seq > stats.durable_upto.load(Ordering::Acquire) {
                            early.store(true, Ordering::Release);
                        }
                        acked.fetch_add(1, Ordering::AcqRel);
                    });
                    // The queue (65,536) holds all N: an append never finds it full.
                    journal
                        .try_append((p * N + i).to_le_bytes().to_vec(), 1, Some(ack))
                        .expect("room in the queue");
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    // No flush: the journal must make the tail durable by itself, within the window.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while acked.load(Ordering::Acquire) < N {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {N} acknowledged without a flush",
            acked.load(Ordering::Acquire)
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(
        !early.load(Ordering::Acquire),
        "an acknowledgement ran before its entry was durable"
    );
    assert_eq!(stats.durable_upto.load(Ordering::Acquire), N);
    let (commits, syncs) = (
        stats.commits.load(Ordering::Acquire),
        stats.syncs.load(Ordering::Acquire),
    );
    println!("{commits} commits, {syncs} durable");
    assert!(syncs >= 1 && syncs <= commits + 1);
    let journal = std::sync::Arc::try_unwrap(journal)
        .ok()
        .expect("only handle");
    assert_eq!(journal.close(), Ok(N));
    // Everything is in the file, in order.
    let store = Store::open(dir.path()).unwrap();
    let mut n = 0;
    store.replay(0, |_, _| n += 1).unwrap();
    assert_eq!(n, N);
}
