//! Golden cases computed by hand for each risk formula (docs/RULES.md §3–§6). Money is compared
//! with exact decimal equality; the arithmetic behind each number is in the comments.

mod common;

use common::*;
use perpx::domain::{AccountId, MarginPool, OrderId, Price, Qty, Reject, Side, Timestamp};
use perpx::engine::{FillKind, Ledger};
use perpx::risk::adl::{self, AdlCandidate};
use perpx::risk::liquidation::{self, LiquidationAction, LiquidationProgress, Others};
use perpx::risk::margin::{self, SideOrders};
use perpx::risk::mark::{self, BasisAverage, Index, MarkInputs};
use perpx::risk::position::Position;
use perpx::risk::{fees, funding, money};
use std::time::Duration;

const A: AccountId = AccountId(100);
const B: AccountId = AccountId(101);
const C: AccountId = AccountId(102);
const D: AccountId = AccountId(103);

// ---------------------------------------------------------------- tiers (Binance example)

const BINANCE_TOML: &str = r#"
[[markets]]
symbol = "BTCUSDT"
base_asset = "BTC"
tick_size = "0.1"
lot_size = "0.001"
initial_index_price = "50000"
risk_tiers = [
  { notional_cap = "50000",     max_leverage = 125, maintenance_margin_rate = "0.004" },
  { notional_cap = "250000",    max_leverage = 100, maintenance_margin_rate = "0.005" },
  { notional_cap = "1000000",   max_leverage = 50,  maintenance_margin_rate = "0.01" },
  { notional_cap = "10000000",  max_leverage = 20,  maintenance_margin_rate = "0.025" },
  { notional_cap = "20000000",  max_leverage = 10,  maintenance_margin_rate = "0.05" },
  { notional_cap = "50000000",  max_leverage = 5,   maintenance_margin_rate = "0.10" },
  { notional_cap = "100000000", max_leverage = 4,   maintenance_margin_rate = "0.125" },
  { notional_cap = "200000000", max_leverage = 3,   maintenance_margin_rate = "0.15" },
  { notional_cap = "300000000", max_leverage = 2,   maintenance_margin_rate = "0.25" },
  { notional_cap = "500000000", max_leverage = 1,   maintenance_margin_rate = "0.50" },
]
"#;

#[test]
fn binance_tiers_maintenance_amounts_and_worked_example() {
    let cfg = perpx::config::Config::parse(BINANCE_TOML, "test").expect("valid config");
    let tiers = &cfg.markets[0].risk_tiers;
    // The `cum` column of Binance's leverage brackets: cum_n = cum_{n−1} + cap_{n−1} × (mmr_n − mmr_{n−1}).
    let cum = [
        "0",
        "50",
        "1300",
        "16300",
        "266300",
        "1266300",
        "2516300",
        "5016300",
        "25016300",
        "100016300",
    ];
    for (t, c) in tiers.iter().zip(cum) {
        assert_eq!(t.maintenance_amount, d(c), "tier cap {}", t.notional_cap);
    }
    // 3,500,032.458 is in tier 4: 3,500,032.458 × 2.50 % − 16,300 = 87,500.81145 − 16,300.
    assert_eq!(
        margin::maintenance_margin(tiers, d("3500032.458")),
        d("71200.81145")
    );
    // Continuous at a boundary: 50,000 × 0.4 % = 200 = 50,000 × 0.5 % − 50.
    assert_eq!(margin::maintenance_margin(tiers, d("50000")), d("200"));
    assert_eq!(
        margin::maintenance_margin(tiers, d("50000.1")),
        d("200.0005")
    );
    // Max notional: the highest cap whose max leverage ≥ L (Binance: 21x → 1,000,000).
    assert_eq!(margin::max_notional(tiers, 21), Some(d("1000000")));
    assert_eq!(margin::max_notional(tiers, 20), Some(d("10000000")));
    assert_eq!(margin::max_notional(tiers, 125), Some(d("50000")));
    assert_eq!(margin::max_notional(tiers, 1), Some(d("500000000")));
    assert_eq!(margin::max_notional(tiers, 126), None);
}

// ---------------------------------------------------------------- margin through the ledger

#[test]
fn margin_available_withdrawable_and_ratio() {
    let mut l = Ledger::new(vec![btc()], 8);
    let mut out = Vec::new();
    l.open_account(A, Timestamp(0), &mut out).unwrap();
    l.open_account(B, Timestamp(0), &mut out).unwrap();
    l.deposit(A, d("10000"), Timestamp(0), &mut out).unwrap();
    l.deposit(B, d("100000"), Timestamp(0), &mut out).unwrap();
    // A takes 1 BTC at 50,000 from B. Taker fee 50,000 × 0.0005 = 25; maker fee × 0.0002 = 10.
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 1000, &mut out);
    assert_eq!(l.wallet(A), Some(d("9975")));
    assert_eq!(l.wallet(B), Some(d("99990")));
    assert_eq!(l.wallet(AccountId::FEE), Some(d("35")));
    let v = l.account_view(A).unwrap();
    assert_eq!(v.position_margin, d("2500")); // 50,000 / 20
    assert_eq!(v.maintenance_margin, d("200")); // 50,000 × 0.004
    assert_eq!(v.available_balance, d("7475")); // 9,975 − 2,500
    assert_eq!(v.positions[0].entry_price, d("50000"));
    // Mark 49,000: upnl −1,000, margin balance 8,975, IM 2,450, MM 196.
    let mut liq = Vec::new();
    l.set_mark(BTC, d("49000"), &mut out, &mut liq);
    assert!(liq.is_empty());
    let v = l.account_view(A).unwrap();
    assert_eq!(v.unrealized_pnl, d("-1000"));
    assert_eq!(v.margin_balance, d("8975"));
    assert_eq!(v.position_margin, d("2450"));
    assert_eq!(v.maintenance_margin, d("196"));
    assert_eq!(v.available_balance, d("6525"));
    assert_eq!(v.withdrawable, d("6525")); // 9,975 + min(0, −1,000) − 2,450
    assert_eq!(v.margin_ratio, Some(d("0.0218"))); // 196 / 8,975 = 0.021838…
                                                   // Liquidation price (long, tier 1): (C − W) / (q (1 − mmr)) = 40,025 / 0.996.
    assert_eq!(v.positions[0].liquidation_price, Some(d("40185.74297189")));
    // Withdrawals: above withdrawable is refused, exactly withdrawable is fine.
    assert_eq!(
        l.withdraw(A, d("6525.00000001"), Timestamp(0), &mut out),
        Err(Reject::InsufficientBalance)
    );
    assert_eq!(
        l.withdraw(A, d("6525"), Timestamp(0), &mut out),
        Ok(d("3450"))
    );
    l.check_invariants().unwrap();
}

