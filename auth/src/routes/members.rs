//! `/api/admin/projects/{id}/members`: who may read or manage a project. Instance admins and
//! the project's own admins manage its members.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use contract::auth::{MemberView, ProjectMembers, ProjectRole, SetMemberRequest};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::error::{ApiError, BadInput, Conflict, ProjectAdminRefusals, Unavailable};
use crate::extract::User;
use crate::members;
use crate::state::AppState;

#[utoipa::path(
    get, path = "/api/admin/projects/{id}/members", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "the project's members, by email", body = ProjectMembers),
        BadInput, ProjectAdminRefusals, Unavailable
    )
)]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Json<ProjectMembers>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    Ok(Json(members::list(&state, project_id).await?))
}

#[utoipa::path(
    put, path = "/api/admin/projects/{id}/members/{user_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("user_id" = Uuid, Path, description = "the user's id")),
    request_body = SetMemberRequest,
    responses(
        (status = 200, description = "the member with their role, which applies at their next request", body = MemberView),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn set_member(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, user_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(request): JsonBody<SetMemberRequest>,
) -> Result<Json<MemberView>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    let member = members::set(&state, Some(caller.sub), project_id, user_id, request.role).await?;
    Ok(Json(member))
}

#[utoipa::path(
    delete, path = "/api/admin/projects/{id}/members/{user_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("user_id" = Uuid, Path, description = "the user's id")),
    responses(
        (status = 204, description = "no longer a member: their next request to the project is a 404 and an open live feed of it ends"),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, user_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    members::remove(&state, caller.sub, project_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
