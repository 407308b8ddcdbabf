//! Entry bounds (docs/ARCHITECTURE.md §2): `do_send` ignores mailbox capacity, so each entry point counts
//! its in-flight commands instead; a full gate answers `OVERLOADED` before anything changes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::domain::Reject;

#[derive(Debug)]
pub struct Gate {
    in_flight: AtomicUsize,
    limit: usize,
}

/// One admitted command; leaving the gate when dropped.
#[derive(Debug)]
pub struct Permit(Arc<Gate>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    pub fn new(limit: usize) -> Arc<Gate> {
        Arc::new(Gate {
            in_flight: AtomicUsize::new(0),
            limit,
        })
    }

    /// Admit one command, or `OVERLOADED` if `limit` are already in flight.
    pub fn enter(self: &Arc<Gate>) -> Result<Permit, Reject> {
        let prev = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if prev >= self.limit {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(Reject::Overloaded);
        }
        Ok(Permit(Arc::clone(self)))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_gate_refuses_and_frees_on_drop() {
        let g = Gate::new(2);
        let a = g.enter().unwrap();
        let _b = g.enter().unwrap();
        assert_eq!(g.enter().unwrap_err(), Reject::Overloaded);
        assert_eq!(g.in_flight(), 2);
        drop(a);
        assert!(g.enter().is_ok());
    }
}
