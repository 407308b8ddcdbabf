//! `@kline_<interval>` streams: every 250 ms while someone listens (the task sleeps without a
//! timer otherwise, woken by `Hubs::activate`), for each interval someone listens to, the native
//! candles are sampled (the same aggregation as `GET /fapi/v1/klines`), and the current candle
//! is pushed when it changed; the previous one once more with `x: true` when a new interval
//! began. First and last trade ids are exact: trade ids are consecutive per market.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::super::klines::INTERVALS;
use super::super::render;
use super::hub::{wire, MarketHub};
use crate::actors::market::query::{CandlesQuery, TradesQuery};
use crate::actors::Exchange;

/// Klines are pushed at most this often (Binance: 250 ms).
const KLINE_EVERY: Duration = Duration::from_millis(250);

/// Sample the native candles for every subscribed interval; publish the current candle when
/// it changed, and the previous one once more with `x: true` when a new interval began (or
/// the current one with `x: true` when its interval ended without a newer trade).
pub async fn run(ex: Arc<Exchange>, h: Arc<MarketHub>) {
    let mut tick = tokio::time::interval(KLINE_EVERY);
    let mut last: Vec<Option<(u64, serde_json::Value)>> = vec![None; INTERVALS.len()];
    loop {
        if h.kline.iter().all(|tx| tx.receiver_count() == 0) {
            // Nobody listens: sleep without a timer until a session subscribes.
            last.iter_mut().for_each(|l| *l = None);
            h.kline_asleep.store(true, Ordering::Relaxed);
            h.kline_wanted.notified().await;
            h.kline_asleep.store(false, Ordering::Relaxed);
            tick = tokio::time::interval(KLINE_EVERY);
            continue;
        }
        tick.tick().await;
        for (i, iv) in INTERVALS.iter().enumerate() {
            if h.kline[i].receiver_count() == 0 {
                last[i] = None;
                continue;
            }
            let addr = &ex.markets[h.market.index()];
            let q = CandlesQuery {
                interval: iv.source.to_owned(),
                limit: 62,
            };
            let Ok(Some(src)) = addr.send(q).await else {
                continue;
            };
            let Ok(t) = addr.send(TradesQuery(1)).await else {
                continue;
            };
            let agg = iv.aggregate(&src);
            // Trade ids are consecutive per market: walk back from the newest trade.
            let mut ids = vec![(0i64, 0i64); agg.len()];
            let mut l = t.first().map_or(0, |t| t.trade_id.0 as i64);
            for (j, c) in agg.iter().enumerate().rev() {
                ids[j] = (l + 1 - c.trades as i64, l);
                l -= c.trades as i64;
            }
            let now = ex.clock.now().0;
            let spec = ex.spec(h.market);
            let body = |j: usize, closed: bool| {
                let c = &agg[j];
                json!({"t": c.open_time, "T": iv.close_time(c.open_time), "s": h.symbol,
                    "i": iv.name, "f": ids[j].0, "L": ids[j].1,
                    "o": spec.price_decimal(c.open).to_string(), "c": spec.price_decimal(c.close).to_string(),
                    "h": spec.price_decimal(c.high).to_string(), "l": spec.price_decimal(c.low).to_string(),
                    "v": render::qty(spec, c.volume), "n": c.trades, "x": closed,
                    "q": render::quote(spec, c.turnover),
                    "V": render::qty(spec, c.taker_buy_volume),
                    "Q": render::quote(spec, c.taker_buy_turnover), "B": "0"})
            };
            let Some(cur) = agg.len().checked_sub(1) else {
                continue;
            };
            let event = |k| wire(json!({"e": "kline", "E": now, "s": h.symbol, "k": k}));
            if let Some((open, _)) = &last[i] {
                if *open < agg[cur].open_time {
                    if let Some(j) = agg.iter().position(|c| c.open_time == *open) {
                        let _ = h.kline[i].send(Some(event(body(j, true))));
                    }
                }
            }
            let b = body(cur, now > iv.close_time(agg[cur].open_time));
            if last[i].as_ref().map(|(_, v)| v) != Some(&b) {
                let _ = h.kline[i].send(Some(event(b.clone())));
                last[i] = Some((agg[cur].open_time, b));
            }
        }
    }
}
