//! `perpx replay --data-dir D [--until SEQ] [--export-trades FILE.csv]`: rebuild the state of a
//! data directory from its snapshot and journal with the recovery apply code, print the state
//! hash and the invariant checks, and export the fills replayed. A follower's and the
//! primary's hashes at the same sequence are equal (same entries, same apply code).
//!
//! With `--until` below the snapshot's sequence the journal must still hold every entry from 1
//! (the tool then replays from an empty state); otherwise it starts from the snapshot.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::{MarketSpec, Qty, Side};
use crate::engine::{FillRecord, LedgerEvent};
use crate::persistence::codec;
use crate::persistence::replica::{market_entity, Broken, Replica, LEDGER_ENTITY, ORDERS_ENTITY};
use crate::persistence::{Store, StoreError};

/// Why a replay could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "the journal starts at {first} but replaying to {until} needs it from {needed}: {why}"
    )]
    Pruned {
        first: u64,
        until: u64,
        needed: u64,
        why: &'static str,
    },
    #[error("snapshot of {entity} at {seq}: {why}")]
    Snapshot {
        entity: String,
        seq: u64,
        why: String,
    },
    #[error("journal gap: expected {expected}, found {found}")]
    Gap { expected: u64, found: u64 },
    #[error("entry {seq}: {why}")]
    Decode { seq: u64, why: String },
    #[error("entry {seq} does not apply: {why}")]
    Apply { seq: u64, why: String },
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a replay found.
#[derive(Debug)]
pub struct Replayed {
    pub seq: u64,
    pub from_snapshot: Option<u64>,
    pub replayed: u64,
    /// SHA-256 over the entities' hashes (ledger, orders, markets in config order).
    pub hash: String,
    pub ledger: String,
    pub orders: String,
    pub markets: Vec<(String, String)>,
    pub invariants: Result<(), Broken>,
    pub fills: u64,
}

/// Replay `data_dir` for the markets of `config` up to `until` (default: the end).
pub fn replay(
    config: &Config,
    data_dir: &Path,
    until: Option<u64>,
    export: Option<&PathBuf>,
) -> Result<Replayed, ReplayError> {
    let store = Store::open(data_dir)?;
    let last = store.last_seq()?;
    let until = until.unwrap_or(last).min(last);
    let (mut replica, from_snapshot) = starting_state(&store, config, until)?;
    let start = replica.oldest_seq();
    let first = store.first_seq()?;
    if until > start && first.is_none_or(|f| f > start + 1) {
        return Err(ReplayError::Pruned {
            first: first.unwrap_or(0),
            until,
            needed: start + 1,
            why: if store_has_snapshot(&store)? {
                "the snapshot is newer than --until and older entries were pruned"
            } else {
                "entries were pruned without a snapshot"
            },
        });
    }
    let mut csv = export.map(FillsCsv::create).transpose()?;
    let (replayed, fills) = replay_entries(&store, &mut replica, config, until, csv.as_mut())?;
    if let Some(csv) = csv {
        csv.finish()?;
    }
    let h = replica.state_hashes();
    let mut all = Sha256::new();
    all.update(h.ledger);
    all.update(h.orders);
    for m in &h.markets {
        all.update(m);
    }
    let invariants = replica.check_invariants();
    Ok(Replayed {
        seq: replica.last_seq.min(until).max(start.min(until)),
        from_snapshot,
        replayed,
        hash: hex::encode(all.finalize()),
        ledger: hex::encode(h.ledger),
        orders: hex::encode(h.orders),
        markets: config
            .markets
            .iter()
            .zip(&h.markets)
            .map(|(m, x)| (m.symbol.clone(), hex::encode(x)))
            .collect(),
        invariants,
        fills,
    })
}

/// Whether the store holds a snapshot set (its ledger snapshot).
fn store_has_snapshot(store: &Store) -> Result<bool, ReplayError> {
    Ok(store.latest_snapshot(LEDGER_ENTITY)?.is_some())
}

/// The state to replay from: the snapshots when they are at or below `until` (with the
/// sequence of the snapshot set), else the empty state.
fn starting_state(
    store: &Store,
    config: &Config,
    until: u64,
) -> Result<(Replica, Option<u64>), ReplayError> {
    let mut replica = Replica::fresh(config);
    let snap_seq = store.latest_snapshot(LEDGER_ENTITY)?.map(|(s, _)| s);
    let Some(s) = snap_seq.filter(|&s| s <= until) else {
        return Ok((replica, None));
    };
    let mut entities = vec![LEDGER_ENTITY.to_owned(), ORDERS_ENTITY.to_owned()];
    entities.extend(config.markets.iter().map(|m| market_entity(&m.symbol)));
    for e in entities {
        if let Some((seq, bytes)) = store.latest_snapshot(&e)? {
            replica
                .restore_entity(config, &e, seq, &bytes)
                .map_err(|err| ReplayError::Snapshot {
                    entity: e.clone(),
                    seq,
                    why: err.to_string(),
                })?;
        }
    }
    Ok((replica, Some(s)))
}

