//! The order side of the user data stream: `ORDER_TRADE_UPDATE` events with running values.
//!
//! A command's private updates carry, for every change of an order, the order's record as it
//! is after the *whole* command (and the fill that changed it, if any). The stream keeps what
//! it has shown of each order (filled quantity and Σ price × quantity, price, quantity,
//! whether it is untriggered or closed) and of every open order's notional, and derives each
//! event's values from them, so every event is the order as it was right after that event:
//!
//! - `NEW` when the order is created; for a taker that fills in the command that created it,
//!   before its first `TRADE` (`X` `NEW`, `z` 0, `ap` 0). A stop that triggers also gets a
//!   `NEW` (its price and quantity unchanged, no longer untriggered).
//! - One `TRADE` per fill: last quantity and price, fee, realized PnL, maker flag, and `z`,
//!   `ap` and `X` after that fill (`PARTIALLY_FILLED` until the last fill of an order that
//!   ends filled, then `FILLED`).
//! - One `AMENDMENT` per amend (price or quantity changed), however many book events the
//!   amend made.
//! - `CANCELED` / `EXPIRED` once, when the order closes unfilled, after its last `TRADE`.
//! - `b` / `a`: Σ price × remaining quantity of the account's open priced orders in the
//!   symbol, buy side / sell side, after the event (untriggered stops and market orders hold
//!   no price and count 0), read once from the account's open orders when the stream starts
//!   and kept from the updates after it.
//!
//! Exact for every order the stream saw from its creation, or that was open when the stream
//! started; an order it first sees partly filled by a command is taken to have filled only
//! that command's fill before (the one fill a resting order gets per command). The native
//! private feed publishes nothing when a stop is accepted untriggered, so a stop placed while
//! the stream runs shows its first `NEW` when it triggers.

use rustc_hash::FxHashMap;
use serde_json::{json, Value};

use super::super::render::{self, dec};
use crate::api::State;
use crate::domain::{OrderId, OrderStatus, PositionSide, Price, Qty, Side};
use crate::engine::orders::{Liquidity, OrderFill, OrderRecord};
use crate::risk::MarketId;

type Key = (MarketId, OrderId);

/// What the stream last showed of an order's terms.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Terms {
    price: Option<Price>,
    qty: Qty,
    untriggered: bool,
}

impl Terms {
    fn of(r: &OrderRecord) -> Terms {
        Terms {
            price: r.order.terms.price,
            qty: r.order.terms.qty,
            untriggered: r.status == OrderStatus::Untriggered,
        }
    }
}

/// One order as the stream knows it.
struct Track {
    /// The newest record (the state after the newest command that changed the order).
    record: OrderRecord,
    /// Filled quantity and Σ price × quantity (ticks × lots) as shown so far.
    cum: Qty,
    ticks_lots: i128,
    /// `None` until its first event: a new taker's `NEW` waits for its first fill.
    shown: Option<Terms>,
    /// Read from the open orders when the stream started, no update seen since: the record
    /// may already hold the effect of updates still queued for the stream.
    baseline: bool,
    /// Its close was shown (a `FILLED` trade, `CANCELED`, `EXPIRED`).
    closed: bool,
}

impl Track {
    /// Fills of the newest record not shown yet.
    fn pending(&self) -> bool {
        self.record.filled > self.cum
    }
}

/// One event to render.
struct Shown<'a> {
    x: &'static str,
    status: &'static str,
    fill: Option<&'a OrderFill>,
    time: u64,
}

/// Every order of one account the stream follows, and its open notional per market and side.
#[derive(Default)]
pub struct Orders {
    tracks: FxHashMap<Key, Track>,
    /// Each open order's price × remaining (ticks × lots), and their sums per market and side.
    open: FxHashMap<Key, (Side, i128)>,
    sides: FxHashMap<(MarketId, Side), i128>,
}

/// The status an order shows with `cum` filled while fills are still to come.
fn open_status(cum: Qty) -> &'static str {
    if cum.0 > 0 {
        "PARTIALLY_FILLED"
    } else {
        "NEW"
    }
}

