//! The trigger book: stop and take-profit orders waiting for the last or mark price.
//!
//! A buy stop or a sell take-profit fires when the watched price rises to its trigger
//! (`price ≥ trigger`); a sell stop or a buy take-profit when it falls to it (`price ≤ trigger`).
//! Orders that fire together enter matching in ascending trigger distance from where the price
//! came from (nearest first), then by order id (docs/RULES.md §2).
//!
//! # Invariants
//! - Each waiting order is in exactly one of the four queues and in `index`.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::{Book, BookOrder, TakeBounds, TakerOutcome};
use crate::domain::{
    AccountId, BookEvent, CloseReason, OrderId, OrderType, PositionSide, Price, Qty, Reject, Side,
    TimeInForce, TriggerBy,
};

/// A conditional order and its trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TriggerOrder {
    /// The order that enters matching when it fires (`price: None` for the market variants).
    pub order: BookOrder,
    pub trigger_price: Price,
    pub trigger_by: TriggerBy,
    /// Fires when the price rises to the trigger (else when it falls to it).
    pub on_rise: bool,
}

impl TriggerOrder {
    /// Build from the order type: stops fire against the order's side, take-profits with it.
    pub fn new(
        order: BookOrder,
        kind: OrderType,
        trigger_price: Price,
        trigger_by: TriggerBy,
    ) -> Self {
        let on_rise = kind.is_stop() == (order.side == Side::Buy);
        TriggerOrder {
            order,
            trigger_price,
            trigger_by,
            on_rise,
        }
    }

    /// Whether a watched price of `price` fires this order.
    pub fn fires_at(&self, price: Price) -> bool {
        if self.on_rise {
            price >= self.trigger_price
        } else {
            price <= self.trigger_price
        }
    }
}

/// A watched price in ticks: `floor ≤ true price ≤ ceil` (equal for a price on a tick).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watched {
    pub floor: Price,
    pub ceil: Price,
}

impl Watched {
    /// A price exactly on a tick (a trade price).
    pub fn at(p: Price) -> Watched {
        Watched { floor: p, ceil: p }
    }

    /// A price between two ticks (or on one, when `floor == ceil`).
    pub fn between(floor: Price, ceil: Price) -> Watched {
        Watched { floor, ceil }
    }

    /// Whether a trigger `t` fires at this price.
    pub fn fires(&self, t: &TriggerOrder) -> bool {
        t.fires_at(if t.on_rise { self.floor } else { self.ceil })
    }
}

/// Queue key: ascending `key` is firing order. Rising queues key on the trigger price, falling
/// ones on its negation, so the nearest trigger to the price's origin comes first either way.
type Key = (i64, OrderId);

#[derive(Clone, Debug, Default)]
pub struct TriggerBook {
    /// `[last, mark] × [rise, fall]`.
    queues: [BTreeMap<Key, TriggerOrder>; 4],
    index: FxHashMap<OrderId, (usize, Key)>,
}

fn slot(by: TriggerBy, on_rise: bool) -> usize {
    (by == TriggerBy::Mark) as usize * 2 + (!on_rise) as usize
}

fn key(t: &TriggerOrder) -> Key {
    let k = if t.on_rise {
        t.trigger_price.0
    } else {
        -t.trigger_price.0
    };
    (k, t.order.id)
}

impl TriggerBook {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, id: OrderId) -> bool {
        self.index.contains_key(&id)
    }

    pub fn get(&self, id: OrderId) -> Option<&TriggerOrder> {
        let (s, k) = self.index.get(&id)?;
        self.queues[*s].get(k)
    }

    pub(super) fn insert(&mut self, t: TriggerOrder) {
        let s = slot(t.trigger_by, t.on_rise);
        let k = key(&t);
        self.queues[s].insert(k, t);
        self.index.insert(t.order.id, (s, k));
    }

    pub(super) fn remove(&mut self, id: OrderId) -> Option<TriggerOrder> {
        let (s, k) = self.index.remove(&id)?;
        self.queues[s].remove(&k)
    }

    /// Remove and return, in firing order, every order watching `by` that the watched price
    /// fires. `price` is the price in ticks; for a mark between ticks pass
    /// [`Watched::between`], so a rise is judged on the floor and a fall on the ceiling (exact).
    pub fn fire(&mut self, by: TriggerBy, price: Watched, fired: &mut Vec<TriggerOrder>) {
        for on_rise in [true, false] {
            let p = if on_rise { price.floor } else { price.ceil };
            let q = &mut self.queues[slot(by, on_rise)];
            while let Some(entry) = q.first_entry() {
                if !entry.get().fires_at(p) {
                    break;
                }
                let t = entry.remove();
                self.index.remove(&t.order.id);
                fired.push(t);
            }
        }
    }

    /// All waiting orders, in a deterministic order (for hashing and snapshots).
    pub fn iter(&self) -> impl Iterator<Item = &TriggerOrder> + '_ {
        self.queues.iter().flat_map(|q| q.values())
    }

    pub(super) fn check(&self) {
        let n: usize = self.queues.iter().map(BTreeMap::len).sum();
        assert_eq!(n, self.index.len(), "trigger index size");
        for (s, q) in self.queues.iter().enumerate() {
            for (k, t) in q {
                assert_eq!(
                    self.index.get(&t.order.id),
                    Some(&(s, *k)),
                    "trigger index entry"
                );
                assert_eq!(slot(t.trigger_by, t.on_rise), s, "trigger queue");
            }
        }
    }
}

