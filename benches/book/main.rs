//! Order-book benchmark: perpx's `book::Book` against three speed baselines on one
//! deterministic order stream: the naive but decent book everyone writes first
//! (`BTreeMap<price, VecDeque<order>>` per side + a hash index, `naive_book.rs`) and two
//! peer crates (matchcore 0.4, lobster 0.7). The O(n) reference book of the model tests runs
//! a prefix of the same stream as a correctness oracle only.
//!
//! Run: `cargo bench --bench book` (full, a few minutes at most) or
//! `cargo bench --bench book -- --quick` / `BOOK_BENCH_QUICK=1` (smoke run, seconds).
//!
//! # The stream
//! Two profiles, each at 1,000 and 100,000 resting orders over a band of about 1,000 price
//! levels (passive prices `mid ∓ (1 + min(U, U))`, U uniform in [0, 500): denser near the top;
//! the mid random-walks one tick every ~64 ops; at 1,000 orders only ~400-600 levels are
//! occupied at a time), sizes `1 + r6·r6·r6` (r6 uniform in 0..6: 1..=126 lots, skewed small):
//! - `mix`: 50 % GTC limit (10 % of them priced `mid ± U[0,8)` to cross), 20 % market,
//!   30 % cancel;
//! - `exchange-core`: 9 % GTC, 3 % IOC (priced to cross), 6 % cancel, 82 % amend-price
//!   (moves the order `ceil(distance / 8)` ticks toward the last trade price).
//!
//! Whenever the book is below its target size the next op is a GTC instead (the share of such
//! forced ops, the realized mix and the share of each kind that traded are printed). Cancels
//! and amends always name an order resting at that point: the generator runs every op through
//! a shadow perpx book. The whole stream is generated up front, then translated into each
//! implementation's own command type, both untimed. Ids are the ops' global sequence numbers
//! (which is how matchcore numbers orders); STP is off (no peer has it), accounts are random.
//!
//! # What is measured
//! For each profile × size × implementation, repeated 5 times (once for the O(n) reference;
//! repetitions of all implementations interleaved), each pass on a book freshly built and
//! pre-filled (untimed) to the target size with the same passive GTC orders:
//! - **throughput**: a timed pass over the stream, no per-op timers (ops / wall time); the
//!   best repetition is reported (interference from other processes only slows a pass), the
//!   worst beside it;
//! - **latency**: a second pass on a fresh pre-filled book, each op timed with
//!   `std::time::Instant` (p50 / p99 / p99.9: medians over the repetitions; max: over all).
//!   The timer's own cost (an empty op timed the same way) is printed; nothing is subtracted;
//! - **memory**: live heap bytes (allocated − freed, from a counting `#[global_allocator]`)
//!   across building the book and pre-filling it, divided by the resting orders. This includes
//!   the book's construction and capacity slack (vector doubling, hash-table load factor) and
//!   excludes the caller-owned events buffer. perpx's own `Book::heap_bytes()` estimate is
//!   shown beside it ("self-reported");
//! - ratios perpx ÷ peer for the three baselines (naive, matchcore, lobster), and PASS/MISS
//!   against the targets.
//!
//! Progress lines also give latency per op kind (gtc, ioc, market, cancel, amend). Note that
//! per-op timing reads the clock twice per op, which also stops the CPU from overlapping one
//! op's cache misses with the next op's work: at 100,000 resting orders (miss-bound) the
//! latency pass's median can exceed the mean implied by the throughput pass.
//!
//! Inside the timed region: the call into the book and the reduction of its result to
//! (trades, traded qty, rejected) — for perpx: clearing the reused events `Vec` and scanning
//! it; for the peers: inspecting and dropping their returned outcome (their `Vec`s of fills
//! are allocated per call by their APIs). Outside: generation, translation, pre-fill, book
//! construction and drop, histogram recording.
//!
//! The O(n) reference is O(resting orders) per op, so it runs a prefix of the stream (the op
//! count is printed) and its 100,000-order book is pre-filled once per size and cloned; it
//! is in no table, its agreement is one line of the summary.
//!
//! # Correctness
//! perpx, the naive book and the reference implement the same rules, so each must make the
//! same trades, trade the same quantity and leave the same resting orders as the generator's
//! shadow perpx book, checked after every op of the first latency pass (outside the timed
//! region); perpx's and the naive book's invariant checks run after every pass. Any
//! disagreement is printed as a BUG and the benchmark exits with status 1. lobster (same
//! price-time rules, amend = cancel + new) is checked too; matchcore is not expected to agree
//! (see its note).
//!
//! The machine is shared: numbers are wall-clock and noisy; compare ratios from one run.

