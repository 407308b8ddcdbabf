//! Risk-core benchmarks (plain `Instant` + hdrhistogram; run with `cargo bench --bench risk`).
//!
//! Workloads (setup is never timed):
//! 1. R1 + R2 per order: `Ledger::pre_trade` (limit order, margin check over an account with
//!    10 positions in 10 markets) followed by `Ledger::settle_fill` of that order in full
//!    against a maker (both sides: positions, PnL, fees, holds). Target p99 ≤ 1 µs. Run
//!    twice: the account's markets cross, then isolated (opening transfers, fees from the
//!    isolated wallets, docs/RULES.md §3a).
//! 2. Liquidation screening: `Ledger::set_mark` on a market with 1,000,000 open positions
//!    (1,000,000 accounts). The first update after setup evaluates every account exactly (cold,
//!    reported separately); steady-state updates move the mark by ±0.02 %, stress updates by
//!    ±2 % (many cushions exhausted, so many exact evaluations). Target ≤ 10 ms.
//! 3. Funding: `Ledger::settle_funding` over the same 1,000,000 positions. Target ≤ 100 ms.
//!
//! Excluded: journaling, publishing, actor hops, the order book itself.

use std::str::FromStr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use perpx::domain::{
    AccountId, IndexSource, Maker, MarketSpec, OrderId, Price, Qty, RiskTier, Side, Timestamp,
    Trade, TradeId,
};
use perpx::engine::{FillKind, Ledger};
use perpx::risk::MarketId;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("literal is a decimal")
}

fn spec(symbol: &str) -> MarketSpec {
    MarketSpec {
        symbol: symbol.into(),
        base_asset: symbol.into(),
        quote_asset: "USDT".into(),
        tick_size: d("0.1"),
        lot_size: d("0.001"),
        min_quantity: Qty(1),
        max_quantity: Qty(1_000_000),
        min_notional: d("5"),
        price_band: d("0.05"),
        market_take_bound: d("0.05"),
        maker_fee: d("0.0002"),
        taker_fee: d("0.0005"),
        liquidation_fee: d("0.0125"),
        default_leverage: 20,
        max_open_orders: 200,
        funding_interval: Duration::from_secs(8 * 3600),
        interest_rate: d("0.0001"),
        funding_cap: d("0.003"),
        impact_notional: d("10000"),
        index_source: IndexSource::Oracle,
        initial_index_price: d("50000"),
        index_stale_after: Duration::from_secs(60),
        max_spread: d("0.01"),
        risk_tiers: vec![
            RiskTier {
                notional_cap: d("50000"),
                max_leverage: 100,
                maintenance_margin_rate: d("0.004"),
                maintenance_amount: d("0"),
            },
            RiskTier {
                notional_cap: d("250000"),
                max_leverage: 50,
                maintenance_margin_rate: d("0.005"),
                maintenance_amount: d("50"),
            },
        ],
        binance_symbol: "BTCUSDT".into(),
    }
}

fn trade(
    id: u64,
    taker: AccountId,
    order: u64,
    side: Side,
    maker: AccountId,
    price: i64,
    lots: i64,
) -> Trade {
    Trade {
        maker_position: Default::default(),
        taker_position: Default::default(),
        trade_id: TradeId(id),
        price: Price(price),
        qty: Qty(lots),
        taker_side: side,
        taker_order: OrderId(order),
        taker_account: taker,
        maker: Maker {
            order_id: OrderId(0),
            account: maker,
            remaining: Qty(0),
        },
    }
}

struct Row {
    name: &'static str,
    p50: f64,
    p99: f64,
    max: f64,
    unit: &'static str,
    target: &'static str,
}

fn main() {
    let mut rows = Vec::new();
    order_path(&mut rows, false);
    order_path(&mut rows, true);
    let (mut l, ids) = big_market();
    screening(&mut l, &mut rows);
    funding(&mut l, &mut rows, ids);
    println!();
    println!(
        "{:<58} {:>10} {:>10} {:>10}  target",
        "workload", "p50", "p99", "max"
    );
    for r in rows {
        println!(
            "{:<58} {:>8.3}{} {:>8.3}{} {:>8.3}{}  {}",
            r.name, r.p50, r.unit, r.p99, r.unit, r.max, r.unit, r.target
        );
    }
}

