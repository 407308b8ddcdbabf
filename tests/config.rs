//! `markets.toml` loading and validation (docs/CONFIG.md): the shipped file loads, defaults apply,
//! maintenance amounts are derived, and every bad input is refused with one line naming the
//! key and the market.

use perpx::config::{Config, Cores, Durability};
use rust_decimal::Decimal;

const MIN: &str = r#"
[[markets]]
symbol = "BTC-PERP"
base_asset = "BTC"
tick_size = "0.1"
lot_size = "0.001"
initial_index_price = "50000"
  [[markets.risk_tiers]]
  notional_cap = "50000"
  max_leverage = 100
  maintenance_margin_rate = "0.004"
  [[markets.risk_tiers]]
  notional_cap = "250000"
  max_leverage = 50
  maintenance_margin_rate = "0.005"
"#;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn err(text: &str) -> String {
    let e = Config::parse(text, "m.toml")
        .expect_err("config must be refused")
        .to_string();
    assert!(!e.contains('\n'), "error must be one line: {e}");
    e
}

#[test]
fn shipped_markets_toml_loads() {
    let c = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/markets.toml"
    )))
    .unwrap();
    let symbols: Vec<_> = c.markets.iter().map(|m| m.symbol.as_str()).collect();
    assert_eq!(symbols, ["BTC-PERP", "ETH-PERP", "SOL-PERP"]);
    assert_eq!(c.server.durability, Durability::Immediate);
    assert_eq!(c.server.cores, Cores::Auto);
}

#[test]
fn defaults_apply_and_maintenance_amounts_are_derived() {
    let c = Config::parse(MIN, "m.toml").unwrap();
    let m = &c.markets[0];
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.exchange.money_scale, 8);
    assert_eq!(c.exchange.mark_interval.as_millis(), 1000);
    assert_eq!(
        (m.min_notional, m.maker_fee, m.taker_fee),
        (d("5"), d("0.0002"), d("0.0005"))
    );
    assert_eq!(
        (m.default_leverage, m.max_open_orders, m.max_leverage()),
        (20, 200, 100)
    );
    assert_eq!(m.funding_interval.as_secs(), 8 * 3600);
    assert_eq!(m.quote_asset, "USDT");
    // amount(2) = 0 + 50000 × (0.005 − 0.004) = 50
    assert_eq!(m.risk_tiers[0].maintenance_amount, d("0"));
    assert_eq!(m.risk_tiers[1].maintenance_amount, d("50"));
}

