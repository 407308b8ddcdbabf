//! R2: settlement of fills for both sides (positions, realized PnL, fees, holds), and position
//! transfers without the book (insurance takeover, ADL).
//!
//! # Invariants
//! - A fill moves `qty` lots from maker to taker at the trade price: Σ position lots in the
//!   market is unchanged, and both sides satisfy `Δwallet − ΔC = −signed notional − fees`, so
//!   with fees landing in the fee account and the insurance fund, money is conserved exactly.
//! - Fees (docs/RULES.md §1): a user pays `charge(notional × rate)` (rounded up); the fee account is
//!   credited `credit(notional × rate)` (rounded down); the difference (`fee_residue`, ≥ 0) goes
//!   to the insurance fund.
//! - A liquidation fill's taker fee and liquidation fee are capped, in that order, at what is
//!   left of the account's margin balance after the fill: fees never push a liquidated account
//!   below zero (the insurance fund would pay them otherwise).
//! - Holds shrink by the filled lots on both orders and vanish at 0; an order the ledger does
//!   not hold (liquidation, ADL) is simply not adjusted.
//! - Fees, realized PnL and margin of an isolated position settle in its isolated wallet
//!   (`positions.rs`, `isolated.rs`); its loss never reaches the cross wallet.
//! - Settlement never draws on the insurance fund: a user left flat with a negative wallet
//!   (cross, or an isolated one) outside liquidation enters liquidation in the same
//!   settlement (`LiquidationStarted` / `IsolatedLiquidationStarted`) and
//!   is reported to the caller, which runs the workflow (docs/RULES.md §6: only it pays from the
//!   fund, and only what the fund holds). So "flat, negative, not in liquidation" never holds
//!   between two commands.

use rust_decimal::Decimal;

use super::{FillRecord, Ledger, LedgerEvent};
use crate::domain::{AccountId, Amount, Leg, PositionMode, PositionSide, Timestamp, Trade};
use crate::engine::income::IncomeKind;
use crate::risk::{fees, money, MarketId};

/// Whether the taker of a fill is a liquidation order (docs/RULES.md §6 steps 2–3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillKind {
    Normal,
    /// The taker pays the liquidation fee to the insurance fund on top of the taker fee.
    Liquidation,
}

