//! `/api/admin/projects/{id}/keys`: a project's write keys, issued and revoked.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::WriteKeyView;
use plumbing::error::PathParams;
use uuid::Uuid;

use crate::error::{AdminRefusals, ApiError, BadInput, Conflict, NotFound, Unavailable};
use crate::extract::Admin;
use crate::keys;
use crate::state::AppState;

#[utoipa::path(
    post, path = "/api/admin/projects/{id}/keys", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 201, description = "a new write key", body = WriteKeyView),
        BadInput, AdminRefusals, NotFound, Conflict, Unavailable
    )
)]
pub(crate) async fn issue_key(
    State(state): State<AppState>,
    _: Admin,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Response, ApiError> {
    let key = keys::issue(&state, project_id).await?;
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

#[utoipa::path(
    delete, path = "/api/admin/projects/{id}/keys/{key_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("key_id" = Uuid, Path, description = "write key id")),
    responses(
        (status = 204, description = "the key no longer accepts events (also when it was already revoked)"),
        BadInput, AdminRefusals, NotFound, Conflict, Unavailable
    )
)]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    _: Admin,
    PathParams((project_id, key_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    keys::revoke(&state, project_id, key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
