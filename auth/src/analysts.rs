//! The global `analyst` role of earlier releases becomes a role on projects: at start, once the
//! projection has caught up, every user whose global role is still `analyst` becomes an
//! `analyst` member of every project that exists, then a `user`. Both are events on the
//! stream, like any admin's change, so a rebuild of the projection gives the same result, and
//! a start cut short finishes at the next (a member already there is left as they are).

use std::time::Duration;

use contract::auth::{AuthEvent, ProjectRole, Role};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::members;
use crate::state::AppState;

/// Turns every global analyst into an analyst member of every project, then a user.
pub(crate) async fn migrate(state: &AppState) -> anyhow::Result<()> {
    let mut stream = state
        .publisher
        .context()
        .get_stream(contract::streams::AUTH_STREAM)
        .await?;
    let last = stream.info().await?.state.last_sequence;
    anyhow::ensure!(
        state
            .projection
            .wait_for(last, Duration::from_secs(30))
            .await,
        "projection has not caught up with the stream"
    );
    let analysts: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT id, version FROM users WHERE role = 'analyst' ORDER BY id")
            .fetch_all(&state.pool)
            .await?;
    let projects: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM projects ORDER BY id")
        .fetch_all(&state.pool)
        .await?;
    for (user_id, version) in analysts {
        for &project_id in &projects {
            // Read here, not with `members::role_on`, which refuses a disabled user: a disabled
            // analyst becomes a member too, as they would have stayed an analyst.
            let member: Option<String> = sqlx::query_scalar(
                "SELECT role FROM project_members
                 WHERE project_id = $1 AND user_id = $2 AND role IS NOT NULL",
            )
            .bind(project_id)
            .bind(user_id)
            .fetch_optional(&state.pool)
            .await?;
            if member.is_none() {
                members::set(state, None, project_id, user_id, ProjectRole::Analyst).await?;
            }
        }
        state
            .record(
                contract::auth::user_subject(user_id),
                &AuthEvent::RoleChanged {
                    user_id,
                    role: Role::User,
                    by: None,
                    at: OffsetDateTime::now_utc(),
                },
                &format!("analyst-to-members-{user_id}"),
                Some(u64::try_from(version).unwrap_or(0)),
            )
            .await?;
        tracing::info!(%user_id, projects = projects.len(), "a global analyst became an analyst member of every project");
    }
    Ok(())
}
