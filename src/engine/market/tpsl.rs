//! Close-position orders and take-profit / stop-loss pairs in one market (docs/RULES.md §2a).
//!
//! A close-position order is a `stop_market` / `take_profit_market` trigger of 0 lots that
//! takes its leg's whole position when it fires (the book sizes it, `BookEvent::Sized`) and
//! waits while the leg is flat. Two of them placed together are a **pair**: when one fires the
//! other is cancelled (`oco`). A pair placed with an entry order waits for the entry: if the
//! entry closes with nothing filled, the pair is cancelled (`entry_unfilled`); its first fill
//! releases the pair to stand alone. Whenever a fill or an adjustment leaves a leg flat, its
//! close-position orders are cancelled (`position_closed`).
//!
//! # Invariants
//! - `close` holds exactly the close-position orders in the trigger book, per leg (rebuilt
//!   from the book on restore, never stored).
//! - `pair` is symmetric and names only orders in the trigger book; `entry` names entries
//!   that are open and unfilled, and their pair members are in the trigger book.
//! - The links change only in [`MarketEngine::tpsl_apply`] (live and replay alike) and at
//!   placement; every cancel they cause is an explicit `Closed` event, so replay only follows.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{Holder, Linked, MarketEngine, MarketEvent, PlaceOrder};
use crate::book::{BookOrder, TriggerOrder, Watched};
use crate::domain::{BookEvent, CloseReason, Order, OrderId, Price, Timestamp, TriggerBy};

/// The links between TP/SL orders and their entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TpSlLinks {
    /// Each member of a pair → the other.
    pair: FxHashMap<OrderId, OrderId>,
    /// An open, unfilled entry → the close-position orders placed with it.
    entry: FxHashMap<OrderId, Vec<OrderId>>,
    /// Close-position orders waiting in the trigger book, per leg, and the leg of each.
    close: FxHashMap<Holder, Vec<OrderId>>,
    close_leg: FxHashMap<OrderId, Holder>,
}

/// [`TpSlLinks`] as snapshots store them (sorted; `close` is rebuilt from the book).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpSlSnapshot {
    /// Each pair once, lower id first.
    pub pairs: Vec<(OrderId, OrderId)>,
    pub entries: Vec<(OrderId, Vec<OrderId>)>,
}

impl TpSlLinks {
    pub fn snapshot(&self) -> TpSlSnapshot {
        let mut pairs: Vec<_> = self
            .pair
            .iter()
            .filter(|(a, b)| a < b)
            .map(|(a, b)| (*a, *b))
            .collect();
        pairs.sort_unstable();
        let mut entries: Vec<_> = self.entry.iter().map(|(e, v)| (*e, v.clone())).collect();
        entries.sort_unstable();
        TpSlSnapshot { pairs, entries }
    }

    /// The links of `s`; `close` from the book's close-position triggers.
    pub fn restore(s: &TpSlSnapshot, close: impl Iterator<Item = (Holder, OrderId)>) -> Self {
        let mut l = TpSlLinks::default();
        for &(a, b) in &s.pairs {
            l.link(a, b);
        }
        l.entry = s.entries.iter().cloned().collect();
        for (h, id) in close {
            l.close.entry(h).or_default().push(id);
            l.close_leg.insert(id, h);
        }
        for v in l.close.values_mut() {
            v.sort_unstable();
        }
        l
    }

    fn link(&mut self, a: OrderId, b: OrderId) {
        self.pair.insert(a, b);
        self.pair.insert(b, a);
    }

    /// Bytes for the engine's state hash (independent of map order).
    pub fn hash_bytes(&self) -> Vec<u8> {
        let mut close: Vec<_> = self.close.iter().collect();
        close.sort_unstable_by_key(|(h, _)| **h);
        // expect: plain data, which postcard always serializes.
        let mut out = postcard::to_stdvec(&self.snapshot()).expect("links serialize");
        for ((a, leg), ids) in close {
            out.extend(a.0.to_le_bytes());
            out.push(leg.bits());
            let mut ids = ids.clone();
            ids.sort_unstable();
            for id in ids {
                out.extend(id.0.to_le_bytes());
            }
        }
        out
    }
}

impl MarketEngine {
    /// The trigger-book entry of a close-position order.
    pub(super) fn trigger_of(&self, c: &Order) -> TriggerOrder {
        let t = &c.terms;
        let order = BookOrder::of(c, self.position(c.account, t.position_side));
        // A close-position order always has a trigger (`OrderTerms::close_position`).
        let trigger = t.trigger_price.unwrap_or(Price(0));
        TriggerOrder::new(order, t.order_type, trigger, t.trigger_by)
    }

