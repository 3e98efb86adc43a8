//! `/api/projects/{id}/dashboards`: a project's dashboards. Its members read them; its
//! analysts and admins (and instance admins) write them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{DashboardList, DashboardRequest, DashboardView, ProjectRole};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::error::{ApiError, BadInput, Conflict, ProjectRefusals, TooLarge, Unavailable};
use crate::extract::User;
use crate::state::AppState;
use crate::{dashboards, members};

#[utoipa::path(
    get, path = "/api/projects/{id}/dashboards", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "the project's dashboards, by name, each without the insights deleted since", body = DashboardList),
        BadInput, ProjectRefusals, Unavailable
    )
)]
pub(crate) async fn list_dashboards(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Json<DashboardList>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Viewer).await?;
    Ok(Json(dashboards::list(&state, project_id).await?))
}

#[utoipa::path(
    post, path = "/api/projects/{id}/dashboards", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = DashboardRequest,
    responses(
        (status = 201, description = "the dashboard", body = DashboardView),
        BadInput, ProjectRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn create_dashboard(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(request): JsonBody<DashboardRequest>,
) -> Result<Response, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    let created = dashboards::create(&state, caller.sub, project_id, &request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    get, path = "/api/projects/{id}/dashboards/{dashboard_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("dashboard_id" = Uuid, Path, description = "the dashboard's id")),
    responses(
        (status = 200, description = "the dashboard, without the insights deleted since", body = DashboardView),
        BadInput, ProjectRefusals, Unavailable
    )
)]
pub(crate) async fn get_dashboard(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, dashboard_id)): PathParams<(Uuid, Uuid)>,
) -> Result<Json<DashboardView>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Viewer).await?;
    Ok(Json(
        dashboards::find(&state, project_id, dashboard_id).await?.0,
    ))
}

#[utoipa::path(
    put, path = "/api/projects/{id}/dashboards/{dashboard_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("dashboard_id" = Uuid, Path, description = "the dashboard's id")),
    request_body = DashboardRequest,
    responses(
        (status = 200, description = "the dashboard saved again (renamed, its tiles reordered, added or removed)", body = DashboardView),
        BadInput, ProjectRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn update_dashboard(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, dashboard_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(request): JsonBody<DashboardRequest>,
) -> Result<Json<DashboardView>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    let updated =
        dashboards::update(&state, caller.sub, project_id, dashboard_id, &request).await?;
    Ok(Json(updated))
}

#[utoipa::path(
    delete, path = "/api/projects/{id}/dashboards/{dashboard_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("dashboard_id" = Uuid, Path, description = "the dashboard's id")),
    responses(
        (status = 204, description = "the dashboard deleted, and its shared links with it"),
        BadInput, ProjectRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn delete_dashboard(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, dashboard_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    dashboards::delete(&state, caller.sub, project_id, dashboard_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
