//! R1 (pre-trade check and margin hold), hold release, leverage, deposits and withdrawals.
//!
//! # Invariants
//! - A rejected operation changes nothing and emits nothing.
//! - An accepted order is held until the book closes it (release) or fills it (R2); the held
//!   margin is never stored: a market's order margin is recomputed from its open orders
//!   (RULES.md §3: worst side, open loss), so releases and partial fills cannot leak holds.
//! - Reduce-only orders skip the margin check and reserve nothing.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Figures, Ledger, LedgerEvent, OpenOrder, NO_SLOT};
use crate::domain::{AccountId, OrderId, Qty, Reject, Side};
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

/// Order margin of one market's open `orders` (plus `extra`), RULES.md §3.
pub(super) fn order_margin_of<'a>(
    orders: impl Iterator<Item = &'a OpenOrder>,
    extra: Option<&'a OpenOrder>,
    position: i64,
    mark: Decimal,
    lot: Decimal,
    leverage: u32,
    scale: u32,
) -> Decimal {
    let mut buys = SideOrders::default();
    let mut sells = SideOrders::default();
    for o in orders.chain(extra) {
        if o.reduce_only {
            continue;
        }
        let side = match o.side {
            Side::Buy => &mut buys,
            Side::Sell => &mut sells,
        };
        side.add(o.side, o.qty, o.price, mark, lot);
    }
    if buys.qty == 0 && sells.qty == 0 {
        return Decimal::ZERO;
    }
    margin::order_margin(position, &buys, &sells, leverage, scale)
}

/// What R1 decided for an order, before anything changes.
struct Checked {
    /// The market's order margin with the order.
    order_margin: Decimal,
    /// The (account, market) figures before, at `mark_seq`.
    before: Figures,
    mark_seq: u64,
}

impl Ledger {
    /// The price a market order is margined at: `mark × (1 ± market_take_bound)`.
    pub fn market_order_price(&self, market: MarketId, side: Side) -> Decimal {
        let m = &self.markets[market.index()];
        let b = m.spec.market_take_bound;
        match side {
            Side::Buy => m.mark * (Decimal::ONE + b),
            Side::Sell => m.mark * (Decimal::ONE - b),
        }
    }

    /// R1: accept an order and hold its margin, or reject it (RULES.md §3).
    /// `price` is the limit, or [`Ledger::market_order_price`] for a market order.
    #[allow(clippy::too_many_arguments)] // the order's fields, as the shell has them
    pub fn pre_trade(
        &mut self,
        account: AccountId,
        market: MarketId,
        side: Side,
        qty: Qty,
        price: Decimal,
        reduce_only: bool,
        order_id: OrderId,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Hold, Reject> {
        let order = OpenOrder {
            order_id,
            side,
            qty: qty.0,
            price,
            reduce_only,
        };
        let a = self.try_idx(account)?;
        if self
            .open_orders(account, market)
            .iter()
            .any(|o| o.order_id == order_id)
        {
            return Err(Reject::DuplicateOrderId);
        }
        let c = self.check_order(a, market, &order, None)?;
        self.emit(
            LedgerEvent::OrderHeld {
                account,
                market,
                order,
            },
            out,
        );
        Ok(self.held(a, market, order, c))
    }

    /// R1 for an amend (PATCH): the held order `order_id` becomes `qty` open lots at `price`,
    /// checked like a new order with the old one removed.
    pub fn amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: Qty,
        price: Decimal,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Hold, Reject> {
        let (a, order) = self.amended(account, market, order_id, qty, price)?;
        let c = self.check_order(a, market, &order, Some(order_id))?;
        self.emit(
            LedgerEvent::OrderAmended {
                account,
                market,
                order_id,
                qty: qty.0,
                price,
            },
            out,
        );
        Ok(self.held(a, market, order, c))
    }

    /// The held order `order_id` as it would be after an amend, with the account's index.
    fn amended(
        &self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: Qty,
        price: Decimal,
    ) -> Result<(usize, OpenOrder), Reject> {
        let old = *self
            .open_orders(account, market)
            .iter()
            .find(|o| o.order_id == order_id)
            .ok_or(Reject::OrderNotFound)?;
        Ok((
            self.try_idx(account)?,
            OpenOrder {
                qty: qty.0,
                price,
                ..old
            },
        ))
    }

    /// R1 of an amend whose book outcome is not known yet: the checks of [`Ledger::amend`]
    /// without applying anything (only caches change).
    pub fn check_amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: Qty,
        price: Decimal,
    ) -> Result<(), Reject> {
        let (a, order) = self.amended(account, market, order_id, qty, price)?;
        self.check_order(a, market, &order, Some(order_id))
            .map(drop)
    }

