//! One adapter per implementation. `translate` turns a stream op into the implementation's own
//! command type (untimed, before the run); `exec` runs one translated op and reduces its result
//! to an [`Outcome`] (trades made, quantity traded, rejected?), which is the only way results
//! are consumed, identically in every timed pass.

use perpx::book::{Book, NewOrder, TakeBounds};
use perpx::domain::{AccountId, BookEvent, CloseReason, OrderId, Price, Qty, Side};

use crate::gen::{new_order, Op};
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
}

// ---------------------------------------------------------------- perpx and the reference

/// The submit/cancel/amend API shared by `perpx::book::Book` and the naive `RefBook`.
pub trait PerpxApi {
    fn submit(&mut self, o: NewOrder, out: &mut Vec<BookEvent>) -> bool;
    fn cancel(&mut self, id: OrderId, account: AccountId, out: &mut Vec<BookEvent>) -> bool;
    fn amend(&mut self, id: OrderId, a: AccountId, p: Price, out: &mut Vec<BookEvent>) -> bool;
    fn resting(&self) -> usize;
    fn qty(&self) -> u64;
}

macro_rules! perpx_api {
    ($t:ty) => {
        impl PerpxApi for $t {
            #[inline]
            fn submit(&mut self, o: NewOrder, out: &mut Vec<BookEvent>) -> bool {
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
    Submit(NewOrder),
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
}

impl Engine for Reference {
    const NAME: &'static str = "reference";
    const NOTE: &'static str = "naive Vec + linear scans (tests/common/reference_book.rs)";
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

// ---------------------------------------------------------------- matchcore 0.4

pub struct Matchcore(pub matchcore::OrderBook);

fn mc_side(s: Side) -> matchcore::Side {
    match s {
        Side::Buy => matchcore::Side::Buy,
        Side::Sell => matchcore::Side::Sell,
    }
}

impl Engine for Matchcore {
    const NAME: &'static str = "matchcore";
    const NOTE: &'static str = "ids = command sequence numbers (= stream ids); native amend \
        (price patch); a crossing limit/amend ignores its limit price after the first level, \
        so its book diverges and later cancels/amends of orders it no longer has are rejected";
    type Op = matchcore::Command;
    fn new(_target: usize) -> Self {
        Matchcore(matchcore::OrderBook::new("BENCH"))
    }
    fn translate(seq: u64, op: &Op) -> matchcore::Command {
        use matchcore::{
            AmendCmd, AmendPatch, CancelCmd, CommandKind, LimitOrder, LimitOrderPatch, MarketOrder,
            OrderFlags, OrderKind, Quantity, QuantityPolicy, SubmitCmd, TimeInForce,
        };
        let kind = match *op {
            Op::Limit {
                id,
                side,
                price,
                qty,
                ioc,
                ..
            } => {
                assert_eq!(id, seq, "matchcore numbers orders by sequence number");
                let tif = if ioc {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Gtc
                };
                CommandKind::Submit(SubmitCmd {
                    order: matchcore::NewOrder::Limit(LimitOrder::new(
                        matchcore::Price(price as u64),
                        QuantityPolicy::Standard {
                            quantity: Quantity(qty as u64),
                        },
                        OrderFlags::new(mc_side(side), false, tif),
                    )),
                })
            }
            Op::Market { id, side, qty, .. } => {
                assert_eq!(id, seq, "matchcore numbers orders by sequence number");
                CommandKind::Submit(SubmitCmd {
                    order: matchcore::NewOrder::Market(MarketOrder::new(
                        Quantity(qty as u64),
                        mc_side(side),
                        false,
                    )),
                })
            }
            Op::Cancel { id, .. } => CommandKind::Cancel(CancelCmd {
                order_id: matchcore::OrderId(id),
                order_kind: OrderKind::Limit,
            }),
            Op::Amend { id, price, .. } => CommandKind::Amend(AmendCmd {
                order_id: matchcore::OrderId(id),
                patch: AmendPatch::Limit(
                    LimitOrderPatch::new().with_price(matchcore::Price(price as u64)),
                ),
            }),
        };
        matchcore::Command {
            meta: matchcore::CommandMeta {
                sequence_number: matchcore::SequenceNumber(seq),
                timestamp: matchcore::Timestamp(0),
            },
            kind,
        }
    }
    #[inline]
    fn exec(&mut self, cmd: &matchcore::Command) -> Outcome {
        use matchcore::{CommandOutcome, CommandReport};
        match self.0.execute(cmd) {
            CommandOutcome::Applied(CommandReport::Submit(fx) | CommandReport::Amend(fx)) => {
                let mut out = Outcome::default();
                for o in std::iter::once(fx.target_order()).chain(fx.triggered_orders()) {
                    if let Some(m) = o.match_result() {
                        out.trades += m.trades().len() as u32;
                        out.qty += m.executed_quantity().0;
                    }
                }
                out
            }
            CommandOutcome::Applied(_) => Outcome::default(),
            CommandOutcome::Rejected(_) => Outcome {
                rejected: true,
                ..Outcome::default()
            },
        }
    }
    fn resting_orders(&self) -> Option<usize> {
        Some(self.0.limit().orders().len())
    }
    fn resting_qty(&self) -> u64 {
        let l = self.0.limit();
        l.orders().values().map(|o| o.total_quantity().0).sum()
    }
}

// ---------------------------------------------------------------- lobster 0.7

pub struct Lobster(pub lobster::OrderBook);

#[derive(Clone, Copy, Debug)]
pub enum LobOp {
    One(lobster::OrderType),
    /// IOC: a limit order, then a cancel of its id if anything rested.
    Ioc(lobster::OrderType, u128),
    /// Amend: cancel, then a new limit order with the same id, price and remaining qty.
    Amend(u128, lobster::OrderType),
}

fn lob_side(s: Side) -> lobster::Side {
    match s {
        Side::Buy => lobster::Side::Bid,
        Side::Sell => lobster::Side::Ask,
    }
}

fn lob_fills(ev: &lobster::OrderEvent, out: &mut Outcome) {
    use lobster::OrderEvent;
    if let OrderEvent::Filled {
        filled_qty, fills, ..
    }
    | OrderEvent::PartiallyFilled {
        filled_qty, fills, ..
    } = ev
    {
        out.trades += fills.len() as u32;
        out.qty += filled_qty;
    }
}

impl Engine for Lobster {
    const NAME: &'static str = "lobster";
    const NOTE: &'static str = "no amend: cancel + new limit (same id, remaining qty from the \
        stream); no IOC: limit + cancel when a remainder rested; arena sized to the target; \
        never removes empty levels or filled makers' index entries";
    type Op = LobOp;
    fn new(target: usize) -> Self {
        Lobster(lobster::OrderBook::new(target, 10, false))
    }
    fn translate(_seq: u64, op: &Op) -> LobOp {
        use lobster::OrderType;
        match *op {
            Op::Limit {
                id,
                side,
                price,
                qty,
                ioc,
                ..
            } => {
                let o = OrderType::Limit {
                    id: u128::from(id),
                    side: lob_side(side),
                    qty: qty as u64,
                    price: price as u64,
                };
                if ioc {
                    LobOp::Ioc(o, u128::from(id))
                } else {
                    LobOp::One(o)
                }
            }
            Op::Market { id, side, qty, .. } => LobOp::One(OrderType::Market {
                id: u128::from(id),
                side: lob_side(side),
                qty: qty as u64,
            }),
            Op::Cancel { id, .. } => LobOp::One(OrderType::Cancel { id: u128::from(id) }),
            Op::Amend {
                id,
                side,
                price,
                remaining,
                ..
            } => LobOp::Amend(
                u128::from(id),
                OrderType::Limit {
                    id: u128::from(id),
                    side: lob_side(side),
                    qty: remaining as u64,
                    price: price as u64,
                },
            ),
        }
    }
    #[inline]
    fn exec(&mut self, op: &LobOp) -> Outcome {
        use lobster::{OrderEvent, OrderType};
        let mut out = Outcome::default();
        match *op {
            LobOp::One(o) => lob_fills(&self.0.execute(o), &mut out),
            LobOp::Ioc(o, id) => {
                let ev = self.0.execute(o);
                lob_fills(&ev, &mut out);
                if !matches!(ev, OrderEvent::Filled { .. }) {
                    self.0.execute(OrderType::Cancel { id });
                }
            }
            LobOp::Amend(id, o) => {
                self.0.execute(OrderType::Cancel { id });
                lob_fills(&self.0.execute(o), &mut out);
            }
        }
        out
    }
    fn resting_orders(&self) -> Option<usize> {
        None
    }
    fn resting_qty(&self) -> u64 {
        let d = self.0.depth(0);
        d.bids.iter().chain(&d.asks).map(|l| l.qty).sum()
    }
}
