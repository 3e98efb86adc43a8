//! `/api/admin/projects/{id}/keys`: a project's write keys, issued and revoked by its admins
//! (and instance admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::WriteKeyView;
use plumbing::error::PathParams;
use uuid::Uuid;

use contract::auth::ProjectRole;

use crate::error::{ApiError, BadInput, Conflict, ProjectAdminRefusals, Unavailable};
use crate::extract::User;
use crate::state::AppState;
use crate::{keys, members};

#[utoipa::path(
    post, path = "/api/admin/projects/{id}/keys", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 201, description = "a new write key", body = WriteKeyView),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn issue_key(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Response, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    let key = keys::issue(&state, caller.sub, project_id).await?;
    Ok((StatusCode::CREATED, Json(key)).into_response())
}

#[utoipa::path(
    delete, path = "/api/admin/projects/{id}/keys/{key_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("key_id" = Uuid, Path, description = "write key id")),
    responses(
        (status = 204, description = "the key no longer accepts events (also when it was already revoked)"),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, key_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    keys::revoke(&state, caller.sub, project_id, key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
