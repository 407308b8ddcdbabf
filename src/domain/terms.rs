//! One order, from the edge to the journal (docs/ARCHITECTURE.md §3): the [`OrderTerms`] every
//! stage shares (`Copy`), the [`Order`] they become once R1 names it, and the one checked
//! constructor both API dialects call ([`OrderRequest::new`]).
//!
//! # Invariants
//! - An [`OrderRequest`] built by [`OrderRequest::new`] is valid for its market: a price
//!   exactly when the type has one, a trigger exactly when it is conditional, no `post_only`
//!   on a conditional order, prices on tick, the quantity on lot and within the market's
//!   limits, a well-formed client order id. Each of these rules is checked here and nowhere
//!   else; the stages after it hold the terms and do not re-check them.
//! - The field order of [`OrderTerms`] and [`Order`] is their journal encoding (postcard,
//!   positional): do not reorder fields.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::reject::{NumberFault, NumberFaultKind, RequestFault, TpSlFault};
pub use super::tpsl::TpSl;
use super::{
    AccountId, MarketSpec, OrderId, OrderType, PositionSide, Price, Qty, Reject, Side, Stp,
    TimeInForce, TriggerBy,
};

/// What the client asked for, checked: shared by every stage of the order path.
///
/// Journal encoding: [`TermsWire`] (`reduce_only` and `position_side` share one byte, so
/// records written before hedge mode, which hold 0 or 1 there, read as position side `both`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "TermsWire", from = "TermsWire")]
pub struct OrderTerms {
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    /// The limit price: `Some` exactly for `limit`, `stop_limit` and `take_profit_limit`.
    pub price: Option<Price>,
    /// `Some` exactly for stop and take-profit orders.
    pub trigger_price: Option<Price>,
    pub trigger_by: TriggerBy,
    pub qty: Qty,
    /// Never opens or grows a position. In hedge mode R1 sets it on every order that closes
    /// its leg (docs/RULES.md §3b).
    pub reduce_only: bool,
    pub stp: Stp,
    /// The position leg the order trades (`both` in one-way mode).
    pub position_side: PositionSide,
    /// A `stop_market` / `take_profit_market` order that closes whatever its leg holds when it
    /// fires (`qty` is 0 until then; `reduce_only` is set). docs/RULES.md §2a.
    pub close_position: bool,
}

/// Bit 3 of the journaled flags byte: [`OrderTerms::close_position`] (records written before
/// it hold 0 there).
const CLOSE_POSITION_BIT: u8 = 1 << 3;

impl OrderTerms {
    /// The journal byte of `reduce_only`, the position side and `close_position`.
    pub fn flags(&self) -> u8 {
        let close = if self.close_position {
            CLOSE_POSITION_BIT
        } else {
            0
        };
        super::position_side::pack_reduce_only(self.reduce_only, self.position_side) | close
    }

    /// [`OrderTerms::flags`] read back: `(reduce_only, position_side, close_position)`.
    pub fn unpack_flags(byte: u8) -> (bool, PositionSide, bool) {
        let (reduce_only, leg) =
            super::position_side::unpack_reduce_only(byte & !CLOSE_POSITION_BIT);
        (reduce_only, leg, byte & CLOSE_POSITION_BIT != 0)
    }
}

/// [`OrderTerms`] as journaled: the byte that held `reduce_only` (postcard: 0 or 1) also
/// carries the position side in bits 1–2 ([`PositionSide::bits`]) and `close_position` in bit 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsWire {
    side: Side,
    order_type: OrderType,
    tif: TimeInForce,
    price: Option<Price>,
    trigger_price: Option<Price>,
    trigger_by: TriggerBy,
    qty: Qty,
    flags: u8,
    stp: Stp,
}

impl From<OrderTerms> for TermsWire {
    fn from(t: OrderTerms) -> TermsWire {
        TermsWire {
            side: t.side,
            order_type: t.order_type,
            tif: t.tif,
            price: t.price,
            trigger_price: t.trigger_price,
            trigger_by: t.trigger_by,
            qty: t.qty,
            flags: t.flags(),
            stp: t.stp,
        }
    }
}

