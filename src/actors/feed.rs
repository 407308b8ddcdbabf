//! A market's public feed (docs/ARCHITECTURE.md §2): typed events — book updates, trades,
//! liquidations, tickers — on bounded `broadcast` channels. Each event carries its market's
//! spec and one lazily filled cache per wire form ([`Form`]), so every dialect renders its own
//! form from the typed values, once per event however many sessions forward it.
//!
//! # Invariants
//! - No dialect parses another's JSON: the native form and the Binance forms are rendered from
//!   the same typed event.
//! - A form is rendered at most once per event (`OnceLock`); sessions share the `Arc<str>`.
//! - Events reach the channels only through the market's release gate
//!   ([`super::release::Gate`]), in command order (see [`Published`]).

use super::lazy_broadcast::LazySender;
use std::sync::{Arc, OnceLock};

use super::publish::{self, Ticker, Wire};
use crate::domain::{MarketSpec, Price, Qty, Side, Timestamp};
use crate::engine::market::TradeTick;

/// The wire forms an event may be rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// docs/API.md.
    Native = 0,
    /// Binance `@trade`, `@forceOrder`.
    Binance = 1,
    /// Binance `@aggTrade`.
    BinanceAgg = 2,
}

const FORMS: usize = 3;

/// One published market-data event: typed data, its market's spec, and its renderings.
pub struct Event<T> {
    pub spec: Arc<MarketSpec>,
    pub data: T,
    forms: [OnceLock<Wire>; FORMS],
}

/// Events are shared by every receiver of a channel.
pub type Shared<T> = Arc<Event<T>>;

impl<T> Event<T> {
    pub fn new(spec: Arc<MarketSpec>, data: T) -> Shared<T> {
        Arc::new(Event {
            spec,
            data,
            forms: Default::default(),
        })
    }

    /// An event whose native form is already known (relayed from another node as text).
    pub fn with_native(spec: Arc<MarketSpec>, data: T, native: Wire) -> Shared<T> {
        let e = Event {
            spec,
            data,
            forms: Default::default(),
        };
        let _ = e.forms[Form::Native as usize].set(native);
        Arc::new(e)
    }

    /// The event in `form`, rendered by `render` on first use only.
    pub fn render(&self, form: Form, render: impl FnOnce(&MarketSpec, &T) -> Wire) -> Wire {
        Arc::clone(self.forms[form as usize].get_or_init(|| render(&self.spec, &self.data)))
    }
}

/// A `book_update`: the level changes of one command (absolute quantities, zero removes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookUpdate {
    /// The book sequence after the changes (one per level change).
    pub sequence: u64,
    /// The sequence of the previous update published (its `sequence`).
    pub prev_sequence: u64,
    pub changes: Vec<(Side, Price, Qty)>,
}

/// A liquidation order accepted by the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liquidation {
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
    pub time: Timestamp,
}

/// The native wire form of an event.
pub trait Native {
    fn native(&self) -> Wire;
}

impl Native for Event<BookUpdate> {
    fn native(&self) -> Wire {
        self.render(Form::Native, |spec, b| {
            publish::book_update(spec, b.sequence, b.prev_sequence, &b.changes)
        })
    }
}

impl Native for Event<TradeTick> {
    fn native(&self) -> Wire {
        self.render(Form::Native, publish::trade)
    }
}

impl Native for Event<Liquidation> {
    fn native(&self) -> Wire {
        self.render(Form::Native, |spec, l| {
            publish::liquidation(spec, l.side, l.price, l.qty, l.time.0)
        })
    }
}

impl Native for Event<Ticker> {
    fn native(&self) -> Wire {
        self.render(Form::Native, |_, t| {
            // expect: plain strings and integers always serialize.
            serde_json::to_string(t).expect("ticker serializes").into()
        })
    }
}

/// One market's public channels.
pub struct MarketFeed {
    pub symbol: String,
    pub spec: Arc<MarketSpec>,
    /// Each made on its first subscriber (`super::lazy_broadcast`).
    pub book: LazySender<Shared<BookUpdate>>,
    pub trades: LazySender<Shared<TradeTick>>,
    pub ticker: LazySender<Shared<Ticker>>,
    pub liquidations: LazySender<Shared<Liquidation>>,
}

/// One event on its way to a channel (what the release gate holds).
pub enum Published {
    Book(Shared<BookUpdate>),
    Trade(Shared<TradeTick>),
    Liquidation(Shared<Liquidation>),
    Ticker(Shared<Ticker>),
}

impl MarketFeed {
    pub fn new(spec: Arc<MarketSpec>, capacity: usize) -> MarketFeed {
        MarketFeed {
            symbol: spec.symbol.clone(),
            spec,
            book: LazySender::new(capacity),
            trades: LazySender::new(capacity),
            ticker: LazySender::new(capacity),
            liquidations: LazySender::new(capacity),
        }
    }

    /// Broadcast one event (no receivers is fine: nobody listens).
    pub fn send(&self, p: Published) {
        let _ = match p {
            Published::Book(e) => self.book.send(e),
            Published::Trade(e) => self.trades.send(e),
            Published::Liquidation(e) => self.liquidations.send(e),
            Published::Ticker(e) => self.ticker.send(e),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::market::tests::btc;
    use crate::domain::TradeId;

    #[test]
    fn a_form_is_rendered_once_and_shared() {
        let e = Event::new(
            Arc::new(btc()),
            TradeTick {
                trade_id: TradeId(7),
                price: Price(500_000),
                qty: Qty(20),
                taker_side: Side::Buy,
                time: Timestamp(1),
            },
        );
        let (a, b) = (e.native(), e.native());
        assert!(Arc::ptr_eq(&a, &b), "one rendering for every subscriber");
        let mut calls = 0;
        let x = e.render(Form::Binance, |_, _| {
            calls += 1;
            "x".into()
        });
        let y = e.render(Form::Binance, |_, _| unreachable!("cached"));
        assert_eq!((calls, &*x, &*y), (1, "x", "x"));
        assert!(a.contains("\"trade_id\":7"), "{a}");
    }
}
