//! RiskActor: computes each market's index and mark every `mark_interval` (docs/RULES.md §4) from
//! samples the MarketActors give, pushes the mark to the AccountActor (screening) and the
//! MarketActor (bands, take bounds, mark triggers), the index to the FundingActor, and runs the
//! liquidation workflow (docs/RULES.md §6) for the accounts the AccountActor reports, one step at a
//! time through the normal path.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashSet;
use tokio::sync::oneshot;

use super::liquidation::RunEnd;
use super::mark_board::{MarkBoard, MarkReading};
use super::market::sampler::Sampler;
use super::messages::*;
use super::{AccountActor, FundingActor, MarketActor};
use crate::clock::SharedClock;
use crate::domain::MarketId;
use crate::domain::{MarginPool, MarketSpec, Reject, Timestamp};
use crate::risk::mark::{mark_price, BasisAverage, Index, MarkInputs};
use crate::telemetry::handles::f;
use crate::telemetry::RiskMetrics;

struct MarketRisk {
    spec: MarketSpec,
    addr: Addr<MarketActor>,
    index: Index,
    basis: BasisAverage,
    predicted: Decimal,
    next_funding: Timestamp,
    mark: Decimal,
    /// The (mark, index, stale) last pushed to the market: an unchanged one is not sent again
    /// (an idle market with a still index is not woken every tick).
    pushed: Option<(Decimal, Decimal, bool)>,
}

pub struct RiskActor {
    markets: Vec<MarketRisk>,
    account: Addr<AccountActor>,
    funding: Option<Addr<FundingActor>>,
    clock: SharedClock,
    scale: u32,
    mark_interval: Duration,
    timers: bool,
    liquidating: FxHashSet<MarginPool>,
    idle_waiters: Vec<oneshot::Sender<()>>,
    metrics: Vec<RiskMetrics>,
    /// Where each tick's marks are shown to samplers without a message (`mark_board.rs`).
    board: Arc<MarkBoard>,
    /// Every market's sample, re-asked only where the market changed.
    sampler: Sampler,
}

impl RiskActor {
    pub fn new(
        specs: &[MarketSpec],
        account: Addr<AccountActor>,
        clock: SharedClock,
        settings: RiskSettings,
        marks: Vec<Decimal>,
        board: Arc<MarkBoard>,
        sampler: Sampler,
    ) -> RiskActor {
        let RiskSettings {
            scale,
            mark_interval,
            timers,
        } = settings;
        let now = clock.now();
        let markets = specs
            .iter()
            .zip(sampler.addrs().to_vec())
            .zip(marks)
            .map(|((spec, addr), mark)| MarketRisk {
                index: resumed_index(spec, mark, now),
                basis: BasisAverage::default(),
                predicted: Decimal::ZERO,
                next_funding: crate::risk::funding::next_funding_time(now, spec.funding_interval),
                mark,
                pushed: None,
                spec: spec.clone(),
                addr,
            })
            .collect();
        RiskActor {
            metrics: specs.iter().map(RiskMetrics::new).collect(),
            markets,
            account,
            funding: None,
            clock,
            scale,
            mark_interval,
            timers,
            liquidating: FxHashSet::default(),
            idle_waiters: Vec::new(),
            board,
            sampler,
        }
    }

    /// Fold samples in (a tick's, or one), compute the marks and push them everywhere: to each
    /// market, to the FundingActor, to the AccountActor in one message for all (one journal
    /// entry per tick, not per market), and to the board.
    fn on_samples(&mut self, samples: impl IntoIterator<Item = MarketSample>) {
        let mut ledger = Vec::new();
        let mut board = Vec::new();
        for s in samples {
            let market = s.market;
            if let Some((reading, stale)) = self.on_sample(s) {
                // Liquidations pause while the index is stale (docs/RULES.md §4).
                if !stale {
                    ledger.push((market, reading.mark));
                }
                board.push((market, reading));
            }
        }
        if !ledger.is_empty() {
            self.account.do_send(MarkToLedger { marks: ledger });
        }
        self.board.set_all(board);
    }

