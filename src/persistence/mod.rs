//! Persistence: two redb databases in `data_dir`. `perpx.redb` holds the journal (global
//! sequence → encoded batch of events) and meta (format version, last sequence); only the
//! journal thread ([`journal`]) writes it. `snapshots.redb` holds snapshots (entity, sequence
//! → encoded state); only the snapshotter writes it, in its own transactions, so a snapshot
//! never holds the journal's write lock. Nothing here runs on an actor or HTTP thread.
//!
//! # Map
//! - [`store`]: opening the databases, reading them back; [`codec`]: the record format.
//! - [`snapshots`]: the snapshot file.
//! - [`journal`]: the group-commit thread, with a tap that forwards committed entries.
//! - [`replica`]: the state rebuilt from batches (one `apply` for recovery and snapshotter).
//! - [`recovery`]: snapshots + journal tail at start, or a refusal naming what is wrong.
//! - [`snapshotter`]: the replica thread writing snapshot sets and pruning the journal.
//! - [`service`]: start (recover, journal, snapshotter) and clean shutdown, for `app.rs`.
//!
//! # Invariants
//! - Journal keys are consecutive from the first retained entry to `meta.last_seq`.
//! - A database whose `format_version` is unknown (newer) is refused, never rewritten.
//! - A snapshot of an entity at sequence S reflects exactly the journal entries ≤ S; the
//!   journal is pruned only up to a snapshot set that is already durable.

pub mod codec;
pub mod error;
pub mod journal;
pub mod recovery;
pub mod replica;
pub mod service;
pub mod snapshots;
pub mod snapshotter;
pub mod store;

use redb::TableDefinition;

pub use error::PersistError;
pub use journal::{
    Ack, AckError, Entry, Journal, JournalConfig, JournalStats, Replicate, RELAXED_SYNC,
};
pub use recovery::{recover, recover_with, Recovered, RecoveryError, RecoveryOptions};
pub use replica::{Replica, StateHashes};
pub use service::Persistence;
pub use snapshots::{SnapshotStore, SNAPSHOTS, SNAPSHOT_FILE};
pub use snapshotter::{Snapshotter, SnapshotterReport};
pub use store::{JournalReader, Store, StoreError};

/// The journal: sequence → one encoded batch (the events of one command, or of one group).
pub const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
/// Meta values.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// `META` key: the on-disk format version.
pub const META_FORMAT: &str = "format_version";
/// `META` key: the sequence of the last journal entry ever written (kept when pruned).
pub const META_LAST_SEQ: &str = "last_seq";

/// The format this build writes and understands (2: snapshots in their own file; journal
/// records and snapshots carry fee residues, fill counts and income histories).
pub const FORMAT_VERSION: u64 = 2;

/// The database file inside `data_dir`.
pub const DB_FILE: &str = "perpx.redb";
