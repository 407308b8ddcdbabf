//! `GET /ws`, the native WebSocket (docs/API.md "WebSocket"), on `actix-ws`
//! (docs/ARCHITECTURE.md §2): the client messages (`ping`, `auth`, `subscribe`,
//! `unsubscribe`) and their replies. The session loop, its bounds (queue, slow consumer,
//! heartbeat, idle timeout) and its metrics are the shared driver's ([`session`]); the
//! forwarders and the rendering of private updates are in [`channels`].
//!
//! # Invariants
//! - Errors are messages (`{"type":"error","code","message"}`) and the connection stays open.
//! - A connection authenticates as one account (the `auth` signature covers
//!   `timestamp + "GET" + "/ws"`, within `recv_window`); its private channels carry only that
//!   account's updates.
//! - One forwarder per `(channel, symbol)`: subscribing again answers `subscribed` and changes
//!   nothing.

pub mod channels;
pub mod session;

use std::collections::HashMap;
use std::convert::Infallible;

use actix_web::rt::task::JoinHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::CloseReason;
use serde::Deserialize;
use serde_json::json;

use super::State;
use crate::actors::access_directory::KeyAuth;
use crate::domain::AccountId;
use channels::Queue;
pub use session::{HEARTBEAT, IDLE_TIMEOUT, SEND_TIMEOUT};
use std::sync::Arc;

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

/// An `error` message of the native WebSocket contract (also the gateway's).
pub fn error(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

pub async fn handler(
    st: State,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    st.limit_ip(&req)?;
    let (response, ws, stream) = actix_ws::handle(&req, body)?;
    let (out, inbox) = session::queue(st.ws_queue);
    let s = Session {
        req: req.clone(),
        st: st.clone(),
        out,
        subs: HashMap::new(),
        account: None,
        key: None,
    };
    actix_web::rt::spawn(session::run(s, inbox, ws, stream));
    Ok(response)
}

/// One native session: its subscriptions and the account it authenticated as.
struct Session {
    st: State,
    out: Queue,
    subs: HashMap<(String, String), JoinHandle<()>>,
    account: Option<AccountId>,
    /// The key it authenticated with (a revoked key closes the session).
    key: Option<Arc<KeyAuth>>,
    /// The upgrade request (for the key's checks: client address, trusted proxies).
    req: HttpRequest,
}

impl session::Dialect for Session {
    type Event = Infallible;
    const NAME: &'static str = "native";

    fn on_text(&mut self, text: &str) -> Option<String> {
        let msg: ClientMsg = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return Some(error("INVALID_REQUEST", &format!("malformed message: {e}"))),
        };
        match msg.op.as_str() {
            "ping" => Some(json!({"type": "pong", "time": self.st.ex.clock.now().0}).to_string()),
            "auth" => Some(self.auth(&msg)),
            "subscribe" => Some(self.subscribe(&msg)),
            "unsubscribe" => Some(self.unsubscribe(msg)),
            other => Some(error("INVALID_REQUEST", &format!("unknown op {other:?}"))),
        }
    }

    fn on_binary(&mut self) -> Option<String> {
        Some(error("INVALID_REQUEST", "text frames with JSON only"))
    }

    fn on_event(&mut self, e: Infallible) -> Option<CloseReason> {
        match e {}
    }

    fn account(&self) -> Option<AccountId> {
        self.account
    }

    fn end(&mut self) -> (usize, bool) {
        let n = self.subs.len();
        for (_, h) in self.subs.drain() {
            h.abort();
        }
        (n, self.account.is_some())
    }

    fn stats(&self) -> &crate::api::WsStats {
        &self.st.ws
    }

    fn forget_private(&self) {
        self.st.ex.private.prune();
    }

    fn revocations(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.key.as_ref().map(|_| self.st.ex.access.revocations())
    }

    fn still_authorized(&self) -> bool {
        self.key.as_ref().is_none_or(|k| !k.is_revoked())
    }
}

impl Session {
    fn auth(&mut self, m: &ClientMsg) -> String {
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
        let k = match self.st.keys.verify(&self.st.ex.access, key, &parts, sig) {
            Ok(k) => k,
            Err(f) => {
                crate::telemetry::health::auth_refused(f.reason());
                return error("UNAUTHORIZED", "unknown API key or bad signature");
            }
        };
        let mut raw = [0u8; 32];
        // The signature verified, so it is 64 hex digits.
        let _ = hex::decode_to_slice(sig, &mut raw);
        let need = crate::api::permissions::WS_AUTH;
        let until = ts + self.st.recv_window_ms;
        if let Err(r) = self.st.check_key(&k, &self.req, need, Some(&raw), until) {
            let e = r.native();
            return error(e.code, &e.message);
        }
        let a = k.account;
        self.account = Some(a);
        self.key = Some(k);
        json!({"type": "authenticated", "account_id": a.0}).to_string()
    }

    fn subscribe(&mut self, m: &ClientMsg) -> String {
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
                .to_string();
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
            actix_web::rt::spawn(channels::private_forwarder(st, ch, rx, out))
        } else {
            let Ok(market) = self.st.ex.market_id(&symbol) else {
                return error("UNKNOWN_MARKET", &format!("unknown symbol {symbol:?}"));
            };
            let feed = &self.st.ex.feeds[market.index()];
            use actix_web::rt::spawn;
            use channels::forwarder;
            match channel.as_str() {
                "book" => {
                    let rx = feed.book.subscribe();
                    let addr = self.st.ex.markets[market.index()].clone();
                    let spec = self.st.ex.spec(market).clone();
                    let out = self.out.clone();
                    actix_web::rt::spawn(channels::book_forwarder(spec, addr, rx, out))
                }
                "trades" => spawn(forwarder(feed.trades.subscribe(), out, "trades")),
                "ticker" => spawn(forwarder(feed.ticker.subscribe(), out, "ticker")),
                "liquidations" => spawn(forwarder(
                    feed.liquidations.subscribe(),
                    out,
                    "liquidations",
                )),
                other => return error("INVALID_REQUEST", &format!("unknown channel {other:?}")),
            }
        };
        self.subs.insert(key, handle);
        json!({"type": "subscribed", "channel": channel, "symbol": m.symbol}).to_string()
    }

    fn unsubscribe(&mut self, m: ClientMsg) -> String {
        let (channel, symbol) = (m.channel.unwrap_or_default(), m.symbol.unwrap_or_default());
        match self.subs.remove(&(channel.clone(), symbol.clone())) {
            Some(h) => {
                h.abort();
                json!({"type": "unsubscribed", "channel": channel, "symbol": symbol}).to_string()
            }
            None => error("INVALID_REQUEST", "not subscribed to that channel"),
        }
    }
}