#[test]
fn binance_tier_table_derives_the_published_amounts() {
    // Binance's BTCUSDT tiers; tier 4's amount is 16,300.
    let tiers = [
        ("50000", 125, "0.004"),
        ("250000", 100, "0.005"),
        ("1000000", 50, "0.01"),
        ("10000000", 20, "0.025"),
    ];
    let mut text = MIN
        .split("  [[markets.risk_tiers]]")
        .next()
        .unwrap()
        .to_owned();
    for (cap, lev, mmr) in tiers {
        text += &format!(
            "  [[markets.risk_tiers]]\n  notional_cap = \"{cap}\"\n  max_leverage = {lev}\n  maintenance_margin_rate = \"{mmr}\"\n"
        );
    }
    let c = Config::parse(&text, "m.toml").unwrap();
    let amounts: Vec<_> = c.markets[0]
        .risk_tiers
        .iter()
        .map(|t| t.maintenance_amount)
        .collect();
    assert_eq!(amounts, [d("0"), d("50"), d("1300"), d("16300")]);
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_market() {
    let e = err(&MIN.replace("lot_size =", "lot_sz = \"1\"\nlot_size ="));
    assert!(e.contains("market BTC-PERP") && e.contains("lot_sz"), "{e}");
    let e = err(&format!("[server]\nlisten_addr = \"x\"\n{MIN}"));
    assert!(e.contains("listen_addr"), "{e}");
}

#[test]
fn bad_values_name_key_and_market() {
    let cases = [
        (MIN.replace("\"0.1\"", "\"0\""), "tick_size"),
        (MIN.replace("\"0.1\"", "\"-0.1\""), "tick_size"),
        (
            MIN.replace(
                "lot_size = \"0.001\"",
                "lot_size = \"0.001\"\nmin_quantity = \"0.0015\"",
            ),
            "min_quantity",
        ),
        (
            MIN.replace("\"0.005\"", "\"0.003\""),
            "maintenance_margin_rate",
        ),
        (MIN.replace("\"250000\"", "\"40000\""), "notional_cap"),
        (
            MIN.replace("max_leverage = 50", "max_leverage = 100"),
            "max_leverage",
        ),
        (
            MIN.replace(
                "lot_size = \"0.001\"",
                "lot_size = \"0.001\"\ndefault_leverage = 101",
            ),
            "default_leverage",
        ),
        (
            MIN.replace(
                "lot_size = \"0.001\"",
                "lot_size = \"0.001\"\nmaker_fee = \"-0.001\"\ntaker_fee = \"0.0005\"",
            ),
            "maker_fee",
        ),
        (
            MIN.replace(
                "lot_size = \"0.001\"",
                "lot_size = \"0.001\"\nfunding_interval = \"soon\"",
            ),
            "funding_interval",
        ),
        (
            MIN.replace(
                "lot_size = \"0.001\"",
                "lot_size = \"0.001\"\nindex_source = \"magic\"",
            ),
            "index_source",
        ),
        // Tick and lot decimals together beyond money_scale: notionals would not be money.
        (format!("[exchange]\nmoney_scale = 3\n{MIN}"), "tick_size"),
        (
            MIN.replace(
                "lot_size = \"0.001\"",
                "lot_size = \"0.001\"\nmax_quantity = \"1000000000000000\"",
            ),
            "max_quantity",
        ),
    ];
    for (text, key) in cases {
        let e = err(&text);
        assert!(
            e.contains("market BTC-PERP") && e.contains(key),
            "expected {key}: {e}"
        );
    }
}

#[test]
fn history_retention_is_configurable() {
    let c = perpx::config::Config::parse(MIN, "t").unwrap();
    assert_eq!(c.server.retention, perpx::engine::Retention::default());
    let c = perpx::config::Config::parse(
        &format!("[server]\nkeep_closed_orders = 10\nkeep_fills = 20\nkeep_income = 30\n{MIN}"),
        "t",
    )
    .unwrap();
    assert_eq!(
        c.server.retention,
        perpx::engine::Retention {
            closed_orders: 10,
            fills: 20,
            income: 30
        }
    );
    let e = err(&format!("[server]\nkeep_fills = 0\n{MIN}"));
    assert!(e.contains("server.keep_fills"), "{e}");
}

#[test]
fn access_settings_have_defaults_and_are_checked() {
    let c = perpx::config::Config::parse(MIN, "t").unwrap();
    assert_eq!(c.server.max_keys_per_account, 30);
    assert!(
        c.server.trusted_proxies.is_empty(),
        "X-Forwarded-For is ignored by default"
    );
    let c = perpx::config::Config::parse(
        &format!("[server]\nmax_keys_per_account = 5\ntrusted_proxies = [\"10.1.2.3/8\", \"::1\"]\n{MIN}"),
        "t",
    )
    .unwrap();
    assert_eq!(c.server.max_keys_per_account, 5);
    let shown: Vec<String> = c
        .server
        .trusted_proxies
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(shown, ["10.0.0.0/8", "::1/128"]);
    let e = err(&format!("[server]\nmax_keys_per_account = 0\n{MIN}"));
    assert!(e.contains("server.max_keys_per_account"), "{e}");
    let e = err(&format!("[server]\ntrusted_proxies = [\"proxy\"]\n{MIN}"));
    assert!(
        e.contains("server.trusted_proxies") && e.contains("\"proxy\""),
        "{e}"
    );
}

#[test]
fn decimals_must_be_strings_and_symbols_unique() {
    let e = err(&MIN.replace("tick_size = \"0.1\"", "tick_size = 0.1"));
    assert!(
        e.contains("line 5") && e.contains("market BTC-PERP") && e.contains("TOML strings"),
        "{e}"
    );
    let e = err(&format!("{MIN}{MIN}"));
    assert!(e.contains("duplicate symbol"), "{e}");
    let e = err("[server]\ndurability = \"maybe\"\n");
    assert!(e.contains("server.durability"), "{e}");
    let e = err("");
    assert!(e.contains("markets"), "{e}");
}

#[test]
fn index_sources_parse_and_the_shipped_markets_are_live_without_a_feed() {
    use perpx::domain::IndexSource;
    for (word, source) in [
        ("oracle", IndexSource::Oracle),
        ("book_ema", IndexSource::BookEma),
        ("demo", IndexSource::Demo),
    ] {
        let text = MIN.replace(
            "lot_size = \"0.001\"",
            &format!("lot_size = \"0.001\"\nindex_source = \"{word}\""),
        );
        assert_eq!(
            Config::parse(&text, "m.toml").unwrap().markets[0].index_source,
            source
        );
    }
    let e = err(&MIN.replace(
        "lot_size = \"0.001\"",
        "lot_size = \"0.001\"\nindex_source = \"dmeo\"",
    ));
    assert!(
        e.contains("market BTC-PERP") && e.contains("index_source") && e.contains("\"demo\""),
        "{e}"
    );
    // The shipped file needs no price feed: no market uses an operator-fed oracle index, which
    // would refuse orders with INDEX_STALE a minute after start.
    let shipped = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/markets.toml"
    )))
    .unwrap();
    let sources: Vec<_> = shipped.markets.iter().map(|m| m.index_source).collect();
    assert_eq!(
        sources,
        [IndexSource::Demo, IndexSource::Demo, IndexSource::BookEma]
    );
}