impl Book {
    /// Whether `account` may open `n` more orders (`TOO_MANY_OPEN_ORDERS` otherwise): an order
    /// placed with its take-profit and stop-loss needs room for all of them at once.
    pub fn check_room(&self, account: AccountId, n: u32) -> Result<(), Reject> {
        if self.open_orders(account) + n > self.max_open_orders {
            return Err(Reject::TooManyOpenOrders);
        }
        Ok(())
    }

    /// Whether a conditional order would fire at once at the watched price `current`.
    pub fn would_fire(t: &TriggerOrder, current: Option<Watched>) -> bool {
        current.is_some_and(|p| p.fires(t))
    }

    /// Replace the waiting order `t.order.id` by `t` (an amend checked by the caller), with its
    /// event.
    pub fn amend_trigger(&mut self, t: TriggerOrder, out: &mut Vec<BookEvent>) {
        self.triggers.remove(t.order.id);
        self.triggers.insert(t);
        out.push(BookEvent::TriggerAmended {
            order_id: t.order.id,
            trigger_price: t.trigger_price,
            price: t.order.price,
            qty: t.order.qty,
        });
    }

    /// Park a conditional order. `current` is the watched price now (last or mark, per
    /// `t.trigger_by`); a trigger that it already satisfies is `WOULD_TRIGGER_IMMEDIATELY`.
    pub fn place_trigger(
        &mut self,
        t: TriggerOrder,
        current: Option<Watched>,
    ) -> Result<(), Reject> {
        if self.contains(t.order.id) {
            return Err(Reject::DuplicateOrderId);
        }
        // `OrderRequest::new` refuses post-only stop and take-profit orders, the one place
        // that rule is checked; a fired trigger relies on it (see `fire`).
        debug_assert!(t.order.tif != TimeInForce::PostOnly, "post-only trigger");
        if current.is_some_and(|p| p.fires(&t)) {
            return Err(Reject::WouldTriggerImmediately);
        }
        self.check_open_limit(t.order.account)?;
        self.inc_open(t.order.account);
        self.triggers.insert(t);
        Ok(())
    }

    /// Fire what `price` (of kind `by`) triggers and run each fired order through matching, in
    /// firing order. Trades they make move the last price, which may fire more `last` orders:
    /// those join the queue behind the ones already fired (a cascade, bounded by the number of
    /// waiting orders). `position` gives an account's position on a leg before this run, for
    /// reduce-only capping; fills made earlier in the same run are added to it here.
    /// A fired reduce-only order with nothing left to reduce closes with reason `reduce_only`.
    /// A fired close-position order takes the whole position (`Sized`), or, while its leg is
    /// flat, goes back to wait without an event.
    pub fn run_triggers(
        &mut self,
        by: TriggerBy,
        price: Watched,
        bounds: &TakeBounds,
        position: &mut dyn FnMut(AccountId, PositionSide) -> Qty,
        out: &mut Vec<BookEvent>,
    ) -> Vec<(TriggerOrder, TakerOutcome)> {
        let start = out.len();
        let mut queue = Vec::new();
        self.triggers.fire(by, price, &mut queue);
        let mut done = Vec::with_capacity(queue.len());
        let mut next = 0;
        while next < queue.len() {
            let mut t = queue[next];
            next += 1;
            // The caller's position plus this run's fills so far, so a fired reduce-only order
            // never sees a stale position inside a cascade.
            let (account, leg) = (t.order.account, t.order.position_side);
            let moved: i64 = out[start..]
                .iter()
                .map(|e| match e {
                    BookEvent::Trade(tr) => {
                        let s = tr.taker_side.sign() * tr.qty.0;
                        let taker = (tr.taker_account, tr.taker_position) == (account, leg);
                        let maker = (tr.maker.account, tr.maker_position) == (account, leg);
                        i64::from(taker) * s - i64::from(maker) * s
                    }
                    _ => 0,
                })
                .sum();
            t.order.position = Qty(position(account, leg).0 + moved);
            if t.order.close_position && t.order.position == Qty::ZERO {
                // Nothing to close yet (a take-profit / stop-loss placed with an entry that
                // has not filled): it keeps waiting, unchanged, and emits nothing.
                self.triggers.insert(t);
                continue;
            }
            Book::dec_open(&mut self.open, t.order.account);
            out.push(BookEvent::Triggered {
                order_id: t.order.id,
            });
            if t.order.close_position {
                t.order.qty = Qty(t.order.position.0.abs());
                out.push(BookEvent::Sized {
                    order_id: t.order.id,
                    qty: t.order.qty,
                });
            }
            let last_before = self.last_price;
            let outcome = match self.submit(t.order, bounds, out) {
                Ok(o) => o,
                Err(e) => {
                    // Only reduce-only can refuse here: the id left the trigger book and the
                    // open count was released just above; post-only is not allowed on triggers.
                    debug_assert_eq!(e, Reject::ReduceOnlyRejected);
                    let closed = t.order.qty;
                    out.push(BookEvent::Closed {
                        order_id: t.order.id,
                        account: t.order.account,
                        qty: closed,
                        reason: CloseReason::ReduceOnly,
                    });
                    TakerOutcome {
                        closed,
                        reason: Some(CloseReason::ReduceOnly),
                        ..TakerOutcome::default()
                    }
                }
            };
            done.push((t, outcome));
            if let Some(last) = self.last_price.filter(|&p| Some(p) != last_before) {
                self.triggers
                    .fire(TriggerBy::Last, Watched::at(last), &mut queue);
            }
        }
        done
    }
}
