//! Liquidation steps (docs/RULES.md §6): a pure planner ([`Ledger::liquidation_step`]) that names
//! the next action from the ledger and the caller's [`LiquidationProgress`], and the ledger
//! operations that carry out the ledger-side actions.
//!
//! # Invariants
//! - The planner only reads (`&self`); every change goes through an operation below and so
//!   through `apply`.
//! - Positions are liquidated largest maintenance margin first (ties: lower market id).
//! - The bankruptcy price is recomputed at each step from the current state (after the book's
//!   fills and fees), so a takeover or ADL leaves the account at a margin balance of 0.
//! - Takeover and ADL move positions at the bankruptcy price rounded in the liquidated
//!   account's favour (never worse than bankruptcy, so it ends with a wallet ≥ 0) to
//!   `money_scale − lot decimals` decimals, so the transferred notional is whole money units;
//!   no fees. The insurance fund takes over only if its margin balance stays ≥ 0 at mark,
//!   otherwise ADL ranks the opposite positions by `pnl% × effective_leverage` (unrankable
//!   ones last, by account id). Planning and executing such a step happen in one call of the
//!   account core, so the ranking is never stale.
//! - Only this workflow draws on the insurance fund, and never more than it holds (the lesser
//!   of its wallet and its margin balance): a negative wallet the fund cannot cover waits
//!   ([`LiquidationAction::Wait`]) and is retried; the account stays in liquidation.
//! - A pool leaves liquidation only when healthy, or flat with a wallet ≥ 0.
//! - Everything works on a [`MarginPool`]: a cross pool (the account's cross wallet and
//!   cross positions, all its orders) or an isolated one (one position, its wallet, the
//!   orders of its market). The same steps, fund and ADL serve both.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Ledger, LedgerEvent, TransferKind, NO_SLOT};
use crate::domain::Timestamp;
use crate::domain::{AccountId, Amount, Leg, MarginPool, Reject, RequestFault, Side};
use crate::risk::adl::{self, AdlCandidate};
use crate::risk::liquidation::{self, LiquidationAction, LiquidationProgress};
use crate::risk::{margin, MarketId};

impl Ledger {
    /// Step 1: mark the pool in liquidation (new orders `ACCOUNT_IN_LIQUIDATION`: all of the
    /// account's for a cross pool, those in its market for an isolated one). The caller then
    /// asks [`Ledger::liquidation_step`] what to do.
    pub fn begin_liquidation(
        &mut self,
        pool: MarginPool,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        let account = pool.account();
        self.try_idx(account)?;
        if account.is_reserved() {
            return Err(Reject::InvalidRequest(RequestFault::ReservedAccount));
        }
        if !self.pool_in_liquidation(pool) {
            let event = match pool {
                MarginPool::Cross(account) => LedgerEvent::LiquidationStarted { account },
                MarginPool::Isolated(account, leg) => {
                    LedgerEvent::IsolatedLiquidationStarted { account, leg }
                }
            };
            self.emit(event, now, out);
        }
        Ok(())
    }

    /// The next liquidation action for `pool`, given what the caller has done so far.
    pub fn liquidation_step(
        &self,
        pool: MarginPool,
        progress: &LiquidationProgress,
    ) -> Result<LiquidationAction, Reject> {
        let a = self.try_idx(pool.account())?;
        let acc = &self.accounts[a];
        if !progress.orders_cancelled {
            // A cross pool cancels every order (all reserve from the cross wallet); an
            // isolated one only those of its leg.
            let mut orders: Vec<_> = acc
                .markets
                .iter()
                .filter(|e| pool.isolated_leg().is_none_or(|l| l == e.leg()))
                .flat_map(|e| e.orders.keys().map(move |&id| (e.market, id)))
                .collect();
            orders.sort_unstable();
            if !orders.is_empty() {
                return Ok(LiquidationAction::CancelOrders(orders));
            }
        }
        // The pool's position to close next: its wallet, margin balance, maintenance, and
        // the uPnL of its other positions (none for an isolated pool).
        let (wallet, leg, others_upnl) = match pool {
            MarginPool::Cross(account) => {
                let t = self.totals(account)?;
                if !t.has_positions {
                    return Ok(self.flat_step(acc.wallet));
                }
                if !liquidation::is_liquidatable(t.margin_balance(), t.maintenance_margin) {
                    return Ok(LiquidationAction::Done);
                }
                let Some((leg, upnl)) = self.largest_maintenance(a) else {
                    return Ok(LiquidationAction::Done);
                };
                (acc.wallet, leg, t.unrealized_pnl - upnl)
            }
            MarginPool::Isolated(account, leg) => {
                let p = self.pool_figures(account, leg);
                if !p.has_position {
                    return Ok(self.flat_step(p.wallet));
                }
                if !liquidation::is_liquidatable(p.margin_balance(), p.maintenance) {
                    return Ok(LiquidationAction::Done);
                }
                (p.wallet, leg, Decimal::ZERO)
            }
        };
        let account = pool.account();
        let m = &self.markets[leg.market.index()];
        let Some(s) = self.slot_of(account, leg) else {
            return Ok(LiquidationAction::Done);
        };
        let (q, cost) = (m.positions.qty[s], m.positions.cost[s]);
        let Some(bp) = liquidation::bankruptcy_price(q, cost, m.spec.lot_size, wallet, others_upnl)
        else {
            return Ok(LiquidationAction::Done);
        };
        let closing = if q > 0 { Side::Sell } else { Side::Buy };
        if !progress.sent_to_book.contains(&leg) {
            return Ok(LiquidationAction::SendOrder {
                leg,
                side: closing,
                qty: q.abs(),
                limit: liquidation::bankruptcy_limit(bp, closing, m.spec.tick_size),
                bankruptcy: bp,
            });
        }
        self.backstop(account, leg, q, bp)
    }

