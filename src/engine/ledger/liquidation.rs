//! Liquidation steps (RULES.md §6): a pure planner ([`Ledger::liquidation_step`]) that names
//! the next action from the ledger and the caller's [`LiquidationProgress`], and the ledger
//! operations that carry out the ledger-side actions.
//!
//! # Invariants
//! - The planner only reads (`&self`); every change goes through an operation below and so
//!   through `apply`.
//! - Positions are liquidated largest maintenance margin first (ties: lower market id).
//! - The bankruptcy price is recomputed at each step from the current state (after the book's
//!   fills and fees), so a takeover or ADL leaves the account at a margin balance of 0.
//! - Takeover and ADL move positions at the bankruptcy price rounded against the liquidated
//!   account (never better than bankruptcy) to `money_scale − lot decimals` decimals, so the
//!   transferred notional is whole money units; no fees; the insurance fund
//!   takes over only if its margin balance stays ≥ 0 at mark, otherwise ADL ranks the opposite
//!   positions by `pnl% × effective_leverage` (unrankable ones last, by account id).
//! - Finishing leaves no negative user wallet: step 6 clears it from the insurance fund.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Ledger, LedgerEvent, TransferKind, NO_SLOT};
use crate::domain::{AccountId, Amount, Reject, Side};
use crate::risk::adl::{self, AdlCandidate};
use crate::risk::liquidation::{self, LiquidationAction, LiquidationProgress};
use crate::risk::{margin, MarketId};

impl Ledger {
    /// Step 1: mark the account in liquidation (new orders `ACCOUNT_IN_LIQUIDATION`). The
    /// caller then asks [`Ledger::liquidation_step`] what to do.
    pub fn begin_liquidation(
        &mut self,
        account: AccountId,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        let a = self.try_idx(account)?;
        if account.is_reserved() {
            return Err(Reject::InvalidRequest(
                "reserved accounts are never liquidated".into(),
            ));
        }
        if !self.accounts[a].in_liquidation {
            self.emit(LedgerEvent::LiquidationStarted { account }, out);
        }
        Ok(())
    }

    /// The next liquidation action for `account`, given what the caller has done so far.
    pub fn liquidation_step(
        &self,
        account: AccountId,
        progress: &LiquidationProgress,
    ) -> Result<LiquidationAction, Reject> {
        let a = self.try_idx(account)?;
        let acc = &self.accounts[a];
        if !progress.orders_cancelled {
            let orders: Vec<_> = acc
                .markets
                .iter()
                .flat_map(|e| e.orders.iter().map(move |o| (e.market, o.order_id)))
                .collect();
            if !orders.is_empty() {
                return Ok(LiquidationAction::CancelOrders(orders));
            }
        }
        let t = self.totals(account)?;
        if !t.has_positions {
            if acc.wallet < Decimal::ZERO {
                return Ok(LiquidationAction::ClearNegative {
                    amount: Amount(-acc.wallet),
                });
            }
            return Ok(LiquidationAction::Done);
        }
        if !liquidation::is_liquidatable(t.margin_balance(), t.maintenance_margin) {
            return Ok(LiquidationAction::Done);
        }
        // Largest maintenance margin first.
        let mut best: Option<(Decimal, MarketId, Decimal)> = None; // (mm, market, upnl)
        for e in acc.markets.iter().filter(|e| e.slot != NO_SLOT) {
            let f = self.figures(e);
            let better = match best {
                None => true,
                Some((b, bm, _)) => f.maintenance > b || (f.maintenance == b && e.market < bm),
            };
            if better {
                best = Some((f.maintenance, e.market, f.upnl));
            }
        }
        let (_, market, upnl) = best.expect("has_positions guarantees one position");
        let m = &self.markets[market.index()];
        let s = self
            .slot_of(account, market)
            .expect("chosen from positions with a slot");
        let (q, cost) = (m.positions.qty[s], m.positions.cost[s]);
        let lot = m.spec.lot_size;
        let others_upnl = t.unrealized_pnl - upnl;
        let bp = liquidation::bankruptcy_price(q, cost, lot, acc.wallet, others_upnl)
            .expect("the position is not flat");
        let closing = if q > 0 { Side::Sell } else { Side::Buy };
        if !progress.sent_to_book.contains(&market) {
            return Ok(LiquidationAction::SendOrder {
                market,
                side: closing,
                qty: q.abs(),
                limit: liquidation::bankruptcy_limit(bp, closing, m.spec.tick_size),
                bankruptcy: bp,
            });
        }
        // Never better than bankruptcy for the account: a long sells low, a short buys high.
        let strategy = if q > 0 {
            RoundingStrategy::ToNegativeInfinity
        } else {
            RoundingStrategy::ToPositiveInfinity
        };
        // Decimals such that price × lot stays within `money_scale`: a transfer moves whole
        // money units.
        let dp = self.scale.saturating_sub(lot.normalize().scale());
        let price = bp.round_dp_with_strategy(dp, strategy).max(Decimal::ZERO);
        let ins = self.totals(AccountId::INSURANCE)?;
        let gain = Decimal::from(q) * lot * (m.mark - price);
        if ins.margin_balance() + gain >= Decimal::ZERO {
            return Ok(LiquidationAction::Takeover {
                market,
                qty: q,
                price,
            });
        }
        let mut ranked = self.adl_candidates(market, account, -q.signum());
        adl::rank(&mut ranked);
        Ok(LiquidationAction::Adl {
            market,
            price,
            counterparties: adl::allocate(&ranked, q.abs()),
        })
    }

