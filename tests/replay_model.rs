//! Model test of market-engine replay: proptest generates command streams
//! (every order type and time in force, reduce-only and liquidation orders, triggers on last
//! and mark, cancels, cancel-all, amends, mark moves with a stale index, positions moved
//! outside the book); each runs live on one engine while its events are applied to a fresh
//! one. After every command the two must hash alike and the replayed book must pass its
//! invariants; at the end a snapshot must restore to the same hash. Failing cases are shrunk
//! and their seeds kept by proptest (`proptest-regressions/`).

use perpx::config::Config;
use perpx::domain::{
    AccountId, CloseReason, MarketSpec, Order, OrderId, OrderTerms, OrderType, Price, Qty, Side,
    Stp, TimeInForce, Timestamp, TriggerBy,
};
use perpx::engine::market::{MarketEngine, MarketEvent, MarketSnapshot, PlaceOrder};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rust_decimal::Decimal;

/// BTC-PERP: tick 0.1, lot 0.001, mark 50,000 (= 500,000 ticks).
fn btc() -> MarketSpec {
    let c = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/markets.toml"
    )))
    .unwrap();
    c.markets.into_iter().next().unwrap()
}

const MID: i64 = 500_000;

#[derive(Clone, Debug)]
enum Cmd {
    Place {
        account: u64,
        side: Side,
        kind: OrderType,
        tif: TimeInForce,
        price: i64,
        trigger: i64,
        by_mark: bool,
        qty: i64,
        reduce_only: bool,
        liquidation: bool,
        stp: Stp,
    },
    Cancel(usize),
    CancelAll(u64),
    Amend {
        pick: usize,
        price: Option<i64>,
        qty: Option<i64>,
    },
    Mark {
        offset: i64,
        stale: bool,
    },
    Adjust {
        account: u64,
        delta: i64,
    },
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let kind = prop_oneof![
        8 => Just(OrderType::Limit),
        2 => Just(OrderType::Market),
        1 => Just(OrderType::StopMarket),
        1 => Just(OrderType::StopLimit),
        1 => Just(OrderType::TakeProfitMarket),
        1 => Just(OrderType::TakeProfitLimit),
    ];
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
    let place = (
        (1u64..=4, any::<bool>(), kind, tif, -20i64..=20, -40i64..=40),
        (any::<bool>(), 1i64..=20, prop::bool::weighted(0.2)),
        (prop::bool::weighted(0.05), stp),
    )
        .prop_map(
            |(
                (account, buy, kind, tif, price, trigger),
                (by_mark, qty, reduce_only),
                (liquidation, stp),
            )| Cmd::Place {
                account,
                side: if buy { Side::Buy } else { Side::Sell },
                kind,
                tif,
                price: MID + price,
                trigger: MID + trigger,
                by_mark,
                qty,
                reduce_only,
                liquidation,
                stp,
            },
        );
    prop_oneof![
        10 => place,
        2 => any::<usize>().prop_map(Cmd::Cancel),
        1 => (1u64..=4).prop_map(Cmd::CancelAll),
        2 => (any::<usize>(), prop::option::of(-20i64..=20), prop::option::of(1i64..=25))
            .prop_map(|(pick, price, qty)| Cmd::Amend {
                pick,
                price: price.map(|p| MID + p),
                qty,
            }),
        2 => (-30i64..=30, prop::bool::weighted(0.1))
            .prop_map(|(offset, stale)| Cmd::Mark { offset, stale }),
        1 => (1u64..=4, -10i64..=10).prop_map(|(account, delta)| Cmd::Adjust { account, delta }),
    ]
}

