//! The snapshotter: a replica of the exchange state on its own thread, fed every committed
//! journal entry through the journal's [`Tap`], applied with the same code as recovery
//! ([`Replica::apply`]). Every `snapshot_every` events it writes the snapshot set into the
//! snapshot file ([`SnapshotStore`], its own database and write transaction, never the
//! journal's), then lets the journal prune up to the set's sequence ([`Journal::try_prune`],
//! in bounded chunks). No more often than a duty-cycle limit allows, see [`DUTY`].
//!
//! Why a replica and not the actors: the actors' state may be ahead of the journal (R1 holds
//! of commands not yet committed), so a snapshot of it would not be "exactly the batches ≤ S".
//!
//! # Invariants
//! - The replica only sees committed entries, in sequence order, so a set written at S
//!   reflects exactly the entries ≤ S.
//! - The journal is asked to prune only after the set's transaction has committed: it is never
//!   pruned past a snapshot that is not durable.
//! - An entry that does not decode or apply stops the snapshotter (no more snapshots, no more
//!   pruning); the journal keeps everything from the last good set and recovery reports it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::journal::Journal;
use super::replica::{Replica, StateHashes};
use super::snapshots::SnapshotStore;
use super::tap::TapReceiver;
use super::{codec, PersistError};

/// How often the thread looks for a stop request while idle.
const POLL: Duration = Duration::from_millis(20);
/// A periodic set waits at least this many times its predecessor's encoding time, so encoding
/// uses at most about 1/DUTY of the thread and the replica keeps up with the journal under
/// load (sets then come less often than every `snapshot_every` events; the tail stays bounded).
const DUTY: u32 = 10;
/// Pause before retrying a snapshot request the full journal queue refused.
const RETRY: Duration = Duration::from_millis(1);

/// Run this thread at nice 10: the replica and snapshot encoding are background work that
/// must not take cores from matching and replies when they are contended (measured: p99 at
/// 15.5k requests/s on 2 cores). The bounded tap still makes the replica keep up on average.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers; they only change this
    // thread's scheduling priority (Linux keeps nice per thread).
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// What the snapshotter thread ends with.
#[derive(Debug)]
pub struct SnapshotterReport {
    /// The last sequence applied.
    pub last_seq: u64,
    /// Snapshot sets written.
    pub sets: u64,
    /// Why it stopped early, if it did.
    pub error: Option<PersistError>,
    /// State hashes of the replica at the end.
    pub hashes: StateHashes,
}

/// Handle to the snapshotter thread. Dropping it without [`Snapshotter::stop`] leaves the
/// thread applying entries until the journal (and with it the tap) goes away.
pub struct Snapshotter {
    stop_at: Arc<AtomicU64>,
    final_set: Arc<AtomicBool>,
    thread: Option<JoinHandle<SnapshotterReport>>,
    last_seq: Arc<AtomicU64>,
    journal: Arc<Mutex<Option<Arc<Journal>>>>,
    sets: Arc<AtomicU64>,
}

impl Snapshotter {
    /// Start over `replica` (the recovered state, reflecting `replica.last_seq`), fed by
    /// `entries` (the receiving end of the journal's tap), writing a set every `every` events.
    /// `journal` may be attached later with [`Snapshotter::attach`] (the journal is started
    /// with the tap first); entries arriving before are applied, snapshots wait.
    pub fn start(
        replica: Replica,
        entries: TapReceiver,
        snapshots: SnapshotStore,
        journal: Option<Arc<Journal>>,
        every: u64,
    ) -> Snapshotter {
        let stop_at = Arc::new(AtomicU64::new(u64::MAX));
        let final_set = Arc::new(AtomicBool::new(true));
        let last_seq = Arc::new(AtomicU64::new(replica.last_seq));
        let journal = Arc::new(Mutex::new(journal));
        let sets = Arc::new(AtomicU64::new(0));
        let w = Worker {
            replica,
            entries,
            snapshots,
            journal: Arc::clone(&journal),
            every: every.max(1),
            since: 0,
            sets: 0,
            next_allowed: Instant::now(),
            stop_at: Arc::clone(&stop_at),
            final_set: Arc::clone(&final_set),
            last_seq: Arc::clone(&last_seq),
            sets_written: Arc::clone(&sets),
        };
        let thread = std::thread::Builder::new()
            .name("perpx-snapshotter".into())
            .spawn(move || {
                lower_priority();
                w.run()
            })
            .expect("spawning the snapshotter thread: the OS refused a thread at start");
        Snapshotter {
            stop_at,
            final_set,
            thread: Some(thread),
            last_seq,
            journal,
            sets,
        }
    }

    /// Snapshot sets written so far.
    pub fn sets_written(&self) -> u64 {
        self.sets.load(Ordering::Acquire)
    }

    /// Give the snapshotter the journal to write snapshots through.
    pub fn attach(&self, journal: Arc<Journal>) {
        *self
            .journal
            .lock()
            .expect("the lock only guards an assignment or a clone, which cannot panic, so it is never poisoned") = Some(journal);
    }

