//! Cached metric handles, built once per actor (a cached handle costs ~10 ns, the macro with
//! labels ~100 ns: docs/ARCHITECTURE.md §6). Building a set registers every series it covers, so each
//! family is rendered from start with counters at 0 and gauges at their initial value.

use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use super::metrics as m;
use crate::domain::{BookEvent, MarketSpec, OrderId, OrderStatus, Reject, Side};
use crate::engine::market::{MarketEngine, MarketEvent};

/// A decimal as a gauge value (gauges are `f64`; exactness stays in the ledger).
pub fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

fn side_index(s: Side) -> usize {
    match s {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// The MarketActor's handles: engine time, trades, resting orders per side, open interest.
pub struct MarketMetrics {
    match_duration: Histogram,
    trades: Counter,
    sides: [Gauge; 2],
    open_interest: Gauge,
    /// Resting orders and their side: `BookEvent::Closed` does not carry the side.
    resting: FxHashMap<OrderId, Side>,
    counts: [usize; 2],
}

impl MarketMetrics {
    fn handles(spec: &MarketSpec) -> MarketMetrics {
        m::handle();
        let market = spec.symbol.clone();
        let side =
            |s: &'static str| gauge!(m::BOOK_ORDERS, "market" => market.clone(), "side" => s);
        let mm = MarketMetrics {
            // One histogram for every market (docs/OPERATIONS.md §8: per-market series only
            // where an operator needs them per market).
            match_duration: histogram!(m::MATCH_DURATION_SECONDS),
            trades: counter!(m::TRADES_TOTAL, "market" => market.clone()),
            sides: [side("bid"), side("ask")],
            open_interest: gauge!(m::OPEN_INTEREST, "market" => market.clone()),
            resting: FxHashMap::default(),
            counts: [0, 0],
        };
        mm.trades.increment(0);
        mm.open_interest.increment(0.0);
        mm.publish_counts();
        mm
    }

    /// Register every per-market series of the actors (market, risk, funding) at once, on the
    /// caller's thread: the actors build their own handles on their arbiters a moment later,
    /// and a scrape in between must not miss a family.
    pub fn register(spec: &MarketSpec) {
        Self::handles(spec);
        RiskMetrics::new(spec);
        FundingMetrics::new(spec);
    }

    /// Register the market's series and count what already rests in `engine`'s book.
    pub fn new(engine: &MarketEngine) -> MarketMetrics {
        let mut mm = Self::handles(engine.spec());
        let book = engine.book();
        for s in [Side::Buy, Side::Sell] {
            for level in book.side(s).iter() {
                for (id, _) in book.level_orders(s, level.price) {
                    mm.resting.insert(id, s);
                    mm.counts[side_index(s)] += 1;
                }
            }
        }
        mm.publish_counts();
        mm.open_interest(engine.spec(), engine.open_interest());
        mm
    }

    /// One command ran for `took` and produced `events`.
    pub fn command(&mut self, took: Duration, events: &[MarketEvent]) {
        self.match_duration.record(took.as_secs_f64());
        let mut trades = 0;
        let before = self.counts;
        for e in events {
            let MarketEvent::Book(b) = e else { continue };
            match b {
                BookEvent::Rested { order_id, side, .. } => self.rested(*order_id, *side),
                BookEvent::Closed { order_id, .. } => self.gone(*order_id),
                BookEvent::Amended {
                    order_id,
                    requeued: true,
                    ..
                } => self.gone(*order_id),
                BookEvent::Trade(t) => {
                    trades += 1;
                    if t.maker.remaining.is_zero() {
                        self.gone(t.maker.order_id);
                    }
                }
                _ => {}
            }
        }
        if trades > 0 {
            self.trades.increment(trades);
        }
        if self.counts != before {
            self.publish_counts();
        }
    }

    fn rested(&mut self, id: OrderId, side: Side) {
        if self.resting.insert(id, side).is_none() {
            self.counts[side_index(side)] += 1;
        }
    }

    fn gone(&mut self, id: OrderId) {
        if let Some(s) = self.resting.remove(&id) {
            self.counts[side_index(s)] -= 1;
        }
    }

    fn publish_counts(&self) {
        for (g, c) in self.sides.iter().zip(self.counts) {
            g.set(c as f64);
        }
    }

    /// Refresh open interest (`MarketEngine::open_interest` walks the positions: read it on a
    /// timer or a sample, not per command).
    pub fn open_interest(&self, spec: &MarketSpec, oi: crate::domain::Qty) {
        self.open_interest.set(f(spec.qty_decimal(oi)));
    }
}

/// Order outcomes and round-trip latency (recorded at the HTTP edge, where the request is
/// received and the reply leaves), for every market together: a per-market copy would be 24
/// series per market (docs/OPERATIONS.md §8).
pub struct OrderMetrics {
    outcomes: Vec<Counter>,
    latency: Histogram,
}

impl Default for OrderMetrics {
    fn default() -> OrderMetrics {
        OrderMetrics::new()
    }
}

impl OrderMetrics {
    pub fn new() -> OrderMetrics {
        m::handle();
        let outcomes = m::OUTCOMES
            .iter()
            .map(|o| {
                let c = counter!(m::ORDERS_TOTAL, "outcome" => *o);
                c.increment(0);
                c
            })
            .collect();
        OrderMetrics {
            outcomes,
            latency: histogram!(m::ORDER_LATENCY_SECONDS),
        }
    }

    /// Record one order request that started at `started` and ended with the order in
    /// `status` (`retry`: an idempotent repeat of an earlier request), or refused with `err`.
    pub fn record(&self, started: Instant, r: Result<(OrderStatus, bool), &Reject>) {
        let outcome = match r {
            Ok((_, true)) => "retry",
            Ok((status, false)) => match status {
                OrderStatus::New | OrderStatus::Untriggered => "accepted",
                OrderStatus::PartiallyFilled => "partially_filled",
                OrderStatus::Filled => "filled",
                OrderStatus::Cancelled | OrderStatus::Expired => "expired",
            },
            Err(Reject::Overloaded) => "overloaded",
            Err(Reject::Fault(_)) => "error",
            Err(_) => "rejected",
        };
        self.outcome(started, outcome);
    }

    /// Record one request that started at `started` and ended with `outcome` (one of
    /// [`m::OUTCOMES`]), e.g. `rejected` by validation before reaching the exchange.
    pub fn outcome(&self, started: Instant, outcome: &str) {
        self.latency.record(started.elapsed().as_secs_f64());
        if let Some(i) = m::OUTCOMES.iter().position(|o| *o == outcome) {
            self.outcomes[i].increment(1);
        }
    }
}

/// The RiskActor's handles per market: mark, index, liquidations; ADL steps (rare, for every
/// market together).
#[derive(Clone)]
pub struct RiskMetrics {
    /// The market's symbol (for log lines written where only the id is known).
    pub symbol: String,
    pub mark: Gauge,
    pub index: Gauge,
    pub liquidations: Counter,
    pub adl: Counter,
}

impl RiskMetrics {
    pub fn new(spec: &MarketSpec) -> RiskMetrics {
        m::handle();
        let market = spec.symbol.clone();
        let r = RiskMetrics {
            mark: gauge!(m::MARK_PRICE, "market" => market.clone()),
            index: gauge!(m::INDEX_PRICE, "market" => market.clone()),
            liquidations: counter!(m::LIQUIDATIONS_TOTAL, "market" => market.clone()),
            adl: counter!(m::ADL_TOTAL),
            symbol: market,
        };
        r.mark.set(f(spec.initial_index_price));
        r.index.set(f(spec.initial_index_price));
        r.liquidations.increment(0);
        r.adl.increment(0);
        r
    }
}

/// The FundingActor's handles per market: the rate; settlements (every market settles at the
/// same times) for every market together.
pub struct FundingMetrics {
    pub rate: Gauge,
    pub settlements: Counter,
}

impl FundingMetrics {
    pub fn new(spec: &MarketSpec) -> FundingMetrics {
        m::handle();
        let market = spec.symbol.clone();
        let fm = FundingMetrics {
            rate: gauge!(m::FUNDING_RATE, "market" => market.clone()),
            settlements: counter!(m::FUNDING_SETTLEMENTS_TOTAL),
        };
        fm.rate.set(0.0);
        fm.settlements.increment(0);
        fm
    }
}

/// The AccountActor's handle: the insurance fund balance.
pub struct AccountMetrics {
    insurance: Gauge,
    in_liquidation: Gauge,
}

impl AccountMetrics {
    pub fn new() -> AccountMetrics {
        m::handle();
        AccountMetrics {
            insurance: gauge!(m::INSURANCE_FUND_BALANCE),
            in_liquidation: gauge!(m::ACCOUNTS_IN_LIQUIDATION),
        }
    }

    /// Refresh from plain values (after liquidation steps, transfers, and on each mark).
    pub fn update(&self, insurance_fund: rust_decimal::Decimal, in_liquidation: usize) {
        self.insurance.set(f(insurance_fund));
        self.in_liquidation.set(in_liquidation as f64);
    }
}

impl Default for AccountMetrics {
    fn default() -> Self {
        AccountMetrics::new()
    }
}
