//! Funding settlement of one market in one pass over its position arrays (docs/RULES.md §5).
//!
//! # Invariants
//! - Each position pays `charge(q × lot × mark × rate)`: debits round up, credits round down.
//! - Σ exact payments = `lot × mark × rate × Σq` = 0, so the rounded payments sum to a residue
//!   ≥ 0, credited to the insurance fund: the settlement sums to exactly zero.
//! - An isolated position's payment settles in its isolated wallet (docs/RULES.md §3a).
//! - The pass is the same for live and replay: the event records rate and mark, and the
//!   payments are recomputed from the positions.

use rust_decimal::Decimal;

use super::{Account, Ledger, LedgerEvent};
use crate::domain::{AccountId, Amount, Timestamp};
use crate::engine::income::{IncomeKind, Stored};
use crate::risk::{funding, MarketId};

/// The funding income record of one payment (the pass borrows the accounts directly).
fn push_income(
    acc: &mut Account,
    next: &mut u64,
    keep: usize,
    market: MarketId,
    amount: Decimal,
    time: Timestamp,
) {
    if acc.id.is_reserved() || amount.is_zero() {
        return;
    }
    while acc.income.len() >= keep {
        acc.income.pop_front();
    }
    let s = Stored::new(
        *next,
        IncomeKind::FundingFee,
        Some(market),
        amount,
        time,
        None,
    );
    acc.income.push_back(s);
    *next += 1;
}

impl Ledger {
    /// Settle funding of `market` at `rate` and `mark`; returns the recorded event (also
    /// pushed to `out`).
    pub fn settle_funding(
        &mut self,
        market: MarketId,
        rate: Decimal,
        mark: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> LedgerEvent {
        let (debits, credits, residue) = self.apply_funding(market, rate, mark, now);
        let ev = LedgerEvent::FundingSettled {
            market,
            rate,
            mark,
            time: now,
            debits: Amount(debits),
            credits: Amount(credits),
            residue: Amount(residue),
        };
        out.push(ev.clone());
        ev
    }

    /// The settlement pass; returns (Σ debits, Σ credits (≤ 0), residue). Each payment is
    /// also an income record of its account, at `time`.
    pub(super) fn apply_funding(
        &mut self,
        market: MarketId,
        rate: Decimal,
        mark: Decimal,
        time: Timestamp,
    ) -> (Decimal, Decimal, Decimal) {
        let scale = self.scale;
        let Ledger {
            markets,
            accounts,
            cushion,
            next_income,
            keep_income,
            ..
        } = self;
        let m = &mut markets[market.index()];
        // Per-lot payment; each position's payment is `q × k`, rounded once.
        let k = funding::per_lot(m.spec.lot_size, mark, rate);
        let payments = funding::Payments::new(k, scale);
        let ps = &mut m.positions;
        let mut debits = Decimal::ZERO;
        let mut credits = Decimal::ZERO;
        if !k.is_zero() {
            for i in 0..ps.qty.len() {
                let (pay, pay_units) = payments.of(ps.qty[i]);
                let a = ps.account[i] as usize;
                if ps.isolated[i] {
                    // An isolated position pays from (and is paid into) its own wallet.
                    let e = accounts[a]
                        .leg_mut(crate::domain::Leg::new(market, ps.side[i]))
                        .expect("a slot's holder has an entry for its leg");
                    e.iso_wallet -= pay;
                    e.cache = None;
                } else {
                    accounts[a].wallet -= pay;
                }
                ps.funding_paid[i] += pay;
                push_income(
                    &mut accounts[a],
                    next_income,
                    *keep_income,
                    market,
                    -pay,
                    time,
                );
                if pay > Decimal::ZERO {
                    debits += pay;
                    // Keep the screening bound valid: the cushion falls by exactly the debit
                    // (an isolated payment leaves the cross cushion alone).
                    if !ps.isolated[i] {
                        cushion[a] = cushion[a].saturating_sub(pay_units);
                    }
                } else {
                    credits += pay;
                }
            }
        }
        let residue = debits + credits;
        let ins = self.idx(AccountId::INSURANCE);
        self.accounts[ins].wallet += residue;
        (debits, credits, residue)
    }
}
