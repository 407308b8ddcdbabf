//! AccountActor: owns the [`Ledger`] and the [`OrderStore`]. R1 (assign the order id, check
//! the client order id, hold margin) before the market; R2 (settle fills, release holds,
//! update order records) after it; then the command's events go to the journal as one batch
//! and the reply is released once durable (or at once with `durability = "relaxed"`).
//! Also applies mark updates (screening for liquidation), funding and liquidation steps.
//!
//! # Invariants
//! - A request rejected at R1 or by the market changes nothing and journals nothing (a hold
//!   taken at R1 for an order the market refused is released before the reply).
//! - Every state change reaches the journal in the order it was applied.

use std::sync::Arc;

use actix::prelude::*;

use super::messages::*;
use super::publish::{PrivateFeeds, PrivateUpdate};
use super::{MarketActor, RiskActor};
use crate::clock::SharedClock;
use crate::config::Durability;
use crate::domain::{AccountId, BookEvent, CloseReason, OrderId, Reject, Timestamp};
use crate::engine::market::{MarketEvent, PlaceOrder};
use crate::engine::orders::{ClientIdCheck, OrderFill, OrderRecord, OrderStore};
use crate::engine::{FillKind, Ledger, LedgerEvent};
use crate::persistence::codec::{self, Batch};
use crate::persistence::Journal;
use crate::risk::MarketId;

pub struct AccountActor {
    ledger: Ledger,
    orders: OrderStore,
    markets: Vec<Addr<MarketActor>>,
    risk: Option<Addr<RiskActor>>,
    clock: SharedClock,
    journal: Option<Arc<Journal>>,
    durability: Durability,
    private: Arc<PrivateFeeds>,
    next_account: u64,
    /// telemetry: the insurance fund gauge.
    metrics: crate::telemetry::AccountMetrics,
}

/// Wiring after start (markets need this actor's address first).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wire {
    pub markets: Vec<Addr<MarketActor>>,
    pub risk: Addr<RiskActor>,
}

impl AccountActor {
    pub fn new(
        ledger: Ledger,
        orders: OrderStore,
        clock: SharedClock,
        journal: Option<Arc<Journal>>,
        durability: Durability,
        private: Arc<PrivateFeeds>,
    ) -> AccountActor {
        let next_account = ledger
            .account_ids()
            .map(|a| a.0 + 1)
            .max()
            .unwrap_or(0)
            .max(AccountId::FIRST_USER);
        let metrics = crate::telemetry::AccountMetrics::new(&ledger);
        AccountActor {
            metrics,
            ledger,
            orders,
            markets: Vec::new(),
            risk: None,
            clock,
            journal,
            durability,
            private,
            next_account,
        }
    }

    /// Journal `batch`, then call `done` once durable (at once when relaxed or unjournaled).
    fn commit(&self, batch: Batch, done: impl FnOnce(Result<(), Reject>) + Send + 'static) {
        let Some(journal) = &self.journal else {
            return done(Ok(()));
        };
        if batch.is_empty() {
            return done(Ok(()));
        }
        let events = batch.len() as u32;
        let bytes = codec::encode(&batch);
        let result = match self.durability {
            Durability::Immediate => journal.try_append(
                bytes,
                events,
                Some(Box::new(move |r| {
                    done(r.map(drop).map_err(|_| Reject::Overloaded))
                })),
            ),
            Durability::Relaxed => {
                let r = journal.try_append(bytes, events, None);
                done(Ok(()));
                r
            }
        };
        // Entry bounds keep the journal queue far from full; reaching it means acknowledged
        // state could be lost, so stop (fail fast; recovery restores the journaled state).
        assert!(
            result.is_ok(),
            "journal queue full or journal failed: stopping to protect acknowledged state"
        );
    }

    fn market(&self, m: MarketId) -> Result<&Addr<MarketActor>, Reject> {
        self.markets.get(m.index()).ok_or(Reject::UnknownMarket)
    }

