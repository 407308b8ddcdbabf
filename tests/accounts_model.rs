//! Interleavings of one account's commands (in cross or isolated margin, in one-way or hedge
//! position mode, switched at random) on the pure core (`engine::accounts::Accounts` and
//! a `MarketEngine`), as the actors can deliver them: R1 in arrival order, the market in its
//! own queue order, R2 in the market's answer order, with a counterparty's orders and fills
//! racing in between. Proptest picks the interleaving; after every step:
//! - the ledger's invariants hold (money conserved, holds in step with the aggregates);
//! - with the mark unchanged, the adversary's available balance is ≥ 0 (no R1 check was
//!   bypassed: whatever R1 checked, it reserved until R2);
//! - every order record has `filled + remaining ≤ quantity` (an amend's new total is applied
//!   against the market's own filled count);
//! - every answer is a contract answer (a cancel or amend of an order the market already closed
//!   is `ORDER_NOT_OPEN`, never `ORDER_NOT_FOUND`; an order whose position side does not fit
//!   the mode is `POSITION_SIDE_MISMATCH`);
//! - a hedge-mode leg never flips (the ledger's invariant: long ≥ 0, short ≤ 0), so a closing
//!   order (`sell` + `long`, `buy` + `short`) never opens.
//!
//! After draining, the market's position cache equals the ledger's positions on every leg.
//!
//! After draining every queue: no reservation is left (each open order's hold equals the book),
//! and replaying the journal batches the commands produced gives the live state hash (refused
//! commands left no trace).

#[path = "common/driver.rs"]
mod driver;

use std::collections::VecDeque;

use driver::config;
use perpx::domain::OrderTerms;
use perpx::domain::{
    AccountId, CloseReason, MarginMode, OrderId, OrderRequest, OrderType, Price, Qty, Reject, Side,
    Stp, TimeInForce, TriggerBy,
};
use perpx::domain::{Leg, PositionMode, PositionSide, RequestFault};
use perpx::engine::accounts::{Accounts, AmendOrder, Answer, Placed, Ticket};
use perpx::engine::market::{MarketEngine, MarketEvent, PlaceOrder};
use perpx::engine::orders::OrderStore;
use perpx::engine::Ledger;
use perpx::persistence::codec::Batch;
use perpx::persistence::Replica;
use perpx::risk::MarketId;
use proptest::prelude::*;
use rust_decimal::Decimal;

const M: MarketId = MarketId(0);
/// The adversary: little money, many concurrent commands.
const A: AccountId = AccountId(100);
/// The counterparty: deep pockets, provides and takes liquidity.
const B: AccountId = AccountId(101);
/// BTC-PERP mark 50,000 in ticks of 0.1.
const MID: i64 = 500_000;
const LEGS: [PositionSide; 3] = [PositionSide::Both, PositionSide::Long, PositionSide::Short];

