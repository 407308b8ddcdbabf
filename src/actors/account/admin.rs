//! The AccountActor's other commands: leverage, margin mode and isolated margin, accounts, transfers, queries, marks (with
//! liquidation screening) and funding settlement. Each is one core call, a journal batch and
//! a reply.

use actix::prelude::*;

use super::AccountActor;
use crate::actors::messages::*;
use crate::domain::{AccountId, Fault, MarketId, Reject};
use crate::engine::income::IncomeFilter;
use crate::engine::orders::OrderRecord;
use crate::engine::AccountView;
use crate::persistence::codec::Batch;

impl Handler<SetLeverageCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SetLeverageCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        match self.core.set_leverage(c.account, c.market, c.leverage, now) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok((max, ev)) => self.commit(Batch::ledger(ev, now), move |r| {
                let _ = c.reply.send(r.map(|_| max));
            }),
        }
    }
}

impl Handler<SetMarginModeCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SetMarginModeCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        match self.core.set_margin_mode(c.account, c.market, c.mode, now) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok((false, _)) => drop(c.reply.send(Ok(false))),
            Ok((true, ev)) => self.commit(Batch::ledger(ev, now), move |r| {
                let _ = c.reply.send(r.map(|_| true));
            }),
        }
    }
}

impl Handler<SetPositionModeCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SetPositionModeCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        match self.core.set_position_mode(c.account, c.mode, now) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok((false, _)) => drop(c.reply.send(Ok(false))),
            Ok((true, ev)) => self.commit(Batch::ledger(ev, now), move |r| {
                let _ = c.reply.send(r.map(|_| true));
            }),
        }
    }
}

impl Handler<IsolatedMarginCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: IsolatedMarginCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        match self
            .core
            .move_isolated_margin(c.account, c.leg, c.amount, now)
        {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok((wallet, ev)) => self.commit(Batch::ledger(ev, now), move |r| {
                let _ = c.reply.send(r.map(|_| wallet));
            }),
        }
    }
}

impl Handler<OpenAccountCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: OpenAccountCmd, _: &mut Self::Context) {
        let id = AccountId(self.next_account);
        let now = self.clock.now();
        match self.core.open_account(id, now) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok(ev) => {
                self.next_account += 1;
                for e in &ev {
                    self.access.observe(e, &self.core.ledger);
                }
                self.commit(Batch::ledger(ev, now), move |r| {
                    let _ = c.reply.send(r.map(|_| id));
                });
            }
        }
    }
}

impl Handler<TransferCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: TransferCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        let r = if c.withdraw {
            self.core.withdraw(c.account, c.amount.0, now)
        } else {
            self.core.deposit(c.account, c.amount.0, now)
        };
        self.update_metrics(); // telemetry: transfers may fund insurance
        match r {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok((wallet, ev)) => self.commit(Batch::ledger(ev, now), move |r| {
                let _ = c.reply.send(r.map(|_| wallet));
            }),
        }
    }
}

impl Handler<AccountQuery> for AccountActor {
    type Result = ();