    /// R2: record that the book now holds `order_id` with `qty` open lots at `price` (an amend
    /// the market applied, or a reduce-only order it shrank). No checks: the book has already
    /// changed. Returns whether a hold existed and changed.
    pub fn record_amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: Qty,
        price: Decimal,
        out: &mut Vec<LedgerEvent>,
    ) -> bool {
        let changed = self
            .open_orders(account, market)
            .iter()
            .any(|o| o.order_id == order_id && (o.qty != qty.0 || o.price != price));
        if changed {
            self.emit(
                LedgerEvent::OrderAmended {
                    account,
                    market,
                    order_id,
                    qty: qty.0,
                    price,
                },
                out,
            );
        }
        changed
    }

    /// The checks of R1 for `order` (replacing the held `replacing`, if any). Changes only
    /// caches.
    fn check_order(
        &mut self,
        a: usize,
        market: MarketId,
        order: &OpenOrder,
        replacing: Option<OrderId>,
    ) -> Result<Checked, Reject> {
        if self.accounts[a].in_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        if order.qty <= 0 || order.price <= Decimal::ZERO {
            return Err(Reject::InvalidQuantity(
                "quantity and price must be positive".into(),
            ));
        }
        let position = self.position_qty(self.accounts[a].id, market);
        let side = order.side;
        if order.reduce_only {
            if position == 0 || (position > 0) == (side == Side::Buy) {
                return Err(Reject::ReduceOnlyRejected);
            }
            // Reserves nothing and skips the margin check (RULES.md §3).
            return Ok(Checked {
                order_margin: Decimal::ZERO,
                before: Figures::default(),
                mark_seq: u64::MAX,
            });
        }
        let totals = self.totals_cached(a);
        let scale = self.scale;
        let default_leverage = self.markets[market.index()].spec.default_leverage;
        // The side aggregates (O(1) while the mark is unchanged), minus the replaced order.
        let (leverage, before, mut buys, mut sells, replaced) =
            if self.accounts[a].market(market).is_some() {
                self.with_entry(a, market, |e, m| {
                    let (b, s) = e.sides(m);
                    let replaced = replacing
                        .and_then(|id| e.orders.iter().find(|o| o.order_id == id).copied());
                    (
                        e.leverage,
                        e.cache.map_or(Figures::default(), |c| c.1),
                        b,
                        s,
                        replaced,
                    )
                })
            } else {
                (
                    default_leverage,
                    Figures::default(),
                    SideOrders::default(),
                    SideOrders::default(),
                    None,
                )
            };
        let m = &self.markets[market.index()];
        let lot = m.spec.lot_size;
        for (o, add) in replaced.iter().map(|o| (o, false)).chain([(order, true)]) {
            if o.reduce_only {
                continue;
            }
            let agg = if o.side == Side::Buy {
                &mut buys
            } else {
                &mut sells
            };
            if add {
                agg.add(o.side, o.qty, o.price, m.mark, lot);
            } else {
                agg.remove(o.side, o.qty, o.price, m.mark, lot);
            }
        }
        // Position limit: the exposure on the order's side if everything on it filled.
        let same_side = if side == Side::Buy { &buys } else { &sells };
        let exposure = Decimal::from(side.sign() * position) * lot * m.mark + same_side.notional;
        let cap =
            margin::max_notional(&m.spec.risk_tiers, leverage).ok_or(Reject::InvalidLeverage)?;
        if exposure > cap {
            return Err(Reject::PositionLimitExceeded);
        }
        let order_margin = if buys.qty == 0 && sells.qty == 0 {
            Decimal::ZERO
        } else {
            margin::order_margin(position, &buys, &sells, leverage, scale)
        };
        if totals.available_balance() - (order_margin - before.order_margin) < Decimal::ZERO {
            return Err(Reject::InsufficientMargin);
        }
        Ok(Checked {
            order_margin,
            before,
            mark_seq: m.mark_seq,
        })
    }

    /// After the hold event: keep the cache warm (only this market's order margin changed)
    /// and build the answer.
    fn held(&mut self, a: usize, market: MarketId, order: OpenOrder, c: Checked) -> Hold {
        let account = self.accounts[a].id;
        if order.reduce_only {
            return Hold {
                account,
                market,
                order,
                margin: Decimal::ZERO,
            };
        }
        self.entry(a, market).cache = Some((
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

    /// Held reduce-only orders of (account, market) that the position no longer allows (flat,
    /// or the order's side would grow it): the shell cancels them with reason `reduce_only`.
    pub fn stale_reduce_only(&self, account: AccountId, market: MarketId) -> Vec<OrderId> {
        let p = self.position_qty(account, market);
        self.open_orders(account, market)
            .iter()
            .filter(|o| o.reduce_only && (p == 0 || (p > 0) == (o.side == Side::Buy)))
            .map(|o| o.order_id)
            .collect()
    }

    /// Release the hold of a closed order (cancelled, expired, or refused by the book).
    /// Returns whether a hold existed (liquidation and ADL orders have none).
    pub fn release(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<bool, Reject> {
        let a = self.try_idx(account)?;
        let held = self.accounts[a]
            .market(market)
            .is_some_and(|e| e.orders.iter().any(|o| o.order_id == order_id));
        if held {
            self.emit(
                LedgerEvent::OrderReleased {
                    account,
                    market,
                    order_id,
                },
                out,
            );
        }
        Ok(held)
    }

    /// Set the leverage of (account, market); returns the maximum position notional at it.
    pub fn set_leverage(
        &mut self,
        account: AccountId,
        market: MarketId,
        leverage: u32,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let a = self.try_idx(account)?;
        let m = &self.markets[market.index()];
        margin::check_leverage(&m.spec, leverage)?;
        let cap =
            margin::max_notional(&m.spec.risk_tiers, leverage).ok_or(Reject::InvalidLeverage)?;
        let position = self.position_qty(account, market);
        if (Decimal::from(position) * m.spec.lot_size * m.mark).abs() > cap {
            return Err(Reject::PositionLimitExceeded);
        }
        let mut t = self.totals(account)?;
        if let Some(e) = self.accounts[a].market(market) {
            let old = self.figures(e);
            let mut changed = e.clone();
            changed.leverage = leverage;
            let new = self.figures(&changed);
            t.position_margin += new.position_margin - old.position_margin;
            t.order_margin += new.order_margin - old.order_margin;
            if new.position_margin + new.order_margin > old.position_margin + old.order_margin
                && t.available_balance() < Decimal::ZERO
            {
                return Err(Reject::InsufficientMargin);
            }
        }
        self.emit(
            LedgerEvent::LeverageSet {
                account,
                market,
                leverage,
            },
            out,
        );
        Ok(cap)
    }

    /// Whether `account` has any position.
    pub(super) fn has_positions(&self, a: usize) -> bool {
        self.accounts[a].markets.iter().any(|e| e.slot != NO_SLOT)
    }
}
