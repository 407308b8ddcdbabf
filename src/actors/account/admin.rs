//! The AccountActor's other commands: leverage, accounts, transfers, queries, marks (with
//! liquidation screening) and funding settlement. Each is one core call, a journal batch and
//! a reply.

use actix::prelude::*;

use super::AccountActor;
use crate::actors::messages::*;
use crate::domain::{AccountId, Fault, Reject};
use crate::engine::income::IncomeFilter;
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

impl Handler<OpenAccountCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: OpenAccountCmd, _: &mut Self::Context) {
        let id = AccountId(self.next_account);
        let now = self.clock.now();
        match self.core.open_account(id, now) {
            Err(e) => drop(c.reply.send(Err(e))),
            Ok(ev) => {
                self.next_account += 1;
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
                let r = orders
                    .get(market, order_id)
                    .filter(|r| r.order.account == account)
                    .cloned();
                let _ = reply.send(r.ok_or(Reject::OrderNotFound));
            }
            AccountQuery::OrderByClientId {
                account,
                market,
                client_order_id,
                reply,
            } => {
                let r = orders
                    .by_client_id(account, &client_order_id)
                    .filter(|r| r.market == market)
                    .cloned();
                let _ = reply.send(r.ok_or(Reject::OrderNotFound));
            }
            AccountQuery::Orders {
                account,
                market,
                open,
                closed,
                limit,
                reply,
            } => {
                let v = orders
                    .list(account, market, open, closed, limit)
                    .into_iter()
                    .cloned()
                    .collect();
                let _ = reply.send(Ok(v));
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
            AccountQuery::Solvency { reply } => {
                let (deposits, withdrawals, wallets, costs) = ledger.solvency();
                let fee = ledger.wallet(AccountId::FEE).unwrap_or_default();
                let insurance = ledger.wallet(AccountId::INSURANCE).unwrap_or_default();
                let _ = reply.send(Ok(Solvency {
                    total_deposits: deposits,
                    total_withdrawals: withdrawals,
                    user_wallets: wallets - fee - insurance,
                    fee_account: fee,
                    insurance_fund: insurance,
                    open_cost_basis: costs,
                    conserved: wallets - costs == deposits - withdrawals,
                    accounts_in_liquidation: self.core.liquidating().count(),
                }));
            }
            AccountQuery::StateHash { reply } => {
                let _ = reply.send(Ok(ledger.state_hash()));
            }
            AccountQuery::Invariants { reply } => {
                let _ = reply.send(
                    ledger
                        .check_invariants()
                        .map_err(|v| Reject::Fault(Fault::InvariantBroken(format!("{v:?}")))),
                );
            }
            AccountQuery::Income {
                account,
                market,
                kind,
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
                };
                let _ = reply.send(ledger.income(account, &f));
            }
            AccountQuery::Liquidating { reply } => {
                let v = self
                    .core
                    .liquidating()
                    .filter_map(|a| ledger.account_view(a).ok())
                    .collect();
                let _ = reply.send(Ok(v));
            }
        }
    }
}

impl Handler<MarkToLedger> for AccountActor {
    type Result = ();

    fn handle(&mut self, m: MarkToLedger, _: &mut Self::Context) {
        let now = self.clock.now();
        let (ev, accounts) = self.core.set_mark(m.market, m.mark);
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
