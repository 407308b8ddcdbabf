//! Binance market streams, each serialized once per market and fanned out on a bounded
//! `broadcast` channel, like the native feeds (`actors/publish.rs`) they are built from.
//!
//! One task per market translates the native book diffs into `@depth` diffs batched per
//! speed (100/250/500 ms), and samples the book for `@depthN` and `@bookTicker`; one turns
//! native trades and liquidations into `@trade`, `@aggTrade` and `@forceOrder`;
//! [`super::kline`] samples the native candles for `@kline_<i>`; [`super::pulse`] does marks
//! and 24 h tickers. A task does no work for a stream nobody subscribes to, and holds no
//! receiver on a native feed while none of its streams has a subscriber ([`super::tap`]).
//!
//! # Invariants (depth diffs)
//! - `u` is the native book sequence after the diff, `U` the sequence of its first level
//!   change (the native sequence grows by one per level change), `pu` the native
//!   `prev_sequence` of the first native diff in the batch. A batch only ever joins native
//!   diffs that chain (`prev_sequence` = the batch's `u`), so `pu` = the previous message's
//!   `u` exactly when nothing was lost, and a client following Binance's procedure
//!   (snapshot `lastUpdateId` = native sequence) never resyncs; if the translator ever lags
//!   behind the native feed, the next batch's `pu` does not match and clients resync.
//! - Quantities are absolute (`"0"` removes the level), as natively.

use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

use super::super::klines::INTERVALS;
use super::pulse::{self, History};
use super::streams::{Kind, Speed, Stream, LEVELS};
use super::tap::{self, Tap};
use crate::actors::market::{MarketQuery, MarketView};
use crate::actors::publish::{self, Wire};
use crate::actors::Exchange;
use crate::api::State;
use crate::risk::MarketId;

/// The depth task's clock: every speed is a multiple of it.
pub const TICK: Duration = Duration::from_millis(50);

type Tx = broadcast::Sender<Wire>;

fn channel(capacity: usize) -> Tx {
    broadcast::channel(capacity).0
}

/// One market's Binance streams.
pub struct MarketHub {
    pub market: MarketId,
    /// The Binance symbol (`BTCUSDT`).
    pub symbol: String,
    pub depth: [Tx; 3],
    pub partial: [[Tx; 3]; 3],
    pub trade: Tx,
    pub agg_trade: Tx,
    pub book_ticker: Tx,
    pub force_order: Tx,
    pub ticker: Tx,
    pub mini_ticker: Tx,
    pub mark: [Tx; 2],
    pub kline: Vec<Tx>,
    pub history: History,
    /// The translators' receivers on the native feeds, held only while needed.
    pub book_tap: Tap<(u64, Wire)>,
    pub trades_tap: Tap<Wire>,
    pub liquidations_tap: Tap<Wire>,
}

impl MarketHub {
    /// Whether any stream built from the native book diffs has a subscriber.
    fn wants_book(&self) -> bool {
        self.book_ticker.receiver_count() > 0
            || self.depth.iter().any(|t| t.receiver_count() > 0)
            || self
                .partial
                .iter()
                .flatten()
                .any(|t| t.receiver_count() > 0)
    }
}

/// Every market's streams and the all-market mark streams.
pub struct Hubs {
    pub markets: Vec<Arc<MarketHub>>,
    pub mark_all: [Tx; 2],
}

impl Hubs {
    /// Create the channels and start the tasks (on the current actix runtime).
    pub fn start(st: &State) -> Arc<Hubs> {
        let cap = st.ws_queue.max(16);
        let markets: Vec<Arc<MarketHub>> = st
            .ex
            .specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Arc::new(MarketHub {
                    market: MarketId(i as u16),
                    symbol: s.binance_symbol.clone(),
                    depth: std::array::from_fn(|_| channel(cap)),
                    partial: std::array::from_fn(|_| std::array::from_fn(|_| channel(cap))),
                    trade: channel(cap),
                    agg_trade: channel(cap),
                    book_ticker: channel(cap),
                    force_order: channel(cap),
                    ticker: channel(cap),
                    mini_ticker: channel(cap),
                    mark: std::array::from_fn(|_| channel(cap)),
                    kline: INTERVALS.iter().map(|_| channel(cap)).collect(),
                    history: History::default(),
                    book_tap: Tap::default(),
                    trades_tap: Tap::default(),
                    liquidations_tap: Tap::default(),
                })
            })
            .collect();
        let hubs = Arc::new(Hubs {
            markets,
            mark_all: std::array::from_fn(|_| channel(cap)),
        });
        for h in &hubs.markets {
            actix_web::rt::spawn(depth_task(Arc::clone(&st.ex), Arc::clone(h)));
            actix_web::rt::spawn(trades_task(Arc::clone(&st.ex), Arc::clone(h)));
            actix_web::rt::spawn(super::kline::run(Arc::clone(&st.ex), Arc::clone(h)));
        }
        actix_web::rt::spawn(pulse::run(st.clone(), Arc::clone(&hubs)));
        hubs
    }

    /// After subscribing to `s`: make sure its translator listens to the native feed.
    pub fn activate(&self, ex: &Exchange, s: &Stream) {
        let Stream::Market(m, kind) = *s else {
            return;
        };
        let (h, feed) = (&self.markets[m.index()], &ex.feeds[m.index()]);
        match kind {
            Kind::Depth(_) | Kind::Partial(..) | Kind::BookTicker => {
                h.book_tap.activate(&feed.book)
            }
            Kind::Trade | Kind::AggTrade => h.trades_tap.activate(&feed.trades),
            Kind::ForceOrder => h.liquidations_tap.activate(&feed.liquidations),
            _ => {}
        }
    }

    /// The channel of a stream.
    pub fn sender(&self, s: &Stream) -> &Tx {
        match *s {
            Stream::MarkAll { fast } => &self.mark_all[usize::from(fast)],
            Stream::Market(m, kind) => {
                let h = &self.markets[m.index()];
                match kind {
                    Kind::Depth(sp) => &h.depth[sp as usize],
                    Kind::Partial(l, sp) => &h.partial[l][sp as usize],
                    Kind::Trade => &h.trade,
                    Kind::AggTrade => &h.agg_trade,
                    Kind::BookTicker => &h.book_ticker,
                    Kind::ForceOrder => &h.force_order,
                    Kind::Ticker => &h.ticker,
                    Kind::MiniTicker => &h.mini_ticker,
                    Kind::Mark { fast } => &h.mark[usize::from(fast)],
                    Kind::Kline(i) => &h.kline[i],
                }
            }
        }
    }
}

