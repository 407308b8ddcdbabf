//! The request bodies of the OpenAPI document, exactly as the server parses them: the fields
//! each order type takes, decimal patterns in the server's own grammar
//! ([`crate::domain::decimal_text`]), closed objects (`additionalProperties: false`).

use serde_json::{json, Value};

use super::exact::CLIENT_ORDER_ID;
use crate::domain::decimal_text::{self, DecimalText};
use crate::domain::MarketSpec;

fn decimal(shape: DecimalText, what: &str) -> Value {
    json!({
        "type": "string",
        "pattern": shape.pattern(),
        "description": format!("{what}: {}", shape.describe()),
    })
}

fn nullable(mut schema: Value) -> Value {
    schema["type"] = json!([schema["type"].clone(), "null"]);
    schema
}

/// The request bodies, as enforced by `dto::request` and the market's parsers. A flat table
/// (one entry per body), longer than a function should be on purpose: keep it whole.
pub(super) fn request_schemas(
    specs: &[MarketSpec],
    money_scale: u32,
) -> Vec<(&'static str, Value)> {
    let price = decimal(
        decimal_text::PRICE,
        "a multiple of the market's tick_size (else 400 INVALID_PRICE)",
    );
    let quantity = decimal(
        decimal_text::QUANTITY,
        "a multiple of the market's lot_size within min_quantity..max_quantity (else 400 INVALID_QUANTITY)",
    );
    let max_leverage = specs
        .iter()
        .map(MarketSpec::max_leverage)
        .max()
        .unwrap_or(1);
    vec![
        ("NewOrder", new_order(&price, &quantity)),
        (
            "PositionTpSl",
            json!({
                "type": "object",
                "description": "A take-profit and/or stop-loss on the position: close-position orders on the side that closes it, one-cancels-other when both; null is the same as absent.",
                "additionalProperties": false,
                "properties": {
                    "take_profit": nullable(price.clone()),
                    "stop_loss": nullable(price.clone()),
                    "trigger_by": {"type": ["string", "null"], "enum": ["last", "mark", null], "description": "which price they watch, default last"},
                    "position_side": {"type": ["string", "null"], "enum": ["both", "long", "short", null], "description": "the position's leg: both (default; one_way mode), long or short (hedge mode)"},
                },
                "anyOf": [
                    {"required": ["take_profit"], "properties": {"take_profit": {"type": "string"}}},
                    {"required": ["stop_loss"], "properties": {"stop_loss": {"type": "string"}}},
                ],
            }),
        ),
        (
            "Amend",
            json!({
                "type": "object",
                "description": "The new limit price, the new total quantity (above what is filled), the new trigger price (a stop or take-profit waiting for its trigger; else 409 ORDER_NOT_AMENDABLE), or several; null is the same as absent.",
                "additionalProperties": false,
                "properties": {
                    "price": nullable(price.clone()),
                    "quantity": nullable(quantity.clone()),
                    "trigger_price": nullable(price.clone()),
                },
                "anyOf": [
                    {"required": ["price"], "properties": {"price": {"type": "string"}}},
                    {"required": ["quantity"], "properties": {"quantity": {"type": "string"}}},
                    {"required": ["trigger_price"], "properties": {"trigger_price": {"type": "string"}}},
                ],
            }),
        ),
        (
            "Leverage",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["leverage"],
                "properties": {"leverage": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": max_leverage,
                    "description": "1 to the market's maximum leverage (its first risk tier's; above it 400 INVALID_LEVERAGE)",
                }},
            }),
        ),
        (
            "MarginModeChange",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["margin_mode"],
                "properties": {"margin_mode": {
                    "type": "string",
                    "enum": ["cross", "isolated"],
                    "description": "how this market is margined for the account (docs/RULES.md §3a); changes only without a position or open orders there (else 409 MARGIN_MODE_LOCKED)",
                }},
            }),
        ),
        (
            "IsolatedMarginMove",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["amount", "direction"],
                "properties": {
                    "amount": decimal(decimal_text::money(money_scale), "the amount in the margin asset"),
                    "direction": {
                        "type": "string",
                        "enum": ["add", "reduce"],
                        "description": "add: from the cross wallet into the isolated wallet; reduce: back to the cross wallet",
                    },
                    "position_side": {
                        "type": ["string", "null"],
                        "enum": ["both", "long", "short", null],
                        "description": "the position's leg: both (default; one_way mode), long or short (hedge mode); a side the account's position mode does not have is 409 POSITION_SIDE_MISMATCH, a leg without a position 409 NO_POSITION",
                    },
                },
            }),
        ),
        (
            "PositionModeChange",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["position_mode"],
                "properties": {"position_mode": {
                    "type": "string",
                    "enum": ["one_way", "hedge"],
                    "description": "one signed position per market, or a long and a short leg side by side (docs/RULES.md §3b); changes only without positions and open orders in any market (else 409 POSITION_MODE_LOCKED)",
                }},
            }),
        ),
        (
            "AmountBody",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["amount"],
                "properties": {"amount": decimal(decimal_text::money(money_scale), "the amount in the margin asset")},
            }),
        ),
        (
            "NewAccount",
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {"label": {
                    "type": ["string", "null"],
                    "maxLength": crate::api::dto::MAX_LABEL_CHARS,
                    "description": "informational, logged with the account's creation",
                }},
            }),
        ),
        (
            "IndexPrice",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["price"],
                "properties": {"price": decimal(decimal_text::PRICE, "the oracle index price (any precision, not bound to the tick)")},
            }),
        ),
    ]
}

