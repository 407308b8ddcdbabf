//! Public routes: health, markets, book, trades, candles, funding history, insurance fund.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::dto::{
    decimal, Balance, Book, CandleDto, FundingDto, Health, MarketDto, MarketSpecDto, TradeDto,
};
use super::error::{ApiError, ApiResult};
use super::State;
use crate::actors::funding::FundingState;
use crate::actors::market::{query, MarketActor};
use crate::actors::messages::{AccountQuery, FundingHistory};
use crate::actors::publish;
use crate::domain::MarketSpec;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::api_resource!("/health").get(health))
        .service(crate::api_resource!("/markets").get(markets))
        .service(crate::api_resource!("/markets/{symbol}").get(market))
        .service(crate::api_resource!("/markets/{symbol}/book").get(book))
        .service(crate::api_resource!("/markets/{symbol}/trades").get(trades))
        .service(crate::api_resource!("/markets/{symbol}/candles").get(candles))
        .service(crate::api_resource!("/markets/{symbol}/funding").get(funding))
        .service(crate::api_resource!("/insurance-fund").get(insurance_fund))
        .service(crate::api_resource!("/openapi.json").get(super::openapi::serve));
}

/// `limit`-like query values: default, then checked against `1..=max`.
fn bounded(v: Option<usize>, default: usize, max: usize, name: &str) -> ApiResult<usize> {
    let v = v.unwrap_or(default);
    if v == 0 || v > max {
        return Err(ApiError::invalid(format!(
            "{name} must be between 1 and {max}"
        )));
    }
    Ok(v)
}

/// Ask the market named `symbol` the query `q` (503 if it does not answer).
async fn ask<'a, Q>(st: &'a State, symbol: &str, q: Q) -> ApiResult<(&'a MarketSpec, Q::Result)>
where
    Q: actix::Message + Send + 'static,
    Q::Result: Send,
    MarketActor: actix::Handler<Q>,
{
    let m = st.ex.market_id(symbol)?;
    let view = st.ex.markets[m.index()]
        .send(q)
        .await
        .map_err(|_| ApiError::new(503, "OVERLOADED", "market unavailable"))?;
    Ok((st.ex.spec(m), view))
}

#[utoipa::path(get, path = "/api/v1/health", tag = "public", responses((status = 200, body = Health)))]
pub async fn health(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok",
        markets: st.ex.specs.len(),
        uptime_ms: st.started.elapsed().as_millis() as u64,
    }))
}

#[utoipa::path(get, path = "/api/v1/markets", tag = "public", responses((status = 200, body = Vec<MarketSpecDto>)))]
pub async fn markets(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    let v: Vec<MarketSpecDto> = st.ex.specs.iter().map(MarketSpecDto::new).collect();
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}", tag = "public", params(("symbol" = String, Path,)),
    responses((status = 200, body = MarketDto), (status = 404, description = "UNKNOWN_MARKET", body = super::dto::ErrorBody)))]
pub async fn market(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    let m = st.ex.market_id(&symbol)?;
    let spec = st.ex.spec(m);
    let (_, s) = ask(&st, &symbol, query::SummaryQuery).await?;
    let t = s.ticker;
    let funding = st.ex.funding.send(FundingState(m)).await.ok().flatten();
    let dto = MarketDto {
        spec: MarketSpecDto::new(spec),
        mark_price: Some(t.mark_price.clone()),
        index_price: Some(t.index_price.clone()),
        last_price: t.last_price.clone(),
        best_bid: t.best_bid.clone(),
        best_ask: t.best_ask.clone(),
        funding_rate: funding.map(|f| decimal(f.0)),
        last_funding_rate: funding.and_then(|f| f.1).map(decimal),
        next_funding_time: funding.map(|f| f.2 .0),
        open_interest: s.open_interest.text(spec.lot_size),
        volume_24h: s.volume_24h.text(spec.lot_size),
    };
    Ok(HttpResponse::Ok().json(dto))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DepthQuery {
    /// Levels per side: 1..1000, default 50
    #[param(minimum = 1, maximum = 1000)]
    depth: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}/book", tag = "public", params(("symbol" = String, Path,), DepthQuery),
    responses((status = 200, body = Book), (status = 400, body = super::dto::ErrorBody), (status = 404, body = super::dto::ErrorBody)))]
