//! Opening the database and reading it back (recovery). Creation writes the format version;
//! opening an existing file checks it and refuses a newer or missing one with a message that
//! names the file and the problem.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Builder, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::snapshots::SnapshotStore;
use super::{DB_FILE, FORMAT_VERSION, JOURNAL, META, META_FORMAT, META_LAST_SEQ};

/// Why the data directory cannot be used. `Display` names the path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: cannot create the data directory: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot open the database (corrupt or not a perpx database?): {source}")]
    Open {
        path: PathBuf,
        source: Box<redb::Error>,
    },
    #[error("{path}: format version {found} is newer than this build understands ({FORMAT_VERSION}); upgrade perpx")]
    NewerFormat { path: PathBuf, found: u64 },
    #[error("{path}: format version {found} was written by an older perpx; this build reads {FORMAT_VERSION} only: start with an empty data directory (keep the old one to read it with the old build)")]
    OlderFormat { path: PathBuf, found: u64 },
    #[error("{path}: database has journal data but no format version; refusing to guess")]
    MissingFormat { path: PathBuf },
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: Box<redb::Error>,
    },
}

/// redb's page cache for the journal database. The journal is written once and read back
/// only sequentially (recovery, the replication reader, just-committed entries), so a large
/// cache buys nothing: redb's default (1 GiB) kept every page written in memory and made the
/// resident size grow with the journal, not with the state.
pub const JOURNAL_CACHE_BYTES: usize = 32 << 20;

/// The open databases, checked: the journal's and the snapshot file.
#[derive(Clone)]
pub struct Store {
    pub(super) db: Arc<Database>,
    pub(super) path: PathBuf,
    snapshots: SnapshotStore,
}

