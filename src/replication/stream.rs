//! The NATS side: connecting, the two streams, reading single entries back, and the checks
//! that tell whether this node's journal is a prefix of the stream (or the stream of it).
//!
//! Streams (names from `[replication]`):
//! - `<stream>`: subject `<prefix>.journal`, file storage, `replicas`, de-duplication window,
//!   direct get; its message `s` is journal entry `s` in the journal's own encoding.
//! - `<stream>_EVENTS`: subjects `<prefix>.events.>` (JSON lines) and `<prefix>.books.>` (book
//!   snapshots for gateways), kept `events_max_age`.
//!
//! # Invariants
//! - A journal stream created for a journal whose first retained entry is `f` starts at
//!   sequence `f` (`first_seq`), so stream and journal sequences stay equal.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;

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
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .max_ack_inflight(8192)
        .backpressure_on_inflight(true)
        .build(client.clone());
    Ok(Nats { client, js })
}

/// The journal stream, created if missing (starting at `first_seq` so sequences match).
pub async fn journal_stream(
    n: &Nats,
    cfg: &ReplicationConfig,
    first_seq: u64,
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
        first_sequence: (first_seq > 1).then_some(first_seq),
        description: Some("perpx journal: message s is journal entry s".into()),
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

/// How this node's journal (`local_last`, read through `reader`) stands to the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// Same history; the stream is `ahead` entries ahead (0: equal).
    Behind { ahead: u64 },
    /// Same history; this journal has `ahead` entries the stream lacks (a primary's
    /// unreplicated tail).
    Ahead { ahead: u64 },
}

/// Compare this journal with the stream at the last sequence both should have.
pub async fn standing(
    s: &stream::Stream,
    reader: &JournalReader,
    local_last: u64,
) -> Result<Standing, ReplError> {
    let (first, last) = bounds(s).await?;
    let common = local_last.min(last);
    if common > 0 && common >= first {
        let theirs = message(s, common)
            .await?
            .ok_or_else(|| ReplError::Refused(format!("stream message {common} is missing")))?;
        let ours = reader
            .entries(common - 1, 1)
            .map_err(|e| ReplError::Journal(e.to_string()))?;
        // Pruned locally (no entry `common`): a snapshot covers it; the stream's chain is all
        // we can check.
        if let Some((seq, bytes)) = ours.first() {
            if *seq == common && bytes.as_slice() != theirs.payload.as_ref() {
                return Err(ReplError::Refused(format!(
                    "journal entry {common} differs from stream message {common}: this data directory's history diverged from the stream (it was a primary that another node replaced); move it aside and start from an empty data directory (`perpx replay` can still read it)"
                )));
            }
        }
    } else if local_last + 1 < first {
        return Err(ReplError::Refused(format!(
            "the stream starts at {first} but this journal ends at {local_last}: entries {} to {} are in neither; start from a copy of a node's data directory",
            local_last + 1,
            first - 1
        )));
    }
    Ok(if local_last >= last {
        Standing::Ahead {
            ahead: local_last - last,
        }
    } else {
        Standing::Behind {
            ahead: last - local_last,
        }
    })
}
