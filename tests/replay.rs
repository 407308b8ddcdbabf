//! Replay through apply (docs/ARCHITECTURE.md §1, §5; docs/RULES.md §7.6): random command streams run live
//! (engines, ledger, order store as the AccountActor drives them), their journal batches are
//! encoded, decoded and applied to a fresh replica, and every entity's state hash must equal
//! the live one after every command. Also: determinism, and snapshot + tail = live.

#[path = "common/driver.rs"]
mod driver;

use driver::{config, random_batches, Order, Sim};
use perpx::domain::{AccountId, BookEvent, CloseReason, Qty, Side};
use perpx::engine::market::{MarketEngine, MarketEvent, MarketSnapshot};
use perpx::engine::orders::OrderStore;
use perpx::engine::Ledger;
use perpx::persistence::codec::{self, Batch};
use perpx::persistence::{Replica, StateHashes};
use perpx::risk::MarketId;
use rust_decimal::Decimal;

fn live_hashes(sim: &Sim) -> StateHashes {
    StateHashes {
        ledger: sim.accounts.ledger.state_hash(),
        orders: sim.accounts.orders.state_hash(),
        markets: sim.engines.iter().map(MarketEngine::state_hash).collect(),
    }
}

/// Run `commands` random commands, replaying each batch as soon as it is made.
fn run_and_replay_in_step(seed: u64, commands: usize) {
    let cfg = config();
    let mut sim = Sim::new(&cfg);
    let mut replica = Replica::fresh(&cfg);
    let mut seq = 0;
    // One command at a time, so the comparison happens after every command.
    let setup = random_batches(&mut sim, seed, 6, 0);
    for b in &setup {
        seq += 1;
        replica
            .apply(seq, &codec::decode(&codec::encode(b)).unwrap())
            .unwrap();
    }
    let mut rng = driver::Rng(seed);
    for step in 0..commands {
        let batches = random_batches_continue(&mut sim, rng.next(), 1);
        for b in &batches {
            seq += 1;
            let decoded = codec::decode(&codec::encode(b)).unwrap();
            assert_eq!(&decoded, b, "codec round trip");
            replica
                .apply(seq, &decoded)
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
        }
        assert_eq!(
            replica.state_hashes(),
            live_hashes(&sim),
            "seed {seed}: replica differs from live after command {step}"
        );
        for e in &replica.engines {
            e.book().assert_invariants();
        }
    }
    replica.ledger.check_invariants().unwrap();
}

/// Commands only (no new accounts): the setup opened accounts `FIRST_USER`, `FIRST_USER + 1`, ...
fn random_batches_continue(sim: &mut Sim, seed: u64, commands: usize) -> Vec<Batch> {
    let mut rng = driver::Rng(seed | 1);
    driver::random_commands(sim, &mut rng, &accounts(6), commands)
}

fn accounts(n: u64) -> Vec<AccountId> {
    (0..n)
        .map(|i| AccountId(AccountId::FIRST_USER + i))
        .collect()
}

#[test]
fn replayed_state_equals_live_state_after_every_command() {
    for seed in [1, 7, 42, 1234, 98765] {
        run_and_replay_in_step(seed, 600);
    }
}

#[test]
fn same_commands_give_same_events_and_state() {
    let cfg = config();
    let (mut a, mut b) = (Sim::new(&cfg), Sim::new(&cfg));
    let ba = random_batches(&mut a, 99, 8, 2000);
    let bb = random_batches(&mut b, 99, 8, 2000);
    assert_eq!(ba, bb, "same commands, same batches");
    assert_eq!(live_hashes(&a), live_hashes(&b));
    // The stream exercises what replay must get right.
    let seen = |f: &dyn Fn(&BookEvent) -> bool| {
        ba.iter().flat_map(|b| &b.market_events).any(|e| match e {
            MarketEvent::Book(x) => f(x),
            _ => false,
        })
    };
    assert!(seen(&|e| matches!(e, BookEvent::Trade(_))), "trades");
    assert!(
        seen(&|e| matches!(e, BookEvent::Triggered { .. })),
        "triggers fired"
    );
    assert!(
        seen(&|e| matches!(e, BookEvent::Amended { requeued: true, .. })),
        "requeues"
    );
    assert!(
        seen(&|e| matches!(
            e,
            BookEvent::Amended {
                requeued: false,
                ..
            }
        )),
        "in place"
    );
    // ... and take-profit / stop-loss (docs/RULES.md §2a): pairs linked, close-position
    // orders sized as they fire, and each way a TP/SL leaves without firing.
    assert!(
        ba.iter()
            .flat_map(|b| &b.market_events)
            .any(|e| matches!(e, MarketEvent::Linked { orders, .. } if orders.len() == 2)),
        "TP/SL pairs"
    );
    assert!(
        seen(&|e| matches!(e, BookEvent::Sized { .. })),
        "close-position fired"
    );
    assert!(
        seen(&|e| matches!(e, BookEvent::TriggerAmended { .. })),
        "triggers amended"
    );
    for reason in [
        CloseReason::Oco,
        CloseReason::PositionClosed,
        CloseReason::EntryUnfilled,
    ] {
        assert!(
            seen(&|e| matches!(e, BookEvent::Closed { reason: r, .. } if *r == reason)),
            "{reason:?}"
        );
    }
}

