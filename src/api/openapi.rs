//! `GET /api/v1/openapi.json`.

use actix_web::HttpResponse;

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"openapi": "3.1.0"}))
}
