//! The actor runtime end to end (no HTTP): the order path through R1 → market → R2 with fills
//! on both accounts, cancel/amend, overload, a mark-triggered stop, funding at its time,
//! liquidation via the book + insurance takeover and via ADL, and market arbiters on their
//! own threads. Time is a `ManualClock`; timers are off and `Tick`s are sent by the test, so
//! every wait below is a message barrier, not a sleep.

use std::str::FromStr;

use perpx::actors::market::query::{DepthQuery, ThreadQuery};
use perpx::actors::messages::{AccountQuery, FundingHistory, OrderRequest, Solvency, Tick};
use perpx::actors::risk::WhenIdle;
use perpx::actors::{Exchange, StartOptions};
use perpx::clock::ManualClock;
use perpx::config::Config;
use perpx::domain::OrderTerms;
use perpx::domain::{
    AccountId, CloseReason, OrderStatus, OrderType, Reject, Side, Stp, TimeInForce, Timestamp,
    TriggerBy,
};
use perpx::risk::MarketId;
use rust_decimal::Decimal;

/// Two markets; BTC without trading fees so liquidation figures match docs/RULES.md by hand.
const CONFIG: &str = r#"
[server]
cores = "auto"
[[markets]]
symbol = "BTC-PERP"
base_asset = "BTC"
tick_size = "0.1"
lot_size = "0.001"
maker_fee = "0"
taker_fee = "0"
initial_index_price = "50000"
  [[markets.risk_tiers]]
  notional_cap = "60000"
  max_leverage = 100
  maintenance_margin_rate = "0.004"
  [[markets.risk_tiers]]
  notional_cap = "250000"
  max_leverage = 50
  maintenance_margin_rate = "0.005"
[[markets]]
symbol = "ETH-PERP"
base_asset = "ETH"
tick_size = "0.01"
lot_size = "0.001"
initial_index_price = "3000"
  [[markets.risk_tiers]]
  notional_cap = "50000"
  max_leverage = 50
  maintenance_margin_rate = "0.005"
"#;

const BTC: MarketId = MarketId(0);
const ETH: MarketId = MarketId(1);
/// 2023-11-14T22:13:20Z; the next 8 h funding time is 2023-11-15T00:00:00Z.
const START: Timestamp = Timestamp(1_700_000_000_000);

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

struct World {
    ex: Exchange,
    clock: ManualClock,
}

fn start(market_in_flight: usize) -> World {
    start_timed(market_in_flight, false)
}

/// [`start`], with the actors' own timers (ticker, marks, funding samples) when `timers`.
fn start_timed(market_in_flight: usize, timers: bool) -> World {
    let config = Config::parse(CONFIG, "test").unwrap();
    let clock = ManualClock::new(START);
    let opts = StartOptions {
        clock: std::sync::Arc::new(clock.clone()),
        journal: None,
        timers,
        market_in_flight,
        account_in_flight: 100_000,
        feed_capacity: 4096,
        follower: false,
    };
    World {
        ex: Exchange::start(&config, config.fresh_state(), opts),
        clock,
    }
}

fn limit(side: Side, price: &str, qty: &str) -> OrderRequest {
    let spec = perpx::domain::MarketSpec::clone(&Config::parse(CONFIG, "t").unwrap().markets[0]);
    OrderRequest {
        terms: OrderTerms {
            position_side: Default::default(),
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Some(spec.parse_price(price).unwrap()),
            qty: spec.parse_qty(qty).unwrap(),
            reduce_only: false,
            stp: Stp::ExpireMaker,
            trigger_price: None,
            trigger_by: TriggerBy::Last,
            close_position: false,
        },
        client_order_id: None,
        attached: Default::default(),
    }
}

impl World {
    async fn account(&self, deposit: &str) -> AccountId {
        let a = self.ex.open_account().await.unwrap();
        self.ex.deposit(a, d(deposit)).await.unwrap();
        a
    }

    /// Every message already sent to a market, then to the AccountActor, has been handled.
    async fn settle(&self) {
        for m in &self.ex.markets {
            m.send(DepthQuery(1)).await.unwrap();
        }
        let _ = self
            .ex
            .query(|reply| AccountQuery::StateHash { reply })
            .await;
    }

    async fn solvency(&self) -> Solvency {
        self.ex
            .query(|reply| AccountQuery::Solvency { reply })
            .await
            .unwrap()
    }

    async fn check(&self) {
        let s = self.solvency().await;
        assert!(s.conserved, "money not conserved: {s:?}");
        self.ex
            .query(|reply| AccountQuery::Invariants { reply })
            .await
            .unwrap();
    }

