//! What auth creates at start when it is missing: the first admin (from the configuration) and
//! the built-in project. Both are idempotent across restarts and replicas.

use std::time::Duration;

use contract::auth::{AuthEvent, Role};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::state::AppState;
use crate::store::PublishError;
use crate::{email, users};

/// Makes `email` an admin unless an admin exists, deciding on a projection that has caught up
/// with the stream (or a restart could miss the admin that already exists).
pub(crate) async fn first_admin(
    state: &AppState,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
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
    bootstrap_admin(state, email, password).await
}

/// Makes `email` an admin when no admin exists: registers it, or promotes the existing account.
async fn bootstrap_admin(state: &AppState, email: &str, password: &str) -> anyhow::Result<()> {
    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin'")
        .fetch_one(&state.pool)
        .await?;
    if admins > 0 {
        return Ok(());
    }
    let existing: Option<(Uuid, i64)> =
        sqlx::query_as("SELECT id, version FROM users WHERE email_hash = $1")
            .bind(email::hash(email))
            .fetch_optional(&state.pool)
            .await?;
    match existing {
        Some((user_id, version)) => {
            let sequence = state
                .publisher
                .publish(
                    contract::auth::user_subject(user_id),
                    &AuthEvent::RoleChanged {
                        user_id,
                        role: Role::Admin,
                        by: None,
                        at: OffsetDateTime::now_utc(),
                    },
                    &format!("bootstrap-admin-{user_id}"),
                    Some(u64::try_from(version).unwrap_or(0)),
                )
                .await
                .map_err(|err| anyhow::anyhow!("{err}"))?;
            anyhow::ensure!(
                state.projected(sequence).await.is_ok(),
                "projection did not catch up"
            );
        }
        None => {
            users::register(state, email, password.to_owned(), "Admin", Role::Admin)
                .await
                .map_err(|err| anyhow::anyhow!("registering the first admin: {err}"))?;
        }
    }
    tracing::info!("first admin ready");
    Ok(())
}

/// Creates the built-in project (the product's own dashboard traffic) unless it exists. The
/// claim is the first message on its subject, so concurrent replicas create it once.
pub(crate) async fn builtin_project(state: &AppState) -> anyhow::Result<()> {
    let project_id = contract::BUILTIN_PROJECT_ID;
    let created = state
        .publisher
        .publish(
            contract::auth::project_subject(project_id),
            &AuthEvent::ProjectCreated {
                project_id,
                name: "Event Analytics dashboard".to_owned(),
                timezone: "UTC".to_owned(),
                by: None,
                at: OffsetDateTime::now_utc(),
            },
            "project-builtin",
            Some(0),
        )
        .await;
    match created {
        Ok(sequence) => {
            anyhow::ensure!(
                state.projected(sequence).await.is_ok(),
                "projection did not catch up"
            );
            tracing::info!("built-in project created");
            Ok(())
        }
        Err(PublishError::Conflict) => Ok(()),
        Err(err) => Err(anyhow::anyhow!("{err}")),
    }
}
