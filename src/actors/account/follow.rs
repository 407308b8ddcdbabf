//! The AccountActor on a replication follower (`crate::replication::follower`): journal
//! entries from the stream are applied to the ledger and order records through the core's
//! apply functions, exactly as recovery applies them (`persistence::replica`), and their
//! market parts are handed to the markets in the same order. On promotion the account side
//! restarts from that state as after a restart.
//!
//! # Invariants
//! - Entries arrive in sequence order, each once (the follower checks); the markets receive
//!   their parts in that order because this actor forwards them as it applies.
//! - A follower's AccountActor gets no commands (the HTTP layer refuses writes and the
//!   follower starts no timers), so its state is the stream's.

use std::sync::Arc;

use actix::prelude::*;
use rust_decimal::Decimal;

use super::AccountActor;
use crate::actors::market::follow::FollowMarket;
use crate::engine::accounts::Accounts;
use crate::engine::orders::OrderStore;
use crate::engine::{Ledger, LedgerEvent};
use crate::persistence::codec::Batch;
use crate::risk::MarketId;

/// Apply journal entry `seq` from the stream.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FollowBatch {
    pub seq: u64,
    pub batch: Arc<Batch>,
}

/// Answered once every message sent before it is handled (a barrier).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Barrier;

/// Become the primary's account side; answers what the risk side needs to resume.
#[derive(Message)]
#[rtype(result = "Promoted")]
pub struct Promote;

/// The marks per market and the accounts whose liquidation was interrupted.
#[derive(Debug, MessageResponse)]
pub struct Promoted {
    pub marks: Vec<Decimal>,
    pub liquidating: Vec<crate::domain::MarginPool>,
}

impl Handler<FollowBatch> for AccountActor {
    type Result = ();

    fn handle(&mut self, m: FollowBatch, _: &mut Self::Context) {
        let b = &m.batch;
        let ledger = &mut self.core.ledger;
        // The markets this entry touches, in the order `replica::apply_core` applies them.
        let mut touched: Vec<MarketId> = b.market.into_iter().collect();
        for e in b.r1.iter().chain(&b.r2) {
            ledger.apply(e, b.time);
            self.access.observe(e, ledger);
            match *e {
                LedgerEvent::AccountOpened { account } => {
                    self.next_account = self.next_account.max(account.0 + 1);
                }
                LedgerEvent::PositionTransferred { market, .. } if !touched.contains(&market) => {
                    touched.push(market)
                }
                _ => {}
            }
        }
        if let Some(market) = b.market {
            if let Err(e) = self.core.orders.apply_events(
                market,
                &b.market_events,
                &b.r2,
                &b.client_ids,
                b.time,
            ) {
                tracing::error!(seq = m.seq, error = %e, "follower: entry does not apply to the order records");
            }
        }
        for market in touched {
            if let Some(addr) = self.markets.get(market.index()) {
                addr.do_send(FollowMarket {
                    seq: m.seq,
                    batch: Arc::clone(&m.batch),
                });
            }
        }
    }
}

impl Handler<Barrier> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: Barrier, _: &mut Self::Context) {}
}

impl Handler<Promote> for AccountActor {
    type Result = Promoted;

    fn handle(&mut self, _: Promote, _: &mut Self::Context) -> Promoted {
        // Rebuild the account side around the replicated ledger and orders, as a restart
        // does (the liquidation index is derived from the ledger's flags).
        let markets = self.core.ledger.market_count();
        let scale = self.core.ledger.money_scale();
        let ledger = std::mem::replace(&mut self.core.ledger, Ledger::new(Vec::new(), scale));
        let orders = std::mem::replace(&mut self.core.orders, OrderStore::new(markets));
        self.core = Accounts::new(ledger, orders);
        self.update_metrics();
        let ledger = &self.core.ledger;
        Promoted {
            marks: (0..markets)
                .map(|i| ledger.mark(MarketId(i as u16)))
                .collect(),
            liquidating: ledger.in_liquidation_pools(),
        }
    }
}
