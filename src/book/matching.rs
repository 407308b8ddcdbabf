//! Order entry, matching, cancel and amend (docs/RULES.md §2).
//!
//! The matching loop touches only the opposite side's best levels, the slab and the id index;
//! it allocates nothing (events go to the caller's vector, which it reuses).

use super::side::Level;
use super::{Book, BookOrder, Node, TakeBounds, TakerOutcome, NIL};
use crate::domain::{
    AccountId, BookEvent, CloseReason, Maker, OrderId, PositionSide, Price, Qty, Reject, Side, Stp,
    TimeInForce, Trade, TradeId,
};

/// The taker's identity inside the matching loop.
#[derive(Clone, Copy)]
struct Taker {
    id: OrderId,
    account: AccountId,
    side: Side,
    stp: Stp,
    leg: PositionSide,
}

impl Book {
    /// Enter an order: match it against the book, then rest, expire or close its remainder.
    ///
    /// Rejections (nothing changed, nothing emitted): `DuplicateOrderId`, `ReduceOnlyRejected`
    /// (reduce-only with no position to reduce on this side), `TooManyOpenOrders` (an order
    /// that could rest while the account is at `max_open_orders`), `PostOnlyWouldTake`.
    pub fn submit(
        &mut self,
        o: BookOrder,
        bounds: &TakeBounds,
        out: &mut Vec<BookEvent>,
    ) -> Result<TakerOutcome, Reject> {
        if self.contains(o.id) {
            return Err(Reject::DuplicateOrderId);
        }
        let want = reduce_only_cap(&o)?;
        let limit = o.price.unwrap_or_else(|| bounds.limit(o.side));
        if o.price.is_some() && matches!(o.tif, TimeInForce::Gtc | TimeInForce::PostOnly) {
            self.check_open_limit(o.account)?;
        }
        if o.price.is_some() && o.tif == TimeInForce::PostOnly && self.would_take(o.side, limit) {
            return Err(Reject::PostOnlyWouldTake);
        }
        Ok(self.execute(o, want, limit, Qty::ZERO, out))
    }

    /// Match an admitted order and rest, expire or close its remainder. Cannot fail: every
    /// check that could refuse the order was made by the caller ([`Book::submit`], or the
    /// amend path for an order re-entering, which keeps its open-order slot). `want` is the
    /// quantity it may take (reduce-only capped); `prior` what it filled before (re-entry).
    pub(super) fn execute(
        &mut self,
        o: BookOrder,
        want: Qty,
        limit: Price,
        prior: Qty,
        out: &mut Vec<BookEvent>,
    ) -> TakerOutcome {
        let capped = o.qty - want;
        let taker = Taker {
            id: o.id,
            account: o.account,
            side: o.side,
            stp: o.stp,
            leg: o.position_side,
        };
        if o.price.is_some()
            && o.tif == TimeInForce::Fok
            && self.fillable(taker, limit, want) < want
        {
            return self.close_taker(o, Qty::ZERO, o.qty, CloseReason::FokUnfillable, out);
        }
        let (filled, stp_stopped) = self.take(taker, limit, want, out);
        let left = want - filled;
        if stp_stopped && !left.is_zero() {
            return self.close_taker(o, filled, left + capped, CloseReason::SelfTrade, out);
        }
        if left.is_zero() {
            return if capped.is_zero() {
                TakerOutcome {
                    filled,
                    ..TakerOutcome::default()
                }
            } else {
                self.close_taker(o, filled, capped, CloseReason::ReduceOnly, out)
            };
        }
        let reason = match (o.price, o.tif) {
            (None, _) => CloseReason::MarketRemainder,
            (Some(_), TimeInForce::Ioc) => CloseReason::IocRemainder,
            (Some(_), TimeInForce::Fok) => CloseReason::FokUnfillable,
            (Some(price), TimeInForce::Gtc | TimeInForce::PostOnly) => {
                self.rest(o, price, left, prior + filled, out);
                return TakerOutcome {
                    filled,
                    rested: left,
                    closed: capped,
                    reason: (!capped.is_zero()).then_some(CloseReason::ReduceOnly),
                };
            }
        };
        self.close_taker(o, filled, left + capped, reason, out)
    }

