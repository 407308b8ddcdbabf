//! Recovery at start (DESIGN.md §5): load the newest snapshot of every entity, replay the
//! journal after them through the apply functions ([`Replica::apply`]), check the invariants
//! (RULES.md §7), report progress and the time taken.
//!
//! # Invariants
//! - Recovery either returns exactly the journaled state or refuses with a [`RecoveryError`]
//!   whose `Display` names what is wrong: an undecodable entry or snapshot, an unknown format,
//!   a gap in the journal, a config whose markets differ from the data, a broken invariant.
//!   It never starts with silently wrong balances.
//! - A snapshot written at sequence S reflects exactly the entries ≤ S; the journal must hold
//!   every entry from the oldest snapshot's S + 1 up to the last sequence ever written.

use std::time::{Duration, Instant};

use super::codec::{self, DecodeError};
use super::replica::{market_entity, Replica, LEDGER_ENTITY, ORDERS_ENTITY};
use super::{Store, StoreError};
use crate::actors::Initial;
use crate::config::Config;
use crate::domain::ApplyError;

/// A progress line every this many entries.
const PROGRESS_EVERY: u64 = 100_000;

/// The recovered state and how recovery went.
pub struct Recovered {
    pub initial: Initial,
    /// The last journal sequence the state reflects (the journal continues after it).
    pub last_seq: u64,
    /// Journal entries replayed after the snapshots.
    pub replayed: u64,
    pub took: Duration,
}

/// Why recovery refused to start.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("recovery: {0}")]
    Store(#[from] StoreError),
    #[error("recovery: snapshot of {entity} at sequence {seq} is unusable: {reason}")]
    Snapshot {
        entity: String,
        seq: u64,
        reason: ApplyError,
    },
    #[error("recovery: journal entry {seq} cannot be decoded: {source}")]
    Decode { seq: u64, source: DecodeError },
    #[error("recovery: journal entry {seq} does not apply: {reason}")]
    Apply { seq: u64, reason: ApplyError },
    #[error("recovery: journal gap: expected entry {expected}, {found}")]
    Gap { expected: u64, found: String },
    #[error("recovery: invariant broken after replay: {0}")]
    Invariant(String),
}

/// Rebuild the exchange state from `store` for the markets of `config`.
pub fn recover(store: &Store, config: &Config) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    let replica = load_snapshots(store, config)?;
    let (replica, replayed) = replay(store, replica)?;
    check(&replica)?;
    let took = started.elapsed();
    tracing::info!(
        last_seq = replica.last_seq,
        replayed,
        took_ms = took.as_millis() as u64,
        "recovery complete"
    );
    Ok(Recovered {
        last_seq: replica.last_seq,
        initial: replica.into_initial(),
        replayed,
        took,
    })
}

/// The fresh state with every entity that has a snapshot restored from it.
fn load_snapshots(store: &Store, config: &Config) -> Result<Replica, RecoveryError> {
    let mut replica = Replica::fresh(config);
    let mut entities = vec![LEDGER_ENTITY.to_owned(), ORDERS_ENTITY.to_owned()];
    entities.extend(config.markets.iter().map(|m| market_entity(&m.symbol)));
    for entity in entities {
        if let Some((seq, bytes)) = store.latest_snapshot(&entity)? {
            replica
                .restore(config, &entity, seq, &bytes)
                .map_err(|reason| RecoveryError::Snapshot {
                    entity: entity.clone(),
                    seq,
                    reason,
                })?;
        }
    }
    // A snapshot of a market the config no longer has: its positions would vanish.
    for entity in store.snapshot_entities()? {
        if !replica_knows(config, &entity) {
            return Err(RecoveryError::Snapshot {
                entity,
                seq: 0,
                reason: ApplyError("the config has no such market".into()),
            });
        }
    }
    Ok(replica)
}

fn replica_knows(config: &Config, entity: &str) -> bool {
    entity == LEDGER_ENTITY
        || entity == ORDERS_ENTITY
        || config
            .markets
            .iter()
            .any(|m| market_entity(&m.symbol) == entity)
}

/// Replay every entry after the oldest snapshot, checking the sequence is unbroken.
fn replay(store: &Store, mut replica: Replica) -> Result<(Replica, u64), RecoveryError> {
    let from = replica.oldest_seq();
    let last = store.last_seq()?;
    if replica.last_seq > last {
        return Err(RecoveryError::Gap {
            expected: last + 1,
            found: format!(
                "but a snapshot is at sequence {} (journal meta lost?)",
                replica.last_seq
            ),
        });
    }
    let total = last - from;
    tracing::info!(from, last, total, "recovery: replaying the journal");
    let mut expected = from + 1;
    let mut failed = None;
    store.replay_while(from, |seq, bytes| {
        if seq != expected {
            failed = Some(RecoveryError::Gap {
                expected,
                found: format!("found {seq} (entries missing)"),
            });
            return false;
        }
        let r = codec::decode(bytes)
            .map_err(|source| RecoveryError::Decode { seq, source })
            .and_then(|b| {
                replica
                    .apply(seq, &b)
                    .map_err(|reason| RecoveryError::Apply { seq, reason })
            });
        if let Err(e) = r {
            failed = Some(e);
            return false;
        }
        let done = seq - from;
        if done.is_multiple_of(PROGRESS_EVERY) {
            tracing::info!(
                done,
                total,
                percent = done * 100 / total.max(1),
                "recovery: replaying"
            );
        }
        expected += 1;
        true
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if expected != last + 1 {
        return Err(RecoveryError::Gap {
            expected,
            found: format!("but the journal ends before it (last sequence written: {last})"),
        });
    }
    replica.last_seq = last;
    Ok((replica, last - from))
}

/// RULES.md §7 on the recovered state.
fn check(r: &Replica) -> Result<(), RecoveryError> {
    r.ledger
        .check_invariants()
        .map_err(|v| RecoveryError::Invariant(format!("ledger: {v}")))?;
    for e in &r.engines {
        let book = e.book();
        std::panic::catch_unwind(|| book.assert_invariants()).map_err(|p| {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "book invariant".into());
            RecoveryError::Invariant(format!("book of {}: {why}", e.spec().symbol))
        })?;
    }
    Ok(())
}
