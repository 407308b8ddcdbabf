//! A pure stand-in for the AccountActor and the MarketActors: the account side of the order
//! path (`engine::accounts::Accounts`, the very R1/R2 code the actor calls), the market
//! engines, and one journal [`Batch`] per command, built exactly as the actor builds them,
//! without threads. Shared by `tests/replay.rs`, `tests/recovery.rs`, `tests/accounts_model.rs`
//! and `benches/recovery.rs`.
#![allow(dead_code)]

use perpx::config::Config;
use perpx::domain::{
    AccountId, CloseReason, OrderId, OrderRequest, OrderType, Price, Qty, Reject, Side, Stp,
    TimeInForce, Timestamp, TriggerBy,
};
use perpx::domain::{OrderTerms, PositionSide, TpSl};
use perpx::engine::accounts::{Accounts, Placed, Settled, Ticket};
use perpx::engine::market::{MarketEngine, MarketEvent};
use perpx::engine::orders::OrderStore;
use perpx::engine::Ledger;
use perpx::persistence::codec::Batch;
use perpx::risk::MarketId;
use rust_decimal::Decimal;

/// The shipped markets.
pub fn config() -> Config {
    Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/markets.toml"
    )))
    .expect("shipped markets.toml loads")
}

/// One exchange's pure state plus a clock.
pub struct Sim {
    pub accounts: Accounts,
    pub engines: Vec<MarketEngine>,
    pub now: Timestamp,
    next_account: u64,
    next_client_id: u64,
}

/// A new order as the API would pass it.
#[derive(Clone, Copy, Debug)]
pub struct Order {
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub price: Option<Price>,
    pub trigger: Option<Price>,
    pub qty: Qty,
    pub reduce_only: bool,
    pub position_side: PositionSide,
    /// A close-position stop / take-profit (docs/RULES.md §2a): `qty` is ignored.
    pub close_position: bool,
    /// A take-profit / stop-loss attached to the order.
    pub attached: TpSl,
}

impl Order {
    pub fn limit(side: Side, price: i64, qty: i64) -> Order {
        Order {
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
            price: Some(Price(price)),
            trigger: None,
            qty: Qty(qty),
            reduce_only: false,
            position_side: PositionSide::Both,
            close_position: false,
            attached: TpSl::default(),
        }
    }

    /// The same order on hedge-mode leg `leg`.
    pub fn on(self, leg: PositionSide) -> Order {
        Order {
            position_side: leg,
            ..self
        }
    }
}

impl Sim {
    pub fn new(config: &Config) -> Sim {
        Sim {
            accounts: Accounts::new(
                Ledger::new(config.markets.clone(), config.exchange.money_scale),
                OrderStore::new(config.markets.len()),
            ),
            engines: config
                .markets
                .iter()
                .cloned()
                .map(MarketEngine::new)
                .collect(),
            now: Timestamp(1_700_000_000_000),
            next_account: AccountId::FIRST_USER,
            next_client_id: 1,
        }
    }

    /// Open an account and deposit `amount`: two ledger batches.
    pub fn open_funded(&mut self, amount: Decimal) -> (AccountId, Vec<Batch>) {
        let id = AccountId(self.next_account);
        self.next_account += 1;
        let ev = self.accounts.open_account(id, self.now).expect("fresh id");
        let first = Batch::ledger(ev, self.now);
        let (_, ev) = self
            .accounts
            .deposit(id, amount, self.now)
            .expect("positive deposit");
        (id, vec![first, Batch::ledger(ev, self.now)])
    }

    /// The batch the actor would journal for a settled command, if any.
    fn batch(
        m: MarketId,
        mut s: Settled,
        events: Vec<MarketEvent>,
        now: Timestamp,
    ) -> Option<Batch> {
        assert!(
            s.cancel.is_empty() && s.liquidate.is_empty(),
            "no liquidations in the simulator"
        );
        if !s.journal {
            return None;
        }
        let mut b = Batch::new(
            m,
            std::mem::take(&mut s.r1),
            events,
            std::mem::take(&mut s.r2),
            now,
        );
        b.client_ids = std::mem::take(&mut s.client_ids);
        Some(b)
    }

