//! The primary's journal publisher: everything the journal committed since the last publish
//! goes to `<prefix>.journal` as one stream message, a *run* of consecutive entries
//! ([`frame`]; split at the server's `max_payload`), published with `Nats-Msg-Id =
//! <first>.<T>` and `Nats-Expected-Last-Sequence` = the stream's last message, one message in
//! flight. `T` is the primary's term: 0 for the first primary of a stream, the fence's journal
//! sequence for a promoted one, read back from the stream on a restart (so a restarted
//! primary's re-publishing is de-duplicated, and another primary's message is never mistaken
//! for a duplicate of ours). Entries come from the journal hook's channel; whatever is
//! missing there (dropped while the channel was full, or committed before this process
//! published it: a restart) is re-read from the journal, which keeps it until the stream has
//! it.
//!
//! # Invariants
//! - An entry counts as replicated (its held replies run, pruning may pass it) only when the
//!   stream acknowledged the message holding it, or a later check found a stream message
//!   holding exactly it at its place.
//! - A refusal (`wrong last sequence`, a duplicate or a sequence that is not ours) is checked
//!   against the stream: messages there that hold exactly our next entries are ours (an
//!   acknowledgement was lost); anything else means another node extended the stream, and
//!   this node is fenced at once and for good; held replies fail, the HTTP layer answers
//!   `503 NOT_PRIMARY`.
//! - One message in flight: with several, the sequence check alone would let our message
//!   `m + 1` land right after another node's `m` (our `m` refused, theirs in its place). So
//!   `m + 1` is sent only once the stream stored our `m`; nothing a fenced primary sends can
//!   land after the fence. Throughput is one run per stream round trip, and a run takes
//!   every entry committed meanwhile, so it grows with the load (docs/REPLICATION.md §10).
//! - With `linger`, a run leaves at least that long after the previous one (it then takes
//!   everything committed meanwhile): fewer, larger stream messages for that much more lag.
//!   With `eager` (durability "replicated", where replies wait) a run whose oldest entry
//!   arrived after the last acknowledgement leaves at once: a lone client never waits, and
//!   entries that queued behind a run in flight (several clients) gather for `linger`.
//! - Transient errors (no quorum, timeouts, a lost connection) are retried for ever, every
//!   [`RETRY`] at most; an acknowledgement not received within [`ACK_TIMEOUT`] counts as
//!   such an error. With durability "replicated" replies wait meanwhile.

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::future::BoxFuture;

mod fence;

use super::frame;
use super::hook::{Feed, Hook};
use super::stream::{bounds, tail, Nats, ReplError, KEY_HEADER, PRIMARY_HEADER};
use super::Status;
use crate::persistence::{JournalReader, JournalStats};

/// Entries re-read from the journal at a time.
const READ_CHUNK: usize = 4096;
/// How long an acknowledgement may take before the message counts as lost and the stream is
/// checked (a stream-leader election shows as such timeouts: the shorter this, the sooner
/// the publisher notices the new leader; a late acknowledgement costs only a check).
pub const ACK_TIMEOUT: Duration = Duration::from_millis(500);
/// The longest wait between two attempts while the stream is unavailable.
pub const RETRY: Duration = Duration::from_millis(100);
/// A run's size at most, below the server's `max_payload` (headers need room too).
const MAX_RUN: usize = 8 << 20;
const HEADER_ROOM: usize = 4096;

/// Why the acknowledgement of a run did not come as expected.
enum AckError {
    Publish(async_nats::jetstream::context::PublishError),
    Timeout,
}

type AckFuture = BoxFuture<'static, Result<PublishAck, AckError>>;

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
    /// The next journal sequence to publish (the stream's last entry + 1).
    pub next: u64,
    /// At least this long between two runs (`[replication] linger`)...
    pub linger: Duration,
    /// ... unless the oldest waiting entry arrived after the last acknowledgement (durability
    /// "replicated", where replies wait: a lone client's entry leaves at once).
    pub eager: bool,
}

/// An entry on its way: sequence, payload, when it was committed (for the lag).
struct Out {
    seq: u64,
    bytes: Bytes,
    since: Instant,
}

/// The message in flight: how many of the pending entries it holds, and its acknowledgement.
struct InFlight {
    count: usize,
    ack: AckFuture,
}

struct State {
    /// Entries not yet acknowledged, in order; the first `inflight.count` are in flight.
    pending: VecDeque<Out>,
    inflight: Option<InFlight>,
    /// The last sequence put in `pending` (or further).
    queued_upto: u64,
    /// The last journal sequence the stream acknowledged.
    acked: u64,
    /// The stream sequence of the stream's last message (ours, as far as we know).
    stream_seq: u64,
    /// This primary's term (see the module doc).
    term: u64,
    /// The largest run this server takes.
    max_run: usize,
}

