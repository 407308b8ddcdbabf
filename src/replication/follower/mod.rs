//! A follower (`perpx --follow`): consumes `<prefix>.journal` from the run holding the entry
//! after its own journal's last, appends each entry to its journal with the same sequence,
//! and applies it to its actors (`actors::account::follow`), which serve reads and the public
//! WebSocket.
//!
//! Promotion ([`Follower::run`] on a [`PromoteRequest`], or by itself with `auto_promote`
//! when the primary's heartbeat has been silent that long and the whole stream is applied):
//! drain the stream to its last message `m`, make the local journal durable and the actors
//! current, then publish a *fence*: a run of one empty journal entry `s` with
//! `Nats-Expected-Last-Sequence = m`. If the stream accepts it, no other node can extend the
//! stream any more (their next publish expects an older last message and is refused), and
//! this node becomes primary; if another node published first, a requested promotion drains
//! again and retries, an automatic one gives up and keeps following (the primary is alive,
//! or another follower won).
//!
//! # Invariants
//! - Entry `s` is applied and appended only after `s − 1`, once.
//! - The fence is appended locally only after the stream stored it, so a failed promotion
//!   leaves the data directory a prefix of the stream.
//! - An automatic promotion fences only the stream it drained, and gives up when that drain
//!   brought a message of another term (another node's fence): of several followers that try
//!   at once, exactly one fence lands and the others keep following it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::stream;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::frame;
mod promote;

use super::hook::Hook;
use super::stream::{header, nats, Nats, ReplError, KEY_HEADER, PRIMARY_HEADER};
use super::{Role, Status};
use crate::actors::account::follow::FollowBatch;
use crate::actors::Exchange;
use crate::config::ReplicationConfig;
use crate::persistence::codec;
use crate::persistence::Journal;

/// Ask a follower to take over; answered when it is primary (or why it is not).
pub struct PromoteRequest {
    pub reply: oneshot::Sender<Result<PromoteReport, ReplError>>,
}

/// How a promotion went.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PromoteReport {
    /// The fence's journal sequence: this node's writes follow it.
    pub fence_seq: u64,
    /// Stream entries applied while draining.
    pub drained: u64,
    pub took_ms: u64,
    /// The committed entry the primary's last heartbeat announced (`None`: none heard).
    pub last_head_seq: Option<u64>,
    /// Entries that heartbeat announced committed and the stream does not have: what the old
    /// primary acknowledged (durability `immediate`/`relaxed`) and this group lost.
    pub missing: u64,
    /// `true`: started by `auto_promote`.
    pub automatic: bool,
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
    /// The next stream message to consume (set by `run`).
    pub pos: u64,
    /// The stream's last journal entry as far as known.
    pub stream_last: u64,
    /// Messages the consumer reported pending after the last one delivered.
    pub pending: u64,
    /// The term (`Nats-Msg-Id`) of the last message applied: a new one means a new primary.
    pub term: Option<u64>,
}

type Messages = pull::Ordered;

impl Follower {
    /// Follow until promoted (returns) or until an entry cannot be applied (error).
    pub async fn run(mut self) -> Result<Promoted, ReplError> {
        self.pos = self.locate().await?;
        let mut tick = tokio::time::interval(super::heartbeat::EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = 0u64;
        loop {
            let mut msgs = self.consume().await;
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
                        match self.promote(&mut msgs, started, false).await {
                            Ok(p) => {
                                let _ = req.reply.send(Ok(p.report.clone()));
                                return Ok(p);
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "promotion failed; still a follower");
                                self.status.set_role(Role::Follower);
                                let _ = req.reply.send(Err(e));
                            }
                        }
                    },
                    _ = tick.tick() => {
                        ticks += 1;
                        self.report(ticks.is_multiple_of(10)).await;
                        if let Some(p) = self.maybe_auto_promote(&mut msgs).await {
                            return Ok(p);
                        }
                    }
                }
            }
        }
    }

    /// The stream message holding entry `next` (or the one after the stream's last).
    async fn locate(&self) -> Result<u64, ReplError> {
        let mut wait = Duration::from_millis(100);
        loop {
            match super::stream::position(&self.stream, self.next).await {
                Ok(p) => return Ok(p),
                Err(ReplError::Nats(e)) => {
                    tracing::warn!(error = %e, "follower: the stream is unavailable; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// An ordered consumer from `pos` (retried while the stream is unavailable).
    async fn consume(&self) -> Messages {
        let mut wait = Duration::from_millis(100);
        loop {
            let r = async {
                self.stream
                    .create_consumer(pull::OrderedConfig {
                        filter_subject: self.cfg.journal_subject(),
                        deliver_policy: DeliverPolicy::ByStartSequence {
                            start_sequence: self.pos,
                        },
                        ..Default::default()
                    })
                    .await
                    .map_err(nats)?
                    .messages()
                    .await
                    .map_err(nats)
            }
            .await;
            match r {
                Ok(m) => return m,
                Err(e) => {
                    tracing::warn!(error = %e, "follower: cannot consume the stream; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Publish the lag figures; `poll`: also ask the stream for its last entry when no
    /// heartbeat told it lately.
    async fn report(&mut self, poll: bool) {
        if let Some(h) = self.status.last_head() {
            self.stream_last = self.stream_last.max(h.replicated);
        }
        if poll && self.status.silence() > Duration::from_secs(1) {
            if let Ok(Some(t)) = super::stream::tail(&self.stream).await {
                self.stream_last = t.last;
            }
        }
        self.status.follower_lag(self.next - 1, self.stream_last);
    }

    /// Append and apply the entries of stream message `m` (a run) not applied yet.
    fn apply(&mut self, m: &async_nats::jetstream::Message) -> Result<(), ReplError> {
        let info = m.info().map_err(nats)?;
        let at = info.stream_sequence;
        if at < self.pos {
            return Ok(());
        }
        self.pending = info.pending;
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
        if let Some(t) = m
            .headers
            .as_ref()
            .and_then(|h| header(h, "Nats-Msg-Id"))
            .and_then(super::publisher::term_of)
        {
            self.term = Some(t);
        }
        let run = frame::of_message(m.headers.as_ref(), &m.payload, at)
            .map_err(|e| ReplError::Journal(format!("stream message {at}: {e}")))?;
        for (seq, bytes) in run.iter() {
            if seq < self.next {
                continue;
            }
            if seq > self.next {
                return Err(ReplError::Refused(format!(
                    "stream message {at} starts at entry {seq} while {} was expected",
                    self.next
                )));
            }
            self.append(seq, bytes)?;
        }
        self.pos = at + 1;
        // The stream grew: some primary is alive (a new one may not beat yet).
        self.status.reset_silence();
        self.stream_last = if info.pending == 0 {
            run.last()
        } else {
            self.stream_last.max(run.last())
        };
        Ok(())
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
}
