//! Wire types of docs/API.md. Requests deny unknown fields and convert into domain types only
//! through the checked constructors (off-tick, off-lot or over-precise input is rejected,
//! never rounded). Responses carry prices, quantities and money as decimal strings.

mod access;
mod request;
mod response;
mod small_bodies;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};

pub use access::*;
pub use request::*;
pub use response::*;
pub use small_bodies::*;

/// Parse a JSON body into `T`, every failure a 400 `INVALID_REQUEST` naming the problem.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> ApiResult<T> {
    // Every request body is a JSON object. serde's derived structs also take a JSON array
    // (their fields in order: `[]` was a valid account body), which the contract does not.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::invalid(
            "invalid JSON body: expected a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// A decimal as the API writes money and rates: normalized (`1.50` → `"1.5"`).
pub fn decimal(d: Decimal) -> String {
    n(d)
}

pub(super) fn n(d: Decimal) -> String {
    d.normalize().to_string()
}
