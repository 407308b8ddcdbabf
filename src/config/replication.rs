//! `[replication]`: the NATS JetStream stream a primary publishes its journal to, followers
//! replay and gateways serve market data from (see `docs/REPLICATION.md`). Absent: the
//! exchange is one process with its redb journal, nothing else changes.

use std::time::Duration;

use serde::Deserialize;

use super::raw::duration;
use super::Problem;

/// `[replication]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// NATS server URLs (several: any of a cluster's members).
    pub nats_urls: Vec<String>,
    /// The journal stream's name; the events stream is `<stream>_EVENTS`.
    pub stream: String,
    /// Subjects: `<prefix>.journal`, `<prefix>.events.<symbol>`, `<prefix>.books.<symbol>`,
    /// `<prefix>.ticker.<symbol>`.
    pub subject_prefix: String,
    /// Replicas of both streams (3: a quorum of a three-server cluster acknowledges).
    pub replicas: usize,
    /// JetStream's de-duplication window by `Nats-Msg-Id` (covers a publisher's restart).
    pub duplicate_window: Duration,
    /// This node's base URL, told to clients that reach a follower (`503 NOT_PRIMARY`).
    pub advertise: String,
    /// How long the events stream keeps messages.
    pub events_max_age: Duration,
    /// A book snapshot for gateways at most this often per market (when the book changed).
    pub book_snapshot_every: Duration,
    /// Also use the cluster's other servers that the server advertises (NATS's default);
    /// `false`: only the servers of `nats_url` (when others are not reachable from here).
    pub discover_servers: bool,
    /// The loss window: when the oldest committed entry the stream lacks is older than this,
    /// the primary refuses new writes (`503 OVERLOADED`) until the stream catches up.
    pub max_lag: Duration,
    /// The same bound in entries (committed, not yet in the stream); 0: no bound.
    pub max_lag_entries: u64,
    /// A follower that has not heard the primary's heartbeat for this long, and has applied
    /// the whole stream, promotes itself (`None`: only on request).
    pub auto_promote: Option<Duration>,
    /// The journal publisher waits at least this long between two runs, so a run gathers
    /// what was committed meanwhile: fewer stream messages (each costs every replica a write
    /// and an fsync) for this much more lag. Default 25 ms; with durability "replicated"
    /// (replies wait for the stream) 3 ms, and a run whose oldest entry arrived after the last
    /// acknowledgement (a lone client's) leaves at once. Always below `max_lag`.
    pub linger: Duration,
    /// Also publish the private events (orders, fills, deposits, funding of every account)
    /// to the events stream; off by default: anyone who can read the stream would see them,
    /// and they are most of its bytes. Gateways need only the public ones.
    pub private_events: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplication {
    nats_url: Option<String>,
    stream: Option<String>,
    subject_prefix: Option<String>,
    replicas: Option<usize>,
    duplicate_window: Option<String>,
    advertise: Option<String>,
    events_max_age: Option<String>,
    book_snapshot_every: Option<String>,
    discover_servers: Option<bool>,
    max_lag: Option<String>,
    max_lag_entries: Option<u64>,
    auto_promote: Option<String>,
    linger: Option<String>,
    private_events: Option<bool>,
}

/// `max_lag_entries` when not given.
pub const DEFAULT_MAX_LAG_ENTRIES: u64 = 20_000;
/// The shortest `auto_promote`: ten heartbeats of the primary.
pub const MIN_AUTO_PROMOTE: Duration = Duration::from_secs(1);

/// A stream name or subject token: letters, digits, `-` and `_` only (no `.`, `*`, `>`, spaces).
fn token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A problem with `replication.<key>`.
fn bad(key: &str, why: &str) -> Problem {
    Problem::invalid(None, &format!("replication.{key}"), why)
}

