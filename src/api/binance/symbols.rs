//! Binance symbol names (`binance_symbol` of each market, `BTCUSDT`) to markets.
//!
//! # Invariants
//! - One name per market and one market per name (the config validates uniqueness).
//! - Lookups are exact on the configured upper-case name; stream names use its lower case.

use rustc_hash::FxHashMap;

use super::errors::{BnError, BnResult};
use super::params::Params;
use crate::api::State;
use crate::domain::MarketSpec;
use crate::risk::MarketId;

pub struct Symbols {
    by_name: FxHashMap<String, MarketId>,
    by_stream_name: FxHashMap<String, MarketId>,
}

impl Symbols {
    pub fn new(specs: &[MarketSpec]) -> Symbols {
        let ids = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.binance_symbol.clone(), MarketId(i as u16)));
        let by_name: FxHashMap<_, _> = ids.collect();
        let by_stream_name = by_name
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        Symbols {
            by_name,
            by_stream_name,
        }
    }

    /// The market named `symbol` (-1121 otherwise).
    pub fn market(&self, symbol: &str) -> BnResult<MarketId> {
        self.by_name
            .get(symbol)
            .copied()
            .ok_or_else(BnError::bad_symbol)
    }

    /// The market of a lower-case stream name prefix (`btcusdt`).
    pub fn stream_market(&self, lower: &str) -> Option<MarketId> {
        self.by_stream_name.get(lower).copied()
    }
}

/// The mandatory `symbol` parameter's market.
pub fn required(st: &State, p: &mut Params) -> BnResult<MarketId> {
    let s = p.req("symbol")?;
    st.binance.symbols(st).market(&s)
}

/// The optional `symbol` parameter's market.
pub fn optional(st: &State, p: &mut Params) -> BnResult<Option<MarketId>> {
    p.opt("symbol")
        .map(|s| st.binance.symbols(st).market(&s))
        .transpose()
}

/// Every market, or just the one named.
pub fn selected(st: &State, p: &mut Params) -> BnResult<Vec<MarketId>> {
    Ok(one_or_all(st, p)?.1)
}

/// Whether a `symbol` was named, and the markets meant (that one, or all).
pub fn one_or_all(st: &State, p: &mut Params) -> BnResult<(bool, Vec<MarketId>)> {
    Ok(match optional(st, p)? {
        Some(m) => (true, vec![m]),
        None => (
            false,
            (0..st.ex.specs.len()).map(|i| MarketId(i as u16)).collect(),
        ),
    })
}
