//! `/api/projects/{id}/annotations`: a project's dated notes. Its members read them; its
//! analysts and admins (and instance admins) write them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::auth::{AnnotationList, AnnotationRequest, AnnotationView, ProjectRole};
use plumbing::error::{JsonBody, PathParams, QueryParams};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::error::{ApiError, BadInput, Conflict, ProjectAdminRefusals, Unavailable};
use crate::extract::User;
use crate::{annotations, members};

/// Which notes: those about moments from `from` (inclusive) to `to` (exclusive).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Window {
    /// RFC 3339; empty: from the first.
    #[param(nullable = false)]
    from: Option<String>,
    /// RFC 3339; empty: to the last.
    #[param(nullable = false)]
    to: Option<String>,
}

/// An RFC 3339 parameter, absent when empty.
fn moment(name: &str, text: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    match text.filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{name} is not an RFC 3339 time"))),
    }
}

#[utoipa::path(
    get, path = "/api/projects/{id}/annotations", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), Window),
    responses(
        (status = 200, description = "the project's notes, oldest first", body = AnnotationList),
        BadInput, ProjectAdminRefusals, Unavailable
    )
)]
pub(crate) async fn list_annotations(
    State(state): State<crate::state::AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    QueryParams(window): QueryParams<Window>,
) -> Result<Json<AnnotationList>, ApiError> {
    let from = moment("from", window.from.as_deref())?;
    let to = moment("to", window.to.as_deref())?;
    members::require(&state, caller.sub, project_id, ProjectRole::Viewer).await?;
    Ok(Json(annotations::list(&state, project_id, from, to).await?))
}

#[utoipa::path(
    post, path = "/api/projects/{id}/annotations", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = AnnotationRequest,
    responses(
        (status = 201, description = "the note", body = AnnotationView),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn create_annotation(
    State(state): State<crate::state::AppState>,
    User(caller): User,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(request): JsonBody<AnnotationRequest>,
) -> Result<Response, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    let created = annotations::create(&state, caller.sub, project_id, &request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    put, path = "/api/projects/{id}/annotations/{annotation_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("annotation_id" = Uuid, Path, description = "the note's id")),
    request_body = AnnotationRequest,
    responses(
        (status = 200, description = "the note rewritten", body = AnnotationView),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn update_annotation(
    State(state): State<crate::state::AppState>,
    User(caller): User,
    PathParams((project_id, annotation_id)): PathParams<(Uuid, Uuid)>,
    JsonBody(request): JsonBody<AnnotationRequest>,
) -> Result<Json<AnnotationView>, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    let updated =
        annotations::update(&state, caller.sub, project_id, annotation_id, &request).await?;
    Ok(Json(updated))
}

#[utoipa::path(
    delete, path = "/api/projects/{id}/annotations/{annotation_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id"), ("annotation_id" = Uuid, Path, description = "the note's id")),
    responses(
        (status = 204, description = "the note deleted"),
        BadInput, ProjectAdminRefusals, Conflict, Unavailable
    )
)]
pub(crate) async fn delete_annotation(
    State(state): State<crate::state::AppState>,
    User(caller): User,
    PathParams((project_id, annotation_id)): PathParams<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    members::require(&state, caller.sub, project_id, ProjectRole::Analyst).await?;
    annotations::delete(&state, caller.sub, project_id, annotation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
