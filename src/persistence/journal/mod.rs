//! The journal thread: group commit on a dedicated OS thread (never an async or actor thread).
//!
//! It blocks for the first request, drains whatever else is already queued (up to
//! [`JournalConfig::max_batch_events`]), writes them in **one** write transaction with
//! `Durability::Immediate`, then publishes `durable_upto(seq)` once and runs each request's
//! acknowledgement. Under load, batches grow by themselves; idle, a lone request is committed
//! at once. The queue is bounded: [`Journal::try_append`] fails with [`Full`] rather than
//! blocking or buffering without limit, so the edge can answer `OVERLOADED` with nothing changed.
//!
//! Pruning (entries a durable snapshot set made unnecessary) happens in bounded chunks of
//! [`PRUNE_CHUNK`] entries, with the next commits or while idle, so no transaction ever
//! deletes a whole snapshot interval at once and holds up the replies behind it.
//!
//! # Invariants
//! - Sequences are assigned in queue order, consecutive, starting after the stored last sequence.
//! - Entries are deleted only up to what [`Journal::try_prune`] was asked for.
//! - An acknowledgement runs only after the transaction holding its entry has committed (or
//!   with an error if it failed, after which the journal refuses all further work: fail fast).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::Durability;

use super::{Store, JOURNAL, META, META_LAST_SEQ};

/// Journal entries deleted per transaction at most.
pub const PRUNE_CHUNK: u64 = 1024;

/// Called on the journal thread once the entry is durable (`Ok(seq)`) or failed (`Err`).
/// Keep it short: send a message, complete a oneshot.
pub type Ack = Box<dyn FnOnce(Result<u64, String>) + Send>;

/// Tuning of the journal thread.
#[derive(Clone, Copy, Debug)]
pub struct JournalConfig {
    /// Requests that may wait in the queue before `try_append` reports `Full`.
    pub queue_bound: usize,
    /// Events per transaction at most (a batch closes when this is reached).
    pub max_batch_events: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            queue_bound: 65_536,
            max_batch_events: 4_096,
        }
    }
}

/// The queue is full (or the journal has failed): nothing was enqueued.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// One entry to append: its payload, how many events it encodes, and its acknowledgement.
pub type Entry = (Vec<u8>, u32, Option<Ack>);

enum Request {
    Append {
        payload: Vec<u8>,
        events: u32,
        ack: Option<Ack>,
    },
    /// Several entries, in order (one channel operation and one wake-up for the lot).
    AppendMany(Vec<Entry>),
    /// Entries at or below `upto` may go (a durable snapshot set covers them).
    Prune { upto: u64 },
    /// Acknowledged once everything queued before it is durable.
    Barrier(Ack),
}

/// Counters readable from any thread (exported as metrics by the shell).
#[derive(Debug, Default)]
pub struct JournalStats {
    pub durable_upto: AtomicU64,
    pub queued: AtomicUsize,
    pub commits: AtomicU64,
    pub events: AtomicU64,
    /// Microseconds spent in the last commit (write + fsync).
    pub last_commit_micros: AtomicU64,
    pub failed: AtomicBool,
    /// Entries up to this sequence are deleted (pruning behind snapshot sets).
    pub pruned_upto: AtomicU64,
}

/// Handle to the journal thread. Dropping it (or [`Journal::close`]) flushes and joins.
pub struct Journal {
    tx: Option<SyncSender<Request>>,
    stats: Arc<JournalStats>,
    thread: Option<JoinHandle<()>>,
}

/// Observer of each commit: `(entries, events, commit duration)`. For metrics.
pub type CommitHook = Box<dyn FnMut(usize, u64, Duration) + Send>;

/// Replication of committed entries (`crate::replication`): after each commit the journal
/// thread hands over copies of the entries and the acknowledgements of the appends among them;
/// the implementation runs every acknowledgement exactly once, at once or when the entries are
/// replicated (durability "replicated"). Pruning never passes [`Replicate::replicated_upto`].
pub trait Replicate: Send + Sync {
    /// Entries committed (in sequence order) and their appends' acknowledgements. Called on
    /// the journal thread: must not block.
    fn committed(&self, entries: Vec<(u64, Vec<u8>)>, acks: Vec<(Ack, u64)>);
    /// Entries above this are not replicated yet and must stay in the journal.
    fn replicated_upto(&self) -> u64;
}

