//! Order parameters in Binance's words: side, type, time in force, Binance's decimal grammar
//! (-1100), then the domain's one checked constructor (`OrderRequest::new`: parts against the
//! type, ticks, steps, size limits), whose typed reasons `errors.rs` renders with Binance's
//! codes; `positionSide` (the leg an order trades, checked against the account's position mode
//! by R1); and the features perpx does not offer (`closePosition`, trailing stops, GTD,
//! `priceMatch`, `priceProtect`), refused with a clear error rather than approximated.

use rust_decimal::Decimal;

use super::errors::{from_reject, BnError, BnResult, Ctx};
use super::params::Params;
use crate::domain::{
    decimal_text, MarketSpec, NumberFault, NumberFaultKind, OrderDraft, OrderId, OrderRequest,
    OrderType, PositionSide, Price, Qty, Reject, Side, Stp, TimeInForce, TriggerBy,
};

/// Binance's lexical rule for decimal parameters, quoted in its -1100 message.
const LEGAL_DECIMAL: &str = r"^([0-9]{1,20})(\.[0-9]{1,20})?$";

/// What a decimal parameter is, for its size limits and its error codes.
#[derive(Clone, Copy)]
enum Kind {
    Price,
    StopPrice,
    Quantity,
}

/// A decimal parameter as Binance reads it: any text of Binance's rule `LEGAL_DECIMAL` (leading
/// zeros of the integer part and trailing zeros of the fraction carry no value and are dropped;
/// ccxt sends `"0.0010"` or `"50000.00"`), anything else (sign, exponent, spaces) is -1100 as
/// on Binance. This lexical rule is the dialect's own; what the value must then be (positive,
/// within perpx's digit limits, on the market's step and limits) is checked by the domain,
/// whose typed reasons `errors.rs` renders with Binance's codes. So every value this dialect
/// accepts is one the native API accepts, exactly.
fn wire_decimal(name: &str, text: &str, kind: Kind) -> BnResult<Decimal> {
    let (int, frac) = text.split_once('.').map_or((text, ""), |(i, f)| (i, f));
    let digits = |t: &str| (1..=20).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (text.contains('.') && !digits(frac)) {
        return Err(BnError::bad(
            -1100,
            format!(
                "Illegal characters found in parameter '{name}'; legal range is '{LEGAL_DECIMAL}'."
            ),
        ));
    }
    let int = match int.trim_start_matches('0') {
        "" => "0",
        i => i,
    };
    let frac = frac.trim_end_matches('0');
    let canonical = if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    };
    let (shape, fault): (_, fn(NumberFault) -> Reject) = match kind {
        Kind::Price => (decimal_text::PRICE, Reject::InvalidPrice),
        Kind::StopPrice => (decimal_text::PRICE, Reject::InvalidTriggerPrice),
        Kind::Quantity => (decimal_text::QUANTITY, Reject::InvalidQuantity),
    };
    let refuse = |k| {
        Err(BnError::from(fault(NumberFault::new(
            k,
            canonical.as_str(),
        ))))
    };
    if int == "0" && frac.is_empty() {
        return refuse(NumberFaultKind::NotPositive);
    }
    match shape.lex(&canonical) {
        Ok(d) => Ok(d),
        Err(k) => refuse(k),
    }
}

/// A price parameter (`price`, or a trigger price when `name` is not `price`): positive, not
/// finer than the tick, on the tick.
pub fn parse_price(spec: &MarketSpec, name: &str, text: &str) -> BnResult<Price> {
    if name == "price" {
        let d = wire_decimal(name, text, Kind::Price)?;
        Ok(spec.price(d)?)
    } else {
        let d = wire_decimal(name, text, Kind::StopPrice)?;
        Ok(spec.price(d).map_err(Reject::trigger)?)
    }
}

/// A quantity: positive, not finer than the step, on the step, within the market's limits.
pub fn quantity(spec: &MarketSpec, text: &str) -> BnResult<Qty> {
    let d = wire_decimal("quantity", text, Kind::Quantity)?;
    Ok(spec.qty(d)?)
}

pub fn parse_side(text: &str) -> BnResult<Side> {
    match text {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(BnError::bad(-1117, "Invalid side.")),
    }
}

/// `positionSide`: `BOTH` (the default) in one-way mode, `LONG` or `SHORT` in hedge mode
/// (whether it fits the account's mode is R1's rule: -4061 from there).
pub fn position_side(p: &mut Params) -> BnResult<PositionSide> {
    Ok(sent_position_side(p)?.unwrap_or(PositionSide::Both))
}

/// `positionSide` when it was sent.
pub fn sent_position_side(p: &mut Params) -> BnResult<Option<PositionSide>> {
    match p.opt("positionSide").as_deref() {
        None => Ok(None),
        Some("BOTH") => Ok(Some(PositionSide::Both)),
        Some("LONG") => Ok(Some(PositionSide::Long)),
        Some("SHORT") => Ok(Some(PositionSide::Short)),
        Some(_) => Err(BnError::malformed("positionSide", "BOTH, LONG or SHORT")),
    }
}

