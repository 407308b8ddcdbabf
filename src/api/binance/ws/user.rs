//! The user data stream of one listen key: the account's native private updates
//! (`actors/publish.rs`) in Binance's words.
//!
//! - An order update is `ORDER_TRADE_UPDATE`; with the fill published right after it, one
//!   event of execution type `TRADE` per fill (last quantity and price, fee, realized PnL,
//!   maker flag), with the cumulative quantity after that fill.
//! - An account update is `ACCOUNT_UPDATE` when the wallet or a position changed since the
//!   last one sent (as on Binance, not for orders that did not fill), with only the changed
//!   positions; reason `ORDER` after fills.
//! - A leverage change is `ACCOUNT_CONFIG_UPDATE`.
//! - When the key expires or is deleted: `listenKeyExpired`, and the stream ends.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::super::render::{self, dec};
use super::session::{Event, Queue};
use crate::actors::publish::PrivateUpdate;
use crate::api::State;
use crate::domain::{AccountId, OrderId, OrderStatus, Qty};
use crate::engine::orders::{Liquidity, OrderFill, OrderRecord};
use crate::engine::AccountView;
use crate::risk::MarketId;

/// How often the key's validity is checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long an order update that announces a fill waits for the fill's own update.
const FILL_WAIT: Duration = Duration::from_millis(20);
/// Order records kept for pairing (closed ones are dropped once their fills are reported).
const KEEP_RECORDS: usize = 4096;

/// Where events go: the session queue, wrapped for combined streams.
pub struct Sink {
    pub out: Queue,
    pub wrap: Option<Arc<str>>,
    pub combined: Arc<std::sync::atomic::AtomicBool>,
}

impl Sink {
    /// Queue one event; `false` if the session is gone or full (then it is closed as slow).
    fn push(&self, v: Value, label: &'static str) -> bool {
        let text = match &self.wrap {
            Some(name) if self.combined.load(std::sync::atomic::Ordering::Relaxed) => {
                json!({"stream": name.as_ref(), "data": v}).to_string()
            }
            _ => v.to_string(),
        };
        self.out.push(text.into(), label)
    }
}

/// A position as the last `ACCOUNT_UPDATE` showed it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Shown {
    qty: i64,
    entry: Decimal,
}

struct Stream {
    st: State,
    /// Cumulative filled quantity per order as last reported.
    cum: FxHashMap<(MarketId, OrderId), Qty>,
    /// The newest record of each open order seen (for a fill that arrives alone).
    records: FxHashMap<(MarketId, OrderId), OrderRecord>,
    wallet: Decimal,
    positions: FxHashMap<MarketId, Shown>,
    /// Markets with fills since the last `ACCOUNT_UPDATE`.
    filled: Vec<MarketId>,
}

pub async fn run(
    st: State,
    key: String,
    account: AccountId,
    mut rx: broadcast::Receiver<Arc<PrivateUpdate>>,
    sink: Sink,
) {
    let _counted = crate::telemetry::health::WS.subscriber("orders");
    // The baseline is read after subscribing, so it may already hold the effect of an update
    // in the queue: an account update after a fill is sent even when nothing looks changed.
    let base = st.ex.account_view(account).await.ok();
    let mut s = Stream {
        st: st.clone(),
        cum: FxHashMap::default(),
        records: FxHashMap::default(),
        wallet: base.as_ref().map_or(Decimal::ZERO, |v| v.wallet_balance),
        positions: FxHashMap::default(),
        filled: Vec::new(),
    };
    if let Some(v) = &base {
        s.positions = shown(v);
    }
    let mut check = tokio::time::interval(CHECK_EVERY);
    let mut queue: VecDeque<Arc<PrivateUpdate>> = VecDeque::new();
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(u) => {
                    queue.push_back(u);
                    // Everything already published: an order's fill follows it directly.
                    while let Ok(u) = rx.try_recv() {
                        queue.push_back(u);
                    }
                    while let Some(u) = queue.pop_front() {
                        // An order update with a fill not yet published: its fill follows
                        // within microseconds (same publisher, back to back).
                        if queue.is_empty() && s.awaits_fill(&u) {
                            match tokio::time::timeout(FILL_WAIT, rx.recv()).await {
                                Ok(Ok(n)) => queue.push_back(n),
                                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                                    sink.out.slow_consumer();
                                    return;
                                }
                                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {}
                            }
                        }
                        let next = queue.front().cloned();
                        let used_next = match s.event(&u, next.as_deref(), &sink) {
                            Some(used) => used,
                            None => return,
                        };
                        if used_next {
                            queue.pop_front();
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    sink.out.slow_consumer();
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = check.tick() => {
                let now = st.ex.clock.now().0;
                if st.binance.listen_keys.account(&key, now) != Some(account) {
                    sink.push(json!({"e": "listenKeyExpired", "E": now, "listenKey": key}), "account");
                    sink.out.event(Event::Expired(key)).await;
                    return;
                }
            }
        }
    }
}