// ---------------------------------------------------------------- PnL through a flip

#[test]
fn pnl_through_a_flip() {
    let lot = d("0.001");
    let mut p = Position::default();
    // Buy 1 @ 50,000 and 2 @ 50,000.1: C = 50,000 + 100,000.2 = 150,000.2, q = 3 BTC.
    assert!(p.apply_fill(1000, d("50000"), lot, 8).opened_from_flat);
    p.apply_fill(2000, d("50000.1"), lot, 8);
    assert_eq!(
        p,
        Position {
            qty: 3000,
            cost: d("150000.2")
        }
    );
    assert_eq!(p.entry_price(lot, 8), Some(d("50000.06666667")));
    // Sell 1 @ 51,000: share = 150,000.2 / 3 = 50,000.0666…, rounded up 50,000.06666667;
    // realized = 51,000 − 50,000.06666667 = 999.93333333; basis 100,000.13333333 exactly.
    let e = p.apply_fill(-1000, d("51000"), lot, 8);
    assert_eq!(e.realized, d("999.93333333"));
    assert_eq!(
        p,
        Position {
            qty: 2000,
            cost: d("100000.13333333")
        }
    );
    // Sell 3 @ 49,000: closes 2 (share = the whole basis), realized 98,000 − 100,000.13333333
    // = −2,000.13333333, then opens 1 short at 49,000.
    let e = p.apply_fill(-3000, d("49000"), lot, 8);
    assert!(e.flipped);
    assert_eq!(e.realized, d("-2000.13333333"));
    assert_eq!(
        p,
        Position {
            qty: -1000,
            cost: d("-49000")
        }
    );
    // Total realized −1,000.2 = sold 149,000 − bought 150,000.2: no rounding leaked.
    assert_eq!(d("999.93333333") + d("-2000.13333333"), d("-1000.2"));
    assert_eq!(p.unrealized_pnl(d("48000"), lot), d("1000")); // −1 × 48,000 + 49,000
}

// ---------------------------------------------------------------- fees with a rebate

#[test]
fn fees_with_negative_maker_rate() {
    let spec = perpx::domain::MarketSpec {
        maker_fee: d("-0.00015"),
        taker_fee: d("0.00035"),
        ..btc()
    };
    // Notional 50,000.1 × 0.001 = 50.0001.
    // Taker: 50.0001 × 0.00035 = 0.017500035 → up 0.01750004.
    // Maker: 50.0001 × −0.00015 = −0.007500015 → toward +∞ −0.00750001 (rebate shrinks).
    assert_eq!(
        fees::trading_fee(d("50.0001"), spec.taker_fee, 8).0,
        d("0.01750004")
    );
    assert_eq!(
        fees::trading_fee(d("50.0001"), spec.maker_fee, 8).0,
        d("-0.00750001")
    );
    let mut l = Ledger::new(vec![spec], 8);
    accounts(&mut l, &[100, 101], "100");
    let mut out = Vec::new();
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_001, 1, &mut out);
    assert_eq!(l.wallet(A), Some(d("99.98249996")));
    assert_eq!(l.wallet(B), Some(d("100.00750001")));
    // The fee account gets the exact total rounded down: 0.017500035 − 0.007500015 =
    // 0.01000002; the users paid 0.01750004 − 0.00750001 = 0.01000003; the residue
    // 0.00000001 goes to the insurance fund (docs/RULES.md §1).
    assert_eq!(l.wallet(AccountId::FEE), Some(d("0.01000002")));
    assert_eq!(l.wallet(AccountId::INSURANCE), Some(d("0.00000001")));
    // Liquidation fee: 1.25 % capped at the margin balance left, never negative.
    assert_eq!(
        fees::liquidation_fee(d("19620"), d("0.0125"), d("80"), 8).0,
        d("80")
    );
    assert_eq!(
        fees::liquidation_fee(d("100"), d("0.0125"), d("80"), 8).0,
        d("1.25")
    );
    assert_eq!(
        fees::liquidation_fee(d("100"), d("0.0125"), d("-5"), 8).0,
        d("0")
    );
    l.check_invariants().unwrap();
}

// ---------------------------------------------------------------- liquidation & bankruptcy

#[test]
fn liquidation_and_bankruptcy_prices_long_and_short() {
    let tiers = btc().risk_tiers;
    let lot = d("0.001");
    let others = Others {
        wallet: d("1000"),
        ..Others::default()
    };
    // Long 1 @ 50,000, wallet 1,000: BP = (C − W)/q = 49,000; LP = 49,000 / 0.996.
    assert_eq!(
        liquidation::bankruptcy_price(1000, d("50000"), lot, d("1000"), d("0")),
        Some(d("49000"))
    );
    assert_eq!(
        liquidation::liquidation_price(1000, d("50000"), lot, &tiers, d("50000"), &others, 8),
        Some(d("49196.78714859"))
    );
    // Short 1 @ 50,000: BP = (−50,000 − 1,000)/(−1) = 51,000. In tier 1 the LP would be
    // 51,000 / 1.004 = 50,796.81, a notional above the 50,000 cap, so tier 2 applies (mmr
    // 0.5 %, amount 50): LP = (51,000 + 50) / 1.005 = 50,796.0199005 (MM there = 203.98 = mb).
    assert_eq!(
        liquidation::bankruptcy_price(-1000, d("-50000"), lot, d("1000"), d("0")),
        Some(d("51000"))
    );
    assert_eq!(
        liquidation::liquidation_price(-1000, d("-50000"), lot, &tiers, d("50000"), &others, 8),
        Some(d("50796.01990050"))
    );
    // The closing order's limit never crosses bankruptcy: a sell rounds up, a buy down.
    assert_eq!(
        liquidation::bankruptcy_limit(d("49000.04"), Side::Sell, d("0.1")),
        Price(490001)
    );
    assert_eq!(
        liquidation::bankruptcy_limit(d("51000.06"), Side::Buy, d("0.1")),
        Price(510000)
    );
    // A long that no positive price liquidates has no liquidation price.
    let rich = Others {
        wallet: d("60000"),
        ..Others::default()
    };
    assert_eq!(
        liquidation::liquidation_price(1000, d("50000"), lot, &tiers, d("50000"), &rich, 8),
        None
    );
}

