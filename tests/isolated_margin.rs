//! Isolated margin, worked by hand (docs/RULES.md §3a): what an opening fill moves, where fees,
//! PnL and funding land, the isolated liquidation price, add/reduce limits, mode locks, ADL
//! ranking across modes, and the isolation itself: an isolated position's loss never reaches
//! the cross wallet, whether it is liquidated, closed through its bankruptcy price, or funded.
//! Exact decimals throughout.

mod common;

use common::*;
use perpx::domain::{
    AccountId, MarginMode, MarginPool, MarketSpec, ModeLock, OrderId, Qty, Reject, Side, Timestamp,
};
use perpx::engine::{Ledger, LedgerEvent};
use perpx::risk::liquidation::{LiquidationAction, LiquidationProgress};
use perpx::risk::MarketId;
use rust_decimal::Decimal;

const A: AccountId = AccountId(100);
const B: AccountId = AccountId(101);
const ETH: MarketId = MarketId(1);
const T0: Timestamp = Timestamp(0);

fn eth() -> MarketSpec {
    MarketSpec {
        symbol: "ETH-PERP".into(),
        tick_size: d("0.01"),
        lot_size: d("0.01"),
        initial_index_price: d("3000"),
        binance_symbol: "ETHUSDT".into(),
        ..btc()
    }
}

/// A and B with 10,000 each; A's BTC isolated; A buys 0.1 BTC at 50,000 from B (A takes).
fn opened() -> (Ledger, Vec<LedgerEvent>) {
    let mut l = Ledger::new(vec![btc(), eth()], 8);
    let mut out = accounts(&mut l, &[100, 101], "10000");
    assert!(l
        .set_margin_mode(A, BTC, MarginMode::Isolated, T0, &mut out)
        .unwrap());
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 100, &mut out);
    l.check_invariants().unwrap();
    (l, out)
}

#[test]
fn an_opening_fill_moves_the_initial_margin_and_the_fee_is_paid_from_it() {
    let (l, _) = opened();
    // Notional 0.1 × 50,000 = 5,000; initial margin at 20× = 250, from the cross wallet.
    assert_eq!(l.wallet(A), Some(d("9750")));
    // The taker fee 5,000 × 0.05 % = 2.5 is paid from the isolated wallet: 250 − 2.5.
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        d("247.5")
    );
    // The maker is cross: its fee (5,000 × 0.02 % = 1) comes off its wallet.
    assert_eq!(l.wallet(B), Some(d("9999")));
    let v = l.account_view(A).unwrap();
    assert_eq!(v.cross_wallet_balance, d("9750"));
    assert_eq!(v.wallet_balance, d("9997.5"));
    // The cross pool holds no position: nothing of it is margin, and all of it is available.
    assert_eq!(v.available_balance, d("9750"));
    assert_eq!(v.withdrawable, d("9750"));
    let p = &v.positions[0];
    assert_eq!(p.margin_mode, MarginMode::Isolated);
    assert_eq!(p.isolated_wallet, d("247.5"));
    assert_eq!(p.initial_margin, d("250"));
    // Isolated liquidation price (long): (Q·EP − WB − cum) / (Q·(1 − MMR))
    //   = (5,000 − 247.5 − 0) / (0.1 × 0.996) = 47,715.863453815…, half-even to 8 decimals.
    assert_eq!(p.liquidation_price, Some(d("47715.86345382")));
}