/// Workload 1, with the account's 10 markets cross or isolated (docs/RULES.md §3a).
fn order_path(rows: &mut Vec<Row>, isolated: bool) {
    const MARKETS: u16 = 10;
    const ITER: u64 = 300_000;
    let mode = if isolated { "isolated" } else { "cross" };
    eprintln!("[1/3] setup: 10 markets, one account with 10 {mode} positions");
    let specs = (0..MARKETS).map(|i| spec(&format!("M{i}"))).collect();
    let mut l = Ledger::new(specs, 8);
    let (a, b) = (AccountId(100), AccountId(101));
    let mut out = Vec::new();
    l.open_account(a, Timestamp(0), &mut out).unwrap();
    l.open_account(b, Timestamp(0), &mut out).unwrap();
    l.deposit(a, d("1000000"), Timestamp(0), &mut out).unwrap();
    l.deposit(b, d("1000000"), Timestamp(0), &mut out).unwrap();
    for m in 0..MARKETS {
        if isolated {
            let mode = perpx::domain::MarginMode::Isolated;
            l.set_margin_mode(a, MarketId(m), mode, Timestamp(0), &mut out)
                .unwrap();
        }
        let t = trade(0, a, 0, Side::Buy, b, 500_000, 100 + i64::from(m));
        l.settle_fill(MarketId(m), &t, FillKind::Normal, Timestamp(0), &mut out)
            .unwrap();
    }
    eprintln!("[1/3] running {ITER} × (pre_trade + settle_fill)");
    let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    for i in 0..ITER {
        let m = MarketId((i % u64::from(MARKETS)) as u16);
        // Alternate buy/sell per market so positions stay bounded.
        let side = if (i / u64::from(MARKETS)) % 2 == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = Price(500_000 + (i % 7) as i64);
        let px = Decimal::new(price.0, 1);
        out.clear();
        let t0 = Instant::now();
        l.pre_trade(
            a,
            m,
            side,
            Qty(5),
            px,
            false,
            perpx::domain::PositionSide::Both,
            OrderId(i + 1),
            Timestamp(0),
            &mut out,
        )
        .unwrap();
        let t = trade(i, a, i + 1, side, b, price.0, 5);
        l.settle_fill(m, &t, FillKind::Normal, Timestamp(i), &mut out)
            .unwrap();
        let ns = t0.elapsed().as_nanos() as u64;
        h.record(ns.max(1)).expect("value within histogram range");
    }
    l.check_invariants().expect("invariants hold after the run");
    rows.push(Row {
        name: if isolated {
            "pre_trade + settle_fill per order (10 isolated positions)"
        } else {
            "pre_trade + settle_fill per order (10 positions)"
        },
        p50: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99: h.value_at_quantile(0.99) as f64 / 1000.0,
        max: h.max() as f64 / 1000.0,
        unit: "µs",
        target: "p99 ≤ 1 µs",
    });
    eprintln!(
        "[1/3] p50 {} ns, p99 {} ns, p99.9 {} ns",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999)
    );
}

const POSITIONS: u64 = 1_000_000;

/// 1,000,000 accounts, each with one position in market 0 (half long, half short).
fn big_market() -> (Ledger, u64) {
    eprintln!("[2/3] setup: {POSITIONS} accounts with one position each");
    let t0 = Instant::now();
    let mut l = Ledger::new(vec![spec("BTC")], 8);
    let mut out = Vec::new();
    for i in 0..POSITIONS {
        let id = AccountId(100 + i);
        l.open_account(id, Timestamp(0), &mut out).unwrap();
        // Varied collateral so accounts sit at different distances from liquidation.
        l.deposit(id, Decimal::from(200 + (i % 5000)), Timestamp(0), &mut out)
            .unwrap();
        out.clear();
    }
    for i in (0..POSITIONS).step_by(2) {
        let (long, short) = (AccountId(100 + i), AccountId(101 + i));
        let lots = 10 + (i % 90) as i64;
        let t = trade(i, long, 0, Side::Buy, short, 500_000, lots);
        l.settle_fill(MarketId(0), &t, FillKind::Normal, Timestamp(0), &mut out)
            .unwrap();
        out.clear();
        if i % 200_000 == 0 {
            eprintln!("[2/3]   {i} positions");
        }
    }
    assert_eq!(l.positions(MarketId(0)).len() as u64, POSITIONS);
    eprintln!("[2/3] setup took {:.1} s", t0.elapsed().as_secs_f64());
    (l, POSITIONS)
}

