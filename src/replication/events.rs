//! The JSON view of journal entries for downstream consumers (`<prefix>.events.<symbol>`; the
//! schema is in `docs/REPLICATION.md`), and the level books the event publisher keeps so it can
//! publish book snapshots for gateways.
//!
//! Public lines are byte for byte the primary's WebSocket messages (`book_update` with
//! `sequence`/`prev_sequence`, `trade`, `liquidation`), so a gateway forwards them without
//! re-serializing. Private lines (orders, fills, funding, transfers) carry the journal sequence
//! `seq` and the command's `time`.
//!
//! # Invariants
//! - Rendering is a pure function of the entry (and the market specs): a republished entry
//!   renders identically, so consumers may de-duplicate by `(symbol, seq)`.
//! - `prev_sequence` of a `book_update` is its first level change's sequence minus one: book
//!   sequences count level changes one by one, so the chain needs no state across entries.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::actors::publish;
use crate::book::Depth;
use crate::domain::{BookEvent, MarketSpec, Price, Qty, Side};
use crate::engine::market::{MarketEvent, TradeTick};
use crate::engine::LedgerEvent;
use crate::persistence::codec::Batch;

/// The pseudo-symbol of events that belong to no market (deposits, withdrawals, accounts).
pub const LEDGER_SYMBOL: &str = "_ledger";

/// Levels per side in a published book snapshot.
pub const SNAPSHOT_LEVELS: usize = 5000;

/// The rendered lines of one entry, per market index (`None`: [`LEDGER_SYMBOL`]).
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    pub lines: BTreeMap<Option<usize>, Vec<String>>,
}

impl Rendered {
    fn push(&mut self, market: Option<usize>, line: String) {
        self.lines.entry(market).or_default().push(line);
    }
}

fn px(spec: &MarketSpec, p: Price) -> String {
    spec.price_decimal(p).to_string()
}

fn money(d: Decimal) -> String {
    d.normalize().to_string()
}

fn name<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Render journal entry `seq` (decoded `b`) for the markets `specs`.
pub fn render(seq: u64, b: &Batch, specs: &[MarketSpec], private: bool) -> Rendered {
    let mut out = Rendered::default();
    let time = b.time.0;
    if let Some(m) = b.market.map(|m| m.index()).filter(|&i| i < specs.len()) {
        render_market(&mut out, m, &specs[m], seq, b, private);
    }
    if !private {
        return out;
    }
    for e in b.r1.iter().chain(&b.r2) {
        if let Some((market, v)) = ledger_line(e, specs, seq, time) {
            out.push(market, v.to_string());
        }
    }
    out
}

