//! The primary's journal publisher: every committed entry `s` goes to `<prefix>.journal` as
//! stream message `s` (`Nats-Msg-Id = s.T`, `Nats-Expected-Last-Sequence = s − 1`), one at
//! a time ([`WINDOW`]). `T` is the primary's term: 0 for the first primary of a stream, the
//! fence's sequence for a promoted one, read back from the stream on a restart (so a
//! restarted primary's re-publishing is de-duplicated, and another primary's message `s` is
//! never mistaken for a duplicate of ours). Entries come from the journal hook's channel;
//! whatever is missing there (dropped while the channel was full, or committed before this
//! process published it: a restart) is re-read from the journal, which keeps it until the
//! stream has it.
//!
//! # Invariants
//! - An entry counts as replicated (its held replies run, pruning may pass it) only when the
//!   stream acknowledged it as message `s`, or a later check found the stream's message `s`
//!   byte-equal to it.
//! - A refusal (`wrong last sequence` or `wrong last msg id`, or a duplicate or sequence that
//!   is not ours) means another node extended the stream: this node is fenced at once and for
//!   good; held replies fail, the HTTP layer answers `503 NOT_PRIMARY`.
//! - One message in flight: with several, the sequence check alone would let our `s + 1`
//!   land right after another node's `s` (our `s` refused, theirs in its place), and
//!   `Nats-Expected-Last-Msg-Id`, which would catch that, makes a clustered nats-server 2.15
//!   stall the stream ("last msgid mismatch ... critical write error") when the race happens
//!   (seen in the partition test). So `s + 1` is sent only once the stream stored our `s`;
//!   a journal entry is one command, so this caps the publisher at one command per stream
//!   round trip (a few hundred per second on loopback; see docs/REPLICATION.md §10).
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
use super::stream::{bounds, header, message, Nats, KEY_HEADER, PRIMARY_HEADER};
use super::Status;
use crate::persistence::{JournalReader, JournalStats};

/// Messages in flight (published, not yet acknowledged) at most: one (see the module doc).
pub const WINDOW: usize = 1;
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
    /// This primary's term (see the module doc).
    term: u64,
}

/// The `Nats-Msg-Id` of journal entry `seq` published in term `term`.
pub fn msg_id(seq: u64, term: u64) -> String {
    format!("{seq}.{term}")
}

/// The term of a `Nats-Msg-Id` (`None`: not one of ours).
fn term_of(id: &str) -> Option<u64> {
    id.split_once('.').and_then(|(_, t)| t.parse().ok())
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
        let term = self
            .last_id(self.next - 1)
            .await
            .as_deref()
            .and_then(term_of)
            .unwrap_or(0);
        tracing::info!(
            term,
            from = self.next,
            "replication: publishing the journal"
        );
        let mut st = State {
            pending: VecDeque::new(),
            inflight: VecDeque::new(),
            acks: FuturesOrdered::new(),
            queued_upto: self.next - 1,
            acked: self.next - 1,
            term,
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
                match self.publish(out.seq, st.term, out.bytes.clone()).await {
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

    /// The `Nats-Msg-Id` of stream message `seq` (retried while the stream is unavailable;
    /// `None` if there is no such message).
    async fn last_id(&self, seq: u64) -> Option<String> {
        if seq == 0 {
            return None;
        }
        let mut wait = Duration::from_millis(100);
        loop {
            match message(&self.stream, seq).await {
                Ok(m) => {
                    return m.and_then(|m| header(&m.headers, "Nats-Msg-Id").map(str::to_owned))
                }
                Err(e) => {
                    tracing::warn!(error = %e, seq, "replication: reading the stream's last message; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    async fn publish(&self, seq: u64, term: u64, bytes: Bytes) -> Result<AckFuture, PublishError> {
        let mut h = HeaderMap::new();
        h.insert(NATS_MESSAGE_ID, msg_id(seq, term).as_str());
        h.insert(NATS_EXPECTED_LAST_SEQUENCE, (seq - 1).to_string().as_str());
        h.insert(PRIMARY_HEADER, self.status.advertise.as_str());
        h.insert(KEY_HEADER, self.status.key_id().as_str());
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
        self.status.set_role(super::Role::Fenced);
        self.hook.fence();
        // Tell clients where the primary is now: the publisher of the stream's last message.
        // Looked up in the background until found (NATS may still be coming back).
        self.status.set_primary(None);
        tracing::error!(
            reason = %why,
            "replication: fenced: another node is primary; this node refuses writes from now on"
        );
        let (stream, status) = (self.stream.clone(), Arc::clone(&self.status));
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            loop {
                match last_publisher(&stream).await {
                    Ok(Some(p)) if p != status.advertise => {
                        tracing::error!(primary = %p, "replication: fenced; the primary is now");
                        status.set_primary(Some(p));
                        return;
                    }
                    Ok(other) => {
                        tracing::debug!(?other, "replication: fenced; primary not known yet")
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "replication: fenced; primary not known yet")
                    }
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
        });
        Stopped::Fenced(why)
    }
}

/// The `Perpx-Primary` header of the stream's last message.
async fn last_publisher(s: &stream::Stream) -> Result<Option<String>, super::stream::ReplError> {
    let (_, last) = bounds(s).await?;
    let m = message(s, last).await?;
    tracing::debug!(last, seq = ?m.as_ref().map(|m| m.sequence), "replication: last publisher");
    Ok(m.and_then(|m| header(&m.headers, PRIMARY_HEADER).map(str::to_owned)))
}
