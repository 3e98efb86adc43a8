//! A project's own intake quota: `PUT /api/admin/projects/{id}/quota`, published as a
//! `ProjectQuotaSet` event that the projector stores and ingest follows from the stream.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use contract::auth::{AuthEvent, ProjectQuota, ProjectQuotaView};
use plumbing::error::{JsonBody, PathParams};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::admin::{admin, project_version};
use crate::api::{ApiError, AppState};

/// The largest rate an admin may set, events or bytes a second: far above what one site sends,
/// and it fits Postgres' `bigint` and ingest's buckets.
const MAX_RATE: u64 = 1_000_000_000_000;

#[utoipa::path(
    put, path = "/api/admin/projects/{id}/quota", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    request_body = ProjectQuota,
    responses(
        (status = 200, description = "the project's own quota; ingest applies it within moments (a null rate is ingest's default)", body = ProjectQuotaView),
        (status = 400, description = "bad input: a rate below 1 or above 10^12", body = contract::ErrorBody),
        (status = 401, description = "no valid bearer token", body = contract::ErrorBody),
        (status = 403, description = "not an admin, or the account is disabled", body = contract::ErrorBody),
        (status = 404, description = "no such project", body = contract::ErrorBody),
        (status = 409, description = "changed concurrently", body = contract::ErrorBody),
        (status = 413, description = "the body is too large", body = contract::ErrorBody),
        (status = 503, description = "a dependency is down; retry", body = contract::ErrorBody)
    )
)]
pub(crate) async fn set_quota(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathParams(project_id): PathParams<Uuid>,
    JsonBody(quota): JsonBody<ProjectQuota>,
) -> Result<Json<ProjectQuotaView>, ApiError> {
    let by = admin(&state, &headers).await?;
    within_bounds("events_per_second", quota.events_per_second)?;
    within_bounds("bytes_per_second", quota.bytes_per_second)?;
    let version = project_version(&state, project_id).await?;
    let sequence = state
        .publisher
        .publish(
            contract::auth::project_subject(project_id),
            &AuthEvent::ProjectQuotaSet {
                project_id,
                events_per_second: quota.events_per_second,
                bytes_per_second: quota.bytes_per_second,
                by: Some(by),
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await?;
    state.projected(sequence).await?;
    Ok(Json(ProjectQuotaView {
        id: project_id,
        quota,
    }))
}

/// A rate of 0 would refuse every event without saying so; an admin who wants a project to
/// take nothing revokes its keys instead.
fn within_bounds(field: &str, rate: Option<u64>) -> Result<(), ApiError> {
    match rate {
        Some(rate) if !(1..=MAX_RATE).contains(&rate) => Err(ApiError::BadRequest(format!(
            "{field}: must be null (the default) or from 1 to {MAX_RATE}"
        ))),
        _ => Ok(()),
    }
}
