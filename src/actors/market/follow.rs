//! The MarketActor on a replication follower: the market part of each stream entry is applied
//! to the engine with the same `MarketEngine::apply` as recovery and published to this node's
//! WebSocket subscribers like live market data; on promotion the ticker timer starts.
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
use crate::engine::LedgerEvent;
use crate::persistence::codec::Batch;

/// This market's share of journal entry `seq`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FollowMarket {
    pub seq: u64,
    pub batch: Arc<Batch>,
}

/// Start the primary's timers (the ticker).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Promote;

impl Handler<FollowMarket> for MarketActor {
    type Result = ();

    fn handle(&mut self, m: FollowMarket, _: &mut Self::Context) {
        let b = &m.batch;
        if b.market == Some(self.id) {
            for e in &b.market_events {
                if let Err(err) = self.engine.apply(e, b.time) {
                    tracing::error!(seq = m.seq, market = %self.engine.spec().symbol, error = %err, "follower: entry does not apply to the market");
                    return;
                }
            }
            self.publish(&b.market_events, b.time);
        }
        for e in &b.r2 {
            if let LedgerEvent::PositionTransferred {
                market,
                from,
                to,
                qty,
                ..
            } = *e
            {
                if market == self.id {
                    self.engine
                        .apply_position_delta(from, crate::domain::Qty(-qty));
                    self.engine
                        .apply_position_delta(to, crate::domain::Qty(qty));
                }
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
            ctx.run_interval(super::TICKER_EVERY, |act, _| act.publish_ticker());
        }
    }
}
