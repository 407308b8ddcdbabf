//! The one WebSocket session driver both dialects run on (the native `/ws` in [`super`], the
//! Binance stream forms in `api::binance::ws`, and a replication gateway's public `/ws`): it
//! reads client frames, answers pings, writes
//! what the session's forwarders queue, pings every [`HEARTBEAT`], and closes. A [`Dialect`]
//! says what differs: what a client text or binary frame means, what a dialect event from a
//! forwarder does, and which subscriptions to stop at the end.
//!
//! # Invariants
//! - Nothing is buffered without bound: a session has one [`Queue`] of `ws_queue` messages,
//!   fed by its forwarders with `try_send`. A full queue, a forwarder's lagging broadcast
//!   receiver, or a write the client does not take within [`SEND_TIMEOUT`] closes the session
//!   with 1008 `slow consumer` (counted in `perpx_ws_slow_consumers_total`), so a session
//!   never silently skips messages.
//! - The slow-consumer signal travels outside the queue ([`Queue::slow_consumer`]): a marker
//!   pushed into the full queue would be lost, and the session would stop receiving without
//!   being closed.
//! - A session with no client frame for [`IDLE_TIMEOUT`] is closed with 1000 `idle timeout`.
//! - Replies to control frames count under the `control` channel of
//!   `perpx_ws_messages_total`, before their write (a reader of the metric sees them); queued
//!   messages count under their own channel.
//! - At the end every forwarder is aborted; when one held an account's private receiver, the
//!   private channel map forgets receivers nobody holds any more.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{CloseCode, CloseReason, Message};
use tokio::sync::{mpsc, Notify};

use crate::actors::publish::Wire;
use crate::api::WsStats;
use crate::domain::AccountId;
use crate::telemetry::health::WS;

/// Server ping interval.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A session with no client frame for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A single write that takes longer marks a slow consumer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// What forwarders put in the session queue.
pub enum Out<E> {
    /// A message and its channel (the `perpx_ws_messages_total` label).
    Text(Wire, &'static str),
    /// Something for the dialect, in order with the messages queued before it.
    Event(E),
}

/// The forwarders' side of a session's bounded queue, with the slow-consumer signal kept
/// outside the queue (see the module invariants).
pub struct Queue<E> {
    tx: mpsc::Sender<Out<E>>,
    slow: Arc<Notify>,
}

impl<E> Clone for Queue<E> {
    fn clone(&self) -> Self {
        Queue {
            tx: self.tx.clone(),
            slow: Arc::clone(&self.slow),
        }
    }
}

/// The session's side of the queue: what [`run`] reads.
pub struct Inbox<E> {
    rx: mpsc::Receiver<Out<E>>,
    slow: Arc<Notify>,
}

/// A queue of `capacity` messages (at least one).
pub fn queue<E>(capacity: usize) -> (Queue<E>, Inbox<E>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let slow = Arc::new(Notify::new());
    (
        Queue {
            tx,
            slow: Arc::clone(&slow),
        },
        Inbox { rx, slow },
    )
}

impl<E> Queue<E> {
    /// Put one message in the queue; a full queue marks the session a slow consumer. Returns
    /// `false` when the message was not queued (the forwarder then stops: the session is
    /// closing).
    pub fn push(&self, m: Wire, channel: &'static str) -> bool {
        if self.tx.try_send(Out::Text(m, channel)).is_err() {
            self.slow_consumer();
            return false;
        }
        true
    }

    /// Close the session as a slow consumer (the session loop wakes on the stored permit).
    pub fn slow_consumer(&self) {
        self.slow.notify_one();
    }

    /// Queue a dialect event after the messages already queued, waiting for room (the session
    /// drains the queue or closes; either way this returns).
    pub async fn event(&self, e: E) {
        let _ = self.tx.send(Out::Event(e)).await;
    }
}

/// What a dialect decides; the driver does the rest.
pub trait Dialect {
    /// What its forwarders send the session besides messages.
    type Event;

    /// The dialect's name in logs (`native`, `binance`).
    const NAME: &'static str;

    /// One client text frame; returns the reply to send, if any.
    fn on_text(&mut self, text: &str) -> Option<String>;

    /// One client binary frame; returns the reply to send, if any.
    fn on_binary(&mut self) -> Option<String>;

    /// One event from a forwarder; returns the close reason when it ends the session.
    fn on_event(&mut self, e: Self::Event) -> Option<CloseReason>;

    /// The authenticated account, if any (for the slow-consumer log).
    fn account(&self) -> Option<AccountId>;

    /// Abort every subscription; returns how many there were and whether one held an
    /// account's private receiver.
    fn end(&mut self) -> (usize, bool);

    /// The counters this session counts in (the server's or the gateway's).
    fn stats(&self) -> &WsStats;

    /// After [`Dialect::end`] reported a private receiver and its forwarders have dropped
    /// theirs: let the private channel map forget receivers nobody holds any more.
    fn forget_private(&self) {}

