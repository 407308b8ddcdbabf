//! The Binance WebSocket forms, on `actix-ws` like the native `/ws` (`api/ws.rs`):
//!
//! - `/ws/<stream>[/<stream>...]` raw payloads; `/stream?streams=a/b` wrapped as
//!   `{"stream","data"}`; the routed prefixes `/public`, `/market` and `/private` in front of
//!   either. A path segment that is not a stream (ccxt's `/public/ws/0`) names nothing.
//! - User data: a listen key as a stream (`/ws/<listenKey>`, `streams=<listenKey>`) or as
//!   `?listenKey=` (`/private/ws?listenKey=`).
//! - Control: `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`/`GET_PROPERTY`
//!   `combined`, answered `{"result":...,"id":N}` (errors `{"error":{"code","msg"},"id":N}`).
//!
//! # Invariants
//! - Same bounds as the native WebSocket: one bounded queue of `ws_queue` messages per
//!   session; a full queue, a lagging feed or a write slower than `SEND_TIMEOUT` closes the
//!   session with 1008 `slow consumer`; heartbeat pings and an idle timeout.
//! - At most [`MAX_STREAMS`] streams per connection (Binance's limit).
//! - A path naming an unknown stream or a dead listen key is refused before the upgrade.

pub mod hub;
pub mod kline;
pub mod pulse;
pub mod streams;
pub mod tap;
pub mod user;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::rt::task::JoinHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::errors::{BnError, BnResult};
use crate::actors::publish::Wire;
use crate::api::ws::{HEARTBEAT, IDLE_TIMEOUT, SEND_TIMEOUT};
use crate::api::State;
use crate::telemetry::health::WS;
use streams::{Kind, Stream};

/// Streams per connection.
pub const MAX_STREAMS: usize = 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let paths = [
        "/ws/{tail:.*}",
        "/stream",
        "/{route:public|market|private}/ws",
        "/{route:public|market|private}/ws/{tail:.*}",
        "/{route:public|market|private}/stream",
    ];
    for p in paths {
        cfg.service(
            crate::api::resource(p, p)
                .wrap(actix_web::middleware::from_fn(
                    crate::api::http_metrics::observe,
                ))
                .get(handler),
        );
    }
}

/// What forwarders put in the session queue.
pub enum Out {
    Text(Wire, &'static str),
    SlowConsumer,
    /// The user stream of this listen key ended.
    Expired(String),
}

/// Queue a message; a full queue marks the session a slow consumer.
pub fn push(out: &mpsc::Sender<Out>, m: Wire, label: &'static str) -> bool {
    if out.try_send(Out::Text(m, label)).is_err() {
        let _ = out.try_send(Out::SlowConsumer);
        return false;
    }
    true
}

/// A subscription: a market stream, or a listen key's user data.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Sub {
    Market(Stream),
    User(String),
}

/// The streams a connection opens with, from its path and query.
fn initial(st: &State, req: &HttpRequest) -> BnResult<(bool, Vec<(String, Sub)>)> {
    let path = req.path();
    let combined = path.ends_with("/stream");
    let mut names: Vec<String> = Vec::new();
    if let Some(tail) = req.match_info().get("tail") {
        names.extend(tail.split('/').filter(|s| !s.is_empty()).map(str::to_owned));
    }
    for (k, v) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "streams" => names.extend(v.split('/').filter(|s| !s.is_empty()).map(str::to_owned)),
            "listenKey" => names.push(v.into_owned()),
            _ => {}
        }
    }
    let mut subs = Vec::new();
    for n in names {
        match resolve(st, &n) {
            Some(s) => subs.push((n, s)),
            None if streams::looks_like_stream(&n) => {
                return Err(BnError::bad(-1121, format!("Invalid stream name '{n}'.")))
            }
            None if streams::is_listen_key(&n) => {
                return Err(BnError::bad(-1125, "This listenKey does not exist."))
            }
            // A stream index (`/public/ws/0`): names nothing.
            None => {}
        }
    }
    if subs.len() > MAX_STREAMS {
        return Err(BnError::bad(-1130, "Too many streams for one connection."));
    }
    Ok((combined, subs))
}

