//! MarketActor: one per market, on its own pinned arbiter. Routes commands into its
//! [`MarketEngine`], queues each command's market data in the market's release gate
//! ([`Gate`]) and hands the events, with the gate's ticket, to the AccountActor for R2, which
//! finishes the ticket once the command is durable. Liquidation orders ([`PriorityCmd`]) run
//! on arrival; ordinary commands wait in a local queue drained right after the current mailbox
//! batch, so a liquidation overtakes the orders already waiting (docs/ARCHITECTURE.md §3).
//!
//! # Invariants
//! - Every command with market data gets one ticket, in the order the engine ran it, and the
//!   ticket travels with its [`MarketDone`]; book updates chain (`prev_sequence`) in that order.
//! - The ticker goes through the same gate behind the commands before it, so it never shows a
//!   trade or a best price that is not durable yet.

pub mod follow;
pub mod query;
pub mod sampler;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use rust_decimal::Decimal;

use super::feed::{BookUpdate, Event, Liquidation, MarketFeed, Published};
use super::messages::{
    FundingInfo, MarkToMarket, MarketCmd, MarketCmdKind, MarketCmds, MarketDone, MarketDoneBatch,
    MarketSample, Pending, PriorityCmd, SampleRequest,
};
use super::publish::Ticker;
use super::release::{Gate, Release};
use super::AccountActor;
use crate::clock::SharedClock;
use crate::domain::MarketId;
use crate::domain::{BookEvent, MarketSpec, Side, Timestamp};
use crate::engine::market::{MarketEngine, MarketEvent, TradeTick};
use crate::telemetry::MarketMetrics;

/// A command's ticket in its market's release gate.
pub type MarketRelease = Release<Vec<Published>>;

/// Ordinary commands handled per drain before yielding to the mailbox again.
const DRAIN_BATCH: usize = 256;
/// The ticker is published at most this often (API.md: ≤ 10 per second).
const TICKER_EVERY: Duration = Duration::from_millis(100);

pub struct MarketActor {
    id: MarketId,
    engine: MarketEngine,
    account: Addr<AccountActor>,
    clock: SharedClock,
    spec: Arc<MarketSpec>,
    /// The market's public data waits here until its command is durable (§3).
    gate: Arc<Gate<Vec<Published>>>,
    queue: VecDeque<MarketCmd>,
    draining: bool,
    /// Results of the current drain, handed to the AccountActor together at its end.
    done: Vec<MarketDone>,
    /// Sequence of the last published book message (for `prev_sequence`).
    published_seq: u64,
    index: Decimal,
    funding: Option<FundingInfo>,
    last_ticker: Option<Ticker>,
    /// Publish the ticker (off in tests that drive time by hand, and on a follower until it is
    /// promoted).
    timers: bool,
    /// A ticker publication is scheduled ([`MarketActor::ticker_soon`]).
    ticker_pending: bool,
    /// When the ticker was last looked at (published if it had changed).
    ticker_at: Option<Instant>,
    /// Bumped by every handler that may change what a sample shows (`market/sampler.rs`).
    changes: Arc<sampler::Changes>,
    metrics: MarketMetrics,
}

impl MarketActor {
    pub fn new(
        id: MarketId,
        engine: MarketEngine,
        account: Addr<AccountActor>,
        clock: SharedClock,
        feed: Arc<MarketFeed>,
        changes: Arc<sampler::Changes>,
        timers: bool,
    ) -> MarketActor {
        let index = engine.spec().initial_index_price;
        let metrics = MarketMetrics::new(&engine);
        let spec = Arc::clone(&feed.spec);
        let gate = Gate::new(move |items: Vec<Published>| {
            for p in items {
                feed.send(p);
            }
        });
        MarketActor {
            id,
            engine,
            account,
            clock,
            spec,
            gate,
            queue: VecDeque::new(),
            draining: false,
            done: Vec::new(),
            published_seq: 0,
            index,
            funding: None,
            last_ticker: None,
            timers,
            ticker_pending: false,
            ticker_at: None,
            changes,
            metrics,
        }
    }