pub(super) fn wire(v: serde_json::Value) -> Wire {
    v.to_string().into()
}

/// Send if anyone listens (a send without receivers is an error we do not care about).
fn send(tx: &Tx, v: impl FnOnce() -> serde_json::Value) {
    if tx.receiver_count() > 0 {
        let _ = tx.send(wire(v()));
    }
}

// ------------------------------------------------------------------ depth

/// A native `book_update` (the fields the translation needs).
#[derive(Deserialize)]
struct NativeBook {
    sequence: u64,
    prev_sequence: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
}

/// Native diffs joined into one Binance diff.
#[derive(Default)]
struct Batch {
    open: bool,
    first: u64,
    last: u64,
    prev: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
    index: FxHashMap<(bool, String), usize>,
}

impl Batch {
    /// Whether `b` continues this batch (or the batch is empty).
    fn chains(&self, b: &NativeBook) -> bool {
        !self.open || b.prev_sequence == self.last
    }

    fn add(&mut self, b: &NativeBook) {
        let changes = (b.bids.len() + b.asks.len()) as u64;
        if !self.open {
            self.open = true;
            self.first = b.sequence + 1 - changes.max(1);
            self.prev = b.prev_sequence;
        }
        self.last = b.sequence;
        for (bid, levels) in [(true, &b.bids), (false, &b.asks)] {
            for l in levels {
                let key = (bid, l[0].clone());
                let side = if bid { &mut self.bids } else { &mut self.asks };
                match self.index.get(&key) {
                    Some(&i) => side[i][1].clone_from(&l[1]),
                    None => {
                        self.index.insert(key, side.len());
                        side.push(l.clone());
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

async fn depth_task(ex: Arc<Exchange>, h: Arc<MarketHub>) {
    let mut rx: Option<broadcast::Receiver<(u64, Wire)>> = None;
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
            }
            r = tap::recv(&mut rx) => match r {
                Ok((s, msg)) => {
                    seq = Some(s);
                    let wanted: Vec<usize> = (0..3).filter(|&i| h.depth[i].receiver_count() > 0).collect();
                    if wanted.is_empty() {
                        batches = Default::default();
                        continue;
                    }
                    let Ok(b) = serde_json::from_str::<NativeBook>(&msg) else { continue };
                    for i in wanted {
                        if !batches[i].chains(&b) {
                            let now = ex.clock.now().0;
                            if let Some(v) = batches[i].take(&h.symbol, now) {
                                let _ = h.depth[i].send(wire(v));
                            }
                        }
                        batches[i].add(&b);
                    }
                }
                // Diffs were lost: close every batch so the gap shows as a `pu` mismatch.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let now = ex.clock.now().0;
                    for (i, b) in batches.iter_mut().enumerate() {
                        if let Some(v) = b.take(&h.symbol, now) {
                            let _ = h.depth[i].send(wire(v));
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                if rx.is_none() {
                    continue;
                }
                n += 1;
                let now = ex.clock.now().0;
                for sp in Speed::ALL {
                    if !n.is_multiple_of(sp.ticks()) {
                        continue;
                    }
                    let i = sp as usize;
                    if let Some(v) = batches[i].take(&h.symbol, now) {
                        let _ = h.depth[i].send(wire(v));
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
    let Ok(MarketView::Depth(d)) = ex.markets[h.market.index()]
        .send(MarketQuery::Depth(LEVELS[2]))
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
    let Ok(MarketView::Depth(d)) = ex.markets[h.market.index()]
        .send(MarketQuery::Depth(1))
        .await
    else {
        return None;
    };
    let spec = ex.spec(h.market);
    let level = |l: Option<&(crate::domain::Price, crate::domain::Qty)>| {
        l.map_or(["0".to_owned(), "0".to_owned()], |&(p, q)| {
            [
                spec.price_decimal(p).to_string(),
                spec.qty_decimal(q).normalize().to_string(),
            ]
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

// ------------------------------------------------------------------ trades, liquidations

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

async fn trades_task(ex: Arc<Exchange>, h: Arc<MarketHub>) {
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
