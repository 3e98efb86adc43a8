//! A project's own intake quota, published as a `ProjectQuotaSet` event that the projector
//! stores and ingest follows from the stream.

use contract::auth::{AuthEvent, ProjectQuota};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::projects;
use crate::state::AppState;

/// The largest rate an admin may set, events or bytes a second: far above what one site sends,
/// and it fits Postgres' `bigint` and ingest's buckets.
const MAX_RATE: u64 = 1_000_000_000_000;

/// Sets the project's own rates, as admin `by`.
pub(crate) async fn set(
    state: &AppState,
    project_id: Uuid,
    by: Uuid,
    quota: &ProjectQuota,
) -> Result<(), ApiError> {
    within_bounds("events_per_second", quota.events_per_second)?;
    within_bounds("bytes_per_second", quota.bytes_per_second)?;
    let version = projects::version(state, project_id).await?;
    state
        .record(
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
        .await
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