#[derive(Clone, Debug)]
enum Op {
    /// A places a limit (or market) order `off` ticks from the mark.
    Place {
        buy: bool,
        off: i64,
        lots: i64,
        market: bool,
        reduce_only: bool,
        tif: u8,
        /// A stop-market order triggered at `off` (when `market`).
        stop: bool,
        /// The position side: 0–2 as given (`both`, `long`, `short`; may not fit the mode),
        /// otherwise one that fits the mode (in hedge mode: long when even, short when odd).
        leg: u8,
    },
    /// A switches its position mode (hedge when `true`): refused while it has a position or
    /// an order the ledger holds in any market.
    PositionMode(bool),
    /// A amends one of its orders (`pick`) to a new total and/or price.
    Amend {
        pick: usize,
        total: Option<i64>,
        off: Option<i64>,
    },
    Cancel {
        pick: usize,
    },
    CancelAll,
    Leverage(u32),
    Withdraw(i64),
    /// A switches its margin mode in the market (isolated when `true`): refused while it has
    /// a position or an order the ledger holds, including orders still on their way.
    Mode(bool),
    /// A moves margin into (out of, when negative) its isolated wallet.
    IsoMargin(i64),
    /// B rests a maker order, or crosses with an IOC taker.
    Counter {
        buy: bool,
        off: i64,
        lots: i64,
        ioc: bool,
    },
    /// The mark moves `off` ticks from 50,000 (the market's triggers run, the ledger screens).
    Mark(i64),
    /// The market handles the next queued command.
    Market,
    /// R2 for the next answer of the market.
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), -300i64..300, 1i64..400, prop::bool::weighted(0.15), prop::bool::weighted(0.15), 0u8..4, any::<bool>(), 0u8..12)
            .prop_map(|(buy, off, lots, market, reduce_only, tif, stop, leg)| Op::Place { buy, off, lots, market, reduce_only, tif, stop, leg }),
        1 => any::<bool>().prop_map(Op::PositionMode),
        3 => (any::<usize>(), prop::option::of(1i64..600), prop::option::of(-300i64..300))
            .prop_map(|(pick, total, off)| Op::Amend { pick, total, off }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => Just(Op::CancelAll),
        1 => (1u32..=125).prop_map(Op::Leverage),
        1 => (1i64..400).prop_map(Op::Withdraw),
        2 => any::<bool>().prop_map(Op::Mode),
        1 => (-300i64..300).prop_filter("non-zero", |c| *c != 0).prop_map(Op::IsoMargin),
        3 => (any::<bool>(), -200i64..200, 1i64..300, any::<bool>())
            .prop_map(|(buy, off, lots, ioc)| Op::Counter { buy, off, lots, ioc }),
        6 => Just(Op::Market),
        6 => Just(Op::Settle),
    ]
}

fn op_with_marks() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => op(),
        1 => (-2_000i64..2_000).prop_map(Op::Mark),
    ]
}

/// A command on its way to the market, and the market's answer on its way back.
enum Cmd {
    Place(PlaceOrder),
    Amend(AmendOrder),
    Cancel(AccountId, OrderId, CloseReason),
    CancelMany(AccountId, Vec<OrderId>),
}

/// A market's answer on its way to R2: events, ticket, result, and the market's time.
type Answered = (
    Vec<MarketEvent>,
    Ticket,
    Result<(), Reject>,
    perpx::domain::Timestamp,
);

struct World {
    accounts: Accounts,
    engine: MarketEngine,
    to_market: VecDeque<(Cmd, Ticket)>,
    /// The market's events, the ticket, its result and its time (the batch time).
    to_r2: VecDeque<Answered>,
    batches: Vec<Batch>,
    now: perpx::domain::Timestamp,
    next_cid: u64,
    /// Whether the mark ever moved (the available balance may then fall below zero).
    moved: bool,
}

impl World {
    fn new() -> World {
        let cfg = config();
        let mut accounts = Accounts::new(
            Ledger::new(cfg.markets.clone(), cfg.exchange.money_scale),
            OrderStore::new(cfg.markets.len()),
        );
        let now = perpx::domain::Timestamp(1_700_000_000_000);
        let mut batches = Vec::new();
        for (id, money) in [(A, 1_000), (B, 100_000_000)] {
            batches.push(Batch::ledger(accounts.open_account(id, now).unwrap(), now));
            let (_, ev) = accounts.deposit(id, Decimal::from(money), now).unwrap();
            batches.push(Batch::ledger(ev, now));
        }
        let (_, ev) = accounts.set_leverage(A, M, 10, now).unwrap();
        batches.push(Batch::ledger(ev, now));
        World {
            accounts,
            engine: MarketEngine::new(cfg.markets[0].clone()),
            to_market: VecDeque::new(),
            to_r2: VecDeque::new(),
            batches,
            now,
            next_cid: 1,
            moved: false,
        }
    }

