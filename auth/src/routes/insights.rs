//! `/api/projects/{id}/insights`: a project's saved insights. Its members read them; its
//! analysts and admins (and instance admins) write them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{InsightList, InsightRequest, InsightView, ProjectRole};
use plumbing::error::{JsonBody, PathParams};
use uuid::Uuid;

use crate::error::{ApiError, BadInput, Conflict, ProjectRefusals, TooLarge, Unavailable};
use crate::extract::User;
use crate::state::AppState;
use crate::{insights, members};

#[utoipa::path(
    get, path = "/api/projects/{id}/insights", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 200, description = "the project's insights, by name", body = InsightList),
        BadInput, ProjectRefusals, Unavailable
    )
)]
pub(crate) async fn list_insights(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
) -> Result<Json<InsightList>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Viewer).await?;
    Ok(Json(insights::list(&state, project_id).await?))
}

#[utoipa::path(
    post, path = "/api/projects/{id}/insights", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = InsightRequest,
    responses(
        (status = 201, description = "the insight", body = InsightView),
        BadInput, ProjectRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn create_insight(
    State(state): State<AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(request): JsonBody<InsightRequest>,
) -> Result<Response, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    let created = insights::create(&state, caller.sub, project_id, &request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    get, path = "/api/projects/{id}/insights/{insight_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("insight_id" = Uuid, Path, description = "the insight's id")),
    responses(
        (status = 200, description = "the insight", body = InsightView),
        BadInput, ProjectRefusals, Unavailable
    )
)]
pub(crate) async fn get_insight(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, insight_id)): PathParams<(Uuid, Uuid)>,
) -> Result<Json<InsightView>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Viewer).await?;
    Ok(Json(
        insights::find(&state, project_id, insight_id).await?.0,
    ))
}

#[utoipa::path(
    put, path = "/api/projects/{id}/insights/{insight_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("insight_id" = Uuid, Path, description = "the insight's id")),
    request_body = InsightRequest,
    responses(
        (status = 200, description = "the insight saved again", body = InsightView),
        BadInput, ProjectRefusals, Conflict, TooLarge, Unavailable
    )
)]
pub(crate) async fn update_insight(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, insight_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(request): JsonBody<InsightRequest>,
) -> Result<Json<InsightView>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    let updated = insights::update(&state, caller.sub, project_id, insight_id, &request).await?;
    Ok(Json(updated))
}

#[utoipa::path(
    delete, path = "/api/projects/{id}/insights/{insight_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("insight_id" = Uuid, Path, description = "the insight's id")),
    responses(
        (status = 204, description = "the insight deleted: dashboards leave it out"),
        BadInput, ProjectRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn delete_insight(
    State(state): State<AppState>,
    User(caller): User,
    PathParams((project_id, insight_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    insights::delete(&state, caller.sub, project_id, insight_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
