//! Isolated margin (docs/RULES.md §3a): the margin mode of an (account, market), transfers
//! between the cross wallet and an isolated wallet, and the pool figures the checks,
//! screening and liquidation use.
//!
//! # Invariants
//! - The mode changes only while the entry has no position, no held order and an isolated
//!   wallet of exactly 0, and never during a liquidation of the account or of the entry.
//! - Adding margin never takes more than the cross wallet can give without unrealized profit
//!   (`withdrawable`); reducing leaves the isolated wallet at least the position's initial
//!   margin at the current mark and leverage after unrealized losses (so above maintenance),
//!   and above zero.
//! - An isolated pool is liquidatable iff it has a position and `isolated wallet + uPnL ≤
//!   maintenance`; it owes iff it is flat with a negative isolated wallet. Cross totals
//!   ([`super::Totals`]) leave isolated positions out; their orders' margin stays in them
//!   (orders reserve from the cross wallet until they open a position).

use rust_decimal::Decimal;

use super::{AccountMarket, Ledger, LedgerEvent, NO_SLOT};
use crate::domain::{AccountId, MarginMode, MarginPool, ModeLock, Reject, Timestamp};
use crate::domain::{Leg, PositionSide};
use crate::engine::income::Stored;
use crate::risk::{liquidation, margin, money, MarketId};

/// The figures of one isolated pool at the current mark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolFigures {
    pub wallet: Decimal,
    pub upnl: Decimal,
    pub maintenance: Decimal,
    pub has_position: bool,
}

impl PoolFigures {
    pub fn margin_balance(&self) -> Decimal {
        self.wallet + self.upnl
    }
}

impl Ledger {
    /// The margin mode of (account, market) (cross until set; every leg shares it).
    pub fn margin_mode(&self, id: AccountId, market: MarketId) -> MarginMode {
        self.index
            .get(&id)
            .and_then(|&a| self.accounts[a as usize].market(market))
            .map_or(MarginMode::Cross, |e| e.mode)
    }

    /// The isolated wallet of (account, leg) (0 in cross mode).
    pub fn isolated_wallet(&self, id: AccountId, leg: Leg) -> Decimal {
        self.entry_of(id, leg)
            .map_or(Decimal::ZERO, |e| e.iso_wallet)
    }

    /// The pool that backs `id`'s position on `leg`.
    pub fn pool_of(&self, id: AccountId, leg: Leg) -> MarginPool {
        match self.margin_mode(id, leg.market) {
            MarginMode::Cross => MarginPool::Cross(id),
            MarginMode::Isolated => MarginPool::Isolated(id, leg),
        }
    }

