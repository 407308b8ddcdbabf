//! One client thread's share of the load, on its own single-threaded runtime and connections.
//!
//! # Invariants
//! - Open loop (`--rate`, `--demo`): request i has the planned send time `t0 + i/rate`, and
//!   its latency counts from that plan, so queueing anywhere is not hidden; past
//!   `--max-in-flight` a planned request is counted as saturated instead of sent.
//! - Closed loop (`--max`): each of `--connections` requesters sends its next request when
//!   the last one returns; latency counts from the send.
//! - A worker's counters live on its thread ([`Rc`], [`RefCell`]); only [`Progress`] is
//!   shared with the other threads and the progress bar.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Account, Api};
use crate::report::{Progress, Stats};
use crate::traders::{Kind, Market, Rng, Traders};
use crate::Args;

/// What a worker's request tasks share.
struct Ctx {
    traders: Traders,
    stats: RefCell<Stats>,
    progress: Arc<Progress>,
}

impl Ctx {
    /// Count a request as sent (before it is, so the progress bar shows the offered load).
    fn sent(&self) {
        self.stats.borrow_mut().sent += 1;
        self.progress.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Count an answer: its latency, its outcome, and an accepted order.
    fn record(&self, kind: Kind, code: String, status: u16, us: u64) {
        let mut s = self.stats.borrow_mut();
        let _ = s.latency_us.record(us.max(1));
        *s.codes.entry(code).or_default() += 1;
        let ok = status < 300;
        if ok && matches!(kind, Kind::Place) {
            s.orders_ok += 1;
        }
        let c = if ok {
            &self.progress.ok
        } else {
            &self.progress.errors
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// One thread's share of the load.
#[allow(clippy::too_many_arguments)]
pub fn worker(
    args: Args,
    token: String,
    markets: Vec<Market>,
    makers: Vec<Account>,
    takers: Vec<Account>,
    seed: u64,
    until: Instant,
    progress: Arc<Progress>,
) -> Stats {
    actix_web::rt::System::new().block_on(async move {
        let api = Api::new(&args.url, &token, args.connections);
        let ctx = Rc::new(Ctx {
            traders: Traders::new(api, markets, makers, takers, args.skew),
            stats: RefCell::new(Stats::default()),
            progress,
        });
        let rate = args
            .rate
            .map(|r| (r / args.threads as u64).max(1))
            .or(args.demo.then_some(20));
        match rate {
            Some(rate) => open_loop(&ctx, rate, seed, until, args.max_in_flight).await,
            None => closed_loop(&ctx, args.connections, seed, until).await,
        }
        let taken = std::mem::take(&mut *ctx.stats.borrow_mut());
        taken
    })
}

/// Open loop: planned send times; latency from the plan.
async fn open_loop(ctx: &Rc<Ctx>, rate: u64, seed: u64, until: Instant, max_in_flight: usize) {
    let in_flight = Rc::new(Cell::new(0usize));
    let t0 = Instant::now();
    let mut rng = Rng(seed);
    let mut i = 0u64;
    let mut tasks = Vec::new();
    loop {
        let planned = t0 + Duration::from_nanos(i * 1_000_000_000 / rate);
        if planned >= until {
            break;
        }
        if planned > Instant::now() {
            actix_web::rt::time::sleep_until(planned.into()).await;
        }
        i += 1;
        ctx.sent();
        if in_flight.get() >= max_in_flight {
            ctx.stats.borrow_mut().saturated += 1;
            continue;
        }
        in_flight.set(in_flight.get() + 1);
        let (ctx, fl) = (ctx.clone(), in_flight.clone());
        let mut r = Rng(rng.next() | 1);
        tasks.push(actix_web::rt::spawn(async move {
            let (kind, a) = ctx.traders.step(&mut r).await;
            let us = planned.elapsed().as_micros() as u64;
            ctx.record(kind, a.code(), a.status, us);
            fl.set(fl.get() - 1);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Closed loop: each requester sends its next request when the last one returns.
async fn closed_loop(ctx: &Rc<Ctx>, connections: usize, seed: u64, until: Instant) {
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let ctx = ctx.clone();
            actix_web::rt::spawn(async move {
                let mut r = Rng(seed ^ (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                while Instant::now() < until {
                    ctx.sent();
                    let start = Instant::now();
                    let (kind, a) = ctx.traders.step(&mut r).await;
                    ctx.record(kind, a.code(), a.status, start.elapsed().as_micros() as u64);
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}
