//! Every message between actors, typed and immutable. Replies travel as `oneshot` senders
//! carried along the path (one request/response hop per order; everything else `do_send`).

mod access;
pub use access::*;
use actix::Message;
use rust_decimal::Decimal;
use tokio::sync::oneshot;

use crate::domain::{AccountId, Amount, CloseReason, OrderId, Price, Qty, Reject, Timestamp};
use crate::domain::{MarginPool, MarketId};
use crate::engine::accounts::{AmendOrder, Ticket};
use crate::engine::income::{IncomeKind, IncomeRecord};
use crate::engine::market::{MarketEvent, PlaceOrder};
use crate::engine::orders::{OrderFill, OrderRecord};
use crate::engine::AccountView;
use crate::risk::liquidation::LiquidationProgress;

/// Where a result goes.
pub type Reply<T> = oneshot::Sender<Result<T, Reject>>;

pub use crate::domain::OrderRequest;

pub use crate::engine::orders::OrderReport;

// ---------------------------------------------------------------- to the AccountActor

#[derive(Message)]
#[rtype(result = "()")]
pub struct PlaceOrderCmd {
    pub account: AccountId,
    pub market: MarketId,
    pub order: OrderRequest,
    pub reply: Reply<OrderReport>,
}

/// A take-profit and/or stop-loss on a position (docs/RULES.md §2a).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PlaceTpSlCmd {
    pub account: AccountId,
    pub market: MarketId,
    pub position_side: crate::domain::PositionSide,
    pub tpsl: crate::domain::TpSl,
    pub reply: Reply<OrderReport>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct CancelOrderCmd {
    pub account: AccountId,
    pub market: MarketId,
    pub order_id: OrderId,
    pub reply: Reply<OrderReport>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct CancelAllCmd {
    pub account: AccountId,
    pub market: MarketId,
    pub reply: Reply<Vec<OrderId>>,
}

/// `qty` is the new total quantity (must exceed what is filled).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AmendOrderCmd {
    pub account: AccountId,
    pub market: MarketId,
    pub order_id: OrderId,
    pub price: Option<Price>,
    pub qty: Option<Qty>,
    /// A new trigger price (an order waiting for its trigger).
    pub trigger: Option<Price>,
    pub reply: Reply<OrderReport>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct SetLeverageCmd {
    pub account: AccountId,
    pub market: MarketId,
    pub leverage: u32,
    /// Replies the maximum position notional at that leverage.
    pub reply: Reply<Decimal>,
}

/// Set the margin mode of (account, market). Replies whether it changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMarginModeCmd {
    pub account: AccountId,
    pub market: MarketId,
    pub mode: crate::domain::MarginMode,
    pub reply: Reply<bool>,
}

/// Move `amount` into (negative: out of) an isolated wallet. Replies the wallet after it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct IsolatedMarginCmd {
    pub account: AccountId,
    pub leg: crate::domain::Leg,
    pub amount: Decimal,
    pub reply: Reply<Decimal>,
}

/// Set an account's position mode (one-way or hedge). Replies whether it changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetPositionModeCmd {
    pub account: AccountId,
    pub mode: crate::domain::PositionMode,
    pub reply: Reply<bool>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct OpenAccountCmd {
    pub reply: Reply<AccountId>,
}

/// Deposit (`amount` > 0) or withdraw (`withdraw: true`). Replies the new wallet balance.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TransferCmd {
    pub account: AccountId,
    pub amount: Amount,
    pub withdraw: bool,
    pub reply: Reply<Decimal>,
}