    async fn wallet(&self, a: AccountId) -> Decimal {
        self.ex.account_view(a).await.unwrap().wallet_balance
    }

    async fn position(&self, a: AccountId, m: MarketId) -> Decimal {
        let v = self.ex.account_view(a).await.unwrap();
        // Both test markets trade in lots of 0.001.
        v.positions
            .iter()
            .find(|p| p.market == m)
            .map_or(Decimal::ZERO, |p| Decimal::from(p.quantity) * d("0.001"))
            .normalize()
    }
}

#[actix::test]
async fn an_order_fills_through_the_full_path_and_both_accounts_see_it() {
    let w = start(4096);
    let (a, b) = (w.account("10000").await, w.account("10000").await);
    let ask =
        w.ex.place_order(a, BTC, limit(Side::Sell, "50000", "0.5"))
            .await
            .unwrap();
    assert_eq!(ask.order.status, OrderStatus::New);
    let mut buy = limit(Side::Buy, "50100", "0.2");
    buy.client_order_id = Some("b-1".into());
    let r = w.ex.place_order(b, BTC, buy.clone()).await.unwrap();
    assert_eq!((r.order.status, r.fills.len()), (OrderStatus::Filled, 1));
    assert_eq!(
        r.fills[0].price,
        perpx::domain::Price(500_000),
        "trades at the maker's price"
    );
    // Both sides, read right after the reply (R2 ran before it).
    assert_eq!(w.position(b, BTC).await, d("0.2"));
    assert_eq!(w.position(a, BTC).await, d("-0.2"));
    let maker =
        w.ex.query(|reply| AccountQuery::Order {
            account: a,
            market: BTC,
            order_id: ask.order.order.order_id,
            reply,
        })
        .await
        .unwrap();
    assert_eq!(
        (maker.status, maker.filled),
        (OrderStatus::PartiallyFilled, perpx::domain::Qty(200))
    );
    // An identical retry of the client order id returns the original order, nothing new.
    let again = w.ex.place_order(b, BTC, buy.clone()).await.unwrap();
    assert!(again.retry);
    assert_eq!(again.order.order.order_id, r.order.order.order_id);
    assert_eq!(w.position(b, BTC).await, d("0.2"));
    // The same id on a different request: refused while the order is open...
    let mut open = limit(Side::Buy, "40000", "0.1");
    open.client_order_id = Some("b-2".into());
    w.ex.place_order(b, BTC, open.clone()).await.unwrap();
    open.terms.qty = perpx::domain::Qty(300);
    assert_eq!(
        w.ex.place_order(b, BTC, open).await.unwrap_err(),
        Reject::DuplicateClientOrderId
    );
    // ...and allowed once it is closed (b-1 filled): a new order.
    buy.terms.qty = perpx::domain::Qty(300);
    let reused = w.ex.place_order(b, BTC, buy).await.unwrap();
    assert!(!reused.retry && reused.order.order.order_id != r.order.order.order_id);
    w.check().await;
}

