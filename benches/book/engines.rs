//! The adapter interface, and the adapters of perpx and the O(n) reference (the naive
//! `BTreeMap` book's is in `naive.rs`, the peer crates' in `peers.rs`). `translate` turns a
//! stream op into the implementation's own command type (untimed, before the run); `exec`
//! runs one translated op and reduces its result to an [`Outcome`] (trades made, quantity
//! traded, rejected?), which is the only way results are consumed, identically in every
//! timed pass.

use perpx::book::{Book, BookOrder, TakeBounds};
use perpx::domain::{AccountId, BookEvent, CloseReason, OrderId, Price, Qty};

use crate::ops::{new_order, Op};
use crate::reference_book::RefBook;

#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub trades: u32,
    pub qty: u64,
    pub rejected: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub trades: u64,
    pub qty: u64,
    pub rejected: u64,
}

impl Tally {
    #[inline]
    pub fn add(&mut self, o: Outcome) {
        self.trades += u64::from(o.trades);
        self.qty += o.qty;
        self.rejected += u64::from(o.rejected);
    }
}

pub trait Engine: Sized {
    const NAME: &'static str;
    /// How this adapter departs from the stream's semantics, for the report.
    const NOTE: &'static str;
    type Op;
    fn new(target: usize) -> Self;
    fn translate(seq: u64, op: &Op) -> Self::Op;
    fn exec(&mut self, op: &Self::Op) -> Outcome;
    /// Resting orders, if the implementation can tell.
    fn resting_orders(&self) -> Option<usize>;
    /// Total resting quantity (untimed; may be slow).
    fn resting_qty(&self) -> u64;
    /// A copy of a pre-filled book, for implementations too slow to pre-fill repeatedly.
    fn duplicate(&self) -> Option<Self> {
        None
    }
    /// Heap bytes the adapter itself holds for the caller (events buffer), excluded from the
    /// per-order memory figure.
    fn caller_bytes(&self) -> usize {
        0
    }
    /// The implementation's own estimate of its heap use, if it has one.
    fn reported_bytes(&self) -> Option<usize> {
        None
    }
    /// Panic if the book's internal invariants do not hold (untimed, after each pass).
    fn check_invariants(&self) {}
}

// ---------------------------------------------------------------- perpx and the reference

/// The submit/cancel/amend API shared by `perpx::book::Book` and the O(n) `RefBook`.
pub trait PerpxApi {
    fn submit(&mut self, o: BookOrder, out: &mut Vec<BookEvent>) -> bool;
    fn cancel(&mut self, id: OrderId, account: AccountId, out: &mut Vec<BookEvent>) -> bool;
    fn amend(&mut self, id: OrderId, a: AccountId, p: Price, out: &mut Vec<BookEvent>) -> bool;
    fn resting(&self) -> usize;
    fn qty(&self) -> u64;
}

macro_rules! perpx_api {
    ($t:ty) => {
        impl PerpxApi for $t {
            #[inline]
            fn submit(&mut self, o: BookOrder, out: &mut Vec<BookEvent>) -> bool {
                <$t>::submit(self, o, &TakeBounds::UNBOUNDED, out).is_ok()
            }
            #[inline]
            fn cancel(&mut self, id: OrderId, a: AccountId, out: &mut Vec<BookEvent>) -> bool {
                <$t>::cancel(self, id, Some(a), CloseReason::User, out).is_ok()
            }
            #[inline]
            fn amend(
                &mut self,
                id: OrderId,
                a: AccountId,
                p: Price,
                out: &mut Vec<BookEvent>,
            ) -> bool {
                <$t>::amend(self, id, a, Some(p), None, Qty::ZERO, out).is_ok()
            }
            fn resting(&self) -> usize {
                self.len()
            }
            fn qty(&self) -> u64 {
                let d = self.depth(usize::MAX);
                d.bids.iter().chain(&d.asks).map(|l| l.1 .0 as u64).sum()
            }
        }
    };
}
perpx_api!(Book);
perpx_api!(RefBook);

