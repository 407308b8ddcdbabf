//! R1 (pre-trade checks and margin holds), amend reservations and hold release. The prices an
//! order is margined at and the reduce-only bounds are in `bounds.rs`, leverage in `leverage.rs`.
//!
//! # Invariants
//! - A rejected operation changes nothing and emits nothing.
//! - Whatever R1 checks it reserves until R2: an accepted order is held until the book closes
//!   or fills it; an amend in flight holds the union of the old and the new order (a
//!   transient shadow, `sides.rs`); a leverage change is checked against position plus open
//!   orders at once. Concurrent commands of one account can therefore interleave in any order
//!   at the markets without over-committing margin.
//! - The held margin is never stored: a market's order margin is recomputed from its open
//!   orders (docs/RULES.md §3: worst side, open loss), so releases and partial fills cannot leak.
//! - Reduce-only orders reserve no margin of their own, but none may be priced beyond the
//!   account's bankruptcy price for the position it reduces, taker fee included (its fill would
//!   take the wallet below zero outside liquidation): `INSUFFICIENT_MARGIN`. What they may
//!   reduce, the account's other orders on that side can no longer count on reducing: if that
//!   raises their margin beyond what is available, the reduce-only order is refused too.
//! - An amend that adds no risk (its effective order is not larger) is always allowed, even
//!   for an account that is already under-margined.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::figures::Figures;
use super::sides::Shadow;
use super::{Ledger, LedgerEvent, OpenOrder};
use crate::domain::Timestamp;
use crate::domain::{AccountId, NumberFault, NumberFaultKind, OrderId, Qty, Reject, Side};
use crate::domain::{Leg, PositionSide};
use crate::risk::margin::{self, SideOrders};
use crate::risk::MarketId;

/// R1's answer for an accepted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub account: AccountId,
    pub market: MarketId,
    pub order: OpenOrder,
    /// How much the market's order margin grew by accepting the order (≥ 0 in practice;
    /// worst-side netting can make it 0).
    pub margin: Decimal,
}

/// What R1 decided for an order, before anything changes.
struct Checked {
    /// The market's order margin with the order.
    order_margin: Decimal,
    /// The (account, market) figures before, at `mark_seq`.
    before: Figures,
    mark_seq: u64,
}

/// The aggregates an R1 check works on: the entry's effective orders, one of them replaced.
struct Candidate {
    leverage: u32,
    before: Figures,
    buys: SideOrders,
    sells: SideOrders,
    /// The same-side notional before the change (position limit: only growth is checked).
    notional_before: Decimal,
}

impl Ledger {
    /// R1: accept an order and hold its margin, or reject it (docs/RULES.md §3).
    /// `price` is the limit, or the price a market-type order is margined at.
    #[allow(clippy::too_many_arguments)] // the order's fields, as the shell has them
    pub fn pre_trade(
        &mut self,
        account: AccountId,
        market: MarketId,
        side: Side,
        qty: Qty,
        price: Decimal,
        reduce_only: bool,
        position_side: PositionSide,
        order_id: OrderId,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Hold, Reject> {
        let order = OpenOrder {
            order_id,
            side,
            qty: qty.0,
            price,
            reduce_only,
            position_side,
        };
        let a = self.try_idx(account)?;
        if self.held_order(account, market, order_id).is_some() {
            return Err(Reject::DuplicateOrderId);
        }
        let leg = Leg::new(market, position_side);
        let c = self.check_order(a, leg, &order, None)?;
        self.emit(
            LedgerEvent::OrderHeld {
                account,
                market,
                order,
            },
            now,
            out,
        );
        Ok(self.held(a, leg, order, c))
    }

    /// R1 of an amend (PATCH) on its way to the market: check the held order `order_id` as it
    /// would be with `qty` open lots at `price`, and reserve the union of old and new until
    /// [`Ledger::drop_amend`] (called at R2 with the same `ticket`, whatever the market did).
    /// Emits nothing: the reservation is transient, and R2 records what the book did.
    #[allow(clippy::too_many_arguments)] // the amend's fields
    pub fn reserve_amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: Qty,
        price: Decimal,
        ticket: u64,
    ) -> Result<(), Reject> {
        let a = self.try_idx(account)?;
        let old = self
            .held_order(account, market, order_id)
            .ok_or(Reject::OrderNotFound)?;
        let target = OpenOrder {
            qty: qty.0,
            price,
            ..old
        };
        let leg = Leg::new(market, old.position_side);
        self.check_order(a, leg, &target, Some(order_id))?;
        {
            let m = &self.markets[market.index()];
            let e = self.accounts[a].leg_mut(leg).ok_or(Reject::OrderNotFound)?;
            e.retrack(m, order_id, |e| {
                e.shadows.push(Shadow {
                    order_id,
                    ticket,
                    qty: qty.0,
                    price,
                })
            });
        }
        Ok(())
    }

