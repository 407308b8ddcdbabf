//! The account in Binance's words (USER_DATA): `/fapi/v2|v3/account`, `/fapi/v2|v3/balance`,
//! `/fapi/v2|v3/positionRisk` (its handlers: `position_risk.rs`), `leverageBracket`,
//! `commissionRate`.
//!
//! # Invariants
//! - Every figure is a field of the native account object (`AccountView`), renamed: the
//!   wallet is the native wallet balance (cross + isolated wallets), the cross wallet its
//!   `cross_wallet_balance`, `crossUnPnl` the uPnL of cross positions, total initial margin is
//!   position margin + order margin, `maxWithdrawAmount` is the native `withdrawable`; per
//!   position `isolatedWallet` is its isolated wallet and `isolatedMargin` that wallet plus its
//!   uPnL (both 0 in cross mode, as Binance shows them).
//! - Positions are rows per leg, as on Binance: one `BOTH` row per symbol in one-way mode, a
//!   `LONG` and a `SHORT` row per symbol in hedge mode (`positionAmt` ≥ 0 on `LONG`, ≤ 0 on
//!   `SHORT`), each with its own entry price, uPnL, margins, liquidation price and isolated
//!   wallet; leverage and margin type are the symbol's, shared by its legs.
//! - `updateTime` is the time the view was computed (ccxt ignores assets whose `updateTime` is
//!   0); `breakEvenPrice` is the entry price (perpx does not fold fees into it).

use actix_web::{web, HttpRequest, HttpResponse};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::errors::BnResult;
use super::market::now;
use super::render::dec;
use super::{auth, ok, position_risk, render, symbols};
use crate::api::State;
use crate::domain::{MarginMode, MarketSpec, PositionSide};
use crate::engine::{AccountView, PositionView};
use crate::risk::{margin, MarketId};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::fapi_resource!("/v2/account").get(account_v2))
        .service(crate::fapi_resource!("/v3/account").get(account_v3))
        .service(crate::fapi_resource!("/v2/balance").get(balance))
        .service(crate::fapi_resource!("/v3/balance").get(balance))
        .service(crate::fapi_resource!("/v2/positionRisk").get(position_risk::v2))
        .service(crate::fapi_resource!("/v3/positionRisk").get(position_risk::v3))
        .service(crate::fapi_resource!("/v1/leverageBracket").get(leverage_bracket))
        .service(crate::fapi_resource!("/v1/commissionRate").get(commission_rate));
}

/// One market as the account has set it: leverage, margin mode and the margin held for its
/// open orders (`symbolConfig`).
pub struct MarketRow<'a> {
    pub market: MarketId,
    pub spec: &'a MarketSpec,
    pub leverage: u32,
    pub order_margin: Decimal,
    pub margin_mode: MarginMode,
    /// Per leg (see [`MarketSetting::leg_order_margin`]).
    legs: &'a [(PositionSide, Decimal)],
}

impl MarketRow<'_> {
    /// The margin held for the open orders of leg `side` (0 for a leg without orders).
    fn leg_order_margin(&self, side: PositionSide) -> Decimal {
        self.legs
            .iter()
            .find(|(s, _)| *s == side)
            .map_or(Decimal::ZERO, |(_, m)| *m)
    }
}

/// Every market's settings for the account (markets it never touched at their defaults).
pub fn markets<'a>(st: &'a State, v: &'a AccountView) -> Vec<MarketRow<'a>> {
    (0..st.ex.specs.len())
        .map(|i| MarketId(i as u16))
        .map(|m| {
            let spec = st.ex.spec(m);
            let setting = v.settings.iter().find(|s| s.market == m);
            MarketRow {
                market: m,
                spec,
                leverage: setting.map_or(spec.default_leverage, |s| s.leverage),
                order_margin: setting.map_or(Decimal::ZERO, |s| s.order_margin),
                margin_mode: setting.map_or(MarginMode::Cross, |s| s.margin_mode),
                legs: setting.map_or(&[][..], |s| &s.leg_order_margin[..]),
            }
        })
        .collect()
}

/// One position row as Binance shows it: a leg of a market (`BOTH` in one-way mode; `LONG`
/// and `SHORT` in hedge mode), its position (if any), the market's leverage and margin mode,
/// and the margin held for this leg's open orders.
pub struct Row<'a> {
    pub market: MarketId,
    pub spec: &'a MarketSpec,
    pub side: PositionSide,
    pub position: Option<&'a PositionView>,
    pub leverage: u32,
    pub order_margin: Decimal,
    pub margin_mode: MarginMode,
}

/// The legs of `market` to show: the account's mode's legs, and any other leg that holds a
/// position.
fn legs_of(v: &AccountView, market: MarketId) -> Vec<PositionSide> {
    let mut legs = v.position_mode.legs().to_vec();
    for p in v.positions.iter().filter(|p| p.market == market) {
        if !legs.contains(&p.position_side) {
            legs.push(p.position_side);
        }
    }
    legs
}

