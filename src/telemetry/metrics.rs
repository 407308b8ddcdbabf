//! Metric names (docs/ARCHITECTURE.md §6: the names are a contract with dashboards and alerts), their
//! descriptions, units and histogram buckets, and the one process-wide Prometheus recorder.
//!
//! # Invariants
//! - Every name here starts with `perpx_`; the required families are [`REQUIRED`].
//! - The recorder is installed at most once per process ([`handle`] installs it on first use,
//!   before any handle is cached), so many exchanges in one test process share it: tests
//!   assert on presence and deltas, never on absolute values of shared series.

use std::sync::{Once, OnceLock};

use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const ORDERS_TOTAL: &str = "perpx_orders_total";
pub const TRADES_TOTAL: &str = "perpx_trades_total";
pub const ORDER_LATENCY_SECONDS: &str = "perpx_order_latency_seconds";
pub const MATCH_DURATION_SECONDS: &str = "perpx_match_duration_seconds";
pub const HTTP_REQUESTS_TOTAL: &str = "perpx_http_requests_total";
pub const WS_CONNECTIONS: &str = "perpx_ws_connections";
pub const WS_MESSAGES_TOTAL: &str = "perpx_ws_messages_total";
pub const WS_SLOW_CONSUMERS_TOTAL: &str = "perpx_ws_slow_consumers_total";
pub const BOOK_ORDERS: &str = "perpx_book_orders";
pub const OPEN_INTEREST: &str = "perpx_open_interest";
pub const MARK_PRICE: &str = "perpx_mark_price";
pub const INDEX_PRICE: &str = "perpx_index_price";
pub const FUNDING_RATE: &str = "perpx_funding_rate";
pub const LIQUIDATIONS_TOTAL: &str = "perpx_liquidations_total";
pub const ADL_TOTAL: &str = "perpx_adl_total";
pub const INSURANCE_FUND_BALANCE: &str = "perpx_insurance_fund_balance";
pub const JOURNAL_COMMIT_SECONDS: &str = "perpx_journal_commit_seconds";
pub const JOURNAL_BATCH_EVENTS: &str = "perpx_journal_batch_events";
pub const JOURNAL_EVENTS_TOTAL: &str = "perpx_journal_events_total";
pub const RECOVERY_SECONDS: &str = "perpx_recovery_seconds";

// Health (extra families, docs/ARCHITECTURE.md §6 allows them).
pub const MARKET_IN_FLIGHT: &str = "perpx_market_in_flight";
pub const ACCOUNT_IN_FLIGHT: &str = "perpx_account_in_flight";
pub const JOURNAL_QUEUE_DEPTH: &str = "perpx_journal_queue_depth";
pub const JOURNAL_SYNCS_TOTAL: &str = "perpx_journal_syncs_total";
pub const WS_SUBSCRIBERS: &str = "perpx_ws_subscribers";
pub const OVERLOADED_TOTAL: &str = "perpx_overloaded_total";
pub const FUNDING_SETTLEMENTS_TOTAL: &str = "perpx_funding_settlements_total";
pub const ACCOUNTS_IN_LIQUIDATION: &str = "perpx_accounts_in_liquidation";
pub const HEAP_BYTES: &str = "perpx_heap_bytes";
pub const AUTH_REFUSALS_TOTAL: &str = "perpx_auth_refusals_total";

/// `reason` label values of [`AUTH_REFUSALS_TOTAL`], all registered at 0.
pub const AUTH_REASONS: &[&str] = &[
    "unknown_key",
    "bad_signature",
    "expired",
    "ip_not_allowed",
    "permission_denied",
    "replayed",
    "admin_forbidden",
];

/// The families docs/ARCHITECTURE.md §6 requires (tests check each is rendered from start).
pub const REQUIRED: &[&str] = &[
    ORDERS_TOTAL,
    TRADES_TOTAL,
    ORDER_LATENCY_SECONDS,
    MATCH_DURATION_SECONDS,
    HTTP_REQUESTS_TOTAL,
    WS_CONNECTIONS,
    WS_MESSAGES_TOTAL,
    WS_SLOW_CONSUMERS_TOTAL,
    BOOK_ORDERS,
    OPEN_INTEREST,
    MARK_PRICE,
    INDEX_PRICE,
    FUNDING_RATE,
    LIQUIDATIONS_TOTAL,
    ADL_TOTAL,
    INSURANCE_FUND_BALANCE,
    JOURNAL_COMMIT_SECONDS,
    JOURNAL_BATCH_EVENTS,
    JOURNAL_EVENTS_TOTAL,
    RECOVERY_SECONDS,
];