/// Receives, after each commit, the `(seq, payload)` of every entry it appended, in order
/// (the snapshotter's replica). Bounded: when it is full the journal thread waits (never
/// drops), which in turn fills the journal queue and pushes back on the writers.
pub type Tap = SyncSender<Vec<(u64, Vec<u8>)>>;

impl Journal {
    /// Start the journal thread over `store`.
    pub fn start(
        store: Store,
        config: JournalConfig,
        hook: Option<CommitHook>,
    ) -> Result<Journal, super::StoreError> {
        Journal::start_tapped(store, config, hook, None)
    }

    /// Start the journal thread over `store`, forwarding committed entries to `tap`.
    pub fn start_tapped(
        store: Store,
        config: JournalConfig,
        hook: Option<CommitHook>,
        tap: Option<Tap>,
    ) -> Result<Journal, super::StoreError> {
        Journal::start_replicated(store, config, hook, tap, None)
    }

    /// [`Journal::start_tapped`], handing committed entries and acknowledgements to `replicate`.
    pub fn start_replicated(
        store: Store,
        config: JournalConfig,
        hook: Option<CommitHook>,
        tap: Option<Tap>,
        replicate: Option<Arc<dyn Replicate>>,
    ) -> Result<Journal, super::StoreError> {
        let last = store.last_seq()?;
        // Everything before the first retained entry is pruned already.
        let pruned = store.first_seq()?.map_or(last, |first| first - 1);
        let stats = Arc::new(JournalStats::default());
        stats.durable_upto.store(last, Ordering::Release);
        let (tx, rx) = mpsc::sync_channel(config.queue_bound.max(1));
        let worker = Worker {
            store,
            rx,
            next_seq: last + 1,
            stats: Arc::clone(&stats),
            max_batch_events: config.max_batch_events.max(1),
            hook,
            tap,
            replicate,
            prune_target: pruned,
            pruned_upto: pruned,
        };
        let thread = std::thread::Builder::new()
            .name("perpx-journal".into())
            .spawn(move || worker.run())
            .expect("spawning the journal thread: the OS refused a thread at start");
        Ok(Journal {
            tx: Some(tx),
            stats,
            thread: Some(thread),
        })
    }

