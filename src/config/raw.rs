//! The file as written (serde, strings for decimals and durations) and its conversion into
//! validated values. Every check names the key and, inside `[[markets]]`, the market.

use std::time::Duration;

use serde::Deserialize;

use super::market::{market, RawMarket};
use super::{Config, Cores, Durability, ExchangeConfig, Problem, ServerConfig};
use crate::domain::MarketSpec;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    exchange: RawExchange,
    #[serde(default)]
    markets: Vec<RawMarket>,
    replication: Option<super::replication::RawReplication>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    data_dir: Option<String>,
    durability: Option<String>,
    cores: Option<RawCores>,
    recv_window: Option<String>,
    ws_queue: Option<u64>,
    snapshot_every: Option<u64>,
    rate_limit_per_key: Option<u32>,
    rate_limit_per_ip: Option<u32>,
    binance_weight_per_minute: Option<u32>,
    binance_orders_per_10s: Option<u32>,
    binance_orders_per_minute: Option<u32>,
    keep_closed_orders: Option<u64>,
    keep_fills: Option<u64>,
    keep_income: Option<u64>,
    max_keys_per_account: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCores {
    Word(String),
    List(Vec<usize>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    margin_asset: Option<String>,
    money_scale: Option<u32>,
    mark_interval: Option<String>,
    funding_sample_interval: Option<String>,
}

pub(super) fn parse(text: &str) -> Result<Config, Problem> {
    let raw: RawFile = toml::from_str(text).map_err(|e| syntax(text, &e))?;
    let exchange = exchange(raw.exchange)?;
    let server = server(raw.server)?;
    let replication = raw
        .replication
        .map(|r| {
            super::replication::replication(
                r,
                server.listen,
                server.durability == Durability::Replicated,
            )
        })
        .transpose()?;
    if server.durability == Durability::Replicated && replication.is_none() {
        return Err(Problem::invalid(
            None,
            "server.durability",
            "\"replicated\" needs a [replication] section (the stream to replicate to)",
        ));
    }
    if raw.markets.is_empty() {
        return Err(Problem::invalid(
            None,
            "markets",
            "at least one [[markets]] entry is required",
        ));
    }
    let mut markets: Vec<MarketSpec> = Vec::with_capacity(raw.markets.len());
    for m in raw.markets {
        let spec = market(m, &exchange.margin_asset, exchange.money_scale)?;
        if markets.iter().any(|s| s.symbol == spec.symbol) {
            return Err(Problem::invalid(
                Some(&spec.symbol),
                "symbol",
                "duplicate symbol",
            ));
        }
        if let Some(other) = markets
            .iter()
            .find(|s| s.binance_symbol == spec.binance_symbol)
        {
            return Err(Problem::invalid(
                Some(&spec.symbol),
                "binance_symbol",
                format!(
                    "{} is already the Binance name of {}",
                    spec.binance_symbol, other.symbol
                ),
            ));
        }
        markets.push(spec);
    }
    Ok(Config {
        server,
        exchange,
        markets,
        replication,
    })
}

/// A TOML or schema error with its line and, when inside `[[markets]]`, the market's symbol.
fn syntax(text: &str, e: &toml::de::Error) -> Problem {
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let market_index = before
        .lines()
        .filter(|l| l.trim_start().starts_with("[[markets]]"))
        .count();
    let market = market_index.checked_sub(1).and_then(|i| {
        let doc: toml::Table = toml::from_str(text).ok()?;
        let m = doc.get("markets")?.as_array()?.get(i)?;
        Some(m.get("symbol")?.as_str()?.to_owned())
    });
    let mut message = e.message().replace('\n', " ");
    if message.contains("expected a string") {
        message.push_str(" (decimals and durations are TOML strings, e.g. \"0.1\", \"5s\")");
    }
    Problem::Syntax {
        line,
        market,
        message,
    }
}

/// The `[server]` section, one checked key after another: a flat table of keys, longer than
/// a function should be on purpose.
fn server(r: RawServer) -> Result<ServerConfig, Problem> {
    let bad = |key: &str, why: String| Problem::invalid(None, &format!("server.{key}"), why);
    let listen = r.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen = listen.parse().map_err(|_| {
        bad(
            "listen",
            format!("{listen:?} is not an address like 127.0.0.1:8080"),
        )
    })?;
    let durability = match r.durability.as_deref().unwrap_or("immediate") {
        "immediate" => Durability::Immediate,
        "relaxed" => Durability::Relaxed,
        "replicated" => Durability::Replicated,
        other => {
            return Err(bad(
                "durability",
                format!("{other:?}: expected \"immediate\", \"relaxed\" or \"replicated\""),
            ))
        }
    };
    let cores = match r.cores {
        None => Cores::Auto,
        Some(RawCores::Word(w)) if w == "auto" => Cores::Auto,
        Some(RawCores::Word(w)) => {
            return Err(bad(
                "cores",
                format!("{w:?}: expected \"auto\" or a list like [0, 1]"),
            ))
        }
        Some(RawCores::List(l)) if l.is_empty() => {
            return Err(bad("cores", "the list is empty".into()))
        }
        Some(RawCores::List(l)) => Cores::List(l),
    };
    let ws_queue = r.ws_queue.unwrap_or(4096);
    if ws_queue == 0 {
        return Err(bad("ws_queue", "must be at least 1".into()));
    }
    let snapshot_every = r.snapshot_every.unwrap_or(100_000);
    if snapshot_every == 0 {
        return Err(bad("snapshot_every", "must be at least 1".into()));
    }
    let defaults = crate::engine::Retention::default();
    let keep = |key: &str, v: Option<u64>, default: usize| match v {
        None => Ok(default),
        Some(0) => Err(bad(key, "must be at least 1".into())),
        Some(n) => usize::try_from(n).map_err(|_| bad(key, "is too large".into())),
    };
    let retention = crate::engine::Retention {
        closed_orders: keep(
            "keep_closed_orders",
            r.keep_closed_orders,
            defaults.closed_orders,
        )?,
        fills: keep("keep_fills", r.keep_fills, defaults.fills)?,
        income: keep("keep_income", r.keep_income, defaults.income)?,
    };
    let (max_keys_per_account, trusted_proxies) =
        access(r.max_keys_per_account, r.trusted_proxies.as_deref())?;
    Ok(ServerConfig {
        max_keys_per_account,
        trusted_proxies,
        retention,
        listen,
        data_dir: r.data_dir.unwrap_or_else(|| "data".into()).into(),
        durability,
        cores,
        recv_window: duration(None, "server.recv_window", r.recv_window.as_deref(), "5s")?,
        ws_queue: ws_queue as usize,
        snapshot_every,
        rate_limit_per_key: r.rate_limit_per_key.unwrap_or(2000),
        rate_limit_per_ip: r.rate_limit_per_ip.unwrap_or(10_000),
        binance_limits: {
            let d = super::BinanceLimits::default();
            super::BinanceLimits {
                weight_per_minute: r.binance_weight_per_minute.unwrap_or(d.weight_per_minute),
                orders_per_10s: r.binance_orders_per_10s.unwrap_or(d.orders_per_10s),
                orders_per_minute: r.binance_orders_per_minute.unwrap_or(d.orders_per_minute),
            }
        },
    })
}

/// `max_keys_per_account` (1..=1000, default 30) and `trusted_proxies` (canonical networks).
fn access(
    max_keys: Option<u64>,
    proxies: Option<&[String]>,
) -> Result<(usize, Vec<ipnet::IpNet>), Problem> {
    let max_keys_per_account = match max_keys {
        None => crate::engine::access::DEFAULT_MAX_KEYS,
        Some(n @ 1..=1000) => n as usize,
        Some(_) => {
            return Err(Problem::invalid(
                None,
                "server.max_keys_per_account",
                "must be between 1 and 1000",
            ))
        }
    };
    let trusted_proxies = proxies
        .unwrap_or_default()
        .iter()
        .map(|t| {
            crate::engine::access::records::canonical_net(t)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| {
                    Problem::invalid(
                        None,
                        "server.trusted_proxies",
                        format!("{t:?} is not an IP address or CIDR block"),
                    )
                })
        })
        .collect::<Result<Vec<ipnet::IpNet>, Problem>>()?;
    Ok((max_keys_per_account, trusted_proxies))
}