    /// A flat account in liquidation: a negative wallet is cleared by the insurance fund as
    /// far as it can pay (else wait for it); otherwise the workflow is done.
    fn flat_step(&self, wallet: Decimal) -> LiquidationAction {
        if wallet >= Decimal::ZERO {
            return LiquidationAction::Done;
        }
        let amount = (-wallet).min(self.insurance_available());
        if amount > Decimal::ZERO {
            LiquidationAction::ClearNegative {
                amount: Amount(amount),
            }
        } else {
            LiquidationAction::Wait
        }
    }

    /// The leg of account index `a`'s cross position with the largest maintenance margin
    /// (ties: the lower market id, then long before short), and its unrealized PnL.
    fn largest_maintenance(&self, a: usize) -> Option<(Leg, Decimal)> {
        let mut best: Option<(Decimal, Leg, Decimal)> = None; // (mm, leg, upnl)
        for e in self.accounts[a]
            .markets
            .iter()
            .filter(|e| e.slot != NO_SLOT && !e.mode.is_isolated())
        {
            let f = self.figures(e);
            let better = match best {
                None => true,
                Some((b, bl, _)) => f.maintenance > b || (f.maintenance == b && e.leg() < bl),
            };
            if better {
                best = Some((f.maintenance, e.leg(), f.upnl));
            }
        }
        best.map(|(_, leg, upnl)| (leg, upnl))
    }

    /// The book did not close the position of `q` lots in `market` (bankruptcy price `bp`):
    /// the insurance fund takes it over at the bankruptcy price if it can bear the loss at
    /// mark, else it is auto-deleveraged against the ranked opposite positions.
    fn backstop(
        &self,
        account: AccountId,
        leg: Leg,
        q: i64,
        bp: Decimal,
    ) -> Result<LiquidationAction, Reject> {
        let m = &self.markets[leg.market.index()];
        let lot = m.spec.lot_size;
        // Never worse than bankruptcy for the account: a long sells at or above it, a short
        // buys at or below it, so its wallet ends at or above zero.
        let strategy = if q > 0 {
            RoundingStrategy::ToPositiveInfinity
        } else {
            RoundingStrategy::ToNegativeInfinity
        };
        // Decimals such that price × lot stays within `money_scale`: a transfer moves whole
        // money units.
        let dp = self.scale.saturating_sub(lot.normalize().scale());
        let price = bp.round_dp_with_strategy(dp, strategy).max(Decimal::ZERO);
        let ins = self.totals(AccountId::INSURANCE)?;
        let gain = Decimal::from(q) * lot * (m.mark - price);
        if ins.margin_balance() + gain >= Decimal::ZERO {
            return Ok(LiquidationAction::Takeover { leg, qty: q, price });
        }
        let mut ranked = self.adl_candidates(leg.market, account, -q.signum());
        adl::rank(&mut ranked);
        Ok(LiquidationAction::Adl {
            leg,
            price,
            counterparties: adl::allocate(&ranked, q.abs()),
        })
    }

    /// What the insurance fund can pay out now: the lesser of its wallet and its margin
    /// balance (positions it took over count at mark), never below zero.
    pub fn insurance_available(&self) -> Decimal {
        let a = self.idx(AccountId::INSURANCE);
        let wallet = self.accounts[a].wallet;
        let mb = self
            .totals(AccountId::INSURANCE)
            .map_or(wallet, |t| t.margin_balance());
        wallet.min(mb).max(Decimal::ZERO)
    }

