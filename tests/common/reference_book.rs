//! A deliberately naive reference order book: a flat `Vec` of orders, the best maker found by a
//! linear scan every time. Slow and obviously right; the model tests run the same command
//! stream through it and through `perpx::book::Book` and require identical events, outcomes
//! and depth after every command. The book benchmark also uses it as a yardstick.

#![allow(dead_code)]

use perpx::book::{BookOrder, Depth, TakeBounds, TakerOutcome};
use perpx::domain::{
    AccountId, BookEvent, CloseReason, Maker, OrderId, Price, Qty, Reject, Side, Stp, TimeInForce,
    Trade, TradeId,
};

#[derive(Clone, Debug)]
struct RefOrder {
    id: OrderId,
    account: AccountId,
    side: Side,
    price: Price,
    remaining: Qty,
    reduce_only: bool,
    post_only: bool,
    stp: Stp,
    arrival: u64,
}

#[derive(Clone, Debug, Default)]
pub struct RefBook {
    orders: Vec<RefOrder>,
    arrival: u64,
    sequence: u64,
    next_trade_id: u64,
    pub max_open_orders: u32,
}

/// Better-first ordering key of a resting order: price priority, then time.
fn priority(o: &RefOrder) -> (i64, u64) {
    let p = match o.side {
        Side::Buy => -o.price.0,
        Side::Sell => o.price.0,
    };
    (p, o.arrival)
}