impl From<TermsWire> for OrderTerms {
    fn from(w: TermsWire) -> OrderTerms {
        let (reduce_only, position_side, close_position) = OrderTerms::unpack_flags(w.flags);
        OrderTerms {
            side: w.side,
            order_type: w.order_type,
            tif: w.tif,
            price: w.price,
            trigger_price: w.trigger_price,
            trigger_by: w.trigger_by,
            qty: w.qty,
            reduce_only,
            stp: w.stp,
            position_side,
            close_position,
        }
    }
}

/// An order with its identity: what R1 sends to the market, what the market journals when it
/// accepts it (`MarketEvent::Accepted`), and the head of its record in the order store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: OrderId,
    pub account: AccountId,
    pub terms: OrderTerms,
    /// A liquidation order (docs/RULES.md §6): exempt from STP, bands, min notional and margin.
    pub liquidation: bool,
}

/// A new order as a dialect read it: values lexed by the dialect's own grammar, not yet
/// checked against the market.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderDraft {
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub price: Option<Decimal>,
    pub trigger_price: Option<Decimal>,
    pub trigger_by: TriggerBy,
    /// `None` only with `close_position` (which takes none).
    pub qty: Option<Decimal>,
    pub reduce_only: bool,
    pub stp: Stp,
    pub position_side: PositionSide,
    pub client_order_id: Option<String>,
    pub close_position: bool,
    /// Trigger prices of a take-profit and a stop-loss to attach (docs/RULES.md §2a).
    pub take_profit: Option<Decimal>,
    pub stop_loss: Option<Decimal>,
    /// What the attached take-profit and stop-loss watch.
    pub tpsl_trigger_by: TriggerBy,
}

/// A checked new order: what the account side of the order path (R1) receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub terms: OrderTerms,
    pub client_order_id: Option<String>,
    /// Take-profit / stop-loss to place with the order (empty: none).
    pub attached: TpSl,
}

impl OrderTerms {
    /// A close-position trigger order (docs/RULES.md §2a): `side` closes the leg when the price
    /// reaches `trigger`; 0 lots until it fires, reduce-only.
    pub fn close_position(
        side: Side,
        order_type: OrderType,
        trigger: Price,
        trigger_by: TriggerBy,
        position_side: PositionSide,
    ) -> OrderTerms {
        OrderTerms {
            side,
            order_type,
            tif: TimeInForce::Gtc,
            price: None,
            trigger_price: Some(trigger),
            trigger_by,
            qty: Qty::ZERO,
            reduce_only: true,
            stp: Stp::ExpireMaker,
            position_side,
            close_position: true,
        }
    }
}

/// `^[A-Za-z0-9._:/-]{1,36}$`
pub fn valid_client_order_id(s: &str) -> bool {
    (1..=36).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:_/-".contains(&b))
}

impl OrderRequest {
    /// The one checked constructor: the order's parts fit its type, then its numbers fit the
    /// market, then its client order id (each first failure is the answer).
    pub fn new(d: OrderDraft, spec: &MarketSpec) -> Result<OrderRequest, Reject> {
        let fault = |f| Err(Reject::InvalidRequest(f));
        match (d.order_type.has_price(), d.price.is_some()) {
            (true, false) => return fault(RequestFault::PriceRequired),
            (false, true) => return fault(RequestFault::PriceNotAllowed),
            _ => {}
        }
        match (d.order_type.is_conditional(), d.trigger_price.is_some()) {
            (true, false) => return fault(RequestFault::TriggerRequired),
            (false, true) => return fault(RequestFault::TriggerNotAllowed),
            _ => {}
        }
        if d.order_type.is_conditional() && d.tif == TimeInForce::PostOnly {
            return fault(RequestFault::PostOnlyConditional);
        }
        if d.close_position {
            if !matches!(
                d.order_type,
                OrderType::StopMarket | OrderType::TakeProfitMarket
            ) {
                return fault(RequestFault::ClosePositionType);
            }
            if d.qty.is_some() || d.reduce_only {
                return fault(RequestFault::ClosePositionQuantity);
            }
        }
        let with_tpsl = d.take_profit.is_some() || d.stop_loss.is_some();
        if with_tpsl && (d.close_position || d.reduce_only) {
            return Err(Reject::InvalidTpSl(TpSlFault::OnClosingOrder));
        }
        let qty = match d.qty {
            Some(q) => spec.qty(q)?,
            None if d.close_position => Qty::ZERO,
            None => return fault(RequestFault::QuantityRequired),
        };
        let price = d.price.map(|p| spec.price(p)).transpose()?;
        let trigger_price = d
            .trigger_price
            .map(|p| spec.price(p).map_err(Reject::trigger))
            .transpose()?;
        let tpsl_price = |p: Option<Decimal>| {
            p.map(|p| spec.price(p).map_err(Reject::trigger))
                .transpose()
        };
        let attached = TpSl {
            take_profit: tpsl_price(d.take_profit)?,
            stop_loss: tpsl_price(d.stop_loss)?,
            trigger_by: d.tpsl_trigger_by,
        };
        attached.check_sides(d.side, price.or(trigger_price))?;
        if let Some(c) = &d.client_order_id {
            if !valid_client_order_id(c) {
                return Err(Reject::InvalidClientOrderId);
            }
        }
        Ok(OrderRequest {
            terms: OrderTerms {
                side: d.side,
                order_type: d.order_type,
                tif: d.tif,
                price,
                trigger_price,
                trigger_by: d.trigger_by,
                qty,
                reduce_only: d.reduce_only || d.close_position,
                stp: d.stp,
                position_side: d.position_side,
                close_position: d.close_position,
            },
            client_order_id: d.client_order_id,
            attached,
        })
    }
}

