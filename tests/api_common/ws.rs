//! WebSocket clients and exchange activity for the tests against a served harness
//! ([`super::serve`]): connect, send JSON, read the next JSON message within [`WAIT`], plain
//! REST reads, funded accounts and limit orders, a book side kept from `[price, qty]` levels.
//! Every wait is bounded by [`WAIT`]; none is a sleep.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};
use perpx::actors::messages::OrderRequest;
use perpx::domain::OrderTerms;
use perpx::domain::{AccountId, OrderType, Price, Qty, Side, Stp, TimeInForce, TriggerBy};
use perpx::risk::MarketId;
use serde_json::Value;

use super::{Harness, CONFIG};

pub const BTC: MarketId = MarketId(0);
/// The bound on every wait for a message.
pub const WAIT: Duration = Duration::from_secs(20);

pub type Conn = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// Open a WebSocket on `path` (with its query) of the served harness.
pub async fn connect(addr: SocketAddr, path: &str) -> Conn {
    let (_, ws) = awc::Client::new()
        .ws(format!("ws://{addr}{path}"))
        .max_frame_size(16 << 20)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("ws connect {path}: {e}"));
    ws
}

pub async fn send(ws: &mut Conn, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("ws send");
}

/// The next JSON text message (pings and pongs skipped); `None` once closed.
pub async fn next(ws: &mut Conn) -> Option<Value> {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message within the bound")?;
        match frame.ok()? {
            Frame::Text(b) => return Some(serde_json::from_slice(&b).expect("JSON text frame")),
            Frame::Close(_) => return None,
            _ => continue,
        }
    }
}

/// The next message satisfying `f` (others skipped).
pub async fn next_where(ws: &mut Conn, f: impl Fn(&Value) -> bool) -> Value {
    loop {
        let v = next(ws).await.expect("connection open");
        if f(&v) {
            return v;
        }
    }
}

/// Read until the server closes: the close frame's code and reason, or `None` for a reset or
/// a close without a reason (each read bounded by [`WAIT`]).
pub async fn close_reason(ws: &mut Conn) -> Option<(u16, Option<String>)> {
    while let Ok(Some(f)) = tokio::time::timeout(WAIT, ws.next()).await {
        match f {
            Ok(Frame::Close(r)) => return r.map(|r| (u16::from(r.code), r.description)),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// A plain GET on the served harness, as JSON.
pub async fn get(addr: SocketAddr, target: &str) -> Value {
    let mut r = awc::Client::new()
        .get(format!("http://{addr}{target}"))
        .send()
        .await
        .expect("GET");
    serde_json::from_slice(&r.body().await.expect("body")).expect("JSON")
}

pub fn limit(side: Side, ticks: i64, lots: i64) -> OrderRequest {
    OrderRequest {
        terms: OrderTerms {
            position_side: Default::default(),
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Some(Price(ticks)),
            qty: Qty(lots),
            reduce_only: false,
            stp: Stp::None,
            trigger_price: None,
            trigger_by: TriggerBy::Last,
            close_position: false,
        },
        client_order_id: None,
        attached: Default::default(),
    }
}

/// A new account with 10,000,000 deposited.
pub async fn funded(h: &Harness) -> AccountId {
    let a = h.state.ex.open_account().await.unwrap();
    h.state
        .ex
        .deposit(a, rust_decimal::Decimal::from(10_000_000))
        .await
        .unwrap();
    a
}

/// The shared test config with room for many open orders per account.
pub fn roomy() -> String {
    CONFIG.replace("max_open_orders = 3", "max_open_orders = 200")
}

/// [`roomy`] with a session queue of `n` messages.
pub fn roomy_with_queue(n: usize) -> String {
    roomy().replace("[server]\n", &format!("[server]\nws_queue = {n}\n"))
}

/// One side of a book, price to quantity, as the wire shows them.
pub type BookSide = BTreeMap<String, String>;

/// Apply `[price, qty]` levels (absolute quantities; zero removes the level).
pub fn apply(side: &mut BookSide, levels: &Value) {
    for l in levels.as_array().unwrap() {
        let (p, q) = (l[0].as_str().unwrap(), l[1].as_str().unwrap());
        if q.parse::<f64>().unwrap() == 0.0 {
            side.remove(p);
        } else {
            side.insert(p.to_owned(), q.to_owned());
        }
    }
}

/// This process's resident memory.
pub fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

/// `perpx_ws_slow_consumers_total` in this process's metrics.
pub fn slow_consumers_metric() -> Option<f64> {
    perpx::telemetry::metrics::render()
        .lines()
        .find_map(|l| l.strip_prefix("perpx_ws_slow_consumers_total "))
        .and_then(|v| v.parse::<f64>().ok())
}
