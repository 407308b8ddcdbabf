//! The benchmark adapter of the naive `BTreeMap` book (`naive_book.rs`): stream ops become
//! its own calls (untimed), fills go to a vector reused across ops, as perpx's events do.

use perpx::book::TakeBounds;
use perpx::domain::Side;

use crate::engines::{Engine, Outcome};
use crate::naive_book::{AccountId, Fill, Limit, NaiveBook, OrderId, Price, Qty, Tif};
use crate::ops::Op;

#[derive(Clone, Copy, Debug)]
pub enum NaiveOp {
    Limit(Limit),
    Market {
        id: OrderId,
        side: Side,
        qty: Qty,
        bound: Price,
    },
    Cancel(OrderId, AccountId),
    Amend(OrderId, AccountId, Price),
}

/// The naive book with the caller-owned fills vector reused across ops.
pub struct Naive {
    pub book: NaiveBook,
    fills: Vec<Fill>,
}

impl Engine for Naive {
    const NAME: &'static str = "naive";
    const NOTE: &'static str = "BTreeMap<price, VecDeque<order>> per side + FxHashMap<id, \
        (side, price)> (benches/book/naive_book.rs); cancel/amend scan their level; fills into \
        a reused Vec, no market-data events; market orders bounded like perpx's (unbounded \
        here)";
    type Op = NaiveOp;
    fn new(_target: usize) -> Self {
        Naive {
            book: NaiveBook::new(),
            fills: Vec::with_capacity(64),
        }
    }
    fn translate(_seq: u64, op: &Op) -> NaiveOp {
        match *op {
            Op::Limit {
                id,
                account,
                side,
                price,
                qty,
                ioc,
            } => NaiveOp::Limit(Limit {
                id,
                account,
                side,
                price,
                qty,
                tif: if ioc { Tif::Ioc } else { Tif::Gtc },
            }),
            Op::Market { id, side, qty, .. } => NaiveOp::Market {
                id,
                side,
                qty,
                bound: TakeBounds::UNBOUNDED.limit(side).0,
            },
            Op::Cancel { id, account } => NaiveOp::Cancel(id, account),
            Op::Amend {
                id, account, price, ..
            } => NaiveOp::Amend(id, account, price),
        }
    }
    #[inline]
    fn exec(&mut self, op: &NaiveOp) -> Outcome {
        self.fills.clear();
        let ok = match *op {
            NaiveOp::Limit(o) => self.book.limit(o, &mut self.fills).is_ok(),
            NaiveOp::Market {
                id,
                side,
                qty,
                bound,
            } => self
                .book
                .market(id, side, qty, bound, &mut self.fills)
                .is_ok(),
            NaiveOp::Cancel(id, account) => self.book.cancel(id, account).is_ok(),
            NaiveOp::Amend(id, account, price) => self
                .book
                .amend(id, account, Some(price), None, &mut self.fills)
                .is_ok(),
        };
        let mut out = Outcome {
            rejected: !ok,
            ..Outcome::default()
        };
        for f in &self.fills {
            out.trades += 1;
            out.qty += f.qty as u64;
        }
        out
    }
    fn resting_orders(&self) -> Option<usize> {
        Some(self.book.len())
    }
    fn resting_qty(&self) -> u64 {
        self.book.resting_qty()
    }
    fn caller_bytes(&self) -> usize {
        self.fills.capacity() * std::mem::size_of::<Fill>()
    }
    fn check_invariants(&self) {
        self.book.assert_invariants();
    }
}