fn shown(v: &AccountView) -> FxHashMap<MarketId, Shown> {
    v.positions
        .iter()
        .map(|p| {
            (
                p.market,
                Shown {
                    qty: p.quantity,
                    entry: p.entry_price,
                },
            )
        })
        .collect()
}

impl Stream {
    /// Render one update (`next` is the update after it, if already published). Returns
    /// whether `next` was consumed, or `None` when the session is gone.
    fn event(
        &mut self,
        u: &PrivateUpdate,
        next: Option<&PrivateUpdate>,
        sink: &Sink,
    ) -> Option<bool> {
        let now = self.st.ex.clock.now().0;
        let ok = |pushed: bool| pushed.then_some(());
        match u {
            PrivateUpdate::Order(r) => {
                let key = (r.market, r.order.order_id);
                let fill = match next {
                    Some(PrivateUpdate::Fill(f)) if (f.market, f.order_id) == key => Some(*f),
                    _ => None,
                };
                match fill {
                    Some(f) => self.trade(r, &f, now, sink)?,
                    None => ok(sink.push(order_event(&self.st, r, None, None, now), "orders"))?,
                }
                self.remember(r);
                Some(fill.is_some())
            }
            PrivateUpdate::Fill(f) => {
                // A fill whose order update came before this burst: use the newest record.
                if let Some(r) = self.records.get(&(f.market, f.order_id)).cloned() {
                    self.trade(&r, f, now, sink)?;
                }
                Some(false)
            }
            PrivateUpdate::Account(v) => {
                self.account(v, now, sink)?;
                Some(false)
            }
            PrivateUpdate::Leverage { market, leverage } => {
                let symbol = &self.st.ex.spec(*market).binance_symbol;
                ok(sink.push(
                    json!({"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now,
                           "ac": {"s": symbol, "l": leverage}}),
                    "account",
                ))?;
                Some(false)
            }
        }
    }

    /// Whether `u` is an order update whose newest fill has not been reported yet.
    fn awaits_fill(&self, u: &PrivateUpdate) -> bool {
        match u {
            PrivateUpdate::Order(r) => {
                let reported = self.cum.get(&(r.market, r.order.order_id)).copied();
                reported.unwrap_or(Qty(0)) < r.filled
            }
            _ => false,
        }
    }

    /// Keep the newest record of an order until it is closed and all its fills are reported.
    fn remember(&mut self, r: &OrderRecord) {
        let key = (r.market, r.order.order_id);
        self.records.insert(key, r.clone());
        self.forget_if_done(key);
        if self.records.len() > KEEP_RECORDS {
            // Fills that never came (a lagging feed closes the stream anyway): drop closed ones.
            self.records.retain(|_, r| !r.status.is_closed());
            self.cum.retain(|k, _| self.records.contains_key(k));
        }
    }

    fn forget_if_done(&mut self, key: (MarketId, OrderId)) {
        let done = self.records.get(&key).is_some_and(|r| {
            r.status.is_closed() && self.cum.get(&key).copied().unwrap_or(Qty(0)) >= r.filled
        });
        if done {
            self.records.remove(&key);
            self.cum.remove(&key);
        }
    }

    /// `TRADE` for one fill; an order that closed unfilled after it also gets its close.
    fn trade(&mut self, r: &OrderRecord, f: &OrderFill, now: u64, sink: &Sink) -> Option<()> {
        let key = (r.market, r.order.order_id);
        // Before this fill: what was last reported; else, for a taker created in this
        // command, nothing; else (a maker fills once per command) the total less this fill.
        let before = match self.cum.get(&key) {
            Some(&q) => q,
            None if f.liquidity == Liquidity::Taker && r.created_at == f.time => Qty(0),
            None => Qty(r.filled.0 - f.qty.0),
        };
        let z = Qty((before.0 + f.qty.0).min(r.filled.0));
        self.cum.insert(key, z);
        if !self.filled.contains(&r.market) {
            self.filled.push(r.market);
        }
        let last = z == r.filled;
        let status = if last && r.status == OrderStatus::Filled {
            "FILLED"
        } else {
            "PARTIALLY_FILLED"
        };
        let pushed = sink.push(
            order_event(&self.st, r, Some((f, z)), Some(status), now),
            "orders",
        );
        if !pushed {
            return None;
        }
        if last && matches!(r.status, OrderStatus::Cancelled | OrderStatus::Expired) {
            sink.push(order_event(&self.st, r, None, None, now), "orders")
                .then_some(())?;
        }
        self.forget_if_done(key);
        Some(())
    }

