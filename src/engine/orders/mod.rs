//! Order records for queries and replies, kept by the AccountActor next to the ledger and
//! updated from the market events of R2 (plus each fill's fee and realized PnL from the ledger).
//!
//! # Invariants
//! - For every record: `qty = filled + remaining + closed_qty` (a capped reduce-only order
//!   counts its excess as closed from the start).
//! - A client order id maps to at most one retained order of its account.
//! - Closed orders and fills are retained per account up to the configured
//!   [`Retention`](crate::engine::Retention); open orders always.

mod book;
mod record_wire;
mod records;
mod replay;

use std::collections::{BTreeSet, VecDeque};

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

pub use replay::ORDERS_SNAPSHOT_V1;

use crate::domain::{
    AccountId, Amount, CloseReason, Order, OrderId, OrderStatus, Price, Qty, Side, Timestamp,
    TradeId,
};
use crate::domain::{Leg, MarketId, PositionSide};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// One fill of one order, as the API shows it.
///
/// Encoded as [`OrderFillWire`]: the market is written as the fill's leg (`market | side <<
/// 16`, the market id itself for `both`), so fills snapshotted before hedge mode read as leg
/// `both`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "OrderFillWire", from = "OrderFillWire")]
pub struct OrderFill {
    pub trade_id: TradeId,
    pub order_id: OrderId,
    pub market: MarketId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub fee: Amount,
    pub liquidity: Liquidity,
    pub realized_pnl: Amount,
    pub time: Timestamp,
    /// The position leg the fill moved (its order's).
    pub position_side: PositionSide,
}

/// [`OrderFill`] as encoded (snapshots): `leg` in place of the market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFillWire {
    trade_id: TradeId,
    order_id: OrderId,
    leg: Leg,
    side: Side,
    price: Price,
    qty: Qty,
    fee: Amount,
    liquidity: Liquidity,
    realized_pnl: Amount,
    time: Timestamp,
}

impl From<OrderFill> for OrderFillWire {
    fn from(f: OrderFill) -> OrderFillWire {
        OrderFillWire {
            trade_id: f.trade_id,
            order_id: f.order_id,
            leg: Leg::new(f.market, f.position_side),
            side: f.side,
            price: f.price,
            qty: f.qty,
            fee: f.fee,
            liquidity: f.liquidity,
            realized_pnl: f.realized_pnl,
            time: f.time,
        }
    }
}

impl From<OrderFillWire> for OrderFill {
    fn from(w: OrderFillWire) -> OrderFill {
        OrderFill {
            trade_id: w.trade_id,
            order_id: w.order_id,
            market: w.leg.market,
            side: w.side,
            price: w.price,
            qty: w.qty,
            fee: w.fee,
            liquidity: w.liquidity,
            realized_pnl: w.realized_pnl,
            time: w.time,
            position_side: w.leg.side,
        }
    }
}

/// An order as the API shows it: the order R1 named, where it came from, and how far it got.
/// Encoded in snapshots field by field in its first layout (`record_wire.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    pub order: Order,
    pub market: MarketId,
    pub client_order_id: Option<String>,
    pub filled: Qty,
    pub remaining: Qty,
    /// Σ price × qty of the fills, in ticks × lots (for the average price).
    pub filled_ticks_lots: i128,
    pub status: OrderStatus,
    pub reason: Option<CloseReason>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub fills: Vec<OrderFill>,
}

impl OrderRecord {
    /// Average fill price as a decimal, `None` before the first fill.
    pub fn average_price(&self, tick: Decimal, scale: u32) -> Option<Decimal> {
        (self.filled.0 > 0).then(|| {
            (Decimal::from_i128_with_scale(self.filled_ticks_lots, 0) * tick
                / Decimal::from(self.filled.0))
            .round_dp(scale)
            .normalize()
        })
    }

