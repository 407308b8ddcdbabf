//! Recovery at start (docs/ARCHITECTURE.md §5): load the newest snapshot of every entity, replay the
//! journal after them through the apply functions ([`Replica::apply`]), check the invariants
//! (docs/RULES.md §7), report progress and the time taken.
//!
//! # Invariants
//! - Recovery either returns exactly the journaled state or refuses with a [`RecoveryError`]
//!   whose `Display` names what is wrong: an undecodable entry or snapshot, an unknown format,
//!   a gap in the journal, a config whose markets differ from the data, a broken invariant.
//!   It never starts with silently wrong balances.
//! - A snapshot written at sequence S reflects exactly the entries ≤ S; the journal must hold
//!   every entry from the oldest snapshot's S + 1 up to the last sequence ever written.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::codec::{self, Batch, DecodeError};
use super::replica::{
    apply_core, apply_orders, guarded, market_entity, Replica, LEDGER_ENTITY, ORDERS_ENTITY,
};
use super::{Store, StoreError};
use crate::config::Config;
use crate::domain::ApplyError;
use crate::engine::orders::OrderStore;
use crate::engine::retention::Retention;
use crate::engine::ExchangeState;

/// A progress line every this many entries.
const PROGRESS_EVERY: u64 = 100_000;
/// Entries handed to the order-store thread at a time (amortizes the channel).
const CHUNK: usize = 256;
/// Chunks in flight between the two recovery threads.
const PIPELINE_DEPTH: usize = 64;

/// The recovered state and how recovery went.
pub struct Recovered {
    pub initial: ExchangeState,
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
    Invariant(crate::persistence::replica::Broken),
}

/// How to recover.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryOptions {
    /// Apply the order store's share on a second thread (see [`replay`]).
    pub pipeline: bool,
    /// Replay up to this sequence only (`None`: to the last entry written). The snapshotter
    /// rebuilds the state at the sequence it was told is durable while the journal goes on.
    pub upto: Option<u64>,
    /// Log start, progress and completion (recovery at start: yes; the snapshotter: no).
    pub log: bool,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            pipeline: true,
            upto: None,
            log: true,
        }
    }
}

/// Rebuild the exchange state from `store` for the markets of `config`.
pub fn recover(store: &Store, config: &Config) -> Result<Recovered, RecoveryError> {
    recover_with(store, config, RecoveryOptions::default())
}

/// [`recover`] with explicit options.
pub fn recover_with(
    store: &Store,
    config: &Config,
    opts: RecoveryOptions,
) -> Result<Recovered, RecoveryError> {
    let started = Instant::now();
    let (replica, orders_snapshot) = load_snapshots(store, config)?;
    let (replica, replayed) = replay(store, replica, orders_snapshot, config, opts)?;
    replica
        .check_invariants()
        .map_err(RecoveryError::Invariant)?;
    let took = started.elapsed();
    if opts.log {
        tracing::info!(
            last_seq = replica.last_seq,
            replayed,
            took_ms = took.as_millis() as u64,
            "recovery complete"
        );
    }
    Ok(Recovered {
        last_seq: replica.last_seq,
        initial: replica.into_initial(),
        replayed,
        took,
    })
}

/// The state at journal sequence `upto` (which must be durable), rebuilt the way recovery
/// does it, from the newest snapshot set and the journal after it, on the calling thread and
/// without logging: what the snapshotter encodes into its next set. The invariants are not
/// checked here (recovery checks them when the set is read back).
pub fn rebuild(store: &Store, config: &Config, upto: u64) -> Result<Replica, RecoveryError> {
    let opts = RecoveryOptions {
        pipeline: false,
        upto: Some(upto),
        log: false,
    };
    let (replica, orders_snapshot) = load_snapshots(store, config)?;
    Ok(replay(store, replica, orders_snapshot, config, opts)?.0)
}

/// A snapshot whose decoding is left to the replay's second thread: `(seq, bytes)`.
type Deferred = Option<(u64, Vec<u8>)>;