/// Workload 2.
fn screening(l: &mut Ledger, rows: &mut Vec<Row>) {
    let m = MarketId(0);
    let mut out = Vec::new();
    let mut liq = Vec::new();
    let t0 = Instant::now();
    l.set_mark(m, d("50010"), &mut out, &mut liq);
    let cold = t0.elapsed();
    eprintln!(
        "[2/3] cold update (every account evaluated exactly): {:.1} ms, {} liquidatable",
        cold.as_secs_f64() * 1e3,
        liq.len()
    );
    rows.push(Row {
        name: "screening, cold (1M positions, all exact)",
        p50: cold.as_secs_f64() * 1e3,
        p99: cold.as_secs_f64() * 1e3,
        max: cold.as_secs_f64() * 1e3,
        unit: "ms",
        target: "(first update only)",
    });
    let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    let mut reported = 0;
    for k in 0..60u32 {
        // ±0.02 % steps around 50,000.
        let mark = if k % 2 == 0 { d("50000") } else { d("50010") };
        liq.clear();
        out.clear();
        let t0 = Instant::now();
        l.set_mark(m, mark, &mut out, &mut liq);
        h.record(t0.elapsed().as_micros() as u64)
            .expect("value within histogram range");
        reported += liq.len();
    }
    eprintln!("[2/3] 60 steady updates, {reported} liquidatable reports");
    let steady = h;
    // Large moves (±2 %) exhaust many cushions: those accounts are evaluated exactly.
    let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    let mut reported = 0;
    for k in 0..10u32 {
        let mark = if k % 2 == 0 { d("51000") } else { d("49980") };
        liq.clear();
        out.clear();
        let t0 = Instant::now();
        l.set_mark(m, mark, &mut out, &mut liq);
        h.record(t0.elapsed().as_micros() as u64)
            .expect("value within histogram range");
        reported += liq.len();
    }
    eprintln!("[2/3] 10 updates of ±2 %, {reported} liquidatable reports");
    rows.push(Row {
        name: "screening per mark update (1M positions, steady ±0.02 %)",
        p50: steady.value_at_quantile(0.5) as f64 / 1000.0,
        p99: steady.value_at_quantile(0.99) as f64 / 1000.0,
        max: steady.max() as f64 / 1000.0,
        unit: "ms",
        target: "≤ 10 ms",
    });
    rows.push(Row {
        name: "screening per mark update (1M positions, ±2 % moves)",
        p50: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99: h.value_at_quantile(0.99) as f64 / 1000.0,
        max: h.max() as f64 / 1000.0,
        unit: "ms",
        target: "≤ 10 ms (stress)",
    });
}

/// Workload 3.
fn funding(l: &mut Ledger, rows: &mut Vec<Row>, n: u64) {
    let m = MarketId(0);
    let mut out = Vec::new();
    let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    eprintln!("[3/3] funding over {n} positions, 10 settlements");
    for k in 0..10u64 {
        out.clear();
        let rate = if k % 2 == 0 {
            d("0.00012345")
        } else {
            d("-0.0001")
        };
        let t0 = Instant::now();
        l.settle_funding(m, rate, d("50000"), Timestamp(k * 28_800_000), &mut out);
        h.record(t0.elapsed().as_micros() as u64)
            .expect("value within histogram range");
    }
    l.check_invariants().expect("invariants hold after funding");
    rows.push(Row {
        name: "funding settlement (1M positions)",
        p50: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99: h.value_at_quantile(0.99) as f64 / 1000.0,
        max: h.max() as f64 / 1000.0,
        unit: "ms",
        target: "≤ 100 ms",
    });
}
