//! The private lines of ledger events: account events under the ledger pseudo-symbol, market
//! events (leverage, margin mode, isolated margin and isolated liquidations, fills, funding,
//! position transfers) under their market's symbol.
//!
//! # Invariants
//! - Margin holds and releases, marks and other bookkeeping inside the exchange have no line.
//! - An event naming a market the specs do not have renders nothing (the caller's markets
//!   decide what is published).

use serde_json::{json, Value};

use super::{money, name, px};
use crate::domain::{MarketSpec, Qty};
use crate::engine::{FillRecord, LedgerEvent};

/// The line of one ledger event, with its market (`None`: no market), if it is one consumers
/// need.
pub(super) fn ledger_line(
    e: &LedgerEvent,
    specs: &[MarketSpec],
    seq: u64,
    time: u64,
) -> Option<(Option<usize>, Value)> {
    let (market, kind, fields) = match account_fields(e) {
        Some((kind, fields)) => (None, kind, fields),
        None => {
            let (m, kind, fields) = market_fields(e, specs)?;
            (Some(m), kind, fields)
        }
    };
    let mut v = json!({"type": kind, "seq": seq, "time": time});
    if let Some(o) = v.as_object_mut() {
        if let Some(m) = market {
            o.insert("symbol".into(), specs[m].symbol.as_str().into());
        }
        if let Value::Object(f) = fields {
            o.extend(f);
        }
    }
    Some((market, v))
}

/// The type and fields of an event of one account that belongs to no market.
fn account_fields(e: &LedgerEvent) -> Option<(&'static str, Value)> {
    Some(match e {
        LedgerEvent::AccountOpened { account } => {
            ("account_opened", json!({"account_id": account.0}))
        }
        LedgerEvent::Deposited { account, amount } => (
            "deposit",
            json!({"account_id": account.0, "amount": money(amount.0)}),
        ),
        LedgerEvent::Withdrew { account, amount } => (
            "withdrawal",
            json!({"account_id": account.0, "amount": money(amount.0)}),
        ),
        LedgerEvent::LiquidationStarted { account } => {
            ("liquidation_started", json!({"account_id": account.0}))
        }
        LedgerEvent::LiquidationEnded { account } => {
            ("liquidation_ended", json!({"account_id": account.0}))
        }
        LedgerEvent::InsuranceCleared { account, amount } => (
            "insurance_cleared",
            json!({"account_id": account.0, "amount": money(amount.0)}),
        ),
        LedgerEvent::PositionModeSet { account, mode } => (
            "position_mode",
            json!({"account_id": account.0, "position_mode": mode.as_str()}),
        ),
        _ => return None,
    })
}

/// The market index, type and fields of an event in one market (`None` too if the market is
/// not among `specs`).
fn market_fields(e: &LedgerEvent, specs: &[MarketSpec]) -> Option<(usize, &'static str, Value)> {
    let (market, kind) = match e {
        LedgerEvent::LeverageSet { market, .. } => (*market, "leverage"),
        LedgerEvent::FillSettled(f) => (f.market, "fill"),
        LedgerEvent::FundingSettled { market, .. } => (*market, "funding"),
        LedgerEvent::PositionTransferred { market, .. } => (*market, "position_transferred"),
        LedgerEvent::MarginModeSet { market, .. } => (*market, "margin_mode"),
        LedgerEvent::IsolatedMarginMoved { leg, .. } => (leg.market, "isolated_margin"),
        LedgerEvent::IsolatedLiquidationStarted { leg, .. } => {
            (leg.market, "isolated_liquidation_started")
        }
        LedgerEvent::IsolatedLiquidationEnded { leg, .. } => {
            (leg.market, "isolated_liquidation_ended")
        }
        LedgerEvent::IsolatedCleared { leg, .. } => (leg.market, "isolated_insurance_cleared"),
        _ => return None,
    };
    let s = specs.get(market.index())?;
    let fields = match e {
        LedgerEvent::LeverageSet {
            account, leverage, ..
        } => json!({"account_id": account.0, "leverage": leverage}),
        LedgerEvent::FillSettled(f) => fill_fields(f, s),
        LedgerEvent::FundingSettled {
            rate,
            mark,
            time: at,
            debits,
            credits,
            ..
        } => json!({"funding_rate": money(*rate), "mark_price": money(*mark),
            "funding_time": at.0, "paid": money(debits.0), "received": money(-credits.0)}),
        LedgerEvent::PositionTransferred {
            from,
            to,
            qty,
            price,
            kind,
            ..
        } => json!({"from": from.0, "to": to.0, "quantity": Qty(*qty).text(s.lot_size),
            "price": money(*price), "kind": name(kind)}),
        LedgerEvent::MarginModeSet { account, mode, .. } => {
            json!({"account_id": account.0, "margin_mode": mode.as_str()})
        }
        LedgerEvent::IsolatedMarginMoved {
            account,
            leg,
            amount,
        } => json!({"account_id": account.0, "position_side": leg.side.as_str(),
            "amount": money(*amount)}),
        LedgerEvent::IsolatedLiquidationStarted { account, leg }
        | LedgerEvent::IsolatedLiquidationEnded { account, leg } => {
            json!({"account_id": account.0, "position_side": leg.side.as_str()})
        }
        LedgerEvent::IsolatedCleared {
            account,
            leg,
            amount,
        } => json!({"account_id": account.0, "position_side": leg.side.as_str(),
            "amount": money(amount.0)}),
        _ => return None,
    };
    Some((market.index(), kind, fields))
}

fn fill_fields(f: &FillRecord, s: &MarketSpec) -> Value {
    json!({"trade_id": f.trade_id.0, "price": px(s, f.price),
    "quantity": Qty(f.qty).text(s.lot_size), "taker_side": name(&f.taker_side),
    "taker": {"account_id": f.taker.0, "order_id": f.taker_order.0,
              "position_side": f.taker_position.as_str(),
              "fee": money(f.taker_fee.0), "realized_pnl": money(f.taker_realized.0),
              "liquidation_fee": money(f.liquidation_fee.0)},
    "maker": {"account_id": f.maker.0, "order_id": f.maker_order.0,
              "position_side": f.maker_position.as_str(),
              "fee": money(f.maker_fee.0), "realized_pnl": money(f.maker_realized.0)}})
}
