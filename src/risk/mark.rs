//! Index and mark price (docs/RULES.md §4), as small structs fed with samples by the caller.
//!
//! # Invariants
//! - No clock: every sample and query takes `now`.
//! - The oracle index is stale when its last update is older than `index_stale_after`; the
//!   reading carries a `stale` flag and the caller answers `INDEX_STALE` / pauses funding and
//!   liquidations. A `book_ema` or `demo` index is never stale.
//! - A `demo` index is a pure function of `now` and its centre: `centre × (1 + w(now))` with
//!   `|w| ≤` [`DEMO_AMPLITUDE_PPM`] ppm, rounded to the tick. It needs no state to resume after a
//!   restart and never needs feeding; an operator push moves the centre so the reading equals
//!   the pushed price at that instant (to a tick) and the walk goes on from there.
//! - Mark = median of the components that exist (index × (1 + funding × τ/interval),
//!   index + 30-sample moving average of (mid − index), last trade); with two, their mean; with
//!   only the index, the index. Prices are rounded half-even to `scale` decimals (not money).

use std::collections::VecDeque;
use std::time::Duration;

use rust_decimal::Decimal;

use super::money;
use crate::domain::{IndexSource, MarketSpec, Timestamp};

/// Samples in the basis moving average (docs/RULES.md §4).
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
    /// A bounded deterministic walk around `centre` (see [`demo_offset_ppm`]).
    Demo {
        /// `initial_index_price`, moved by operator pushes.
        centre: Decimal,
        /// Per-market seed (from the symbol), so markets do not move in lockstep.
        seed: u64,
        tick: Decimal,
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
            IndexSource::Demo => Index::Demo {
                centre: spec.initial_index_price,
                seed: demo_seed(&spec.symbol),
                tick: spec.tick_size,
            },
        }
    }

    /// An operator push (oracle and demo; ignored for `book_ema`). Returns whether it applied.
    /// On a demo index it re-centres the walk so the reading at `now` is `new_price`.
    pub fn push_oracle(&mut self, new_price: Decimal, now: Timestamp) -> bool {
        match self {
            Index::Oracle { price, updated, .. } => {
                *price = new_price;
                *updated = now;
                true
            }
            Index::Demo { centre, seed, .. } => {
                *centre = demo_centre_for(new_price, *seed, now);
                true
            }
            Index::BookEma { .. } => false,
        }
    }

    /// Resume at `price` (the last recovered mark): the oracle and EMA value become `price`,
    /// a demo walk is re-centred so that it reads `price` at `now`.
    pub fn resume_at(&mut self, price: Decimal, now: Timestamp) {
        match self {
            Index::Oracle { price: p, .. } => *p = price,
            Index::BookEma { value, .. } => *value = price,
            Index::Demo { centre, seed, .. } => *centre = demo_centre_for(price, *seed, now),
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
            Index::Demo { centre, seed, tick } => IndexReading {
                price: demo_price(centre, seed, tick, now),
                stale: false,
            },
        }
    }
}

/// Largest distance of a demo index from its centre: 2 % (parts per million).
pub const DEMO_AMPLITUDE_PPM: i64 = 20_000;

/// The demo walk's layers: (knot spacing in ms, amplitude in ppm). Their amplitudes add up to
/// [`DEMO_AMPLITUDE_PPM`]: a slow 15-minute swing, a 2-minute trend, 20-second moves and a
/// 4-second jitter (at most 0.122 % in one second, enough to see a chart and a book move).
const DEMO_LAYERS: [(u64, i64); 4] = [
    (900_000, 9_000),
    (120_000, 6_000),
    (20_000, 3_500),
    (4_000, 1_500),
];

/// The demo walk's offset from its centre at `now`, in ppm: for each layer, a pseudo-random
/// value in `[-amp, amp]` at every knot (a hash of seed, layer and knot number), linearly
/// interpolated between knots. Integer arithmetic only, so every replica agrees exactly;
/// `|result| ≤ DEMO_AMPLITUDE_PPM`.
pub fn demo_offset_ppm(seed: u64, now: Timestamp) -> i64 {
    let t = now.0;
    DEMO_LAYERS
        .iter()
        .enumerate()
        .map(|(layer, &(spacing, amp))| {
            let knot = t / spacing;
            let at = |k: u64| {
                let h = splitmix64(seed ^ (layer as u64).wrapping_mul(0x9E37_79B9) ^ splitmix64(k));
                // Uniform in [-amp, amp].
                (h % (2 * amp as u64 + 1)) as i64 - amp
            };
            let (a, b) = (at(knot) as i128, at(knot + 1) as i128);
            let frac = (t % spacing) as i128;
            (a + (b - a) * frac / spacing as i128) as i64
        })
        .sum()
}

/// `centre × (1 + offset)`, rounded half-even to the tick (never below one tick).
fn demo_price(centre: Decimal, seed: u64, tick: Decimal, now: Timestamp) -> Decimal {
    let factor = Decimal::ONE + Decimal::new(demo_offset_ppm(seed, now), 6);
    let ticks = (centre * factor / tick).round();
    (ticks * tick).max(tick).normalize()
}

/// The centre whose walk reads `price` at `now`.
fn demo_centre_for(price: Decimal, seed: u64, now: Timestamp) -> Decimal {
    let factor = Decimal::ONE + Decimal::new(demo_offset_ppm(seed, now), 6);
    (price / factor).round_dp(12)
}

/// A stable seed from the market's symbol (FNV-1a).
fn demo_seed(symbol: &str) -> u64 {
    symbol.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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

/// Mark price (docs/RULES.md §4), rounded half-even to `scale` decimals.
pub fn mark_price(inp: &MarkInputs, scale: u32) -> Decimal {
    let tau = Decimal::from(inp.ms_to_funding) / Decimal::from(inp.interval_ms.max(1));
    let p1 = inp.index * (Decimal::ONE + inp.predicted_funding * tau);
    let p2 = inp.basis.map(|b| inp.index + b);
    let m = match (p2, inp.last) {
        (Some(p2), Some(last)) => median3(p1, p2, last),
        (Some(x), None) | (None, Some(x)) => (p1 + x) / Decimal::TWO,
        // Only the index: mark = index (docs/RULES.md §4).
        (None, None) => inp.index,
    };
    money::display(m, scale)
}

/// The median of three values.
pub fn median3(a: Decimal, b: Decimal, c: Decimal) -> Decimal {
    a.max(b).min(a.min(b).max(c))
}
