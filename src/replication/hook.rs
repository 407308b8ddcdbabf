//! The journal's replication hook ([`Replicate`]): what happens to a committed entry when the
//! node replicates.
//!
//! - Following: the entries came from the stream; acknowledgements run at once and nothing
//!   is published. The whole journal is replicated (pruning is the snapshotter's business).
//! - Publishing: copies go to the publisher over a channel bounded in bytes (when it is full
//!   they are dropped and the publisher re-reads them from the journal: the journal thread
//!   never waits on the network). With durability "replicated" the acknowledgements are held
//!   until the publisher reports the stream has the entry ([`Hook::release`]); otherwise
//!   they run at once.
//! - Fenced: held and later acknowledgements fail (`not primary`).
//!
//! # Invariants
//! - Every acknowledgement runs exactly once; a held one runs only when its sequence is at or
//!   below the stream's acknowledged sequence (checked and queued under one lock, so a release
//!   racing a commit can neither miss nor double-run it).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::Status;
use crate::config::Durability;
use crate::persistence::{Ack, AckError, Replicate};

/// Bytes of entries that may wait for the publisher before further ones are dropped (and
/// re-read from the journal later).
pub const CHANNEL_BYTES: usize = 64 << 20;

/// Committed entries for the publisher.
pub type Entries = Vec<(u64, Vec<u8>)>;

const FOLLOWING: u8 = 0;
const PUBLISHING: u8 = 1;
const FENCED: u8 = 2;

/// The hook; shared by the journal thread, the publisher and the promotion.
pub struct Hook {
    mode: AtomicU8,
    hold: bool,
    status: Arc<Status>,
    held: Mutex<Held>,
    tx: mpsc::UnboundedSender<Entries>,
    queued: Arc<AtomicUsize>,
    dropped: AtomicBool,
}

#[derive(Default)]
struct Held {
    acks: VecDeque<(u64, Ack)>,
}

/// The publisher's end of the hook's channel.
pub struct Feed {
    pub rx: mpsc::UnboundedReceiver<Entries>,
    queued: Arc<AtomicUsize>,
}

impl Feed {
    /// Account for entries taken off the channel.
    pub fn taken(&self, entries: &Entries) {
        let bytes: usize = entries.iter().map(|(_, b)| b.len()).sum();
        self.queued.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl Hook {
    /// A hook for a node that starts following (`publishing: false`) or as primary.
    pub fn new(status: Arc<Status>, durability: Durability, publishing: bool) -> (Arc<Hook>, Feed) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let hook = Arc::new(Hook {
            mode: AtomicU8::new(if publishing { PUBLISHING } else { FOLLOWING }),
            hold: durability == Durability::Replicated,
            status,
            held: Mutex::new(Held::default()),
            tx,
            queued: Arc::clone(&queued),
            dropped: AtomicBool::new(false),
        });
        (hook, Feed { rx, queued })
    }

    /// From now on publish (after a promotion).
    pub fn start_publishing(&self) {
        self.mode.store(PUBLISHING, Ordering::Release);
    }

    /// Entries up to `seq` are in the stream: run the held acknowledgements up to it.
    pub fn release(&self, seq: u64) {
        let ready: Vec<(u64, Ack)> = {
            let mut h = self
                .held
                .lock()
                .expect("never poisoned: no panics under the lock");
            self.status.set_replicated(seq);
            let n = h.acks.iter().take_while(|(s, _)| *s <= seq).count();
            h.acks.drain(..n).collect()
        };
        for (s, ack) in ready {
            ack(Ok(s));
        }
    }

    /// This node is no longer primary: fail every held and future acknowledgement.
    pub fn fence(&self) {
        self.mode.store(FENCED, Ordering::Release);
        let failed: Vec<(u64, Ack)> = {
            let mut h = self
                .held
                .lock()
                .expect("never poisoned: no panics under the lock");
            h.acks.drain(..).collect()
        };
        for (_, ack) in failed {
            ack(Err(AckError::NotPrimary));
        }
    }

    /// Whether entries were dropped since the last call (the publisher then re-reads).
    pub fn take_dropped(&self) -> bool {
        self.dropped.swap(false, Ordering::AcqRel)
    }
}

impl Replicate for Hook {
    fn committed(&self, entries: Vec<(u64, Vec<u8>)>, mut acks: Vec<(Ack, u64)>) {
        match self.mode.load(Ordering::Acquire) {
            FOLLOWING => {
                for (ack, seq) in acks {
                    ack(Ok(seq));
                }
                return;
            }
            FENCED => {
                for (ack, _) in acks {
                    ack(Err(AckError::NotPrimary));
                }
                return;
            }
            _ => {}
        }
        if let Some(&(last, _)) = entries.last() {
            self.status.local_upto.fetch_max(last, Ordering::AcqRel);
        }
        let bytes: usize = entries.iter().map(|(_, b)| b.len()).sum();
        if !entries.is_empty() {
            if self.queued.load(Ordering::Acquire) + bytes > CHANNEL_BYTES {
                self.dropped.store(true, Ordering::Release);
            } else {
                self.queued.fetch_add(bytes, Ordering::AcqRel);
                if self.tx.send(entries).is_err() {
                    self.queued.fetch_sub(bytes, Ordering::AcqRel);
                    self.dropped.store(true, Ordering::Release);
                }
            }
        }
        if !self.hold {
            for (ack, seq) in acks {
                ack(Ok(seq));
            }
            return;
        }
        // Held in sequence order, so a release takes a prefix.
        acks.sort_unstable_by_key(|(_, s)| *s);
        let mut now = Vec::new();
        {
            let mut h = self
                .held
                .lock()
                .expect("never poisoned: no panics under the lock");
            let upto = self.status.replicated_upto.load(Ordering::Acquire);
            for (ack, seq) in acks {
                if seq <= upto {
                    now.push((ack, seq));
                } else {
                    h.acks.push_back((seq, ack));
                }
            }
        }
        for (ack, seq) in now {
            ack(Ok(seq));
        }
    }

    fn replicated_upto(&self) -> u64 {
        match self.mode.load(Ordering::Acquire) {
            FOLLOWING => u64::MAX,
            _ => self.status.replicated_upto.load(Ordering::Acquire),
        }
    }
}