    fn close_taker(
        &mut self,
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
            rested: Qty::ZERO,
            closed,
            reason: Some(reason),
        }
    }

    /// Whether an order of `side` at `limit` would trade against the opposite best level.
    pub fn would_take(&self, side: Side, limit: Price) -> bool {
        self.side(side.opposite())
            .best_price()
            .is_some_and(|best| side.accepts(limit.0, best.0))
    }

    /// How much of `want` a taker could fill at once, honouring its STP mode (dry run for FOK).
    fn fillable(&self, t: Taker, limit: Price, want: Qty) -> Qty {
        let mut got = Qty::ZERO;
        for level in self.side(t.side.opposite()).iter() {
            if !t.side.accepts(limit.0, level.price.0) {
                break;
            }
            let mut h = level.head;
            while h != NIL {
                let n = self.slab.get(h);
                if n.account == t.account && t.stp != Stp::None {
                    if t.stp != Stp::ExpireMaker {
                        return got;
                    }
                } else {
                    got += n.remaining;
                    if got >= want {
                        return got;
                    }
                }
                h = n.next;
            }
        }
        got
    }

    /// The matching loop: level by level from the opposite best while the taker's limit
    /// accepts the price. Returns the filled quantity and whether STP stopped the taker.
    fn take(&mut self, t: Taker, limit: Price, want: Qty, out: &mut Vec<BookEvent>) -> (Qty, bool) {
        let Book {
            bids,
            asks,
            slab,
            index,
            open,
            sequence,
            next_trade_id,
            last_price,
            ..
        } = self;
        let opp = match t.side {
            Side::Buy => asks,
            Side::Sell => bids,
        };
        let mut m = Matcher {
            t,
            want,
            filled: Qty::ZERO,
            slab,
            index,
            open,
            next_trade_id,
            last_price,
            out,
        };
        while !m.want.is_zero() {
            let Some(li) = opp.best_index() else { break };
            let level = opp.level_mut(li);
            if !t.side.accepts(limit.0, level.price.0) {
                break;
            }
            let (changed, stop) = m.level(level);
            if !changed {
                // Only STP can stop a level without touching it (the taker's own order heads it).
                return (m.filled, stop);
            }
            let (price, total) = (level.price, level.total);
            if level.head == NIL {
                level.tail = NIL;
            }
            *sequence += 1;
            m.out.push(BookEvent::Level {
                side: opp.side(),
                price,
                qty: total,
                sequence: *sequence,
            });
            if total.is_zero() {
                opp.bury(li);
            }
            if stop {
                return (m.filled, true);
            }
        }
        (m.filled, false)
    }

    /// Put the remainder `qty` of `o` into the book at `price`; `filled` lots of it traded.
    fn rest(
        &mut self,
        o: BookOrder,
        price: Price,
        qty: Qty,
        filled: Qty,
        out: &mut Vec<BookEvent>,
    ) {
        let flags = super::replay::flags_of(&o);
        let node = Node::new(o.id, o.account, o.side, price, qty, filled, flags);
        let h = self.slab.insert(node);
        self.index.insert(o.id, h);
        self.inc_open(o.account);
        let total = match o.side {
            Side::Buy => self.bids.push(&mut self.slab, h),
            Side::Sell => self.asks.push(&mut self.slab, h),
        };
        let sequence = self.bump_sequence();
        out.push(BookEvent::Level {
            side: o.side,
            price,
            qty: total,
            sequence,
        });
        out.push(BookEvent::Rested {
            order_id: o.id,
            account: o.account,
            side: o.side,
            price,
            qty,
        });
    }
}

/// The matching loop's state while it walks the opposite side: the taker, what it still
/// wants and has filled, and the parts of the book a fill changes (disjoint borrows of
/// [`Book`]'s fields, so the level being matched can be borrowed from its side at once).
struct Matcher<'a> {
    t: Taker,
    want: Qty,
    filled: Qty,
    slab: &'a mut super::Slab,
    index: &'a mut rustc_hash::FxHashMap<OrderId, u32>,
    open: &'a mut rustc_hash::FxHashMap<AccountId, u32>,
    next_trade_id: &'a mut u64,
    last_price: &'a mut Option<Price>,
    out: &'a mut Vec<BookEvent>,
}

