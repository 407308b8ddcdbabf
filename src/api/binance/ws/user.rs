//! The user data stream of one listen key: the account's native private updates
//! (`actors/publish.rs`) in Binance's words.
//!
//! - Order updates and fills are `ORDER_TRADE_UPDATE` events with running values
//!   ([`super::orders`]: `NEW`, one `TRADE` per fill, one `AMENDMENT` per amend, the close).
//! - An account update is `ACCOUNT_UPDATE` when the wallet or a position changed since the
//!   last one sent (as on Binance, not for orders that did not fill), with only the changed
//!   positions (one entry per leg: `ps` BOTH in one-way mode, LONG / SHORT in hedge mode);
//!   reason `ORDER` after fills. The account view of an update is the state after
//!   the whole command, so it is sent only once every fill of the command has been shown:
//!   one `ACCOUNT_UPDATE` after the last `TRADE` of a command, whose balance and positions
//!   are exactly those after that fill (never a state ahead of the `TRADE` events before it).
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
use super::orders::Orders;
use super::session::{Event, Queue};
use crate::actors::messages::AccountQuery;
use crate::actors::publish::PrivateUpdate;
use crate::api::State;
use crate::domain::{AccountId, Leg, PositionMode, PositionSide, Side};
use crate::engine::orders::OrderRecord;
use crate::engine::AccountView;
use crate::risk::MarketId;

/// How often the key's validity is checked.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long an ambiguous order update waits for the update after it.
const FILL_WAIT: Duration = Duration::from_millis(20);

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
    /// The isolated wallet (0 in cross): a margin transfer changes only this.
    iw: Decimal,
}

struct Stream {
    st: State,
    /// Every order followed, with what was shown of it.
    orders: Orders,
    wallet: Decimal,
    /// The account's position mode as the newest view showed it.
    mode: PositionMode,
    positions: FxHashMap<Leg, Shown>,
    /// Legs with fills since the last `ACCOUNT_UPDATE`.
    filled: Vec<Leg>,
    /// Each leg's position (signed lots) as the last `ACCOUNT_UPDATE` and the `TRADE` events
    /// after it make it.
    expected: FxHashMap<Leg, i64>,
    /// An account view ahead of the `TRADE` events shown so far (more fills of its command
    /// follow), sent once they are shown.
    held: Option<Box<AccountView>>,
}

/// The account's open orders in every market (the baseline of `b` / `a`).
async fn open_orders(st: &State, account: AccountId) -> Vec<OrderRecord> {
    let mut out = Vec::new();
    for i in 0..st.ex.specs.len() {
        let q = st
            .ex
            .query(|reply| AccountQuery::Orders {
                account,
                market: MarketId(i as u16),
                open: true,
                closed: false,
                limit: usize::MAX,
                reply,
            })
            .await;
        out.extend(q.unwrap_or_default());
    }
    out
}

pub async fn run(
    st: State,
    key: String,
    account: AccountId,
    mut rx: broadcast::Receiver<Arc<PrivateUpdate>>,
    sink: Sink,
) {
    let _counted = crate::telemetry::health::WS.subscriber("orders");
    // A revocation closes listen keys (`listen_key.rs`): check at once rather than at the
    // next tick. Watched from the start, and checked once first (one may have come before).
    let mut revocations = st.ex.access.revocations();
    revocations.mark_changed();
    // The baseline is read after subscribing, so it may already hold the effect of an update
    // in the queue: an account update after a fill is sent even when nothing looks changed.
    let base = st.ex.account_view(account).await.ok();
    let mut s = Stream {
        st: st.clone(),
        orders: Orders::default(),
        wallet: base.as_ref().map_or(Decimal::ZERO, |v| v.wallet_balance),
        mode: base
            .as_ref()
            .map_or(PositionMode::OneWay, |v| v.position_mode),
        positions: FxHashMap::default(),
        filled: Vec::new(),
        expected: FxHashMap::default(),
        held: None,
    };
    if let Some(v) = &base {
        s.positions = shown(v);
        s.expected = lots(v);
    }
    s.orders.baseline(open_orders(&st, account).await);
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            Ok(()) = revocations.changed() => {
                let now = st.ex.clock.now().0;
                let dir = &st.ex.access;
                st.binance.listen_keys.drop_revoked(|a, no| dir.key(a, no).is_some());
                if st.binance.listen_keys.account(&key, now) != Some(account) {
                    sink.push(json!({"e": "listenKeyExpired", "E": now, "listenKey": key}), "account");
                    sink.out.event(Event::Expired(key)).await;
                    return;
                }
            }
            r = rx.recv() => {
                if s.burst(r, &mut rx, &sink).await.is_none() {
                    return;
                }
            }
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

/// The next update within [`FILL_WAIT`]: `Some(None)` if none came, `None` if the stream
/// must end (lagged: closed as a slow consumer; or the feed closed).
async fn wait_next(
    rx: &mut broadcast::Receiver<Arc<PrivateUpdate>>,
    sink: &Sink,
) -> Option<Option<Arc<PrivateUpdate>>> {
    match tokio::time::timeout(FILL_WAIT, rx.recv()).await {
        Ok(Ok(n)) => Some(Some(n)),
        Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
            sink.out.slow_consumer();
            None
        }
        Ok(Err(broadcast::error::RecvError::Closed)) => None,
        Err(_) => Some(None),
    }
}