impl Reject {
    /// A price fault as the trigger price's (same checks, its own field).
    pub fn trigger(self) -> Reject {
        match self {
            Reject::InvalidPrice(n) => Reject::InvalidTriggerPrice(n),
            other => other,
        }
    }
}

impl MarketSpec {
    /// A price as a whole number of ticks: positive, no finer than the tick, on the tick.
    pub fn price(&self, d: Decimal) -> Result<Price, Reject> {
        let bad = |kind| Err(Reject::InvalidPrice(NumberFault::new(kind, d.to_string())));
        let step = self.tick_size;
        if d <= Decimal::ZERO {
            return bad(NumberFaultKind::NotPositive);
        }
        if d.normalize().scale() > step.normalize().scale() {
            return bad(NumberFaultKind::TooPrecise { step });
        }
        match Price::from_decimal(d, step) {
            Some(p) => Ok(p),
            None => bad(NumberFaultKind::OffStep { step }),
        }
    }

    /// A quantity as a whole number of lots: positive, no finer than the lot, on the lot,
    /// within `min_quantity..=max_quantity`.
    pub fn qty(&self, d: Decimal) -> Result<Qty, Reject> {
        let bad = |kind| {
            Err(Reject::InvalidQuantity(NumberFault::new(
                kind,
                d.to_string(),
            )))
        };
        let step = self.lot_size;
        if d <= Decimal::ZERO {
            return bad(NumberFaultKind::NotPositive);
        }
        if d.normalize().scale() > step.normalize().scale() {
            return bad(NumberFaultKind::TooPrecise { step });
        }
        let Some(q) = Qty::from_decimal(d, step) else {
            return bad(NumberFaultKind::OffStep { step });
        };
        let (min, max) = (
            self.min_quantity.to_decimal(step),
            self.max_quantity.to_decimal(step),
        );
        if q < self.min_quantity {
            return bad(NumberFaultKind::BelowMin { min, max });
        }
        if q > self.max_quantity {
            return bad(NumberFaultKind::AboveMax { min, max });
        }
        Ok(q)
    }

    /// A native price text (the [`decimal_text`](super::decimal_text) grammar), then
    /// [`MarketSpec::price`].
    pub fn parse_price(&self, s: &str) -> Result<Price, Reject> {
        let d = super::decimal_text::PRICE
            .lex(s)
            .map_err(|k| Reject::InvalidPrice(NumberFault::new(k, s)))?;
        self.price(d)
    }

    /// A native quantity text, then [`MarketSpec::qty`].
    pub fn parse_qty(&self, s: &str) -> Result<Qty, Reject> {
        let d = super::decimal_text::QUANTITY
            .lex(s)
            .map_err(|k| Reject::InvalidQuantity(NumberFault::new(k, s)))?;
        self.qty(d)
    }
}

#[cfg(test)]
#[path = "terms_tests.rs"]
mod tests;
