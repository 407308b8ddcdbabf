//! R2 (docs/ARCHITECTURE.md §3): what the account side does with one market command's outcome — fills
//! settled on both sides (positions, PnL, fees, holds), holds released when orders close,
//! holds re-recorded when the book amended an order, order records updated — and the answer
//! to the command. A command the market refused is undone here (its hold released, its amend
//! reservation dropped) without a trace in the journal.

use super::{Accounts, Ticket};
use crate::domain::MarketId;
use crate::domain::{
    AccountId, BookEvent, MarginPool, OrderId, OrderTerms, Price, Qty, Reject, Timestamp,
};
use crate::engine::market::MarketEvent;
use crate::engine::orders::{OrderFill, OrderReport, OrderStore};
use crate::engine::{FillKind, FillRecord, Ledger, LedgerEvent};

/// The answer to the command's caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A place, amend or cancel: the order after it, with the fills this request produced.
    Order(OrderReport),
    /// A cancel-all: the ids it closed.
    Cancelled(Vec<OrderId>),
    /// Liquidation steps and internal commands.
    Done,
}

/// What R2 produced.
#[derive(Debug)]
pub struct Settled {
    /// Whether the command's batch is journaled (`false`: refused, nothing happened).
    pub journal: bool,
    /// R1's ledger events (journaled before the market's).
    pub r1: Vec<LedgerEvent>,
    /// R2's ledger events (journaled after the market's).
    pub r2: Vec<LedgerEvent>,
    /// Client order ids of orders accepted in this command.
    pub client_ids: Vec<(OrderId, String)>,
    pub answer: Result<Answer, Reject>,
    /// Orders whose records changed, in order, with the fill that changed them (if any), for
    /// private updates.
    pub touched: Vec<(OrderId, Option<OrderFill>)>,
    /// Orders of this market to cancel now with reason `liquidation` (accepted at R1 before
    /// their account's liquidation started, and resting).
    pub cancel: Vec<(AccountId, OrderId)>,
    /// Pools this settlement put into liquidation: the workflow must run for them.
    pub liquidate: Vec<MarginPool>,
}

impl Settled {
    fn refused(e: Reject) -> Settled {
        Settled {
            journal: false,
            r1: Vec::new(),
            r2: Vec::new(),
            client_ids: Vec::new(),
            answer: Err(e),
            touched: Vec::new(),
            cancel: Vec::new(),
            liquidate: Vec::new(),
        }
    }
}

impl Accounts {
    /// R2 of one market command: `events` and `result` are what the market did with it.
    pub fn settle(
        &mut self,
        market: MarketId,
        events: &[MarketEvent],
        ticket: Ticket,
        result: Result<(), Reject>,
        now: Timestamp,
    ) -> Settled {
        if let Err(e) = &result {
            if let Some(s) = self.refused(market, events, &ticket, e.clone(), now) {
                return s;
            }
        }
        let (client, watch) = match &ticket {
            Ticket::Place(t) => (
                t.client_order_id.clone().map(|c| (t.order_id, c)),
                Some(t.order_id),
            ),
            Ticket::Amend(t) => (None, Some(t.order_id)),
            Ticket::Cancel { order_id, .. } => (None, Some(*order_id)),
            _ => (None, None),
        };
        let mut s = self.apply_events(market, events, client, now);
        if let Ticket::Amend(t) = &ticket {
            self.ledger.drop_amend(t.account, market, t.reservation);
        }
        let fills: Vec<OrderFill> = s
            .touched
            .iter()
            .filter(|(id, _)| Some(*id) == watch)
            .filter_map(|(_, f)| *f)
            .collect();
        s.answer = match ticket {
            Ticket::Place(t) => {
                // Liquidation started after this order's R1: its cancel-all may have missed it.
                let open = self
                    .orders
                    .get(market, t.order_id)
                    .is_some_and(|r| !r.status.is_closed());
                if open
                    && (self.epoch(t.account, t.leg) != t.epoch
                        || self.order_pool_liquidating(t.account, t.leg))
                {
                    s.cancel.push((t.account, t.order_id));
                }
                s.r1 = t.r1;
                self.report(market, t.order_id, fills).map(Answer::Order)
            }
            Ticket::Amend(t) => self.report(market, t.order_id, fills).map(Answer::Order),
            Ticket::Cancel { order_id, .. } => {
                self.report(market, order_id, fills).map(Answer::Order)
            }
            Ticket::CancelAll => Ok(Answer::Cancelled(
                events
                    .iter()
                    .filter_map(|e| match e {
                        MarketEvent::Book(BookEvent::Closed { order_id, .. }) => Some(*order_id),
                        _ => None,
                    })
                    .collect(),
            )),
            Ticket::Liquidation | Ticket::Internal => result.map(|()| Answer::Done),
        };
        s
    }

