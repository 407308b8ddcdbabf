//! The journal thread: group commit on a dedicated OS thread (never an async or actor thread).
//!
//! It blocks for the first request, drains whatever else is already queued (up to
//! [`JournalConfig::max_batch_events`]), writes them in **one** write transaction with
//! `Durability::Immediate`, then publishes `durable_upto(seq)` once and runs each request's
//! acknowledgement. With [`JournalConfig::sync_every`] (`relaxed` durability) transactions skip
//! the fsync (`Durability::None`) and their acknowledgements wait for the next durable one,
//! which comes within `sync_every` (an empty transaction if nothing else is queued). Under load, batches grow by themselves; idle, a lone request is committed
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
//! - An acknowledgement runs only after the transaction holding its entry (or a later one) has
//!   committed durably (or with an error if it failed, after which the journal refuses all
//!   further work: fail fast); `durable_upto` moves only with durable commits.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{PersistError, Store};
use worker::Worker;

mod prune;
mod worker;

/// Journal entries deleted per transaction at most.
pub const PRUNE_CHUNK: u64 = 1024;

/// Called on the journal thread once the entry is durable (`Ok(seq)`) or failed (`Err`).
/// Keep it short: send a message, complete a oneshot.
pub type Ack = Box<dyn FnOnce(Result<u64, AckError>) + Send>;

/// Why an entry's acknowledgement failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The journal failed (disk full, I/O error): the entry may not be durable.
    #[error("{0}")]
    Journal(String),
    /// Replication: this node was replaced as primary before the stream took the entry.
    #[error("not primary: another node took over the stream")]
    NotPrimary,
}

/// Tuning of the journal thread.
#[derive(Clone, Copy, Debug)]
pub struct JournalConfig {
    /// Requests that may wait in the queue before `try_append` reports `Full`.
    pub queue_bound: usize,
    /// Events per transaction at most (a batch closes when this is reached).
    pub max_batch_events: usize,
    /// `None` (the default): every commit is fsynced. `Some(t)`, for `durability = "relaxed"`:
    /// commits skip the fsync and one at least every `t` (an empty one if the queue ran dry,
    /// and every flush) makes them durable; acknowledgements wait for it.
    /// Ignored with replication (the stream must never hold what the journal could lose).
    pub sync_every: Option<Duration>,
}

/// `sync_every` of `durability = "relaxed"`: what a crash may lose beyond the commands being
/// committed (docs/OPERATIONS.md §7).
pub const RELAXED_SYNC: Duration = Duration::from_millis(5);

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            queue_bound: 65_536,
            max_batch_events: 4_096,
            sync_every: None,
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
    /// Durable commits (with `sync_every`, fewer than `commits` under load).
    pub syncs: AtomicU64,
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

impl Journal {
    /// Start the journal thread over `store`.
    pub fn start(
        store: Store,
        config: JournalConfig,
        hook: Option<CommitHook>,
    ) -> Result<Journal, super::StoreError> {
        Journal::start_replicated(store, config, hook, None)
    }

    /// [`Journal::start`], handing committed entries and acknowledgements to `replicate`.
    pub fn start_replicated(
        store: Store,
        config: JournalConfig,
        hook: Option<CommitHook>,
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
            sync_every: config.sync_every.filter(|_| replicate.is_none()),
            replicate,
            prune_target: pruned,
            pruned_upto: pruned,
            last_sync: std::time::Instant::now(),
            held: Vec::new(),
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
    pub fn flush(&self) -> Result<u64, PersistError> {
        let (tx, rx) = mpsc::channel();
        let ack: Ack = Box::new(move |r| {
            let _ = tx.send(r);
        });
        let tx = self.tx.as_ref().ok_or(PersistError::JournalClosed)?;
        tx.send(Request::Barrier(ack))
            .map_err(|_| PersistError::JournalGone)?;
        Ok(rx.recv().map_err(|_| PersistError::JournalGone)??)
    }

    pub fn stats(&self) -> &Arc<JournalStats> {
        &self.stats
    }

    /// The highest sequence known durable.
    pub fn durable_upto(&self) -> u64 {
        self.stats.durable_upto.load(Ordering::Acquire)
    }

    /// Flush, stop the thread and wait for it.
    pub fn close(mut self) -> Result<u64, PersistError> {
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
