//! Read-only lookups of one account: whether it exists, its wallet, liquidation state,
//! position per leg, position mode, leverage and held orders. Nothing here changes state.

use rust_decimal::Decimal;

use super::{Ledger, OpenOrder};
use crate::domain::{AccountId, Leg, OrderId, PositionMode, PositionSide};
use crate::risk::MarketId;

impl Ledger {
    pub fn has_account(&self, id: AccountId) -> bool {
        self.index.contains_key(&id)
    }

    /// Account ids in ledger order (creation order).
    pub fn account_ids(&self) -> impl Iterator<Item = AccountId> + '_ {
        self.accounts.iter().map(|a| a.id)
    }

    pub fn wallet(&self, id: AccountId) -> Option<Decimal> {
        self.index
            .get(&id)
            .map(|&i| self.accounts[i as usize].wallet)
    }

    pub fn in_liquidation(&self, id: AccountId) -> bool {
        self.index
            .get(&id)
            .is_some_and(|&i| self.accounts[i as usize].in_liquidation)
    }

    /// Signed lots of `id` on `leg` (0 when flat or unknown).
    pub fn position_qty(&self, id: AccountId, leg: Leg) -> i64 {
        self.slot_of(id, leg)
            .map_or(0, |s| self.markets[leg.market.index()].positions.qty[s])
    }

    /// Signed cost basis of `id` on `leg` (0 when flat or unknown).
    pub fn position_cost(&self, id: AccountId, leg: Leg) -> Decimal {
        self.slot_of(id, leg).map_or(Decimal::ZERO, |s| {
            self.markets[leg.market.index()].positions.cost[s]
        })
    }

    /// The position mode of `id` (one-way for an unknown account).
    pub fn position_mode(&self, id: AccountId) -> PositionMode {
        self.index.get(&id).map_or(PositionMode::OneWay, |&a| {
            self.accounts[a as usize].position_mode
        })
    }

    /// The position sides of a market that `id`'s position mode trades.
    pub fn legs(&self, id: AccountId) -> &'static [PositionSide] {
        self.position_mode(id).legs()
    }

    /// Leverage of `id` in `market` (the market default until set).
    pub fn leverage(&self, id: AccountId, market: MarketId) -> u32 {
        self.index
            .get(&id)
            .and_then(|&a| self.accounts[a as usize].market(market))
            .map_or(self.markets[market.index()].spec.default_leverage, |e| {
                e.leverage
            })
    }

    /// The open orders the ledger holds margin for (R1 holds), of `id` in `market` (every
    /// leg), by id.
    pub fn open_orders(&self, id: AccountId, market: MarketId) -> Vec<OpenOrder> {
        let mut v: Vec<OpenOrder> = match self.index.get(&id) {
            Some(&a) => self.accounts[a as usize]
                .markets
                .iter()
                .filter(|e| e.market == market)
                .flat_map(|e| e.orders.values().copied())
                .collect(),
            None => Vec::new(),
        };
        v.sort_unstable_by_key(|o| o.order_id);
        v
    }

    /// The held order `order` of `id` in `market` (on whichever leg holds it).
    pub fn held_order(&self, id: AccountId, market: MarketId, order: OrderId) -> Option<OpenOrder> {
        let &a = self.index.get(&id)?;
        let acc = &self.accounts[a as usize];
        let leg = acc.leg_of_order(market, order)?;
        acc.leg(leg)?.orders.get(&order).copied()
    }
}
