//! The ledger: wallets, positions, leverage and margin holds of every account, plus the
//! exchange's fee account and insurance fund (docs/RULES.md §3, §5–§7).
//!
//! # Invariants (checked by [`Ledger::check_invariants`])
//! - Money is conserved exactly: Σ wallets + Σ isolated wallets − Σ signed cost bases =
//!   Σ deposits − Σ withdrawals. Every flow is a transfer between two wallets; rounding
//!   residue goes to the insurance fund.
//! - Per market, Σ position lots = 0 (long = short).
//! - Outside liquidation, a user account without cross positions has a wallet ≥ 0, and a
//!   flat isolated entry outside isolated liquidation has an isolated wallet of exactly 0.
//! - An isolated position's losses are paid from its isolated wallet only (`isolated.rs`).
//! - Positions live in one struct-of-arrays per market (hot: account, qty, cost); an account
//!   knows its slot in each market. A flat position has no slot.
//! - Caches (per-(account, market) margin figures, screening cushions) and the transient
//!   reservations of amends in flight (`sides.rs`) are never part of the state: they are
//!   excluded from [`Ledger::state_hash`] and snapshots and rebuilt on demand.
//! - State changes only through [`Ledger::apply`] (see `event.rs`). The income history is
//!   derived there too; records take the time of the event, or the `now` passed with it: the
//!   command's time live, the batch time on replay (the same clock value).

mod access;
mod audit;
mod bounds;
mod event;
mod event_wire;
mod figures;
mod fills;
mod funding;
mod hedge;
mod isolated;
mod leverage;
mod liquidation;
mod lookup;
mod orders;
mod positions;
mod screen;
mod sides;
mod snapshot;
mod snapshot_layout;
mod view;
mod wallet;

use std::collections::VecDeque;

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use crate::domain::{AccountId, MarginMode, MarketSpec, OrderId, Reject, Timestamp, TradeId};
use crate::domain::{Leg, PositionMode, PositionSide};
use crate::engine::access::Access;
use crate::engine::income::{IncomeKind, IncomeRecord, Stored};
use crate::risk::MarketId;
use sides::{fresh_sides, Shadow, Sides};

pub use audit::InvariantViolation;
pub use event::{FillRecord, LedgerEvent, OpenOrder, TransferKind};
use figures::Figures;
pub use figures::Totals;
pub use fills::FillKind;
pub use orders::Hold;
pub use positions::MarketPositions;
pub use snapshot::LEDGER_SNAPSHOT_FORMAT;
pub use view::{AccountView, MarketSetting, PositionView};

/// "No position" in [`AccountMarket::slot`].
const NO_SLOT: u32 = u32::MAX;

/// One market's spec, mark and positions.
#[derive(Clone, Debug)]
struct MarketState {
    spec: MarketSpec,
    mark: Decimal,
    /// Bumped on every mark change; cached figures carry the sequence they were computed at.
    mark_seq: u64,
    positions: MarketPositions,
}

/// What an account has on one leg of one market: the market in one-way mode, its long or its
/// short side in hedge mode (docs/RULES.md §3b). Leverage and margin mode are the market's:
/// every leg of a market holds the same values (set together, copied to a new leg).
#[derive(Clone, Debug)]
struct AccountMarket {
    market: MarketId,
    side: PositionSide,
    leverage: u32,
    /// Index into the market's position arrays, or [`NO_SLOT`].
    slot: u32,
    /// Held orders by id (an account may hold thousands in one market: lookups are O(1)).
    orders: FxHashMap<OrderId, OpenOrder>,
    /// Cached figures and the mark sequence they hold for (`None`: stale).
    cache: Option<(u64, Figures)>,
    /// Σ of the effective non-reduce-only orders per side at one mark sequence, kept up to
    /// date on every hold change so R1 is O(1) in the number of open orders (`None`: rebuild).
    sides: Option<Sides>,
    /// Reservations of amends in flight (transient; see `sides.rs`).
    shadows: Vec<Shadow>,
    /// Cross or isolated (changes only while flat without orders: `isolated.rs`).
    mode: MarginMode,
    /// The isolated wallet: margin moved in, plus realized PnL, fees and funding of the
    /// position. Zero in cross mode and when flat, except for a deficit the insurance fund
    /// has not cleared yet (then the entry is in isolated liquidation).
    iso_wallet: Decimal,
    /// The isolated position is being liquidated (orders in this market are refused).
    iso_liquidation: bool,
}