    /// R2: apply one market command's events. Returns the ledger events and the fills of
    /// `watch` (the order this request is about).
    fn settle(
        &mut self,
        market: MarketId,
        events: &[MarketEvent],
        client: Option<(OrderId, String)>,
        watch: Option<OrderId>,
        now: Timestamp,
    ) -> (Vec<LedgerEvent>, Vec<OrderFill>) {
        let mut out = Vec::new();
        let mut fills = Vec::new();
        let mut client = client;
        for e in events {
            let mut cid = None;
            let record = match e {
                MarketEvent::Accepted(a) => {
                    cid = client.take_if(|(id, _)| *id == a.order_id).map(|(_, c)| c);
                    None
                }
                MarketEvent::Book(BookEvent::Trade(t)) => {
                    let liquidation = self
                        .orders
                        .get(market, t.taker_order)
                        .is_some_and(|r| r.liquidation);
                    let kind = if liquidation {
                        FillKind::Liquidation
                    } else {
                        FillKind::Normal
                    };
                    // expect: both accounts passed R1 in this ledger, so they exist.
                    Some(
                        self.ledger
                            .settle_fill(market, t, kind, now, &mut out)
                            .expect("fill between known accounts"),
                    )
                }
                MarketEvent::Book(BookEvent::Closed {
                    order_id, account, ..
                }) => {
                    let _ = self.ledger.release(*account, market, *order_id, &mut out);
                    None
                }
                MarketEvent::Book(BookEvent::Amended {
                    order_id,
                    remaining,
                    price,
                    ..
                }) => {
                    if let Some(r) = self.orders.get(market, *order_id) {
                        let price = self.ledger.spec(market).price_decimal(*price);
                        self.ledger.record_amend(
                            r.account, market, *order_id, *remaining, price, &mut out,
                        );
                    }
                    None
                }
                _ => None,
            };
            // The same order-store code replay runs (engine/orders).
            self.orders
                .apply_market_event(market, e, cid, record.as_ref(), now);
            match e {
                MarketEvent::Book(BookEvent::Trade(t)) => {
                    for id in [t.taker_order, t.maker.order_id] {
                        if let Some(f) = self
                            .orders
                            .get(market, id)
                            .and_then(|r| r.fills.last().copied())
                        {
                            if watch == Some(id) {
                                fills.push(f);
                            }
                            self.notify(f.order_id, market, Some(f));
                        }
                    }
                }
                MarketEvent::Book(
                    BookEvent::Closed { order_id, .. }
                    | BookEvent::Rested { order_id, .. }
                    | BookEvent::Amended { order_id, .. },
                ) => self.notify(*order_id, market, None),
                _ => {}
            }
        }
        (out, fills)
    }

    /// Private updates for the order's account, if anyone listens.
    fn notify(&self, id: OrderId, market: MarketId, fill: Option<OrderFill>) {
        let Some(r) = self.orders.get(market, id) else {
            return;
        };
        if !self.private.wants(r.account) {
            return;
        }
        let mut order = r.clone();
        order.fills.clear();
        self.private.publish(r.account, PrivateUpdate::Order(order));
        if let Some(f) = fill {
            self.private.publish(r.account, PrivateUpdate::Fill(f));
        }
        if let Ok(v) = self.ledger.account_view(r.account) {
            self.private
                .publish(r.account, PrivateUpdate::Account(Box::new(v)));
        }
    }

    fn report(
        &self,
        market: MarketId,
        id: OrderId,
        fills: Vec<OrderFill>,
    ) -> Result<OrderReport, Reject> {
        let order = self
            .orders
            .get(market, id)
            .cloned()
            .ok_or(Reject::OrderNotFound)?;
        Ok(OrderReport {
            order,
            fills,
            retry: false,
        })
    }

    /// The open order `id` of `account` in `market`, or `ORDER_NOT_FOUND` / `ORDER_NOT_OPEN`.
    fn own_order(
        &self,
        account: AccountId,
        market: MarketId,
        id: OrderId,
    ) -> Result<&OrderRecord, Reject> {
        match self.orders.get(market, id) {
            Some(r) if r.account == account && r.status.is_closed() => Err(Reject::OrderNotOpen),
            Some(r) if r.account == account => Ok(r),
            _ => Err(Reject::OrderNotFound),
        }
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
        // `do_send` ignores mailbox capacity; the entry gates bound the in-flight work.
    }
}

impl Handler<Wire> for AccountActor {
    type Result = ();

    fn handle(&mut self, w: Wire, _: &mut Self::Context) {
        self.markets = w.markets;
        self.risk = Some(w.risk);
    }
}

/// Whether `r` is the order an identical request would have created.
fn same_request(r: &OrderRecord, market: MarketId, o: &OrderRequest) -> bool {
    r.market == market
        && r.side == o.side
        && r.order_type == o.order_type
        && r.price == o.price
        && r.trigger_price == o.trigger_price
        && r.reduce_only == o.reduce_only
        && r.qty == o.qty
}

