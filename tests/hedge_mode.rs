//! Hedge (dual-side) position mode, worked by hand on the pure core (docs/RULES.md §3b): R1,
//! the market engine and R2 as the actors run them (`common/driver.rs`). A long and a short
//! leg side by side in one market, each margined alone; closing orders that can never open or
//! flip a leg; the mode's rules and locks; funding, isolated margin and liquidation screening
//! per leg; and replay of the journal batches to the same state. Exact decimals throughout.

#[path = "common/driver.rs"]
mod driver;

use driver::{config, Order, Sim};
use perpx::domain::{
    AccountId, Leg, MarginMode, MarginPool, ModeLock, PositionMode, PositionSide, Reject,
    RequestFault, Side, TimeInForce,
};
use perpx::persistence::codec::Batch;
use perpx::persistence::Replica;
use perpx::risk::MarketId;
use rust_decimal::Decimal;

const BTC: MarketId = MarketId(0);
const LONG: PositionSide = PositionSide::Long;
const SHORT: PositionSide = PositionSide::Short;
/// 50,000.0 in ticks of 0.1.
const P50K: i64 = 500_000;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn leg(side: PositionSide) -> Leg {
    Leg::new(BTC, side)
}

/// A (10,000, hedge mode) and B (1,000,000, one-way), and every batch so far.
fn start() -> (Sim, AccountId, AccountId, Vec<Batch>) {
    let mut sim = Sim::new(&config());
    let (a, mut batches) = sim.open_funded(d("10000"));
    let (b, more) = sim.open_funded(d("1000000"));
    batches.extend(more);
    let (changed, ev) = sim
        .accounts
        .set_position_mode(a, PositionMode::Hedge, sim.now)
        .unwrap();
    assert!(changed);
    batches.push(Batch::ledger(ev, sim.now));
    (sim, a, b, batches)
}

/// B rests `side` 0.1 at 50,000; A takes it on `a_leg` (an IOC limit).
fn take(
    sim: &mut Sim,
    a: AccountId,
    b: AccountId,
    a_side: Side,
    a_leg: PositionSide,
    lots: i64,
    batches: &mut Vec<Batch>,
) {
    batches.extend(sim.place(BTC, b, Order::limit(a_side.opposite(), P50K, lots)));
    let mut o = Order::limit(a_side, P50K, lots).on(a_leg);
    o.tif = TimeInForce::Ioc;
    let (batch, answer) = sim.try_place(BTC, a, o);
    answer.unwrap();
    batches.extend(batch);
}

/// The journal batches replayed from nothing give the live state, and so does a snapshot set
/// of that replica restored into a fresh one (hedge legs in the ledger, market and order
/// snapshots).
fn replay_matches(sim: &Sim, batches: &[Batch]) {
    let cfg = config();
    let mut replica = Replica::fresh(&cfg);
    for (i, b) in batches.iter().enumerate() {
        replica.apply(i as u64 + 1, b).unwrap();
    }
    assert_eq!(
        replica.ledger.state_hash(),
        sim.accounts.ledger.state_hash()
    );
    assert_eq!(
        replica.orders.state_hash(),
        sim.accounts.orders.state_hash()
    );
    assert_eq!(replica.engines[0].state_hash(), sim.engines[0].state_hash());
    let mut restored = Replica::fresh(&cfg);
    for (entity, bytes) in replica.snapshot_set() {
        restored
            .restore_entity(&cfg, &entity, batches.len() as u64, &bytes)
            .unwrap();
    }
    assert_eq!(restored.state_hashes(), replica.state_hashes());
    restored.ledger.check_invariants().unwrap();
}

#[test]
fn a_long_and_a_short_sit_side_by_side_each_margined_alone() {
    let (mut sim, a, b, mut batches) = start();
    take(&mut sim, a, b, Side::Buy, LONG, 100, &mut batches);
    take(&mut sim, a, b, Side::Sell, SHORT, 100, &mut batches);
    let l = &sim.accounts.ledger;
    assert_eq!(l.position_qty(a, leg(LONG)), 100);
    assert_eq!(l.position_qty(a, leg(SHORT)), -100);
    assert_eq!(l.position_qty(a, leg(PositionSide::Both)), 0);
    // The market's position cache follows the legs.
    assert_eq!(sim.engines[0].position(a, LONG).0, 100);
    assert_eq!(sim.engines[0].position(a, SHORT).0, -100);
    let v = l.account_view(a).unwrap();
    assert_eq!(v.position_mode, PositionMode::Hedge);
    let sides: Vec<_> = v
        .positions
        .iter()
        .map(|p| (p.position_side, p.quantity))
        .collect();
    assert_eq!(sides, vec![(LONG, 100), (SHORT, -100)]);
    // No netting: each leg holds its initial margin, 0.1 × 50,000 / 20 = 250 twice; two taker
    // fees of 2.5 came off the wallet; at the entry mark both legs' uPnL is 0.
    assert_eq!(v.position_margin, d("500"));
    assert_eq!(v.wallet_balance, d("9995"));
    assert_eq!(v.unrealized_pnl, Decimal::ZERO);
    assert_eq!(v.available_balance, d("9495"));
    // Maintenance per leg: 5,000 × 0.4 % = 20 each.
    assert_eq!(v.maintenance_margin, d("40"));
    replay_matches(&sim, &batches);
}

