//! The gateway's `GET /ws`: the public channels of the primary's WebSocket (`api::ws`) with
//! the same contract and the same session driver (`api::ws::session`): `subscribe`/
//! `unsubscribe`/`ping`, a book snapshot (top 1,000 levels) taken after subscribing to the
//! diffs and then only later diffs, one bounded queue of `ws_queue` messages per session,
//! `1008 slow consumer` when it or a broadcast receiver overflows or a write stalls (the signal
//! travels outside the full queue), heartbeat pings and an idle timeout. Private channels and
//! `auth` are the primary's: they answer an error naming it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use actix_web::rt::task::JoinHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::CloseReason;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

use super::Gateway;
use crate::api::ws::channels::forward;
use crate::api::ws::error;
use crate::api::ws::session::{self, Dialect};
use crate::api::WsStats;
use crate::domain::AccountId;

use crate::api::ws::channels::Queue;

#[derive(Deserialize)]
struct ClientMsg {
    op: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    symbol: Option<String>,
}

pub async fn handler(
    gw: web::Data<Gateway>,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let (response, ws, stream) = actix_ws::handle(&req, body)?;
    let gw = gw.into_inner();
    let (out, inbox) = session::queue(gw.ws_queue);
    let s = Session {
        gw,
        out,
        subs: HashMap::new(),
    };
    actix_web::rt::spawn(session::run(s, inbox, ws, stream));
    Ok(response)
}

/// One client's public subscriptions on the gateway.
struct Session {
    gw: Arc<Gateway>,
    out: Queue,
    subs: HashMap<(String, String), JoinHandle<()>>,
}

impl Dialect for Session {
    type Event = Infallible;
    const NAME: &'static str = "gateway";

    fn on_text(&mut self, text: &str) -> Option<String> {
        Some(on_text(&self.gw, text, &self.out, &mut self.subs))
    }

    fn on_binary(&mut self) -> Option<String> {
        Some(error("INVALID_REQUEST", "text frames with JSON only"))
    }

    fn on_event(&mut self, e: Infallible) -> Option<CloseReason> {
        match e {}
    }

    fn account(&self) -> Option<AccountId> {
        None
    }

    fn end(&mut self) -> (usize, bool) {
        let n = self.subs.len();
        for (_, h) in self.subs.drain() {
            h.abort();
        }
        (n, false)
    }

    fn stats(&self) -> &WsStats {
        &self.gw.ws
    }
}

fn on_text(
    gw: &Arc<Gateway>,
    text: &str,
    out: &Queue,
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
                    "trades" => {
                        actix_web::rt::spawn(forward(feed.trades.subscribe(), out, "trades", Some))
                    }
                    "ticker" => {
                        actix_web::rt::spawn(forward(feed.ticker.subscribe(), out, "ticker", Some))
                    }
                    "liquidations" => actix_web::rt::spawn(forward(
                        feed.liquidations.subscribe(),
                        out,
                        "liquidations",
                        Some,
                    )),
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

/// Snapshot (taken after subscribing), then the diffs after it.
async fn book_forwarder(
    gw: Arc<Gateway>,
    i: usize,
    rx: broadcast::Receiver<(u64, Arc<str>)>,
    out: Queue,
) {
    let m = &gw.markets[i];
    let (sequence, snap) = {
        let l = m.book.lock().expect("never poisoned");
        let (bids, asks) = l.top(1000);
        let s = json!({"type": "book_snapshot", "symbol": m.spec.symbol, "sequence": l.sequence,
                       "bids": bids, "asks": asks});
        (l.sequence, s.to_string())
    };
    if out.push(snap.into(), "book") {
        forward(rx, out, "book", |(seq, msg)| {
            (seq > sequence).then_some(msg)
        })
        .await;
    }
}
