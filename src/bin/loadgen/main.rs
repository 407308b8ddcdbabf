//! `loadgen`: simulated traders against a running perpx, over the public API only.
//!
//! Market makers quote and re-price around a moving index (pushed through the admin route),
//! takers send market and crossing IOC orders, makers cancel; accounts are created and funded
//! through the admin routes; WebSocket subscribers follow one market's `book` and `trades`, on
//! the same server or spread over others (`--ws-url`, e.g. replication gateways).
//!
//! - `--rate N`: open loop. Request i has the planned send time `t0 + i/N`; its latency is
//!   measured from that time, so queueing (in the server or in this client) is not hidden.
//! - `--max`: closed loop with `--connections C` concurrent requesters.
//! - `--demo`: gentle continuous activity so a fresh server shows live markets (Ctrl-C stops).
//!
//! A progress bar runs meanwhile; a summary table follows (`--json FILE` writes it for scripts).
//! Requests and durations are bounded; only 127.0.0.1-style targets make sense here.

mod client;
mod report;
mod traders;
mod ws;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::http::Method;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;

use client::{Account, Api};
use report::{Progress, Stats};
use traders::{Kind, Market, Rng, Traders};

#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen", about = "Load generator for a running perpx server")]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Admin token (default: $PERPX_ADMIN_TOKEN, else <data-dir>/admin.token).
    #[arg(long)]
    admin_token: Option<String>,
    /// Where the server keeps admin.token when no token is given.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Open loop at N requests per second.
    #[arg(long, conflicts_with_all = ["max", "demo"])]
    rate: Option<u64>,
    /// Closed loop: as fast as `--connections` requesters allow.
    #[arg(long)]
    max: bool,
    /// Gentle continuous activity until stopped.
    #[arg(long, conflicts_with = "max")]
    demo: bool,
    /// Seconds to run (0 with --demo: until Ctrl-C).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Concurrent requesters (closed loop) and HTTP connections per thread.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Client threads (each with its own runtime and connections).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Markets to trade (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    markets: Vec<String>,
    #[arg(long, default_value_t = 20)]
    makers: usize,
    #[arg(long, default_value_t = 20)]
    takers: usize,
    /// WebSocket subscribers on the first market's book and trades.
    #[arg(long, default_value_t = 0)]
    ws: usize,
    /// Servers the WebSocket subscribers connect to (base URLs, comma-separated; subscribers
    /// spread evenly over them). Default: `--url`.
    #[arg(long, value_delimiter = ',', value_name = "URL[,URL...]")]
    ws_url: Vec<String>,
    /// Open loop: requests in flight per thread before new ones are counted as not sent.
    #[arg(long, default_value_t = 20_000)]
    max_in_flight: usize,
    /// Move the index (oracle markets) every second.
    #[arg(long, default_value_t = true)]
    move_index: bool,
    /// Write the summary as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Exit non-zero if any request failed (for CI smoke runs).
    #[arg(long)]
    fail_on_error: bool,
}

fn admin_token(a: &Args) -> Result<String, String> {
    if let Some(t) = a
        .admin_token
        .clone()
        .or_else(|| std::env::var("PERPX_ADMIN_TOKEN").ok())
    {
        return Ok(t);
    }
    let p = a.data_dir.join("admin.token");
    std::fs::read_to_string(&p)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("no admin token: pass --admin-token, set PERPX_ADMIN_TOKEN, or point --data-dir at the server's data ({}: {e})", p.display()))
}

