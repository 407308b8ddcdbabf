//! The gateway's `GET /ws`: the public channels of the primary's WebSocket (`api::ws`) with
//! the same contract: `subscribe`/`unsubscribe`/`ping`, a book snapshot (top 1,000 levels)
//! taken after subscribing to the diffs and then only later diffs, one bounded queue of
//! `ws_queue` messages per session, `1008 slow consumer` when it or a broadcast receiver
//! overflows or a write stalls, heartbeat pings and an idle timeout. Private channels and
//! `auth` are the primary's: they answer an error naming it.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use actix_web::rt::task::JoinHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use super::Gateway;
use crate::api::ws::{HEARTBEAT, IDLE_TIMEOUT, SEND_TIMEOUT};

#[derive(Deserialize)]
struct ClientMsg {
    op: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    symbol: Option<String>,
}

enum Out {
    Text(Arc<str>),
    SlowConsumer,
}

fn error(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

pub async fn handler(
    gw: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(run(gw.into_inner(), session, stream));
    Ok(response)
}

async fn run(gw: Arc<Gateway>, mut ws: actix_ws::Session, mut stream: actix_ws::MessageStream) {
    gw.connections.fetch_add(1, Relaxed);
    let (tx, mut rx) = mpsc::channel::<Out>(gw.ws_queue.max(1));
    let mut subs: HashMap<(String, String), JoinHandle<()>> = HashMap::new();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut last_seen = Instant::now();
    let reason = loop {
        tokio::select! {
            frame = stream.recv() => {
                last_seen = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let reply = on_text(&gw, &text, &tx, &mut subs);
                        if send(&mut ws, &reply).await.is_err() { break None; }
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
                Some(Out::Text(t)) => {
                    if send(&mut ws, &t).await.is_err() { break Some(slow()); }
                    gw.messages.fetch_add(1, Relaxed);
                }
                Some(Out::SlowConsumer) => break Some(slow()),
                None => break None,
            },
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    break Some(CloseReason { code: CloseCode::Normal, description: Some("idle timeout".into()) });
                }
                if ws.ping(b"").await.is_err() { break None; }
            }
        }
    };
    for (_, h) in subs.drain() {
        h.abort();
    }
    gw.connections.fetch_sub(1, Relaxed);
    let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(reason)).await;
}

fn slow() -> CloseReason {
    CloseReason {
        code: CloseCode::Policy,
        description: Some("slow consumer".into()),
    }
}

async fn send(ws: &mut actix_ws::Session, text: &str) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, ws.text(text.to_owned())).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

fn on_text(
    gw: &Arc<Gateway>,
    text: &str,
    out: &mpsc::Sender<Out>,
    subs: &mut HashMap<(String, String), JoinHandle<()>>,
) -> String {
    let msg: ClientMsg = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => return error("INVALID_REQUEST", &format!("malformed message: {e}")),
    };
    let channel = msg.channel.clone().unwrap_or_default();
    let symbol = msg.symbol.clone().unwrap_or_default();
    match msg.op.as_str() {
        "ping" => json!({"type": "pong", "time": super::super::now_ms()}).to_string(),
        "auth" => error(
            "NOT_PRIMARY",
            "a gateway serves public channels only; authenticate with the primary",
        ),
        "unsubscribe" => match subs.remove(&(channel.clone(), symbol.clone())) {
            Some(h) => {
                h.abort();
                json!({"type": "unsubscribed", "channel": channel, "symbol": symbol}).to_string()
            }
            None => error("INVALID_REQUEST", "not subscribed to that channel"),
        },
        "subscribe" => {
            if matches!(channel.as_str(), "orders" | "fills" | "account") {
                return error(
                    "NOT_PRIMARY",
                    "private channels are served by the primary, not by a gateway",
                );
            }
            let key = (channel.clone(), symbol.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = subs.entry(key) {
                let Some(i) = gw.markets.iter().position(|m| m.spec.symbol == symbol) else {
                    return error("UNKNOWN_MARKET", &format!("unknown symbol {symbol:?}"));
                };
                let feed = &gw.markets[i].feed;
                let out = out.clone();
                let h = match channel.as_str() {
                    "book" => {
                        let rx = feed.book.subscribe();
                        actix_web::rt::spawn(book_forwarder(Arc::clone(gw), i, rx, out))
                    }
                    "trades" => actix_web::rt::spawn(forward(feed.trades.subscribe(), out, Some)),
                    "ticker" => actix_web::rt::spawn(forward(feed.ticker.subscribe(), out, Some)),
                    "liquidations" => {
                        actix_web::rt::spawn(forward(feed.liquidations.subscribe(), out, Some))
                    }
                    other => {
                        return error("INVALID_REQUEST", &format!("unknown channel {other:?}"))
                    }
                };
                slot.insert(h);
            }
            json!({"type": "subscribed", "channel": channel, "symbol": msg.symbol}).to_string()
        }
        other => error("INVALID_REQUEST", &format!("unknown op {other:?}")),
    }
}

fn push(out: &mpsc::Sender<Out>, m: Arc<str>) -> bool {
    if out.try_send(Out::Text(m)).is_err() {
        let _ = out.try_send(Out::SlowConsumer);
        return false;
    }
    true
}

async fn forward<T: Clone>(
    mut rx: broadcast::Receiver<T>,
    out: mpsc::Sender<Out>,
    pick: impl Fn(T) -> Option<Arc<str>>,
) {
    loop {
        match rx.recv().await {
            Ok(item) => {
                if let Some(m) = pick(item) {
                    if !push(&out, m) {
                        return;
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let _ = out.send(Out::SlowConsumer).await;
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Snapshot (taken after subscribing), then the diffs after it.
async fn book_forwarder(
    gw: Arc<Gateway>,
    i: usize,
    rx: broadcast::Receiver<(u64, Arc<str>)>,
    out: mpsc::Sender<Out>,
) {
    let m = &gw.markets[i];
    let (sequence, snap) = {
        let l = m.book.lock().expect("never poisoned");
        let (bids, asks) = l.top(1000);
        let s = json!({"type": "book_snapshot", "symbol": m.spec.symbol, "sequence": l.sequence,
                       "bids": bids, "asks": asks});
        (l.sequence, s.to_string())
    };
    if push(&out, snap.into()) {
        forward(rx, out, |(seq, msg)| (seq > sequence).then_some(msg)).await;
    }
}
