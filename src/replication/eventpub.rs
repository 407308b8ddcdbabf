//! The primary's event publisher: follows the journal *stream* (so it only ever shows entries
//! that survive a failover), renders each entry ([`events::render`]) and publishes, per
//! journal stream message (a run of entries) and market, one JSON lines message to
//! `<prefix>.events.<symbol>` holding that market's lines of the whole run (`Nats-Msg-Id =
//! <last>.<symbol>`, `Perpx-Seq` = the run's last entry, `Perpx-Seq-First` its first), plus a book snapshot per market to `<prefix>.books.<symbol>` at most
//! every `book_snapshot_every` when the book changed (and once at start). It also relays each
//! market's ticker to core NATS `<prefix>.ticker.<symbol>` (not stored: it is a live view).
//!
//! # Invariants
//! - A snapshot message reflects exactly the events published before it in the events
//!   stream: a gateway that loads the last snapshot of a market and consumes that market's
//!   events after it rebuilds the book (see `gateway`).
//! - The level books start as the engines' books at journal sequence `books_at`; entries up to
//!   it are (re)published without touching them, and no snapshot is published before the
//!   publisher has passed `books_at`.
//! - After a restart or a failover it resumes after the last entry the events stream has
//!   (`Perpx-Seq` of its last message); a message published twice is dropped by JetStream's
//!   de-duplication within the window, and consumers de-duplicate by `(symbol, Perpx-Seq)`.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::header::NATS_MESSAGE_ID;
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::stream;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};

use super::events::{self, LevelBook, LEDGER_SYMBOL, SNAPSHOT_LEVELS};
use super::frame;
use super::stream::{bounds, header, message, nats, Nats, ReplError, SEQ_HEADER};
use super::{Role, Status};
use crate::actors::feed::{Event, MarketFeed, Native};
use crate::config::ReplicationConfig;
use crate::domain::MarketSpec;
use crate::persistence::codec;

/// The event publisher's inputs.
pub struct EventPublisher {
    pub nats: Nats,
    pub cfg: ReplicationConfig,
    pub journal: stream::Stream,
    pub events: stream::Stream,
    pub specs: Vec<MarketSpec>,
    /// The books at journal sequence `books_at`.
    pub books: Vec<LevelBook>,
    pub books_at: u64,
    pub status: Arc<Status>,
    /// Messages published and not yet acknowledged (start with `Default::default()`).
    pub window: Window,
}

/// The last journal sequence the events stream has rendered (0: none).
pub async fn watermark(events: &stream::Stream) -> Result<Option<u64>, ReplError> {
    let (_, last) = bounds(events).await?;
    if last == 0 {
        return Ok(None);
    }
    Ok(message(events, last)
        .await?
        .and_then(|m| header(&m.headers, SEQ_HEADER).and_then(|s| s.parse().ok())))
}

