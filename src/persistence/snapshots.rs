//! The snapshot file: `<data_dir>/snapshots.redb`, apart from the journal's database, so a
//! large snapshot set is written (and fsynced) in its own write transaction without holding the
//! journal's: redb allows one writer per database, and a set of a hundred megabytes in the
//! journal's file stalled every durable reply behind it (docs/ARCHITECTURE.md §5).
//!
//! # Invariants
//! - A set is written in one transaction: after a crash either the whole set at S is there or
//!   none of it; older snapshots of its entities are removed in the same transaction.
//! - Only the snapshotter writes here; recovery reads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Builder, Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::StoreError;

/// Snapshots: (entity name, sequence they are consistent with) → encoded state.
pub const SNAPSHOTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("snapshots");

/// The snapshot file inside `data_dir`.
pub const SNAPSHOT_FILE: &str = "snapshots.redb";

/// redb's page cache for the snapshot file: a set is written once and read once, at the next
/// start, so caching its pages (redb's default: up to 1 GiB) would only keep a second copy of
/// the state in memory.
pub const SNAPSHOT_CACHE_BYTES: usize = 8 << 20;

/// A handle to the snapshot file (cheap to clone; reads and writes from any thread).
#[derive(Clone)]
pub struct SnapshotStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl SnapshotStore {
    /// Open or create `<data_dir>/snapshots.redb` (the directory exists).
    pub fn open(data_dir: &Path) -> Result<SnapshotStore, StoreError> {
        let path = data_dir.join(SNAPSHOT_FILE);
        let db = Builder::new()
            .set_cache_size(SNAPSHOT_CACHE_BYTES)
            .create(&path)
            .map_err(|e| StoreError::Open {
                path: path.clone(),
                source: Box::new(e.into()),
            })?;
        let s = SnapshotStore {
            db: Arc::new(db),
            path,
        };
        {
            let err = s.io("creating the snapshot table");
            let w = s.db.begin_write().map_err(|e| err(e.into()))?;
            w.open_table(SNAPSHOTS).map_err(|e| err(e.into()))?;
            w.commit().map_err(|e| err(e.into()))?;
        }
        Ok(s)
    }

    fn io(&self, what: &'static str) -> impl Fn(redb::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: self.path.clone(),
            what,
            source: Box::new(source),
        }
    }

    /// Write the snapshots of `set` (entity → encoded state), all consistent with journal
    /// sequence `seq`, durably and in one transaction, replacing older ones.
    pub fn write_set(&self, seq: u64, set: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let err = self.io("writing a snapshot set");
        let mut w = self.db.begin_write().map_err(|e| err(e.into()))?;
        w.set_durability(Durability::Immediate)
            .map_err(|e| err(e.into()))?;
        {
            let mut t = w.open_table(SNAPSHOTS).map_err(|e| err(e.into()))?;
            for (entity, bytes) in set {
                let entity = entity.as_str();
                t.insert((entity, seq), bytes.as_slice())
                    .map_err(|e| err(e.into()))?;
                t.retain_in((entity, 0)..(entity, seq), |_, _| false)
                    .map_err(|e| err(e.into()))?;
            }
        }
        w.commit().map_err(|e| err(e.into()))
    }

    /// The newest snapshot of `entity`, with the sequence it is consistent with.
    pub fn latest(&self, entity: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let err = self.io("reading snapshots");
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let t = r.open_table(SNAPSHOTS).map_err(|e| err(e.into()))?;
        let mut range = t
            .range((entity, 0)..=(entity, u64::MAX))
            .map_err(|e| err(e.into()))?;
        match range.next_back() {
            Some(entry) => {
                let (k, v) = entry.map_err(|e| err(e.into()))?;
                Ok(Some((k.value().1, v.value().to_vec())))
            }
            None => Ok(None),
        }
    }

    /// The entity names that have a snapshot.
    pub fn entities(&self) -> Result<Vec<String>, StoreError> {
        let err = self.io("reading snapshots");
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let t = r.open_table(SNAPSHOTS).map_err(|e| err(e.into()))?;
        let mut v: Vec<String> = Vec::new();
        for entry in t.iter().map_err(|e| err(e.into()))? {
            let (k, _) = entry.map_err(|e| err(e.into()))?;
            let name = k.value().0;
            if v.last().map(String::as_str) != Some(name) {
                v.push(name.to_owned());
            }
        }
        Ok(v)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