#[test]
fn liquidation_sequence_book_fill_fee_and_takeover() {
    let mut l = Ledger::new(vec![btc_no_fees()], 8);
    accounts(&mut l, &[100], "1000");
    accounts(&mut l, &[101, 102], "100000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 100, Timestamp(0), &mut out).unwrap();
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 1000, &mut out);
    // Liquidatable iff 1,000 + (m − 50,000) ≤ 0.004 m, i.e. m ≤ 49,196.787…
    let mut liq = Vec::new();
    l.set_mark(BTC, d("49200"), &mut out, &mut liq);
    assert!(liq.is_empty());
    l.set_mark(BTC, d("49100"), &mut out, &mut liq);
    assert_eq!(liq, vec![MarginPool::Cross(A)]);
    l.begin_liquidation(MarginPool::Cross(A), Timestamp(0), &mut out)
        .unwrap();
    let mut pr = LiquidationProgress::default();
    // No open orders: straight to step 2, the liquidation order at BP 49,000.
    let step = l.liquidation_step(MarginPool::Cross(A), &pr).unwrap();
    assert_eq!(
        step,
        LiquidationAction::SendOrder {
            leg: perpx::domain::Leg::both(BTC),
            side: Side::Sell,
            qty: 1000,
            limit: Price(490_000),
            bankruptcy: d("49000"),
        }
    );
    pr.orders_cancelled = true;
    // The book fills 0.4 @ 49,050 (C's bid). Margin balance before: 1,000 − 900 = 100; after:
    // 100 − 0.4 × (49,100 − 49,050) = 80. Fee 19,620 × 1.25 % = 245.25, capped at 80.
    let t = trade(1, A, 9, Side::Sell, C, 5, 490_500, 400);
    let rec = l
        .settle_fill(BTC, &t, FillKind::Liquidation, Timestamp(1), &mut out)
        .unwrap();
    assert_eq!(rec.liquidation_fee.0, d("80"));
    assert_eq!(rec.taker_realized.0, d("-380")); // 19,620 − 20,000
    assert_eq!(l.wallet(A), Some(d("540")));
    assert_eq!(l.wallet(AccountId::INSURANCE), Some(d("80")));
    pr.sent_to_book.push(perpx::domain::Leg::both(BTC));
    // Remaining 0.6 BTC, basis 30,000: BP = (30,000 − 540)/0.6 = 49,100; the fund takes over
    // (its margin balance 80 + 0.6 × (49,100 − 49,100) ≥ 0).
    let step = l.liquidation_step(MarginPool::Cross(A), &pr).unwrap();
    assert_eq!(
        step,
        LiquidationAction::Takeover {
            leg: perpx::domain::Leg::both(BTC),
            qty: 600,
            price: d("49100")
        }
    );
    l.insurance_takeover(
        A,
        perpx::domain::Leg::both(BTC),
        600,
        d("49100"),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    assert_eq!(l.wallet(A), Some(d("0")));
    assert_eq!(
        l.position_qty(AccountId::INSURANCE, perpx::domain::Leg::both(BTC)),
        600
    );
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::Done
    );
    l.end_liquidation(MarginPool::Cross(A), Timestamp(0), &mut out)
        .unwrap();
    assert!(!l.in_liquidation(A));
    l.check_invariants().unwrap();
}

#[test]
fn adl_when_the_fund_cannot_take_over() {
    let mut l = Ledger::new(vec![btc_no_fees()], 8);
    accounts(&mut l, &[100], "1000");
    accounts(&mut l, &[101], "100000");
    accounts(&mut l, &[103], "2000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 100, Timestamp(0), &mut out).unwrap();
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 600, &mut out);
    fill(&mut l, BTC, 100, Side::Buy, 103, 500_000, 400, &mut out);
    // A gap to 48,500: A's margin balance is −500; BP 49,000 is above mark, so the empty fund
    // would end at 0 + 1 × (48,500 − 49,000) < 0: ADL.
    let mut liq = Vec::new();
    l.set_mark(BTC, d("48500"), &mut out, &mut liq);
    assert_eq!(liq, vec![MarginPool::Cross(A)]);
    l.begin_liquidation(MarginPool::Cross(A), Timestamp(0), &mut out)
        .unwrap();
    let pr = LiquidationProgress {
        orders_cancelled: true,
        sent_to_book: vec![perpx::domain::Leg::both(BTC)],
    };
    // Scores: B short 0.6, pnl% 900/30,000 = 0.03, eff. leverage 29,100/100,900 → 0.00865…;
    // D short 0.4, pnl% 600/20,000 = 0.03, eff. leverage 19,400/2,600 → 0.2238…: D first.
    let step = l.liquidation_step(MarginPool::Cross(A), &pr).unwrap();
    assert_eq!(
        step,
        LiquidationAction::Adl {
            leg: perpx::domain::Leg::both(BTC),
            price: d("49000"),
            counterparties: vec![(D, 400), (B, 600)]
        }
    );
    let LiquidationAction::Adl {
        price,
        counterparties,
        ..
    } = step
    else {
        unreachable!()
    };
    l.auto_deleverage(
        A,
        perpx::domain::Leg::both(BTC),
        price,
        &counterparties,
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    assert_eq!(l.wallet(A), Some(d("0"))); // realized 49,000 − 50,000 = −1,000
    assert_eq!(l.wallet(D), Some(d("2400"))); // + 0.4 × 1,000
    assert_eq!(l.wallet(B), Some(d("100600")));
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::Done
    );
    l.check_invariants().unwrap();
}

