//! Read-only queries a [`MarketActor`] answers for the API, the replication gateway and
//! tests: one actix message per question, each with its own reply type, so a caller gets
//! exactly the answer it asked for and never matches on a view it cannot receive.
//!
//! # Invariants
//! - A query reads the engine and the clock only; it changes nothing, so answering it in any
//!   order with the market's commands is safe (it sees the state after the commands before it
//!   in the mailbox, which is what tests use to wait for a market to settle).

use actix::prelude::*;

use super::MarketActor;
use crate::actors::publish::Ticker;
use crate::book::Depth;
use crate::domain::Qty;
use crate::engine::market::{Candle, TradeTick};

/// The book's best `n` levels per side, with its sequence.
#[derive(Message)]
#[rtype(result = "Depth")]
pub struct DepthQuery(pub usize);

/// The newest `n` trades, newest first.
#[derive(Message)]
#[rtype(result = "Vec<TradeTick>")]
pub struct TradesQuery(pub usize);

/// The newest `limit` candles of `interval`, oldest first; `None` if the interval is not one
/// the engine keeps.
#[derive(Message)]
#[rtype(result = "Option<Vec<Candle>>")]
pub struct CandlesQuery {
    pub interval: String,
    pub limit: usize,
}

/// The market summary: the ticker, the open interest and the 24 h volume.
#[derive(Message)]
#[rtype(result = "Summary")]
pub struct SummaryQuery;

/// Answer to [`SummaryQuery`].
#[derive(Debug, Clone)]
pub struct Summary {
    pub ticker: Ticker,
    pub open_interest: Qty,
    pub volume_24h: Qty,
}

/// The name of the thread this market runs on (diagnostics: one arbiter per market).
#[derive(Message)]
#[rtype(result = "String")]
pub struct ThreadQuery;

impl Handler<DepthQuery> for MarketActor {
    type Result = MessageResult<DepthQuery>;

    fn handle(&mut self, q: DepthQuery, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.engine.book().depth(q.0))
    }
}

impl Handler<TradesQuery> for MarketActor {
    type Result = MessageResult<TradesQuery>;

    fn handle(&mut self, q: TradesQuery, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.engine.data().recent_trades(q.0))
    }
}

impl Handler<CandlesQuery> for MarketActor {
    type Result = MessageResult<CandlesQuery>;

    fn handle(&mut self, q: CandlesQuery, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.engine.data().candles(&q.interval, q.limit))
    }
}

impl Handler<SummaryQuery> for MarketActor {
    type Result = MessageResult<SummaryQuery>;

    fn handle(&mut self, _: SummaryQuery, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.summary())
    }
}

impl Handler<ThreadQuery> for MarketActor {
    type Result = MessageResult<ThreadQuery>;

    fn handle(&mut self, _: ThreadQuery, _: &mut Self::Context) -> Self::Result {
        MessageResult(thread_name())
    }
}

impl MarketActor {
    fn summary(&self) -> Summary {
        let now = self.clock.now();
        Summary {
            ticker: self.ticker(now),
            open_interest: self.engine.open_interest(),
            volume_24h: self.engine.data().volume_24h(now),
        }
    }
}

fn thread_name() -> String {
    format!("{:?}", std::thread::current().id())
}
