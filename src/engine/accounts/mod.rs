//! The account side of the order path (docs/ARCHITECTURE.md §3), pure: the [`Ledger`] and the
//! [`OrderStore`] behind one type whose operations are R1 (checks, reservations, the market
//! command to send) and R2 ([`Accounts::settle`]: what the market did, applied to both sides,
//! and the reply). The AccountActor, the test driver and the tools call exactly these; the
//! snapshotter and recovery apply the journaled events through the same `apply` functions.
//! R1 of the order commands is `r1.rs`, R2 `settle.rs`.
//!
//! # Invariants
//! - Whatever R1 checks it reserves until R2 (orders: a hold; amends: the union of old and
//!   new; leverage and withdrawals: applied at once). Commands of one account may therefore
//!   interleave in any order at the markets without over-committing margin.
//! - A command refused at R1 changes nothing; one refused by the market leaves no trace in
//!   the state or the journal (its R1 hold or reservation is undone at R2).
//! - Replies do not depend on which of two racing commands won: an order the market already
//!   closed is `ORDER_NOT_OPEN` whether R1 or the market found it closed.
//! - An order whose R1 preceded the start of its account's liquidation is cancelled at R2
//!   if it rested (the liquidation's cancel-all may have overtaken it).
//! - Deterministic: every operation takes `now`; no clock, no I/O.

mod liquidation;
mod r1;
mod settings;
mod settle;

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use crate::domain::{AccountId, OrderId, OrderTerms, Price, Qty, Reject, Timestamp};
use crate::domain::{Leg, MarginPool, MarketId};
use crate::engine::market::PlaceOrder;
use crate::engine::orders::{OrderRecord, OrderReport, OrderStore};
use crate::engine::{Ledger, LedgerEvent};

pub use liquidation::LiqStep;
pub use settle::{Answer, Settled};

/// What a place command carries through the market and back to R2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceTicket {
    pub account: AccountId,
    pub order_id: OrderId,
    pub client_order_id: Option<String>,
    /// R1's ledger events (the hold), journaled with the command's batch.
    pub r1: Vec<LedgerEvent>,
    /// The liquidation count of the pools the order depends on (the account's cross pool
    /// and, in an isolated market, its leg's pool) when R1 accepted it.
    epoch: u32,
    leg: Leg,
}

/// What an amend carries through the market and back to R2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmendTicket {
    pub account: AccountId,
    pub order_id: OrderId,
    /// Names the amend's reservation in the ledger.
    reservation: u64,
}

/// The R2 context of one market command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ticket {
    Place(PlaceTicket),
    Amend(AmendTicket),
    Cancel {
        account: AccountId,
        order_id: OrderId,
    },
    CancelAll,
    /// A liquidation step (cancel or liquidation order) or an upkeep cancel.
    Liquidation,
    /// Market-initiated events (mark triggers, position adjustments): nobody waits.
    Internal,
}

/// The amend as the market applies it: a new price and/or a new total quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmendOrder {
    pub account: AccountId,
    pub order_id: OrderId,
    pub price: Option<Price>,
    /// The new total (API.md: "quantity is the new total"); the market subtracts what it
    /// has filled.
    pub total: Option<Qty>,
    /// A new trigger price (only for an order waiting for its trigger).
    pub trigger: Option<Price>,
}

/// R1's answer to a new order.
// The common case, `Send`, is the large one (an order with its TP/SL travels by value to its
// market); boxing it would add an allocation to every order for the rare retry's sake.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    /// An identical retry of an earlier `client_order_id`: answer with the original order.
    Retry(Box<OrderReport>),
    /// Accepted at R1: send this to the market; the ticket comes back to [`Accounts::settle`].
    Send(PlaceOrder, PlaceTicket),
}

/// Every account's state and the account side of the order path.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub ledger: Ledger,
    pub orders: OrderStore,
    /// Liquidations started per pool since this process started (transient).
    epochs: FxHashMap<MarginPool, u32>,
    /// Pools in liquidation (mirrors the ledger's flags; kept here so a mark tick need not
    /// scan every account).
    liquidating: BTreeSet<MarginPool>,
    next_reservation: u64,
}

/// Keep the liquidation set and epochs in step with emitted ledger events.
fn observe(
    liquidating: &mut BTreeSet<MarginPool>,
    epochs: &mut FxHashMap<MarginPool, u32>,
    events: &[LedgerEvent],
) {
    for e in events {
        let (pool, started) = match *e {
            LedgerEvent::LiquidationStarted { account } => (MarginPool::Cross(account), true),
            LedgerEvent::LiquidationEnded { account } => (MarginPool::Cross(account), false),
            LedgerEvent::IsolatedLiquidationStarted { account, leg } => {
                (MarginPool::Isolated(account, leg), true)
            }
            LedgerEvent::IsolatedLiquidationEnded { account, leg } => {
                (MarginPool::Isolated(account, leg), false)
            }
            _ => continue,
        };
        if started {
            liquidating.insert(pool);
            *epochs.entry(pool).or_default() += 1;
        } else {
            liquidating.remove(&pool);
        }
    }
}