/// Every leg's row of every market (`all`), or those with a position or held order margin
/// (as Binance's v3 routes list them).
pub async fn rows<'a>(st: &'a State, v: &'a AccountView, all: bool) -> BnResult<Vec<Row<'a>>> {
    let mut out = Vec::new();
    for m in markets(st, v) {
        for side in legs_of(v, m.market) {
            // Each leg's own order margin, as the ledger holds it.
            let order_margin = m.leg_order_margin(side);
            let position = v
                .positions
                .iter()
                .find(|p| p.market == m.market && p.position_side == side);
            if all || position.is_some() || !order_margin.is_zero() {
                out.push(Row {
                    market: m.market,
                    spec: m.spec,
                    side,
                    position,
                    leverage: m.leverage,
                    order_margin,
                    margin_mode: m.margin_mode,
                });
            }
        }
    }
    Ok(out)
}

impl Row<'_> {
    pub fn amount(&self) -> Decimal {
        self.position.map_or(Decimal::ZERO, |p| {
            Decimal::from(p.quantity) * self.spec.lot_size
        })
    }

    pub(super) fn pos(&self, f: impl Fn(&PositionView) -> Decimal) -> String {
        dec(self.position.map_or(Decimal::ZERO, f))
    }

    pub(super) fn position_margin(&self) -> Decimal {
        self.position.map_or(Decimal::ZERO, |p| p.initial_margin)
    }

    /// The isolated wallet (0 in cross mode).
    pub fn isolated_wallet(&self) -> String {
        self.pos(|p| p.isolated_wallet)
    }

    /// Binance's `isolatedMargin`: the isolated wallet plus the position's uPnL (0 in cross).
    pub fn isolated_margin(&self) -> String {
        if self.margin_mode.is_isolated() {
            self.pos(|p| p.isolated_wallet + p.unrealized_pnl)
        } else {
            "0".to_owned()
        }
    }

    /// `marginType` as positionRisk v2 words it.
    pub fn margin_type(&self) -> &'static str {
        self.margin_mode.as_str()
    }

    pub(super) fn max_notional(&self) -> String {
        dec(margin::max_notional(&self.spec.risk_tiers, self.leverage).unwrap_or_default())
    }
}

/// The view of the signed request's account.
pub async fn view(st: &State, req: &HttpRequest) -> BnResult<(AccountView, super::params::Params)> {
    let (account, p) = auth::signed(st, req, b"")?;
    let v = st.ex.account_view(account).await?;
    Ok((v, p))
}

/// The uPnL of the cross positions (the account's total leaves out isolated ones' share).
pub fn cross_upnl(v: &AccountView) -> Decimal {
    v.unrealized_pnl
        - v.positions
            .iter()
            .filter(|p| p.margin_mode.is_isolated())
            .map(|p| p.unrealized_pnl)
            .sum::<Decimal>()
}

fn totals(st: &State, v: &AccountView) -> serde_json::Map<String, Value> {
    let t = now(st);
    let initial = v.position_margin + v.order_margin;
    let cross_upnl = cross_upnl(v);
    let asset = json!({
        "asset": st.margin_asset,
        "walletBalance": dec(v.wallet_balance),
        "unrealizedProfit": dec(v.unrealized_pnl),
        "marginBalance": dec(v.margin_balance),
        "maintMargin": dec(v.maintenance_margin),
        "initialMargin": dec(initial),
        "positionInitialMargin": dec(v.position_margin),
        "openOrderInitialMargin": dec(v.order_margin),
        "crossWalletBalance": dec(v.cross_wallet_balance),
        "crossUnPnl": dec(cross_upnl),
        "availableBalance": dec(v.available_balance),
        "maxWithdrawAmount": dec(v.withdrawable),
        "marginAvailable": true,
        "updateTime": t,
    });
    let Value::Object(o) = json!({
        "totalInitialMargin": dec(initial),
        "totalMaintMargin": dec(v.maintenance_margin),
        "totalWalletBalance": dec(v.wallet_balance),
        "totalUnrealizedProfit": dec(v.unrealized_pnl),
        "totalMarginBalance": dec(v.margin_balance),
        "totalPositionInitialMargin": dec(v.position_margin),
        "totalOpenOrderInitialMargin": dec(v.order_margin),
        "totalCrossWalletBalance": dec(v.cross_wallet_balance),
        "totalCrossUnPnl": dec(cross_upnl),
        "availableBalance": dec(v.available_balance),
        "maxWithdrawAmount": dec(v.withdrawable),
        "assets": [asset],
    }) else {
        unreachable!("an object literal")
    };
    o
}