    /// Positions of `market` with sign `sign`, ranked for ADL: every other account's, and
    /// `exclude`'s own opposite hedge leg (a hedge-mode account's short can take over its
    /// liquidated long: docs/RULES.md §3b). Users with a score come first (by score); the
    /// unrankable (and reserved accounts) follow.
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
            let own = acc.id == exclude && ps.side[i] == crate::domain::PositionSide::Both;
            if own || ps.qty[i].signum() != sign {
                continue;
            }
            let notional = Decimal::from(ps.qty[i]) * lot * m.mark;
            let score = if acc.id.is_reserved() {
                None
            } else {
                // The margin balance of the pool backing the position.
                let mb = if ps.isolated[i] {
                    let leg = Leg::new(market, ps.side[i]);
                    self.pool_figures(acc.id, leg).margin_balance()
                } else {
                    self.totals(acc.id)
                        .map_or(Decimal::ZERO, |t| t.margin_balance())
                };
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

    /// Step 4: the insurance fund takes over `qty` signed lots of `leg` (the account's side) at
    /// `price`.
    pub fn insurance_takeover(
        &mut self,
        account: AccountId,
        leg: Leg,
        qty: i64,
        price: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        self.check_reducing(account, leg, qty)?;
        let market = leg.market;
        self.emit(
            LedgerEvent::PositionTransferred {
                market,
                from: account,
                to: AccountId::INSURANCE,
                qty,
                price,
                kind: TransferKind::Takeover,
            },
            now,
            out,
        );
        Ok(())
    }

    /// Step 5: close the account's position on `leg` against `counterparties` (lots each) at
    /// `price`.
    pub fn auto_deleverage(
        &mut self,
        account: AccountId,
        leg: Leg,
        price: Decimal,
        counterparties: &[(AccountId, i64)],
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        let market = leg.market;
        let sign = self.position_qty(account, leg).signum();
        let total: i64 = counterparties.iter().map(|c| c.1).sum();
        self.check_reducing(account, leg, sign * total)?;
        // The transfers' legs follow the rule of `transfer_legs`: `leg` must be the one it
        // names for this account.
        if self.transfer_legs(market, account, account, sign).0 != leg {
            return Err(Reject::ReduceOnlyRejected);
        }
        for &(cp, lots) in counterparties {
            // The counterparty must hold at least `lots` on the opposite side: ADL only reduces.
            let cp_leg = self.transfer_legs(market, account, cp, sign).1;
            self.check_reducing(cp, cp_leg, -sign * lots)?;
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
                now,
                out,
            );
        }
        // A counterparty closed at the bankruptcy price may itself be left flat and owing:
        // it enters liquidation (the fund may pay only there).
        for &(cp, _) in counterparties {
            let cp_leg = self.transfer_legs(market, account, cp, sign).1;
            self.start_if_owing(cp, cp_leg, now, out);
        }
        Ok(())
    }

    /// Step 6: the insurance fund clears up to `amount` of a pool's negative wallet (the
    /// cross wallet, or an isolated wallet), never more than the deficit nor than the fund
    /// can pay ([`Ledger::insurance_available`]). Returns what it paid.
    pub fn clear_negative(
        &mut self,
        pool: MarginPool,
        amount: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let account = pool.account();
        let a = self.try_idx(account)?;
        if account.is_reserved() {
            return Err(Reject::InvalidRequest(RequestFault::ReservedAccount));
        }
        let wallet = match pool {
            MarginPool::Cross(_) => self.accounts[a].wallet,
            MarginPool::Isolated(_, leg) => self.isolated_wallet(account, leg),
        };
        let pay = amount.min(-wallet).min(self.insurance_available());
        if pay > Decimal::ZERO {
            let amount = Amount(pay);
            let event = match pool {
                MarginPool::Cross(account) => LedgerEvent::InsuranceCleared { account, amount },
                MarginPool::Isolated(account, leg) => LedgerEvent::IsolatedCleared {
                    account,
                    leg,
                    amount,
                },
            };
            self.emit(event, now, out);
            return Ok(pay);
        }
        Ok(Decimal::ZERO)
    }

    /// Leave liquidation (the planner said `Done`).
    pub fn end_liquidation(
        &mut self,
        pool: MarginPool,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<(), Reject> {
        self.try_idx(pool.account())?;
        if self.pool_in_liquidation(pool) {
            let event = match pool {
                MarginPool::Cross(account) => LedgerEvent::LiquidationEnded { account },
                MarginPool::Isolated(account, leg) => {
                    LedgerEvent::IsolatedLiquidationEnded { account, leg }
                }
            };
            self.emit(event, now, out);
        }
        Ok(())
    }

    /// Pools in liquidation (ledger order; an account's cross pool before its isolated ones).
    pub fn in_liquidation_pools(&self) -> Vec<MarginPool> {
        let mut v = Vec::new();
        for a in &self.accounts {
            if a.in_liquidation {
                v.push(MarginPool::Cross(a.id));
            }
            for e in a.markets.iter().filter(|e| e.iso_liquidation) {
                v.push(MarginPool::Isolated(a.id, e.leg()));
            }
        }
        v
    }

    /// `qty` (signed, non-zero) must reduce `account`'s position on `leg` without flipping.
    fn check_reducing(&self, account: AccountId, leg: Leg, qty: i64) -> Result<(), Reject> {
        self.try_idx(account)?;
        let p = self.position_qty(account, leg);
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