fn exchange(r: RawExchange) -> Result<ExchangeConfig, Problem> {
    let margin_asset = r.margin_asset.unwrap_or_else(|| "USDT".into());
    if margin_asset.is_empty() {
        return Err(Problem::invalid(
            None,
            "exchange.margin_asset",
            "must not be empty",
        ));
    }
    let money_scale = r.money_scale.unwrap_or(8);
    if money_scale > 18 {
        return Err(Problem::invalid(
            None,
            "exchange.money_scale",
            "must be between 0 and 18",
        ));
    }
    Ok(ExchangeConfig {
        margin_asset,
        money_scale,
        mark_interval: duration(
            None,
            "exchange.mark_interval",
            r.mark_interval.as_deref(),
            "1s",
        )?,
        funding_sample_interval: duration(
            None,
            "exchange.funding_sample_interval",
            r.funding_sample_interval.as_deref(),
            "5s",
        )?,
    })
}

pub(super) fn duration(
    market: Option<&str>,
    key: &str,
    v: Option<&str>,
    default: &str,
) -> Result<Duration, Problem> {
    let s = v.unwrap_or(default);
    let d = humantime::parse_duration(s).map_err(|e| {
        Problem::invalid(
            market,
            key,
            format!("{s:?} is not a duration like \"5s\": {e}"),
        )
    })?;
    if d.is_zero() {
        return Err(Problem::invalid(market, key, "must be longer than zero"));
    }
    Ok(d)
}