#[test]
fn an_isolated_liquidation_takes_nothing_from_the_cross_wallet() {
    let (mut l, mut out) = opened();
    // Mark 47,700: margin balance 247.5 + 0.1 × (47,700 − 50,000) = 17.5 ≤ maintenance
    // 4,770 × 0.4 % = 19.08: the isolated pool (and only it) is liquidatable.
    let mut liq = Vec::new();
    l.set_mark(BTC, d("47700"), &mut out, &mut liq);
    assert_eq!(
        liq,
        vec![MarginPool::Isolated(A, perpx::domain::Leg::both(BTC))]
    );
    assert!(!l.pool_liquidatable(MarginPool::Cross(A)));
    let pool = MarginPool::Isolated(A, perpx::domain::Leg::both(BTC));
    l.begin_liquidation(pool, T0, &mut out).unwrap();
    // Only this market's orders are frozen: a new BTC order is refused, an ETH one is not.
    let refused = l.pre_trade(
        A,
        BTC,
        Side::Buy,
        Qty(1),
        d("47000"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(9),
        T0,
        &mut out,
    );
    assert_eq!(refused.unwrap_err(), Reject::AccountInLiquidation);
    l.pre_trade(
        A,
        ETH,
        Side::Buy,
        Qty(1),
        d("3000"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(10),
        T0,
        &mut out,
    )
    .unwrap();
    l.release(A, ETH, OrderId(10), T0, &mut out).unwrap();
    // Leverage is frozen in that market, not in others; so are margin moves there.
    assert_eq!(
        l.set_leverage(A, BTC, 10, T0, &mut out),
        Err(Reject::AccountInLiquidation)
    );
    l.set_leverage(A, ETH, 10, T0, &mut out).unwrap();
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("10"), T0, &mut out),
        Err(Reject::AccountInLiquidation)
    );
    let mut pr = LiquidationProgress {
        orders_cancelled: true,
        ..LiquidationProgress::default()
    };
    // The book took nothing of the liquidation order (limit at bankruptcy, rounded up):
    // bankruptcy = EP − WB/Q = 50,000 − 247.5 / 0.1 = 47,525.
    match l.liquidation_step(pool, &pr).unwrap() {
        LiquidationAction::SendOrder {
            bankruptcy,
            qty,
            side,
            ..
        } => {
            assert_eq!((bankruptcy, qty, side), (d("47525"), 100, Side::Sell));
        }
        other => panic!("expected the liquidation order, got {other:?}"),
    }
    pr.sent_to_book.push(perpx::domain::Leg::both(BTC));
    // The fund takes it over at bankruptcy (its gain at mark, 0.1 × 175 = 17.5, keeps it ≥ 0).
    let LiquidationAction::Takeover { qty, price, .. } = l.liquidation_step(pool, &pr).unwrap()
    else {
        panic!("expected a takeover");
    };
    assert_eq!((qty, price), (100, d("47525")));
    l.insurance_takeover(A, perpx::domain::Leg::both(BTC), qty, price, T0, &mut out)
        .unwrap();
    // The isolated wallet paid the whole loss (−247.5) and is empty; the cross wallet is whole.
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        Decimal::ZERO
    );
    assert_eq!(l.wallet(A), Some(d("9750")));
    assert_eq!(
        l.liquidation_step(pool, &pr).unwrap(),
        LiquidationAction::Done
    );
    l.end_liquidation(pool, T0, &mut out).unwrap();
    assert!(!l.pool_in_liquidation(pool));
    l.check_invariants().unwrap();
    replays(&l, &out);
}

