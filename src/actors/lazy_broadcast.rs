//! [`LazySender`]: a tokio broadcast sender whose channel is made on its first subscriber.
//!
//! A broadcast channel allocates its whole ring when it is made (`capacity` slots, ~40–48
//! bytes each for the feeds' payloads): made eagerly, every public stream of every market
//! held its ring with nobody listening — with `ws_queue = 4096` and 36 streams a market, 6.9
//! MB of heap per idle market (docs/OPERATIONS.md §11). Lazily, a stream nobody ever
//! subscribed to costs a few words, and sending to it is a no-op, as sending to a channel
//! without receivers already was.

use std::sync::OnceLock;

use tokio::sync::broadcast;

/// See the module docs.
pub struct LazySender<T> {
    capacity: usize,
    cell: OnceLock<broadcast::Sender<T>>,
}

impl<T: Clone> LazySender<T> {
    pub fn new(capacity: usize) -> LazySender<T> {
        LazySender {
            capacity: capacity.max(1),
            cell: OnceLock::new(),
        }
    }

    pub fn receiver_count(&self) -> usize {
        self.cell.get().map_or(0, |t| t.receiver_count())
    }

    /// Send to the current subscribers; how many got it (0: none, nothing happened).
    pub fn send(&self, v: T) -> usize {
        self.cell.get().and_then(|t| t.send(v).ok()).unwrap_or(0)
    }

    /// A receiver (the channel is made now if this is its first).
    pub fn subscribe(&self) -> broadcast::Receiver<T> {
        self.cell
            .get_or_init(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }

    /// Whether the channel was ever made.
    pub fn is_made(&self) -> bool {
        self.cell.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring is allocated on the first subscriber, not before; sending to a channel nobody
    /// subscribed to does nothing.
    #[test]
    fn a_channel_is_made_on_its_first_subscriber() {
        let tx = LazySender::<u32>::new(4096);
        assert_eq!(
            (tx.receiver_count(), tx.send(1), tx.is_made()),
            (0, 0, false)
        );
        let mut rx = tx.subscribe();
        assert!(tx.is_made());
        assert_eq!((tx.receiver_count(), tx.send(2)), (1, 1));
        assert_eq!(
            rx.try_recv().ok(),
            Some(2),
            "only what was sent after subscribing"
        );
        drop(rx);
        assert_eq!(tx.send(3), 0, "no receiver left");
    }
}
