//! The liquidation workflow (RULES.md §6): the RiskActor's driver ([`liquidate`]) asks the
//! ledger's planner for the next step and has the AccountActor carry it out ([`handle`]): each
//! step is applied to the ledger and, where it touches a book or positions, sent through the
//! market like any other command.

use actix::prelude::*;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

use super::account::AccountActor;
use super::messages::{LiquidationCmd, MarketCmd, MarketCmdKind, Pending, PriorityCmd, Reply};
use crate::domain::{
    AccountId, CloseReason, OrderId, OrderType, Price, Qty, Reject, Side, Stp, TimeInForce,
    TriggerBy,
};
use crate::engine::market::PlaceOrder;
use crate::engine::LedgerEvent;
use crate::risk::liquidation::{LiquidationAction, LiquidationProgress};
use crate::risk::MarketId;
use crate::telemetry::RiskMetrics;

pub(crate) fn handle(a: &mut AccountActor, c: LiquidationCmd) {
    match c {
        LiquidationCmd::Begin { account, reply } => {
            ledger_step(a, reply, |l, ev| l.begin_liquidation(account, ev));
        }
        LiquidationCmd::Next {
            account,
            progress,
            reply,
        } => {
            let _ = reply.send(a.ledger().liquidation_step(account, &progress));
        }
        LiquidationCmd::CancelOrders {
            account,
            orders,
            reply,
        } => cancel_orders(a, account, orders, reply),
        LiquidationCmd::SendOrder {
            account,
            market,
            side,
            qty,
            limit,
            reply,
        } => send_order(a, account, market, side, qty, limit, reply),
        LiquidationCmd::Takeover {
            account,
            market,
            qty,
            price,
            reply,
        } => {
            let moved = [(account, -qty), (AccountId::INSURANCE, qty)];
            if ledger_step(a, reply, |l, ev| {
                l.insurance_takeover(account, market, qty, price, ev)
            }) {
                adjust(a, market, &moved);
            }
        }
        LiquidationCmd::Adl {
            account,
            market,
            price,
            counterparties,
            reply,
        } => {
            let sign = a.ledger().position_qty(account, market).signum();
            let mut moved: Vec<(AccountId, i64)> = counterparties
                .iter()
                .map(|&(cp, lots)| (cp, sign * lots))
                .collect();
            moved.push((
                account,
                -sign * counterparties.iter().map(|c| c.1).sum::<i64>(),
            ));
            if ledger_step(a, reply, |l, ev| {
                l.auto_deleverage(account, market, price, &counterparties, ev)
            }) {
                adjust(a, market, &moved);
            }
        }
        LiquidationCmd::ClearNegative { account, reply } => {
            ledger_step(a, reply, |l, ev| l.clear_negative(account, ev));
        }
        LiquidationCmd::End { account, reply } => {
            ledger_step(a, reply, |l, ev| l.end_liquidation(account, ev));
        }
    }
}

/// Step 1: cancel the orders (reason `liquidation`) through each market, ahead of its queue.
fn cancel_orders(
    a: &mut AccountActor,
    account: AccountId,
    orders: Vec<(MarketId, OrderId)>,
    reply: Reply<()>,
) {
    let mut by_market: FxHashMap<MarketId, Vec<OrderId>> = FxHashMap::default();
    for (m, id) in orders {
        by_market.entry(m).or_default().push(id);
    }
    let mut waits = Vec::new();
    for (m, ids) in by_market {
        let Some(addr) = a.market_addr(m) else {
            continue;
        };
        let (done, rx) = oneshot::channel();
        addr.do_send(PriorityCmd(MarketCmd {
            kind: MarketCmdKind::CancelMany {
                account,
                ids,
                reason: CloseReason::Liquidation,
            },
            pending: Pending::Liquidation { done },
        }));
        waits.push(rx);
    }
    actix::spawn(async move {
        for rx in waits {
            let _ = rx.await;
        }
        let _ = reply.send(Ok(()));
    });
}

/// Step 2: the reduce-only IOC liquidation order at the bankruptcy limit, with priority,
/// exempt from STP and margin.
fn send_order(
    a: &mut AccountActor,
    account: AccountId,
    market: MarketId,
    side: Side,
    qty: Qty,
    limit: Price,
    reply: Reply<()>,
) {
    let Some(addr) = a.market_addr(market) else {
        let _ = reply.send(Err(Reject::UnknownMarket));
        return;
    };
    let id = a.orders_mut().assign_id(market);
    let (done, rx) = oneshot::channel();
    addr.do_send(PriorityCmd(MarketCmd {
        kind: MarketCmdKind::Place(PlaceOrder {
            id,
            account,
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
            price: Some(limit),
            qty,
            reduce_only: true,
            stp: Stp::None,
            trigger_price: None,
            trigger_by: TriggerBy::Last,
            liquidation: true,
        }),
        pending: Pending::Liquidation { done },
    }));
    actix::spawn(async move {
        let r = rx.await.unwrap_or(Err(Reject::Overloaded));
        // Nothing left to reduce is not a failure: the planner moves on.
        let _ = reply.send(r.or_else(|e| {
            if e == Reject::ReduceOnlyRejected {
                Ok(())
            } else {
                Err(e)
            }
        }));
    });
}