/// Run one command live; returns its events and, for `Adjust`, the position move.
fn run(
    e: &mut MarketEngine,
    c: &Cmd,
    next_id: &mut u64,
    now: Timestamp,
) -> (Vec<MarketEvent>, Option<(AccountId, Qty)>) {
    let mut out = Vec::new();
    let open = |e: &MarketEngine| {
        let mut ids: Vec<(AccountId, OrderId)> = Vec::new();
        for a in 1..=4 {
            let a = AccountId(100 + a);
            ids.extend(e.open_order_ids(a).into_iter().map(|id| (a, id)));
        }
        ids
    };
    match *c {
        Cmd::Place {
            account,
            side,
            kind,
            tif,
            price,
            trigger,
            by_mark,
            qty,
            reduce_only,
            liquidation,
            stp,
        } => {
            *next_id += 1;
            // Only terms `OrderRequest::new` accepts reach a market: no post-only trigger.
            let tif = if kind.is_conditional() && tif == TimeInForce::PostOnly {
                TimeInForce::Gtc
            } else {
                tif
            };
            let p = PlaceOrder {
                order: Order {
                    order_id: OrderId(*next_id),
                    account: AccountId(100 + account),
                    terms: OrderTerms {
                        position_side: Default::default(),
                        side,
                        order_type: kind,
                        tif,
                        price: kind.has_price().then_some(Price(price)),
                        qty: Qty(qty),
                        reduce_only,
                        stp,
                        trigger_price: kind.is_conditional().then_some(Price(trigger)),
                        trigger_by: if by_mark {
                            TriggerBy::Mark
                        } else {
                            TriggerBy::Last
                        },
                        close_position: false,
                    },
                    liquidation,
                },
                protect: None,
                linked: Default::default(),
            };
            let _ = e.place(p, now, &mut out);
        }
        Cmd::Cancel(pick) => {
            let ids = open(e);
            if !ids.is_empty() {
                let (a, id) = ids[pick % ids.len()];
                e.cancel(Some(a), id, CloseReason::User, now, &mut out)
                    .unwrap();
            }
        }
        Cmd::CancelAll(a) => {
            e.cancel_all(AccountId(100 + a), CloseReason::User, now, &mut out);
        }
        Cmd::Amend { pick, price, qty } => {
            let ids = open(e);
            if !ids.is_empty() {
                let (a, id) = ids[pick % ids.len()];
                let _ = e.amend(a, id, price.map(Price), qty.map(Qty), now, &mut out);
            }
        }
        Cmd::Mark { offset, stale } => {
            let tick = e.spec().tick_size;
            let mark = Decimal::from(MID + offset) * tick + tick / Decimal::from(3);
            e.set_mark(mark, stale, now, &mut out);
        }
        Cmd::Adjust { account, delta } => {
            let a = AccountId(100 + account);
            e.adjust_position(a, Qty(delta), now, &mut out);
            return (out, Some((a, Qty(delta))));
        }
    }
    (out, None)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn replayed_engine_hashes_like_the_live_one(cmds in prop::collection::vec(cmd(), 1..120)) {
        let mut live = MarketEngine::new(btc());
        let mut replayed = MarketEngine::new(btc());
        let mut next_id = 0;
        for (i, c) in cmds.iter().enumerate() {
            let now = Timestamp(1_700_000_000_000 + 17_000 * i as u64);
            let (events, moved) = run(&mut live, c, &mut next_id, now);
            if let Some((a, d)) = moved {
                let h = replayed.reduced_leg(a, d.0);
                replayed.apply_position_delta(h, d);
            }
            for e in &events {
                replayed.apply(e, now).unwrap_or_else(|err| panic!("command {i} {c:?}: {err}"));
            }
            prop_assert_eq!(replayed.state_hash(), live.state_hash(), "after command {} {:?}", i, c);
            replayed.book().assert_invariants();
        }
        let snap = MarketSnapshot::decode(&live.snapshot().encode()).unwrap();
        let restored = MarketEngine::restore(btc(), &snap).unwrap();
        prop_assert_eq!(restored.state_hash(), live.state_hash());
        restored.book().assert_invariants();
    }
}