impl Handler<PlaceOrderCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: PlaceOrderCmd, _: &mut Self::Context) {
        let o = &c.order;
        if let Some(cid) = &o.client_order_id {
            match self
                .orders
                .check_client_id(c.account, cid, |r| same_request(r, c.market, o))
            {
                ClientIdCheck::Free => {}
                ClientIdCheck::Retry(order) => {
                    let _ = c.reply.send(Ok(OrderReport {
                        order: *order,
                        fills: Vec::new(),
                        retry: true,
                    }));
                    return;
                }
                ClientIdCheck::Conflict => {
                    let _ = c.reply.send(Err(Reject::DuplicateClientOrderId));
                    return;
                }
            }
        }
        let Ok(addr) = self.market(c.market).cloned() else {
            let _ = c.reply.send(Err(Reject::UnknownMarket));
            return;
        };
        let id = self.orders.assign_id(c.market);
        let margin_price = match o.price {
            Some(p) => self.ledger.spec(c.market).price_decimal(p),
            None => self.ledger.market_order_price(c.market, o.side),
        };
        let mut r1 = Vec::new();
        if let Err(e) = self.ledger.pre_trade(
            c.account,
            c.market,
            o.side,
            o.qty,
            margin_price,
            o.reduce_only,
            id,
            &mut r1,
        ) {
            let _ = c.reply.send(Err(e));
            return;
        }
        let place = PlaceOrder {
            id,
            account: c.account,
            side: o.side,
            order_type: o.order_type,
            tif: o.tif,
            price: o.price,
            qty: o.qty,
            reduce_only: o.reduce_only,
            stp: o.stp,
            trigger_price: o.trigger_price,
            trigger_by: o.trigger_by,
            liquidation: false,
        };
        addr.do_send(MarketCmd {
            kind: MarketCmdKind::Place(place),
            pending: Pending::Place {
                account: c.account,
                order_id: id,
                client_order_id: o.client_order_id.clone(),
                r1,
                reply: c.reply,
            },
        });
    }
}

impl Handler<CancelOrderCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: CancelOrderCmd, _: &mut Self::Context) {
        let r = self
            .own_order(c.account, c.market, c.order_id)
            .and_then(|_| self.market(c.market).cloned());
        match r {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(addr) => addr.do_send(MarketCmd {
                kind: MarketCmdKind::Cancel {
                    account: Some(c.account),
                    order_id: c.order_id,
                    reason: CloseReason::User,
                },
                pending: Pending::Cancel {
                    order_id: c.order_id,
                    reply: c.reply,
                },
            }),
        }
    }
}

impl Handler<CancelAllCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: CancelAllCmd, _: &mut Self::Context) {
        match self.market(c.market).cloned() {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(addr) => addr.do_send(MarketCmd {
                kind: MarketCmdKind::CancelMany {
                    account: c.account,
                    ids: self.orders.open_ids(c.account, c.market),
                    reason: CloseReason::User,
                },
                pending: Pending::CancelAll { reply: c.reply },
            }),
        }
    }
}

impl Handler<AmendOrderCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: AmendOrderCmd, _: &mut Self::Context) {
        let result = (|| {
            let addr = self.market(c.market)?.clone();
            let r = self.own_order(c.account, c.market, c.order_id)?;
            if r.order_type.is_conditional() && r.status == crate::domain::OrderStatus::Untriggered
            {
                return Err(Reject::InvalidRequest(
                    "untriggered stop and take-profit orders cannot be amended; cancel and replace"
                        .into(),
                ));
            }
            let remaining = match c.qty {
                Some(q) if q <= r.filled => {
                    return Err(Reject::InvalidQuantity(
                        "quantity must exceed the filled quantity".into(),
                    ))
                }
                Some(q) => Some(q - r.filled),
                None => None,
            };
            let price = c
                .price
                .or(r.price)
                .ok_or_else(|| Reject::InvalidRequest("market orders cannot be amended".into()))?;
            let new_remaining = remaining.unwrap_or(r.remaining);
            let price_dec = self.ledger.spec(c.market).price_decimal(price);
            // Checked now, recorded at R2 from the book's `Amended` event (DESIGN.md §3).
            self.ledger
                .check_amend(c.account, c.market, c.order_id, new_remaining, price_dec)?;
            Ok((addr, remaining, Vec::new()))
        })();
        match result {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok((addr, remaining, r1)) => addr.do_send(MarketCmd {
                kind: MarketCmdKind::Amend {
                    account: c.account,
                    order_id: c.order_id,
                    price: c.price,
                    remaining,
                },
                pending: Pending::Amend {
                    account: c.account,
                    order_id: c.order_id,
                    r1,
                    reply: c.reply,
                },
            }),
        }
    }
}

