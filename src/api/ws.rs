//! `GET /ws` (docs/API.md "WebSocket"), on `actix-ws` (docs/ARCHITECTURE.md §2).
//!
//! Each session runs one task that reads client frames and writes from a **bounded** queue of
//! `ws_queue` messages, fed by one forwarder task per subscription. A forwarder that finds the
//! queue full, or its broadcast receiver `Lagged`, marks the session a slow consumer, and a
//! write that does not finish within [`SEND_TIMEOUT`] does the same: the session is closed with
//! 1008 `slow consumer`. Nothing is ever buffered without bound. The server pings every
//! [`HEARTBEAT`] and closes a session silent for [`IDLE_TIMEOUT`].
//!
//! Book subscriptions send a snapshot (top 1,000 levels) taken after subscribing to the diffs,
//! then only diffs with a later sequence, so `prev_sequence` chains from the snapshot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::rt::task::JoinHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use super::dto::{AccountDto, FillDto, OrderDto};
use super::State;
use crate::actors::market::{MarketQuery, MarketView};
use crate::actors::publish::{self, PrivateUpdate};
use crate::domain::AccountId;
use crate::telemetry::health::WS;

/// Server ping interval.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A session with no client frame for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A single write that takes longer marks a slow consumer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Private `account` messages at most this often.
const ACCOUNT_EVERY: Duration = Duration::from_millis(100);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMsg {
    op: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    signature: Option<String>,
}

/// What forwarders put in the session queue.
enum Out {
    /// A message and its channel (the `perpx_ws_messages_total` label).
    Text(Arc<str>, &'static str),
}

/// The forwarders' side of a session's bounded queue, with the slow-consumer signal kept
/// outside the queue: when the queue is full the signal must still get through (a marker
/// pushed into the full queue would be lost, and the session would silently stop receiving).
#[derive(Clone)]
struct Queue {
    tx: mpsc::Sender<Out>,
    slow: Arc<tokio::sync::Notify>,
}

impl Queue {
    /// Put one message in the queue; a full queue marks the session a slow consumer.
    fn push(&self, m: publish::Wire, channel: &'static str) -> bool {
        if self.tx.try_send(Out::Text(m, channel)).is_err() {
            self.slow_consumer();
            return false;
        }
        true
    }

    /// Close the session as a slow consumer (the session loop wakes on the stored permit).
    fn slow_consumer(&self) {
        self.slow.notify_one();
    }
}

fn error(code: &str, message: &str) -> Arc<str> {
    json!({"type": "error", "code": code, "message": message})
        .to_string()
        .into()
}

pub async fn handler(
    st: State,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    st.limit_ip(&req)?;
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(run(st, session, stream));
    Ok(response)
}

struct Session {
    st: State,
    out: Queue,
    subs: HashMap<(String, String), JoinHandle<()>>,
    account: Option<AccountId>,
}

async fn run(st: State, mut ws: actix_ws::Session, mut stream: actix_ws::MessageStream) {
    use std::sync::atomic::Ordering::Relaxed;
    st.ws.connections.fetch_add(1, Relaxed);
    WS.connections.increment(1.0);
    let stats = st.clone();
    let (tx, mut rx) = mpsc::channel::<Out>(st.ws_queue.max(1));
    let slow_signal = Arc::new(tokio::sync::Notify::new());
    let mut s = Session {
        st,
        out: Queue {
            tx,
            slow: Arc::clone(&slow_signal),
        },
        subs: HashMap::new(),
        account: None,
    };
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut last_seen = Instant::now();
    let reason = loop {
        tokio::select! {
            frame = stream.recv() => {
                last_seen = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(reply) = s.on_text(&text).await {
                            WS.sent("control"); // counted before the write: a reader sees it
                            if send(&mut ws, &reply).await.is_err() { break None; }
                        }
                    }
                    Some(Ok(Message::Ping(p))) => { if ws.pong(&p).await.is_err() { break None; } }
                    Some(Ok(Message::Close(r))) => break r,
                    Some(Ok(Message::Binary(_))) => {
                        if send(&mut ws, &error("INVALID_REQUEST", "text frames with JSON only")).await.is_err() { break None; }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break None,
                }
            }
            item = rx.recv() => match item {
                Some(Out::Text(t, channel)) => {
                    WS.sent(channel);
                    if send(&mut ws, &t).await.is_err() {
                        break Some(slow());
                    }
                    stats.ws.messages.fetch_add(1, Relaxed);
                }
                None => break None,
            },
            _ = slow_signal.notified() => break Some(slow()),
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    break Some(CloseReason { code: CloseCode::Normal, description: Some("idle timeout".into()) });
                }
                if ws.ping(b"").await.is_err() { break None; }
            }
        }
    };
    for (_, h) in s.subs.drain() {
        h.abort();
    }
    if s.account.is_some() {
        // Aborted forwarders drop their receivers when the runtime next runs them; then the
        // account's private channel may have no listener left: let the map forget it.
        actix_web::rt::task::yield_now().await;
        s.st.ex.private.prune();
    }
    if reason.as_ref().is_some_and(|r| r.code == CloseCode::Policy) {
        WS.slow_consumers.increment(1);
        stats.ws.slow_consumers.fetch_add(1, Relaxed);
        tracing::warn!(
            account = s.account.map(|a| a.0),
            subscriptions = s.subs.len(),
            "websocket slow consumer closed"
        );
    }
    stats.ws.connections.fetch_sub(1, Relaxed);
    WS.connections.decrement(1.0);
    // The close frame may not get through a full socket; dropping the session ends it anyway.
    let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(reason)).await;
}

