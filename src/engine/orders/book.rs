//! The order records' side of the book events of R2 (live and in replay): fills with their
//! fee and realized PnL, resting, amends, closes and triggers.
//!
//! # Invariants
//! - An event about an order this store does not hold (a liquidation's) changes nothing.
//! - A fill keeps `qty = filled + remaining + closed_qty` of both orders and is added to the
//!   order's fills and its account's bounded fill history; an order it closes is retired.

use super::{Liquidity, OrderFill, OrderStore};
use crate::domain::{
    AccountId, Amount, BookEvent, CloseReason, MarketId, OrderId, OrderStatus, Qty, Timestamp,
    Trade,
};

impl OrderStore {
    /// R2: apply one book event of `market`. Fills get their fee and realized PnL from
    /// `settled(order_id) -> (fee, realized)` (the ledger's outcome for that side).
    pub fn apply_book(
        &mut self,
        market: MarketId,
        e: &BookEvent,
        settled: impl Fn(OrderId) -> (Amount, Amount),
        now: Timestamp,
    ) {
        match *e {
            BookEvent::Trade(t) => self.apply_trade(market, &t, settled, now),
            BookEvent::Rested { order_id, qty, .. } => {
                if let Some(r) = self.orders.get_mut(&(market, order_id)) {
                    r.remaining = qty;
                    r.status = r.open_status();
                    r.updated_at = now;
                }
            }
            BookEvent::Amended {
                order_id,
                price,
                remaining,
                ..
            } => {
                if let Some(r) = self.orders.get_mut(&(market, order_id)) {
                    r.order.terms.price = Some(price);
                    r.remaining = remaining;
                    r.order.terms.qty = r.filled + remaining;
                    r.updated_at = now;
                }
            }
            BookEvent::Closed {
                order_id, reason, ..
            } => {
                if let Some(r) = self.orders.get_mut(&(market, order_id)) {
                    r.remaining = Qty::ZERO;
                    r.status = reason.status();
                    r.reason = Some(reason);
                    r.updated_at = now;
                    self.retire(market, order_id);
                }
            }
            BookEvent::Triggered { order_id } => {
                if let Some(r) = self.orders.get_mut(&(market, order_id)) {
                    r.status = OrderStatus::New;
                    r.remaining = Qty::ZERO;
                    r.updated_at = now;
                }
            }
            BookEvent::TriggerAmended {
                order_id,
                trigger_price,
                price,
                qty,
            } => {
                if let Some(r) = self.orders.get_mut(&(market, order_id)) {
                    r.order.terms.trigger_price = Some(trigger_price);
                    r.order.terms.price = price;
                    r.order.terms.qty = qty;
                    r.remaining = qty;
                    r.updated_at = now;
                }
            }
            BookEvent::Sized { order_id, qty } => {
                // A close-position order takes its leg's whole position as it fires.
                if let Some(r) = self.orders.get_mut(&(market, order_id)) {
                    r.order.terms.qty = qty;
                    r.updated_at = now;
                }
            }
            BookEvent::Level { .. } => {}
        }
    }

    /// R2: a fill of the taker and the maker order of `t` (an order this store does not hold,
    /// e.g. a liquidation's, is skipped).
    fn apply_trade(
        &mut self,
        market: MarketId,
        t: &Trade,
        settled: impl Fn(OrderId) -> (Amount, Amount),
        now: Timestamp,
    ) {
        for (id, liquidity, remaining) in [
            (t.taker_order, Liquidity::Taker, None),
            (t.maker.order_id, Liquidity::Maker, Some(t.maker.remaining)),
        ] {
            let (fee, realized) = settled(id);
            let Some(r) = self.orders.get_mut(&(market, id)) else {
                continue;
            };
            r.filled += t.qty;
            r.filled_ticks_lots += i128::from(t.price.0) * i128::from(t.qty.0);
            r.remaining = match remaining {
                Some(rem) => rem,
                // A taker: a requeued amend re-enters with its remaining set, and its
                // fills eat into it (a new order's remaining is set when it rests).
                None => Qty((r.remaining.0 - t.qty.0).max(0)),
            };
            r.status = if r.filled == r.order.terms.qty {
                OrderStatus::Filled
            } else if remaining == Some(Qty::ZERO) {
                // A maker that left the book with less than its quantity filled: a
                // reduce-only order capped to the position when it rested, whose excess
                // was closed from the start.
                r.reason = Some(CloseReason::ReduceOnly);
                OrderStatus::Expired
            } else {
                r.open_status()
            };
            r.updated_at = now;
            let fill = OrderFill {
                trade_id: t.trade_id,
                order_id: id,
                market,
                side: r.order.terms.side,
                price: t.price,
                qty: t.qty,
                fee,
                liquidity,
                realized_pnl: realized,
                time: now,
                position_side: r.order.terms.position_side,
            };
            r.fills.push(fill);
            let (account, closed) = (r.order.account, r.status.is_closed());
            self.remember_fill(account, fill);
            if closed {
                self.retire(market, id);
            }
        }
    }

    /// Add `fill` to `account`'s fill history, forgetting the oldest beyond the retention.
    fn remember_fill(&mut self, account: AccountId, fill: OrderFill) {
        let hist = self.fills.entry(account).or_default();
        while hist.len() >= self.retention.fills.max(1) {
            hist.pop_front();
        }
        hist.push_back(fill);
    }
}