#[test]
fn snapshot_plus_tail_equals_live() {
    let cfg = config();
    let mut sim = Sim::new(&cfg);
    let batches = random_batches(&mut sim, 5, 8, 3000);
    let cut = batches.len() / 2;
    let mut head = Replica::fresh(&cfg);
    for (i, b) in batches[..cut].iter().enumerate() {
        head.apply(i as u64 + 1, b).unwrap();
    }
    // Every entity round-trips through its snapshot with the same hash.
    let ledger = Ledger::decode_snapshot(&head.ledger.encode_snapshot(), &cfg.markets).unwrap();
    assert_eq!(ledger.state_hash(), head.ledger.state_hash());
    ledger.check_invariants().unwrap();
    let orders = OrderStore::decode_snapshot(&head.orders.encode_snapshot(), 3).unwrap();
    assert_eq!(orders.state_hash(), head.orders.state_hash());
    let mut engines = Vec::new();
    for (i, e) in head.engines.iter().enumerate() {
        let snap = MarketSnapshot::decode(&e.snapshot().encode()).unwrap();
        let r = MarketEngine::restore(cfg.markets[i].clone(), &snap).unwrap();
        assert_eq!(r.state_hash(), e.state_hash(), "market {i}");
        r.book().assert_invariants();
        engines.push(r);
    }
    assert!(
        head.engines[0].book().len() > 10,
        "a real book was snapshotted"
    );
    // Restored state + the tail = live.
    let mut tail = Replica::from_initial(
        perpx::engine::ExchangeState {
            ledger,
            orders,
            engines,
        },
        cut as u64,
    );
    for (i, b) in batches.iter().enumerate().skip(cut) {
        tail.apply(i as u64 + 1, b).unwrap();
    }
    assert_eq!(tail.state_hashes(), live_hashes(&sim));
}

#[test]
fn a_requeued_reduce_only_order_is_listed_once() {
    // Position 6 lots long; a reduce-only sell of 5 requeued at a new price must keep its 5
    // (it used to be listed twice in the reduce-only index and cut to 1).
    let cfg = config();
    let mut sim = Sim::new(&cfg);
    let (a, _) = sim.open_funded(Decimal::from(1_000_000));
    let (b, _) = sim.open_funded(Decimal::from(1_000_000));
    let m = MarketId(0);
    let p = 500_000; // 50,000 in ticks of 0.1
    sim.place(m, b, Order::limit(Side::Sell, p, 6)).unwrap();
    sim.place(m, a, Order::limit(Side::Buy, p, 6)).unwrap();
    assert_eq!(
        sim.engines[0].position(a, perpx::domain::PositionSide::Both),
        Qty(6)
    );
    let ro = Order {
        reduce_only: true,
        ..Order::limit(Side::Sell, p + 10, 5)
    };
    let placed = sim.place(m, a, ro).unwrap();
    let id = match &placed.market_events[0] {
        perpx::engine::market::MarketEvent::Accepted(x) => x.order_id,
        e => panic!("unexpected {e:?}"),
    };
    sim.amend(m, a, id, Some(perpx::domain::Price(p + 20)), None)
        .unwrap();
    assert_eq!(sim.engines[0].book().order(id).unwrap().remaining, Qty(5));
}
