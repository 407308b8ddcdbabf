//! Model-based tests of the order book: random command streams run through
//! `perpx::book::Book` and the naive `RefBook`; after every command the results, the emitted
//! events, the depth and the sequence must be identical, `assert_invariants()` must hold, and
//! every order's quantity must be conserved (`quantity = filled + resting + closed`).
//! Failing cases are shrunk and their seeds kept by proptest (`proptest-regressions/`).

mod common;

use std::collections::HashMap;

use common::reference_book::RefBook;
use perpx::book::{Book, BookOrder, TakeBounds};
use perpx::domain::{
    AccountId, BookEvent, CloseReason, OrderId, Price, Qty, Side, Stp, TimeInForce,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

#[derive(Clone, Debug)]
enum Cmd {
    Submit {
        account: u64,
        side: Side,
        price: Option<i64>,
        qty: i64,
        tif: TimeInForce,
        stp: Stp,
        reduce_only: bool,
        position: i64,
    },
    /// Cancel the `pick`-th resting order (modulo the count), as its owner or as another.
    Cancel { pick: usize, as_owner: bool },
    Amend {
        pick: usize,
        price: Option<i64>,
        qty: Option<i64>,
        position: i64,
    },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let tif = prop_oneof![
        6 => Just(TimeInForce::Gtc),
        2 => Just(TimeInForce::Ioc),
        1 => Just(TimeInForce::Fok),
        2 => Just(TimeInForce::PostOnly),
    ];
    let stp = prop_oneof![
        3 => Just(Stp::ExpireMaker),
        1 => Just(Stp::ExpireTaker),
        1 => Just(Stp::ExpireBoth),
        1 => Just(Stp::None),
    ];
    let submit = (
        1u64..=4,
        side(),
        prop::option::weighted(0.85, 90i64..=110),
        1i64..=20,
        tif,
        stp,
        prop::bool::weighted(0.1),
        -15i64..=15,
    )
        .prop_map(
            |(account, side, price, qty, tif, stp, reduce_only, position)| Cmd::Submit {
                account,
                side,
                price,
                qty,
                tif,
                stp,
                reduce_only,
                position,
            },
        );
    let cancel = (any::<usize>(), prop::bool::weighted(0.9))
        .prop_map(|(pick, as_owner)| Cmd::Cancel { pick, as_owner });
    let amend = (
        any::<usize>(),
        prop::option::of(90i64..=110),
        prop::option::of(1i64..=25),
        -15i64..=15,
    )
        .prop_map(|(pick, price, qty, position)| Cmd::Amend {
            pick,
            price,
            qty,
            position,
        });
    prop_oneof![6 => submit, 2 => cancel, 2 => amend]
}

/// Per-order quantity bookkeeping from events: `total = filled + resting + closed`.
#[derive(Default)]
struct Ledger {
    total: HashMap<OrderId, i64>,
    filled: HashMap<OrderId, i64>,
    closed: HashMap<OrderId, i64>,
}

impl Ledger {
    fn observe(&mut self, events: &[BookEvent]) {
        for e in events {
            match *e {
                BookEvent::Trade(t) => {
                    *self.filled.entry(t.taker_order).or_default() += t.qty.0;
                    *self.filled.entry(t.maker.order_id).or_default() += t.qty.0;
                }
                BookEvent::Closed { order_id, qty, .. } => {
                    *self.closed.entry(order_id).or_default() += qty.0
                }
                BookEvent::Amended {
                    order_id,
                    remaining,
                    ..
                } => {
                    // The amended order's total becomes what it filled plus the new remaining.
                    let filled = self.filled.get(&order_id).copied().unwrap_or(0);
                    self.total.insert(order_id, filled + remaining.0);
                    self.closed.remove(&order_id);
                }
                _ => {}
            }
        }
    }

    fn check(&self, book: &Book) {
        for (&id, &total) in &self.total {
            let filled = self.filled.get(&id).copied().unwrap_or(0);
            let closed = self.closed.get(&id).copied().unwrap_or(0);
            let resting = book.order(id).map_or(0, |n| n.remaining.0);
            assert_eq!(
                total,
                filled + resting + closed,
                "quantity not conserved for {id:?}"
            );
        }
    }
}

fn run(cmds: Vec<Cmd>, max_open: u32) {
    let mut book = Book::new(max_open);
    let mut reference = RefBook::new(max_open);
    let mut ledger = Ledger::default();
    let bounds = TakeBounds {
        buy_max: Price(105),
        sell_min: Price(95),
    };
    let mut next_id = 1u64;
    for (step, c) in cmds.into_iter().enumerate() {
        let (mut ev, mut ev_ref) = (Vec::new(), Vec::new());
        let ctx = format!("step {step}: {c:?}");
        // The taker outcome of a submit or amend, to account for reduce-only capping below.
        let mut taker = None;
        match c {
            Cmd::Submit {
                account,
                side,
                price,
                qty,
                tif,
                stp,
                reduce_only,
                position,
            } => {
                let o = BookOrder {
                    position_side: Default::default(),
                    id: OrderId(next_id),
                    account: AccountId(account),
                    side,
                    price: price.map(Price),
                    qty: Qty(qty),
                    tif,
                    stp,
                    reduce_only,
                    position: Qty(position),
                    close_position: false,
                };
                next_id += 1;
                let a = book.submit(o, &bounds, &mut ev);
                let b = reference.submit(o, &bounds, &mut ev_ref);
                assert_eq!(a, b, "{ctx}");
                if let Ok(outcome) = a {
                    ledger.total.insert(o.id, qty);
                    taker = Some((o.id, outcome));
                }
            }
            Cmd::Cancel { pick, as_owner } => {
                let ids = reference.ids();
                if ids.is_empty() {
                    continue;
                }
                let id = ids[pick % ids.len()];
                let owner = reference.owner(id).unwrap();
                let who = if as_owner {
                    owner
                } else {
                    AccountId(owner.0 % 4 + 1)
                };
                let a = book.cancel(id, Some(who), CloseReason::User, &mut ev);
                let b = reference.cancel(id, Some(who), CloseReason::User, &mut ev_ref);
                assert_eq!(a, b, "{ctx}");
            }
            Cmd::Amend {
                pick,
                price,
                qty,
                position,
            } => {
                let ids = reference.ids();
                if ids.is_empty() {
                    continue;
                }
                let id = ids[pick % ids.len()];
                let owner = reference.owner(id).unwrap();
                let (p, q) = (price.map(Price), qty.map(Qty));
                let a = book.amend(id, owner, p, q, Qty(position), &mut ev);
                let b = reference.amend(id, owner, p, q, Qty(position), &mut ev_ref);
                assert_eq!(a, b, "{ctx}");
                taker = a.ok().map(|o| (id, o));
            }
        }
        assert_eq!(ev, ev_ref, "{ctx}");
        book.assert_invariants();
        assert_eq!(book.depth(1000), reference.depth(1000), "{ctx}");
        assert_eq!(book.len(), reference.len(), "{ctx}");
        ledger.observe(&ev);
        // A resting reduce-only order capped to the position: the excess shows in the outcome
        // only (the order is still open, so there is no `Closed` event for it yet).
        if let Some((id, outcome)) = taker.filter(|(_, o)| o.rested.0 > 0) {
            *ledger.closed.entry(id).or_default() += outcome.closed.0;
        }
        ledger.check(&book);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("tests/proptest-regressions/book_model.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn book_matches_reference(cmds in prop::collection::vec(cmd(), 1..250)) {
        run(cmds, 1000);
    }

    #[test]
    fn book_matches_reference_with_tight_open_order_cap(cmds in prop::collection::vec(cmd(), 1..120)) {
        run(cmds, 3);
    }
}

/// The state hash depends on the logical book only: two books reaching the same orders through
/// different histories (one with churned, tombstoned levels) hash equal iff their sequences and
/// trade counters agree; any difference in resting orders changes it.
#[test]
fn state_hash_ignores_storage_layout() {
    let bounds = TakeBounds::UNBOUNDED;
    let order = |id: u64, price: i64| BookOrder {
        position_side: Default::default(),
        id: OrderId(id),
        account: AccountId(1),
        side: Side::Buy,
        price: Some(Price(price)),
        qty: Qty(1),
        tif: TimeInForce::Gtc,
        stp: Stp::ExpireMaker,
        reduce_only: false,
        position: Qty(0),
        close_position: false,
    };
    let mut out = Vec::new();
    let mut a = Book::new(100);
    a.submit(order(1, 100), &bounds, &mut out).unwrap();
    a.submit(order(2, 99), &bounds, &mut out).unwrap();
    a.submit(order(3, 98), &bounds, &mut out).unwrap();
    a.cancel(OrderId(2), None, CloseReason::User, &mut out)
        .unwrap(); // leaves a tombstone at 99
    let mut b = Book::new(100);
    b.submit(order(1, 100), &bounds, &mut out).unwrap();
    b.submit(order(3, 98), &bounds, &mut out).unwrap();
    assert_ne!(
        a.state_hash(),
        b.state_hash(),
        "different sequences must differ"
    );
    let mut c = a.clone();
    assert_eq!(a.state_hash(), c.state_hash());
    c.amend(
        OrderId(3),
        AccountId(1),
        None,
        Some(Qty(1)),
        Qty(0),
        &mut out,
    )
    .unwrap(); // no-op
    assert_eq!(
        a.state_hash(),
        c.state_hash(),
        "a no-op amend changes nothing"
    );
    c.amend(
        OrderId(3),
        AccountId(1),
        Some(Price(97)),
        None,
        Qty(0),
        &mut out,
    )
    .unwrap();
    assert_ne!(a.state_hash(), c.state_hash());
}
