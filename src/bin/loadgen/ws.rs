//! WebSocket subscribers on one market's `book` and `trades`: count messages (per target
//! server too; during the load, and after it until they stop coming), measure trade delivery
//! latency (receive time − the trade's `time`, same machine clock, ms resolution) and count
//! how sessions ended: closed by the server as a slow consumer (1008), closed for another
//! reason, or cut by an error.
//!
//! Subscribers can sit on other servers than the one the orders go to (`--ws-url`, e.g.
//! replication gateways): subscriber `i` connects to target `i mod n`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use awc::error::WsProtocolError;
use awc::ws::{CloseReason, Frame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use hdrhistogram::Histogram;

use crate::client::now_ms;
use crate::report::{Progress, WsStats, WsTarget};

/// The WebSocket close code of a slow-consumer close (policy violation).
const SLOW_CONSUMER: u16 = 1008;

/// What the subscribers counted, shared by their tasks.
pub struct Shared {
    pub messages: u64,
    pub trades: u64,
    pub delivery_ms: Histogram<u64>,
    /// Per target, in `--ws-url` order.
    pub targets: Vec<Target>,
}

/// One server the subscribers connect to.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub url: String,
    pub subscribers: usize,
    pub messages: u64,
    pub slow_consumer_closes: u64,
    pub other_closes: u64,
    pub errors: u64,
}

/// The `/ws` endpoint of a server given by its base URL (`http://host:port`) or by a
/// `ws://` URL; a URL already ending in `/ws` is kept.
pub fn endpoint(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = match url.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some(("http", rest)) => format!("ws://{rest}"),
        Some(_) => url.to_owned(),
        None => format!("ws://{url}"),
    };
    if url.ends_with("/ws") {
        url
    } else {
        format!("{url}/ws")
    }
}

/// Connect `n` subscribers spread evenly over `urls` (server base URLs); they run until `stop`
/// is set. Returns the shared totals to read after.
pub async fn start(
    http: &awc::Client,
    urls: &[String],
    n: usize,
    symbol: &str,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
) -> Result<Rc<RefCell<Shared>>, String> {
    let shared = Rc::new(RefCell::new(Shared {
        messages: 0,
        trades: 0,
        // expect: constant, valid bounds.
        delivery_ms: Histogram::new_with_bounds(1, 3_600_000, 3).expect("histogram bounds"),
        targets: urls
            .iter()
            .map(|u| Target {
                url: endpoint(u),
                ..Target::default()
            })
            .collect(),
    }));
    for i in 0..n {
        let t = i % urls.len().max(1);
        let Some(url) = shared.borrow().targets.get(t).map(|x| x.url.clone()) else {
            return Err("no WebSocket target".into());
        };
        let conn = subscribe(http, &url, symbol).await?;
        shared.borrow_mut().targets[t].subscribers += 1;
        let (s, p, stop) = (Rc::clone(&shared), Arc::clone(&progress), Arc::clone(&stop));
        actix_web::rt::spawn(receive(conn, t, s, p, stop));
    }
    Ok(shared)
}

/// Open one connection and subscribe it to the market's book and trades.
async fn subscribe(
    http: &awc::Client,
    url: &str,
    symbol: &str,
) -> Result<impl Conn + 'static, String> {
    let (_, mut conn) = http
        .ws(url)
        .max_frame_size(64 << 20)
        .connect()
        .await
        .map_err(|e| format!("websocket connect to {url}: {e}"))?;
    for ch in ["book", "trades"] {
        let sub =
            serde_json::json!({"op": "subscribe", "channel": ch, "symbol": symbol}).to_string();
        conn.send(Message::Text(sub.into()))
            .await
            .map_err(|e| format!("websocket subscribe on {url}: {e}"))?;
    }
    Ok(conn)
}

/// A subscriber's connection: frames in, messages out.
trait Conn:
    Stream<Item = Result<Frame, WsProtocolError>> + Sink<Message, Error = WsProtocolError> + Unpin
{
}