fn resolve(st: &State, name: &str) -> Option<Sub> {
    if streams::is_listen_key(name) {
        let now = st.ex.clock.now().0;
        return st
            .binance
            .listen_keys
            .account(name, now)
            .map(|_| Sub::User(name.to_owned()));
    }
    streams::parse(name, st.binance.symbols(st)).map(Sub::Market)
}

async fn handler(
    st: State,
    req: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    super::auth::limit_ip(&st, &req)?;
    let (combined, subs) = initial(&st, &req)?;
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    // Subscribe before answering the upgrade: whatever is published after the client sees
    // the answer reaches it.
    let (tx, rx) = mpsc::channel::<Out>(st.ws_queue.max(1));
    let mut s = Session {
        st: st.clone(),
        out: tx,
        combined: Arc::new(AtomicBool::new(combined)),
        subs: HashMap::new(),
    };
    for (name, sub) in subs {
        s.subscribe(name, sub);
    }
    actix_web::rt::spawn(run(s, rx, session, stream));
    Ok(response)
}

#[derive(Deserialize)]
struct Control {
    method: String,
    #[serde(default)]
    params: Vec<Value>,
    #[serde(default)]
    id: Value,
}

struct Session {
    st: State,
    out: mpsc::Sender<Out>,
    combined: Arc<AtomicBool>,
    subs: HashMap<String, JoinHandle<()>>,
}

