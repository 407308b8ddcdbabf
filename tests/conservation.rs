//! Property tests: random sequences of deposits, withdrawals, fills (held and raw, both sides,
//! random accounts, self-trades included), mark moves with liquidation run to completion,
//! funding settlements, leverage changes, cancels, margin-mode switches and isolated-margin
//! transfers (random mixes of cross and isolated markets per account), over two markets (one
//! with a maker rebate). After every step `check_invariants()` must hold exactly (decimal equality, no
//! tolerance) and every wallet and cost basis has at most `money_scale` decimals; each funding
//! settlement sums to zero with its residue; at the end, replaying
//! the recorded events into a fresh ledger reproduces the same state hash, and so does a
//! snapshot round trip. Isolation is checked on every step: a fill, a funding payment or a
//! liquidation of an isolated position never takes from the cross wallet beyond the initial
//! margin an opening fill moves (docs/RULES.md §3a). Accounts switch between one-way and
//! hedge mode at random (docs/RULES.md §3b): in hedge mode each fill moves the leg its order
//! names, closing fills never exceed their leg (as the book's reduce-only cap ensures), and
//! the invariants include "a hedge leg never flips".

mod common;

use common::*;
use perpx::domain::{AccountId, MarginMode, MarginPool, MarketSpec, OrderId, Qty, Side, Timestamp};
use perpx::domain::{Leg, PositionMode, PositionSide};
use perpx::engine::{FillKind, Ledger, LedgerEvent};
use perpx::risk::liquidation::{LiquidationAction, LiquidationProgress};
use perpx::risk::MarketId;
use proptest::prelude::*;
use rust_decimal::Decimal;

const USERS: u64 = 5;
const SIDES: [PositionSide; 3] = [PositionSide::Both, PositionSide::Long, PositionSide::Short];

fn markets() -> Vec<MarketSpec> {
    let eth = MarketSpec {
        symbol: "ETH-PERP".into(),
        tick_size: d("0.01"),
        lot_size: d("0.01"),
        maker_fee: d("-0.00013"),
        taker_fee: d("0.00037"),
        initial_index_price: d("3000"),
        ..btc()
    };
    vec![btc(), eth]
}

