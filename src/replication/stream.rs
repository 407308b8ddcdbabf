//! The NATS side: connecting, the two streams, reading single entries back, and the checks
//! that tell whether this node's journal is a prefix of the stream (or the stream of it).
//!
//! Streams (names from `[replication]`):
//! - `<stream>`: subject `<prefix>.journal`, file storage, `replicas`, de-duplication window,
//!   direct get; each message is a run of consecutive journal entries ([`super::frame`]).
//! - `<stream>_EVENTS`: subjects `<prefix>.events.>` (JSON lines) and `<prefix>.books.>` (book
//!   snapshots for gateways), kept `events_max_age`.
//!
//! # Invariants
//! - Stream messages hold consecutive, non-overlapping runs in journal order, so the journal
//!   sequence of a run's entries grows with the stream sequence: [`find`] locates an entry by
//!   bisection.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;

use super::frame;
use crate::config::ReplicationConfig;
use crate::persistence::JournalReader;

/// Header: the base URL of the primary that published a message.
pub const PRIMARY_HEADER: &str = "Perpx-Primary";
/// Header: the fingerprint of the publishing node's `master.key`.
pub const KEY_HEADER: &str = "Perpx-Key-Id";
/// Header: the journal sequence an events or books message renders.
pub const SEQ_HEADER: &str = "Perpx-Seq";

/// Errors of the replication layer, one line each.
#[derive(Debug, thiserror::Error)]
pub enum ReplError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error("{0}")]
    Refused(String),
    #[error("journal: {0}")]
    Journal(String),
    /// The journal could not be read.
    #[error("journal: {0}")]
    Store(#[from] crate::persistence::StoreError),
    /// An entry was pruned from the journal before the stream had it.
    #[error("journal entry {0} is gone before the stream had it")]
    Gone(u64),
}

pub fn nats<E: std::fmt::Display>(e: E) -> ReplError {
    ReplError::Nats(e.to_string())
}

/// A connected client and its JetStream context.
#[derive(Clone)]
pub struct Nats {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
}

/// Connect to any of the configured servers (retrying while they come up, up to `wait`).
pub async fn connect(
    cfg: &ReplicationConfig,
    name: &str,
    wait: Duration,
) -> Result<Nats, ReplError> {
    let urls: Vec<async_nats::ServerAddr> = cfg
        .nats_urls
        .iter()
        .map(|u| u.parse().map_err(nats))
        .collect::<Result<_, _>>()?;
    let deadline = tokio::time::Instant::now() + wait;
    let client = loop {
        let mut opts = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(Duration::from_secs(5)));
        if !cfg.discover_servers {
            opts = opts.ignore_discovered_servers();
        }
        match opts.connect(urls.clone()).await {
            Ok(c) => break c,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "NATS not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(nats(e)),
        }
    };
    // JetStream API requests (stream info, message reads, consumer creation) give up after
    // 2 s: during a stream-leader election a shorter wait only retries sooner (the
    // publisher's own acknowledgement wait is shorter still: `publisher::ACK_TIMEOUT`).
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .max_ack_inflight(8192)
        .backpressure_on_inflight(true)
        .build(client.clone());
    Ok(Nats { client, js })
}

/// The journal stream, created if missing.
pub async fn journal_stream(
    n: &Nats,
    cfg: &ReplicationConfig,
) -> Result<stream::Stream, ReplError> {
    if let Ok(s) = n.js.get_stream(&cfg.stream).await {
        return Ok(s);
    }
    let config = stream::Config {
        name: cfg.stream.clone(),
        subjects: vec![cfg.journal_subject()],
        num_replicas: cfg.replicas,
        duplicate_window: cfg.duplicate_window,
        storage: stream::StorageType::File,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        description: Some(
            "perpx journal: each message a run of consecutive journal entries".into(),
        ),
        ..Default::default()
    };
    with_retry("creating the journal stream", || {
        n.js.create_stream(config.clone())
    })
    .await
}