/// The fresh state with every entity that has a snapshot restored from it, except the order
/// store's (the largest), which is returned to be decoded on the order-store thread while this
/// one replays the ledger and engines (its sequence is already set).
fn load_snapshots(store: &Store, config: &Config) -> Result<(Replica, Deferred), RecoveryError> {
    let mut replica = Replica::fresh(config);
    let orders = store.latest_snapshot(ORDERS_ENTITY)?;
    if let Some((seq, _)) = &orders {
        replica.orders_seq = *seq;
        replica.last_seq = replica.last_seq.max(*seq);
    }
    let mut entities = vec![LEDGER_ENTITY.to_owned()];
    entities.extend(config.markets.iter().map(|m| market_entity(&m.symbol)));
    for entity in entities {
        if let Some((seq, bytes)) = store.latest_snapshot(&entity)? {
            replica
                .restore_entity(config, &entity, seq, &bytes)
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
    Ok((replica, orders))
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
///
/// With `opts.pipeline`, two threads, because the work splits in halves of similar cost and
/// recovery time is downtime: this one reads, decodes and applies the ledger's and engines'
/// share; a scoped second thread decodes the order store's snapshot and applies its share of
/// the same entries, in order (they are independent entities; see `replica.rs`).
fn replay(
    store: &Store,
    mut replica: Replica,
    orders_snapshot: Deferred,
    config: &Config,
    opts: RecoveryOptions,
) -> Result<(Replica, u64), RecoveryError> {
    let from = replica.oldest_seq();
    let last = match opts.upto {
        Some(upto) => upto,
        None => store.last_seq()?,
    };
    if replica.last_seq > last {
        return Err(RecoveryError::Gap {
            expected: last + 1,
            found: format!(
                "but a snapshot is at sequence {} (journal meta lost?)",
                replica.last_seq
            ),
        });
    }
    let total = last.saturating_sub(from);
    if opts.log {
        tracing::info!(from, last, total, "recovery: replaying the journal");
    }
    let snapshot = OrdersSnapshot {
        deferred: &orders_snapshot,
        markets: config.markets.len(),
        retention: config.server.retention,
    };
    let Replica {
        ledger,
        orders,
        engines,
        ledger_seq,
        orders_seq,
        engine_seq,
        ..
    } = &mut replica;
    let core = |seq: u64, b: &Batch| apply_core(ledger, engines, ledger_seq, engine_seq, seq, b);
    let journal = JournalRead {
        store,
        from,
        last,
        total,
        log: opts.log,
    };
    let (expected, main_error, orders_error) = if opts.pipeline {
        read_pipelined(&journal, core, snapshot, orders, orders_seq)
    } else {
        snapshot.restore(orders)?;
        let mut share = OrdersShare::Inline { orders, orders_seq };
        let (expected, main_error) = journal.read(core, &mut share);
        (expected, main_error, None)
    };
    // The earlier entry's error first: the order thread lags the reader.
    match (main_error, orders_error) {
        (Some(a), Some(b)) => return Err(if seq_of(&b) <= seq_of(&a) { b } else { a }),
        (Some(e), None) | (None, Some(e)) => return Err(e),
        (None, None) => {}
    }
    if expected != last + 1 {
        return Err(RecoveryError::Gap {
            expected,
            found: format!("but the journal ends before it (last sequence written: {last})"),
        });
    }
    replica.last_seq = last;
    Ok((replica, total))
}

/// [`JournalRead::read`] with the order store's share applied on a scoped second thread. Returns
/// the next sequence expected, the reader's error and the order thread's error.
fn read_pipelined(
    journal: &JournalRead<'_>,
    core: impl FnMut(u64, &Batch) -> Result<(), ApplyError>,
    snapshot: OrdersSnapshot<'_>,
    orders: &mut OrderStore,
    orders_seq: &mut u64,
) -> (u64, Option<RecoveryError>, Option<RecoveryError>) {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<Chunk>(PIPELINE_DEPTH);
        let worker = std::thread::Builder::new()
            .name("perpx-recovery-orders".into())
            .spawn_scoped(s, move || {
                snapshot.restore(orders)?;
                for (seq, b) in rx.into_iter().flatten() {
                    guarded(|| apply_orders(orders, orders_seq, seq, &b))
                        .map_err(|reason| RecoveryError::Apply { seq, reason })?;
                }
                Ok(())
            })
            .expect("spawning the recovery thread: the OS refused a thread at start");
        let mut share = OrdersShare::Pipelined {
            chunk: Vec::with_capacity(CHUNK),
            tx: Some(tx),
        };
        let (expected, main_error) = journal.read(core, &mut share);
        share.finish();
        let orders_error = worker
            .join()
            .expect("the order-store replay thread does not panic (apply is guarded)")
            .err();
        (expected, main_error, orders_error)
    })
}

/// Entries handed to the order-store thread in one message.
type Chunk = Vec<(u64, Batch)>;

/// The order store's deferred snapshot and what decoding it needs.
#[derive(Clone, Copy)]
struct OrdersSnapshot<'a> {
    deferred: &'a Deferred,
    markets: usize,
    retention: Retention,
}

