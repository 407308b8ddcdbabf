//! The one table of what each signed route needs (docs/API.md "Permissions"): every route an
//! API key can call, native and Binance, by method and route pattern. Authentication looks the
//! request's route up here ([`required`]); a signed route missing from the table is refused
//! (`500`, fail closed), so a new route cannot slip through unchecked — and
//! `tests/permissions.rs` calls every entry with every permission set.

use std::sync::LazyLock;

use actix_web::http::Method;
use actix_web::HttpRequest;
use rustc_hash::FxHashMap;

use crate::engine::access::Permissions;

const R: Permissions = Permissions::READ;
const T: Permissions = Permissions::TRADE;
const W: Permissions = Permissions::WITHDRAW;

/// The native WebSocket's `auth` (private channels): not a route of its own.
pub const WS_AUTH: Permissions = Permissions::READ;

/// (method, route pattern, permission). Patterns are the routes' labels (`api::RouteLabel`).
pub const TABLE: &[(&str, &str, Permissions)] = &[
    // -- native
    ("POST", "/api/v1/markets/{symbol}/orders", T),
    ("GET", "/api/v1/markets/{symbol}/orders", R),
    ("DELETE", "/api/v1/markets/{symbol}/orders", T),
    (
        "GET",
        "/api/v1/markets/{symbol}/orders/by-client-id/{client_order_id}",
        R,
    ),
    ("GET", "/api/v1/markets/{symbol}/orders/{order_id}", R),
    ("DELETE", "/api/v1/markets/{symbol}/orders/{order_id}", T),
    ("PATCH", "/api/v1/markets/{symbol}/orders/{order_id}", T),
    ("PUT", "/api/v1/markets/{symbol}/leverage", T),
    ("POST", "/api/v1/markets/{symbol}/tpsl", T),
    ("PUT", "/api/v1/markets/{symbol}/margin_mode", T),
    ("POST", "/api/v1/markets/{symbol}/isolated_margin", T),
    ("GET", "/api/v1/account", R),
    ("PUT", "/api/v1/account/position_mode", T),
    ("GET", "/api/v1/account/fills", R),
    ("GET", "/api/v1/account/open_orders", R),
    ("GET", "/api/v1/account/income", R),
    ("POST", "/api/v1/account/withdrawals", W),
    ("GET", "/api/v1/keys", R),
    ("POST", "/api/v1/keys", T),
    ("DELETE", "/api/v1/keys/{key_id}", T),
    // -- Binance: TRADE
    ("POST", "/fapi/v1/order", T),
    ("PUT", "/fapi/v1/order", T),
    ("DELETE", "/fapi/v1/order", T),
    ("POST", "/fapi/v1/batchOrders", T),
    ("PUT", "/fapi/v1/batchOrders", T),
    ("DELETE", "/fapi/v1/batchOrders", T),
    ("DELETE", "/fapi/v1/allOpenOrders", T),
    ("POST", "/fapi/v1/algoOrder", T),
    ("DELETE", "/fapi/v1/algoOrder", T),
    ("DELETE", "/fapi/v1/algoOpenOrders", T),
    ("POST", "/fapi/v1/leverage", T),
    ("POST", "/fapi/v1/marginType", T),
    ("POST", "/fapi/v1/positionSide/dual", T),
    ("POST", "/fapi/v1/multiAssetsMargin", T),
    ("POST", "/fapi/v1/positionMargin", T),
    // -- Binance: USER_DATA and USER_STREAM
    ("GET", "/fapi/v1/order", R),
    ("GET", "/fapi/v1/openOrders", R),
    ("GET", "/fapi/v1/openOrder", R),
    ("GET", "/fapi/v1/allOrders", R),
    ("GET", "/fapi/v1/algoOrder", R),
    ("GET", "/fapi/v1/openAlgoOrders", R),
    ("GET", "/fapi/v1/allAlgoOrders", R),
    ("GET", "/fapi/v1/userTrades", R),
    ("GET", "/fapi/v1/income", R),
    ("GET", "/fapi/v2/account", R),
    ("GET", "/fapi/v3/account", R),
    ("GET", "/fapi/v2/balance", R),
    ("GET", "/fapi/v3/balance", R),
    ("GET", "/fapi/v2/positionRisk", R),
    ("GET", "/fapi/v3/positionRisk", R),
    ("GET", "/fapi/v1/leverageBracket", R),
    ("GET", "/fapi/v1/commissionRate", R),
    ("GET", "/fapi/v1/positionSide/dual", R),
    ("GET", "/fapi/v1/multiAssetsMargin", R),
    ("GET", "/fapi/v1/positionMargin/history", R),
    ("GET", "/fapi/v1/accountConfig", R),
    ("GET", "/fapi/v1/symbolConfig", R),
    ("GET", "/fapi/v1/forceOrders", R),
    ("GET", "/fapi/v1/apiTradingStatus", R),
    ("GET", "/fapi/v1/historicalTrades", R),
    ("POST", "/fapi/v1/listenKey", R),
    ("PUT", "/fapi/v1/listenKey", R),
    ("DELETE", "/fapi/v1/listenKey", R),
    // (The `/sapi` answers ccxt loads are empty lists for anyone: no key is checked.)
];

static INDEX: LazyLock<FxHashMap<(&'static str, &'static str), Permissions>> =
    LazyLock::new(|| TABLE.iter().map(|&(m, p, need)| ((m, p), need)).collect());

/// What `method` on the route labelled `label` needs (`None`: not a signed route).
pub fn lookup(method: &str, label: &str) -> Option<Permissions> {
    INDEX.get(&(method, label)).copied()
}

/// What the request's route needs (`None`: the route is not in [`TABLE`]).
pub fn required(req: &HttpRequest) -> Option<Permissions> {
    let label = req.app_data::<super::RouteLabel>()?.0;
    let method = req.method();
    let m = if method == Method::GET || method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    lookup(m, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_entry_per_route_and_method() {
        let mut seen = std::collections::HashSet::new();
        for (m, p, need) in TABLE {
            assert!(seen.insert((m, p)), "{m} {p} listed twice");
            assert!(!need.is_empty(), "{m} {p} needs nothing");
            assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(m));
        }
        assert_eq!(lookup("POST", "/api/v1/account/withdrawals"), Some(W));
        assert_eq!(lookup("GET", "/api/v1/health"), None);
    }
}
