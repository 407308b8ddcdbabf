//! Replay of a market engine from its recorded [`MarketEvent`]s, and its state hash.
//!
//! Live commands still execute in place (validation, matching, trigger runs, reduce-only
//! upkeep); their consequences are all in the events they emit, so replay only applies
//! outcomes: the book through [`Book::apply`](crate::book::Book::apply), then the same
//! bookkeeping `after_book` does (position cache, reduce-only index, market data, last
//! price checked). This is the documented deviation from docs/ARCHITECTURE.md §1; equivalence is tested
//! (`tests/replay.rs`: live vs replayed state hash after every command).
//!
//! # Invariants
//! - After the events of one command, the replayed engine hashes like the live one.
//! - Positions moved outside the book (insurance takeover, ADL) emit no market event; the
//!   engine replays them from the ledger's `PositionTransferred` of the same journal entry
//!   ([`MarketEngine::apply_entry`], which recovery, the snapshot replica and a follower all
//!   use).

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use super::{Holder, MarketEngine, MarketEvent, TradeTick};
use crate::book::{BookOrder, TriggerOrder};
use crate::domain::{AccountId, ApplyError, BookEvent, MarketId, PositionSide, Qty, Timestamp};
use crate::engine::LedgerEvent;

impl MarketEngine {
    /// Apply one recorded event; `time` is the time of the command that emitted it.
    pub fn apply(&mut self, e: &MarketEvent, time: Timestamp) -> Result<(), ApplyError> {
        match e {
            MarketEvent::Accepted(a) => {
                self.accepted = Some(*a);
                let b = BookOrder::of(a, Qty::ZERO);
                self.book.enter(a.order_id, crate::book::flags_of(&b));
            }
            MarketEvent::Parked { order_id } => {
                let a = self
                    .accepted
                    .filter(|a| a.order_id == *order_id)
                    .ok_or_else(|| ApplyError(format!("parked order {order_id:?} not accepted")))?;
                let trigger = a.terms.trigger_price.ok_or_else(|| {
                    ApplyError(format!("parked order {order_id:?} has no trigger price"))
                })?;
                let order = BookOrder::of(&a, self.position(a.account, a.terms.position_side));
                let t = TriggerOrder::new(order, a.terms.order_type, trigger, a.terms.trigger_by);
                self.book.apply_park(t)?;
                if a.terms.close_position {
                    self.tpsl_parked((a.account, a.terms.position_side), a.order_id);
                }
            }
            MarketEvent::Linked { entry, orders } => self.tpsl_link(*entry, orders),
            MarketEvent::Book(b) => {
                self.book.apply(b)?;
                self.after_apply(b, time);
                // The cancels the links ask for are recorded as their own `Closed` events.
                self.tpsl_cancels.clear();
                self.tpsl_flat.clear();
                if let BookEvent::Trade(t) = b {
                    // Live, `last` triggers run after every trade, so at each command's end
                    // the last price checked is the last trade price.
                    self.last_checked = Some(t.price);
                }
            }
            MarketEvent::MarkSet { mark, index_stale } => {
                self.mark = *mark;
                self.index_stale = *index_stale;
                self.bounds = self.spec.take_bounds(*mark);
            }
        }
        Ok(())
    }

    /// The bookkeeping of one book event, shared by live `after_book` and replay: position
    /// cache, market data and the reduce-only index (oldest first; an order leaves it when it
    /// closes, fills completely or is taken out to be requeued, and a requeued order rejoins
    /// at the end, as it is then the newest).
    pub(super) fn after_apply(&mut self, b: &BookEvent, time: Timestamp) {
        let (mut cancels, mut flat) = (
            std::mem::take(&mut self.tpsl_cancels),
            std::mem::take(&mut self.tpsl_flat),
        );
        self.tpsl_apply(b, &mut cancels, &mut flat);
        (self.tpsl_cancels, self.tpsl_flat) = (cancels, flat);
        match *b {
            BookEvent::Trade(t) => {
                let s = t.taker_side.sign() * t.qty.0;
                self.apply_position_delta((t.taker_account, t.taker_position), Qty(s));
                self.apply_position_delta((t.maker.account, t.maker_position), Qty(-s));
                self.data.record(TradeTick {
                    trade_id: t.trade_id,
                    price: t.price,
                    qty: t.qty,
                    taker_side: t.taker_side,
                    time,
                });
            }
            BookEvent::Rested {
                order_id, account, ..
            } => {
                if let Some(h) = self.reduce_only_holder(order_id, account) {
                    self.reduce_only.entry(h).or_default().push(order_id);
                }
            }
            BookEvent::Closed {
                order_id, account, ..
            } => self.forget_reduce_only(account, order_id),
            BookEvent::Amended {
                order_id,
                requeued: true,
                ..
            } => {
                if let Some((account, _)) = self.reduce_only_owner(order_id) {
                    self.forget_reduce_only(account, order_id);
                }
            }
            _ => {}
        }
        if let BookEvent::Trade(t) = *b {
            if t.maker.remaining.is_zero() {
                self.forget_reduce_only(t.maker.account, t.maker.order_id);
            }
        }
    }