/// Read queries answered from the AccountActor's state.
#[derive(Message)]
#[rtype(result = "()")]
pub enum AccountQuery {
    Account {
        account: AccountId,
        reply: Reply<AccountView>,
    },
    Order {
        account: AccountId,
        market: MarketId,
        order_id: OrderId,
        reply: Reply<OrderRecord>,
    },
    OrderByClientId {
        account: AccountId,
        market: MarketId,
        client_order_id: String,
        reply: Reply<OrderRecord>,
    },
    /// Open orders in every market, newest first (`GET /account/open_orders`).
    OpenOrders {
        account: AccountId,
        limit: usize,
        reply: Reply<Vec<OrderRecord>>,
    },
    Orders {
        account: AccountId,
        market: MarketId,
        open: bool,
        closed: bool,
        limit: usize,
        reply: Reply<Vec<OrderRecord>>,
    },
    Fills {
        account: AccountId,
        market: Option<MarketId>,
        before: Option<u64>,
        limit: usize,
        reply: Reply<Vec<OrderFill>>,
    },
    /// `(total_deposits, total_withdrawals, user_wallets, fee_account, insurance_fund, open_cost_basis, conserved)`
    Solvency {
        reply: Reply<Solvency>,
    },
    StateHash {
        reply: Reply<[u8; 32]>,
    },
    /// docs/RULES.md §7 checked on the live ledger (an error names the violation).
    Invariants {
        reply: Reply<()>,
    },
    /// The account's income history (see `engine::income::select`).
    Income {
        account: AccountId,
        market: Option<MarketId>,
        kind: Option<IncomeKind>,
        /// Left out unless `kind` names it.
        hide: Option<IncomeKind>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        limit: usize,
        reply: Reply<Vec<IncomeRecord>>,
    },
    /// Accounts in liquidation, with their figures (admin).
    Liquidating {
        reply: Reply<Vec<AccountView>>,
    },
}

/// docs/RULES.md §7.1 sums, for `GET /admin/solvency`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Solvency {
    pub total_deposits: Decimal,
    pub total_withdrawals: Decimal,
    pub user_wallets: Decimal,
    pub fee_account: Decimal,
    pub insurance_fund: Decimal,
    pub open_cost_basis: Decimal,
    pub conserved: bool,
    /// Accounts whose liquidation is in progress (or waiting for the insurance fund).
    pub accounts_in_liquidation: usize,
}

/// From the RiskActor: one tick's new marks. The AccountActor screens each market's holders,
/// journals the marks as one entry and answers with [`Liquidatable`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarkToLedger {
    /// Every market of one tick whose index is not stale: one journal entry for all of them.
    pub marks: Vec<(MarketId, Decimal)>,
}

/// From the FundingActor: settle one market's funding. Replies the recorded totals.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SettleFundingCmd {
    pub market: MarketId,
    pub rate: Decimal,
    pub mark: Decimal,
    pub time: Timestamp,
    pub reply: Reply<()>,
}

/// From a MarketActor: what a command did (R2 follows).
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarketDone {
    pub market: MarketId,
    pub events: Vec<MarketEvent>,
    pub result: Result<(), Reject>,
    pub pending: Pending,
    pub now: Timestamp,
    /// The command's ticket in the market's release gate (`None`: no market data): R2
    /// finishes it once the command is durable (docs/ARCHITECTURE.md §3).
    pub release: Option<super::market::MarketRelease>,
}

/// The reply context carried through the market and back (docs/ARCHITECTURE.md §3): the core's ticket
/// for R2 and where its answer goes.
pub struct Pending {
    pub ticket: Ticket,
    pub reply: PendingReply,
}

/// Where the answer of a market command goes.
pub enum PendingReply {
    Order(Reply<OrderReport>),
    CancelAll(Reply<Vec<OrderId>>),
    /// A liquidation step through the normal path; fires after R2 (and the journal).
    Done(oneshot::Sender<Result<(), Reject>>),
    /// Nobody waits.
    None,
}

impl Pending {
    /// Market-initiated events (mark triggers, reduce-only upkeep): nobody waits.
    pub fn internal() -> Pending {
        Pending {
            ticket: Ticket::Internal,
            reply: PendingReply::None,
        }
    }
}

/// What one liquidation step did, as the RiskActor's driver needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepDone {
    /// Ledger work applied and journaled (`adl`: a takeover or ADL happened in `market`).
    Applied { market: Option<MarketId>, adl: bool },
    /// The account's open orders were cancelled.
    Cancelled,
    /// The liquidation order of a leg went through its market's book.
    Sent(crate::domain::Leg),
    /// Nothing can be done now; the account stays in liquidation.
    Wait,
    /// Over.
    Finished,
}