impl Handler<MarketDone> for AccountActor {
    type Result = ();

    fn handle(&mut self, d: MarketDone, _: &mut Self::Context) {
        let (client, watch) = match &d.pending {
            Pending::Place {
                order_id,
                client_order_id,
                ..
            } => (
                client_order_id.clone().map(|c| (*order_id, c)),
                Some(*order_id),
            ),
            Pending::Cancel { order_id, .. } | Pending::Amend { order_id, .. } => {
                (None, Some(*order_id))
            }
            _ => (None, None),
        };
        let (r2, fills) = self.settle(d.market, &d.events, client, watch, d.now);
        let market = d.market;
        match d.pending {
            Pending::Place {
                account,
                order_id,
                client_order_id,
                r1,
                reply,
            } => {
                if let Err(e) = d.result {
                    // The market refused it: undo the R1 hold. Nothing is journaled.
                    let _ = self
                        .ledger
                        .release(account, market, order_id, &mut Vec::new());
                    let _ = reply.send(Err(e));
                    return;
                }
                let report = self.report(market, order_id, fills);
                let mut batch = Batch::new(market, r1, d.events, r2, d.now);
                batch
                    .client_ids
                    .extend(client_order_id.map(|c| (order_id, c)));
                self.commit(batch, move |r| {
                    let _ = reply.send(r.and(report));
                });
            }
            Pending::Amend {
                account,
                order_id,
                r1,
                reply,
            } => {
                if let Err(e) = d.result {
                    // R1 only checked; nothing to undo.
                    let _ = (account, reply.send(Err(e)));
                    return;
                }
                let report = self.report(market, order_id, fills);
                self.commit(Batch::new(market, r1, d.events, r2, d.now), move |r| {
                    let _ = reply.send(r.and(report));
                });
            }
            Pending::Cancel { order_id, reply } => {
                if let Err(e) = d.result {
                    let _ = reply.send(Err(e));
                    return;
                }
                let report = self.report(market, order_id, fills);
                self.commit(
                    Batch::new(market, Vec::new(), d.events, r2, d.now),
                    move |r| {
                        let _ = reply.send(r.and(report));
                    },
                );
            }
            Pending::CancelAll { reply } => {
                let ids: Vec<OrderId> = d
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        MarketEvent::Book(BookEvent::Closed { order_id, .. }) => Some(*order_id),
                        _ => None,
                    })
                    .collect();
                self.commit(
                    Batch::new(market, Vec::new(), d.events, r2, d.now),
                    move |r| {
                        let _ = reply.send(r.map(|_| ids));
                    },
                );
            }
            Pending::Liquidation { done } => {
                let result = d.result;
                self.commit(
                    Batch::new(market, Vec::new(), d.events, r2, d.now),
                    move |r| {
                        let _ = done.send(r.and(result));
                    },
                );
            }
            Pending::Internal => {
                self.commit(Batch::new(market, Vec::new(), d.events, r2, d.now), |_| {})
            }
        }
    }
}

impl Handler<SetLeverageCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SetLeverageCmd, _: &mut Self::Context) {
        let mut ev = Vec::new();
        match self
            .ledger
            .set_leverage(c.account, c.market, c.leverage, &mut ev)
        {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(max) => self.commit(Batch::ledger(ev, self.clock.now()), move |r| {
                let _ = c.reply.send(r.map(|_| max));
            }),
        }
    }
}

impl Handler<OpenAccountCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: OpenAccountCmd, _: &mut Self::Context) {
        let id = AccountId(self.next_account);
        let mut ev = Vec::new();
        match self.ledger.open_account(id, &mut ev) {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(()) => {
                self.next_account += 1;
                self.commit(Batch::ledger(ev, self.clock.now()), move |r| {
                    let _ = c.reply.send(r.map(|_| id));
                });
            }
        }
    }
}

impl Handler<TransferCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: TransferCmd, _: &mut Self::Context) {
        let mut ev = Vec::new();
        let r = if c.withdraw {
            self.ledger.withdraw(c.account, c.amount.0, &mut ev)
        } else {
            self.ledger.deposit(c.account, c.amount.0, &mut ev)
        };
        self.metrics.update(&self.ledger); // telemetry: transfers may fund insurance
        match r {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(wallet) => self.commit(Batch::ledger(ev, self.clock.now()), move |r| {
                let _ = c.reply.send(r.map(|_| wallet));
            }),
        }
    }
}

