//! The account object of docs/API.md, computed from the ledger at current marks.
//!
//! # Invariants
//! - Read-only; every figure is computed by the risk functions the checks use, so what a client
//!   sees is what R1, withdrawals and screening decide on.
//! - Account totals cover every position (cross and isolated); `available_balance`,
//!   `withdrawable` and `margin_ratio` are the cross pool's (docs/RULES.md §3a).
//! - Requirements are rounded up, display prices half-even, as documented in `risk::money`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Ledger, NO_SLOT};
use crate::domain::{AccountId, MarginMode, PositionMode, PositionSide, Reject};
use crate::risk::position::Position;
use crate::risk::{liquidation, margin, money, MarketId};

/// One position as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionView {
    pub market: MarketId,
    /// Signed lots.
    pub quantity: i64,
    pub entry_price: Decimal,
    pub mark_price: Decimal,
    pub notional: Decimal,
    pub unrealized_pnl: Decimal,
    pub realized_pnl: Decimal,
    pub leverage: u32,
    pub initial_margin: Decimal,
    pub maintenance_margin: Decimal,
    /// `None` when no positive price liquidates the account.
    pub liquidation_price: Option<Decimal>,
    pub funding_paid: Decimal,
    /// `cross` or `isolated` (docs/RULES.md §3a).
    pub margin_mode: MarginMode,
    /// The position's isolated wallet (0 in cross mode).
    pub isolated_wallet: Decimal,
    /// `both` (one-way mode), `long` or `short` (hedge mode; docs/RULES.md §3b).
    pub position_side: PositionSide,
}

/// The account's setting and order margin in one market it has touched (with or without a
/// position): what the Binance dialect shows per symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketSetting {
    pub market: MarketId,
    pub leverage: u32,
    pub margin_mode: MarginMode,
    /// The margin held for this market's open orders (part of the account's `order_margin`).
    pub order_margin: Decimal,
    /// `order_margin` per leg the account has touched (one `both` entry in one-way mode; a
    /// `long` and a `short` in hedge mode), ascending: they add up to `order_margin`.
    pub leg_order_margin: Vec<(PositionSide, Decimal)>,
}

/// The account object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub account_id: AccountId,
    /// The cross wallet plus every isolated wallet.
    pub wallet_balance: Decimal,
    /// The cross wallet alone (what backs cross positions and every order).
    pub cross_wallet_balance: Decimal,
    pub unrealized_pnl: Decimal,
    pub margin_balance: Decimal,
    pub position_margin: Decimal,
    pub order_margin: Decimal,
    pub maintenance_margin: Decimal,
    pub available_balance: Decimal,
    pub withdrawable: Decimal,
    /// The cross pool's `Σ maintenance / margin_balance` (what liquidates it); `None` when
    /// its margin balance is not positive.
    pub margin_ratio: Option<Decimal>,
    pub in_liquidation: bool,
    /// `one_way` or `hedge` (docs/RULES.md §3b).
    pub position_mode: PositionMode,
    /// Ascending by (market, position side).
    pub positions: Vec<PositionView>,
    /// Every market the account has touched, ascending by market (not part of the native
    /// account object).
    pub settings: Vec<MarketSetting>,
}

impl Ledger {
    /// The API account object of `id`.
    pub fn account_view(&self, id: AccountId) -> Result<AccountView, Reject> {
        let t = self.totals(id)?;
        let a = self.try_idx(id)?;
        let acc = &self.accounts[a];
        let scale = self.scale;
        let mut positions = Vec::new();
        let mut touched: Vec<_> = acc.markets.iter().collect();
        touched.sort_by_key(|e| e.leg());
        // One setting per market: its legs share leverage and mode; their orders add up.
        let mut settings: Vec<MarketSetting> = Vec::new();
        for e in &touched {
            let om = self.figures(e).order_margin;
            match settings.last_mut() {
                Some(s) if s.market == e.market => {
                    s.order_margin += om;
                    s.leg_order_margin.push((e.side, om));
                }
                _ => settings.push(MarketSetting {
                    market: e.market,
                    leverage: e.leverage,
                    margin_mode: e.mode,
                    order_margin: om,
                    leg_order_margin: vec![(e.side, om)],
                }),
            }
        }
        // Sums over every position (cross totals `t` leave isolated ones out).
        let iso_wallets: Decimal = acc.markets.iter().map(|e| e.iso_wallet).sum();
        let (mut iso_upnl, mut iso_im, mut iso_mm) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for e in touched.into_iter().filter(|e| e.slot != NO_SLOT) {
            let f = self.figures(e);
            let others = if e.mode.is_isolated() {
                iso_upnl += f.upnl;
                iso_im += f.position_margin;
                iso_mm += f.maintenance;
                liquidation::Others {
                    wallet: e.iso_wallet,
                    ..liquidation::Others::default()
                }
            } else {
                liquidation::Others {
                    wallet: acc.wallet,
                    upnl: t.unrealized_pnl - f.upnl,
                    maintenance: t.maintenance_margin - f.maintenance,
                }
            };
            positions.push(self.position_view(e, &f, &others));
        }
        let mb = t.margin_balance();
        let wallet = acc.wallet + iso_wallets;
        let upnl = t.unrealized_pnl + iso_upnl;
        Ok(AccountView {
            account_id: id,
            wallet_balance: wallet,
            cross_wallet_balance: acc.wallet,
            unrealized_pnl: upnl,
            margin_balance: wallet + upnl,
            position_margin: t.position_margin + iso_im,
            order_margin: t.order_margin,
            maintenance_margin: money::requirement(t.maintenance_margin + iso_mm, scale),
            available_balance: t.available_balance(),
            withdrawable: t.withdrawable(),
            margin_ratio: margin::margin_ratio(t.maintenance_margin, mb),
            in_liquidation: acc.in_liquidation,
            position_mode: acc.position_mode,
            positions,
            settings,
        })
    }

    /// One position as the API shows it: entry `e` (with a position) at its figures `f`, the
    /// rest of its pool in `others` (nothing for an isolated one but its wallet).
    fn position_view(
        &self,
        e: &super::AccountMarket,
        f: &super::Figures,
        others: &liquidation::Others,
    ) -> PositionView {
        let m = &self.markets[e.market.index()];
        let s = e.slot as usize;
        let p = Position {
            qty: m.positions.qty[s],
            cost: m.positions.cost[s],
        };
        let (lot, scale) = (m.spec.lot_size, self.scale);
        PositionView {
            market: e.market,
            quantity: p.qty,
            entry_price: p.entry_price(lot, scale).unwrap_or_default(),
            mark_price: m.mark,
            notional: p.notional(m.mark, lot),
            unrealized_pnl: f.upnl,
            realized_pnl: m.positions.realized_pnl[s],
            leverage: e.leverage,
            initial_margin: f.position_margin,
            maintenance_margin: money::requirement(f.maintenance, scale),
            liquidation_price: liquidation::liquidation_price(
                p.qty,
                p.cost,
                lot,
                &m.spec.risk_tiers,
                m.mark,
                others,
                scale,
            ),
            funding_paid: m.positions.funding_paid[s],
            margin_mode: e.mode,
            isolated_wallet: e.iso_wallet,
            position_side: e.side,
        }
    }
}