/// The leg of a position row.
fn leg(p: &crate::engine::PositionView) -> Leg {
    Leg::new(p.market, p.position_side)
}

/// Signed lots per leg of a view.
fn lots(v: &AccountView) -> FxHashMap<Leg, i64> {
    v.positions.iter().map(|p| (leg(p), p.quantity)).collect()
}

fn shown(v: &AccountView) -> FxHashMap<Leg, Shown> {
    v.positions
        .iter()
        .map(|p| {
            (
                leg(p),
                Shown {
                    qty: p.quantity,
                    entry: p.entry_price,
                    iw: p.isolated_wallet,
                },
            )
        })
        .collect()
}

impl Stream {
    /// Everything published from `first` on: each update in order, then, while an account
    /// view is held, what follows within [`FILL_WAIT`] (the rest of its command); a view
    /// still held then is sent (a position changed without a fill shown, e.g. by ADL).
    /// `None` when the stream must end.
    async fn burst(
        &mut self,
        first: Result<Arc<PrivateUpdate>, broadcast::error::RecvError>,
        rx: &mut broadcast::Receiver<Arc<PrivateUpdate>>,
        sink: &Sink,
    ) -> Option<()> {
        let mut queue: VecDeque<Arc<PrivateUpdate>> = VecDeque::new();
        match first {
            Ok(u) => queue.push_back(u),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                sink.out.slow_consumer();
                return None;
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
        loop {
            // Everything already published: an order's fill follows it directly.
            while let Ok(u) = rx.try_recv() {
                queue.push_back(u);
            }
            while let Some(u) = queue.pop_front() {
                // An order first seen partly filled: whether its fill follows decides how it
                // is shown, and a fill follows within microseconds (same publisher, back to
                // back).
                if queue.is_empty() && self.ambiguous(&u) {
                    queue.extend(wait_next(rx, sink).await?);
                }
                self.event(&u, queue.front().map(|n| &**n), sink)?;
            }
            if self.held.is_none() {
                return Some(());
            }
            match wait_next(rx, sink).await? {
                Some(n) => queue.push_back(n),
                None => {
                    let v = self.held.take()?;
                    return self.send_account(&v, sink);
                }
            }
        }
    }

    /// An account view: sent once every position in it is what the `TRADE` events shown so
    /// far make it (and no order has fills still to show); held until then.
    fn on_account(&mut self, v: &AccountView, sink: &Sink) -> Option<()> {
        if let Some(h) = self.held.take() {
            if *h != *v {
                // A view of an earlier command that never matched: send it as it is.
                self.send_account(&h, sink)?;
            }
        }
        let now = lots(v);
        let reached = now
            .iter()
            .all(|(m, q)| self.expected.get(m).copied().unwrap_or(0) == *q)
            && self
                .expected
                .iter()
                .all(|(m, q)| *q == 0 || now.contains_key(m));
        if reached && !self.orders.pending() {
            self.send_account(v, sink)
        } else {
            self.held = Some(Box::new(v.clone()));
            Some(())
        }
    }

    fn send_account(&mut self, v: &AccountView, sink: &Sink) -> Option<()> {
        self.expected = lots(v);
        let now = self.st.ex.clock.now().0;
        self.account(v, now, sink)
    }

    /// Render one update (`next` is the update after it, if already published); `None` when
    /// the session is gone.
    fn event(
        &mut self,
        u: &PrivateUpdate,
        next: Option<&PrivateUpdate>,
        sink: &Sink,
    ) -> Option<()> {
        let now = self.st.ex.clock.now().0;
        let events = match u {
            PrivateUpdate::Order(r) => {
                let fill_next = matches!(next, Some(PrivateUpdate::Fill(f))
                    if (f.market, f.order_id) == (r.market, r.order.order_id));
                self.orders.order(&self.st, r, fill_next, now)
            }
            PrivateUpdate::Fill(f) => {
                // The leg its order trades (an order the stream does not follow: the leg a
                // fill of that side reduces in hedge mode).
                let side = self
                    .orders
                    .leg_of(f.market, f.order_id)
                    .unwrap_or(match self.mode {
                        PositionMode::OneWay => PositionSide::Both,
                        PositionMode::Hedge => PositionSide::reduced_by(f.side),
                    });
                let l = Leg::new(f.market, side);
                if !self.filled.contains(&l) {
                    self.filled.push(l);
                }
                let signed = match f.side {
                    Side::Buy => f.qty.0,
                    Side::Sell => -f.qty.0,
                };
                *self.expected.entry(l).or_default() += signed;
                self.orders.fill(&self.st, f, now)
            }
            PrivateUpdate::Account(v) => {
                // Not before every fill of the command is shown (see the module's notes).
                self.on_account(v, sink)?;
                Vec::new()
            }
            PrivateUpdate::Leverage { market, leverage } => {
                let symbol = &self.st.ex.spec(*market).binance_symbol;
                vec![json!({"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now,
                            "ac": {"s": symbol, "l": leverage}})]
            }
        };
        let label = match u {
            PrivateUpdate::Leverage { .. } => "account",
            _ => "orders",
        };
        for e in events {
            sink.push(e, label).then_some(())?;
        }
        Some(())
    }

    /// Whether `u` is an order update that needs the next update to be shown right.
    fn ambiguous(&self, u: &PrivateUpdate) -> bool {
        matches!(u, PrivateUpdate::Order(r) if self.orders.ambiguous(r))
    }

    fn account(&mut self, v: &AccountView, now: u64, sink: &Sink) -> Option<()> {
        self.mode = v.position_mode;
        let new = shown(v);
        let mut changed: Vec<Leg> = new
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
        // Only isolated wallets moved (no position changed size): a margin transfer.
        let transfer = changed.iter().all(|m| {
            matches!((self.positions.get(m), new.get(m)), (Some(a), Some(b)) if a.qty == b.qty && a.iw != b.iw)
        });
        let positions: Vec<Value> = changed
            .iter()
            .map(|l| {
                let spec = self.st.ex.spec(l.market);
                let p = v.positions.iter().find(|p| leg(p) == *l);
                let f = |g: fn(&crate::engine::PositionView) -> Decimal| {
                    dec(p.map_or(Decimal::ZERO, g))
                };
                json!({"s": spec.binance_symbol,
                       "pa": dec(p.map_or(Decimal::ZERO, |p| Decimal::from(p.quantity) * spec.lot_size)),
                       "ep": f(|p| p.entry_price), "bep": f(|p| p.entry_price),
                       "cr": f(|p| p.realized_pnl), "up": f(|p| p.unrealized_pnl),
                       "mt": p.map_or("cross", |p| p.margin_mode.as_str()),
                       "iw": f(|p| p.isolated_wallet),
                       "ps": render::position_side(l.side)})
            })
            .collect();
        let reason = if !std::mem::take(&mut self.filled).is_empty() {
            "ORDER"
        } else if transfer && !changed.is_empty() {
            "MARGIN_TRANSFER"
        } else {
            "ADJUSTMENT"
        };
        self.wallet = v.wallet_balance;
        self.positions = new;
        let asset = &self.st.margin_asset;
        let event = json!({"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": reason,
            "B": [{"a": asset, "wb": dec(v.wallet_balance), "cw": dec(v.cross_wallet_balance), "bc": "0"}],
            "P": positions}});
        sink.push(event, "account").then_some(())
    }
}
