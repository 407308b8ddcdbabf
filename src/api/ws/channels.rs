//! The native `/ws` forwarders: one task per subscription, from an exchange feed into the
//! session [`Queue`], and the rendering of private updates.
//!
//! # Invariants
//! - A forwarder that finds the queue full, or its broadcast receiver `Lagged`, marks the
//!   session a slow consumer and stops: it never skips a message and carries on.
//! - A book subscription sends a snapshot (top 1,000 levels) taken after subscribing to the
//!   diffs, then only diffs with a later sequence, so `prev_sequence` chains from the snapshot.
//! - `account` is coalesced: the latest view is sent on the next `ACCOUNT_EVERY` (100 ms) tick (at
//!   most 10 per second); `orders` and `fills` are sent one by one.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::broadcast;

use super::session;
use crate::actors::feed::{BookUpdate, Event, Native, Shared};
use crate::actors::market::query::DepthQuery;
use crate::actors::publish::{self, PrivateUpdate};
use crate::api::dto::{AccountDto, FillDto, OrderDto};
use crate::api::State;
use crate::telemetry::health::WS;

/// Private `account` messages at most this often.
const ACCOUNT_EVERY: Duration = Duration::from_millis(100);

/// The native session queue: no dialect events.
pub type Queue = session::Queue<Infallible>;

/// Forward a broadcast channel into the session queue, keeping what `pick` returns; a lagging
/// receiver marks the session a slow consumer. (Also the replication gateway's forwarder.)
pub async fn forward<T: Clone>(
    mut rx: broadcast::Receiver<T>,
    out: Queue,
    channel: &'static str,
    pick: impl Fn(T) -> Option<publish::Wire>,
) {
    loop {
        match rx.recv().await {
            Ok(item) => {
                if let Some(m) = pick(item) {
                    if !out.push(m, channel) {
                        return;
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                out.slow_consumer();
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Forward a public channel into the session queue, in the native form (rendered once per
/// event for all sessions).
pub async fn forwarder<T>(rx: broadcast::Receiver<Shared<T>>, out: Queue, channel: &'static str)
where
    Event<T>: Native,
{
    let _counted = WS.subscriber(channel);
    forward(rx, out, channel, |e| Some(e.native())).await;
}

/// Snapshot first, then the diffs after it.
pub async fn book_forwarder(
    spec: crate::domain::MarketSpec,
    addr: actix::Addr<crate::actors::MarketActor>,
    rx: broadcast::Receiver<Shared<BookUpdate>>,
    out: Queue,
) {
    let _counted = WS.subscriber("book");
    let Ok(d) = addr.send(DepthQuery(1000)).await else {
        return;
    };
    let snap = json!({"type": "book_snapshot", "symbol": spec.symbol, "sequence": d.sequence,
                      "bids": publish::levels(&spec, &d.bids), "asks": publish::levels(&spec, &d.asks)});
    if out.push(snap.to_string().into(), "book") {
        let after = |e: Shared<BookUpdate>| (e.data.sequence > d.sequence).then(|| e.native());
        forward(rx, out, "book", after).await;
    }
}

/// One private channel of the session's account (`account` coalesced, see the invariants).
pub async fn private_forwarder(
    st: State,
    channel: String,
    mut rx: broadcast::Receiver<Arc<PrivateUpdate>>,
    out: Queue,
) {
    let coalesce = channel == "account";
    let label = match channel.as_str() {
        "orders" => "orders",
        "fills" => "fills",
        _ => "account",
    };
    let _counted = WS.subscriber(label);
    let mut latest: Option<Arc<str>> = None;
    let mut tick = tokio::time::interval(ACCOUNT_EVERY);
    loop {
        let ready = tokio::select! {
            r = rx.recv() => match r {
                Ok(u) => match render(&st, &channel, &u) {
                    Some(m) if coalesce => { latest = Some(m); None }
                    other => other,
                },
                Err(broadcast::error::RecvError::Lagged(_)) => { out.slow_consumer(); return; }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => latest.take(),
        };
        if let Some(m) = ready {
            if !out.push(m, label) {
                return;
            }
        }
    }
}

/// A private update as the message of `channel` (`None` when it belongs to another channel).
fn render(st: &State, channel: &str, u: &PrivateUpdate) -> Option<Arc<str>> {
    let mut v = match (channel, u) {
        ("orders", PrivateUpdate::Order(r)) => {
            serde_json::to_value(OrderDto::new(st.ex.spec(r.market), r, None, st.money_scale))
                .ok()?
        }
        ("fills", PrivateUpdate::Fill(f)) => {
            serde_json::to_value(FillDto::new(st.ex.spec(f.market), f)).ok()?
        }
        ("account", PrivateUpdate::Account(a)) => {
            serde_json::to_value(AccountDto::new(a, &st.ex.specs, &st.margin_asset)).ok()?
        }
        _ => return None,
    };
    let kind = match channel {
        "orders" => "order",
        "fills" => "fill",
        _ => "account",
    };
    let obj = v.as_object_mut()?;
    // `type` names the message; an order's own type (limit, market, ...) moves to `order_type`.
    if let Some(order_type) = obj.insert("type".into(), kind.into()) {
        obj.insert("order_type".into(), order_type);
    }
    Some(v.to_string().into())
}
