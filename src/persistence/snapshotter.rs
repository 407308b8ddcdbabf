//! The snapshotter: every `snapshot_every` committed events it rebuilds the state at the
//! journal's durable sequence S, the way recovery does (the newest snapshot set plus the
//! journal entries after it, [`recovery::rebuild`]), writes it as a new set into the snapshot
//! file ([`SnapshotStore`], its own database and write transaction, never the journal's),
//! drops it, and lets the journal prune up to S ([`Journal::try_prune`], in bounded chunks).
//! No more often than a duty-cycle limit allows, see [`DUTY`].
//!
//! Why rebuilt and not kept: a replica kept current entry by entry was a second live copy of
//! every book, order and hold (half the heap per resting order) and cost its thread a decode
//! and an apply per committed entry (13 % of the server's CPU under the order benchmark,
//! docs/ARCHITECTURE.md §5). Rebuilt on demand, the second copy exists only while a set is
//! written, and between sets the thread sleeps. Why not the actors' own state: it may be
//! ahead of the journal (R1 holds of commands not yet committed), so a snapshot of it would
//! not be "exactly the batches ≤ S".
//!
//! # Invariants
//! - A set written at S reflects exactly the entries ≤ S: it is rebuilt from committed
//!   entries only (S is the journal's durable sequence, and redb readers see committed
//!   transactions only), with the same apply functions as recovery.
//! - The journal is asked to prune only after the set's transaction has committed, and only up
//!   to that set: the next rebuild starts from that set, so it never needs a pruned entry.
//! - A state that cannot be rebuilt stops the snapshotter (no more sets, no more pruning); the
//!   journal keeps everything from the last good set and recovery reports the entry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::journal::Journal;
use super::recovery;
use super::{PersistError, SnapshotStore, Store};
use crate::config::Config;

/// How often the thread looks whether a set is due (it is woken at once to stop).
const POLL: Duration = Duration::from_millis(100);
/// A periodic set waits at least this many times its predecessor's rebuild and write time, so
/// sets use at most about 1/DUTY of a core under load (they then come less often than every
/// `snapshot_every` events; the journal's tail, and the next rebuild, stay bounded).
const DUTY: u32 = 10;
/// Pause before retrying a prune request the full journal queue refused.
const RETRY: Duration = Duration::from_millis(1);

/// Run this thread at nice 10: rebuilding and encoding a set is background work that must not
/// take cores from matching and replies when they are contended (measured: p99 at 15.5k
/// requests/s on 2 cores).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers; they only change this
    // thread's scheduling priority (Linux keeps nice per thread).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Hand the pages of the dropped rebuild back to the OS: glibc keeps freed memory in its
/// arenas, so without this the resident size would stay at two copies of the state after the
/// first set.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a plain integer and only returns free pages of glibc's heap.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What the snapshotter thread ends with.
#[derive(Debug)]
pub struct SnapshotterReport {
    /// The sequence of the last set written (or of the state it started from).
    pub last_seq: u64,
    /// Snapshot sets written.
    pub sets: u64,
    /// Why it stopped early, if it did.
    pub error: Option<PersistError>,
}

/// Handle to the snapshotter thread. Dropping it without [`Snapshotter::stop`] leaves the
/// thread running until the process ends.
pub struct Snapshotter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<SnapshotterReport>>,
}

/// What the handle and the thread share.
struct Shared {
    /// Stop once a final set at this sequence is written (`u64::MAX`: keep going).
    stop_at: AtomicU64,
    final_set: AtomicBool,
    /// The sequence of the last set written.
    set_seq: AtomicU64,
    sets: AtomicU64,
    journal: Mutex<Option<Arc<Journal>>>,
}

impl Shared {
    fn journal(&self) -> Option<Arc<Journal>> {
        self.journal
            .lock()
            .expect("the lock only guards an assignment or a clone, which cannot panic, so it is never poisoned")
            .clone()
    }
}

impl Snapshotter {
    /// Start over `store` (a handle on the data directory the journal writes), whose state at
    /// `from` (the recovered sequence) is the newest set plus the journal after it, writing a
    /// set every `every` committed events. `journal` may be attached later with
    /// [`Snapshotter::attach`] (the journal is started after the store is opened); sets wait
    /// for it.
    pub fn start(
        store: Store,
        config: Config,
        from: u64,
        journal: Option<Arc<Journal>>,
        every: u64,
    ) -> Snapshotter {
        let shared = Arc::new(Shared {
            stop_at: AtomicU64::new(u64::MAX),
            final_set: AtomicBool::new(true),
            set_seq: AtomicU64::new(from),
            sets: AtomicU64::new(0),
            journal: Mutex::new(journal),
        });
        let w = Worker {
            snapshots: store.snapshots(),
            store,
            config,
            every: every.max(1),
            events_at_set: 0,
            next_allowed: Instant::now(),
            shared: Arc::clone(&shared),
        };
        let thread = std::thread::Builder::new()
            .name("perpx-snapshotter".into())
            .spawn(move || {
                lower_priority();
                w.run()
            })
            .expect("spawning the snapshotter thread: the OS refused a thread at start");
        Snapshotter {
            shared,
            thread: Some(thread),
        }
    }