impl<C> Conn for C where
    C: Stream<Item = Result<Frame, WsProtocolError>>
        + Sink<Message, Error = WsProtocolError>
        + Unpin
{
}

/// How a session ended.
enum End {
    Stopped,
    Closed(Option<CloseReason>),
    Error,
}

/// Read one subscriber's messages until `stop` is set or the session ends.
async fn receive(
    mut conn: impl Conn,
    target: usize,
    s: Rc<RefCell<Shared>>,
    p: Arc<Progress>,
    stop: Arc<AtomicBool>,
) {
    let end = loop {
        if stop.load(Ordering::Relaxed) {
            break End::Stopped;
        }
        match actix_web::rt::time::timeout(Duration::from_millis(200), conn.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(Frame::Text(b)))) => {
                count(&mut s.borrow_mut(), target, &b);
                p.ws_messages.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Some(Ok(Frame::Ping(p)))) => {
                let _ = conn.send(Message::Pong(p)).await;
            }
            Ok(Some(Ok(Frame::Close(reason)))) => break End::Closed(reason),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) => break End::Error,
        }
    };
    let mut sh = s.borrow_mut();
    let t = &mut sh.targets[target];
    match end {
        End::Stopped => {}
        End::Closed(Some(r)) if u16::from(r.code) == SLOW_CONSUMER => t.slow_consumer_closes += 1,
        End::Closed(_) => t.other_closes += 1,
        End::Error => t.errors += 1,
    }
}

/// Count one text message; a trade also gives its delivery latency.
fn count(sh: &mut Shared, target: usize, b: &[u8]) {
    sh.messages += 1;
    sh.targets[target].messages += 1;
    // Cheap check before parsing: only trades carry a delivery time to measure.
    if b.starts_with(br#"{"type":"trade""#) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(b) {
            if let Some(t) = v["time"].as_u64() {
                sh.trades += 1;
                let _ = sh.delivery_ms.record(now_ms().saturating_sub(t).max(1));
            }
        }
    }
}

/// Messages received per target when the load started and when it ended ([`received`]).
pub struct Counts<'a> {
    pub start: &'a [u64],
    pub end: &'a [u64],
}

/// The totals: messages received during the load (after `counts.start`, which excludes the
/// subscription replies and first snapshots, up to `counts.end`) and after it, within `drain`.
pub fn totals(n: usize, s: &Shared, counts: Counts, drain: Duration) -> WsStats {
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    let targets: Vec<WsTarget> = s
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| WsTarget {
            url: t.url.clone(),
            subscribers: t.subscribers,
            messages: at(counts.end, i).saturating_sub(at(counts.start, i)),
            after_load: t.messages.saturating_sub(at(counts.end, i)),
            slow_consumer_closes: t.slow_consumer_closes,
            other_closes: t.other_closes,
            errors: t.errors,
        })
        .collect();
    WsStats {
        subscribers: n,
        messages: targets.iter().map(|t| t.messages).sum(),
        after_load: targets.iter().map(|t| t.after_load).sum(),
        drain,
        trades: s.trades,
        delivery_ms: s.delivery_ms.clone(),
        slow_consumer_closes: targets.iter().map(|t| t.slow_consumer_closes).sum(),
        other_closes: targets.iter().map(|t| t.other_closes).sum(),
        errors: targets.iter().map(|t| t.errors).sum(),
        targets,
    }
}

/// Messages received so far per target (the baseline for [`totals`]).
pub fn received(s: &Shared) -> Vec<u64> {
    s.targets.iter().map(|t| t.messages).collect()
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
        assert_eq!(endpoint("http://127.0.0.1:8080/"), "ws://127.0.0.1:8080/ws");
        assert_eq!(endpoint("https://h:1"), "wss://h:1/ws");
        assert_eq!(endpoint("ws://h:1/ws"), "ws://h:1/ws");
        assert_eq!(endpoint("127.0.0.1:9"), "ws://127.0.0.1:9/ws");
    }
}