    /// One arm per read-only query, each a lookup in the core: a flat dispatch table, longer
    /// than a function should be on purpose.
    fn handle(&mut self, q: AccountQuery, _: &mut Self::Context) {
        let (ledger, orders) = (&self.core.ledger, &self.core.orders);
        match q {
            AccountQuery::Account { account, reply } => {
                let _ = reply.send(ledger.account_view(account));
            }
            AccountQuery::Order {
                account,
                market,
                order_id,
                reply,
            } => {
                let r = orders.get(market, order_id);
                let _ = reply.send(owned(r, account));
            }
            AccountQuery::OrderByClientId {
                account,
                market,
                client_order_id,
                reply,
            } => {
                let r = orders.by_client_id(account, &client_order_id);
                let _ = reply.send(in_market(r, market));
            }
            AccountQuery::Orders {
                account,
                market,
                open,
                closed,
                limit,
                reply,
            } => {
                let v = orders.list(account, market, open, closed, limit);
                let _ = reply.send(Ok(v.into_iter().cloned().collect()));
            }
            AccountQuery::OpenOrders {
                account,
                limit,
                reply,
            } => {
                let v = orders.open_everywhere(account, limit);
                let _ = reply.send(Ok(v.into_iter().cloned().collect()));
            }
            AccountQuery::Fills {
                account,
                market,
                before,
                limit,
                reply,
            } => {
                let before = before.map(crate::domain::TradeId);
                let _ = reply.send(Ok(orders.fills(account, market, before, limit)));
            }
            AccountQuery::Solvency { reply } => drop(reply.send(Ok(self.solvency()))),
            AccountQuery::StateHash { reply } => drop(reply.send(Ok(ledger.state_hash()))),
            AccountQuery::Invariants { reply } => {
                let r = ledger.check_invariants();
                let _ = reply
                    .send(r.map_err(|v| Reject::Fault(Fault::InvariantBroken(format!("{v:?}")))));
            }
            AccountQuery::Income {
                account,
                market,
                kind,
                hide,
                start,
                end,
                limit,
                reply,
            } => {
                let f = IncomeFilter {
                    market,
                    kind,
                    start,
                    end,
                    limit,
                    hide,
                };
                let _ = reply.send(ledger.income(account, &f));
            }
            AccountQuery::Liquidating { reply } => drop(reply.send(Ok(self.liquidating_views()))),
        }
    }
}

/// An order record as its owner may see it: another account's order is not found.
fn owned(r: Option<&OrderRecord>, account: AccountId) -> Result<OrderRecord, Reject> {
    r.filter(|r| r.order.account == account)
        .cloned()
        .ok_or(Reject::OrderNotFound)
}

/// An order found by client order id, if it is in `market` (client ids are per account).
fn in_market(r: Option<&OrderRecord>, market: MarketId) -> Result<OrderRecord, Reject> {
    r.filter(|r| r.market == market)
        .cloned()
        .ok_or(Reject::OrderNotFound)
}

impl AccountActor {
    /// The exchange's solvency figures: user wallets exclude the fee and insurance accounts.
    fn solvency(&self) -> Solvency {
        let ledger = &self.core.ledger;
        let (deposits, withdrawals, wallets, costs) = ledger.solvency();
        let fee = ledger.wallet(AccountId::FEE).unwrap_or_default();
        let insurance = ledger.wallet(AccountId::INSURANCE).unwrap_or_default();
        Solvency {
            total_deposits: deposits,
            total_withdrawals: withdrawals,
            user_wallets: wallets - fee - insurance,
            fee_account: fee,
            insurance_fund: insurance,
            open_cost_basis: costs,
            conserved: wallets - costs == deposits - withdrawals,
            accounts_in_liquidation: self.core.accounts_in_liquidation().len(),
        }
    }

    /// The accounts with a pool in liquidation now, as their owners see them (once each).
    fn liquidating_views(&self) -> Vec<AccountView> {
        self.core
            .accounts_in_liquidation()
            .into_iter()
            .filter_map(|a| self.core.ledger.account_view(a).ok())
            .collect()
    }
}

impl Handler<MarkToLedger> for AccountActor {
    type Result = ();

    fn handle(&mut self, m: MarkToLedger, _: &mut Self::Context) {
        let now = self.clock.now();
        let (ev, accounts) = self.core.set_marks(&m.marks);
        self.commit(Batch::ledger(ev, now), |_| {});
        self.update_metrics();
        self.start_liquidations(accounts);
    }
}

impl Handler<SettleFundingCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SettleFundingCmd, _: &mut Self::Context) {
        let ev = self.core.settle_funding(c.market, c.rate, c.mark, c.time);
        self.commit(Batch::ledger(ev, c.time), move |r| {
            let _ = c.reply.send(r);
        });
    }
}