    /// Snapshot sets written so far.
    pub fn sets_written(&self) -> u64 {
        self.shared.sets.load(Ordering::Acquire)
    }

    /// The sequence of the newest set written (the state it started from before any).
    pub fn set_upto(&self) -> u64 {
        self.shared.set_seq.load(Ordering::Acquire)
    }

    /// Give the snapshotter the journal to watch and prune.
    pub fn attach(&self, journal: Arc<Journal>) {
        *self
            .shared
            .journal
            .lock()
            .expect("the lock only guards an assignment or a clone, which cannot panic, so it is never poisoned") = Some(journal);
    }

    /// Clean shutdown: the caller has flushed the journal up to `durable` (its `flush()`
    /// result). Write a final set at it unless the newest set is there already (durable when
    /// this returns), and stop.
    pub fn stop(self, durable: u64) -> SnapshotterReport {
        self.shared.stop_at.store(durable, Ordering::Release);
        self.join()
    }

    /// Stop at once without a final set (what a crash leaves behind; for tests).
    pub fn abort(self) -> SnapshotterReport {
        self.shared.final_set.store(false, Ordering::Release);
        self.shared.stop_at.store(0, Ordering::Release);
        self.join()
    }

    fn join(mut self) -> SnapshotterReport {
        // expect: `thread` is taken only here, by value.
        let t = self.thread.take().expect("joined once");
        t.thread().unpark();
        // expect: the thread returns its report unless it panicked, which is a bug to surface.
        t.join().expect("snapshotter thread panicked")
    }
}

struct Worker {
    store: Store,
    snapshots: SnapshotStore,
    config: Config,
    every: u64,
    /// The journal's event count (since the journal started) at the last set.
    events_at_set: u64,
    /// No periodic set before this (duty-cycle limit, see [`DUTY`]).
    next_allowed: Instant,
    shared: Arc<Shared>,
}

impl Worker {
    fn run(mut self) -> SnapshotterReport {
        let mut error = self.watch().err();
        let stop_at = self.shared.stop_at.load(Ordering::Acquire);
        if error.is_none()
            && self.shared.final_set.load(Ordering::Acquire)
            && stop_at > self.shared.set_seq.load(Ordering::Acquire)
        {
            // Final set at clean shutdown.
            error = self.write_set(stop_at, true).err();
        }
        SnapshotterReport {
            last_seq: self.shared.set_seq.load(Ordering::Acquire),
            sets: self.shared.sets.load(Ordering::Acquire),
            error,
        }
    }

    /// Write periodic sets until asked to stop.
    fn watch(&mut self) -> Result<(), PersistError> {
        while self.shared.stop_at.load(Ordering::Acquire) == u64::MAX {
            std::thread::park_timeout(POLL);
            let Some(journal) = self.shared.journal() else {
                continue;
            };
            let stats = journal.stats();
            let events = stats.events.load(Ordering::Acquire);
            let durable = stats.durable_upto.load(Ordering::Acquire);
            if events.saturating_sub(self.events_at_set) >= self.every
                && Instant::now() >= self.next_allowed
                && durable > self.shared.set_seq.load(Ordering::Acquire)
            {
                self.events_at_set = events;
                self.write_set(durable, false)?;
            }
        }
        Ok(())
    }

    /// Rebuild the state at `seq` (durable), write it as a set (durable on return), then let
    /// the journal prune up to it. `wait`: until the prune request is queued and flushed.
    fn write_set(&mut self, seq: u64, wait: bool) -> Result<(), PersistError> {
        let Some(journal) = self.shared.journal() else {
            return Ok(()); // Not attached yet: the next set will include these events.
        };
        let started = Instant::now();
        let state = recovery::rebuild(&self.store, &self.config, seq).map_err(|e| {
            PersistError::Rebuild {
                seq,
                why: e.to_string(),
            }
        })?;
        let set = state.snapshot_set();
        drop(state);
        self.snapshots.write_set(seq, &set)?;
        drop(set);
        release_freed_memory();
        self.shared.set_seq.store(seq, Ordering::Release);
        // Rebuilding and writing take time proportional to the state and the tail; keep the
        // thread mostly idle so sets never compete with matching for long.
        self.next_allowed = Instant::now() + started.elapsed() * DUTY;
        loop {
            match journal.try_prune(seq) {
                Ok(()) => break,
                Err(_) if journal.stats().failed.load(Ordering::Acquire) => {
                    return Err(PersistError::JournalGone);
                }
                Err(_) => std::thread::sleep(RETRY), // The journal queue is full: retry.
            }
        }
        if wait {
            journal.flush()?;
        }
        let sets = self.shared.sets.fetch_add(1, Ordering::AcqRel) + 1;
        tracing::info!(
            seq,
            sets,
            took_ms = started.elapsed().as_millis() as u64,
            "snapshot set written"
        );
        Ok(())
    }
}
