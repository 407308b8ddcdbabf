//! Wiring of a replicating node for `app.rs`: a dedicated thread runs the NATS client and the
//! replication tasks on its own single-threaded runtime (never an actor or HTTP thread);
//! `app.rs` calls, in order, [`Node::start`], [`Node::hook`] (for the journal),
//! [`Node::check`] (after recovery), then [`Node::run`] (after the actors started).
//!
//! Modes: a *primary* refuses to start if the stream holds entries its journal lacks (another
//! node was primary since: run it with `--follow`), then publishes what the stream lacks; a
//! *follower* refuses a journal with entries the stream lacks (a replaced primary's tail);
//! `--promote` is a follower that asks for its promotion at once.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::stream;
use tokio::sync::mpsc;

use super::eventpub::{inject_tickers, relay_tickers, EventPublisher};
use super::events::LevelBook;
use super::follower::{Follower, PromoteRequest};
use super::hook::{Feed, Hook};
use super::http::Replication;
use super::publisher::Publisher;
use super::stream::{self as st, connect, Nats, ReplError, Standing};
use super::{Role, Status};
use crate::actors::Exchange;
use crate::config::{Config, ReplicationConfig};
use crate::persistence::{Journal, JournalReader};

/// How this process joins the replication group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Primary,
    Follow,
    /// Follow, and take over as soon as caught up (`perpx --promote`).
    Promote,
}

/// A replicating node.
pub struct Node {
    pub mode: Mode,
    pub cfg: ReplicationConfig,
    pub status: Arc<Status>,
    pub hook: Arc<Hook>,
    feed: Option<Feed>,
    rt: tokio::runtime::Handle,
    _thread: std::thread::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    nats: Nats,
    journal_stream: stream::Stream,
    reader: Option<JournalReader>,
    /// The next journal sequence to publish (primary) or apply (follower), after `check`.
    next: u64,
    promote_tx: mpsc::UnboundedSender<PromoteRequest>,
    promote_rx: Option<mpsc::UnboundedReceiver<PromoteRequest>>,
    durability: crate::config::Durability,
}

