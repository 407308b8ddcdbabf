//! AccountActor: owns the account side of the order path ([`Accounts`]: ledger and order
//! records) and routes. Each handler turns a message into one core call, sends what the core
//! returns (a market command, a journal batch), and replies once durable (or at once with
//! `durability = "relaxed"`). Also applies marks (screening), funding and liquidation steps.
//!
//! # Invariants
//! - A request rejected at R1 or by the market changes nothing and journals nothing (the core
//!   undoes a refused command's R1 at its R2).
//! - Every state change reaches the journal in the order it was applied.

mod admin;
mod liquidation;
mod orders;

use std::sync::Arc;

use actix::prelude::*;

use super::messages::*;
use super::publish::{PrivateFeeds, PrivateUpdate};
use super::{MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::config::Durability;
use crate::domain::{AccountId, CloseReason, OrderId, Reject};
use crate::engine::accounts::{Accounts, Settled, Ticket};
use crate::engine::orders::{OrderFill, OrderStore};
use crate::engine::{Ledger, LedgerEvent};
use crate::persistence::codec::{self, Batch};
use crate::persistence::Journal;
use crate::risk::MarketId;

pub struct AccountActor {
    core: Accounts,
    markets: Vec<Addr<MarketActor>>,
    risk: Option<Addr<RiskActor>>,
    clock: SharedClock,
    journal: Option<Arc<Journal>>,
    durability: Durability,
    private: Arc<PrivateFeeds>,
    next_account: u64,
    /// telemetry: the insurance fund and the accounts in liquidation.
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
        let actor = AccountActor {
            metrics: crate::telemetry::AccountMetrics::new(),
            core: Accounts::new(ledger, orders),
            markets: Vec::new(),
            risk: None,
            clock,
            journal,
            durability,
            private,
            next_account,
        };
        actor.update_metrics();
        actor
    }

    /// telemetry: the insurance fund gauge and the accounts in liquidation.
    fn update_metrics(&self) {
        let fund = self
            .core
            .ledger
            .wallet(AccountId::INSURANCE)
            .unwrap_or_default();
        self.metrics.update(fund, self.core.liquidating().count());
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

    /// Journal ledger-only events (deposits, leverage, marks, funding, liquidation steps).
    fn commit_ledger(
        &self,
        ev: Vec<LedgerEvent>,
        done: impl FnOnce(Result<(), Reject>) + Send + 'static,
    ) {
        self.commit(Batch::ledger(ev, self.clock.now()), done);
    }

    fn market(&self, m: MarketId) -> Result<&Addr<MarketActor>, Reject> {
        self.markets.get(m.index()).ok_or(Reject::UnknownMarket)
    }

    /// After R2: private updates, follow-up commands (cancels of orders that slipped past a
    /// liquidation's cancel-all; liquidations to start), and the command's journal batch.
    /// Returns the batch to commit (`None`: the command was refused).
    fn after_settle(
        &self,
        market: MarketId,
        events: Vec<crate::engine::market::MarketEvent>,
        s: &mut Settled,
        now: crate::domain::Timestamp,
    ) -> Option<Batch> {
        for &(id, fill) in &s.touched {
            self.notify(id, market, fill);
        }
        if !s.cancel.is_empty() {
            if let Ok(addr) = self.market(market) {
                for &(account, id) in &s.cancel {
                    addr.do_send(PriorityCmd(MarketCmd {
                        kind: MarketCmdKind::Cancel {
                            account: Some(account),
                            order_id: id,
                            reason: CloseReason::Liquidation,
                        },
                        pending: Pending {
                            ticket: Ticket::Liquidation,
                            reply: PendingReply::None,
                        },
                    }));
                }
            }
        }
        self.start_liquidations(std::mem::take(&mut s.liquidate));
        if !s.journal {
            return None;
        }
        let mut batch = Batch::new(
            market,
            std::mem::take(&mut s.r1),
            events,
            std::mem::take(&mut s.r2),
            now,
        );
        batch.client_ids = std::mem::take(&mut s.client_ids);
        Some(batch)
    }

    /// Hand accounts to the RiskActor's liquidation workflow.
    fn start_liquidations(&self, accounts: Vec<AccountId>) {
        if accounts.is_empty() {
            return;
        }
        if let Some(risk) = &self.risk {
            risk.do_send(Liquidatable(accounts));
        }
    }

    /// Private updates for the order's account, if anyone listens.
    fn notify(&self, id: OrderId, market: MarketId, fill: Option<OrderFill>) {
        let Some(r) = self.core.orders.get(market, id) else {
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
        if let Ok(v) = self.core.ledger.account_view(r.account) {
            self.private
                .publish(r.account, PrivateUpdate::Account(Box::new(v)));
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