impl Handler<AccountQuery> for AccountActor {
    type Result = ();

    fn handle(&mut self, q: AccountQuery, _: &mut Self::Context) {
        match q {
            AccountQuery::Account { account, reply } => {
                let _ = reply.send(self.ledger.account_view(account));
            }
            AccountQuery::Order {
                account,
                market,
                order_id,
                reply,
            } => {
                let r = self
                    .orders
                    .get(market, order_id)
                    .filter(|r| r.account == account)
                    .cloned();
                let _ = reply.send(r.ok_or(Reject::OrderNotFound));
            }
            AccountQuery::OrderByClientId {
                account,
                market,
                client_order_id,
                reply,
            } => {
                let r = self
                    .orders
                    .by_client_id(account, &client_order_id)
                    .filter(|r| r.market == market)
                    .cloned();
                let _ = reply.send(r.ok_or(Reject::OrderNotFound));
            }
            AccountQuery::Orders {
                account,
                market,
                open,
                closed,
                limit,
                reply,
            } => {
                let v = self
                    .orders
                    .list(account, market, open, closed, limit)
                    .into_iter()
                    .cloned()
                    .collect();
                let _ = reply.send(Ok(v));
            }
            AccountQuery::Fills {
                account,
                market,
                before,
                limit,
                reply,
            } => {
                let _ = reply.send(Ok(self.orders.fills(
                    account,
                    market,
                    before.map(crate::domain::TradeId),
                    limit,
                )));
            }
            AccountQuery::Solvency { reply } => {
                let (deposits, withdrawals, wallets, costs) = self.ledger.solvency();
                let fee = self.ledger.wallet(AccountId::FEE).unwrap_or_default();
                let insurance = self.ledger.wallet(AccountId::INSURANCE).unwrap_or_default();
                let _ = reply.send(Ok(Solvency {
                    total_deposits: deposits,
                    total_withdrawals: withdrawals,
                    user_wallets: wallets - fee - insurance,
                    fee_account: fee,
                    insurance_fund: insurance,
                    open_cost_basis: costs,
                    conserved: wallets - costs == deposits - withdrawals,
                }));
            }
            AccountQuery::StateHash { reply } => {
                let _ = reply.send(Ok(self.ledger.state_hash()));
            }
            AccountQuery::Invariants { reply } => {
                let _ = reply.send(
                    self.ledger
                        .check_invariants()
                        .map_err(|v| Reject::InvalidRequest(format!("{v:?}"))),
                );
            }
        }
    }
}

impl Handler<MarkToLedger> for AccountActor {
    type Result = ();

    fn handle(&mut self, m: MarkToLedger, _: &mut Self::Context) {
        let mut ev = Vec::new();
        let mut liquidatable = Vec::new();
        self.ledger
            .set_mark(m.market, m.mark, &mut ev, &mut liquidatable);
        self.commit(Batch::ledger(ev, self.clock.now()), |_| {});
        if !liquidatable.is_empty() {
            if let Some(risk) = &self.risk {
                risk.do_send(Liquidatable(liquidatable));
            }
        }
    }
}

impl Handler<SettleFundingCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SettleFundingCmd, _: &mut Self::Context) {
        let mut ev = Vec::new();
        self.ledger
            .settle_funding(c.market, c.rate, c.mark, c.time, &mut ev);
        self.commit(Batch::ledger(ev, c.time), move |r| {
            let _ = c.reply.send(r);
        });
    }
}

impl Handler<LiquidationCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: LiquidationCmd, _: &mut Self::Context) {
        super::liquidation::handle(self, c);
        self.metrics.update(&self.ledger); // telemetry: the fund moves in liquidations
    }
}

// Accessors for the liquidation step handlers (kept in their own file).
impl AccountActor {
    pub(super) fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    pub(super) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub(super) fn orders_mut(&mut self) -> &mut OrderStore {
        &mut self.orders
    }

    pub(super) fn market_addr(&self, m: MarketId) -> Option<Addr<MarketActor>> {
        self.markets.get(m.index()).cloned()
    }

    pub(super) fn commit_ledger(
        &self,
        ev: Vec<LedgerEvent>,
        done: impl FnOnce(Result<(), Reject>) + Send + 'static,
    ) {
        self.commit(Batch::ledger(ev, self.clock.now()), done);
    }
}
