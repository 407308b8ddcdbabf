//! The AccountActor's side of a liquidation step: the core plans the step and applies what is
//! ledger-only ([`Accounts::liquidation_step`](crate::engine::accounts::Accounts)); this
//! carries out what needs a book (priority cancels, the liquidation order) and journals.

use actix::prelude::*;
use tokio::sync::oneshot;

use super::AccountActor;
use crate::actors::messages::*;
use crate::domain::{CloseReason, Reject};
use crate::engine::accounts::{LiqStep, Ticket};

impl Handler<LiquidationCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: LiquidationCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        let step = self.core.liquidation_step(c.pool, &c.progress, now);
        self.update_metrics(); // telemetry: the fund moves in liquidations
        let reply = c.reply;
        match step {
            Err(e) => drop(reply.send(Err(e))),
            Ok(LiqStep::Applied {
                events,
                moved,
                liquidate,
                adl,
            }) => {
                let market = moved.first().map(|m| m.0);
                for (m, account, delta) in moved {
                    self.priority(
                        m,
                        MarketCmdKind::AdjustPosition {
                            account,
                            delta: crate::domain::Qty(delta),
                        },
                        None,
                    );
                }
                self.start_liquidations(liquidate);
                self.commit_ledger(events, move |r| {
                    let _ = reply.send(r.map(|()| StepDone::Applied { market, adl }));
                });
            }
            Ok(LiqStep::Cancel(by_market)) => {
                let mut waits = Vec::new();
                for (m, ids) in by_market {
                    let (done, rx) = oneshot::channel();
                    let kind = MarketCmdKind::CancelMany {
                        account: c.pool.account(),
                        ids,
                        reason: CloseReason::Liquidation,
                    };
                    if self.priority(m, kind, Some(done)) {
                        waits.push(rx);
                    }
                }
                actix::spawn(async move {
                    for rx in waits {
                        let _ = rx.await;
                    }
                    let _ = reply.send(Ok(StepDone::Cancelled));
                });
            }
            Ok(LiqStep::Send(leg, order)) => {
                let (done, rx) = oneshot::channel();
                self.priority(leg.market, MarketCmdKind::Place(order), Some(done));
                actix::spawn(async move {
                    // Whatever the book did (filled, partly, nothing, or refused), it had its
                    // chance: the planner goes on from the ledger's state.
                    let _ = rx.await;
                    let _ = reply.send(Ok(StepDone::Sent(leg)));
                });
            }
            Ok(LiqStep::Wait) => drop(reply.send(Ok(StepDone::Wait))),
            Ok(LiqStep::Finished { events }) => self.commit_ledger(events, move |r| {
                let _ = reply.send(r.map(|()| StepDone::Finished));
            }),
        }
    }
}

impl AccountActor {
    /// Send a liquidation command to market `m` ahead of its queue; `done` fires after its R2.
    /// Returns whether the market exists.
    fn priority(
        &self,
        m: crate::risk::MarketId,
        kind: MarketCmdKind,
        done: Option<oneshot::Sender<Result<(), Reject>>>,
    ) -> bool {
        let Ok(addr) = self.market(m) else {
            return false;
        };
        addr.do_send(PriorityCmd(MarketCmd {
            kind,
            pending: Pending {
                ticket: Ticket::Liquidation,
                reply: done.map_or(PendingReply::None, PendingReply::Done),
            },
        }));
        true
    }
}
