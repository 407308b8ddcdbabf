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
use crate::domain::{AccountId, Amount, OrderId, Qty, Reject, Side};
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
pub(super) fn order_margin_of(
    orders: &[OpenOrder],
    extra: Option<&OpenOrder>,
    position: i64,
    mark: Decimal,
    lot: Decimal,
    leverage: u32,
    scale: u32,
) -> Decimal {
    let mut buys = SideOrders::default();
    let mut sells = SideOrders::default();
    for o in orders.iter().chain(extra) {
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
    #[allow(clippy::too_many_arguments)]
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
        let a = self.try_idx(account)?;
        if self.accounts[a].in_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        if qty.0 <= 0 || price <= Decimal::ZERO {
            return Err(Reject::InvalidQuantity(
                "quantity and price must be positive".into(),
            ));
        }
        let order = OpenOrder {
            order_id,
            side,
            qty: qty.0,
            price,
            reduce_only,
        };
        let position = self.position_qty(account, market);
        if reduce_only {
            if position == 0 || (position > 0) == (side == Side::Buy) {
                return Err(Reject::ReduceOnlyRejected);
            }
            self.emit(
                LedgerEvent::OrderHeld {
                    account,
                    market,
                    order,
                },
                out,
            );
            return Ok(Hold {
                account,
                market,
                order,
                margin: Decimal::ZERO,
            });
        }
        let totals = self.totals_cached(a);
        let scale = self.scale;
        let m = &self.markets[market.index()];
        let lot = m.spec.lot_size;
        let (leverage, orders, old) =
            match self.accounts[a].markets.iter().find(|e| e.market == market) {
                Some(e) => (
                    e.leverage,
                    &e.orders[..],
                    e.cache.map_or(Figures::default(), |c| c.1),
                ),
                None => (m.spec.default_leverage, &[][..], Figures::default()),
            };
        // Position limit: the exposure on the order's side if everything on it filled.
        let dir = side.sign();
        let mut exposure = Decimal::from(dir * position) * lot * m.mark;
        for o in orders.iter().filter(|o| o.side == side && !o.reduce_only) {
            exposure += Decimal::from(o.qty) * lot * o.price;
        }
        exposure += Decimal::from(qty.0) * lot * price;
        let cap =
            margin::max_notional(&m.spec.risk_tiers, leverage).ok_or(Reject::InvalidLeverage)?;
        if exposure > cap {
            return Err(Reject::PositionLimitExceeded);
        }
        let new_om = order_margin_of(orders, Some(&order), position, m.mark, lot, leverage, scale);
        let added = new_om - old.order_margin;
        if totals.available_balance() - added < Decimal::ZERO {
            return Err(Reject::InsufficientMargin);
        }
        let seq = m.mark_seq;
        self.emit(
            LedgerEvent::OrderHeld {
                account,
                market,
                order,
            },
            out,
        );
        // Keep the cache warm: only the order margin of this market changed.
        let e = self.entry(a, market);
        e.cache = Some((
            seq,
            Figures {
                order_margin: new_om,
                ..old
            },
        ));
        Ok(Hold {
            account,
            market,
            order,
            margin: added,
        })
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
            .markets
            .iter()
            .any(|e| e.market == market && e.orders.iter().any(|o| o.order_id == order_id));
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
        if let Some(e) = self.accounts[a].markets.iter().find(|e| e.market == market) {
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

    /// Open a user account (ids of reserved accounts exist from the start).
    pub fn open_account(
        &mut self,
        account: AccountId,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        if self.index.contains_key(&account) || account.is_reserved() {
            return Err(Reject::InvalidRequest(format!(
                "account {account} already exists"
            )));
        }
        self.emit(LedgerEvent::AccountOpened { account }, out);
        Ok(())
    }

    /// Credit a deposit (positive, at most `money_scale` decimals).
    pub fn deposit(
        &mut self,
        account: AccountId,
        amount: Decimal,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let a = self.try_idx(account)?;
        self.check_amount(amount)?;
        self.emit(
            LedgerEvent::Deposited {
                account,
                amount: Amount(amount),
            },
            out,
        );
        Ok(self.accounts[a].wallet)
    }

    /// Pay out a withdrawal; `INSUFFICIENT_BALANCE` above `withdrawable`.
    pub fn withdraw(
        &mut self,
        account: AccountId,
        amount: Decimal,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let a = self.try_idx(account)?;
        self.check_amount(amount)?;
        if self.accounts[a].in_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        if amount > self.totals(account)?.withdrawable() {
            return Err(Reject::InsufficientBalance);
        }
        self.emit(
            LedgerEvent::Withdrew {
                account,
                amount: Amount(amount),
            },
            out,
        );
        Ok(self.accounts[a].wallet)
    }

    fn check_amount(&self, amount: Decimal) -> Result<(), Reject> {
        if amount <= Decimal::ZERO || amount.round_dp(self.scale) != amount {
            return Err(Reject::InvalidRequest(format!(
                "amount must be positive with at most {} decimals",
                self.scale
            )));
        }
        Ok(())
    }

    /// Whether `account` has any position.
    pub(super) fn has_positions(&self, a: usize) -> bool {
        self.accounts[a].markets.iter().any(|e| e.slot != NO_SLOT)
    }
}
