//! R1 of the order commands (docs/ARCHITECTURE.md §3): what an order, amend, cancel or
//! cancel-all must pass at the account side before it goes to its market, and the hold or
//! reservation that keeps it true until R2 (`settle.rs`). The position mode's reading of an
//! order's terms (docs/RULES.md §3b) is here too: R1 is where it is checked.

use rust_decimal::Decimal;

use super::{same_request, Accounts, AmendOrder, AmendTicket, PlaceTicket, Placed};
use crate::domain::reject::{NotAmendable, TpSlFault};
use crate::domain::{
    AccountId, NumberFault, NumberFaultKind, Order, OrderId, OrderRequest, OrderStatus, OrderTerms,
    OrderType, PositionSide, Price, Qty, Reject, Side, Timestamp, TpSl,
};
use crate::domain::{Leg, MarketId, RequestFault};
use crate::engine::market::{Linked, PlaceOrder};
use crate::engine::orders::{ClientIdCheck, OrderRecord, OrderReport};

impl Accounts {
    /// The terms of a new order as `account`'s position mode reads them (docs/RULES.md §3b):
    /// its position side must be a leg of the mode (`POSITION_SIDE_MISMATCH`); in hedge mode
    /// `reduce_only` is not taken (`INVALID_REQUEST`) and an order that closes its leg
    /// (`sell` + `long`, `buy` + `short`) is reduce-only.
    fn leg_terms(&self, account: AccountId, t: &OrderTerms) -> Result<OrderTerms, Reject> {
        let mode = self.ledger.position_mode(account);
        if !mode.admits(t.position_side) {
            return Err(Reject::PositionSideMismatch);
        }
        if !mode.is_hedge() {
            return Ok(*t);
        }
        if t.close_position {
            // Close-position orders are reduce-only by construction; in hedge mode they must
            // be the side that closes their leg.
            if !t.position_side.closed_by(t.side) {
                return Err(Reject::PositionSideMismatch);
            }
            return Ok(*t);
        }
        if t.reduce_only {
            return Err(Reject::InvalidRequest(RequestFault::ReduceOnlyInHedgeMode));
        }
        Ok(OrderTerms {
            reduce_only: t.position_side.closed_by(t.side),
            ..*t
        })
    }

    /// R1 of a new order: the client order id, the order id, the margin check and hold.
    pub fn place(
        &mut self,
        account: AccountId,
        market: MarketId,
        o: &OrderRequest,
        now: Timestamp,
    ) -> Result<Placed, Reject> {
        self.known(market)?;
        if !self.ledger.has_account(account) {
            return Err(Reject::AccountNotFound);
        }
        let terms = self.leg_terms(account, &o.terms)?;
        if terms.reduce_only && !o.attached.is_empty() {
            // A hedge-mode closing order: R1 made it reduce-only.
            return Err(Reject::InvalidTpSl(TpSlFault::OnClosingOrder));
        }
        if let Some(cid) = &o.client_order_id {
            match self
                .orders
                .check_client_id(account, cid, |r| same_request(r, market, &terms))
            {
                ClientIdCheck::Free => {}
                ClientIdCheck::Retry(order) => {
                    return Ok(Placed::Retry(Box::new(OrderReport {
                        order: *order,
                        fills: Vec::new(),
                        retry: true,
                    })))
                }
                ClientIdCheck::Conflict => return Err(Reject::DuplicateClientOrderId),
            }
        }
        let t = &terms;
        let leg = Leg::new(market, t.position_side);
        let (margin_price, protect) = self.margin_price(account, leg, t);
        let id = self.orders.assign_id(market);
        let mut r1 = Vec::new();
        // A close-position order reserves nothing (docs/RULES.md §2a): no hold, so the margin
        // check's refusal of a pool in liquidation is made here.
        if t.close_position && self.order_pool_liquidating(account, leg) {
            return Err(Reject::AccountInLiquidation);
        }
        if !t.close_position {
            self.ledger.pre_trade(
                account,
                market,
                t.side,
                t.qty,
                margin_price,
                t.reduce_only,
                t.position_side,
                id,
                now,
                &mut r1,
            )?;
        }
        let linked = self.attached(account, market, &o.attached, t);
        let place = PlaceOrder {
            order: Order {
                order_id: id,
                account,
                terms,
                liquidation: false,
            },
            protect,
            linked,
        };
        let ticket = PlaceTicket {
            account,
            order_id: id,
            client_order_id: o.client_order_id.clone(),
            r1,
            epoch: self.epoch(account, leg),
            leg,
        };
        Ok(Placed::Send(place, ticket))
    }