#[test]
fn binance_symbols_default_to_base_plus_margin_asset_and_are_validated() {
    let c = Config::parse(MIN, "m.toml").unwrap();
    assert_eq!(c.markets[0].binance_symbol, "BTCUSDT");
    let shipped = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/markets.toml"
    )))
    .unwrap();
    let names: Vec<_> = shipped
        .markets
        .iter()
        .map(|m| m.binance_symbol.as_str())
        .collect();
    assert_eq!(names, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]);

    let set = |v: &str| {
        MIN.replace(
            "lot_size = \"0.001\"",
            &format!("lot_size = \"0.001\"\nbinance_symbol = \"{v}\""),
        )
    };
    let c = Config::parse(&set("1000BTCUSDT"), "m.toml").unwrap();
    assert_eq!(c.markets[0].binance_symbol, "1000BTCUSDT");
    for bad in ["btcusdt", "BTC-USDT", "", "ABCDEFGHIJKLMNOPQRSTU"] {
        let e = err(&set(bad));
        assert!(
            e.contains("market BTC-PERP") && e.contains("binance_symbol"),
            "{bad:?}: {e}"
        );
    }
    // A default that is not a valid Binance name asks for an explicit one.
    let e = err(&MIN.replace("base_asset = \"BTC\"", "base_asset = \"btc\""));
    assert!(
        e.contains("binance_symbol") && e.contains("set binance_symbol"),
        "{e}"
    );
    // Two markets may not share a Binance name, even when only one sets it.
    let second = MIN.replace("BTC-PERP", "BTC-PERP-2").replace(
        "lot_size = \"0.001\"",
        "lot_size = \"0.001\"\nbinance_symbol = \"BTCUSDT\"",
    );
    let e = err(&format!("{MIN}{second}"));
    assert!(
        e.contains("market BTC-PERP-2") && e.contains("binance_symbol") && e.contains("BTC-PERP"),
        "{e}"
    );
}

#[test]
fn replication_loss_window_and_auto_promote() {
    let base = format!("{MIN}\n[replication]\nnats_url = \"nats://127.0.0.1:4222\"\n");
    let c = Config::parse(&base, "m.toml").unwrap();
    let r = c.replication.unwrap();
    assert_eq!(r.max_lag, std::time::Duration::from_millis(100));
    assert_eq!(r.max_lag_entries, 20_000);
    assert_eq!(
        r.auto_promote, None,
        "automatic promotion is off by default"
    );
    let c = Config::parse(
        &format!("{base}max_lag = \"250ms\"\nmax_lag_entries = 0\nauto_promote = \"3s\"\n"),
        "m.toml",
    )
    .unwrap();
    let r = c.replication.unwrap();
    assert_eq!(r.max_lag, std::time::Duration::from_millis(250));
    assert_eq!(r.max_lag_entries, 0);
    assert_eq!(r.auto_promote, Some(std::time::Duration::from_secs(3)));
    let off = Config::parse(&format!("{base}auto_promote = \"off\"\n"), "m.toml").unwrap();
    assert_eq!(off.replication.unwrap().auto_promote, None);
    let e = err(&format!("{base}auto_promote = \"200ms\"\n"));
    assert!(
        e.contains("replication.auto_promote") && e.contains("at least 1s"),
        "{e}"
    );
    let e = err(&format!("{base}max_lag = \"0s\"\n"));
    assert!(e.contains("replication.max_lag"), "{e}");
}
