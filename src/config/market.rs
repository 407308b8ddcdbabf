//! One `[[markets]]` entry: from its raw form to a validated [`MarketSpec`], with the symbol
//! and key in every error, and the risk tiers checked and their maintenance amounts derived.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::raw::duration;
use super::Problem;
use crate::domain::{IndexSource, MarketSpec, Qty, RiskTier};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMarket {
    pub(super) symbol: String,
    base_asset: String,
    tick_size: String,
    lot_size: String,
    initial_index_price: String,
    risk_tiers: Vec<RawTier>,
    min_quantity: Option<String>,
    max_quantity: Option<String>,
    min_notional: Option<String>,
    price_band: Option<String>,
    market_take_bound: Option<String>,
    maker_fee: Option<String>,
    taker_fee: Option<String>,
    liquidation_fee: Option<String>,
    default_leverage: Option<u32>,
    max_open_orders: Option<u32>,
    funding_interval: Option<String>,
    interest_rate: Option<String>,
    funding_cap: Option<String>,
    impact_notional: Option<String>,
    index_source: Option<String>,
    index_stale_after: Option<String>,
    max_spread: Option<String>,
    binance_symbol: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    notional_cap: String,
    max_leverage: u32,
    maintenance_margin_rate: String,
}

/// Reads one market's decimals with its symbol in every error.
struct Fields<'a> {
    symbol: &'a str,
}

/// What a decimal must satisfy.
#[derive(Clone, Copy)]
enum Range {
    Positive,
    NonNegative,
    Any,
    /// Strictly between 0 and 1.
    Fraction,
}

impl Fields<'_> {
    fn err(&self, key: &str, why: impl Into<String>) -> Problem {
        Problem::invalid(Some(self.symbol), key, why)
    }

    fn dec(
        &self,
        key: &str,
        v: Option<&str>,
        default: &str,
        range: Range,
    ) -> Result<Decimal, Problem> {
        let s = v.unwrap_or(default);
        let d =
            Decimal::from_str(s).map_err(|_| self.err(key, format!("{s:?} is not a decimal")))?;
        let ok = match range {
            Range::Positive => d > Decimal::ZERO,
            Range::NonNegative => d >= Decimal::ZERO,
            Range::Any => true,
            Range::Fraction => d > Decimal::ZERO && d < Decimal::ONE,
        };
        if !ok {
            let want = match range {
                Range::Positive => "positive",
                Range::NonNegative => "zero or positive",
                Range::Any => unreachable!("every decimal is in range Any"),
                Range::Fraction => "between 0 and 1 (exclusive)",
            };
            return Err(self.err(key, format!("{s} must be {want}")));
        }
        Ok(d)
    }

    fn lots(
        &self,
        key: &str,
        v: Option<&str>,
        default: &str,
        lot: Decimal,
    ) -> Result<Qty, Problem> {
        let d = self.dec(key, v, default, Range::Positive)?;
        Qty::from_decimal(d, lot)
            .ok_or_else(|| self.err(key, format!("{d} is not a multiple of lot_size {lot}")))
    }
}

/// The checked symbol: 1-32 characters of A-Z, a-z, 0-9, '-', '_', '.'.
fn check_symbol(symbol: &str) -> Result<(), Problem> {
    let ok = !symbol.is_empty()
        && symbol.len() <= 32
        && symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Problem::invalid(
            Some(symbol),
            "symbol",
            "must be 1-32 characters of A-Z, a-z, 0-9, '-', '_', '.'",
        ))
    }
}

/// Tick, lot, min and max quantity, checked against each other, the book's 48-bit fill
/// counter and the money scale.
fn sizes(
    f: &Fields,
    m: &RawMarket,
    money_scale: u32,
) -> Result<(Decimal, Decimal, Qty, Qty), Problem> {
    let tick_size = f.dec("tick_size", Some(&m.tick_size), "", Range::Positive)?;
    let lot_size = f.dec("lot_size", Some(&m.lot_size), "", Range::Positive)?;
    // The documented default 0.001 unless that is off this market's lot: then one lot.
    let default_min = if Qty::from_decimal(Decimal::new(1, 3), lot_size).is_some() {
        "0.001".to_owned()
    } else {
        lot_size.to_string()
    };
    let min_quantity = f.lots(
        "min_quantity",
        m.min_quantity.as_deref(),
        &default_min,
        lot_size,
    )?;
    let max_quantity = f.lots("max_quantity", m.max_quantity.as_deref(), "1000", lot_size)?;
    if min_quantity > max_quantity {
        return Err(f.err("max_quantity", "must not be below min_quantity"));
    }
    if max_quantity.0 > crate::book::MAX_FILLED_LOTS / 2 {
        return Err(f.err(
            "max_quantity",
            "must be below 2^47 lots (the book counts an order's fills in 48 bits)",
        ));
    }
    // Notionals (price × quantity) then have at most `money_scale` decimals, so realized PnL
    // and cost bases stay exact money (docs/RULES.md §1).
    let decimals = tick_size.normalize().scale() + lot_size.normalize().scale();
    if decimals > money_scale {
        return Err(f.err(
            "tick_size",
            format!(
                "tick_size {tick_size} and lot_size {lot_size} have {decimals} decimals together, \
                 more than exchange.money_scale {money_scale}: price × quantity would not be exact money"
            ),
        ));
    }
    Ok((tick_size, lot_size, min_quantity, max_quantity))
}