impl OrdersSnapshot<'_> {
    /// Replace `orders` by the snapshot, if there is one (else it stays fresh).
    fn restore(self, orders: &mut OrderStore) -> Result<(), RecoveryError> {
        if let Some((seq, bytes)) = self.deferred {
            *orders = OrderStore::decode_snapshot(bytes, self.markets).map_err(|reason| {
                RecoveryError::Snapshot {
                    entity: ORDERS_ENTITY.into(),
                    seq: *seq,
                    reason,
                }
            })?;
            orders.set_retention(self.retention);
        }
        Ok(())
    }
}

/// Where the order store's share of each entry goes.
enum OrdersShare<'a> {
    /// Applied on the reading thread, right after the core's share.
    Inline {
        orders: &'a mut OrderStore,
        orders_seq: &'a mut u64,
    },
    /// Chunked to the order-store thread; `tx` is `None` once that thread hung up (it stopped on
    /// an error, which it reports itself).
    Pipelined {
        chunk: Chunk,
        tx: Option<mpsc::SyncSender<Chunk>>,
    },
}

impl OrdersShare<'_> {
    /// Apply or pass on entry `seq`; `false` when the order thread has stopped (stop reading).
    fn take(&mut self, seq: u64, b: Batch) -> Result<bool, RecoveryError> {
        match self {
            OrdersShare::Inline { orders, orders_seq } => {
                guarded(|| apply_orders(orders, orders_seq, seq, &b))
                    .map_err(|reason| RecoveryError::Apply { seq, reason })?;
                Ok(true)
            }
            OrdersShare::Pipelined { chunk, tx } => {
                chunk.push((seq, b));
                if chunk.len() < CHUNK {
                    return Ok(true);
                }
                let full = std::mem::replace(chunk, Vec::with_capacity(CHUNK));
                if tx.as_ref().is_none_or(|t| t.send(full).is_err()) {
                    *tx = None;
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }

    /// Hand the last partial chunk over and hang up, so the order thread finishes.
    fn finish(self) {
        if let OrdersShare::Pipelined {
            chunk,
            tx: Some(tx),
        } = self
        {
            let _ = tx.send(chunk);
        }
    }
}

/// The journal's entries after `from`, read in order by the recovering thread.
struct JournalRead<'a> {
    store: &'a Store,
    from: u64,
    /// Read no entry after this one (the journal may be growing meanwhile).
    last: u64,
    total: u64,
    log: bool,
}

impl JournalRead<'_> {
    /// Decode every entry, apply the core's share with `core` and hand the order store's share
    /// to `share`, stopping at the first gap or error. Returns the next sequence expected (one
    /// past the last applied) and the error that stopped the read, if any.
    fn read(
        &self,
        mut core: impl FnMut(u64, &Batch) -> Result<(), ApplyError>,
        share: &mut OrdersShare<'_>,
    ) -> (u64, Option<RecoveryError>) {
        let (from, total) = (self.from, self.total);
        let mut expected = from + 1;
        let mut failed = None;
        let read = self.store.replay_while(from, |seq, bytes| {
            if seq > self.last {
                return false;
            }
            let step = if seq != expected {
                Err(RecoveryError::Gap {
                    expected,
                    found: format!("found {seq} (entries missing)"),
                })
            } else {
                codec::decode(bytes)
                    .map_err(|source| RecoveryError::Decode { seq, source })
                    .and_then(|b| {
                        guarded(|| core(seq, &b))
                            .map_err(|reason| RecoveryError::Apply { seq, reason })?;
                        share.take(seq, b)
                    })
            };
            match step {
                Err(e) => {
                    failed = Some(e);
                    return false;
                }
                // The order thread stopped on an error of its own, reported by the caller.
                Ok(false) => return false,
                Ok(true) => {}
            }
            let done = seq - from;
            if self.log && done.is_multiple_of(PROGRESS_EVERY) {
                tracing::info!(
                    done,
                    total,
                    percent = done * 100 / total.max(1),
                    "recovery: replaying"
                );
            }
            expected += 1;
            true
        });
        (expected, read.err().map(RecoveryError::from).or(failed))
    }
}

fn seq_of(e: &RecoveryError) -> u64 {
    match e {
        RecoveryError::Decode { seq, .. } | RecoveryError::Apply { seq, .. } => *seq,
        RecoveryError::Gap { expected, .. } => *expected,
        _ => u64::MAX,
    }
}