#[test]
fn adl_ranking_order() {
    // X: pnl% 100/1,000 = 0.1, eff. lev 900/300 = 3 → 0.3.
    // Y: 50/200 = 0.25, 150/1,500 = 0.1 → 0.025.
    // Z: 200/1,000 = 0.2, 800/200 = 4 → 0.8.
    // W: −10/100 = −0.1, 110/55 = 2 → −0.1 / 2 = −0.05 (a loss divides).
    let s = |u, c, n, m| adl::adl_score(d(u), d(c), d(n), d(m)).unwrap();
    assert_eq!(s("100", "-1000", "900", "300"), d("0.3"));
    assert_eq!(s("-10", "100", "110", "55"), d("-0.05"));
    let mut c = vec![
        AdlCandidate {
            account: AccountId(1_000),
            qty: 5,
            score: s("100", "-1000", "900", "300"),
        },
        AdlCandidate {
            account: AccountId(1_001),
            qty: 5,
            score: s("50", "-200", "150", "1500"),
        },
        AdlCandidate {
            account: AccountId(1_002),
            qty: 5,
            score: s("200", "-1000", "800", "200"),
        },
        AdlCandidate {
            account: AccountId(1_003),
            qty: 5,
            score: s("-10", "100", "110", "55"),
        },
        AdlCandidate {
            account: AccountId(999),
            qty: 5,
            score: d("0.3"),
        }, // ties with X: lower id first
    ];
    adl::rank(&mut c);
    let order: Vec<u64> = c.iter().map(|c| c.account.0).collect();
    assert_eq!(order, vec![1_002, 999, 1_000, 1_001, 1_003]);
    assert_eq!(
        adl::allocate(&c, 12),
        vec![
            (AccountId(1_002), 5),
            (AccountId(999), 5),
            (AccountId(1_000), 2)
        ]
    );
    assert_eq!(adl::adl_score(d("1"), d("1"), d("1"), d("0")), None);
}

// ---------------------------------------------------------------- funding

#[test]
fn funding_with_rounding_residue() {
    let mut l = Ledger::new(vec![btc_no_fees()], 8);
    accounts(&mut l, &[100, 101, 102], "1000");
    let mut out = Vec::new();
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 1, &mut out);
    fill(&mut l, BTC, 100, Side::Buy, 102, 500_000, 2, &mut out);
    // Per lot: 0.001 × 50,000.1 × 0.00012345 = 0.006172512345.
    // A (+3) pays 0.018517537035 → up 0.01851754; B (−1) gets 0.006172512345 → down
    // 0.00617251; C (−2) gets 0.01234502469 → down 0.01234502. Residue 0.00000001.
    let ev = l.settle_funding(
        BTC,
        d("0.00012345"),
        d("50000.1"),
        Timestamp(28_800_000),
        &mut out,
    );
    assert_eq!(
        ev,
        perpx::engine::LedgerEvent::FundingSettled {
            market: BTC,
            rate: d("0.00012345"),
            mark: d("50000.1"),
            time: Timestamp(28_800_000),
            debits: perpx::domain::Amount(d("0.01851754")),
            credits: perpx::domain::Amount(d("-0.01851753")),
            residue: perpx::domain::Amount(d("0.00000001")),
        }
    );
    assert_eq!(l.wallet(A), Some(d("999.98148246")));
    assert_eq!(l.wallet(B), Some(d("1000.00617251")));
    assert_eq!(l.wallet(C), Some(d("1000.01234502")));
    assert_eq!(l.wallet(AccountId::INSURANCE), Some(d("0.00000001")));
    assert_eq!(
        l.account_view(A).unwrap().positions[0].funding_paid,
        d("0.01851754")
    );
    l.check_invariants().unwrap();
}

#[test]
fn funding_rate_premium_and_impact_price() {
    // Impact: 1,000 at 100 (10 units), then 1,000 more at 125 (8 units): 2,000 / 18.
    let levels = [(Price(1000), Qty(10)), (Price(1250), Qty(100))];
    assert_eq!(
        funding::impact_price(levels, d("2000"), d("0.1"), d("1")),
        Some(d("2000") / d("18"))
    );
    assert_eq!(
        funding::impact_price(levels[..1].iter().copied(), d("2000"), d("0.1"), d("1")),
        None
    );
    // Premium: (max(0, 100.5 − 100) − max(0, 100 − 100.7)) / 100 = 0.005.
    assert_eq!(
        funding::premium(d("100.5"), d("100.7"), d("100")),
        d("0.005")
    );
    let mut s = funding::PremiumSamples::default();
    s.sample(Some(d("100.1")), Some(d("100.2")), d("100")); // 0.001
    s.sample(None, Some(d("100.2")), d("100")); // thin side: reuse 0.001
    assert_eq!(s.weighted_average(), Some(d("0.001")));
    s.reset();
    for p in ["100.1", "100.2", "100.4"] {
        s.sample(Some(d(p)), Some(d("101")), d("100"));
    }
    // (1 × 0.001 + 2 × 0.002 + 3 × 0.004) / 6 = 0.017 / 6 = 0.0028333…
    let avg = s.weighted_average().unwrap();
    // F = P̄ + clamp(0.0001 − P̄, ±0.0005) = P̄ − 0.0005 = 0.0023333… (8 h: × 1).
    let h8 = Duration::from_secs(8 * 3600);
    assert_eq!(
        funding::funding_rate(avg, d("0.0001"), h8, d("0.003")),
        d("0.00233333")
    );
    // 1 h interval: ÷ 8 = 0.00029166… → 0.00029167; a tighter cap wins.
    let h1 = Duration::from_secs(3600);
    assert_eq!(
        funding::funding_rate(avg, d("0.0001"), h1, d("0.003")),
        d("0.00029167")
    );
    assert_eq!(
        funding::funding_rate(avg, d("0.0001"), h1, d("0.0002")),
        d("0.0002")
    );
    // Quiet market: P̄ = 0 → F = interest 0.0001.
    assert_eq!(
        funding::funding_rate(d("0"), d("0.0001"), h8, d("0.003")),
        d("0.0001")
    );
    assert_eq!(
        funding::next_funding_time(Timestamp(1), h8),
        Timestamp(28_800_000)
    );
}

