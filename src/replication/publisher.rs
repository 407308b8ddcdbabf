//! The primary's journal publisher: every committed entry `s` goes to `<prefix>.journal` as
//! stream message `s` (`Nats-Msg-Id = s`, `Nats-Expected-Last-Sequence = s − 1`), up to
//! [`WINDOW`] in flight, acknowledged in order. Entries come from the journal hook's channel;
//! whatever is missing there (dropped while the channel was full, or committed before this
//! process published it: a restart) is re-read from the journal, which keeps it until the
//! stream has it.
//!
//! # Invariants
//! - An entry counts as replicated (its held replies run, pruning may pass it) only when the
//!   stream acknowledged it as message `s`, or a later check found the stream's message `s`
//!   byte-equal to it.
//! - A refusal (`wrong last sequence`, or a duplicate or sequence that is not ours) means
//!   another node extended the stream: this node is fenced at once and for good; held
//!   replies fail, the HTTP layer answers `503 NOT_PRIMARY`.
//! - Transient errors (no quorum, timeouts, a lost connection) are retried for ever with
//!   back-off; with durability "replicated" replies wait meanwhile.

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, StreamExt};

use super::hook::{Feed, Hook};
use super::stream::{bounds, header, message, Nats, PRIMARY_HEADER};
use super::Status;
use crate::persistence::{JournalReader, JournalStats};

/// Messages in flight (published, not yet acknowledged) at most.
pub const WINDOW: usize = 1024;
/// Entries re-read from the journal at a time.
const READ_CHUNK: usize = 4096;

type AckFuture = BoxFuture<'static, (u64, Result<PublishAck, PublishError>)>;

/// The publisher's inputs.
pub struct Publisher {
    pub nats: Nats,
    pub stream: stream::Stream,
    pub subject: String,
    pub status: Arc<Status>,
    pub hook: Arc<Hook>,
    pub reader: JournalReader,
    pub feed: Feed,
    pub stats: Arc<JournalStats>,
    /// The next journal sequence to publish (the stream's last + 1).
    pub next: u64,
}

/// An entry on its way: sequence, payload, when it was committed (for the lag).
struct Out {
    seq: u64,
    bytes: Bytes,
    since: Instant,
}

struct State {
    /// Entries to publish, in order.
    pending: VecDeque<Out>,
    /// Published, waiting for their acknowledgements (same order as `acks`).
    inflight: VecDeque<Out>,
    acks: FuturesOrdered<AckFuture>,
    /// The last sequence put in `pending` (or further).
    queued_upto: u64,
    /// The last sequence the stream acknowledged.
    acked: u64,
}

/// Why the publisher stopped.
#[derive(Debug)]
pub enum Stopped {
    /// Another node extended the stream.
    Fenced(String),
    /// The journal could not be read.
    Journal(String),
}

impl Publisher {
    /// Publish until fenced.
    pub async fn run(mut self) -> Stopped {
        let mut st = State {
            pending: VecDeque::new(),
            inflight: VecDeque::new(),
            acks: FuturesOrdered::new(),
            queued_upto: self.next - 1,
            acked: self.next - 1,
        };
        self.hook.release(st.acked);
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        let mut backoff = Duration::from_millis(100);
        loop {
            if let Err(e) = self.fill(&mut st) {
                return Stopped::Journal(e);
            }
            while st.inflight.len() < WINDOW {
                let Some(out) = st.pending.pop_front() else {
                    break;
                };
                match self.publish(out.seq, out.bytes.clone()).await {
                    Ok(f) => {
                        st.acks.push_back(f);
                        st.inflight.push_back(out);
                    }
                    Err(e) => {
                        st.pending.push_front(out);
                        tracing::warn!(error = %e, "replication: publish failed; will retry");
                        if let Some(s) = self.recover(&mut st, &mut backoff).await {
                            return s;
                        }
                        break;
                    }
                }
            }
            tokio::select! {
                Some((seq, r)) = st.acks.next(), if !st.acks.is_empty() => {
                    let out = st.inflight.pop_front().expect("one in flight per ack future");
                    debug_assert_eq!(out.seq, seq);
                    match r {
                        Ok(ack) if ack.sequence == seq && !ack.duplicate => {
                            st.acked = seq;
                            backoff = Duration::from_millis(100);
                            self.hook.release(seq);
                        }
                        r => {
                            st.inflight.push_front(out);
                            let why = match &r {
                                Ok(a) => format!("stream answered sequence {} (duplicate: {}) for entry {seq}", a.sequence, a.duplicate),
                                Err(e) => e.to_string(),
                            };
                            let refused = matches!(&r, Err(e) if e.kind() == PublishErrorKind::WrongLastSequence);
                            tracing::warn!(seq, why, "replication: entry not stored as sent; checking the stream");
                            if !refused {
                                tokio::time::sleep(backoff).await;
                            }
                            if let Some(s) = self.recover(&mut st, &mut backoff).await {
                                return s;
                            }
                        }
                    }
                }
                Some(v) = self.feed.rx.recv() => {
                    self.feed.taken(&v);
                    if let Err(e) = self.take(&mut st, v) {
                        return Stopped::Journal(e);
                    }
                }
                _ = tick.tick() => {}
            }
            self.report(&st);
        }
    }