    /// R2 of an amend: its reservation ends (the book's outcome was recorded, or it refused).
    pub fn drop_amend(&mut self, account: AccountId, market: MarketId, ticket: u64) {
        let Some(&a) = self.index.get(&account) else {
            return;
        };
        let m = &self.markets[market.index()];
        // The reservation lives with its order's leg.
        let Some(e) = self.accounts[a as usize]
            .markets
            .iter_mut()
            .find(|e| e.market == market && e.shadows.iter().any(|s| s.ticket == ticket))
        else {
            return;
        };
        if let Some(s) = e.shadows.iter().find(|s| s.ticket == ticket).copied() {
            e.retrack(m, s.order_id, |e| e.shadows.retain(|s| s.ticket != ticket));
        }
    }

    /// An amend checked and recorded at once (no market in between; pure tests and tools):
    /// [`Ledger::reserve_amend`] then [`Ledger::record_amend`] then [`Ledger::drop_amend`].
    #[allow(clippy::too_many_arguments)] // the amend's fields, then `now` and the event sink
    pub fn amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: Qty,
        price: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Hold, Reject> {
        let before = self.totals(account)?.order_margin;
        self.reserve_amend(account, market, order_id, qty, price, u64::MAX)?;
        self.record_amend(account, market, order_id, qty, price, now, out);
        self.drop_amend(account, market, u64::MAX);
        let order = self
            .held_order(account, market, order_id)
            .ok_or(Reject::OrderNotFound)?;
        Ok(Hold {
            account,
            market,
            order,
            margin: self.totals(account)?.order_margin - before,
        })
    }

    /// R2: record that the book now holds `order_id` with `qty` open lots at `price` (an amend
    /// the market applied, or a reduce-only order it shrank). No checks: the book has already
    /// changed. Returns whether a hold existed and changed.
    #[allow(clippy::too_many_arguments)] // the amend's fields, then `now` and the event sink
    pub fn record_amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: Qty,
        price: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> bool {
        let changed = self
            .held_order(account, market, order_id)
            .is_some_and(|o| o.qty != qty.0 || o.price != price);
        if changed {
            self.emit(
                LedgerEvent::OrderAmended {
                    account,
                    market,
                    order_id,
                    qty: qty.0,
                    price,
                },
                now,
                out,
            );
        }
        changed
    }

    /// The aggregates of (account, leg) with the effective order of `replacing` taken out
    /// and `order` (united with that effective order, when replacing) put in. Changes only
    /// caches.
    fn candidate(
        &mut self,
        a: usize,
        leg: Leg,
        order: &OpenOrder,
        replacing: Option<OrderId>,
    ) -> (Candidate, OpenOrder) {
        let market = leg.market;
        if self.accounts[a].leg(leg).is_none() {
            let mut c = Candidate {
                leverage: self.leverage(self.accounts[a].id, market),
                before: Figures::default(),
                buys: SideOrders::default(),
                sells: SideOrders::default(),
                notional_before: Decimal::ZERO,
            };
            self.add_to(&mut c, market, order, true);
            return (c, *order);
        }
        let mark = self.markets[market.index()].mark;
        let (mut c, old) = self.with_entry(a, leg, |e, m| {
            let (buys, sells) = e.sides(m);
            let old = replacing.and_then(|id| e.orders.get(&id).map(|o| e.effective(o, m.mark)));
            let c = Candidate {
                leverage: e.leverage,
                before: e.cache.map_or(Figures::default(), |c| c.1),
                notional_before: if order.side == Side::Buy {
                    buys.notional
                } else {
                    sells.notional
                },
                buys,
                sells,
            };
            (c, old)
        });
        // The reservation: the new order, united with the old effective one it replaces.
        let reserve = match old {
            Some(o) => {
                self.add_to(&mut c, market, &o, false);
                super::sides::unite(&o, order.qty, order.price, mark, c.leverage)
            }
            None => *order,
        };
        self.add_to(&mut c, market, &reserve, true);
        (c, reserve)
    }

