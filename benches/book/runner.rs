//! Timed passes of one implementation over one profile × size.
//!
//! A [`Case`] holds the implementation's translated pre-fill and stream. Each repetition runs
//! a throughput pass and a latency pass, each on a book freshly built and pre-filled
//! (untimed). Repetitions of all implementations are interleaved by the caller so that noise
//! from other processes on the machine hits them alike. The row reports the best throughput
//! (interference only ever slows a pass down), its range, and the median of each latency
//! percentile.
//!
//! Correctness rides along, outside the timed regions: after every op of the first latency
//! pass the running trade count and traded quantity are compared with the generator's shadow
//! perpx book (the first op where they differ is kept), and after every pass the book's own
//! invariant check runs if the implementation has one.

use std::hint::black_box;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::alloc;
use crate::engines::{Engine, Tally};
use crate::gen::Stream;
use crate::ops::{Profile, KIND_NAMES};
use crate::report::{Lat, Row};

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

pub fn lat(h: &Histogram<u64>) -> Lat {
    Lat {
        p50: h.value_at_quantile(0.50),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

/// The cost of the per-op timer itself: an empty op timed like the real ones.
pub fn timer_overhead(n: usize) -> Lat {
    let mut h = histogram();
    for _ in 0..n {
        let t0 = Instant::now();
        black_box(());
        h.saturating_record(t0.elapsed().as_nanos() as u64);
    }
    lat(&h)
}

/// One repetition's results.
struct Pass {
    secs: f64,
    lat: Lat,
    thr_tally: Tally,
    lat_tally: Tally,
}

pub trait Case {
    fn reps(&self) -> usize;
    fn pass(&mut self);
    fn row(&self) -> Row;
}

pub struct EngineCase<E: Engine> {
    profile: Profile,
    target: usize,
    n: usize,
    full: bool,
    shadow_trades: u64,
    shadow_qty: u64,
    shadow_resting: usize,
    /// The shadow's running (trades, traded qty) after each op: `expect[i]` after `ops[..=i]`.
    expect: Vec<(u64, u64)>,
    /// The first op (stream index) after which this implementation's running totals differed
    /// from the shadow's, in the first latency pass.
    diverged_at: Option<usize>,
    pre: Vec<E::Op>,
    ops: Vec<E::Op>,
    /// The stream kind of each op (for per-kind latency).
    kinds: Vec<u8>,
    reps: usize,
    /// A pristine pre-filled book (only for implementations that can `duplicate`) and the
    /// bytes per order measured when it was built; handed on to the next profile.
    pub cache: Option<(E, f64)>,
    mem: f64,
    /// The implementation's own heap estimate per resting order after pre-fill, if any.
    reported: Option<f64>,
    passes: Vec<Pass>,
    end: Option<(Option<usize>, u64)>,
}

impl<E: Engine> EngineCase<E> {
    /// Translate (untimed) the pre-fill and the first `n` ops of the stream.
    pub fn new(
        profile: Profile,
        prefill: &Stream,
        stream: &Stream,
        n: usize,
        reps: usize,
        cache: Option<(E, f64)>,
    ) -> Self {
        let n = n.min(stream.ops.len());
        let base = prefill.ops.len() as u64;
        let pre = (0u64..)
            .zip(&prefill.ops)
            .map(|(i, op)| E::translate(i, op))
            .collect();
        let ops = (base..)
            .zip(&stream.ops[..n])
            .map(|(i, op)| E::translate(i, op))
            .collect();
        let kinds = stream.ops[..n].iter().map(|op| op.kind() as u8).collect();
        EngineCase {
            profile,
            kinds,
            target: prefill.ops.len(),
            n,
            full: n == stream.ops.len(),
            shadow_trades: stream.trades_upto[n],
            shadow_qty: stream.qty_upto[n],
            shadow_resting: stream.resting_upto[n] as usize,
            expect: (1..=n)
                .map(|i| (stream.trades_upto[i], stream.qty_upto[i]))
                .collect(),
            diverged_at: None,
            pre,
            ops,
            reps,
            cache,
            mem: f64::NAN,
            reported: None,
            passes: Vec::new(),
            end: None,
        }
    }

    /// A book built and pre-filled (untimed). The first build is measured for memory.
    fn prefilled(&mut self) -> E {
        if let Some((base, mem)) = &self.cache {
            if let Some(copy) = base.duplicate() {
                self.mem = *mem;
                return copy;
            }
        }
        let pre = &self.pre;
        let target = self.target;
        let (e, bytes) = alloc::measure(|| {
            let mut e = E::new(target);
            for op in pre {
                black_box(e.exec(op));
            }
            e
        });
        let mem = (bytes - e.caller_bytes() as i64) as f64 / self.target as f64;
        if self.mem.is_nan() {
            self.mem = mem;
            self.reported = e.reported_bytes().map(|b| b as f64 / self.target as f64);
        }
        if let Some(copy) = e.duplicate() {
            self.cache = Some((copy, mem));
        }
        e
    }
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

impl<E: Engine> Case for EngineCase<E> {
    fn reps(&self) -> usize {
        self.reps
    }

    fn pass(&mut self) {
        println!(
            "  running {} @ {} {} pass {}{}",
            self.profile.name(),
            self.target,
            E::NAME,
            self.passes.len() + 1,
            if self.passes.is_empty() && self.cache.is_none() && E::NAME == "reference" {
                " (building the naive book is O(n²): ~40 s at 100,000 orders)"
            } else {
                ""
            }
        );
        let t = Instant::now();
        let mut e = self.prefilled();
        let pre_secs = t.elapsed().as_secs_f64();

        let mut thr_tally = Tally::default();
        let t0 = Instant::now();
        for op in &self.ops {
            thr_tally.add(e.exec(black_box(op)));
        }
        let secs = t0.elapsed().as_secs_f64();
        black_box(&thr_tally);
        e.check_invariants();
        drop(e);

        let mut e = self.prefilled();
        let t_lat = Instant::now();
        let mut h = histogram();
        let mut by_kind: Vec<Histogram<u64>> = KIND_NAMES.iter().map(|_| histogram()).collect();
        let mut lat_tally = Tally::default();
        let first = self.passes.is_empty();
        let mut diverged = None;
        for (i, (op, &k)) in self.ops.iter().zip(&self.kinds).enumerate() {
            let t0 = Instant::now();
            let o = e.exec(black_box(op));
            let ns = t0.elapsed().as_nanos() as u64;
            h.saturating_record(ns);
            by_kind[usize::from(k)].saturating_record(ns);
            lat_tally.add(o);
            if first && diverged.is_none() && (lat_tally.trades, lat_tally.qty) != self.expect[i] {
                diverged = Some(i);
            }
        }
        let lat_secs = t_lat.elapsed().as_secs_f64();
        e.check_invariants();
        if first {
            self.diverged_at = diverged;
        }
        if self.end.is_none() {
            self.end = Some((e.resting_orders(), e.resting_qty()));
        }
        let l = lat(&h);
        println!(
            "    {:<13} {:>7} {:<9} pass {}: {:>7.3} Mops/s, p50/p99/p99.9 {}/{}/{} ns, {} trades, \
             {} rejected (pre-fill {pre_secs:.2} s, passes {secs:.2} + {lat_secs:.2} s)",
            self.profile.name(),
            self.target,
            E::NAME,
            self.passes.len() + 1,
            self.n as f64 / secs / 1e6,
            l.p50,
            l.p99,
            l.p999,
            lat_tally.trades,
            lat_tally.rejected,
        );
        let kinds: Vec<String> = KIND_NAMES
            .iter()
            .zip(&by_kind)
            .filter(|(_, h)| !h.is_empty())
            .map(|(name, h)| {
                let l = lat(h);
                format!("{name} {}/{}/{}", l.p50, l.p99, l.p999)
            })
            .collect();
        println!(
            "      latency by op kind, p50/p99/p99.9 ns: {}",
            kinds.join(", ")
        );
        self.passes.push(Pass {
            secs,
            lat: l,
            thr_tally,
            lat_tally,
        });
    }

    fn row(&self) -> Row {
        let p = &self.passes;
        let tally = p[0].lat_tally;
        let (resting, resting_qty) = self.end.unwrap_or((None, 0));
        Row {
            profile: self.profile.name(),
            size: self.target,
            name: E::NAME,
            ops: self.n,
            full: self.full,
            reps: p.len(),
            throughput: self.n as f64 / p.iter().map(|x| x.secs).fold(f64::MAX, f64::min),
            throughput_min: self.n as f64 / p.iter().map(|x| x.secs).fold(0.0, f64::max),
            lat: Lat {
                p50: median(p.iter().map(|x| x.lat.p50).collect()),
                p99: median(p.iter().map(|x| x.lat.p99).collect()),
                p999: median(p.iter().map(|x| x.lat.p999).collect()),
                max: p.iter().map(|x| x.lat.max).max().unwrap_or(0),
            },
            bytes_per_order: self.mem,
            reported_bytes_per_order: self.reported,
            tally,
            passes_agree: p
                .iter()
                .all(|x| x.thr_tally == tally && x.lat_tally == tally),
            shadow_trades: self.shadow_trades,
            shadow_qty: self.shadow_qty,
            shadow_resting: self.shadow_resting,
            diverged_at: self.diverged_at,
            resting,
            resting_qty,
        }
    }
}