    fn open_status(&self) -> OrderStatus {
        if self.filled.0 > 0 {
            OrderStatus::PartiallyFilled
        } else {
            OrderStatus::New
        }
    }
}

/// The result of an order command: the order after it, and the fills this request produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderReport {
    pub order: OrderRecord,
    pub fills: Vec<OrderFill>,
    /// An identical retry of an earlier `client_order_id`: nothing new happened (HTTP 200).
    pub retry: bool,
}

/// Why an R1 check on a client order id stopped the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientIdCheck {
    /// Not used: go ahead.
    Free,
    /// An identical earlier request: answer with this order (HTTP 200).
    Retry(Box<OrderRecord>),
    /// Used by a different request: `DUPLICATE_CLIENT_ORDER_ID`.
    Conflict,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OrderStore {
    orders: records::Records,
    by_client: FxHashMap<(AccountId, String), (MarketId, OrderId)>,
    /// Open orders per account (ordered by market, then id).
    open: FxHashMap<AccountId, BTreeSet<(MarketId, OrderId)>>,
    closed: FxHashMap<AccountId, VecDeque<(MarketId, OrderId)>>,
    fills: FxHashMap<AccountId, VecDeque<OrderFill>>,
    next_id: Vec<u64>,
    /// A setting, not state: not stored in snapshots, set from the config.
    #[serde(skip)]
    retention: crate::engine::Retention,
}

impl OrderStore {
    pub fn new(markets: usize) -> OrderStore {
        OrderStore {
            next_id: vec![1; markets],
            ..OrderStore::default()
        }
    }

    /// Keep at most these closed orders and fills per account from now on.
    pub fn set_retention(&mut self, r: crate::engine::Retention) {
        self.retention = r;
    }

    /// Assign the next order id of `market` (R1).
    pub fn assign_id(&mut self, market: MarketId) -> OrderId {
        let n = &mut self.next_id[market.index()];
        let id = OrderId(*n);
        *n += 1;
        id
    }

    pub fn get(&self, market: MarketId, id: OrderId) -> Option<&OrderRecord> {
        self.orders.get(&(market, id))
    }

    /// The order of `account` with `client_order_id`, if retained.
    pub fn by_client_id(&self, account: AccountId, client_order_id: &str) -> Option<&OrderRecord> {
        let key = self.by_client.get(&(account, client_order_id.to_owned()))?;
        self.orders.get(key)
    }

    /// R1: may this request use `client_order_id`? `same` says whether a retained order is the
    /// identical request (a retry: answer with it). A different request may reuse the id of a
    /// closed order (ids are unique among open orders), not of an open one.
    pub fn check_client_id(
        &self,
        account: AccountId,
        client_order_id: &str,
        same: impl Fn(&OrderRecord) -> bool,
    ) -> ClientIdCheck {
        match self.by_client_id(account, client_order_id) {
            None => ClientIdCheck::Free,
            Some(r) if same(r) => ClientIdCheck::Retry(Box::new(r.clone())),
            // Unique among open orders only: a closed order's id may name a new order.
            Some(r) if r.status.is_closed() => ClientIdCheck::Free,
            Some(_) => ClientIdCheck::Conflict,
        }
    }

    /// Orders of `account` in `market`: open ones, closed ones, newest first.
    pub fn list(
        &self,
        account: AccountId,
        market: MarketId,
        open: bool,
        closed: bool,
        limit: usize,
    ) -> Vec<&OrderRecord> {
        let mut keys: Vec<(MarketId, OrderId)> = Vec::new();
        if open {
            if let Some(set) = self.open.get(&account) {
                keys.extend(
                    set.range((market, OrderId(0))..=(market, OrderId(u64::MAX)))
                        .copied(),
                );
            }
        }
        if closed {
            if let Some(list) = self.closed.get(&account) {
                keys.extend(list.iter().filter(|(m, _)| *m == market).copied());
            }
        }
        keys.sort_by_key(|k| std::cmp::Reverse(k.1));
        keys.iter()
            .filter_map(|k| self.orders.get(k))
            .take(limit)
            .collect()
    }

