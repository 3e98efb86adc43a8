//! `GET /api/query/system` (admins): the pipeline figures edge serves as `/api/admin/status`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use contract::status::PipelineStatus;

use crate::extract::Admin;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/query/system",
    tag = "query",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the streams, consumers and ClickHouse figures; a part that could not be read is left out or null, with a sentence in `problems`", body = PipelineStatus),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "the token's role is below admin", body = contract::ErrorBody),
        (status = 503, description = "auth's signing keys cannot be reached", body = contract::ErrorBody),
    )
)]
pub(crate) async fn system(State(state): State<AppState>, _: Admin) -> Response {
    Json(crate::system::pipeline(&state.nats, &state.store).await).into_response()
}