    fn add_to(&self, c: &mut Candidate, market: MarketId, o: &OpenOrder, add: bool) {
        let m = &self.markets[market.index()];
        let agg = if o.side == Side::Buy {
            &mut c.buys
        } else {
            &mut c.sells
        };
        super::sides::add_to(agg, o, m, add);
    }

    /// The checks of R1 for `order` (replacing the held `replacing`, if any). Changes only
    /// caches.
    fn check_order(
        &mut self,
        a: usize,
        leg: Leg,
        order: &OpenOrder,
        replacing: Option<OrderId>,
    ) -> Result<Checked, Reject> {
        let market = leg.market;
        let isolated_liquidation = self.accounts[a].leg(leg).is_some_and(|e| e.iso_liquidation);
        if self.accounts[a].in_liquidation || isolated_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        if order.qty <= 0 || order.price <= Decimal::ZERO {
            let fault = NumberFault::new(NumberFaultKind::NotPositive, order.qty.to_string());
            return Err(Reject::InvalidQuantity(fault));
        }
        let account = self.accounts[a].id;
        let position = self.position_qty(account, leg);
        let side = order.side;
        if order.reduce_only {
            if position == 0 || (position > 0) == (side == Side::Buy) {
                return Err(Reject::ReduceOnlyRejected);
            }
            let beyond = self
                .reduce_only_bound(account, leg, side)
                .is_some_and(|bp| match side {
                    Side::Sell => order.price < bp,
                    Side::Buy => order.price > bp,
                });
            if beyond {
                return Err(Reject::InsufficientMargin);
            }
        }
        let totals = self.totals_cached(a);
        let (c, _) = self.candidate(a, leg, order, replacing);
        let m = &self.markets[market.index()];
        let lot = m.spec.lot_size;
        // Position limit: the exposure on the order's side if everything on it filled; only a
        // change that grows it is checked (an amend that shrinks an order always passes).
        let same_side = if side == Side::Buy { &c.buys } else { &c.sells };
        let pos_notional = Decimal::from(side.sign() * position) * lot * m.mark;
        let cap =
            margin::max_notional(&m.spec.risk_tiers, c.leverage).ok_or(Reject::InvalidLeverage)?;
        if !order.reduce_only
            && same_side.notional > c.notional_before
            && pos_notional + same_side.notional > cap
        {
            return Err(Reject::PositionLimitExceeded);
        }
        let order_margin = if c.buys.qty == 0 && c.sells.qty == 0 {
            // Only reduce-only orders (or none): nothing bears margin.
            Decimal::ZERO
        } else {
            let fee = margin::fee_reserve_rate(&m.spec);
            margin::order_margin(position, &c.buys, &c.sells, c.leverage, fee, self.scale)
        };
        // Only added risk is checked: a reservation that does not grow passes even when the
        // account is already short of margin (risk-reducing amends are always allowed).
        // `totals_cached` above refreshed the entry's cached figures, so `before` is current.
        let grows = order_margin - c.before.order_margin;
        if grows > Decimal::ZERO && totals.available_balance() - grows < Decimal::ZERO {
            return Err(Reject::InsufficientMargin);
        }
        Ok(Checked {
            order_margin,
            before: c.before,
            mark_seq: m.mark_seq,
        })
    }

    /// After the hold event: keep the cache warm (only this market's order margin changed)
    /// and build the answer.
    fn held(&mut self, a: usize, leg: Leg, order: OpenOrder, c: Checked) -> Hold {
        let account = self.accounts[a].id;
        let market = leg.market;
        self.entry(a, leg).cache = Some((
            c.mark_seq,
            Figures {
                order_margin: c.order_margin,
                ..c.before
            },
        ));
        Hold {
            account,
            market,
            order,
            margin: c.order_margin - c.before.order_margin,
        }
    }

    /// Release the hold of a closed order (cancelled, expired, or refused by the book).
    /// Returns whether a hold existed (liquidation and ADL orders have none).
    pub fn release(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<bool, Reject> {
        let a = self.try_idx(account)?;
        let held = self.accounts[a].leg_of_order(market, order_id).is_some();
        if held {
            self.emit(
                LedgerEvent::OrderReleased {
                    account,
                    market,
                    order_id,
                },
                now,
                out,
            );
        }
        Ok(held)
    }
}