impl Matcher<'_> {
    /// Match against one level from its head, in time priority. Returns whether the level
    /// changed and whether STP stopped the taker. Each node reached is the level's current
    /// head: every node before it was removed (filled or expired).
    #[inline(always)]
    fn level(&mut self, level: &mut Level) -> (bool, bool) {
        let t = self.t;
        let mut changed = false;
        let mut h = level.head;
        while h != NIL && !self.want.is_zero() {
            let maker = self.slab.get(h);
            let next = maker.next;
            if maker.account == t.account && t.stp != Stp::None {
                if matches!(t.stp, Stp::ExpireMaker | Stp::ExpireBoth) {
                    self.expire_head(level, h, next);
                    changed = true;
                }
                if t.stp != Stp::ExpireMaker {
                    return (changed, true);
                }
            } else {
                self.fill_head(level, h, next);
                changed = true;
            }
            h = next;
        }
        (changed, false)
    }

    /// Self-trade prevention: the level's head `h` (the taker's own order) is closed.
    #[inline(always)]
    fn expire_head(&mut self, level: &mut Level, h: u32, next: u32) {
        let maker = self.slab.get(h);
        let qty = maker.remaining;
        level.total -= qty;
        self.out.push(BookEvent::Closed {
            order_id: maker.id,
            account: maker.account,
            qty,
            reason: CloseReason::SelfTrade,
        });
        level.head = next;
        remove_head(self.slab, self.index, self.open, h, next);
    }

    /// Trade the taker against the level's head `h` at the level's price, removing the head
    /// if it is filled completely.
    #[inline(always)]
    fn fill_head(&mut self, level: &mut Level, h: u32, next: u32) {
        let price = level.price;
        let maker = self.slab.get_mut(h);
        let q = self.want.min(maker.remaining);
        maker.remaining -= q;
        let m_filled = maker.filled() + q;
        maker.set_filled(m_filled);
        let (m_id, m_account, m_left) = (maker.id, maker.account, maker.remaining);
        let m_leg = maker.flags.position_side();
        level.total -= q;
        self.want -= q;
        self.filled += q;
        self.out.push(BookEvent::Trade(Trade {
            trade_id: TradeId(*self.next_trade_id),
            price,
            qty: q,
            taker_side: self.t.side,
            taker_order: self.t.id,
            taker_account: self.t.account,
            maker: Maker {
                order_id: m_id,
                account: m_account,
                remaining: m_left,
            },
            taker_position: self.t.leg,
            maker_position: m_leg,
        }));
        *self.next_trade_id += 1;
        *self.last_price = Some(price);
        if m_left.is_zero() {
            level.head = next;
            remove_head(self.slab, self.index, self.open, h, next);
        }
    }
}

/// The quantity a reduce-only order may take: `min(qty, |position|)` when it reduces;
/// `ReduceOnlyRejected` when there is nothing to reduce on its side. Others: `qty`.
pub(super) fn reduce_only_cap(o: &BookOrder) -> Result<Qty, Reject> {
    if !o.reduce_only {
        return Ok(o.qty);
    }
    let reducible = match o.side {
        Side::Sell => o.position.0.max(0),
        Side::Buy => (-o.position.0).max(0),
    };
    if reducible == 0 {
        return Err(Reject::ReduceOnlyRejected);
    }
    Ok(o.qty.min(Qty(reducible)))
}

/// Unlink the head node `h` of a level (whose `head` the caller already moved to `next`) and
/// free it.
#[inline]
fn remove_head(
    slab: &mut super::Slab,
    index: &mut rustc_hash::FxHashMap<OrderId, u32>,
    open: &mut rustc_hash::FxHashMap<AccountId, u32>,
    h: u32,
    next: u32,
) {
    if next != NIL {
        slab.get_mut(next).prev = NIL;
    }
    let (id, account) = {
        let n = slab.get(h);
        (n.id, n.account)
    };
    slab.remove(h);
    index.remove(&id);
    Book::dec_open(open, account);
}
