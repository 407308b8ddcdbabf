//! The newest mark, index and open interest of every market, as the RiskActor last computed
//! them at its tick: read without a message by whoever samples every market once a second
//! (the Binance dialect's price history, `api::binance::ws::pulse`), so sampling 500 idle
//! markets wakes none of their threads.
//!
//! # Invariants
//! - Written only by the RiskActor, after it pushed the same mark to the market: a reading
//!   here is never newer than what the market itself shows.
//! - `None` until the first tick sampled the market.

use std::sync::RwLock;

use rust_decimal::Decimal;

use crate::domain::{MarketId, Qty, Timestamp};

/// One market's figures at a RiskActor tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkReading {
    pub mark: Decimal,
    pub index: Decimal,
    pub open_interest: Qty,
    /// The time of the sample the mark was computed from.
    pub at: Timestamp,
}

/// Every market's newest [`MarkReading`].
pub struct MarkBoard {
    cells: RwLock<Vec<Option<MarkReading>>>,
}

impl MarkBoard {
    pub fn new(markets: usize) -> MarkBoard {
        MarkBoard {
            cells: RwLock::new(vec![None; markets]),
        }
    }

    /// Record one tick's readings (one write lock per tick, not per market).
    pub fn set_all(&self, readings: impl IntoIterator<Item = (MarketId, MarkReading)>) {
        let mut cells = self.cells.write().unwrap_or_else(|e| e.into_inner());
        for (m, r) in readings {
            if let Some(c) = cells.get_mut(m.index()) {
                *c = Some(r);
            }
        }
    }

    /// Every market's newest reading, in market order.
    pub fn all(&self) -> Vec<Option<MarkReading>> {
        self.cells.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_replace_per_market_and_unknown_markets_are_ignored() {
        let b = MarkBoard::new(2);
        assert_eq!(b.all(), vec![None, None]);
        let r = |p: i64| MarkReading {
            mark: Decimal::from(p),
            index: Decimal::from(p - 1),
            open_interest: Qty(3),
            at: Timestamp(p as u64),
        };
        b.set_all([(MarketId(1), r(10)), (MarketId(7), r(99))]);
        b.set_all([(MarketId(1), r(11))]);
        assert_eq!(b.all(), vec![None, Some(r(11))]);
    }
}
