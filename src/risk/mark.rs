//! Index and mark price (RULES.md §4), as small structs fed with samples by the caller.
//!
//! # Invariants
//! - No clock: every sample and query takes `now`.
//! - The oracle index is stale when its last update is older than `index_stale_after`; the
//!   reading carries a `stale` flag and the caller answers `INDEX_STALE` / pauses funding and
//!   liquidations. A `book_ema` index is never stale.
//! - Mark = median of the components that exist (index × (1 + funding × τ/interval),
//!   index + 30-sample moving average of (mid − index), last trade); with two, their mean; with
//!   only the index, the index. Prices are rounded half-even to `scale` decimals (not money).

use std::collections::VecDeque;
use std::time::Duration;

use rust_decimal::Decimal;

use super::money;
use crate::domain::{IndexSource, MarketSpec, Timestamp};

/// Samples in the basis moving average (RULES.md §4).
pub const BASIS_SAMPLES: usize = 30;
/// Default EMA span of a `book_ema` index, in samples (10 minutes of 1 s samples).
pub const EMA_SPAN: u32 = 600;

/// An index reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexReading {
    pub price: Decimal,
    /// The caller must treat the market as `INDEX_STALE`.
    pub stale: bool,
}

/// The index of one market, from its configured source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Index {
    Oracle {
        price: Decimal,
        updated: Timestamp,
        stale_after_ms: u64,
    },
    BookEma {
        value: Decimal,
        /// EMA weight of a new sample: `2 / (span + 1)`.
        alpha: Decimal,
        max_spread: Decimal,
    },
}

impl Index {
    /// The index of `spec`, seeded with `initial_index_price` at `now`.
    pub fn new(spec: &MarketSpec, now: Timestamp) -> Index {
        match spec.index_source {
            IndexSource::Oracle => Index::Oracle {
                price: spec.initial_index_price,
                updated: now,
                stale_after_ms: duration_ms(spec.index_stale_after),
            },
            IndexSource::BookEma => Index::BookEma {
                value: spec.initial_index_price,
                alpha: Decimal::TWO / Decimal::from(EMA_SPAN + 1),
                max_spread: spec.max_spread,
            },
        }
    }

    /// An operator push (oracle only; ignored for `book_ema`). Returns whether it applied.
    pub fn push_oracle(&mut self, new_price: Decimal, now: Timestamp) -> bool {
        match self {
            Index::Oracle { price, updated, .. } => {
                *price = new_price;
                *updated = now;
                true
            }
            Index::BookEma { .. } => false,
        }
    }

    /// Resume at `price` (the last recovered mark): the oracle and EMA value become `price`.
    pub fn resume_at(&mut self, price: Decimal, _now: Timestamp) {
        match self {
            Index::Oracle { price: p, .. } => *p = price,
            Index::BookEma { value, .. } => *value = price,
        }
    }

    /// One book sample (`book_ema` only): folds the mid into the EMA while the spread is below
    /// `max_spread`, else takes no sample. Returns whether a sample was taken.
    pub fn sample_book(
        &mut self,
        best_bid: Option<Decimal>,
        best_ask: Option<Decimal>,
        scale: u32,
    ) -> bool {
        let Index::BookEma {
            value,
            alpha,
            max_spread,
        } = self
        else {
            return false;
        };
        let (Some(bid), Some(ask)) = (best_bid, best_ask) else {
            return false;
        };
        let mid = (bid + ask) / Decimal::TWO;
        if mid <= Decimal::ZERO || (ask - bid) / mid >= *max_spread {
            return false;
        }
        *value = money::display(*value + *alpha * (mid - *value), scale);
        true
    }

    /// The current reading at `now`.
    pub fn reading(&self, now: Timestamp) -> IndexReading {
        match *self {
            Index::Oracle {
                price,
                updated,
                stale_after_ms,
            } => IndexReading {
                price,
                stale: now.saturating_sub(updated) > stale_after_ms,
            },
            Index::BookEma { value, .. } => IndexReading {
                price: value,
                stale: false,
            },
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The moving average of the basis `(mid − index)` over the last [`BASIS_SAMPLES`] samples.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasisAverage {
    samples: VecDeque<Decimal>,
    sum: Decimal,
}

impl BasisAverage {
    /// Record `mid − index` (skip the call when a book side is empty).
    pub fn sample(&mut self, mid: Decimal, index: Decimal) {
        let b = mid - index;
        self.samples.push_back(b);
        self.sum += b;
        if self.samples.len() > BASIS_SAMPLES {
            let old = self
                .samples
                .pop_front()
                .expect("length above the window is at least one");
            self.sum -= old;
        }
    }

    /// The average, if any sample exists.
    pub fn average(&self) -> Option<Decimal> {
        (!self.samples.is_empty()).then(|| self.sum / Decimal::from(self.samples.len()))
    }
}

/// Inputs of one mark computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkInputs {
    pub index: Decimal,
    /// The predicted funding rate of the current interval.
    pub predicted_funding: Decimal,
    /// Milliseconds until the next funding time.
    pub ms_to_funding: u64,
    /// The funding interval in milliseconds (> 0).
    pub interval_ms: u64,
    /// The basis moving average, if sampled.
    pub basis: Option<Decimal>,
    /// The last trade price, if any.
    pub last: Option<Decimal>,
}

/// Mark price (RULES.md §4), rounded half-even to `scale` decimals.
pub fn mark_price(inp: &MarkInputs, scale: u32) -> Decimal {
    let tau = Decimal::from(inp.ms_to_funding) / Decimal::from(inp.interval_ms.max(1));
    let p1 = inp.index * (Decimal::ONE + inp.predicted_funding * tau);
    let p2 = inp.basis.map(|b| inp.index + b);
    let m = match (p2, inp.last) {
        (Some(p2), Some(last)) => median3(p1, p2, last),
        (Some(x), None) | (None, Some(x)) => (p1 + x) / Decimal::TWO,
        // Only the index: mark = index (RULES.md §4).
        (None, None) => inp.index,
    };
    money::display(m, scale)
}

/// The median of three values.
pub fn median3(a: Decimal, b: Decimal, c: Decimal) -> Decimal {
    a.max(b).min(a.min(b).max(c))
}
