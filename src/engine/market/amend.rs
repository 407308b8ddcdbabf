//! Amends in one market: a resting order's price and total quantity (the book keeps or gives up
//! its priority), and a stop or take-profit order's terms while it waits for its trigger.

use super::{MarketEngine, MarketEvent};
use crate::book::Book;
use crate::domain::{
    AccountId, NumberFault, NumberFaultKind, OrderId, Price, Qty, Reject, Timestamp,
};

impl MarketEngine {
    /// Amend a resting order to a new price and/or a new **total** quantity (API.md `PATCH`):
    /// the remaining quantity becomes `total − filled`, counted by this market (fills the
    /// account side has not settled yet count too), and a total not above what is filled is
    /// `INVALID_QUANTITY`. See `Book::amend` for priority and re-entry. An order that is no
    /// longer open here is `ORDER_NOT_FOUND` (the account side tells a closed one apart).
    pub fn amend(
        &mut self,
        account: AccountId,
        id: OrderId,
        price: Option<Price>,
        total: Option<Qty>,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) -> Result<(), Reject> {
        if self.book.triggers().contains(id) {
            return self.amend_trigger(account, id, None, price, total, now, out);
        }
        let node = match self.book.order(id) {
            Some(n) if n.account == account => *n,
            _ => return Err(Reject::OrderNotFound),
        };
        if let Some(p) = price {
            self.spec.check_band(node.side, p, self.mark)?;
        }
        let remaining = match total {
            Some(t) if t <= node.filled() => {
                return Err(Reject::InvalidQuantity(NumberFault::new(
                    NumberFaultKind::NotAboveFilled,
                    self.spec.qty_decimal(t).to_string(),
                )))
            }
            Some(t) => Some(t - node.filled()),
            None => None,
        };
        self.scratch.clear();
        let mut events = std::mem::take(&mut self.scratch);
        let position = self.position(account, node.flags.position_side());
        let r = self
            .book
            .amend(id, account, price, remaining, position, &mut events);
        self.scratch = events;
        r?;
        self.after_book(now, out);
        Ok(())
    }

    /// Amend a stop or take-profit order waiting for its trigger: a new trigger price, limit
    /// price (the band applies) and total quantity, checked by R1 for the order's kind. A
    /// trigger the watched price already passed is `WOULD_TRIGGER_IMMEDIATELY`; the order
    /// keeps its id and its place in the open-order count.
    #[allow(clippy::too_many_arguments)] // the amend's fields
    pub fn amend_trigger(
        &mut self,
        account: AccountId,
        id: OrderId,
        trigger: Option<Price>,
        price: Option<Price>,
        total: Option<Qty>,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) -> Result<(), Reject> {
        let mut t = match self.book.triggers().get(id) {
            Some(t) if t.order.account == account => *t,
            _ => return Err(Reject::OrderNotFound),
        };
        if let Some(p) = price {
            self.spec.check_band(t.order.side, p, self.mark)?;
            t.order.price = Some(p);
        }
        if let Some(tr) = trigger {
            t.trigger_price = tr;
        }
        if let Some(q) = total {
            t.order.qty = q;
        }
        if Book::would_fire(&t, self.watched(t.trigger_by)) {
            return Err(Reject::WouldTriggerImmediately);
        }
        self.scratch.clear();
        let mut events = std::mem::take(&mut self.scratch);
        self.book.amend_trigger(t, &mut events);
        self.scratch = events;
        self.after_book(now, out);
        Ok(())
    }
}
