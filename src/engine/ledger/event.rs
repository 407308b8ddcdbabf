//! Ledger events: immutable, serde-serializable facts. Live operations build one and apply it
//! through [`Ledger::apply`]; a journal replays the same values through the same function
//! (docs/ARCHITECTURE.md §1 "one way state changes").
//!
//! # Invariants
//! - Applying an event never fails and never consults anything but the ledger state and the
//!   event: replaying the events of a live run from the same start reproduces the same state
//!   (same [`Ledger::state_hash`]).
//! - Derived outputs recorded for publishing (realized PnL, funding totals) are recomputed
//!   identically on replay; fees are recorded outcomes and are applied as recorded.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Ledger;
use crate::domain::{AccountId, Amount, OrderId, Price, Side, Timestamp, TradeId};
use crate::domain::{Leg, MarginMode, MarketId, PositionMode, PositionSide};
use crate::engine::access::AccessEvent;
use crate::engine::income::IncomeKind;

/// An open order as the ledger holds it for margin (R1 hold).
///
/// Journal and snapshot encoding: `event_wire::OpenOrderWire` (`reduce_only` and `position_side` share
/// a byte; holds recorded before hedge mode read as leg `both`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    into = "super::event_wire::OpenOrderWire",
    from = "super::event_wire::OpenOrderWire"
)]
pub struct OpenOrder {
    pub order_id: OrderId,
    pub side: Side,
    /// Open lots.
    pub qty: i64,
    /// The price margin is computed at: the limit, or `mark × (1 ± market_take_bound)` for a
    /// market order.
    pub price: Decimal,
    /// Reserves no margin.
    pub reduce_only: bool,
    /// The leg the order trades (its hold lives in that leg's entry).
    pub position_side: PositionSide,
}

/// How a position moved without the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// The insurance fund took over a liquidated remainder (docs/RULES.md §6 step 4).
    Takeover,
    /// Auto-deleveraging against an opposite position (step 5).
    Adl,
}

/// Both sides of one settled fill.
///
/// Journal encoding: `event_wire::FillWire` (the legs share the byte of `taker_side`; fills recorded
/// before hedge mode read as legs `both`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    into = "super::event_wire::FillWire",
    from = "super::event_wire::FillWire"
)]
pub struct FillRecord {
    pub market: MarketId,
    pub trade_id: TradeId,
    pub price: Price,
    /// Lots.
    pub qty: i64,
    pub taker_side: Side,
    pub taker: AccountId,
    pub taker_order: OrderId,
    pub maker: AccountId,
    pub maker_order: OrderId,
    /// Paid by the taker to the fee account.
    pub taker_fee: Amount,
    /// Paid by the maker to the fee account (negative: a rebate).
    pub maker_fee: Amount,
    /// Paid by the taker to the insurance fund (liquidation fills only).
    pub liquidation_fee: Amount,
    /// Of `taker_fee + maker_fee`, the rounding residue that goes to the insurance fund rather
    /// than the fee account (docs/RULES.md §1: users' charges round up, the fee account's credit
    /// rounds down, the difference is the fund's).
    pub fee_residue: Amount,
    /// Output, for publishing: the taker's realized PnL of this fill.
    pub taker_realized: Amount,
    /// Output, for publishing: the maker's realized PnL of this fill.
    pub maker_realized: Amount,
    pub time: Timestamp,
    /// The taker's leg this fill moves.
    pub taker_position: PositionSide,
    /// The maker's leg this fill moves.
    pub maker_position: PositionSide,
}

