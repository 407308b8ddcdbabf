//! `perpx --gateway`: the public WebSocket channels (book snapshot + diffs, trades, ticker,
//! liquidations) served from the events stream, with the primary's contract (sequence
//! chain, bounded per-client queue, slow-consumer close), so market-data fan-out scales by
//! adding gateway processes. It keeps no data directory and accepts no writes.
//!
//! Start: for each market, the last book snapshot (`<prefix>.books.<symbol>`, direct get:
//! stream position `P`, journal sequence `J`, book sequence `S`), then one ordered consumer
//! of `<prefix>.events.>` from the smallest `P` + 1. A market's message is skipped if it is at
//! or before its snapshot's position or renders a journal sequence already seen (a repeat
//! after a failover); a `book_update` at or below the book's sequence is skipped. The ticker
//! comes live from core NATS `<prefix>.ticker.<symbol>`.
//!
//! # Invariants
//! - A market's book is updated before its diff is broadcast, under one lock, and a session
//!   subscribes before it copies the book: every diff after the copy's sequence reaches it.

mod ws;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::events::LEDGER_SYMBOL;
use super::stream::{connect, header, nats, ReplError, SEQ_HEADER};
use crate::actors::publish::Wire;
use crate::config::Config;
use crate::domain::MarketSpec;

/// A gateway market's channels. They carry the native lines of the events stream as received:
/// a gateway serves the native form only, so it relays text and renders nothing (the typed
/// feed, `actors::feed`, is the primary's).
pub struct WireFeed {
    /// `(sequence, book_update)`: the sequence lets a subscriber skip what its snapshot has.
    pub book: tokio::sync::broadcast::Sender<(u64, Wire)>,
    pub trades: tokio::sync::broadcast::Sender<Wire>,
    pub ticker: tokio::sync::broadcast::Sender<Wire>,
    pub liquidations: tokio::sync::broadcast::Sender<Wire>,
}

impl WireFeed {
    fn new(capacity: usize) -> WireFeed {
        use tokio::sync::broadcast::channel;
        WireFeed {
            book: channel(capacity).0,
            trades: channel(capacity).0,
            ticker: channel(capacity).0,
            liquidations: channel(capacity).0,
        }
    }
}

/// One market as a gateway serves it.
pub struct Market {
    pub spec: MarketSpec,
    pub feed: Arc<WireFeed>,
    pub book: Mutex<Levels>,
}

/// Price levels as decimal strings, best first when read through [`Levels::top`].
#[derive(Default)]
pub struct Levels {
    bids: BTreeMap<Decimal, String>,
    asks: BTreeMap<Decimal, String>,
    pub sequence: u64,
    /// The last journal sequence applied.
    journal_seq: u64,
}

impl Levels {
    fn set(&mut self, buy: bool, levels: &[[String; 2]]) {
        let side = if buy { &mut self.bids } else { &mut self.asks };
        for [p, q] in levels {
            let (Ok(price), Ok(qty)) = (p.parse::<Decimal>(), q.parse::<Decimal>()) else {
                continue;
            };
            if qty.is_zero() {
                side.remove(&price);
            } else {
                side.insert(price, q.clone());
            }
        }
    }

    /// The best `n` levels per side as `[price, qty]` strings.
    pub fn top(&self, n: usize) -> (Vec<[String; 2]>, Vec<[String; 2]>) {
        let row = |(p, q): (&Decimal, &String)| [p.to_string(), q.clone()];
        (
            self.bids.iter().rev().take(n).map(row).collect(),
            self.asks.iter().take(n).map(row).collect(),
        )
    }
}

/// What a gateway shares with its sessions.
pub struct Gateway {
    pub markets: Vec<Market>,
    pub ws_queue: usize,
    /// Its WebSocket sessions' counters (the same as the primary's).
    pub ws: Arc<crate::api::WsStats>,
}

impl Gateway {
    pub fn market(&self, symbol: &str) -> Option<&Market> {
        self.markets.iter().find(|m| m.spec.symbol == symbol)
    }
}

#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

#[derive(Deserialize)]
struct BookMsg {
    sequence: u64,
    #[serde(default)]
    prev_sequence: u64,
    bids: Vec<[String; 2]>,
    asks: Vec<[String; 2]>,
}

