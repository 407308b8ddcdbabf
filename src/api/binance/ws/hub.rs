//! Binance market streams, each serialized once per market and fanned out on a bounded
//! `broadcast` channel, like the native feeds (`actors/publish.rs`) they are built from: the
//! channels of every stream, and the start of the tasks that fill them.
//!
//! Per market, [`super::depth`] translates the typed book updates into `@depth` diffs and
//! samples the book for `@depthN` and `@bookTicker`; [`super::kline`] samples the native
//! candles for `@kline_<i>`; [`super::pulse`] does marks and 24 h tickers. `@trade`,
//! `@aggTrade` and `@forceOrder` have no channel here: their sessions read the market's typed
//! feed directly and render through the event's cache ([`super::trades`]).
//!
//! # Invariants
//! - A task does no work for a stream nobody subscribes to (`send` renders only for a
//!   channel with receivers), and holds no receiver on a native feed while none of its
//!   streams has a subscriber ([`super::tap`]). Without subscribers the depth and kline tasks
//!   have no timer either: they sleep until [`Hubs::activate`] wakes them, so an idle market
//!   costs no wake-up.
//! - A session subscribes to a stream's channel ([`Hubs::sender`]) before [`Hubs::activate`]
//!   hands its translator the native receiver, so nothing published after the subscription
//!   is missed.
//! - Channels hold `max(ws_queue, 16)` messages: a session that lags behind one is closed as a
//!   slow consumer by its forwarder. A translator whose own receiver lags sends `None`
//!   ([`Relay`]) on the channels that lost messages, and their sessions are closed the same
//!   way: no stream silently skips.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::Notify;

use super::super::klines::INTERVALS;
use super::pulse::{self, History};
use super::streams::{Kind, Stream};
use super::tap::Tap;
use crate::actors::feed::{BookUpdate, Shared};
use crate::actors::publish::Wire;
use crate::actors::Exchange;
use crate::api::State;
use crate::risk::MarketId;

/// A message of a stream, or `None`: the stream lost messages (close as a slow consumer).
pub type Relay = Option<Wire>;

/// One stream's channel, made on its first subscriber (`actors/lazy_broadcast.rs`).
pub type Tx = crate::actors::lazy_broadcast::LazySender<Relay>;

fn channel(capacity: usize) -> Tx {
    Tx::new(capacity)
}

/// One market's Binance streams.
pub struct MarketHub {
    pub market: MarketId,
    /// The Binance symbol (`BTCUSDT`).
    pub symbol: String,
    pub depth: [Tx; 3],
    pub partial: [[Tx; 3]; 3],
    pub book_ticker: Tx,
    pub ticker: Tx,
    pub mini_ticker: Tx,
    pub mark: [Tx; 2],
    pub kline: Vec<Tx>,
    /// Wakes the kline task when a `@kline_<i>` stream gets a subscriber (it sleeps without).
    pub kline_wanted: Notify,
    /// The kline task is asleep (no subscriber, no timer).
    pub kline_asleep: AtomicBool,
    pub history: History,
    /// The depth translator's receiver on the typed book updates, held only while needed.
    pub book_tap: Tap<Shared<BookUpdate>>,
}

impl MarketHub {
    /// Whether any stream built from the native book diffs has a subscriber.
    pub(super) fn wants_book(&self) -> bool {
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
                    book_ticker: channel(cap),
                    ticker: channel(cap),
                    mini_ticker: channel(cap),
                    mark: std::array::from_fn(|_| channel(cap)),
                    kline: INTERVALS.iter().map(|_| channel(cap)).collect(),
                    kline_wanted: Notify::new(),
                    kline_asleep: AtomicBool::new(false),
                    history: History::default(),
                    book_tap: Tap::default(),
                })
            })
            .collect();
        let hubs = Arc::new(Hubs {
            markets,
            mark_all: std::array::from_fn(|_| channel(cap)),
        });
        for h in &hubs.markets {
            actix_web::rt::spawn(super::depth::run(Arc::clone(&st.ex), Arc::clone(h)));
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
            // A stored permit if the task is busy: it re-checks its receivers before sleeping.
            Kind::Kline(_) => h.kline_wanted.notify_one(),
            _ => {}
        }
    }

    /// The channel of a stream (`None`: the stream reads the typed feed, see the module doc).
    pub fn sender(&self, s: &Stream) -> Option<&Tx> {
        Some(match *s {
            Stream::MarkAll { fast } => &self.mark_all[usize::from(fast)],
            Stream::Market(m, kind) => {
                let h = &self.markets[m.index()];
                match kind {
                    Kind::Depth(sp) => &h.depth[sp as usize],
                    Kind::Partial(l, sp) => &h.partial[l][sp as usize],
                    Kind::BookTicker => &h.book_ticker,
                    Kind::Ticker => &h.ticker,
                    Kind::MiniTicker => &h.mini_ticker,
                    Kind::Mark { fast } => &h.mark[usize::from(fast)],
                    Kind::Kline(i) => &h.kline[i],
                    Kind::Trade | Kind::AggTrade | Kind::ForceOrder => return None,
                }
            }
        })
    }
}

pub(super) fn wire(v: serde_json::Value) -> Wire {
    v.to_string().into()
}

/// Send if anyone listens (a send without receivers is an error we do not care about).
pub(super) fn send(tx: &Tx, v: impl FnOnce() -> serde_json::Value) {
    if tx.receiver_count() > 0 {
        let _ = tx.send(Some(wire(v())));
    }
}
