//! [`Exchange`]: the handle through which the API, the tools and the tests reach the running
//! exchange. Every command enters through bounded gates (`OVERLOADED` before anything
//! changes) and is answered by the actor that owns the state; nothing here holds state of its
//! own beyond addresses, feeds and gates. Starting and stopping are in `supervisor.rs`.

use std::sync::Arc;

use actix::prelude::*;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use super::feed::MarketFeed;
use super::gate::{Gate, Permit};
use super::messages::*;
use super::publish::PrivateFeeds;
use super::{AccountActor, FundingActor, MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::domain::{AccountId, Amount, Fault, MarketId, MarketSpec, OrderId, Price, Qty, Reject};
use crate::engine::AccountView;

/// Handles to the running exchange.
pub struct Exchange {
    pub specs: Vec<MarketSpec>,
    pub(super) symbols: FxHashMap<String, MarketId>,
    pub markets: Vec<Addr<MarketActor>>,
    pub feeds: Vec<Arc<MarketFeed>>,
    pub private: Arc<PrivateFeeds>,
    pub account: Addr<AccountActor>,
    /// API keys and admin tokens as the HTTP workers check them (kept by the AccountActor).
    pub access: Arc<crate::actors::access_directory::AccessDirectory>,
    pub risk: Addr<RiskActor>,
    /// Every market's newest mark, index and open interest, read without a message.
    pub marks: Arc<super::mark_board::MarkBoard>,
    pub funding: Addr<FundingActor>,
    pub clock: SharedClock,
    pub market_gates: Vec<Arc<Gate>>,
    pub account_gate: Arc<Gate>,
    /// Market symbol → core id it is pinned to (None: pinning unavailable).
    pub core_map: Vec<(String, Option<usize>)>,
    /// Telemetry: order outcomes per market, gate and journal health (`telemetry::health`).
    pub metrics: crate::telemetry::ExchangeMetrics,
    pub(super) journal_stats: Option<Arc<crate::persistence::JournalStats>>,
    pub(super) arbiters: Vec<Arbiter>,
}

impl Exchange {
    /// Refresh the health gauges from the entry gates and the journal's queue.
    pub fn sample_health(&self) {
        self.metrics.sample(
            self.market_gates.iter().map(|g| g.in_flight()),
            self.account_gate.in_flight(),
            self.journal_stats
                .as_ref()
                .map(|j| crate::telemetry::health::JournalSample {
                    queued: j.queued.load(std::sync::atomic::Ordering::Relaxed) as u64,
                    syncs: j.syncs.load(std::sync::atomic::Ordering::Relaxed),
                }),
        );
    }

    /// Every [`crate::telemetry::health::UPKEEP_EVERY`]: refresh the health gauges and run the
    /// recorder's upkeep. Spawn inside the actix system.
    pub fn start_upkeep(self: Arc<Self>) {
        actix_web::rt::spawn(async move {
            let mut every = tokio::time::interval(crate::telemetry::health::UPKEEP_EVERY);
            loop {
                every.tick().await;
                self.sample_health();
                crate::telemetry::run_upkeep();
            }
        });
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
        rx.await.unwrap_or(Err(Reject::Fault(Fault::ReplyDropped)))
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

    /// A take-profit and/or stop-loss on the position of `account`'s leg in `market`: the
    /// first order placed (a pair's second has the next id).
    pub async fn place_tpsl(
        &self,
        account: AccountId,
        market: MarketId,
        position_side: crate::domain::PositionSide,
        tpsl: crate::domain::TpSl,
    ) -> Result<OrderReport, Reject> {
        self.call(Some(market), |reply| {
            self.account.do_send(PlaceTpSlCmd {
                account,
                market,
                position_side,
                tpsl,
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
        trigger: Option<Price>,
    ) -> Result<OrderReport, Reject> {
        self.call(Some(market), |reply| {
            self.account.do_send(AmendOrderCmd {
                account,
                market,
                order_id,
                price,
                qty,
                trigger,
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

    /// Set the margin mode of (account, market); `Ok(false)` when it already was `mode`.
    pub async fn set_margin_mode(
        &self,
        account: AccountId,
        market: MarketId,
        mode: crate::domain::MarginMode,
    ) -> Result<bool, Reject> {
        self.call(None, |reply| {
            self.account.do_send(SetMarginModeCmd {
                account,
                market,
                mode,
                reply,
            })
        })
        .await
    }

    /// Set the position mode of `account` (docs/RULES.md §3b); whether it changed. Private
    /// listeners get the account after a change (either dialect's switch).
    pub async fn set_position_mode(
        &self,
        account: AccountId,
        mode: crate::domain::PositionMode,
    ) -> Result<bool, Reject> {
        let changed = self
            .call(None, |reply| {
                self.account.do_send(SetPositionModeCmd {
                    account,
                    mode,
                    reply,
                })
            })
            .await?;
        if changed && self.private.wants(account) {
            if let Ok(v) = self.account_view(account).await {
                self.private
                    .publish(account, super::publish::PrivateUpdate::Account(Box::new(v)));
            }
        }
        Ok(changed)
    }

    /// Move `amount` into (negative: out of) the isolated wallet of (account, leg); returns
    /// the isolated wallet after it. Private listeners get the account after it.
    pub async fn move_isolated_margin(
        &self,
        account: AccountId,
        leg: crate::domain::Leg,
        amount: Decimal,
    ) -> Result<Decimal, Reject> {
        let r = self
            .call(None, |reply| {
                self.account.do_send(IsolatedMarginCmd {
                    account,
                    leg,
                    amount,
                    reply,
                })
            })
            .await;
        if r.is_ok() && self.private.wants(account) {
            if let Ok(v) = self.account_view(account).await {
                self.private
                    .publish(account, super::publish::PrivateUpdate::Account(Box::new(v)));
            }
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
        rx.await.unwrap_or(Err(Reject::Fault(Fault::ReplyDropped)))
    }

    /// A change to the access records (keys, admin tokens, audit lines), answered once
    /// durable (admitted like every account command).
    pub async fn access<T>(&self, make: impl FnOnce(Reply<T>) -> AccessCmd) -> Result<T, Reject> {
        self.call(None, |reply| self.account.do_send(make(reply)))
            .await
    }

    /// A read of the access records.
    pub async fn access_query<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> AccessQuery,
    ) -> Result<T, Reject> {
        let (tx, rx) = oneshot::channel();
        self.account.do_send(make(tx));
        rx.await.unwrap_or(Err(Reject::Fault(Fault::ReplyDropped)))
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
        rx.await.unwrap_or(Err(Reject::Fault(Fault::ReplyDropped)))
    }
}