#[derive(Clone, Debug)]
enum Op {
    Deposit {
        a: u64,
        cents: i64,
    },
    Withdraw {
        a: u64,
        cents: i64,
    },
    Trade {
        m: u16,
        taker: u64,
        maker: u64,
        buy: bool,
        lots: i64,
        off_bp: i64,
        held: bool,
        /// A hedge-mode side closes its leg when it can (else it opens).
        close: bool,
    },
    Mark {
        m: u16,
        move_bp: i64,
    },
    Funding {
        m: u16,
        rate_e8: i64,
    },
    Leverage {
        m: u16,
        a: u64,
        lev: u32,
    },
    Cancel {
        m: u16,
        a: u64,
    },
    Amend {
        m: u16,
        a: u64,
        lots: i64,
        off_bp: i64,
    },
    Mode {
        m: u16,
        a: u64,
        isolated: bool,
    },
    IsoMargin {
        m: u16,
        a: u64,
        cents: i64,
        /// Which of the account's legs (hedge mode: long or short).
        leg: u8,
    },
    PositionMode {
        a: u64,
        hedge: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let a = 0..USERS;
    prop_oneof![
        2 => (a.clone(), 1i64..2_000_000).prop_map(|(a, cents)| Op::Deposit { a, cents }),
        1 => (a.clone(), 1i64..1_000_000).prop_map(|(a, cents)| Op::Withdraw { a, cents }),
        6 => (0u16..2, a.clone(), a.clone(), any::<bool>(), 1i64..3000, -300i64..300, any::<bool>(), any::<bool>())
            .prop_map(|(m, taker, maker, buy, lots, off_bp, held, close)| Op::Trade { m, taker, maker, buy, lots, off_bp, held, close }),
        3 => (0u16..2, -800i64..800).prop_map(|(m, move_bp)| Op::Mark { m, move_bp }),
        1 => (0u16..2, -300_000i64..300_000).prop_map(|(m, rate_e8)| Op::Funding { m, rate_e8 }),
        1 => (0u16..2, a.clone(), 1u32..=110).prop_map(|(m, a, lev)| Op::Leverage { m, a, lev }),
        1 => (0u16..2, a.clone()).prop_map(|(m, a)| Op::Cancel { m, a }),
        1 => (0u16..2, a.clone(), 1i64..3000, -300i64..300)
            .prop_map(|(m, a, lots, off_bp)| Op::Amend { m, a, lots, off_bp }),
        2 => (0u16..2, a.clone(), any::<bool>()).prop_map(|(m, a, isolated)| Op::Mode { m, a, isolated }),
        1 => (0u16..2, a.clone(), -500_000i64..500_000, 0u8..2).prop_map(|(m, a, cents, leg)| Op::IsoMargin { m, a, cents, leg }),
        1 => (a, any::<bool>()).prop_map(|(a, hedge)| Op::PositionMode { a, hedge }),
    ]
}

/// The leg a fill on `side` of `lots` moves for `id`: `both` in one-way mode; in hedge mode
/// the leg it closes when `close` and that leg holds at least `lots` (the book caps a closing
/// order at its leg), else the leg it opens.
fn leg_for(l: &Ledger, id: AccountId, m: MarketId, side: Side, lots: i64, close: bool) -> Leg {
    if !l.position_mode(id).is_hedge() {
        return Leg::both(m);
    }
    let closing = PositionSide::reduced_by(side);
    if close && l.position_qty(id, Leg::new(m, closing)).abs() >= lots {
        return Leg::new(m, closing);
    }
    Leg::new(
        m,
        match side {
            Side::Buy => PositionSide::Long,
            Side::Sell => PositionSide::Short,
        },
    )
}

struct World {
    l: Ledger,
    events: Vec<LedgerEvent>,
    next_order: u64,
    next_trade: u64,
    time: u64,
}

fn user(a: u64) -> AccountId {
    AccountId(100 + a)
}

impl World {
    fn new() -> World {
        let mut l = Ledger::new(markets(), 8);
        let mut events = Vec::new();
        for a in 0..USERS {
            l.open_account(user(a), Timestamp(0), &mut events).unwrap();
        }
        World {
            l,
            events,
            next_order: 1,
            next_trade: 1,
            time: 0,
        }
    }

    fn check(&self, what: &str) {
        if let Err(e) = self.l.check_invariants() {
            panic!("after {what}: {e}");
        }
        // Money is kept at money_scale (8) decimals: every flow was rounded or is exact.
        for id in self.l.account_ids() {
            let w = self.l.wallet(id).unwrap();
            assert!(
                w.normalize().scale() <= 8,
                "after {what}: wallet of {id} is {w}"
            );
            for m in 0..2 {
                for side in SIDES {
                    let iw = self.l.isolated_wallet(id, Leg::new(MarketId(m), side));
                    assert!(
                        iw.normalize().scale() <= 8,
                        "after {what}: isolated wallet {iw}"
                    );
                }
            }
        }
        for m in 0..2 {
            for c in &self.l.positions(MarketId(m)).cost {
                assert!(c.normalize().scale() <= 8, "after {what}: cost basis {c}");
            }
        }
    }

    fn price_ticks(&self, m: MarketId, off_bp: i64) -> i64 {
        let spec = self.l.spec(m);
        let p = self.l.mark(m) * (Decimal::from(10_000 + off_bp) / Decimal::from(10_000));
        let t = (p / spec.tick_size).floor();
        i64::try_from(t).unwrap_or(1).max(1)
    }