/// The families with a `market` label (docs/OPERATIONS.md §8): what an operator watches per
/// market. Every other family is one series for all markets (or one per other label), so a
/// scrape grows by 9 lines per market: 500 markets stay under 300 KB.
pub const PER_MARKET: &[&str] = &[
    MARK_PRICE,
    INDEX_PRICE,
    FUNDING_RATE,
    OPEN_INTEREST,
    BOOK_ORDERS,
    TRADES_TOTAL,
    LIQUIDATIONS_TOTAL,
    MARKET_IN_FLIGHT,
];

/// `outcome` label values of [`ORDERS_TOTAL`], all registered at 0.
pub const OUTCOMES: &[&str] = &[
    "accepted",
    "filled",
    "partially_filled",
    "expired",
    "rejected",
    "overloaded",
    "retry",
    "error",
];

/// `channel` label values of [`WS_MESSAGES_TOTAL`] and [`WS_SUBSCRIBERS`] (`control`: replies
/// to the client's own ops).
pub const WS_CHANNELS: &[&str] = &[
    "book",
    "trades",
    "ticker",
    "liquidations",
    "orders",
    "fills",
    "account",
    "control",
];

/// Engine time per command: 1 µs .. 10 ms (matching is microseconds, docs/ARCHITECTURE.md §7).
pub const MATCH_BUCKETS: &[f64] = &[
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2,
];
/// Order round trip (includes the fsync with durability "immediate"): 50 µs .. 1 s.
pub const ORDER_LATENCY_BUCKETS: &[f64] = &[
    5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0,
];
/// Journal transaction (write + fsync): 100 µs .. 1 s.
pub const COMMIT_BUCKETS: &[f64] = &[
    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0,
];
/// Events per journal transaction: 1 .. 4096 (the batch cap), powers of two.
pub const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static REGISTERED: Once = Once::new();

/// The process-wide recorder's handle, installing the recorder on first call and registering
/// the process-wide series at 0. If another recorder was installed first (an embedding
/// program), this handle renders nothing.
pub fn handle() -> &'static PrometheusHandle {
    let h = install();
    // After the handle exists (registration calls back into `install`).
    REGISTERED.call_once(super::health::register_process_series);
    h
}

/// Install the recorder if it is not yet, without registering anything: what the lazily built
/// metric handles call (`health::WS`, ...). Registration forces those handles, so calling
/// [`handle`] from their initializer would re-enter it on the same thread and deadlock (a
/// gateway's first WebSocket session once hung its worker that way).
pub fn install() -> &'static PrometheusHandle {
    if let Some(h) = HANDLE.get() {
        return h;
    }
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        describe();
        handle
    })
}

fn builder() -> PrometheusBuilder {
    let buckets = [
        (MATCH_DURATION_SECONDS, MATCH_BUCKETS),
        (ORDER_LATENCY_SECONDS, ORDER_LATENCY_BUCKETS),
        (JOURNAL_COMMIT_SECONDS, COMMIT_BUCKETS),
        (JOURNAL_BATCH_EVENTS, BATCH_BUCKETS),
    ];
    buckets
        .into_iter()
        .fold(PrometheusBuilder::new(), |b, (name, values)| {
            // expect: every bucket list above is non-empty.
            b.set_buckets_for_metric(Matcher::Full(name.into()), values)
                .expect("non-empty buckets")
        })
}

/// Render every series in the Prometheus text format.
pub fn render() -> String {
    // The recorder first: a gauge set before it is installed would go nowhere.
    let handle = handle();
    if let Some(bytes) = heap_in_use() {
        metrics::gauge!(HEAP_BYTES).set(bytes as f64);
    }
    handle.render()
}

/// Bytes the allocator has handed out and not got back (glibc: `mallinfo2`'s `uordblks`, the
/// arenas' chunks in use, plus `hblkhd`, the large blocks mapped on their own). Unlike the
/// resident size it falls when memory is freed, so it shows what the state holds. Walks the
/// allocator's arenas: read at scrape time only.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use() -> Option<usize> {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct of counters; glibc
    // takes its arena locks itself.
    let m = unsafe { libc::mallinfo2() };
    Some(m.uordblks + m.hblkhd)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use() -> Option<usize> {
    None
}