#[derive(Clone, Debug)]
struct Account {
    id: AccountId,
    wallet: Decimal,
    in_liquidation: bool,
    /// One-way or hedge (changes only without positions and orders: `hedge.rs`).
    position_mode: PositionMode,
    /// Small (one entry per leg touched), searched linearly.
    markets: Vec<AccountMarket>,
    /// Newest income records, at most `keep_income` (none for reserved accounts).
    income: VecDeque<Stored>,
}

impl AccountMarket {
    fn leg(&self) -> Leg {
        Leg::new(self.market, self.side)
    }
}

impl Account {
    /// The entry for `leg`, if the account has touched it.
    fn leg(&self, leg: Leg) -> Option<&AccountMarket> {
        self.markets
            .iter()
            .find(|e| e.market == leg.market && e.side == leg.side)
    }

    fn leg_mut(&mut self, leg: Leg) -> Option<&mut AccountMarket> {
        self.markets
            .iter_mut()
            .find(|e| e.market == leg.market && e.side == leg.side)
    }

    /// Some entry of `market` (any leg): for what the legs share (leverage, margin mode).
    fn market(&self, market: MarketId) -> Option<&AccountMarket> {
        self.markets.iter().find(|e| e.market == market)
    }

    /// The leg of `market` whose entry holds order `id`.
    fn leg_of_order(&self, market: MarketId, id: OrderId) -> Option<Leg> {
        self.markets
            .iter()
            .find(|e| e.market == market && e.orders.contains_key(&id))
            .map(AccountMarket::leg)
    }
}

/// All accounts of the exchange. See the module doc for its invariants.
#[derive(Clone, Debug)]
pub struct Ledger {
    markets: Vec<MarketState>,
    accounts: Vec<Account>,
    index: FxHashMap<AccountId, u32>,
    /// Per account (same index): a lower bound, in units of `10^-scale`, of
    /// `margin_balance − Σ maintenance`; ≤ 0 means "evaluate exactly" (see `screen.rs`).
    cushion: Vec<i128>,
    scale: u32,
    deposits: Decimal,
    withdrawals: Decimal,
    /// The id of the next income record.
    next_income: u64,
    /// Income records kept per account (a setting, not state).
    keep_income: usize,
    /// API keys, admin tokens, the audit log.
    access: Access,
}

impl Ledger {
    /// A ledger over `markets` (indexed by [`MarketId`]), with money rounded to `money_scale`
    /// decimals. Marks start at each market's `initial_index_price`. The fee account and the
    /// insurance fund exist from the start.
    pub fn new(markets: Vec<MarketSpec>, money_scale: u32) -> Ledger {
        assert!(markets.len() <= u16::MAX as usize, "market ids are u16");
        let markets = markets
            .into_iter()
            .map(|spec| MarketState {
                mark: spec.initial_index_price,
                mark_seq: 0,
                positions: MarketPositions::default(),
                spec,
            })
            .collect();
        let mut l = Ledger {
            markets,
            accounts: Vec::new(),
            index: FxHashMap::default(),
            cushion: Vec::new(),
            scale: money_scale,
            deposits: Decimal::ZERO,
            withdrawals: Decimal::ZERO,
            next_income: 1,
            keep_income: crate::engine::Retention::default().income,
            access: Access::default(),
        };
        l.apply_open(AccountId::FEE);
        l.apply_open(AccountId::INSURANCE);
        l
    }

    pub fn money_scale(&self) -> u32 {
        self.scale
    }

    /// Keep at most `keep` income records per account from now on.
    pub fn set_income_retention(&mut self, keep: usize) {
        self.keep_income = keep.max(1);
    }

    /// `account`'s income history matching `f` (see [`crate::engine::income::select`]).
    pub fn income(
        &self,
        account: AccountId,
        f: &crate::engine::income::IncomeFilter,
    ) -> Result<Vec<IncomeRecord>, Reject> {
        let a = self.try_idx(account)?;
        Ok(crate::engine::income::select(
            account,
            &self.accounts[a].income,
            f,
        ))
    }

    pub fn market_count(&self) -> usize {
        self.markets.len()
    }

    pub fn spec(&self, market: MarketId) -> &MarketSpec {
        &self.markets[market.index()].spec
    }

    pub fn mark(&self, market: MarketId) -> Decimal {
        self.markets[market.index()].mark
    }

