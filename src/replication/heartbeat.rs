//! The primary's heartbeat: every [`EVERY`] the primary announces on core NATS
//! (`<prefix>.head`, not stored) how far its journal is committed and how far the stream has
//! it. Followers measure their lag against the *primary* with it (the stream may itself lag),
//! a promotion reports what the stream lacks against the last head heard, and
//! `auto_promote` watches its silence.
//!
//! # Invariants
//! - Only a node whose role is primary beats; a follower ignores heads from its own address.
//! - [`Heard::lag`] is measured against heads actually received: with none received within
//!   [`HISTORY`], the lag is unknown and reported as the stream's.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::stream::Nats;
use super::{now_ms, Role, Status};
use crate::config::ReplicationConfig;
use crate::persistence::JournalStats;

/// How often the primary beats.
pub const EVERY: Duration = Duration::from_millis(100);
/// How long heard heads are kept for the lag in seconds.
pub const HISTORY: Duration = Duration::from_secs(30);

/// One heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The primary's base URL.
    pub primary: String,
    /// Its last committed journal entry.
    pub committed: u64,
    /// The last journal entry the stream acknowledged to it.
    pub replicated: u64,
    /// When it was sent (ms since the epoch, the primary's clock).
    pub time: u64,
}

/// The heads a follower heard.
#[derive(Debug, Default)]
pub struct Heard {
    /// The last head and when it arrived.
    pub last: Option<(Head, Instant)>,
    /// `(arrival, committed)` of recent heads, oldest first.
    history: VecDeque<(Instant, u64)>,
    /// The silence counts from here at the earliest (see `Status::reset_silence`).
    pub reset_at: Option<Instant>,
}

impl Heard {
    pub fn hear(&mut self, head: Head, now: Instant) {
        while self
            .history
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > HISTORY)
        {
            self.history.pop_front();
        }
        self.history.push_back((now, head.committed));
        self.last = Some((head, now));
    }

    /// How far a node that applied up to `applied` is behind the primary: entries (the last
    /// head's committed minus `applied`) and seconds (since the first head that announced an
    /// entry not yet applied). `None`: no head heard.
    pub fn lag(&self, applied: u64, now: Instant) -> Option<(u64, f64)> {
        let (head, _) = self.last.as_ref()?;
        let entries = head.committed.saturating_sub(applied);
        let seconds = self
            .history
            .iter()
            .find(|(_, c)| *c > applied)
            .map_or(0.0, |(t, _)| now.duration_since(*t).as_secs_f64());
        Some((entries, seconds))
    }
}

/// Beat while this node is primary (the task lives as long as the replication runtime).
pub fn beat(nats: &Nats, cfg: &ReplicationConfig, status: Arc<Status>, stats: Arc<JournalStats>) {
    let client = nats.client.clone();
    let subject = cfg.head_subject();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if status.role() != Role::Primary {
                continue;
            }
            let head = Head {
                primary: status.advertise.clone(),
                committed: stats.durable_upto.load(Ordering::Acquire),
                replicated: status.replicated_upto.load(Ordering::Acquire),
                time: now_ms(),
            };
            let body = serde_json::to_vec(&head).expect("a head serializes");
            // Core NATS: fire and forget; a lost beat is covered by the next.
            let _ = client.publish(subject.clone(), body.into()).await;
        }
    });
}

/// Listen to the primary's heartbeat (followers and a fenced node: it names the primary).
pub fn listen(nats: &Nats, cfg: &ReplicationConfig, status: Arc<Status>) {
    let client = nats.client.clone();
    let subject = cfg.head_subject();
    tokio::spawn(async move {
        let mut sub = loop {
            match client.subscribe(subject.clone()).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(error = %e, "replication: cannot subscribe to the heartbeat; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        while let Some(m) = sub.next().await {
            let Ok(head) = serde_json::from_slice::<Head>(&m.payload) else {
                tracing::debug!("replication: a heartbeat that is not one; ignored");
                continue;
            };
            if head.primary == status.advertise {
                continue;
            }
            if status.role() != Role::Primary && status.primary().as_deref() != Some(&head.primary)
            {
                status.set_primary(Some(head.primary.clone()));
            }
            status.hear(head);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(committed: u64) -> Head {
        Head {
            primary: "http://p".into(),
            committed,
            replicated: committed,
            time: 0,
        }
    }

    #[test]
    fn lag_is_measured_against_heads_heard() {
        let t0 = Instant::now();
        let mut h = Heard::default();
        assert_eq!(h.lag(5, t0), None, "nothing heard: unknown");
        h.hear(head(10), t0);
        h.hear(head(20), t0 + Duration::from_millis(100));
        h.hear(head(30), t0 + Duration::from_millis(200));
        let now = t0 + Duration::from_millis(250);
        // Applied 15: behind 15 entries, since the head that first announced 16..=20.
        let (e, s) = h.lag(15, now).unwrap();
        assert_eq!(e, 15);
        assert!((s - 0.15).abs() < 1e-9, "{s}");
        // Applied 5: behind since the first head kept.
        assert!((h.lag(5, now).unwrap().1 - 0.25).abs() < 1e-9);
        // Caught up.
        assert_eq!(h.lag(30, now), Some((0, 0.0)));
        assert_eq!(h.lag(31, now), Some((0, 0.0)));
    }

    #[test]
    fn old_heads_are_forgotten() {
        let t0 = Instant::now();
        let mut h = Heard::default();
        h.hear(head(10), t0);
        let later = t0 + HISTORY + Duration::from_secs(1);
        h.hear(head(11), later);
        // The head from t0 is gone: the lag in seconds counts from the one kept.
        assert_eq!(h.lag(9, later), Some((2, 0.0)));
    }
}
