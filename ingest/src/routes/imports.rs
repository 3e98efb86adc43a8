//! Imports of past events through the API: `POST /api/imports` takes an export file as its raw
//! body (streamed into the object store, never held whole) and answers its job at once (202);
//! `GET /api/imports` lists a project's jobs, `GET /api/imports/{id}` polls one. For a
//! project's admins and instance admins, as their token says and the projects on `AUTH` show.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::{Json, Router};
use contract::auth::{Claims, ProjectRole, Role};
use contract::imports::ImportJob;
use plumbing::error::{PathParams, QueryParams};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::IngestError;
use crate::extract::User;
use crate::import::Format;
use crate::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/imports", get(list_imports).post(create_import))
        .route("/api/imports/{id}", get(get_import))
}

/// Which project, and what wrote the file.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NewImport {
    /// The project the events go to
    project_id: Uuid,
    /// What wrote the file: `posthog` (JSON lines or CSV), `segment` (JSON lines) or `umami`
    /// (CSV)
    format: String,
}

/// Whose jobs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ProjectImports {
    /// The project
    project_id: Uuid,
}

/// One job.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ImportId {
    /// The job
    id: Uuid,
}

/// Refuses a caller who is neither an instance admin nor an admin of `project_id` (403), and a
/// project that does not exist (404).
fn may_manage(state: &AppState, claims: &Claims, project_id: Uuid) -> Result<(), IngestError> {
    let admin = claims.role == Role::Admin
        || state.write_keys.member_role(project_id, claims.sub) == Some(ProjectRole::Admin);
    if !admin {
        return Err(IngestError::Forbidden(
            "only the project's admins may import events".to_owned(),
        ));
    }
    if !state.write_keys.has_project(project_id) {
        return Err(IngestError::NotFound("no such project".to_owned()));
    }
    Ok(())
}

/// `POST /api/imports`: stores the export file of the body and queues its import.
#[utoipa::path(
    post, path = "/api/imports", tag = "ingest", security(("bearer" = [])),
    params(NewImport),
    request_body(content = Vec<u8>, description = "the export file, as it is (not gzip-compressed), at most 1 GiB", content_type = "application/octet-stream"),
    responses(
        (status = 202, description = "stored; the job is queued", body = ImportJob),
        (status = 400, description = "an unknown format, an empty or gzip-compressed file", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin of the project", body = contract::ErrorBody),
        (status = 404, description = "no such project", body = contract::ErrorBody),
        (status = 409, description = "three imports of the project are not finished yet (uploading, queued or running)", body = contract::ErrorBody),
        (status = 413, description = "the file is larger than 1 GiB", body = contract::ErrorBody),
        (status = 503, description = "the file could not be stored; retry (Retry-After)", body = contract::ErrorBody),
        (status = 507, description = "the store of import files is full: retry once an import has ended", body = contract::ErrorBody),
    )
)]
pub(crate) async fn create_import(
    User(claims): User,
    State(state): State<Arc<AppState>>,
    QueryParams(asked): QueryParams<NewImport>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    may_manage(&state, &claims, asked.project_id)?;
    let format = Format::of(&asked.format).ok_or_else(|| {
        IngestError::BadRequest("format: one of posthog, segment, umami".to_owned())
    })?;
    // A size said up front over the limit is refused before anything is stored.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let job = state
        .imports
        .create(asked.project_id, format, declared, body.into_data_stream())
        .await?;
    tracing::info!(job = %job.id, project_id = %job.project_id, bytes = job.file_bytes, "import queued");
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

/// `GET /api/imports`: a project's import jobs, newest first.
#[utoipa::path(
    get, path = "/api/imports", tag = "ingest", security(("bearer" = [])),
    params(ProjectImports),
    responses(
        (status = 200, description = "the project's jobs, newest first", body = Vec<ImportJob>),
        (status = 400, description = "no valid project id", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin of the project", body = contract::ErrorBody),
        (status = 404, description = "no such project", body = contract::ErrorBody),
        (status = 503, description = "the jobs could not be read; retry (Retry-After)", body = contract::ErrorBody),
    )
)]
pub(crate) async fn list_imports(
    User(claims): User,
    State(state): State<Arc<AppState>>,
    QueryParams(asked): QueryParams<ProjectImports>,
) -> Result<Json<Vec<ImportJob>>, IngestError> {
    may_manage(&state, &claims, asked.project_id)?;
    let jobs = state
        .imports
        .list(asked.project_id)
        .await
        .map_err(|err| IngestError::Unavailable(format!("{err:#}")))?;
    Ok(Json(jobs))
}

/// `GET /api/imports/{id}`: one import job, to poll its progress.
#[utoipa::path(
    get, path = "/api/imports/{id}", tag = "ingest", security(("bearer" = [])),
    params(ImportId),
    responses(
        (status = 200, description = "the job", body = ImportJob),
        (status = 400, description = "no valid job id", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin of the job's project", body = contract::ErrorBody),
        (status = 404, description = "no such job", body = contract::ErrorBody),
        (status = 503, description = "the job could not be read; retry (Retry-After)", body = contract::ErrorBody),
    )
)]
pub(crate) async fn get_import(
    User(claims): User,
    State(state): State<Arc<AppState>>,
    PathParams(ImportId { id }): PathParams<ImportId>,
) -> Result<Json<ImportJob>, IngestError> {
    let job = state
        .imports
        .get(id)
        .await
        .map_err(|err| IngestError::Unavailable(format!("{err:#}")))?
        .ok_or_else(|| IngestError::NotFound("no such import".to_owned()))?;
    may_manage(&state, &claims, job.project_id)?;
    Ok(Json(job))
}