/// The events stream, created if missing.
pub async fn events_stream(n: &Nats, cfg: &ReplicationConfig) -> Result<stream::Stream, ReplError> {
    if let Ok(s) = n.js.get_stream(cfg.events_stream()).await {
        return Ok(s);
    }
    let p = &cfg.subject_prefix;
    let config = stream::Config {
        name: cfg.events_stream(),
        subjects: vec![format!("{p}.events.>"), format!("{p}.books.>")],
        num_replicas: cfg.replicas,
        duplicate_window: cfg.duplicate_window,
        storage: stream::StorageType::File,
        max_age: cfg.events_max_age,
        allow_direct: true,
        description: Some("perpx events (JSON lines) and book snapshots".into()),
        ..Default::default()
    };
    with_retry("creating the events stream", || {
        n.js.create_stream(config.clone())
    })
    .await
}

/// Retry a JetStream call while the cluster elects leaders (a new cluster needs seconds).
async fn with_retry<T, E: std::fmt::Display, F: std::future::Future<Output = Result<T, E>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> Result<T, ReplError> {
    let mut tries = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if tries < 60 => {
                tries += 1;
                tracing::warn!(error = %e, "{what}: retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(ReplError::Nats(format!("{what}: {e}"))),
        }
    }
}

/// `(first, last)` sequences of a stream (`last` = 0: empty).
pub async fn bounds(s: &stream::Stream) -> Result<(u64, u64), ReplError> {
    let info = s.get_info().await.map_err(nats)?;
    Ok((info.state.first_sequence, info.state.last_sequence))
}

/// Stream message `seq` (payload and headers), `None` if it is not there (read from the leader).
pub async fn message(
    s: &stream::Stream,
    seq: u64,
) -> Result<Option<jetstream::message::StreamMessage>, ReplError> {
    // Through the stream leader (not a direct get, which any replica may answer, perhaps one
    // that has not caught up): a comparison must never see a message as missing that is there.
    match s.get_raw_message(seq).await {
        Ok(m) => Ok(Some(m)),
        Err(e) => match e.kind() {
            stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
            stream::LastRawMessageErrorKind::JetStream(j)
                if j.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND =>
            {
                Ok(None)
            }
            _ => Err(nats(e)),
        },
    }
}

/// A header's value.
pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.as_str())
}

/// The stream's last message as the journal sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    /// Its stream sequence.
    pub stream_seq: u64,
    /// The journal sequences of its run.
    pub first: u64,
    pub last: u64,
    /// Its `Nats-Msg-Id`.
    pub msg_id: Option<String>,
}

fn run_bounds(m: &jetstream::message::StreamMessage) -> Result<(u64, u64), ReplError> {
    frame::bounds_of(Some(&m.headers), m.sequence).ok_or_else(|| {
        ReplError::Refused(format!(
            "stream message {} has malformed {} / {} headers",
            m.sequence,
            frame::FIRST_HEADER,
            frame::LAST_HEADER
        ))
    })
}

/// The stream's last message (`None`: the stream is empty).
pub async fn tail(s: &stream::Stream) -> Result<Option<Tail>, ReplError> {
    let (_, last) = bounds(s).await?;
    if last == 0 {
        return Ok(None);
    }
    let Some(m) = message(s, last).await? else {
        return Err(ReplError::Refused(format!(
            "the stream's last message {last} is missing"
        )));
    };
    let (first, l) = run_bounds(&m)?;
    Ok(Some(Tail {
        stream_seq: last,
        first,
        last: l,
        msg_id: header(&m.headers, "Nats-Msg-Id").map(str::to_owned),
    }))
}

/// Where journal entry `seq` stands in the stream.
#[derive(Debug)]
pub enum Found {
    /// In this stream message.
    At(Box<jetstream::message::StreamMessage>),
    /// Before the stream's first entry (pruned from the stream, or never in it).
    Before { stream_first: u64 },
    /// After the stream's last entry: it would be in message `next`.
    After { next: u64 },
}