    fn step(&mut self, op: &Op) {
        self.time += 1_000;
        let now = Timestamp(self.time);
        let mut events = std::mem::take(&mut self.events);
        self.apply_op(op, now, &mut events);
        events.append(&mut self.events);
        self.events = events;
        // A fill or ADL that left a user (or an isolated position) flat and owing put it
        // into liquidation: drive it (the shell's RiskActor would).
        for pool in self.l.in_liquidation_pools() {
            if pool.account().0 >= 100 && self.l.pool_in_liquidation(pool) {
                self.liquidate(pool);
            }
        }
    }

    fn leg_for(&self, id: AccountId, m: MarketId, side: Side, lots: i64, close: bool) -> Leg {
        leg_for(&self.l, id, m, side, lots, close)
    }

    /// The cross wallets of the users whose `m` is isolated.
    fn isolated_users_cross(&self, m: MarketId) -> Vec<(AccountId, Decimal)> {
        (0..USERS)
            .map(user)
            .filter(|&u| self.l.margin_mode(u, m).is_isolated())
            .map(|u| (u, self.l.wallet(u).unwrap()))
            .collect()
    }

    fn apply_op(&mut self, op: &Op, now: Timestamp, out: &mut Vec<LedgerEvent>) {
        match *op {
            Op::Deposit { a, cents } => {
                self.l
                    .deposit(user(a), Decimal::new(cents, 2), Timestamp(0), out)
                    .unwrap();
            }
            Op::Withdraw { a, cents } => {
                let _ = self
                    .l
                    .withdraw(user(a), Decimal::new(cents, 2), Timestamp(0), out);
            }
            Op::Trade {
                m,
                taker,
                maker,
                buy,
                lots,
                off_bp,
                held,
                close,
            } => {
                let m = MarketId(m);
                let price = self.price_ticks(m, off_bp);
                let side = if buy { Side::Buy } else { Side::Sell };
                let (to, mo) = (self.next_order, self.next_order + 1);
                self.next_order += 2;
                let t_leg = self.leg_for(user(taker), m, side, lots, close);
                let mut m_leg = self.leg_for(user(maker), m, side.opposite(), lots, close);
                if taker == maker && t_leg.side != PositionSide::Both && t_leg.side == m_leg.side {
                    // A self-trade on one hedge leg would buy and sell the same leg: open the
                    // maker's other one instead.
                    m_leg = self.leg_for(user(maker), m, side.opposite(), lots, false);
                    if m_leg.side == t_leg.side {
                        return;
                    }
                }
                if held {
                    let p = self.l.spec(m).price_decimal(perpx::domain::Price(price));
                    let mq = Qty(lots + lots / 2);
                    if self
                        .l
                        .pre_trade(
                            user(maker),
                            m,
                            side.opposite(),
                            mq,
                            p,
                            m_leg.side.closed_by(side.opposite()),
                            m_leg.side,
                            OrderId(mo),
                            Timestamp(0),
                            out,
                        )
                        .is_err()
                    {
                        return;
                    }
                    if self
                        .l
                        .pre_trade(
                            user(taker),
                            m,
                            side,
                            Qty(lots),
                            p,
                            t_leg.side.closed_by(side),
                            t_leg.side,
                            OrderId(to),
                            Timestamp(0),
                            out,
                        )
                        .is_err()
                    {
                        self.l
                            .release(user(maker), m, OrderId(mo), Timestamp(0), out)
                            .unwrap();
                        return;
                    }
                }
                let mut t = trade(
                    self.next_trade,
                    user(taker),
                    to,
                    side,
                    user(maker),
                    mo,
                    price,
                    lots,
                );
                t.maker.remaining = Qty(lots / 2);
                t.taker_position = t_leg.side;
                t.maker_position = m_leg.side;
                self.next_trade += 1;
                let leg_of = |u: AccountId| if u == user(taker) { t_leg } else { m_leg };
                let before: Vec<_> = self
                    .isolated_users_cross(m)
                    .into_iter()
                    .filter(|(u, _)| *u == user(taker) || *u == user(maker))
                    .map(|(u, w)| (u, w, self.l.position_qty(u, leg_of(u))))
                    .collect();
                self.l
                    .settle_fill(m, &t, FillKind::Normal, now, out)
                    .unwrap();
                // Isolation: an isolated side's cross wallet only gives the initial margin of
                // lots the fill opened (never below zero) and gets back what a close leaves.
                for (u, w, q) in before {
                    let after = self.l.wallet(u).unwrap();
                    let q2 = self.l.position_qty(u, leg_of(u));
                    let opened = q == 0 || q2.signum() != q.signum() || q2.abs() > q.abs();
                    if opened && q2 != 0 {
                        assert!(
                            after >= w.min(Decimal::ZERO),
                            "{u}: cross {w} → {after} opening isolated"
                        );
                    } else if taker != maker {
                        assert!(after >= w, "{u}: cross {w} → {after} on an isolated reduce");
                    }
                }
                // The taker was IOC: nothing of it rests.
                self.l
                    .release(user(taker), m, OrderId(to), Timestamp(0), out)
                    .unwrap();
            }
            Op::Mark { m, move_bp } => {
                let m = MarketId(m);
                let init = self.l.spec(m).initial_index_price;
                let new = (self.l.mark(m) * Decimal::from(10_000 + move_bp)
                    / Decimal::from(10_000))
                .round_dp(2)
                .clamp(init / Decimal::TWO, init * Decimal::TWO);
                let mut liq = Vec::new();
                self.l.set_mark(m, new, out, &mut liq);
                // Screening is exact: it reports exactly the liquidatable pools holding m
                // (cross accounts, isolated positions).
                for &p in &liq {
                    assert!(self.l.pool_liquidatable(p), "{p} reported");
                }
                for a in 0..USERS {
                    let id = user(a);
                    for side in SIDES {
                        let leg = Leg::new(m, side);
                        let pool = self.l.pool_of(id, leg);
                        if self.l.position_qty(id, leg) != 0 && !self.l.pool_in_liquidation(pool) {
                            assert_eq!(
                                self.l.pool_liquidatable(pool),
                                liq.contains(&pool),
                                "screening of {pool}"
                            );
                        }
                    }
                }
                for p in liq {
                    if self.l.pool_in_liquidation(p) || self.l.pool_liquidatable(p) {
                        self.liquidate(p);
                    }
                }
            }
            Op::Funding { m, rate_e8 } => {
                let m = MarketId(m);
                let mark = self.l.mark(m);
                let before = self.isolated_users_cross(m);
                let ev = self
                    .l
                    .settle_funding(m, Decimal::new(rate_e8, 8), mark, now, out);
                // Isolated positions pay funding from their own wallets.
                for (u, w) in before {
                    assert_eq!(
                        self.l.wallet(u).unwrap(),
                        w,
                        "{u}: funding of an isolated market touched the cross wallet"
                    );
                }
                let LedgerEvent::FundingSettled {
                    debits,
                    credits,
                    residue,
                    ..
                } = ev
                else {
                    panic!("settle_funding returns FundingSettled");
                };
                assert_eq!(debits.0 + credits.0 - residue.0, Decimal::ZERO);
                assert!(residue.0 >= Decimal::ZERO);
            }
            Op::Leverage { m, a, lev } => {
                let _ = self
                    .l
                    .set_leverage(user(a), MarketId(m), lev, Timestamp(0), out);
            }
            Op::Amend { m, a, lots, off_bp } => {
                let m = MarketId(m);
                let price = self.price_ticks(m, off_bp);
                let p = self.l.spec(m).price_decimal(perpx::domain::Price(price));
                if let Some(o) = self.l.open_orders(user(a), m).first().copied() {
                    let before = self.l.state_hash();
                    if self
                        .l
                        .amend(user(a), m, o.order_id, Qty(lots), p, Timestamp(0), out)
                        .is_err()
                    {
                        assert_eq!(
                            self.l.state_hash(),
                            before,
                            "a refused amend changes nothing"
                        );
                    }
                }
            }
            Op::Mode { m, a, isolated } => {
                let mode = if isolated {
                    MarginMode::Isolated
                } else {
                    MarginMode::Cross
                };
                let before = self.l.state_hash();
                // Time-less events take the batch time on replay: Timestamp(0) here, as above.
                match self
                    .l
                    .set_margin_mode(user(a), MarketId(m), mode, Timestamp(0), out)
                {
                    Ok(_) => assert_eq!(self.l.margin_mode(user(a), MarketId(m)), mode),
                    Err(_) => assert_eq!(
                        self.l.state_hash(),
                        before,
                        "a refused switch changes nothing"
                    ),
                }
            }
            Op::IsoMargin { m, a, cents, leg } => {
                let id = user(a);
                let legs = self.l.legs(id);
                let leg = Leg::new(MarketId(m), legs[usize::from(leg) % legs.len()]);
                let before = self.l.state_hash();
                let (cross, iso) = (self.l.wallet(id).unwrap(), self.l.isolated_wallet(id, leg));
                let amount = Decimal::new(cents, 2);
                match self
                    .l
                    .move_isolated_margin(id, leg, amount, Timestamp(0), out)
                {
                    Ok(after) => {
                        assert_eq!(after, iso + amount);
                        assert_eq!(self.l.wallet(id).unwrap(), cross - amount);
                        assert!(
                            cents > 0 || after > Decimal::ZERO,
                            "a reduction leaves something"
                        );
                        assert!(
                            cents < 0
                                || !self.l.pool_liquidatable(MarginPool::Cross(id))
                                || cross - amount >= Decimal::ZERO
                        );
                        // A reduction leaves the position above its maintenance.
                        assert!(
                            cents > 0 || !self.l.pool_liquidatable(MarginPool::Isolated(id, leg))
                        );
                    }
                    Err(_) => assert_eq!(
                        self.l.state_hash(),
                        before,
                        "a refused transfer changes nothing"
                    ),
                }
            }
            Op::PositionMode { a, hedge } => {
                let mode = if hedge {
                    PositionMode::Hedge
                } else {
                    PositionMode::OneWay
                };
                let before = self.l.state_hash();
                match self.l.set_position_mode(user(a), mode, Timestamp(0), out) {
                    Ok(_) => assert_eq!(self.l.position_mode(user(a)), mode),
                    Err(_) => assert_eq!(
                        self.l.state_hash(),
                        before,
                        "a refused position-mode switch changes nothing"
                    ),
                }
            }
            Op::Cancel { m, a } => {
                let m = MarketId(m);
                if let Some(o) = self.l.open_orders(user(a), m).first().copied() {
                    assert!(self
                        .l
                        .release(user(a), m, o.order_id, Timestamp(0), out)
                        .unwrap());
                }
            }
        }
    }