fn not_required(name: &str) -> BnError {
    BnError::bad(-1106, format!("Parameter '{name}' sent when not required."))
}

fn unsupported(name: &str, why: &str) -> BnError {
    BnError::bad(
        -1130,
        format!("Data sent for parameter '{name}' is not valid: {why}."),
    )
}

/// The parameter names of a new order on `/order` or on `/algoOrder`.
pub struct Names {
    pub trigger: &'static str,
    pub client_id: &'static str,
}

pub const ORDER: Names = Names {
    trigger: "stopPrice",
    client_id: "newClientOrderId",
};

/// A new order's parameters (everything but `symbol`), read in Binance's words, then checked
/// against `spec` by the domain's one constructor.
pub fn parse_new(p: &mut Params, spec: &MarketSpec, names: &Names) -> BnResult<OrderRequest> {
    let side = parse_side(&p.req("side")?)?;
    let position_side = position_side(p)?;
    let order_type = order_type(&p.req("type")?)?;
    let tif = time_in_force(p, order_type)?;
    let close_position = p.bool("closePosition")?.unwrap_or(false);
    // closePosition takes no quantity (Binance: -4137 when one is sent): the domain refuses it.
    let qty = match p.opt("quantity") {
        Some(q) => Some(wire_decimal("quantity", &q, Kind::Quantity)?),
        None if close_position => None,
        None => return Err(BnError::mandatory("quantity")),
    };
    let price = p
        .opt("price")
        .map(|t| wire_decimal("price", &t, Kind::Price))
        .transpose()?;
    let trigger_price = p
        .opt(names.trigger)
        .map(|t| wire_decimal(names.trigger, &t, Kind::StopPrice))
        .transpose()?;
    let trigger_by = match p.opt("workingType").as_deref() {
        None | Some("CONTRACT_PRICE") => TriggerBy::Last,
        Some("MARK_PRICE") => TriggerBy::Mark,
        Some(_) => {
            return Err(BnError::malformed(
                "workingType",
                "MARK_PRICE or CONTRACT_PRICE",
            ))
        }
    };
    not_offered(p)?;
    let draft = OrderDraft {
        side,
        order_type,
        tif,
        price,
        trigger_price,
        trigger_by,
        qty,
        reduce_only: p.bool("reduceOnly")?.unwrap_or(false),
        stp: stp(p)?,
        position_side,
        // None is shown as `perpx-<orderId>` (see `render::client_id`), stored as none.
        client_order_id: p.opt(names.client_id),
        close_position,
        // Binance attaches no take-profit / stop-loss to an order: they are separate
        // closePosition orders there (the native API's `take_profit` / `stop_loss`).
        take_profit: None,
        stop_loss: None,
        tpsl_trigger_by: TriggerBy::Last,
    };
    OrderRequest::new(draft, spec).map_err(|r| from_reject(&r, Ctx::Place(side, names.trigger)))
}

/// `type`, in Binance's names.
fn order_type(text: &str) -> BnResult<OrderType> {
    Ok(match text {
        "LIMIT" => OrderType::Limit,
        "MARKET" => OrderType::Market,
        "STOP" => OrderType::StopLimit,
        "STOP_MARKET" => OrderType::StopMarket,
        "TAKE_PROFIT" => OrderType::TakeProfitLimit,
        "TAKE_PROFIT_MARKET" => OrderType::TakeProfitMarket,
        "TRAILING_STOP_MARKET" => {
            return Err(BnError::bad(
                -1116,
                "Invalid orderType: TRAILING_STOP_MARKET is not offered.",
            ))
        }
        _ => return Err(BnError::bad(-1116, "Invalid orderType.")),
    })
}

/// `timeInForce` (mandatory for LIMIT, not taken by the unpriced types) and no GTD.
fn time_in_force(p: &mut Params, order_type: OrderType) -> BnResult<TimeInForce> {
    let tif = match p.opt("timeInForce").as_deref() {
        None if order_type == OrderType::Limit => return Err(BnError::mandatory("timeInForce")),
        None | Some("GTC") => TimeInForce::Gtc,
        Some(_) if !order_type.has_price() => return Err(not_required("timeInForce")),
        Some("IOC") => TimeInForce::Ioc,
        Some("FOK") => TimeInForce::Fok,
        Some("GTX") => TimeInForce::PostOnly,
        Some("GTD") => return Err(unsupported("timeInForce", "GTD is not offered")),
        Some(_) => return Err(BnError::bad(-1115, "Invalid timeInForce.")),
    };
    if p.opt("goodTillDate").is_some() {
        return Err(unsupported("goodTillDate", "GTD is not offered"));
    }
    Ok(tif)
}

