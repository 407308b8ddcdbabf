//! Margin figures of an (account, market) entry and an account's totals over its markets
//! (docs/RULES.md §3), fresh or through the per-entry cache.
//!
//! # Invariants
//! - A cached figure is used only at the mark sequence it was computed at; any change to the
//!   entry (position, orders, leverage) drops it ([`Ledger::touch`]).
//! - Fresh and cached figures are equal (the audit compares them, `audit.rs`).

use rust_decimal::Decimal;

use super::sides::fresh_sides;
use super::{AccountMarket, Ledger, MarketState, NO_SLOT};
use crate::domain::{AccountId, Reject};
use crate::risk::margin;

/// Margin figures of one (account, market), at one mark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Figures {
    pub(super) upnl: Decimal,
    pub(super) position_margin: Decimal,
    pub(super) order_margin: Decimal,
    pub(super) maintenance: Decimal,
}

/// An account's cross totals: the cross wallet, its cross positions, and the order margin of
/// every market (orders reserve from the cross wallet in either mode). Isolated positions
/// are their own pools (`isolated.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub wallet: Decimal,
    pub unrealized_pnl: Decimal,
    pub position_margin: Decimal,
    pub order_margin: Decimal,
    pub maintenance_margin: Decimal,
    pub has_positions: bool,
}

impl Totals {
    pub fn margin_balance(&self) -> Decimal {
        self.wallet + self.unrealized_pnl
    }

    pub fn available_balance(&self) -> Decimal {
        margin::available_balance(
            self.margin_balance(),
            self.position_margin,
            self.order_margin,
        )
    }

    pub fn withdrawable(&self) -> Decimal {
        margin::withdrawable(
            self.wallet,
            self.unrealized_pnl,
            self.position_margin,
            self.order_margin,
        )
    }
}

impl Ledger {
    /// The account's totals at current marks (computed fresh, no cache).
    pub fn totals(&self, id: AccountId) -> Result<Totals, Reject> {
        let a = self.try_idx(id)?;
        let acc = &self.accounts[a];
        let mut t = Totals {
            wallet: acc.wallet,
            ..Totals::default()
        };
        for e in &acc.markets {
            let f = self.figures(e);
            t.add(&f, e);
        }
        Ok(t)
    }

    /// Fresh figures of one entry at the current mark.
    pub(super) fn figures(&self, e: &AccountMarket) -> Figures {
        figures(&self.markets[e.market.index()], e, self.scale)
    }

    /// Totals using and refreshing the per-entry caches (hot path of R1 and screening).
    pub(super) fn totals_cached(&mut self, a: usize) -> Totals {
        let Ledger {
            accounts,
            markets,
            scale,
            ..
        } = self;
        let acc = &mut accounts[a];
        let mut t = Totals {
            wallet: acc.wallet,
            ..Totals::default()
        };
        for e in &mut acc.markets {
            let m = &markets[e.market.index()];
            let f = match e.cache {
                Some((seq, f)) if seq == m.mark_seq => f,
                _ => {
                    let f = figures(m, e, *scale);
                    e.cache = Some((m.mark_seq, f));
                    f
                }
            };
            t.add(&f, e);
        }
        t
    }
}

impl Totals {
    fn add(&mut self, f: &Figures, e: &AccountMarket) {
        self.order_margin += f.order_margin;
        if e.mode.is_isolated() {
            return;
        }
        self.unrealized_pnl += f.upnl;
        self.position_margin += f.position_margin;
        self.maintenance_margin += f.maintenance;
        self.has_positions |= e.slot != NO_SLOT;
    }
}

/// Figures of one (account, market) entry at the market's current mark.
fn figures(m: &MarketState, e: &AccountMarket, scale: u32) -> Figures {
    let lot = m.spec.lot_size;
    let qty = if e.slot == NO_SLOT {
        0
    } else {
        m.positions.qty[e.slot as usize]
    };
    let mut f = Figures::default();
    if qty != 0 {
        let cost = m.positions.cost[e.slot as usize];
        let notional = Decimal::from(qty) * lot * m.mark;
        f.upnl = notional - cost;
        let abs = notional.abs();
        f.position_margin = margin::initial_margin(abs, e.leverage, scale);
        f.maintenance = margin::maintenance_margin(&m.spec.risk_tiers, abs);
    }
    if !e.orders.is_empty() {
        let fee = margin::fee_reserve_rate(&m.spec);
        f.order_margin = match e.sides.filter(|s| s.mark_seq == m.mark_seq) {
            Some(s) if s.buys.qty != 0 || s.sells.qty != 0 => {
                margin::order_margin(qty, &s.buys, &s.sells, e.leverage, fee, scale)
            }
            Some(_) => Decimal::ZERO,
            None => {
                let s = fresh_sides(m, e);
                if s.buys.qty == 0 && s.sells.qty == 0 {
                    Decimal::ZERO
                } else {
                    margin::order_margin(qty, &s.buys, &s.sells, e.leverage, fee, scale)
                }
            }
        };
    }
    f
}