/// A fact that changed the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerEvent {
    AccountOpened {
        account: AccountId,
    },
    Deposited {
        account: AccountId,
        amount: Amount,
    },
    Withdrew {
        account: AccountId,
        amount: Amount,
    },
    LeverageSet {
        account: AccountId,
        market: MarketId,
        leverage: u32,
    },
    /// R1 accepted an order and holds margin for it.
    OrderHeld {
        account: AccountId,
        market: MarketId,
        order: OpenOrder,
    },
    /// The order closed (cancel, expiry, reject by the book): its hold is released.
    OrderReleased {
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
    },
    /// An amend changed a held order to `qty` open lots at `price`.
    OrderAmended {
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: i64,
        #[serde(with = "crate::domain::dec")]
        price: Decimal,
    },
    MarkSet {
        market: MarketId,
        #[serde(with = "crate::domain::dec")]
        mark: Decimal,
    },
    FillSettled(FillRecord),
    /// One market's funding settlement. Payments are recomputed from the positions on apply;
    /// `debits`, `credits` (≤ 0) and `residue` (to the insurance fund) are recorded outputs,
    /// with `debits + credits − residue = 0`.
    FundingSettled {
        market: MarketId,
        #[serde(with = "crate::domain::dec")]
        rate: Decimal,
        #[serde(with = "crate::domain::dec")]
        mark: Decimal,
        time: Timestamp,
        debits: Amount,
        credits: Amount,
        residue: Amount,
    },
    LiquidationStarted {
        account: AccountId,
    },
    /// `qty` signed lots of `from`'s position (its sign) move to `to` at `price`, no fees.
    PositionTransferred {
        market: MarketId,
        from: AccountId,
        to: AccountId,
        qty: i64,
        #[serde(with = "crate::domain::dec")]
        price: Decimal,
        kind: TransferKind,
    },
    /// The insurance fund paid `amount` to clear `account`'s negative wallet.
    InsuranceCleared {
        account: AccountId,
        amount: Amount,
    },
    LiquidationEnded {
        account: AccountId,
    },
    // Isolated margin (docs/RULES.md §3a). New variants go last: journals stay readable.
    /// The margin mode of (account, market) changed (only while flat without orders).
    MarginModeSet {
        account: AccountId,
        market: MarketId,
        mode: MarginMode,
    },
    /// `amount` moved from the cross wallet into the isolated wallet of (account, leg)
    /// (negative: back to the cross wallet). A leg is encoded as its market id when `both`
    /// (journals written before hedge mode read unchanged).
    IsolatedMarginMoved {
        account: AccountId,
        leg: Leg,
        #[serde(with = "crate::domain::dec")]
        amount: Decimal,
    },
    /// The isolated position of (account, leg) is being liquidated.
    IsolatedLiquidationStarted {
        account: AccountId,
        leg: Leg,
    },
    /// The insurance fund paid `amount` into the deficit of an isolated wallet.
    IsolatedCleared {
        account: AccountId,
        leg: Leg,
        amount: Amount,
    },
    IsolatedLiquidationEnded {
        account: AccountId,
        leg: Leg,
    },
    // Hedge mode (docs/RULES.md §3b).
    /// The account's position mode changed (only without positions and orders).
    PositionModeSet {
        account: AccountId,
        mode: PositionMode,
    },
    // Access control (docs/OPERATIONS.md "Access control").
    /// An API key, admin token or audit record changed (`engine::access`).
    Access(AccessEvent),
}

impl Ledger {
    /// Apply one event: the only way the ledger's state changes (live and replay). `now` is
    /// the time of the command (live) or of its journal batch (replay): income records of
    /// events that carry no time of their own take it. A flat dispatch table (one arm per
    /// event), longer than a function should be on purpose: keep it whole.
    pub fn apply(&mut self, event: &LedgerEvent, now: Timestamp) {
        match *event {
            LedgerEvent::AccountOpened { account } => {
                self.apply_open(account);
                self.access.open_primary(account, now.0);
            }
            LedgerEvent::Deposited { account, amount } => {
                self.apply_transfer_in(account, amount.0, now)
            }
            LedgerEvent::Withdrew { account, amount } => {
                self.apply_transfer_in(account, -amount.0, now)
            }
            LedgerEvent::LeverageSet {
                account,
                market,
                leverage,
            } => self.apply_leverage(account, market, leverage),
            LedgerEvent::OrderHeld {
                account,
                market,
                order,
            } => self.apply_hold(account, market, order),
            LedgerEvent::OrderReleased {
                account,
                market,
                order_id,
            } => self.apply_release(account, market, order_id),
            LedgerEvent::OrderAmended {
                account,
                market,
                order_id,
                qty,
                price,
            } => self.apply_amend(account, market, order_id, qty, price),
            LedgerEvent::MarkSet { market, mark } => {
                let mut scratch = Vec::new();
                self.apply_mark(market, mark, &mut scratch);
            }
            LedgerEvent::FillSettled(ref rec) => {
                self.apply_fill(rec);
            }
            LedgerEvent::FundingSettled {
                market,
                rate,
                mark,
                time,
                ..
            } => {
                self.apply_funding(market, rate, mark, time);
            }
            LedgerEvent::LiquidationStarted { account } => self.set_in_liquidation(account, true),
            LedgerEvent::PositionTransferred {
                market,
                from,
                to,
                qty,
                price,
                ..
            } => self.apply_transfer(market, from, to, qty, price, now),
            LedgerEvent::InsuranceCleared { account, amount } => {
                self.credit_wallet(AccountId::INSURANCE, -amount.0);
                self.credit_wallet(account, amount.0);
                let a = self.idx(account);
                self.record_income(a, IncomeKind::InsuranceClear, None, amount.0, now, None);
            }
            LedgerEvent::LiquidationEnded { account } => self.set_in_liquidation(account, false),
            LedgerEvent::MarginModeSet {
                account,
                market,
                mode,
            } => self.apply_margin_mode(account, market, mode),
            LedgerEvent::IsolatedMarginMoved {
                account,
                leg,
                amount,
            } => self.apply_isolated_move(account, leg, amount, now),
            LedgerEvent::IsolatedLiquidationStarted { account, leg } => {
                self.set_isolated_liquidation(account, leg, true)
            }
            LedgerEvent::IsolatedCleared {
                account,
                leg,
                amount,
            } => {
                self.apply_isolated_clear(account, leg, amount.0);
                let a = self.idx(account);
                let m = Some(leg.market);
                self.record_income(a, IncomeKind::InsuranceClear, m, amount.0, now, None);
            }
            LedgerEvent::IsolatedLiquidationEnded { account, leg } => {
                self.set_isolated_liquidation(account, leg, false)
            }
            LedgerEvent::PositionModeSet { account, mode } => {
                let a = self.idx(account);
                self.accounts[a].position_mode = mode;
            }
            LedgerEvent::Access(ref e) => self.access.apply(e, now.0),
        }
    }

