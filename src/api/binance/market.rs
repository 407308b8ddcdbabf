//! Public market data (security NONE): `ping`, `time`, `depth`, `trades`,
//! `historicalTrades`, `aggTrades`, `klines`, `markPriceKlines`, `indexPriceKlines`,
//! `openInterest`, and `/futures/data/openInterestHist`.
//!
//! # Invariants
//! - Same sources as the native API: the book (its `lastUpdateId` is the native book
//!   sequence), the recent trades (ids are the native trade ids; an aggregate trade is one
//!   trade, `a = f = l = id`), the native candles (see [`klines`]).
//! - Mark and index price klines and open-interest history come from the in-memory recorder
//!   ([`super::ws::pulse`]): they cover the time since the server started.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::errors::{BnError, BnResult};
use super::klines::{self, Interval};
use super::params::Params;
use super::render::{dec, px, qty};
use super::ws::pulse::Series;
use super::{auth, ok, symbols};
use crate::actors::market::query::{CandlesQuery, DepthQuery, SummaryQuery, TradesQuery};
use crate::actors::market::MarketActor;
use crate::api::State;
use crate::domain::Side;
use crate::engine::market::TradeTick;
use crate::risk::MarketId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v1/ping").get(ping))
        .service(crate::fapi_resource!("/v1/time").get(time))
        .service(crate::fapi_resource!("/v1/depth").get(depth))
        .service(crate::fapi_resource!("/v1/trades").get(trades))
        .service(crate::fapi_resource!("/v1/historicalTrades").get(historical_trades))
        .service(crate::fapi_resource!("/v1/aggTrades").get(agg_trades))
        .service(crate::fapi_resource!("/v1/klines").get(klines))
        .service(crate::fapi_resource!("/v1/continuousKlines").get(continuous_klines))
        .service(crate::fapi_resource!("/v1/markPriceKlines").get(mark_klines))
        .service(crate::fapi_resource!("/v1/indexPriceKlines").get(index_klines))
        .service(crate::fapi_resource!("/v1/premiumIndexKlines").get(premium_klines))
        .service(crate::fapi_resource!("/v1/openInterest").get(open_interest));
}

/// `/futures/data/*`.
pub fn data_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::api::resource("/openInterestHist", "/futures/data/openInterestHist")
            .get(open_interest_hist),
    );
}

/// Parameters of a public request (per-IP limit first).
pub fn public(st: &State, req: &HttpRequest) -> BnResult<Params> {
    auth::limit_ip(st, req)?;
    Params::parse(req.query_string(), b"")
}

/// Ask market `m` (-1008 if it does not answer).
pub async fn ask<Q>(st: &State, m: MarketId, q: Q) -> BnResult<Q::Result>
where
    Q: actix::Message + Send + 'static,
    Q::Result: Send,
    MarketActor: actix::Handler<Q>,
{
    st.ex.markets[m.index()].send(q).await.map_err(|_| {
        BnError::new(
            503,
            -1008,
            "Server is currently overloaded with other requests. Please try again in a few minutes.",
        )
    })
}

pub fn now(st: &State) -> u64 {
    st.ex.clock.now().0
}

async fn ping(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    public(&st, &req)?.finish()?;
    ok(&json!({}))
}

async fn time(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    public(&st, &req)?.finish()?;
    ok(&json!({"serverTime": now(&st)}))
}

/// `GET /fapi/v1/depth`: `limit` 1..=1000 (Binance's 5, 10, 20, 50, 100, 500, 1000 among
/// them), default 500.
async fn depth(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = symbols::required(&st, &mut p)?;
    let limit = p.limit("limit", 500, 1000)?;
    p.finish()?;
    let d = ask(&st, m, DepthQuery(limit)).await?;
    let spec = st.ex.spec(m);
    let t = now(&st);
    ok(&json!({
        "lastUpdateId": d.sequence,
        "E": t,
        "T": t,
        "bids": crate::actors::publish::levels(spec, &d.bids),
        "asks": crate::actors::publish::levels(spec, &d.asks),
    }))
}

