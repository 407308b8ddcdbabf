//! The engine of one market: the book and trigger book, order ids, the mark-derived bounds,
//! a position cache for reduce-only orders, and market data. Driven by the MarketActor.
//!
//! # Invariants
//! - A rejected command changes nothing and emits nothing. Order ids come from the caller (R1
//!   assigns them; a refused order leaves a gap, never a reuse: the book refuses duplicates).
//! - `positions` equals the sum of this market's trades per (account, leg) plus the out-of-book
//!   adjustments the caller reports (insurance takeover, ADL). A leg is the position side an
//!   order names (`both` in one-way mode; `long` and `short` side by side in hedge mode).
//! - Resting reduce-only orders of a leg never add up to more than its position on the
//!   reducing side (kept after every position change: oldest orders keep their size, newer ones
//!   shrink or are cancelled with reason `reduce_only`). In hedge mode every closing order is
//!   reduce-only, so a leg never flips.

mod amend;
mod data;
mod event;
mod prices;
mod replay;
mod snapshot;
mod tpsl;
mod upkeep;

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use crate::book::{Book, BookOrder, TakeBounds, TriggerOrder, Watched};
use crate::domain::market::TakeBounds as Bounds;
use crate::domain::{
    AccountId, BookEvent, CloseReason, MarketSpec, Order, OrderId, PositionSide, Price, Qty,
    Reject, Side, Timestamp, TriggerBy,
};

/// Who holds a position in one market: an account's leg.
pub type Holder = (AccountId, PositionSide);

pub use data::{Candle, MarketData, TradeTick, INTERVALS, RECENT_TRADES};
pub use event::MarketEvent;
pub use snapshot::{MarketSnapshot, MARKET_SNAPSHOT_FORMAT};
use tpsl::TpSlLinks;
pub use tpsl::TpSlSnapshot;

/// A new order as it reaches the market (already checked and margin-held upstream, where its
/// id was assigned: the margin hold is keyed by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaceOrder {
    pub order: Order,
    /// For a market order: the worst price it may fill at, tightening the market's take bound
    /// (R1 sets it for reduce-only orders at the account's bankruptcy price, so a close can
    /// never realize a loss beyond the wallet outside liquidation). Ignored for limit orders.
    pub protect: Option<Price>,
    /// Close-position orders placed with it (docs/RULES.md §2a).
    pub linked: Linked,
}

/// The close-position orders placed in the same command as an order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Linked {
    #[default]
    None,
    /// The order is an entry; these (take-profit, stop-loss) wait for it to fill.
    Entry([Option<Order>; 2]),
    /// The order is itself a close-position order; this one is the other of their pair.
    Pair(Order),
}

impl Linked {
    /// The linked orders, in placement order.
    pub fn orders(&self) -> impl Iterator<Item = &Order> + '_ {
        let (a, b) = match self {
            Linked::None => (None, None),
            Linked::Entry([a, b]) => (a.as_ref(), b.as_ref()),
            Linked::Pair(o) => (Some(o), None),
        };
        a.into_iter().chain(b)
    }
}

/// The engine of one market.
#[derive(Clone, Debug)]
pub struct MarketEngine {
    spec: MarketSpec,
    book: Book,
    mark: Decimal,
    bounds: TakeBounds,
    index_stale: bool,
    positions: FxHashMap<Holder, i64>,
    /// Resting reduce-only orders per leg, oldest first (rare, so a small Vec each).
    reduce_only: FxHashMap<Holder, Vec<OrderId>>,
    data: MarketData,
    /// The last trade price at which `last` triggers were last evaluated.
    last_checked: Option<Price>,
    scratch: Vec<BookEvent>,
    /// Replay only: the last accepted order, which a following `Parked` refers to.
    accepted: Option<Order>,
    /// Close-position orders, TP/SL pairs and the entries they wait for.
    tpsl: TpSlLinks,
    /// What the book events of the running command ask of the TP/SL links: orders to cancel,
    /// legs a trade touched (live only; replay clears them).
    tpsl_cancels: Vec<(OrderId, CloseReason)>,
    tpsl_flat: Vec<Holder>,
}