    /// A command the market refused: undo its R1, map the rejection so the answer does not
    /// depend on which racing command won. `None` when the refusal still has events to settle
    /// (a liquidation step that did something before it stopped).
    fn refused(
        &mut self,
        market: MarketId,
        events: &[MarketEvent],
        ticket: &Ticket,
        e: Reject,
        now: Timestamp,
    ) -> Option<Settled> {
        let closed = |s: &Accounts, account: AccountId, id: OrderId| {
            s.orders
                .get(market, id)
                .is_some_and(|r| r.order.account == account && r.status.is_closed())
        };
        let e = match (ticket, e) {
            (Ticket::Place(t), e) => {
                // Refused by the market: undo the R1 hold. Nothing is journaled.
                let _ = self
                    .ledger
                    .release(t.account, market, t.order_id, now, &mut Vec::new());
                e
            }
            (Ticket::Amend(t), e) => {
                self.ledger.drop_amend(t.account, market, t.reservation);
                match e {
                    Reject::OrderNotFound if closed(self, t.account, t.order_id) => {
                        Reject::OrderNotOpen
                    }
                    e => e,
                }
            }
            (Ticket::Cancel { account, order_id }, Reject::OrderNotFound)
                if closed(self, *account, *order_id) =>
            {
                Reject::OrderNotOpen
            }
            (_, e) if events.is_empty() => e,
            _ => return None,
        };
        Some(Settled::refused(e))
    }

    /// Apply `events` of `market` to the ledger and the order store. `client` names the client
    /// order id of the order this command accepted, if any.
    fn apply_events(
        &mut self,
        market: MarketId,
        events: &[MarketEvent],
        mut client: Option<(OrderId, String)>,
        now: Timestamp,
    ) -> Settled {
        let mut out = Vec::new();
        let mut touched = Vec::new();
        let mut client_ids = Vec::new();
        let Accounts { ledger, orders, .. } = self;
        for e in events {
            let mut cid = None;
            if let MarketEvent::Accepted(a) = e {
                cid = client.take_if(|(id, _)| *id == a.order_id).map(|(_, c)| c);
                if let Some(c) = &cid {
                    client_ids.push((a.order_id, c.clone()));
                }
            }
            let record = settle_event(ledger, orders, market, e, now, &mut out);
            // The same order-store code replay runs.
            orders.apply_market_event(market, e, cid, record.as_ref(), now);
            touch(orders, market, e, &mut touched);
        }
        self.observe(&out);
        // Accounts a fill left flat and owing entered liquidation: the workflow must run.
        let liquidate = started_pools(&out);
        Settled {
            journal: true,
            r1: Vec::new(),
            r2: out,
            client_ids,
            answer: Ok(Answer::Done),
            touched,
            cancel: Vec::new(),
            liquidate,
        }
    }
}

