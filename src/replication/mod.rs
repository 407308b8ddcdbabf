//! Replication over NATS JetStream (`docs/REPLICATION.md`): one sequenced writer (the
//! primary) publishes every committed journal entry to a replicated stream; followers replay
//! it with the same apply code as recovery and can take over; gateways serve the public
//! WebSocket channels from a JSON event stream. Nothing here runs without `[replication]`.
//!
//! # Map
//! - [`hook`]: the journal's [`Replicate`](crate::persistence::Replicate) hook: holds replies
//!   until the stream has their entries (durability "replicated"), feeds the publisher.
//! - [`stream`]: the NATS connection, the streams, and checks of this node's journal against
//!   the stream.
//! - [`publisher`]: the primary's journal publisher: runs of entries ([`frame`]), one stream
//!   round trip per run, `Nats-Expected-Last-Sequence` fencing.
//! - [`heartbeat`]: the primary's committed head on core NATS, for truthful follower lag and
//!   automatic promotion.
//! - [`eventpub`]: the primary's JSON events, book snapshots and ticker relay; [`events`]
//!   renders them.
//! - [`follower`]: a follower consuming the stream, and its promotion.
//! - [`http`]: `503 NOT_PRIMARY` for writes off the primary; admin routes.
//! - [`node`]: wiring for `app.rs`; [`gateway`]: `perpx --gateway`; [`replay`]: `perpx replay`.
//!
//! # Invariants
//! - Each journal stream message is a run of consecutive journal entries, and the runs follow
//!   each other without gap or overlap; a message is published with `Nats-Msg-Id = f.T` (`f`:
//!   its first entry, `T`: the publishing primary's term) and `Nats-Expected-Last-Sequence`
//!   = the stream's last message, one message in flight. So the stream is one chain, and a
//!   publisher whose predecessor is not the stream's last message is refused: of two nodes
//!   that believe they are primary, only one extends the chain, and the other stops
//!   accepting writes at its next publish (fencing).
//! - A node acknowledges an entry in durability "replicated" only once the stream has stored
//!   it; a follower applies only what the stream stored, so a promoted follower has every
//!   acknowledged entry.
//! - A follower appends stream entries to its own journal with the same sequence, so its data
//!   directory is a primary's in every respect.

pub mod eventpub;
pub mod events;
pub mod follower;
pub mod frame;
pub mod gateway;
pub mod heartbeat;
pub mod hook;
pub mod http;
pub mod node;
pub mod publisher;
pub mod replay;
pub mod stream;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge};

/// What this node is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Accepts writes and publishes its journal.
    Primary,
    /// Replays the stream; read-only.
    Follower,
    /// Draining the stream to take over; read-only until done.
    Promoting,
    /// Was primary; another node extended the stream. Refuses all API requests.
    Fenced,
}

impl Role {
    fn from_u8(v: u8) -> Role {
        match v {
            0 => Role::Primary,
            1 => Role::Follower,
            2 => Role::Promoting,
            _ => Role::Fenced,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Follower => "follower",
            Role::Promoting => "promoting",
            Role::Fenced => "fenced",
        }
    }
}

/// The replication state shared by the HTTP layer, the journal hook and the background tasks.
pub struct Status {
    role: AtomicU8,
    /// This node's base URL.
    pub advertise: String,
    /// The primary's base URL as last seen on the stream (`None`: unknown).
    primary: Mutex<Option<String>>,
    /// Journal entries up to here are in the stream (primary: acknowledged by it; follower:
    /// applied from it).
    pub replicated_upto: AtomicU64,
    /// The stream's last sequence as last seen.
    pub stream_last: AtomicU64,
    /// The local journal's last durable entry (primary; for the publisher lag).
    pub local_upto: AtomicU64,
    /// A fingerprint of this node's `master.key` (API keys derive from it, so every node of a
    /// group needs the same file); sent with every journal message.
    key_id: Mutex<String>,
    /// A journal message came from a primary with another `master.key`.
    pub key_mismatch: std::sync::atomic::AtomicBool,
    /// Primary: when the oldest committed entry the stream lacks was committed (ms since the
    /// epoch; 0: the stream has everything the publisher holds).
    unreplicated_since_ms: AtomicU64,
    /// The primary's heartbeats as heard (followers).
    heard: Mutex<heartbeat::Heard>,
    /// When this process started (the silence before any heartbeat counts from here).
    started: Instant,
    metrics: StatusMetrics,
}

struct StatusMetrics {
    role: Gauge,
    lag_seq: Gauge,
    lag_seconds: Gauge,
    stream_lag: Gauge,
    heartbeat_age: Gauge,
    replicated: Gauge,
    journal_messages: Counter,
    journal_entries: Counter,
    journal_bytes: Counter,
    events_messages: Counter,
    events_bytes: Counter,
}