pub async fn book(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    q: web::Query<DepthQuery>,
) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    let depth = bounded(q.depth, 50, 1000, "depth")?;
    let (spec, d) = ask(&st, &symbol, query::DepthQuery(depth)).await?;
    Ok(HttpResponse::Ok().json(Book {
        symbol: spec.symbol.clone(),
        sequence: d.sequence,
        time: st.ex.clock.now().0,
        bids: publish::levels(spec, &d.bids),
        asks: publish::levels(spec, &d.asks),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// 1..1000, default 100
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}/trades", tag = "public", params(("symbol" = String, Path,), LimitQuery),
    responses((status = 200, description = "newest first", body = Vec<TradeDto>)))]
pub async fn trades(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    q: web::Query<LimitQuery>,
) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    let limit = bounded(q.limit, 100, 1000, "limit")?;
    let (spec, t) = ask(&st, &symbol, query::TradesQuery(limit)).await?;
    let v: Vec<TradeDto> = t
        .iter()
        .map(|t| TradeDto {
            trade_id: t.trade_id.0,
            price: spec.price_decimal(t.price).to_string(),
            quantity: t.qty.text(spec.lot_size),
            taker_side: t.taker_side,
            time: t.time.0,
        })
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandleQuery {
    /// `1m` (default), `5m`, `15m`, `1h`, `4h`, `1d`
    interval: Option<String>,
    /// 1..1000, default 100
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}/candles", tag = "public", params(("symbol" = String, Path,), CandleQuery),
    responses((status = 200, description = "oldest first", body = Vec<CandleDto>)))]
pub async fn candles(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    q: web::Query<CandleQuery>,
) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    let limit = bounded(q.limit, 100, 1000, "limit")?;
    let interval = q.interval.clone().unwrap_or_else(|| "1m".into());
    let q = query::CandlesQuery {
        interval: interval.clone(),
        limit,
    };
    let (spec, c) = ask(&st, &symbol, q).await?;
    let c = c.ok_or_else(|| {
        ApiError::invalid(format!(
            "interval {interval:?}: expected one of 1m, 5m, 15m, 1h, 4h, 1d"
        ))
    })?;
    let px = |p| spec.price_decimal(p).to_string();
    let v: Vec<CandleDto> = c
        .iter()
        .map(|c| CandleDto {
            open_time: c.open_time,
            open: px(c.open),
            high: px(c.high),
            low: px(c.low),
            close: px(c.close),
            volume: c.volume.text(spec.lot_size),
            trades: c.trades,
        })
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(get, path = "/api/v1/markets/{symbol}/funding", tag = "public", params(("symbol" = String, Path,), LimitQuery),
    responses((status = 200, description = "settled funding, newest first", body = Vec<FundingDto>)))]
pub async fn funding(
    st: State,
    req: HttpRequest,
    symbol: web::Path<String>,
    q: web::Query<LimitQuery>,
) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    let limit = bounded(q.limit, 100, 1000, "limit")?;
    let m = st.ex.market_id(&symbol)?;
    let h = st
        .ex
        .funding
        .send(FundingHistory { market: m, limit })
        .await
        .map_err(|_| ApiError::new(503, "OVERLOADED", "funding unavailable"))?;
    let v: Vec<FundingDto> = h
        .iter()
        .map(|r| FundingDto {
            time: r.time.0,
            rate: decimal(r.rate),
            mark_price: decimal(r.mark),
        })
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(get, path = "/api/v1/insurance-fund", tag = "public", responses((status = 200, body = Balance)))]
pub async fn insurance_fund(st: State, req: HttpRequest) -> ApiResult<HttpResponse> {
    st.limit_ip(&req)?;
    let s = st
        .ex
        .query(|reply| AccountQuery::Solvency { reply })
        .await?;
    Ok(HttpResponse::Ok().json(Balance {
        balance: decimal(s.insurance_fund),
    }))
}