impl Node {
    /// Start the replication thread and connect (waiting up to 30 s for NATS).
    pub async fn start(
        config: &Config,
        cfg: &ReplicationConfig,
        mode: Mode,
    ) -> Result<Node, ReplError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ReplError::Refused(format!("replication runtime: {e}")))?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("perpx-replication".into())
            .spawn(move || {
                let _ = rt.block_on(stopped);
            })
            .map_err(|e| ReplError::Refused(format!("replication thread: {e}")))?;
        let role = if mode == Mode::Primary {
            Role::Primary
        } else {
            Role::Follower
        };
        let status = Status::new(role, cfg.advertise.clone());
        let (hook, feed) = Hook::new(
            Arc::clone(&status),
            config.server.durability,
            mode == Mode::Primary,
        );
        let c = cfg.clone();
        let name = format!("perpx-{}", cfg.advertise);
        let nats = handle
            .spawn(async move { connect(&c, &name, Duration::from_secs(30)).await })
            .await
            .map_err(|e| ReplError::Nats(e.to_string()))??;
        let (n, c) = (nats.clone(), cfg.clone());
        let journal_stream = handle
            .spawn(async move {
                let js = st::journal_stream(&n, &c).await?;
                st::events_stream(&n, &c).await?;
                Ok::<_, ReplError>(js)
            })
            .await
            .map_err(|e| ReplError::Nats(e.to_string()))??;
        let (promote_tx, promote_rx) = mpsc::unbounded_channel();
        tracing::info!(mode = ?mode, stream = %cfg.stream, nats = ?cfg.nats_urls, "replication connected");
        Ok(Node {
            mode,
            cfg: cfg.clone(),
            status,
            hook,
            feed: Some(feed),
            rt: handle,
            _thread: thread,
            stop: Some(stop),
            nats,
            journal_stream,
            reader: None,
            next: 1,
            promote_tx,
            promote_rx: Some(promote_rx),
            durability: config.server.durability,
        })
    }

    /// The journal hook (given to the journal at start) and keep the journal's reader.
    pub fn hook(&mut self, reader: JournalReader) -> Arc<dyn crate::persistence::Replicate> {
        self.reader = Some(reader);
        Arc::clone(&self.hook) as Arc<dyn crate::persistence::Replicate>
    }

    /// Check the recovered journal (ending at `last_seq`) against the stream.
    pub async fn check(&mut self, last_seq: u64) -> Result<(), ReplError> {
        let reader = self
            .reader
            .clone()
            .ok_or_else(|| ReplError::Refused("the journal was started without the hook".into()))?;
        let s = self.journal_stream.clone();
        let standing = self
            .rt
            .spawn(async move { st::standing(&s, &reader, last_seq).await })
            .await
            .map_err(|e| ReplError::Nats(e.to_string()))??;
        match (self.mode, standing) {
            (Mode::Primary, Standing::Behind { ahead }) if ahead > 0 => Err(ReplError::Refused(format!(
                "the stream has {ahead} entries after this journal's last ({last_seq}): another node was primary since; start this one with --follow (then --promote it if it must take over)"
            ))),
            (Mode::Primary, standing) => {
                let ahead = match standing {
                    Standing::Ahead { ahead } => ahead,
                    Standing::Behind { .. } => 0,
                };
                self.next = last_seq - ahead + 1;
                if ahead > 0 {
                    tracing::info!(ahead, "replication: publishing journal entries the stream lacks");
                }
                self.status.set_replicated(last_seq - ahead);
                Ok(())
            }
            (_, Standing::Ahead { ahead }) if ahead > 0 => Err(ReplError::Refused(format!(
                "this journal has {ahead} entries the stream lacks (up to {last_seq}): it was a primary whose last writes never reached the stream; move the data directory aside and follow from an empty one (`perpx replay` can still read it)"
            ))),
            _ => {
                self.next = last_seq + 1;
                self.status.set_replicated(last_seq);
                Ok(())
            }
        }
    }

    /// The HTTP layer's view (app data for `http::guard` and `http::routes`).
    pub fn http(&self, journal: &Journal) -> Replication {
        Replication {
            status: Arc::clone(&self.status),
            promote: self.promote_tx.clone(),
            journal: Arc::clone(journal.stats()),
            max_lag: self.cfg.max_lag,
            max_lag_entries: self.cfg.max_lag_entries,
        }
    }

    /// Start the replication tasks for the running exchange. `books` are the markets' books
    /// at the recovered sequence `last_seq` (primary only).
    pub fn run(
        &mut self,
        ex: Arc<Exchange>,
        journal: Arc<Journal>,
        books: Vec<LevelBook>,
        last_seq: u64,
    ) {
        let publisher = self.publisher_parts(&ex, &journal);
        {
            // Every node beats while it is primary and listens to whoever is.
            let _guard = self.rt.enter();
            super::heartbeat::beat(
                &self.nats,
                &self.cfg,
                Arc::clone(&self.status),
                Arc::clone(journal.stats()),
            );
            super::heartbeat::listen(&self.nats, &self.cfg, Arc::clone(&self.status));
        }
        match self.mode {
            Mode::Primary => {
                let next = self.next;
                relay_tickers(&self.nats, &self.cfg, &ex.feeds, Arc::clone(&self.status));
                self.rt.spawn(publisher.run(next, books, last_seq));
            }
            Mode::Follow | Mode::Promote => self.follow(ex, journal, publisher),
        }
    }

    /// What the journal publisher needs, for a primary now or a follower once promoted.
    fn publisher_parts(&mut self, ex: &Exchange, journal: &Arc<Journal>) -> PublisherParts {
        let feed = self.feed.take().expect("run is called once");
        let reader = self.reader.clone().expect("check ran before");
        PublisherParts {
            nats: self.nats.clone(),
            cfg: self.cfg.clone(),
            stream: self.journal_stream.clone(),
            status: Arc::clone(&self.status),
            hook: Arc::clone(&self.hook),
            reader,
            feed,
            journal: Arc::clone(journal),
            specs: ex.specs.clone(),
            durability: self.durability,
        }
    }

    /// Follow the stream (asking for promotion at once with `--promote`); once promoted,
    /// relay the tickers and publish from the fence on.
    fn follow(&mut self, ex: Arc<Exchange>, journal: Arc<Journal>, publisher: PublisherParts) {
        let requests = self.promote_rx.take().expect("run is called once");
        inject_tickers(
            &self.nats,
            &self.cfg,
            ex.feeds.clone(),
            Arc::clone(&self.status),
        );
        let follower = Follower {
            nats: self.nats.clone(),
            cfg: self.cfg.clone(),
            stream: self.journal_stream.clone(),
            status: Arc::clone(&self.status),
            hook: Arc::clone(&self.hook),
            journal,
            ex: Arc::clone(&ex),
            next: self.next,
            requests,
            pos: 0,
            stream_last: 0,
            pending: 0,
            term: None,
        };
        if self.mode == Mode::Promote {
            self.request_promotion();
        }
        let nats = self.nats.clone();
        let cfg = self.cfg.clone();
        let feeds = ex.feeds.clone();
        self.rt.spawn(async move {
            match follower.run().await {
                Ok(p) => {
                    relay_tickers(&nats, &cfg, &feeds, Arc::clone(&publisher.status));
                    let fence = p.report.fence_seq;
                    publisher.run(fence + 1, p.books, fence).await;
                }
                Err(e) => tracing::error!(error = %e, "follower stopped: this node no longer follows the stream"),
            }
        });
    }

    /// `--promote`: queue a promotion request for the follower and log its outcome.
    fn request_promotion(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.promote_tx.send(PromoteRequest { reply: tx });
        self.rt.spawn(async move {
            match rx.await {
                Ok(Ok(r)) => tracing::info!(?r, "--promote: this node is the primary"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "--promote failed; following")
                }
                Err(_) => {}
            }
        });
    }

    /// Stop the replication thread (its tasks end).
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the primary's publishers need, moved into their task.
struct PublisherParts {
    nats: Nats,
    cfg: ReplicationConfig,
    stream: stream::Stream,
    status: Arc<Status>,
    hook: Arc<Hook>,
    reader: JournalReader,
    feed: Feed,
    journal: Arc<Journal>,
    specs: Vec<crate::domain::MarketSpec>,
    durability: crate::config::Durability,
}

