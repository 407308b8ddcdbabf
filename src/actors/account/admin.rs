//! The AccountActor's other commands: leverage, accounts, transfers, queries, marks (with
//! liquidation screening) and funding settlement.

use actix::prelude::*;

use super::AccountActor;
use crate::actors::messages::*;
use crate::domain::{AccountId, Reject};
use crate::persistence::codec::Batch;

impl Handler<SetLeverageCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SetLeverageCmd, _: &mut Self::Context) {
        let mut ev = Vec::new();
        match self
            .ledger
            .set_leverage(c.account, c.market, c.leverage, &mut ev)
        {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(max) => self.commit(Batch::ledger(ev, self.clock.now()), move |r| {
                let _ = c.reply.send(r.map(|_| max));
            }),
        }
    }
}

impl Handler<OpenAccountCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: OpenAccountCmd, _: &mut Self::Context) {
        let id = AccountId(self.next_account);
        let mut ev = Vec::new();
        match self.ledger.open_account(id, &mut ev) {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(()) => {
                self.next_account += 1;
                self.commit(Batch::ledger(ev, self.clock.now()), move |r| {
                    let _ = c.reply.send(r.map(|_| id));
                });
            }
        }
    }
}

impl Handler<TransferCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: TransferCmd, _: &mut Self::Context) {
        let mut ev = Vec::new();
        let r = if c.withdraw {
            self.ledger.withdraw(c.account, c.amount.0, &mut ev)
        } else {
            self.ledger.deposit(c.account, c.amount.0, &mut ev)
        };
        self.metrics.update(&self.ledger); // telemetry: transfers may fund insurance
        match r {
            Err(e) => {
                let _ = c.reply.send(Err(e));
            }
            Ok(wallet) => self.commit(Batch::ledger(ev, self.clock.now()), move |r| {
                let _ = c.reply.send(r.map(|_| wallet));
            }),
        }
    }
}

impl Handler<AccountQuery> for AccountActor {
    type Result = ();

    fn handle(&mut self, q: AccountQuery, _: &mut Self::Context) {
        match q {
            AccountQuery::Account { account, reply } => {
                let _ = reply.send(self.ledger.account_view(account));
            }
            AccountQuery::Order {
                account,
                market,
                order_id,
                reply,
            } => {
                let r = self
                    .orders
                    .get(market, order_id)
                    .filter(|r| r.account == account)
                    .cloned();
                let _ = reply.send(r.ok_or(Reject::OrderNotFound));
            }
            AccountQuery::OrderByClientId {
                account,
                market,
                client_order_id,
                reply,
            } => {
                let r = self
                    .orders
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
                let v = self
                    .orders
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
                let _ = reply.send(Ok(self.orders.fills(
                    account,
                    market,
                    before.map(crate::domain::TradeId),
                    limit,
                )));
            }
            AccountQuery::Solvency { reply } => {
                let (deposits, withdrawals, wallets, costs) = self.ledger.solvency();
                let fee = self.ledger.wallet(AccountId::FEE).unwrap_or_default();
                let insurance = self.ledger.wallet(AccountId::INSURANCE).unwrap_or_default();
                let _ = reply.send(Ok(Solvency {
                    total_deposits: deposits,
                    total_withdrawals: withdrawals,
                    user_wallets: wallets - fee - insurance,
                    fee_account: fee,
                    insurance_fund: insurance,
                    open_cost_basis: costs,
                    conserved: wallets - costs == deposits - withdrawals,
                }));
            }
            AccountQuery::StateHash { reply } => {
                let _ = reply.send(Ok(self.ledger.state_hash()));
            }
            AccountQuery::Invariants { reply } => {
                let _ = reply.send(
                    self.ledger
                        .check_invariants()
                        .map_err(|v| Reject::InvalidRequest(format!("{v:?}"))),
                );
            }
        }
    }
}

impl Handler<MarkToLedger> for AccountActor {
    type Result = ();

    fn handle(&mut self, m: MarkToLedger, _: &mut Self::Context) {
        let mut ev = Vec::new();
        let mut liquidatable = Vec::new();
        self.ledger
            .set_mark(m.market, m.mark, &mut ev, &mut liquidatable);
        self.commit(Batch::ledger(ev, self.clock.now()), |_| {});
        if !liquidatable.is_empty() {
            if let Some(risk) = &self.risk {
                risk.do_send(Liquidatable(liquidatable));
            }
        }
    }
}

impl Handler<SettleFundingCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: SettleFundingCmd, _: &mut Self::Context) {
        let mut ev = Vec::new();
        self.ledger
            .settle_funding(c.market, c.rate, c.mark, c.time, &mut ev);
        self.commit(Batch::ledger(ev, c.time), move |r| {
            let _ = c.reply.send(r);
        });
    }
}

impl Handler<LiquidationCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: LiquidationCmd, _: &mut Self::Context) {
        crate::actors::liquidation::handle(self, c);
        self.metrics.update(&self.ledger); // telemetry: the fund moves in liquidations
    }
}