/// Markets as the server describes them, with the current mark as the starting mid.
async fn markets(api: &Api, wanted: &[String]) -> Result<Vec<Market>, String> {
    let r = api.get("/api/v1/markets").await;
    let list = r
        .body
        .as_array()
        .ok_or_else(|| format!("GET /api/v1/markets: HTTP {} {}", r.status, r.body))?;
    let mut out = Vec::new();
    for m in list {
        let symbol = m["symbol"].as_str().unwrap_or("").to_owned();
        if !wanted.is_empty() && !wanted.contains(&symbol) {
            continue;
        }
        let dec = |k: &str| {
            m[k].as_str()
                .and_then(|s| s.parse::<Decimal>().ok())
                .ok_or_else(|| format!("{symbol}: bad {k}"))
        };
        let (tick, lot) = (dec("tick_size")?, dec("lot_size")?);
        let live = api.get(&format!("/api/v1/markets/{symbol}")).await;
        let mark: Decimal = live.body["mark_price"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or("no mark price")?;
        let mid = (mark / tick).round().try_into().unwrap_or(1i64);
        let min_notional = dec("min_notional")?;
        let min_lots: i64 = (min_notional * Decimal::TWO / (mark * lot))
            .ceil()
            .try_into()
            .unwrap_or(1i64)
            .max(1);
        out.push(Market {
            symbol,
            tick,
            lot,
            mid: Arc::new(AtomicI64::new(mid)),
            min_lots,
        });
    }
    if out.is_empty() {
        return Err("no market to trade".into());
    }
    Ok(out)
}

/// Random-walk the index of every market once a second (oracle markets accept it).
async fn move_index(api: Api, markets: Vec<Market>, stop: Arc<AtomicBool>) {
    let mut rng = Rng(7);
    while !stop.load(Ordering::Relaxed) {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        for m in &markets {
            let mid = m.mid.load(Ordering::Relaxed);
            let step = (mid / 5000).max(1) as u64; // about 2 bp
            let next = mid + rng.below(2 * step + 1) as i64 - step as i64;
            let price = (Decimal::from(next) * m.tick).normalize().to_string();
            let r = api
                .admin(
                    Method::POST,
                    &format!("/api/v1/admin/markets/{}/index-price", m.symbol),
                    &format!(r#"{{"price":"{price}"}}"#),
                )
                .await;
            if r.status == 200 {
                m.mid.store(next, Ordering::Relaxed);
            }
        }
    }
}

/// One thread's share of the load.
#[allow(clippy::too_many_arguments)]
fn worker(
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
        let traders = std::rc::Rc::new(Traders::new(api, markets, makers, takers));
        let stats = std::rc::Rc::new(std::cell::RefCell::new(Stats::default()));
        let record = {
            let (stats, progress) = (stats.clone(), progress.clone());
            move |kind: Kind, code: String, status: u16, us: u64| {
                let mut s = stats.borrow_mut();
                let _ = s.latency_us.record(us.max(1));
                *s.codes.entry(code).or_default() += 1;
                let ok = status < 300;
                if ok && matches!(kind, Kind::Place) {
                    s.orders_ok += 1;
                }
                let c = if ok { &progress.ok } else { &progress.errors };
                c.fetch_add(1, Ordering::Relaxed);
            }
        };
        let record = std::rc::Rc::new(record);
        let in_flight = std::rc::Rc::new(std::cell::Cell::new(0usize));
        let rate = args
            .rate
            .map(|r| (r / args.threads as u64).max(1))
            .or(args.demo.then_some(20));
        match rate {
            Some(rate) => {
                // Open loop: planned send times; latency from the plan.
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
                    stats.borrow_mut().sent += 1;
                    progress.sent.fetch_add(1, Ordering::Relaxed);
                    if in_flight.get() >= args.max_in_flight {
                        stats.borrow_mut().saturated += 1;
                        continue;
                    }
                    in_flight.set(in_flight.get() + 1);
                    let (t, rec, fl) = (traders.clone(), record.clone(), in_flight.clone());
                    let mut r = Rng(rng.next() | 1);
                    tasks.push(actix_web::rt::spawn(async move {
                        let (kind, a) = t.step(&mut r).await;
                        rec(
                            kind,
                            a.code(),
                            a.status,
                            planned.elapsed().as_micros() as u64,
                        );
                        fl.set(fl.get() - 1);
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            }
            None => {
                // Closed loop: each requester sends its next request when the last one returns.
                let tasks: Vec<_> = (0..args.connections)
                    .map(|c| {
                        let (t, rec, st, pr) = (
                            traders.clone(),
                            record.clone(),
                            stats.clone(),
                            progress.clone(),
                        );
                        actix_web::rt::spawn(async move {
                            let mut r =
                                Rng(seed ^ (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                            while Instant::now() < until {
                                st.borrow_mut().sent += 1;
                                pr.sent.fetch_add(1, Ordering::Relaxed);
                                let start = Instant::now();
                                let (kind, a) = t.step(&mut r).await;
                                rec(kind, a.code(), a.status, start.elapsed().as_micros() as u64);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    let _ = t.await;
                }
            }
        }
        let taken = std::mem::take(&mut *stats.borrow_mut());
        taken
    })
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let token = match admin_token(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let secs = if args.demo && args.duration == 0.0 {
        f64::from(u32::MAX)
    } else {
        args.duration
    };
    let mode = match (args.rate, args.demo) {
        (Some(r), _) => format!("open loop {r} req/s"),
        (None, true) => "demo".to_owned(),
        (None, false) => format!(
            "closed loop, {} connections x {} threads",
            args.connections, args.threads
        ),
    };
    let result = actix_web::rt::System::new().block_on(run(args.clone(), token, secs, mode));
    match result {
        Ok(v) => {
            report::print(&v);
            if let Some(p) = &args.json {
                if let Err(e) =
                    std::fs::write(p, serde_json::to_string_pretty(&v).unwrap_or_default())
                {
                    eprintln!("loadgen: writing {}: {e}", p.display());
                }
            }
            if args.fail_on_error && v["errors"].as_u64().unwrap_or(1) > 0 {
                eprintln!("loadgen: {} request(s) failed", v["errors"]);
                return std::process::ExitCode::from(1);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(
    args: Args,
    token: String,
    secs: f64,
    mode: String,
) -> Result<serde_json::Value, String> {
    // Each WebSocket subscriber holds one connection of this client.
    let api = Api::new(&args.url, &token, args.ws + 8);
    let health = api.get("/api/v1/health").await;
    if health.status != 200 {
        return Err(format!(
            "{} is not answering /api/v1/health (HTTP {} {})",
            args.url, health.status, health.body
        ));
    }
    let markets = markets(&api, &args.markets).await?;
    eprintln!(
        "loadgen: {} market(s): {}; creating {} makers and {} takers ...",
        markets.len(),
        markets
            .iter()
            .map(|m| m.symbol.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.makers,
        args.takers
    );
    let mut makers = Vec::new();
    let mut takers = Vec::new();
    for i in 0..args.makers.max(1) {
        makers.push(
            api.account(&format!("loadgen-maker-{i}"), "1000000000")
                .await?,
        );
    }
    for i in 0..args.takers.max(1) {
        takers.push(
            api.account(&format!("loadgen-taker-{i}"), "1000000000")
                .await?,
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    if args.move_index {
        actix_web::rt::spawn(move_index(api.clone(), markets.clone(), stop.clone()));
    }
    let progress = Arc::new(Progress::default());
    let ws_stop = Arc::new(AtomicBool::new(false));
    if args.ws > 0 {
        eprintln!(
            "loadgen: connecting {} WebSocket subscribers to {} ({}) ...",
            args.ws,
            markets[0].symbol,
            if args.ws_url.is_empty() {
                args.url.clone()
            } else {
                args.ws_url.join(", ")
            }
        );
    }
    let ws_urls = if args.ws_url.is_empty() {
        vec![args.url.clone()]
    } else {
        args.ws_url.clone()
    };
    let shared = ws::start(
        api.http(),
        &ws_urls,
        args.ws,
        &markets[0].symbol,
        ws_stop.clone(),
        progress.clone(),
    )
    .await?;
    // The clock starts once every subscriber is connected; messages count from here.
    let ws_baseline = ws::received(&shared.borrow());
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..args.threads.max(1))
        .map(|t| {
            let (a, tok, m, mk, tk, p) = (
                args.clone(),
                token.clone(),
                markets.clone(),
                makers.clone(),
                takers.clone(),
                progress.clone(),
            );
            std::thread::spawn(move || {
                worker(a, tok, m, mk, tk, 0xC0FFEE ^ (t as u64 + 1), until, p)
            })
        })
        .collect();
    let bar = ProgressBar::new((secs.min(1e6) * 10.0) as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut last = (Instant::now(), 0u64);
    while handles.iter().any(|h| !h.is_finished()) {
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
        let done = progress.get(&progress.ok) + progress.get(&progress.errors);
        let rate = (done - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), done);
        bar.set_position((t0.elapsed().as_secs_f64() * 10.0) as u64);
        bar.set_message(format!(
            "{rate:>8.0} req/s  ok {}  errors {}  ws msgs {}",
            progress.get(&progress.ok),
            progress.get(&progress.errors),
            progress.get(&progress.ws_messages)
        ));
    }
    bar.finish_and_clear();
    stop.store(true, Ordering::Relaxed);
    let mut total = Stats::default();
    for h in handles {
        total.merge(
            &h.join()
                .map_err(|_| "a worker thread panicked".to_owned())?,
        );
    }
    let elapsed = t0.elapsed().as_secs_f64().min(secs.max(0.001));
    // Messages received during the load; then what was sent meanwhile and is still on its way.
    let window = ws::received(&shared.borrow());
    let drain = drain(&progress, args.ws > 0).await;
    ws_stop.store(true, Ordering::Relaxed);
    let ws_totals = ws::totals(
        args.ws,
        &shared.borrow(),
        ws::Counts {
            start: &ws_baseline,
            end: &window,
        },
        drain,
    );
    Ok(report::summary(&mode, elapsed, &total, &ws_totals))
}

/// Subscribers that received nothing for this long have drained.
const QUIET: Duration = Duration::from_millis(500);
/// The longest drain after the load.
const DRAIN_MAX: Duration = Duration::from_secs(10);

/// After the load, wait until the subscribers received nothing for [`QUIET`] (at most
/// [`DRAIN_MAX`]), so messages sent during the load (a server's backlog) arrive before
/// counting. Returns the time waited, up to the last message.
async fn drain(progress: &Progress, subscribers: bool) -> Duration {
    let start = Instant::now();
    if !subscribers {
        return Duration::ZERO;
    }
    let mut last = (progress.get(&progress.ws_messages), Instant::now());
    while start.elapsed() < DRAIN_MAX {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        let n = progress.get(&progress.ws_messages);
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() >= QUIET {
            break;
        }
    }
    last.1.saturating_duration_since(start)
}
