//! Prices and funding (security NONE): `premiumIndex`, `fundingRate`, `fundingInfo`,
//! `ticker/24hr`, `ticker/price` (v1 and v2) and `ticker/bookTicker`.
//!
//! # Invariants
//! - 24 h figures are sums over the native one-minute candles that opened in the last 24 h,
//!   the same window as the native `volume_24h`, so `volume` equals it exactly; quote volume
//!   and the average price come from the candles' exact turnover.
//! - Mark, index and funding figures are the native market summary's and funding actor's.

use actix_web::{web, HttpRequest, HttpResponse};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::errors::{BnError, BnResult};
use super::market::{ask, now, public, recent};
use super::render::{dec, px, qty, quote};
use super::{ok, symbols};
use crate::actors::funding::FundingState;
use crate::actors::market::query::{CandlesQuery, DepthQuery, SummaryQuery};
use crate::actors::messages::FundingHistory;
use crate::actors::publish::Ticker;
use crate::api::State;
use crate::domain::{MarketSpec, Price, Qty};
use crate::engine::market::TradeTick;
use crate::risk::MarketId;

const DAY_MS: u64 = 86_400_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v1/premiumIndex").get(premium_index))
        .service(crate::fapi_resource!("/v1/fundingRate").get(funding_rate))
        .service(crate::fapi_resource!("/v1/fundingInfo").get(funding_info))
        .service(crate::fapi_resource!("/v1/ticker/24hr").get(ticker_24hr))
        .service(crate::fapi_resource!("/v1/ticker/price").get(ticker_price))
        .service(crate::fapi_resource!("/v2/ticker/price").get(ticker_price))
        .service(crate::fapi_resource!("/v1/ticker/bookTicker").get(book_ticker));
}

/// A JSON object for one market, or an array over all when no `symbol` was given.
fn one_or_all(single: bool, mut v: Vec<Value>) -> Value {
    if single {
        v.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(v)
    }
}

/// The market summary: the native ticker fields.
pub async fn summary(st: &State, m: MarketId) -> BnResult<Ticker> {
    Ok(ask(st, m, SummaryQuery).await?.ticker)
}

/// The funding rate Binance calls `lastFundingRate`: the rate of the running interval (the
/// native predicted rate), else the last settled one.
pub async fn funding_now(st: &State, m: MarketId) -> (Decimal, u64) {
    match st.ex.funding.send(FundingState(m)).await.ok().flatten() {
        Some((predicted, _, next)) => (predicted, next.0),
        None => (Decimal::ZERO, 0),
    }
}

pub async fn premium_index_of(st: &State, m: MarketId) -> BnResult<Value> {
    let t = summary(st, m).await?;
    let (rate, next) = funding_now(st, m).await;
    let spec = st.ex.spec(m);
    Ok(json!({
        "symbol": spec.binance_symbol,
        "markPrice": t.mark_price,
        "indexPrice": t.index_price,
        "estimatedSettlePrice": t.mark_price,
        "lastFundingRate": dec(rate),
        "interestRate": dec(spec.interest_rate),
        "nextFundingTime": next,
        "time": t.time,
    }))
}

async fn premium_index(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let (single, markets) = symbols::one_or_all(&st, &mut p)?;
    p.finish()?;
    let mut v = Vec::new();
    for m in markets {
        v.push(premium_index_of(&st, m).await?);
    }
    ok(&one_or_all(single, v))
}

/// `GET /fapi/v1/fundingRate`: settled funding, ascending.
async fn funding_rate(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let markets = symbols::selected(&st, &mut p)?;
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    let limit = p.limit("limit", 100, 1000)?;
    p.finish()?;
    let mut out = Vec::new();
    for m in markets {
        let mut h = st
            .ex
            .funding
            .send(FundingHistory {
                market: m,
                limit: 1000,
            })
            .await
            .map_err(|_| BnError::new(503, -1008, "Funding history unavailable."))?;
        h.reverse();
        let spec = st.ex.spec(m);
        out.extend(h.into_iter().map(|r| {
            (
                r.time.0,
                json!({
                    "symbol": spec.binance_symbol,
                    "fundingRate": dec(r.rate),
                    "fundingTime": r.time.0,
                    "markPrice": dec(r.mark),
                }),
            )
        }));
    }
    out.sort_by_key(|(t, _)| *t);
    let v = super::orders::window(out, |(t, _)| *t, start, end, start.is_some(), limit);
    ok(&v.into_iter().map(|(_, j)| j).collect::<Vec<_>>())
}

async fn funding_info(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    public(&st, &req)?.finish()?;
    let v: Vec<Value> = st
        .ex
        .specs
        .iter()
        .map(|s| {
            json!({
                "symbol": s.binance_symbol,
                "adjustedFundingRateCap": dec(s.funding_cap),
                "adjustedFundingRateFloor": dec(-s.funding_cap),
                "fundingIntervalHours": s.funding_interval.as_secs() / 3600,
                "disclaimer": false,
            })
        })
        .collect();
    ok(&v)
}

/// Rolling 24 h statistics of one market.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub open: Option<Price>,
    pub high: Option<Price>,
    pub low: Option<Price>,
    pub volume: Qty,
    pub turnover: i128,
    pub count: u64,
}