impl Status {
    pub fn new(role: Role, advertise: String) -> Arc<Status> {
        // Install the recorder first: handles taken before it are no-ops (the node starts
        // before anything else touches metrics).
        crate::telemetry::metrics::handle();
        let metrics = StatusMetrics {
            role: metrics::gauge!("perpx_replication_role"),
            lag_seq: metrics::gauge!("perpx_replication_lag_entries"),
            lag_seconds: metrics::gauge!("perpx_replication_lag_seconds"),
            stream_lag: metrics::gauge!("perpx_replication_stream_lag_entries"),
            heartbeat_age: metrics::gauge!("perpx_replication_heartbeat_age_seconds"),
            replicated: metrics::gauge!("perpx_replication_replicated_seq"),
            journal_messages: metrics::counter!("perpx_replication_messages_total", "stream" => "journal"),
            journal_entries: metrics::counter!("perpx_replication_entries_total"),
            events_messages: metrics::counter!("perpx_replication_messages_total", "stream" => "events"),
            journal_bytes: metrics::counter!("perpx_replication_bytes_total", "stream" => "journal"),
            events_bytes: metrics::counter!("perpx_replication_bytes_total", "stream" => "events"),
        };
        metrics::describe_counter!(
            "perpx_replication_bytes_total",
            "Payload bytes of the messages counted by perpx_replication_messages_total."
        );
        metrics::describe_counter!(
            "perpx_replication_messages_total",
            "Messages this node published and the stream stored: journal runs (stream=\"journal\") and events/book messages (stream=\"events\")."
        );
        metrics::describe_counter!(
            "perpx_replication_entries_total",
            "Journal entries this node published and the stream stored (entries per run = this / messages_total{stream=\"journal\"})."
        );
        metrics::describe_gauge!(
            "perpx_replication_role",
            "0 primary, 1 follower, 2 promoting, 3 fenced."
        );
        metrics::describe_gauge!(
            "perpx_replication_lag_entries",
            "Primary: journal entries committed but not yet in the stream. Follower: entries the primary committed (its last heartbeat) not yet applied here."
        );
        metrics::describe_gauge!(
            "perpx_replication_lag_seconds",
            "Primary: age of the oldest committed entry the stream lacks. Follower: how long the oldest entry the primary announced and this node has not applied has been announced."
        );
        metrics::describe_gauge!(
            "perpx_replication_stream_lag_entries",
            "Primary: committed entries the stream lacks. Follower: stream entries not yet applied."
        );
        metrics::describe_gauge!(
            "perpx_replication_heartbeat_age_seconds",
            "Follower: seconds since the primary was last heard: its heartbeat or a stream message applied (since start if neither; auto_promote watches it)."
        );
        metrics::describe_gauge!(
            "perpx_replication_replicated_seq",
            "The last journal sequence in the stream (primary: acknowledged; follower: applied)."
        );
        metrics.role.set(role as u8 as f64);
        Arc::new(Status {
            role: AtomicU8::new(role as u8),
            primary: Mutex::new((role == Role::Primary).then(|| advertise.clone())),
            advertise,
            replicated_upto: AtomicU64::new(0),
            stream_last: AtomicU64::new(0),
            local_upto: AtomicU64::new(0),
            key_id: Mutex::new(String::new()),
            key_mismatch: Default::default(),
            unreplicated_since_ms: AtomicU64::new(0),
            heard: Mutex::new(heartbeat::Heard::default()),
            started: Instant::now(),
            metrics,
        })
    }

    pub fn role(&self) -> Role {
        Role::from_u8(self.role.load(Ordering::Acquire))
    }

    pub fn set_role(&self, r: Role) {
        self.role.store(r as u8, Ordering::Release);
        self.metrics.role.set(r as u8 as f64);
        if r == Role::Primary {
            self.set_primary(Some(self.advertise.clone()));
        }
    }

    /// The primary's URL (this node's own when primary).
    pub fn primary(&self) -> Option<String> {
        self.primary
            .lock()
            .expect("the lock guards an assignment or a clone, never poisoned")
            .clone()
            .filter(|p| !p.is_empty())
    }

    pub fn set_primary(&self, url: Option<String>) {
        *self
            .primary
            .lock()
            .expect("the lock guards an assignment or a clone, never poisoned") = url;
    }

    pub fn key_id(&self) -> String {
        self.key_id
            .lock()
            .expect("the lock guards an assignment or a clone, never poisoned")
            .clone()
    }

    /// Read `<data_dir>/master.key` and keep its fingerprint.
    pub fn load_key_id(&self, data_dir: &std::path::Path) {
        use sha2::{Digest, Sha256};
        let key = std::fs::read_to_string(data_dir.join("master.key")).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(b"perpx-master-key-id:");
        h.update(key.trim().as_bytes());
        *self
            .key_id
            .lock()
            .expect("the lock guards an assignment or a clone, never poisoned") =
            hex::encode(&h.finalize()[..8]);
    }

