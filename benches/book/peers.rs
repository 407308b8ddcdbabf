//! Adapters of the peer crates: matchcore 0.4 and lobster 0.7 (see each `NOTE`).

use perpx::domain::Side;

use crate::engines::{Engine, Outcome};
use crate::ops::Op;

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
        (price patch); default OrderBook (pre-sizes its level slab; counted in its memory); a \
        crossing limit/amend ignores its limit price after the first level, so its book \
        diverges and later cancels/amends of orders it no longer has are rejected";
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
