//! The web terminal as the binary serves it: pages and assets embedded at compile time, with
//! ETag revalidation, cache policy and the Content-Security-Policy; every file a page or
//! module refers to is served; unknown files get the JSON 404 contract. (Behaviour in a real
//! browser is tested by `tests/browser/`, run by `.ci/browser.sh`.)

mod api_common;

use actix_web::http::header;
use actix_web::test::{self as atest, TestRequest};
use api_common::*;
use std::collections::BTreeSet;

/// Paths a file refers to: `src="/…"`, `href="/…"`, `from "./…"` / `from "/…"`.
fn references(text: &str, base_dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["src=\"", "href=\"", "from \""] {
        let mut rest = text;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            let end = rest.find('"').unwrap_or(0);
            let r = &rest[..end];
            if let Some(local) = r.strip_prefix("./") {
                out.push(format!("{base_dir}/{local}"));
            } else if r.starts_with('/') && !r.starts_with("//") {
                out.push(r.to_owned());
            }
        }
    }
    out
}

#[actix_web::test]
async fn pages_and_assets_are_served_with_cache_and_security_headers() {
    let h = harness();
    let app = atest::init_service(
        actix_web::App::new()
            .app_data(h.state.clone())
            .configure(perpx::api::routes),
    )
    .await;
    let mut seen = BTreeSet::new();
    let mut todo = vec!["/".to_owned(), "/admin".to_owned()];
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = atest::call_service(&app, TestRequest::get().uri(&path).to_request()).await;
        assert_eq!(res.status(), 200, "{path}");
        let hv = |n: header::HeaderName| {
            res.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (ctype, csp, cache, etag) = (
            hv(header::CONTENT_TYPE),
            hv(header::CONTENT_SECURITY_POLICY),
            hv(header::CACHE_CONTROL),
            hv(header::ETAG),
        );
        assert!(
            csp.starts_with("default-src 'self'; connect-src 'self' ws: wss:"),
            "{path}: {csp}"
        );
        assert!(etag.starts_with('"') && etag.len() > 10, "{path}: {etag}");
        if path.contains("/vendor/") {
            assert!(cache.contains("immutable"), "{path}: {cache}");
        } else {
            assert_eq!(cache, "no-cache", "{path}");
        }
        let body = atest::read_body(res).await;
        assert!(!body.is_empty(), "{path}");
        if path == "/" || path == "/admin" {
            assert!(ctype.starts_with("text/html"), "{path}: {ctype}");
        }
        if path.ends_with(".js") || path.ends_with(".mjs") {
            assert!(ctype.starts_with("text/javascript"), "{path}: {ctype}");
        }
        // Follow what HTML and first-party modules refer to (not into the vendored bundle).
        if !path.contains("/vendor/") && (ctype.starts_with("text/html") || path.ends_with(".js")) {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            for r in references(std::str::from_utf8(&body).unwrap(), dir) {
                if !r.starts_with("/api/") {
                    todo.push(r);
                }
            }
        }
        // Revalidation: the same ETag gets 304 and no body.
        let again = atest::call_service(
            &app,
            TestRequest::get()
                .uri(&path)
                .insert_header((header::IF_NONE_MATCH, etag.clone()))
                .to_request(),
        )
        .await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(atest::read_body(again).await.is_empty());
    }
    for must in [
        "/assets/js/trader.js",
        "/assets/js/admin.js",
        "/assets/css/terminal.css",
        "/assets/vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs",
        "/assets/vendor/lightweight-charts-5.2.1/LICENSE",
        "/assets/vendor/lightweight-charts-5.2.1/NOTICE",
    ] {
        assert!(seen.contains(must), "{must} is reachable from the pages");
    }
}

