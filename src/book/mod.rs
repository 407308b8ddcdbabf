//! The limit order book of one market: matching, amend/cancel, the trigger book for
//! stop/take-profit orders, depth snapshots and the book sequence.
//!
//! Pure and deterministic: every method takes its inputs (the mark-derived [`TakeBounds`], the
//! taker's position for reduce-only capping) as arguments, appends what happened to a
//! caller-owned `Vec<BookEvent>` and returns a summary or a [`Reject`]. No clock, no I/O.
//!
//! # Invariants (checked by [`Book::assert_invariants`] after every step in tests)
//! - Never crossed after a command; no empty level is visible.
//! - Orders at one price fill in arrival order; trades happen at the maker's price.
//! - Every resting order has `remaining > 0`, sits in exactly one level of its side at its
//!   price, and is found by id in O(1); level totals equal the sum of their orders.
//! - A rejected command (`Err`) changes nothing and emits nothing.
//! - `sequence` grows by exactly one per `BookEvent::Level` emitted.

mod amend;
mod invariants;
mod matching;
mod replay;
mod side;
mod slab;
mod snapshot;
mod triggers;

use rustc_hash::FxHashMap;

use crate::domain::{
    AccountId, CloseReason, Order, OrderId, PositionSide, Price, Qty, Reject, Side, Stp,
    TimeInForce,
};

pub use crate::domain::market::TakeBounds;
pub use replay::flags_of;
pub use side::{BookSide, Level};
pub use slab::{Flags, Node, Slab, MAX_FILLED_LOTS, NIL};
pub use snapshot::{BookSnapshot, RestingOrder};
pub use triggers::{TriggerBook, TriggerOrder, Watched};

/// An order entering matching (a new order, a fired trigger, or a re-queued amend): the part
/// of an [`Order`] matching needs, plus the taker's position: built from an order by [`BookOrder::of`], or from a resting
/// order an amend re-queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "BookOrderWire", from = "BookOrderWire")]
pub struct BookOrder {
    pub id: OrderId,
    pub account: AccountId,
    pub side: Side,
    /// `None`: a market order, limited by the [`TakeBounds`] and never resting.
    pub price: Option<Price>,
    pub qty: Qty,
    /// Ignored for market orders.
    pub tif: TimeInForce,
    pub stp: Stp,
    pub reduce_only: bool,
    /// The position leg the order trades (carried to its trades).
    pub position_side: PositionSide,
    /// The account's signed position on that leg when the order arrives; used only to cap
    /// reduce-only orders.
    pub position: Qty,
    /// A close-position trigger (`qty` 0 until it fires): sized to the whole position when it
    /// fires, left waiting while the leg is flat (docs/RULES.md §2a).
    pub close_position: bool,
}

/// [`BookOrder`] as snapshots store it: `reduce_only` (a postcard bool, 0 or 1) and
/// `close_position` (bit 3) share one byte, so snapshots written before close-position orders
/// read unchanged.
#[derive(serde::Serialize, serde::Deserialize)]
struct BookOrderWire {
    id: OrderId,
    account: AccountId,
    side: Side,
    price: Option<Price>,
    qty: Qty,
    tif: TimeInForce,
    stp: Stp,
    flags: u8,
    position_side: PositionSide,
    position: Qty,
}

const CLOSE_POSITION_BIT: u8 = 1 << 3;

impl From<BookOrder> for BookOrderWire {
    fn from(o: BookOrder) -> BookOrderWire {
        BookOrderWire {
            id: o.id,
            account: o.account,
            side: o.side,
            price: o.price,
            qty: o.qty,
            tif: o.tif,
            stp: o.stp,
            flags: u8::from(o.reduce_only)
                | if o.close_position {
                    CLOSE_POSITION_BIT
                } else {
                    0
                },
            position_side: o.position_side,
            position: o.position,
        }
    }
}

impl From<BookOrderWire> for BookOrder {
    fn from(w: BookOrderWire) -> BookOrder {
        BookOrder {
            id: w.id,
            account: w.account,
            side: w.side,
            price: w.price,
            qty: w.qty,
            tif: w.tif,
            stp: w.stp,
            reduce_only: w.flags & 1 != 0,
            position_side: w.position_side,
            position: w.position,
            close_position: w.flags & CLOSE_POSITION_BIT != 0,
        }
    }
}

impl BookOrder {
    /// `o` as matching sees it, its account holding `position` (liquidation orders have no
    /// self-trade prevention: they must trade).
    pub fn of(o: &Order, position: Qty) -> BookOrder {
        let t = &o.terms;
        BookOrder {
            id: o.order_id,
            account: o.account,
            side: t.side,
            price: t.price,
            qty: t.qty,
            tif: t.tif,
            stp: if o.liquidation { Stp::None } else { t.stp },
            reduce_only: t.reduce_only,
            position_side: t.position_side,
            position,
            close_position: t.close_position,
        }
    }
}

/// What happened to the taker of one command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TakerOutcome {
    pub filled: Qty,
    /// Quantity left resting in the book (0 if the order closed).
    pub rested: Qty,
    /// Quantity that will never fill (unfilled remainder of a closed order, or the part of a
    /// reduce-only order above the position).
    pub closed: Qty,
    /// Why `closed` was closed, if the order closed with something unfilled.
    pub reason: Option<CloseReason>,
}