impl EventPublisher {
    /// Publish until this node stops being primary.
    pub async fn run(mut self) -> Result<(), ReplError> {
        let mut done = match watermark(&self.events).await? {
            Some(w) => w,
            None => self.books_at,
        };
        let every = self.cfg.book_snapshot_every;
        let mut last_snapshot = Instant::now();
        if done >= self.books_at {
            self.snapshots(done, true).await?;
        }
        let mut tick = tokio::time::interval(COALESCE);
        // Lines rendered and not yet published: gathered over runs for up to [`COALESCE`].
        let mut lines = Lines::default();
        'consumer: loop {
            let start = match super::stream::position(&self.journal, done + 1).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "events: cannot locate the journal stream's position; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'consumer;
                }
            };
            let consumer = self
                .journal
                .create_consumer(pull::OrderedConfig {
                    filter_subject: self.cfg.journal_subject(),
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: start,
                    },
                    ..Default::default()
                })
                .await
                .map_err(nats)?;
            let mut msgs = consumer.messages().await.map_err(nats)?;
            loop {
                if self.status.role() != Role::Primary {
                    return Ok(());
                }
                tokio::select! {
                    m = msgs.next() => {
                        let Some(Ok(m)) = m else {
                            tracing::warn!("events: journal consumer ended; recreating");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue 'consumer;
                        };
                        let at = m.info().map_err(nats)?.stream_sequence;
                        let run = frame::of_message(m.headers.as_ref(), &m.payload, at)
                            .map_err(|e| ReplError::Journal(format!("stream message {at}: {e}")))?;
                        if run.last() <= done {
                            continue;
                        }
                        for (seq, bytes) in run.iter() {
                            if seq <= done {
                                continue;
                            }
                            self.entry(seq, bytes, &mut lines)?;
                            done = seq;
                            if done == self.books_at {
                                // The snapshot must follow exactly the events before it.
                                self.flush(&mut lines).await?;
                                self.snapshots(done, true).await?;
                                last_snapshot = Instant::now();
                            }
                        }
                        if lines.bytes >= COALESCE_BYTES {
                            self.flush(&mut lines).await?;
                        }
                    }
                    _ = tick.tick() => {
                        self.flush(&mut lines).await?;
                        self.settle_ready().await;
                        if done >= self.books_at && last_snapshot.elapsed() >= every {
                            self.snapshots(done, false).await?;
                            last_snapshot = Instant::now();
                        }
                    }
                }
            }
        }
    }

    /// Render journal entry `seq` into `lines`.
    fn entry(&mut self, seq: u64, payload: &[u8], lines: &mut Lines) -> Result<(), ReplError> {
        let b = codec::decode(payload)
            .map_err(|e| ReplError::Journal(format!("journal entry {seq}: {e}")))?;
        if seq > self.books_at {
            if let Some(book) = b.market.and_then(|m| self.books.get_mut(m.index())) {
                book.apply(&b.market_events);
            }
        }
        let rendered = events::render(seq, &b, &self.specs, self.cfg.private_events);
        for (market, l) in rendered.lines {
            lines.bytes += l.iter().map(|x| x.len() + 1).sum::<usize>();
            let slot = lines.by_market.entry(market).or_default();
            slot.0.get_or_insert(seq);
            slot.1 = seq;
            slot.2.extend(l);
        }
        Ok(())
    }

    /// Publish the lines gathered so far: one message per market.
    async fn flush(&mut self, lines: &mut Lines) -> Result<(), ReplError> {
        lines.bytes = 0;
        for (market, (first, last, l)) in std::mem::take(&mut lines.by_market) {
            let symbol = match market {
                Some(i) => self.specs[i].symbol.as_str(),
                None => LEDGER_SYMBOL,
            };
            let subject = self.cfg.events_subject(symbol);
            let id = format!("{last}.{symbol}");
            let first = first.unwrap_or(last);
            self.send(subject, id, (first, last), l.join("\n")).await?;
        }
        Ok(())
    }

    /// Publish the snapshots of changed books (all: `force`), as of journal sequence `seq`.
    async fn snapshots(&mut self, seq: u64, force: bool) -> Result<(), ReplError> {
        // Everything before the snapshot is stored first (stream order = book order).
        self.settle_all().await;
        for i in 0..self.books.len() {
            if !(force || self.books[i].changed) {
                continue;
            }
            let body = self.books[i].snapshot(&self.specs[i], SNAPSHOT_LEVELS);
            self.books[i].changed = false;
            let symbol = self.specs[i].symbol.clone();
            let subject = self.cfg.books_subject(&symbol);
            let id = format!("b{seq}.{symbol}");
            self.send(subject, id, (seq, seq), body).await?;
        }
        Ok(())
    }

    /// Publish one message; up to [`EVENTS_WINDOW`] wait for their acknowledgements at once.
    async fn send(
        &mut self,
        subject: String,
        id: String,
        (first, seq): (u64, u64),
        body: String,
    ) -> Result<(), ReplError> {
        while self.window.len() >= EVENTS_WINDOW {
            self.settle_one().await;
        }
        let mut h = HeaderMap::new();
        h.insert(NATS_MESSAGE_ID, id.as_str());
        h.insert(SEQ_HEADER, seq.to_string().as_str());
        if first != seq {
            h.insert(FIRST_SEQ_HEADER, first.to_string().as_str());
        }
        let msg = Pending {
            subject,
            headers: h,
            body: Bytes::from(body),
        };
        let f = self
            .nats
            .js
            .publish_with_headers(msg.subject.clone(), msg.headers.clone(), msg.body.clone())
            .await;
        let fut: BoxFuture<'static, Result<(), ReplError>> = match f {
            Ok(f) => Box::pin(async move { f.await.map(drop).map_err(nats) }),
            Err(e) => Box::pin(std::future::ready(Err(nats(e)))),
        };
        self.window
            .push_back(Box::pin(async move { (msg, fut.await) }));
        Ok(())
    }

    /// Wait for the oldest acknowledgement; a failed message is sent again until stored (its
    /// id makes a repeat harmless; it then lands after later ones, which consumers tolerate:
    /// they skip what a snapshot or an earlier message already covered).
    async fn settle_one(&mut self) {
        if let Some(item) = self.window.next().await {
            self.handle(item).await;
        }
    }

    async fn handle(&mut self, (msg, r): (Pending, Result<(), ReplError>)) {
        let Err(e) = r else {
            self.status.events_stored(msg.body.len());
            return;
        };
        tracing::warn!(error = %e, subject = %msg.subject, "events: publish failed; retrying");
        let mut backoff = Duration::from_millis(25);
        loop {
            if self.status.role() != Role::Primary {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(super::publisher::RETRY);
            let f = self
                .nats
                .js
                .publish_with_headers(msg.subject.clone(), msg.headers.clone(), msg.body.clone())
                .await;
            if let Ok(f) = f {
                let ack = tokio::time::timeout(super::publisher::ACK_TIMEOUT, f.into_future());
                if let Ok(Ok(_)) = ack.await {
                    self.status.events_stored(msg.body.len());
                    return;
                }
            }
        }
    }

    /// Settle the acknowledgements that have arrived (idle: nothing pushes the window).
    async fn settle_ready(&mut self) {
        while let Some(Some(item)) = self.window.next().now_or_never() {
            self.handle(item).await;
        }
    }

    /// Wait until everything published so far is stored.
    async fn settle_all(&mut self) {
        while !self.window.is_empty() {
            self.settle_one().await;
        }
    }
}

