//! Setting up a run against the server: the admin token, a health check, the markets with
//! their current marks, the trading accounts, and the index mover.
//!
//! # Invariants
//! - Only the public and admin HTTP routes are used, like any client.
//! - Every market's `mid` starts at its current mark and follows the index this module moves,
//!   so quotes stay near the price the server marks at.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use awc::http::Method;
use rust_decimal::Decimal;

use crate::client::{Account, Api};
use crate::traders::{Market, Rng};
use crate::Args;

/// What the traders trade with.
pub struct Setup {
    pub markets: Vec<Market>,
    pub makers: Vec<Account>,
    pub takers: Vec<Account>,
}

/// Check the server answers, read its markets and create the makers and takers.
pub async fn prepare(api: &Api, args: &Args) -> Result<Setup, String> {
    let health = api.get("/api/v1/health").await;
    if health.status != 200 {
        return Err(format!(
            "{} is not answering /api/v1/health (HTTP {} {})",
            args.url, health.status, health.body
        ));
    }
    let markets = markets(api, &args.markets).await?;
    let mut names: Vec<&str> = markets.iter().take(5).map(|m| m.symbol.as_str()).collect();
    if markets.len() > 5 {
        names.push("...");
    }
    eprintln!(
        "loadgen: {} market(s): {}{}; creating {} makers and {} takers ...",
        markets.len(),
        names.join(", "),
        if args.skew > 0.0 {
            format!(" (skew {}: the first market busiest)", args.skew)
        } else {
            String::new()
        },
        args.makers,
        args.takers
    );
    let makers = accounts(api, "maker", args.makers).await?;
    let takers = accounts(api, "taker", args.takers).await?;
    Ok(Setup {
        markets,
        makers,
        takers,
    })
}

/// `n` (at least one) funded accounts labelled `loadgen-<role>-<i>`.
async fn accounts(api: &Api, role: &str, n: usize) -> Result<Vec<Account>, String> {
    let mut out = Vec::new();
    for i in 0..n.max(1) {
        out.push(
            api.account(&format!("loadgen-{role}-{i}"), "1000000000")
                .await?,
        );
    }
    Ok(out)
}

pub fn admin_token(a: &Args) -> Result<String, String> {
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

/// Random-walk the index of every market once a second (oracle markets accept it; a market
/// that refuses a push, a `demo` or `book_ema` index, is not asked again).
pub async fn move_index(api: Api, markets: Vec<Market>, stop: Arc<AtomicBool>) {
    let mut rng = Rng(7);
    let mut refused = vec![false; markets.len()];
    while !stop.load(Ordering::Relaxed) {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        for (m, refused) in markets.iter().zip(refused.iter_mut()) {
            if *refused {
                continue;
            }
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
            } else if (400..500).contains(&r.status) {
                *refused = true;
            }
        }
    }
}
