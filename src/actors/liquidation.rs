//! The liquidation workflow's driver (docs/RULES.md §6), run by the RiskActor for each account the
//! AccountActor reports: it asks the AccountActor for one step at a time (each planned from
//! the ledger's current state, and applied at once when ledger-only) and records what the
//! books did, until the account is healthy or flat.
//!
//! # Invariants
//! - A step that fails is re-planned from the state as it then is; after a bounded number of
//!   consecutive failures the driver stops, and the account, still flagged in the ledger, is
//!   handed back by the next mark update (the AccountActor reports every account in
//!   liquidation at each mark), so a liquidation never gets stuck until a restart.
//! - `Wait` (a negative wallet the insurance fund cannot pay now) ends this run the same way.

use actix::prelude::*;
use tokio::sync::oneshot;

use super::account::AccountActor;
use super::messages::{LiquidationCmd, Reply, StepDone};
use crate::domain::MarketId;
use crate::domain::{Fault, MarginPool, Reject};
use crate::risk::liquidation::LiquidationProgress;
use crate::telemetry::RiskMetrics;

/// Consecutive failed steps before a run gives up (the next mark retries).
const MAX_FAILURES: u32 = 8;
/// Steps in one run; a planner that never finishes would be a bug: stop rather than spin.
const MAX_STEPS: u32 = 10_000;

/// How one run of the workflow ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// The account is out of liquidation (or never needed it).
    Finished,
    /// Still in liquidation, waiting for the insurance fund; retried at the next mark.
    Waiting,
}

/// Ask the AccountActor for one step and wait for it.
async fn ask(
    acc: &Addr<AccountActor>,
    pool: MarginPool,
    progress: &LiquidationProgress,
) -> Result<StepDone, Reject> {
    let (tx, rx): (Reply<StepDone>, _) = oneshot::channel();
    acc.do_send(LiquidationCmd {
        pool,
        progress: progress.clone(),
        reply: tx,
    });
    rx.await.unwrap_or(Err(Reject::Fault(Fault::ReplyDropped)))
}

/// Run the liquidation of `pool` (an account's cross pool, or one isolated position) until it finishes or must wait. Returns how it ended, the
/// step count and the markets whose position was liquidated (each counted once in
/// `perpx_liquidations_total`; each ADL step in `perpx_adl_total`).
pub(crate) async fn liquidate(
    acc: Addr<AccountActor>,
    pool: MarginPool,
    metrics: Vec<RiskMetrics>,
) -> Result<(RunEnd, u32, Vec<MarketId>), Reject> {
    let mut progress = LiquidationProgress::default();
    let mut touched: Vec<MarketId> = Vec::new();
    let mut touch = |m: MarketId| {
        if !touched.contains(&m) {
            touched.push(m);
            if let Some(mm) = metrics.get(m.index()) {
                mm.liquidations.increment(1);
                tracing::warn!(%pool, market = %mm.symbol, "liquidating position");
            }
        }
    };
    let mut failures = 0;
    for steps in 1..=MAX_STEPS {
        match ask(&acc, pool, &progress).await {
            Ok(StepDone::Cancelled) => progress.orders_cancelled = true,
            Ok(StepDone::Sent(leg)) => {
                touch(leg.market);
                progress.sent_to_book.push(leg);
            }
            Ok(StepDone::Applied { market, adl }) => {
                if let Some(m) = market {
                    touch(m);
                    if adl {
                        if let Some(mm) = metrics.get(m.index()) {
                            mm.adl.increment(1);
                        }
                    }
                }
            }
            Ok(StepDone::Wait) => return Ok((RunEnd::Waiting, steps, touched)),
            Ok(StepDone::Finished) => return Ok((RunEnd::Finished, steps, touched)),
            Err(e) => {
                failures += 1;
                tracing::warn!(%pool, error = %e, failures, "liquidation step failed; re-planning");
                if failures >= MAX_FAILURES {
                    return Err(e);
                }
                continue;
            }
        }
        failures = 0;
    }
    Err(Reject::Fault(Fault::LiquidationStuck {
        pool,
        steps: MAX_STEPS,
    }))
}
