//! The trade streams of one market: native trades as `@trade` and `@aggTrade` (one trade per
//! aggregate, with the native id), native liquidations as `@forceOrder`.
//!
//! # Invariants
//! - Each native feed is listened to only while one of its Binance streams has a subscriber
//!   ([`super::tap`]); the task checks every `IDLE_CHECK` (1 s) whether to let go.
//! - The task never blocks a native feed: if its receiver lags, the trades it missed are not
//!   republished (their ids show the gap); sessions behind the Binance channels are bounded
//!   by their own forwarders.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

use super::hub::{send, MarketHub};
use super::tap;
use crate::actors::publish::Wire;
use crate::actors::Exchange;

#[derive(Deserialize)]
struct NativeTrade {
    trade_id: u64,
    price: String,
    quantity: String,
    taker_side: String,
    time: u64,
}

#[derive(Deserialize)]
struct NativeLiquidation {
    side: String,
    price: String,
    quantity: String,
    time: u64,
}

/// How often an idle translator checks whether to let go of its native receiver.
const IDLE_CHECK: Duration = Duration::from_secs(1);

pub async fn run(ex: Arc<Exchange>, h: Arc<MarketHub>) {
    let mut trades: Option<broadcast::Receiver<Wire>> = None;
    let mut liquidations: Option<broadcast::Receiver<Wire>> = None;
    let mut idle = tokio::time::interval(IDLE_CHECK);
    loop {
        tokio::select! {
            fresh = h.trades_tap.handed(), if trades.is_none() => trades = Some(fresh),
            fresh = h.liquidations_tap.handed(), if liquidations.is_none() => liquidations = Some(fresh),
            r = tap::recv(&mut trades) => match r {
                Ok(msg) => {
                    let Ok(t) = serde_json::from_str::<NativeTrade>(&msg) else { continue };
                    let now = ex.clock.now().0;
                    let maker_buys = t.taker_side == "sell";
                    send(&h.trade, || json!({"e": "trade", "E": now, "T": t.time, "s": h.symbol,
                        "t": t.trade_id, "p": t.price, "q": t.quantity, "X": "MARKET", "m": maker_buys}));
                    send(&h.agg_trade, || json!({"e": "aggTrade", "E": now, "s": h.symbol,
                        "a": t.trade_id, "p": t.price, "q": t.quantity, "nq": t.quantity,
                        "f": t.trade_id, "l": t.trade_id, "T": t.time, "m": maker_buys}));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            r = tap::recv(&mut liquidations) => match r {
                Ok(msg) => {
                    let Ok(l) = serde_json::from_str::<NativeLiquidation>(&msg) else { continue };
                    let now = ex.clock.now().0;
                    send(&h.force_order, || json!({"e": "forceOrder", "E": now, "o": {
                        "s": h.symbol, "S": l.side.to_ascii_uppercase(), "o": "LIMIT", "f": "IOC",
                        "q": l.quantity, "p": l.price, "ap": l.price, "X": "NEW",
                        "l": "0", "z": "0", "T": l.time}}));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = idle.tick() => {
                let quiet = || h.trade.receiver_count() == 0 && h.agg_trade.receiver_count() == 0;
                if trades.is_some() && h.trades_tap.release_if(quiet) {
                    trades = None;
                }
                if liquidations.is_some() && h.liquidations_tap.release_if(|| h.force_order.receiver_count() == 0) {
                    liquidations = None;
                }
            }
        }
    }
}
