//! Binance's rate limits and their headers, beside the native per-second token buckets
//! (`api::Limits`, which still apply to every request, answering -1003 as before).
//!
//! - Request weight per client IP address in the current clock minute (windows aligned to the
//!   minute, as Binance's): every `/fapi`, `/sapi` and `/futures/data` request adds its
//!   Binance weight ([`weight`]); the answer carries `X-MBX-USED-WEIGHT-1M`, the weight used
//!   in the minute so far, this request included. A request that would go over
//!   the weight limit is not served: 429, -1003, `Retry-After` = seconds to the next
//!   minute (it adds nothing).
//! - Orders per account (after authentication) in the current 10 seconds and minute: order
//!   placing and modifying routes count (see [`order_cost`]); their answers carry
//!   `X-MBX-ORDER-COUNT-10S` and `X-MBX-ORDER-COUNT-1M`. An order over
//!   the order limits is refused before anything changes: 429,
//!   -1015, `Retry-After` = seconds until its window ends (it adds nothing).
//! - Every other 429 (the per-second buckets) carries `Retry-After: 1`.
//! - Time is the exchange clock, so windows follow it exactly (tests move a manual clock).
//! - The limits are `[server]` settings ([`BinanceLimits`], Binance's defaults; 0 turns one
//!   off, the counts and headers stay).
//! - `GET /fapi/v1/exchangeInfo` lists these limits (`rateLimits`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, ResponseError};
use rustc_hash::FxHashMap;

use super::errors::BnError;
use crate::api::State;
use crate::domain::AccountId;

pub use crate::config::BinanceLimits;

const MINUTE: u64 = 60_000;
const TEN_SECONDS: u64 = 10_000;

pub const USED_WEIGHT: &str = "x-mbx-used-weight-1m";
pub const ORDER_COUNT_10S: &str = "x-mbx-order-count-10s";
pub const ORDER_COUNT_1M: &str = "x-mbx-order-count-1m";
const RETRY_AFTER: &str = "retry-after";

/// A count in a fixed window (`window` = time / window length).
#[derive(Clone, Copy, Default)]
struct Count {
    window: u64,
    used: u32,
}

impl Count {
    /// The count now (0 in a new window).
    fn at(self, window: u64) -> u32 {
        if self.window == window {
            self.used
        } else {
            0
        }
    }
}

/// Counters of one kind, swept of past windows once per window.
struct Counters<K> {
    map: FxHashMap<K, Count>,
    swept: u64,
}

impl<K: std::hash::Hash + Eq> Default for Counters<K> {
    fn default() -> Self {
        Counters {
            map: FxHashMap::default(),
            swept: 0,
        }
    }
}

impl<K: std::hash::Hash + Eq + Copy> Counters<K> {
    fn sweep(&mut self, window: u64) {
        if window != self.swept {
            self.map.retain(|_, c| c.window == window);
            self.swept = window;
        }
    }

    fn used(&mut self, k: K, window: u64) -> u32 {
        self.sweep(window);
        self.map.get(&k).map_or(0, |c| c.at(window))
    }

    fn add(&mut self, k: K, window: u64, n: u32) -> u32 {
        let c = self.map.entry(k).or_default();
        *c = Count {
            window,
            used: c.at(window) + n,
        };
        c.used
    }
}

/// The counters behind the headers, and the limits they are held to.
#[derive(Default)]
pub struct RateLimits {
    pub caps: BinanceLimits,
    weight: Mutex<Counters<IpAddr>>,
    orders_10s: Mutex<Counters<AccountId>>,
    orders_1m: Mutex<Counters<AccountId>>,
}

/// Seconds from `now` to the end of its `len`-ms window (at least 1).
fn retry_after(now: u64, len: u64) -> u64 {
    (len - now % len).div_ceil(1000).max(1)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `used` would go over a limit of `cap` (0: no limit).
fn over(cap: u32, used: u32) -> bool {
    cap > 0 && used > cap
}

impl RateLimits {
    pub fn new(caps: BinanceLimits) -> RateLimits {
        RateLimits {
            caps,
            ..RateLimits::default()
        }
    }

    /// Add `w` to `ip`'s minute: the weight used after it, or the seconds to wait.
    pub fn weigh(&self, ip: IpAddr, w: u32, now: u64) -> Result<u32, (u32, u64)> {
        let window = now / MINUTE;
        let mut c = lock(&self.weight);
        let used = c.used(ip, window);
        if over(self.caps.weight_per_minute, used + w) {
            return Err((used, retry_after(now, MINUTE)));
        }
        Ok(c.add(ip, window, w))
    }

    /// Count an order request of `account` (`(n10, n1m)` orders): the counts after it, or
    /// the refusal.
    pub fn order(
        &self,
        account: AccountId,
        cost: OrderCost,
        now: u64,
    ) -> Result<(u32, u32), BnError> {
        let (w10, w1m) = (now / TEN_SECONDS, now / MINUTE);
        let mut c10 = lock(&self.orders_10s);
        let mut c1m = lock(&self.orders_1m);
        let (u10, u1m) = (c10.used(account, w10), c1m.used(account, w1m));
        let caps = self.caps;
        if over(caps.orders_per_10s, u10 + cost.ten_seconds) {
            return Err(too_many_orders(caps.orders_per_10s, "TEN_SECONDS"));
        }
        if over(caps.orders_per_minute, u1m + cost.minute) {
            return Err(too_many_orders(caps.orders_per_minute, "MINUTE"));
        }
        Ok((
            c10.add(account, w10, cost.ten_seconds),
            c1m.add(account, w1m, cost.minute),
        ))
    }
}

fn too_many_orders(limit: u32, per: &str) -> BnError {
    BnError::new(
        429,
        -1015,
        format!("Too many new orders; current limit is {limit} orders per {per}."),
    )
}

/// What an order route counts on the 10-second and one-minute order limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderCost {
    pub ten_seconds: u32,
    pub minute: u32,
}