    /// The positions of one market (struct of arrays).
    pub fn positions(&self, market: MarketId) -> &MarketPositions {
        &self.markets[market.index()].positions
    }

    // ---- internals shared by the submodules

    fn try_idx(&self, id: AccountId) -> Result<usize, Reject> {
        self.index
            .get(&id)
            .map(|&i| i as usize)
            .ok_or(Reject::AccountNotFound)
    }

    /// The index of an account that an event names; events only name existing accounts.
    fn idx(&self, id: AccountId) -> usize {
        match self.index.get(&id) {
            Some(&i) => i as usize,
            None => panic!("event names unknown account {id}: journal and ledger disagree"),
        }
    }

    /// The entry of (account, leg), if the account exists and touched the leg.
    fn entry_of(&self, id: AccountId, leg: Leg) -> Option<&AccountMarket> {
        let &a = self.index.get(&id)?;
        self.accounts[a as usize].leg(leg)
    }

    fn slot_of(&self, id: AccountId, leg: Leg) -> Option<usize> {
        let e = self.entry_of(id, leg)?;
        (e.slot != NO_SLOT).then_some(e.slot as usize)
    }

    fn apply_open(&mut self, id: AccountId) {
        let i = u32::try_from(self.accounts.len()).expect("fewer than 2^32 accounts");
        self.accounts.push(Account {
            id,
            wallet: Decimal::ZERO,
            in_liquidation: false,
            position_mode: PositionMode::OneWay,
            markets: Vec::new(),
            income: VecDeque::new(),
        });
        self.cushion.push(0);
        self.index.insert(id, i);
    }

    fn credit_wallet(&mut self, id: AccountId, amount: Decimal) {
        let a = self.idx(id);
        self.accounts[a].wallet += amount;
        if amount.is_sign_negative() {
            self.cushion[a] = 0;
        }
    }

    /// Append an income record for account index `a` at `time` (not for reserved accounts,
    /// nor for zero amounts).
    fn record_income(
        &mut self,
        a: usize,
        kind: IncomeKind,
        market: Option<MarketId>,
        amount: Decimal,
        time: Timestamp,
        trade_id: Option<TradeId>,
    ) {
        let s = Stored::new(self.next_income, kind, market, amount, time, trade_id);
        self.push_income(a, s);
    }

    /// Append `s` (its id is the next income id) to account index `a`'s history, keeping at
    /// most `keep_income` (not for reserved accounts, nor for zero amounts).
    fn push_income(&mut self, a: usize, s: Stored) {
        let acc = &mut self.accounts[a];
        if acc.id.is_reserved() || s.amount.is_zero() {
            return;
        }
        while acc.income.len() >= self.keep_income {
            acc.income.pop_front();
        }
        acc.income.push_back(s);
        self.next_income += 1;
    }

    /// The account's entry for `leg`, created on first use with the market's leverage and
    /// margin mode as another leg of it holds them (the defaults otherwise).
    fn entry(&mut self, a: usize, leg: Leg) -> &mut AccountMarket {
        let acc = &mut self.accounts[a];
        let pos = match acc
            .markets
            .iter()
            .position(|e| e.market == leg.market && e.side == leg.side)
        {
            Some(p) => p,
            None => {
                let (leverage, mode) = acc.market(leg.market).map_or(
                    (
                        self.markets[leg.market.index()].spec.default_leverage,
                        MarginMode::Cross,
                    ),
                    |e| (e.leverage, e.mode),
                );
                acc.markets.push(AccountMarket {
                    market: leg.market,
                    side: leg.side,
                    leverage,
                    slot: NO_SLOT,
                    orders: FxHashMap::default(),
                    cache: None,
                    sides: None,
                    shadows: Vec::new(),
                    mode,
                    iso_wallet: Decimal::ZERO,
                    iso_liquidation: false,
                });
                acc.markets.len() - 1
            }
        };
        &mut acc.markets[pos]
    }

    /// Run `f` on the (created if needed) entry of (a, leg) next to its market's state.
    fn with_entry<R>(
        &mut self,
        a: usize,
        leg: Leg,
        f: impl FnOnce(&mut AccountMarket, &MarketState) -> R,
    ) -> R {
        self.entry(a, leg);
        let m = &self.markets[leg.market.index()];
        // expect: `entry` just created it if it was missing.
        let e = self.accounts[a].leg_mut(leg).expect("entry exists");
        f(e, m)
    }
}