#[actix_web::test]
async fn unknown_files_get_the_json_404_and_head_works() {
    let h = harness();
    let app = atest::init_service(
        actix_web::App::new()
            .app_data(h.state.clone())
            .configure(perpx::api::routes),
    )
    .await;
    for path in ["/assets/nope.js", "/assets/../Cargo.toml", "/nope"] {
        let r = call(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(
            (r.status, r.code()),
            (404, "NOT_FOUND"),
            "{path}: {}",
            r.body
        );
    }
    let res = atest::call_service(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key(header::ETAG));
    // The API is untouched by the web routes.
    let r = call(&app, TestRequest::get().uri("/api/v1/health").to_request()).await;
    assert_eq!(r.status, 200);
}

/// The terminal's isolated-margin controls are in what the binary serves: the ticket's
/// Cross / Isolated switch, and the modules that call the two routes (`tests/browser/` clicks
/// them in a real browser).
#[actix_web::test]
async fn the_terminal_has_the_margin_mode_switch_and_isolated_margin_controls() {
    let h = harness();
    let app = atest::init_service(
        actix_web::App::new()
            .app_data(h.state.clone())
            .configure(perpx::api::routes),
    )
    .await;
    let text = |path: &'static str| {
        let app = &app;
        async move {
            let res = atest::call_service(app, TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), 200, "{path}");
            String::from_utf8(atest::read_body(res).await.to_vec()).unwrap()
        }
    };
    let page = text("/").await;
    for needle in [
        r#"id="f-margin-mode""#,
        r#"data-mode="cross""#,
        r#"data-mode="isolated""#,
    ] {
        assert!(page.contains(needle), "index.html has {needle}");
    }
    let form = text("/assets/js/orderform.js").await;
    assert!(
        form.contains("/margin_mode`"),
        "the switch calls PUT /margin_mode"
    );
    let tables = text("/assets/js/tables.js").await;
    for needle in [
        "/isolated_margin`",
        "isolated_wallet",
        "margin_mode",
        r#"action: "add""#,
        r#"action: "reduce""#,
    ] {
        assert!(tables.contains(needle), "tables.js has {needle}");
    }
}

/// The terminal's hedge-mode controls are in what the binary serves: the account panel's
/// One-way / Hedge switch, the ticket's Open / Close choice, and the modules that send
/// `position_side` and show each position's leg (`tests/browser/` clicks them in a real
/// browser).
#[actix_web::test]
async fn the_terminal_has_the_position_mode_switch_and_leg_controls() {
    let h = harness();
    let app = atest::init_service(
        actix_web::App::new()
            .app_data(h.state.clone())
            .configure(perpx::api::routes),
    )
    .await;
    let text = |path: &'static str| {
        let app = &app;
        async move {
            let res = atest::call_service(app, TestRequest::get().uri(path).to_request()).await;
            assert_eq!(res.status(), 200, "{path}");
            String::from_utf8(atest::read_body(res).await.to_vec()).unwrap()
        }
    };
    let page = text("/").await;
    for needle in [
        r#"id="f-position-mode""#,
        r#"data-pmode="one_way""#,
        r#"data-pmode="hedge""#,
        r#"id="f-pos-action""#,
        r#"data-pos-action="open""#,
        r#"data-pos-action="close""#,
    ] {
        assert!(page.contains(needle), "index.html has {needle}");
    }
    let form = text("/assets/js/orderform.js").await;
    for needle in [
        r#""/api/v1/account/position_mode""#,
        "body.position_side = leg",
        "POSITION_MODE_LOCKED",
    ] {
        assert!(form.contains(needle), "orderform.js has {needle}");
    }
    let tables = text("/assets/js/tables.js").await;
    for needle in ["positionSide: p.position_side", r#""Side""#] {
        assert!(tables.contains(needle), "tables.js has {needle}");
    }
    // The order closing a leg (the row's Close and the close dialog) is built in position.js.
    let position = text("/assets/js/position.js").await;
    assert!(
        position.contains("body.position_side = p.position_side"),
        "position.js sends the leg's position_side"
    );
}
