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
mod setup;
mod traders;
mod worker;
mod ws;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use client::Api;
use report::{Progress, Stats};

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
    /// How the load spreads over the markets: 0 evenly; s > 0 gives the i-th market weight
    /// 1/i^s (1: a venue where a few markets take most of the flow).
    #[arg(long, default_value_t = 0.0)]
    skew: f64,
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

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let token = match setup::admin_token(&args) {
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
    let setup = setup::prepare(&api, &args).await?;
    let stop = Arc::new(AtomicBool::new(false));
    if args.move_index {
        let markets = setup.markets.clone();
        actix_web::rt::spawn(setup::move_index(api.clone(), markets, stop.clone()));
    }
    let progress = Arc::new(Progress::default());
    let ws_stop = Arc::new(AtomicBool::new(false));
    let shared = subscribe(&api, &args, &setup.markets[0].symbol, &ws_stop, &progress).await?;
    // The clock starts once every subscriber is connected; messages count from here.
    let ws_baseline = ws::received(&shared.borrow());
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs_f64(secs);
    let handles = spawn_workers(&args, &token, &setup, until, &progress);
    show_progress(&handles, &progress, t0, secs).await;
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

/// Connect the `--ws` subscribers to `symbol`'s book and trades, spread over `--ws-url`.
async fn subscribe(
    api: &Api,
    args: &Args,
    symbol: &str,
    stop: &Arc<AtomicBool>,
    progress: &Arc<Progress>,
) -> Result<Rc<RefCell<ws::Shared>>, String> {
    if args.ws > 0 {
        eprintln!(
            "loadgen: connecting {} WebSocket subscribers to {symbol} ({}) ...",
            args.ws,
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
    ws::start(
        api.http(),
        &ws_urls,
        args.ws,
        symbol,
        stop.clone(),
        progress.clone(),
    )
    .await
}

/// One worker thread per `--threads`, each with its own seed, all stopping at `until`.
fn spawn_workers(
    args: &Args,
    token: &str,
    setup: &setup::Setup,
    until: Instant,
    progress: &Arc<Progress>,
) -> Vec<std::thread::JoinHandle<Stats>> {
    (0..args.threads.max(1))
        .map(|t| {
            let (a, tok, m, mk, tk, p) = (
                args.clone(),
                token.to_owned(),
                setup.markets.clone(),
                setup.makers.clone(),
                setup.takers.clone(),
                progress.clone(),
            );
            std::thread::spawn(move || {
                worker::worker(a, tok, m, mk, tk, 0xC0FFEE ^ (t as u64 + 1), until, p)
            })
        })
        .collect()
}

/// The progress bar, until every worker has finished.
async fn show_progress(
    handles: &[std::thread::JoinHandle<Stats>],
    progress: &Progress,
    t0: Instant,
    secs: f64,
) {
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
