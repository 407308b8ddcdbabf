//! Process-level series: per-actor health gauges sampled from the entry gates and the journal
//! (at each scrape and on the upkeep timer), the journal commit hook, recovery time, the
//! WebSocket handles, and rate-limited overload warnings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram, Counter, Gauge};

use super::handles::OrderMetrics;
use super::metrics as m;
use crate::domain::MarketSpec;

/// How often the recorder's upkeep runs and health gauges are refreshed between scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// At most one overload warning per this interval (a flood of 503s logs one line).
pub const OVERLOAD_LOG_EVERY: Duration = Duration::from_secs(10);

/// Handles the running exchange keeps: order outcomes (every market together), gate and
/// journal health.
pub struct ExchangeMetrics {
    pub orders: OrderMetrics,
    market_in_flight: Vec<Gauge>,
    account_in_flight: Gauge,
    journal_queue: Gauge,
    journal_syncs: Counter,
}

impl ExchangeMetrics {
    pub fn new(specs: &[MarketSpec]) -> ExchangeMetrics {
        m::handle();
        for spec in specs {
            super::handles::MarketMetrics::register(spec);
        }
        ExchangeMetrics {
            orders: OrderMetrics::new(),
            market_in_flight: specs
                .iter()
                .map(|s| gauge!(m::MARKET_IN_FLIGHT, "market" => s.symbol.clone()))
                .collect(),
            account_in_flight: gauge!(m::ACCOUNT_IN_FLIGHT),
            journal_queue: gauge!(m::JOURNAL_QUEUE_DEPTH),
            journal_syncs: counter!(m::JOURNAL_SYNCS_TOTAL),
        }
    }

    /// Set the health gauges: commands in flight per market gate and at the account gate,
    /// and the journal's queue depth and durable commits so far (when there is a journal).
    pub fn sample(
        &self,
        market_in_flight: impl IntoIterator<Item = usize>,
        account_in_flight: usize,
        journal: Option<JournalSample>,
    ) {
        for (g, n) in self.market_in_flight.iter().zip(market_in_flight) {
            g.set(n as f64);
        }
        self.account_in_flight.set(account_in_flight as f64);
        if let Some(j) = journal {
            self.journal_queue.set(j.queued as f64);
            self.journal_syncs.absolute(j.syncs);
        }
    }
}

/// What the health sample reads from the journal's counters.
#[derive(Clone, Copy, Debug)]
pub struct JournalSample {
    /// Requests waiting for the journal thread.
    pub queued: u64,
    /// Durable commits since the start.
    pub syncs: u64,
}

/// The recorder's upkeep (drains histogram samples); the shell runs it every
/// [`UPKEEP_EVERY`].
pub fn run_upkeep() {
    m::handle().run_upkeep();
}

/// The journal's commit observer (`(entries, events, commit time)` after each commit):
/// commit time, events per batch, events made durable.
pub fn journal_hook() -> impl FnMut(usize, u64, Duration) + Send {
    m::handle();
    let commit = histogram!(m::JOURNAL_COMMIT_SECONDS);
    let batch = histogram!(m::JOURNAL_BATCH_EVENTS);
    let events = counter!(m::JOURNAL_EVENTS_TOTAL);
    move |_entries: usize, n: u64, took: Duration| {
        commit.record(took.as_secs_f64());
        batch.record(n as f64);
        events.increment(n);
    }
}

/// Record how long the start spent restoring state (0 for a fresh data directory) and log it.
pub fn recovery_done(took: Duration, replayed: u64) {
    gauge!(m::RECOVERY_SECONDS).set(took.as_secs_f64());
    tracing::info!(seconds = took.as_secs_f64(), replayed, "recovery finished");
}

/// The WebSocket handles (one set per process: sessions of every server share them).
pub struct WsMetrics {
    pub connections: Gauge,
    pub slow_consumers: Counter,
    messages: Vec<Counter>,
    subscribers: Vec<Gauge>,
}