    /// Fold one sample in, compute the mark and push it to the market and the FundingActor;
    /// returns the reading and whether the index is stale.
    fn on_sample(&mut self, s: MarketSample) -> Option<(MarkReading, bool)> {
        let now = s.now;
        let scale = self.scale;
        let m = self.markets.get_mut(s.market.index())?;
        m.index.sample_book(s.best_bid, s.best_ask, scale);
        let reading = m.index.reading(now);
        if let (Some(b), Some(a)) = (s.best_bid, s.best_ask) {
            m.basis.sample((b + a) / Decimal::TWO, reading.price);
        }
        let interval_ms = m.spec.funding_interval.as_millis() as u64;
        let inputs = MarkInputs {
            index: reading.price,
            predicted_funding: m.predicted,
            ms_to_funding: m.next_funding.0.saturating_sub(now.0),
            interval_ms,
            basis: m.basis.average(),
            last: s.last,
        };
        m.mark = mark_price(&inputs, scale);
        let (mark, index, stale) = (m.mark, reading.price, reading.stale);
        let gauges = &self.metrics[s.market.index()];
        gauges.mark.set(f(mark));
        gauges.index.set(f(index));
        if m.pushed != Some((mark, index, stale)) {
            m.pushed = Some((mark, index, stale));
            m.addr.do_send(MarkToMarket {
                mark,
                index,
                index_stale: stale,
            });
        }
        if let Some(f) = &self.funding {
            f.do_send(IndexToFunding {
                market: s.market,
                index,
                mark,
                stale,
            });
        }
        let reading = MarkReading {
            mark,
            index,
            open_interest: s.open_interest,
            at: now,
        };
        Some((reading, stale))
    }
}

/// How the RiskActor runs.
#[derive(Clone, Copy, Debug)]
pub struct RiskSettings {
    /// Money scale (decimals).
    pub scale: u32,
    pub mark_interval: Duration,
    /// Run the mark timer (tests send `Tick`s instead).
    pub timers: bool,
}

/// The index to start from: the initial price on a fresh exchange, else the last mark the
/// ledger recovered, so a restart does not snap marks back to `initial_index_price` (which could
/// liquidate healthy accounts). An oracle index restarts fresh-dated: the operator must push a
/// price within `index_stale_after`, or new orders get `INDEX_STALE` (docs/RULES.md §4). A demo
/// walk is re-centred to read the mark now and goes on moving.
fn resumed_index(spec: &MarketSpec, mark: Decimal, now: Timestamp) -> Index {
    let mut index = Index::new(spec, now);
    index.resume_at(mark, now);
    index
}

impl Actor for RiskActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.timers {
            ctx.run_interval(self.mark_interval, |_, ctx| ctx.notify(Tick));
        }
    }
}

/// Wiring after start.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WireFunding(pub Addr<FundingActor>);

impl Handler<WireFunding> for RiskActor {
    type Result = ();

    fn handle(&mut self, w: WireFunding, _: &mut Self::Context) {
        self.funding = Some(w.0);
    }
}

impl Handler<Tick> for RiskActor {
    /// Completes once every market's sample is in and its mark sent on (a barrier for tests).
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Tick, _: &mut Self::Context) -> Self::Result {
        Box::pin(
            self.sampler
                .round(self.clock.now())
                .into_actor(self)
                .map(|samples, act, _| {
                    act.sampler.keep(&samples);
                    act.on_samples(samples);
                }),
        )
    }
}

impl Handler<MarketSample> for RiskActor {
    type Result = ();

    fn handle(&mut self, s: MarketSample, _: &mut Self::Context) {
        self.on_samples([s]);
    }
}

impl Handler<PushIndex> for RiskActor {
    type Result = ();

