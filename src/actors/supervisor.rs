//! Starting the exchange: one arbiter per market pinned round-robin to the configured cores,
//! the Account, Risk and Funding actors on their own arbiters, their wiring, and the
//! [`Exchange`] handle through which the API (and tests) reach them with bounded entry.

use std::sync::Arc;

use actix::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use super::account::Wire;
use super::gate::{Gate, Permit};
use super::messages::*;
use super::publish::{MarketFeed, PrivateFeeds};
use super::risk::WireFunding;
use super::{AccountActor, FundingActor, MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::config::{Config, Cores};
use crate::domain::{AccountId, Amount, MarketSpec, OrderId, Price, Qty, Reject};
use crate::engine::market::MarketEngine;
use crate::engine::orders::OrderStore;
use crate::engine::{AccountView, Ledger};
use crate::persistence::Journal;
use crate::risk::MarketId;

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
}

/// The state to start from (fresh, or recovered from snapshots and the journal).
pub struct Initial {
    pub ledger: Ledger,
    pub orders: OrderStore,
    pub engines: Vec<MarketEngine>,
}

impl Initial {
    pub fn fresh(config: &Config) -> Initial {
        Initial {
            ledger: {
                let mut l = Ledger::new(config.markets.clone(), config.exchange.money_scale);
                l.set_income_retention(config.server.retention.income);
                l
            },
            orders: {
                let mut o = OrderStore::new(config.markets.len());
                o.set_retention(config.server.retention);
                o
            },
            engines: config
                .markets
                .iter()
                .cloned()
                .map(MarketEngine::new)
                .collect(),
        }
    }
}

/// Handles to the running exchange.
pub struct Exchange {
    pub specs: Vec<MarketSpec>,
    symbols: FxHashMap<String, MarketId>,
    pub markets: Vec<Addr<MarketActor>>,
    pub feeds: Vec<Arc<MarketFeed>>,
    pub private: Arc<PrivateFeeds>,
    pub account: Addr<AccountActor>,
    pub risk: Addr<RiskActor>,
    pub funding: Addr<FundingActor>,
    pub clock: SharedClock,
    pub market_gates: Vec<Arc<Gate>>,
    pub account_gate: Arc<Gate>,
    /// Market symbol → core id it is pinned to (None: pinning unavailable).
    pub core_map: Vec<(String, Option<usize>)>,
    /// Telemetry: order outcomes per market, gate and journal health (`telemetry::health`).
    pub metrics: crate::telemetry::ExchangeMetrics,
    arbiters: Vec<Arbiter>,
}

/// The cores market arbiters are pinned to, read once at start.
fn pick_cores(cores: &Cores) -> Vec<core_affinity::CoreId> {
    let all = core_affinity::get_core_ids().unwrap_or_default();
    match cores {
        Cores::Auto => all,
        Cores::List(wanted) => all.into_iter().filter(|c| wanted.contains(&c.id)).collect(),
    }
}