    /// Run one command through the engine and publish; returns what R2 needs.
    fn run(&mut self, cmd: MarketCmd) -> MarketDone {
        let now = self.clock.now();
        let mut events = Vec::with_capacity(16);
        let started = Instant::now();
        let e = &mut self.engine;
        let result = match cmd.kind {
            MarketCmdKind::Place(p) => e.place(p, now, &mut events).map(drop),
            MarketCmdKind::Cancel {
                account,
                order_id,
                reason,
            } => e
                .cancel(account, order_id, reason, now, &mut events)
                .map(drop),
            MarketCmdKind::CancelMany {
                account,
                ids,
                reason,
            } => {
                for id in ids {
                    // An order that closed meanwhile is simply skipped.
                    let _ = e.cancel(Some(account), id, reason, now, &mut events);
                }
                Ok(())
            }
            MarketCmdKind::Amend(a) if a.trigger.is_some() => e.amend_trigger(
                a.account,
                a.order_id,
                a.trigger,
                a.price,
                a.total,
                now,
                &mut events,
            ),
            MarketCmdKind::Amend(a) => {
                e.amend(a.account, a.order_id, a.price, a.total, now, &mut events)
            }
            MarketCmdKind::AdjustPosition { account, delta } => {
                e.adjust_position(account, delta, now, &mut events);
                Ok(())
            }
        };
        self.metrics.command(started.elapsed(), &events);
        let release = self.stage(&events, now);
        MarketDone {
            market: self.id,
            events,
            result,
            pending: cmd.pending,
            now,
            release,
        }
    }

    /// Queue a command's market data in the gate; the ticket goes to R2 (`None`: no data).
    fn stage(&mut self, events: &[MarketEvent], now: Timestamp) -> Option<MarketRelease> {
        let items = self.published(events, now);
        (!items.is_empty()).then(|| self.gate.push(items))
    }

    /// A command's market data, typed: each trade, liquidations, one book update.
    fn published(&mut self, events: &[MarketEvent], now: Timestamp) -> Vec<Published> {
        let mut out = Vec::new();
        let mut changes = Vec::new();
        let mut seq = self.published_seq;
        for e in events {
            match e {
                MarketEvent::Book(BookEvent::Level {
                    side,
                    price,
                    qty,
                    sequence,
                }) => {
                    changes.push((*side, *price, *qty));
                    seq = *sequence;
                }
                MarketEvent::Book(BookEvent::Trade(t)) => {
                    let tick = TradeTick {
                        trade_id: t.trade_id,
                        price: t.price,
                        qty: t.qty,
                        taker_side: t.taker_side,
                        time: now,
                    };
                    out.push(Published::Trade(Event::new(self.spec.clone(), tick)));
                }
                MarketEvent::Accepted(a) if a.liquidation => {
                    if let Some(price) = a.terms.price {
                        let (side, qty, time) = (a.terms.side, a.terms.qty, now);
                        let l = Liquidation {
                            side,
                            price,
                            qty,
                            time,
                        };
                        out.push(Published::Liquidation(Event::new(self.spec.clone(), l)));
                    }
                }
                _ => {}
            }
        }
        if !changes.is_empty() {
            let prev_sequence = std::mem::replace(&mut self.published_seq, seq);
            let u = BookUpdate {
                sequence: seq,
                prev_sequence,
                changes,
            };
            out.push(Published::Book(Event::new(self.spec.clone(), u)));
        }
        out
    }

    fn ticker(&self, now: Timestamp) -> Ticker {
        let spec = self.engine.spec();
        let book = self.engine.book();
        let px = |p| spec.price_decimal(p).to_string();
        Ticker {
            kind: "ticker",
            symbol: spec.symbol.clone(),
            best_bid: book.best_bid().map(px),
            best_ask: book.best_ask().map(px),
            last_price: book.last_price().map(px),
            mark_price: self.engine.mark().normalize().to_string(),
            index_price: self.index.normalize().to_string(),
            funding_rate: self
                .funding
                .as_ref()
                .and_then(|f| f.predicted_rate)
                .map(|r| r.normalize().to_string()),
            next_funding_time: self.funding.as_ref().map_or(0, |f| f.next_funding_time.0),
            time: now.0,
        }
    }

    fn publish_ticker(&mut self) {
        let now = self.clock.now();
        let mut t = self.ticker(now);
        let changed = self.last_ticker.as_ref().is_none_or(|old| {
            let mut o = old.clone();
            o.time = t.time;
            o != t
        });
        if changed {
            t.time = now.0;
            let e = Event::new(self.spec.clone(), t.clone());
            // Behind the commands before it: it shows their last and best prices.
            self.gate.publish(vec![Published::Ticker(e)]);
            self.last_ticker = Some(t);
        }
    }