#[derive(Clone, Copy, Debug)]
pub enum PerpxOp {
    Submit(BookOrder),
    Cancel(OrderId, AccountId),
    Amend(OrderId, AccountId, Price),
}

/// perpx's book or the reference, with the caller-owned events vector reused across ops.
pub struct Perpx<B> {
    pub book: B,
    events: Vec<BookEvent>,
}

pub type PerpxBook = Perpx<Book>;
pub type Reference = Perpx<RefBook>;

fn perpx_translate(op: &Op) -> PerpxOp {
    match *op {
        Op::Limit {
            id,
            account,
            side,
            price,
            qty,
            ioc,
        } => PerpxOp::Submit(new_order(id, account, side, Some(price), qty, ioc)),
        Op::Market {
            id,
            account,
            side,
            qty,
        } => PerpxOp::Submit(new_order(id, account, side, None, qty, false)),
        Op::Cancel { id, account } => PerpxOp::Cancel(OrderId(id), AccountId(account)),
        Op::Amend {
            id, account, price, ..
        } => PerpxOp::Amend(OrderId(id), AccountId(account), Price(price)),
    }
}

#[inline]
fn perpx_exec<B: PerpxApi>(e: &mut Perpx<B>, op: &PerpxOp) -> Outcome {
    e.events.clear();
    let ok = match *op {
        PerpxOp::Submit(o) => e.book.submit(o, &mut e.events),
        PerpxOp::Cancel(id, a) => e.book.cancel(id, a, &mut e.events),
        PerpxOp::Amend(id, a, p) => e.book.amend(id, a, p, &mut e.events),
    };
    let mut out = Outcome {
        rejected: !ok,
        ..Outcome::default()
    };
    for ev in &e.events {
        if let BookEvent::Trade(t) = ev {
            out.trades += 1;
            out.qty += t.qty.0 as u64;
        }
    }
    out
}

impl Engine for PerpxBook {
    const NAME: &'static str = "perpx";
    const NOTE: &'static str = "native submit/cancel/amend; STP off; events vec reused";
    type Op = PerpxOp;
    fn new(_target: usize) -> Self {
        Perpx {
            book: Book::new(u32::MAX),
            events: Vec::with_capacity(64),
        }
    }
    fn translate(_seq: u64, op: &Op) -> PerpxOp {
        perpx_translate(op)
    }
    #[inline]
    fn exec(&mut self, op: &PerpxOp) -> Outcome {
        perpx_exec(self, op)
    }
    fn resting_orders(&self) -> Option<usize> {
        Some(self.book.resting())
    }
    fn resting_qty(&self) -> u64 {
        self.book.qty()
    }
    fn caller_bytes(&self) -> usize {
        self.events.capacity() * std::mem::size_of::<BookEvent>()
    }
    fn reported_bytes(&self) -> Option<usize> {
        Some(self.book.heap_bytes())
    }
    fn check_invariants(&self) {
        self.book.assert_invariants();
    }
}

impl Engine for Reference {
    const NAME: &'static str = "reference";
    const NOTE: &'static str = "O(n) correctness oracle: one Vec + linear scans \
        (tests/common/reference_book.rs); runs a prefix of the stream; not a speed baseline";
    type Op = PerpxOp;
    fn new(_target: usize) -> Self {
        Perpx {
            book: RefBook::new(u32::MAX),
            events: Vec::with_capacity(64),
        }
    }
    fn translate(_seq: u64, op: &Op) -> PerpxOp {
        perpx_translate(op)
    }
    #[inline]
    fn exec(&mut self, op: &PerpxOp) -> Outcome {
        perpx_exec(self, op)
    }
    fn resting_orders(&self) -> Option<usize> {
        Some(self.book.resting())
    }
    fn resting_qty(&self) -> u64 {
        self.book.qty()
    }
    fn duplicate(&self) -> Option<Self> {
        Some(Perpx {
            book: self.book.clone(),
            events: Vec::with_capacity(64),
        })
    }
    fn caller_bytes(&self) -> usize {
        self.events.capacity() * std::mem::size_of::<BookEvent>()
    }
}