/// `CANCELED` or `EXPIRED` for a record that closed unfilled.
fn close_kind(r: &OrderRecord) -> Option<&'static str> {
    match r.status {
        OrderStatus::Cancelled => Some("CANCELED"),
        OrderStatus::Expired => Some("EXPIRED"),
        _ => None,
    }
}

impl Orders {
    /// Start from the account's open orders (as they are after every command so far).
    pub fn baseline(&mut self, records: Vec<OrderRecord>) {
        for mut r in records {
            r.fills.clear();
            let key = (r.market, r.order.order_id);
            self.set_open(key, &r, r.filled, true);
            self.tracks.insert(
                key,
                Track {
                    cum: r.filled,
                    ticks_lots: r.filled_ticks_lots,
                    shown: Some(Terms::of(&r)),
                    record: r,
                    baseline: true,
                    closed: false,
                },
            );
        }
    }

    /// The leg (position side) of a followed order.
    pub fn leg_of(&self, market: MarketId, id: OrderId) -> Option<PositionSide> {
        self.tracks
            .get(&(market, id))
            .map(|t| t.record.order.terms.position_side)
    }

    /// Whether some order has fills of its newest record still to show (an account view now
    /// would show a state the stream has not reached yet).
    pub fn pending(&self) -> bool {
        self.tracks.values().any(Track::pending)
    }

    /// Whether `r` may be followed by a fill that decides how it is shown: an order first
    /// seen partly filled, not created by this command (a resting order's fill, or a change
    /// of an order the stream never saw).
    pub fn ambiguous(&self, r: &OrderRecord) -> bool {
        r.filled.0 > 0
            && r.created_at != r.updated_at
            && !self.tracks.contains_key(&(r.market, r.order.order_id))
    }

    /// An order update; `fill_next` tells whether its fill is the next update. Returns the
    /// events to send.
    pub fn order(&mut self, st: &State, r: &OrderRecord, fill_next: bool, now: u64) -> Vec<Value> {
        let key = (r.market, r.order.order_id);
        let mut r = r.clone();
        r.fills.clear();
        let Some(t) = self.tracks.get_mut(&key) else {
            return self.first_sight(st, r, fill_next, now);
        };
        if t.baseline && r.created_at == r.updated_at {
            // Created by a command whose updates were queued when the stream read its
            // baseline: shown from the start, as if the baseline had not seen it.
            self.tracks.remove(&key);
            return self.first_sight(st, r, fill_next, now);
        }
        t.baseline = false;
        t.record = r;
        self.changed(st, key, now)
    }

    /// The first update of an order the stream does not know.
    fn first_sight(&mut self, st: &State, r: OrderRecord, fill_next: bool, now: u64) -> Vec<Value> {
        let key = (r.market, r.order.order_id);
        let created_now = r.created_at == r.updated_at;
        if r.filled.0 > 0 && (created_now || fill_next) {
            // Its fills follow: the first of them sets where it starts.
            let t = Track {
                record: r,
                cum: Qty(0),
                ticks_lots: 0,
                shown: None,
                baseline: false,
                closed: false,
            };
            self.tracks.insert(key, t);
            return Vec::new();
        }
        let mut out = Vec::new();
        let (cum, tl) = (r.filled, r.filled_ticks_lots);
        if created_now {
            self.set_open(key, &r, cum, true);
            let e = Shown {
                x: "NEW",
                status: "NEW",
                fill: None,
                time: r.created_at.0,
            };
            out.push(self.render(st, &r, &e, (cum, tl), now));
        }
        let track = Track {
            shown: created_now.then(|| Terms::of(&r)),
            record: r,
            cum,
            ticks_lots: tl,
            baseline: false,
            closed: false,
        };
        self.tracks.insert(key, track);
        if created_now {
            out.extend(self.changed(st, key, now));
        } else {
            out.extend(self.unseen_change(st, key, now));
        }
        out
    }