/// The features perpx does not offer, refused rather than approximated.
fn not_offered(p: &mut Params) -> BnResult<()> {
    if p.bool("priceProtect")? == Some(true) {
        return Err(unsupported(
            "priceProtect",
            "price protection is not offered",
        ));
    }
    match p.opt("priceMatch").as_deref() {
        None | Some("NONE") => {}
        Some(_) => return Err(unsupported("priceMatch", "only NONE is offered")),
    }
    match p.opt("newOrderRespType").as_deref() {
        // The reply is always the order after matching (what RESULT asks for).
        None | Some("ACK" | "RESULT") => Ok(()),
        Some(_) => Err(BnError::malformed("newOrderRespType", "ACK or RESULT")),
    }
}

/// `selfTradePreventionMode`.
fn stp(p: &mut Params) -> BnResult<Stp> {
    Ok(match p.opt("selfTradePreventionMode").as_deref() {
        None => Stp::default(),
        Some("NONE") => Stp::None,
        Some("EXPIRE_TAKER") => Stp::ExpireTaker,
        Some("EXPIRE_MAKER") => Stp::ExpireMaker,
        Some("EXPIRE_BOTH") => Stp::ExpireBoth,
        Some(_) => {
            return Err(BnError::malformed(
                "selfTradePreventionMode",
                "unknown mode",
            ))
        }
    })
}

/// An order named by id or by client id.
pub enum OrderRef {
    Id(OrderId),
    Client(String),
}

/// `orderId` (preferred) or `origClientOrderId`.
pub fn order_ref(p: &mut Params, id: &str, client: &str) -> BnResult<OrderRef> {
    let by_id = p.u64(id)?;
    let by_client = p.opt(client);
    match (by_id, by_client) {
        (Some(i), _) => Ok(OrderRef::Id(OrderId(i))),
        (None, Some(c)) => Ok(OrderRef::Client(c)),
        (None, None) => Err(BnError::mandatory(&format!("{id}' or '{client}"))),
    }
}

/// A parsed modify (`PUT /order`, one item of `PUT /batchOrders`).
pub struct Modify {
    pub order: OrderRef,
    pub side: Side,
    /// `positionSide` if sent: it must be the order's (-4061 otherwise); an amend never moves
    /// an order to another leg.
    pub position_side: Option<PositionSide>,
    pub qty: Qty,
    pub price: Price,
}

pub fn parse_modify(p: &mut Params, spec: &MarketSpec) -> BnResult<Modify> {
    let order = order_ref(p, "orderId", "origClientOrderId")?;
    let side = parse_side(&p.req("side")?)?;
    let position_side = sent_position_side(p)?;
    let qty = quantity(spec, &p.req("quantity")?)?;
    let price = parse_price(spec, "price", &p.req("price")?)?;
    match p.opt("priceMatch").as_deref() {
        None | Some("NONE") => {}
        Some(_) => return Err(unsupported("priceMatch", "only NONE is offered")),
    }
    Ok(Modify {
        order,
        side,
        position_side,
        qty,
        price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str, kind: Kind) -> Result<String, i32> {
        wire_decimal("price", text, kind)
            .map(|d| d.to_string())
            .map_err(|e| e.code)
    }

    #[test]
    fn binance_decimals_are_read_as_binance_reads_them() {
        // What ccxt sends, and what Binance's rule allows: zeros that carry no value go.
        assert_eq!(code("0.0010", Kind::Quantity), Ok("0.001".into()));
        assert_eq!(code("50000.00", Kind::Price), Ok("50000".into()));
        assert_eq!(code("050000.10", Kind::Price), Ok("50000.1".into()));
        assert_eq!(
            code("0.00100000000000000000", Kind::Quantity),
            Ok("0.001".into())
        );
        // Outside Binance's rule: -1100, as Binance answers.
        for bad in [
            "", "1e-3", "1E3", "-1", "+1", " 1", "1.", ".5", "1_000", "1,5", "NaN",
        ] {
            assert_eq!(code(bad, Kind::Price), Err(-1100), "{bad:?}");
        }
        // Zero, per kind.
        assert_eq!(code("0.000", Kind::Price), Err(-4001));
        assert_eq!(code("0", Kind::StopPrice), Err(-4006));
        assert_eq!(code("00", Kind::Quantity), Err(-4003));
        // Inside Binance's rule but beyond perpx's digit limits (decimal_text).
        assert_eq!(code("1000000000000", Kind::Price), Err(-4002));
        assert_eq!(code("1000000000000", Kind::StopPrice), Err(-4007));
        assert_eq!(code("1000000000000000", Kind::Quantity), Err(-4005));
        assert_eq!(code("0.00000000000000001", Kind::Price), Err(-1111));
        assert_eq!(code("0.00000000000001", Kind::Quantity), Err(-1111));
    }
}