/// The ledger's side of one market event (before the order store's): a trade is settled on
/// both sides (its record returned for the order store), a closed order's hold released, and
/// the hold of an order the book resized re-recorded. A flat dispatch (one arm per kind of
/// event, each a call into the ledger), longer than a function should be on purpose.
fn settle_event(
    ledger: &mut Ledger,
    orders: &OrderStore,
    market: MarketId,
    e: &MarketEvent,
    now: Timestamp,
    out: &mut Vec<LedgerEvent>,
) -> Option<FillRecord> {
    match e {
        MarketEvent::Book(BookEvent::Trade(t)) => {
            let kind = if orders
                .get(market, t.taker_order)
                .is_some_and(|r| r.order.liquidation)
            {
                FillKind::Liquidation
            } else {
                FillKind::Normal
            };
            // expect: both accounts passed R1 in this ledger and accounts are never
            // removed; a failure means the market and the ledger disagree, and going
            // on would settle money against a guess (fail fast; recovery restores the
            // journaled state).
            Some(
                ledger
                    .settle_fill(market, t, kind, now, out)
                    .expect("fill between accounts known to the ledger"),
            )
        }
        MarketEvent::Book(BookEvent::Closed {
            order_id, account, ..
        }) => {
            let _ = ledger.release(*account, market, *order_id, now, out);
            None
        }
        // A reduce-only order rests capped to the position: its hold follows.
        MarketEvent::Book(BookEvent::Rested {
            order_id,
            account,
            price,
            qty,
            ..
        }) if orders
            .get(market, *order_id)
            .is_some_and(|r| r.order.terms.reduce_only) =>
        {
            let price = ledger.spec(market).price_decimal(*price);
            ledger.record_amend(*account, market, *order_id, *qty, price, now, out);
            None
        }
        MarketEvent::Book(BookEvent::TriggerAmended {
            order_id,
            trigger_price,
            price,
            qty,
        }) => {
            let new = (*trigger_price, *price, *qty);
            record_trigger_amend(ledger, orders, market, *order_id, new, now, out);
            None
        }
        MarketEvent::Book(BookEvent::Amended {
            order_id,
            remaining,
            price,
            ..
        }) => {
            if let Some(r) = orders.get(market, *order_id) {
                let price = ledger.spec(market).price_decimal(*price);
                ledger.record_amend(
                    r.order.account,
                    market,
                    *order_id,
                    *remaining,
                    price,
                    now,
                    out,
                );
            }
            None
        }
        _ => None,
    }
}

/// An amended stop or take-profit: its hold follows its new `(trigger, price, qty)` (a
/// close-position order holds nothing).
fn record_trigger_amend(
    ledger: &mut Ledger,
    orders: &OrderStore,
    market: MarketId,
    order_id: OrderId,
    (trigger, price, qty): (Price, Option<Price>, Qty),
    now: Timestamp,
    out: &mut Vec<LedgerEvent>,
) {
    let Some(r) = orders
        .get(market, order_id)
        .filter(|r| !r.order.terms.close_position)
    else {
        return;
    };
    let terms = OrderTerms {
        trigger_price: Some(trigger),
        price,
        qty,
        ..r.order.terms
    };
    let p = ledger.order_margin_price(market, &terms);
    ledger.record_amend(r.order.account, market, order_id, qty, p, now, out);
}

/// Note the orders whose records `e` changed (after the order store applied it), with the
/// fill that changed them.
fn touch(
    orders: &OrderStore,
    market: MarketId,
    e: &MarketEvent,
    touched: &mut Vec<(OrderId, Option<OrderFill>)>,
) {
    match e {
        MarketEvent::Book(BookEvent::Trade(t)) => {
            for id in [t.taker_order, t.maker.order_id] {
                let fill = orders.get(market, id).and_then(|r| r.fills.last().copied());
                if fill.is_some() {
                    touched.push((id, fill));
                }
            }
        }
        MarketEvent::Book(
            BookEvent::Closed { order_id, .. }
            | BookEvent::Rested { order_id, .. }
            | BookEvent::Amended { order_id, .. }
            | BookEvent::TriggerAmended { order_id, .. },
        ) => touched.push((*order_id, None)),
        // A stop or take-profit order waiting for its trigger: its owner sees it accepted.
        MarketEvent::Parked { order_id } => touched.push((*order_id, None)),
        _ => {}
    }
}

/// The pools whose liquidation `events` started.
pub(super) fn started_pools(events: &[LedgerEvent]) -> Vec<MarginPool> {
    events
        .iter()
        .filter_map(|e| match *e {
            LedgerEvent::LiquidationStarted { account } => Some(MarginPool::Cross(account)),
            LedgerEvent::IsolatedLiquidationStarted { account, leg } => {
                Some(MarginPool::Isolated(account, leg))
            }
            _ => None,
        })
        .collect()
}
