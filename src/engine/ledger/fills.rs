//! R2: settlement of fills for both sides (positions, realized PnL, fees, holds), and position
//! transfers without the book (insurance takeover, ADL).
//!
//! # Invariants
//! - A fill moves `qty` lots from maker to taker at the trade price: Σ position lots in the
//!   market is unchanged, and both sides satisfy `Δwallet − ΔC = −signed notional − fees`, so
//!   with fees landing in the fee account / insurance fund, money is conserved exactly.
//! - Holds shrink by the filled lots on both orders and vanish at 0; an order the ledger does
//!   not hold (liquidation, ADL) is simply not adjusted.
//! - A user left flat with a negative wallet outside liquidation is cleared to 0 by the
//!   insurance fund in the same settlement (RULES.md §6 step 6).

use rust_decimal::Decimal;

use super::{FillRecord, Ledger, LedgerEvent};
use crate::domain::{AccountId, Amount, OrderId, Timestamp, Trade};
use crate::risk::{fees, MarketId};

/// Whether the taker of a fill is a liquidation order (RULES.md §6 steps 2–3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillKind {
    Normal,
    /// The taker pays the liquidation fee to the insurance fund on top of the taker fee.
    Liquidation,
}

impl Ledger {
    /// R2: settle one trade of `market` for both sides; returns the recorded fill.
    pub fn settle_fill(
        &mut self,
        market: MarketId,
        trade: &Trade,
        kind: FillKind,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<FillRecord, crate::domain::Reject> {
        let t = self.try_idx(trade.taker_account)?;
        self.try_idx(trade.maker.account)?;
        let scale = self.scale;
        let spec = &self.markets[market.index()].spec;
        let notional = spec.notional(trade.price, trade.qty);
        let taker_fee = fees::trading_fee(notional, spec.taker_fee, scale);
        let maker_fee = fees::trading_fee(notional, spec.maker_fee, scale);
        let liquidation_fee = match kind {
            FillKind::Normal => Amount::ZERO,
            FillKind::Liquidation => {
                let (lot, rate, mark) = (
                    spec.lot_size,
                    spec.liquidation_fee,
                    self.markets[market.index()].mark,
                );
                let price = self.markets[market.index()].spec.price_decimal(trade.price);
                let delta = Decimal::from(trade.taker_side.sign() * trade.qty.0) * lot;
                // Margin balance after the fill: Δ = delta × (mark − price) − taker fee.
                let left =
                    self.totals_cached(t).margin_balance() + delta * (mark - price) - taker_fee.0;
                fees::liquidation_fee(notional, rate, left, scale)
            }
        };
        let mut rec = FillRecord {
            market,
            trade_id: trade.trade_id,
            price: trade.price,
            qty: trade.qty.0,
            taker_side: trade.taker_side,
            taker: trade.taker_account,
            taker_order: trade.taker_order,
            maker: trade.maker.account,
            maker_order: trade.maker.order_id,
            taker_fee,
            maker_fee,
            liquidation_fee,
            taker_realized: Amount::ZERO,
            maker_realized: Amount::ZERO,
            time: now,
        };
        let (tr, mr) = self.apply_fill(&rec);
        rec.taker_realized = Amount(tr);
        rec.maker_realized = Amount(mr);
        out.push(LedgerEvent::FillSettled(rec));
        self.clear_if_flat_negative(rec.taker, out);
        if rec.maker != rec.taker {
            self.clear_if_flat_negative(rec.maker, out);
        }
        Ok(rec)
    }

    /// Apply a recorded fill; returns the taker's and maker's realized PnL.
    pub(super) fn apply_fill(&mut self, rec: &FillRecord) -> (Decimal, Decimal) {
        let t = self.idx(rec.taker);
        let m = self.idx(rec.maker);
        let price = self.markets[rec.market.index()]
            .spec
            .price_decimal(rec.price);
        let delta = rec.taker_side.sign() * rec.qty;
        let te = self.move_position(t, rec.market, delta, price);
        let me = self.move_position(m, rec.market, -delta, price);
        self.accounts[t].wallet -= rec.taker_fee.0 + rec.liquidation_fee.0;
        self.accounts[m].wallet -= rec.maker_fee.0;
        self.credit_wallet(AccountId::FEE, rec.taker_fee.0 + rec.maker_fee.0);
        self.credit_wallet(AccountId::INSURANCE, rec.liquidation_fee.0);
        self.fill_hold(t, rec.market, rec.taker_order, rec.qty);
        self.fill_hold(m, rec.market, rec.maker_order, rec.qty);
        (te.realized, me.realized)
    }

    /// Shrink a held order by `qty` filled lots; drop it when nothing is left.
    fn fill_hold(&mut self, a: usize, market: MarketId, order_id: OrderId, qty: i64) {
        let m = &self.markets[market.index()];
        if let Some(e) = self.accounts[a].market_mut(market) {
            if let Some(i) = e.orders.iter().position(|o| o.order_id == order_id) {
                let old = e.orders[i];
                e.track(m, &old, false);
                e.orders[i].qty -= qty;
                if e.orders[i].qty <= 0 {
                    e.orders.swap_remove(i);
                } else {
                    let new = e.orders[i];
                    e.track(m, &new, true);
                }
                e.cache = None;
            }
        }
    }

    /// Move `qty` signed lots of `from`'s position to `to` at `price`, without fees.
    pub(super) fn apply_transfer(
        &mut self,
        market: MarketId,
        from: AccountId,
        to: AccountId,
        qty: i64,
        price: Decimal,
    ) {
        let f = self.idx(from);
        let t = self.idx(to);
        self.move_position(f, market, -qty, price);
        self.move_position(t, market, qty, price);
    }

    /// RULES.md §6 step 6 for a user who ended flat with a negative wallet outside liquidation
    /// (for example a reduce-only close far from mark).
    pub(super) fn clear_if_flat_negative(&mut self, id: AccountId, out: &mut Vec<LedgerEvent>) {
        let a = self.idx(id);
        let acc = &self.accounts[a];
        if id.is_reserved()
            || acc.in_liquidation
            || !acc.wallet.is_sign_negative()
            || acc.wallet.is_zero()
        {
            return;
        }
        if self.has_positions(a) {
            return;
        }
        let amount = Amount(-self.accounts[a].wallet);
        self.emit(
            LedgerEvent::InsuranceCleared {
                account: id,
                amount,
            },
            out,
        );
    }
}