    /// A deposit (`amount` > 0) or a withdrawal (`amount` < 0): wallet, totals, income.
    fn apply_transfer_in(&mut self, account: AccountId, amount: Decimal, now: Timestamp) {
        if amount.is_sign_negative() {
            self.withdrawals -= amount;
        } else {
            self.deposits += amount;
        }
        self.credit_wallet(account, amount);
        let a = self.idx(account);
        self.record_income(a, IncomeKind::Transfer, None, amount, now, None);
    }

    /// Leverage is the market's: every leg of it takes it (the account's first leg is
    /// created if it has none yet).
    fn apply_leverage(&mut self, account: AccountId, market: MarketId, leverage: u32) {
        let a = self.idx(account);
        let first = self.accounts[a].position_mode.legs()[0];
        self.entry(a, Leg::new(market, first));
        for e in self.accounts[a].markets.iter_mut() {
            if e.market == market {
                e.leverage = leverage;
                // Effective prices of sells depend on the leverage: rebuild the aggregates.
                e.sides = None;
                e.cache = None;
            }
        }
    }

    fn apply_hold(&mut self, account: AccountId, market: MarketId, order: OpenOrder) {
        let a = self.idx(account);
        let leg = Leg::new(market, order.position_side);
        self.with_entry(a, leg, |e, m| {
            e.retrack(m, order.order_id, |e| {
                e.orders.insert(order.order_id, order);
            });
        });
    }

    fn apply_release(&mut self, account: AccountId, market: MarketId, order_id: OrderId) {
        let a = self.idx(account);
        let Some(leg) = self.accounts[a].leg_of_order(market, order_id) else {
            return;
        };
        self.with_entry(a, leg, |e, m| {
            e.retrack(m, order_id, |e| {
                e.orders.remove(&order_id);
                e.shadows.retain(|s| s.order_id != order_id);
            });
        });
    }

    fn apply_amend(
        &mut self,
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        qty: i64,
        price: Decimal,
    ) {
        let a = self.idx(account);
        let Some(leg) = self.accounts[a].leg_of_order(market, order_id) else {
            return;
        };
        self.with_entry(a, leg, |e, m| {
            e.retrack(m, order_id, |e| {
                if let Some(o) = e.orders.get_mut(&order_id) {
                    o.qty = qty;
                    o.price = price;
                }
            });
        });
    }

    fn set_in_liquidation(&mut self, account: AccountId, on: bool) {
        let a = self.idx(account);
        self.accounts[a].in_liquidation = on;
    }

    /// Apply `event` and record it in `out` (the live path).
    pub(super) fn emit(&mut self, event: LedgerEvent, now: Timestamp, out: &mut Vec<LedgerEvent>) {
        self.apply(&event, now);
        out.push(event);
    }
}