/// One branch per family of order types: which of `price` and `trigger_price` each takes
/// (required when it takes one, absent or null when not).
fn new_order(price: &Value, quantity: &Value) -> Value {
    let families: [Family; 4] = [
        (&["limit"], true, false, "a limit order"),
        (
            &["market"],
            false,
            false,
            "a market order (fills within market_take_bound of the mark)",
        ),
        (
            &["stop_market", "take_profit_market"],
            false,
            true,
            "a conditional market order, placed when the trigger price is crossed",
        ),
        (
            &["stop_limit", "take_profit_limit"],
            true,
            true,
            "a conditional limit order, placed when the trigger price is crossed",
        ),
    ];
    let mut branches: Vec<Value> = families
        .iter()
        .map(|&family| new_order_branch(family, price, quantity))
        .collect();
    branches.push(close_position_branch(price));
    json!({
        "description": "A new order. Prices and quantities are decimal strings on the market's tick and lot grid; null is the same as absent.",
        "oneOf": branches,
    })
}

/// A family of order types in the `NewOrder` schema: its types, whether it takes `price` and
/// `trigger_price` (else they must be absent or null), and its description.
type Family<'a> = (&'a [&'a str], bool, bool, &'a str);

/// The `NewOrder` branch of one family: its required fields and the schema of each.
fn new_order_branch(f: Family, price: &Value, quantity: &Value) -> Value {
    let (types, has_price, has_trigger, description) = f;
    let null = json!({"type": "null"});
    let mut required = vec!["side", "type", "quantity"];
    if has_price {
        required.push("price");
    }
    if has_trigger {
        required.push("trigger_price");
    }
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": false,
        "required": required,
        "properties": {
            "side": {"type": "string", "enum": ["buy", "sell"]},
            "type": {"type": "string", "enum": types},
            "quantity": quantity,
            "price": if has_price { price.clone() } else { null.clone() },
            "trigger_price": if has_trigger { price.clone() } else { null },
            "time_in_force": time_in_force(has_trigger),
            "reduce_only": {"type": ["boolean", "null"], "description": "default false"},
            "stp": {
                "type": ["string", "null"],
                "enum": ["expire_maker", "expire_taker", "expire_both", "none", null],
                "description": "self-trade prevention, default expire_maker",
            },
            "client_order_id": {
                "type": ["string", "null"],
                "pattern": CLIENT_ORDER_ID,
                "description": "unique among the account's open orders (across markets); an identical retry answers the original order",
            },
            "trigger_by": {
                "type": ["string", "null"],
                "enum": ["last", "mark", null],
                "description": "which price a trigger watches, default last",
            },
            "position_side": {
                "type": ["string", "null"],
                "enum": ["both", "long", "short", null],
                "description": "the position leg the order trades: both (default; one_way mode), long or short (hedge mode); a side the account's position mode does not have is 409 POSITION_SIDE_MISMATCH. In hedge mode sell + long and buy + short close their leg (reduce-only), and reduce_only: true is 400 INVALID_REQUEST",
            },
            "close_position": {"enum": [false, null], "description": "true only on stop_market / take_profit_market without quantity (the close-position branch)"},
            "take_profit": nullable(tpsl_trigger(price, "take-profit")),
            "stop_loss": nullable(tpsl_trigger(price, "stop-loss")),
            "tpsl_trigger_by": {
                "type": ["string", "null"],
                "enum": ["last", "mark", null],
                "description": "which price the attached take-profit and stop-loss watch, default last",
            },
        },
    })
}

/// An attached take-profit or stop-loss trigger price (docs/RULES.md §2a).
fn tpsl_trigger(price: &Value, what: &str) -> Value {
    let mut p = price.clone();
    p["description"] = json!(format!(
        "trigger price of a {what} to attach (a close-position order, one-cancels-other with the other, waiting for this order to fill): take-profit beyond the order's price, stop-loss before it (else 400 INVALID_TPSL; on a reduce_only order also INVALID_TPSL)"
    ));
    p
}

/// The `NewOrder` branch of a close-position order (docs/RULES.md §2a): a stop or take-profit
/// market order without quantity, reduce_only or an attached TP/SL.
fn close_position_branch(price: &Value) -> Value {
    let null = json!({"type": "null"});
    let mut b = new_order_branch(
        (
            &["stop_market", "take_profit_market"],
            false,
            true,
            "a close-position order: when the trigger fires it closes whatever the position (leg) is; cancelled when the position goes flat",
        ),
        price,
        &null,
    );
    b["required"] = json!(["side", "type", "trigger_price", "close_position"]);
    let p = &mut b["properties"];
    p["close_position"] = json!({"const": true});
    p["reduce_only"] = json!({"enum": [false, null], "description": "close-position orders are reduce-only; reduce_only: true is 400 INVALID_REQUEST"});
    for f in ["take_profit", "stop_loss", "tpsl_trigger_by"] {
        p[f] = null.clone();
    }
    b
}

/// `time_in_force` of a new order: a conditional order cannot be post-only.
fn time_in_force(conditional: bool) -> Value {
    if conditional {
        json!({
            "type": ["string", "null"],
            "enum": ["gtc", "ioc", "fok", null],
            "description": "default gtc (post_only is not allowed on stop or take-profit orders)",
        })
    } else {
        json!({
            "type": ["string", "null"],
            "enum": ["gtc", "ioc", "fok", "post_only", null],
            "description": "default gtc",
        })
    }
}
