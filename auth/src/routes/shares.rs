//! `/api/projects/{id}/dashboards/{dashboard_id}/shares`: a dashboard's shared links, for the
//! project's analysts and admins (and instance admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{CreateShareRequest, CreatedShare, ProjectRole, ShareList};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::error::{ApiError, BadInput, Conflict, ProjectRefusals, TooLarge, Unavailable};
use crate::extract::User;
use crate::state::AppState;
use crate::{members, shares};

#[utoipa::path(
    get, path = "/api/projects/{id}/dashboards/{dashboard_id}/shares", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("dashboard_id" = Uuid, Path, description = "the dashboard's id")),
    responses(
        (status = 200, description = "the dashboard's live links, newest first (never their token)", body = ShareList),
        BadInput, ProjectRefusals, Unavailable
    )
)]
pub(crate) async fn list_shares(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, dashboard_id)): PathParams<(Uuid, Uuid)>,
) -> Result<Json<ShareList>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    Ok(Json(shares::list(&state, project_id, dashboard_id).await?))
}

#[utoipa::path(
    post, path = "/api/projects/{id}/dashboards/{dashboard_id}/shares", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("dashboard_id" = Uuid, Path, description = "the dashboard's id")),
    request_body = CreateShareRequest,
    responses(
        (status = 201, description = "the link, its token shown this once", body = CreatedShare),
        BadInput, ProjectRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn create_share(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, dashboard_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(request): JsonBody<CreateShareRequest>,
) -> Result<Response, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    let created = shares::create(&state, caller.sub, project_id, dashboard_id, request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    delete, path = "/api/projects/{id}/dashboards/{dashboard_id}/shares/{share_id}", tag = "projects", security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "project id"),
        ("dashboard_id" = Uuid, Path, description = "the dashboard's id"),
        ("share_id" = Uuid, Path, description = "the link's id")
    ),
    responses(
        (status = 204, description = "the link no longer works (also when it was already revoked)"),
        BadInput, ProjectRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn revoke_share(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, dashboard_id, share_id)): PathParams<(Uuid, Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    shares::revoke(&state, caller.sub, project_id, dashboard_id, share_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