/// Validate `[replication]`; problems are reported in the order of the checks below.
pub(super) fn replication(
    r: RawReplication,
    listen: std::net::SocketAddr,
    replicated: bool,
) -> Result<ReplicationConfig, Problem> {
    let nats_urls = nats_urls(r.nats_url)?;
    let stream = r.stream.unwrap_or_else(|| "PERPX".into());
    if !token(&stream) {
        return Err(bad("stream", "letters, digits, '-' and '_' only"));
    }
    let subject_prefix = r.subject_prefix.unwrap_or_else(|| "perpx".into());
    if !subject_prefix.split('.').all(token) {
        return Err(bad(
            "subject_prefix",
            "dot-separated tokens of letters, digits, '-' and '_'",
        ));
    }
    let replicas = r.replicas.unwrap_or(3);
    if !(1..=5).contains(&replicas) {
        return Err(bad(
            "replicas",
            "must be between 1 and 5 (JetStream's limit)",
        ));
    }
    let advertise = advertise(r.advertise, listen)?;
    let max_lag = duration(None, "replication.max_lag", r.max_lag.as_deref(), "100ms")?;
    let linger = linger(r.linger, replicated, max_lag)?;
    let duration_of = |key: &str, text: Option<String>, default: &str| {
        duration(
            None,
            &format!("replication.{key}"),
            text.as_deref(),
            default,
        )
    };
    Ok(ReplicationConfig {
        nats_urls,
        stream,
        subject_prefix,
        replicas,
        duplicate_window: duration_of("duplicate_window", r.duplicate_window, "2m")?,
        advertise,
        events_max_age: duration_of("events_max_age", r.events_max_age, "24h")?,
        book_snapshot_every: duration_of("book_snapshot_every", r.book_snapshot_every, "10s")?,
        discover_servers: r.discover_servers.unwrap_or(true),
        max_lag,
        linger,
        private_events: r.private_events.unwrap_or(false),
        max_lag_entries: r.max_lag_entries.unwrap_or(DEFAULT_MAX_LAG_ENTRIES),
        auto_promote: auto_promote(r.auto_promote.as_deref())?,
    })
}

/// `nats_url`: one or more `nats://` URLs separated by commas.
fn nats_urls(urls: Option<String>) -> Result<Vec<String>, Problem> {
    let urls =
        urls.ok_or_else(|| bad("nats_url", "is required, e.g. \"nats://127.0.0.1:4222\""))?;
    let nats_urls: Vec<String> = urls
        .split(',')
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    if nats_urls.is_empty() || nats_urls.iter().any(|u| !u.starts_with("nats://")) {
        return Err(bad(
            "nats_url",
            "expected nats://host:port (several separated by commas)",
        ));
    }
    Ok(nats_urls)
}

/// `advertise`: an http(s) base URL without a trailing slash; default this node's `listen`.
fn advertise(advertise: Option<String>, listen: std::net::SocketAddr) -> Result<String, Problem> {
    let advertise = advertise
        .unwrap_or_else(|| format!("http://{listen}"))
        .trim_end_matches('/')
        .to_owned();
    if !(advertise.starts_with("http://") || advertise.starts_with("https://")) {
        return Err(bad(
            "advertise",
            "expected a base URL like http://10.0.0.2:8080",
        ));
    }
    Ok(advertise)
}

/// `linger`: below `max_lag`; default 3 ms with durability "replicated", else 25 ms.
fn linger(
    linger: Option<String>,
    replicated: bool,
    max_lag: Duration,
) -> Result<Duration, Problem> {
    let linger_text = linger.unwrap_or_else(|| if replicated { "3ms" } else { "25ms" }.into());
    let linger = humantime::parse_duration(&linger_text).map_err(|e| {
        bad(
            "linger",
            &format!("{linger_text:?} is not a duration like \"10ms\": {e}"),
        )
    })?;
    if linger >= max_lag {
        return Err(bad("linger", "must be below max_lag"));
    }
    Ok(linger)
}

/// `auto_promote`: `"off"` (the default) or at least [`MIN_AUTO_PROMOTE`].
fn auto_promote(text: Option<&str>) -> Result<Option<Duration>, Problem> {
    match text {
        None | Some("off") => Ok(None),
        Some(text) => {
            let d = duration(None, "replication.auto_promote", Some(text), "3s")?;
            if d < MIN_AUTO_PROMOTE {
                return Err(bad(
                    "auto_promote",
                    "must be at least 1s (ten primary heartbeats), or \"off\"",
                ));
            }
            Ok(Some(d))
        }
    }
}

impl ReplicationConfig {
    pub fn journal_subject(&self) -> String {
        format!("{}.journal", self.subject_prefix)
    }

    pub fn events_subject(&self, symbol: &str) -> String {
        format!("{}.events.{symbol}", self.subject_prefix)
    }

    pub fn books_subject(&self, symbol: &str) -> String {
        format!("{}.books.{symbol}", self.subject_prefix)
    }

    pub fn ticker_subject(&self, symbol: &str) -> String {
        format!("{}.ticker.{symbol}", self.subject_prefix)
    }

    pub fn head_subject(&self) -> String {
        format!("{}.head", self.subject_prefix)
    }

    pub fn events_stream(&self) -> String {
        format!("{}_EVENTS", self.stream)
    }
}
