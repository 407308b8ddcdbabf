//! Counting what happened and printing it: latency histograms (µs), outcomes by error code,
//! WebSocket delivery, a readable table and a JSON summary for scripts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Outcomes that are normal market behaviour, not failures.
pub const EXPECTED: [&str; 4] = [
    "OK",
    "ORDER_NOT_OPEN",
    "ORDER_NOT_FOUND",
    "POST_ONLY_WOULD_TAKE",
];

/// Live counters for the progress bar, shared by all workers.
#[derive(Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    pub ws_messages: AtomicU64,
}

impl Progress {
    pub fn get(&self, c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// What one worker measured.
pub struct Stats {
    pub latency_us: Histogram<u64>,
    pub codes: BTreeMap<String, u64>,
    pub sent: u64,
    pub orders_ok: u64,
    /// Open loop: requests not sent because the client had too many in flight.
    pub saturated: u64,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            // expect: constant, valid bounds.
            latency_us: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds"),
            codes: BTreeMap::new(),
            sent: 0,
            orders_ok: 0,
            saturated: 0,
        }
    }
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        let _ = self.latency_us.add(&o.latency_us);
        for (k, v) in &o.codes {
            *self.codes.entry(k.clone()).or_default() += v;
        }
        self.sent += o.sent;
        self.orders_ok += o.orders_ok;
        self.saturated += o.saturated;
    }

    /// Answers that mean something went wrong. Excluded: what a real trader meets in a
    /// moving market (cancelling or amending a quote that just filled, a post-only quote that
    /// would now cross, a market order against an empty side expiring is a 201 anyway).
    pub fn errors(&self) -> u64 {
        self.codes
            .iter()
            .filter(|(k, _)| !EXPECTED.contains(&k.as_str()))
            .map(|(_, v)| v)
            .sum()
    }
}

/// WebSocket subscribers' totals.
pub struct WsStats {
    pub subscribers: usize,
    /// Received during the load (from the clock's start to the load's end).
    pub messages: u64,
    /// Received after the load, until no more came ([`WsStats::drain`]).
    pub after_load: u64,
    /// How long messages kept coming after the load.
    pub drain: std::time::Duration,
    pub trades: u64,
    pub delivery_ms: Histogram<u64>,
    /// Sessions the server closed with 1008 (slow consumer).
    pub slow_consumer_closes: u64,
    /// Sessions the server closed for another reason.
    pub other_closes: u64,
    /// Sessions cut by a read error or without a close frame.
    pub errors: u64,
    pub targets: Vec<WsTarget>,
}

