//! The depth streams of one market: the typed book updates translated into `@depth` diffs
//! batched per speed (100/250/500 ms), and the book sampled for `@depthN` (5/10/20 levels) and
//! `@bookTicker`.
//!
//! # Invariants
//! - `u` is the native book sequence after the diff, `U` the sequence of its first level
//!   change (the native sequence grows by one per level change), `pu` the native
//!   `prev_sequence` of the first native diff in the batch. A batch only ever joins native
//!   diffs that chain (`prev_sequence` = the batch's `u`), so `pu` = the previous message's
//!   `u` exactly when nothing was lost, and a client following Binance's procedure
//!   (snapshot `lastUpdateId` = native sequence) never resyncs.
//! - If the translator's receiver lags behind the typed feed, diffs were lost: it sends `None`
//!   on every `@depth` channel, and each session of those streams is closed as a slow consumer
//!   (1008) by its forwarder, as a native book subscriber would be; the batches start afresh.
//! - Quantities are absolute (`"0"` removes the level), as natively.
//! - The task holds the native book receiver only while a book stream has a subscriber
//!   ([`super::tap`]); a fresh receiver starts from empty batches. Without it the task has no
//!   timer: it sleeps until a session activates the tap (an idle market costs no wake-up).

use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde_json::json;
use tokio::sync::broadcast;

use super::hub::{send, wire, MarketHub};
use super::streams::{Speed, LEVELS};
use super::tap;
use crate::actors::feed::{BookUpdate, Shared};
use crate::actors::market::query::DepthQuery;
use crate::actors::publish::{self, px, qx};
use crate::actors::Exchange;
use crate::domain::{Price, Side};

/// The depth task's clock: every speed is a multiple of it.
pub const TICK: Duration = Duration::from_millis(50);

/// Native diffs joined into one Binance diff.
#[derive(Default)]
struct Batch {
    open: bool,
    first: u64,
    last: u64,
    prev: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
    index: FxHashMap<(bool, Price), usize>,
}

impl Batch {
    /// Whether `b` continues this batch (or the batch is empty).
    fn chains(&self, b: &BookUpdate) -> bool {
        !self.open || b.prev_sequence == self.last
    }

    fn add(&mut self, e: &crate::actors::feed::Event<BookUpdate>) {
        let (spec, b) = (&e.spec, &e.data);
        let changes = b.changes.len() as u64;
        if !self.open {
            self.open = true;
            self.first = b.sequence + 1 - changes.max(1);
            self.prev = b.prev_sequence;
        }
        self.last = b.sequence;
        // Bids first, then asks, each in the order of the changes (as the native message).
        for bid in [true, false] {
            for &(side, p, q) in &b.changes {
                if (side == Side::Buy) != bid {
                    continue;
                }
                let qty = qx(spec, q);
                let levels = if bid { &mut self.bids } else { &mut self.asks };
                match self.index.get(&(bid, p)) {
                    Some(&i) => levels[i][1] = qty,
                    None => {
                        self.index.insert((bid, p), levels.len());
                        levels.push([px(spec, p), qty]);
                    }
                }
            }
        }
    }

    fn take(&mut self, symbol: &str, now: u64) -> Option<serde_json::Value> {
        if !self.open {
            return None;
        }
        let b = std::mem::take(self);
        Some(json!({"e": "depthUpdate", "E": now, "T": now, "s": symbol,
                    "U": b.first, "u": b.last, "pu": b.prev, "b": b.bids, "a": b.asks}))
    }
}

/// Add one native update to the batch of every speed someone listens to; a batch it does not
/// chain onto (a gap in the book sequence) goes out first.
fn batch_update(ex: &Exchange, h: &MarketHub, batches: &mut [Batch; 3], e: &Shared<BookUpdate>) {
    let wanted: Vec<usize> = (0..3)
        .filter(|&i| h.depth[i].receiver_count() > 0)
        .collect();
    if wanted.is_empty() {
        *batches = Default::default();
        return;
    }
    for i in wanted {
        if !batches[i].chains(&e.data) {
            let now = ex.clock.now().0;
            if let Some(v) = batches[i].take(&h.symbol, now) {
                let _ = h.depth[i].send(Some(wire(v)));
            }
        }
        batches[i].add(e);
    }
}

