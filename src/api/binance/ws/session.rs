//! One Binance WebSocket connection as a dialect of the shared session driver
//! (`api::ws::session`): its control messages, its subscriptions, and the forwarders that
//! carry a stream into the session queue, raw or wrapped as `{"stream","data"}`.
//!
//! # Invariants
//! - Control messages are answered `{"result":...,"id":N}`, errors
//!   `{"error":{"code","msg"},"id":N}`; the connection stays open.
//! - A `SUBSCRIBE` is all or nothing: every name resolves and the total stays within
//!   [`MAX_STREAMS`], or nothing is subscribed.
//! - One forwarder per stream name; a market stream's translator is activated after the
//!   forwarder's receiver exists, so nothing published after the reply is missed. `@trade`,
//!   `@aggTrade` and `@forceOrder` forwarders hold a receiver on the market's typed feed.
//! - A forwarder whose receiver lags, or whose translator reports lost messages, closes the
//!   session as a slow consumer (1008), as the native forwarders do.
//! - When the last subscription is a user stream whose listen key expired, the session closes
//!   with 1000 `listenKey expired`, after the `listenKeyExpired` event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::rt::task::JoinHandle;
use actix_ws::{CloseCode, CloseReason};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::hub::Relay;
use super::streams::{self, Kind, Stream};
use super::{resolve, trades, user, Sub, MAX_STREAMS};
use crate::actors::publish::Wire;
use crate::api::ws::session::{self, Dialect};
use crate::api::State;
use crate::domain::AccountId;
use crate::telemetry::health::WS;

/// What a Binance forwarder tells its session besides messages.
pub enum Event {
    /// The user stream of this listen key ended.
    Expired(String),
}

/// The Binance session queue.
pub type Queue = session::Queue<Event>;

#[derive(Deserialize)]
struct Control {
    method: String,
    #[serde(default)]
    params: Vec<Value>,
    #[serde(default)]
    id: Value,
}

/// One Binance connection: its streams by name and whether it is in the combined form.
pub struct Session {
    st: State,
    out: Queue,
    combined: Arc<AtomicBool>,
    subs: HashMap<String, JoinHandle<()>>,
}

fn error(code: i32, msg: &str, id: &Value) -> String {
    json!({"error": {"code": code, "msg": msg}, "id": id}).to_string()
}

fn property_error(id: &Value) -> String {
    error(2, "Invalid request: property name must be 'combined'", id)
}

impl Dialect for Session {
    type Event = Event;
    const NAME: &'static str = "binance";

    fn on_text(&mut self, text: &str) -> Option<String> {
        let c: Control = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => return Some(error(3, &format!("Invalid JSON: {e}"), &Value::Null)),
        };
        let done = |result: Value| json!({"result": result, "id": c.id}).to_string();
        let reply = match c.method.as_str() {
            "SUBSCRIBE" => self.control_subscribe(&c),
            "UNSUBSCRIBE" => {
                for n in c.params.iter().filter_map(Value::as_str) {
                    if let Some(h) = self.subs.remove(n) {
                        h.abort();
                    }
                }
                done(Value::Null)
            }
            "LIST_SUBSCRIPTIONS" => {
                let mut v: Vec<&String> = self.subs.keys().collect();
                v.sort();
                done(json!(v))
            }
            "SET_PROPERTY" => match (c.params.first().and_then(Value::as_str), c.params.get(1)) {
                (Some("combined"), Some(Value::Bool(b))) => {
                    self.combined.store(*b, Ordering::Relaxed);
                    done(Value::Null)
                }
                _ => property_error(&c.id),
            },
            "GET_PROPERTY" => match c.params.first().and_then(Value::as_str) {
                Some("combined") => done(self.combined.load(Ordering::Relaxed).into()),
                _ => property_error(&c.id),
            },
            other => error(
                1,
                &format!("Invalid request: unknown method '{other}'"),
                &c.id,
            ),
        };
        Some(reply)
    }

    /// Binance ignores binary frames.
    fn on_binary(&mut self) -> Option<String> {
        None
    }

    fn on_event(&mut self, e: Event) -> Option<CloseReason> {
        let Event::Expired(key) = e;
        self.subs.remove(&key);
        self.subs.is_empty().then(|| CloseReason {
            code: CloseCode::Normal,
            description: Some("listenKey expired".into()),
        })
    }

    /// A user stream authenticates by its listen key, not the session.
    fn account(&self) -> Option<AccountId> {
        None
    }

    fn end(&mut self) -> (usize, bool) {
        let n = self.subs.len();
        let had_user = self.subs.keys().any(|k| streams::is_listen_key(k));
        for (_, h) in self.subs.drain() {
            h.abort();
        }
        (n, had_user)
    }

    fn stats(&self) -> &crate::api::WsStats {
        &self.st.ws
    }

    fn forget_private(&self) {
        self.st.ex.private.prune();
    }
}

