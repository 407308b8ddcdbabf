//! The journal thread's loop: block for the first request, drain what is queued (up to the
//! batch bound), write it in one `Durability::Immediate` transaction with a chunk of pruning,
//! publish `durable_upto`, hand the entries to replication, run the acknowledgements.
//!
//! # Invariants
//! - Sequences are assigned in queue order, consecutive.
//! - An acknowledgement runs only after the transaction holding its entry has committed; after a
//!   failed commit every pending and later request is refused with the error (fail fast).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::Durability;

use super::{Ack, AckError, CommitHook, JournalStats, Replicate, Request};
use crate::persistence::{Store, JOURNAL, META, META_LAST_SEQ};

pub(super) struct Worker {
    pub(super) store: Store,
    pub(super) rx: Receiver<Request>,
    pub(super) next_seq: u64,
    pub(super) stats: Arc<JournalStats>,
    pub(super) max_batch_events: usize,
    pub(super) hook: Option<CommitHook>,
    pub(super) replicate: Option<Arc<dyn Replicate>>,
    /// Entries up to this may be deleted.
    pub(super) prune_target: u64,
    /// Entries up to this are deleted (or never existed).
    pub(super) pruned_upto: u64,
    /// `relaxed` without replication: commits under load skip the fsync, and one in this long
    /// (or the first with nothing queued behind it, or a barrier) makes them all durable.
    /// `None`: every commit is durable.
    pub(super) sync_every: Option<Duration>,
    /// When the last durable commit finished.
    pub(super) last_sync: Instant,
    /// Acknowledgements of entries committed but not yet durable (run at the next durable
    /// commit: an acknowledgement always means durable).
    pub(super) held: Vec<(Ack, u64)>,
}

impl Worker {
    pub(super) fn run(mut self) {
        let mut batch: Vec<Request> = Vec::with_capacity(1024);
        loop {
            let Some(first) = self.next_request(&mut batch) else {
                return;
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
            let durable = self.durable_now(&batch);
            match self.commit(&mut batch, durable) {
                Ok(c) => self.committed(c, events, started.elapsed(), durable),
                Err(e) => {
                    self.fail(format!("journal commit failed: {e}"), &mut batch);
                    return;
                }
            }
        }
    }

    /// Whether this batch's commit must be durable: always, unless `sync_every` is set, and
    /// then when it carries a barrier or the last durable commit is `sync_every` old. (Entries
    /// left undurable when the queue runs dry are synced by [`Worker::next_request`] once the
    /// window ends.)
    fn durable_now(&self, batch: &[Request]) -> bool {
        self.sync_every.is_none_or(|every| {
            batch.iter().any(|r| matches!(r, Request::Barrier(_)))
                || self.last_sync.elapsed() >= every
        })
    }

    /// A durable commit made everything before it durable: announce it and run the held
    /// acknowledgements.
    pub(super) fn synced(&mut self) {
        self.last_sync = Instant::now();
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.stats
            .durable_upto
            .store(self.next_seq - 1, Ordering::Release);
        for (ack, seq) in self.held.drain(..) {
            ack(Ok(seq));
        }
    }

    /// The first request of the next transaction, pruning one chunk at a time while idle with
    /// pruning left, and making held entries durable within `sync_every`; `None` once the
    /// queue is closed (or a commit failed: the journal failed).
    fn next_request(&mut self, batch: &mut Vec<Request>) -> Option<Request> {
        loop {
            if self.durable_upto() < self.next_seq - 1 {
                let wait = self
                    .sync_every
                    .unwrap_or_default()
                    .saturating_sub(self.last_sync.elapsed());
                match self.rx.recv_timeout(wait) {
                    Ok(r) => return Some(r),
                    Err(_) => {
                        // Idle (or closing) with entries not yet durable: sync them now.
                        if let Err(e) = self.sync_only() {
                            self.fail(format!("journal commit failed: {e}"), batch);
                            return None;
                        }
                        continue;
                    }
                }
            }
            if self.pruned_upto >= self.prune_limit() {
                return self.rx.recv().ok();
            }
            match self.rx.try_recv() {
                Ok(r) => return Some(r),
                Err(mpsc::TryRecvError::Empty) => {
                    if let Err(e) = self.prune_only() {
                        self.fail(format!("journal prune failed: {e}"), batch);
                        return None;
                    }
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    // Closing: finish the pruning asked for, so it is not left for later.
                    while self.pruned_upto < self.prune_limit() {
                        if self.prune_only().is_err() {
                            return None;
                        }
                    }
                    return None;
                }
            }
        }
    }

    fn durable_upto(&self) -> u64 {
        self.stats.durable_upto.load(Ordering::Acquire)
    }

    /// An empty durable commit: makes every earlier commit durable.
    fn sync_only(&mut self) -> Result<(), redb::Error> {
        let mut w = self.store.db.begin_write()?;
        w.set_durability(Durability::Immediate)?;
        w.commit()?;
        self.synced();
        Ok(())
    }

    /// After a commit: count it; if it was durable, announce it and release barriers and
    /// acknowledgements (through the replication stream when configured), else hold the
    /// acknowledgements for the next durable commit.
    fn committed(&mut self, c: Committed, events: usize, took: Duration, durable: bool) {
        let Committed {
            acks,
            barriers,
            copies,
        } = c;
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
        if !durable {
            // Barriers force a durable commit, and replication never skips the fsync.
            self.held.extend(acks);
            return;
        }
        self.synced();
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
    }

    /// Fail fast: refuse everything from now on; the owner stops the process.
    fn fail(&mut self, msg: String, batch: &mut Vec<Request>) {
        self.stats.failed.store(true, Ordering::Release);
        for (ack, _) in self.held.drain(..) {
            ack(Err(AckError::Journal(msg.clone())));
        }
        let pending: Vec<Request> = batch
            .drain(..)
            .chain(std::iter::from_fn(|| self.rx.try_recv().ok()))
            .collect();
        for r in pending {
            match r {
                Request::AppendMany(entries) => {
                    for (_, _, ack) in entries {
                        if let Some(ack) = ack {
                            ack(Err(AckError::Journal(msg.clone())));
                        }
                    }
                }
                r => {
                    if let Some(ack) = ack_of(r) {
                        ack(Err(AckError::Journal(msg.clone())));
                    }
                }
            }
        }
    }

    /// Write `batch` in one transaction. On success the batch is drained and the acks are
    /// returned with their sequences (a barrier gets the last sequence before it);
    /// on failure the batch is left for the caller to fail.
    #[allow(clippy::type_complexity)]
    fn commit(
        &mut self,
        batch: &mut Vec<Request>,
        durable: bool,
    ) -> Result<Committed, redb::Error> {
        let mut w = self.store.db.begin_write()?;
        w.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })?;
        let mut seq = self.next_seq;
        let mut seqs = Vec::with_capacity(batch.len());
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
                            copies.push((seq, std::mem::take(payload)));
                        }
                        seq += 1;
                    }
                    Request::AppendMany(entries) => {
                        for (payload, _, ack) in entries.iter_mut() {
                            journal.insert(seq, payload.as_slice())?;
                            if replicated {
                                copies.push((seq, std::mem::take(payload)));
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
            copies,
        })
    }
}

/// What one transaction committed: appends' acknowledgements (with their sequences), barriers'
/// (locally durable), and copies for replication.
struct Committed {
    acks: Vec<(Ack, u64)>,
    barriers: Vec<(Ack, u64)>,
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