    /// The take-profit / stop-loss orders placed with an entry of `entry` terms, each with its
    /// id (they reserve nothing: docs/RULES.md §2a).
    fn attached(
        &mut self,
        account: AccountId,
        market: MarketId,
        tpsl: &TpSl,
        entry: &OrderTerms,
    ) -> Linked {
        if tpsl.is_empty() {
            return Linked::None;
        }
        let mut orders = tpsl
            .orders(entry.side, entry.position_side)
            .map(|terms| Order {
                order_id: self.orders.assign_id(market),
                account,
                terms,
                liquidation: false,
            });
        Linked::Entry([orders.next(), orders.next()])
    }

    /// R1 of a take-profit / stop-loss on the position of `account`'s leg `position_side` in
    /// `market` (docs/RULES.md §2a): close-position orders on the side that closes the
    /// position now, one-cancels-other when both are given. They reserve nothing; the market
    /// refuses a trigger the price already passed (`WOULD_TRIGGER_IMMEDIATELY`). A flat leg
    /// is `NO_POSITION`: there is nothing to protect.
    pub fn place_tpsl(
        &mut self,
        account: AccountId,
        market: MarketId,
        position_side: PositionSide,
        tpsl: &TpSl,
    ) -> Result<Placed, Reject> {
        self.known(market)?;
        if !self.ledger.has_account(account) {
            return Err(Reject::AccountNotFound);
        }
        if tpsl.is_empty() {
            return Err(Reject::InvalidRequest(RequestFault::TriggerRequired));
        }
        if !self.ledger.position_mode(account).admits(position_side) {
            return Err(Reject::PositionSideMismatch);
        }
        let leg = Leg::new(market, position_side);
        if self.order_pool_liquidating(account, leg) {
            return Err(Reject::AccountInLiquidation);
        }
        let side = match self.ledger.position_qty(account, leg) {
            0 => return Err(Reject::NoPosition),
            q if q > 0 => Side::Buy,
            _ => Side::Sell,
        };
        let mut orders = tpsl.orders(side, position_side).map(|terms| Order {
            order_id: self.orders.assign_id(market),
            account,
            terms,
            liquidation: false,
        });
        // expect: `tpsl` is not empty, so it makes at least one order.
        let first = orders.next().expect("a take-profit or a stop-loss");
        let linked = orders.next().map_or(Linked::None, Linked::Pair);
        let ticket = PlaceTicket {
            account,
            order_id: first.order_id,
            client_order_id: None,
            r1: Vec::new(),
            epoch: self.epoch(account, leg),
            leg,
        };
        let place = PlaceOrder {
            order: first,
            protect: None,
            linked,
        };
        Ok(Placed::Send(place, ticket))
    }

    /// The price R1 reserves margin at, and for a reduce-only market order the worst price
    /// the market may fill it at (its bankruptcy price: docs/RULES.md §3).
    fn margin_price(
        &self,
        account: AccountId,
        leg: Leg,
        t: &OrderTerms,
    ) -> (Decimal, Option<Price>) {
        let mut margin_price = self.ledger.order_margin_price(leg.market, t);
        let mut protect = None;
        if t.reduce_only && t.order_type == OrderType::Market {
            // A reduce-only market order may not fill beyond the bankruptcy price: instead of
            // refusing it, the market caps its fills there.
            if let Some(bound) = self.ledger.reduce_only_bound(account, leg, t.side) {
                protect = self.ledger.reduce_only_protection(account, leg, t.side);
                margin_price = match t.side {
                    crate::domain::Side::Sell => margin_price.max(bound),
                    crate::domain::Side::Buy => margin_price.min(bound),
                };
            }
        }
        (margin_price, protect)
    }

    /// The open order `id` of `account` in `market`, or `ORDER_NOT_FOUND` / `ORDER_NOT_OPEN`.
    fn own_order(
        &self,
        account: AccountId,
        market: MarketId,
        id: OrderId,
    ) -> Result<&OrderRecord, Reject> {
        match self.orders.get(market, id) {
            Some(r) if r.order.account == account && r.status.is_closed() => {
                Err(Reject::OrderNotOpen)
            }
            Some(r) if r.order.account == account => Ok(r),
            _ => Err(Reject::OrderNotFound),
        }
    }

