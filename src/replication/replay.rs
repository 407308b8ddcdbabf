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
use crate::persistence::replica::{market_entity, Replica, LEDGER_ENTITY, ORDERS_ENTITY};
use crate::persistence::Store;

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
    pub invariants: Result<(), String>,
    pub fills: u64,
}

/// Replay `data_dir` for the markets of `config` up to `until` (default: the end).
pub fn replay(
    config: &Config,
    data_dir: &Path,
    until: Option<u64>,
    export: Option<&PathBuf>,
) -> Result<Replayed, String> {
    let store = Store::open(data_dir).map_err(|e| e.to_string())?;
    let last = store.last_seq().map_err(|e| e.to_string())?;
    let until = until.unwrap_or(last).min(last);
    let (mut replica, from_snapshot) = starting_state(&store, config, until)?;
    let start = replica.oldest_seq();
    let first = store.first_seq().map_err(|e| e.to_string())?;
    if until > start && first.is_none_or(|f| f > start + 1) {
        return Err(format!(
            "the journal starts at {} but replaying to {until} needs it from {}: {}",
            first.unwrap_or(0),
            start + 1,
            if store_has_snapshot(&store)? {
                "the snapshot is newer than --until and older entries were pruned"
            } else {
                "entries were pruned without a snapshot"
            }
        ));
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
fn store_has_snapshot(store: &Store) -> Result<bool, String> {
    Ok(store
        .latest_snapshot(LEDGER_ENTITY)
        .map_err(|e| e.to_string())?
        .is_some())
}

/// The state to replay from: the snapshots when they are at or below `until` (with the
/// sequence of the snapshot set), else the empty state.
fn starting_state(
    store: &Store,
    config: &Config,
    until: u64,
) -> Result<(Replica, Option<u64>), String> {
    let mut replica = Replica::fresh(config);
    let snap_seq = store
        .latest_snapshot(LEDGER_ENTITY)
        .map_err(|e| e.to_string())?
        .map(|(s, _)| s);
    let Some(s) = snap_seq.filter(|&s| s <= until) else {
        return Ok((replica, None));
    };
    let mut entities = vec![LEDGER_ENTITY.to_owned(), ORDERS_ENTITY.to_owned()];
    entities.extend(config.markets.iter().map(|m| market_entity(&m.symbol)));
    for e in entities {
        if let Some((seq, bytes)) = store.latest_snapshot(&e).map_err(|e| e.to_string())? {
            replica
                .restore_entity(config, &e, seq, &bytes)
                .map_err(|err| format!("snapshot of {e} at {seq}: {err}"))?;
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
) -> Result<(u64, u64), String> {
    let start = replica.oldest_seq();
    let started = Instant::now();
    let (mut replayed, mut fills, mut err) = (0u64, 0u64, None);
    let mut expected = start + 1;
    store
        .replay_while(start, |seq, bytes| {
            if seq > until {
                return false;
            }
            if seq != expected {
                err = Some(format!("journal gap: expected {expected}, found {seq}"));
                return false;
            }
            expected += 1;
            let b = match codec::decode(bytes) {
                Ok(b) => b,
                Err(e) => {
                    err = Some(format!("entry {seq}: {e}"));
                    return false;
                }
            };
            if let Err(e) = replica.apply(seq, &b) {
                err = Some(format!("entry {seq} does not apply: {e}"));
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
        })
        .map_err(|e| e.to_string())?;
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

    fn create(path: &PathBuf) -> Result<FillsCsv, String> {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(out, "{}", Self::HEADER).map_err(|e| format!("{}: {e}", path.display()))?;
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

    fn finish(mut self) -> Result<(), String> {
        let r = match self.failed.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        };
        r.map_err(|e| format!("{}: {e}", self.path.display()))
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