    /// R1, the market, R2: the batch the actor would journal (or `None`) and the answer.
    pub fn try_place(
        &mut self,
        m: MarketId,
        account: AccountId,
        o: Order,
    ) -> (Option<Batch>, Result<(), Reject>) {
        self.now.0 += 7;
        let terms = match (o.close_position, o.trigger) {
            (true, Some(trigger)) => OrderTerms::close_position(
                o.side,
                o.order_type,
                trigger,
                TriggerBy::Last,
                o.position_side,
            ),
            _ => OrderTerms {
                position_side: o.position_side,
                side: o.side,
                order_type: o.order_type,
                tif: o.tif,
                price: o.price,
                qty: o.qty,
                reduce_only: o.reduce_only,
                stp: Stp::ExpireMaker,
                trigger_price: o.trigger,
                trigger_by: TriggerBy::Last,
                close_position: false,
            },
        };
        let req = OrderRequest {
            terms,
            client_order_id: Some(format!("c{}", self.next_client_id)),
            attached: o.attached,
        };
        self.next_client_id += 1;
        let (place, ticket) = match self.accounts.place(account, m, &req, self.now) {
            Err(e) => return (None, Err(e)),
            Ok(Placed::Retry(_)) => return (None, Ok(())),
            Ok(Placed::Send(p, t)) => (p, t),
        };
        let mut events = Vec::new();
        let result = self.engines[m.index()]
            .place(place, self.now, &mut events)
            .map(drop);
        let s = self
            .accounts
            .settle(m, &events, Ticket::Place(ticket), result, self.now);
        let answer = s.answer.clone().map(drop);
        (Sim::batch(m, s, events, self.now), answer)
    }

    /// R1, the market, R2: the batch the actor would journal, or `None` if refused.
    pub fn place(&mut self, m: MarketId, account: AccountId, o: Order) -> Option<Batch> {
        self.try_place(m, account, o).0
    }

    pub fn cancel(&mut self, m: MarketId, account: AccountId, id: OrderId) -> Option<Batch> {
        self.now.0 += 3;
        self.accounts.cancel(account, m, id).ok()?;
        let mut events = Vec::new();
        let result = self.engines[m.index()]
            .cancel(Some(account), id, CloseReason::User, self.now, &mut events)
            .map(drop);
        let ticket = Ticket::Cancel {
            account,
            order_id: id,
        };
        let s = self.accounts.settle(m, &events, ticket, result, self.now);
        Sim::batch(m, s, events, self.now)
    }

    /// An amend; `total` is the new total quantity (API.md `PATCH`).
    pub fn amend(
        &mut self,
        m: MarketId,
        account: AccountId,
        id: OrderId,
        price: Option<Price>,
        total: Option<Qty>,
    ) -> Option<Batch> {
        self.amend_with(m, account, id, price, total, None)
    }

    /// An amend, with a new trigger price for an order waiting for its trigger.
    pub fn amend_with(
        &mut self,
        m: MarketId,
        account: AccountId,
        id: OrderId,
        price: Option<Price>,
        total: Option<Qty>,
        trigger: Option<Price>,
    ) -> Option<Batch> {
        self.now.0 += 5;
        let (a, ticket) = self
            .accounts
            .amend(account, m, id, price, total, trigger)
            .ok()?;
        let mut events = Vec::new();
        let e = &mut self.engines[m.index()];
        let result = if a.trigger.is_some() {
            e.amend_trigger(
                a.account,
                a.order_id,
                a.trigger,
                a.price,
                a.total,
                self.now,
                &mut events,
            )
        } else {
            e.amend(
                a.account,
                a.order_id,
                a.price,
                a.total,
                self.now,
                &mut events,
            )
        };
        let s = self
            .accounts
            .settle(m, &events, Ticket::Amend(ticket), result, self.now);
        Sim::batch(m, s, events, self.now)
    }

    /// A mark update: the market's batch (triggers may fire) and the ledger's.
    pub fn set_mark(&mut self, m: MarketId, mark: Decimal) -> Vec<Batch> {
        self.now.0 += 1000;
        let mut events = Vec::new();
        self.engines[m.index()].set_mark(mark, false, self.now, &mut events);
        let s = self
            .accounts
            .settle(m, &events, Ticket::Internal, Ok(()), self.now);
        let mut out: Vec<Batch> = Sim::batch(m, s, events, self.now).into_iter().collect();
        let (ev, _) = self.accounts.set_mark(m, mark);
        out.push(Batch::ledger(ev, self.now));
        out
    }