    fn handle(&mut self, p: PushIndex, ctx: &mut Self::Context) {
        let now = self.clock.now();
        let Some(m) = self.markets.get_mut(p.market.index()) else {
            let _ = p.reply.send(Err(Reject::UnknownMarket));
            return;
        };
        if !m.index.push_oracle(p.price, now) {
            let _ = p.reply.send(Err(Reject::IndexNotPushable));
            return;
        }
        // Recompute the mark at once from a fresh sample, then answer with both.
        let market = p.market;
        let fut = m.addr.send(SampleRequest);
        ctx.spawn(fut.into_actor(self).map(move |r, act, _| {
            if let Ok(sample) = r {
                act.on_samples([sample]);
            }
            let m = &act.markets[market.index()];
            let _ = p
                .reply
                .send(Ok((m.index.reading(act.clock.now()).price, m.mark)));
        }));
    }
}

impl Handler<PredictedFunding> for RiskActor {
    type Result = ();

    fn handle(&mut self, p: PredictedFunding, _: &mut Self::Context) {
        if let Some(m) = self.markets.get_mut(p.market.index()) {
            m.predicted = p.rate;
            m.next_funding = p.next_funding_time;
        }
    }
}

impl Handler<Liquidatable> for RiskActor {
    type Result = ();

    fn handle(&mut self, l: Liquidatable, ctx: &mut Self::Context) {
        for pool in l.0 {
            // One run per pool at a time; a pool still flagged after a run is handed back at
            // the next mark and runs again.
            if !self.liquidating.insert(pool) {
                continue;
            }
            let fut =
                super::liquidation::liquidate(self.account.clone(), pool, self.metrics.clone());
            ctx.spawn(fut.into_actor(self).map(move |r, act, _| {
                act.liquidating.remove(&pool);
                if act.liquidating.is_empty() {
                    for w in act.idle_waiters.drain(..) {
                        let _ = w.send(());
                    }
                }
                match r {
                    Ok((RunEnd::Finished, steps, markets)) if steps > 1 => {
                        tracing::warn!(%pool, steps, markets = ?markets, "liquidation finished")
                    }
                    Ok((RunEnd::Finished, ..)) => {}
                    Ok((RunEnd::Waiting, steps, _)) => {
                        tracing::error!(%pool, steps, "liquidation waits: a negative wallet the insurance fund cannot cover yet")
                    }
                    Err(e) => {
                        tracing::error!(%pool, error = %e, "liquidation run stopped; retried at the next mark")
                    }
                }
            }));
        }
    }
}

/// For tests and the admin route: the current index and mark of a market.
#[derive(Message)]
#[rtype(result = "Option<(Decimal, Decimal)>")]
pub struct CurrentMark(pub MarketId);

impl Handler<CurrentMark> for RiskActor {
    type Result = Option<(Decimal, Decimal)>;

    fn handle(&mut self, c: CurrentMark, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        self.markets
            .get(c.0.index())
            .map(|m| (m.index.reading(now).price, m.mark))
    }
}

/// Answered once no liquidation is in progress (at once if none is).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WhenIdle(pub oneshot::Sender<()>);

impl Handler<WhenIdle> for RiskActor {
    type Result = ();

    fn handle(&mut self, w: WhenIdle, _: &mut Self::Context) {
        if self.liquidating.is_empty() {
            let _ = w.0.send(());
        } else {
            self.idle_waiters.push(w.0);
        }
    }
}

/// Promotion of a replication follower (`crate::replication`): resume from the replicated
/// marks, as a restart does, and start the mark timer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Resume(pub Vec<Decimal>);

impl Handler<Resume> for RiskActor {
    type Result = ();

    fn handle(&mut self, r: Resume, ctx: &mut Self::Context) {
        let now = self.clock.now();
        for (m, mark) in self.markets.iter_mut().zip(r.0) {
            m.index = resumed_index(&m.spec, mark, now);
            m.mark = mark;
            m.next_funding = crate::risk::funding::next_funding_time(now, m.spec.funding_interval);
        }
        if !self.timers {
            self.timers = true;
            ctx.run_interval(self.mark_interval, |_, ctx| ctx.notify(Tick));
        }
    }
}