    fn request(
        &mut self,
        side: Side,
        price: Option<i64>,
        lots: i64,
        tif: TimeInForce,
        reduce_only: bool,
    ) -> OrderRequest {
        self.next_cid += 1;
        OrderRequest {
            terms: OrderTerms {
                position_side: Default::default(),
                side,
                order_type: if price.is_some() {
                    OrderType::Limit
                } else {
                    OrderType::Market
                },
                tif,
                price: price.map(Price),
                qty: Qty(lots),
                reduce_only,
                stp: Stp::ExpireMaker,
                trigger_price: None,
                trigger_by: TriggerBy::Last,
                close_position: false,
            },
            client_order_id: Some(format!("c{}", self.next_cid)),
            attached: Default::default(),
        }
    }

    /// R1 of a new order; a refusal must be a contract answer.
    fn place(&mut self, account: AccountId, req: OrderRequest) {
        match self.accounts.place(account, M, &req, self.now) {
            Ok(Placed::Send(p, t)) => self.to_market.push_back((Cmd::Place(p), Ticket::Place(t))),
            Ok(Placed::Retry(_)) => panic!("client ids are unique here"),
            Err(e) => assert!(
                matches!(
                    e,
                    Reject::InsufficientMargin
                        | Reject::ReduceOnlyRejected
                        | Reject::PositionLimitExceeded
                        | Reject::AccountInLiquidation
                        | Reject::PositionSideMismatch
                        | Reject::InvalidRequest(RequestFault::ReduceOnlyInHedgeMode)
                ),
                "R1 of {req:?}: {e:?}"
            ),
        }
    }

    /// A's orders as far as R2 has seen them (open and closed), to pick from.
    fn a_orders(&self) -> Vec<OrderId> {
        self.accounts
            .orders
            .list(A, M, true, true, 1000)
            .iter()
            .map(|r| r.order.order_id)
            .collect()
    }