impl Store {
    /// Open or create `<data_dir>/perpx.redb`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Dir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let db = Builder::new()
            .set_cache_size(JOURNAL_CACHE_BYTES)
            .create(&path)
            .map_err(|e| StoreError::Open {
                path: path.clone(),
                source: Box::new(e.into()),
            })?;
        let snapshots = SnapshotStore::open(data_dir)?;
        let store = Store {
            db: Arc::new(db),
            path,
            snapshots,
        };
        store.check_format()?;
        Ok(store)
    }

    fn io(&self, what: &'static str) -> impl Fn(redb::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: self.path.clone(),
            what,
            source: Box::new(source),
        }
    }

    fn check_format(&self) -> Result<(), StoreError> {
        let err = self.io("reading meta");
        let found = {
            let r = self.db.begin_read().map_err(|e| err(e.into()))?;
            match r.open_table(META) {
                Ok(t) => t
                    .get(META_FORMAT)
                    .map_err(|e| err(e.into()))?
                    .map(|v| v.value()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(err(e.into())),
            }
        };
        match found {
            Some(v) if v > FORMAT_VERSION => Err(StoreError::NewerFormat {
                path: self.path.clone(),
                found: v,
            }),
            Some(v) if v < FORMAT_VERSION => Err(StoreError::OlderFormat {
                path: self.path.clone(),
                found: v,
            }),
            Some(_) => Ok(()),
            None if self.last_seq()? > 0 => Err(StoreError::MissingFormat {
                path: self.path.clone(),
            }),
            None => {
                let err = self.io("writing meta");
                let w = self.db.begin_write().map_err(|e| err(e.into()))?;
                {
                    let mut meta = w.open_table(META).map_err(|e| err(e.into()))?;
                    meta.insert(META_FORMAT, FORMAT_VERSION)
                        .map_err(|e| err(e.into()))?;
                    w.open_table(JOURNAL).map_err(|e| err(e.into()))?;
                }
                w.commit().map_err(|e| err(e.into()))
            }
        }
    }

    /// The sequence of the last journal entry ever written (0: none).
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        let err = self.io("reading the journal");
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let from_meta = match r.open_table(META) {
            Ok(t) => t
                .get(META_LAST_SEQ)
                .map_err(|e| err(e.into()))?
                .map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(err(e.into())),
        };
        let from_journal = match r.open_table(JOURNAL) {
            Ok(t) => t.last().map_err(|e| err(e.into()))?.map(|(k, _)| k.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(err(e.into())),
        };
        Ok(from_meta.unwrap_or(0).max(from_journal.unwrap_or(0)))
    }

    /// The newest snapshot of `entity`, with the sequence it is consistent with.
    pub fn latest_snapshot(&self, entity: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.snapshots.latest(entity)
    }

    /// The snapshot file (the snapshotter writes through a clone of it).
    pub fn snapshots(&self) -> SnapshotStore {
        self.snapshots.clone()
    }

    /// Visit every journal entry with sequence > `after`, in order. Returns how many.
    pub fn replay(&self, after: u64, mut visit: impl FnMut(u64, &[u8])) -> Result<u64, StoreError> {
        let err = self.io("reading the journal");
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let t = r.open_table(JOURNAL).map_err(|e| err(e.into()))?;
        let mut n = 0;
        let mut expect = None;
        for entry in t
            .range(after.saturating_add(1)..)
            .map_err(|e| err(e.into()))?
        {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            let seq = k.value();
            if let Some(want) = expect.filter(|&w| w != seq) {
                return Err(err(redb::Error::Corrupted(format!(
                    "journal gap: expected sequence {want}, found {seq}"
                ))));
            }
            visit(seq, v.value());
            expect = Some(seq + 1);
            n += 1;
        }
        Ok(n)
    }

    /// Visit journal entries with sequence > `after` in order while `visit` returns `true`
    /// (no gap check: the caller checks the sequence). Returns how many were visited.
    pub fn replay_while(
        &self,
        after: u64,
        mut visit: impl FnMut(u64, &[u8]) -> bool,
    ) -> Result<u64, StoreError> {
        let err = self.io("reading the journal");
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let t = r.open_table(JOURNAL).map_err(|e| err(e.into()))?;
        let mut n = 0;
        for entry in t
            .range(after.saturating_add(1)..)
            .map_err(|e| err(e.into()))?
        {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            n += 1;
            if !visit(k.value(), v.value()) {
                break;
            }
        }
        Ok(n)
    }

    /// The entity names that have a snapshot.
    pub fn snapshot_entities(&self) -> Result<Vec<String>, StoreError> {
        self.snapshots.entities()
    }

    /// The sequence of the first retained journal entry (`None`: the table is empty).
    pub fn first_seq(&self) -> Result<Option<u64>, StoreError> {
        let err = self.io("reading the journal");
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let t = r.open_table(JOURNAL).map_err(|e| err(e.into()))?;
        let first = t
            .first()
            .map_err(|e| err(e.into()))?
            .map(|(k, _)| k.value());
        Ok(first)
    }

    /// The number of entries in the journal table (pruned ones excluded).
    pub fn journal_len(&self) -> Result<u64, StoreError> {
        let err = self.io("reading the journal");
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let t = r.open_table(JOURNAL).map_err(|e| err(e.into()))?;
        t.len().map_err(|e| err(e.into()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read handle on the journal for another thread (the replication publisher, which
    /// re-reads entries it has not published yet).
    pub fn reader(&self) -> JournalReader {
        JournalReader {
            db: Arc::clone(&self.db),
            path: self.path.clone(),
        }
    }
}

/// Reads journal entries while the journal thread writes (redb: readers never block it).
#[derive(Clone)]
pub struct JournalReader {
    db: Arc<Database>,
    path: PathBuf,
}

impl JournalReader {
    /// Up to `max` entries with sequence > `after`, in order.
    pub fn entries(&self, after: u64, max: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let err = |source: redb::Error| StoreError::Io {
            path: self.path.clone(),
            what: "reading the journal",
            source: Box::new(source),
        };
        let r = self.db.begin_read().map_err(|e| err(e.into()))?;
        let t = r.open_table(JOURNAL).map_err(|e| err(e.into()))?;
        let mut out = Vec::new();
        for entry in t
            .range(after.saturating_add(1)..)
            .map_err(|e| err(e.into()))?
            .take(max)
        {
            let (k, v) = entry.map_err(|e| err(e.into()))?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }
}