/// `GET /fapi/v3/account`: totals, the margin asset, and the open positions.
async fn account_v3(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, p) = view(&st, &req).await?;
    p.finish()?;
    let t = now(&st);
    let mut o = totals(&st, &v);
    let positions: Vec<Value> = rows(&st, &v, false)
        .await?
        .iter()
        .map(|r| {
            json!({
                "symbol": r.spec.binance_symbol,
                "positionSide": render::position_side(r.side),
                "positionAmt": dec(r.amount()),
                "unrealizedProfit": r.pos(|p| p.unrealized_pnl),
                "isolatedMargin": r.isolated_margin(),
                "notional": r.pos(|p| p.notional),
                "isolatedWallet": r.isolated_wallet(),
                "initialMargin": dec(r.position_margin() + r.order_margin),
                "maintMargin": r.pos(|p| p.maintenance_margin),
                "updateTime": t,
            })
        })
        .collect();
    o.insert("positions".into(), positions.into());
    ok(&o)
}

/// `GET /fapi/v2/account`: v3 plus the account flags and a row for every market.
async fn account_v2(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, p) = view(&st, &req).await?;
    p.finish()?;
    let t = now(&st);
    let mut o = totals(&st, &v);
    for (k, val) in [
        ("feeTier", json!(0)),
        ("canTrade", json!(true)),
        ("canDeposit", json!(true)),
        ("canWithdraw", json!(true)),
        ("updateTime", json!(0)),
        ("multiAssetsMargin", json!(false)),
        ("tradeGroupId", json!(-1)),
    ] {
        o.insert(k.into(), val);
    }
    let positions: Vec<Value> = rows(&st, &v, true)
        .await?
        .iter()
        .map(|r| {
            json!({
                "symbol": r.spec.binance_symbol,
                "initialMargin": dec(r.position_margin() + r.order_margin),
                "maintMargin": r.pos(|p| p.maintenance_margin),
                "unrealizedProfit": r.pos(|p| p.unrealized_pnl),
                "positionInitialMargin": dec(r.position_margin()),
                "openOrderInitialMargin": dec(r.order_margin),
                "leverage": r.leverage.to_string(),
                "isolated": r.margin_mode.is_isolated(),
                "isolatedWallet": r.isolated_wallet(),
                "entryPrice": r.pos(|p| p.entry_price),
                "breakEvenPrice": r.pos(|p| p.entry_price),
                "maxNotional": r.max_notional(),
                "bidNotional": "0",
                "askNotional": "0",
                "positionSide": render::position_side(r.side),
                "positionAmt": dec(r.amount()),
                "updateTime": t,
            })
        })
        .collect();
    o.insert("positions".into(), positions.into());
    ok(&o)
}

/// `GET /fapi/v2|v3/balance`.
async fn balance(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (v, p) = view(&st, &req).await?;
    p.finish()?;
    ok(&json!([{
        "accountAlias": format!("perpx-{}", v.account_id.0),
        "asset": st.margin_asset,
        "balance": dec(v.wallet_balance),
        "crossWalletBalance": dec(v.cross_wallet_balance),
        "crossUnPnl": dec(cross_upnl(&v)),
        "availableBalance": dec(v.available_balance),
        "maxWithdrawAmount": dec(v.withdrawable),
        "marginAvailable": true,
        "updateTime": now(&st),
    }]))
}

fn number(d: Decimal) -> Value {
    if d.normalize().scale() == 0 {
        d.to_i64().map_or(Value::Null, Value::from)
    } else {
        d.to_f64().map_or(Value::Null, Value::from)
    }
}

/// One market's notional brackets: tier `n` spans the previous tier's cap to its own.
pub fn brackets(spec: &MarketSpec) -> Value {
    let mut floor = Decimal::ZERO;
    let b: Vec<Value> = spec
        .risk_tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = json!({
                "bracket": i + 1,
                "initialLeverage": t.max_leverage,
                "notionalCap": number(t.notional_cap),
                "notionalFloor": number(floor),
                "maintMarginRatio": number(t.maintenance_margin_rate),
                "cum": number(t.maintenance_amount),
            });
            floor = t.notional_cap;
            v
        })
        .collect();
    json!({"symbol": spec.binance_symbol, "notionalCoef": 1.0, "brackets": b})
}

/// `GET /fapi/v1/leverageBracket`: an object for one `symbol`, else an array.
async fn leverage_bracket(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (_, mut p) = auth::signed(&st, &req, b"")?;
    let (single, markets) = symbols::one_or_all(&st, &mut p)?;
    p.finish()?;
    let mut v: Vec<Value> = markets.iter().map(|&m| brackets(st.ex.spec(m))).collect();
    if single {
        return ok(&v.pop());
    }
    ok(&v)
}

async fn commission_rate(st: State, req: HttpRequest) -> BnResult<HttpResponse> {
    let (_, mut p) = auth::signed(&st, &req, b"")?;
    let m = symbols::required(&st, &mut p)?;
    p.finish()?;
    let spec = st.ex.spec(m);
    ok(&json!({
        "symbol": spec.binance_symbol,
        "makerCommissionRate": dec(spec.maker_fee),
        "takerCommissionRate": dec(spec.taker_fee),
    }))
}