/// Whether `r` is the order an identical request (its terms as R1 reads them) would have
/// created.
fn same_request(r: &OrderRecord, market: MarketId, terms: &OrderTerms) -> bool {
    r.market == market && r.order.terms == *terms
}

impl Accounts {
    pub fn new(ledger: Ledger, orders: OrderStore) -> Accounts {
        let liquidating = ledger.in_liquidation_pools().into_iter().collect();
        Accounts {
            ledger,
            orders,
            epochs: FxHashMap::default(),
            liquidating,
            next_reservation: 1,
        }
    }

    /// The pools in liquidation.
    pub fn liquidating(&self) -> impl Iterator<Item = MarginPool> + '_ {
        self.liquidating.iter().copied()
    }

    /// The accounts with a pool in liquidation, ascending, each once.
    pub fn accounts_in_liquidation(&self) -> Vec<AccountId> {
        let mut v: Vec<AccountId> = self.liquidating.iter().map(|p| p.account()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn observe(&mut self, events: &[LedgerEvent]) {
        observe(&mut self.liquidating, &mut self.epochs, events);
    }

    /// The liquidation count of the pools an order of `account` on `leg` depends on: its
    /// cross pool, and the leg's isolated pool (both counts only grow, so their sum changes
    /// iff either does).
    fn epoch(&self, account: AccountId, leg: Leg) -> u32 {
        let count = |p| self.epochs.get(&p).copied().unwrap_or(0);
        count(MarginPool::Cross(account)) + count(MarginPool::Isolated(account, leg))
    }

    /// Whether a pool an order of `account` on `leg` depends on is in liquidation.
    fn order_pool_liquidating(&self, account: AccountId, leg: Leg) -> bool {
        self.liquidating.contains(&MarginPool::Cross(account))
            || self
                .liquidating
                .contains(&MarginPool::Isolated(account, leg))
    }

    /// `UNKNOWN_MARKET` for a market id past the configured ones: the API resolves symbols
    /// first (`Exchange::market_id`), so this is the core's own guard for other callers.
    fn known(&self, market: MarketId) -> Result<(), Reject> {
        if market.index() < self.ledger.market_count() {
            Ok(())
        } else {
            Err(Reject::UnknownMarket)
        }
    }

    /// A new mark of `market`: the events to journal, and the pools the liquidation
    /// workflow must (still) work on: the newly liquidatable ones, then every pool already
    /// in liquidation (so one that could not finish is retried at each mark).
    pub fn set_mark(
        &mut self,
        market: MarketId,
        mark: Decimal,
    ) -> (Vec<LedgerEvent>, Vec<MarginPool>) {
        let mut ev = Vec::new();
        let mut liquidatable = Vec::new();
        self.ledger
            .set_mark(market, mark, &mut ev, &mut liquidatable);
        for a in &self.liquidating {
            if !liquidatable.contains(a) {
                liquidatable.push(*a);
            }
        }
        (ev, liquidatable)
    }

    /// Several markets' marks at once (one RiskActor tick): the events of all, and every pool
    /// any of them made liquidatable (each once).
    pub fn set_marks(
        &mut self,
        marks: &[(MarketId, Decimal)],
    ) -> (Vec<LedgerEvent>, Vec<MarginPool>) {
        let mut ev = Vec::with_capacity(marks.len());
        let mut liquidatable = Vec::new();
        for &(market, mark) in marks {
            let (e, l) = self.set_mark(market, mark);
            ev.extend(e);
            for a in l {
                if !liquidatable.contains(&a) {
                    liquidatable.push(a);
                }
            }
        }
        (ev, liquidatable)
    }

    /// One market's funding settlement; the events to journal.
    pub fn settle_funding(
        &mut self,
        market: MarketId,
        rate: Decimal,
        mark: Decimal,
        now: Timestamp,
    ) -> Vec<LedgerEvent> {
        let mut ev = Vec::new();
        self.ledger.settle_funding(market, rate, mark, now, &mut ev);
        ev
    }

    /// The report of order `id` with `fills` (the ones a request produced).
    pub fn report(
        &self,
        market: MarketId,
        id: OrderId,
        fills: Vec<crate::engine::orders::OrderFill>,
    ) -> Result<OrderReport, Reject> {
        let order = self
            .orders
            .get(market, id)
            .cloned()
            .ok_or(Reject::OrderNotFound)?;
        Ok(OrderReport {
            order,
            fills,
            retry: false,
        })
    }
}