    /// Drive docs/RULES.md §6 to completion, simulating the book: a liquidation order fills half
    /// its quantity at its limit against the first other user.
    fn liquidate(&mut self, pool: MarginPool) {
        let acc = pool.account();
        self.l
            .begin_liquidation(pool, Timestamp(0), &mut self.events)
            .unwrap();
        let mut pr = LiquidationProgress::default();
        for _ in 0..32 {
            // An isolated pool's liquidation never takes from the cross wallet.
            let cross = self.l.wallet(acc).unwrap();
            let more = self.liquidation_step(pool, &mut pr);
            if pool.isolated_market().is_some() {
                assert!(
                    self.l.wallet(acc).unwrap() >= cross,
                    "{pool}: cross wallet fell"
                );
            }
            if !more {
                return;
            }
        }
        panic!("liquidation of {pool} did not finish");
    }

    /// One step of `pool`'s liquidation, the book simulated.
    /// Whether the run goes on.
    fn liquidation_step(&mut self, pool: MarginPool, pr: &mut LiquidationProgress) -> bool {
        let acc = pool.account();
        {
            let step = self.l.liquidation_step(pool, pr).unwrap();
            let out = &mut self.events;
            match step {
                LiquidationAction::CancelOrders(list) => {
                    for (m, o) in list {
                        self.l.release(acc, m, o, Timestamp(0), out).unwrap();
                    }
                    pr.orders_cancelled = true;
                }
                LiquidationAction::SendOrder {
                    leg,
                    side,
                    qty,
                    limit,
                    ..
                } => {
                    let maker = (0..USERS)
                        .map(user)
                        .find(|&u| u != acc)
                        .expect("several users");
                    if qty / 2 > 0 {
                        let mut t =
                            trade(self.next_trade, acc, 0, side, maker, 0, limit.0, qty / 2);
                        t.taker_position = leg.side;
                        // The maker's resting order opens (or grows) its side.
                        t.maker_position =
                            leg_for(&self.l, maker, leg.market, side.opposite(), 0, false).side;
                        self.next_trade += 1;
                        self.l
                            .settle_fill(
                                leg.market,
                                &t,
                                FillKind::Liquidation,
                                Timestamp(self.time),
                                out,
                            )
                            .unwrap();
                    }
                    pr.sent_to_book.push(leg);
                }
                LiquidationAction::Takeover { leg, qty, price } => {
                    self.l
                        .insurance_takeover(acc, leg, qty, price, Timestamp(0), out)
                        .unwrap();
                }
                LiquidationAction::Adl {
                    leg,
                    price,
                    counterparties,
                } => {
                    self.l
                        .auto_deleverage(acc, leg, price, &counterparties, Timestamp(0), out)
                        .unwrap();
                }
                LiquidationAction::ClearNegative { amount } => {
                    let paid = self
                        .l
                        .clear_negative(pool, amount.0, Timestamp(0), out)
                        .unwrap();
                    assert!(
                        paid > Decimal::ZERO,
                        "the planner only asks for what the fund can pay"
                    );
                }
                LiquidationAction::Wait => {
                    // The fund cannot pay the rest now: the pool stays in liquidation.
                    assert_eq!(self.l.insurance_available(), Decimal::ZERO);
                    assert!(self.l.pool_in_liquidation(pool));
                    self.check("liquidation waits");
                    return false;
                }
                LiquidationAction::Done => {
                    self.l.end_liquidation(pool, Timestamp(0), out).unwrap();
                    // Invariant 5: liquidation leaves no negative wallet behind when flat,
                    // and a healthy pool otherwise.
                    assert!(!self.l.pool_owes(pool), "{pool} left flat and owing");
                    assert!(!self.l.pool_liquidatable(pool), "{pool} left liquidatable");
                    self.check("liquidation done");
                    return false;
                }
            }
            self.check("liquidation step");
        }
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_after_every_step(ops in proptest::collection::vec(op(), 1..80)) {
        let mut w = World::new();
        w.check("start");
        for op in &ops {
            w.step(op);
            w.check(&format!("{op:?}"));
        }
        // Replay: the same events through `apply` rebuild the same state.
        let mut r = Ledger::new(markets(), 8);
        for e in &w.events {
            r.apply(e, Timestamp(0));
        }
        prop_assert_eq!(r.state_hash(), w.l.state_hash());
        r.check_invariants().unwrap();
    }
}

#[test]
fn state_hash_ignores_creation_order_and_caches() {
    // Same accounts and flows, opened in a different order: same hash.
    let build = |ids: &[u64]| {
        let mut l = Ledger::new(markets(), 8);
        accounts(&mut l, ids, "1000");
        let mut out = Vec::new();
        fill(&mut l, BTC, 100, Side::Buy, 101, 500_000, 10, &mut out);
        l
    };
    let a = build(&[100, 101]);
    let mut b = build(&[101, 100]);
    assert_eq!(a.state_hash(), b.state_hash());
    // Reading (which fills caches) does not change it; a mark does.
    let h = b.state_hash();
    b.account_view(AccountId(100)).unwrap();
    assert_eq!(b.state_hash(), h);
    b.set_mark(BTC, d("50001"), &mut Vec::new(), &mut Vec::new());
    assert_ne!(b.state_hash(), h);
}
