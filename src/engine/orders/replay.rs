//! Applying market events to the [`OrderStore`]: one function for the AccountActor's R2 and
//! for replay, the store's state hash, and its versioned snapshot.
//!
//! # Invariants
//! - Live, each trade's fee and realized PnL come from the [`FillRecord`] the ledger just
//!   settled; in replay from the `FillSettled` records of the same batch, which are journaled
//!   in trade order. A trade without its record (or with another trade's) is an
//!   [`ApplyError`].
//! - Snapshot encodings start with a format tag; unknown tags are refused.

use sha2::{Digest, Sha256};

use super::OrderStore;
use crate::domain::MarketId;
use crate::domain::{Amount, ApplyError, BookEvent, OrderId, Timestamp};
use crate::engine::market::MarketEvent;
use crate::engine::{FillRecord, LedgerEvent};

/// Format tag of order-store snapshots.
pub const ORDERS_SNAPSHOT_V1: u8 = 1;

impl OrderStore {
    /// Apply one market event of `market` at `now`. `client_id` is the client order id of an
    /// `Accepted` order; `fill` the ledger's record of a `Trade` (fees, realized PnL).
    pub fn apply_market_event(
        &mut self,
        market: MarketId,
        e: &MarketEvent,
        client_id: Option<String>,
        fill: Option<&FillRecord>,
        now: Timestamp,
    ) {
        match e {
            MarketEvent::Accepted(a) => self.accept(market, a, client_id, false, now),
            MarketEvent::Parked { order_id } => self.park(market, *order_id),
            MarketEvent::Book(b) => {
                let fee_of = |id: OrderId| match fill {
                    Some(r) if id == r.taker_order => {
                        (r.taker_fee + r.liquidation_fee, r.taker_realized)
                    }
                    Some(r) => (r.maker_fee, r.maker_realized),
                    None => (Amount::ZERO, Amount::ZERO),
                };
                self.apply_book(market, b, fee_of, now);
            }
            // The links live in the market engine; each order has its own record.
            MarketEvent::MarkSet { .. } | MarketEvent::Linked { .. } => {}
        }
    }

    /// Replay one journaled command of `market`: its market events, with each trade's record
    /// taken in order from the `FillSettled` events of `r2`, and its client order ids.
    pub fn apply_events(
        &mut self,
        market: MarketId,
        events: &[MarketEvent],
        r2: &[LedgerEvent],
        client_ids: &[(OrderId, String)],
        now: Timestamp,
    ) -> Result<(), ApplyError> {
        let mut fills = r2.iter().filter_map(|e| match e {
            LedgerEvent::FillSettled(r) => Some(r),
            _ => None,
        });
        for e in events {
            let (client, fill) = match e {
                MarketEvent::Accepted(a) => (
                    client_ids
                        .iter()
                        .find(|(id, _)| *id == a.order_id)
                        .map(|(_, c)| c.clone()),
                    None,
                ),
                MarketEvent::Book(BookEvent::Trade(t)) => {
                    let r = fills.next().filter(|r| r.trade_id == t.trade_id);
                    let r = r.ok_or_else(|| {
                        ApplyError(format!(
                            "trade {:?} of market {} has no matching FillSettled record",
                            t.trade_id, market.0
                        ))
                    })?;
                    (None, Some(r))
                }
                _ => (None, None),
            };
            self.apply_market_event(market, e, client, fill, now);
        }
        Ok(())
    }

    /// SHA-256 over the store's content in a canonical order (independent of map order),
    /// excluding the id allocator.
    pub fn state_hash(&self) -> [u8; 32] {
        fn put<T: serde::Serialize>(h: &mut Sha256, v: &T) {
            // expect: plain data, which postcard always serializes.
            h.update(postcard::to_stdvec(v).expect("order store serializes"));
        }
        let mut h = Sha256::new();
        h.update(b"perpx-orders-v1");
        let mut orders: Vec<_> = self.orders.iter().collect();
        orders.sort_unstable_by_key(|(k, _)| *k);
        put(&mut h, &orders);
        let mut by_client: Vec<_> = self.by_client.iter().collect();
        by_client.sort_unstable();
        put(&mut h, &by_client);
        let mut open: Vec<_> = self.open.iter().collect();
        open.sort_unstable_by_key(|(a, _)| **a);
        put(&mut h, &open);
        let mut closed: Vec<_> = self.closed.iter().collect();
        closed.sort_unstable_by_key(|(a, _)| **a);
        put(&mut h, &closed);
        let mut fills: Vec<_> = self.fills.iter().collect();
        fills.sort_unstable_by_key(|(a, _)| **a);
        put(&mut h, &fills);
        // `next_id` is excluded: live, an id refused after R1 is never reused but leaves no
        // record, so replay resumes after the highest accepted id (both are safe).
        h.finalize().into()
    }

    /// Tagged postcard bytes of the whole store.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut out = vec![ORDERS_SNAPSHOT_V1];
        // expect: plain data, which postcard always serializes.
        out.extend(postcard::to_stdvec(self).expect("order store serializes"));
        out
    }

    /// Decode a snapshot of a store over `markets` markets.
    pub fn decode_snapshot(bytes: &[u8], markets: usize) -> Result<OrderStore, ApplyError> {
        let s: OrderStore = match bytes.split_first() {
            Some((&ORDERS_SNAPSHOT_V1, rest)) => postcard::from_bytes(rest)
                .map_err(|e| ApplyError(format!("order snapshot: corrupt: {e}")))?,
            Some((v, _)) => {
                return Err(ApplyError(format!(
                    "order snapshot: format {v} is not known to this build (knows {ORDERS_SNAPSHOT_V1})"
                )))
            }
            None => return Err(ApplyError("order snapshot: empty".into())),
        };
        if s.next_id.len() != markets {
            return Err(ApplyError(format!(
                "order snapshot has {} markets but the config has {markets}",
                s.next_id.len()
            )));
        }
        Ok(s)
    }
}
