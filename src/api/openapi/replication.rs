//! The OpenAPI description of the replication admin routes (`POST /api/v1/admin/promote`,
//! `GET /api/v1/admin/replication`), which `replication::http` serves when `[replication]` is
//! configured (docs/REPLICATION.md).
//!
//! # Invariants
//! - The descriptions live here, on documentation-only functions, and not on the handlers,
//!   because replication is a layer above the API (docs/ARCHITECTURE.md §9): the API must not
//!   import it, yet its document and its `Allow` table (built once, for every route) list
//!   these paths. The handlers' doc comments point here; keep the two in step.
//! - The document includes them only when the app holds [`ReplicationServed`], which
//!   `replication::http::routes` registers with the routes themselves.

use utoipa::OpenApi;

/// App data present exactly when the replication admin routes are served.
pub struct ReplicationServed;

/// The replication admin routes.
#[derive(OpenApi)]
#[openapi(paths(promote, replication))]
pub struct ReplicationDoc;

/// Promote this follower: drain the stream, publish the fence, become the primary.
#[utoipa::path(post, path = "/api/v1/admin/promote", tag = "admin", security(("admin_token" = [])),
    description = "Replication only (served when `[replication]` is configured; docs/REPLICATION.md). On a follower: apply every stream entry, publish the fence entry with `Nats-Expected-Last-Sequence`, then accept writes. A former primary that still runs is refused at its next publish and answers 503 NOT_PRIMARY from then on.",
    responses(
        (status = 200, description = "promoted: a JSON object `{\"role\": \"primary\", \"fence_seq\", \"drained\", \"took_ms\", \"last_head_seq\", \"missing\"}`: `last_head_seq` is the committed entry the old primary's last heartbeat announced (null: none heard), `missing` how many of its entries the stream lacks (lost)"),
        (status = 409, description = "NOT_FOLLOWER: this node is not a follower (already primary, promoting, or fenced)", body = crate::api::dto::ErrorBody),
        (status = 503, description = "PROMOTION_FAILED (the stream could not be drained or fenced: no quorum, another primary still publishing, master.key mismatch) or NOT_FOLLOWING (the follower stopped)", body = crate::api::dto::ErrorBody),
    ))]
#[allow(dead_code)] // documentation only: the handler is `replication::http::promote`
fn promote() {}

/// This node's replication status.
#[utoipa::path(get, path = "/api/v1/admin/replication", tag = "admin", security(("admin_token" = [])),
    description = "Replication only (served when `[replication]` is configured; docs/REPLICATION.md).",
    responses(
        (status = 200, description = "a JSON object `{role, advertise, primary, replicated_seq, stream_last_seq, local_seq, primary_head_seq, heartbeat_age_ms}`; role is primary, follower, promoting or fenced; `primary_head_seq` is the committed entry of the primary's last heartbeat (followers; null on the primary or when none was heard)"),
    ))]
#[allow(dead_code)] // documentation only: the handler is `replication::http::replication`
fn replication() {}
