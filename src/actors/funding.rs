//! FundingActor: samples each market's premium every `funding_sample_interval` from its impact
//! prices and the index (docs/RULES.md §5), publishes the predicted rate, and at each funding time
//! (multiples of `funding_interval` since the epoch) has the AccountActor settle the market in
//! one pass, then records the settlement (`rate`, `mark_price`) for the API.

use std::collections::VecDeque;
use std::time::Duration;

use actix::prelude::*;
use rust_decimal::Decimal;
use tokio::sync::oneshot;

use super::market::sampler::Sampler;
use super::messages::*;
use super::{AccountActor, MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::domain::MarketId;
use crate::domain::{MarketSpec, Timestamp};
use crate::risk::funding::{funding_rate, next_funding_time, PremiumSamples};
use crate::telemetry::handles::f;
use crate::telemetry::FundingMetrics;

/// Settlements kept per market for `GET /funding`.
const KEEP_HISTORY: usize = 1000;

struct MarketFunding {
    spec: MarketSpec,
    addr: Addr<MarketActor>,
    samples: PremiumSamples,
    index: Option<Decimal>,
    mark: Decimal,
    stale: bool,
    next: Timestamp,
    last_rate: Option<Decimal>,
    history: VecDeque<FundingRecord>,
    settling: bool,
    metrics: FundingMetrics,
}

impl MarketFunding {
    fn predicted(&self) -> Decimal {
        let avg = self.samples.weighted_average().unwrap_or(Decimal::ZERO);
        funding_rate(
            avg,
            self.spec.interest_rate,
            self.spec.funding_interval,
            self.spec.funding_cap,
        )
    }
}

pub struct FundingActor {
    markets: Vec<MarketFunding>,
    account: Addr<AccountActor>,
    risk: Addr<RiskActor>,
    clock: SharedClock,
    sample_interval: Duration,
    timers: bool,
    /// Every market's sample, re-asked only where the market changed.
    sampler: Sampler,
}

impl FundingActor {
    pub fn new(
        specs: &[MarketSpec],
        account: Addr<AccountActor>,
        risk: Addr<RiskActor>,
        clock: SharedClock,
        sample_interval: Duration,
        timers: bool,
        sampler: Sampler,
    ) -> FundingActor {
        let now = clock.now();
        let markets = specs
            .iter()
            .zip(sampler.addrs().to_vec())
            .map(|(spec, addr)| MarketFunding {
                next: next_funding_time(now, spec.funding_interval),
                mark: spec.initial_index_price,
                spec: spec.clone(),
                addr,
                samples: PremiumSamples::default(),
                index: None,
                stale: false,
                last_rate: None,
                history: VecDeque::new(),
                settling: false,
                metrics: FundingMetrics::new(spec),
            })
            .collect();
        FundingActor {
            markets,
            account,
            risk,
            clock,
            sample_interval,
            timers,
            sampler,
        }
    }

    /// Fold one sample in and publish the predicted rate. Returns a settlement to run if the
    /// market's funding time has come.
    fn on_sample(&mut self, s: MarketSample) -> Option<Settlement> {
        let now = self.clock.now();
        let m = self.markets.get_mut(s.market.index())?;
        // Funding accrual pauses while the index is stale (docs/RULES.md §4).
        if let (Some(index), false) = (m.index, m.stale) {
            m.samples.sample(s.impact_bid, s.impact_ask, index);
        }
        let predicted = m.predicted();
        m.metrics.rate.set(f(predicted));
        self.risk.do_send(PredictedFunding {
            market: s.market,
            rate: predicted,
            next_funding_time: m.next,
        });
        m.addr.do_send(FundingInfo {
            predicted_rate: Some(predicted),
            last_rate: m.last_rate,
            next_funding_time: m.next,
        });
        if now < m.next || m.settling {
            return None;
        }
        let (rate, mark, time) = (predicted, m.mark, m.next);
        m.settling = true;
        let (reply, rx) = oneshot::channel();
        self.account.do_send(SettleFundingCmd {
            market: s.market,
            rate,
            mark,
            time,
            reply,
        });
        Some(Settlement {
            market: s.market,
            rate,
            mark,
            time,
            now,
            rx,
        })
    }

    /// Record a settlement the AccountActor has applied and journaled.
    fn settled(&mut self, s: Settlement, ok: bool) {
        let m = &mut self.markets[s.market.index()];
        m.settling = false;
        if !ok {
            tracing::error!(market = %m.spec.symbol, "funding settlement failed; retrying at the next sample");
            return;
        }
        m.metrics.settlements.increment(1);
        tracing::info!(market = %m.spec.symbol, rate = %s.rate, mark = %s.mark, time = s.time.0, "funding settled");
        if m.history.len() == KEEP_HISTORY {
            m.history.pop_front();
        }
        m.history.push_back(FundingRecord {
            time: s.time,
            rate: s.rate,
            mark: s.mark,
        });
        m.last_rate = Some(s.rate);
        m.samples.reset();
        m.next = next_funding_time(s.now, m.spec.funding_interval);
    }
}

/// A settlement sent to the AccountActor, waiting for its answer.
struct Settlement {
    market: MarketId,
    rate: Decimal,
    mark: Decimal,
    time: Timestamp,
    now: Timestamp,
    rx: oneshot::Receiver<Result<(), crate::domain::Reject>>,
}

impl Actor for FundingActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.timers {
            ctx.run_interval(self.sample_interval, |_, ctx| ctx.notify(Tick));
        }
    }
}

