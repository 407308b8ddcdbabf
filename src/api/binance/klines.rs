//! Binance kline intervals over the native candles: the six native intervals are served as
//! they are; the others are exact aggregates of a native one that divides them (3m from 1m,
//! 30m from 15m, 2h/6h from 1h, 8h/12h from 4h, 3d from 1d, 1w from 1d aligned to Monday,
//! 1M from 1d by calendar month). Times are UTC milliseconds.
//!
//! # Invariants
//! - An aggregate is the open of its first candle, the close of its last, the extremes, and
//!   the sums of volumes, turnovers and trade counts: nothing is interpolated. As natively,
//!   an interval without trades has no candle.

use serde_json::{json, Value};

use super::render::{dec, px, qty, quote};
use crate::domain::{MarketSpec, Qty};
use crate::engine::market::Candle;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
/// 1970-01-01 was a Thursday: Binance weeks open on Monday 00:00 UTC, four days later.
const MONDAY_OFFSET: u64 = 4 * DAY;

/// How a Binance interval is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub name: &'static str,
    /// The native interval it is built from.
    pub source: &'static str,
    span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    Fixed(u64),
    Week,
    Month,
}

pub const INTERVALS: [Interval; 15] = [
    iv("1m", "1m", Span::Fixed(MIN)),
    iv("3m", "1m", Span::Fixed(3 * MIN)),
    iv("5m", "5m", Span::Fixed(5 * MIN)),
    iv("15m", "15m", Span::Fixed(15 * MIN)),
    iv("30m", "15m", Span::Fixed(30 * MIN)),
    iv("1h", "1h", Span::Fixed(HOUR)),
    iv("2h", "1h", Span::Fixed(2 * HOUR)),
    iv("4h", "4h", Span::Fixed(4 * HOUR)),
    iv("6h", "1h", Span::Fixed(6 * HOUR)),
    iv("8h", "4h", Span::Fixed(8 * HOUR)),
    iv("12h", "4h", Span::Fixed(12 * HOUR)),
    iv("1d", "1d", Span::Fixed(DAY)),
    iv("3d", "1d", Span::Fixed(3 * DAY)),
    iv("1w", "1d", Span::Week),
    iv("1M", "1d", Span::Month),
];

const fn iv(name: &'static str, source: &'static str, span: Span) -> Interval {
    Interval { name, source, span }
}

pub fn interval(name: &str) -> Option<Interval> {
    INTERVALS.iter().copied().find(|i| i.name == name)
}

/// Days since 1970-01-01 → (year, month 1..=12) (H. Hinnant's civil-from-days).
fn year_month(days: i64) -> (i64, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m)
}

/// (year, month) → days since 1970-01-01 of its first day.
fn days_from(year: i64, month: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 } as i64;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Interval {
    /// The open time of the interval holding `t`.
    pub fn open_time(&self, t: u64) -> u64 {
        match self.span {
            Span::Fixed(ms) => t / ms * ms,
            Span::Week => {
                let w = 7 * DAY;
                (t.saturating_sub(MONDAY_OFFSET)) / w * w + MONDAY_OFFSET
            }
            Span::Month => {
                let (y, m) = year_month((t / DAY) as i64);
                days_from(y, m) as u64 * DAY
            }
        }
    }

    /// The last millisecond of the interval opening at `open`.
    pub fn close_time(&self, open: u64) -> u64 {
        match self.span {
            Span::Fixed(ms) => open + ms - 1,
            Span::Week => open + 7 * DAY - 1,
            Span::Month => {
                let (y, m) = year_month((open / DAY) as i64);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from(ny, nm) as u64 * DAY - 1
            }
        }
    }

    /// Aggregate ascending native candles of [`Interval::source`] into this interval.
    pub fn aggregate(&self, source: &[Candle]) -> Vec<Candle> {
        let mut out: Vec<Candle> = Vec::new();
        for c in source {
            let open = self.open_time(c.open_time);
            match out.last_mut() {
                Some(a) if a.open_time == open => merge(a, c),
                _ => out.push(Candle {
                    open_time: open,
                    ..*c
                }),
            }
        }
        out
    }
}

