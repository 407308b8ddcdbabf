//! The order commands of the AccountActor: R1 in the core, the command to the market, and
//! R2 in the core with the reply once the batch is durable.

use actix::prelude::*;

use super::{AccountActor, Done, FlushOutbox};
use crate::actors::messages::*;
use crate::domain::MarketId;
use crate::domain::{CloseReason, Fault, Reject};
use crate::engine::accounts::{Answer, Placed, Ticket};
use crate::persistence::Entry;

impl AccountActor {
    /// Queue `kind` for `market` (handed on with the rest of the batch, see [`FlushOutbox`]),
    /// or answer `reply` with why not.
    fn send(
        &mut self,
        ctx: &mut Context<Self>,
        market: MarketId,
        kind: MarketCmdKind,
        pending: Pending,
    ) {
        let Some(out) = self.outbox.get_mut(market.index()) else {
            return fail(pending.reply, Reject::UnknownMarket);
        };
        out.push(MarketCmd { kind, pending });
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            ctx.notify(FlushOutbox);
        }
    }

    /// R2 of one market command; its journal entry is staged into `entries`. Its market data
    /// and private updates are released with its reply (docs/ARCHITECTURE.md §3).
    fn done(&mut self, d: MarketDone, entries: &mut Vec<Entry>) {
        let Pending { ticket, reply } = d.pending;
        let mut s = self
            .core
            .settle(d.market, &d.events, ticket, d.result, d.now);
        let answer = std::mem::replace(&mut s.answer, Ok(Answer::Done));
        let mut updates = Vec::new();
        let batch = self.after_settle(d.market, d.events, &mut s, d.now, &mut updates);
        let released = self.released(d.release, updates);
        let Some(batch) = batch else {
            // Nothing to make durable: it leaves now, behind the commands before it.
            released.finish(true);
            return match answer {
                Err(e) => fail(reply, e),
                // R2 journals every command it answers with success.
                Ok(_) => fail(
                    reply,
                    Reject::Fault(Fault::Unexpected("success without a journal batch")),
                ),
            };
        };
        let done: Done = Box::new(move |r| {
            released.finish(r.is_ok());
            answer_reply(reply, answer, r);
        });
        self.stage(batch, done, entries);
    }
}

/// Answer a market command's caller once its batch is durable (`r`) or failed.
fn answer_reply(reply: PendingReply, answer: Result<Answer, Reject>, r: Result<(), Reject>) {
    match (reply, answer) {
        (PendingReply::Order(tx), answer) => {
            let _ = tx.send(r.and(answer).and_then(|a| match a {
                Answer::Order(report) => Ok(report),
                _ => Err(Reject::Fault(Fault::Unexpected(
                    "an order answer of another kind",
                ))),
            }));
        }
        (PendingReply::CancelAll(tx), answer) => {
            let _ = tx.send(r.and(answer).and_then(|a| match a {
                Answer::Cancelled(ids) => Ok(ids),
                _ => Err(Reject::Fault(Fault::Unexpected(
                    "an order answer of another kind",
                ))),
            }));
        }
        (PendingReply::Done(tx), answer) => {
            let _ = tx.send(r.and(answer).map(drop));
        }
        (PendingReply::None, _) => {}
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

    fn handle(&mut self, c: PlaceOrderCmd, ctx: &mut Self::Context) {
        let now = self.clock.now();
        let placed = self.core.place(c.account, c.market, &c.order, now);
        self.send_placed(ctx, c.market, placed, c.reply);
    }
}

impl AccountActor {
    /// R1's answer to a new order (or a position's TP/SL) on its way: refused or a retry's
    /// original answered now, else the order sent to its market.
    fn send_placed(
        &mut self,
        ctx: &mut Context<Self>,
        market: MarketId,
        placed: Result<Placed, Reject>,
        reply: Reply<OrderReport>,
    ) {
        match placed {
            Err(e) => drop(reply.send(Err(e))),
            Ok(Placed::Retry(report)) => drop(reply.send(Ok(*report))),
            Ok(Placed::Send(place, ticket)) => self.send(
                ctx,
                market,
                MarketCmdKind::Place(place),
                Pending {
                    ticket: Ticket::Place(ticket),
                    reply: PendingReply::Order(reply),
                },
            ),
        }
    }
}

impl Handler<PlaceTpSlCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: PlaceTpSlCmd, ctx: &mut Self::Context) {
        let placed = self
            .core
            .place_tpsl(c.account, c.market, c.position_side, &c.tpsl);
        self.send_placed(ctx, c.market, placed, c.reply);
    }
}

impl Handler<CancelOrderCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: CancelOrderCmd, ctx: &mut Self::Context) {
        match self.core.cancel(c.account, c.market, c.order_id) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok(()) => self.send(
                ctx,
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

    fn handle(&mut self, c: CancelAllCmd, ctx: &mut Self::Context) {
        match self.core.cancel_all(c.account, c.market) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok(ids) => self.send(
                ctx,
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

    fn handle(&mut self, c: AmendOrderCmd, ctx: &mut Self::Context) {
        if let Err(e) = self.market(c.market) {
            return drop(c.reply.send(Err(e)));
        }
        match self
            .core
            .amend(c.account, c.market, c.order_id, c.price, c.qty, c.trigger)
        {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok((amend, ticket)) => self.send(
                ctx,
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
        let mut entries = Vec::with_capacity(1);
        self.done(d, &mut entries);
        self.append(entries);
    }
}

impl Handler<MarketDoneBatch> for AccountActor {
    type Result = ();

    fn handle(&mut self, b: MarketDoneBatch, _: &mut Self::Context) {
        // One journal request for the batch: its entries stay in market order.
        let mut entries = Vec::with_capacity(b.0.len());
        for d in b.0 {
            self.done(d, &mut entries);
        }
        self.append(entries);
    }
}
