//! What the publisher does when a run was not stored as sent: look at the stream, count as
//! replicated what it holds of ours (a lost acknowledgement), or stop for good (fenced)
//! when another node extended it (see the parent module's invariants).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream;

use super::{Publisher, State, Stopped, ACK_TIMEOUT, RETRY};
use crate::replication::frame;
use crate::replication::stream::{bounds, message, ReplError, PRIMARY_HEADER};

impl Publisher {
    /// After an unexpected answer: forget the message in flight, look at the stream, count as
    /// replicated what it holds of ours, and go on after its last message, or stop (fenced)
    /// if it holds something else.
    pub(super) async fn recover(&self, st: &mut State, backoff: &mut Duration) -> Option<Stopped> {
        st.inflight = None;
        loop {
            // Bounded like an acknowledgement: a request sent to a stream without a leader
            // would otherwise wait the whole API timeout after the election ended.
            let checked = tokio::time::timeout(ACK_TIMEOUT, self.check(st))
                .await
                .unwrap_or_else(|_| {
                    Err(ReplError::Nats(format!(
                        "the stream did not answer within {ACK_TIMEOUT:?}"
                    )))
                });
            match checked {
                Ok(None) => return None,
                Ok(Some(why)) => return Some(self.fenced(why, st.acked).await),
                Err(e) => {
                    tracing::warn!(error = %e, "replication: the stream is unavailable; retrying");
                    tokio::time::sleep(*backoff).await;
                    *backoff = (*backoff * 2).min(RETRY);
                }
            }
        }
    }

    /// `Ok(Some(reason))`: fenced.
    async fn check(&self, st: &mut State) -> Result<Option<String>, ReplError> {
        let (_, last) = bounds(&self.stream).await?;
        if last < st.stream_seq {
            return Ok(Some(format!(
                "the stream ends at message {last} but acknowledged {} (purged or replaced?)",
                st.stream_seq
            )));
        }
        while st.stream_seq < last {
            let at = st.stream_seq + 1;
            let Some(m) = message(&self.stream, at).await? else {
                return Ok(Some(format!("stream message {at} is missing")));
            };
            let run = match frame::of_message(Some(&m.headers), &m.payload, at) {
                Ok(r) => r,
                Err(e) => return Ok(Some(format!("stream message {at}: {e}"))),
            };
            if run.first != st.acked + 1 {
                return Ok(Some(format!(
                    "stream message {at} holds entries {}..={}, after {}: another node published it",
                    run.first,
                    run.last(),
                    st.acked
                )));
            }
            let ours = run.entries.len() <= st.pending.len()
                && run
                    .iter()
                    .zip(&st.pending)
                    .all(|((seq, bytes), o)| o.seq == seq && o.bytes[..] == *bytes);
            if !ours {
                return Ok(Some(format!(
                    "stream message {at} was published by another node"
                )));
            }
            let n = run.entries.len();
            let end = run.last();
            let bytes = m.payload.len();
            st.pending.drain(..n);
            st.acked = end;
            st.stream_seq = at;
            self.status.run_stored(n, bytes);
            self.hook.release(end);
        }
        Ok(None)
    }

    async fn fenced(&self, why: String, acked: u64) -> Stopped {
        self.status.set_role(crate::replication::Role::Fenced);
        self.hook.fence();
        // The lag stays what it is: the committed entries the stream never took.
        let local = self.stats.durable_upto.load(Ordering::Acquire);
        self.status.set_lag(local.saturating_sub(acked), 0.0);
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
async fn last_publisher(s: &stream::Stream) -> Result<Option<String>, ReplError> {
    let (_, last) = bounds(s).await?;
    let m = message(s, last).await?;
    tracing::debug!(last, seq = ?m.as_ref().map(|m| m.sequence), "replication: last publisher");
    Ok(m.and_then(|m| {
        crate::replication::stream::header(&m.headers, PRIMARY_HEADER).map(str::to_owned)
    }))
}