fn slow() -> CloseReason {
    CloseReason {
        code: CloseCode::Policy,
        description: Some("slow consumer".into()),
    }
}

/// Write one message, failing if the client does not take it within [`SEND_TIMEOUT`].
async fn send(ws: &mut actix_ws::Session, text: &str) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, ws.text(text.to_owned())).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

impl Session {
    /// Handle one client message; returns the direct reply, if any.
    async fn on_text(&mut self, text: &str) -> Option<Arc<str>> {
        let msg: ClientMsg = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return Some(error("INVALID_REQUEST", &format!("malformed message: {e}"))),
        };
        match msg.op.as_str() {
            "ping" => Some(
                json!({"type": "pong", "time": self.st.ex.clock.now().0})
                    .to_string()
                    .into(),
            ),
            "auth" => Some(self.auth(&msg)),
            "subscribe" => Some(self.subscribe(&msg).await),
            "unsubscribe" => {
                let (channel, symbol) = (
                    msg.channel.unwrap_or_default(),
                    msg.symbol.unwrap_or_default(),
                );
                match self.subs.remove(&(channel.clone(), symbol.clone())) {
                    Some(h) => {
                        h.abort();
                        Some(
                            json!({"type": "unsubscribed", "channel": channel, "symbol": symbol})
                                .to_string()
                                .into(),
                        )
                    }
                    None => Some(error("INVALID_REQUEST", "not subscribed to that channel")),
                }
            }
            other => Some(error("INVALID_REQUEST", &format!("unknown op {other:?}"))),
        }
    }

    fn auth(&mut self, m: &ClientMsg) -> Arc<str> {
        let (Some(key), Some(ts), Some(sig)) = (&m.api_key, m.timestamp, &m.signature) else {
            return error(
                "INVALID_REQUEST",
                "auth needs api_key, timestamp and signature",
            );
        };
        let now = self.st.ex.clock.now().0;
        if now.abs_diff(ts) > self.st.recv_window_ms {
            return error("UNAUTHORIZED", "timestamp outside the allowed window");
        }
        let ts_text = ts.to_string();
        let parts: [&[u8]; 4] = [ts_text.as_bytes(), b"GET", b"/ws", b""];
        match self.st.keys.verify(key, &parts, sig) {
            Some(a) => {
                self.account = Some(a);
                json!({"type": "authenticated", "account_id": a.0})
                    .to_string()
                    .into()
            }
            None => error("UNAUTHORIZED", "unknown API key or bad signature"),
        }
    }

    async fn subscribe(&mut self, m: &ClientMsg) -> Arc<str> {
        let Some(channel) = m.channel.clone() else {
            return error("INVALID_REQUEST", "subscribe needs a channel");
        };
        let private = matches!(channel.as_str(), "orders" | "fills" | "account");
        let symbol = if private {
            String::new()
        } else {
            m.symbol.clone().unwrap_or_default()
        };
        let key = (channel.clone(), symbol.clone());
        if self.subs.contains_key(&key) {
            return json!({"type": "subscribed", "channel": channel, "symbol": m.symbol})
                .to_string()
                .into();
        }
        let out = self.out.clone();
        let handle = if private {
            let Some(account) = self.account else {
                return error(
                    "UNAUTHORIZED",
                    "authenticate first (op auth) for private channels",
                );
            };
            let rx = self.st.ex.private.subscribe(account);
            let (st, ch) = (self.st.clone(), channel.clone());
            actix_web::rt::spawn(private_forwarder(st, ch, rx, out))
        } else {
            let Ok(market) = self.st.ex.market_id(&symbol) else {
                return error("UNKNOWN_MARKET", &format!("unknown symbol {symbol:?}"));
            };
            let feed = &self.st.ex.feeds[market.index()];
            match channel.as_str() {
                "book" => {
                    let rx = feed.book.subscribe();
                    let addr = self.st.ex.markets[market.index()].clone();
                    let spec = self.st.ex.spec(market).clone();
                    actix_web::rt::spawn(book_forwarder(spec, addr, rx, out))
                }
                "trades" => actix_web::rt::spawn(forwarder(feed.trades.subscribe(), out, "trades")),
                "ticker" => actix_web::rt::spawn(forwarder(feed.ticker.subscribe(), out, "ticker")),
                "liquidations" => actix_web::rt::spawn(forwarder(
                    feed.liquidations.subscribe(),
                    out,
                    "liquidations",
                )),
                other => return error("INVALID_REQUEST", &format!("unknown channel {other:?}")),
            }
        };
        self.subs.insert(key, handle);
        json!({"type": "subscribed", "channel": channel, "symbol": m.symbol})
            .to_string()
            .into()
    }
}