#[test]
fn a_close_through_bankruptcy_leaves_a_deficit_the_fund_clears() {
    let (mut l, mut out) = opened();
    l.deposit(AccountId::INSURANCE, d("1000"), T0, &mut out)
        .unwrap();
    // A sells its 0.1 at 47,000 (taking B's bid): realized 0.1 × (47,000 − 50,000) = −300,
    // fee 4,700 × 0.05 % = 2.35; isolated wallet 247.5 − 2.35 − 300 = −54.85, flat.
    fill(&mut l, BTC, 100, Side::Sell, 101, 470_000, 100, &mut out);
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        d("-54.85")
    );
    assert_eq!(l.wallet(A), Some(d("9750")));
    // The settlement put the isolated pool (not the account) into liquidation.
    assert_eq!(
        out.last(),
        Some(&LedgerEvent::IsolatedLiquidationStarted {
            account: A,
            leg: perpx::domain::Leg::both(BTC)
        })
    );
    assert!(!l.in_liquidation(A));
    let pool = MarginPool::Isolated(A, perpx::domain::Leg::both(BTC));
    let pr = LiquidationProgress {
        orders_cancelled: true,
        ..LiquidationProgress::default()
    };
    let LiquidationAction::ClearNegative { amount } = l.liquidation_step(pool, &pr).unwrap() else {
        panic!("expected the fund to clear the deficit");
    };
    assert_eq!(amount.0, d("54.85"));
    assert_eq!(
        l.clear_negative(pool, amount.0, T0, &mut out).unwrap(),
        d("54.85")
    );
    assert_eq!(
        l.liquidation_step(pool, &pr).unwrap(),
        LiquidationAction::Done
    );
    l.end_liquidation(pool, T0, &mut out).unwrap();
    // The fund paid the gap; the cross wallet never saw it.
    assert_eq!(l.wallet(AccountId::INSURANCE), Some(d("945.15")));
    assert_eq!(l.wallet(A), Some(d("9750")));
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        Decimal::ZERO
    );
    l.check_invariants().unwrap();
    replays(&l, &out);
}

#[test]
fn a_profitable_close_returns_the_isolated_wallet_to_the_cross_wallet() {
    let (mut l, mut out) = opened();
    // A sells its 0.1 at 51,000: realized +100, fee 5,100 × 0.05 % = 2.55;
    // 247.5 − 2.55 + 100 = 344.95 goes back: cross 9,750 + 344.95.
    fill(&mut l, BTC, 100, Side::Sell, 101, 510_000, 100, &mut out);
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        Decimal::ZERO
    );
    assert_eq!(l.wallet(A), Some(d("10094.95")));
    // Flat again: the mode may change.
    assert!(l
        .set_margin_mode(A, BTC, MarginMode::Cross, T0, &mut out)
        .unwrap());
    l.check_invariants().unwrap();
    replays(&l, &out);
}

#[test]
fn isolated_margin_can_be_added_and_reduced_within_its_limits() {
    let (mut l, mut out) = opened();
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("100"), T0, &mut out),
        Ok(d("347.5"))
    );
    assert_eq!(l.wallet(A), Some(d("9650")));
    // Removable at mark 50,000: 347.5 + min(0, uPnL 0) − initial margin 250 = 97.5.
    let before = l.state_hash();
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("-97.51"), T0, &mut out),
        Err(Reject::InsufficientIsolatedMargin)
    );
    assert_eq!(
        l.state_hash(),
        before,
        "a refused reduction changes nothing"
    );
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("-97.5"), T0, &mut out),
        Ok(d("250"))
    );
    assert_eq!(l.wallet(A), Some(d("9747.5")));
    // An unrealized loss lowers what may leave: at 49,900 (uPnL −10), adding 20 allows 10.
    l.set_mark(BTC, d("49900"), &mut out, &mut Vec::new());
    l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("20"), T0, &mut out)
        .unwrap();
    // 270 − 10 − initial margin at mark (4,990 / 20 = 249.5) = 10.5.
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("-10.51"), T0, &mut out),
        Err(Reject::InsufficientIsolatedMargin)
    );
    l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("-10.5"), T0, &mut out)
        .unwrap();
    // Adding beyond the cross withdrawable is refused; so are transfers without isolation or
    // without a position, and amounts with too many decimals.
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("20000"), T0, &mut out),
        Err(Reject::InsufficientBalance)
    );
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(ETH), d("1"), T0, &mut out),
        Err(Reject::NotIsolated)
    );
    l.set_margin_mode(B, ETH, MarginMode::Isolated, T0, &mut out)
        .unwrap();
    assert_eq!(
        l.move_isolated_margin(B, perpx::domain::Leg::both(ETH), d("1"), T0, &mut out),
        Err(Reject::NoPosition)
    );
    assert!(l
        .move_isolated_margin(
            A,
            perpx::domain::Leg::both(BTC),
            d("0.000000001"),
            T0,
            &mut out
        )
        .is_err());
    l.check_invariants().unwrap();
    replays(&l, &out);
}