// ---------------------------------------------------------------- order margin

#[test]
fn order_margin_worst_side_netting_and_open_loss() {
    let (lot, mark) = (d("0.001"), d("50000"));
    let mut buys = SideOrders::default();
    let mut sells = SideOrders::default();
    // Buys: 0.5 @ 50,500 (open loss 0.5 × 500 = 250) and 0.2 @ 49,000 (none): notional
    // 35,050; nothing reduces a long → position margin 35,050 / 10 = 3,505.
    buys.add(Side::Buy, 500, d("50500"), mark, lot);
    buys.add(Side::Buy, 200, d("49000"), mark, lot);
    // Sells: 1.5 @ 51,000 (no loss) and 0.5 @ 49,800 (loss 0.5 × 200 = 100): notional 101,400
    // over 2.0, of which 1.0 only reduces the long → 101,400 × 1.0/2.0 / 10 = 5,070.
    sells.add(Side::Sell, 1500, d("51000"), mark, lot);
    sells.add(Side::Sell, 500, d("49800"), mark, lot);
    assert_eq!(buys.open_loss, d("250"));
    assert_eq!(sells.open_loss, d("100"));
    let z = d("0");
    // Long 1: the worse side's position margin (5,070) plus both open losses (350).
    assert_eq!(
        margin::order_margin(1000, &buys, &sells, 10, z, 8),
        d("5420")
    );
    // Flat: sells 101,400 / 10 = 10,140 is the worse side; + 350.
    assert_eq!(margin::order_margin(0, &buys, &sells, 10, z, 8), d("10490"));
    // Short 2: the buys only reduce (0); sells 10,140; + 350.
    assert_eq!(
        margin::order_margin(-2000, &buys, &sells, 10, z, 8),
        d("10490")
    );
    // With a fee rate of 0.05 %, the fee of every open order on both sides is reserved too:
    // 5,420 + (35,050 + 101,400) × 0.0005 = 5,488.225.
    assert_eq!(
        margin::order_margin(1000, &buys, &sells, 10, d("0.0005"), 8),
        d("5488.225")
    );
}