    /// R1 of an amend (`PATCH`): checked as the order it would become and reserved (the
    /// union of old and new) until R2. `qty` is the new total quantity; `trigger` a new
    /// trigger price, for an order still waiting for it.
    pub fn amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
        trigger: Option<Price>,
    ) -> Result<(AmendOrder, AmendTicket), Reject> {
        let r = self.own_order(account, market, order_id)?;
        if r.status == OrderStatus::Untriggered {
            return self.amend_untriggered(account, market, order_id, price, qty, trigger);
        }
        if trigger.is_some() {
            return Err(Reject::OrderNotAmendable(NotAmendable::NoTrigger));
        }
        let Some(new_price) = price.or(r.order.terms.price) else {
            return Err(Reject::OrderNotAmendable(NotAmendable::MarketOrder));
        };
        // What the order's open quantity becomes as far as this side knows; the market
        // applies the total against its own filled count (fills on their way only lower it).
        let remaining = match qty {
            Some(q) if q <= r.filled => {
                let text = self.ledger.spec(market).qty_decimal(q).to_string();
                let fault = NumberFault::new(NumberFaultKind::NotAboveFilled, text);
                return Err(Reject::InvalidQuantity(fault));
            }
            Some(q) => q - r.filled,
            None => r.remaining,
        };
        let price_dec = self.ledger.spec(market).price_decimal(new_price);
        let reservation = self.next_reservation;
        self.ledger
            .reserve_amend(account, market, order_id, remaining, price_dec, reservation)?;
        let amend = AmendOrder {
            account,
            order_id,
            price,
            total: qty,
            trigger: None,
        };
        Ok(self.reserved(amend))
    }

    /// An amend that passed R1 with its reservation (number `next_reservation`, now taken).
    fn reserved(&mut self, a: AmendOrder) -> (AmendOrder, AmendTicket) {
        let reservation = self.next_reservation;
        self.next_reservation += 1;
        let ticket = AmendTicket {
            account: a.account,
            order_id: a.order_id,
            reservation,
        };
        (a, ticket)
    }

    /// R1 of an amend of a stop or take-profit order waiting for its trigger: a new trigger,
    /// limit price (the limit types only) and total quantity (not for a close-position order,
    /// which has none), checked and reserved as the order it would become, like a new one.
    fn amend_untriggered(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        price: Option<Price>,
        qty: Option<Qty>,
        trigger: Option<Price>,
    ) -> Result<(AmendOrder, AmendTicket), Reject> {
        let r = self.own_order(account, market, order_id)?;
        let t = r.order.terms;
        if price.is_some() && !t.order_type.has_price() {
            return Err(Reject::OrderNotAmendable(NotAmendable::MarketOrder));
        }
        if qty.is_some() && t.close_position {
            return Err(Reject::OrderNotAmendable(NotAmendable::ClosePosition));
        }
        let terms = OrderTerms {
            price: price.or(t.price),
            qty: qty.unwrap_or(t.qty),
            trigger_price: trigger.or(t.trigger_price),
            ..t
        };
        let reservation = self.next_reservation;
        if !t.close_position {
            let leg = Leg::new(market, t.position_side);
            let (margin_price, _) = self.margin_price(account, leg, &terms);
            self.ledger.reserve_amend(
                account,
                market,
                order_id,
                terms.qty,
                margin_price,
                reservation,
            )?;
        }
        let amend = AmendOrder {
            account,
            order_id,
            price,
            total: qty,
            trigger,
        };
        Ok(self.reserved(amend))
    }

    /// R1 of a cancel: the order must be this account's and open (as far as R2 has seen).
    pub fn cancel(
        &self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
    ) -> Result<(), Reject> {
        self.known(market)?;
        self.own_order(account, market, order_id).map(drop)
    }

    /// R1 of a cancel-all: the account's open orders in `market`.
    pub fn cancel_all(&self, account: AccountId, market: MarketId) -> Result<Vec<OrderId>, Reject> {
        self.known(market)?;
        Ok(self.orders.open_ids(account, market))
    }
}
