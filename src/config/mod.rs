//! `markets.toml` → a validated [`Config`], or a [`ConfigError`] naming the key and the market.
//!
//! The schema is the contract of `docs/CONFIG.md`: decimals are TOML strings, durations
//! strings like `"500ms"`, unknown keys are errors, omitted optional keys take the documented
//! defaults, and every market's risk tiers are checked and their maintenance amounts derived.

mod market;
mod raw;
mod replication;

pub use replication::ReplicationConfig;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::MarketSpec;
use crate::engine::ExchangeState;

/// Everything the server needs, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub server: ServerConfig,
    pub exchange: ExchangeConfig,
    pub markets: Vec<MarketSpec>,
    /// `[replication]` (NATS JetStream); `None`: a single node, nothing replicated.
    pub replication: Option<ReplicationConfig>,
}

/// `[server]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub durability: Durability,
    pub cores: Cores,
    pub recv_window: Duration,
    pub ws_queue: usize,
    pub snapshot_every: u64,
    /// Requests per second per API key (0: no limit).
    pub rate_limit_per_key: u32,
    /// Requests per second per client IP (0: no limit).
    pub rate_limit_per_ip: u32,
    /// The Binance dialect's own limits (Binance's defaults; each 0: off).
    pub binance_limits: BinanceLimits,
    /// History kept per account: closed orders, fills, income records.
    pub retention: crate::engine::Retention,
    /// Live API keys an account may hold.
    pub max_keys_per_account: usize,
    /// Proxies whose `X-Forwarded-For` names the client (empty: the header is ignored and
    /// the client is the TCP peer).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The Binance dialect's rate limits (`docs/BINANCE.md` "Rate limits"); 0 turns one off (its
/// header is still sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BinanceLimits {
    /// Request weight per client IP and minute.
    pub weight_per_minute: u32,
    /// Orders per account and 10 seconds.
    pub orders_per_10s: u32,
    /// Orders per account and minute.
    pub orders_per_minute: u32,
}

impl Default for BinanceLimits {
    /// Binance's defaults.
    fn default() -> Self {
        BinanceLimits {
            weight_per_minute: 2400,
            orders_per_10s: 300,
            orders_per_minute: 1200,
        }
    }
}

/// When a reply may be sent relative to the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Only after the request's events are fsynced (group commit).
    Immediate,
    /// After matching; a crash may lose the last few milliseconds.
    Relaxed,
    /// Only after the events are fsynced locally *and* acknowledged by the replication stream
    /// (JetStream: a quorum of its replicas). Needs `[replication]`.
    Replicated,
}

/// Which cores market arbiters are pinned to, round-robin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cores {
    Auto,
    List(Vec<usize>),
}

/// `[exchange]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeConfig {
    pub margin_asset: String,
    pub money_scale: u32,
    pub mark_interval: Duration,
    pub funding_sample_interval: Duration,
}

/// A configuration that cannot be used. `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {}{message}", market.as_ref().map(|m| format!("market {m}: ")).unwrap_or_default())]
    Syntax {
        path: String,
        line: usize,
        market: Option<String>,
        message: String,
    },
    #[error("{path}: {}key `{key}`: {reason}", market.as_ref().map(|m| format!("market {m}: ")).unwrap_or_default())]
    Invalid {
        path: String,
        market: Option<String>,
        key: String,
        reason: String,
    },
}

impl Config {
    /// The state of a fresh exchange with these markets (before journal entry 1).
    pub fn fresh_state(&self) -> ExchangeState {
        ExchangeState::fresh(
            &self.markets,
            self.exchange.money_scale,
            self.server.retention,
        )
    }

    /// Read and validate the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text, &shown)
    }

    /// Validate `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        raw::parse(text).map_err(|e| e.at(origin))
    }
}

/// An error before the file name is known.
#[derive(Debug)]
pub(crate) enum Problem {
    Syntax {
        line: usize,
        market: Option<String>,
        message: String,
    },
    Invalid {
        market: Option<String>,
        key: String,
        reason: String,
    },
}

impl Problem {
    pub(crate) fn invalid(market: Option<&str>, key: &str, reason: impl Into<String>) -> Problem {
        Problem::Invalid {
            market: market.map(str::to_owned),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    fn at(self, path: &str) -> ConfigError {
        let path = path.to_owned();
        match self {
            Problem::Syntax {
                line,
                market,
                message,
            } => ConfigError::Syntax {
                path,
                line,
                market,
                message,
            },
            Problem::Invalid {
                market,
                key,
                reason,
            } => ConfigError::Invalid {
                path,
                market,
                key,
                reason,
            },
        }
    }
}

/// A human-readable table of the markets a configuration would run.
pub fn summary(c: &Config) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "configuration ok: {} market(s), margin asset {}, listen {}, data dir {}, durability {:?}",
        c.markets.len(),
        c.exchange.margin_asset,
        c.server.listen,
        c.server.data_dir.display(),
        c.server.durability
    );
    let _ = writeln!(
        s,
        "{:<12} {:>8} {:>8} {:>10} {:>8} {:>8} {:>6} {:>8} {:>6}",
        "symbol", "tick", "lot", "min_qty", "maker", "taker", "maxlev", "index", "tiers"
    );
    for m in &c.markets {
        let _ = writeln!(
            s,
            "{:<12} {:>8} {:>8} {:>10} {:>8} {:>8} {:>6} {:>8} {:>6}",
            m.symbol,
            m.tick_size,
            m.lot_size,
            m.qty_decimal(m.min_quantity),
            m.maker_fee,
            m.taker_fee,
            m.max_leverage(),
            m.initial_index_price,
            m.risk_tiers.len()
        );
    }
    s
}
