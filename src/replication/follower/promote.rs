//! Promotion of a follower (see the parent module's doc): drain the stream, make the local
//! journal and the actors current, publish the fence, take over; and `auto_promote`.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::publish::PublishAck;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;

use super::{Follower, Messages, PromoteReport, Promoted};
use crate::actors::account::follow::{Barrier, Promote};
use crate::actors::market::query::DepthQuery;
use crate::persistence::codec::{self, Batch};
use crate::replication::frame;
use crate::replication::stream::{bounds, nats, ReplError, KEY_HEADER, PRIMARY_HEADER};
use crate::replication::Role;

impl Follower {
    /// With `auto_promote`: promote when the primary has been silent that long and this node
    /// has applied everything the stream has (as far as it knows).
    pub(super) async fn maybe_auto_promote(&mut self, msgs: &mut Messages) -> Option<Promoted> {
        let after = self.cfg.auto_promote?;
        let silence = self.status.silence();
        if self.status.role() != Role::Follower
            || silence < after
            || self.pending > 0
            || self.stream_last > self.next - 1
        {
            return None;
        }
        tracing::warn!(
            silence_ms = silence.as_millis() as u64,
            applied = self.next - 1,
            "auto_promote: no heartbeat from the primary; promoting this node"
        );
        match self.promote(msgs, Instant::now(), true).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "auto_promote: not promoted; still following");
                self.status.set_role(Role::Follower);
                self.status.reset_silence();
                None
            }
        }
    }

    /// Drain, fence, become primary. `automatic`: give up (instead of draining again) if the
    /// stream moves on or the primary's heartbeat comes back.
    pub(super) async fn promote(
        &mut self,
        msgs: &mut Messages,
        started: Instant,
        automatic: bool,
    ) -> Result<Promoted, ReplError> {
        self.check_key()?;
        self.status.set_role(Role::Promoting);
        let from = self.next;
        let term = self.term;
        for attempt in 1..=60 {
            let last = match bounds(&self.stream).await {
                Ok((_, last)) => last,
                Err(e) => {
                    tracing::warn!(error = %e, "promotion: the stream is unavailable; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            self.drain_to(msgs, last).await?;
            self.settle().await?;
            if automatic {
                self.still_wanted(term)?;
            }
            let seq = self.next;
            let fence_entry = codec::encode(&Batch::ledger(Vec::new(), self.ex.clock.now()));
            match self.publish_fence(seq, last, &fence_entry).await {
                Ok(a) if a.sequence == last + 1 && !a.duplicate => {
                    self.append(seq, &fence_entry)?;
                    self.pos = last + 2;
                    self.settle().await?;
                    return self.take_over(seq, seq - from, started, automatic).await;
                }
                // Another node published first (or an earlier try of ours landed, which the
                // next drain applies like any entry): drain again and fence after it.
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    if automatic {
                        return Err(ReplError::Refused(
                            "another node extended the stream (the primary is alive, or another follower promoted first)".into(),
                        ));
                    }
                    tracing::warn!(attempt, "promotion: the stream moved on; draining again");
                }
                Ok(a) => {
                    tracing::warn!(
                        attempt,
                        stored = a.sequence,
                        duplicate = a.duplicate,
                        "promotion: the fence was not stored as sent; draining again"
                    );
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "promotion: publishing the fence failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Err(ReplError::Refused(
            "could not fence the stream in 60 attempts: is another primary still publishing, or is the stream without quorum?".into(),
        ))
    }

    /// A node whose master key differs from the primary's must not take over: the API keys
    /// it holds would not decrypt.
    fn check_key(&self) -> Result<(), ReplError> {
        if self
            .status
            .key_mismatch
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(ReplError::Refused(
                "this node's master.key differs from the primary's (API keys would stop working); copy the primary's <data_dir>/master.key here and restart".into(),
            ));
        }
        Ok(())
    }

    /// Apply every stream message up to sequence `last` (each within 10 s).
    async fn drain_to(&mut self, msgs: &mut Messages, last: u64) -> Result<(), ReplError> {
        while self.pos <= last {
            match tokio::time::timeout(Duration::from_secs(10), msgs.next()).await {
                Ok(Some(Ok(m))) => self.apply(&m)?,
                Ok(Some(Err(e))) => return Err(nats(e)),
                Ok(None) | Err(_) => {
                    return Err(ReplError::Nats(format!(
                        "draining: no stream message {} within 10 s",
                        self.pos
                    )))
                }
            }
        }
        Ok(())
    }

    /// An automatic promotion gives up once the stream shows another term or the primary's
    /// heartbeat is back.
    fn still_wanted(&self, term: Option<u64>) -> Result<(), ReplError> {
        // The drain brought a message of another term: a fence (or the runs) of a node
        // that promoted itself since this one decided to. It is the primary now.
        if self.term != term {
            return Err(ReplError::Refused(format!(
                "another node took over while this one drained (term {:?} → {:?})",
                term, self.term
            )));
        }
        if self.status.silence() < crate::replication::heartbeat::EVERY * 5 {
            return Err(ReplError::Refused(
                "the primary's heartbeat is back: not promoting".into(),
            ));
        }
        Ok(())
    }

    /// Publish the fence entry `seq` on the condition that the stream's last message is
    /// still `last`, and wait for the acknowledgement.
    async fn publish_fence(
        &self,
        seq: u64,
        last: u64,
        fence_entry: &[u8],
    ) -> Result<PublishAck, PublishError> {
        let fence = frame::encode(seq, [fence_entry]);
        let mut h = HeaderMap::new();
        // The fence opens term `seq` (see the publisher): its id is `seq.seq`.
        h.insert(
            NATS_MESSAGE_ID,
            crate::replication::publisher::msg_id(seq, seq).as_str(),
        );
        h.insert(NATS_EXPECTED_LAST_SEQUENCE, last.to_string().as_str());
        h.insert(frame::FIRST_HEADER, seq.to_string().as_str());
        h.insert(frame::LAST_HEADER, seq.to_string().as_str());
        h.insert(PRIMARY_HEADER, self.status.advertise.as_str());
        h.insert(KEY_HEADER, self.status.key_id().as_str());
        match self
            .nats
            .js
            .publish_with_headers(self.cfg.journal_subject(), h, Bytes::from(fence))
            .await
        {
            Ok(f) => f.into_future().await,
            Err(e) => Err(e),
        }
    }

    /// Wait until the local journal has every applied entry durably and the actors applied it.
    async fn settle(&self) -> Result<(), ReplError> {
        let journal = Arc::clone(&self.journal);
        let durable = tokio::task::spawn_blocking(move || journal.flush())
            .await
            .map_err(|e| ReplError::Journal(e.to_string()))?
            .map_err(|e| ReplError::Journal(e.to_string()))?;
        if durable != self.next - 1 {
            return Err(ReplError::Journal(format!(
                "the local journal ends at {durable}, the stream's entries at {}",
                self.next - 1
            )));
        }
        let gone = |e: actix::MailboxError| ReplError::Journal(format!("actors: {e}"));
        self.ex.account.send(Barrier).await.map_err(gone)?;
        for m in &self.ex.markets {
            m.send(Barrier).await.map_err(gone)?;
        }
        Ok(())
    }

    /// The stream has the fence at `seq`: this node is the primary from here on.
    async fn take_over(
        &self,
        seq: u64,
        drained: u64,
        started: Instant,
        automatic: bool,
    ) -> Result<Promoted, ReplError> {
        let gone = |e: actix::MailboxError| ReplError::Journal(format!("actors: {e}"));
        self.hook.release(seq);
        self.hook.start_publishing();
        let p = self.ex.account.send(Promote).await.map_err(gone)?;
        self.ex.risk.do_send(crate::actors::risk::Resume(p.marks));
        if !p.liquidating.is_empty() {
            self.ex
                .risk
                .do_send(crate::actors::messages::Liquidatable(p.liquidating));
        }
        self.ex.funding.do_send(crate::actors::funding::StartTimers);
        let mut books = Vec::with_capacity(self.ex.markets.len());
        for m in &self.ex.markets {
            m.send(crate::actors::market::follow::Promote)
                .await
                .map_err(gone)?;
            let d = m.send(DepthQuery(usize::MAX)).await.map_err(gone)?;
            books.push(crate::replication::events::LevelBook::from_depth(&d));
        }
        self.status.set_role(Role::Primary);
        let last_head_seq = self.status.last_head().map(|h| h.committed);
        let report = PromoteReport {
            fence_seq: seq,
            drained,
            took_ms: started.elapsed().as_millis() as u64,
            last_head_seq,
            missing: last_head_seq.map_or(0, |h| h.saturating_sub(seq - 1)),
            automatic,
        };
        tracing::info!(?report, "promoted: this node is the primary");
        Ok(Promoted { report, books })
    }
}
