//! Wiring: the data directory, the journal, the actors, the HTTP server; clean shutdown.
//!
//! Start: open the store (refusing unknown formats), start the journal thread, start the
//! actors (markets pinned to cores, logged), serve REST + WebSocket on one port. Any panic
//! stops the process with a non-zero exit (fail fast: recovery restores the journaled state;
//! a half-alive exchange is worse than a stopped one). SIGINT/SIGTERM: close every WebSocket
//! session with a close frame (1012), stop accepting, drain in-flight requests (at most
//! `api::shutdown::SHUTDOWN_TIMEOUT_S`), flush the journal, exit 0.

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, App, HttpServer};

use crate::actors::{Exchange, StartOptions};
use crate::api::auth::{self, KeyStore};
use crate::api::{AppState, Limits};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::engine::ExchangeState;
use crate::persistence::{service, Journal, JournalConfig};

use crate::replication::http::Replication;
use crate::replication::node::{Mode, Node};

/// Why the server could not start or stopped badly. `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] crate::persistence::StoreError),
    #[error(transparent)]
    Recovery(#[from] crate::persistence::recovery::RecoveryError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("replication: {0}")]
    Replication(#[from] crate::replication::stream::ReplError),
}

/// Exit the whole process on any panic, after logging it.
pub fn fail_fast() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(%info, "fatal: a component panicked; stopping the exchange (restart recovers the journaled state)");
        default(info);
        std::process::exit(70);
    }));
}

/// The admin token: `PERPX_ADMIN_TOKEN`, else `<data_dir>/admin.token` (created 0600).
fn admin_token(config: &Config) -> Result<String, AppError> {
    if let Ok(t) = std::env::var("PERPX_ADMIN_TOKEN") {
        if !t.is_empty() {
            tracing::info!("admin token taken from PERPX_ADMIN_TOKEN");
            return Ok(t);
        }
    }
    let path = config.server.data_dir.join("admin.token");
    if !path.exists() {
        auth::random_bytes()
            .and_then(|b| auth::write_private(&path, hex::encode(b).as_bytes()))
            .map_err(|e| {
                AppError::Setup(format!(
                    "{}: cannot write the admin token: {e}",
                    path.display()
                ))
            })?;
    }
    tracing::info!(path = %path.display(), "admin token file");
    let t = std::fs::read_to_string(&path)
        .map_err(|e| AppError::Setup(format!("{}: {e}", path.display())))?;
    Ok(t.trim().to_owned())
}

/// Run the exchange until SIGINT/SIGTERM.
pub async fn run(config: Config) -> Result<(), AppError> {
    run_as(config, Mode::Primary).await
}

/// Run as `mode` (a follower or `--promote` needs `[replication]`) until SIGINT/SIGTERM.
pub async fn run_as(config: Config, mode: Mode) -> Result<(), AppError> {
    // replication: connect first (the journal needs its hook); without [replication] none.
    let mut node = connect(&config, mode).await?;
    // Recovery: newest snapshots + journal tail through the same apply code as live; refuses
    // corrupt or mismatched data with a message naming what is wrong.
    // `relaxed`: replies do not wait for the fsync, so neither need most commits (the journal
    // ignores this with replication).
    let journal_config = JournalConfig {
        sync_every: (config.server.durability == crate::config::Durability::Relaxed)
            .then_some(crate::persistence::RELAXED_SYNC),
        ..JournalConfig::default()
    };
    let (persistence, recovered) = service::start_replicated(
        &config,
        journal_config,
        Some(Box::new(crate::telemetry::journal_hook())),
        |reader| node.as_mut().map(|n| n.hook(reader)),
    )?;
    // replication: the journal must be a prefix of the stream or the stream of it.
    let last_seq = recovered.last_seq;
    let books = match node.as_mut() {
        Some(n) => {
            n.check(last_seq).await?;
            crate::replication::node::books(&recovered.initial)
        }
        None => Vec::new(),
    };
    tracing::info!(
        last_seq = recovered.last_seq,
        replayed = recovered.replayed,
        took_ms = recovered.took.as_millis() as u64,
        "recovered"
    );
    crate::telemetry::recovery_done(recovered.took, recovered.replayed);
    // The data directory exists now (the store created it).
    let keys = KeyStore::open(&config.server.data_dir)
        .map_err(|e| AppError::Setup(format!("master key: {e}")))?;
    let token = admin_token(&config)?;
    let journal = Arc::clone(&persistence.journal);
    let ex = start_exchange(&config, recovered.initial, &journal, mode);
    let repl = node.as_mut().map(|n| {
        n.status.load_key_id(&config.server.data_dir);
        n.run(Arc::clone(&ex), Arc::clone(&journal), books, last_seq);
        web::Data::new(n.http(&journal))
    });
    let state = app_state(&config, ex, keys, token);
    crate::api::binance::start(&state);
    serve(&config, state, repl).await?;
    tracing::info!("shutting down: flushing the journal and writing a final snapshot");
    drop(journal);
    if let Some(mut n) = node {
        n.stop();
    }
    match persistence.shutdown() {
        Ok(report) => tracing::info!(?report, "persistence stopped cleanly"),
        Err(e) => return Err(AppError::Setup(format!("shutdown: {e}"))),
    }
    Ok(())
}