/// Run a gateway on `listen` until SIGINT/SIGTERM.
pub async fn run(config: Config, listen: SocketAddr) -> Result<(), ReplError> {
    let cfg = config
        .replication
        .clone()
        .ok_or_else(|| ReplError::Refused("--gateway needs a [replication] section".into()))?;
    let n = connect(&cfg, "perpx-gateway", Duration::from_secs(30)).await?;
    let events = events_stream(&n.js, &cfg).await;
    let gw = Arc::new(Gateway::new(&config));
    // The last snapshot of every market (waiting for the primary to publish them).
    let mut positions = Vec::new();
    for m in &gw.markets {
        positions.push(load_book(m, &cfg, &events).await?);
    }
    let start = positions.iter().copied().min().unwrap_or(0) + 1;
    let (g, c, ev) = (Arc::clone(&gw), cfg.clone(), events.clone());
    actix_web::rt::spawn(async move {
        let mut from = start;
        loop {
            match consume(&g, &c, &ev, from, &positions).await {
                Ok(next) => from = next,
                Err((next, e)) => {
                    tracing::warn!(error = %e, "gateway: events consumer failed; recreating");
                    from = next;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    tickers(&n.client, &cfg, Arc::clone(&gw)).await;
    serve(gw, listen).await
}

impl Gateway {
    /// Every configured market with an empty book and feed.
    fn new(config: &Config) -> Gateway {
        Gateway {
            markets: config
                .markets
                .iter()
                .map(|s| Market {
                    spec: s.clone(),
                    feed: Arc::new(WireFeed::new(config.server.ws_queue.max(1))),
                    book: Mutex::new(Levels::default()),
                })
                .collect(),
            ws_queue: config.server.ws_queue,
            ws: Default::default(),
        }
    }
}

/// The events stream, waiting until a primary has created it.
async fn events_stream(
    js: &async_nats::jetstream::Context,
    cfg: &crate::config::ReplicationConfig,
) -> async_nats::jetstream::stream::Stream {
    loop {
        match js.get_stream(cfg.events_stream()).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, "gateway: events stream not there yet (is a primary running?)");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Load `m`'s last book snapshot (waiting until the primary has published one) and return
/// its stream position.
async fn load_book(
    m: &Market,
    cfg: &crate::config::ReplicationConfig,
    events: &async_nats::jetstream::stream::Stream,
) -> Result<u64, ReplError> {
    let subject = cfg.books_subject(&m.spec.symbol);
    let snap = loop {
        match events.direct_get_last_for_subject(subject.as_str()).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(error = %e, market = %m.spec.symbol, "gateway: no book snapshot yet; waiting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let b: BookMsg = serde_json::from_slice(&snap.payload).map_err(nats)?;
    let mut l = m.book.lock().expect("never poisoned");
    *l = Levels::default();
    l.set(true, &b.bids);
    l.set(false, &b.asks);
    l.sequence = b.sequence;
    l.journal_seq = header(&snap.headers, SEQ_HEADER)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    tracing::info!(market = %m.spec.symbol, sequence = b.sequence, "gateway: book loaded");
    Ok(snap.sequence)
}

/// Serve `/ws`, `/api/v1/health` and `/stats` on `listen` until SIGINT/SIGTERM.
async fn serve(gw: Arc<Gateway>, listen: SocketAddr) -> Result<(), ReplError> {
    let data = web::Data::from(Arc::clone(&gw));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/ws", web::get().to(ws::handler))
            .route(
                "/api/v1/health",
                web::get().to(|| async {
                    HttpResponse::Ok().json(serde_json::json!({"status": "ok", "role": "gateway"}))
                }),
            )
            .route("/stats", web::get().to(stats))
    })
    .disable_signals()
    .shutdown_timeout(crate::api::shutdown::SHUTDOWN_TIMEOUT_S)
    .bind(listen)
    .map_err(|e| ReplError::Refused(format!("cannot listen on {listen}: {e}")))?;
    for a in server.addrs() {
        tracing::info!("gateway listening on {a}");
    }
    let server = server.run();
    crate::api::shutdown::stop_on_signal(server.handle(), Arc::clone(&gw.ws));
    server.await.map_err(|e| ReplError::Refused(e.to_string()))
}

async fn stats(gw: web::Data<Gateway>) -> HttpResponse {
    use std::sync::atomic::Ordering::Relaxed;
    HttpResponse::Ok().json(serde_json::json!({
        "connections": gw.ws.connections.load(Relaxed),
        "messages": gw.ws.messages.load(Relaxed),
        "slow_consumers": gw.ws.slow_consumers.load(Relaxed),
        "books": gw.markets.iter().map(|m| (m.spec.symbol.clone(), m.book.lock().expect("never poisoned").sequence)).collect::<BTreeMap<_, _>>(),
    }))
}

/// Consume events from stream position `from`; returns the position to resume at.
async fn consume(
    gw: &Gateway,
    cfg: &crate::config::ReplicationConfig,
    events: &async_nats::jetstream::stream::Stream,
    from: u64,
    positions: &[u64],
) -> Result<u64, (u64, String)> {
    let mut next = from;
    let consumer = events
        .create_consumer(pull::OrderedConfig {
            filter_subject: format!("{}.events.>", cfg.subject_prefix),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from,
            },
            ..Default::default()
        })
        .await
        .map_err(|e| (next, e.to_string()))?;
    let mut msgs = consumer
        .messages()
        .await
        .map_err(|e| (next, e.to_string()))?;
    let prefix = format!("{}.events.", cfg.subject_prefix);
    while let Some(m) = msgs.next().await {
        let m = m.map_err(|e| (next, e.to_string()))?;
        let pos = m.info().map_err(|e| (next, e.to_string()))?.stream_sequence;
        next = pos + 1;
        let symbol = m.subject.as_str().strip_prefix(&prefix).unwrap_or("");
        if symbol == LEDGER_SYMBOL {
            continue;
        }
        let Some(i) = gw.markets.iter().position(|k| k.spec.symbol == symbol) else {
            continue;
        };
        if pos <= positions[i] {
            continue;
        }
        let seq: u64 = m
            .headers
            .as_ref()
            .and_then(|h| header(h, SEQ_HEADER))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        apply(&gw.markets[i], seq, &m.payload);
    }
    Ok(next)
}

/// Apply one events message (journal entry `seq`) of market `m` and broadcast its public lines.
fn apply(m: &Market, seq: u64, payload: &[u8]) {
    let Ok(text) = std::str::from_utf8(payload) else {
        return;
    };
    {
        let mut l = m.book.lock().expect("never poisoned");
        if seq <= l.journal_seq {
            return;
        }
        l.journal_seq = seq;
    }
    for line in text.lines() {
        let Ok(k) = serde_json::from_str::<Kind>(line) else {
            continue;
        };
        match k.kind {
            "book_update" => {
                let Ok(u) = serde_json::from_str::<BookMsg>(line) else {
                    continue;
                };
                let mut l = m.book.lock().expect("never poisoned");
                if u.sequence <= l.sequence {
                    continue;
                }
                if u.prev_sequence != l.sequence {
                    tracing::error!(market = %m.spec.symbol, have = l.sequence, prev = u.prev_sequence, "gateway: book sequence gap");
                }
                l.set(true, &u.bids);
                l.set(false, &u.asks);
                l.sequence = u.sequence;
                let _ = m.feed.book.send((u.sequence, line.into()));
            }
            "trade" => {
                let _ = m.feed.trades.send(line.into());
            }
            "liquidation" => {
                let _ = m.feed.liquidations.send(line.into());
            }
            _ => {}
        }
    }
}

/// The primary's ticker, live.
async fn tickers(
    client: &async_nats::Client,
    cfg: &crate::config::ReplicationConfig,
    gw: Arc<Gateway>,
) {
    let prefix = format!("{}.ticker.", cfg.subject_prefix);
    let Ok(mut sub) = client.subscribe(format!("{prefix}*")).await else {
        tracing::warn!("gateway: cannot subscribe to the ticker");
        return;
    };
    actix_web::rt::spawn(async move {
        while let Some(msg) = sub.next().await {
            let symbol = msg.subject.as_str().strip_prefix(&prefix).unwrap_or("");
            if let (Some(m), Ok(t)) = (gw.market(symbol), std::str::from_utf8(&msg.payload)) {
                let _ = m.feed.ticker.send(t.into());
            }
        }
    });
}