/// Maker and taker fee rates: fractions whose sum is not negative.
fn fees(f: &Fields, m: &RawMarket) -> Result<(Decimal, Decimal), Problem> {
    let maker_fee = f.dec("maker_fee", m.maker_fee.as_deref(), "0.0002", Range::Any)?;
    let taker_fee = f.dec("taker_fee", m.taker_fee.as_deref(), "0.0005", Range::Any)?;
    if maker_fee + taker_fee < Decimal::ZERO {
        return Err(f.err("maker_fee", "maker_fee + taker_fee must not be negative"));
    }
    if maker_fee.abs() >= Decimal::ONE || taker_fee.abs() >= Decimal::ONE {
        return Err(f.err("taker_fee", "fees must be fractions (|fee| < 1)"));
    }
    Ok((maker_fee, taker_fee))
}

/// Default leverage (within the first tier) and the open-order cap.
fn account_limits(f: &Fields, m: &RawMarket, max_leverage: u32) -> Result<(u32, u32), Problem> {
    let default_leverage = m.default_leverage.unwrap_or(20);
    if default_leverage == 0 || default_leverage > max_leverage {
        return Err(f.err(
            "default_leverage",
            format!("{default_leverage} must be between 1 and the first tier's max_leverage {max_leverage}"),
        ));
    }
    let max_open_orders = m.max_open_orders.unwrap_or(200);
    if max_open_orders == 0 {
        return Err(f.err("max_open_orders", "must be at least 1"));
    }
    Ok((default_leverage, max_open_orders))
}

fn index_source(f: &Fields, m: &RawMarket) -> Result<IndexSource, Problem> {
    match m.index_source.as_deref().unwrap_or("oracle") {
        "oracle" => Ok(IndexSource::Oracle),
        "book_ema" => Ok(IndexSource::BookEma),
        "demo" => Ok(IndexSource::Demo),
        other => Err(f.err(
            "index_source",
            format!("{other:?}: expected \"oracle\", \"book_ema\" or \"demo\""),
        )),
    }
}

pub(super) fn market(
    m: RawMarket,
    margin_asset: &str,
    money_scale: u32,
) -> Result<MarketSpec, Problem> {
    check_symbol(&m.symbol)?;
    let f = Fields { symbol: &m.symbol };
    let (tick_size, lot_size, min_quantity, max_quantity) = sizes(&f, &m, money_scale)?;
    let (maker_fee, taker_fee) = fees(&f, &m)?;
    let risk_tiers = tiers(&f, &m.risk_tiers)?;
    let (default_leverage, max_open_orders) = account_limits(&f, &m, risk_tiers[0].max_leverage)?;
    let index_source = index_source(&f, &m)?;
    let sym = Some(m.symbol.as_str());
    let binance_symbol = binance_symbol(&f, m.binance_symbol, &m.base_asset, margin_asset)?;
    // An optional decimal key: its value, else the default, within `range`.
    let dec =
        |key, value: &Option<String>, default, range| f.dec(key, value.as_deref(), default, range);
    Ok(MarketSpec {
        base_asset: nonempty(&f, "base_asset", &m.base_asset)?,
        quote_asset: margin_asset.to_owned(),
        tick_size,
        lot_size,
        min_quantity,
        max_quantity,
        min_notional: dec("min_notional", &m.min_notional, "5", Range::NonNegative)?,
        price_band: dec("price_band", &m.price_band, "0.05", Range::Fraction)?,
        market_take_bound: dec(
            "market_take_bound",
            &m.market_take_bound,
            "0.05",
            Range::Fraction,
        )?,
        maker_fee,
        taker_fee,
        liquidation_fee: dec(
            "liquidation_fee",
            &m.liquidation_fee,
            "0.0125",
            Range::NonNegative,
        )?,
        default_leverage,
        max_open_orders,
        funding_interval: duration(sym, "funding_interval", m.funding_interval.as_deref(), "8h")?,
        interest_rate: dec("interest_rate", &m.interest_rate, "0.0001", Range::Any)?,
        funding_cap: dec("funding_cap", &m.funding_cap, "0.003", Range::Fraction)?,
        impact_notional: dec(
            "impact_notional",
            &m.impact_notional,
            "10000",
            Range::Positive,
        )?,
        index_source,
        initial_index_price: f.dec(
            "initial_index_price",
            Some(&m.initial_index_price),
            "",
            Range::Positive,
        )?,
        index_stale_after: duration(
            sym,
            "index_stale_after",
            m.index_stale_after.as_deref(),
            "60s",
        )?,
        max_spread: dec("max_spread", &m.max_spread, "0.01", Range::Fraction)?,
        risk_tiers,
        binance_symbol,
        symbol: m.symbol,
    })
}