    /// Every open order of every market.
    pub fn open_orders(&self) -> Vec<(MarketId, AccountId, OrderId)> {
        let mut v = Vec::new();
        for (i, e) in self.engines.iter().enumerate() {
            for a in 0..64 {
                let a = AccountId(AccountId::FIRST_USER + a);
                for id in e.open_order_ids(a) {
                    v.push((MarketId(i as u16), a, id));
                }
            }
        }
        v
    }
}

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random workload around each market's initial price: limits (some post-only, IOC,
/// reduce-only), market orders, stops, cancels, amends and mark moves. Returns every batch in
/// journal order.
pub fn random_batches(sim: &mut Sim, seed: u64, accounts: usize, commands: usize) -> Vec<Batch> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..accounts {
        let (id, b) = sim.open_funded(Decimal::from(10_000_000));
        ids.push(id);
        out.extend(b);
    }
    out.extend(random_commands(sim, &mut rng, &ids, commands));
    out
}

/// `commands` random commands by `ids` (see [`random_batches`]).
pub fn random_commands(
    sim: &mut Sim,
    rng: &mut Rng,
    ids: &[AccountId],
    commands: usize,
) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut open: Vec<(MarketId, AccountId, OrderId)> = sim.open_orders();
    let markets = sim.engines.len() as u64;
    for _ in 0..commands {
        let m = MarketId(rng.below(markets.min(2)) as u16);
        let a = ids[rng.below(ids.len() as u64) as usize];
        let spec = sim.engines[m.index()].spec().clone();
        let mid = (spec.initial_index_price / spec.tick_size)
            .trunc()
            .to_string()
            .parse::<i64>()
            .expect("integral ticks");
        let price = mid + rng.below(41) as i64 - 20;
        let side = if rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let qty = spec.min_quantity.0.max(1) * (1 + rng.below(5) as i64);
        let b = match rng.below(20) {
            0..=9 => {
                let mut o = Order::limit(side, price, qty);
                match rng.below(10) {
                    0 => o.tif = TimeInForce::PostOnly,
                    1 => o.tif = TimeInForce::Ioc,
                    2 => o.reduce_only = true,
                    _ => {}
                }
                sim.place(m, a, o)
            }
            10 => sim.place(
                m,
                a,
                Order {
                    order_type: OrderType::Market,
                    price: None,
                    ..Order::limit(side, price, qty)
                },
            ),
            11 => {
                let trigger = if side == Side::Buy {
                    price + 30
                } else {
                    price - 30
                };
                sim.place(
                    m,
                    a,
                    Order {
                        order_type: OrderType::StopMarket,
                        price: None,
                        trigger: Some(Price(trigger)),
                        // Half of them close whatever the position is when they fire.
                        close_position: rng.below(2) == 0,
                        ..Order::limit(side, price, qty)
                    },
                )
            }
            19 => {
                // An entry with a take-profit and/or a stop-loss, 25 ticks either side.
                let (up, down) = (Some(Price(price + 25)), Some(Price(price - 25)));
                let (tp, sl) = if side == Side::Buy {
                    (up, down)
                } else {
                    (down, up)
                };
                let attached = TpSl {
                    take_profit: tp.filter(|_| rng.below(4) != 0),
                    stop_loss: sl.filter(|_| rng.below(4) != 0),
                    trigger_by: TriggerBy::Last,
                };
                sim.place(
                    m,
                    a,
                    Order {
                        attached,
                        ..Order::limit(side, price, qty)
                    },
                )
            }
            12..=15 if !open.is_empty() => {
                let (m, a, id) = open.swap_remove(rng.below(open.len() as u64) as usize);
                sim.cancel(m, a, id)
            }
            16 | 17 if !open.is_empty() => {
                let (m, a, id) = open[rng.below(open.len() as u64) as usize];
                match rng.below(3) {
                    0 => sim.amend(m, a, id, Some(Price(price)), None),
                    1 => sim.amend(m, a, id, None, Some(Qty(1))),
                    // A new trigger (refused unless the order waits for its trigger).
                    _ => sim.amend_with(m, a, id, None, None, Some(Price(price + 30))),
                }
            }
            18 => {
                let delta = Decimal::from(rng.below(41) as i64 - 20) * spec.tick_size;
                out.extend(sim.set_mark(m, spec.initial_index_price + delta));
                None
            }
            _ => None,
        };
        if let Some(b) = b {
            for e in &b.market_events {
                if let MarketEvent::Accepted(x) = e {
                    open.push((m, x.account, x.order_id));
                }
            }
            out.push(b);
        }
    }
    out
}
