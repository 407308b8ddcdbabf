//! The MarketActor on a replication follower: the market part of each stream entry is applied
//! to the engine with the same `MarketEngine::apply` as recovery and published to this node's
//! WebSocket subscribers at once (the entry is durable already: it came from the stream), in
//! order through the release gate; on promotion it starts publishing its ticker.
//!
//! # Invariants
//! - Parts arrive in journal order (the AccountActor forwards them as it applies entries).
//! - An entry that does not apply is reported with its sequence and leaves the engine as the
//!   apply functions left it; the follower then no longer matches the stream (the operator
//!   must re-seed it), which the state hashes of `perpx replay` show.

use std::sync::Arc;

use actix::prelude::*;

use super::MarketActor;
use crate::actors::account::follow::Barrier;
use crate::persistence::codec::Batch;

/// This market's share of journal entry `seq`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FollowMarket {
    pub seq: u64,
    pub batch: Arc<Batch>,
}

/// Become the primary's market: publish the ticker from now on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Promote;

impl Handler<FollowMarket> for MarketActor {
    type Result = ();

    fn handle(&mut self, m: FollowMarket, _: &mut Self::Context) {
        self.changes.bump();
        let b = &m.batch;
        let applied = self
            .engine
            .apply_entry(self.id, b.market, &b.market_events, &b.r2, b.time);
        if let Err(err) = applied {
            tracing::error!(seq = m.seq, market = %self.engine.spec().symbol, error = %err, "follower: entry does not apply to the market");
            return;
        }
        if b.market == Some(self.id) {
            let items = self.published(&b.market_events, b.time);
            if !items.is_empty() {
                self.gate.publish(items);
            }
        }
    }
}

impl Handler<Barrier> for MarketActor {
    type Result = ();

    fn handle(&mut self, _: Barrier, _: &mut Self::Context) {}
}

impl Handler<Promote> for MarketActor {
    type Result = ();

    fn handle(&mut self, _: Promote, ctx: &mut Self::Context) {
        if !self.timers {
            self.timers = true;
            self.ticker_soon(ctx);
        }
    }
}