#[test]
fn the_mode_changes_only_without_orders_and_position() {
    let mut l = Ledger::new(vec![btc(), eth()], 8);
    let mut out = accounts(&mut l, &[100, 101], "10000");
    // Unchanged: nothing to record.
    let n = out.len();
    assert_eq!(
        l.set_margin_mode(A, BTC, MarginMode::Cross, T0, &mut out),
        Ok(false)
    );
    assert_eq!(out.len(), n);
    l.pre_trade(
        A,
        BTC,
        Side::Buy,
        Qty(100),
        d("49000"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(1),
        T0,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        l.set_margin_mode(A, BTC, MarginMode::Isolated, T0, &mut out),
        Err(Reject::MarginModeLocked(ModeLock::OpenOrders))
    );
    // Another market is free.
    assert_eq!(
        l.set_margin_mode(A, ETH, MarginMode::Isolated, T0, &mut out),
        Ok(true)
    );
    l.release(A, BTC, OrderId(1), T0, &mut out).unwrap();
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 100, &mut out);
    assert_eq!(
        l.set_margin_mode(A, BTC, MarginMode::Isolated, T0, &mut out),
        Err(Reject::MarginModeLocked(ModeLock::Position))
    );
    l.check_invariants().unwrap();
}

#[test]
fn funding_of_an_isolated_position_settles_in_its_wallet() {
    let (mut l, mut out) = opened();
    // Rate 0.01 % at mark 50,000: the long pays 0.1 × 50,000 × 0.0001 = 0.5.
    l.settle_funding(BTC, d("0.0001"), d("50000"), T0, &mut out);
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        d("247")
    );
    assert_eq!(l.wallet(A), Some(d("9750")));
    assert_eq!(l.wallet(B), Some(d("9999.5")));
    l.check_invariants().unwrap();
    replays(&l, &out);
}

#[test]
fn a_cross_liquidation_leaves_isolated_positions_alone() {
    // A: isolated BTC long (as above) and a cross ETH short of 10 ETH at 3,000 with the cross
    // wallet reduced to 600.
    let (mut l, mut out) = opened();
    l.withdraw(A, d("9150"), T0, &mut out).unwrap();
    fill(&mut l, ETH, 100, Side::Sell, 101, 300_000, 1_000, &mut out);
    let iso = l.isolated_wallet(A, perpx::domain::Leg::both(BTC));
    // ETH to 3,055: cross margin balance 600 − 15 (fee) − 550 = 35 ≤ maintenance 122.2.
    let mut liq = Vec::new();
    l.set_mark(ETH, d("3055"), &mut out, &mut liq);
    assert_eq!(liq, vec![MarginPool::Cross(A)]);
    let pool = MarginPool::Cross(A);
    l.begin_liquidation(pool, T0, &mut out).unwrap();
    let pr = LiquidationProgress {
        orders_cancelled: true,
        sent_to_book: vec![perpx::domain::Leg::both(ETH)],
    };
    // Only the cross position is liquidated; the isolated one is not a candidate.
    match l.liquidation_step(pool, &pr).unwrap() {
        LiquidationAction::Takeover { leg, .. } | LiquidationAction::Adl { leg, .. } => {
            assert_eq!(leg, perpx::domain::Leg::both(ETH))
        }
        other => panic!("expected a backstop of the ETH position, got {other:?}"),
    }
    assert_eq!(l.isolated_wallet(A, perpx::domain::Leg::both(BTC)), iso);
    assert_eq!(l.position_qty(A, perpx::domain::Leg::both(BTC)), 100);
}

/// The recorded events rebuild the same state, and a snapshot round trip keeps it.
fn replays(l: &Ledger, events: &[LedgerEvent]) {
    let mut r = Ledger::new(vec![btc(), eth()], 8);
    for e in events {
        r.apply(e, T0);
    }
    assert_eq!(r.state_hash(), l.state_hash());
    let s = Ledger::decode_snapshot(&l.encode_snapshot(), &[btc(), eth()]).unwrap();
    assert_eq!(s.state_hash(), l.state_hash());
    s.check_invariants().unwrap();
}

