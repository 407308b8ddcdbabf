//! Starting the exchange: one arbiter per market pinned round-robin to the configured cores,
//! the Account, Risk and Funding actors on their own arbiters, and their wiring; the result is
//! the [`Exchange`] handle (`exchange.rs`) through which the API and tests reach them.

use crate::actors::access_directory::AccessDirectory;
use std::sync::Arc;

use actix::prelude::*;
use rust_decimal::Decimal;

use super::account::Wire;
use super::feed::MarketFeed;
use super::gate::Gate;
use super::mark_board::MarkBoard;
use super::market::sampler::{Changes, Sampler};
use super::messages::*;
use super::publish::PrivateFeeds;
use super::risk::WireFunding;
use super::{AccountActor, Exchange, FundingActor, MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::config::{Config, Cores};
use crate::domain::{MarketId, MarketSpec};
use crate::engine::market::MarketEngine;
use crate::engine::ExchangeState;
use crate::persistence::Journal;

/// Commands in flight per market before `OVERLOADED`.
pub const MARKET_IN_FLIGHT: usize = 4096;
/// Commands in flight through the AccountActor before `OVERLOADED`.
pub const ACCOUNT_IN_FLIGHT: usize = 16_384;

/// How to start.
pub struct StartOptions {
    pub clock: SharedClock,
    pub journal: Option<Arc<Journal>>,
    /// Run the mark, funding and ticker timers (tests drive `Tick`s by hand instead).
    pub timers: bool,
    pub market_in_flight: usize,
    pub account_in_flight: usize,
    /// Messages a WebSocket subscriber may fall behind on a public channel (`ws_queue`).
    pub feed_capacity: usize,
    /// A replication follower (`perpx --follow`): its state comes from the stream only, so
    /// nothing may start on its own (no interrupted liquidations resumed; run with `timers`
    /// off). See `crate::replication`.
    pub follower: bool,
}

/// The cores market arbiters are pinned to, read once at start.
fn pick_cores(cores: &Cores) -> Vec<core_affinity::CoreId> {
    let all = core_affinity::get_core_ids().unwrap_or_default();
    match cores {
        Cores::Auto => all,
        Cores::List(wanted) => all.into_iter().filter(|c| wanted.contains(&c.id)).collect(),
    }
}

/// The running market actors: addresses, feeds, the market → core map, their arbiters.
struct Markets {
    addrs: Vec<Addr<MarketActor>>,
    feeds: Vec<Arc<MarketFeed>>,
    /// Each market's change count, for the Risk and Funding actors' samplers.
    changes: Vec<Arc<Changes>>,
    core_map: Vec<(String, Option<usize>)>,
    arbiters: Vec<Arbiter>,
}

/// One MarketActor per engine, each on its own arbiter pinned round-robin to `cores`.
fn start_markets(
    engines: Vec<MarketEngine>,
    cores: &[core_affinity::CoreId],
    account: &Addr<AccountActor>,
    clock: &SharedClock,
    opts: &StartOptions,
) -> Markets {
    let mut out = Markets {
        addrs: Vec::new(),
        feeds: Vec::new(),
        changes: Vec::new(),
        core_map: Vec::new(),
        arbiters: Vec::new(),
    };
    for (i, engine) in engines.into_iter().enumerate() {
        let id = MarketId(i as u16);
        let symbol = engine.spec().symbol.clone();
        let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
        let spec = Arc::new(engine.spec().clone());
        let feed = Arc::new(MarketFeed::new(spec, opts.feed_capacity.max(1)));
        let arbiter = Arbiter::new();
        let changes = Arc::new(Changes::default());
        let (acc, c, f, ch, timers) = (
            account.clone(),
            clock.clone(),
            Arc::clone(&feed),
            Arc::clone(&changes),
            opts.timers,
        );
        let addr = MarketActor::start_in_arbiter(&arbiter.handle(), move |_| {
            if let Some(core) = core {
                // Pin this arbiter's thread before the actor starts running on it.
                core_affinity::set_for_current(core);
            }
            MarketActor::new(id, engine, acc, c, f, ch, timers)
        });
        tracing::info!(market = %symbol, core = core.map(|c| c.id), "market started");
        out.core_map.push((symbol, core.map(|c| c.id)));
        out.addrs.push(addr);
        out.feeds.push(feed);
        out.changes.push(changes);
        out.arbiters.push(arbiter);
    }
    out
}

/// The RiskActor (marks from `marks`, the last ones before a restart) on its own arbiter.
fn start_risk(
    config: &Config,
    markets: &Markets,
    account: &Addr<AccountActor>,
    clock: &SharedClock,
    timers: bool,
    marks: Vec<Decimal>,
    board: Arc<MarkBoard>,
) -> (Addr<RiskActor>, Arbiter) {
    let arbiter = Arbiter::new();
    let (s, acc, c) = (config.markets.clone(), account.clone(), clock.clone());
    let sampler = Sampler::new(markets.addrs.clone(), markets.changes.clone());
    let settings = super::risk::RiskSettings {
        scale: config.exchange.money_scale,
        mark_interval: config.exchange.mark_interval,
        timers,
    };
    let risk = RiskActor::start_in_arbiter(&arbiter.handle(), move |_| {
        RiskActor::new(&s, acc, c, settings, marks, board, sampler)
    });
    (risk, arbiter)
}

/// The FundingActor on its own arbiter.
fn start_funding(
    config: &Config,
    markets: &Markets,
    account: &Addr<AccountActor>,
    risk: &Addr<RiskActor>,
    clock: &SharedClock,
    timers: bool,
) -> (Addr<FundingActor>, Arbiter) {
    let arbiter = Arbiter::new();
    let (s, acc, r, c) = (
        config.markets.clone(),
        account.clone(),
        risk.clone(),
        clock.clone(),
    );
    let sampler = Sampler::new(markets.addrs.clone(), markets.changes.clone());
    let sample = config.exchange.funding_sample_interval;
    let funding = FundingActor::start_in_arbiter(&arbiter.handle(), move |_| {
        FundingActor::new(&s, acc, r, c, sample, timers, sampler)
    });
    (funding, arbiter)
}

impl Exchange {
    /// Start every actor from `initial`. Must run inside an actix `System`.
    pub fn start(config: &Config, initial: ExchangeState, opts: StartOptions) -> Exchange {
        let specs: Vec<MarketSpec> = config.markets.clone();
        let private = Arc::new(PrivateFeeds::default());
        let clock = opts.clock.clone();

        // What a restart must resume: the last marks, and liquidations cut short by a crash
        // (such accounts stay flagged; the driver picks them up again).
        let marks: Vec<Decimal> = (0..specs.len())
            .map(|i| initial.ledger.mark(MarketId(i as u16)))
            .collect();
        let pending = initial.ledger.in_liquidation_pools();

        let account_arbiter = Arbiter::new();
        let (mut ledger, orders, durability) =
            (initial.ledger, initial.orders, config.server.durability);
        ledger.set_max_keys(config.server.max_keys_per_account);
        let access = Arc::new(AccessDirectory::new(&ledger));
        let (c, j, p) = (clock.clone(), opts.journal.clone(), Arc::clone(&private));
        let dir = Arc::clone(&access);
        let account = AccountActor::start_in_arbiter(&account_arbiter.handle(), move |_| {
            AccountActor::new(ledger, orders, c, j, durability, p, dir)
        });

        let cores = pick_cores(&config.server.cores);
        let markets = start_markets(initial.engines, &cores, &account, &clock, &opts);
        let marks_board = Arc::new(MarkBoard::new(specs.len()));
        let (risk, risk_arbiter) = start_risk(
            config,
            &markets,
            &account,
            &clock,
            opts.timers,
            marks,
            Arc::clone(&marks_board),
        );
        let (funding, funding_arbiter) =
            start_funding(config, &markets, &account, &risk, &clock, opts.timers);

        account.do_send(Wire {
            markets: markets.addrs.clone(),
            risk: risk.clone(),
        });
        risk.do_send(WireFunding(funding.clone()));
        if !pending.is_empty() && !opts.follower {
            tracing::warn!(pools = ?pending, "resuming liquidations interrupted by a restart");
            risk.do_send(Liquidatable(pending));
        }

        let mut arbiters = vec![account_arbiter];
        arbiters.extend(markets.arbiters);
        arbiters.extend([risk_arbiter, funding_arbiter]);
        Exchange {
            access,
            symbols: specs
                .iter()
                .enumerate()
                .map(|(i, s)| (s.symbol.clone(), MarketId(i as u16)))
                .collect(),
            market_gates: specs
                .iter()
                .map(|_| Gate::new(opts.market_in_flight))
                .collect(),
            // telemetry: register the per-market order series and health gauges.
            metrics: crate::telemetry::ExchangeMetrics::new(&specs),
            specs,
            markets: markets.addrs,
            feeds: markets.feeds,
            private,
            account,
            risk,
            marks: marks_board,
            funding,
            clock,
            account_gate: Gate::new(opts.account_in_flight),
            core_map: markets.core_map,
            journal_stats: opts.journal.as_ref().map(|j| Arc::clone(j.stats())),
            arbiters,
        }
    }

    /// Stop every arbiter (the System keeps running).
    pub fn stop(self) {
        for a in self.arbiters {
            a.stop();
        }
    }
}