/// Locate the stream message holding journal entry `seq` (bisection on the run headers).
pub async fn find(s: &stream::Stream, seq: u64) -> Result<Found, ReplError> {
    let (mut lo, mut hi) = bounds(s).await?;
    if hi == 0 || hi < lo {
        return Ok(Found::After { next: hi + 1 });
    }
    let fetch = |at: u64| async move {
        let m = message(s, at)
            .await?
            .ok_or_else(|| ReplError::Refused(format!("stream message {at} is missing")))?;
        let b = run_bounds(&m)?;
        Ok::<_, ReplError>((m, b))
    };
    let (first_msg, (first, _)) = fetch(lo).await?;
    if seq < first {
        return Ok(Found::Before {
            stream_first: first,
        });
    }
    let (last_msg, (_, last)) = fetch(hi).await?;
    if seq > last {
        return Ok(Found::After { next: hi + 1 });
    }
    if seq <= run_bounds(&first_msg)?.1 {
        return Ok(Found::At(Box::new(first_msg)));
    }
    if seq >= run_bounds(&last_msg)?.0 {
        return Ok(Found::At(Box::new(last_msg)));
    }
    // Invariant: message `lo` ends before `seq`, message `hi` starts after or at it.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let (m, (f, l)) = fetch(mid).await?;
        if seq < f {
            hi = mid;
        } else if seq > l {
            lo = mid;
        } else {
            return Ok(Found::At(Box::new(m)));
        }
    }
    Err(ReplError::Refused(format!(
        "journal entry {seq} is in no stream message (the runs have a gap)"
    )))
}

/// The stream sequence to start consuming at so that journal entry `seq` is delivered first
/// (in its run) or next.
pub async fn position(s: &stream::Stream, seq: u64) -> Result<u64, ReplError> {
    match find(s, seq).await? {
        Found::At(m) => Ok(m.sequence),
        Found::After { next } => Ok(next),
        Found::Before { stream_first } => Err(ReplError::Refused(format!(
            "the stream starts at journal entry {stream_first}, after {seq}: entries before it are in no stream; start from a copy of a node's data directory"
        ))),
    }
}

/// How this node's journal (`local_last`, read through `reader`) stands to the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// Same history; the stream is `ahead` entries ahead (0: equal).
    Behind { ahead: u64 },
    /// Same history; this journal has `ahead` entries the stream lacks (a primary's
    /// unreplicated tail).
    Ahead { ahead: u64 },
}

/// Compare this journal with the stream at the last entry both should have.
pub async fn standing(
    s: &stream::Stream,
    reader: &JournalReader,
    local_last: u64,
) -> Result<Standing, ReplError> {
    let Some(tail) = tail(s).await? else {
        return Ok(Standing::Ahead { ahead: local_last });
    };
    let common = local_last.min(tail.last);
    if common > 0 {
        match find(s, common).await? {
            Found::At(m) => {
                let run =
                    frame::of_message(Some(&m.headers), &m.payload, m.sequence).map_err(|e| {
                        ReplError::Refused(format!("stream message {}: {e}", m.sequence))
                    })?;
                let theirs = run
                    .iter()
                    .find(|(q, _)| *q == common)
                    .map(|(_, b)| b)
                    .ok_or_else(|| {
                        ReplError::Refused(format!(
                            "stream message {} lacks entry {common}",
                            m.sequence
                        ))
                    })?;
                let ours = reader
                    .entries(common - 1, 1)
                    .map_err(|e| ReplError::Journal(e.to_string()))?;
                // Pruned locally (no entry `common`): a snapshot covers it; the stream's chain
                // is all we can check.
                if let Some((seq, bytes)) = ours.first() {
                    if *seq == common && bytes.as_slice() != theirs {
                        return Err(ReplError::Refused(format!(
                            "journal entry {common} differs from the stream's: this data directory's history diverged from the stream (it was a primary that another node replaced); move it aside and start from an empty data directory (`perpx replay` can still read it)"
                        )));
                    }
                }
            }
            Found::Before { stream_first } if local_last + 1 < stream_first => {
                return Err(ReplError::Refused(format!(
                    "the stream starts at {stream_first} but this journal ends at {local_last}: entries {} to {} are in neither; start from a copy of a node's data directory",
                    local_last + 1,
                    stream_first - 1
                )));
            }
            Found::Before { .. } | Found::After { .. } => {}
        }
    }
    Ok(if local_last >= tail.last {
        Standing::Ahead {
            ahead: local_last - tail.last,
        }
    } else {
        Standing::Behind {
            ahead: tail.last - local_last,
        }
    })
}
