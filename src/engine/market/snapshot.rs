//! Versioned snapshots of a [`MarketEngine`]: the book's logical content, mark, position
//! cache, reduce-only index and market data. The spec is not stored (it comes from the
//! config); the symbol, tick and lot are, so a snapshot is never restored into a market whose
//! units differ.
//!
//! # Invariants
//! - `restore(spec, decode(encode(e)))` has the same [`MarketEngine::state_hash`] as `e`.
//! - The first byte is the format tag; an unknown tag is refused, never guessed at.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Holder, MarketData, MarketEngine, TpSlLinks, TpSlSnapshot};
use crate::book::{Book, BookSnapshot};
use crate::domain::{AccountId, ApplyError, MarketSpec, OrderId, PositionSide, Price};

/// Format tag of [`MarketSnapshot`] encodings (2: resting orders carry their filled quantity;
/// 3: candles keep their turnover and taker-buy volume; 4: positions and reduce-only orders
/// per leg, for hedge mode; 5: take-profit / stop-loss links). Formats 3 (every leg `both`) and
/// 4 (no links) still decode.
pub const MARKET_SNAPSHOT_FORMAT: u8 = 5;

/// A market engine's state, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketSnapshot {
    pub symbol: String,
    pub tick_size: Decimal,
    pub lot_size: Decimal,
    pub book: BookSnapshot,
    pub mark: Decimal,
    pub index_stale: bool,
    /// Sorted by leg.
    pub positions: Vec<(Holder, i64)>,
    /// Sorted by leg; each list oldest first.
    pub reduce_only: Vec<(Holder, Vec<OrderId>)>,
    pub data: MarketData,
    pub last_checked: Option<Price>,
    /// TP/SL pairs and the entries they wait for (the close-position index is rebuilt).
    pub tpsl: TpSlSnapshot,
}

/// Format 4: no TP/SL links.
#[derive(Deserialize)]
struct MarketSnapshotV4 {
    symbol: String,
    tick_size: Decimal,
    lot_size: Decimal,
    book: BookSnapshot,
    mark: Decimal,
    index_stale: bool,
    positions: Vec<(Holder, i64)>,
    reduce_only: Vec<(Holder, Vec<OrderId>)>,
    data: MarketData,
    last_checked: Option<Price>,
}

impl From<MarketSnapshotV4> for MarketSnapshot {
    fn from(s: MarketSnapshotV4) -> MarketSnapshot {
        MarketSnapshot {
            symbol: s.symbol,
            tick_size: s.tick_size,
            lot_size: s.lot_size,
            book: s.book,
            mark: s.mark,
            index_stale: s.index_stale,
            positions: s.positions,
            reduce_only: s.reduce_only,
            data: s.data,
            last_checked: s.last_checked,
            tpsl: TpSlSnapshot::default(),
        }
    }
}

/// Format 3: positions and reduce-only orders per account (every leg `both`).
#[derive(Deserialize)]
struct MarketSnapshotV3 {
    symbol: String,
    tick_size: Decimal,
    lot_size: Decimal,
    book: BookSnapshot,
    mark: Decimal,
    index_stale: bool,
    positions: Vec<(AccountId, i64)>,
    reduce_only: Vec<(AccountId, Vec<OrderId>)>,
    data: MarketData,
    last_checked: Option<Price>,
}

impl From<MarketSnapshotV3> for MarketSnapshot {
    fn from(s: MarketSnapshotV3) -> MarketSnapshot {
        let both = |a| (a, PositionSide::Both);
        MarketSnapshot {
            symbol: s.symbol,
            tick_size: s.tick_size,
            lot_size: s.lot_size,
            book: s.book,
            mark: s.mark,
            index_stale: s.index_stale,
            positions: s.positions.into_iter().map(|(a, q)| (both(a), q)).collect(),
            reduce_only: s
                .reduce_only
                .into_iter()
                .map(|(a, v)| (both(a), v))
                .collect(),
            data: s.data,
            last_checked: s.last_checked,
            tpsl: TpSlSnapshot::default(),
        }
    }
}

impl MarketSnapshot {
    /// Tagged postcard bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![MARKET_SNAPSHOT_FORMAT];
        // expect: plain data, which postcard always serializes.
        out.extend(postcard::to_stdvec(self).expect("market snapshot serializes"));
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<MarketSnapshot, ApplyError> {
        match bytes.split_first() {
            Some((&MARKET_SNAPSHOT_FORMAT, rest)) => postcard::from_bytes(rest)
                .map_err(|e| ApplyError(format!("market snapshot: corrupt: {e}"))),
            Some((4, rest)) => postcard::from_bytes::<MarketSnapshotV4>(rest)
                .map(MarketSnapshot::from)
                .map_err(|e| ApplyError(format!("market snapshot: corrupt: {e}"))),
            Some((3, rest)) => postcard::from_bytes::<MarketSnapshotV3>(rest)
                .map(MarketSnapshot::from)
                .map_err(|e| ApplyError(format!("market snapshot: corrupt: {e}"))),
            Some((v, _)) => Err(ApplyError(format!(
                "market snapshot: format {v} is not known to this build (knows {MARKET_SNAPSHOT_FORMAT})"
            ))),
            None => Err(ApplyError("market snapshot: empty".into())),
        }
    }
}