/// The newest `n` trades, oldest first.
pub async fn recent(st: &State, m: MarketId, n: usize) -> BnResult<Vec<TradeTick>> {
    let mut t = ask(st, m, TradesQuery(n)).await?;
    t.reverse();
    Ok(t)
}

fn trade_json(st: &State, m: MarketId, t: &TradeTick) -> Value {
    let spec = st.ex.spec(m);
    json!({
        "id": t.trade_id.0,
        "price": px(spec, t.price),
        "qty": qty(spec, t.qty),
        "quoteQty": dec(spec.notional(t.price, t.qty)),
        "time": t.time.0,
        "isBuyerMaker": t.taker_side == Side::Sell,
    })
}

async fn trades(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = symbols::required(&st, &mut p)?;
    let limit = p.limit("limit", 500, 1000)?;
    p.finish()?;
    let v: Vec<Value> = recent(&st, m, limit)
        .await?
        .iter()
        .map(|t| trade_json(&st, m, t))
        .collect();
    ok(&v)
}

/// `GET /fapi/v1/historicalTrades` (MARKET_DATA: an API key): from `fromId` on, within
/// the recent trades perpx keeps.
async fn historical_trades(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    auth::user_stream(&st, &req)?;
    let mut p = Params::parse(req.query_string(), b"")?;
    let m = symbols::required(&st, &mut p)?;
    let limit = p.limit("limit", 500, 1000)?;
    let from = p.u64("fromId")?;
    p.finish()?;
    let all = recent(&st, m, crate::engine::market::RECENT_TRADES).await?;
    let v = super::orders::window(all, |t| t.trade_id.0, from, None, from.is_some(), limit);
    let v: Vec<Value> = v.iter().map(|t| trade_json(&st, m, t)).collect();
    ok(&v)
}

/// `GET /fapi/v1/aggTrades`: one aggregate per trade (`a = f = l` = the trade id).
async fn agg_trades(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = symbols::required(&st, &mut p)?;
    let limit = p.limit("limit", 500, 1000)?;
    let from = p.u64("fromId")?;
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    p.finish()?;
    let all = recent(&st, m, crate::engine::market::RECENT_TRADES).await?;
    let v = super::orders::window(all, |t| t.time.0, start, end, start.is_some(), usize::MAX);
    let v = super::orders::window(v, |t| t.trade_id.0, from, None, from.is_some(), limit);
    let spec = st.ex.spec(m);
    let v: Vec<Value> = v
        .iter()
        .map(|t| {
            json!({
                "a": t.trade_id.0, "p": px(spec, t.price), "q": qty(spec, t.qty),
                "f": t.trade_id.0, "l": t.trade_id.0, "T": t.time.0,
                "m": t.taker_side == Side::Sell,
            })
        })
        .collect();
    ok(&v)
}

/// `interval`, `startTime`, `endTime`, `limit` (default 500, at most 1500).
struct KlineQuery {
    interval: Interval,
    start: Option<u64>,
    end: Option<u64>,
    limit: usize,
}

fn kline_query(p: &mut Params) -> BnResult<KlineQuery> {
    let name = p.req("interval")?;
    let interval =
        klines::interval(&name).ok_or_else(|| BnError::bad(-1120, "Invalid interval."))?;
    Ok(KlineQuery {
        interval,
        start: p.u64("startTime")?,
        end: p.u64("endTime")?,
        limit: p.limit("limit", 500, 1500)?,
    })
}

/// The Binance candles of `m` for `interval` (every candle kept, ascending).
pub async fn candles(
    st: &State,
    m: MarketId,
    interval: &Interval,
) -> BnResult<Vec<crate::engine::market::Candle>> {
    let q = CandlesQuery {
        interval: interval.source.to_owned(),
        limit: usize::MAX,
    };
    let Some(c) = ask(st, m, q).await? else {
        unreachable!("every source interval is native")
    };
    Ok(interval.aggregate(&c))
}

