//! The prices R1 margins an order at, and the limits of reduce-only orders (docs/RULES.md §3).
//!
//! # Invariants
//! - A market order is margined at `mark × (1 ± market_take_bound)`, a stop or take-profit
//!   market order at the worse of its trigger and the mark, bounded the same way: never at a
//!   price better for the account than the worst fill the book may give it.
//! - A reduce-only order may not be priced beyond the account's bankruptcy price for the
//!   position it reduces, taker fee included (its fill would take the wallet below zero).

use rust_decimal::Decimal;

use super::{Ledger, NO_SLOT};
use crate::domain::{AccountId, Leg, OrderId, OrderTerms, Price, Side};
use crate::risk::{liquidation, MarketId};

impl Ledger {
    /// The price an order of `terms` is margined at (before any bankruptcy cap): its limit
    /// price; a stop / take-profit market order's [`Ledger::trigger_order_price`] (a
    /// reduce-only one's trigger: it reserves nothing, and the trigger is what its bankruptcy
    /// check sees); a market order's [`Ledger::market_order_price`].
    pub fn order_margin_price(&self, market: MarketId, t: &OrderTerms) -> Decimal {
        let spec = self.spec(market);
        let trigger = t.trigger_price.map(|p| spec.price_decimal(p));
        match (t.price, trigger) {
            (Some(p), _) => spec.price_decimal(p),
            (None, Some(tr)) if t.reduce_only => tr,
            (None, Some(tr)) => self.trigger_order_price(market, t.side, tr),
            (None, None) => self.market_order_price(market, t.side),
        }
    }

    /// The price a market order is margined at: `mark × (1 ± market_take_bound)`.
    pub fn market_order_price(&self, market: MarketId, side: Side) -> Decimal {
        self.bound_price(market, side, self.markets[market.index()].mark)
    }

    /// The price a stop-market or take-profit-market order is margined at: the worse (for the
    /// order's side) of its trigger and the mark, `× (1 ± market_take_bound)`: the worst fill
    /// it may get once triggered at its trigger or later.
    pub fn trigger_order_price(&self, market: MarketId, side: Side, trigger: Decimal) -> Decimal {
        let mark = self.markets[market.index()].mark;
        let base = match side {
            Side::Buy => trigger.max(mark),
            Side::Sell => trigger.min(mark),
        };
        self.bound_price(market, side, base)
    }

    fn bound_price(&self, market: MarketId, side: Side, base: Decimal) -> Decimal {
        let b = self.markets[market.index()].spec.market_take_bound;
        match side {
            Side::Buy => base * (Decimal::ONE + b),
            Side::Sell => base * (Decimal::ONE - b),
        }
    }

    /// The worst price at which `account` can close its whole position in `market` on `side`
    /// (the reducing side) without its wallet going below zero, taker fee included, with its
    /// other positions at mark; `None` when it has no position there to reduce on that side,
    /// or when no positive price would bankrupt it.
    pub fn reduce_only_bound(&self, account: AccountId, leg: Leg, side: Side) -> Option<Decimal> {
        let a = *self.index.get(&account)? as usize;
        let e = self.accounts[a].leg(leg)?;
        if e.slot == NO_SLOT {
            return None;
        }
        let m = &self.markets[leg.market.index()];
        let (q, cost) = (
            m.positions.qty[e.slot as usize],
            m.positions.cost[e.slot as usize],
        );
        if (q > 0) == (side == Side::Buy) {
            return None;
        }
        // The pool backing the position: the cross wallet with the other cross positions at
        // mark, or the isolated wallet alone.
        let (wallet, others) = if e.mode.is_isolated() {
            (e.iso_wallet, Decimal::ZERO)
        } else {
            let t = self.totals(account).ok()?;
            (
                self.accounts[a].wallet,
                t.unrealized_pnl - self.figures(e).upnl,
            )
        };
        let fee = m.spec.taker_fee.max(m.spec.maker_fee).max(Decimal::ZERO);
        let bp =
            liquidation::bankruptcy_price_with_fee(q, cost, m.spec.lot_size, wallet, others, fee)?;
        (bp > Decimal::ZERO).then_some(bp)
    }

    /// [`Ledger::reduce_only_bound`] as a tick price a market order may still fill at (sells
    /// round up, buys down: never beyond the bound).
    pub fn reduce_only_protection(
        &self,
        account: AccountId,
        leg: Leg,
        side: Side,
    ) -> Option<Price> {
        let bp = self.reduce_only_bound(account, leg, side)?;
        Some(liquidation::bankruptcy_limit(
            bp,
            side,
            self.markets[leg.market.index()].spec.tick_size,
        ))
    }

    /// Held reduce-only orders of (account, market) that their leg's position no longer
    /// allows (flat, or the order's side would grow it): the shell cancels them with reason
    /// `reduce_only`.
    pub fn stale_reduce_only(&self, account: AccountId, market: MarketId) -> Vec<OrderId> {
        self.open_orders(account, market)
            .iter()
            .filter(|o| {
                let p = self.position_qty(account, Leg::new(market, o.position_side));
                o.reduce_only && (p == 0 || (p > 0) == (o.side == Side::Buy))
            })
            .map(|o| o.order_id)
            .collect()
    }
}
