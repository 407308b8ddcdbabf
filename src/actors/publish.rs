//! Publishing points (docs/ARCHITECTURE.md §2): the native wire forms of market data (rendered
//! once per event through the typed feed, `super::feed`, and by the replication events stream);
//! per account, a bounded channel of typed private updates created when someone subscribes. A
//! lagging receiver sees `Lagged` and is closed by its session as a slow consumer; nothing here
//! buffers without bound.

use std::sync::{Arc, RwLock};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::domain::{AccountId, MarketSpec, Price, Qty, Side};
use crate::engine::orders::{OrderFill, OrderRecord};
use crate::engine::AccountView;

/// Capacity of each account's private channel.
pub const PRIVATE_CAPACITY: usize = 1024;

/// A serialized market-data message.
pub type Wire = Arc<str>;

/// A private update for one account.
#[derive(Clone, Debug)]
pub enum PrivateUpdate {
    Order(OrderRecord),
    Fill(OrderFill),
    Account(Box<AccountView>),
    /// The account's leverage in a market changed.
    Leverage {
        market: crate::risk::MarketId,
        leverage: u32,
    },
}

/// Every account's private channel, created on first subscription.
#[derive(Default)]
pub struct PrivateFeeds {
    map: RwLock<FxHashMap<AccountId, broadcast::Sender<Arc<PrivateUpdate>>>>,
}

impl PrivateFeeds {
    /// Subscribe to `account`'s updates.
    pub fn subscribe(&self, account: AccountId) -> broadcast::Receiver<Arc<PrivateUpdate>> {
        // expect: a poisoned lock means a publisher panicked, which stops the process anyway.
        let mut map = self.map.write().expect("private feeds lock");
        map.entry(account)
            .or_insert_with(|| broadcast::channel(PRIVATE_CAPACITY).0)
            .subscribe()
    }

    /// Whether anyone listens to `account` now (publish nothing otherwise: building an
    /// account view is not free).
    pub fn wants(&self, account: AccountId) -> bool {
        self.map
            .read()
            .expect("private feeds lock")
            .get(&account)
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    pub fn publish(&self, account: AccountId, update: PrivateUpdate) {
        let map = self.map.read().expect("private feeds lock");
        if let Some(tx) = map.get(&account) {
            // No receivers left is fine: the channel is dropped on the next prune.
            let _ = tx.send(Arc::new(update));
        }
    }

    /// Drop channels nobody listens to any more.
    pub fn prune(&self) {
        self.map
            .write()
            .expect("private feeds lock")
            .retain(|_, tx| tx.receiver_count() > 0);
    }
}

// ------------------------------------------------------------ wire formats (docs/API.md)

/// A price as the wire shows it.
pub fn px(spec: &MarketSpec, p: Price) -> String {
    spec.price_decimal(p).to_string()
}

/// Quantities are normalized like every REST quantity (`"0.02"`, not `"0.020"`); prices keep
/// the tick's scale (`"50000.0"`), as in docs/API.md's examples.
pub fn qx(spec: &MarketSpec, q: Qty) -> String {
    q.text(spec.lot_size)
}

/// `[price, qty]` pairs as decimal strings.
pub fn levels(spec: &MarketSpec, levels: &[(Price, Qty)]) -> Vec<[String; 2]> {
    levels
        .iter()
        .map(|&(p, q)| [px(spec, p), qx(spec, q)])
        .collect()
}

#[derive(Serialize)]
struct BookUpdate<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    symbol: &'a str,
    sequence: u64,
    prev_sequence: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
}

/// A `book_update` from the level changes of one command.
pub fn book_update(
    spec: &MarketSpec,
    sequence: u64,
    prev: u64,
    changes: &[(Side, Price, Qty)],
) -> Wire {
    let pick = |side: Side| {
        changes
            .iter()
            .filter(|c| c.0 == side)
            .map(|&(_, p, q)| [px(spec, p), qx(spec, q)])
            .collect()
    };
    let msg = BookUpdate {
        kind: "book_update",
        symbol: &spec.symbol,
        sequence,
        prev_sequence: prev,
        bids: pick(Side::Buy),
        asks: pick(Side::Sell),
    };
    // expect: plain strings and integers always serialize.
    serde_json::to_string(&msg)
        .expect("book update serializes")
        .into()
}

#[derive(Serialize)]
struct TradeMsg<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    symbol: &'a str,
    trade_id: u64,
    price: String,
    quantity: String,
    taker_side: Side,
    time: u64,
}

pub fn trade(spec: &MarketSpec, t: &crate::engine::market::TradeTick) -> Wire {
    let msg = TradeMsg {
        kind: "trade",
        symbol: &spec.symbol,
        trade_id: t.trade_id.0,
        price: px(spec, t.price),
        quantity: qx(spec, t.qty),
        taker_side: t.taker_side,
        time: t.time.0,
    };
    serde_json::to_string(&msg)
        .expect("trade serializes")
        .into()
}

#[derive(Serialize)]
struct LiquidationMsg<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    symbol: &'a str,
    side: Side,
    price: String,
    quantity: String,
    time: u64,
}

pub fn liquidation(spec: &MarketSpec, side: Side, price: Price, qty: Qty, time: u64) -> Wire {
    let msg = LiquidationMsg {
        kind: "liquidation",
        symbol: &spec.symbol,
        side,
        price: px(spec, price),
        quantity: qx(spec, qty),
        time,
    };
    serde_json::to_string(&msg)
        .expect("liquidation serializes")
        .into()
}

/// The `ticker` message fields (read back from the primary's text on a follower).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticker {
    #[serde(rename = "type", skip_deserializing, default = "ticker_kind")]
    pub kind: &'static str,
    pub symbol: String,
    pub best_bid: Option<String>,
    pub best_ask: Option<String>,
    pub last_price: Option<String>,
    pub mark_price: String,
    pub index_price: String,
    pub funding_rate: Option<String>,
    pub next_funding_time: u64,
    pub time: u64,
}

fn ticker_kind() -> &'static str {
    "ticker"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_channels_exist_only_while_someone_listens() {
        let feeds = PrivateFeeds::default();
        let a = AccountId(101);
        assert!(!feeds.wants(a));
        let rx = feeds.subscribe(a);
        assert!(feeds.wants(a));
        drop(rx);
        assert!(!feeds.wants(a), "no listener left: nothing to build");
        feeds.prune();
        assert!(feeds.map.read().unwrap().is_empty(), "pruned");
    }
}