#[actix::test]
async fn cancel_and_amend_through_the_market() {
    let w = start(4096);
    let a = w.account("10000").await;
    let o =
        w.ex.place_order(a, BTC, limit(Side::Buy, "49000", "0.1"))
            .await
            .unwrap()
            .order;
    let before = w.ex.account_view(a).await.unwrap().order_margin;
    let amended =
        w.ex.amend_order(
            a,
            BTC,
            o.order.order_id,
            None,
            Some(perpx::domain::Qty(50)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(amended.order.remaining, perpx::domain::Qty(50));
    assert!(
        w.ex.account_view(a).await.unwrap().order_margin < before,
        "a smaller order holds less margin"
    );
    // Too much margin: refused, nothing changed.
    let huge =
        w.ex.amend_order(
            a,
            BTC,
            o.order.order_id,
            None,
            Some(perpx::domain::Qty(100_000)),
            None,
        )
        .await;
    assert!(
        matches!(
            huge,
            Err(Reject::InsufficientMargin | Reject::PositionLimitExceeded)
        ),
        "{huge:?}"
    );
    let c = w.ex.cancel_order(a, BTC, o.order.order_id).await.unwrap();
    assert_eq!(
        (c.order.status, c.order.reason),
        (OrderStatus::Cancelled, Some(CloseReason::User))
    );
    assert_eq!(
        w.ex.cancel_order(a, BTC, o.order.order_id)
            .await
            .unwrap_err(),
        Reject::OrderNotOpen
    );
    assert_eq!(
        w.ex.account_view(a).await.unwrap().order_margin,
        Decimal::ZERO
    );
    // Another account's order is not found (never "forbidden").
    let b = w.account("10000").await;
    let o2 =
        w.ex.place_order(a, BTC, limit(Side::Buy, "49000", "0.1"))
            .await
            .unwrap()
            .order;
    assert_eq!(
        w.ex.cancel_order(b, BTC, o2.order.order_id)
            .await
            .unwrap_err(),
        Reject::OrderNotFound
    );
    assert_eq!(
        w.ex.cancel_all(a, BTC).await.unwrap(),
        vec![o2.order.order_id]
    );
    w.check().await;
}

#[actix::test]
async fn a_full_market_answers_overloaded_and_changes_nothing() {
    let w = start(2);
    let a = w.account("100000").await;
    let before = w.ex.account_view(a).await.unwrap();
    // Two commands in flight fill BTC's gate (held here, as two slow requests would).
    let held = [
        w.ex.market_gates[0].enter().unwrap(),
        w.ex.market_gates[0].enter().unwrap(),
    ];
    for i in 0..10 {
        let r =
            w.ex.place_order(a, BTC, limit(Side::Buy, &format!("{}", 40000 + i), "0.01"))
                .await;
        assert_eq!(r.unwrap_err(), Reject::Overloaded);
    }
    // The other market is not affected.
    let mut eth = limit(Side::Buy, "2990", "1");
    eth.terms.price = Some(perpx::domain::Price(299_000));
    w.ex.place_order(a, ETH, eth).await.unwrap();
    let after = w.ex.account_view(a).await.unwrap();
    assert_eq!(after.wallet_balance, before.wallet_balance);
    let btc =
        w.ex.query(|reply| AccountQuery::Orders {
            account: a,
            market: BTC,
            open: true,
            closed: true,
            limit: 100,
            reply,
        })
        .await
        .unwrap();
    assert!(btc.is_empty(), "refused orders left no trace");
    drop(held);
    w.ex.place_order(a, BTC, limit(Side::Buy, "40000", "0.01"))
        .await
        .unwrap();
}

/// Poll all futures together (the first poll admits through the gate synchronously).
async fn futures_join<T>(futs: Vec<impl std::future::Future<Output = T>>) -> Vec<T> {
    let mut pinned: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<T>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

#[actix::test]
async fn a_mark_update_fires_a_stop_order() {
    let w = start(4096);
    let (a, b) = (w.account("100000").await, w.account("100000").await);
    w.ex.place_order(b, BTC, limit(Side::Buy, "48000", "1"))
        .await
        .unwrap();
    let mut stop = limit(Side::Sell, "1", "0.1");
    stop.terms.order_type = OrderType::StopMarket;
    stop.terms.price = None;
    stop.terms.trigger_price = Some(perpx::domain::Price(485_000));
    stop.terms.trigger_by = TriggerBy::Mark;
    let s = w.ex.place_order(a, BTC, stop).await.unwrap().order;
    assert_eq!(s.status, OrderStatus::Untriggered);
    // No trade yet and no mid: the mark is the index. 48,500 reaches the trigger.
    let (index, mark) = w.ex.push_index(BTC, d("48500")).await.unwrap();
    assert_eq!((index, mark), (d("48500"), d("48500")));
    w.settle().await;
    let s =
        w.ex.query(|reply| AccountQuery::Order {
            account: a,
            market: BTC,
            order_id: s.order.order_id,
            reply,
        })
        .await
        .unwrap();
    assert_eq!(
        (s.status, s.filled),
        (OrderStatus::Filled, perpx::domain::Qty(100))
    );
    assert_eq!(w.position(a, BTC).await, d("-0.1"));
    w.check().await;
}

#[actix::test]
async fn funding_settles_at_the_funding_time_and_sums_to_zero() {
    let w = start(4096);
    let (a, b) = (w.account("100000").await, w.account("100000").await);
    w.ex.place_order(b, BTC, limit(Side::Sell, "50000", "1"))
        .await
        .unwrap();
    w.ex.place_order(a, BTC, limit(Side::Buy, "50000", "1"))
        .await
        .unwrap();
    w.ex.push_index(BTC, d("50000")).await.unwrap(); // mark = median-less mean of 50,000 and last 50,000
    let funding_time = Timestamp(1_700_006_400_000); // 2023-11-15T00:00:00Z
    w.clock.set(Timestamp(funding_time.0 - 1));
    w.ex.funding.send(Tick).await.unwrap();
    assert!(
        w.ex.funding
            .send(FundingHistory {
                market: BTC,
                limit: 10
            })
            .await
            .unwrap()
            .is_empty(),
        "not yet"
    );
    w.clock.set(funding_time);
    w.ex.funding.send(Tick).await.unwrap();
    let h =
        w.ex.funding
            .send(FundingHistory {
                market: BTC,
                limit: 10,
            })
            .await
            .unwrap();
    // No premium (empty book after the fill): F = clamp(0.0001) = 0.0001; 1 × 50,000 × F = 5.
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].time, h[0].rate, h[0].mark),
        (funding_time, d("0.0001"), d("50000"))
    );
    let (va, vb) = (
        w.ex.account_view(a).await.unwrap(),
        w.ex.account_view(b).await.unwrap(),
    );
    assert_eq!(va.wallet_balance, d("99995"), "the long paid 5");
    assert_eq!(vb.wallet_balance, d("100005"), "the short received 5");
    w.check().await;
}