/// Apply the journal's entries after the replica's state up to `until`, in order, writing each
/// fill to `csv`. Returns the entries replayed and the fills among them.
fn replay_entries(
    store: &Store,
    replica: &mut Replica,
    config: &Config,
    until: u64,
    mut csv: Option<&mut FillsCsv>,
) -> Result<(u64, u64), ReplayError> {
    let start = replica.oldest_seq();
    let started = Instant::now();
    let (mut replayed, mut fills, mut err) = (0u64, 0u64, None);
    let mut expected = start + 1;
    store.replay_while(start, |seq, bytes| {
        if seq > until {
            return false;
        }
        if seq != expected {
            err = Some(ReplayError::Gap {
                expected,
                found: seq,
            });
            return false;
        }
        expected += 1;
        let b = match codec::decode(bytes) {
            Ok(b) => b,
            Err(e) => {
                err = Some(ReplayError::Decode {
                    seq,
                    why: e.to_string(),
                });
                return false;
            }
        };
        if let Err(e) = replica.apply(seq, &b) {
            err = Some(ReplayError::Apply {
                seq,
                why: e.to_string(),
            });
            return false;
        }
        for e in &b.r2 {
            if let LedgerEvent::FillSettled(f) = e {
                fills += 1;
                if let (Some(out), Some(spec)) =
                    (csv.as_deref_mut(), config.markets.get(f.market.index()))
                {
                    out.fill(seq, f, spec);
                }
            }
        }
        replayed += 1;
        if replayed.is_multiple_of(100_000) {
            eprintln!(
                "replay: {replayed} entries ({} s)",
                started.elapsed().as_secs()
            );
        }
        true
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok((replayed, fills)),
    }
}

/// The `--export-trades` CSV: one line per fill replayed.
struct FillsCsv {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    /// The first write error (reported by [`FillsCsv::finish`]).
    failed: Option<std::io::Error>,
}

impl FillsCsv {
    const HEADER: &str = "seq,time,symbol,trade_id,price,quantity,taker_side,taker,taker_order,taker_fee,maker,maker_order,maker_fee";

    fn create(path: &PathBuf) -> Result<FillsCsv, ReplayError> {
        let csv = |source| ReplayError::Csv {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::create(path).map_err(csv)?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "{}", Self::HEADER).map_err(csv)?;
        Ok(FillsCsv {
            out,
            path: path.clone(),
            failed: None,
        })
    }

    fn fill(&mut self, seq: u64, f: &FillRecord, spec: &MarketSpec) {
        if self.failed.is_some() {
            return;
        }
        let taker_side = match f.taker_side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        let r = writeln!(
            self.out,
            "{seq},{},{},{},{},{},{taker_side},{},{},{},{},{},{}",
            f.time.0,
            spec.symbol,
            f.trade_id.0,
            spec.price_decimal(f.price),
            Qty(f.qty).text(spec.lot_size),
            f.taker.0,
            f.taker_order.0,
            f.taker_fee.0.normalize(),
            f.maker.0,
            f.maker_order.0,
            f.maker_fee.0.normalize()
        );
        self.failed = r.err();
    }

    fn finish(mut self) -> Result<(), ReplayError> {
        let r = match self.failed.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        };
        r.map_err(|source| ReplayError::Csv {
            path: self.path,
            source,
        })
    }
}

impl std::fmt::Display for Replayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.from_snapshot {
            Some(s) => writeln!(f, "start:       snapshot at sequence {s}")?,
            None => writeln!(f, "start:       empty state")?,
        }
        writeln!(
            f,
            "replayed:    {} journal entries ({} fills)",
            self.replayed, self.fills
        )?;
        writeln!(f, "sequence:    {}", self.seq)?;
        writeln!(f, "state hash:  {}", self.hash)?;
        writeln!(f, "  ledger     {}", self.ledger)?;
        writeln!(f, "  orders     {}", self.orders)?;
        for (s, h) in &self.markets {
            writeln!(f, "  {s:<10} {h}")?;
        }
        match &self.invariants {
            Ok(()) => writeln!(f, "invariants:  ok"),
            Err(e) => writeln!(f, "invariants:  BROKEN: {e}"),
        }
    }
}