    /// Park the close-position orders placed with `p.order` (after its own matching), link
    /// them, and fire any the price already passed. An entry that closed with nothing filled
    /// takes its TP/SL with it: they are not placed (their ids stay unused).
    pub(super) fn place_linked(
        &mut self,
        p: &PlaceOrder,
        linked: Vec<TriggerOrder>,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) {
        let entry = p.order.order_id;
        let entry_open = self.book.contains_order(entry);
        let entry_filled = self
            .book
            .order(entry)
            .is_some_and(|n| !n.filled().is_zero())
            || out.iter().any(|e| {
                matches!(e, MarketEvent::Book(BookEvent::Trade(t))
                    if t.taker_order == entry || t.maker.order_id == entry)
            });
        let waits_for_entry = match p.linked {
            Linked::Entry(_) if !entry_filled && !entry_open => return,
            Linked::Entry(_) => !entry_filled,
            _ => false,
        };
        let mut ids = Vec::with_capacity(2);
        if let Linked::Pair(_) = p.linked {
            ids.push(entry);
        }
        for (c, trig) in p.linked.orders().zip(linked) {
            // Checked free and not firing before the entry matched: the entry's trades may
            // have moved the price since, and the run below fires what it passed.
            if self.book.place_trigger(trig, None).is_err() {
                continue;
            }
            self.tpsl_parked((c.account, c.terms.position_side), c.order_id);
            out.push(MarketEvent::Accepted(*c));
            out.push(MarketEvent::Parked {
                order_id: c.order_id,
            });
            ids.push(c.order_id);
        }
        let entry = waits_for_entry.then_some(entry);
        self.tpsl_link(entry, &ids);
        out.push(MarketEvent::Linked { entry, orders: ids });
        self.scratch.clear();
        if let Some(last) = self.book.last_price() {
            self.run_triggers(TriggerBy::Last, Watched::at(last));
        }
        if let Some(mark) = self.watched(TriggerBy::Mark) {
            self.run_triggers(TriggerBy::Mark, mark);
        }
        self.after_book(now, out);
    }

    /// A close-position order of leg `h` was parked.
    pub(super) fn tpsl_parked(&mut self, h: Holder, id: OrderId) {
        self.tpsl.close.entry(h).or_default().push(id);
        self.tpsl.close_leg.insert(id, h);
    }

    /// Orders placed together: `ids` (one or two) form a pair when two, waiting for `entry`
    /// when it is given.
    pub(super) fn tpsl_link(&mut self, entry: Option<OrderId>, ids: &[OrderId]) {
        if let [a, b] = *ids {
            self.tpsl.link(a, b);
        }
        if let Some(e) = entry {
            self.tpsl.entry.insert(e, ids.to_vec());
        }
    }

    /// What one book event means for the links (live and replay): the cancels it calls for
    /// (live only acts on them), then the links it ends. `flat` collects the legs a trade
    /// touched, to look at once positions are current.
    pub(super) fn tpsl_apply(
        &mut self,
        e: &BookEvent,
        cancels: &mut Vec<(OrderId, CloseReason)>,
        flat: &mut Vec<Holder>,
    ) {
        let l = &mut self.tpsl;
        if l.close_leg.is_empty() && l.entry.is_empty() {
            // No close-position order here (the common case): nothing to follow.
            return;
        }
        match *e {
            BookEvent::Trade(t) => {
                // An entry's first fill releases its pair to stand alone.
                l.entry.remove(&t.taker_order);
                l.entry.remove(&t.maker.order_id);
                for h in [
                    (t.taker_account, t.taker_position),
                    (t.maker.account, t.maker_position),
                ] {
                    if l.close.contains_key(&h) && !flat.contains(&h) {
                        flat.push(h);
                    }
                }
            }
            BookEvent::Triggered { order_id } => {
                l.forget_close(order_id);
                if let Some(other) = l.pair.remove(&order_id) {
                    l.pair.remove(&other);
                    cancels.push((other, CloseReason::Oco));
                }
            }
            BookEvent::Closed { order_id, .. } => {
                l.forget_close(order_id);
                if let Some(other) = l.pair.remove(&order_id) {
                    // A pair member cancelled on its own: the other stands alone.
                    l.pair.remove(&other);
                }
                if let Some(ids) = l.entry.remove(&order_id) {
                    cancels.extend(ids.into_iter().map(|id| (id, CloseReason::EntryUnfilled)));
                }
            }
            _ => {}
        }
    }

    /// The close-position orders of `h` to cancel if the leg is flat now.
    pub(super) fn tpsl_flat(&self, h: Holder, cancels: &mut Vec<(OrderId, CloseReason)>) {
        if !self.position(h.0, h.1).is_zero() {
            return;
        }
        if let Some(ids) = self.tpsl.close.get(&h) {
            cancels.extend(ids.iter().map(|&id| (id, CloseReason::PositionClosed)));
        }
    }

    /// Whether `id` is an unfilled entry with a TP/SL waiting for it.
    pub fn has_tpsl_waiting(&self, id: OrderId) -> bool {
        self.tpsl.entry.contains_key(&id)
    }

    /// The TP/SL links as stored in a snapshot.
    pub(super) fn tpsl_snapshot(&self) -> TpSlSnapshot {
        self.tpsl.snapshot()
    }
}

impl TpSlLinks {
    fn forget_close(&mut self, id: OrderId) {
        let Some(h) = self.close_leg.remove(&id) else {
            return;
        };
        if let Some(v) = self.close.get_mut(&h) {
            v.retain(|&o| o != id);
            if v.is_empty() {
                self.close.remove(&h);
            }
        }
    }
}