    /// A counter bumped on every API key revocation, for a session that authenticated with
    /// a key: on a change the session asks [`Dialect::still_authorized`] at once.
    fn revocations(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Whether the key the session authenticated with is still live.
    fn still_authorized(&self) -> bool {
        true
    }
}

/// The next revocation (never, without a watch or once its sender is gone).
async fn revoked(rx: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    if let Some(r) = rx {
        if r.changed().await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

/// Drive one session until the client leaves, idles, falls behind, or the dialect ends it.
pub async fn run<D: Dialect>(
    mut d: D,
    mut inbox: Inbox<D::Event>,
    mut ws: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
) {
    d.stats().connections.fetch_add(1, Relaxed);
    WS.connections.increment(1.0);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut last_seen = Instant::now();
    let mut closing = d.stats().closing.subscribe();
    let mut revocations = d.revocations();
    let reason = loop {
        if *closing.borrow_and_update() {
            break Some(going_away());
        }
        tokio::select! {
            _ = closing.changed() => break Some(going_away()),
            _ = revoked(&mut revocations) => {
                if !d.still_authorized() {
                    break Some(CloseReason { code: CloseCode::Policy, description: Some("API key revoked".into()) });
                }
            }
            frame = stream.recv() => {
                last_seen = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let authenticated = d.account().is_some();
                        if let Some(reply) = d.on_text(&text) {
                            WS.sent("control"); // counted before the write: a reader sees it
                            if send(&mut ws, reply).await.is_err() { break None; }
                        }
                        // Just authenticated: watch revocations from now on (and catch one
                        // that came between the check and the watch).
                        if !authenticated && d.account().is_some() {
                            revocations = d.revocations();
                            if !d.still_authorized() {
                                break Some(CloseReason { code: CloseCode::Policy, description: Some("API key revoked".into()) });
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        if let Some(reply) = d.on_binary() {
                            if send(&mut ws, reply).await.is_err() { break None; }
                        }
                    }
                    Some(Ok(Message::Ping(p))) => { if ws.pong(&p).await.is_err() { break None; } }
                    Some(Ok(Message::Close(r))) => break r,
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break None,
                }
            }
            item = inbox.rx.recv() => match item {
                Some(Out::Text(t, channel)) => {
                    WS.sent(channel);
                    if send(&mut ws, t.as_ref()).await.is_err() {
                        break Some(slow());
                    }
                    d.stats().messages.fetch_add(1, Relaxed);
                }
                Some(Out::Event(e)) => {
                    if let Some(r) = d.on_event(e) { break Some(r); }
                }
                None => break None,
            },
            _ = inbox.slow.notified() => break Some(slow()),
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > IDLE_TIMEOUT {
                    break Some(CloseReason { code: CloseCode::Normal, description: Some("idle timeout".into()) });
                }
                if ws.ping(b"").await.is_err() { break None; }
            }
        }
    };
    finish(d, ws, reason).await;
}

/// End a session: the dialect's subscriptions, the slow-consumer count and log, the
/// connection gauges, and the close frame with `reason`.
async fn finish<D: Dialect>(mut d: D, ws: actix_ws::Session, reason: Option<CloseReason>) {
    let (subscriptions, private) = d.end();
    if private {
        // Aborted forwarders drop their receivers when the runtime next runs them; then the
        // account's private channel may have no listener left: let the map forget it.
        actix_web::rt::task::yield_now().await;
        d.forget_private();
    }
    if reason.as_ref().is_some_and(|r| r.code == CloseCode::Policy) {
        WS.slow_consumers.increment(1);
        d.stats().slow_consumers.fetch_add(1, Relaxed);
        tracing::warn!(
            dialect = D::NAME,
            account = d.account().map(|a| a.0),
            subscriptions,
            "websocket slow consumer closed"
        );
    }
    d.stats().connections.fetch_sub(1, Relaxed);
    WS.connections.decrement(1.0);
    // The close frame may not get through a full socket; dropping the session ends it anyway.
    let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(reason)).await;
}

/// The server is stopping (1012: clients should reconnect after a pause).
fn going_away() -> CloseReason {
    CloseReason {
        code: CloseCode::Restart,
        description: Some("server shutting down".into()),
    }
}

fn slow() -> CloseReason {
    CloseReason {
        code: CloseCode::Policy,
        description: Some("slow consumer".into()),
    }
}

/// Write one message, failing if the client does not take it within [`SEND_TIMEOUT`].
async fn send(ws: &mut actix_ws::Session, text: impl Into<String>) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, ws.text(text.into())).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full queue must still deliver the slow-consumer signal (it once went into the full
    /// queue and was lost, leaving a session that silently stopped receiving).
    #[tokio::test]
    async fn a_full_queue_signals_a_slow_consumer() {
        let (q, mut inbox) = queue::<()>(1);
        assert!(q.push("first".into(), "trades"));
        assert!(!q.push("second".into(), "trades"), "the queue holds one");
        tokio::time::timeout(Duration::from_secs(5), inbox.slow.notified())
            .await
            .expect("the signal is stored for the session loop");
        assert!(matches!(inbox.rx.recv().await, Some(Out::Text(t, "trades")) if &*t == "first"));
    }

    /// A dialect event keeps its place behind the messages queued before it.
    #[tokio::test]
    async fn an_event_follows_the_messages_queued_before_it() {
        let (q, mut inbox) = queue::<u8>(4);
        assert!(q.push("last words".into(), "account"));
        q.event(7).await;
        assert!(
            matches!(inbox.rx.recv().await, Some(Out::Text(t, "account")) if &*t == "last words")
        );
        assert!(matches!(inbox.rx.recv().await, Some(Out::Event(7))));
    }
}
