//! `GET /fapi/v2|v3/positionRisk`: the account's legs (rows of `account.rs`, whose invariants
//! hold here too) with their mark, liquidation price and margins, as Binance renders them.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::account::{rows, view, Row};
use super::errors::BnResult;
use super::market::now;
use super::render::dec;
use super::{ok, render, symbols, ticker};
use crate::api::State;
use crate::engine::AccountView;

/// The mark of a row's market: from a position of the market in the view, else from the
/// market's summary.
async fn mark_of(st: &State, v: &AccountView, r: &Row<'_>) -> BnResult<String> {
    Ok(
        match r
            .position
            .or_else(|| v.positions.iter().find(|p| p.market == r.market))
        {
            Some(p) => dec(p.mark_price),
            None => ticker::summary(st, r.market).await?.mark_price,
        },
    )
}

fn liquidation(r: &Row<'_>) -> String {
    r.position
        .and_then(|p| p.liquidation_price)
        .map_or_else(|| "0".to_owned(), dec)
}

/// `GET /fapi/v3/positionRisk`: the legs with a position or held order margin.
pub async fn v3(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, mut p) = view(&st, &req).await?;
    let only = symbols::optional(&st, &mut p)?;
    p.finish()?;
    let t = now(&st);
    let mut out = Vec::new();
    for r in rows(&st, &v, false)
        .await?
        .iter()
        .filter(|r| only.is_none_or(|m| m == r.market))
    {
        out.push(json!({
            "symbol": r.spec.binance_symbol,
            "positionSide": render::position_side(r.side),
            "positionAmt": dec(r.amount()),
            "entryPrice": r.pos(|p| p.entry_price),
            "breakEvenPrice": r.pos(|p| p.entry_price),
            "markPrice": mark_of(&st, &v, r).await?,
            "unRealizedProfit": r.pos(|p| p.unrealized_pnl),
            "liquidationPrice": liquidation(r),
            "isolatedMargin": r.isolated_margin(),
            "notional": r.pos(|p| p.notional),
            "marginAsset": st.margin_asset,
            "isolatedWallet": r.isolated_wallet(),
            "initialMargin": dec(r.position_margin() + r.order_margin),
            "maintMargin": r.pos(|p| p.maintenance_margin),
            "positionInitialMargin": dec(r.position_margin()),
            "openOrderInitialMargin": dec(r.order_margin),
            "adl": 0,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": t,
        }));
    }
    ok(&out)
}

/// `GET /fapi/v2/positionRisk`: every leg of every market (or of the one named), with
/// leverage.
pub async fn v2(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, mut p) = view(&st, &req).await?;
    let only = symbols::optional(&st, &mut p)?;
    p.finish()?;
    let t = now(&st);
    let mut out = Vec::new();
    for r in rows(&st, &v, true)
        .await?
        .iter()
        .filter(|r| only.is_none_or(|m| m == r.market))
    {
        out.push(json!({
            "symbol": r.spec.binance_symbol,
            "positionAmt": dec(r.amount()),
            "entryPrice": r.pos(|p| p.entry_price),
            "breakEvenPrice": r.pos(|p| p.entry_price),
            "markPrice": mark_of(&st, &v, r).await?,
            "unRealizedProfit": r.pos(|p| p.unrealized_pnl),
            "liquidationPrice": liquidation(r),
            "leverage": r.leverage.to_string(),
            "maxNotionalValue": r.max_notional(),
            "marginType": r.margin_type(),
            "isolatedMargin": r.isolated_margin(),
            "isAutoAddMargin": "false",
            "positionSide": render::position_side(r.side),
            "notional": r.pos(|p| p.notional),
            "isolatedWallet": r.isolated_wallet(),
            "updateTime": t,
        }));
    }
    ok(&out)
}
