//! The Binance WebSocket forms, on the session driver the native `/ws` runs on
//! (`api::ws::session`; this dialect's control messages and forwarders are in [`session`]):
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
//! - Same bounds as the native WebSocket, by the same driver: one bounded queue of `ws_queue`
//!   messages per session; a full queue, a lagging feed or a write slower than `SEND_TIMEOUT`
//!   closes the session with 1008 `slow consumer`; heartbeat pings and an idle timeout.
//! - At most [`MAX_STREAMS`] streams per connection (Binance's limit).
//! - A path naming an unknown stream or a dead listen key is refused before the upgrade.

pub mod depth;
pub mod hub;
pub mod kline;
pub mod orders;
pub mod pulse;
pub mod session;
pub mod streams;
pub mod tap;
pub mod trades;
pub mod user;

use actix_web::{web, HttpRequest, HttpResponse};

use super::errors::{BnError, BnResult};
use crate::api::ws::session as driver;
use crate::api::State;
use streams::Stream;

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

/// A subscription: a market stream, or a listen key's user data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sub {
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

/// A stream name or a listen key as a subscription (`None`: no such stream, or a dead key).
pub fn resolve(st: &State, name: &str) -> Option<Sub> {
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
    let (response, ws, stream) = actix_ws::handle(&req, body)?;
    // Subscribe before answering the upgrade: whatever is published after the client sees
    // the answer reaches it.
    let (out, inbox) = driver::queue(st.ws_queue);
    let mut s = session::Session::new(st.clone(), out, combined);
    for (name, sub) in subs {
        s.subscribe(name, sub);
    }
    actix_web::rt::spawn(driver::run(s, inbox, ws, stream));
    Ok(response)
}