impl MarketEngine {
    pub fn snapshot(&self) -> MarketSnapshot {
        let mut positions: Vec<_> = self.positions.iter().map(|(a, q)| (*a, *q)).collect();
        positions.sort_unstable();
        let mut reduce_only: Vec<_> = self
            .reduce_only
            .iter()
            .map(|(a, v)| (*a, v.clone()))
            .collect();
        reduce_only.sort_unstable_by_key(|(a, _)| *a);
        MarketSnapshot {
            symbol: self.spec.symbol.clone(),
            tick_size: self.spec.tick_size,
            lot_size: self.spec.lot_size,
            book: self.book.snapshot(),
            mark: self.mark,
            index_stale: self.index_stale,
            positions,
            reduce_only,
            data: self.data.clone(),
            last_checked: self.last_checked,
            tpsl: self.tpsl_snapshot(),
        }
    }

    /// Rebuild the engine of `spec` from a snapshot of the same market (symbol, tick and lot
    /// must match: prices and quantities are stored in its ticks and lots).
    pub fn restore(spec: MarketSpec, s: &MarketSnapshot) -> Result<MarketEngine, ApplyError> {
        if (s.symbol.as_str(), s.tick_size, s.lot_size)
            != (spec.symbol.as_str(), spec.tick_size, spec.lot_size)
        {
            return Err(ApplyError(format!(
                "market snapshot is of {} (tick {}, lot {}) but the config has {} (tick {}, lot {})",
                s.symbol, s.tick_size, s.lot_size, spec.symbol, spec.tick_size, spec.lot_size
            )));
        }
        let mut e = MarketEngine::new(spec);
        let mut book = Book::restore(&s.book)?;
        // The open-order limit is configuration, not state.
        book.set_max_open_orders(e.spec.max_open_orders);
        e.book = book;
        e.mark = s.mark;
        e.index_stale = s.index_stale;
        e.bounds = e.spec.take_bounds(s.mark);
        e.positions = s.positions.iter().copied().collect();
        e.reduce_only = s.reduce_only.iter().cloned().collect();
        e.data = s.data.clone();
        e.last_checked = s.last_checked;
        let close = e
            .book
            .triggers()
            .iter()
            .filter(|t| t.order.close_position)
            .map(|t| ((t.order.account, t.order.position_side), t.order.id));
        let links = TpSlLinks::restore(&s.tpsl, close);
        e.tpsl = links;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::market::tests::btc;
    use crate::domain::{
        Order, OrderTerms, OrderType, PositionSide, Qty, Side, Stp, TimeInForce, Timestamp,
        TriggerBy,
    };
    use crate::engine::market::PlaceOrder;

    /// Format 3's layout (positions and reduce-only orders per account), to write one.
    #[derive(Serialize)]
    struct V3<'a> {
        symbol: &'a str,
        tick_size: Decimal,
        lot_size: Decimal,
        book: &'a BookSnapshot,
        mark: Decimal,
        index_stale: bool,
        positions: Vec<(AccountId, i64)>,
        reduce_only: Vec<(AccountId, Vec<OrderId>)>,
        data: &'a MarketData,
        last_checked: Option<Price>,
    }

    #[test]
    fn format_3_snapshots_still_load_as_both_legs() {
        let mut e = MarketEngine::new(btc());
        let mut out = Vec::new();
        for (id, account, side) in [(1, 100, Side::Sell), (2, 101, Side::Buy)] {
            let order = Order {
                order_id: OrderId(id),
                account: AccountId(account),
                terms: OrderTerms {
                    side,
                    order_type: OrderType::Limit,
                    tif: TimeInForce::Gtc,
                    price: Some(Price(500_000)),
                    trigger_price: None,
                    trigger_by: TriggerBy::Last,
                    qty: Qty(3),
                    reduce_only: false,
                    stp: Stp::None,
                    position_side: PositionSide::Both,
                    close_position: false,
                },
                liquidation: false,
            };
            let p = PlaceOrder {
                order,
                protect: None,
                linked: Default::default(),
            };
            e.place(p, Timestamp(1), &mut out).unwrap();
        }
        assert_eq!(e.position(AccountId(101), PositionSide::Both), Qty(3));
        let s = e.snapshot();
        let v3 = V3 {
            symbol: &s.symbol,
            tick_size: s.tick_size,
            lot_size: s.lot_size,
            book: &s.book,
            mark: s.mark,
            index_stale: s.index_stale,
            positions: s.positions.iter().map(|((a, _), q)| (*a, *q)).collect(),
            reduce_only: Vec::new(),
            data: &s.data,
            last_checked: s.last_checked,
        };
        let mut bytes = vec![3u8];
        bytes.extend(postcard::to_stdvec(&v3).unwrap());
        let decoded = MarketSnapshot::decode(&bytes).unwrap();
        assert_eq!(decoded, s);
        let restored = MarketEngine::restore(btc(), &decoded).unwrap();
        assert_eq!(restored.state_hash(), e.state_hash());
        assert!(MarketSnapshot::decode(&[9u8]).is_err());
    }
}
