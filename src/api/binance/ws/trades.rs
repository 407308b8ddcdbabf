//! The trade streams of one market in the Binance forms: the market's typed trades as `@trade`
//! and `@aggTrade` (one trade per aggregate, with the native id), its liquidations as
//! `@forceOrder`.
//!
//! # Invariants
//! - A session of these streams reads the market's typed feed itself (no translator task in
//!   between): a receiver that lags is closed as a slow consumer by the session's forwarder,
//!   exactly like a native one, so a subscriber never silently misses a trade.
//! - Each form is rendered once per event, whatever the number of sessions (the event's cache,
//!   `actors::feed::Form`); `E` is the time of that rendering.
//! - Prices and quantities are the native strings (`publish::px`, `publish::qx`).

use serde_json::json;

use crate::actors::feed::{Event, Form, Liquidation};
use crate::actors::publish::{px, qx, Wire};
use crate::engine::market::TradeTick;

fn wire(v: serde_json::Value) -> Wire {
    v.to_string().into()
}

/// `@trade`.
pub fn trade(e: &Event<TradeTick>, now: u64) -> Wire {
    e.render(Form::Binance, |spec, t| {
        let maker_buys = t.taker_side == crate::domain::Side::Sell;
        wire(
            json!({"e": "trade", "E": now, "T": t.time.0, "s": spec.binance_symbol,
            "t": t.trade_id.0, "p": px(spec, t.price), "q": qx(spec, t.qty), "X": "MARKET",
            "m": maker_buys}),
        )
    })
}

/// `@aggTrade`: one trade per aggregate.
pub fn agg_trade(e: &Event<TradeTick>, now: u64) -> Wire {
    e.render(Form::BinanceAgg, |spec, t| {
        let maker_buys = t.taker_side == crate::domain::Side::Sell;
        let (id, q) = (t.trade_id.0, qx(spec, t.qty));
        wire(json!({"e": "aggTrade", "E": now, "s": spec.binance_symbol,
            "a": id, "p": px(spec, t.price), "q": q, "nq": q,
            "f": id, "l": id, "T": t.time.0, "m": maker_buys}))
    })
}

/// `@forceOrder`.
pub fn force_order(e: &Event<Liquidation>, now: u64) -> Wire {
    e.render(Form::Binance, |spec, l| {
        let p = px(spec, l.price);
        let side = if l.side == crate::domain::Side::Buy {
            "BUY"
        } else {
            "SELL"
        };
        wire(json!({"e": "forceOrder", "E": now, "o": {
            "s": spec.binance_symbol, "S": side, "o": "LIMIT", "f": "IOC",
            "q": qx(spec, l.qty), "p": p, "ap": p, "X": "NEW",
            "l": "0", "z": "0", "T": l.time.0}}))
    })
}
