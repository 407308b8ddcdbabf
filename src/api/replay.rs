//! Replay protection (docs/API.md "Authentication"): a signed request's signature is accepted
//! once. A signature covers the request's timestamp, so it is only valid inside its window;
//! the guard remembers each accepted signature until the end of that window, after which the
//! timestamp check refuses it anyway.
//!
//! # Invariants
//! - A signature is recorded only after it verified (forged requests cannot fill the guard)
//!   and at most once: of two concurrent requests with the same signature exactly one passes
//!   (the insert under the shard's lock decides).
//! - Memory is bounded by the accepted requests inside the longest window (the native
//!   `recv_window`, Binance's `recvWindow` ≤ 60 s): about 48 bytes per request of the last
//!   window, each shard pruned when it has doubled since its last prune.

use std::sync::Mutex;

use rustc_hash::FxHashMap;

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    /// The signature's first 16 bytes → the end of its window (ms).
    seen: FxHashMap<u128, u64>,
    /// Prune when `seen` reaches this size.
    prune_at: usize,
}

/// See the module docs.
pub struct ReplayGuard {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

impl ReplayGuard {
    /// Record `signature` (raw bytes, ≥ 16) valid until `until` (ms) at `now`; `false` if it
    /// was already recorded and its window has not ended (a replay).
    pub fn first_use(&self, signature: &[u8], until: u64, now: u64) -> bool {
        let Some(head) = signature.get(..16) else {
            return false;
        };
        let mut b = [0u8; 16];
        b.copy_from_slice(head);
        let id = u128::from_le_bytes(b);
        // A poisoned lock only means a panic elsewhere, which stops the process (fail fast).
        let mut s = self.shards[(id as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if s.seen.len() >= s.prune_at {
            s.seen.retain(|_, end| *end >= now);
            s.prune_at = (s.seen.len() * 2).max(1024);
        }
        match s.seen.get(&id) {
            Some(&end) if end >= now => false,
            _ => {
                s.seen.insert(id, until);
                true
            }
        }
    }

    /// Signatures remembered now (for metrics and tests).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).seen.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_passes_once_inside_its_window() {
        let g = ReplayGuard::default();
        let sig = [7u8; 32];
        assert!(g.first_use(&sig, 1_000, 0));
        assert!(!g.first_use(&sig, 1_000, 500), "replayed inside the window");
        assert!(!g.first_use(&sig, 1_000, 1_000));
        assert!(g.first_use(&[8u8; 32], 1_000, 500), "another signature");
        assert!(
            !g.first_use(&[1u8; 8], 1_000, 0),
            "too short to be a signature"
        );
    }

    #[test]
    fn expired_entries_are_pruned() {
        let g = ReplayGuard::default();
        for i in 0..50_000u32 {
            let mut sig = [0u8; 32];
            sig[..4].copy_from_slice(&i.to_le_bytes());
            assert!(g.first_use(&sig, u64::from(i), u64::from(i)));
        }
        assert!(
            g.len() < 50_000,
            "old windows were pruned ({} left)",
            g.len()
        );
    }

    /// Many threads race the same signatures: each passes exactly once.
    #[test]
    fn concurrent_replays_pass_once() {
        let g = ReplayGuard::default();
        let passed = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..2_000u32 {
                        let mut sig = [0u8; 32];
                        sig[..4].copy_from_slice(&i.to_le_bytes());
                        if g.first_use(&sig, 10_000, 1) {
                            passed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(passed.into_inner(), 2_000);
    }
}