fn render_market(
    out: &mut Rendered,
    m: usize,
    spec: &MarketSpec,
    seq: u64,
    b: &Batch,
    with_private: bool,
) {
    let time = b.time;
    let client_id = |id| {
        b.client_ids
            .iter()
            .find(|(o, _)| *o == id)
            .map(|(_, c)| c.clone())
    };
    let mut changes: Vec<(Side, Price, Qty)> = Vec::new();
    let (mut first, mut last) = (None, 0);
    // A private line, or nothing when private events are off (`fields` is only built then).
    let private = |out: &mut Rendered, kind: &str, fields: &dyn Fn() -> Value| {
        if !with_private {
            return;
        }
        let mut v = json!({"type": kind, "seq": seq, "time": time.0, "symbol": spec.symbol});
        if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields()) {
            o.extend(f);
        }
        out.push(Some(m), v.to_string());
    };
    for e in &b.market_events {
        match e {
            MarketEvent::Accepted(a) => {
                private(out, "order_accepted", &|| {
                    json!({"order_id": a.order_id.0, "account_id": a.account.0,
                        "client_order_id": client_id(a.order_id), "side": name(&a.side),
                        "order_type": name(&a.order_type), "time_in_force": name(&a.tif),
                        "price": a.price.map(|p| px(spec, p)),
                        "trigger_price": a.trigger_price.map(|p| px(spec, p)),
                        "quantity": a.qty.text(spec.lot_size), "reduce_only": a.reduce_only,
                        "liquidation": a.liquidation})
                });
                if let (true, Some(price)) = (a.liquidation, a.price) {
                    let l = publish::liquidation(spec, a.side, price, a.qty, time.0);
                    out.push(Some(m), l.to_string());
                }
            }
            MarketEvent::Parked { order_id } => {
                private(out, "order_parked", &|| json!({"order_id": order_id.0}))
            }
            MarketEvent::MarkSet { mark, index_stale } => private(
                out,
                "mark",
                &|| json!({"mark_price": money(*mark), "index_stale": index_stale}),
            ),
            MarketEvent::Book(be) => match *be {
                BookEvent::Level {
                    side,
                    price,
                    qty,
                    sequence,
                } => {
                    first.get_or_insert(sequence);
                    last = sequence;
                    changes.push((side, price, qty));
                }
                BookEvent::Trade(t) => {
                    let tick = TradeTick {
                        trade_id: t.trade_id,
                        price: t.price,
                        qty: t.qty,
                        taker_side: t.taker_side,
                        time,
                    };
                    out.push(Some(m), publish::trade(spec, &tick).to_string());
                }
                BookEvent::Rested {
                    order_id,
                    account,
                    side,
                    price,
                    qty,
                } => private(out, "order_rested", &|| {
                    json!({"order_id": order_id.0, "account_id": account.0,
                        "side": name(&side), "price": px(spec, price), "quantity": qty.text(spec.lot_size)})
                }),
                BookEvent::Closed {
                    order_id,
                    account,
                    qty,
                    reason,
                } => private(out, "order_closed", &|| {
                    json!({"order_id": order_id.0, "account_id": account.0,
                        "status": name(&reason.status()), "reason": name(&reason),
                        "quantity": qty.text(spec.lot_size)})
                }),
                BookEvent::Amended {
                    order_id,
                    price,
                    remaining,
                    requeued,
                } => private(out, "order_amended", &|| {
                    json!({"order_id": order_id.0, "price": px(spec, price),
                        "remaining": remaining.text(spec.lot_size), "requeued": requeued})
                }),
                BookEvent::Triggered { order_id } => {
                    private(out, "order_triggered", &|| json!({"order_id": order_id.0}))
                }
            },
        }
    }
    if let Some(first) = first {
        let u = publish::book_update(spec, last, first - 1, &changes);
        out.push(Some(m), u.to_string());
    }
}