    /// A change of an order first seen now, not created now: one event from the record.
    fn unseen_change(&mut self, st: &State, key: Key, now: u64) -> Vec<Value> {
        let Some(t) = self.tracks.get_mut(&key) else {
            return Vec::new();
        };
        t.shown = Some(Terms::of(&t.record));
        t.closed = t.record.status.is_closed();
        let r = t.record.clone();
        let triggered = r.order.terms.trigger_price.is_some() && !t.closed;
        let x = close_kind(&r).unwrap_or(if triggered { "NEW" } else { "AMENDMENT" });
        let open = !t.closed;
        self.set_open(key, &r, r.filled, open);
        let e = Shown {
            x,
            status: render::status(r.status, r.reason),
            fill: None,
            time: r.updated_at.0,
        };
        let v = self.render(st, &r, &e, (r.filled, r.filled_ticks_lots), now);
        self.forget_if_done(key);
        vec![v]
    }

    /// The events a new record of a known order makes: a trigger (`NEW`), an amend
    /// (`AMENDMENT`), a close without fill (`CANCELED`, `EXPIRED`) once its fills are shown.
    fn changed(&mut self, st: &State, key: Key, now: u64) -> Vec<Value> {
        let Some(t) = self.tracks.get_mut(&key) else {
            return Vec::new();
        };
        let Some(shown) = t.shown else {
            return Vec::new();
        };
        let (r, pending, progress) = (t.record.clone(), t.pending(), (t.cum, t.ticks_lots));
        let terms = Terms::of(&r);
        t.shown = Some(terms);
        let status = if pending {
            open_status(t.cum)
        } else {
            render::status(r.status, r.reason)
        };
        let mut kinds = Vec::new();
        if shown.untriggered && !terms.untriggered {
            kinds.push("NEW");
        }
        if (shown.price, shown.qty) != (terms.price, terms.qty) {
            kinds.push("AMENDMENT");
        }
        let closing = !pending && r.status.is_closed() && !t.closed;
        if closing {
            t.closed = true;
            kinds.extend(close_kind(&r));
        }
        let open = !t.closed;
        self.set_open(key, &r, progress.0, open);
        let out = kinds
            .into_iter()
            .map(|x| {
                let e = Shown {
                    x,
                    status,
                    fill: None,
                    time: r.updated_at.0,
                };
                self.render(st, &r, &e, progress, now)
            })
            .collect();
        self.forget_if_done(key);
        out
    }

    /// A fill: `TRADE` with the values after it (after a `NEW` for a taker created now).
    pub fn fill(&mut self, st: &State, f: &OrderFill, now: u64) -> Vec<Value> {
        let key = (f.market, f.order_id);
        let Some(t) = self.tracks.get_mut(&key) else {
            return Vec::new();
        };
        let r = t.record.clone();
        let worth = i128::from(f.price.0) * i128::from(f.qty.0);
        let first = t.shown.is_none();
        // A taker created by this command, or a stop the stream first sees at its trigger.
        let announce = first
            && f.liquidity == Liquidity::Taker
            && (r.created_at == f.time || r.order.terms.trigger_price.is_some());
        if first && !announce {
            // A resting order seen first at its fill: one fill per command.
            (t.cum, t.ticks_lots) = (Qty(r.filled.0 - f.qty.0), r.filled_ticks_lots - worth);
        }
        t.shown.get_or_insert(Terms::of(&r));
        let mut after = (Qty(t.cum.0 + f.qty.0), t.ticks_lots + worth);
        if after.0 >= r.filled {
            after = (r.filled, r.filled_ticks_lots);
        }
        (t.cum, t.ticks_lots) = after;
        let done = after.0 == r.filled && r.status == OrderStatus::Filled;
        t.closed |= done;
        let mut out = Vec::new();
        if announce {
            let e = Shown {
                x: "NEW",
                status: "NEW",
                fill: None,
                time: r.created_at.0,
            };
            self.set_open(key, &r, Qty(0), true);
            out.push(self.render(st, &r, &e, (Qty(0), 0), now));
        }
        let e = Shown {
            x: "TRADE",
            status: if done { "FILLED" } else { "PARTIALLY_FILLED" },
            fill: Some(f),
            time: f.time.0,
        };
        self.set_open(key, &r, after.0, !done);
        out.push(self.render(st, &r, &e, after, now));
        self.forget_if_done(key);
        out
    }