/// What kind of series a row of [`DESCRIPTIONS`] describes.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric's kind, name, unit (`None`: a plain number) and help text, as the scrape
/// shows them. A flat table: one row per metric, read by [`describe`].
#[rustfmt::skip]
const DESCRIPTIONS: &[(Kind, &str, Option<Unit>, &str)] = {
    use Kind::{Counter, Gauge, Histogram};
    &[
        (Counter, ORDERS_TOTAL, Some(Unit::Count), "Order requests by final outcome."),
        (Counter, TRADES_TOTAL, Some(Unit::Count), "Trades (one per maker fill)."),
        (Histogram, ORDER_LATENCY_SECONDS, Some(Unit::Seconds), "Order request received to reply."),
        (Histogram, MATCH_DURATION_SECONDS, Some(Unit::Seconds), "Engine time per market command."),
        (Counter, HTTP_REQUESTS_TOTAL, Some(Unit::Count), "HTTP requests by route pattern and status."),
        (Gauge, WS_CONNECTIONS, Some(Unit::Count), "Open WebSocket sessions."),
        (Counter, WS_MESSAGES_TOTAL, Some(Unit::Count), "WebSocket messages sent, by channel."),
        (Counter, WS_SLOW_CONSUMERS_TOTAL, Some(Unit::Count), "Sessions closed as slow consumers."),
        (Gauge, BOOK_ORDERS, Some(Unit::Count), "Orders resting in the book, by side."),
        (Gauge, OPEN_INTEREST, None, "Open interest (sum of long positions) in base units."),
        (Gauge, MARK_PRICE, None, "Mark price."),
        (Gauge, INDEX_PRICE, None, "Index price."),
        (Gauge, FUNDING_RATE, None, "Predicted funding rate of the next settlement."),
        (Counter, LIQUIDATIONS_TOTAL, Some(Unit::Count), "Positions liquidated (one per account liquidation and market)."),
        (Counter, ADL_TOTAL, Some(Unit::Count), "Auto-deleveraging steps."),
        (Gauge, INSURANCE_FUND_BALANCE, None, "Insurance fund wallet balance (margin asset)."),
        (Gauge, HEAP_BYTES, Some(Unit::Bytes), "Heap bytes in use (allocated and not freed; glibc mallinfo2), read at scrape time."),
        (Gauge, ACCOUNTS_IN_LIQUIDATION, None, "Accounts in liquidation now (a liquidation that cannot finish stays visible here)."),
        (Histogram, JOURNAL_COMMIT_SECONDS, Some(Unit::Seconds), "Journal transaction time (write + fsync)."),
        (Histogram, JOURNAL_BATCH_EVENTS, Some(Unit::Count), "Events per journal transaction."),
        (Counter, JOURNAL_EVENTS_TOTAL, Some(Unit::Count), "Events committed by the journal (durable at once, or with relaxed durability within 5 ms)."),
        (Gauge, RECOVERY_SECONDS, Some(Unit::Seconds), "Time the last start spent restoring state."),
        (Gauge, MARKET_IN_FLIGHT, Some(Unit::Count), "Commands in flight per market (entry gate)."),
        (Gauge, ACCOUNT_IN_FLIGHT, Some(Unit::Count), "Commands in flight through the AccountActor."),
        (Gauge, JOURNAL_QUEUE_DEPTH, Some(Unit::Count), "Requests waiting for the journal thread."),
        (Counter, JOURNAL_SYNCS_TOTAL, Some(Unit::Count), "Durable (fsynced) journal commits: every commit, or with relaxed durability about one per 5 ms under load."),
        (Gauge, WS_SUBSCRIBERS, Some(Unit::Count), "WebSocket subscriptions, by channel."),
        (Counter, OVERLOADED_TOTAL, Some(Unit::Count), "Commands refused with OVERLOADED at an entry gate."),
        (Counter, FUNDING_SETTLEMENTS_TOTAL, Some(Unit::Count), "Funding settlements applied."),
        (Counter, AUTH_REFUSALS_TOTAL, Some(Unit::Count), "Signed requests and admin requests refused by access control, by reason (unknown or revoked key, bad signature, expired key, address outside the allow-list, missing permission, replayed write, admin token unknown or read-only)."),
    ]
};

fn describe() {
    for &(kind, name, unit, help) in DESCRIPTIONS {
        metrics::with_recorder(|r| match kind {
            Kind::Counter => r.describe_counter(name.into(), unit, help.into()),
            Kind::Gauge => r.describe_gauge(name.into(), unit, help.into()),
            Kind::Histogram => r.describe_histogram(name.into(), unit, help.into()),
        });
    }
}