    /// Record lag figures (entries and seconds) for the metrics and the status route. On the
    /// primary both lags are the stream's.
    pub fn set_lag(&self, entries: u64, seconds: f64) {
        self.metrics.lag_seq.set(entries as f64);
        self.metrics.lag_seconds.set(seconds);
        if self.role() != Role::Follower && self.role() != Role::Promoting {
            self.metrics.stream_lag.set(entries as f64);
        }
    }

    /// Primary: when the oldest committed entry the stream lacks arrived at the publisher.
    pub fn set_unreplicated_since(&self, since: Option<Instant>) {
        let ms = since.map_or(0, |t| {
            now_ms()
                .saturating_sub(t.elapsed().as_millis() as u64)
                .max(1)
        });
        self.unreplicated_since_ms.store(ms, Ordering::Release);
    }

    /// Primary: why new writes are refused now (the stream is further behind than the
    /// configured loss window), or `None`.
    pub fn over_max_lag(
        &self,
        max_lag: Duration,
        max_entries: u64,
        committed: u64,
    ) -> Option<String> {
        let replicated = self.replicated_upto.load(Ordering::Acquire);
        let entries = committed.saturating_sub(replicated);
        if max_entries > 0 && entries > max_entries {
            return Some(format!(
                "replication is {entries} entries behind (max_lag_entries {max_entries}); nothing was changed; retry shortly"
            ));
        }
        let since = self.unreplicated_since_ms.load(Ordering::Acquire);
        if entries > 0 && since > 0 {
            let ms = now_ms().saturating_sub(since);
            if ms > max_lag.as_millis() as u64 {
                return Some(format!(
                    "replication is {ms} ms behind (max_lag {} ms); nothing was changed; retry shortly",
                    max_lag.as_millis()
                ));
            }
        }
        None
    }

    /// A heartbeat of the primary arrived.
    pub fn hear(&self, head: heartbeat::Head) {
        self.heard
            .lock()
            .expect("the lock guards plain updates, never poisoned")
            .hear(head, Instant::now());
    }

    /// The last head heard, if any.
    pub fn last_head(&self) -> Option<heartbeat::Head> {
        self.heard
            .lock()
            .expect("the lock guards plain updates, never poisoned")
            .last
            .as_ref()
            .map(|(h, _)| h.clone())
    }

    /// How long since the primary was last heard: its heartbeat, or a stream message applied
    /// (since this process started if neither).
    pub fn silence(&self) -> Duration {
        let h = self
            .heard
            .lock()
            .expect("the lock guards plain updates, never poisoned");
        let heard = h.last.as_ref().map(|(_, at)| *at);
        heard
            .into_iter()
            .chain(h.reset_at)
            .fold(self.started, Instant::max)
            .elapsed()
    }

    /// Count the silence from now: a stream message was applied (a primary published it), or
    /// an automatic promotion gave up.
    pub fn reset_silence(&self) {
        let mut h = self
            .heard
            .lock()
            .expect("the lock guards plain updates, never poisoned");
        h.reset_at = Some(Instant::now());
    }

    /// Follower: record its lags, having applied up to `applied` of a stream whose last entry
    /// is `stream_last` (as far as known).
    pub fn follower_lag(&self, applied: u64, stream_last: u64) {
        let stream_last = stream_last.max(applied);
        let heard = self
            .heard
            .lock()
            .expect("the lock guards plain updates, never poisoned")
            .lag(applied, Instant::now());
        let stream_behind = stream_last - applied;
        let (entries, seconds) = heard.unwrap_or((stream_behind, 0.0));
        // The primary may be ahead of what its last head said: never report less than the
        // stream shows.
        self.metrics.lag_seq.set(entries.max(stream_behind) as f64);
        self.metrics.lag_seconds.set(seconds);
        self.metrics.stream_lag.set(stream_behind as f64);
        self.metrics.heartbeat_age.set(self.silence().as_secs_f64());
        self.stream_last.fetch_max(stream_last, Ordering::AcqRel);
    }

    /// The stream stored a run of `entries` journal entries published by this node.
    pub fn run_stored(&self, entries: usize, bytes: usize) {
        self.metrics.journal_messages.increment(1);
        self.metrics.journal_entries.increment(entries as u64);
        self.metrics.journal_bytes.increment(bytes as u64);
    }

    /// The events stream stored a message of `bytes` published by this node.
    pub fn events_stored(&self, bytes: usize) {
        self.metrics.events_messages.increment(1);
        self.metrics.events_bytes.increment(bytes as u64);
    }

    pub fn set_replicated(&self, seq: u64) {
        self.replicated_upto.store(seq, Ordering::Release);
        self.metrics.replicated.set(seq as f64);
    }
}

/// Milliseconds since the epoch now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