impl Handler<Tick> for FundingActor {
    /// Completes once every market is sampled and any due settlement is applied (a barrier
    /// for tests).
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Tick, _: &mut Self::Context) -> Self::Result {
        Box::pin(
            self.sampler
                .round(self.clock.now())
                .into_actor(self)
                .then(|samples, act, _| {
                    act.sampler.keep(&samples);
                    let due: Vec<Settlement> = samples
                        .into_iter()
                        .filter_map(|s| act.on_sample(s))
                        .collect();
                    async move {
                        let mut done = Vec::with_capacity(due.len());
                        for mut s in due {
                            let ok = matches!((&mut s.rx).await, Ok(Ok(())));
                            done.push((s, ok));
                        }
                        done
                    }
                    .into_actor(act)
                    .map(|done, act, _| {
                        for (s, ok) in done {
                            act.settled(s, ok);
                        }
                    })
                }),
        )
    }
}

impl Handler<IndexToFunding> for FundingActor {
    type Result = ();

    fn handle(&mut self, i: IndexToFunding, _: &mut Self::Context) {
        if let Some(m) = self.markets.get_mut(i.market.index()) {
            m.index = Some(i.index);
            m.mark = i.mark;
            m.stale = i.stale;
        }
    }
}

impl Handler<FundingHistory> for FundingActor {
    type Result = MessageResult<FundingHistory>;

    fn handle(&mut self, q: FundingHistory, _: &mut Self::Context) -> Self::Result {
        let v = self
            .markets
            .get(q.market.index())
            .map(|m| m.history.iter().rev().take(q.limit).copied().collect())
            .unwrap_or_default();
        MessageResult(v)
    }
}

/// The funding figures of one market (for the market summary).
#[derive(Message)]
#[rtype(result = "Option<(Decimal, Option<Decimal>, Timestamp)>")]
pub struct FundingState(pub MarketId);

impl Handler<FundingState> for FundingActor {
    type Result = Option<(Decimal, Option<Decimal>, Timestamp)>;

    fn handle(&mut self, q: FundingState, _: &mut Self::Context) -> Self::Result {
        self.markets
            .get(q.0.index())
            .map(|m| (m.predicted(), m.last_rate, m.next))
    }
}

/// Promotion of a replication follower (`crate::replication`): start the sampling timer, with
/// the next funding times counted from now (a funding time that passed while no node was
/// primary is not settled late).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartTimers;

impl Handler<StartTimers> for FundingActor {
    type Result = ();

    fn handle(&mut self, _: StartTimers, ctx: &mut Self::Context) {
        let now = self.clock.now();
        for m in &mut self.markets {
            m.next = next_funding_time(now, m.spec.funding_interval);
        }
        if !self.timers {
            self.timers = true;
            ctx.run_interval(self.sample_interval, |_, ctx| ctx.notify(Tick));
        }
    }
}