    /// Set the margin mode of (account, market); `Ok(false)` when it already was `mode`.
    pub fn set_margin_mode(
        &mut self,
        account: AccountId,
        market: MarketId,
        mode: MarginMode,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<bool, Reject> {
        let a = self.try_idx(account)?;
        if account.is_reserved() {
            return Err(Reject::InvalidRequest(
                crate::domain::RequestFault::ReservedAccount,
            ));
        }
        if self.accounts[a].in_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        // Every leg of the market shares the mode: all must allow the change.
        let legs: Vec<&AccountMarket> = self.accounts[a]
            .markets
            .iter()
            .filter(|e| e.market == market)
            .collect();
        if legs.iter().any(|e| e.iso_liquidation) {
            return Err(Reject::AccountInLiquidation);
        }
        if legs.first().map_or(MarginMode::Cross, |e| e.mode) == mode {
            return Ok(false);
        }
        if legs
            .iter()
            .any(|e| e.slot != NO_SLOT || !e.iso_wallet.is_zero())
        {
            return Err(Reject::MarginModeLocked(ModeLock::Position));
        }
        if legs.iter().any(|e| !e.orders.is_empty()) {
            return Err(Reject::MarginModeLocked(ModeLock::OpenOrders));
        }
        self.emit(
            LedgerEvent::MarginModeSet {
                account,
                market,
                mode,
            },
            now,
            out,
        );
        Ok(true)
    }

    /// Move `amount` from the cross wallet into the isolated wallet of (account, leg)
    /// (negative: back to the cross wallet). Returns the isolated wallet after it.
    pub fn move_isolated_margin(
        &mut self,
        account: AccountId,
        leg: Leg,
        amount: Decimal,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) -> Result<Decimal, Reject> {
        let a = self.try_idx(account)?;
        self.check_amount(amount.abs())?;
        if self.accounts[a].in_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        if !self.margin_mode(account, leg.market).is_isolated() {
            return Err(Reject::NotIsolated);
        }
        let e = self.accounts[a].leg(leg).ok_or(Reject::NoPosition)?;
        if e.iso_liquidation {
            return Err(Reject::AccountInLiquidation);
        }
        if e.slot == NO_SLOT {
            return Err(Reject::NoPosition);
        }
        if amount > Decimal::ZERO {
            if amount > self.totals(account)?.withdrawable() {
                return Err(Reject::InsufficientBalance);
            }
        } else if -amount > self.isolated_removable(e) {
            return Err(Reject::InsufficientIsolatedMargin);
        }
        self.emit(
            LedgerEvent::IsolatedMarginMoved {
                account,
                leg,
                amount,
            },
            now,
            out,
        );
        Ok(self.isolated_wallet(account, leg))
    }

    /// What may leave an isolated wallet: the wallet after unrealized losses above the
    /// position's initial margin at mark, and never the whole wallet.
    fn isolated_removable(&self, e: &AccountMarket) -> Decimal {
        let f = self.figures(e);
        let floor = f.position_margin.max(f.maintenance);
        let room = e.iso_wallet + f.upnl.min(Decimal::ZERO) - floor;
        // Something must stay: a wallet of 0 with a position is bankrupt at mark.
        room.min(e.iso_wallet - money_unit(self.scale))
            .max(Decimal::ZERO)
    }

    /// The figures of an isolated pool (all zero for an entry that is not isolated).
    pub fn pool_figures(&self, account: AccountId, leg: Leg) -> PoolFigures {
        self.entry_of(account, leg)
            .filter(|e| e.mode.is_isolated())
            .map_or(PoolFigures::default(), |e| self.entry_pool(e))
    }

    pub(super) fn entry_pool(&self, e: &AccountMarket) -> PoolFigures {
        let f = self.figures(e);
        PoolFigures {
            wallet: e.iso_wallet,
            upnl: f.upnl,
            maintenance: f.maintenance,
            has_position: e.slot != NO_SLOT,
        }
    }

    /// The margin balance of the pool backing account index `a`'s position on `leg`.
    pub(super) fn pool_margin_balance(&mut self, a: usize, leg: Leg) -> Decimal {
        match self.accounts[a].leg(leg) {
            Some(e) if e.mode.is_isolated() => self.entry_pool(e).margin_balance(),
            _ => self.totals_cached(a).margin_balance(),
        }
    }

    /// After a settlement that moved `id`'s position on `leg`: a cross account left flat
    /// and owing, or an isolated pool left flat with a deficit, enters liquidation here.
    pub(super) fn start_if_owing(
        &mut self,
        id: AccountId,
        leg: Leg,
        now: Timestamp,
        out: &mut Vec<LedgerEvent>,
    ) {
        if self.is_flat_negative(id) {
            self.emit(LedgerEvent::LiquidationStarted { account: id }, now, out);
        }
        if self.isolated_owes(id, leg) {
            self.emit(
                LedgerEvent::IsolatedLiquidationStarted { account: id, leg },
                now,
                out,
            );
        }
    }

    /// An isolated entry of a user, flat, with a deficit, not yet in liquidation.
    fn isolated_owes(&self, id: AccountId, leg: Leg) -> bool {
        !id.is_reserved()
            && self.entry_of(id, leg).is_some_and(|e| {
                e.mode.is_isolated()
                    && !e.iso_liquidation
                    && e.slot == NO_SLOT
                    && e.iso_wallet < Decimal::ZERO
            })
    }

    /// Whether `pool` is in liquidation.
    pub fn pool_in_liquidation(&self, pool: MarginPool) -> bool {
        match pool {
            MarginPool::Cross(a) => self.in_liquidation(a),
            MarginPool::Isolated(a, l) => self.entry_of(a, l).is_some_and(|e| e.iso_liquidation),
        }
    }

    /// Exact liquidation test of a pool: has a position and `margin balance ≤ maintenance`.
    pub fn pool_liquidatable(&self, pool: MarginPool) -> bool {
        match pool {
            MarginPool::Cross(a) => self.is_liquidatable(a),
            MarginPool::Isolated(a, l) => {
                let p = self.pool_figures(a, l);
                p.has_position && liquidation::is_liquidatable(p.margin_balance(), p.maintenance)
            }
        }
    }

    /// Whether a pool is flat and owes (a negative wallet the fund must clear).
    pub fn pool_owes(&self, pool: MarginPool) -> bool {
        match pool {
            MarginPool::Cross(a) => {
                let flat = self.totals(a).is_ok_and(|t| !t.has_positions);
                flat && self.wallet(a).is_some_and(|w| w < Decimal::ZERO)
            }
            MarginPool::Isolated(a, l) => self.entry_of(a, l).is_some_and(|e| {
                e.mode.is_isolated() && e.slot == NO_SLOT && e.iso_wallet < Decimal::ZERO
            }),
        }
    }

    /// The mode is the market's: every leg of it takes it (the account's first leg is created
    /// if it has none yet).
    pub(super) fn apply_margin_mode(
        &mut self,
        account: AccountId,
        market: MarketId,
        mode: MarginMode,
    ) {
        let a = self.idx(account);
        let first = self.accounts[a].position_mode.legs()[0];
        self.entry(a, Leg::new(market, first));
        for e in self.accounts[a].markets.iter_mut() {
            if e.market == market {
                e.mode = mode;
                e.cache = None;
            }
        }
        self.cushion[a] = 0;
    }

    pub(super) fn apply_isolated_move(
        &mut self,
        account: AccountId,
        leg: Leg,
        amount: Decimal,
        now: Timestamp,
    ) {
        let a = self.idx(account);
        let e = self.entry(a, leg);
        e.iso_wallet += amount;
        e.cache = None;
        self.credit_wallet(account, -amount);
        let kind = crate::engine::income::IncomeKind::IsolatedMargin;
        let id = self.next_income;
        let record = Stored::new(id, kind, Some(leg.market), amount, now, None).on_side(leg.side);
        self.push_income(a, record);
    }

    pub(super) fn set_isolated_liquidation(&mut self, account: AccountId, leg: Leg, on: bool) {
        let a = self.idx(account);
        self.entry(a, leg).iso_liquidation = on;
    }

    /// The insurance fund pays `amount` into an isolated wallet's deficit.
    pub(super) fn apply_isolated_clear(&mut self, account: AccountId, leg: Leg, amount: Decimal) {
        self.credit_wallet(AccountId::INSURANCE, -amount);
        let a = self.idx(account);
        self.entry(a, leg).iso_wallet += amount;
    }

    /// Σ isolated wallets (part of the solvency sums).
    pub(super) fn isolated_total(&self) -> Decimal {
        self.accounts
            .iter()
            .flat_map(|a| a.markets.iter())
            .map(|e| e.iso_wallet)
            .sum()
    }

    /// Check the isolated positions (holder index, leg) of `market` after a mark move: the
    /// liquidatable ones are appended to `liquidatable`.
    pub(super) fn screen_isolated(
        &self,
        market: MarketId,
        holders: &[(u32, PositionSide)],
        liquidatable: &mut Vec<MarginPool>,
    ) {
        for &(a, side) in holders {
            let acc = &self.accounts[a as usize];
            if acc.id.is_reserved() {
                continue;
            }
            let leg = Leg::new(market, side);
            let Some(e) = acc.leg(leg) else {
                continue;
            };
            if e.iso_liquidation || !e.mode.is_isolated() {
                continue;
            }
            let p = self.entry_pool(e);
            if p.has_position && liquidation::is_liquidatable(p.margin_balance(), p.maintenance) {
                liquidatable.push(MarginPool::Isolated(acc.id, leg));
            }
        }
    }
}

/// The smallest money unit at `scale` decimals.
fn money_unit(scale: u32) -> Decimal {
    Decimal::new(1, scale)
}

/// One fill's move of an isolated position, as `move_position` saw it.
pub(super) struct IsolatedMove {
    /// Signed lots before and after.
    pub(super) before: i64,
    pub(super) after: i64,
    pub(super) flipped: bool,
    pub(super) realized: Decimal,
    /// Paid by the position (negative: a rebate).
    pub(super) fee: Decimal,
    /// The lots the fill opened, at the lower of the fill price and the mark (0 if none).
    pub(super) opened_notional: Decimal,
    pub(super) leverage: u32,
}

/// The margin that moves with an isolated position on one fill (module doc, docs/RULES.md
/// §3a), given the cross wallet before; returns the cross wallet after. The fee and realized
/// PnL land in the isolated wallet first; then a partial close returns the closed fraction of
/// it (rounded down; not while the position is being liquidated), flat or a flip returns what
/// is left (a deficit stays), and opened lots draw their initial margin from the cross wallet
/// (never more than it holds: at the lower of fill price and mark it never exceeds what R1
/// reserved for them).
pub(super) fn isolated_flows(
    e: &mut AccountMarket,
    mut cross: Decimal,
    m: &IsolatedMove,
    scale: u32,
) -> Decimal {
    e.iso_wallet += m.realized - m.fee;
    let partial = m.after != 0 && !m.flipped && m.after.abs() < m.before.abs();
    if (m.after == 0 || m.flipped) && e.iso_wallet > Decimal::ZERO {
        cross += e.iso_wallet;
        e.iso_wallet = Decimal::ZERO;
    } else if partial && e.iso_wallet > Decimal::ZERO && !e.iso_liquidation {
        // The rest keeps its margin per lot, so its liquidation price does not move.
        let closed = Decimal::from(m.before.abs() - m.after.abs());
        let share = e.iso_wallet * closed / Decimal::from(m.before.abs());
        let release = money::credit(share, scale).0.max(Decimal::ZERO);
        cross += release;
        e.iso_wallet -= release;
    }
    if m.opened_notional > Decimal::ZERO {
        let im = margin::initial_margin(m.opened_notional, m.leverage, scale)
            .min(cross.max(Decimal::ZERO));
        cross -= im;
        e.iso_wallet += im;
    }
    cross
}