impl Ledger {
    /// R2: settle one trade of `market` for both sides; returns the recorded fill. Users left
    /// flat with a negative wallet outside liquidation enter liquidation here
    /// (`LiquidationStarted` follows the fill in `out`).
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
        let exact_taker = notional * spec.taker_fee;
        let exact_maker = notional * spec.maker_fee;
        let mut taker_fee = fees::trading_fee(notional, spec.taker_fee, scale);
        let mut maker_fee = fees::trading_fee(notional, spec.maker_fee, scale);
        let liquidation_fee = match kind {
            FillKind::Normal => Amount::ZERO,
            FillKind::Liquidation => {
                let (lot, rate, mark) = (
                    spec.lot_size,
                    spec.liquidation_fee,
                    self.markets[market.index()].mark,
                );
                let price = spec.price_decimal(trade.price);
                let delta = Decimal::from(trade.taker_side.sign() * trade.qty.0) * lot;
                // Margin balance (of the pool backing the position) after the fill, before
                // fees: Δ = delta × (mark − price).
                let leg = Leg::new(market, trade.taker_position);
                let left = self.pool_margin_balance(t, leg) + delta * (mark - price);
                taker_fee = taker_fee.min(money::credit(left.max(Decimal::ZERO), scale));
                fees::liquidation_fee(notional, rate, left - taker_fee.0, scale)
            }
        };
        // A maker rebate is paid out of the taker's fee: when a liquidation capped that fee,
        // the rebate is capped with it, so the fee account never pays out more than it got.
        if (maker_fee + taker_fee).0 < Decimal::ZERO {
            maker_fee = Amount(-taker_fee.0);
        }
        // The fee account gets the exact fees rounded down, never more than was charged.
        let fee_credit = money::credit(exact_taker + exact_maker, scale)
            .min(taker_fee + maker_fee)
            .max(Amount::ZERO);
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
            fee_residue: taker_fee + maker_fee - fee_credit,
            taker_realized: Amount::ZERO,
            maker_realized: Amount::ZERO,
            time: now,
            taker_position: trade.taker_position,
            maker_position: trade.maker_position,
        };
        let (tr, mr) = self.apply_fill(&rec);
        rec.taker_realized = Amount(tr);
        rec.maker_realized = Amount(mr);
        out.push(LedgerEvent::FillSettled(rec));
        for (id, side) in [
            (rec.taker, rec.taker_position),
            (rec.maker, rec.maker_position),
        ] {
            self.start_if_owing(id, Leg::new(market, side), now, out);
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
        // Each side's fees are paid by the wallet that backs its position (an isolated one
        // pays from its isolated wallet), before the position moves.
        let t_fee = rec.taker_fee.0 + rec.liquidation_fee.0;
        let (t_leg, m_leg) = (
            Leg::new(rec.market, rec.taker_position),
            Leg::new(rec.market, rec.maker_position),
        );
        let te = self.move_position(t, t_leg, delta, price, t_fee);
        let me = self.move_position(m, m_leg, -delta, price, rec.maker_fee.0);
        self.credit_wallet(
            AccountId::FEE,
            rec.taker_fee.0 + rec.maker_fee.0 - rec.fee_residue.0,
        );
        self.credit_wallet(
            AccountId::INSURANCE,
            rec.liquidation_fee.0 + rec.fee_residue.0,
        );
        self.fill_hold(t, t_leg, rec.taker_order, rec.qty);
        self.fill_hold(m, m_leg, rec.maker_order, rec.qty);
        let (time, trade, market) = (rec.time, Some(rec.trade_id), Some(rec.market));
        for (a, realized, fee) in [
            (t, te.realized, rec.taker_fee),
            (m, me.realized, rec.maker_fee),
        ] {
            self.record_income(a, IncomeKind::RealizedPnl, market, realized, time, trade);
            self.record_income(a, IncomeKind::Commission, market, -fee.0, time, trade);
        }
        let liq = -rec.liquidation_fee.0;
        self.record_income(t, IncomeKind::LiquidationFee, market, liq, time, trade);
        (te.realized, me.realized)
    }

    /// Shrink a held order by `qty` filled lots; drop it when nothing is left.
    fn fill_hold(&mut self, a: usize, leg: Leg, order_id: crate::domain::OrderId, qty: i64) {
        let m = &self.markets[leg.market.index()];
        if let Some(e) = self.accounts[a].leg_mut(leg) {
            e.fill(m, order_id, qty);
        }
    }

    /// The legs a transfer of `qty` signed lots of `from`'s position to `to` moves
    /// (docs/RULES.md §3b): a transfer (insurance takeover, ADL) only ever reduces a hedge-mode
    /// leg, so `from`'s is the leg of `qty`'s sign and `to`'s the opposite one; a one-way
    /// account's leg is `both`. (The market engine applies the same rule.)
    pub fn transfer_legs(
        &self,
        market: MarketId,
        from: AccountId,
        to: AccountId,
        qty: i64,
    ) -> (Leg, Leg) {
        let leg = |id: AccountId, sign: i64| match self.position_mode(id) {
            PositionMode::OneWay => Leg::both(market),
            PositionMode::Hedge if sign > 0 => Leg::new(market, PositionSide::Long),
            PositionMode::Hedge => Leg::new(market, PositionSide::Short),
        };
        (leg(from, qty.signum()), leg(to, -qty.signum()))
    }

    /// Move `qty` signed lots of `from`'s position to `to` at `price`, without fees.
    pub(super) fn apply_transfer(
        &mut self,
        market: MarketId,
        from: AccountId,
        to: AccountId,
        qty: i64,
        price: Decimal,
        now: Timestamp,
    ) {
        let f = self.idx(from);
        let t = self.idx(to);
        let (from_leg, to_leg) = self.transfer_legs(market, from, to, qty);
        let fe = self.move_position(f, from_leg, -qty, price, Decimal::ZERO);
        let te = self.move_position(t, to_leg, qty, price, Decimal::ZERO);
        let market = Some(market);
        self.record_income(f, IncomeKind::RealizedPnl, market, fe.realized, now, None);
        self.record_income(t, IncomeKind::RealizedPnl, market, te.realized, now, None);
    }

    /// A user (not reserved) outside liquidation, without positions, with a negative wallet.
    pub fn is_flat_negative(&self, id: AccountId) -> bool {
        let Some(&a) = self.index.get(&id) else {
            return false;
        };
        let acc = &self.accounts[a as usize];
        !id.is_reserved()
            && !acc.in_liquidation
            && acc.wallet < Decimal::ZERO
            && !self.has_positions(a as usize)
    }
}