    fn send(&self, r: Request) -> Result<(), Full> {
        if self.stats.failed.load(Ordering::Acquire) {
            return Err(Full);
        }
        let tx = self.tx.as_ref().ok_or(Full)?;
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(r) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                Err(Full)
            }
        }
    }

    /// Queue one entry (`events` counts the events encoded in `payload`, for batching and
    /// metrics). `ack` runs once it is durable.
    pub fn try_append(&self, payload: Vec<u8>, events: u32, ack: Option<Ack>) -> Result<(), Full> {
        self.send(Request::Append {
            payload,
            events,
            ack,
        })
    }

    /// Queue several entries in order, as one request (see [`Journal::try_append`]).
    pub fn try_append_many(&self, entries: Vec<Entry>) -> Result<(), Full> {
        self.send(Request::AppendMany(entries))
    }

    /// Let entries up to `upto` be deleted (a durable snapshot set covers them); they go in
    /// chunks of [`PRUNE_CHUNK`] with the following commits.
    pub fn try_prune(&self, upto: u64) -> Result<(), Full> {
        self.send(Request::Prune { upto })
    }

    /// Block until everything queued so far is durable. Returns the durable sequence.
    pub fn flush(&self) -> Result<u64, String> {
        let (tx, rx) = mpsc::channel();
        let ack: Ack = Box::new(move |r| {
            let _ = tx.send(r);
        });
        let tx = self.tx.as_ref().ok_or("journal closed")?;
        tx.send(Request::Barrier(ack))
            .map_err(|_| "journal thread gone".to_owned())?;
        rx.recv().map_err(|_| "journal thread gone".to_owned())?
    }

    pub fn stats(&self) -> &Arc<JournalStats> {
        &self.stats
    }

    /// The highest sequence known durable.
    pub fn durable_upto(&self) -> u64 {
        self.stats.durable_upto.load(Ordering::Acquire)
    }

    /// Flush, stop the thread and wait for it.
    pub fn close(mut self) -> Result<u64, String> {
        let upto = self.flush();
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        upto
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    store: Store,
    rx: Receiver<Request>,
    next_seq: u64,
    stats: Arc<JournalStats>,
    max_batch_events: usize,
    hook: Option<CommitHook>,
    tap: Option<Tap>,
    replicate: Option<Arc<dyn Replicate>>,
    /// Entries up to this may be deleted.
    prune_target: u64,
    /// Entries up to this are deleted (or never existed).
    pruned_upto: u64,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Request> = Vec::with_capacity(1024);
        loop {
            // Idle with pruning left: one chunk, then look for work again.
            let first = if self.pruned_upto < self.prune_limit() {
                match self.rx.try_recv() {
                    Ok(r) => r,
                    Err(mpsc::TryRecvError::Empty) => {
                        if let Err(e) = self.prune_only() {
                            self.fail(format!("journal prune failed: {e}"), &mut batch);
                            return;
                        }
                        continue;
                    }
                    Err(mpsc::TryRecvError::Disconnected) => {
                        // Closing: finish the pruning asked for, so it is not left for later.
                        while self.pruned_upto < self.prune_limit() {
                            if self.prune_only().is_err() {
                                return;
                            }
                        }
                        return;
                    }
                }
            } else {
                match self.rx.recv() {
                    Ok(r) => r,
                    Err(_) => return,
                }
            };
            let mut events = weight(&first);
            batch.push(first);
            while events < self.max_batch_events {
                match self.rx.try_recv() {
                    Ok(r) => {
                        events += weight(&r);
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.stats.queued.fetch_sub(batch.len(), Ordering::Relaxed);
            let started = Instant::now();
            let result = self.commit(&mut batch);
            let took = started.elapsed();
            match result {
                Ok(Committed {
                    acks,
                    barriers,
                    tapped,
                    copies,
                }) => {
                    let upto = self.next_seq - 1;
                    self.stats.durable_upto.store(upto, Ordering::Release);
                    self.stats.commits.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .events
                        .fetch_add(events as u64, Ordering::Relaxed);
                    self.stats
                        .last_commit_micros
                        .store(took.as_micros() as u64, Ordering::Relaxed);
                    if let Some(h) = self.hook.as_mut() {
                        h(acks.len(), events as u64, took);
                    }
                    for (ack, seq) in barriers {
                        ack(Ok(seq));
                    }
                    match &self.replicate {
                        Some(r) => r.committed(copies, acks),
                        None => {
                            for (ack, seq) in acks {
                                ack(Ok(seq));
                            }
                        }
                    }
                    if let Some(tap) = self.tap.as_ref().filter(|_| !tapped.is_empty()) {
                        // Blocks while the replica is behind (backpressure, never a drop);
                        // a replica that stopped is simply no longer fed.
                        if tap.send(tapped).is_err() {
                            self.tap = None;
                        }
                    }
                }
                Err(e) => {
                    self.fail(format!("journal commit failed: {e}"), &mut batch);
                    return;
                }
            }
        }
    }

    /// How far pruning may go now (the snapshot sets' target, capped by replication).
    fn prune_limit(&self) -> u64 {
        match &self.replicate {
            Some(r) => self.prune_target.min(r.replicated_upto()),
            None => self.prune_target,
        }
    }

    /// Fail fast: refuse everything from now on; the owner stops the process.
    fn fail(&mut self, msg: String, batch: &mut Vec<Request>) {
        self.stats.failed.store(true, Ordering::Release);
        let pending: Vec<Request> = batch
            .drain(..)
            .chain(std::iter::from_fn(|| self.rx.try_recv().ok()))
            .collect();
        for r in pending {
            match r {
                Request::AppendMany(entries) => {
                    for (_, _, ack) in entries {
                        if let Some(ack) = ack {
                            ack(Err(msg.clone()));
                        }
                    }
                }
                r => {
                    if let Some(ack) = ack_of(r) {
                        ack(Err(msg.clone()));
                    }
                }
            }
        }
    }

    /// Delete the next chunk of prunable entries in `journal` (inside the caller's transaction).
    fn prune_chunk(&mut self, journal: &mut redb::Table<u64, &[u8]>) -> Result<(), redb::Error> {
        if self.pruned_upto >= self.prune_target {
            return Ok(());
        }
        // Never past what the replication stream has (a follower may still need it).
        let target = match &self.replicate {
            Some(r) => self.prune_target.min(r.replicated_upto()),
            None => self.prune_target,
        };
        if self.pruned_upto >= target {
            return Ok(());
        }
        let upto = target.min(self.pruned_upto + PRUNE_CHUNK);
        journal.retain_in(..=upto, |_, _| false)?;
        self.pruned_upto = upto;
        // Published before the commit: readers only use it to wait, and a failed commit stops
        // the journal anyway.
        self.stats.pruned_upto.store(upto, Ordering::Release);
        Ok(())
    }

    /// A transaction that only prunes one chunk (while idle).
    fn prune_only(&mut self) -> Result<(), redb::Error> {
        let mut w = self.store.db.begin_write()?;
        w.set_durability(Durability::Immediate)?;
        {
            let mut journal = w.open_table(JOURNAL)?;
            self.prune_chunk(&mut journal)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Write `batch` in one transaction. On success the batch is drained and the acks are
    /// returned with their sequences (a barrier gets the last sequence before it);
    /// on failure the batch is left for the caller to fail.
    #[allow(clippy::type_complexity)]
    fn commit(&mut self, batch: &mut Vec<Request>) -> Result<Committed, redb::Error> {
        let mut w = self.store.db.begin_write()?;
        w.set_durability(Durability::Immediate)?;
        let mut seq = self.next_seq;
        let mut seqs = Vec::with_capacity(batch.len());
        let mut tapped = Vec::new();
        let mut copies = Vec::new();
        let replicated = self.replicate.is_some();
        let mut many_acks: Vec<(Ack, u64)> = Vec::new();
        {
            let mut journal = w.open_table(JOURNAL)?;
            for r in batch.iter_mut() {
                match r {
                    Request::Append { payload, .. } => {
                        journal.insert(seq, payload.as_slice())?;
                        if replicated {
                            copies.push((seq, payload.clone()));
                        }
                        if self.tap.is_some() {
                            tapped.push((seq, std::mem::take(payload)));
                        }
                        seq += 1;
                    }
                    Request::AppendMany(entries) => {
                        for (payload, _, ack) in entries.iter_mut() {
                            journal.insert(seq, payload.as_slice())?;
                            if replicated {
                                copies.push((seq, payload.clone()));
                            }
                            if self.tap.is_some() {
                                tapped.push((seq, std::mem::take(payload)));
                            }
                            if let Some(a) = ack.take() {
                                many_acks.push((a, seq));
                            }
                            seq += 1;
                        }
                    }
                    Request::Prune { upto } => {
                        self.prune_target = self.prune_target.max((*upto).min(seq - 1));
                    }
                    Request::Barrier(_) => {}
                }
                seqs.push(seq - 1);
            }
            self.prune_chunk(&mut journal)?;
            if seq != self.next_seq {
                w.open_table(META)?.insert(META_LAST_SEQ, seq - 1)?;
            }
        }
        w.commit()?;
        self.next_seq = seq;
        let mut barriers = Vec::new();
        let mut acks: Vec<(Ack, u64)> = batch
            .drain(..)
            .zip(seqs)
            .filter_map(|(r, s)| match r {
                // A barrier means "locally durable": never held for replication.
                Request::Barrier(a) => {
                    barriers.push((a, s));
                    None
                }
                r => ack_of(r).map(|a| (a, s)),
            })
            .collect();
        acks.append(&mut many_acks);
        Ok(Committed {
            acks,
            barriers,
            tapped,
            copies,
        })
    }
}

/// What one transaction committed: appends' acknowledgements (with their sequences), barriers'
/// (locally durable), entries for the tap, and copies for replication.
struct Committed {
    acks: Vec<(Ack, u64)>,
    barriers: Vec<(Ack, u64)>,
    tapped: Vec<(u64, Vec<u8>)>,
    copies: Vec<(u64, Vec<u8>)>,
}

fn weight(r: &Request) -> usize {
    match r {
        Request::Append { events, .. } => (*events as usize).max(1),
        Request::AppendMany(v) => v.iter().map(|e| (e.1 as usize).max(1)).sum(),
        Request::Prune { .. } | Request::Barrier(_) => 1,
    }
}

fn ack_of(r: Request) -> Option<Ack> {
    match r {
        Request::Append { ack, .. } => ack,
        Request::AppendMany(_) | Request::Prune { .. } => None,
        Request::Barrier(ack) => Some(ack),
    }
}
