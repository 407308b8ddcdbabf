//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types' `ToSchema` derives (so it lists exactly
//! the routes the server serves; a test compares it with the router), then made exact for the
//! running configuration by [`exact`] (request schemas as enforced, market symbols, every
//! status with its error body).

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::dto;
use super::{account_lists, admin, admin_access, income, keys, private, public, tpsl, State};

mod exact;
mod replication;
mod requests;

pub use replication::{ReplicationDoc, ReplicationServed};

#[derive(OpenApi)]
#[openapi(
    info(title = "perpx", description = "Perpetual-futures exchange API (docs/API.md). Prices, quantities and money are decimal strings; times are ms since the epoch."),
    paths(
        public::health, public::markets, public::market, public::book, public::trades, public::candles,
        public::funding, public::insurance_fund,
        private::place, private::list, private::get, private::by_client_id, private::cancel, private::amend,
        private::cancel_all, tpsl::place, private::leverage, private::margin_mode, private::isolated_margin, private::position_mode, private::account, account_lists::fills, account_lists::open_orders, private::withdraw, income::income,
        admin::create_account, admin::deposit, admin::index_price, admin::solvency, admin::liquidations,
        keys::list, keys::create, keys::revoke, keys::admin_list, keys::admin_create, keys::admin_revoke,
        admin_access::whoami, admin_access::list_tokens, admin_access::create_token, admin_access::revoke_token, admin_access::audit,
        serve,
    ),
    components(schemas(
        dto::NewOrder, dto::Amend, dto::PositionTpSl, dto::Leverage, dto::MarginModeChange, dto::IsolatedMarginMove, dto::PositionModeChange, dto::AmountBody,
        dto::NewAccount, dto::IndexPrice,
        dto::MarketSpecDto, dto::MarketDto, dto::Tier, dto::OrderDto, dto::FillDto, dto::AccountDto, dto::PositionDto,
        dto::Health, dto::Book, dto::TradeDto, dto::CandleDto, dto::FundingDto, dto::Balance, dto::Cancelled,
        dto::LeverageSet, dto::MarginModeSet, dto::PositionModeSet, dto::IsolatedMarginSet, dto::Withdrawal, dto::AccountCreated, dto::Deposit, dto::IndexSet, dto::SolvencyDto, dto::IncomeDto,
        dto::NewKeyBody, dto::PermissionName, dto::RoleName, dto::KeyDto, dto::KeyCreated, dto::KeyRevoked, dto::NewTokenBody, dto::TokenDto, dto::TokenCreated,
        dto::TokenRevoked, dto::WhoAmI, dto::AuditDto, dto::AuditPage,
        dto::ErrorBody, dto::ErrorInner,
    )),
    modifiers(&Security),
    tags((name = "public"), (name = "orders"), (name = "account"), (name = "admin"))
)]
pub struct ApiDoc;

/// The two security schemes: signed account keys and the admin bearer token.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "with X-API-Timestamp (ms) and X-API-Signature = hex(HMAC-SHA256(api_secret, timestamp + METHOD + path_with_query + body))",
            ))),
        );
        c.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document for these markets and money scale (with the replication routes when
/// `replication` is configured), as JSON.
pub fn document(
    specs: &[crate::domain::MarketSpec],
    money_scale: u32,
    replication: bool,
) -> serde_json::Value {
    let mut api = ApiDoc::openapi();
    if replication {
        api.merge(ReplicationDoc::openapi());
    }
    // expect: utoipa's document types always serialize.
    let mut doc = serde_json::to_value(api).expect("the OpenAPI document serializes");
    exact::refine(&mut doc, specs, money_scale);
    doc
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "public", responses((status = 200, description = "this document")))]
pub async fn serve(st: State, req: actix_web::HttpRequest) -> HttpResponse {
    let replication = req
        .app_data::<actix_web::web::Data<ReplicationServed>>()
        .is_some();
    HttpResponse::Ok().json(document(&st.ex.specs, st.money_scale, replication))
}

/// The methods each documented path pattern serves (for the `Allow` header of a 405), read
/// once from this document, so it cannot disagree with it.
static ALLOWED: std::sync::LazyLock<rustc_hash::FxHashMap<String, String>> =
    std::sync::LazyLock::new(|| {
        let mut doc = ApiDoc::openapi();
        doc.merge(ReplicationDoc::openapi());
        doc.paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, on)| on.then_some(m))
                .collect();
                (path.clone(), methods.join(", "))
            })
            .collect()
    });

/// The `Allow` value of the resource with route pattern `pattern`: from this document for the
/// REST API, `GET` for the other resources (WebSocket, metrics, pages). HEAD is not served.
pub fn allowed(pattern: &str) -> &str {
    ALLOWED.get(pattern).map_or("GET", String::as_str)
}