async fn klines(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = symbols::required(&st, &mut p)?;
    let q = kline_query(&mut p)?;
    p.finish()?;
    klines_of(&st, m, q).await
}

/// `continuousKlines` (`pair` + `contractType=PERPETUAL`): the same candles.
async fn continuous_klines(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = st.binance.symbols(&st).market(&p.req("pair")?)?;
    if p.req("contractType")? != "PERPETUAL" {
        return Err(BnError::malformed(
            "contractType",
            "only PERPETUAL is listed",
        ));
    }
    let q = kline_query(&mut p)?;
    p.finish()?;
    klines_of(&st, m, q).await
}

async fn klines_of(st: &State, m: MarketId, q: KlineQuery) -> BnResult<HttpResponse> {
    let all = candles(st, m, &q.interval).await?;
    let v = super::orders::window(
        all,
        |c| c.open_time,
        q.start,
        q.end,
        q.start.is_some(),
        q.limit,
    );
    let spec = st.ex.spec(m);
    let rows: Vec<Value> = v
        .iter()
        .map(|c| klines::row(spec, &q.interval, c))
        .collect();
    ok(&rows)
}

async fn price_klines(
    st: State,
    req: HttpRequest,
    key: &str,
    series: Series,
) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = st.binance.symbols(&st).market(&p.req(key)?)?;
    let q = kline_query(&mut p)?;
    p.finish()?;
    let hubs = st.binance.hubs(&st);
    let source = hubs.markets[m.index()].history.price_candles(series);
    let all = klines::aggregate_prices(&q.interval, &source);
    let v = super::orders::window(
        all,
        |c| c.open_time,
        q.start,
        q.end,
        q.start.is_some(),
        q.limit,
    );
    let rows: Vec<Value> = v.iter().map(|c| c.row(&q.interval)).collect();
    ok(&rows)
}

async fn mark_klines(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    price_klines(st, req, "symbol", Series::Mark).await
}

/// Binance names the market with `pair` here.
async fn index_klines(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    price_klines(st, req, "pair", Series::Index).await
}

/// The premium of the mark over the index, `(mark − index) / index`, from the same
/// per-second samples as `markPriceKlines` and `indexPriceKlines` (perpx keeps no history of
/// its impact-price funding premium).
async fn premium_klines(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    price_klines(st, req, "symbol", Series::Premium).await
}

async fn open_interest(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = symbols::required(&st, &mut p)?;
    p.finish()?;
    let oi = ask(&st, m, SummaryQuery).await?.open_interest;
    let spec = st.ex.spec(m);
    ok(&json!({
        "openInterest": qty(spec, oi),
        "symbol": spec.binance_symbol,
        "time": now(&st),
    }))
}

/// `GET /futures/data/openInterestHist`: `period` 5m..1d, samples taken since start.
async fn open_interest_hist(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let mut p = public(&st, &req)?;
    let m = symbols::required(&st, &mut p)?;
    let period = p.req("period")?;
    let every = match period.as_str() {
        "5m" => 5,
        "15m" => 15,
        "30m" => 30,
        "1h" => 60,
        "2h" => 120,
        "4h" => 240,
        "6h" => 360,
        "12h" => 720,
        "1d" => 1440,
        _ => return Err(BnError::bad(-1120, "Invalid period.")),
    } * 60_000;
    let limit = p.limit("limit", 30, 500)?;
    let (start, end) = (p.u64("startTime")?, p.u64("endTime")?);
    p.finish()?;
    let hubs = st.binance.hubs(&st);
    let samples = hubs.markets[m.index()].history.open_interest(every);
    let v = super::orders::window(samples, |s| s.time, start, end, start.is_some(), limit);
    let spec = st.ex.spec(m);
    let v: Vec<Value> = v
        .iter()
        .map(|s| {
            json!({
                "symbol": spec.binance_symbol,
                "sumOpenInterest": dec(s.open_interest),
                "sumOpenInterestValue": dec(s.value),
                "timestamp": s.time,
            })
        })
        .collect();
    ok(&v)
}