#[actix::test]
async fn liquidation_cancels_orders_uses_the_book_then_the_insurance_fund() {
    let w = start(4096);
    let a = w.account("1000").await;
    let (b, c) = (w.account("100000").await, w.account("100000").await);
    w.ex.set_leverage(a, BTC, 100).await.unwrap();
    w.ex.place_order(b, BTC, limit(Side::Sell, "50000", "1"))
        .await
        .unwrap();
    w.ex.place_order(a, BTC, limit(Side::Buy, "50000", "1"))
        .await
        .unwrap();
    let resting =
        w.ex.place_order(a, BTC, limit(Side::Buy, "40000", "0.01"))
            .await
            .unwrap()
            .order;
    w.ex.place_order(c, BTC, limit(Side::Buy, "49050", "0.4"))
        .await
        .unwrap();
    // Mark = mean(index, last) with bids only: index 48,200 and last 50,000 give 49,100, where
    // A's margin balance 100 is at most its maintenance 196.4.
    let (_, mark) = w.ex.push_index(BTC, d("48200")).await.unwrap();
    assert_eq!(mark, d("49100"));
    w.settle().await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    w.ex.risk.do_send(WhenIdle(tx));
    rx.await.unwrap();
    // Step 1: the resting order was cancelled for the liquidation.
    let o =
        w.ex.query(|reply| AccountQuery::Order {
            account: a,
            market: BTC,
            order_id: resting.order.order_id,
            reply,
        })
        .await
        .unwrap();
    assert_eq!(
        (o.status, o.reason),
        (OrderStatus::Cancelled, Some(CloseReason::Liquidation))
    );
    // Step 2: the liquidation order sold 0.4 into C's bid at 49,050.
    assert_eq!(w.position(c, BTC).await, d("0.4"));
    // Step 4: the insurance fund took over the remaining 0.6; A is flat and not negative.
    assert_eq!(w.position(AccountId::INSURANCE, BTC).await, d("0.6"));
    let va = w.ex.account_view(a).await.unwrap();
    assert!(
        va.positions.iter().all(|p| p.quantity == 0) && !va.in_liquidation,
        "{va:?}"
    );
    assert!(va.wallet_balance >= Decimal::ZERO);
    let s = w.solvency().await;
    assert_eq!(
        s.insurance_fund,
        d("80"),
        "liquidation fee capped at the remaining margin balance"
    );
    w.check().await;
}

#[actix::test]
async fn with_an_empty_fund_the_remainder_is_auto_deleveraged() {
    let w = start(4096);
    let a = w.account("1000").await;
    let (b, dd) = (w.account("100000").await, w.account("2000").await);
    w.ex.set_leverage(a, BTC, 100).await.unwrap();
    w.ex.place_order(b, BTC, limit(Side::Sell, "50000", "0.6"))
        .await
        .unwrap();
    w.ex.place_order(dd, BTC, limit(Side::Sell, "50000", "0.4"))
        .await
        .unwrap();
    w.ex.place_order(a, BTC, limit(Side::Buy, "50000", "1"))
        .await
        .unwrap();
    // A gap to 48,500 (index 47,000, last 50,000): bankruptcy 49,000 is above the mark, the
    // empty fund cannot take over, the book has no bids: ADL, most profitable-leveraged first.
    let (_, mark) = w.ex.push_index(BTC, d("47000")).await.unwrap();
    assert_eq!(mark, d("48500"));
    w.settle().await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    w.ex.risk.do_send(WhenIdle(tx));
    rx.await.unwrap();
    for acc in [a, b, dd] {
        assert_eq!(
            w.position(acc, BTC).await,
            Decimal::ZERO,
            "{acc} flat after ADL"
        );
    }
    assert_eq!(w.wallet(a).await, d("0"));
    assert_eq!(
        w.wallet(dd).await,
        d("2400"),
        "closed at the bankruptcy price 49,000"
    );
    assert_eq!(w.wallet(b).await, d("100600"));
    w.check().await;
}