impl RefBook {
    pub fn new(max_open_orders: u32) -> RefBook {
        RefBook {
            next_trade_id: 1,
            max_open_orders,
            ..RefBook::default()
        }
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn ids(&self) -> Vec<OrderId> {
        self.orders.iter().map(|o| o.id).collect()
    }

    pub fn owner(&self, id: OrderId) -> Option<AccountId> {
        self.orders.iter().find(|o| o.id == id).map(|o| o.account)
    }

    fn open_count(&self, a: AccountId) -> u32 {
        self.orders.iter().filter(|o| o.account == a).count() as u32
    }

    fn level_total(&self, side: Side, price: Price) -> Qty {
        Qty(self
            .orders
            .iter()
            .filter(|o| o.side == side && o.price == price)
            .map(|o| o.remaining.0)
            .sum())
    }

    fn level_event(&mut self, side: Side, price: Price, out: &mut Vec<BookEvent>) {
        self.sequence += 1;
        out.push(BookEvent::Level {
            side,
            price,
            qty: self.level_total(side, price),
            sequence: self.sequence,
        });
    }

    /// Index of the best resting order on `side`.
    fn best(&self, side: Side) -> Option<usize> {
        (0..self.orders.len())
            .filter(|&i| self.orders[i].side == side)
            .min_by_key(|&i| priority(&self.orders[i]))
    }

    pub fn depth(&self, n: usize) -> Depth {
        let mut d = Depth {
            sequence: self.sequence,
            ..Depth::default()
        };
        for (side, dst) in [(Side::Buy, &mut d.bids), (Side::Sell, &mut d.asks)] {
            let mut prices: Vec<Price> = self
                .orders
                .iter()
                .filter(|o| o.side == side)
                .map(|o| o.price)
                .collect();
            prices.sort();
            prices.dedup();
            if side == Side::Buy {
                prices.reverse();
            }
            for p in prices.into_iter().take(n) {
                dst.push((p, self.level_total(side, p)));
            }
        }
        d
    }

    fn would_take(&self, side: Side, limit: Price) -> bool {
        self.best(side.opposite())
            .is_some_and(|i| side.accepts(limit.0, self.orders[i].price.0))
    }

    pub fn submit(
        &mut self,
        o: BookOrder,
        bounds: &TakeBounds,
        out: &mut Vec<BookEvent>,
    ) -> Result<TakerOutcome, Reject> {
        if self.orders.iter().any(|r| r.id == o.id) {
            return Err(Reject::DuplicateOrderId);
        }
        let mut want = o.qty;
        if o.reduce_only {
            let reducible = match o.side {
                Side::Sell => o.position.0.max(0),
                Side::Buy => (-o.position.0).max(0),
            };
            if reducible == 0 {
                return Err(Reject::ReduceOnlyRejected);
            }
            want = Qty(want.0.min(reducible));
        }
        let capped = o.qty - want;
        let limit = o.price.unwrap_or(bounds.limit(o.side));
        let may_rest =
            o.price.is_some() && matches!(o.tif, TimeInForce::Gtc | TimeInForce::PostOnly);
        if may_rest && self.open_count(o.account) >= self.max_open_orders {
            return Err(Reject::TooManyOpenOrders);
        }
        if o.price.is_some() && o.tif == TimeInForce::PostOnly && self.would_take(o.side, limit) {
            return Err(Reject::PostOnlyWouldTake);
        }
        if o.price.is_some() && o.tif == TimeInForce::Fok && self.fillable(&o, limit) < want {
            return Ok(close(o, Qty(0), o.qty, CloseReason::FokUnfillable, out));
        }
        let (filled, stopped) = self.take(&o, limit, want, out);
        let left = want - filled;
        if stopped && left.0 > 0 {
            return Ok(close(o, filled, left + capped, CloseReason::SelfTrade, out));
        }
        if left.0 == 0 {
            if capped.0 == 0 {
                return Ok(TakerOutcome {
                    filled,
                    ..TakerOutcome::default()
                });
            }
            return Ok(close(o, filled, capped, CloseReason::ReduceOnly, out));
        }
        let reason = match (o.price, o.tif) {
            (None, _) => CloseReason::MarketRemainder,
            (Some(_), TimeInForce::Ioc) => CloseReason::IocRemainder,
            (Some(_), TimeInForce::Fok) => CloseReason::FokUnfillable,
            (Some(price), _) => {
                self.arrival += 1;
                self.orders.push(RefOrder {
                    id: o.id,
                    account: o.account,
                    side: o.side,
                    price,
                    remaining: left,
                    reduce_only: o.reduce_only,
                    post_only: o.tif == TimeInForce::PostOnly,
                    stp: o.stp,
                    arrival: self.arrival,
                });
                self.level_event(o.side, price, out);
                out.push(BookEvent::Rested {
                    order_id: o.id,
                    account: o.account,
                    side: o.side,
                    price,
                    qty: left,
                });
                return Ok(TakerOutcome {
                    filled,
                    rested: left,
                    closed: capped,
                    reason: (capped.0 > 0).then_some(CloseReason::ReduceOnly),
                });
            }
        };
        Ok(close(o, filled, left + capped, reason, out))
    }

    fn fillable(&self, o: &BookOrder, limit: Price) -> Qty {
        let mut makers: Vec<&RefOrder> = self
            .orders
            .iter()
            .filter(|m| m.side == o.side.opposite() && o.side.accepts(limit.0, m.price.0))
            .collect();
        makers.sort_by_key(|m| priority(m));
        let mut got = 0;
        for m in makers {
            if m.account == o.account && o.stp != Stp::None {
                if o.stp == Stp::ExpireMaker {
                    continue;
                }
                break;
            }
            got += m.remaining.0;
        }
        Qty(got)
    }

    fn take(
        &mut self,
        o: &BookOrder,
        limit: Price,
        mut want: Qty,
        out: &mut Vec<BookEvent>,
    ) -> (Qty, bool) {
        let opp = o.side.opposite();
        let mut filled = Qty(0);
        let mut touched: Option<Price> = None;
        let mut stopped = false;
        while want.0 > 0 {
            let Some(i) = self.best(opp) else { break };
            let price = self.orders[i].price;
            if !o.side.accepts(limit.0, price.0) {
                break;
            }
            if let Some(t) = touched.filter(|&t| t != price) {
                self.level_event(opp, t, out);
                touched = None;
            }
            let m = self.orders[i].clone();
            if m.account == o.account && o.stp != Stp::None {
                if matches!(o.stp, Stp::ExpireMaker | Stp::ExpireBoth) {
                    self.orders.remove(i);
                    out.push(BookEvent::Closed {
                        order_id: m.id,
                        account: m.account,
                        qty: m.remaining,
                        reason: CloseReason::SelfTrade,
                    });
                    touched = Some(price);
                }
                if o.stp != Stp::ExpireMaker {
                    stopped = true;
                    break;
                }
                continue;
            }
            let q = Qty(want.0.min(m.remaining.0));
            self.orders[i].remaining -= q;
            want -= q;
            filled += q;
            touched = Some(price);
            let left = self.orders[i].remaining;
            out.push(BookEvent::Trade(Trade {
                maker_position: Default::default(),
                taker_position: Default::default(),
                trade_id: TradeId(self.next_trade_id),
                price,
                qty: q,
                taker_side: o.side,
                taker_order: o.id,
                taker_account: o.account,
                maker: Maker {
                    order_id: m.id,
                    account: m.account,
                    remaining: left,
                },
            }));
            self.next_trade_id += 1;
            if left.0 == 0 {
                self.orders.remove(i);
            }
        }
        if let Some(t) = touched {
            self.level_event(opp, t, out);
        }
        (filled, stopped)
    }

    pub fn cancel(
        &mut self,
        id: OrderId,
        account: Option<AccountId>,
        reason: CloseReason,
        out: &mut Vec<BookEvent>,
    ) -> Result<Qty, Reject> {
        let i = self
            .orders
            .iter()
            .position(|o| o.id == id && account.is_none_or(|a| a == o.account))
            .ok_or(Reject::OrderNotFound)?;
        let o = self.orders.remove(i);
        self.level_event(o.side, o.price, out);
        out.push(BookEvent::Closed {
            order_id: id,
            account: o.account,
            qty: o.remaining,
            reason,
        });
        Ok(o.remaining)
    }

    pub fn amend(
        &mut self,
        id: OrderId,
        account: AccountId,
        price: Option<Price>,
        remaining: Option<Qty>,
        position: Qty,
        out: &mut Vec<BookEvent>,
    ) -> Result<TakerOutcome, Reject> {
        let i = self
            .orders
            .iter()
            .position(|o| o.id == id && o.account == account)
            .ok_or(Reject::OrderNotFound)?;
        let o = self.orders[i].clone();
        let new_price = price.unwrap_or(o.price);
        let new_qty = remaining.unwrap_or(o.remaining);
        if new_qty.0 <= 0 {
            return Err(Reject::InvalidQuantity(perpx::domain::NumberFault::new(
                perpx::domain::NumberFaultKind::NotAboveFilled,
                "0",
            )));
        }
        if new_price == o.price && new_qty <= o.remaining {
            if new_qty < o.remaining {
                self.orders[i].remaining = new_qty;
                self.level_event(o.side, o.price, out);
            }
            out.push(BookEvent::Amended {
                order_id: id,
                price: new_price,
                remaining: new_qty,
                requeued: false,
            });
            return Ok(TakerOutcome {
                rested: new_qty,
                ..TakerOutcome::default()
            });
        }
        if o.post_only && self.would_take(o.side, new_price) {
            return Err(Reject::PostOnlyWouldTake);
        }
        let reducible = match o.side {
            Side::Sell => position.0.max(0),
            Side::Buy => (-position.0).max(0),
        };
        if o.reduce_only && reducible == 0 {
            return Err(Reject::ReduceOnlyRejected);
        }
        self.orders.remove(i);
        self.level_event(o.side, o.price, out);
        out.push(BookEvent::Amended {
            order_id: id,
            price: new_price,
            remaining: new_qty,
            requeued: true,
        });
        let n = BookOrder {
            position_side: Default::default(),
            id,
            account,
            side: o.side,
            price: Some(new_price),
            qty: new_qty,
            tif: if o.post_only {
                TimeInForce::PostOnly
            } else {
                TimeInForce::Gtc
            },
            stp: o.stp,
            reduce_only: o.reduce_only,
            position,
            close_position: false,
        };
        Ok(self
            .submit(n, &TakeBounds::UNBOUNDED, out)
            .expect("reference amend re-entry"))
    }
}

fn close(
    o: BookOrder,
    filled: Qty,
    closed: Qty,
    reason: CloseReason,
    out: &mut Vec<BookEvent>,
) -> TakerOutcome {
    out.push(BookEvent::Closed {
        order_id: o.id,
        account: o.account,
        qty: closed,
        reason,
    });
    TakerOutcome {
        filled,
        rested: Qty(0),
        closed,
        reason: Some(reason),
    }
}