    /// The last sequence the replica has applied.
    pub fn applied_upto(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// Clean shutdown: the caller has flushed the journal up to `durable` (its `flush()`
    /// result). Apply everything up to it, write a final snapshot set (durable when this
    /// returns), and stop.
    pub fn stop(self, durable: u64) -> SnapshotterReport {
        self.stop_at.store(durable, Ordering::Release);
        self.join()
    }

    /// Stop at once without a final set (what a crash leaves behind; for tests).
    pub fn abort(self) -> SnapshotterReport {
        self.final_set.store(false, Ordering::Release);
        self.stop_at.store(0, Ordering::Release);
        self.join()
    }

    fn join(mut self) -> SnapshotterReport {
        // expect: the thread returns its report unless it panicked, which is a bug to surface.
        self.thread
            .take()
            .expect("`thread` is taken only here, by value, so it is still there")
            .join()
            .expect("snapshotter thread panicked")
    }
}

struct Worker {
    final_set: Arc<AtomicBool>,
    replica: Replica,
    entries: TapReceiver,
    snapshots: SnapshotStore,
    journal: Arc<Mutex<Option<Arc<Journal>>>>,
    every: u64,
    /// Events applied since the last set.
    since: u64,
    sets: u64,
    /// No periodic set before this (duty-cycle limit, see [`DUTY`]).
    next_allowed: Instant,
    stop_at: Arc<AtomicU64>,
    last_seq: Arc<AtomicU64>,
    sets_written: Arc<AtomicU64>,
}

impl Worker {
    fn run(mut self) -> SnapshotterReport {
        let error = self.feed().err();
        if error.is_none() && self.since > 0 && self.final_set.load(Ordering::Acquire) {
            // Final set at clean shutdown.
            if let Err(e) = self.write_set(true) {
                return self.report(Some(e));
            }
        }
        self.report(error)
    }

    fn report(self, error: Option<PersistError>) -> SnapshotterReport {
        SnapshotterReport {
            last_seq: self.replica.last_seq,
            sets: self.sets,
            error,
            hashes: self.replica.state_hashes(),
        }
    }

    /// Apply entries until stopped (after reaching the stop sequence) or the tap closes.
    fn feed(&mut self) -> Result<(), PersistError> {
        loop {
            if self.replica.last_seq >= self.stop_at.load(Ordering::Acquire) {
                return Ok(());
            }
            match self.entries.recv_timeout(POLL) {
                Ok(v) => self.apply_all(v)?,
                // Idle: a set that is due (and was held back by the duty cycle) goes now.
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            if self.since >= self.every && Instant::now() >= self.next_allowed {
                self.write_set(false)?;
            }
        }
    }

    fn apply_all(&mut self, entries: Vec<(u64, Vec<u8>)>) -> Result<(), PersistError> {
        for (seq, bytes) in entries {
            if seq <= self.replica.last_seq {
                continue;
            }
            if seq != self.replica.last_seq + 1 {
                return Err(PersistError::Gap {
                    expected: self.replica.last_seq + 1,
                    got: seq,
                });
            }
            let b = codec::decode(&bytes).map_err(|e| PersistError::Decode {
                seq,
                why: e.to_string(),
            })?;
            self.replica
                .apply(seq, &b)
                .map_err(|e| PersistError::Apply {
                    seq,
                    why: e.to_string(),
                })?;
            self.last_seq.store(seq, Ordering::Release);
            self.since += b.len().max(1) as u64;
        }
        Ok(())
    }

    /// Write the snapshot set at the replica's sequence (durable on return), then let the
    /// journal prune up to it. `wait`: block until the prune request is queued.
    fn write_set(&mut self, wait: bool) -> Result<(), PersistError> {
        let Some(journal) = self
            .journal
            .lock()
            .expect("the lock only guards an assignment or a clone, which cannot panic, so it is never poisoned")
            .clone()
        else {
            return Ok(()); // Not attached yet: the next set will include these events.
        };
        let seq = self.replica.last_seq;
        let since_at_set = self.since;
        let started = Instant::now();
        let set = self.replica.snapshot_set();
        self.snapshots.write_set(seq, &set)?;
        // Encoding and writing take time proportional to the state; keep the thread mostly
        // applying entries so it never falls behind the journal (the tap would push back).
        self.next_allowed = Instant::now() + started.elapsed() * DUTY;
        loop {
            match journal.try_prune(seq) {
                Ok(()) => break,
                Err(_) if journal.stats().failed.load(Ordering::Acquire) => {
                    return Err(PersistError::JournalGone);
                }
                Err(_) => {
                    // The journal queue is full, perhaps because the journal thread waits on
                    // our tap: keep applying entries, so neither thread waits on the other.
                    match self.entries.try_recv() {
                        Ok(v) => self.apply_all(v)?,
                        Err(_) => std::thread::sleep(RETRY),
                    }
                }
            }
        }
        if wait {
            journal.flush()?;
        }
        // Entries applied while retrying count towards the next set.
        self.since = self.since.saturating_sub(since_at_set);
        self.sets += 1;
        self.sets_written.store(self.sets, Ordering::Release);
        tracing::info!(
            seq,
            sets = self.sets,
            took_ms = started.elapsed().as_millis() as u64,
            "snapshot set written"
        );
        Ok(())
    }
}
