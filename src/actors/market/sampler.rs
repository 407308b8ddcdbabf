//! Sampling every market at the Risk and Funding actors' ticks without waking the idle ones.
//! A market counts its changes ([`Changes`]: bumped by every handler that may move its book,
//! last price or open interest); a [`Sampler`] asks only the markets whose count moved since
//! its last sample of them, and re-dates its copy of the others' samples.
//!
//! # Invariants
//! - A sample carries the count read on the market's thread when it was taken. A cached
//!   sample is reused only while the count still equals it: no change ran since, so the
//!   sample is what the market would answer (a change in progress on the market's thread is
//!   linearized after the reuse, as it would be after a request answered just before it).
//! - A reused sample is re-dated to the sampler's `now`; everything else is as taken.
//! - A market that has stopped answers nothing and is left out, as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;

use super::MarketActor;
use crate::actors::messages::{MarketSample, SampleRequest};
use crate::domain::Timestamp;

/// One market's change count, shared by the market (writer) and the samplers (readers).
#[derive(Debug, Default)]
pub struct Changes(AtomicU64);

impl Changes {
    /// Called by the market before (or while) a handler changes its state.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Every market's newest sample, re-asked only where the market changed.
pub struct Sampler {
    addrs: Vec<Addr<MarketActor>>,
    changes: Vec<Arc<Changes>>,
    cache: Vec<Option<MarketSample>>,
}

impl Sampler {
    pub fn new(addrs: Vec<Addr<MarketActor>>, changes: Vec<Arc<Changes>>) -> Sampler {
        assert_eq!(addrs.len(), changes.len(), "one change count per market");
        Sampler {
            cache: vec![None; addrs.len()],
            addrs,
            changes,
        }
    }

    /// The markets' addresses, in market order.
    pub fn addrs(&self) -> &[Addr<MarketActor>] {
        &self.addrs
    }

    /// One round at `now`: the cached samples of unchanged markets (re-dated) and requests to
    /// the others, answered in market order. Hand the result to [`Sampler::keep`].
    pub fn round(&self, now: Timestamp) -> impl std::future::Future<Output = Vec<MarketSample>> {
        let mut ready: Vec<Option<MarketSample>> = Vec::with_capacity(self.addrs.len());
        let mut asked = Vec::new();
        for (i, (addr, changes)) in self.addrs.iter().zip(&self.changes).enumerate() {
            match self.cache[i] {
                Some(s) if s.changes == changes.get() => {
                    ready.push(Some(MarketSample { now, ..s }))
                }
                _ => {
                    ready.push(None);
                    asked.push((i, addr.send(SampleRequest)));
                }
            }
        }
        async move {
            for (i, r) in asked {
                if let Ok(s) = r.await {
                    ready[i] = Some(s);
                }
            }
            ready.into_iter().flatten().collect()
        }
    }

    /// Remember a round's samples for the next.
    pub fn keep(&mut self, samples: &[MarketSample]) {
        for s in samples {
            if let Some(c) = self.cache.get_mut(s.market.index()) {
                *c = Some(*s);
            }
        }
    }
}
