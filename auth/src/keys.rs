//! Write keys: the secrets with which a project's sites send events (issued, revoked; ingest
//! follows them from the stream).

use contract::auth::{AuthEvent, WriteKeyView};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{projects, tokens};

/// Issues another write key for the project.
pub(crate) async fn issue(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
) -> Result<WriteKeyView, ApiError> {
    let version = projects::version(state, project_id).await?;
    let key_id = Uuid::now_v7();
    let key = tokens::new_write_key()?;
    state
        .record(
            contract::auth::project_subject(project_id),
            &AuthEvent::WriteKeyIssued {
                project_id,
                key_id,
                key: key.clone(),
                by: Some(by),
                at: OffsetDateTime::now_utc(),
            },
            &format!("key-{key_id}"),
            Some(version),
        )
        .await?;
    Ok(WriteKeyView { id: key_id, key })
}

/// Revokes a write key of the project; a key already revoked stays so.
pub(crate) async fn revoke(
    state: &AppState,
    by: Uuid,
    project_id: Uuid,
    key_id: Uuid,
) -> Result<(), ApiError> {
    let version = projects::version(state, project_id).await?;
    let live: Option<bool> = sqlx::query_scalar(
        "SELECT revoked_at IS NULL FROM write_keys WHERE id = $1 AND project_id = $2",
    )
    .bind(key_id)
    .bind(project_id)
    .fetch_optional(&state.pool)
    .await?;
    match live {
        None => return Err(ApiError::NotFound),
        Some(false) => return Ok(()),
        Some(true) => {}
    }
    state
        .record(
            contract::auth::project_subject(project_id),
            &AuthEvent::WriteKeyRevoked {
                project_id,
                key_id,
                by: Some(by),
                at: OffsetDateTime::now_utc(),
            },
            &format!("revoke-key-{key_id}"),
            Some(version),
        )
        .await
}