impl Session {
    pub fn new(st: State, out: Queue, combined: bool) -> Session {
        Session {
            st,
            out,
            combined: Arc::new(AtomicBool::new(combined)),
            subs: HashMap::new(),
        }
    }

    fn control_subscribe(&mut self, c: &Control) -> String {
        let mut resolved = Vec::new();
        for n in c.params.iter().filter_map(Value::as_str) {
            match resolve(&self.st, n) {
                Some(s) => resolved.push((n.to_owned(), s)),
                None => return error(2, &format!("Invalid request: unknown stream '{n}'"), &c.id),
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

    /// Start the forwarder of one stream (nothing if already subscribed).
    pub fn subscribe(&mut self, name: String, sub: Sub) {
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
                let f = Forward {
                    out,
                    name: name.clone().into(),
                    combined,
                    label: label(&stream),
                };
                self.market_forwarder(f, stream)
            }
        };
        self.subs.insert(name, handle);
    }
}

impl Session {
    /// Start the forwarder of a market stream: from the typed feed (trades, liquidations) or
    /// from its hub channel.
    fn market_forwarder(&self, f: Forward, stream: Stream) -> JoinHandle<()> {
        use actix_web::rt::spawn;
        let ex = &self.st.ex;
        let clock = ex.clock.clone();
        if let Stream::Market(m, kind) = stream {
            let feed = &ex.feeds[m.index()];
            match kind {
                Kind::Trade => {
                    let rx = feed.trades.subscribe();
                    return spawn(f.run(rx, move |e| Some(trades::trade(&e, clock.now().0))));
                }
                Kind::AggTrade => {
                    let rx = feed.trades.subscribe();
                    return spawn(f.run(rx, move |e| Some(trades::agg_trade(&e, clock.now().0))));
                }
                Kind::ForceOrder => {
                    let rx = feed.liquidations.subscribe();
                    return spawn(f.run(rx, move |e| Some(trades::force_order(&e, clock.now().0))));
                }
                _ => {}
            }
        }
        let hubs = self.st.binance.hubs(&self.st);
        let Some(tx) = hubs.sender(&stream) else {
            // Every kind without a hub channel is handled above.
            return spawn(async {});
        };
        let rx = tx.subscribe();
        hubs.activate(ex, &stream);
        spawn(f.run(rx, |r: Relay| r))
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

/// Where one stream's forwarder puts its messages.
struct Forward {
    out: Queue,
    name: Arc<str>,
    combined: Arc<AtomicBool>,
    label: &'static str,
}

impl Forward {
    /// Forward one stream into the session queue (wrapped when the connection is combined);
    /// `render` gives the message of an item, `None` when the stream lost messages. A full
    /// queue, a lagging receiver or a lost message marks the session a slow consumer.
    async fn run<T: Clone>(
        self,
        mut rx: broadcast::Receiver<T>,
        render: impl Fn(T) -> Option<Wire>,
    ) {
        let _counted = WS.subscriber(self.label);
        loop {
            let m = match rx.recv().await {
                Ok(item) => render(item),
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(m) = m else {
                self.out.slow_consumer();
                return;
            };
            let m = if self.combined.load(Ordering::Relaxed) {
                let name = Value::from(self.name.as_ref());
                format!("{{\"stream\":{name},\"data\":{m}}}").into()
            } else {
                m
            };
            if !self.out.push(m, self.label) {
                return;
            }
        }
    }
}
