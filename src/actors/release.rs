//! Ordered release gates (docs/ARCHITECTURE.md §2, §3): what a command makes visible to
//! subscribers (a market's public events, an account's private updates) waits here until the
//! command is durable in the configured mode, and leaves strictly in command order.
//!
//! The producer pushes each command's items and gets a [`Release`] ticket; whoever learns the
//! command's fate (the journal's acknowledgement, or the AccountActor at once for relaxed,
//! refused and unjournaled commands) finishes the ticket; the gate emits queued items in ticket
//! order as the head of its queue becomes finished.
//!
//! # Invariants
//! - Items leave in push order, never before their own ticket and every earlier ticket are
//!   finished: nothing overtakes an undurable command.
//! - A ticket finished with `keep = false` (its command failed to become durable), or dropped
//!   unfinished, lets its items go unpublished and the queue move on: a subscriber sees the
//!   gap (a book `prev_sequence` that does not chain) rather than a stalled feed.
//! - Emitting happens under the gate's lock, so two finishers never interleave their items;
//!   the work done there is a handful of non-blocking channel sends (it runs on the journal
//!   thread).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where released items go.
type Sink<T> = Box<dyn Fn(T) + Send + Sync>;

/// One queued command's items: `None` once finished (and `done` tells whether to emit them).
struct Slot<T> {
    item: Option<T>,
    done: bool,
}

struct Queue<T> {
    /// The ticket of the queue's front slot.
    head: u64,
    slots: VecDeque<Slot<T>>,
}

/// An ordered release gate of items of type `T`.
pub struct Gate<T> {
    queue: Mutex<Queue<T>>,
    sink: Sink<T>,
}

/// A pushed command's ticket: finish it once the command's fate is known.
pub struct Release<T: Send + 'static> {
    gate: Arc<Gate<T>>,
    ticket: u64,
    finished: bool,
}

impl<T: Send + 'static> Gate<T> {
    pub fn new(sink: impl Fn(T) + Send + Sync + 'static) -> Arc<Gate<T>> {
        Arc::new(Gate {
            queue: Mutex::new(Queue {
                head: 0,
                slots: VecDeque::new(),
            }),
            sink: Box::new(sink),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        // A poisoned lock means a sink panicked; the queue itself is still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `item` behind everything pushed before; it leaves once its ticket is finished.
    pub fn push(self: &Arc<Self>, item: T) -> Release<T> {
        let mut q = self.lock();
        let ticket = q.head + q.slots.len() as u64;
        q.slots.push_back(Slot {
            item: Some(item),
            done: false,
        });
        Release {
            gate: Arc::clone(self),
            ticket,
            finished: false,
        }
    }

    /// Emit `item` as soon as everything pushed before it has left (nothing to wait for of its
    /// own: a follower's already durable entry, a ticker).
    pub fn publish(&self, item: T) {
        let mut q = self.lock();
        if q.slots.is_empty() {
            return (self.sink)(item);
        }
        q.slots.push_back(Slot {
            item: Some(item),
            done: true,
        });
    }

    /// Items waiting (for tests and diagnostics).
    pub fn waiting(&self) -> usize {
        self.lock().slots.len()
    }

    fn finish(&self, ticket: u64, keep: bool) {
        let mut q = self.lock();
        let Some(i) = ticket.checked_sub(q.head) else {
            return;
        };
        if let Some(slot) = q.slots.get_mut(i as usize) {
            slot.done = true;
            if !keep {
                slot.item = None;
            }
        }
        while q.slots.front().is_some_and(|s| s.done) {
            let Some(slot) = q.slots.pop_front() else {
                break;
            };
            q.head += 1;
            if let Some(item) = slot.item {
                (self.sink)(item);
            }
        }
    }
}

impl<T: Send + 'static> Release<T> {
    /// The command is durable (`keep`) or failed to become so (its items are dropped).
    pub fn finish(mut self, keep: bool) {
        self.finished = true;
        self.gate.finish(self.ticket, keep);
    }
}

impl<T: Send + 'static> Drop for Release<T> {
    fn drop(&mut self) {
        // A ticket lost on the way (an actor stopped) must not stall the feed behind it.
        if !self.finished {
            self.gate.finish(self.ticket, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> (Arc<Gate<u32>>, Arc<Mutex<Vec<u32>>>) {
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = Arc::clone(&out);
        (Gate::new(move |x| o.lock().unwrap().push(x)), out)
    }

    #[test]
    fn items_leave_in_push_order_once_their_head_is_finished() {
        let (g, out) = gate();
        let a = g.push(1);
        let b = g.push(2);
        g.publish(3);
        b.finish(true);
        assert!(out.lock().unwrap().is_empty(), "2 waits for 1");
        a.finish(true);
        assert_eq!(*out.lock().unwrap(), [1, 2, 3]);
        assert_eq!(g.waiting(), 0);
        g.publish(4);
        assert_eq!(
            *out.lock().unwrap(),
            [1, 2, 3, 4],
            "nothing waiting: at once"
        );
    }

    #[test]
    fn a_failed_or_lost_ticket_drops_its_items_and_unblocks_the_rest() {
        let (g, out) = gate();
        let a = g.push(1);
        let b = g.push(2);
        let c = g.push(3);
        c.finish(true);
        a.finish(false);
        drop(b);
        assert_eq!(*out.lock().unwrap(), [3]);
    }

    /// Finishers on many threads at once (as journal acknowledgements and the AccountActor
    /// finish tickets concurrently): every item leaves exactly once, in push order.
    #[test]
    fn concurrent_finishers_keep_the_order() {
        let (g, out) = gate();
        let tickets: Vec<_> = (0..4000).map(|i| g.push(i)).collect();
        let mut lanes: Vec<Vec<Release<u32>>> = (0..4).map(|_| Vec::new()).collect();
        for (i, t) in tickets.into_iter().enumerate() {
            lanes[i % 4].push(t);
        }
        let threads: Vec<_> = lanes
            .into_iter()
            .map(|lane| std::thread::spawn(move || lane.into_iter().for_each(|t| t.finish(true))))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*out.lock().unwrap(), (0..4000).collect::<Vec<_>>());
    }
}
