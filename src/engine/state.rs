//! [`ExchangeState`]: the whole state of the exchange as the pure core holds it — the ledger,
//! the order records and one [`MarketEngine`] per market, in the configured market order.
//! Recovery produces one, the snapshotter's replica keeps one current, and the supervisor
//! hands its parts to the actors that own them from then on.

use crate::domain::MarketSpec;
use crate::engine::market::MarketEngine;
use crate::engine::orders::OrderStore;
use crate::engine::{Ledger, Retention};

/// The exchange's state at one journal sequence (or fresh, before entry 1).
#[derive(Clone)]
pub struct ExchangeState {
    pub ledger: Ledger,
    pub orders: OrderStore,
    /// Indexed by `MarketId`: the same order as `markets`.
    pub engines: Vec<MarketEngine>,
}

impl ExchangeState {
    /// A fresh exchange: no accounts, empty books.
    pub fn fresh(markets: &[MarketSpec], money_scale: u32, retention: Retention) -> ExchangeState {
        let mut ledger = Ledger::new(markets.to_vec(), money_scale);
        ledger.set_income_retention(retention.income);
        let mut orders = OrderStore::new(markets.len());
        orders.set_retention(retention);
        ExchangeState {
            ledger,
            orders,
            engines: markets.iter().cloned().map(MarketEngine::new).collect(),
        }
    }
}