mod alloc;
mod checks;
mod engines;
mod gen;
mod naive;
mod naive_book;
mod ops;
mod peers;
#[path = "../../tests/common/reference_book.rs"]
mod reference_book;
mod report;
mod runner;

use std::time::Instant;

use engines::{Engine, PerpxBook, Reference};
use gen::Gen;
use naive::Naive;
use ops::Profile;
use peers::{Lobster, Matchcore};
use runner::{Case, EngineCase};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const SIZES: [usize; 2] = [1_000, 100_000];

/// Run sizes: ops in the timed stream per profile × size, the reference's prefix, repetitions;
/// plus optional filters (`--impl NAME[,NAME…]`, `--profile NAME`, `--size N`) for profiling.
struct Plan {
    quick: bool,
    ops: usize,
    /// Reference ops at (1,000, 100,000) resting orders; 0 skips it.
    ref_ops: [usize; 2],
    reps: usize,
    only_impl: Option<String>,
    only_profile: Option<String>,
    only_size: Option<usize>,
}

impl Plan {
    fn wants(&self, name: &str) -> bool {
        self.only_impl
            .as_deref()
            .is_none_or(|list| list.split(',').any(|n| n == name))
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn plan() -> Plan {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var("BOOK_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let (ops, ref_ops, reps) = if quick {
        // Pre-filling the naive book to 100,000 orders is O(n²) (~40 s): skipped when quick.
        (100_000, [20_000, 0], 1)
    } else {
        (1_000_000, [200_000, 2_000], 5)
    };
    Plan {
        quick,
        ops: arg("--ops").and_then(|v| v.parse().ok()).unwrap_or(ops),
        ref_ops,
        reps: arg("--reps").and_then(|v| v.parse().ok()).unwrap_or(reps),
        only_impl: arg("--impl"),
        only_profile: arg("--profile"),
        only_size: arg("--size").and_then(|v| v.parse().ok()),
    }
}

fn main() {
    let plan = plan();
    let started = Instant::now();
    println!(
        "book bench ({}): {} timed ops per profile × size, {} repetition(s); reference: {} ops \
         at 1,000 and {} at 100,000 resting orders (O(n) per op; 0 = skipped), 1 repetition",
        if plan.quick { "quick" } else { "full" },
        plan.ops,
        plan.reps,
        plan.ref_ops[0],
        plan.ref_ops[1]
    );
    let timer = runner::timer_overhead(if plan.quick { 100_000 } else { 1_000_000 });
    println!(
        "timer overhead (empty op timed with Instant, not subtracted): p50 {} ns, p99 {} ns, \
         p99.9 {} ns",
        timer.p50, timer.p99, timer.p999
    );

    let mut rows = Vec::new();
    let mut gens = Vec::new();
    for (si, &size) in SIZES.iter().enumerate() {
        if plan.only_size.is_some_and(|s| s != size) {
            continue;
        }
        let t = Instant::now();
        let (shadow, prefill) = Gen::prefill(size);
        println!(
            "pre-fill {size}: {} GTC orders over {} price levels ({:.2} s to generate)",
            prefill.ops.len(),
            prefill.stats.levels_prefill,
            t.elapsed().as_secs_f64()
        );
        // The reference's pre-filled book is built once per size and cloned (O(n²) to build).
        let mut ref_cache: Option<(Reference, f64)> = None;
        for profile in [Profile::Mix, Profile::ExchangeCore] {
            if plan
                .only_profile
                .as_deref()
                .is_some_and(|p| p != profile.name())
            {
                continue;
            }
            let t = Instant::now();
            let seed = 0xB00C ^ ((size as u64) << 8) ^ (profile as u64);
            let stream = shadow.fork().stream(profile, plan.ops, seed);
            let st = &stream.stats;
            println!(
                "stream {} @ {size}: {} ops generated in {:.2} s; {}",
                profile.name(),
                stream.ops.len(),
                t.elapsed().as_secs_f64(),
                st.mix_line()
            );
            println!(
                "  resting orders min/max/end {}/{}/{}; live levels {} → {}; best bid/ask at \
                 end {:?}/{:?}, mid {} (start {})",
                st.len_min,
                st.len_max,
                st.len_end,
                st.levels_prefill,
                st.levels_end,
                st.spread_end.0,
                st.spread_end.1,
                st.mid_end,
                gen::MID0
            );
            let (n, reps) = (plan.ops, plan.reps);
            let mut perpx = plan
                .wants(PerpxBook::NAME)
                .then(|| EngineCase::<PerpxBook>::new(profile, &prefill, &stream, n, reps, None));
            let mut naive = plan
                .wants(Naive::NAME)
                .then(|| EngineCase::<Naive>::new(profile, &prefill, &stream, n, reps, None));
            let ref_n = plan.ref_ops[si];
            if ref_n == 0 {
                println!("  skipping reference at {size} resting orders (--quick)");
            }
            let mut reference = (ref_n > 0 && plan.wants(Reference::NAME)).then(|| {
                let cache = ref_cache.take();
                EngineCase::<Reference>::new(profile, &prefill, &stream, ref_n, 1, cache)
            });
            let mut mc = plan
                .wants(Matchcore::NAME)
                .then(|| EngineCase::<Matchcore>::new(profile, &prefill, &stream, n, reps, None));
            let mut lob = plan
                .wants(Lobster::NAME)
                .then(|| EngineCase::<Lobster>::new(profile, &prefill, &stream, n, reps, None));
            {
                let mut cases: Vec<&mut dyn Case> = Vec::new();
                if let Some(c) = perpx.as_mut() {
                    cases.push(c);
                }
                if let Some(c) = naive.as_mut() {
                    cases.push(c);
                }
                if let Some(c) = reference.as_mut() {
                    cases.push(c);
                }
                if let Some(c) = mc.as_mut() {
                    cases.push(c);
                }
                if let Some(c) = lob.as_mut() {
                    cases.push(c);
                }
                for rep in 0..plan.reps.max(1) {
                    for c in cases.iter_mut().filter(|c| rep < c.reps()) {
                        c.pass();
                    }
                }
                rows.extend(cases.iter().map(|c| c.row()));
            }
            ref_cache = reference.and_then(|c| c.cache);
            gens.push((profile.name(), size, stream.stats.mix_line()));
        }
    }

    let notes = [
        (PerpxBook::NAME, PerpxBook::NOTE),
        (Naive::NAME, Naive::NOTE),
        (Matchcore::NAME, Matchcore::NOTE),
        (Lobster::NAME, Lobster::NOTE),
        (Reference::NAME, Reference::NOTE),
    ];
    let text = report::render(&rows, &timer, &notes, &gens, plan.quick);
    println!("\n{text}");
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    let failures = checks::failures(&rows);
    for f in &failures {
        eprintln!("BUG: {f}");
    }
    if plan.only_impl.is_some() || plan.only_profile.is_some() || plan.only_size.is_some() {
        println!("filtered run: target/book-bench.md left as it was");
    } else {
        write_markdown(&report::markdown(&rows, &timer, &notes, &gens, plan.quick));
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

/// The Markdown summary, beside the build output (for the README).
fn write_markdown(text: &str) {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_string());
    let path = format!("{dir}/book-bench.md");
    match std::fs::write(&path, text) {
        Ok(()) => println!("markdown table written to {path}"),
        Err(e) => println!("could not write {path}: {e}"),
    }
}
