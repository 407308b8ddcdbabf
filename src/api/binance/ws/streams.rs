//! Binance stream names: `<symbol>@<event>[@<speed>]` with the symbol in lower case, and
//! `!markPrice@arr[@1s]`.

use super::super::klines::INTERVALS;
use super::super::symbols::Symbols;
use crate::risk::MarketId;

/// Update speeds of the depth streams (Binance's default is 250 ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Speed {
    Ms100 = 0,
    Ms250 = 1,
    Ms500 = 2,
}

impl Speed {
    pub const ALL: [Speed; 3] = [Speed::Ms100, Speed::Ms250, Speed::Ms500];

    /// Ticks of the hub's [`super::depth::TICK`] (50 ms) between flushes.
    pub fn ticks(self) -> u64 {
        match self {
            Speed::Ms100 => 2,
            Speed::Ms250 => 5,
            Speed::Ms500 => 10,
        }
    }
}

/// Levels of the partial book streams.
pub const LEVELS: [usize; 3] = [5, 10, 20];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Diffs with `U`/`u`/`pu`.
    Depth(Speed),
    /// The top `LEVELS[i]` levels.
    Partial(usize, Speed),
    Trade,
    AggTrade,
    BookTicker,
    ForceOrder,
    Ticker,
    MiniTicker,
    /// Every 3 s, or every second (`@1s`).
    Mark {
        fast: bool,
    },
    /// Index into [`INTERVALS`].
    Kline(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Market(MarketId, Kind),
    MarkAll { fast: bool },
}

fn speed(rest: &[&str]) -> Option<Speed> {
    match rest {
        [] => Some(Speed::Ms250),
        ["100ms"] => Some(Speed::Ms100),
        ["250ms"] => Some(Speed::Ms250),
        ["500ms"] => Some(Speed::Ms500),
        _ => None,
    }
}

/// Parse a stream name; `None` if it names no stream of a listed market.
pub fn parse(name: &str, symbols: &Symbols) -> Option<Stream> {
    match name {
        "!markPrice@arr" => return Some(Stream::MarkAll { fast: false }),
        "!markPrice@arr@1s" => return Some(Stream::MarkAll { fast: true }),
        _ => {}
    }
    let mut parts = name.split('@');
    let symbol = parts.next()?.to_ascii_lowercase();
    let m = symbols.stream_market(&symbol)?;
    let event = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let kind = match (event, rest.as_slice()) {
        ("depth", r) => Kind::Depth(speed(r)?),
        ("depth5", r) => Kind::Partial(0, speed(r)?),
        ("depth10", r) => Kind::Partial(1, speed(r)?),
        ("depth20", r) => Kind::Partial(2, speed(r)?),
        ("trade", []) => Kind::Trade,
        ("aggTrade", []) => Kind::AggTrade,
        ("bookTicker", []) => Kind::BookTicker,
        ("forceOrder", []) => Kind::ForceOrder,
        ("ticker", []) => Kind::Ticker,
        ("miniTicker", []) => Kind::MiniTicker,
        ("markPrice", []) => Kind::Mark { fast: false },
        ("markPrice", ["1s"]) => Kind::Mark { fast: true },
        (k, []) if k.starts_with("kline_") => {
            let i = INTERVALS.iter().position(|iv| iv.name == &k[6..])?;
            Kind::Kline(i)
        }
        _ => return None,
    };
    Some(Stream::Market(m, kind))
}

/// Whether a path segment or parameter looks like a listen key (64 hex characters).
pub fn is_listen_key(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a path segment is meant as a stream (rather than a stream-index suffix such as
/// ccxt's `/public/ws/0`).
pub fn looks_like_stream(s: &str) -> bool {
    s.contains('@') || s.starts_with('!')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::market::tests::btc;

    #[test]
    fn names() {
        let s = Symbols::new(&[btc()]);
        let m = MarketId(0);
        let p = |n| parse(n, &s);
        assert_eq!(
            p("btcusdt@depth"),
            Some(Stream::Market(m, Kind::Depth(Speed::Ms250)))
        );
        assert_eq!(
            p("btcusdt@depth@100ms"),
            Some(Stream::Market(m, Kind::Depth(Speed::Ms100)))
        );
        assert_eq!(
            p("btcusdt@depth20@500ms"),
            Some(Stream::Market(m, Kind::Partial(2, Speed::Ms500)))
        );
        assert_eq!(
            p("BTCUSDT@aggTrade"),
            Some(Stream::Market(m, Kind::AggTrade))
        );
        assert_eq!(
            p("btcusdt@markPrice@1s"),
            Some(Stream::Market(m, Kind::Mark { fast: true }))
        );
        assert_eq!(
            p("btcusdt@kline_1M"),
            Some(Stream::Market(m, Kind::Kline(14)))
        );
        assert_eq!(p("!markPrice@arr"), Some(Stream::MarkAll { fast: false }));
        for bad in [
            "ethusdt@trade",
            "btcusdt@depth@1ms",
            "btcusdt@kline_2m",
            "btcusdt",
            "btcusdt@trade@x",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        assert!(is_listen_key(&"a".repeat(64)));
        assert!(!looks_like_stream("0"));
    }
}