/// Liquidation steps from the RiskActor, planned and applied by the AccountActor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LiquidationCmd {
    pub pool: MarginPool,
    pub progress: LiquidationProgress,
    pub reply: Reply<StepDone>,
}

// ---------------------------------------------------------------- to a MarketActor

/// A command for one market, with the context to hand back to the AccountActor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarketCmd {
    pub kind: MarketCmdKind,
    pub pending: Pending,
}

pub enum MarketCmdKind {
    Place(PlaceOrder),
    Cancel {
        account: Option<AccountId>,
        order_id: OrderId,
        reason: CloseReason,
    },
    CancelMany {
        account: AccountId,
        ids: Vec<OrderId>,
        reason: CloseReason,
    },
    /// `total`: the new total quantity (the market subtracts what it has filled).
    Amend(AmendOrder),
    /// A position moved outside the book (takeover, ADL).
    AdjustPosition {
        account: AccountId,
        delta: Qty,
    },
}

/// Ordinary commands for one market, as the AccountActor hands them on: everything R1
/// accepted while it worked through its mailbox, in order, in one message (one wake-up of
/// the market's thread for the lot).
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarketCmds(pub Vec<MarketCmd>);

/// What one market's commands did, in market order, as one message to the AccountActor (one
/// wake-up per drained batch, not per command).
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarketDoneBatch(pub Vec<MarketDone>);

/// A liquidation order: handled before ordinary orders waiting in the market.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PriorityCmd(pub MarketCmd);

/// From the RiskActor: the new mark of this market.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarkToMarket {
    pub mark: Decimal,
    pub index: Decimal,
    pub index_stale: bool,
}

/// From the FundingActor: funding figures for the ticker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FundingInfo {
    pub predicted_rate: Option<Decimal>,
    pub last_rate: Option<Decimal>,
    pub next_funding_time: Timestamp,
}

/// Ask a market for its prices (answered with a [`MarketSample`] message to `to`).
#[derive(Message)]
#[rtype(result = "MarketSample")]
pub struct SampleRequest;

/// Book-derived prices of one market at one moment.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct MarketSample {
    pub market: MarketId,
    pub best_bid: Option<Decimal>,
    pub best_ask: Option<Decimal>,
    pub last: Option<Decimal>,
    pub impact_bid: Option<Decimal>,
    pub impact_ask: Option<Decimal>,
    /// Open interest (it walks the positions: computed once per sample, not per command).
    pub open_interest: Qty,
    pub now: Timestamp,
    /// The market's change count when the sample was taken (`actors/market/sampler.rs`).
    pub changes: u64,
}

// ---------------------------------------------------------------- to the Risk / Funding actors

/// From the AccountActor: pools found liquidatable after a mark update (or put into
/// liquidation by a settlement).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Liquidatable(pub Vec<MarginPool>);

/// Timer tick (driven by `run_interval` in production, by tests with a manual clock).
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct Tick;

/// Admin: push an oracle index price. Replies `(index, mark)`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PushIndex {
    pub market: MarketId,
    pub price: Decimal,
    pub reply: Reply<(Decimal, Decimal)>,
}

/// To the FundingActor: the index and mark just computed.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct IndexToFunding {
    pub market: MarketId,
    pub index: Decimal,
    pub mark: Decimal,
    pub stale: bool,
}

/// To the RiskActor: the predicted funding rate (for the mark's first component).
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct PredictedFunding {
    pub market: MarketId,
    pub rate: Decimal,
    pub next_funding_time: Timestamp,
}

/// A settled funding, as recorded for `GET /funding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundingRecord {
    pub time: Timestamp,
    pub rate: Decimal,
    pub mark: Decimal,
}

/// Funding history query.
#[derive(Message)]
#[rtype(result = "Vec<FundingRecord>")]
pub struct FundingHistory {
    pub market: MarketId,
    pub limit: usize,
}
