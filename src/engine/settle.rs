//! R2 (DESIGN.md §3): what the AccountActor does with one market command's events — fills
//! settled on both sides (positions, PnL, fees, holds), holds released when orders close,
//! holds re-recorded when the book amended an order, and the order records updated. Pure; the
//! actor routes the result (journal, private updates, reply) and the test driver reuses it.

use super::orders::{OrderFill, OrderStore};
use super::{FillKind, Ledger, LedgerEvent};
use crate::domain::{BookEvent, OrderId, Timestamp};
use crate::engine::market::MarketEvent;
use crate::risk::MarketId;

/// What R2 produced.
pub struct Settled {
    /// Ledger events to journal (after the market's events).
    pub ledger_events: Vec<LedgerEvent>,
    /// Orders whose records changed, in order, with the fill that changed them (if any).
    pub touched: Vec<(OrderId, Option<OrderFill>)>,
}

/// Apply `events` of `market` to the ledger and the order store. `client` names the client
/// order id of the order this command accepted, if any.
pub fn settle(
    ledger: &mut Ledger,
    orders: &mut OrderStore,
    market: MarketId,
    events: &[MarketEvent],
    mut client: Option<(OrderId, String)>,
    now: Timestamp,
) -> Settled {
    let mut out = Vec::new();
    let mut touched = Vec::new();
    for e in events {
        let mut cid = None;
        let record = match e {
            MarketEvent::Accepted(a) => {
                cid = client.take_if(|(id, _)| *id == a.order_id).map(|(_, c)| c);
                None
            }
            MarketEvent::Book(BookEvent::Trade(t)) => {
                let liquidation = orders
                    .get(market, t.taker_order)
                    .is_some_and(|r| r.liquidation);
                let kind = if liquidation {
                    FillKind::Liquidation
                } else {
                    FillKind::Normal
                };
                // expect: both accounts passed R1 in this ledger, so they exist.
                Some(
                    ledger
                        .settle_fill(market, t, kind, now, &mut out)
                        .expect("fill between known accounts"),
                )
            }
            MarketEvent::Book(BookEvent::Closed {
                order_id, account, ..
            }) => {
                let _ = ledger.release(*account, market, *order_id, &mut out);
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
                    ledger.record_amend(r.account, market, *order_id, *remaining, price, &mut out);
                }
                None
            }
            _ => None,
        };
        // The same order-store code replay runs.
        orders.apply_market_event(market, e, cid, record.as_ref(), now);
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
                | BookEvent::Amended { order_id, .. },
            ) => touched.push((*order_id, None)),
            _ => {}
        }
    }
    Settled {
        ledger_events: out,
        touched,
    }
}