impl PublisherParts {
    /// Publish the journal from `next`, and events with the books at `books_at`.
    async fn run(self, next: u64, books: Vec<LevelBook>, books_at: u64) {
        let (nats, cfg, journal, specs, status) = (
            self.nats.clone(),
            self.cfg.clone(),
            self.stream.clone(),
            self.specs,
            Arc::clone(&self.status),
        );
        // The events stream may be briefly unavailable (a NATS leader election right after a
        // failover): retried here, while the journal publisher starts at once.
        if std::env::var_os("PERPX_EXPERIMENT_NO_EVENTS").is_none() {
            tokio::spawn(async move {
                let mut wait = Duration::from_millis(200);
                let events = loop {
                    match nats.js.get_stream(cfg.events_stream()).await {
                        Ok(s) => break s,
                        Err(e) => {
                            tracing::warn!(error = %e, "events stream unavailable; retrying");
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(Duration::from_secs(5));
                        }
                    }
                };
                let ep = EventPublisher {
                    nats,
                    cfg,
                    journal,
                    events,
                    specs,
                    books,
                    books_at,
                    status,
                    window: Default::default(),
                };
                if let Err(e) = ep.run().await {
                    tracing::error!(error = %e, "event publisher stopped");
                }
            });
        }
        let p = Publisher {
            nats: self.nats,
            stream: self.stream,
            subject: self.cfg.journal_subject(),
            status: self.status,
            hook: self.hook,
            reader: self.reader,
            feed: self.feed,
            stats: Arc::clone(self.journal.stats()),
            next,
            linger: self.cfg.linger,
            eager: self.durability == crate::config::Durability::Replicated,
        };
        let stopped = p.run().await;
        tracing::error!(?stopped, "journal publisher stopped");
    }
}

/// The books of the recovered engines, for the event publisher.
pub fn books(initial: &crate::engine::ExchangeState) -> Vec<LevelBook> {
    initial
        .engines
        .iter()
        .map(|e| LevelBook::from_depth(&e.book().depth(usize::MAX)))
        .collect()
}
