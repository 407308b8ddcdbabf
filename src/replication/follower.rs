//! A follower (`perpx --follow`): consumes `<prefix>.journal` from the entry after its own
//! journal's last, appends each entry to its journal with the same sequence, and applies it
//! to its actors (`actors::account::follow`), which serve reads and the public WebSocket.
//!
//! Promotion ([`Follower::run`] on a [`PromoteRequest`]): drain the stream to its last
//! message, make the local journal durable and the actors current, then publish a *fence*:
//! an empty journal entry `s` with `Nats-Expected-Last-Sequence = s − 1`. If the stream
//! accepts it, no other node can extend the stream any more (their next publish expects an
//! older last sequence and is refused), and this node becomes primary; if another node
//! published first, drain again and retry.
//!
//! # Invariants
//! - Entry `s` is applied and appended only after `s − 1`, once.
//! - The fence is appended locally only after the stream stored it, so a failed promotion
//!   leaves the data directory a prefix of the stream.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::hook::Hook;
use super::stream::{bounds, header, nats, Nats, ReplError, KEY_HEADER, PRIMARY_HEADER};
use super::{now_ms, Role, Status};
use crate::actors::account::follow::{Barrier, FollowBatch, Promote};
use crate::actors::market::{MarketQuery, MarketView};
use crate::actors::Exchange;
use crate::config::ReplicationConfig;
use crate::persistence::codec::{self, Batch};
use crate::persistence::Journal;

/// Ask a follower to take over; answered when it is primary (or why it is not).
pub struct PromoteRequest {
    pub reply: oneshot::Sender<Result<PromoteReport, String>>,
}

/// How a promotion went.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PromoteReport {
    /// The fence's journal sequence: this node's writes follow it.
    pub fence_seq: u64,
    /// Stream entries applied while draining.
    pub drained: u64,
    pub took_ms: u64,
}

/// What a promoted follower hands to the primary's publishers.
pub struct Promoted {
    pub report: PromoteReport,
    pub books: Vec<super::events::LevelBook>,
}

/// The follower's inputs.
pub struct Follower {
    pub nats: Nats,
    pub cfg: ReplicationConfig,
    pub stream: stream::Stream,
    pub status: Arc<Status>,
    pub hook: Arc<Hook>,
    pub journal: Arc<Journal>,
    pub ex: Arc<Exchange>,
    /// The next journal sequence to apply (local last + 1).
    pub next: u64,
    pub requests: mpsc::UnboundedReceiver<PromoteRequest>,
}

type Messages = pull::Ordered;

