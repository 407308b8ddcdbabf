//! AccountActor: owns the [`Ledger`] and the [`OrderStore`]. R1 (assign the order id, check
//! the client order id, hold margin) before the market; R2 (settle fills, release holds,
//! update order records) after it; then the command's events go to the journal as one batch
//! and the reply is released once durable (or at once with `durability = "relaxed"`).
//! Also applies mark updates (screening for liquidation), funding and liquidation steps.
//!
//! # Invariants
//! - A request rejected at R1 or by the market changes nothing and journals nothing (a hold
//!   taken at R1 for an order the market refused is released before the reply).
//! - Every state change reaches the journal in the order it was applied.

mod admin;
mod orders;

use std::sync::Arc;

use actix::prelude::*;

use super::messages::*;
use super::publish::{PrivateFeeds, PrivateUpdate};
use super::{MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::config::Durability;
use crate::domain::{AccountId, OrderId, Reject, Timestamp};
use crate::engine::market::MarketEvent;
use crate::engine::orders::{OrderFill, OrderRecord, OrderStore};
use crate::engine::{Ledger, LedgerEvent};
use crate::persistence::codec::{self, Batch};
use crate::persistence::Journal;
use crate::risk::MarketId;

pub struct AccountActor {
    ledger: Ledger,
    orders: OrderStore,
    markets: Vec<Addr<MarketActor>>,
    risk: Option<Addr<RiskActor>>,
    clock: SharedClock,
    journal: Option<Arc<Journal>>,
    durability: Durability,
    private: Arc<PrivateFeeds>,
    next_account: u64,
    /// telemetry: the insurance fund gauge.
    metrics: crate::telemetry::AccountMetrics,
}

/// Wiring after start (markets need this actor's address first).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wire {
    pub markets: Vec<Addr<MarketActor>>,
    pub risk: Addr<RiskActor>,
}

impl AccountActor {
    pub fn new(
        ledger: Ledger,
        orders: OrderStore,
        clock: SharedClock,
        journal: Option<Arc<Journal>>,
        durability: Durability,
        private: Arc<PrivateFeeds>,
    ) -> AccountActor {
        let next_account = ledger
            .account_ids()
            .map(|a| a.0 + 1)
            .max()
            .unwrap_or(0)
            .max(AccountId::FIRST_USER);
        let metrics = crate::telemetry::AccountMetrics::new(&ledger);
        AccountActor {
            metrics,
            ledger,
            orders,
            markets: Vec::new(),
            risk: None,
            clock,
            journal,
            durability,
            private,
            next_account,
        }
    }

    /// Journal `batch`, then call `done` once durable (at once when relaxed or unjournaled).
    fn commit(&self, batch: Batch, done: impl FnOnce(Result<(), Reject>) + Send + 'static) {
        let Some(journal) = &self.journal else {
            return done(Ok(()));
        };
        if batch.is_empty() {
            return done(Ok(()));
        }
        let events = batch.len() as u32;
        let bytes = codec::encode(&batch);
        let result = match self.durability {
            Durability::Immediate => journal.try_append(
                bytes,
                events,
                Some(Box::new(move |r| {
                    done(r.map(drop).map_err(|_| Reject::Overloaded))
                })),
            ),
            Durability::Relaxed => {
                let r = journal.try_append(bytes, events, None);
                done(Ok(()));
                r
            }
        };
        // Entry bounds keep the journal queue far from full; reaching it means acknowledged
        // state could be lost, so stop (fail fast; recovery restores the journaled state).
        assert!(
            result.is_ok(),
            "journal queue full or journal failed: stopping to protect acknowledged state"
        );
    }

    fn market(&self, m: MarketId) -> Result<&Addr<MarketActor>, Reject> {
        self.markets.get(m.index()).ok_or(Reject::UnknownMarket)
    }

    /// R2 (`engine::settle`), then private updates. Returns the ledger events and the fills of
    /// `watch` (the order this request is about).
    fn settle(
        &mut self,
        market: MarketId,
        events: &[MarketEvent],
        client: Option<(OrderId, String)>,
        watch: Option<OrderId>,
        now: Timestamp,
    ) -> (Vec<LedgerEvent>, Vec<OrderFill>) {
        let s = crate::engine::settle::settle(
            &mut self.ledger,
            &mut self.orders,
            market,
            events,
            client,
            now,
        );
        let mut fills = Vec::new();
        for &(id, fill) in &s.touched {
            if let (Some(f), true) = (fill, watch == Some(id)) {
                fills.push(f);
            }
            self.notify(id, market, fill);
        }
        (s.ledger_events, fills)
    }

    /// Private updates for the order's account, if anyone listens.
    fn notify(&self, id: OrderId, market: MarketId, fill: Option<OrderFill>) {
        let Some(r) = self.orders.get(market, id) else {
            return;
        };
        if !self.private.wants(r.account) {
            return;
        }
        let mut order = r.clone();
        order.fills.clear();
        self.private.publish(r.account, PrivateUpdate::Order(order));
        if let Some(f) = fill {
            self.private.publish(r.account, PrivateUpdate::Fill(f));
        }
        if let Ok(v) = self.ledger.account_view(r.account) {
            self.private
                .publish(r.account, PrivateUpdate::Account(Box::new(v)));
        }
    }

    fn report(
        &self,
        market: MarketId,
        id: OrderId,
        fills: Vec<OrderFill>,
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

    /// The open order `id` of `account` in `market`, or `ORDER_NOT_FOUND` / `ORDER_NOT_OPEN`.
    fn own_order(
        &self,
        account: AccountId,
        market: MarketId,
        id: OrderId,
    ) -> Result<&OrderRecord, Reject> {
        match self.orders.get(market, id) {
            Some(r) if r.account == account && r.status.is_closed() => Err(Reject::OrderNotOpen),
            Some(r) if r.account == account => Ok(r),
            _ => Err(Reject::OrderNotFound),
        }
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        // `do_send` ignores mailbox capacity; the entry gates bound the in-flight work.
    }
}

impl Handler<Wire> for AccountActor {
    type Result = ();

    fn handle(&mut self, w: Wire, _: &mut Self::Context) {
        self.markets = w.markets;
        self.risk = Some(w.risk);
    }
}

// Accessors for the liquidation step handlers (kept in their own file).
impl AccountActor {
    pub(super) fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    pub(super) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub(super) fn orders_mut(&mut self) -> &mut OrderStore {
        &mut self.orders
    }

    pub(super) fn market_addr(&self, m: MarketId) -> Option<Addr<MarketActor>> {
        self.markets.get(m.index()).cloned()
    }

    pub(super) fn commit_ledger(
        &self,
        ev: Vec<LedgerEvent>,
        done: impl FnOnce(Result<(), Reject>) + Send + 'static,
    ) {
        self.commit(Batch::ledger(ev, self.clock.now()), done);
    }
}