/// The replication node for `mode`, connected; `None` without `[replication]` (then only the
/// primary mode runs).
async fn connect(config: &Config, mode: Mode) -> Result<Option<Node>, AppError> {
    match (&config.replication, mode) {
        (Some(rc), _) => Ok(Some(Node::start(config, rc, mode).await?)),
        (None, Mode::Primary) => Ok(None),
        (None, _) => Err(AppError::Setup(
            "--follow and --promote need a [replication] section".into(),
        )),
    }
}

/// The actors from the recovered state (timers only on a primary), with the market → core
/// map logged and the upkeep started.
fn start_exchange(
    config: &Config,
    initial: ExchangeState,
    journal: &Arc<Journal>,
    mode: Mode,
) -> Arc<Exchange> {
    let ex = Arc::new(Exchange::start(
        config,
        initial,
        StartOptions {
            clock: Arc::new(SystemClock),
            journal: Some(Arc::clone(journal)),
            timers: mode == Mode::Primary,
            market_in_flight: crate::actors::supervisor::MARKET_IN_FLIGHT,
            account_in_flight: crate::actors::supervisor::ACCOUNT_IN_FLIGHT,
            feed_capacity: config.server.ws_queue,
            follower: mode != Mode::Primary,
        },
    ));
    for (symbol, core) in &ex.core_map {
        match core {
            Some(c) => tracing::info!(market = %symbol, core = c, "market pinned"),
            None => tracing::warn!(market = %symbol, "core pinning unavailable on this system"),
        }
    }
    Arc::clone(&ex).start_upkeep(); // telemetry
    ex
}

/// What every request handler shares.
fn app_state(
    config: &Config,
    ex: Arc<Exchange>,
    keys: KeyStore,
    admin_token: String,
) -> web::Data<AppState> {
    web::Data::new(AppState {
        ex,
        keys,
        admin_token,
        trusted_proxies: config.server.trusted_proxies.clone(),
        replay: Default::default(),
        recv_window_ms: config.server.recv_window.as_millis() as u64,
        margin_asset: config.exchange.margin_asset.clone(),
        money_scale: config.exchange.money_scale,
        ws_queue: config.server.ws_queue,
        started: Instant::now(),
        limits: Limits::new(
            config.server.rate_limit_per_key,
            config.server.rate_limit_per_ip,
        ),
        ws: Default::default(),
        binance: crate::api::binance::BinanceState::new(config.server.binance_limits),
    })
}

/// Serve REST and WebSocket (and, with `repl`, the replication guard and admin routes) until
/// SIGINT/SIGTERM: then the WebSocket sessions close and actix-web stops accepting and drains
/// in-flight requests.
async fn serve(
    config: &Config,
    state: web::Data<AppState>,
    repl: Option<web::Data<Replication>>,
) -> Result<(), AppError> {
    let addr = config.server.listen;
    tracing::info!(listen = %addr, data_dir = %config.server.data_dir.display(), durability = ?config.server.durability, ws_queue = config.server.ws_queue, metrics = "/metrics", "configuration"); // telemetry
    let symbols: Vec<String> = config.markets.iter().map(|m| m.symbol.clone()).collect();
    let routes = crate::api::routes_for(&symbols);
    let ws_state = state.clone();
    let server = HttpServer::new(move || {
        // replication: 503 NOT_PRIMARY off the primary, and its admin routes (before the API's).
        let enabled = repl.is_some();
        let repl = repl.clone();
        App::new()
            .app_data(state.clone())
            .wrap(actix_web::middleware::Condition::new(
                enabled,
                actix_web::middleware::from_fn(crate::replication::http::guard),
            ))
            .configure(move |c| {
                if let Some(r) = repl {
                    c.app_data(r).configure(crate::replication::http::routes);
                }
            })
            .configure(routes.clone())
    })
    .disable_signals()
    .shutdown_timeout(crate::api::shutdown::SHUTDOWN_TIMEOUT_S)
    .bind(addr)
    .map_err(|source| AppError::Listen { addr, source })?;
    for a in server.addrs() {
        tracing::info!("listening on {a}");
    }
    let server = server.run();
    crate::api::shutdown::stop_on_signal(server.handle(), Arc::clone(&ws_state.ws));
    server.await.map_err(AppError::Serve)
}