    /// Drop an order once it is closed and everything about it is shown; bound the map.
    fn forget_if_done(&mut self, key: Key) {
        let done = self
            .tracks
            .get(&key)
            .is_some_and(|t| t.closed && !t.pending());
        if done {
            self.tracks.remove(&key);
            self.set_notional(key, Side::Buy, 0);
        }
    }

    /// Record the open notional of `r` with `filled` of it filled (0 unless `open`, for a
    /// market order and for an untriggered stop).
    fn set_open(&mut self, key: Key, r: &OrderRecord, filled: Qty, open: bool) {
        let terms = &r.order.terms;
        let n = match terms.price {
            Some(p) if open && r.status != OrderStatus::Untriggered => {
                i128::from(p.0) * i128::from((terms.qty.0 - filled.0).max(0))
            }
            _ => 0,
        };
        self.set_notional(key, terms.side, n);
    }

    fn set_notional(&mut self, key: Key, side: Side, n: i128) {
        if let Some((s, old)) = self.open.remove(&key) {
            *self.sides.entry((key.0, s)).or_default() -= old;
        }
        if n != 0 {
            self.open.insert(key, (side, n));
            *self.sides.entry((key.0, side)).or_default() += n;
        }
    }

    /// The `ORDER_TRADE_UPDATE` of `e` for `r` with `(filled, Σ price × qty)` = `progress`.
    fn render(
        &self,
        st: &State,
        r: &OrderRecord,
        e: &Shown<'_>,
        progress: (Qty, i128),
        now: u64,
    ) -> Value {
        let spec = st.ex.spec(r.market);
        let mut at = r.clone();
        (at.filled, at.filled_ticks_lots) = progress;
        let side = |s| render::quote(spec, self.sides.get(&(r.market, s)).copied().unwrap_or(0));
        let fill = e.fill;
        let kind = render::order_type(r.order.terms.order_type);
        json!({"e": "ORDER_TRADE_UPDATE", "E": now, "T": e.time, "o": {
            "s": spec.binance_symbol,
            "c": render::client_id(r),
            "S": render::side(r.order.terms.side),
            "o": kind,
            "f": render::tif(r.order.terms.tif),
            "q": render::qty(spec, r.order.terms.qty),
            "p": r.order.terms.price.map_or_else(|| "0".into(), |p| render::px(spec, p)),
            "ap": render::avg_price(spec, &at, st.money_scale),
            "sp": r.order.terms.trigger_price.map_or_else(|| "0".into(), |p| render::px(spec, p)),
            "x": e.x,
            "X": e.status,
            "i": r.order.order_id.0,
            "l": fill.map_or_else(|| "0".into(), |f| render::qty(spec, f.qty)),
            "z": render::qty(spec, progress.0),
            "L": fill.map_or_else(|| "0".into(), |f| render::px(spec, f.price)),
            "N": st.margin_asset,
            "n": fill.map_or_else(|| "0".into(), |f| dec(f.fee.0)),
            "T": e.time,
            "t": fill.map_or(0, |f| f.trade_id.0),
            "b": side(Side::Buy),
            "a": side(Side::Sell),
            "m": fill.is_some_and(|f| f.liquidity == Liquidity::Maker),
            "R": r.order.terms.reduce_only,
            "wt": render::working_type(r.order.terms.trigger_by),
            "ot": kind,
            "ps": render::position_side(r.order.terms.position_side),
            "cp": r.order.terms.close_position,
            "rp": fill.map_or_else(|| "0".into(), |f| dec(f.realized_pnl.0)),
            "pP": false,
            "si": 0,
            "ss": 0,
            "V": render::stp(r.order.terms.stp),
            "pm": "NONE",
            "gtd": 0,
            "er": render::expiry_reason(r.reason).to_string(),
        }})
    }
}
