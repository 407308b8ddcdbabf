//! The small response bodies: health, book, trade, candle and funding rows, command
//! acknowledgements (balance, cancels, settings changed, deposits, withdrawals, index pushes),
//! solvency, income and the error body. The order, fill, market and account bodies, which
//! render domain records, are `response.rs`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{MarginMode, PositionMode, Side};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub markets: usize,
    pub uptime_ms: u64,
}

/// `GET /book`: bids best (highest) first, asks best (lowest) first; `[price, quantity]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Book {
    pub symbol: String,
    pub sequence: u64,
    pub time: u64,
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TradeDto {
    pub trade_id: u64,
    pub price: String,
    pub quantity: String,
    #[schema(value_type = String, example = "buy")]
    pub taker_side: Side,
    pub time: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CandleDto {
    pub open_time: u64,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
    pub trades: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FundingDto {
    pub time: u64,
    pub rate: String,
    pub mark_price: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    pub balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    pub cancelled: Vec<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeverageSet {
    pub symbol: String,
    pub leverage: u32,
    pub max_notional: String,
}

/// `PUT /markets/{symbol}/margin_mode`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarginModeSet {
    pub symbol: String,
    /// `cross` or `isolated`
    #[schema(value_type = String, example = "isolated")]
    pub margin_mode: MarginMode,
    /// `false` when the market already was in this mode (nothing changed).
    pub changed: bool,
}

/// `PUT /account/position_mode`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionModeSet {
    /// `one_way` or `hedge`
    #[schema(value_type = String, example = "hedge")]
    pub position_mode: PositionMode,
    /// `false` when the account already was in this mode (nothing changed).
    pub changed: bool,
}

/// `POST /markets/{symbol}/isolated_margin`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IsolatedMarginSet {
    pub symbol: String,
    /// `both`, `long` or `short`: the leg whose isolated wallet moved.
    #[schema(value_type = String, example = "both")]
    pub position_side: crate::domain::PositionSide,
    /// The isolated wallet after the move.
    pub isolated_wallet: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawal {
    pub amount: String,
    pub wallet_balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountCreated {
    pub account_id: u64,
    pub api_key: String,
    /// Shown once.
    pub api_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deposit {
    pub account_id: u64,
    pub wallet_balance: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndexSet {
    pub symbol: String,
    pub index_price: String,
    pub mark_price: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SolvencyDto {
    pub total_deposits: String,
    pub total_withdrawals: String,
    pub user_wallets: String,
    pub fee_account: String,
    pub insurance_fund: String,
    pub open_cost_basis: String,
    /// docs/RULES.md §7.1 evaluated exactly.
    pub conserved: bool,
    /// Accounts whose liquidation is in progress (details: `GET /api/v1/admin/liquidations`).
    pub accounts_in_liquidation: usize,
}

/// One income record (`GET /api/v1/account/income`).
#[derive(Debug, Serialize, ToSchema)]
pub struct IncomeDto {
    pub id: u64,
    /// `transfer`, `realized_pnl`, `funding_fee`, `commission`, `insurance_clear`, `liquidation_fee`
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub symbol: Option<String>,
    /// Signed: positive is credited to the account.
    pub amount: String,
    pub time: u64,
    pub trade_id: Option<u64>,
}

/// `{"error": {"code", "message"}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInner,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInner {
    /// A stable code from docs/API.md, e.g. `INSUFFICIENT_MARGIN`.
    pub code: String,
    pub message: String,
}