pub async fn run(ex: Arc<Exchange>, h: Arc<MarketHub>) {
    let mut rx: Option<broadcast::Receiver<Shared<BookUpdate>>> = None;
    let mut batches: [Batch; 3] = Default::default();
    let mut tick = tokio::time::interval(TICK);
    let mut n: u64 = 0;
    // The newest native sequence known, and the one the sampled streams last showed.
    let mut seq: Option<u64> = None;
    let mut partial_seq: [Option<u64>; 3] = [None; 3];
    let mut top_seq: Option<u64> = None;
    let mut top_last: Option<serde_json::Value> = None;
    loop {
        tokio::select! {
            fresh = h.book_tap.handed(), if rx.is_none() => {
                rx = Some(fresh);
                (batches, seq, partial_seq, top_seq, top_last) = Default::default();
                // The clock restarts with the receiver: no burst of ticks missed while idle.
                tick = tokio::time::interval(TICK);
                n = 0;
            }
            r = tap::recv(&mut rx) => match r {
                Ok(e) => {
                    seq = Some(e.data.sequence);
                    batch_update(&ex, &h, &mut batches, &e);
                }
                // Diffs were lost: every `@depth` session is a slow consumer (module doc).
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    batches = Default::default();
                    for tx in &h.depth {
                        if tx.receiver_count() > 0 {
                            let _ = tx.send(None);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            // Only while a book stream is wanted: an idle market's task sleeps on the tap.
            _ = tick.tick(), if rx.is_some() => {
                n += 1;
                let now = ex.clock.now().0;
                for sp in Speed::ALL {
                    if !n.is_multiple_of(sp.ticks()) {
                        continue;
                    }
                    let i = sp as usize;
                    if let Some(v) = batches[i].take(&h.symbol, now) {
                        let _ = h.depth[i].send(Some(wire(v)));
                    }
                    if h.partial.iter().any(|l| l[i].receiver_count() > 0)
                        && (seq.is_none() || seq != partial_seq[i])
                    {
                        if let Some(shown) = partial(&ex, &h, i, partial_seq[i], now).await {
                            partial_seq[i] = Some(shown);
                            seq = seq.max(Some(shown));
                        }
                    }
                }
                if h.book_ticker.receiver_count() > 0 && (seq.is_none() || seq != top_seq) {
                    if let Some(shown) = book_ticker(&ex, &h, &mut top_last, now).await {
                        top_seq = Some(shown);
                        seq = seq.max(Some(shown));
                    }
                }
                if h.book_tap.release_if(|| !h.wants_book()) {
                    rx = None;
                }
            }
        }
    }
}

/// Publish the top 5/10/20 levels for speed `i`; returns the sequence shown.
async fn partial(
    ex: &Exchange,
    h: &MarketHub,
    i: usize,
    prev: Option<u64>,
    now: u64,
) -> Option<u64> {
    let Ok(d) = ex.markets[h.market.index()]
        .send(DepthQuery(LEVELS[2]))
        .await
    else {
        return None;
    };
    let spec = ex.spec(h.market);
    let pu = prev.unwrap_or(d.sequence);
    for (l, &levels) in LEVELS.iter().enumerate() {
        send(&h.partial[l][i], || {
            let n = |v: &[(crate::domain::Price, crate::domain::Qty)]| {
                publish::levels(spec, &v[..levels.min(v.len())])
            };
            json!({"e": "depthUpdate", "E": now, "T": now, "s": h.symbol,
                   "U": pu + 1, "u": d.sequence, "pu": pu, "b": n(&d.bids), "a": n(&d.asks)})
        });
    }
    Some(d.sequence)
}

/// Publish the best bid and ask if they changed; returns the sequence shown.
async fn book_ticker(
    ex: &Exchange,
    h: &MarketHub,
    last: &mut Option<serde_json::Value>,
    now: u64,
) -> Option<u64> {
    let Ok(d) = ex.markets[h.market.index()].send(DepthQuery(1)).await else {
        return None;
    };
    let spec = ex.spec(h.market);
    let level = |l: Option<&(crate::domain::Price, crate::domain::Qty)>| {
        l.map_or(["0".to_owned(), "0".to_owned()], |&(p, q)| {
            [spec.price_decimal(p).to_string(), q.text(spec.lot_size)]
        })
    };
    let [b, bq] = level(d.bids.first());
    let [a, aq] = level(d.asks.first());
    let top = json!([b, bq, a, aq]);
    if last.as_ref() != Some(&top) {
        send(&h.book_ticker, || {
            json!({"e": "bookTicker", "u": d.sequence, "E": now, "T": now, "s": h.symbol,
                   "b": top[0], "B": top[1], "a": top[2], "A": top[3]})
        });
        *last = Some(top);
    }
    Some(d.sequence)
}