/// Put one message in the session queue; a full queue marks the session a slow consumer.
fn push(out: &Queue, m: publish::Wire, channel: &'static str) -> bool {
    out.push(m, channel)
}

/// Forward a broadcast channel into the session queue, keeping what `pick` returns; a lagging
/// receiver marks the session a slow consumer.
async fn forward<T: Clone>(
    mut rx: broadcast::Receiver<T>,
    out: Queue,
    channel: &'static str,
    pick: impl Fn(T) -> Option<publish::Wire>,
) {
    loop {
        match rx.recv().await {
            Ok(item) => {
                if let Some(m) = pick(item) {
                    if !push(&out, m, channel) {
                        return;
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                out.slow_consumer();
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Forward a public channel into the session queue.
async fn forwarder(rx: broadcast::Receiver<publish::Wire>, out: Queue, channel: &'static str) {
    let _counted = WS.subscriber(channel);
    forward(rx, out, channel, Some).await;
}

/// Snapshot first, then the diffs after it.
async fn book_forwarder(
    spec: crate::domain::MarketSpec,
    addr: actix::Addr<crate::actors::MarketActor>,
    rx: broadcast::Receiver<(u64, publish::Wire)>,
    out: Queue,
) {
    let _counted = WS.subscriber("book");
    let Ok(MarketView::Depth(d)) = addr.send(MarketQuery::Depth(1000)).await else {
        return;
    };
    let snap = json!({"type": "book_snapshot", "symbol": spec.symbol, "sequence": d.sequence,
                      "bids": publish::levels(&spec, &d.bids), "asks": publish::levels(&spec, &d.asks)});
    if push(&out, snap.to_string().into(), "book") {
        forward(rx, out, "book", |(seq, m)| (seq > d.sequence).then_some(m)).await;
    }
}

/// One private channel of the session's account; `account` is coalesced: the latest view is
/// sent on the next [`ACCOUNT_EVERY`] tick (≤ 10 per second).
async fn private_forwarder(
    st: State,
    channel: String,
    mut rx: broadcast::Receiver<Arc<PrivateUpdate>>,
    out: Queue,
) {
    let coalesce = channel == "account";
    let label = match channel.as_str() {
        "orders" => "orders",
        "fills" => "fills",
        _ => "account",
    };
    let _counted = WS.subscriber(label);
    let mut latest: Option<Arc<str>> = None;
    let mut tick = tokio::time::interval(ACCOUNT_EVERY);
    loop {
        let ready = tokio::select! {
            r = rx.recv() => match r {
                Ok(u) => match render(&st, &channel, &u) {
                    Some(m) if coalesce => { latest = Some(m); None }
                    other => other,
                },
                Err(broadcast::error::RecvError::Lagged(_)) => { out.slow_consumer(); return; }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => latest.take(),
        };
        if let Some(m) = ready {
            if !push(&out, m, label) {
                return;
            }
        }
    }
}

fn render(st: &State, channel: &str, u: &PrivateUpdate) -> Option<Arc<str>> {
    let mut v = match (channel, u) {
        ("orders", PrivateUpdate::Order(r)) => {
            serde_json::to_value(OrderDto::new(st.ex.spec(r.market), r, None, st.money_scale))
                .ok()?
        }
        ("fills", PrivateUpdate::Fill(f)) => {
            serde_json::to_value(FillDto::new(st.ex.spec(f.market), f)).ok()?
        }
        ("account", PrivateUpdate::Account(a)) => {
            serde_json::to_value(AccountDto::new(a, &st.ex.specs, &st.margin_asset)).ok()?
        }
        _ => return None,
    };
    let kind = match channel {
        "orders" => "order",
        "fills" => "fill",
        _ => "account",
    };
    let obj = v.as_object_mut()?;
    // `type` names the message; an order's own type (limit, market, ...) moves to `order_type`.
    if let Some(order_type) = obj.insert("type".into(), kind.into()) {
        obj.insert("order_type".into(), order_type);
    }
    Some(v.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full queue must still deliver the slow-consumer signal (it once went into the full
    /// queue and was lost, leaving a session that silently stopped receiving).
    #[tokio::test]
    async fn a_full_queue_signals_a_slow_consumer() {
        let (tx, mut rx) = mpsc::channel::<Out>(1);
        let q = Queue {
            tx,
            slow: Arc::new(tokio::sync::Notify::new()),
        };
        assert!(q.push("first".into(), "trades"));
        assert!(!q.push("second".into(), "trades"), "the queue holds one");
        tokio::time::timeout(Duration::from_secs(5), q.slow.notified())
            .await
            .expect("the signal is stored for the session loop");
        assert!(matches!(rx.recv().await, Some(Out::Text(t, "trades")) if &*t == "first"));
    }
}