#[test]
fn a_closing_order_never_opens_or_flips_its_leg() {
    let (mut sim, a, b, mut batches) = start();
    take(&mut sim, a, b, Side::Buy, LONG, 100, &mut batches);
    take(&mut sim, a, b, Side::Sell, SHORT, 100, &mut batches);
    // B bids 0.2; A sells 0.15 + long: the close is reduce-only, the book caps it at the long
    // leg's 0.1 and the rest closes unfilled. The short leg is untouched.
    batches.extend(sim.place(BTC, b, Order::limit(Side::Buy, P50K, 200)));
    let mut close = Order::limit(Side::Sell, P50K, 150).on(LONG);
    close.tif = TimeInForce::Ioc;
    let (batch, answer) = sim.try_place(BTC, a, close);
    answer.unwrap();
    batches.extend(batch);
    let l = &sim.accounts.ledger;
    assert_eq!(l.position_qty(a, leg(LONG)), 0);
    assert_eq!(l.position_qty(a, leg(SHORT)), -100);
    // With the long leg flat, another sell + long is refused: it can only close.
    let again = Order::limit(Side::Sell, P50K, 10).on(LONG);
    assert_eq!(
        sim.try_place(BTC, a, again).1,
        Err(Reject::ReduceOnlyRejected)
    );
    // A resting close (buy + short) rests as reduce-only and shrinks with its leg.
    let rest = Order::limit(Side::Buy, P50K - 1_000, 100).on(SHORT);
    batches.extend(sim.place(BTC, a, rest));
    let held = sim.accounts.ledger.open_orders(a, BTC);
    assert_eq!(held.len(), 1);
    assert!(held[0].reduce_only && held[0].position_side == SHORT);
    // Closing orders reserve no margin: only the short leg's 250 is held.
    let v = sim.accounts.ledger.account_view(a).unwrap();
    assert_eq!(v.order_margin, Decimal::ZERO);
    assert_eq!(v.position_margin, d("250"));
    replay_matches(&sim, &batches);
}

#[test]
fn the_position_side_must_fit_the_mode_and_the_mode_changes_only_when_flat() {
    let (mut sim, a, b, mut batches) = start();
    // Hedge mode: `both` does not fit; reduce_only is not taken.
    let both = Order::limit(Side::Buy, P50K - 1_000, 10);
    assert_eq!(
        sim.try_place(BTC, a, both).1,
        Err(Reject::PositionSideMismatch)
    );
    let mut ro = Order::limit(Side::Sell, P50K + 1_000, 10).on(SHORT);
    ro.reduce_only = true;
    assert_eq!(
        sim.try_place(BTC, a, ro).1,
        Err(Reject::InvalidRequest(RequestFault::ReduceOnlyInHedgeMode))
    );
    // One-way mode: `long` does not fit.
    let on_b = Order::limit(Side::Buy, P50K - 1_000, 10).on(LONG);
    assert_eq!(
        sim.try_place(BTC, b, on_b).1,
        Err(Reject::PositionSideMismatch)
    );
    // A resting order locks the mode; so does a position; the same mode is no change.
    batches.extend(sim.place(BTC, a, Order::limit(Side::Buy, P50K - 1_000, 10).on(LONG)));
    let now = sim.now;
    assert_eq!(
        sim.accounts.set_position_mode(a, PositionMode::OneWay, now),
        Err(Reject::PositionModeLocked(ModeLock::OpenOrders))
    );
    let order = sim.accounts.ledger.open_orders(a, BTC)[0].order_id;
    batches.extend(sim.cancel(BTC, a, order));
    take(&mut sim, a, b, Side::Sell, SHORT, 10, &mut batches);
    assert_eq!(
        sim.accounts.set_position_mode(a, PositionMode::OneWay, now),
        Err(Reject::PositionModeLocked(ModeLock::Position))
    );
    assert!(
        !sim.accounts
            .set_position_mode(a, PositionMode::Hedge, now)
            .unwrap()
            .0
    );
    // Flat again: back to one-way, and `both` orders work.
    take(&mut sim, a, b, Side::Buy, SHORT, 10, &mut batches);
    let (changed, ev) = sim
        .accounts
        .set_position_mode(a, PositionMode::OneWay, now)
        .unwrap();
    assert!(changed);
    batches.push(Batch::ledger(ev, now));
    take(
        &mut sim,
        a,
        b,
        Side::Buy,
        PositionSide::Both,
        10,
        &mut batches,
    );
    assert_eq!(sim.accounts.ledger.position_qty(a, Leg::both(BTC)), 10);
    replay_matches(&sim, &batches);
}