/// Fold the one-minute candles that opened after `now − 24 h`.
pub fn stats(candles: &[crate::engine::market::Candle], now: u64) -> Stats {
    let since = now.saturating_sub(DAY_MS);
    let mut s = Stats::default();
    for c in candles.iter().filter(|c| c.open_time > since) {
        s.open.get_or_insert(c.open);
        s.high = Some(s.high.map_or(c.high, |h| h.max(c.high)));
        s.low = Some(s.low.map_or(c.low, |l| l.min(c.low)));
        s.volume = Qty(s.volume.0 + c.volume.0);
        s.turnover += c.turnover;
        s.count += c.trades;
    }
    s
}

/// The statistics and the last trade of `m`.
pub async fn stats_of(st: &State, m: MarketId) -> BnResult<(Stats, Option<TradeTick>)> {
    let q = CandlesQuery {
        interval: "1m".into(),
        limit: 1440,
    };
    let Some(c) = ask(st, m, q).await? else {
        unreachable!("1m is a native interval")
    };
    let last = recent(st, m, 1).await?.pop();
    Ok((stats(&c, now(st)), last))
}

/// A Binance 24 h ticker (`GET /ticker/24hr`; the `@ticker` stream renames the keys).
pub fn ticker_json(
    spec: &MarketSpec,
    s: &Stats,
    last: Option<&TradeTick>,
    now: u64,
    scale: u32,
) -> Value {
    let zero = || "0".to_owned();
    let last_price = last.map(|t| t.price);
    // Without trades in the window every price is the last one (no change).
    let open = s.open.or(last_price);
    let change = match (open, last_price) {
        (Some(o), Some(l)) => spec.price_decimal(l) - spec.price_decimal(o),
        _ => Decimal::ZERO,
    };
    let percent = match open {
        Some(o) if o.0 > 0 => (change / spec.price_decimal(o) * Decimal::ONE_HUNDRED).round_dp(3),
        _ => Decimal::ZERO,
    };
    let vwap = if s.volume.0 > 0 {
        (Decimal::from_i128_with_scale(s.turnover, 0) * spec.tick_size / Decimal::from(s.volume.0))
            .round_dp(scale)
    } else {
        Decimal::ZERO
    };
    let price = |p: Option<Price>| p.or(last_price).map_or_else(zero, |p| px(spec, p));
    let last_id = last.map_or(0, |t| t.trade_id.0);
    json!({
        "symbol": spec.binance_symbol,
        "priceChange": dec(change),
        "priceChangePercent": dec(percent),
        "weightedAvgPrice": dec(vwap),
        "lastPrice": price(None),
        "lastQty": last.map_or_else(zero, |t| qty(spec, t.qty)),
        "openPrice": price(open),
        "highPrice": price(s.high),
        "lowPrice": price(s.low),
        "volume": qty(spec, s.volume),
        "quoteVolume": quote(spec, s.turnover),
        "openTime": now.saturating_sub(DAY_MS),
        "closeTime": now,
        // Trade ids are consecutive per market, so the window's first is last − count + 1.
        "firstId": if s.count > 0 { (last_id + 1 - s.count) as i64 } else { -1 },
        "lastId": if s.count > 0 { last_id as i64 } else { -1 },
        "count": s.count,
    })
}

async fn ticker_24hr(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let (single, markets) = symbols::one_or_all(&st, &mut p)?;
    p.finish()?;
    let mut v = Vec::new();
    for m in markets {
        let (s, last) = stats_of(&st, m).await?;
        v.push(ticker_json(
            st.ex.spec(m),
            &s,
            last.as_ref(),
            now(&st),
            st.money_scale,
        ));
    }
    ok(&one_or_all(single, v))
}

async fn ticker_price(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let (single, markets) = symbols::one_or_all(&st, &mut p)?;
    p.finish()?;
    let mut v = Vec::new();
    for m in markets {
        let t = summary(&st, m).await?;
        v.push(json!({
            "symbol": st.ex.spec(m).binance_symbol,
            "price": t.last_price.unwrap_or_else(|| "0".into()),
            "time": t.time,
        }));
    }
    ok(&one_or_all(single, v))
}

/// The best bid and ask with their quantities, and the book sequence.
pub async fn book_ticker_of(st: &State, m: MarketId) -> BnResult<Value> {
    let d = ask(st, m, DepthQuery(1)).await?;
    let spec = st.ex.spec(m);
    let level = |l: Option<&(Price, Qty)>| {
        l.map_or(("0".to_owned(), "0".to_owned()), |&(p, q)| {
            (px(spec, p), qty(spec, q))
        })
    };
    let (bp, bq) = level(d.bids.first());
    let (ap, aq) = level(d.asks.first());
    Ok(json!({
        "symbol": spec.binance_symbol,
        "bidPrice": bp, "bidQty": bq, "askPrice": ap, "askQty": aq,
        "time": now(st),
        "lastUpdateId": d.sequence,
    }))
}

async fn book_ticker(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let (single, markets) = symbols::one_or_all(&st, &mut p)?;
    p.finish()?;
    let mut v = Vec::new();
    for m in markets {
        v.push(book_ticker_of(&st, m).await?);
    }
    ok(&one_or_all(single, v))
}