impl MarketEngine {
    /// A new market whose mark starts at `initial_index_price`.
    pub fn new(spec: MarketSpec) -> MarketEngine {
        let mark = spec.initial_index_price;
        MarketEngine {
            book: Book::new(spec.max_open_orders),
            bounds: spec.take_bounds(mark),
            spec,
            mark,
            index_stale: false,
            positions: FxHashMap::default(),
            reduce_only: FxHashMap::default(),
            data: MarketData::default(),
            last_checked: None,
            scratch: Vec::with_capacity(64),
            accepted: None,
            tpsl: TpSlLinks::default(),
            tpsl_cancels: Vec::new(),
            tpsl_flat: Vec::new(),
        }
    }

    pub fn spec(&self) -> &MarketSpec {
        &self.spec
    }

    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn data(&self) -> &MarketData {
        &self.data
    }

    pub fn mark(&self) -> Decimal {
        self.mark
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The signed position of `account`'s leg `side` (0 when flat).
    pub fn position(&self, account: AccountId, side: PositionSide) -> Qty {
        Qty(self.positions.get(&(account, side)).copied().unwrap_or(0))
    }

    /// Σ long positions (open interest, in lots).
    pub fn open_interest(&self) -> Qty {
        Qty(self.positions.values().filter(|q| **q > 0).sum())
    }

    /// Enter an order. Rejections: `INDEX_STALE`, `PRICE_OUT_OF_BAND`, `MIN_NOTIONAL`,
    /// `WOULD_TRIGGER_IMMEDIATELY`, and the book's (`POST_ONLY_WOULD_TAKE`,
    /// `REDUCE_ONLY_REJECTED`, `TOO_MANY_OPEN_ORDERS`). The terms' own rules were checked
    /// once, where they were built (`OrderRequest::new`).
    pub fn place(
        &mut self,
        p: PlaceOrder,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) -> Result<OrderId, Reject> {
        let o = p.order;
        let t = o.terms;
        self.validate(&o)?;
        let linked: Vec<TriggerOrder> = p.linked.orders().map(|c| self.trigger_of(c)).collect();
        if !linked.is_empty() {
            let room = 1 + linked.len() as u32;
            self.book.check_room(o.account, room)?;
            if linked
                .iter()
                .any(|c| Book::would_fire(c, self.watched(c.trigger_by)))
            {
                return Err(Reject::WouldTriggerImmediately);
            }
        }
        let order = BookOrder::of(&o, self.position(o.account, t.position_side));
        self.scratch.clear();
        let parked = if let Some(trigger) = t.trigger_price {
            let trig = TriggerOrder::new(order, t.order_type, trigger, t.trigger_by);
            let current = self.watched(t.trigger_by);
            self.book.place_trigger(trig, current)?;
            if t.close_position {
                self.tpsl_parked((o.account, t.position_side), o.order_id);
            }
            true
        } else {
            let mut events = std::mem::take(&mut self.scratch);
            let bounds = self.bounds.protected(t.side, p.protect);
            let r = self.book.submit(order, &bounds, &mut events);
            self.scratch = events;
            r?;
            false
        };
        out.push(MarketEvent::Accepted(o));
        if parked {
            out.push(MarketEvent::Parked {
                order_id: o.order_id,
            });
        }
        self.after_book(now, out);
        if !linked.is_empty() {
            self.place_linked(&p, linked, now, out);
        }
        Ok(o.order_id)
    }

    /// The market's own rules for a new order (the mark, the index, the notional).
    fn validate(&self, o: &Order) -> Result<(), Reject> {
        if o.liquidation {
            return Ok(());
        }
        if self.index_stale {
            return Err(Reject::IndexStale);
        }
        let t = &o.terms;
        if let Some(price) = t.price {
            self.spec.check_band(t.side, price, self.mark)?;
        }
        if !t.reduce_only {
            let notional = match t.price {
                Some(price) => self.spec.notional(price, t.qty),
                None => self.mark * self.spec.qty_decimal(t.qty),
            };
            if notional < self.spec.min_notional {
                return Err(Reject::MinNotional);
            }
        }
        Ok(())
    }

    /// Cancel one open order (resting or untriggered). `account: None` skips ownership.
    pub fn cancel(
        &mut self,
        account: Option<AccountId>,
        id: OrderId,
        reason: CloseReason,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) -> Result<Qty, Reject> {
        self.scratch.clear();
        let mut events = std::mem::take(&mut self.scratch);
        let r = self.book.cancel(id, account, reason, &mut events);
        self.scratch = events;
        let q = r?;
        self.after_book(now, out);
        Ok(q)
    }

    /// Cancel every open order of `account` in this market; returns their ids.
    pub fn cancel_all(
        &mut self,
        account: AccountId,
        reason: CloseReason,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) -> Vec<OrderId> {
        let ids = self.open_order_ids(account);
        for &id in &ids {
            // expect: the id was just listed as open for this account.
            self.cancel(Some(account), id, reason, now, out)
                .expect("listed open order");
        }
        ids
    }

    /// Ids of the open (resting and untriggered) orders of `account`, ascending.
    pub fn open_order_ids(&self, account: AccountId) -> Vec<OrderId> {
        let mut ids: Vec<OrderId> = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            for level in self.book.side(side).iter() {
                for (id, _) in self.book.level_orders(side, level.price) {
                    if self.book.order(id).is_some_and(|n| n.account == account) {
                        ids.push(id);
                    }
                }
            }
        }
        ids.extend(
            self.book
                .triggers()
                .iter()
                .filter(|t| t.order.account == account)
                .map(|t| t.order.id),
        );
        ids.sort();
        ids
    }