/// A depth snapshot, best levels first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Depth {
    pub sequence: u64,
    pub bids: Vec<(Price, Qty)>,
    pub asks: Vec<(Price, Qty)>,
}

/// The order book of one market.
#[derive(Clone, Debug)]
pub struct Book {
    bids: BookSide,
    asks: BookSide,
    slab: Slab,
    index: FxHashMap<OrderId, u32>,
    /// Open orders (resting + untriggered) per account, for `max_open_orders`.
    open: FxHashMap<AccountId, u32>,
    triggers: TriggerBook,
    max_open_orders: u32,
    sequence: u64,
    next_trade_id: u64,
    last_price: Option<Price>,
    /// Replay only: the order entering matching, whose `Rested` needs its flags and the
    /// quantity it filled before resting.
    entering: Option<(OrderId, Flags, Qty)>,
}

impl Book {
    /// An empty book allowing `max_open_orders` open orders per account.
    pub fn new(max_open_orders: u32) -> Book {
        Book {
            bids: BookSide::new(Side::Buy),
            asks: BookSide::new(Side::Sell),
            slab: Slab::new(),
            index: FxHashMap::default(),
            open: FxHashMap::default(),
            triggers: TriggerBook::default(),
            max_open_orders,
            sequence: 0,
            next_trade_id: 1,
            last_price: None,
            entering: None,
        }
    }

    /// Change the per-account open-order limit (a restored book takes it from the config).
    pub fn set_max_open_orders(&mut self, max: u32) {
        self.max_open_orders = max;
    }

    /// The book sequence: +1 per level change, on the same scale as WebSocket book diffs.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn best_bid(&self) -> Option<Price> {
        self.bids.best_price()
    }

    pub fn best_ask(&self) -> Option<Price> {
        self.asks.best_price()
    }

    /// The price of the last trade, if any.
    pub fn last_price(&self) -> Option<Price> {
        self.last_price
    }

    /// Number of resting orders.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Resting orders plus untriggered conditional orders of `account`.
    pub fn open_orders(&self, account: AccountId) -> u32 {
        self.open.get(&account).copied().unwrap_or(0)
    }

    /// A resting order by id.
    pub fn order(&self, id: OrderId) -> Option<&Node> {
        self.index.get(&id).map(|&h| self.slab.get(h))
    }

    pub fn side(&self, side: Side) -> &BookSide {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    pub fn triggers(&self) -> &TriggerBook {
        &self.triggers
    }

    /// The top `levels` levels of each side.
    pub fn depth(&self, levels: usize) -> Depth {
        let take = |s: &BookSide| s.iter().take(levels).map(|l| (l.price, l.total)).collect();
        Depth {
            sequence: self.sequence,
            bids: take(&self.bids),
            asks: take(&self.asks),
        }
    }

    /// Resting orders of one level in FIFO order (ids and remaining quantities).
    pub fn level_orders(&self, side: Side, price: Price) -> Vec<(OrderId, Qty)> {
        let mut v = Vec::new();
        if let Some(l) = self.side(side).iter().find(|l| l.price == price) {
            let mut h = l.head;
            while h != NIL {
                let n = self.slab.get(h);
                v.push((n.id, n.remaining));
                h = n.next;
            }
        }
        v
    }

    /// Approximate heap bytes held by the book's structures (capacity, not length).
    pub fn heap_bytes(&self) -> usize {
        // hashbrown holds `capacity` at 7/8 load of a power-of-two bucket count, with one
        // control byte per bucket (plus a group of padding, ignored here).
        let map = |cap: usize, entry: usize| {
            let buckets = if cap == 0 {
                0
            } else {
                (cap * 8 / 7).next_power_of_two()
            };
            buckets * (entry + 1)
        };
        self.slab.heap_bytes()
            + self.bids.heap_bytes()
            + self.asks.heap_bytes()
            + map(self.index.capacity(), std::mem::size_of::<(OrderId, u32)>())
            + map(
                self.open.capacity(),
                std::mem::size_of::<(AccountId, u32)>(),
            )
    }

    fn inc_open(&mut self, account: AccountId) {
        *self.open.entry(account).or_insert(0) += 1;
    }

    fn dec_open(open: &mut FxHashMap<AccountId, u32>, account: AccountId) {
        if let Some(c) = open.get_mut(&account) {
            *c -= 1;
            if *c == 0 {
                open.remove(&account);
            }
        }
    }

    fn check_open_limit(&self, account: AccountId) -> Result<(), Reject> {
        if self.open_orders(account) >= self.max_open_orders {
            return Err(Reject::TooManyOpenOrders);
        }
        Ok(())
    }

    /// Whether `id` is open here (resting or waiting in the trigger book).
    pub fn contains_order(&self, id: OrderId) -> bool {
        self.contains(id)
    }

    fn contains(&self, id: OrderId) -> bool {
        self.index.contains_key(&id) || self.triggers.contains(id)
    }

    fn bump_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }
}
