//! A replica of the exchange state rebuilt from journaled batches: what recovery replays into
//! and what the snapshotter rebuilds for each set. One [`Replica::apply`] for both, through the core's
//! apply functions (`Ledger::apply`, `MarketEngine::apply`, `OrderStore::apply_events`).
//!
//! # Invariants
//! - Each entity (the ledger, the order store, each market engine) knows the journal sequence
//!   its state reflects; a batch at or below it is skipped for that entity. So a snapshot set
//!   whose entities were written at different sequences (a crash between their writes)
//!   still recovers exactly: each entity replays only what it has not seen.
//! - A batch that does not apply (unknown market, an event that does not fit the state, a
//!   panic inside an apply function) is an error naming the sequence; nothing guesses.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::config::Config;
use crate::domain::{ApplyError, MarketId};
use crate::engine::market::{MarketEngine, MarketSnapshot};
use crate::engine::orders::OrderStore;
use crate::engine::ExchangeState;
use crate::engine::{Ledger, LedgerEvent};
use crate::persistence::codec::Batch;

/// Snapshot entity of the ledger.
pub const LEDGER_ENTITY: &str = "ledger";
/// Snapshot entity of the order store.
pub const ORDERS_ENTITY: &str = "orders";

/// Snapshot entity of the market `symbol`.
pub fn market_entity(symbol: &str) -> String {
    format!("market/{symbol}")
}

/// State hashes of every entity, for comparisons in tests and at recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateHashes {
    pub ledger: [u8; 32],
    pub orders: [u8; 32],
    pub markets: Vec<[u8; 32]>,
}

/// The state rebuilt from the journal, with the sequence each entity reflects.
#[derive(Clone, Debug)]
pub struct Replica {
    pub ledger: Ledger,
    pub orders: OrderStore,
    pub engines: Vec<MarketEngine>,
    pub(super) ledger_seq: u64,
    pub(super) orders_seq: u64,
    pub(super) engine_seq: Vec<u64>,
    /// The last sequence applied (or skipped as already reflected).
    pub last_seq: u64,
}

/// Which invariant of docs/RULES.md §7 a rebuilt state breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    /// The ledger's (money conservation, holds, positions), as the ledger words it.
    #[error("ledger: {0}")]
    Ledger(String),
    /// A market's book (the assertion that failed).
    #[error("book of {market}: {why}")]
    Book { market: String, why: String },
}

impl Replica {
    /// The state of a fresh exchange (before journal entry 1).
    pub fn fresh(config: &Config) -> Replica {
        Replica::from_initial(config.fresh_state(), 0)
    }

    /// A replica of `initial`, which reflects every batch up to `seq`.
    pub fn from_initial(initial: ExchangeState, seq: u64) -> Replica {
        let n = initial.engines.len();
        Replica {
            ledger: initial.ledger,
            orders: initial.orders,
            engines: initial.engines,
            ledger_seq: seq,
            orders_seq: seq,
            engine_seq: vec![seq; n],
            last_seq: seq,
        }
    }

    pub fn into_initial(self) -> ExchangeState {
        ExchangeState {
            ledger: self.ledger,
            orders: self.orders,
            engines: self.engines,
        }
    }

    /// The lowest sequence any entity reflects (replay starts after it).
    pub fn oldest_seq(&self) -> u64 {
        let e = self.engine_seq.iter().copied().min().unwrap_or(u64::MAX);
        self.ledger_seq.min(self.orders_seq).min(e)
    }

    /// Apply journal entry `seq`. Panics inside the core's apply functions (which trust their
    /// input) are caught and reported as an error for this entry.
    pub fn apply(&mut self, seq: u64, b: &Batch) -> Result<(), ApplyError> {
        let Replica {
            ledger,
            orders,
            engines,
            ledger_seq,
            orders_seq,
            engine_seq,
            last_seq,
        } = self;
        *last_seq = (*last_seq).max(seq);
        guarded(|| apply_core(ledger, engines, ledger_seq, engine_seq, seq, b))?;
        guarded(|| apply_orders(orders, orders_seq, seq, b))
    }

    /// docs/RULES.md §7 on a rebuilt state: the ledger's invariants, then every book's. The one
    /// check both crash recovery and `perpx replay` run after replaying (the replay tool prints
    /// the result instead of failing, so it can show a broken state's hashes). Every check holds
    /// in both contexts: each runs on a state that reflects one whole journal prefix.
    pub fn check_invariants(&self) -> Result<(), Broken> {
        self.ledger
            .check_invariants()
            .map_err(|v| Broken::Ledger(v.to_string()))?;
        for e in &self.engines {
            let book = e.book();
            // The book's checks are assertions (shared with the tests), so a broken one panics.
            catch_unwind(|| book.assert_invariants()).map_err(|p| Broken::Book {
                market: e.spec().symbol.clone(),
                why: panic_text(p.as_ref()).unwrap_or_else(|| "book invariant".into()),
            })?;
        }
        Ok(())
    }

    pub fn state_hashes(&self) -> StateHashes {
        StateHashes {
            ledger: self.ledger.state_hash(),
            orders: self.orders.state_hash(),
            markets: self.engines.iter().map(MarketEngine::state_hash).collect(),
        }
    }

    /// The encoded snapshot of every entity: `(entity, bytes)`, the ledger first.
    pub fn snapshot_set(&self) -> Vec<(String, Vec<u8>)> {
        let mut v = vec![
            (LEDGER_ENTITY.to_owned(), self.ledger.encode_snapshot()),
            (ORDERS_ENTITY.to_owned(), self.orders.encode_snapshot()),
        ];
        for e in &self.engines {
            v.push((market_entity(&e.spec().symbol), e.snapshot().encode()));
        }
        v
    }