    /// Move the mark: new take bounds, then `mark` triggers fire (and may cascade).
    pub fn set_mark(
        &mut self,
        mark: Decimal,
        index_stale: bool,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) {
        self.mark = mark;
        self.index_stale = index_stale;
        self.bounds = self.spec.take_bounds(mark);
        out.push(MarketEvent::MarkSet { mark, index_stale });
        // expect: the mark of a live market is positive, so it has tick bounds.
        let watched = self.watched(TriggerBy::Mark).expect("mark is always set");
        self.scratch.clear();
        self.run_triggers(TriggerBy::Mark, watched);
        self.after_book(now, out);
    }

    /// A position moved outside the book (insurance takeover, ADL): keep the cache and the
    /// reduce-only orders consistent.
    /// The account's leg is the one `delta` reduces (`MarketEngine::reduced_leg`).
    pub fn adjust_position(
        &mut self,
        account: AccountId,
        delta: Qty,
        now: Timestamp,
        out: &mut Vec<MarketEvent>,
    ) {
        let holder = self.reduced_leg(account, delta.0);
        self.apply_position_delta(holder, delta);
        self.scratch.clear();
        self.reduce_only_upkeep(holder);
        self.tpsl_flat.push(holder);
        self.after_book(now, out);
    }

    /// The current watched price for triggers of kind `by` (`None`: no trade yet).
    fn watched(&self, by: TriggerBy) -> Option<Watched> {
        match by {
            TriggerBy::Last => self.book.last_price().map(Watched::at),
            TriggerBy::Mark => {
                let ticks = self.mark / self.spec.tick_size;
                let (f, c) = (
                    prices::to_ticks(ticks.floor()),
                    prices::to_ticks(ticks.ceil()),
                );
                Some(Watched::between(Price(f), Price(c)))
            }
        }
    }

    fn run_triggers(&mut self, by: TriggerBy, at: Watched) {
        let positions = &self.positions;
        let mut events = std::mem::take(&mut self.scratch);
        self.book.run_triggers(
            by,
            at,
            &self.bounds,
            &mut |a, leg| Qty(positions.get(&(a, leg)).copied().unwrap_or(0)),
            &mut events,
        );
        self.scratch = events;
    }
}