    /// Open orders of `account` in every market, newest first (by creation time, then market
    /// and order id: order ids count per market), at most `limit`.
    pub fn open_everywhere(&self, account: AccountId, limit: usize) -> Vec<&OrderRecord> {
        let mut v: Vec<&OrderRecord> = self
            .open
            .get(&account)
            .into_iter()
            .flatten()
            .filter_map(|k| self.orders.get(k))
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.market, r.order.order_id)));
        v.truncate(limit);
        v
    }

    /// Fills of `account`, newest first, optionally in one market and before a trade id
    /// (fills of different markets compare by time, then trade id).
    pub fn fills(
        &self,
        account: AccountId,
        market: Option<MarketId>,
        before: Option<TradeId>,
        limit: usize,
    ) -> Vec<OrderFill> {
        let Some(all) = self.fills.get(&account) else {
            return Vec::new();
        };
        all.iter()
            .rev()
            .filter(|f| market.is_none_or(|m| f.market == m))
            .filter(|f| before.is_none_or(|b| f.trade_id < b))
            .take(limit)
            .copied()
            .collect()
    }

    /// R2: record an accepted order.
    pub fn accept(
        &mut self,
        market: MarketId,
        a: &Order,
        client_order_id: Option<String>,
        parked: bool,
        now: Timestamp,
    ) {
        if let Some(c) = &client_order_id {
            self.by_client
                .insert((a.account, c.clone()), (market, a.order_id));
        }
        let next = &mut self.next_id[market.index()];
        *next = (*next).max(a.order_id.0 + 1);
        self.open
            .entry(a.account)
            .or_default()
            .insert((market, a.order_id));
        self.orders.insert(OrderRecord {
            order: *a,
            market,
            client_order_id,
            filled: Qty::ZERO,
            remaining: if parked { a.terms.qty } else { Qty::ZERO },
            filled_ticks_lots: 0,
            status: if parked {
                OrderStatus::Untriggered
            } else {
                OrderStatus::New
            },
            reason: None,
            created_at: now,
            updated_at: now,
            fills: Vec::new(),
        });
    }

    /// R2: a conditional order was parked in the trigger book.
    pub fn park(&mut self, market: MarketId, id: OrderId) {
        if let Some(r) = self.orders.get_mut(&(market, id)) {
            r.status = OrderStatus::Untriggered;
            r.remaining = r.order.terms.qty;
        }
    }

    /// Move a closed order to its account's bounded closed list, forgetting the oldest. Only
    /// the first call for an order does anything (it leaves the open set once).
    fn retire(&mut self, market: MarketId, id: OrderId) {
        let Some(account) = self.orders.get(&(market, id)).map(|r| r.order.account) else {
            return;
        };
        let Some(set) = self.open.get_mut(&account) else {
            return;
        };
        if !set.remove(&(market, id)) {
            return;
        }
        if set.is_empty() {
            self.open.remove(&account);
        }
        let list = self.closed.entry(account).or_default();
        list.push_back((market, id));
        while list.len() > self.retention.closed_orders.max(1) {
            if let Some(old) = list.pop_front() {
                if let Some(r) = self.orders.remove(&old) {
                    if let Some(c) = r.client_order_id {
                        // Only if the id still names this order (a closed order's id may have
                        // been reused by a newer one).
                        let key = (r.order.account, c);
                        if self.by_client.get(&key) == Some(&old) {
                            self.by_client.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Open orders of `account` in `market` (ids ascending).
    pub fn open_ids(&self, account: AccountId, market: MarketId) -> Vec<OrderId> {
        self.open.get(&account).map_or_else(Vec::new, |set| {
            set.range((market, OrderId(0))..=(market, OrderId(u64::MAX)))
                .map(|k| k.1)
                .collect()
        })
    }
}