    /// Restore one entity from its snapshot at `seq` (recovery; public for benchmarks).
    pub fn restore_entity(
        &mut self,
        config: &Config,
        entity: &str,
        seq: u64,
        bytes: &[u8],
    ) -> Result<(), ApplyError> {
        if entity == LEDGER_ENTITY {
            self.ledger = Ledger::decode_snapshot(bytes, &config.markets)?;
            self.ledger
                .set_income_retention(config.server.retention.income);
            self.ledger_seq = seq;
        } else if entity == ORDERS_ENTITY {
            self.orders = OrderStore::decode_snapshot(bytes, config.markets.len())?;
            self.orders.set_retention(config.server.retention);
            self.orders_seq = seq;
        } else {
            let i = config
                .markets
                .iter()
                .position(|m| market_entity(&m.symbol) == entity)
                .ok_or_else(|| ApplyError(format!("no market {entity} in the config")))?;
            let snap = MarketSnapshot::decode(bytes)?;
            self.engines[i] = MarketEngine::restore(config.markets[i].clone(), &snap)?;
            self.engine_seq[i] = seq;
        }
        self.last_seq = self.last_seq.max(seq);
        Ok(())
    }
}

/// Run `f`, turning a panic (an apply function meeting input that breaks its assumptions)
/// into an error.
pub(super) fn guarded(f: impl FnOnce() -> Result<(), ApplyError>) -> Result<(), ApplyError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let why = panic_text(p.as_ref()).unwrap_or_else(|| "panic".into());
        Err(ApplyError(format!("an apply function refused it: {why}")))
    })
}

/// The message of a panic payload (`panic!` with a format gives a `String`, with a literal a
/// `&str`).
fn panic_text(p: &(dyn std::any::Any + Send)) -> Option<String> {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
}

/// The ledger's and the engines' share of entry `seq` (everything but the order store), for
/// entities that do not reflect it yet. Checks the market id, which the order store relies on.
pub(super) fn apply_core(
    ledger: &mut Ledger,
    engines: &mut [MarketEngine],
    ledger_seq: &mut u64,
    engine_seq: &mut [u64],
    seq: u64,
    b: &Batch,
) -> Result<(), ApplyError> {
    let fresh_ledger = seq > *ledger_seq;
    let known = |m: MarketId| m.index() < engines.len();
    if let Some(m) = b.market.filter(|&m| !known(m)) {
        return Err(ApplyError(format!(
            "it names market {} but the config has {} markets",
            m.0,
            engines.len()
        )));
    }
    if b.market.is_none() && (!b.r1.is_empty() || !b.market_events.is_empty()) {
        return Err(ApplyError("market events without a market".into()));
    }
    for e in &b.r2 {
        if let LedgerEvent::PositionTransferred { market, .. } = *e {
            if !known(market) {
                return Err(ApplyError(format!(
                    "transfer in unknown market {}",
                    market.0
                )));
            }
        }
    }
    if fresh_ledger {
        // Income records of events without a time of their own take the batch time, as live.
        b.r1.iter()
            .chain(&b.r2)
            .for_each(|e| ledger.apply(e, b.time));
    }
    // Each market's share, including positions moved outside the book (docs/ARCHITECTURE.md §5).
    for (i, engine) in engines.iter_mut().enumerate() {
        if seq > engine_seq[i] {
            let own = MarketId(i as u16);
            engine.apply_entry(own, b.market, &b.market_events, &b.r2, b.time)?;
        }
    }
    // Every entity now reflects `seq` (applied here, or already before).
    *ledger_seq = (*ledger_seq).max(seq);
    engine_seq.iter_mut().for_each(|s| *s = (*s).max(seq));
    Ok(())
}

/// The order store's share of entry `seq` (after [`apply_core`] accepted the entry).
pub(super) fn apply_orders(
    orders: &mut OrderStore,
    orders_seq: &mut u64,
    seq: u64,
    b: &Batch,
) -> Result<(), ApplyError> {
    if let (Some(m), true) = (b.market, seq > *orders_seq) {
        orders.apply_events(m, &b.market_events, &b.r2, &b.client_ids, b.time)?;
    }
    *orders_seq = (*orders_seq).max(seq);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, Amount};

    fn config() -> Config {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/markets.toml");
        Config::load(std::path::Path::new(path)).expect("shipped markets.toml loads")
    }

    #[test]
    fn a_fresh_state_passes_the_checks() {
        assert_eq!(Replica::fresh(&config()).check_invariants(), Ok(()));
    }

    #[test]
    fn a_broken_ledger_is_reported() {
        let mut r = Replica::fresh(&config());
        let account = AccountId(AccountId::FIRST_USER);
        // A withdrawal R1 would have refused: a flat account, not in liquidation, below zero.
        r.ledger.apply(
            &LedgerEvent::AccountOpened { account },
            crate::domain::Timestamp(0),
        );
        r.ledger.apply(
            &LedgerEvent::Withdrew {
                account,
                amount: Amount(rust_decimal::Decimal::from(5)),
            },
            crate::domain::Timestamp(0),
        );
        let err = r
            .check_invariants()
            .expect_err("a negative flat wallet is reported");
        assert!(matches!(err, Broken::Ledger(_)), "{err}");
        assert!(err.to_string().starts_with("ledger: "), "{err}");
    }
}