#[test]
fn adl_ranks_isolated_and_cross_positions_in_one_list_by_their_own_pools() {
    // C (cross, 10,000) and D (isolated) each short 0.1 BTC at 50,000 against A and B.
    let (c, dd) = (AccountId(102), AccountId(103));
    let mut l = Ledger::new(vec![btc(), eth()], 8);
    let mut out = accounts(&mut l, &[100, 101, 102, 103], "10000");
    l.set_margin_mode(dd, BTC, MarginMode::Isolated, T0, &mut out)
        .unwrap();
    fill(&mut l, BTC, 102, Side::Sell, 100, 500_000, 100, &mut out);
    fill(&mut l, BTC, 103, Side::Sell, 101, 500_000, 100, &mut out);
    // Mark 49,000: both shorts gain 100 (pnl% = 100 / 5,000 = 2 %). Effective leverage is
    // |notional| / the margin balance of the position's own pool: C's cross pool holds
    // 10,000 − 2.5 + 100 = 10,097.5 (leverage 0.485…), D's isolated one 250 − 2.5 + 100 =
    // 347.5 (leverage 14.10…). D ranks first.
    l.set_mark(BTC, d("49000"), &mut out, &mut Vec::new());
    let mut ranked = l.adl_candidates(BTC, A, -1);
    perpx::risk::adl::rank(&mut ranked);
    let order: Vec<AccountId> = ranked.iter().map(|r| r.account).collect();
    assert_eq!(order, vec![dd, c]);
    let score = |pool: &str| d("100") / d("5000") * (d("4900") / d(pool));
    assert_eq!(ranked[0].score, score("347.5"));
    assert_eq!(ranked[1].score, score("10097.5"));
}

#[test]
fn a_partial_close_returns_the_closed_fraction_of_the_isolated_wallet() {
    let (mut l, mut out) = opened();
    // A sells 0.04 of its 0.1 at 51,000: fee 2,040 × 0.05 % = 1.02 and realized +40 land in
    // the isolated wallet (247.5 − 1.02 + 40 = 286.48); 40 of 100 lots closed, so 40 % of it
    // (114.592) returns to the cross wallet and 171.888 stays with the 0.06 left.
    fill(&mut l, BTC, 100, Side::Sell, 101, 510_000, 40, &mut out);
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        d("171.888")
    );
    assert_eq!(l.wallet(A), Some(d("9864.592")));
    l.check_invariants().unwrap();
    replays(&l, &out);
}

#[test]
fn leverage_of_an_isolated_position_does_not_weigh_on_the_cross_pool() {
    // A keeps only 150 in its cross wallet after opening the isolated long (IM 250 at 20×).
    let mut l = Ledger::new(vec![btc(), eth()], 8);
    let mut out = accounts(&mut l, &[100, 101], "400");
    l.set_margin_mode(A, BTC, MarginMode::Isolated, T0, &mut out)
        .unwrap();
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 100, &mut out);
    assert_eq!(l.wallet(A), Some(d("150")));
    // At 10× the position's initial margin is 500, far above the cross wallet: still allowed,
    // the isolated wallet backs the position (its reduce floor rises with it).
    l.set_leverage(A, BTC, 10, T0, &mut out).unwrap();
    assert_eq!(
        l.isolated_wallet(A, perpx::domain::Leg::both(BTC)),
        d("247.5")
    );
    assert_eq!(
        l.move_isolated_margin(A, perpx::domain::Leg::both(BTC), d("-1"), T0, &mut out),
        Err(Reject::InsufficientIsolatedMargin)
    );
    assert_eq!(l.account_view(A).unwrap().available_balance, d("150"));
    l.check_invariants().unwrap();
    replays(&l, &out);
}
