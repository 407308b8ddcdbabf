//! The order commands of the AccountActor: R1 in the core, the command to the market, and
//! R2 in the core with the reply once the batch is durable.

use actix::prelude::*;

use super::AccountActor;
use crate::actors::messages::*;
use crate::domain::CloseReason;
use crate::engine::accounts::{Answer, Placed, Ticket};
use crate::risk::MarketId;

impl AccountActor {
    /// Send `kind` to `market`, or answer `reply` with why not.
    fn send(&self, market: MarketId, kind: MarketCmdKind, pending: Pending) {
        match self.market(market) {
            Ok(addr) => addr.do_send(MarketCmd { kind, pending }),
            Err(e) => fail(pending.reply, e),
        }
    }
}

/// Answer a pending reply with a rejection.
fn fail(reply: PendingReply, e: crate::domain::Reject) {
    match reply {
        PendingReply::Order(r) => drop(r.send(Err(e))),
        PendingReply::CancelAll(r) => drop(r.send(Err(e))),
        PendingReply::Done(r) => drop(r.send(Err(e))),
        PendingReply::None => {}
    }
}

impl Handler<PlaceOrderCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: PlaceOrderCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        match self.core.place(c.account, c.market, &c.order, now) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok(Placed::Retry(report)) => drop(c.reply.send(Ok(*report))),
            Ok(Placed::Send(place, ticket)) => self.send(
                c.market,
                MarketCmdKind::Place(place),
                Pending {
                    ticket: Ticket::Place(ticket),
                    reply: PendingReply::Order(c.reply),
                },
            ),
        }
    }
}

impl Handler<CancelOrderCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: CancelOrderCmd, _: &mut Self::Context) {
        match self.core.cancel(c.account, c.market, c.order_id) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok(()) => self.send(
                c.market,
                MarketCmdKind::Cancel {
                    account: Some(c.account),
                    order_id: c.order_id,
                    reason: CloseReason::User,
                },
                Pending {
                    ticket: Ticket::Cancel {
                        account: c.account,
                        order_id: c.order_id,
                    },
                    reply: PendingReply::Order(c.reply),
                },
            ),
        }
    }
}

impl Handler<CancelAllCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: CancelAllCmd, _: &mut Self::Context) {
        match self.core.cancel_all(c.account, c.market) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok(ids) => self.send(
                c.market,
                MarketCmdKind::CancelMany {
                    account: c.account,
                    ids,
                    reason: CloseReason::User,
                },
                Pending {
                    ticket: Ticket::CancelAll,
                    reply: PendingReply::CancelAll(c.reply),
                },
            ),
        }
    }
}

impl Handler<AmendOrderCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: AmendOrderCmd, _: &mut Self::Context) {
        if let Err(e) = self.market(c.market) {
            return drop(c.reply.send(Err(e)));
        }
        match self
            .core
            .amend(c.account, c.market, c.order_id, c.price, c.qty)
        {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok((amend, ticket)) => self.send(
                c.market,
                MarketCmdKind::Amend(amend),
                Pending {
                    ticket: Ticket::Amend(ticket),
                    reply: PendingReply::Order(c.reply),
                },
            ),
        }
    }
}

impl Handler<MarketDone> for AccountActor {
    type Result = ();

    fn handle(&mut self, d: MarketDone, _: &mut Self::Context) {
        let Pending { ticket, reply } = d.pending;
        let mut s = self
            .core
            .settle(d.market, &d.events, ticket, d.result, d.now);
        let answer = std::mem::replace(&mut s.answer, Ok(Answer::Done));
        let Some(batch) = self.after_settle(d.market, d.events, &mut s, d.now) else {
            return match answer {
                Err(e) => fail(reply, e),
                Ok(_) => fail(reply, crate::domain::Reject::Overloaded),
            };
        };
        self.commit(batch, move |r| match (reply, answer) {
            (PendingReply::Order(tx), answer) => {
                let _ = tx.send(r.and(answer).and_then(|a| match a {
                    Answer::Order(report) => Ok(report),
                    _ => Err(crate::domain::Reject::Overloaded),
                }));
            }
            (PendingReply::CancelAll(tx), answer) => {
                let _ = tx.send(r.and(answer).and_then(|a| match a {
                    Answer::Cancelled(ids) => Ok(ids),
                    _ => Err(crate::domain::Reject::Overloaded),
                }));
            }
            (PendingReply::Done(tx), answer) => {
                let _ = tx.send(r.and(answer).map(drop));
            }
            (PendingReply::None, _) => {}
        });
    }
}
