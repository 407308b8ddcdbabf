//! `grafana/`: the dashboards are valid as far as checkable without Grafana (panels have a
//! datasource, targets with `expr` and `refId`, a title, a type and a grid position; ids are
//! unique), and every metric name their PromQL uses is rendered by `GET /metrics` of a fresh
//! exchange. Names are extracted from the expressions by a small tokenizer, not listed here.

mod api_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use api_common::*;
use serde_json::Value;

fn dashboards() -> Vec<(PathBuf, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/dashboards");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("grafana/dashboards exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let v = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
            out.push((path, v));
        }
    }
    assert!(!out.is_empty(), "no dashboards in {}", dir.display());
    out
}

/// Every panel, including those nested in rows.
fn panels(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in v["panels"].as_array().into_iter().flatten() {
        if p["type"] == "row" {
            out.extend(p["panels"].as_array().into_iter().flatten());
        } else {
            out.push(p);
        }
    }
    out
}

const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
];

/// The metric names a PromQL expression selects: identifiers outside `{...}`, `[...]` and
/// strings that are not function calls, keywords or grouping labels.
fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let (mut i, mut out) = (0, Vec::new());
    let mut grouping = false; // inside `by (...)` / `without (...)` / `on (...)`
    let mut last_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '{' | '[' | '"' | '\'' | '`' => {
                let close = match c {
                    '{' => '}',
                    '[' => ']',
                    q => q,
                };
                i += 1;
                while i < chars.len() && chars[i] != close {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '(' => {
                grouping = matches!(
                    last_word.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                );
                last_word.clear();
                i += 1;
            }
            ')' => {
                grouping = false;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':' | '$'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                let next: String = chars[j..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                // A function call, or an aggregation with its grouping first (`sum by (le) (...)`).
                let call =
                    (j < chars.len() && chars[j] == '(') || next == "by" || next == "without";
                let keyword = KEYWORDS.contains(&word.to_ascii_lowercase().as_str());
                if !call && !keyword && !grouping && !word.starts_with('$') {
                    out.push(word.clone());
                }
                last_word = word;
            }
            c if c.is_ascii_digit() || c == '.' => {
                // Numbers (and durations like 5m outside brackets) are not names.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

#[test]
fn the_tokenizer_finds_metric_names_only() {
    let e = r#"histogram_quantile(0.99, sum by (le, market) (rate(perpx_x_bucket{status=~"5.."}[5m]))) / on (market) perpx_y + 2"#;
    assert_eq!(metric_names(e), ["perpx_x_bucket", "perpx_y"]);
    assert_eq!(metric_names("perpx_z"), ["perpx_z"]);
}

#[test]
fn dashboards_are_grafana_shaped() {
    for (path, d) in dashboards() {
        let at = path.display();
        for key in ["title", "uid", "schemaVersion", "panels"] {
            assert!(!d[key].is_null(), "{at}: dashboard without `{key}`");
        }
        let mut ids = BTreeSet::new();
        let all = panels(&d);
        assert!(
            all.len() >= 10,
            "{at}: an overview has the panels the issue lists"
        );
        for p in all {
            let title = p["title"].as_str().unwrap_or("");
            assert!(!title.is_empty(), "{at}: a panel without a title: {p}");
            assert!(p["type"].is_string(), "{at}: {title}: no type");
            assert!(
                p["datasource"]["uid"].is_string(),
                "{at}: {title}: no datasource uid"
            );
            for k in ["x", "y", "w", "h"] {
                assert!(p["gridPos"][k].is_u64(), "{at}: {title}: gridPos.{k}");
            }
            assert!(
                ids.insert(p["id"].as_u64().expect("panel id")),
                "{at}: duplicate id"
            );
            let targets = p["targets"].as_array().filter(|t| !t.is_empty());
            for t in targets.unwrap_or_else(|| panic!("{at}: {title}: no targets")) {
                assert!(
                    t["expr"].as_str().is_some_and(|e| !e.is_empty()),
                    "{at}: {title}"
                );
                assert!(
                    t["refId"].is_string(),
                    "{at}: {title}: target without refId"
                );
            }
        }
    }
}

#[actix_web::test]
async fn every_metric_a_dashboard_queries_is_exported() {
    let h = harness();
    let app = app!(h);
    let res = actix_web::test::call_service(
        &app,
        actix_web::test::TestRequest::get()
            .uri("/metrics")
            .to_request(),
    )
    .await;
    let body = actix_web::test::read_body(res).await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    let exported: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut used = BTreeSet::new();
    for (path, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                for name in metric_names(t["expr"].as_str().unwrap_or("")) {
                    assert!(
                        exported.contains(name.as_str()),
                        "{}: panel {:?} queries {name}, which /metrics does not export",
                        path.display(),
                        p["title"]
                    );
                    used.insert(name);
                }
            }
        }
    }
    // The dashboard covers every required family (through the series they export).
    for family in perpx::telemetry::metrics::REQUIRED {
        assert!(
            used.iter().any(|u| u == family
                || u.strip_prefix(family)
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))),
            "no panel shows {family}"
        );
    }
}

/// Hundreds of markets: a `market` selector or grouping only on the families that carry the
/// label (`PER_MARKET`, docs/OPERATIONS.md §8; on an aggregated family it would silently show
/// one unlabelled series), and the dashboard's `market` variable reads one of them.
#[test]
fn market_filters_use_the_per_market_families() {
    use perpx::telemetry::metrics::PER_MARKET;
    let family = |n: &str| {
        ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| n.strip_suffix(s))
            .unwrap_or(n)
            .to_owned()
    };
    for (path, d) in dashboards() {
        let at = path.display();
        let vars = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let var = vars
            .iter()
            .find(|v| v["name"] == "market")
            .unwrap_or_else(|| panic!("{at}: no `market` variable"));
        let q = var["query"]["query"].as_str().expect("variable query");
        assert!(
            PER_MARKET.iter().any(|f| q.contains(f)),
            "{at}: the market variable reads {q}"
        );
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap_or("");
                if !expr.contains("market") {
                    continue;
                }
                for n in metric_names(expr) {
                    assert!(
                        PER_MARKET.contains(&family(&n).as_str()),
                        "{at}: `{expr}` selects or groups by market on {n}, which has no market label"
                    );
                }
            }
        }
    }
}