impl Exchange {
    /// Start every actor. Must run inside an actix `System`.
    pub fn start(config: &Config, initial: Initial, opts: StartOptions) -> Exchange {
        let specs = config.markets.clone();
        let cores = pick_cores(&config.server.cores);
        let private = Arc::new(PrivateFeeds::default());
        let clock = opts.clock.clone();
        let mut arbiters = Vec::new();

        // What a restart must resume: the last marks, and liquidations cut short by a crash
        // (such accounts stay flagged, and screening skips flagged accounts).
        let marks: Vec<Decimal> = (0..specs.len())
            .map(|i| initial.ledger.mark(MarketId(i as u16)))
            .collect();
        let pending: Vec<AccountId> = initial
            .ledger
            .account_ids()
            .filter(|&a| initial.ledger.in_liquidation(a))
            .collect();
        let account_arbiter = Arbiter::new();
        let (ledger, orders, durability) =
            (initial.ledger, initial.orders, config.server.durability);
        let (c, j, p) = (clock.clone(), opts.journal.clone(), Arc::clone(&private));
        let account = AccountActor::start_in_arbiter(&account_arbiter.handle(), move |_| {
            AccountActor::new(ledger, orders, c, j, durability, p)
        });
        arbiters.push(account_arbiter);

        let mut markets = Vec::new();
        let mut feeds = Vec::new();
        let mut core_map = Vec::new();
        for (i, engine) in initial.engines.into_iter().enumerate() {
            let id = MarketId(i as u16);
            let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
            let feed = Arc::new(MarketFeed::new(
                &engine.spec().symbol,
                opts.feed_capacity.max(1),
            ));
            let arbiter = Arbiter::new();
            let (acc, c, f, timers) = (
                account.clone(),
                clock.clone(),
                Arc::clone(&feed),
                opts.timers,
            );
            let addr = MarketActor::start_in_arbiter(&arbiter.handle(), move |_| {
                if let Some(core) = core {
                    // Pin this arbiter's thread before the actor starts running on it.
                    core_affinity::set_for_current(core);
                }
                MarketActor::new(id, engine, acc, c, f, timers)
            });
            tracing::info!(market = %specs[i].symbol, core = core.map(|c| c.id), "market started");
            core_map.push((specs[i].symbol.clone(), core.map(|c| c.id)));
            markets.push(addr);
            feeds.push(feed);
            arbiters.push(arbiter);
        }

        let risk_arbiter = Arbiter::new();
        let (s, m, acc, c) = (
            specs.clone(),
            markets.clone(),
            account.clone(),
            clock.clone(),
        );
        let (scale, mark_interval, timers) = (
            config.exchange.money_scale,
            config.exchange.mark_interval,
            opts.timers,
        );
        let risk = RiskActor::start_in_arbiter(&risk_arbiter.handle(), move |_| {
            let settings = super::risk::RiskSettings {
                scale,
                mark_interval,
                timers,
            };
            RiskActor::new(&s, m, acc, c, settings, marks)
        });
        arbiters.push(risk_arbiter);

        let funding_arbiter = Arbiter::new();
        let (s, m, acc, r, c) = (
            specs.clone(),
            markets.clone(),
            account.clone(),
            risk.clone(),
            clock.clone(),
        );
        let sample = config.exchange.funding_sample_interval;
        let funding = FundingActor::start_in_arbiter(&funding_arbiter.handle(), move |_| {
            FundingActor::new(&s, m, acc, r, c, sample, timers)
        });
        arbiters.push(funding_arbiter);

        account.do_send(Wire {
            markets: markets.clone(),
            risk: risk.clone(),
        });
        risk.do_send(WireFunding(funding.clone()));
        if !pending.is_empty() {
            tracing::warn!(accounts = ?pending, "resuming liquidations interrupted by a restart");
            risk.do_send(Liquidatable(pending));
        }

        let symbols = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.symbol.clone(), MarketId(i as u16)))
            .collect();
        let market_gates = specs
            .iter()
            .map(|_| Gate::new(opts.market_in_flight))
            .collect();
        let specs_for_metrics = specs.clone();
        Exchange {
            specs,
            symbols,
            markets,
            feeds,
            private,
            account,
            risk,
            funding,
            clock,
            market_gates,
            account_gate: Gate::new(opts.account_in_flight),
            core_map,
            // telemetry: register the per-market order series and health gauges.
            metrics: crate::telemetry::ExchangeMetrics::new(
                &specs_for_metrics,
                opts.journal.as_ref().map(|j| Arc::clone(j.stats())),
            ),
            arbiters,
        }
    }

    pub fn market_id(&self, symbol: &str) -> Result<MarketId, Reject> {
        self.symbols
            .get(symbol)
            .copied()
            .ok_or(Reject::UnknownMarket)
    }

    pub fn spec(&self, m: MarketId) -> &MarketSpec {
        &self.specs[m.index()]
    }

    /// Admit a command for `market` through both gates.
    fn admit(&self, market: Option<MarketId>) -> Result<(Permit, Option<Permit>), Reject> {
        let m = match market {
            Some(m) => Some(
                self.market_gates
                    .get(m.index())
                    .ok_or(Reject::UnknownMarket)?
                    .enter()?,
            ),
            None => None,
        };
        Ok((self.account_gate.enter()?, m))
    }

    async fn call<T>(
        &self,
        market: Option<MarketId>,
        send: impl FnOnce(Reply<T>),
    ) -> Result<T, Reject> {
        let _permits = self.admit(market)?;
        let (tx, rx) = oneshot::channel();
        send(tx);
        rx.await.unwrap_or(Err(Reject::Overloaded))
    }

    pub async fn place_order(
        &self,
        account: AccountId,
        market: MarketId,
        order: OrderRequest,
    ) -> Result<OrderReport, Reject> {
        self.call(Some(market), |reply| {
            self.account.do_send(PlaceOrderCmd {
                account,
                market,
                order,
                reply,
            })
        })
        .await
    }

    pub async fn cancel_order(
        &self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
    ) -> Result<OrderReport, Reject> {
        self.call(Some(market), |reply| {
            self.account.do_send(CancelOrderCmd {
                account,
                market,
                order_id,
                reply,
            })
        })
        .await
    }

    pub async fn cancel_all(
        &self,
        account: AccountId,
        market: MarketId,
    ) -> Result<Vec<OrderId>, Reject> {
        self.call(Some(market), |reply| {
            self.account.do_send(CancelAllCmd {
                account,
                market,
                reply,
            })
        })
        .await
    }

    pub async fn amend_order(
        &self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
    ) -> Result<OrderReport, Reject> {
        self.call(Some(market), |reply| {
            self.account.do_send(AmendOrderCmd {
                account,
                market,
                order_id,
                price,
                qty,
                reply,
            })
        })
        .await
    }

    pub async fn set_leverage(
        &self,
        account: AccountId,
        market: MarketId,
        leverage: u32,
    ) -> Result<Decimal, Reject> {
        let r = self
            .call(None, |reply| {
                self.account.do_send(SetLeverageCmd {
                    account,
                    market,
                    leverage,
                    reply,
                })
            })
            .await;
        // Private listeners hear of it (the Binance user stream's ACCOUNT_CONFIG_UPDATE).
        if r.is_ok() && self.private.wants(account) {
            self.private.publish(
                account,
                super::publish::PrivateUpdate::Leverage { market, leverage },
            );
        }
        r
    }

    pub async fn open_account(&self) -> Result<AccountId, Reject> {
        self.call(None, |reply| self.account.do_send(OpenAccountCmd { reply }))
            .await
    }

    pub async fn deposit(&self, account: AccountId, amount: Decimal) -> Result<Decimal, Reject> {
        self.call(None, |reply| {
            self.account.do_send(TransferCmd {
                account,
                amount: Amount(amount),
                withdraw: false,
                reply,
            })
        })
        .await
    }

    pub async fn withdraw(&self, account: AccountId, amount: Decimal) -> Result<Decimal, Reject> {
        self.call(None, |reply| {
            self.account.do_send(TransferCmd {
                account,
                amount: Amount(amount),
                withdraw: true,
                reply,
            })
        })
        .await
    }

    pub async fn account_view(&self, account: AccountId) -> Result<AccountView, Reject> {
        self.query(|reply| AccountQuery::Account { account, reply })
            .await
    }

    /// A read query (not gated: it changes nothing and answers at once).
    pub async fn query<T>(&self, make: impl FnOnce(Reply<T>) -> AccountQuery) -> Result<T, Reject> {
        let (tx, rx) = oneshot::channel();
        self.account.do_send(make(tx));
        rx.await.unwrap_or(Err(Reject::Overloaded))
    }

    /// Admin: push an oracle index price; returns `(index, mark)`.
    pub async fn push_index(
        &self,
        market: MarketId,
        price: Decimal,
    ) -> Result<(Decimal, Decimal), Reject> {
        let (tx, rx) = oneshot::channel();
        self.risk.do_send(PushIndex {
            market,
            price,
            reply: tx,
        });
        rx.await.unwrap_or(Err(Reject::Overloaded))
    }

    /// Stop every arbiter (the System keeps running).
    pub fn stop(self) {
        for a in self.arbiters {
            a.stop();
        }
    }
}
