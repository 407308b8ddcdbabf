//! The lines of one entry's market events: public ones (trades, liquidations, one
//! `book_update` for all its level changes) and, with private events on, the order lines.
//!
//! # Invariants
//! - Level changes are not lines of their own: they are collected in entry order and end in
//!   one `book_update` after the entry's other lines, with `prev_sequence` the first change's
//!   sequence minus one (see the parent module).
//! - Private lines are built only when private events are on (their fields are closures).

use serde_json::{json, Value};

use super::{money, name, px, Rendered};
use crate::actors::publish;
use crate::domain::Order;
use crate::domain::{BookEvent, MarketSpec, OrderId, Price, Qty, Side};
use crate::engine::market::{MarketEvent, TradeTick};
use crate::persistence::codec::Batch;

/// Render the market events of entry `seq` (decoded `b`) for market `m`.
pub(super) fn render_market(
    out: &mut Rendered,
    m: usize,
    spec: &MarketSpec,
    seq: u64,
    b: &Batch,
    with_private: bool,
) {
    let mut r = MarketLines {
        out,
        m,
        spec,
        seq,
        b,
        with_private,
        changes: Vec::new(),
        first: None,
        last: 0,
    };
    for e in &b.market_events {
        r.event(e);
    }
    r.finish();
}

/// One entry's rendering in progress.
struct MarketLines<'a> {
    out: &'a mut Rendered,
    m: usize,
    spec: &'a MarketSpec,
    seq: u64,
    b: &'a Batch,
    with_private: bool,
    /// The level changes so far, for the closing `book_update`, with the first and last
    /// book sequence among them.
    changes: Vec<(Side, Price, Qty)>,
    first: Option<u64>,
    last: u64,
}

/// The client order id the entry carries for `id`, if any.
fn client_id(b: &Batch, id: OrderId) -> Option<String> {
    b.client_ids
        .iter()
        .find(|(o, _)| *o == id)
        .map(|(_, c)| c.clone())
}

impl MarketLines<'_> {
    fn push(&mut self, line: String) {
        self.out.push(Some(self.m), line);
    }

    /// A private line, or nothing when private events are off (`fields` is only built then).
    fn private(&mut self, kind: &str, fields: impl FnOnce() -> Value) {
        if !self.with_private {
            return;
        }
        let (seq, time, symbol) = (self.seq, self.b.time.0, &self.spec.symbol);
        let mut v = json!({"type": kind, "seq": seq, "time": time, "symbol": symbol});
        if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields()) {
            o.extend(f);
        }
        self.push(v.to_string());
    }

    fn event(&mut self, e: &MarketEvent) {
        match e {
            MarketEvent::Accepted(a) => self.accepted(a),
            MarketEvent::Parked { order_id } => {
                self.private("order_parked", || json!({"order_id": order_id.0}))
            }
            MarketEvent::MarkSet { mark, index_stale } => self.private(
                "mark",
                || json!({"mark_price": money(*mark), "index_stale": index_stale}),
            ),
            MarketEvent::Book(be) => self.book(*be),
            MarketEvent::Linked { entry, orders } => self.private("tpsl_linked", || {
                json!({"entry_order_id": entry.map(|e| e.0),
                    "order_ids": orders.iter().map(|o| o.0).collect::<Vec<_>>()})
            }),
        }
    }

    /// `order_accepted`, and the public `liquidation` line of a liquidation order.
    fn accepted(&mut self, a: &Order) {
        let (spec, b) = (self.spec, self.b);
        self.private("order_accepted", || {
            json!({"order_id": a.order_id.0, "account_id": a.account.0,
                "client_order_id": client_id(b, a.order_id), "side": name(&a.terms.side),
                "order_type": name(&a.terms.order_type), "time_in_force": name(&a.terms.tif),
                "price": a.terms.price.map(|p| px(spec, p)),
                "trigger_price": a.terms.trigger_price.map(|p| px(spec, p)),
                "quantity": a.terms.qty.text(spec.lot_size), "reduce_only": a.terms.reduce_only,
                "close_position": a.terms.close_position,
                "position_side": a.terms.position_side.as_str(), "liquidation": a.liquidation})
        });
        if let (true, Some(price)) = (a.liquidation, a.terms.price) {
            let l = publish::liquidation(spec, a.terms.side, price, a.terms.qty, b.time.0);
            self.push(l.to_string());
        }
    }

    fn book(&mut self, be: BookEvent) {
        let spec = self.spec;
        match be {
            BookEvent::Level {
                side,
                price,
                qty,
                sequence,
            } => {
                self.first.get_or_insert(sequence);
                self.last = sequence;
                self.changes.push((side, price, qty));
            }
            BookEvent::Trade(t) => {
                let tick = TradeTick {
                    trade_id: t.trade_id,
                    price: t.price,
                    qty: t.qty,
                    taker_side: t.taker_side,
                    time: self.b.time,
                };
                self.push(publish::trade(spec, &tick).to_string());
            }
            BookEvent::Rested {
                order_id,
                account,
                side,
                price,
                qty,
            } => self.private("order_rested", || {
                json!({"order_id": order_id.0, "account_id": account.0,
                    "side": name(&side), "price": px(spec, price), "quantity": qty.text(spec.lot_size)})
            }),
            BookEvent::Closed {
                order_id,
                account,
                qty,
                reason,
            } => self.private("order_closed", || {
                json!({"order_id": order_id.0, "account_id": account.0,
                    "status": name(&reason.status()), "reason": name(&reason),
                    "quantity": qty.text(spec.lot_size)})
            }),
            BookEvent::Amended {
                order_id,
                price,
                remaining,
                requeued,
            } => self.private("order_amended", || {
                json!({"order_id": order_id.0, "price": px(spec, price),
                    "remaining": remaining.text(spec.lot_size), "requeued": requeued})
            }),
            BookEvent::Triggered { order_id } => {
                self.private("order_triggered", || json!({"order_id": order_id.0}))
            }
            BookEvent::TriggerAmended {
                order_id,
                trigger_price,
                price,
                qty,
            } => self.private("trigger_amended", || {
                json!({"order_id": order_id.0, "trigger_price": px(spec, trigger_price),
                    "price": price.map(|p| px(spec, p)), "quantity": qty.text(spec.lot_size)})
            }),
            BookEvent::Sized { order_id, qty } => self.private("order_sized", || {
                json!({"order_id": order_id.0, "quantity": qty.text(spec.lot_size)})
            }),
        }
    }

    /// The entry's level changes as one `book_update`, after its other lines.
    fn finish(self) {
        if let Some(first) = self.first {
            let u = publish::book_update(self.spec, self.last, first - 1, &self.changes);
            self.out.push(Some(self.m), u.to_string());
        }
    }
}