impl WsMetrics {
    fn index(channel: &str) -> usize {
        m::WS_CHANNELS
            .iter()
            .position(|c| *c == channel)
            .unwrap_or(m::WS_CHANNELS.len() - 1)
    }

    /// One message sent on `channel`.
    pub fn sent(&self, channel: &str) {
        self.messages[Self::index(channel)].increment(1);
    }

    /// A subscription to `channel` that counts in `perpx_ws_subscribers` until dropped.
    pub fn subscriber(&'static self, channel: &str) -> SubscriberGuard {
        let g = &self.subscribers[Self::index(channel)];
        g.increment(1.0);
        SubscriberGuard(g)
    }
}

/// Decrements the subscriber gauge when the forwarder task ends (or is aborted).
pub struct SubscriberGuard(&'static Gauge);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

pub static WS: LazyLock<WsMetrics> = LazyLock::new(|| {
    m::install();
    let ws = WsMetrics {
        connections: gauge!(m::WS_CONNECTIONS),
        slow_consumers: counter!(m::WS_SLOW_CONSUMERS_TOTAL),
        messages: m::WS_CHANNELS
            .iter()
            .map(|c| counter!(m::WS_MESSAGES_TOTAL, "channel" => *c))
            .collect(),
        subscribers: m::WS_CHANNELS
            .iter()
            .map(|c| gauge!(m::WS_SUBSCRIBERS, "channel" => *c))
            .collect(),
    };
    ws.connections.increment(0.0);
    ws.slow_consumers.increment(0);
    for c in &ws.messages {
        c.increment(0);
    }
    for g in &ws.subscribers {
        g.increment(0.0);
    }
    ws
});

static OVERLOADED: LazyLock<Counter> = LazyLock::new(|| {
    m::install();
    counter!(m::OVERLOADED_TOTAL)
});
static LAST_OVERLOAD_LOG: AtomicU64 = AtomicU64::new(0);
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Count a request refused with `OVERLOADED`; warn at most once per [`OVERLOAD_LOG_EVERY`],
/// with the number of refusals since the last warning.
pub fn overloaded(route: &str) {
    OVERLOADED.increment(1);
    let now = EPOCH.elapsed().as_millis() as u64 + 1;
    let last = LAST_OVERLOAD_LOG.load(Ordering::Relaxed);
    let due = last == 0 || now - last >= OVERLOAD_LOG_EVERY.as_millis() as u64;
    if due
        && LAST_OVERLOAD_LOG
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let refused = SUPPRESSED.swap(0, Ordering::Relaxed) + 1;
        tracing::warn!(
            route,
            refused,
            "overloaded: refusing commands with 503 OVERLOADED"
        );
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Register the process-wide families (WebSocket, overload, journal, recovery, HTTP) at 0.
pub fn register_process_series() {
    LazyLock::force(&WS);
    OVERLOADED.increment(0);
    let _ = histogram!(m::JOURNAL_COMMIT_SECONDS);
    let _ = histogram!(m::JOURNAL_BATCH_EVENTS);
    counter!(m::JOURNAL_EVENTS_TOTAL).increment(0);
    gauge!(m::RECOVERY_SECONDS).increment(0.0);
    gauge!(m::INSURANCE_FUND_BALANCE).increment(0.0);
    gauge!(m::ACCOUNTS_IN_LIQUIDATION).increment(0.0);
    gauge!(m::ACCOUNT_IN_FLIGHT).increment(0.0);
    gauge!(m::JOURNAL_QUEUE_DEPTH).increment(0.0);
    counter!(m::JOURNAL_SYNCS_TOTAL).increment(0);
    for r in m::AUTH_REASONS {
        counter!(m::AUTH_REFUSALS_TOTAL, "reason" => *r).increment(0);
    }
    counter!(m::HTTP_REQUESTS_TOTAL, "method" => "GET", "route" => "/metrics", "status" => "200")
        .increment(0);
}

/// One request refused by access control for `reason` (one of [`m::AUTH_REASONS`]).
pub fn auth_refused(reason: &'static str) {
    counter!(m::AUTH_REFUSALS_TOTAL, "reason" => reason).increment(1);
}
