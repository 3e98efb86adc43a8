//! Invites: `/api/admin/projects/{id}/invites` for the project's admins (and instance admins),
//! and `/api/auth/invites/accept` for the invited person, signed in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{
    AcceptInviteRequest, AcceptedInvite, CreateInviteRequest, CreatedInvite, InviteList,
    ProjectRole,
};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::error::{ApiError, BadInput, Conflict, ProjectAdminRefusals, Unavailable};
use crate::extract::User;
use crate::state::AppState;
use crate::{invites, members};

#[utoipa::path(
    get, path = "/api/admin/projects/{id}/invites", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "the pending invites, newest first", body = InviteList),
        BadInput, ProjectAdminRefusals, Unavailable
    )
)]
pub(crate) async fn list_invites(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Json<InviteList>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    Ok(Json(invites::list(&state, project_id).await?))
}

#[utoipa::path(
    post, path = "/api/admin/projects/{id}/invites", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = CreateInviteRequest,
    responses(
        (status = 201, description = "the invite and its single-use link, shown this once", body = CreatedInvite),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn create_invite(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(request): JsonBody<CreateInviteRequest>,
) -> Result<Response, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    let created = invites::create(&state, caller.sub, project_id, &request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    delete, path = "/api/admin/projects/{id}/invites/{invite_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("invite_id" = Uuid, Path, description = "the invite's id")),
    responses(
        (status = 204, description = "the invite withdrawn: its link no longer works"),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn revoke_invite(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, invite_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    invites::revoke(&state, caller.sub, project_id, invite_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/auth/invites/accept", tag = "auth", security(("bearer" = [])),
    request_body = AcceptInviteRequest,
    responses(
        (status = 200, description = "the caller is a member of the project", body = AcceptedInvite),
        (status = 400, description = "bad input", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "the invite is for another email address, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "the link was used, withdrawn or has expired", body = contract::ErrorBody),
        Unavailable
    )
)]
pub(crate) async fn accept_invite(
    State(state): State<AppState>,
    User(caller): User,
    JsonBody(request): JsonBody<AcceptInviteRequest>,
) -> Result<Json<AcceptedInvite>, ApiError> {
    Ok(Json(
        invites::accept(&state, caller.sub, &request.token).await?,
    ))
}