impl State {
    /// Queue the next entry (`seq` = `queued_upto + 1`), which arrived at `since`.
    fn queue(&mut self, seq: u64, bytes: Vec<u8>, since: Instant) {
        debug_assert_eq!(seq, self.queued_upto + 1);
        self.pending.push_back(Out {
            seq,
            bytes: Bytes::from(bytes),
            since,
        });
        self.queued_upto = seq;
    }
}

/// The `Nats-Msg-Id` of a run starting at journal entry `first`, published in term `term`.
pub fn msg_id(first: u64, term: u64) -> String {
    format!("{first}.{term}")
}

/// The term of a `Nats-Msg-Id` (`None`: not one of ours).
pub fn term_of(id: &str) -> Option<u64> {
    id.split_once('.').and_then(|(_, t)| t.parse().ok())
}

/// Why the publisher stopped.
#[derive(Debug)]
pub enum Stopped {
    /// Another node extended the stream.
    Fenced(String),
    /// The journal could not be read.
    Journal(ReplError),
}

impl Publisher {
    /// Publish until fenced.
    pub async fn run(mut self) -> Stopped {
        let mut st = self.begin().await;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut backoff = RETRY / 4;
        // When the next run may leave (`linger` after the previous one).
        let mut next_send = tokio::time::Instant::now();
        // When the last acknowledgement arrived.
        let mut acked_at = Instant::now();
        loop {
            if let Err(e) = self.fill(&mut st) {
                return Stopped::Journal(e);
            }
            // Adaptive (`eager`): entries that queued while a run was in flight mean several
            // clients are waiting, so they wait `linger` for more company; an entry that
            // arrived after the last acknowledgement, with nothing queued before it, is a
            // lone client's: it leaves at once.
            let due = tokio::time::Instant::now() >= next_send
                || (self.eager && st.pending.front().is_some_and(|o| o.since >= acked_at));
            if st.inflight.is_none() && !st.pending.is_empty() && due {
                next_send = tokio::time::Instant::now() + self.linger;
                if let Err(e) = self.send(&mut st).await {
                    tracing::warn!(error = %e, "replication: publish failed; will retry");
                    if let Some(s) = self.recover(&mut st, &mut backoff).await {
                        return s;
                    }
                    continue;
                }
            }
            tokio::select! {
                r = async { (&mut st.inflight.as_mut().expect("guarded").ack).await }, if st.inflight.is_some() => {
                    let count = st.inflight.take().expect("guarded").count;
                    let expected = st.stream_seq + 1;
                    match r {
                        Ok(ack) if ack.sequence == expected && !ack.duplicate => {
                            acked_at = Instant::now();
                            backoff = RETRY / 4;
                            self.stored(&mut st, count);
                        }
                        r => {
                            if let Some(s) = self.not_stored(&mut st, expected, r, &mut backoff).await {
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
                _ = tokio::time::sleep_until(next_send), if st.inflight.is_none() && !st.pending.is_empty() && !due => {}
                _ = tick.tick() => {}
            }
            self.report(&st);
        }
    }

    /// Read where the stream stands and start from there: everything up to the next entry
    /// to publish is released to the journal's waiters.
    async fn begin(&mut self) -> State {
        let (stream_seq, term) = self.start().await;
        let max_run = (self.nats.client.server_info().max_payload)
            .saturating_sub(HEADER_ROOM)
            .clamp(64 << 10, MAX_RUN);
        tracing::info!(
            term,
            from = self.next,
            stream_seq,
            max_run,
            "replication: publishing the journal"
        );
        let st = State {
            pending: VecDeque::new(),
            inflight: None,
            queued_upto: self.next - 1,
            acked: self.next - 1,
            stream_seq,
            term,
            max_run,
        };
        self.hook.release(st.acked);
        st
    }

    /// The run of the first `count` pending entries is stored as the stream's next message.
    fn stored(&mut self, st: &mut State, count: usize) {
        let last = st.pending[count - 1].seq;
        let bytes = frame::encoded_len(st.pending.iter().take(count).map(|o| o.bytes.len()));
        st.pending.drain(..count);
        st.acked = last;
        st.stream_seq += 1;
        self.status.run_stored(count, bytes);
        self.hook.release(last);
    }

    /// The run meant as stream message `expected` was answered otherwise (`r`): wait unless
    /// the stream refused it or did not answer, then check the stream and resume, or stop.
    async fn not_stored(
        &mut self,
        st: &mut State,
        expected: u64,
        r: Result<PublishAck, AckError>,
        backoff: &mut Duration,
    ) -> Option<Stopped> {
        let why = match &r {
            Ok(a) => format!(
                "stream answered sequence {} (duplicate: {}) for message {expected}",
                a.sequence, a.duplicate
            ),
            Err(AckError::Publish(e)) => e.to_string(),
            Err(AckError::Timeout) => format!("no acknowledgement within {ACK_TIMEOUT:?}"),
        };
        let refused = matches!(&r, Err(AckError::Publish(e)) if e.kind() == PublishErrorKind::WrongLastSequence);
        tracing::warn!(
            expected,
            why,
            "replication: run not stored as sent; checking the stream"
        );
        if !refused && !matches!(r, Err(AckError::Timeout)) {
            tokio::time::sleep(*backoff).await;
        }
        self.recover(st, backoff).await
    }

    /// The stream's last message and this primary's term, read back from the stream
    /// (retried while the stream is unavailable).
    async fn start(&self) -> (u64, u64) {
        let mut wait = RETRY / 4;
        loop {
            match tail(&self.stream).await {
                Ok(Some(t)) => {
                    return (
                        t.stream_seq,
                        t.msg_id.as_deref().and_then(term_of).unwrap_or(0),
                    )
                }
                Ok(None) => match bounds(&self.stream).await {
                    // Empty: its last sequence is the one before its first message.
                    Ok((_, last)) => return (last, 0),
                    Err(e) => {
                        tracing::warn!(error = %e, "replication: reading the stream; retrying")
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "replication: reading the stream's last message; retrying")
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RETRY * 10);
        }
    }

    /// Publish the next run (as many pending entries as fit).
    async fn send(&self, st: &mut State) -> Result<(), ReplError> {
        let count = frame::fits(st.pending.iter().map(|o| o.bytes.len()), st.max_run);
        let first = st.pending[0].seq;
        let last = st.pending[count - 1].seq;
        let payload = frame::encode(first, st.pending.iter().take(count).map(|o| &o.bytes[..]));
        let mut h = HeaderMap::new();
        h.insert(NATS_MESSAGE_ID, msg_id(first, st.term).as_str());
        h.insert(
            NATS_EXPECTED_LAST_SEQUENCE,
            st.stream_seq.to_string().as_str(),
        );
        h.insert(frame::FIRST_HEADER, first.to_string().as_str());
        h.insert(frame::LAST_HEADER, last.to_string().as_str());
        h.insert(PRIMARY_HEADER, self.status.advertise.as_str());
        h.insert(KEY_HEADER, self.status.key_id().as_str());
        let f = self
            .nats
            .js
            .publish_with_headers(self.subject.clone(), h, Bytes::from(payload))
            .await
            .map_err(super::stream::nats)?;
        let ack: AckFuture = Box::pin(async move {
            match tokio::time::timeout(ACK_TIMEOUT, f.into_future()).await {
                Ok(r) => r.map_err(AckError::Publish),
                Err(_) => Err(AckError::Timeout),
            }
        });
        st.inflight = Some(InFlight { count, ack });
        Ok(())
    }

    fn report(&self, st: &State) {
        let local = self
            .stats
            .durable_upto
            .load(Ordering::Acquire)
            .max(st.queued_upto);
        let oldest = st.pending.front().map(|o| o.since);
        self.status.set_lag(
            local.saturating_sub(st.acked),
            oldest.map_or(0.0, |t| t.elapsed().as_secs_f64()),
        );
        self.status.set_unreplicated_since(oldest);
        self.status.stream_last.store(st.acked, Ordering::Release);
    }

    /// Queue entries from the hook's channel, reading any gap before them from the journal.
    fn take(&self, st: &mut State, v: Vec<(u64, Vec<u8>)>) -> Result<(), ReplError> {
        let now = Instant::now();
        for (seq, bytes) in v {
            if seq <= st.queued_upto {
                continue;
            }
            if seq > st.queued_upto + 1 {
                self.read_upto(st, seq - 1)?;
            }
            st.queue(seq, bytes, now);
        }
        Ok(())
    }

    /// Entries committed but neither queued nor on their way through the channel (dropped,
    /// or from before this process): read them from the journal.
    fn fill(&self, st: &mut State) -> Result<(), ReplError> {
        let durable = self.stats.durable_upto.load(Ordering::Acquire);
        if durable > st.queued_upto && (self.hook.take_dropped() || self.feed.rx.is_empty()) {
            self.read_upto(st, durable.min(st.queued_upto + READ_CHUNK as u64))?;
        }
        Ok(())
    }

    fn read_upto(&self, st: &mut State, upto: u64) -> Result<(), ReplError> {
        let now = Instant::now();
        while st.queued_upto < upto {
            let want = (upto - st.queued_upto).min(READ_CHUNK as u64) as usize;
            let got = self.reader.entries(st.queued_upto, want)?;
            match got.first() {
                Some(&(first, _)) if first == st.queued_upto + 1 => {}
                _ => return Err(ReplError::Gone(st.queued_upto + 1)),
            }
            for (seq, bytes) in got {
                st.queue(seq, bytes, now);
            }
        }
        Ok(())
    }
}
