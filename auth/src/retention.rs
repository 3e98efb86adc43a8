//! A project's own retention: how many months of its events are kept, set by its admins as a
//! `ProjectRetentionSet` event that the projector stores and copies into the key-value bucket the
//! sink's retention job reads.

use contract::auth::{AuthEvent, MAX_RETENTION_MONTHS, ProjectRetention};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::projects;
use crate::state::AppState;

/// Sets the project's retention (`None`: the instance's), as `by`.
pub(crate) async fn set(
    state: &AppState,
    project_id: Uuid,
    by: Uuid,
    retention: ProjectRetention,
) -> Result<ProjectRetention, ApiError> {
    if let Some(months) = retention.months
        && !(1..=MAX_RETENTION_MONTHS).contains(&months)
    {
        return Err(ApiError::BadRequest(format!(
            "months: must be null (the instance's retention) or from 1 to {MAX_RETENTION_MONTHS}"
        )));
    }
    let version = projects::version(state, project_id).await?;
    state
        .record(
            contract::auth::project_subject(project_id),
            &AuthEvent::ProjectRetentionSet {
                project_id,
                months: retention.months,
                by: Some(by),
                at: OffsetDateTime::now_utc(),
            },
            &Uuid::now_v7().to_string(),
            Some(version),
        )
        .await?;
    Ok(retention)
}
