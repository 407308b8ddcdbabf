//! The one-second pulse: reads every market's mark, index and open interest from the
//! RiskActor's board (`actors/mark_board.rs`, no message to the markets), records mark and
//! index prices and the premium of the mark over the index
//! (`(mark − index) / index`, 8 decimals) into one-minute candles and open interest every
//! five minutes (behind `markPriceKlines`, `indexPriceKlines`, `premiumIndexKlines`,
//! `openInterestHist`), and
//! publishes `@markPrice@1s` (each second), `@markPrice` and `!markPrice@arr` (every 3 s), and
//! the 24 h `@ticker`/`@miniTicker` (every 2 s); the streams ask their markets for the summary
//! only while someone listens.
//!
//! # Invariants
//! - History is in memory and covers the time since the server started (7 days of
//!   one-minute mark, index and premium candles, 7 days of five-minute open-interest
//!   samples). A sample older than the newest candle (a clock stepped back) is dropped, so
//!   candles stay ascending.
//! - Mark, index and premium candles are made of the same samples: their sample counts and
//!   the samples behind their open and close are the same.
//! - Every published figure is the native summary's (same mark, index and predicted rate).
//!   The recorded history is the marks the RiskActor pushed to the markets, sampled at its
//!   newest tick (open interest as of that tick).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::super::klines::PriceCandle;
use super::super::ticker;
use super::hub::{Hubs, Tx};
use crate::actors::market::query::{Summary, SummaryQuery};
use crate::api::State;

const EVERY: Duration = Duration::from_secs(1);
const MINUTE: u64 = 60_000;
const OI_EVERY: u64 = 5 * MINUTE;
/// One-minute price candles kept (7 days).
const KEEP_MINUTES: usize = 7 * 1440;
/// Open-interest samples kept (7 days of five-minute samples).
const KEEP_OI: usize = 7 * 288;

/// An open-interest sample: the last value seen in its five-minute period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenInterest {
    /// The period's open time.
    pub time: u64,
    pub open_interest: Decimal,
    /// Open interest × mark.
    pub value: Decimal,
}

/// Premium index decimals (Binance shows 8).
const PREMIUM_DP: u32 = 8;

/// Which recorded price series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Series {
    Mark,
    Index,
    /// `(mark − index) / index` of each sample.
    Premium,
}

#[derive(Default)]
struct Inner {
    marks: VecDeque<PriceCandle>,
    index: VecDeque<PriceCandle>,
    premium: VecDeque<PriceCandle>,
    oi: VecDeque<OpenInterest>,
}

/// One market's recorded marks, index prices and open interest.
#[derive(Default)]
pub struct History {
    inner: Mutex<Inner>,
}

fn sample(series: &mut VecDeque<PriceCandle>, now: u64, p: Decimal) {
    let open_time = now / MINUTE * MINUTE;
    match series.back_mut() {
        Some(c) if c.open_time == open_time => c.merge(&PriceCandle {
            open_time,
            open: p,
            high: p,
            low: p,
            close: p,
            samples: 1,
        }),
        _ => {
            if series.len() == KEEP_MINUTES {
                series.pop_front();
            }
            series.push_back(PriceCandle {
                open_time,
                open: p,
                high: p,
                low: p,
                close: p,
                samples: 1,
            });
        }
    }
}

impl History {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One sample of `now` (ms).
    pub fn record(&self, now: u64, mark: Decimal, index: Decimal, open_interest: Decimal) {
        let mut h = self.lock();
        let minute = now / MINUTE * MINUTE;
        if h.marks.back().is_some_and(|c| c.open_time > minute) {
            return;
        }
        let premium = if index > Decimal::ZERO {
            ((mark - index) / index).round_dp(PREMIUM_DP)
        } else {
            Decimal::ZERO
        };
        sample(&mut h.marks, now, mark);
        sample(&mut h.index, now, index);
        sample(&mut h.premium, now, premium);
        let time = now / OI_EVERY * OI_EVERY;
        let s = OpenInterest {
            time,
            open_interest,
            value: open_interest * mark,
        };
        match h.oi.back_mut() {
            Some(last) if last.time == time => *last = s,
            _ => {
                if h.oi.len() == KEEP_OI {
                    h.oi.pop_front();
                }
                h.oi.push_back(s);
            }
        }
    }

    /// One-minute candles of `series`, ascending.
    pub fn price_candles(&self, series: Series) -> Vec<PriceCandle> {
        let h = self.lock();
        let s = match series {
            Series::Mark => &h.marks,
            Series::Index => &h.index,
            Series::Premium => &h.premium,
        };
        s.iter().copied().collect()
    }