/// Apply a ledger-only step, journal it, reply when durable. Returns whether it was applied.
fn ledger_step(
    a: &mut AccountActor,
    reply: Reply<()>,
    step: impl FnOnce(&mut crate::engine::Ledger, &mut Vec<LedgerEvent>) -> Result<(), Reject>,
) -> bool {
    let mut ev = Vec::new();
    match step(a.ledger_mut(), &mut ev) {
        Err(e) => {
            let _ = reply.send(Err(e));
            false
        }
        Ok(()) => {
            a.commit_ledger(ev, move |r| {
                let _ = reply.send(r);
            });
            true
        }
    }
}

/// Tell the market its position cache moved outside the book.
fn adjust(a: &AccountActor, market: MarketId, moved: &[(AccountId, i64)]) {
    let Some(addr) = a.market_addr(market) else {
        return;
    };
    for &(account, delta) in moved {
        addr.do_send(PriorityCmd(MarketCmd {
            kind: MarketCmdKind::AdjustPosition {
                account,
                delta: Qty(delta),
            },
            pending: Pending::Internal,
        }));
    }
}

// ------------------------------------------------------------ the RiskActor's driver

/// Ask the AccountActor to do one liquidation command and wait for it.
async fn ask<T>(
    acc: &Addr<AccountActor>,
    make: impl FnOnce(Reply<T>) -> LiquidationCmd,
) -> Result<T, Reject> {
    let (tx, rx) = oneshot::channel();
    acc.do_send(make(tx));
    rx.await.unwrap_or(Err(Reject::Overloaded))
}

/// RULES.md §6, step by step, until the ledger's planner says `Done`. Returns the step count
/// and the markets whose position was liquidated (each counted once in
/// `perpx_liquidations_total`; each ADL step in `perpx_adl_total`).
pub(crate) async fn liquidate(
    acc: Addr<AccountActor>,
    account: AccountId,
    metrics: Vec<RiskMetrics>,
) -> Result<(u32, Vec<MarketId>), Reject> {
    ask(&acc, |reply| LiquidationCmd::Begin { account, reply }).await?;
    let mut progress = LiquidationProgress::default();
    let mut steps = 0;
    let mut touched: Vec<MarketId> = Vec::new();
    let symbol = |m: MarketId| metrics.get(m.index()).map_or("?", |mm| mm.symbol.as_str());
    let mut touch = |m: MarketId| {
        if !touched.contains(&m) {
            touched.push(m);
            if let Some(mm) = metrics.get(m.index()) {
                mm.liquidations.increment(1);
                tracing::warn!(account = account.0, market = %mm.symbol, "liquidating position");
            }
        }
    };
    loop {
        steps += 1;
        let action = ask(&acc, |reply| LiquidationCmd::Next {
            account,
            progress: progress.clone(),
            reply,
        })
        .await?;
        match action {
            LiquidationAction::CancelOrders(orders) => {
                ask(&acc, |reply| LiquidationCmd::CancelOrders {
                    account,
                    orders,
                    reply,
                })
                .await?;
                progress.orders_cancelled = true;
            }
            LiquidationAction::SendOrder {
                market,
                side,
                qty,
                limit,
                ..
            } => {
                touch(market);
                let qty = Qty(qty);
                ask(&acc, |reply| LiquidationCmd::SendOrder {
                    account,
                    market,
                    side,
                    qty,
                    limit,
                    reply,
                })
                .await?;
                progress.sent_to_book.push(market);
            }
            LiquidationAction::Takeover { market, qty, price } => {
                touch(market);
                tracing::warn!(
                    account = account.0,
                    market = symbol(market),
                    "liquidation: insurance fund takes over"
                );
                ask(&acc, |reply| LiquidationCmd::Takeover {
                    account,
                    market,
                    qty,
                    price,
                    reply,
                })
                .await?;
            }
            LiquidationAction::Adl {
                market,
                price,
                counterparties,
            } => {
                touch(market);
                if let Some(mm) = metrics.get(market.index()) {
                    mm.adl.increment(1);
                }
                tracing::warn!(
                    account = account.0,
                    market = symbol(market),
                    counterparties = counterparties.len(),
                    "liquidation: auto-deleveraging"
                );
                ask(&acc, |reply| LiquidationCmd::Adl {
                    account,
                    market,
                    price,
                    counterparties,
                    reply,
                })
                .await?;
            }
            LiquidationAction::ClearNegative { .. } => {
                ask(&acc, |reply| LiquidationCmd::ClearNegative {
                    account,
                    reply,
                })
                .await?;
            }
            LiquidationAction::Done => {
                ask(&acc, |reply| LiquidationCmd::End { account, reply }).await?;
                return Ok((steps, touched));
            }
        }
        // A planner that never finishes would be a bug; stop rather than spin.
        if steps > 10_000 {
            return Err(Reject::InvalidRequest(format!(
                "liquidation of {account} did not converge"
            )));
        }
    }
}