    /// After anything that may move the ticker (a command, a mark, funding): publish it now if
    /// the last look was `TICKER_EVERY` ago, else when that time is up, with whatever else
    /// changed meanwhile. One timer at most, and none while nothing happens: an idle market
    /// does not wake its thread for the ticker.
    fn ticker_soon(&mut self, ctx: &mut Context<Self>) {
        if !self.timers || self.ticker_pending {
            return;
        }
        let wait = self
            .ticker_at
            .map_or(Duration::ZERO, |t| TICKER_EVERY.saturating_sub(t.elapsed()));
        if wait.is_zero() {
            self.ticker_at = Some(Instant::now());
            self.publish_ticker();
        } else {
            self.ticker_pending = true;
            ctx.run_later(wait, |act, _| {
                act.ticker_pending = false;
                act.ticker_at = Some(Instant::now());
                act.publish_ticker();
            });
        }
    }
}

impl Actor for MarketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // The first ticker (the recovered state).
        self.ticker_soon(ctx);
    }
}

/// Drain the local queue.
#[derive(Message)]
#[rtype(result = "()")]
struct Drain;

impl MarketActor {
    fn enqueue(&mut self, cmds: impl IntoIterator<Item = MarketCmd>, ctx: &mut Context<Self>) {
        self.queue.extend(cmds);
        if !self.draining {
            self.draining = true;
            ctx.notify(Drain);
        }
    }
}

impl Handler<MarketCmd> for MarketActor {
    type Result = ();

    fn handle(&mut self, cmd: MarketCmd, ctx: &mut Self::Context) {
        self.enqueue([cmd], ctx);
    }
}

impl Handler<MarketCmds> for MarketActor {
    type Result = ();

    fn handle(&mut self, cmds: MarketCmds, ctx: &mut Self::Context) {
        self.enqueue(cmds.0, ctx);
    }
}

impl Handler<Drain> for MarketActor {
    type Result = ();

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) {
        self.changes.bump();
        for _ in 0..DRAIN_BATCH {
            let Some(cmd) = self.queue.pop_front() else {
                break;
            };
            let d = self.run(cmd);
            self.done.push(d);
        }
        // One message for the drained batch; market order is kept (priority commands and
        // mark updates, handled between drains, answer on their own).
        if !self.done.is_empty() {
            let batch = std::mem::take(&mut self.done);
            self.account.do_send(MarketDoneBatch(batch));
        }
        self.ticker_soon(ctx);
        if self.queue.is_empty() {
            self.draining = false;
        } else {
            ctx.notify(Drain);
        }
    }
}

impl Handler<PriorityCmd> for MarketActor {
    type Result = ();

    fn handle(&mut self, cmd: PriorityCmd, ctx: &mut Self::Context) {
        self.changes.bump();
        let d = self.run(cmd.0);
        self.account.do_send(d);
        self.ticker_soon(ctx);
    }
}

impl Handler<MarkToMarket> for MarketActor {
    type Result = ();

    fn handle(&mut self, m: MarkToMarket, ctx: &mut Self::Context) {
        let now = self.clock.now();
        self.index = m.index;
        let mut events = Vec::new();
        let started = Instant::now();
        self.engine
            .set_mark(m.mark, m.index_stale, now, &mut events);
        // Mark triggers are engine work too (and may trade).
        self.metrics.command(started.elapsed(), &events);
        // Mark triggers may have traded or closed orders: R2 must settle them (and release
        // their market data once durable). Without book events there is no market data.
        if events.iter().any(|e| matches!(e, MarketEvent::Book(_))) {
            self.changes.bump();
            let release = self.stage(&events, now);
            self.account.do_send(MarketDone {
                market: self.id,
                events,
                result: Ok(()),
                pending: Pending::internal(),
                now,
                release,
            });
        }
        self.ticker_soon(ctx);
    }
}

impl Handler<FundingInfo> for MarketActor {
    type Result = ();

    fn handle(&mut self, f: FundingInfo, ctx: &mut Self::Context) {
        self.funding = Some(f);
        self.ticker_soon(ctx);
    }
}

impl Handler<SampleRequest> for MarketActor {
    type Result = MessageResult<SampleRequest>;

    fn handle(&mut self, _: SampleRequest, _: &mut Self::Context) -> Self::Result {
        // Open interest walks the positions: refreshed once per mark sample, not per command.
        let e = &self.engine;
        let open_interest = e.open_interest();
        self.metrics.open_interest(e.spec(), open_interest);
        let notional = e.spec().impact_notional;
        let book = e.book();
        MessageResult(MarketSample {
            market: self.id,
            best_bid: book.best_bid().map(|p| e.spec().price_decimal(p)),
            best_ask: book.best_ask().map(|p| e.spec().price_decimal(p)),
            last: e.book().last_price().map(|p| e.spec().price_decimal(p)),
            impact_bid: e.impact_price(Side::Buy, notional),
            impact_ask: e.impact_price(Side::Sell, notional),
            open_interest,
            now: self.clock.now(),
            changes: self.changes.get(),
        })
    }
}
