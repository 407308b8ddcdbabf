//! A translator's receiver on a native feed, held only while some Binance stream needs it, so
//! that without Binance subscribers the native feeds wake nobody extra (a cross-thread wake-up
//! per book change or trade would cost the native order path).
//!
//! # Invariants
//! - A session subscribes to the Binance channel first, then calls [`Tap::activate`], which
//!   creates the native receiver at once (synchronously): nothing published after the
//!   session's subscription is missed by the translator.
//! - The translator releases the receiver only under the same lock, after seeing that its
//!   Binance channels have no receivers: an activation and a release never cross.

use std::sync::Mutex;

use tokio::sync::{broadcast, Notify};

struct State<T> {
    active: bool,
    handed: Option<broadcast::Receiver<T>>,
}

pub struct Tap<T> {
    state: Mutex<State<T>>,
    wake: Notify,
}

impl<T: Clone> Default for Tap<T> {
    fn default() -> Tap<T> {
        Tap {
            state: Mutex::new(State {
                active: false,
                handed: None,
            }),
            wake: Notify::new(),
        }
    }
}

impl<T: Clone> Tap<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Session side: make sure the translator listens to `source` (after the session has
    /// subscribed to the translator's output).
    pub fn activate(&self, source: &crate::actors::lazy_broadcast::LazySender<T>) {
        let mut s = self.lock();
        if !s.active {
            s.active = true;
            s.handed = Some(source.subscribe());
            self.wake.notify_one();
        }
    }

    /// Translator side: wait for a receiver handed over by [`Tap::activate`].
    pub async fn handed(&self) -> broadcast::Receiver<T> {
        loop {
            if let Some(rx) = self.lock().handed.take() {
                return rx;
            }
            self.wake.notified().await;
        }
    }

    /// Translator side: stop listening if `idle()` holds (checked under the lock).
    pub fn release_if(&self, idle: impl Fn() -> bool) -> bool {
        let mut s = self.lock();
        if s.active && idle() {
            s.active = false;
            s.handed = None;
            return true;
        }
        false
    }
}

/// Receive from `rx`, or wait forever when there is none.
pub async fn recv<T: Clone>(
    rx: &mut Option<broadcast::Receiver<T>>,
) -> Result<T, broadcast::error::RecvError> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn activation_hands_over_a_live_receiver_once() {
        let tx = crate::actors::lazy_broadcast::LazySender::<u32>::new(8);
        let tap = Tap::default();
        tap.activate(&tx);
        tap.activate(&tx); // already active: no second receiver
        let _ = tx.send(7);
        let mut rx = tap.handed().await;
        assert_eq!(
            rx.recv().await.unwrap(),
            7,
            "nothing sent after activation is missed"
        );
        assert_eq!(tx.receiver_count(), 1);
        assert!(!tap.release_if(|| false));
        assert!(tap.release_if(|| true));
        drop(rx);
        tap.activate(&tx);
        assert_eq!(tx.receiver_count(), 1, "a new receiver after a release");
    }
}