/// Header of an events message covering several journal entries: the first of them
/// (`Perpx-Seq` is the last).
pub const FIRST_SEQ_HEADER: &str = "Perpx-Seq-First";

/// Rendered lines per market (`None`: the ledger): first and last entry, lines; and their
/// size.
#[derive(Default)]
struct Lines {
    by_market: std::collections::BTreeMap<Option<usize>, (Option<u64>, u64, Vec<String>)>,
    bytes: usize,
}

/// Events are gathered over runs for at most this long before they are published (one
/// message per market): fewer, larger messages for the stream to store (each costs every
/// replica a write and an fsync), at the price of this much delay for gateways.
pub const COALESCE: Duration = Duration::from_millis(20);
/// ... or until they are this large.
const COALESCE_BYTES: usize = 512 << 10;

/// Events messages waiting for their acknowledgement at most.
pub const EVENTS_WINDOW: usize = 1024;

/// A message kept until the stream stored it.
pub struct Pending {
    subject: String,
    headers: HeaderMap,
    body: Bytes,
}

type Window = FuturesOrdered<BoxFuture<'static, (Pending, Result<(), ReplError>)>>;

/// Relay each market's ticker (the primary's, ≤ 10 per second) to core NATS while primary.
pub fn relay_tickers(
    n: &Nats,
    cfg: &ReplicationConfig,
    feeds: &[Arc<MarketFeed>],
    status: Arc<Status>,
) {
    for feed in feeds {
        let mut rx = feed.ticker.subscribe();
        let client = n.client.clone();
        let subject = cfg.ticker_subject(&feed.symbol);
        let status = Arc::clone(&status);
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(m) => {
                        if status.role() != Role::Primary {
                            return;
                        }
                        let _ = client
                            .publish(
                                subject.clone(),
                                Bytes::copy_from_slice(m.native().as_bytes()),
                            )
                            .await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
}

/// Inject the primary's ticker into this node's feeds while it is not primary (followers:
/// their markets have no index or funding data of their own).
pub fn inject_tickers(
    n: &Nats,
    cfg: &ReplicationConfig,
    feeds: Vec<Arc<MarketFeed>>,
    status: Arc<Status>,
) {
    let client = n.client.clone();
    let prefix = format!("{}.ticker.", cfg.subject_prefix);
    tokio::spawn(async move {
        let Ok(mut sub) = client.subscribe(format!("{prefix}*")).await else {
            tracing::warn!("replication: cannot subscribe to the primary's ticker");
            return;
        };
        while let Some(m) = sub.next().await {
            if status.role() == Role::Primary {
                return;
            }
            let symbol = m.subject.as_str().strip_prefix(&prefix).unwrap_or("");
            if let (Some(f), Ok(text)) = (
                feeds.iter().find(|f| f.symbol == symbol),
                std::str::from_utf8(&m.payload),
            ) {
                // Relayed as received; the typed fields are read back for whoever needs them.
                if let Ok(t) = serde_json::from_str(text) {
                    let e = Event::with_native(Arc::clone(&f.spec), t, text.into());
                    let _ = f.ticker.send(e);
                }
            }
        }
    });
}
