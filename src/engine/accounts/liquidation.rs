//! The liquidation workflow's account side (docs/RULES.md §6): one call plans the next step from
//! the ledger's current state and, when the step is ledger-only (begin, insurance takeover,
//! ADL, clearing a negative wallet, end), executes it in the same call, so a plan is never
//! executed against a state it was not made for (an ADL ranking, a counterparty's position).
//! Steps that need a book (cancel the account's orders, the liquidation order) are returned
//! for the shell to send; their outcome comes back through [`Accounts::settle`].
//!
//! # Invariants
//! - The workflow runs per [`MarginPool`]: an account's cross pool, or one isolated position.
//! - A pool enters liquidation only if it is liquidatable (or flat with a negative wallet)
//!   when the workflow starts, and leaves only when the planner finds it healthy, or flat
//!   with a wallet ≥ 0.
//! - A step that cannot be executed is an error for this call only: the caller re-plans from
//!   the state as it is (nothing was applied).

use rust_decimal::Decimal;

use super::{observe, Accounts};
use crate::domain::MarketId;
use crate::domain::{
    AccountId, Leg, MarginPool, Order, OrderId, OrderTerms, OrderType, Qty, Reject, Stp,
    TimeInForce, Timestamp, TriggerBy,
};
use crate::engine::market::PlaceOrder;
use crate::engine::LedgerEvent;
use crate::risk::liquidation::{LiquidationAction, LiquidationProgress};

/// What one liquidation step did or asks the shell to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiqStep {
    /// Ledger work done: journal `events`. `moved` are positions changed outside the book
    /// (`(market, account, signed lots)`: the markets' position caches follow); `liquidate`
    /// are pools this step left flat with a negative wallet (now in liquidation too).
    Applied {
        events: Vec<LedgerEvent>,
        moved: Vec<(MarketId, AccountId, i64)>,
        liquidate: Vec<MarginPool>,
        /// A takeover or ADL happened (for metrics).
        adl: bool,
    },
    /// Cancel these open orders per market (reason `liquidation`), then set
    /// `orders_cancelled` in the progress.
    Cancel(Vec<(MarketId, Vec<OrderId>)>),
    /// Send this liquidation order to its market with priority, then add the leg to
    /// `sent_to_book` (whatever the book did with it).
    Send(Leg, PlaceOrder),
    /// A negative wallet is left that the insurance fund cannot pay now: stay in liquidation
    /// and try again later.
    Wait,
    /// The workflow is over; journal `events` (empty when the account needed none).
    Finished { events: Vec<LedgerEvent> },
}

impl LiqStep {
    /// Ledger-only work that moved no position outside the book.
    fn ledger_only(events: Vec<LedgerEvent>) -> LiqStep {
        LiqStep::Applied {
            events,
            moved: Vec::new(),
            liquidate: Vec::new(),
            adl: false,
        }
    }
}

impl Accounts {
    /// The next step of `pool`'s liquidation, given what the caller did so far.
    pub fn liquidation_step(
        &mut self,
        pool: MarginPool,
        progress: &LiquidationProgress,
        now: Timestamp,
    ) -> Result<LiqStep, Reject> {
        if !self.ledger.pool_in_liquidation(pool) {
            return self.begin_liquidation(pool, now);
        }
        let account = pool.account();
        let mut ev = Vec::new();
        let step = match self.ledger.liquidation_step(pool, progress)? {
            LiquidationAction::CancelOrders(orders) => LiqStep::Cancel(by_market(orders)),
            LiquidationAction::SendOrder {
                leg,
                side,
                qty,
                limit,
                ..
            } => LiqStep::Send(
                leg,
                PlaceOrder {
                    order: Order {
                        order_id: self.orders.assign_id(leg.market),
                        account,
                        terms: OrderTerms {
                            side,
                            order_type: OrderType::Limit,
                            tif: TimeInForce::Ioc,
                            price: Some(limit),
                            trigger_price: None,
                            trigger_by: TriggerBy::Last,
                            qty: Qty(qty),
                            reduce_only: true,
                            stp: Stp::None,
                            position_side: leg.side,
                            close_position: false,
                        },
                        liquidation: true,
                    },
                    protect: None,
                    linked: Default::default(),
                },
            ),
            LiquidationAction::Takeover { leg, qty, price } => {
                self.ledger
                    .insurance_takeover(account, leg, qty, price, now, &mut ev)?;
                let market = leg.market;
                LiqStep::Applied {
                    events: ev,
                    moved: vec![(market, account, -qty), (market, AccountId::INSURANCE, qty)],
                    liquidate: Vec::new(),
                    adl: false,
                }
            }
            LiquidationAction::Adl {
                leg,
                price,
                counterparties,
            } => self.auto_deleverage(account, leg, price, &counterparties, now)?,
            LiquidationAction::ClearNegative { amount } => {
                self.ledger.clear_negative(pool, amount.0, now, &mut ev)?;
                LiqStep::ledger_only(ev)
            }
            LiquidationAction::Wait => LiqStep::Wait,
            LiquidationAction::Done => {
                self.ledger.end_liquidation(pool, now, &mut ev)?;
                LiqStep::Finished { events: ev }
            }
        };
        if let LiqStep::Applied { events, .. } | LiqStep::Finished { events } = &step {
            observe(&mut self.liquidating, &mut self.epochs, events);
        }
        Ok(step)
    }

    /// Start the workflow if the pool needs it: liquidatable, or flat with a negative
    /// wallet; else it is finished before it began.
    fn begin_liquidation(&mut self, pool: MarginPool, now: Timestamp) -> Result<LiqStep, Reject> {
        let mut ev = Vec::new();
        if !(self.ledger.pool_liquidatable(pool) || self.ledger.pool_owes(pool)) {
            return Ok(LiqStep::Finished { events: ev });
        }
        self.ledger.begin_liquidation(pool, now, &mut ev)?;
        observe(&mut self.liquidating, &mut self.epochs, &ev);
        Ok(LiqStep::ledger_only(ev))
    }

    /// Close the account's position on `leg` against the ranked `counterparties` at
    /// `price`. Counterparties left flat and owing enter liquidation too.
    fn auto_deleverage(
        &mut self,
        account: AccountId,
        leg: Leg,
        price: Decimal,
        counterparties: &[(AccountId, i64)],
        now: Timestamp,
    ) -> Result<LiqStep, Reject> {
        let mut ev = Vec::new();
        let market = leg.market;
        let sign = self.ledger.position_qty(account, leg).signum();
        self.ledger
            .auto_deleverage(account, leg, price, counterparties, now, &mut ev)?;
        let mut moved: Vec<_> = counterparties
            .iter()
            .map(|&(cp, lots)| (market, cp, sign * lots))
            .collect();
        let total: i64 = counterparties.iter().map(|c| c.1).sum();
        moved.push((market, account, -sign * total));
        let liquidate = super::settle::started_pools(&ev);
        Ok(LiqStep::Applied {
            events: ev,
            moved,
            liquidate,
            adl: true,
        })
    }
}

/// Orders to cancel, grouped by market in first-seen order.
fn by_market(orders: Vec<(MarketId, OrderId)>) -> Vec<(MarketId, Vec<OrderId>)> {
    let mut grouped: Vec<(MarketId, Vec<OrderId>)> = Vec::new();
    for (m, id) in orders {
        match grouped.iter_mut().find(|(gm, _)| *gm == m) {
            Some((_, ids)) => ids.push(id),
            None => grouped.push((m, vec![id])),
        }
    }
    grouped
}