/// The order counts an authenticated order request reached (for the headers).
#[derive(Clone, Copy)]
struct OrderCounts(u32, u32);

/// Seconds to wait, for `Retry-After`.
#[derive(Clone, Copy)]
struct RetryAfter(u64);

/// The order limits of the order routes: new, modified and batched orders, new algo
/// orders (Binance: 1 and 1; a batch 5 on 10 s and 1 on the minute).
pub fn order_cost(method: &Method, path: &str) -> Option<OrderCost> {
    let one = OrderCost {
        ten_seconds: 1,
        minute: 1,
    };
    match (method.as_str(), path) {
        ("POST" | "PUT", "/fapi/v1/order") | ("POST", "/fapi/v1/algoOrder") => Some(one),
        ("POST" | "PUT", "/fapi/v1/batchOrders") => Some(OrderCost {
            ten_seconds: 5,
            minute: 1,
        }),
        _ => None,
    }
}

/// Count an authenticated order request (no-op on other routes); refused with -1015 when
/// over a limit. Called by [`super::auth::signed`] once the account is known.
pub fn count_order(st: &State, req: &HttpRequest, account: AccountId) -> Result<(), BnError> {
    let Some(cost) = order_cost(req.method(), req.path()) else {
        return Ok(());
    };
    let now = st.ex.clock.now().0;
    match st.binance.limits.order(account, cost, now) {
        Ok((c10, c1m)) => {
            req.extensions_mut().insert(OrderCounts(c10, c1m));
            Ok(())
        }
        Err(e) => {
            let len = if e.msg.ends_with("TEN_SECONDS.") {
                TEN_SECONDS
            } else {
                MINUTE
            };
            req.extensions_mut()
                .insert(RetryAfter(retry_after(now, len)));
            Err(e)
        }
    }
}

