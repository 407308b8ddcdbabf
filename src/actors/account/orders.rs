//! The order commands of the AccountActor: R1 for place/cancel/cancel-all/amend, and R2 with
//! the reply (or the undo of R1) when the market has answered.

use actix::prelude::*;

use super::AccountActor;
use crate::actors::messages::*;
use crate::domain::{BookEvent, CloseReason, OrderId, Reject};
use crate::engine::market::{MarketEvent, PlaceOrder};
use crate::engine::orders::{ClientIdCheck, OrderRecord};
use crate::persistence::codec::Batch;
use crate::risk::MarketId;

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
