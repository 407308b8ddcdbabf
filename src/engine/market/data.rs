//! Market data kept by the engine for the public API: recent trades, candles per interval and
//! the rolling 24 h volume. Built only from trades, so it replays exactly.
//!
//! # Invariants
//! - Candles of one interval are consecutive in `open_time` order (no gaps are stored: an
//!   interval without trades has no candle) and bounded in number.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::domain::{Price, Qty, Side, Timestamp, TradeId};

/// Trades kept for `GET /trades` (its `limit` is at most 1,000).
pub const RECENT_TRADES: usize = 1000;
/// Candle intervals of the API, in milliseconds.
pub const INTERVALS: [(&str, u64); 6] = [
    ("1m", 60_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("1h", 3_600_000),
    ("4h", 14_400_000),
    ("1d", 86_400_000),
];
/// Candles kept per interval (1m keeps a full day for the 24 h volume).
const KEEP: [usize; 6] = [1440, 1000, 1000, 1000, 1000, 1000];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeTick {
    pub trade_id: TradeId,
    pub price: Price,
    pub qty: Qty,
    pub taker_side: Side,
    pub time: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candle {
    pub open_time: u64,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    pub volume: Qty,
    pub trades: u64,
    /// Σ price × quantity of the trades, in ticks × lots (the quote volume, exactly).
    pub turnover: i128,
    /// Quantity bought by takers.
    pub taker_buy_volume: Qty,
    /// Σ price × quantity of the taker buys, in ticks × lots.
    pub taker_buy_turnover: i128,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketData {
    trades: VecDeque<TradeTick>,
    candles: [VecDeque<Candle>; 6],
}

impl MarketData {
    pub fn record(&mut self, t: TradeTick) {
        let turnover = t.price.0 as i128 * t.qty.0 as i128;
        let (buy, buy_turnover) = match t.taker_side {
            Side::Buy => (t.qty, turnover),
            Side::Sell => (Qty(0), 0),
        };
        if self.trades.len() == RECENT_TRADES {
            self.trades.pop_front();
        }
        self.trades.push_back(t);
        for (i, (_, ms)) in INTERVALS.iter().enumerate() {
            let open_time = t.time.0 / ms * ms;
            let series = &mut self.candles[i];
            match series.back_mut() {
                Some(c) if c.open_time == open_time => {
                    c.high = c.high.max(t.price);
                    c.low = c.low.min(t.price);
                    c.close = t.price;
                    c.volume += t.qty;
                    c.trades += 1;
                    c.turnover += turnover;
                    c.taker_buy_volume += buy;
                    c.taker_buy_turnover += buy_turnover;
                }
                _ => {
                    if series.len() == KEEP[i] {
                        series.pop_front();
                    }
                    series.push_back(Candle {
                        open_time,
                        open: t.price,
                        high: t.price,
                        low: t.price,
                        close: t.price,
                        volume: t.qty,
                        trades: 1,
                        turnover,
                        taker_buy_volume: buy,
                        taker_buy_turnover: buy_turnover,
                    });
                }
            }
        }
    }

    /// The newest `limit` trades, newest first.
    pub fn recent_trades(&self, limit: usize) -> Vec<TradeTick> {
        self.trades.iter().rev().take(limit).copied().collect()
    }

    pub fn last_trade(&self) -> Option<&TradeTick> {
        self.trades.back()
    }

    /// The newest `limit` candles of `interval` (one of [`INTERVALS`]), oldest first.
    pub fn candles(&self, interval: &str, limit: usize) -> Option<Vec<Candle>> {
        let i = INTERVALS.iter().position(|(name, _)| *name == interval)?;
        let s = &self.candles[i];
        Some(
            s.iter()
                .skip(s.len().saturating_sub(limit))
                .copied()
                .collect(),
        )
    }

    /// Traded quantity in the 24 h before `now`, at one-minute resolution: the volume of the
    /// one-minute candles that opened after `now − 24 h`.
    pub fn volume_24h(&self, now: Timestamp) -> Qty {
        let since = now.0.saturating_sub(86_400_000);
        Qty(self.candles[0]
            .iter()
            .rev()
            .take_while(|c| c.open_time > since)
            .map(|c| c.volume.0)
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(id: u64, price: i64, qty: i64, time: u64) -> TradeTick {
        TradeTick {
            trade_id: TradeId(id),
            price: Price(price),
            qty: Qty(qty),
            taker_side: Side::Buy,
            time: Timestamp(time),
        }
    }

    #[test]
    fn candles_aggregate_per_interval() {
        let mut d = MarketData::default();
        d.record(tick(1, 100, 1, 0));
        d.record(tick(2, 105, 2, 30_000));
        d.record(tick(3, 99, 3, 59_999));
        d.record(tick(4, 101, 4, 60_000));
        let m1 = d.candles("1m", 10).unwrap();
        assert_eq!(m1.len(), 2);
        assert_eq!(
            (
                m1[0].open,
                m1[0].high,
                m1[0].low,
                m1[0].close,
                m1[0].volume,
                m1[0].trades
            ),
            (Price(100), Price(105), Price(99), Price(99), Qty(6), 3)
        );
        assert_eq!(m1[1].open_time, 60_000);
        // Turnover in ticks × lots: 100×1 + 105×2 + 99×3; all taker buys.
        assert_eq!(m1[0].turnover, 100 + 210 + 297);
        assert_eq!(
            (m1[0].taker_buy_volume, m1[0].taker_buy_turnover),
            (Qty(6), 607)
        );
        let m5 = d.candles("5m", 10).unwrap();
        assert_eq!(
            (m5.len(), m5[0].close, m5[0].volume),
            (1, Price(101), Qty(10))
        );
        assert!(d.candles("2m", 10).is_none());
        assert_eq!(
            d.recent_trades(2)
                .iter()
                .map(|t| t.trade_id.0)
                .collect::<Vec<_>>(),
            vec![4, 3]
        );
        assert_eq!(d.volume_24h(Timestamp(86_400_000 + 30_000)), Qty(4));
    }
}