/// A query parameter's value, if present.
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Binance's kline weight by `limit` (default 500).
fn kline_weight(limit: Option<u64>) -> u32 {
    match limit.unwrap_or(500) {
        0..100 => 1,
        100..500 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}

/// Binance's depth weight by `limit` (default 500).
fn depth_weight(limit: Option<u64>) -> u32 {
    match limit.unwrap_or(500) {
        0..=50 => 2,
        51..=100 => 5,
        101..=500 => 10,
        _ => 20,
    }
}

/// The Binance request weight of a request (USDⓈ-M's published weights; 1 for a route
/// whose weight Binance does not publish and for unknown paths).
pub fn weight(method: &Method, path: &str, query: &str) -> u32 {
    let limit = param(query, "limit").and_then(|v| v.parse().ok());
    let symbol = param(query, "symbol").is_some_and(|s| !s.is_empty());
    let by_symbol = |one, all| if symbol { one } else { all };
    match (method.as_str(), path) {
        (_, "/fapi/v1/depth") => depth_weight(limit),
        (
            _,
            "/fapi/v1/klines"
            | "/fapi/v1/continuousKlines"
            | "/fapi/v1/markPriceKlines"
            | "/fapi/v1/indexPriceKlines"
            | "/fapi/v1/premiumIndexKlines",
        ) => kline_weight(limit),
        (_, "/fapi/v1/trades") => 5,
        (_, "/fapi/v1/historicalTrades" | "/fapi/v1/aggTrades") => 20,
        (_, "/fapi/v1/ticker/24hr") => by_symbol(1, 40),
        (_, "/fapi/v1/ticker/price" | "/fapi/v2/ticker/price") => by_symbol(1, 2),
        (_, "/fapi/v1/ticker/bookTicker") => by_symbol(2, 5),
        ("POST", "/fapi/v1/order" | "/fapi/v1/algoOrder") => 0,
        ("POST" | "PUT", "/fapi/v1/batchOrders") => 5,
        ("GET", "/fapi/v1/openOrders" | "/fapi/v1/openAlgoOrders") => by_symbol(1, 40),
        ("GET", "/fapi/v1/allOrders" | "/fapi/v1/allAlgoOrders" | "/fapi/v1/userTrades") => 5,
        (
            "GET",
            "/fapi/v2/account"
            | "/fapi/v3/account"
            | "/fapi/v2/balance"
            | "/fapi/v3/balance"
            | "/fapi/v2/positionRisk"
            | "/fapi/v3/positionRisk"
            | "/fapi/v1/accountConfig"
            | "/fapi/v1/symbolConfig",
        ) => 5,
        ("GET", "/fapi/v1/income") => 30,
        ("GET", "/fapi/v1/commissionRate") => 20,
        ("GET", "/fapi/v1/positionSide/dual" | "/fapi/v1/multiAssetsMargin") => 30,
        ("GET", "/fapi/v1/forceOrders") => by_symbol(20, 50),
        ("GET", "/fapi/v1/apiTradingStatus") => by_symbol(1, 10),
        _ => 1,
    }
}

/// The middleware of every Binance REST scope: weigh the request (429 when over the minute's
/// weight), serve it, and add the headers.
pub async fn meter<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(st) = req.app_data::<State>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let ip = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let w = weight(req.method(), req.path(), req.query_string());
    let now = st.ex.clock.now().0;
    let used = match st.binance.limits.weigh(ip, w, now) {
        Ok(used) => used,
        Err((used, wait)) => {
            let mut res = BnError::rate_limited().error_response();
            let h = res.headers_mut();
            put(h, USED_WEIGHT, used.into());
            put(h, RETRY_AFTER, wait);
            return Ok(req.into_response(res).map_into_right_body());
        }
    };
    let mut res = next.call(req).await?;
    let counts = res.request().extensions().get::<OrderCounts>().copied();
    let retry = res.request().extensions().get::<RetryAfter>().copied();
    let limited = res.status().as_u16() == 429;
    let h = res.headers_mut();
    put(h, USED_WEIGHT, used.into());
    if let Some(OrderCounts(c10, c1m)) = counts {
        put(h, ORDER_COUNT_10S, c10.into());
        put(h, ORDER_COUNT_1M, c1m.into());
    }
    if limited {
        // The per-second buckets refill within a second.
        put(h, RETRY_AFTER, retry.map_or(1, |r| r.0));
    }
    Ok(res.map_into_left_body())
}

fn put(h: &mut HeaderMap, name: &'static str, v: u64) {
    h.insert(HeaderName::from_static(name), HeaderValue::from(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_binance() {
        let get = Method::GET;
        assert_eq!(weight(&get, "/fapi/v1/depth", "symbol=X&limit=5"), 2);
        assert_eq!(weight(&get, "/fapi/v1/depth", "symbol=X&limit=100"), 5);
        assert_eq!(weight(&get, "/fapi/v1/depth", "symbol=X"), 10);
        assert_eq!(weight(&get, "/fapi/v1/depth", "symbol=X&limit=1000"), 20);
        assert_eq!(weight(&get, "/fapi/v1/klines", "limit=99"), 1);
        assert_eq!(weight(&get, "/fapi/v1/klines", "limit=1500"), 10);
        assert_eq!(weight(&get, "/fapi/v1/exchangeInfo", ""), 1);
        assert_eq!(weight(&get, "/fapi/v1/ticker/24hr", ""), 40);
        assert_eq!(weight(&Method::POST, "/fapi/v1/order", ""), 0);
        assert_eq!(weight(&get, "/fapi/v1/order", "symbol=X"), 1);
    }

    #[test]
    fn windows_are_fixed_and_refuse_without_counting() {
        let l = RateLimits::default();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(l.weigh(ip, 2000, 60_500), Ok(2000));
        assert_eq!(l.weigh(ip, 401, 61_000), Err((2000, 59)));
        assert_eq!(l.weigh(ip, 400, 119_999), Ok(2400));
        assert_eq!(l.weigh(ip, 1, 120_000), Ok(1));
        let a = AccountId(7);
        let one = OrderCost {
            ten_seconds: 1,
            minute: 1,
        };
        for i in 1..=300 {
            assert_eq!(l.order(a, one, 0).unwrap().0, i);
        }
        assert_eq!(l.order(a, one, 9_999).unwrap_err().code, -1015);
        assert_eq!(l.order(a, one, 10_000).unwrap(), (1, 301));
        assert_eq!(retry_after(9_999, TEN_SECONDS), 1);
        assert_eq!(retry_after(61_000, MINUTE), 59);
    }
}
