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
use crate::engine::LedgerEvent;
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
    let mut replica = Replica::fresh(config);
    let snap_seq = store
        .latest_snapshot(LEDGER_ENTITY)
        .map_err(|e| e.to_string())?
        .map(|(s, _)| s);
    let from_snapshot = match snap_seq {
        Some(s) if s <= until => {
            let mut entities = vec![LEDGER_ENTITY.to_owned(), ORDERS_ENTITY.to_owned()];
            entities.extend(config.markets.iter().map(|m| market_entity(&m.symbol)));
            for e in entities {
                if let Some((seq, bytes)) = store.latest_snapshot(&e).map_err(|e| e.to_string())? {
                    replica
                        .restore_entity(config, &e, seq, &bytes)
                        .map_err(|err| format!("snapshot of {e} at {seq}: {err}"))?;
                }
            }
            Some(s)
        }
        _ => None,
    };
    let start = replica.oldest_seq();
    let first = store.first_seq().map_err(|e| e.to_string())?;
    if until > start && first.is_none_or(|f| f > start + 1) {
        return Err(format!(
            "the journal starts at {} but replaying to {until} needs it from {}: {}",
            first.unwrap_or(0),
            start + 1,
            if snap_seq.is_some() {
                "the snapshot is newer than --until and older entries were pruned"
            } else {
                "entries were pruned without a snapshot"
            }
        ));
    }
    let mut csv = match export {
        Some(p) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
            );
            writeln!(f, "seq,time,symbol,trade_id,price,quantity,taker_side,taker,taker_order,taker_fee,maker,maker_order,maker_fee")
                .map_err(|e| e.to_string())?;
            Some(f)
        }
        None => None,
    };
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
                        (csv.as_mut(), config.markets.get(f.market.index()))
                    {
                        let _ = writeln!(
                            out,
                            "{seq},{},{},{},{},{},{},{},{},{},{},{},{}",
                            f.time.0,
                            spec.symbol,
                            f.trade_id.0,
                            spec.price_decimal(f.price),
                            spec.qty_decimal(crate::domain::Qty(f.qty)).normalize(),
                            serde_json::to_value(f.taker_side)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            f.taker.0,
                            f.taker_order.0,
                            f.taker_fee.0.normalize(),
                            f.maker.0,
                            f.maker_order.0,
                            f.maker_fee.0.normalize()
                        );
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
    if let Some(e) = err {
        return Err(e);
    }
    if let Some(mut f) = csv {
        f.flush().map_err(|e| e.to_string())?;
    }
    let h = replica.state_hashes();
    let mut all = Sha256::new();
    all.update(h.ledger);
    all.update(h.orders);
    for m in &h.markets {
        all.update(m);
    }
    let invariants = check(&replica);
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

/// RULES.md §7 invariants of the ledger and every book.
fn check(r: &Replica) -> Result<(), String> {
    r.ledger
        .check_invariants()
        .map_err(|v| format!("ledger: {v}"))?;
    for e in &r.engines {
        let book = e.book();
        std::panic::catch_unwind(|| book.assert_invariants()).map_err(|p| {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "book invariant".into());
            format!("book of {}: {why}", e.spec().symbol)
        })?;
    }
    Ok(())
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
