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
//! - [`publisher`]: the primary's journal publisher (`Nats-Expected-Last-Sequence` fencing).
//! - [`eventpub`]: the primary's JSON events, book snapshots and ticker relay; [`events`]
//!   renders them.
//! - [`follower`]: a follower consuming the stream, and its promotion.
//! - [`http`]: `503 NOT_PRIMARY` for writes off the primary; admin routes.
//! - [`node`]: wiring for `app.rs`; [`gateway`]: `perpx --gateway`; [`replay`]: `perpx replay`.
//!
//! # Invariants
//! - The journal stream's sequence equals the journal sequence: entry `s` is stream message
//!   `s`, published with `Nats-Msg-Id = s.T` (`T`: the publishing primary's term),
//!   and `Nats-Expected-Last-Sequence = s − 1`, one message in flight. So the stream is one
//!   chain, and a publisher whose predecessor is not the stream's last message is refused: of two nodes that believe they are primary, only one extends the chain, and
//!   the other stops accepting writes at its next publish (fencing).
//! - A node acknowledges an entry in durability "replicated" only once the stream has stored
//!   it; a follower applies only what the stream stored, so a promoted follower has every
//!   acknowledged entry.
//! - A follower appends stream entries to its own journal with the same sequence, so its data
//!   directory is a primary's in every respect.

pub mod eventpub;
pub mod events;
pub mod follower;
pub mod gateway;
pub mod hook;
pub mod http;
pub mod node;
pub mod publisher;
pub mod replay;
pub mod stream;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use metrics::Gauge;

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
    metrics: StatusMetrics,
}

struct StatusMetrics {
    role: Gauge,
    lag_seq: Gauge,
    lag_seconds: Gauge,
    replicated: Gauge,
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
            replicated: metrics::gauge!("perpx_replication_replicated_seq"),
        };
        metrics::describe_gauge!(
            "perpx_replication_role",
            "0 primary, 1 follower, 2 promoting, 3 fenced."
        );
        metrics::describe_gauge!(
            "perpx_replication_lag_entries",
            "Primary: journal entries committed but not yet in the stream. Follower: stream entries not yet applied."
        );
        metrics::describe_gauge!(
            "perpx_replication_lag_seconds",
            "Primary: age of the oldest unacknowledged entry. Follower: age of the last applied entry when it arrived."
        );
        metrics::describe_gauge!(
            "perpx_replication_replicated_seq",
            "The last journal sequence in the stream (primary: acknowledged; follower: applied)."
        );
        metrics.role.set(role as u8 as f64);
        Arc::new(Status {
            role: AtomicU8::new(role as u8),
            advertise,
            primary: Mutex::new((role == Role::Primary).then(String::new)),
            replicated_upto: AtomicU64::new(0),
            stream_last: AtomicU64::new(0),
            local_upto: AtomicU64::new(0),
            key_id: Mutex::new(String::new()),
            key_mismatch: Default::default(),
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

    /// Record lag figures (entries and seconds) for the metrics and the status route.
    pub fn set_lag(&self, entries: u64, seconds: f64) {
        self.metrics.lag_seq.set(entries as f64);
        self.metrics.lag_seconds.set(seconds);
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
