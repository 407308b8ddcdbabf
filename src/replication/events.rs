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

mod ledger;
mod market;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::actors::publish;
use crate::book::Depth;
use crate::domain::{BookEvent, MarketSpec, Price, Qty, Side};
use crate::engine::market::MarketEvent;
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

/// Render journal entry `seq` (decoded `b`) for the markets `specs`: the market's lines
/// ([`market`]), then the ledger events' ([`ledger`]).
pub fn render(seq: u64, b: &Batch, specs: &[MarketSpec], private: bool) -> Rendered {
    let mut out = Rendered::default();
    let time = b.time.0;
    if let Some(m) = b.market.map(|m| m.index()).filter(|&i| i < specs.len()) {
        market::render_market(&mut out, m, &specs[m], seq, b, private);
    }
    if !private {
        return out;
    }
    for e in b.r1.iter().chain(&b.r2) {
        if let Some((market, v)) = ledger::ledger_line(e, specs, seq, time) {
            out.push(market, v.to_string());
        }
    }
    out
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