    /// Positions of `market` with sign `sign`, other than `exclude`'s, ranked for ADL. Users
    /// with a score come first (by score); the unrankable (and reserved accounts) follow.
    pub fn adl_candidates(
        &self,
        market: MarketId,
        exclude: AccountId,
        sign: i64,
    ) -> Vec<AdlCandidate> {
        let m = &self.markets[market.index()];
        let lot = m.spec.lot_size;
        let ps = &m.positions;
        let mut scored = Vec::new();
        for i in 0..ps.len() {
            let acc = &self.accounts[ps.account[i] as usize];
            if acc.id == exclude || ps.qty[i].signum() != sign {
                continue;
            }
            let notional = Decimal::from(ps.qty[i]) * lot * m.mark;
            let score = if acc.id.is_reserved() {
                None
            } else {
                let mb = self
                    .totals(acc.id)
                    .map_or(Decimal::ZERO, |t| t.margin_balance());
                adl::adl_score(notional - ps.cost[i], ps.cost[i], notional.abs(), mb)
            };
            // Unrankable positions go after every ranked one.
            let score = score.unwrap_or(Decimal::MIN);
            scored.push(AdlCandidate {
                account: acc.id,
                qty: ps.qty[i].abs(),
                score,
            });
        }
        scored
    }

    /// Step 4: the insurance fund takes over `qty` signed lots (the account's side) at `price`.
    pub fn insurance_takeover(
        &mut self,
        account: AccountId,
        market: MarketId,
        qty: i64,
        price: Decimal,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        self.check_reducing(account, market, qty)?;
        self.emit(
            LedgerEvent::PositionTransferred {
                market,
                from: account,
                to: AccountId::INSURANCE,
                qty,
                price,
                kind: TransferKind::Takeover,
            },
            out,
        );
        Ok(())
    }

    /// Step 5: close the account's position against `counterparties` (lots each) at `price`.
    pub fn auto_deleverage(
        &mut self,
        account: AccountId,
        market: MarketId,
        price: Decimal,
        counterparties: &[(AccountId, i64)],
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        let sign = self.position_qty(account, market).signum();
        let total: i64 = counterparties.iter().map(|c| c.1).sum();
        self.check_reducing(account, market, sign * total)?;
        for &(cp, lots) in counterparties {
            // The counterparty must hold at least `lots` on the opposite side: ADL only reduces.
            self.check_reducing(cp, market, -sign * lots)?;
        }
        for &(cp, lots) in counterparties {
            self.emit(
                LedgerEvent::PositionTransferred {
                    market,
                    from: account,
                    to: cp,
                    qty: sign * lots,
                    price,
                    kind: TransferKind::Adl,
                },
                out,
            );
        }
        for &(cp, _) in counterparties {
            self.clear_if_flat_negative(cp, out);
        }
        Ok(())
    }

    /// Step 6: the insurance fund clears a negative wallet (no-op otherwise).
    pub fn clear_negative(
        &mut self,
        account: AccountId,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        let a = self.try_idx(account)?;
        let w = self.accounts[a].wallet;
        if w < Decimal::ZERO {
            self.emit(
                LedgerEvent::InsuranceCleared {
                    account,
                    amount: Amount(-w),
                },
                out,
            );
        }
        Ok(())
    }

    /// Leave liquidation (the planner said `Done`).
    pub fn end_liquidation(
        &mut self,
        account: AccountId,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        let a = self.try_idx(account)?;
        if self.accounts[a].in_liquidation {
            self.emit(LedgerEvent::LiquidationEnded { account }, out);
        }
        Ok(())
    }

    /// `qty` (signed, non-zero) must reduce `account`'s position in `market` without flipping.
    fn check_reducing(&self, account: AccountId, market: MarketId, qty: i64) -> Result<(), Reject> {
        self.try_idx(account)?;
        let p = self.position_qty(account, market);
        if qty == 0 || p.signum() != qty.signum() || qty.abs() > p.abs() {
            return Err(Reject::ReduceOnlyRejected);
        }
        Ok(())
    }

    /// Maximum position notional of (account, market) at its leverage (API `max_notional`).
    pub fn max_notional(&self, account: AccountId, market: MarketId) -> Option<Decimal> {
        margin::max_notional(
            &self.markets[market.index()].spec.risk_tiers,
            self.leverage(account, market),
        )
    }
}
