//! `/api/admin/projects` (create, list and quota for instance admins; domains and retention for
//! the project's admins too) and `/api/auth/projects`, the projects a user may read.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{
    CreateProjectRequest, CreatedProject, ProjectDomains, ProjectList, ProjectQuota,
    ProjectQuotaView, ProjectRetention, ProjectSummaries, ProjectView, SetDomainsRequest,
};
use contract::auth::{ProjectRole, Role};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::error::{
    AdminRefusals, ApiError, BadInput, Conflict, ProjectAdminRefusals, TooLarge, Unavailable,
};
use crate::extract::{Admin, User};
use crate::state::AppState;
use crate::{members, projects, quota, retention, users};

#[utoipa::path(
    post, path = "/api/admin/projects", tag = "admin", security(("bearer" = [])),
    request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "the project and its first write key", body = CreatedProject),
        BadInput, AdminRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn create_project(
    State(state): State<AppState>,
    Admin(by): Admin,
    JsonBody(request): JsonBody<CreateProjectRequest>,
) -> Result<Response, ApiError> {
    let created = projects::create(&state, by, request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    get, path = "/api/admin/projects", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "every project with its live keys", body = ProjectList),
        AdminRefusals, Unavailable
    )
)]
pub(crate) async fn list_projects(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<ProjectList>, ApiError> {
    Ok(Json(projects::list(&state).await?))
}

#[utoipa::path(
    get, path = "/api/admin/projects/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "the project with its live write keys, domains, quota and retention: for its admins and instance admins", body = ProjectView),
        BadInput, ProjectAdminRefusals, Unavailable
    )
)]
pub(crate) async fn get_project(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Json<ProjectView>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    Ok(Json(projects::one(&state, project_id).await?))
}

#[utoipa::path(
    get, path = "/api/auth/projects", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "the projects the caller is a member of (every project for an instance admin) with their role on each, the built-in one first, then by name", body = ProjectSummaries),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "the account is disabled", body = contract::ErrorBody),
        Unavailable
    )
)]
pub(crate) async fn list_project_summaries(
    State(state): State<AppState>,
    User(caller): User,
) -> Result<Json<ProjectSummaries>, ApiError> {
    users::with_role(&state, caller.sub, Role::User).await?;
    Ok(Json(ProjectSummaries {
        projects: projects::summaries(&state, caller.sub).await?,
    }))
}

#[utoipa::path(
    put, path = "/api/admin/projects/{id}/domains", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = SetDomainsRequest,
    responses(
        (status = 200, description = "the domains Plausible's script may name for this project", body = ProjectDomains),
        BadInput, ProjectAdminRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn set_domains(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(request): JsonBody<SetDomainsRequest>,
) -> Result<Json<ProjectDomains>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    let domains = projects::set_domains(&state, caller.sub, project_id, &request.domains).await?;
    Ok(Json(ProjectDomains {
        id: project_id,
        domains,
    }))
}

#[utoipa::path(
    put, path = "/api/admin/projects/{id}/quota", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = ProjectQuota,
    responses(
        (status = 200, description = "the project's own quota; ingest applies it within moments (a null rate is ingest's default)", body = ProjectQuotaView),
        (status = 400, description = "bad input: a rate below 1 or above 10^12", body = contract::ErrorBody),
        (status = 404, description = "no such project", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently", body = contract::ErrorBody),
        AdminRefusals, TooLarge, Unavailable
    )
)]
pub(crate) async fn set_quota(
    State(state): State<AppState>,
    Admin(by): Admin,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(quota): JsonBody<ProjectQuota>,
) -> Result<Json<ProjectQuotaView>, ApiError> {
    quota::set(&state, project_id, by, &quota).await?;
    Ok(Json(ProjectQuotaView {
        id: project_id,
        quota,
    }))
}

#[utoipa::path(
    put, path = "/api/admin/projects/{id}/retention", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = ProjectRetention,
    responses(
        (status = 200, description = "the project's own retention; the sink's retention job deletes its older events on its next run (null: the instance's retention)", body = ProjectRetention),
        (status = 400, description = "bad input: months below 1 or above 120", body = contract::ErrorBody),
        ProjectAdminRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn set_retention(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(request): JsonBody<ProjectRetention>,
) -> Result<Json<ProjectRetention>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Admin).await?;
    Ok(Json(
        retention::set(&state, project_id, caller.sub, request).await?,
    ))
}