    fn step(&mut self, op: &Op) {
        self.now.0 += 1;
        match op.clone() {
            Op::Place {
                buy,
                off,
                lots,
                market,
                reduce_only,
                tif,
                stop,
                leg,
            } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                let hedge = self.accounts.ledger.position_mode(A).is_hedge();
                let position_side = match leg {
                    0 => PositionSide::Both,
                    1 => PositionSide::Long,
                    2 => PositionSide::Short,
                    n if hedge && n % 2 == 0 => PositionSide::Long,
                    _ if hedge => PositionSide::Short,
                    _ => PositionSide::Both,
                };
                let tif = [
                    TimeInForce::Gtc,
                    TimeInForce::Ioc,
                    TimeInForce::PostOnly,
                    TimeInForce::Fok,
                ][tif as usize];
                let price = (!market).then_some(MID + off);
                let mut req = self.request(side, price, lots, tif, reduce_only && !hedge);
                req.terms.position_side = position_side;
                if leg == 0 && hedge {
                    // As a client that forgets the mode would: refused, changes nothing.
                    req.terms.reduce_only = reduce_only;
                }
                if market && stop {
                    // As `OrderRequest::new` builds them: no post-only stop orders.
                    if tif == TimeInForce::PostOnly {
                        req.terms.tif = TimeInForce::Gtc;
                    }
                    req.terms.order_type = OrderType::StopMarket;
                    req.terms.trigger_price = Some(Price(MID + off));
                    req.terms.trigger_by = TriggerBy::Mark;
                }
                self.place(A, req);
            }
            Op::Amend { pick, total, off } => {
                let ids = self.a_orders();
                if ids.is_empty() || (total.is_none() && off.is_none()) {
                    return;
                }
                let id = ids[pick % ids.len()];
                match self.accounts.amend(
                    A,
                    M,
                    id,
                    off.map(|o| Price(MID + o)),
                    total.map(Qty),
                    None,
                ) {
                    Ok((a, t)) => self.to_market.push_back((Cmd::Amend(a), Ticket::Amend(t))),
                    Err(e) => assert!(
                        matches!(
                            e,
                            Reject::OrderNotOpen
                                | Reject::InsufficientMargin
                                | Reject::PositionLimitExceeded
                                | Reject::InvalidQuantity(_)
                                | Reject::OrderNotAmendable(_)
                        ),
                        "amend R1: {e:?}"
                    ),
                }
            }
            Op::Cancel { pick } => {
                let ids = self.a_orders();
                if ids.is_empty() {
                    return;
                }
                let id = ids[pick % ids.len()];
                match self.accounts.cancel(A, M, id) {
                    Ok(()) => self.to_market.push_back((
                        Cmd::Cancel(A, id, CloseReason::User),
                        Ticket::Cancel {
                            account: A,
                            order_id: id,
                        },
                    )),
                    Err(e) => assert_eq!(e, Reject::OrderNotOpen, "cancel R1"),
                }
            }
            Op::CancelAll => {
                let ids = self.accounts.cancel_all(A, M).unwrap();
                self.to_market
                    .push_back((Cmd::CancelMany(A, ids), Ticket::CancelAll));
            }
            Op::Leverage(l) => match self.accounts.set_leverage(A, M, l, self.now) {
                Ok((_, ev)) => self.batches.push(Batch::ledger(ev, self.now)),
                Err(e) => assert!(
                    matches!(
                        e,
                        Reject::InsufficientMargin | Reject::PositionLimitExceeded
                    ),
                    "leverage {l}: {e:?}"
                ),
            },
            Op::Mode(isolated) => {
                let mode = if isolated {
                    MarginMode::Isolated
                } else {
                    MarginMode::Cross
                };
                let held = !self.accounts.ledger.open_orders(A, M).is_empty();
                let position = LEGS
                    .iter()
                    .any(|&s| self.accounts.ledger.position_qty(A, Leg::new(M, s)) != 0);
                match self.accounts.set_margin_mode(A, M, mode, self.now) {
                    Ok((changed, ev)) => {
                        assert!(
                            !changed || (!held && !position),
                            "switched with orders or a position"
                        );
                        if changed {
                            self.batches.push(Batch::ledger(ev, self.now));
                        }
                    }
                    Err(e) => assert!(
                        matches!(
                            e,
                            Reject::MarginModeLocked(_) | Reject::AccountInLiquidation
                        ),
                        "mode: {e:?}"
                    ),
                }
            }
            Op::PositionMode(hedge) => {
                let mode = if hedge {
                    PositionMode::Hedge
                } else {
                    PositionMode::OneWay
                };
                let held = !self.accounts.ledger.open_orders(A, M).is_empty();
                let position = LEGS
                    .iter()
                    .any(|&s| self.accounts.ledger.position_qty(A, Leg::new(M, s)) != 0);
                match self.accounts.set_position_mode(A, mode, self.now) {
                    Ok((changed, ev)) => {
                        assert!(
                            !changed || (!held && !position),
                            "position mode switched with orders or a position"
                        );
                        if changed {
                            self.batches.push(Batch::ledger(ev, self.now));
                        }
                    }
                    Err(e) => assert!(
                        matches!(
                            e,
                            Reject::PositionModeLocked(_) | Reject::AccountInLiquidation
                        ),
                        "position mode: {e:?}"
                    ),
                }
            }
            Op::IsoMargin(amount) => {
                let legs = self.accounts.ledger.legs(A);
                let side = legs[(amount.unsigned_abs() % legs.len() as u64) as usize];
                match self.accounts.move_isolated_margin(
                    A,
                    Leg::new(M, side),
                    Decimal::from(amount),
                    self.now,
                ) {
                    Ok((_, ev)) => self.batches.push(Batch::ledger(ev, self.now)),
                    Err(e) => assert!(
                        matches!(
                            e,
                            Reject::NotIsolated
                                | Reject::NoPosition
                                | Reject::InsufficientBalance
                                | Reject::InsufficientIsolatedMargin
                                | Reject::AccountInLiquidation
                        ),
                        "isolated margin {amount}: {e:?}"
                    ),
                }
            }
            Op::Withdraw(amount) => {
                match self.accounts.withdraw(A, Decimal::from(amount), self.now) {
                    Ok((_, ev)) => self.batches.push(Batch::ledger(ev, self.now)),
                    Err(e) => assert_eq!(e, Reject::InsufficientBalance),
                }
            }
            Op::Counter {
                buy,
                off,
                lots,
                ioc,
            } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                let tif = if ioc {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Gtc
                };
                let req = self.request(side, Some(MID + off), lots, tif, false);
                self.place(B, req);
            }
            Op::Mark(off) => {
                self.moved = true;
                let mark = Decimal::from(MID + off) / Decimal::from(10);
                let mut events = Vec::new();
                self.engine.set_mark(mark, false, self.now, &mut events);
                // Mark triggers run through the market's queue position like any command.
                self.to_r2
                    .push_back((events, Ticket::Internal, Ok(()), self.now));
                let (ev, _) = self.accounts.set_mark(M, mark);
                self.batches.push(Batch::ledger(ev, self.now));
            }
            Op::Market => {
                let Some((cmd, ticket)) = self.to_market.pop_front() else {
                    return;
                };
                let (e, now) = (&mut self.engine, self.now);
                let mut events = Vec::new();
                let result = match cmd {
                    Cmd::Place(p) => e.place(p, now, &mut events).map(drop),
                    Cmd::Amend(a) => {
                        e.amend(a.account, a.order_id, a.price, a.total, now, &mut events)
                    }
                    Cmd::Cancel(acc, id, reason) => {
                        e.cancel(Some(acc), id, reason, now, &mut events).map(drop)
                    }
                    Cmd::CancelMany(acc, ids) => {
                        for id in ids {
                            let _ = e.cancel(Some(acc), id, CloseReason::User, now, &mut events);
                        }
                        Ok(())
                    }
                };
                e.book().assert_invariants();
                self.to_r2.push_back((events, ticket, result, now));
            }
            Op::Settle => {
                let Some((events, ticket, result, at)) = self.to_r2.pop_front() else {
                    return;
                };
                let what = match &ticket {
                    Ticket::Amend(t) => format!(
                        "{ticket:?} record {:?} events {events:?} result {result:?}",
                        self.accounts.orders.get(M, t.order_id)
                    ),
                    _ => format!("{ticket:?}"),
                };
                let mut s = self.accounts.settle(M, &events, ticket, result, at);
                match &s.answer {
                    Ok(Answer::Order(r)) => assert!(!r.retry),
                    Ok(_) => {}
                    Err(e) => assert!(
                        !matches!(e, Reject::OrderNotFound),
                        "{what}: an order the market closed is ORDER_NOT_OPEN, got {e:?}"
                    ),
                }
                // No liquidation runs in this model (its workflow is tested over HTTP).
                assert!(s.cancel.is_empty());
                if s.journal {
                    let mut b = Batch::new(
                        M,
                        std::mem::take(&mut s.r1),
                        events,
                        std::mem::take(&mut s.r2),
                        at,
                    );
                    b.client_ids = std::mem::take(&mut s.client_ids);
                    self.batches.push(b);
                }
            }
        }
    }

    fn check(&self, what: &str) {
        let l = &self.accounts.ledger;
        if let Err(v) = l.check_invariants() {
            panic!("after {what}: {v}");
        }
        let av = l.account_view(A).unwrap();
        // Reduce-only orders reserve nothing of their own (a close must stay possible): what
        // their fills cost (fee, a price worse than the mark) is the one thing not reserved.
        let mut unreserved = Decimal::ZERO;
        let spec = self.engine.spec();
        for r in self.accounts.orders.list(A, M, true, true, 10_000) {
            if !r.order.terms.reduce_only {
                continue;
            }
            for f in &r.fills {
                let loss = Decimal::from(f.side.sign())
                    * (spec.price_decimal(f.price) - Decimal::from(50_000));
                unreserved += f.fee.0 + loss.max(Decimal::ZERO) * spec.qty_decimal(f.qty);
            }
        }
        assert!(
            self.moved || av.available_balance + unreserved >= Decimal::ZERO,
            "after {what}: available {} (+ {unreserved} of reduce-only costs; order margin {}, position margin {}, margin balance {})",
            av.available_balance,
            av.order_margin,
            av.position_margin,
            av.margin_balance
        );
        for r in self.accounts.orders.list(A, M, true, true, 10_000) {
            assert!(
                r.filled.0 + r.remaining.0 <= r.order.terms.qty.0,
                "after {what}: order {:?} filled {:?} + remaining {:?} > quantity {:?}",
                r.order.order_id,
                r.filled,
                r.remaining,
                r.order.terms.qty
            );
            if let Some(n) = self.engine.book().order(r.order.order_id) {
                // The record lags the book by the answers still on their way to R2.
                assert!(
                    n.filled() >= r.filled,
                    "after {what}: the book's filled count"
                );
                if self.to_r2.is_empty() {
                    assert_eq!(
                        n.filled(),
                        r.filled,
                        "after {what}: the book's filled count"
                    );
                }
            }
        }
    }

    /// Deliver everything in flight, then compare holds with the book and replay the journal.
    fn drain_and_replay(&mut self) {
        while !self.to_market.is_empty() || !self.to_r2.is_empty() {
            self.step(&Op::Market);
            self.step(&Op::Settle);
        }
        self.check("drain");
        let l = &self.accounts.ledger;
        for id in [A, B] {
            for s in LEGS {
                assert_eq!(
                    self.engine.position(id, s).0,
                    l.position_qty(id, Leg::new(M, s)),
                    "the market's position cache of {id} {s:?}"
                );
            }
        }
        for o in l.open_orders(A, M) {
            let r = self
                .accounts
                .orders
                .get(M, o.order_id)
                .expect("a held order has a record");
            if r.status == perpx::domain::OrderStatus::Untriggered {
                continue; // in the trigger book, held at its margin price
            }
            let n = self
                .engine
                .book()
                .order(o.order_id)
                .unwrap_or_else(|| panic!("held order {:?} is not in the book", o.order_id));
            assert_eq!(n.remaining.0, o.qty, "hold of {:?}", o.order_id);
            assert_eq!(self.engine.spec().price_decimal(n.price), o.price);
        }
        let mut replica = Replica::fresh(&config());
        for (i, b) in self.batches.iter().enumerate() {
            replica.apply(i as u64 + 1, b).unwrap();
        }
        assert_eq!(replica.ledger.state_hash(), l.state_hash(), "ledger replay");
        assert_eq!(
            replica.orders.state_hash(),
            self.accounts.orders.state_hash(),
            "order replay"
        );
        assert_eq!(
            replica.engines[0].state_hash(),
            self.engine.state_hash(),
            "market replay"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn interleaved_commands_of_one_account_never_over_commit(ops in proptest::collection::vec(op(), 1..160)) {
        let mut w = World::new();
        w.check("start");
        for op in &ops {
            w.step(op);
            w.check(&format!("{op:?}"));
        }
        w.drain_and_replay();
    }

    /// The same with mark moves (triggers, screening): every check but the available balance.
    #[test]
    fn interleaved_commands_with_mark_moves_keep_the_ledger_exact(ops in proptest::collection::vec(op_with_marks(), 1..160)) {
        let mut w = World::new();
        for op in &ops {
            w.step(op);
            w.check(&format!("{op:?}"));
        }
        w.drain_and_replay();
    }
}

/// The first scenario, deterministically: four resting buys, four amends raising each
/// alone to what fits, all R1s before any market answer: only as many as fit are accepted.
#[test]
fn concurrent_amends_cannot_over_commit() {
    let mut w = World::new();
    // Four buys of 0.01 @ 40,000 (order margin 40 each at 10x, plus the fee reserve).
    for _ in 0..4 {
        let req = w.request(Side::Buy, Some(400_000), 10, TimeInForce::Gtc, false);
        w.place(A, req);
        w.step(&Op::Market);
        w.step(&Op::Settle);
    }
    let ids = w.a_orders();
    assert_eq!(ids.len(), 4);
    // Each amend to 0.2 alone would fit (800 + 3 × 40 + fees ≤ 1,000); all four R1s come
    // before any market answer.
    let mut accepted = 0;
    for id in ids {
        if let Ok((a, t)) = w.accounts.amend(A, M, id, None, Some(Qty(200)), None) {
            accepted += 1;
            w.to_market.push_back((Cmd::Amend(a), Ticket::Amend(t)));
        }
        w.check("amend R1");
    }
    assert_eq!(accepted, 1, "only one raise fits the margin");
    w.drain_and_replay();
    let av = w.accounts.ledger.account_view(A).unwrap();
    assert!(av.available_balance >= Decimal::ZERO, "{av:?}");
}

/// Stop-market orders are margined at the worse of their trigger and the mark, plus the take
/// bound (the worst fill once triggered), not at the mark alone.
#[test]
fn stop_orders_are_margined_at_their_trigger() {
    let mut w = World::new();
    let mut req = w.request(Side::Buy, None, 100, TimeInForce::Gtc, false);
    req.terms.order_type = OrderType::StopMarket;
    req.terms.trigger_price = Some(Price(550_000));
    // 0.1 × 55,000 × 1.05 = 5,775 at 10x = 577.5, open loss 0.1 × (57,750 − 50,000) = 775,
    // fee reserve 2.8875: 1,355.39 > 1,000 (at the mark it would have been 777.63).
    assert_eq!(
        w.accounts.place(A, M, &req, w.now).unwrap_err(),
        Reject::InsufficientMargin
    );
    req.terms.qty = Qty(50);
    req.client_order_id = Some("stop-2".into());
    let Placed::Send(_, t) = w.accounts.place(A, M, &req, w.now).unwrap() else {
        panic!("accepted")
    };
    assert_eq!(
        w.accounts.ledger.account_view(A).unwrap().order_margin,
        Decimal::new(67769375, 5)
    );
    let _ = t;
}

/// An order that passed R1 just before its account's liquidation started is cancelled at its
/// R2 if it rested (the liquidation's cancel-all may have reached the market first).
#[test]
fn an_order_accepted_before_liquidation_started_is_cancelled_when_it_rests() {
    let mut w = World::new();
    // A goes long 0.19 @ 50,000 at 10x (IM 950 of its 1,000) against B.
    let ask = w.request(Side::Sell, Some(MID), 190, TimeInForce::Gtc, false);
    w.place(B, ask);
    let bid = w.request(Side::Buy, Some(MID), 190, TimeInForce::Ioc, false);
    w.place(A, bid);
    for _ in 0..2 {
        w.step(&Op::Market);
        w.step(&Op::Settle);
    }
    // A rests a far buy (R1 passes) that has not reached the market yet...
    let far = w.request(Side::Buy, Some(MID - 2_000), 1, TimeInForce::Gtc, false);
    w.place(A, far);
    // ...when the mark falls and A's liquidation starts.
    let (_, liq) = w.accounts.set_mark(M, Decimal::from(44_000));
    assert_eq!(liq, vec![perpx::domain::MarginPool::Cross(A)]);
    let progress = perpx::risk::liquidation::LiquidationProgress::default();
    let step = w
        .accounts
        .liquidation_step(perpx::domain::MarginPool::Cross(A), &progress, w.now)
        .unwrap();
    assert!(
        matches!(step, perpx::engine::accounts::LiqStep::Applied { .. }),
        "{step:?}"
    );
    assert!(w.accounts.ledger.in_liquidation(A));
    // The order reaches the market and rests; its R2 asks for its cancel.
    let (cmd, ticket) = w.to_market.pop_front().unwrap();
    let Cmd::Place(p) = cmd else {
        panic!("a place")
    };
    let mut events = Vec::new();
    w.engine.place(p, w.now, &mut events).unwrap();
    let s = w.accounts.settle(M, &events, ticket, Ok(()), w.now);
    assert_eq!(s.cancel, vec![(A, p.order.order_id)]);
}