/// Fold `c` (later) into `a`.
pub fn merge(a: &mut Candle, c: &Candle) {
    a.high = a.high.max(c.high);
    a.low = a.low.min(c.low);
    a.close = c.close;
    a.volume = Qty(a.volume.0 + c.volume.0);
    a.trades += c.trades;
    a.turnover += c.turnover;
    a.taker_buy_volume = Qty(a.taker_buy_volume.0 + c.taker_buy_volume.0);
    a.taker_buy_turnover += c.taker_buy_turnover;
}

/// One REST kline row: `[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades,
/// takerBuyBase, takerBuyQuote, "0"]`.
pub fn row(spec: &MarketSpec, iv: &Interval, c: &Candle) -> Value {
    json!([
        c.open_time,
        px(spec, c.open),
        px(spec, c.high),
        px(spec, c.low),
        px(spec, c.close),
        qty(spec, c.volume),
        iv.close_time(c.open_time),
        quote(spec, c.turnover),
        c.trades,
        qty(spec, c.taker_buy_volume),
        quote(spec, c.taker_buy_turnover),
        "0"
    ])
}

/// A price-only candle (mark or index price), decimals exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceCandle {
    pub open_time: u64,
    pub open: rust_decimal::Decimal,
    pub high: rust_decimal::Decimal,
    pub low: rust_decimal::Decimal,
    pub close: rust_decimal::Decimal,
    /// Samples taken in the interval.
    pub samples: u64,
}

impl PriceCandle {
    pub fn merge(&mut self, c: &PriceCandle) {
        self.high = self.high.max(c.high);
        self.low = self.low.min(c.low);
        self.close = c.close;
        self.samples += c.samples;
    }

    /// A Binance `markPriceKlines` row (volumes are `"0"`, as on Binance).
    pub fn row(&self, iv: &Interval) -> Value {
        json!([
            self.open_time,
            dec(self.open),
            dec(self.high),
            dec(self.low),
            dec(self.close),
            "0",
            iv.close_time(self.open_time),
            "0",
            self.samples,
            "0",
            "0",
            "0"
        ])
    }
}

/// Aggregate ascending one-minute price candles into `iv`.
pub fn aggregate_prices(iv: &Interval, source: &[PriceCandle]) -> Vec<PriceCandle> {
    let mut out: Vec<PriceCandle> = Vec::new();
    for c in source {
        let open = iv.open_time(c.open_time);
        match out.last_mut() {
            Some(a) if a.open_time == open => a.merge(c),
            _ => out.push(PriceCandle {
                open_time: open,
                ..*c
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Price;

    fn candle(open_time: u64, p: i64, v: i64) -> Candle {
        Candle {
            open_time,
            open: Price(p),
            high: Price(p + 1),
            low: Price(p - 1),
            close: Price(p),
            volume: Qty(v),
            trades: 1,
            turnover: p as i128 * v as i128,
            taker_buy_volume: Qty(v),
            taker_buy_turnover: p as i128 * v as i128,
        }
    }

    #[test]
    fn calendar_intervals() {
        let m = interval("1M").unwrap();
        // 2024-02-15 12:00 UTC → 2024-02-01; February 2024 has 29 days.
        let t = 1_707_998_400_000;
        assert_eq!(m.open_time(t), 1_706_745_600_000);
        assert_eq!(m.close_time(1_706_745_600_000), 1_709_251_200_000 - 1);
        let w = interval("1w").unwrap();
        // 2024-01-03 (a Wednesday) → Monday 2024-01-01.
        assert_eq!(w.open_time(1_704_240_000_000), 1_704_067_200_000);
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(days_from(2000, 3), 11_017);
    }

    #[test]
    fn aggregates_are_exact() {
        let three = interval("3m").unwrap();
        let src = [
            candle(0, 100, 1),
            candle(60_000, 110, 2),
            candle(180_000, 90, 3),
        ];
        let a = three.aggregate(&src);
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].open, a[0].high, a[0].low, a[0].close),
            (Price(100), Price(111), Price(99), Price(110))
        );
        assert_eq!((a[0].volume, a[0].trades, a[0].turnover), (Qty(3), 2, 320));
        assert_eq!(a[1].open_time, 180_000);
    }
}