async fn run(
    mut s: Session,
    mut rx: mpsc::Receiver<Out>,
    mut ws: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let st = s.st.clone();
    st.ws.connections.fetch_add(1, Relaxed);
    WS.connections.increment(1.0);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut last_seen = Instant::now();
    let reason = loop {
        tokio::select! {
            frame = stream.recv() => {
                last_seen = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let reply = s.on_text(&text);
                        WS.sent("control");
                        if send(&mut ws, &reply).await.is_err() { break None; }
                    }
                    Some(Ok(Message::Ping(p))) => { if ws.pong(&p).await.is_err() { break None; } }
                    Some(Ok(Message::Close(r))) => break r,
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break None,
                }
            }
            item = rx.recv() => match item {
                Some(Out::Text(t, label)) => {
                    WS.sent(label);
                    if send(&mut ws, &t).await.is_err() {
                        break Some(slow());
                    }
                    st.ws.messages.fetch_add(1, Relaxed);
                }
                Some(Out::SlowConsumer) => break Some(slow()),
                Some(Out::Expired(key)) => {
                    s.subs.remove(&key);
                    if s.subs.is_empty() {
                        break Some(CloseReason { code: CloseCode::Normal, description: Some("listenKey expired".into()) });
                    }
                }
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
    let had_user = s.subs.keys().any(|k| streams::is_listen_key(k));
    for (_, h) in s.subs.drain() {
        h.abort();
    }
    if had_user {
        actix_web::rt::task::yield_now().await;
        st.ex.private.prune();
    }
    if reason.as_ref().is_some_and(|r| r.code == CloseCode::Policy) {
        WS.slow_consumers.increment(1);
        st.ws.slow_consumers.fetch_add(1, Relaxed);
        tracing::warn!("binance websocket slow consumer closed");
    }
    st.ws.connections.fetch_sub(1, Relaxed);
    WS.connections.decrement(1.0);
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

fn error(code: i32, msg: &str, id: &Value) -> String {
    json!({"error": {"code": code, "msg": msg}, "id": id}).to_string()
}

impl Session {
    fn on_text(&mut self, text: &str) -> String {
        let c: Control = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => return error(3, &format!("Invalid JSON: {e}"), &Value::Null),
        };
        let names: Vec<String> = c
            .params
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect();
        match c.method.as_str() {
            "SUBSCRIBE" => {
                let mut resolved = Vec::new();
                for n in names {
                    match resolve(&self.st, &n) {
                        Some(s) => resolved.push((n, s)),
                        None => {
                            return error(
                                2,
                                &format!("Invalid request: unknown stream '{n}'"),
                                &c.id,
                            )
                        }
                    }
                }
                if self.subs.len() + resolved.len() > MAX_STREAMS {
                    return error(2, "Invalid request: too many streams", &c.id);
                }
                for (n, s) in resolved {
                    self.subscribe(n, s);
                }
                json!({"result": null, "id": c.id}).to_string()
            }
            "UNSUBSCRIBE" => {
                for n in names {
                    if let Some(h) = self.subs.remove(&n) {
                        h.abort();
                    }
                }
                json!({"result": null, "id": c.id}).to_string()
            }
            "LIST_SUBSCRIPTIONS" => {
                let mut v: Vec<&String> = self.subs.keys().collect();
                v.sort();
                json!({"result": v, "id": c.id}).to_string()
            }
            "SET_PROPERTY" => match (c.params.first().and_then(Value::as_str), c.params.get(1)) {
                (Some("combined"), Some(Value::Bool(b))) => {
                    self.combined.store(*b, Ordering::Relaxed);
                    json!({"result": null, "id": c.id}).to_string()
                }
                _ => error(
                    2,
                    "Invalid request: property name must be 'combined'",
                    &c.id,
                ),
            },
            "GET_PROPERTY" => match c.params.first().and_then(Value::as_str) {
                Some("combined") => {
                    json!({"result": self.combined.load(Ordering::Relaxed), "id": c.id}).to_string()
                }
                _ => error(
                    2,
                    "Invalid request: property name must be 'combined'",
                    &c.id,
                ),
            },
            other => error(
                1,
                &format!("Invalid request: unknown method '{other}'"),
                &c.id,
            ),
        }
    }

    fn subscribe(&mut self, name: String, sub: Sub) {
        if self.subs.contains_key(&name) {
            return;
        }
        let out = self.out.clone();
        let combined = Arc::clone(&self.combined);
        let handle = match sub {
            Sub::User(key) => {
                let now = self.st.ex.clock.now().0;
                let Some(account) = self.st.binance.listen_keys.account(&key, now) else {
                    return;
                };
                let sink = user::Sink {
                    out,
                    wrap: Some(name.clone().into()),
                    combined,
                };
                // Subscribed now, not when the task first runs.
                let rx = self.st.ex.private.subscribe(account);
                actix_web::rt::spawn(user::run(self.st.clone(), key, account, rx, sink))
            }
            Sub::Market(stream) => {
                let hubs = self.st.binance.hubs(&self.st);
                let rx = hubs.sender(&stream).subscribe();
                hubs.activate(&self.st.ex, &stream);
                let label = label(&stream);
                let st = self.st.clone();
                actix_web::rt::spawn(forward(st, rx, out, name.clone().into(), combined, label))
            }
        };
        self.subs.insert(name, handle);
    }
}

/// The `perpx_ws_messages_total` channel a Binance stream counts under.
fn label(s: &Stream) -> &'static str {
    match s {
        Stream::Market(_, Kind::Depth(_) | Kind::Partial(..)) => "book",
        Stream::Market(_, Kind::Trade | Kind::AggTrade) => "trades",
        Stream::Market(_, Kind::ForceOrder) => "liquidations",
        _ => "ticker",
    }
}

/// Forward one stream into the session queue (wrapped when the connection is combined).
async fn forward(
    _st: State,
    mut rx: broadcast::Receiver<Wire>,
    out: mpsc::Sender<Out>,
    name: Arc<str>,
    combined: Arc<AtomicBool>,
    label: &'static str,
) {
    let _counted = WS.subscriber(label);
    loop {
        match rx.recv().await {
            Ok(m) => {
                let m = if combined.load(Ordering::Relaxed) {
                    format!("{{\"stream\":{},\"data\":{m}}}", Value::from(name.as_ref())).into()
                } else {
                    m
                };
                if !push(&out, m, label) {
                    return;
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