/// The market's name in the Binance USDⓈ-M dialect: `binance_symbol`, else base asset +
/// margin asset (`BTC` + `USDT` → `BTCUSDT`); either way `^[A-Z0-9]{1,20}$`.
fn binance_symbol(
    f: &Fields<'_>,
    set: Option<String>,
    base: &str,
    margin_asset: &str,
) -> Result<String, Problem> {
    let explicit = set.is_some();
    let s = set.unwrap_or_else(|| format!("{base}{margin_asset}"));
    let ok = (1..=20).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        return Ok(s);
    }
    Err(f.err(
        "binance_symbol",
        if explicit {
            format!("{s:?} must be 1-20 characters of A-Z and 0-9")
        } else {
            format!("the default {s:?} (base_asset + margin_asset) is not 1-20 characters of A-Z and 0-9: set binance_symbol")
        },
    ))
}

fn nonempty(f: &Fields<'_>, key: &str, v: &str) -> Result<String, Problem> {
    if v.is_empty() {
        return Err(f.err(key, "must not be empty"));
    }
    Ok(v.to_owned())
}

/// Validate the tiers and derive `maintenance_amount` (docs/RULES.md §3):
/// `amount(n) = amount(n−1) + cap(n−1) × (mmr(n) − mmr(n−1))`, tier 1 = 0.
fn tiers(f: &Fields<'_>, raw: &[RawTier]) -> Result<Vec<RiskTier>, Problem> {
    if raw.is_empty() {
        return Err(f.err("risk_tiers", "at least one tier is required"));
    }
    let mut out: Vec<RiskTier> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let key = |k: &str| format!("risk_tiers[{i}].{k}");
        let cap = f.dec(
            &key("notional_cap"),
            Some(&t.notional_cap),
            "",
            Range::Positive,
        )?;
        let mmr = f.dec(
            &key("maintenance_margin_rate"),
            Some(&t.maintenance_margin_rate),
            "",
            Range::Fraction,
        )?;
        if t.max_leverage == 0 {
            return Err(f.err(&key("max_leverage"), "must be at least 1"));
        }
        if Decimal::ONE / Decimal::from(t.max_leverage) <= mmr {
            return Err(f.err(
                &key("maintenance_margin_rate"),
                "must be below the initial margin rate 1/max_leverage, or a new position is liquidatable at once",
            ));
        }
        let amount = match out.last() {
            None => Decimal::ZERO,
            Some(prev) => {
                if cap <= prev.notional_cap {
                    return Err(f.err(
                        &key("notional_cap"),
                        "tiers must be strictly increasing in notional_cap",
                    ));
                }
                if mmr <= prev.maintenance_margin_rate {
                    return Err(f.err(
                        &key("maintenance_margin_rate"),
                        "tiers must be strictly increasing in maintenance_margin_rate",
                    ));
                }
                if t.max_leverage >= prev.max_leverage {
                    return Err(f.err(
                        &key("max_leverage"),
                        "tiers must be decreasing in max_leverage",
                    ));
                }
                prev.maintenance_amount + prev.notional_cap * (mmr - prev.maintenance_margin_rate)
            }
        };
        out.push(RiskTier {
            notional_cap: cap,
            max_leverage: t.max_leverage,
            maintenance_margin_rate: mmr,
            maintenance_amount: amount,
        });
    }
    Ok(out)
}