/// One server the subscribers sat on.
pub struct WsTarget {
    pub url: String,
    pub subscribers: usize,
    pub messages: u64,
    pub after_load: u64,
    pub slow_consumer_closes: u64,
    pub other_closes: u64,
    pub errors: u64,
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

pub fn summary(mode: &str, secs: f64, s: &Stats, ws: &WsStats) -> Value {
    let h = &s.latency_us;
    let completed = h.len();
    json!({
        "mode": mode,
        "seconds": secs,
        "requests_sent": s.sent,
        "requests_completed": completed,
        "requests_per_second": completed as f64 / secs,
        "orders_ok": s.orders_ok,
        "orders_per_second": s.orders_ok as f64 / secs,
        "client_saturated": s.saturated,
        "latency_ms": {"p50": ms(h, 0.5), "p90": ms(h, 0.9), "p99": ms(h, 0.99), "p999": ms(h, 0.999), "max": h.max() as f64 / 1000.0},
        "outcomes": s.codes,
        "errors": s.errors(),
        "ws": ws_summary(secs, ws),
    })
}

fn ws_summary(secs: f64, ws: &WsStats) -> Value {
    let targets: Vec<Value> = ws
        .targets
        .iter()
        .map(|t| {
            json!({
                "url": t.url,
                "subscribers": t.subscribers,
                "messages": t.messages,
                "messages_per_second": t.messages as f64 / secs,
                "messages_after_load": t.after_load,
                "slow_consumer_closes": t.slow_consumer_closes,
                "other_closes": t.other_closes,
                "errors": t.errors,
            })
        })
        .collect();
    json!({
        "subscribers": ws.subscribers,
        "messages": ws.messages,
        "messages_per_second": ws.messages as f64 / secs,
        "messages_after_load": ws.after_load,
        "drain_seconds": ws.drain.as_secs_f64(),
        "trades": ws.trades,
        "delivery_ms": {"p50": ws.delivery_ms.value_at_quantile(0.5), "p99": ws.delivery_ms.value_at_quantile(0.99), "max": ws.delivery_ms.max()},
        "slow_consumer_closes": ws.slow_consumer_closes,
        "other_closes": ws.other_closes,
        "errors": ws.errors,
        "disconnects": ws.slow_consumer_closes + ws.other_closes + ws.errors,
        "targets": targets,
    })
}

pub fn print(v: &Value) {
    let l = &v["latency_ms"];
    println!(
        "\n perpx loadgen summary ({}, {:.1} s)",
        v["mode"].as_str().unwrap_or(""),
        v["seconds"].as_f64().unwrap_or(0.0)
    );
    println!(" ─────────────────────────────────────────────");
    println!(" requests sent        {:>12}", v["requests_sent"]);
    println!(
        " requests completed   {:>12}   {:>10.0} /s",
        v["requests_completed"],
        v["requests_per_second"].as_f64().unwrap_or(0.0)
    );
    println!(
        " orders accepted      {:>12}   {:>10.0} /s",
        v["orders_ok"],
        v["orders_per_second"].as_f64().unwrap_or(0.0)
    );
    if v["client_saturated"].as_u64().unwrap_or(0) > 0 {
        println!(" not sent (client saturated) {:>5}", v["client_saturated"]);
    }
    println!(
        " latency ms           p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        l["p50"].as_f64().unwrap_or(0.0),
        l["p90"].as_f64().unwrap_or(0.0),
        l["p99"].as_f64().unwrap_or(0.0),
        l["p999"].as_f64().unwrap_or(0.0),
        l["max"].as_f64().unwrap_or(0.0)
    );
    println!(" outcomes:");
    if let Some(o) = v["outcomes"].as_object() {
        for (k, n) in o {
            println!("   {k:<28} {n:>10}");
        }
    }
    let w = &v["ws"];
    if w["subscribers"].as_u64().unwrap_or(0) > 0 {
        print_ws(w);
    }
}

fn print_ws(w: &Value) {
    println!(
        " websocket            {} subscribers, {} messages received during the load ({:.0}/s), {} more within {:.1} s after it",
        w["subscribers"],
        w["messages"],
        w["messages_per_second"].as_f64().unwrap_or(0.0),
        w["messages_after_load"],
        w["drain_seconds"].as_f64().unwrap_or(0.0),
    );
    println!(
        " websocket trades     {}, delivery ms p50 {} p99 {} max {}",
        w["trades"], w["delivery_ms"]["p50"], w["delivery_ms"]["p99"], w["delivery_ms"]["max"],
    );
    println!(
        " websocket closes     slow consumer {}  other {}  errors {}",
        w["slow_consumer_closes"], w["other_closes"], w["errors"]
    );
    let targets = w["targets"].as_array().map_or(&[][..], |t| t.as_slice());
    if targets.len() > 1 {
        for t in targets {
            println!(
                "   {:<32} {:>5} subscribers {:>12} messages ({:>9.0}/s) + {} after  slow consumer {}  other {}  errors {}",
                t["url"].as_str().unwrap_or(""),
                t["subscribers"],
                t["messages"],
                t["messages_per_second"].as_f64().unwrap_or(0.0),
                t["messages_after_load"],
                t["slow_consumer_closes"],
                t["other_closes"],
                t["errors"]
            );
        }
    }
}
