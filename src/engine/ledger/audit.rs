//! Executable invariants and the state hash (docs/RULES.md §7).
//!
//! # Invariants
//! - [`Ledger::state_hash`] is SHA-256 over a canonical encoding: accounts sorted by id,
//!   markets in id order, positions sorted by account id, orders by order id, decimals
//!   normalized (so `1.0` and `1.00` hash alike). Hash-map order, slot order, caches and
//!   the global numbering of income records do not influence it; an entry with nothing in it (no position, no order, default leverage)
//!   encodes like an absent one.
//! - [`Ledger::check_invariants`] decides exactly (decimal equality, no tolerance).

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::{Account, Ledger, NO_SLOT};
use crate::domain::PositionSide;
use crate::risk::money;

/// Which invariant failed, with the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation(pub String);

impl std::fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvariantViolation {}

fn put_dec(h: &mut Sha256, d: Decimal) {
    // Normalized, and −0 encoded as 0: equal numbers encode alike.
    let d = if d.is_zero() {
        Decimal::ZERO
    } else {
        d.normalize()
    };
    h.update(d.serialize());
}

impl Ledger {
    /// A hash of the whole ledger state, independent of map order and caches.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"perpx-ledger-v2");
        h.update(self.scale.to_le_bytes());
        put_dec(&mut h, self.deposits);
        put_dec(&mut h, self.withdrawals);
        for m in &self.markets {
            put_dec(&mut h, m.mark);
            let ps = &m.positions;
            let mut order: Vec<usize> = (0..ps.len()).collect();
            order.sort_by_key(|&i| (self.accounts[ps.account[i] as usize].id, ps.side[i]));
            h.update((order.len() as u64).to_le_bytes());
            for i in order {
                h.update(self.accounts[ps.account[i] as usize].id.0.to_le_bytes());
                // Hedge legs only: one-way ledgers hash as before hedge mode.
                if ps.side[i] != PositionSide::Both {
                    h.update([0xff, ps.side[i].bits()]);
                }
                h.update(ps.qty[i].to_le_bytes());
                put_dec(&mut h, ps.cost[i]);
                put_dec(&mut h, ps.realized_pnl[i]);
                put_dec(&mut h, ps.funding_paid[i]);
            }
        }
        let mut accounts: Vec<usize> = (0..self.accounts.len()).collect();
        accounts.sort_by_key(|&i| self.accounts[i].id);
        for i in accounts {
            let acc = &self.accounts[i];
            h.update(acc.id.0.to_le_bytes());
            put_dec(&mut h, acc.wallet);
            h.update([u8::from(acc.in_liquidation)]);
            if acc.position_mode.is_hedge() {
                h.update(b"hedge");
            }
            h.update((acc.income.len() as u64).to_le_bytes());
            // Income records without their ids: the global numbering follows creation order,
            // which the hash ignores (replay reproduces the ids anyway).
            for r in &acc.income {
                h.update([r.kind as u8]);
                h.update(r.market_code().to_le_bytes());
                if r.position_side() != PositionSide::Both {
                    h.update([0xff, r.position_side().bits()]);
                }
                put_dec(&mut h, r.amount);
                h.update(r.time.0.to_le_bytes());
                h.update(r.trade_id.to_le_bytes());
            }
            self.hash_entries(&mut h, acc);
        }
        self.access.hash_into(&mut |b: &[u8]| h.update(b));
        h.finalize().into()
    }

    /// The entries part of [`Ledger::state_hash`] for one account (see the comment inside).
    fn hash_entries(&self, h: &mut Sha256, acc: &Account) {
        // Per market: the legs that hold something (a position, orders, isolated state);
        // a market whose legs hold nothing counts once, by its settings, when they are not
        // the defaults. Empty legs (an R1 hold the market refused leaves one) do not count:
        // replay never creates them. One-way ledgers hash as before hedge mode.
        let holds = |e: &&super::AccountMarket| {
            e.slot != NO_SLOT
                || !e.orders.is_empty()
                || !e.iso_wallet.is_zero()
                || e.iso_liquidation
        };
        let mut entries: Vec<_> = acc.markets.iter().filter(holds).collect();
        for e in &acc.markets {
            let default = e.leverage == self.markets[e.market.index()].spec.default_leverage
                && !e.mode.is_isolated();
            if !default && !entries.iter().any(|x| x.market == e.market) {
                entries.push(e);
            }
        }
        entries.sort_by_key(|e| e.leg());
        h.update((entries.len() as u64).to_le_bytes());
        for e in entries {
            h.update(e.market.0.to_le_bytes());
            if holds(&e) && e.side != PositionSide::Both {
                h.update([0xff, e.side.bits()]);
            }
            h.update(e.leverage.to_le_bytes());
            // Isolated state only when there is some: cross-only ledgers hash as before.
            if e.mode.is_isolated() || !e.iso_wallet.is_zero() || e.iso_liquidation {
                h.update([
                    1,
                    u8::from(e.mode.is_isolated()),
                    u8::from(e.iso_liquidation),
                ]);
                put_dec(h, e.iso_wallet);
            }
            let mut orders: Vec<_> = e.orders.values().copied().collect();
            orders.sort_by_key(|o| o.order_id);
            h.update((orders.len() as u64).to_le_bytes());
            for o in orders {
                h.update(o.order_id.0.to_le_bytes());
                h.update([o.side.sign() as u8, u8::from(o.reduce_only)]);
                if o.position_side != PositionSide::Both {
                    h.update([0xff, o.position_side.bits()]);
                }
                h.update(o.qty.to_le_bytes());
                put_dec(h, o.price);
            }
        }
    }

    /// Σ deposits, Σ withdrawals, Σ wallets (cross and isolated), Σ signed cost bases (the
    /// solvency sums).
    pub fn solvency(&self) -> (Decimal, Decimal, Decimal, Decimal) {
        let cross: Decimal = self.accounts.iter().map(|a| a.wallet).sum();
        let wallets = cross + self.isolated_total();
        let costs = self
            .markets
            .iter()
            .flat_map(|m| m.positions.cost.iter())
            .copied()
            .sum();
        (self.deposits, self.withdrawals, wallets, costs)
    }

    /// docs/RULES.md §7 invariants 1–3 and 5 as far as the ledger can see them, plus the internal
    /// slot links. Exact.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let (dep, wd, wallets, costs) = self.solvency();
        if wallets - costs != dep - wd {
            return Err(InvariantViolation(format!(
                "money not conserved: wallets (cross and isolated) {wallets} − cost bases {costs} = {} ≠ deposits {dep} − withdrawals {wd} = {}",
                wallets - costs,
                dep - wd
            )));
        }
        for (mi, m) in self.markets.iter().enumerate() {
            let ps = &m.positions;
            let net: i64 = ps.qty.iter().sum();
            if net != 0 {
                return Err(InvariantViolation(format!(
                    "market {mi}: Σ long − Σ short = {net} lots"
                )));
            }
            for i in 0..ps.len() {
                let acc = &self.accounts[ps.account[i] as usize];
                let entry = acc.markets.iter().find(|e| {
                    e.market.index() == mi && e.slot as usize == i && e.side == ps.side[i]
                });
                let linked = entry.is_some();
                let flag_ok = entry.is_some_and(|e| e.mode.is_isolated() == ps.isolated[i]);
                // A hedge leg never flips: long ≥ 0, short ≤ 0; only the mode's legs hold one.
                let leg_ok = match ps.side[i] {
                    PositionSide::Both => !acc.position_mode.is_hedge(),
                    PositionSide::Long => acc.position_mode.is_hedge() && ps.qty[i] > 0,
                    PositionSide::Short => acc.position_mode.is_hedge() && ps.qty[i] < 0,
                };
                if ps.qty[i] == 0 || !linked || !flag_ok || !leg_ok {
                    return Err(InvariantViolation(format!(
                        "market {mi} slot {i}: qty {} leg {:?} linked {linked} isolated flag agrees {flag_ok} leg fits the mode {leg_ok}",
                        ps.qty[i], ps.side[i]
                    )));
                }
            }
        }
        for acc in &self.accounts {
            if !acc.id.is_reserved()
                && !acc.in_liquidation
                && acc.wallet < Decimal::ZERO
                && acc.markets.iter().all(|e| e.slot == NO_SLOT)
            {
                return Err(InvariantViolation(format!(
                    "account {} is flat, not in liquidation, with wallet {}",
                    acc.id, acc.wallet
                )));
            }
            self.check_isolated(acc)?;
            self.check_caches(acc)?;
            if acc.id == crate::domain::AccountId::FEE && acc.wallet < Decimal::ZERO {
                return Err(InvariantViolation(format!(
                    "fee account negative: {}",
                    acc.wallet
                )));
            }
        }
        Ok(())
    }

    /// Isolated wallets: none in cross mode; a flat isolated entry holds exactly 0 outside
    /// isolated liquidation (what is left returns to the cross wallet; a deficit is being
    /// cleared by the workflow).
    fn check_isolated(&self, acc: &Account) -> Result<(), InvariantViolation> {
        for e in &acc.markets {
            let bad = if !e.mode.is_isolated() {
                !e.iso_wallet.is_zero() || e.iso_liquidation
            } else {
                e.slot == NO_SLOT && !e.iso_liquidation && !e.iso_wallet.is_zero()
            };
            if bad {
                return Err(InvariantViolation(format!(
                    "account {} market {}: {:?} entry, flat {}, isolated wallet {}, in isolated liquidation {}",
                    acc.id,
                    e.market,
                    e.mode,
                    e.slot == NO_SLOT,
                    e.iso_wallet,
                    e.iso_liquidation
                )));
            }
        }
        Ok(())
    }

    /// Caches agree with the state: a cached figure for the current mark equals a fresh one,
    /// and a positive screening cushion is a lower bound of `margin_balance − Σ maintenance`
    /// (≤ 0 only means "evaluate exactly at the next mark update").
    fn check_caches(&self, acc: &Account) -> Result<(), InvariantViolation> {
        for e in &acc.markets {
            let m = &self.markets[e.market.index()];
            if let Some(s) = e.sides.filter(|s| s.mark_seq == m.mark_seq) {
                if s != super::fresh_sides(m, e) {
                    return Err(InvariantViolation(format!(
                        "account {} market {}: order side aggregates {s:?} drifted from the held orders",
                        acc.id, e.market
                    )));
                }
            }
            if let Some((seq, f)) = e.cache {
                if seq == self.markets[e.market.index()].mark_seq && f != self.figures(e) {
                    return Err(InvariantViolation(format!(
                        "account {} market {}: cached figures {f:?} are stale",
                        acc.id, e.market
                    )));
                }
            }
        }
        if acc.id.is_reserved() || acc.in_liquidation {
            return Ok(());
        }
        let t = self
            .totals(acc.id)
            .map_err(|e| InvariantViolation(e.to_string()))?;
        let exact = money::units_floor(t.margin_balance() - t.maintenance_margin, self.scale);
        let c = self.cushion[self.index[&acc.id] as usize];
        if t.has_positions && c > 0 && c > exact {
            return Err(InvariantViolation(format!(
                "account {}: screening cushion {c} above the exact {exact} units",
                acc.id
            )));
        }
        Ok(())
    }
}