    fn report(&self, st: &State) {
        let local = self
            .stats
            .durable_upto
            .load(Ordering::Acquire)
            .max(st.queued_upto);
        let age = st
            .inflight
            .front()
            .or(st.pending.front())
            .map_or(0.0, |o| o.since.elapsed().as_secs_f64());
        self.status.set_lag(local.saturating_sub(st.acked), age);
        self.status.stream_last.store(st.acked, Ordering::Release);
    }

    /// Queue entries from the hook's channel, reading any gap before them from the journal.
    fn take(&self, st: &mut State, v: Vec<(u64, Vec<u8>)>) -> Result<(), String> {
        let now = Instant::now();
        for (seq, bytes) in v {
            if seq <= st.queued_upto {
                continue;
            }
            if seq > st.queued_upto + 1 {
                self.read_upto(st, seq - 1)?;
            }
            st.pending.push_back(Out {
                seq,
                bytes: Bytes::from(bytes),
                since: now,
            });
            st.queued_upto = seq;
        }
        Ok(())
    }

    /// Entries committed but neither queued nor on their way through the channel (dropped,
    /// or from before this process): read them from the journal.
    fn fill(&self, st: &mut State) -> Result<(), String> {
        let durable = self.stats.durable_upto.load(Ordering::Acquire);
        if durable > st.queued_upto && (self.hook.take_dropped() || self.feed.rx.is_empty()) {
            self.read_upto(st, durable.min(st.queued_upto + READ_CHUNK as u64))?;
        }
        Ok(())
    }

    fn read_upto(&self, st: &mut State, upto: u64) -> Result<(), String> {
        let now = Instant::now();
        while st.queued_upto < upto {
            let want = (upto - st.queued_upto).min(READ_CHUNK as u64) as usize;
            let got = self
                .reader
                .entries(st.queued_upto, want)
                .map_err(|e| e.to_string())?;
            let Some(&(first, _)) = got.first() else {
                return Err(format!(
                    "journal entry {} is gone before the stream had it",
                    st.queued_upto + 1
                ));
            };
            if first != st.queued_upto + 1 {
                return Err(format!(
                    "journal entry {} is gone before the stream had it",
                    st.queued_upto + 1
                ));
            }
            for (seq, bytes) in got {
                st.pending.push_back(Out {
                    seq,
                    bytes: Bytes::from(bytes),
                    since: now,
                });
                st.queued_upto = seq;
            }
        }
        Ok(())
    }

    async fn publish(&self, seq: u64, bytes: Bytes) -> Result<AckFuture, PublishError> {
        let mut h = HeaderMap::new();
        h.insert(NATS_MESSAGE_ID, seq.to_string().as_str());
        h.insert(NATS_EXPECTED_LAST_SEQUENCE, (seq - 1).to_string().as_str());
        h.insert(PRIMARY_HEADER, self.status.advertise.as_str());
        let f = self
            .nats
            .js
            .publish_with_headers(self.subject.clone(), h, bytes)
            .await?;
        Ok(Box::pin(async move { (seq, f.into_future().await) }))
    }

    /// After an unexpected answer: forget the acknowledgements in flight, look at the stream,
    /// count as replicated what it holds of ours, and go on after its last message, or stop
    /// (fenced) if it holds something else.
    async fn recover(&self, st: &mut State, backoff: &mut Duration) -> Option<Stopped> {
        st.acks = FuturesOrdered::new();
        while let Some(o) = st.inflight.pop_back() {
            st.pending.push_front(o);
        }
        loop {
            match self.check(st).await {
                Ok(None) => return None,
                Ok(Some(why)) => return Some(self.fenced(why).await),
                Err(e) => {
                    tracing::warn!(error = %e, "replication: the stream is unavailable; retrying");
                    tokio::time::sleep(*backoff).await;
                    *backoff = (*backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// `Ok(Some(reason))`: fenced.
    async fn check(&self, st: &mut State) -> Result<Option<String>, super::stream::ReplError> {
        let (_, last) = bounds(&self.stream).await?;
        if last < st.acked {
            return Ok(Some(format!(
                "the stream ends at {last} but acknowledged {} (purged or replaced?)",
                st.acked
            )));
        }
        while st.acked < last {
            let seq = st.acked + 1;
            let Some(ours) = st.pending.front().filter(|o| o.seq == seq) else {
                return Ok(Some(format!(
                    "the stream has message {seq}, which this node never published"
                )));
            };
            let theirs = message(&self.stream, seq).await?;
            match theirs {
                Some(m) if m.payload == ours.bytes => {
                    st.acked = seq;
                    st.pending.pop_front();
                    self.hook.release(seq);
                }
                _ => {
                    return Ok(Some(format!(
                        "stream message {seq} was published by another node"
                    )))
                }
            }
        }
        Ok(None)
    }

    async fn fenced(&self, why: String) -> Stopped {
        if let Ok((_, last)) = bounds(&self.stream).await {
            if let Ok(Some(m)) = message(&self.stream, last).await {
                let p = header(&m.headers, PRIMARY_HEADER).map(str::to_owned);
                self.status.set_primary(p);
            }
        }
        tracing::error!(
            reason = %why,
            primary = self.status.primary().as_deref().unwrap_or("unknown"),
            "replication: fenced: another node is primary; this node refuses writes from now on"
        );
        self.status.set_role(super::Role::Fenced);
        self.hook.fence();
        Stopped::Fenced(why)
    }
}