/// The line of one ledger event, with its market (`None`: no market), if it is one consumers
/// need (margin holds and releases are bookkeeping inside the exchange and are left out).
fn ledger_line(
    e: &LedgerEvent,
    specs: &[MarketSpec],
    seq: u64,
    time: u64,
) -> Option<(Option<usize>, Value)> {
    let spec = |m: crate::risk::MarketId| specs.get(m.index());
    let head = |kind: &str, symbol: Option<&str>| {
        let mut v = json!({"type": kind, "seq": seq, "time": time});
        if let (Some(s), Some(o)) = (symbol, v.as_object_mut()) {
            o.insert("symbol".into(), s.into());
        }
        v
    };
    let with = |mut v: Value, fields: Value| {
        if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
            o.extend(f);
        }
        v
    };
    Some(match e {
        LedgerEvent::AccountOpened { account } => (
            None,
            with(
                head("account_opened", None),
                json!({"account_id": account.0}),
            ),
        ),
        LedgerEvent::Deposited { account, amount } => (
            None,
            with(
                head("deposit", None),
                json!({"account_id": account.0, "amount": money(amount.0)}),
            ),
        ),
        LedgerEvent::Withdrew { account, amount } => (
            None,
            with(
                head("withdrawal", None),
                json!({"account_id": account.0, "amount": money(amount.0)}),
            ),
        ),
        LedgerEvent::LiquidationStarted { account } => (
            None,
            with(
                head("liquidation_started", None),
                json!({"account_id": account.0}),
            ),
        ),
        LedgerEvent::LiquidationEnded { account } => (
            None,
            with(
                head("liquidation_ended", None),
                json!({"account_id": account.0}),
            ),
        ),
        LedgerEvent::InsuranceCleared { account, amount } => (
            None,
            with(
                head("insurance_cleared", None),
                json!({"account_id": account.0, "amount": money(amount.0)}),
            ),
        ),
        LedgerEvent::LeverageSet {
            account,
            market,
            leverage,
        } => {
            let s = spec(*market)?;
            (
                Some(market.index()),
                with(
                    head("leverage", Some(&s.symbol)),
                    json!({"account_id": account.0, "leverage": leverage}),
                ),
            )
        }
        LedgerEvent::FillSettled(f) => {
            let s = spec(f.market)?;
            (
                Some(f.market.index()),
                with(
                    head("fill", Some(&s.symbol)),
                    json!({"trade_id": f.trade_id.0, "price": px(s, f.price),
                    "quantity": Qty(f.qty).text(s.lot_size), "taker_side": name(&f.taker_side),
                    "taker": {"account_id": f.taker.0, "order_id": f.taker_order.0,
                              "fee": money(f.taker_fee.0), "realized_pnl": money(f.taker_realized.0),
                              "liquidation_fee": money(f.liquidation_fee.0)},
                    "maker": {"account_id": f.maker.0, "order_id": f.maker_order.0,
                              "fee": money(f.maker_fee.0), "realized_pnl": money(f.maker_realized.0)}}),
                ),
            )
        }
        LedgerEvent::FundingSettled {
            market,
            rate,
            mark,
            time: at,
            debits,
            credits,
            ..
        } => {
            let s = spec(*market)?;
            (
                Some(market.index()),
                with(
                    head("funding", Some(&s.symbol)),
                    json!({"funding_rate": money(*rate), "mark_price": money(*mark),
                    "funding_time": at.0, "paid": money(debits.0), "received": money(-credits.0)}),
                ),
            )
        }
        LedgerEvent::PositionTransferred {
            market,
            from,
            to,
            qty,
            price,
            kind,
        } => {
            let s = spec(*market)?;
            (
                Some(market.index()),
                with(
                    head("position_transferred", Some(&s.symbol)),
                    json!({"from": from.0, "to": to.0, "quantity": Qty(*qty).text(s.lot_size),
                    "price": money(*price), "kind": name(kind)}),
                ),
            )
        }
        _ => return None,
    })
}

/// One market's price levels (ticks → lots), kept from `Level` events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelBook {
    pub bids: BTreeMap<i64, i64>,
    pub asks: BTreeMap<i64, i64>,
    pub sequence: u64,
    /// Changed since the last snapshot was taken.
    pub changed: bool,
}

impl LevelBook {
    pub fn from_depth(d: &Depth) -> LevelBook {
        LevelBook {
            bids: d.bids.iter().map(|(p, q)| (p.0, q.0)).collect(),
            asks: d.asks.iter().map(|(p, q)| (p.0, q.0)).collect(),
            sequence: d.sequence,
            changed: true,
        }
    }

    /// Apply the level changes of one entry's market events.
    pub fn apply(&mut self, events: &[MarketEvent]) {
        for e in events {
            if let MarketEvent::Book(BookEvent::Level {
                side,
                price,
                qty,
                sequence,
            }) = *e
            {
                let side = match side {
                    Side::Buy => &mut self.bids,
                    Side::Sell => &mut self.asks,
                };
                if qty.0 == 0 {
                    side.remove(&price.0);
                } else {
                    side.insert(price.0, qty.0);
                }
                self.sequence = sequence;
                self.changed = true;
            }
        }
    }

    /// The `book_snapshot` message (the WebSocket's format), best levels first.
    pub fn snapshot(&self, spec: &MarketSpec, levels: usize) -> String {
        let bids: Vec<(Price, Qty)> = self
            .bids
            .iter()
            .rev()
            .take(levels)
            .map(|(&p, &q)| (Price(p), Qty(q)))
            .collect();
        let asks: Vec<(Price, Qty)> = self
            .asks
            .iter()
            .take(levels)
            .map(|(&p, &q)| (Price(p), Qty(q)))
            .collect();
        json!({"type": "book_snapshot", "symbol": spec.symbol, "sequence": self.sequence,
               "bids": publish::levels(spec, &bids), "asks": publish::levels(spec, &asks)})
        .to_string()
    }
}
