//! Wiring of the persistence shell for the application: open the data directory, recover,
//! start the journal thread with its tap and the snapshotter on the recovered state; at clean
//! shutdown flush, write the final snapshot set and stop.
//!
//! Wiring (in `app.rs`), inside the actix `System`:
//! ```no_run
//! # fn run(config: perpx::config::Config) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use perpx::actors::{supervisor, Exchange, StartOptions};
//! use perpx::persistence::{service, JournalConfig};
//!
//! let (persistence, recovered) = service::start(&config, JournalConfig::default(), None)?;
//! let exchange = Exchange::start(
//!     &config,
//!     recovered.initial,
//!     StartOptions {
//!         clock: Arc::new(perpx::clock::SystemClock),
//!         journal: Some(Arc::clone(&persistence.journal)),
//!         timers: true,
//!         market_in_flight: supervisor::MARKET_IN_FLIGHT,
//!         account_in_flight: supervisor::ACCOUNT_IN_FLIGHT,
//!         feed_capacity: config.server.ws_queue,
//!         follower: false,
//!     },
//! );
//! // ... serve until asked to stop, then:
//! exchange.stop();
//! persistence.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Invariants
//! - The snapshotter starts at the recovered `last_seq`, and the journal continues at
//!   `last_seq + 1`: the newest set plus the journal after it is the state at every later
//!   durable sequence, which is what the snapshotter rebuilds its next set from.

use std::sync::Arc;

use super::journal::{CommitHook, Journal, JournalConfig, Replicate};
use super::recovery::{recover, Recovered, RecoveryError};
use super::snapshotter::{Snapshotter, SnapshotterReport};
use super::{JournalReader, PersistError, Store};
use crate::config::Config;

/// The running journal and snapshotter.
pub struct Persistence {
    /// Pass clones to `StartOptions::journal`.
    pub journal: Arc<Journal>,
    snapshotter: Snapshotter,
}

/// Open `config.server.data_dir`, recover from it and start the journal and snapshotter.
/// Returns the recovered state for `Exchange::start` (`recovered.initial`).
pub fn start(
    config: &Config,
    journal_config: JournalConfig,
    hook: Option<CommitHook>,
) -> Result<(Persistence, Recovered), RecoveryError> {
    start_replicated(config, journal_config, hook, |_| None)
}

/// [`start`], with the journal handing committed entries to what `replicate` returns (it is
/// given a reader of the journal, for entries it must re-read).
pub fn start_replicated(
    config: &Config,
    journal_config: JournalConfig,
    hook: Option<CommitHook>,
    replicate: impl FnOnce(JournalReader) -> Option<Arc<dyn Replicate>>,
) -> Result<(Persistence, Recovered), RecoveryError> {
    let store = Store::open(&config.server.data_dir)?;
    let recovered = recover(&store, config)?;
    let replicate = replicate(store.reader());
    let view = store.clone();
    let journal = Arc::new(Journal::start_replicated(
        store,
        journal_config,
        hook,
        replicate,
    )?);
    let snapshotter = Snapshotter::start(
        view,
        config.clone(),
        recovered.last_seq,
        Some(Arc::clone(&journal)),
        config.server.snapshot_every,
    );
    Ok((
        Persistence {
            journal,
            snapshotter,
        },
        recovered,
    ))
}

impl Persistence {
    /// Clean shutdown, after the actors stopped appending: flush the journal and write the
    /// final snapshot set at its last sequence (durable on return).
    pub fn shutdown(self) -> Result<SnapshotterReport, PersistError> {
        let durable = self.journal.flush()?;
        let report = self.snapshotter.stop(durable);
        match &report.error {
            Some(e) => Err(e.clone()),
            None => Ok(report),
        }
    }
}