#[test]
fn order_margin_reserves_the_fee_of_a_fill() {
    // Taker fee 0.05 %: a buy of 0.1 @ 50,000 at 10x holds 500 + 2.5 (its fee). It fills at
    // once against B: A pays 2.5 and its available balance (mark unchanged) is exactly the
    // 1,000 − 502.5 it had after R1: the fill costs nothing that was not reserved.
    let mut l = Ledger::new(vec![btc()], 8);
    accounts(&mut l, &[100], "1000");
    accounts(&mut l, &[101], "1000000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 10, Timestamp(0), &mut out).unwrap();
    let h = l
        .pre_trade(
            A,
            BTC,
            Side::Buy,
            Qty(100),
            d("50000"),
            false,
            perpx::domain::PositionSide::Both,
            OrderId(1),
            Timestamp(0),
            &mut out,
        )
        .unwrap();
    assert_eq!(h.margin, d("502.5"));
    assert_eq!(l.account_view(A).unwrap().available_balance, d("497.5"));
    let t = trade(1, A, 1, Side::Buy, B, 2, 500_000, 100);
    l.settle_fill(BTC, &t, FillKind::Normal, Timestamp(1), &mut out)
        .unwrap();
    assert_eq!(l.account_view(A).unwrap().available_balance, d("497.5"));
    l.check_invariants().unwrap();
}

#[test]
fn pre_trade_holds_and_rejections() {
    // No fees, so the holds below are the position-margin terms alone (the fee reservation is
    // `order_margin_reserves_the_fee_of_a_fill`).
    let mut l = Ledger::new(vec![btc_no_fees()], 8);
    accounts(&mut l, &[100], "5975");
    accounts(&mut l, &[101], "1000000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 10, Timestamp(0), &mut out).unwrap();
    // Long 1 @ 50,000 for A: wallet 5,975, IM 5,000, available 975.
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 1000, &mut out);
    assert_eq!(l.account_view(A).unwrap().available_balance, d("975"));
    let mut id = 0;
    let mut order = |l: &mut Ledger, side, lots, price: &str, ro| {
        id += 1;
        let mut out = Vec::new();
        l.pre_trade(
            A,
            BTC,
            side,
            Qty(lots),
            d(price),
            ro,
            perpx::domain::PositionSide::Both,
            OrderId(id),
            Timestamp(0),
            &mut out,
        )
    };
    // A sell of 1 only reduces: margin 0 (its open loss at 51,000 is 0).
    assert_eq!(
        order(&mut l, Side::Sell, 1000, "51000", false)
            .unwrap()
            .margin,
        d("0")
    );
    // A buy of 0.0195 @ 50,000: 975 / 10 = 97.5 → fits exactly (available 0 is accepted).
    assert_eq!(
        order(&mut l, Side::Buy, 195, "50000", false)
            .unwrap()
            .margin,
        d("975")
    );
    assert_eq!(l.account_view(A).unwrap().available_balance, d("0"));
    assert_eq!(
        order(&mut l, Side::Buy, 1, "50000", false),
        Err(Reject::InsufficientMargin)
    );
    // Reduce-only: a buy on a long, or anything when flat, is refused; a sell is held free.
    assert_eq!(
        order(&mut l, Side::Buy, 1, "50000", true),
        Err(Reject::ReduceOnlyRejected)
    );
    // A reduce-only sell could close the long before the ordinary sell of 1 fills, which
    // would then open a short: with nothing available, the reduce-only sell is refused.
    assert_eq!(
        order(&mut l, Side::Sell, 5000, "60000", true),
        Err(Reject::InsufficientMargin)
    );
    // Without the ordinary sell it is held free (it reserves nothing of its own).
    l.release(A, BTC, OrderId(1), Timestamp(0), &mut out)
        .unwrap();
    assert_eq!(
        order(&mut l, Side::Sell, 5000, "60000", true)
            .unwrap()
            .margin,
        d("0")
    );
    // An order id the ledger already holds is refused.
    let dup = l.pre_trade(
        A,
        BTC,
        Side::Sell,
        Qty(1),
        d("51000"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(2),
        Timestamp(0),
        &mut out,
    );
    assert_eq!(dup, Err(Reject::DuplicateOrderId));
    // Releasing the buy frees its 975.
    l.release(A, BTC, OrderId(2), Timestamp(0), &mut out)
        .unwrap();
    assert_eq!(l.account_view(A).unwrap().available_balance, d("975"));
    // Position limit at 100x: cap 50,000; 1 BTC held + 0.1 more @ 50,000 exceeds it.
    l.release(A, BTC, OrderId(6), Timestamp(0), &mut out)
        .unwrap();
    l.set_leverage(A, BTC, 100, Timestamp(0), &mut out).unwrap();
    assert_eq!(
        order(&mut l, Side::Buy, 100, "50000", false),
        Err(Reject::PositionLimitExceeded)
    );
    assert_eq!(
        l.set_leverage(A, BTC, 101, Timestamp(0), &mut out),
        Err(Reject::InvalidLeverage)
    );
    assert_eq!(
        l.set_leverage(A, BTC, 0, Timestamp(0), &mut out),
        Err(Reject::InvalidLeverage)
    );
    // Market orders are margined at mark × (1 ± 5 %).
    assert_eq!(l.market_order_price(BTC, Side::Buy), d("52500"));
    // In liquidation: every new order is refused.
    l.begin_liquidation(MarginPool::Cross(A), Timestamp(0), &mut out)
        .unwrap();
    assert_eq!(
        order(&mut l, Side::Sell, 1, "50000", true),
        Err(Reject::AccountInLiquidation)
    );
    l.check_invariants().unwrap();
}

// ---------------------------------------------------------------- mark price

#[test]
fn mark_price_median_and_index_staleness() {
    assert_eq!(mark::median3(d("3"), d("1"), d("2")), d("2"));
    assert_eq!(mark::median3(d("1"), d("1"), d("5")), d("1"));
    let mut basis = BasisAverage::default();
    assert_eq!(basis.average(), None);
    for i in 0..31 {
        // 31 samples: the first (basis 0) falls out; the window holds 1..=30 → average 15.5.
        basis.sample(d("100") + rust_decimal::Decimal::from(i), d("100"));
    }
    assert_eq!(basis.average(), Some(d("15.5")));
    let inp = MarkInputs {
        index: d("100"),
        predicted_funding: d("0.0001"),
        ms_to_funding: 14_400_000,
        interval_ms: 28_800_000,
        basis: Some(d("0.2")),
        last: Some(d("99")),
    };
    // Price1 = 100 × (1 + 0.0001 × 0.5) = 100.005; Price2 = 100.2; last 99 → median 100.005.
    assert_eq!(mark::mark_price(&inp, 8), d("100.005"));
    // Without a last trade: mean of the two = 100.1025; with only the index: the index.
    assert_eq!(
        mark::mark_price(&MarkInputs { last: None, ..inp }, 8),
        d("100.1025")
    );
    assert_eq!(
        mark::mark_price(
            &MarkInputs {
                last: None,
                basis: None,
                ..inp
            },
            8
        ),
        d("100")
    );
    // Oracle staleness: index_stale_after = 60 s.
    let spec = btc();
    let mut ix = Index::new(&spec, Timestamp(0));
    assert!(!ix.reading(Timestamp(60_000)).stale);
    assert!(ix.reading(Timestamp(60_001)).stale);
    assert!(ix.push_oracle(d("50100"), Timestamp(60_001)));
    assert_eq!(ix.reading(Timestamp(60_002)).price, d("50100"));
    assert!(!ix.reading(Timestamp(60_002)).stale);
    // Book EMA: α = 2/601; a sample at a 0.02 % spread moves the index toward the mid.
    let ema_spec = perpx::domain::MarketSpec {
        index_source: perpx::domain::IndexSource::BookEma,
        initial_index_price: d("100"),
        ..btc()
    };
    let mut ema = Index::new(&ema_spec, Timestamp(0));
    assert!(!ema.sample_book(Some(d("90")), Some(d("110")), 8)); // spread 20 % ≥ 1 %: skipped
    assert!(ema.sample_book(Some(d("160.9")), Some(d("161.1")), 8));
    // 100 + (2/601) × 61 = 100.20299500831946… → 100.20299501.
    assert_eq!(
        ema.reading(Timestamp(u64::MAX)),
        mark::IndexReading {
            price: d("100.20299501"),
            stale: false
        }
    );
    assert!(!ema.push_oracle(d("1"), Timestamp(0)));
}

#[test]
fn money_rounding_directions() {
    assert_eq!(money::charge(d("1.000000001"), 8).0, d("1.00000001"));
    assert_eq!(money::credit(d("1.000000009"), 8).0, d("1"));
    assert_eq!(money::requirement(d("0.333333333"), 8), d("0.33333334"));
}

#[test]
fn amend_rechecks_margin_and_reduce_only_goes_stale() {
    let mut l = Ledger::new(vec![btc_no_fees()], 8);
    accounts(&mut l, &[100], "5975");
    accounts(&mut l, &[101], "1000000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 10, Timestamp(0), &mut out).unwrap();
    // Long 1 @ 50,000: available 5,975 − 5,000 = 975.
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 1000, &mut out);
    let h = l
        .pre_trade(
            A,
            BTC,
            Side::Buy,
            Qty(10),
            d("50000"),
            false,
            perpx::domain::PositionSide::Both,
            OrderId(1),
            Timestamp(0),
            &mut out,
        )
        .unwrap();
    assert_eq!(h.margin, d("50")); // 0.01 × 50,000 / 10
                                   // Amend to 0.0195: the order margin becomes 975 (+925), exactly what is available.
    let h = l
        .amend(
            A,
            BTC,
            OrderId(1),
            Qty(195),
            d("50000"),
            Timestamp(0),
            &mut out,
        )
        .unwrap();
    assert_eq!(h.margin, d("925"));
    assert_eq!(l.account_view(A).unwrap().order_margin, d("975"));
    // One lot more does not fit; the refused amend leaves the order as it was.
    let before = l.state_hash();
    assert_eq!(
        l.amend(
            A,
            BTC,
            OrderId(1),
            Qty(196),
            d("50000"),
            Timestamp(0),
            &mut out
        ),
        Err(Reject::InsufficientMargin)
    );
    assert_eq!(l.state_hash(), before);
    assert_eq!(
        l.amend(
            A,
            BTC,
            OrderId(9),
            Qty(1),
            d("50000"),
            Timestamp(0),
            &mut out
        ),
        Err(Reject::OrderNotFound)
    );
    // A reduce-only sell rests; once the long is closed it no longer reduces anything.
    l.pre_trade(
        A,
        BTC,
        Side::Sell,
        Qty(1000),
        d("60000"),
        true,
        perpx::domain::PositionSide::Both,
        OrderId(2),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    assert!(l.stale_reduce_only(A, BTC).is_empty());
    fill(&mut l, BTC, 100, Side::Sell, 101, 500_000, 1000, &mut out);
    assert_eq!(l.stale_reduce_only(A, BTC), vec![OrderId(2)]);
    l.check_invariants().unwrap();
}

#[test]
fn liquidation_steps_cancel_largest_first_and_clear_negative() {
    const ETH: perpx::risk::MarketId = perpx::risk::MarketId(1);
    let eth = perpx::domain::MarketSpec {
        symbol: "ETH-PERP".into(),
        tick_size: d("0.01"),
        lot_size: d("0.01"),
        maker_fee: d("0"),
        taker_fee: d("0.0005"),
        initial_index_price: d("3000"),
        ..btc()
    };
    let mut l = Ledger::new(vec![btc_no_fees(), eth], 8);
    accounts(&mut l, &[100], "1500");
    accounts(&mut l, &[101], "1000000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 100, Timestamp(0), &mut out).unwrap();
    l.set_leverage(A, ETH, 100, Timestamp(0), &mut out).unwrap();
    // A: long 1 BTC @ 50,000 (MM 0.4 % of notional) and long 10 ETH @ 3,000 (taker fee 15),
    // plus a resting ETH bid.
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 1000, &mut out);
    fill(&mut l, ETH, 100, Side::Buy, 101, 300_000, 1000, &mut out);
    assert_eq!(l.wallet(A), Some(d("1485")));
    l.pre_trade(
        A,
        ETH,
        Side::Buy,
        Qty(10),
        d("2900"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(7),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    // BTC at 48,800: margin balance 1,485 − 1,200 = 285 ≤ MM 195.2 + 120 = 315.2.
    let mut liq = Vec::new();
    l.set_mark(BTC, d("48800"), &mut out, &mut liq);
    assert_eq!(liq, vec![MarginPool::Cross(A)]);
    l.begin_liquidation(MarginPool::Cross(A), Timestamp(0), &mut out)
        .unwrap();
    let mut pr = LiquidationProgress::default();
    // Step 1: cancel the open orders.
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::CancelOrders(vec![(ETH, OrderId(7))])
    );
    l.release(A, ETH, OrderId(7), Timestamp(0), &mut out)
        .unwrap();
    pr.orders_cancelled = true;
    // Step 2, largest maintenance first: BTC (195.2) before ETH (120).
    // BP = (C − W − U_others) / q = (50,000 − 1,485 − 0) / 1 = 48,515.
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::SendOrder {
            leg: perpx::domain::Leg::both(BTC),
            side: Side::Sell,
            qty: 1000,
            limit: Price(485_150),
            bankruptcy: d("48515"),
        }
    );
    // Nothing filled; the fund (margin balance 0 + 1 × (48,800 − 48,515) ≥ 0) takes over.
    pr.sent_to_book.push(perpx::domain::Leg::both(BTC));
    let step = l.liquidation_step(MarginPool::Cross(A), &pr).unwrap();
    assert_eq!(
        step,
        LiquidationAction::Takeover {
            leg: perpx::domain::Leg::both(BTC),
            qty: 1000,
            price: d("48515")
        }
    );
    l.insurance_takeover(
        A,
        perpx::domain::Leg::both(BTC),
        1000,
        d("48515"),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    assert_eq!(l.wallet(A), Some(d("0"))); // 1,485 + (48,515 − 50,000)
                                           // Still liquidatable (0 ≤ 120): ETH goes to the book at BP 30,000 / 10 = 3,000.
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::SendOrder {
            leg: perpx::domain::Leg::both(ETH),
            side: Side::Sell,
            qty: 1000,
            limit: Price(300_000),
            bankruptcy: d("3000"),
        }
    );
    // It fills completely at 3,000: realized 0; the taker fee (15) and the liquidation fee are
    // capped at what is left of the margin balance (0), so the account is not pushed below
    // zero and the insurance fund pays nothing.
    let t = trade(2, A, 8, Side::Sell, B, 9, 300_000, 1000);
    let rec = l
        .settle_fill(ETH, &t, FillKind::Liquidation, Timestamp(2), &mut out)
        .unwrap();
    assert_eq!((rec.taker_fee.0, rec.liquidation_fee.0), (d("0"), d("0")));
    pr.sent_to_book.push(perpx::domain::Leg::both(ETH));
    // Flat with a wallet of exactly 0: done, and the fund never went below zero.
    assert_eq!(l.wallet(A), Some(d("0")));
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::Done
    );
    l.end_liquidation(MarginPool::Cross(A), Timestamp(0), &mut out)
        .unwrap();
    assert!(l.wallet(AccountId::INSURANCE).unwrap() >= d("0"));
    l.check_invariants().unwrap();
}

#[test]
fn the_fund_clears_only_what_it_holds_inside_liquidation() {
    let mut l = Ledger::new(vec![btc_no_fees()], 8);
    accounts(&mut l, &[100], "100");
    accounts(&mut l, &[101], "1000000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 100, Timestamp(0), &mut out).unwrap();
    // A long 1 @ 50,000 on 100 of margin closes at 49,800 against B outside any check (as a
    // resting order could after its R1): it is left flat with −100 and enters liquidation in
    // the same settlement; the fund pays nothing yet.
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 1000, &mut out);
    let t = trade(9, A, 3, Side::Sell, B, 4, 498_000, 1000);
    out.clear();
    l.settle_fill(BTC, &t, FillKind::Normal, Timestamp(1), &mut out)
        .unwrap();
    assert_eq!(l.wallet(A), Some(d("-100")));
    assert!(l.in_liquidation(A));
    assert!(out.contains(&perpx::engine::LedgerEvent::LiquidationStarted { account: A }));
    let pr = LiquidationProgress {
        orders_cancelled: true,
        ..LiquidationProgress::default()
    };
    // An empty fund cannot pay: the account waits in liquidation.
    assert_eq!(l.insurance_available(), d("0"));
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::Wait
    );
    // With 60 in the fund it pays 60 (all it has), and the account still waits for 40.
    let mut ev = Vec::new();
    l.deposit(AccountId::INSURANCE, d("60"), Timestamp(0), &mut ev)
        .unwrap();
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::ClearNegative {
            amount: perpx::domain::Amount(d("60"))
        }
    );
    assert_eq!(
        l.clear_negative(MarginPool::Cross(A), d("60"), Timestamp(0), &mut ev)
            .unwrap(),
        d("60")
    );
    assert_eq!(l.wallet(AccountId::INSURANCE), Some(d("0")));
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::Wait
    );
    // Once the fund has the rest, the account is cleared to 0 and leaves liquidation.
    l.deposit(AccountId::INSURANCE, d("500"), Timestamp(0), &mut ev)
        .unwrap();
    l.clear_negative(MarginPool::Cross(A), d("1000"), Timestamp(0), &mut ev)
        .unwrap();
    assert_eq!(l.wallet(A), Some(d("0")));
    assert_eq!(l.wallet(AccountId::INSURANCE), Some(d("460")));
    assert_eq!(
        l.liquidation_step(MarginPool::Cross(A), &pr).unwrap(),
        LiquidationAction::Done
    );
    l.end_liquidation(MarginPool::Cross(A), Timestamp(0), &mut ev)
        .unwrap();
    l.check_invariants().unwrap();
}