    /// Open interest at the end of each `every`-ms period (a multiple of five minutes).
    pub fn open_interest(&self, every: u64) -> Vec<OpenInterest> {
        let h = self.lock();
        let mut out: Vec<OpenInterest> = Vec::new();
        for s in &h.oi {
            let time = s.time / every * every;
            match out.last_mut() {
                Some(l) if l.time == time => {
                    *l = OpenInterest { time, ..*s };
                }
                _ => out.push(OpenInterest { time, ..*s }),
            }
        }
        out
    }
}

pub async fn run(st: State, hubs: Arc<Hubs>) {
    let mut tick = tokio::time::interval(EVERY);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        let slow = n.is_multiple_of(3);
        let now = st.ex.clock.now().0;
        // The history from the RiskActor's board: no message to any market (an idle market's
        // thread is not woken by the pulse).
        for (h, r) in hubs.markets.iter().zip(st.ex.marks.all()) {
            if let Some(r) = r {
                let oi = st.ex.spec(h.market).qty_decimal(r.open_interest);
                h.history.record(now, r.mark, r.index, oi);
            }
        }
        let wanted = |fast: &Tx, slow_tx: &Tx| {
            fast.receiver_count() > 0 || (slow && slow_tx.receiver_count() > 0)
        };
        let all = wanted(&hubs.mark_all[1], &hubs.mark_all[0]);
        let mut all_fast = Vec::new();
        for h in &hubs.markets {
            if all || wanted(&h.mark[1], &h.mark[0]) {
                let Ok(Summary { ticker: t, .. }) =
                    st.ex.markets[h.market.index()].send(SummaryQuery).await
                else {
                    continue;
                };
                let update = json!({
                    "e": "markPriceUpdate", "E": now, "s": h.symbol,
                    "p": t.mark_price, "ap": t.mark_price, "i": t.index_price, "P": t.mark_price,
                    "r": t.funding_rate.clone().unwrap_or_else(|| "0".into()),
                    "T": t.next_funding_time,
                });
                let text: crate::actors::publish::Wire = update.to_string().into();
                if h.mark[1].receiver_count() > 0 {
                    let _ = h.mark[1].send(Some(text.clone()));
                }
                if slow && h.mark[0].receiver_count() > 0 {
                    let _ = h.mark[0].send(Some(text));
                }
                if all {
                    all_fast.push(update);
                }
            }
            if n.is_multiple_of(2)
                && (h.ticker.receiver_count() > 0 || h.mini_ticker.receiver_count() > 0)
            {
                tickers(&st, h).await;
            }
        }
        if all {
            let arr: crate::actors::publish::Wire = Value::Array(all_fast).to_string().into();
            if hubs.mark_all[1].receiver_count() > 0 {
                let _ = hubs.mark_all[1].send(Some(arr.clone()));
            }
            if slow && hubs.mark_all[0].receiver_count() > 0 {
                let _ = hubs.mark_all[0].send(Some(arr));
            }
        }
    }
}

/// `@ticker` (24hrTicker) and `@miniTicker` from the same figures as `GET /ticker/24hr`.
async fn tickers(st: &State, h: &super::hub::MarketHub) {
    let Ok((s, last)) = ticker::stats_of(st, h.market).await else {
        return;
    };
    let now = st.ex.clock.now().0;
    let t = ticker::ticker_json(st.ex.spec(h.market), &s, last.as_ref(), now, st.money_scale);
    let f = |k: &str| t[k].clone();
    if h.ticker.receiver_count() > 0 {
        let v = json!({"e": "24hrTicker", "E": now, "s": h.symbol,
            "p": f("priceChange"), "P": f("priceChangePercent"), "w": f("weightedAvgPrice"),
            "c": f("lastPrice"), "Q": f("lastQty"), "o": f("openPrice"), "h": f("highPrice"),
            "l": f("lowPrice"), "v": f("volume"), "q": f("quoteVolume"), "O": f("openTime"),
            "C": f("closeTime"), "F": f("firstId"), "L": f("lastId"), "n": f("count")});
        let _ = h.ticker.send(Some(v.to_string().into()));
    }
    if h.mini_ticker.receiver_count() > 0 {
        let v = json!({"e": "24hrMiniTicker", "E": now, "s": h.symbol,
            "c": f("lastPrice"), "o": f("openPrice"), "h": f("highPrice"), "l": f("lowPrice"),
            "v": f("volume"), "q": f("quoteVolume")});
        let _ = h.mini_ticker.send(Some(v.to_string().into()));
    }
}
