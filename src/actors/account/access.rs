//! The AccountActor's access commands (API keys, admin tokens, audit lines): one core call,
//! the directory updated as the event is applied, a journal batch, a reply once durable.

use actix::prelude::*;

use super::AccountActor;
use crate::actors::messages::{AccessCmd, AccessQuery};
use crate::domain::{Reject, Timestamp};
use crate::engine::access::AccessEvent;
use crate::persistence::codec::Batch;

impl AccountActor {
    /// Apply an access event made by a core command, tell the directory, journal it, and
    /// answer `reply(value)` once durable.
    fn commit_access<T: Send + 'static>(
        &mut self,
        made: Result<(T, AccessEvent), Reject>,
        reply: crate::actors::messages::Reply<T>,
        now: Timestamp,
    ) {
        match made {
            Err(e) => drop(reply.send(Err(e))),
            Ok((v, e)) => {
                let ev = self.core.ledger.applied(e, now);
                for e in &ev {
                    self.access.observe(e, &self.core.ledger);
                }
                self.commit(Batch::ledger(ev, now), move |r| {
                    let _ = reply.send(r.map(|_| v));
                });
            }
        }
    }
}

impl Handler<AccessCmd> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: AccessCmd, _: &mut Self::Context) {
        let now = self.clock.now();
        match c {
            AccessCmd::CreateKey {
                account,
                spec,
                granter,
                nonce,
                reply,
            } => match self
                .core
                .ledger
                .create_key(account, spec, granter, nonce, now)
            {
                Err(e) => drop(reply.send(Err(e))),
                Ok((key, ev)) => {
                    for e in &ev {
                        self.access.observe(e, &self.core.ledger);
                    }
                    self.commit(Batch::ledger(ev, now), move |r| {
                        let _ = reply.send(r.map(|_| key));
                    });
                }
            },
            AccessCmd::RevokeKey {
                account,
                key_no,
                reply,
            } => {
                let made = self.core.ledger.access().revoke_key(account, key_no);
                self.commit_access(made.map(|e| ((), e)), reply, now);
            }
            AccessCmd::CreateToken {
                name,
                role,
                hash,
                created_by,
                reply,
            } => {
                let made = self
                    .core
                    .ledger
                    .access()
                    .create_token(name, role, hash, created_by, now.0);
                let made = made.map(|t| (t.clone(), AccessEvent::TokenCreated(t)));
                self.commit_access(made, reply, now);
            }
            AccessCmd::RevokeToken { token_no, reply } => {
                let made = self.core.ledger.access().revoke_token(token_no);
                self.commit_access(made.map(|e| ((), e)), reply, now);
            }
            AccessCmd::Audit { record, reply } => {
                let made = Ok(((), self.core.ledger.access().audit(record)));
                self.commit_access(made, reply, now);
            }
        }
    }
}

impl Handler<AccessQuery> for AccountActor {
    type Result = ();

    fn handle(&mut self, q: AccessQuery, _: &mut Self::Context) {
        let access = self.core.ledger.access();
        match q {
            AccessQuery::Keys { account, reply } => {
                let r = if account.is_reserved() || !self.core.ledger.has_account(account) {
                    Err(Reject::AccountNotFound)
                } else {
                    Ok(access.keys_of(account).cloned().collect())
                };
                let _ = reply.send(r);
            }
            AccessQuery::Tokens { reply } => {
                let _ = reply.send(Ok(access.tokens().cloned().collect()));
            }
            AccessQuery::Audit {
                before,
                limit,
                reply,
            } => {
                let _ = reply.send(Ok(access.audit_page(before, limit)));
            }
        }
    }
}