    /// The leg whose reduce-only index holds `id`, if any (rare orders: a short scan).
    fn reduce_only_owner(&self, id: crate::domain::OrderId) -> Option<Holder> {
        self.reduce_only
            .iter()
            .find(|(_, ids)| ids.contains(&id))
            .map(|(a, _)| *a)
    }

    /// This market's share of one journal entry: its market events when the entry is this
    /// market's (`entry_market == own`), then every position the ledger moved outside the book
    /// here (`PositionTransferred`). Stops at the first event that does not apply.
    pub fn apply_entry(
        &mut self,
        own: MarketId,
        entry_market: Option<MarketId>,
        market_events: &[MarketEvent],
        ledger_events: &[LedgerEvent],
        time: Timestamp,
    ) -> Result<(), ApplyError> {
        if entry_market == Some(own) {
            for e in market_events {
                self.apply(e, time)?;
            }
        }
        for e in ledger_events {
            if let LedgerEvent::PositionTransferred {
                market,
                from,
                to,
                qty,
                ..
            } = *e
            {
                if market == own {
                    let (from, to) = (self.reduced_leg(from, -qty), self.reduced_leg(to, qty));
                    self.apply_position_delta(from, Qty(-qty));
                    self.apply_position_delta(to, Qty(qty));
                }
            }
        }
        Ok(())
    }

    /// The leg of `account` that a move of `delta` lots outside the book (insurance takeover,
    /// ADL) changes (docs/RULES.md §3b): such a move only ever reduces a hedge-mode leg, so it
    /// is the long leg for a negative `delta` and the short one for a positive one when the
    /// account holds that leg here; a one-way account's is `both` (it never holds `long` or
    /// `short` legs). The ledger names the same legs (`Ledger::transfer_legs`).
    pub fn reduced_leg(&self, account: AccountId, delta: i64) -> Holder {
        let hedge = if delta < 0 {
            PositionSide::Long
        } else {
            PositionSide::Short
        };
        if self.positions.contains_key(&(account, hedge)) {
            (account, hedge)
        } else {
            (account, PositionSide::Both)
        }
    }

    /// Move a leg's cached position by `delta` lots (no events: replay of a position moved
    /// outside the book, whose upkeep events are recorded separately).
    pub fn apply_position_delta(&mut self, holder: Holder, delta: Qty) {
        let q = self.positions.entry(holder).or_insert(0);
        *q += delta.0;
        if *q == 0 {
            self.positions.remove(&holder);
        }
    }

    /// SHA-256 over the engine's logical state: the book's hash, mark, stale flag, positions
    /// and reduce-only index by account, market data and the last price checked. Independent
    /// of hash-map order.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"perpx-market-v1");
        h.update(self.book.state_hash());
        h.update(self.mark.normalize().serialize());
        h.update([u8::from(self.index_stale)]);
        for ((a, leg), q) in sorted(&self.positions) {
            h.update(a.0.to_le_bytes());
            h.update([leg.bits()]);
            h.update(q.to_le_bytes());
        }
        h.update(b"ro");
        for ((a, leg), ids) in sorted(&self.reduce_only) {
            h.update(a.0.to_le_bytes());
            h.update([leg.bits()]);
            for id in ids {
                h.update(id.0.to_le_bytes());
            }
            h.update(u64::MAX.to_le_bytes());
        }
        // expect: market data is plain data that postcard always serializes.
        h.update(postcard::to_stdvec(&self.data).expect("market data serializes"));
        h.update(self.last_checked.map_or(i64::MIN, |p| p.0).to_le_bytes());
        h.update(b"tpsl");
        h.update(self.tpsl.hash_bytes());
        h.finalize().into()
    }
}

fn sorted<V>(m: &FxHashMap<Holder, V>) -> Vec<(&Holder, &V)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_unstable_by_key(|(a, _)| **a);
    v
}