#[test]
fn funding_settles_each_leg_and_a_hedged_pair_nets_to_zero() {
    let (mut sim, a, b, mut batches) = start();
    take(&mut sim, a, b, Side::Buy, LONG, 100, &mut batches);
    take(&mut sim, a, b, Side::Sell, SHORT, 100, &mut batches);
    let before = sim.accounts.ledger.wallet(a).unwrap();
    // Rate 0.01 % at mark 50,000: the long pays 0.1 × 50,000 × 0.0001 = 0.5, the short
    // receives 0.5.
    let ev = sim
        .accounts
        .settle_funding(BTC, d("0.0001"), d("50000"), sim.now);
    batches.push(Batch::ledger(ev, sim.now));
    assert_eq!(sim.accounts.ledger.wallet(a).unwrap(), before);
    let v = sim.accounts.ledger.account_view(a).unwrap();
    let paid: Vec<_> = v
        .positions
        .iter()
        .map(|p| (p.position_side, p.funding_paid))
        .collect();
    assert_eq!(paid, vec![(LONG, d("0.5")), (SHORT, d("-0.5"))]);
    replay_matches(&sim, &batches);
}

#[test]
fn isolated_legs_are_separate_pools_screened_alone() {
    let (mut sim, a, b, mut batches) = start();
    let (_, ev) = sim
        .accounts
        .set_margin_mode(a, BTC, MarginMode::Isolated, sim.now)
        .unwrap();
    batches.push(Batch::ledger(ev, sim.now));
    take(&mut sim, a, b, Side::Buy, LONG, 100, &mut batches);
    take(&mut sim, a, b, Side::Sell, SHORT, 100, &mut batches);
    let l = &sim.accounts.ledger;
    // Each leg drew its own 250 and paid its own 2.5 fee.
    assert_eq!(l.isolated_wallet(a, leg(LONG)), d("247.5"));
    assert_eq!(l.isolated_wallet(a, leg(SHORT)), d("247.5"));
    assert_eq!(l.wallet(a).unwrap(), d("9500"));
    // Margin added to the long leg stays there.
    let (w, ev) = sim
        .accounts
        .move_isolated_margin(a, leg(LONG), d("10"), sim.now)
        .unwrap();
    batches.push(Batch::ledger(ev, sim.now));
    assert_eq!(w, d("257.5"));
    assert_eq!(
        sim.accounts.ledger.isolated_wallet(a, leg(SHORT)),
        d("247.5")
    );
    // Mark 52,400: the short leg's pool is 247.5 − 240 = 7.5 ≤ its maintenance 5,240 × 0.4 %
    // = 20.96; the long leg (257.5 + 240) is far from it. Only the short pool is reported.
    let (_, liq) = sim.accounts.set_mark(BTC, d("52400"));
    assert_eq!(liq, vec![MarginPool::Isolated(a, leg(SHORT))]);
    assert!(!sim.accounts.ledger.pool_liquidatable(MarginPool::Cross(a)));
}

#[test]
fn a_hedge_account_alone_on_both_sides_is_deleveraged_against_itself() {
    // A holds the market's only long and only short (a self-trade across its legs, STP off);
    // when one leg must be auto-deleveraged, its own opposite leg is the counterparty.
    let mut sim = Sim::new(&config());
    let (a, _) = sim.open_funded(d("1000"));
    sim.accounts
        .set_position_mode(a, PositionMode::Hedge, sim.now)
        .unwrap();
    let l = &mut sim.accounts.ledger;
    let t = perpx::domain::Trade {
        trade_id: perpx::domain::TradeId(1),
        price: perpx::domain::Price(P50K),
        qty: perpx::domain::Qty(100),
        taker_side: Side::Buy,
        taker_order: perpx::domain::OrderId(1),
        taker_account: a,
        maker: perpx::domain::Maker {
            order_id: perpx::domain::OrderId(2),
            account: a,
            remaining: perpx::domain::Qty(0),
        },
        taker_position: LONG,
        maker_position: SHORT,
    };
    let mut out = Vec::new();
    l.settle_fill(BTC, &t, perpx::engine::FillKind::Normal, sim.now, &mut out)
        .unwrap();
    let candidates = l.adl_candidates(BTC, a, -1);
    assert_eq!(candidates.len(), 1);
    assert_eq!((candidates[0].account, candidates[0].qty), (a, 100));
    l.auto_deleverage(a, leg(LONG), d("50000"), &[(a, 100)], sim.now, &mut out)
        .unwrap();
    assert_eq!(l.position_qty(a, leg(LONG)), 0);
    assert_eq!(l.position_qty(a, leg(SHORT)), 0);
    l.check_invariants().unwrap();
}
