//! Why the journal or the snapshotter stopped short: one typed error for the persistence
//! threads' own failures (the store's are [`StoreError`], an entry's acknowledgement's
//! [`AckError`]), rendered to text only where it is logged or reported.

use super::{AckError, StoreError};

/// A failure of the journal or the snapshotter thread.
#[derive(Debug, PartialEq, Eq, Clone, thiserror::Error)]
pub enum PersistError {
    /// The journal was closed before the request.
    #[error("journal closed")]
    JournalClosed,
    /// The journal thread ended (it failed earlier, or panicked).
    #[error("journal thread gone")]
    JournalGone,
    /// The journal failed a write, or this node lost the primary role.
    #[error("journal: {0}")]
    Ack(#[from] AckError),
    /// The state at `seq` could not be rebuilt from the last set and the journal (an entry
    /// that does not decode or apply, a gap: a bug or corruption; recovery would refuse too).
    #[error("snapshotter: rebuilding the state at entry {seq}: {why}")]
    Rebuild { seq: u64, why: String },
    /// Writing a snapshot set failed.
    #[error("snapshotter: {0}")]
    Store(String),
}

impl From<StoreError> for PersistError {
    fn from(e: StoreError) -> PersistError {
        PersistError::Store(e.to_string())
    }
}
