//! `GET /api/admin/status` (admins): the system status edge gathers itself, behind the same
//! checks as every route of the table.

use axum::Json;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use contract::status::SystemStatus;

use crate::state::AppState;

/// `GET /api/admin/status`, once the gate has checked the caller is an admin. Query checks the
/// forwarded token again for its part.
#[utoipa::path(
    get, path = "/api/admin/status", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "every service's readiness, the streams, consumers and ClickHouse; a part that could not be read is null or left out, with a sentence in `problems`", body = SystemStatus),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "the token's role is below admin", body = contract::ErrorBody),
        (status = 503, description = "auth's signing keys cannot be reached", body = contract::ErrorBody)
    )
)]
pub(crate) async fn serve(state: &AppState, headers: &HeaderMap) -> Response {
    let proxy = &state.proxy;
    let services = [
        ("ingest", proxy.ingest.as_str()),
        ("auth", proxy.auth.as_str()),
        ("query", proxy.query.as_str()),
        ("sink", proxy.sink.as_str()),
    ];
    let status = crate::status::gather(&proxy.client, services, &proxy.query, headers).await;
    ([(header::CACHE_CONTROL, "no-store")], Json(status)).into_response()
}