#[actix::test]
async fn each_market_runs_on_its_own_arbiter_thread() {
    let w = start(4096);
    let mut threads = Vec::new();
    for m in &w.ex.markets {
        threads.push(m.send(ThreadQuery).await.unwrap());
    }
    assert_eq!(threads.len(), 2);
    assert_ne!(threads[0], threads[1], "two markets share a thread");
    assert_ne!(threads[0], format!("{:?}", std::thread::current().id()));
    // Orders in both markets proceed independently.
    let a = w.account("100000").await;
    let mut eth = limit(Side::Buy, "2990", "1");
    eth.terms.price = Some(perpx::domain::Price(299_000));
    let (x, y) = futures_join(vec![
        Box::pin(w.ex.place_order(a, BTC, limit(Side::Buy, "49000", "0.1")))
            as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
        Box::pin(w.ex.place_order(a, ETH, eth)),
    ])
    .await
    .into_iter()
    .map(|r| r.unwrap().order.market)
    .fold((None, None), |acc, m| {
        if acc.0.is_none() {
            (Some(m), None)
        } else {
            (acc.0, Some(m))
        }
    });
    assert_eq!((x, y), (Some(BTC), Some(ETH)));
}

#[actix::test]
async fn a_restart_resumes_marks_and_interrupted_liquidations() {
    let config = Config::parse(CONFIG, "test").unwrap();
    let mut initial = config.fresh_state();
    // State as recovered after a crash: BTC last marked at 42,000, and an account caught in
    // the middle of its liquidation (flagged, so screening alone would never look at it again).
    let mut ev = Vec::new();
    let stuck = AccountId(100);
    initial
        .ledger
        .open_account(stuck, perpx::domain::Timestamp(0), &mut ev)
        .unwrap();
    initial
        .ledger
        .deposit(stuck, d("10"), perpx::domain::Timestamp(0), &mut ev)
        .unwrap();
    initial
        .ledger
        .set_mark(BTC, d("42000"), &mut ev, &mut Vec::new());
    initial
        .ledger
        .begin_liquidation(
            perpx::domain::MarginPool::Cross(stuck),
            perpx::domain::Timestamp(0),
            &mut ev,
        )
        .unwrap();
    assert!(initial.ledger.in_liquidation(stuck));
    let clock = ManualClock::new(START);
    let opts = StartOptions {
        clock: std::sync::Arc::new(clock.clone()),
        journal: None,
        timers: false,
        market_in_flight: 4096,
        account_in_flight: 100_000,
        feed_capacity: 4096,
        follower: false,
    };
    let ex = Exchange::start(&config, initial, opts);
    let (index, mark) = ex
        .risk
        .send(perpx::actors::risk::CurrentMark(BTC))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (index, mark),
        (d("42000"), d("42000")),
        "not the initial 50,000"
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    ex.risk.do_send(WhenIdle(tx));
    rx.await.unwrap();
    let v = ex.account_view(stuck).await.unwrap();
    assert!(
        !v.in_liquidation,
        "the interrupted liquidation was finished"
    );
}

/// The ticker is published after a change (no fixed timer: an idle market does not wake for
/// it): a trade's last price reaches a ticker subscriber, and so does the next trade's, each
/// within the ticker's period of the change.
#[actix::test]
async fn the_ticker_follows_trades_without_a_timer() {
    let w = start_timed(4096, true);
    let mut rx = w.ex.feeds[BTC.index()].ticker.subscribe();
    let (a, b) = (w.account("100000").await, w.account("100000").await);
    for px in ["50000", "50010.5"] {
        w.ex.place_order(a, BTC, limit(Side::Sell, px, "0.1"))
            .await
            .unwrap();
        w.ex.place_order(b, BTC, limit(Side::Buy, px, "0.1"))
            .await
            .unwrap();
        let want = Some(d(px));
        let seen = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                let t = rx.recv().await.expect("ticker channel open");
                if t.data.last_price.as_deref().map(d) == want {
                    return t;
                }
            }
        })
        .await
        .expect("a ticker with the trade's price");
        assert_eq!(seen.data.symbol, "BTC-PERP");
    }
}