    fn account(&mut self, v: &AccountView, now: u64, sink: &Sink) -> Option<()> {
        let new = shown(v);
        let mut changed: Vec<MarketId> = new
            .iter()
            .filter(|(m, s)| self.positions.get(m) != Some(s))
            .map(|(m, _)| *m)
            .collect();
        changed.extend(self.positions.keys().filter(|m| !new.contains_key(m)));
        changed.extend(self.filled.iter().copied());
        changed.sort_unstable();
        changed.dedup();
        if changed.is_empty() && v.wallet_balance == self.wallet {
            return Some(());
        }
        let positions: Vec<Value> = changed
            .iter()
            .map(|m| {
                let spec = self.st.ex.spec(*m);
                let p = v.positions.iter().find(|p| p.market == *m);
                let f = |g: fn(&crate::engine::PositionView) -> Decimal| {
                    dec(p.map_or(Decimal::ZERO, g))
                };
                json!({"s": spec.binance_symbol,
                       "pa": dec(p.map_or(Decimal::ZERO, |p| Decimal::from(p.quantity) * spec.lot_size)),
                       "ep": f(|p| p.entry_price), "bep": f(|p| p.entry_price),
                       "cr": f(|p| p.realized_pnl), "up": f(|p| p.unrealized_pnl),
                       "mt": "cross", "iw": "0", "ps": "BOTH"})
            })
            .collect();
        let reason = if std::mem::take(&mut self.filled).is_empty() {
            "ADJUSTMENT"
        } else {
            "ORDER"
        };
        self.wallet = v.wallet_balance;
        self.positions = new;
        let asset = &self.st.margin_asset;
        let event = json!({"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": reason,
            "B": [{"a": asset, "wb": dec(v.wallet_balance), "cw": dec(v.wallet_balance), "bc": "0"}],
            "P": positions}});
        sink.push(event, "account").then_some(())
    }
}

/// An `ORDER_TRADE_UPDATE` for `r`; `fill` with the cumulative quantity after it makes it a
/// `TRADE` with status `status`.
fn order_event(
    st: &State,
    r: &OrderRecord,
    fill: Option<(&OrderFill, Qty)>,
    status: Option<&'static str>,
    now: u64,
) -> Value {
    let spec = st.ex.spec(r.market);
    let x = match (fill, r.status) {
        (Some(_), _) => "TRADE",
        (None, OrderStatus::Cancelled) => "CANCELED",
        (None, OrderStatus::Expired) => "EXPIRED",
        (None, _) if r.updated_at != r.created_at => "AMENDMENT",
        (None, _) => "NEW",
    };
    let t = fill.map_or(r.updated_at.0, |(f, _)| f.time.0);
    let kind = render::order_type(r.order.terms.order_type);
    json!({"e": "ORDER_TRADE_UPDATE", "E": now, "T": t, "o": {
        "s": spec.binance_symbol,
        "c": render::client_id(r),
        "S": render::side(r.order.terms.side),
        "o": kind,
        "f": render::tif(r.order.terms.tif),
        "q": render::qty(spec, r.order.terms.qty),
        "p": r.order.terms.price.map_or_else(|| "0".into(), |p| render::px(spec, p)),
        "ap": render::avg_price(spec, r, st.money_scale),
        "sp": r.order.terms.trigger_price.map_or_else(|| "0".into(), |p| render::px(spec, p)),
        "x": x,
        "X": status.unwrap_or_else(|| render::status(r.status, r.reason)),
        "i": r.order.order_id.0,
        "l": fill.map_or_else(|| "0".into(), |(f, _)| render::qty(spec, f.qty)),
        "z": render::qty(spec, fill.map_or(r.filled, |(_, z)| z)),
        "L": fill.map_or_else(|| "0".into(), |(f, _)| render::px(spec, f.price)),
        "N": st.margin_asset,
        "n": fill.map_or_else(|| "0".into(), |(f, _)| dec(f.fee.0)),
        "T": t,
        "t": fill.map_or(0, |(f, _)| f.trade_id.0),
        "b": "0",
        "a": "0",
        "m": fill.is_some_and(|(f, _)| f.liquidity == Liquidity::Maker),
        "R": r.order.terms.reduce_only,
        "wt": render::working_type(r.order.terms.trigger_by),
        "ot": kind,
        "ps": "BOTH",
        "cp": false,
        "rp": fill.map_or_else(|| "0".into(), |(f, _)| dec(f.realized_pnl.0)),
        "pP": false,
        "si": 0,
        "ss": 0,
        "V": render::stp(r.order.terms.stp),
        "pm": "NONE",
        "gtd": 0,
        "er": render::expiry_reason(r.reason).to_string(),
    }})
}