impl Follower {
    /// Follow until promoted (returns) or until an entry cannot be applied (error).
    pub async fn run(mut self) -> Result<Promoted, ReplError> {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            let mut msgs = self.consume().await?;
            loop {
                tokio::select! {
                    m = msgs.next() => match m {
                        Some(Ok(m)) => self.apply(&m)?,
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "follower: stream consumer failed; recreating");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            break;
                        }
                        None => break,
                    },
                    Some(req) = self.requests.recv() => {
                        let started = Instant::now();
                        match self.promote(&mut msgs, started).await {
                            Ok(p) => {
                                let _ = req.reply.send(Ok(p.report.clone()));
                                return Ok(p);
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "promotion failed; still a follower");
                                self.status.set_role(Role::Follower);
                                let _ = req.reply.send(Err(e.to_string()));
                            }
                        }
                    },
                    _ = tick.tick() => self.report().await,
                }
            }
        }
    }

    async fn consume(&self) -> Result<Messages, ReplError> {
        let consumer = self
            .stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: self.cfg.journal_subject(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: self.next,
                },
                ..Default::default()
            })
            .await
            .map_err(nats)?;
        consumer.messages().await.map_err(nats)
    }

    async fn report(&self) {
        if let Ok((_, last)) = bounds(&self.stream).await {
            self.status
                .stream_last
                .store(last, std::sync::atomic::Ordering::Release);
            let behind = last.saturating_sub(self.next - 1);
            if behind == 0 {
                self.status.set_lag(0, 0.0);
            }
        }
    }

    /// Append and apply stream message `m` (journal entry `m`'s sequence).
    fn apply(&mut self, m: &async_nats::jetstream::Message) -> Result<(), ReplError> {
        let info = m.info().map_err(nats)?;
        let seq = info.stream_sequence;
        if seq < self.next {
            return Ok(());
        }
        if seq > self.next {
            return Err(ReplError::Refused(format!(
                "stream message {seq} arrived while {} was expected",
                self.next
            )));
        }
        if let Some(h) = m.headers.as_ref().and_then(|h| header(h, PRIMARY_HEADER)) {
            if self.status.primary().as_deref() != Some(h) {
                self.status.set_primary(Some(h.to_owned()));
            }
        }
        if let Some(k) = m.headers.as_ref().and_then(|h| header(h, KEY_HEADER)) {
            let mismatch = k != self.status.key_id();
            if mismatch
                && !self
                    .status
                    .key_mismatch
                    .swap(true, std::sync::atomic::Ordering::AcqRel)
            {
                tracing::error!("follower: the primary's master.key differs from this node's: API keys would stop working if this node took over; copy the primary's <data_dir>/master.key here (promotion is refused until then)");
            }
        }
        let published = info.published.unix_timestamp_nanos() / 1_000_000;
        let lag_s = (now_ms() as i128 - published).max(0) as f64 / 1000.0;
        self.status.set_lag(info.pending, lag_s);
        self.append(seq, &m.payload)
    }

    fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), ReplError> {
        let batch = codec::decode(payload)
            .map_err(|e| ReplError::Journal(format!("stream message {seq}: {e}")))?;
        let events = batch.len() as u32;
        let mut bytes = payload.to_vec();
        loop {
            match self.journal.try_append(bytes, events, None) {
                Ok(()) => break,
                Err(_)
                    if self
                        .journal
                        .stats()
                        .failed
                        .load(std::sync::atomic::Ordering::Acquire) =>
                {
                    return Err(ReplError::Journal("the local journal failed".into()));
                }
                // The queue is full: wait for the journal thread (backpressure).
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(1));
                    bytes = payload.to_vec();
                }
            }
        }
        self.ex.account.do_send(FollowBatch {
            seq,
            batch: Arc::new(batch),
        });
        self.next = seq + 1;
        self.status.set_replicated(seq);
        Ok(())
    }

    /// Drain, fence, become primary.
    async fn promote(
        &mut self,
        msgs: &mut Messages,
        started: Instant,
    ) -> Result<Promoted, ReplError> {
        if self
            .status
            .key_mismatch
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(ReplError::Refused(
                "this node's master.key differs from the primary's (API keys would stop working); copy the primary's <data_dir>/master.key here and restart".into(),
            ));
        }
        self.status.set_role(Role::Promoting);
        let from = self.next;
        for attempt in 1..=60 {
            let last = match bounds(&self.stream).await {
                Ok((_, last)) => last,
                Err(e) => {
                    tracing::warn!(error = %e, "promotion: the stream is unavailable; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            while self.next <= last {
                match tokio::time::timeout(Duration::from_secs(10), msgs.next()).await {
                    Ok(Some(Ok(m))) => self.apply(&m)?,
                    Ok(Some(Err(e))) => return Err(nats(e)),
                    Ok(None) | Err(_) => {
                        return Err(ReplError::Nats(format!(
                            "draining: no message {} within 10 s",
                            self.next
                        )))
                    }
                }
            }
            self.settle().await?;
            let fence = codec::encode(&Batch::ledger(Vec::new(), self.ex.clock.now()));
            let seq = self.next;
            let mut h = HeaderMap::new();
            // The fence opens term `seq` (see the publisher): its id is `seq.seq`.
            h.insert(NATS_MESSAGE_ID, super::publisher::msg_id(seq, seq).as_str());
            h.insert(NATS_EXPECTED_LAST_SEQUENCE, (seq - 1).to_string().as_str());
            h.insert(PRIMARY_HEADER, self.status.advertise.as_str());
            h.insert(KEY_HEADER, self.status.key_id().as_str());
            let ack = match self
                .nats
                .js
                .publish_with_headers(self.cfg.journal_subject(), h, Bytes::from(fence.clone()))
                .await
            {
                Ok(f) => f.into_future().await,
                Err(e) => Err(e),
            };
            match ack {
                Ok(a) if a.sequence == seq && !a.duplicate => {
                    self.append(seq, &fence)?;
                    self.settle().await?;
                    return self.take_over(seq, seq - from, started).await;
                }
                // Another node published first (or an earlier try of ours landed, which the
                // next drain applies like any entry): drain again and fence after it.
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    tracing::warn!(attempt, "promotion: the stream moved on; draining again");
                }
                Ok(a) => {
                    tracing::warn!(
                        attempt,
                        stored = a.sequence,
                        duplicate = a.duplicate,
                        "promotion: the fence was not stored as sent; draining again"
                    );
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "promotion: publishing the fence failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        Err(ReplError::Refused(
            "could not fence the stream in 60 attempts: is another primary still publishing, or is the stream without quorum?".into(),
        ))
    }

    /// Wait until the local journal has every applied entry durably and the actors applied it.
    async fn settle(&self) -> Result<(), ReplError> {
        let journal = Arc::clone(&self.journal);
        let durable = tokio::task::spawn_blocking(move || journal.flush())
            .await
            .map_err(|e| ReplError::Journal(e.to_string()))?
            .map_err(ReplError::Journal)?;
        if durable != self.next - 1 {
            return Err(ReplError::Journal(format!(
                "the local journal ends at {durable}, the stream's entries at {}",
                self.next - 1
            )));
        }
        let gone = |e: actix::MailboxError| ReplError::Journal(format!("actors: {e}"));
        self.ex.account.send(Barrier).await.map_err(gone)?;
        for m in &self.ex.markets {
            m.send(Barrier).await.map_err(gone)?;
        }
        Ok(())
    }

    /// The stream has the fence at `seq`: this node is the primary from here on.
    async fn take_over(
        &self,
        seq: u64,
        drained: u64,
        started: Instant,
    ) -> Result<Promoted, ReplError> {
        let gone = |e: actix::MailboxError| ReplError::Journal(format!("actors: {e}"));
        self.hook.release(seq);
        self.hook.start_publishing();
        let p = self.ex.account.send(Promote).await.map_err(gone)?;
        self.ex.risk.do_send(crate::actors::risk::Resume(p.marks));
        if !p.liquidating.is_empty() {
            self.ex
                .risk
                .do_send(crate::actors::messages::Liquidatable(p.liquidating));
        }
        self.ex.funding.do_send(crate::actors::funding::StartTimers);
        let mut books = Vec::with_capacity(self.ex.markets.len());
        for m in &self.ex.markets {
            m.send(crate::actors::market::follow::Promote)
                .await
                .map_err(gone)?;
            match m.send(MarketQuery::Depth(usize::MAX)).await.map_err(gone)? {
                MarketView::Depth(d) => books.push(super::events::LevelBook::from_depth(&d)),
                _ => return Err(ReplError::Journal("a market answered no depth".into())),
            }
        }
        self.status.set_role(Role::Primary);
        let report = PromoteReport {
            fence_seq: seq,
            drained,
            took_ms: started.elapsed().as_millis() as u64,
        };
        tracing::info!(?report, "promoted: this node is the primary");
        Ok(Promoted { report, books })
    }
}
