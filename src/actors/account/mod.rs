//! AccountActor: owns the account side of the order path ([`Accounts`]: ledger and order
//! records) and routes. Each handler turns a message into one core call, sends what the core
//! returns (a market command, a journal batch), and replies once durable (or at once with
//! `durability = "relaxed"`). Also applies marks (screening), funding and liquidation steps.
//!
//! # Invariants
//! - A request rejected at R1 or by the market changes nothing and journals nothing (the core
//!   undoes a refused command's R1 at its R2).
//! - Every state change reaches the journal in the order it was applied.
//! - A market command's public data (its market's gate ticket) and private updates (built at
//!   R2, queued in this actor's gate) are released exactly when its reply is: from the
//!   journal's acknowledgement, or at once when relaxed, refused or unjournaled
//!   ([`Released`]); both gates keep command order (docs/ARCHITECTURE.md §3).

mod access;
mod admin;
pub mod follow;
mod liquidation;
mod orders;

use crate::actors::access_directory::AccessDirectory;
use std::sync::Arc;

use actix::prelude::*;

use super::market::MarketRelease;
use super::messages::*;
use super::publish::{PrivateFeeds, PrivateUpdate};
use super::release::{Gate, Release};
use super::{MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::config::Durability;
use crate::domain::{AccountId, CloseReason, Fault, OrderId, Reject};
use crate::engine::accounts::{Accounts, Settled, Ticket};
use crate::engine::orders::{OrderFill, OrderStore};
use crate::engine::{Ledger, LedgerEvent};
use crate::persistence::codec::{self, Batch};
use crate::persistence::{AckError, Entry, Journal};

/// What to do once a command's batch is durable.
pub(super) type Done = Box<dyn FnOnce(Result<(), Reject>) + Send>;
use crate::domain::{MarginPool, MarketId};

pub struct AccountActor {
    core: Accounts,
    markets: Vec<Addr<MarketActor>>,
    /// Commands R1 accepted per market, handed on together when the mailbox is worked through
    /// ([`FlushOutbox`]): one message and one wake-up of a market per batch.
    outbox: Vec<Vec<MarketCmd>>,
    flush_scheduled: bool,
    risk: Option<Addr<RiskActor>>,
    clock: SharedClock,
    journal: Option<Arc<Journal>>,
    durability: Durability,
    private: Arc<PrivateFeeds>,
    /// Private updates wait here until their command is durable, in command order.
    private_gate: Arc<Gate<Updates>>,
    next_account: u64,
    /// Kept equal to the ledger's access records ([`AccessDirectory::observe`]).
    access: Arc<AccessDirectory>,
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
        access: Arc<AccessDirectory>,
    ) -> AccountActor {
        let next_account = ledger
            .account_ids()
            .map(|a| a.0 + 1)
            .max()
            .unwrap_or(0)
            .max(AccountId::FIRST_USER);
        let feeds = Arc::clone(&private);
        let private_gate = Gate::new(move |updates: Updates| {
            for (account, u) in updates {
                feeds.publish(account, u);
            }
        });
        let actor = AccountActor {
            access,
            private_gate,
            metrics: crate::telemetry::AccountMetrics::new(),
            core: Accounts::new(ledger, orders),
            markets: Vec::new(),
            outbox: Vec::new(),
            flush_scheduled: false,
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
        self.metrics
            .update(fund, self.core.accounts_in_liquidation().len());
    }

    /// Journal `batch`, then call `done` once durable (at once when relaxed or unjournaled).
    fn commit(&self, batch: Batch, done: impl FnOnce(Result<(), Reject>) + Send + 'static) {
        let mut entries = Vec::with_capacity(1);
        self.stage(batch, Box::new(done), &mut entries);
        self.append(entries);
    }

    /// Encode `batch` for the journal into `entries` (or complete `done` at once when there is
    /// nothing to journal); with relaxed durability `done` runs now.
    fn stage(&self, batch: Batch, done: Done, entries: &mut Vec<Entry>) {
        if self.journal.is_none() || batch.is_empty() {
            return done(Ok(()));
        }
        let events = batch.len() as u32;
        let bytes = codec::encode(&batch);
        match self.durability {
            // "replicated": the journal holds the acknowledgement until the stream has it.
            Durability::Immediate | Durability::Replicated => entries.push((
                bytes,
                events,
                Some(Box::new(move |r| {
                    done(r.map(drop).map_err(|e| match e {
                        AckError::NotPrimary => Reject::NotPrimary,
                        AckError::Journal(_) => Reject::Fault(Fault::JournalFailed),
                    }))
                })),
            )),
            Durability::Relaxed => {
                entries.push((bytes, events, None));
                done(Ok(()));
            }
        }
    }

    /// Queue staged entries with the journal, in order, as one request.
    fn append(&self, mut entries: Vec<Entry>) {
        let Some(journal) = &self.journal else {
            return;
        };
        let result = match entries.len() {
            0 => return,
            1 => {
                let (bytes, events, ack) = entries.pop().expect("one entry");
                journal.try_append(bytes, events, ack)
            }
            _ => journal.try_append_many(entries),
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

    /// Queue a command's private updates behind those of earlier commands; with its market
    /// ticket, what to finish once the command's fate is known.
    fn released(&self, public: Option<MarketRelease>, updates: Updates) -> Released {
        let private = (!updates.is_empty()).then(|| self.private_gate.push(updates));
        Released { public, private }
    }

    /// After R2: private updates (into `updates`), follow-up commands (cancels of orders that
    /// slipped past a liquidation's cancel-all; liquidations to start), and the command's
    /// journal batch. Returns the batch to commit (`None`: the command was refused).
    fn after_settle(
        &self,
        market: MarketId,
        events: Vec<crate::engine::market::MarketEvent>,
        s: &mut Settled,
        now: crate::domain::Timestamp,
        updates: &mut Updates,
    ) -> Option<Batch> {
        for &(id, fill) in &s.touched {
            self.notify(id, market, fill, updates);
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

    /// Hand pools to the RiskActor's liquidation workflow.
    fn start_liquidations(&self, pools: Vec<MarginPool>) {
        if pools.is_empty() {
            return;
        }
        if let Some(risk) = &self.risk {
            risk.do_send(Liquidatable(pools));
        }
    }

    /// Private updates for the order's account, if anyone listens: built now (the state after
    /// this command), published once the command is durable.
    fn notify(&self, id: OrderId, market: MarketId, fill: Option<OrderFill>, out: &mut Updates) {
        let Some(r) = self.core.orders.get(market, id) else {
            return;
        };
        if !self.private.wants(r.order.account) {
            return;
        }
        let mut order = r.clone();
        order.fills.clear();
        out.push((r.order.account, PrivateUpdate::Order(order)));
        if let Some(f) = fill {
            out.push((r.order.account, PrivateUpdate::Fill(f)));
        }
        if let Ok(v) = self.core.ledger.account_view(r.order.account) {
            out.push((r.order.account, PrivateUpdate::Account(Box::new(v))));
        }
    }
}

/// Private updates of one command, in order.
pub(super) type Updates = Vec<(AccountId, PrivateUpdate)>;

/// What a market command makes visible, held until the command is durable.
pub(super) struct Released {
    public: Option<MarketRelease>,
    private: Option<Release<Updates>>,
}

impl Released {
    /// The command is durable (`keep`), or will never be (its data is dropped).
    pub(super) fn finish(self, keep: bool) {
        if let Some(r) = self.public {
            r.finish(keep);
        }
        if let Some(r) = self.private {
            r.finish(keep);
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
        self.outbox = w.markets.iter().map(|_| Vec::new()).collect();
        self.markets = w.markets;
        self.risk = Some(w.risk);
    }
}

/// Hand the commands R1 accepted on to their markets (scheduled with `notify`, so it runs
/// after the messages already in the mailbox).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct FlushOutbox;

impl Handler<FlushOutbox> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: FlushOutbox, _: &mut Self::Context) {
        self.flush_scheduled = false;
        for (cmds, addr) in self.outbox.iter_mut().zip(&self.markets) {
            match cmds.len() {
                0 => {}
                1 => addr.do_send(cmds.pop().expect("one command")),
                _ => addr.do_send(MarketCmds(std::mem::take(cmds))),
            }
        }
    }
}