#[test]
fn leverage_counts_open_orders_and_is_frozen_in_liquidation() {
    // The issue's case on these tiers (100x to 50,000, 50x to 250,000): at 20x, buys of 3 @
    // 45,000 rest (135,000); raising the leverage to 100x (cap 50,000) would let them fill into
    // a position the cap forbids, so it is refused. 50x (cap 250,000) is fine.
    let mut l = Ledger::new(vec![btc()], 8);
    accounts(&mut l, &[100], "10000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 20, Timestamp(0), &mut out).unwrap();
    l.pre_trade(
        A,
        BTC,
        Side::Buy,
        Qty(3000),
        d("45000"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(1),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        l.set_leverage(A, BTC, 100, Timestamp(0), &mut out),
        Err(Reject::PositionLimitExceeded)
    );
    assert_eq!(
        l.set_leverage(A, BTC, 50, Timestamp(0), &mut out),
        Ok(d("250000"))
    );
    // Short 1 (a filled sell) and sells resting: the short side counts the same way.
    let mut l = Ledger::new(vec![btc()], 8);
    accounts(&mut l, &[100], "100000");
    accounts(&mut l, &[101], "1000000");
    l.set_leverage(A, BTC, 20, Timestamp(0), &mut out).unwrap();
    fill(&mut l, BTC, 100, Side::Sell, 101, 500_000, 1000, &mut out);
    assert_eq!(
        l.set_leverage(A, BTC, 100, Timestamp(0), &mut out),
        Ok(d("50000")),
        "a 50,000 short alone fits 100x"
    );
    l.set_leverage(A, BTC, 20, Timestamp(0), &mut out).unwrap();
    l.pre_trade(
        A,
        BTC,
        Side::Sell,
        Qty(10),
        d("50000"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(2),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    assert_eq!(
        l.set_leverage(A, BTC, 100, Timestamp(0), &mut out),
        Err(Reject::PositionLimitExceeded),
        "short 50,000 plus 500 of sells exceed 50,000"
    );
    // In liquidation the leverage is frozen.
    l.begin_liquidation(MarginPool::Cross(A), Timestamp(0), &mut out)
        .unwrap();
    assert_eq!(
        l.set_leverage(A, BTC, 10, Timestamp(0), &mut out),
        Err(Reject::AccountInLiquidation)
    );
}

#[test]
fn risk_reducing_amends_pass_for_an_under_margined_account() {
    let mut l = Ledger::new(vec![btc_no_fees()], 8);
    accounts(&mut l, &[100], "1000");
    accounts(&mut l, &[101], "1000000");
    let mut out = Vec::new();
    l.set_leverage(A, BTC, 10, Timestamp(0), &mut out).unwrap();
    // Long 0.1 @ 50,000 (IM 500) and a buy of 0.09 @ 50,000 (450): available 50.
    fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 100, &mut out);
    l.pre_trade(
        A,
        BTC,
        Side::Buy,
        Qty(90),
        d("50000"),
        false,
        perpx::domain::PositionSide::Both,
        OrderId(1),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    // The mark falls 10 %: margin balance 500, margin 450 + 450: available −400.
    l.set_mark(BTC, d("45000"), &mut out, &mut Vec::new());
    assert!(l.account_view(A).unwrap().available_balance < d("0"));
    // Lowering the order (quantity or price) adds no risk: allowed.
    l.amend(
        A,
        BTC,
        OrderId(1),
        Qty(40),
        d("50000"),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    l.amend(
        A,
        BTC,
        OrderId(1),
        Qty(40),
        d("44000"),
        Timestamp(0),
        &mut out,
    )
    .unwrap();
    // Raising it is refused.
    assert_eq!(
        l.amend(
            A,
            BTC,
            OrderId(1),
            Qty(41),
            d("44000"),
            Timestamp(0),
            &mut out
        ),
        Err(Reject::InsufficientMargin)
    );
    l.check_invariants().unwrap();
}
