//! Pruning on the journal thread: entries a durable snapshot set made unnecessary are deleted
//! in chunks of at most [`PRUNE_CHUNK`](super::PRUNE_CHUNK), inside the next commit's
//! transaction or in a transaction of their own while idle.
//!
//! # Invariants
//! - Nothing above the snapshot sets' target is deleted, nor above what replication has
//!   published ([`super::Replicate::replicated_upto`]).
//! - No transaction deletes more than one chunk, so pruning never holds up the replies queued
//!   behind it.

use std::sync::atomic::Ordering;

use redb::Durability;

use super::worker::Worker;
use super::PRUNE_CHUNK;
use crate::persistence::JOURNAL;

impl Worker {
    /// How far pruning may go now: the snapshot sets' target, never past what the replication
    /// stream has (a follower may still need it).
    pub(super) fn prune_limit(&self) -> u64 {
        match &self.replicate {
            Some(r) => self.prune_target.min(r.replicated_upto()),
            None => self.prune_target,
        }
    }

    /// Delete the next chunk of prunable entries in `journal` (inside the caller's transaction).
    pub(super) fn prune_chunk(
        &mut self,
        journal: &mut redb::Table<u64, &[u8]>,
    ) -> Result<(), redb::Error> {
        if self.pruned_upto >= self.prune_target {
            return Ok(());
        }
        let target = self.prune_limit();
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
    pub(super) fn prune_only(&mut self) -> Result<(), redb::Error> {
        let mut w = self.store.db.begin_write()?;
        w.set_durability(Durability::Immediate)?;
        {
            let mut journal = w.open_table(JOURNAL)?;
            self.prune_chunk(&mut journal)?;
        }
        w.commit()?;
        self.synced();
        Ok(())
    }
}
