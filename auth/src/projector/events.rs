//! How each auth event changes the projection tables (users and sessions here; projects in
//! `super::projects`, write and API keys in `super::keys`, password resets in `super::resets`,
//! a project's members, notes, invites, insights, dashboards and shared links in
//! `super::shared`, and every project event's line of history in `super::audit`), applied
//! inside the projector's or the rebuild's transaction.

use contract::auth::{AuthEvent, SessionRevokedReason};
use sqlx::{Postgres, Transaction};

/// Applies one event inside `tx`, without the sequence bookkeeping (the projector's `apply` adds
/// it), and writes it into its project's history when it has a project.
pub(crate) async fn apply_event(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    // Read before the change (the name of a dashboard it deletes), written after it (the row of
    // a project it creates).
    let history = super::audit::entry(tx, event).await?;
    apply_change(tx, sequence, event).await?;
    if let Some(entry) = history {
        super::audit::insert(tx, sequence, event, entry).await?;
    }
    Ok(())
}

/// The change one event makes to the tables. The match names every kind, so a new kind does
/// not compile until it is projected (or ignored here on purpose).
async fn apply_change(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        // Claims and last-admin checks order writers on the stream; they change no state.
        AuthEvent::EmailClaimed { .. } | AuthEvent::LastAdminChecked { .. } => Ok(()),
        AuthEvent::PasswordResetIssued { .. } | AuthEvent::PasswordResetUsed { .. } => {
            super::resets::reset_changed(tx, sequence, event).await
        }
        AuthEvent::UserRegistered { .. } => user_registered(tx, sequence, event).await,
        AuthEvent::LoginSucceeded { .. }
        | AuthEvent::LoginFailed { .. }
        | AuthEvent::PasswordChanged { .. }
        | AuthEvent::RoleChanged { .. }
        | AuthEvent::UserErased { .. } => user_changed(tx, sequence, event).await,
        AuthEvent::UserDisabled { .. } | AuthEvent::UserEnabled { .. } => {
            user_disabled_or_enabled(tx, sequence, event).await
        }
        AuthEvent::SessionStarted { .. }
        | AuthEvent::SessionRefreshed { .. }
        | AuthEvent::SessionRevoked { .. } => session_changed(tx, sequence, event).await,
        AuthEvent::ProjectCreated { .. }
        | AuthEvent::ProjectDomainsSet { .. }
        | AuthEvent::ProjectQuotaSet { .. }
        | AuthEvent::ProjectRetentionSet { .. } => {
            super::projects::project_changed(tx, sequence, event).await
        }
        AuthEvent::WriteKeyIssued { .. } | AuthEvent::WriteKeyRevoked { .. } => {
            super::keys::write_key_changed(tx, sequence, event).await
        }
        AuthEvent::ApiKeyCreated { .. } | AuthEvent::ApiKeyRevoked { .. } => {
            super::keys::api_key_changed(tx, sequence, event).await
        }
        AuthEvent::MemberSet { .. }
        | AuthEvent::MemberRemoved { .. }
        | AuthEvent::AnnotationSet { .. }
        | AuthEvent::AnnotationDeleted { .. }
        | AuthEvent::InviteCreated { .. }
        | AuthEvent::InviteAccepted { .. }
        | AuthEvent::InviteRevoked { .. }
        | AuthEvent::InsightSaved { .. }
        | AuthEvent::InsightDeleted { .. }
        | AuthEvent::DashboardSaved { .. }
        | AuthEvent::DashboardDeleted { .. }
        | AuthEvent::ShareCreated { .. }
        | AuthEvent::ShareRevoked { .. } => super::shared::changed(tx, sequence, event).await,
    }
}

/// A new user row.
async fn user_registered(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    let AuthEvent::UserRegistered {
        user_id,
        email,
        email_hash,
        name,
        password_hash,
        role,
        at,
    } = event
    else {
        return Ok(());
    };
    // The email claim on the stream makes a duplicate impossible; the unique index is
    // the backstop, and a row it refuses is logged rather than blocking the stream.
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, email_hash, name, password_hash, role, created_at, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(email)
    .bind(email_hash)
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(at)
    .bind(sequence)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        tracing::error!(%user_id, sequence, "user not projected: id or email already present");
    }
    Ok(())
}

/// A user logged in (or failed to), changed password or role, or was erased.
async fn user_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::LoginSucceeded { user_id, at } => {
            sqlx::query("UPDATE users SET last_login_at = $2, failed_logins = 0 WHERE id = $1")
                .bind(user_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
        }
        AuthEvent::LoginFailed { user_id, .. } => {
            sqlx::query("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        AuthEvent::PasswordChanged {
            user_id,
            password_hash,
            at,
        } => {
            sqlx::query("UPDATE users SET password_hash = $2, version = $3 WHERE id = $1")
                .bind(user_id)
                .bind(password_hash)
                .bind(sequence)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2, revoked_reason = 'password_changed'
                 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(user_id)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::RoleChanged { user_id, role, .. } => {
            sqlx::query("UPDATE users SET role = $2, version = $3 WHERE id = $1")
                .bind(user_id)
                .bind(role.as_str())
                .bind(sequence)
                .execute(&mut **tx)
                .await?;
        }
        AuthEvent::UserErased { user_id, .. } => {
            // Sessions and tokens go with the row (ON DELETE CASCADE).
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        // Every other kind has its own function in `apply_event`.
        _ => {}
    }
    Ok(())
}

/// A user disabled (their sessions end) or enabled again.
async fn user_disabled_or_enabled(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::UserDisabled { user_id, at, .. }
        | AuthEvent::UserEnabled { user_id, at, .. } => {
            let disabled = matches!(event, AuthEvent::UserDisabled { .. });
            sqlx::query("UPDATE users SET disabled = $2, version = $3 WHERE id = $1")
                .bind(user_id)
                .bind(disabled)
                .bind(sequence)
                .execute(&mut **tx)
                .await?;
            if disabled {
                // A disabled account keeps no session.
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $2, revoked_reason = 'disabled'
                     WHERE user_id = $1 AND revoked_at IS NULL",
                )
                .bind(user_id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
        }
        // Every other kind has its own function in `apply_event`.
        _ => {}
    }
    Ok(())
}

/// A session started, its refresh token rotated, or the session ended.
async fn session_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::SessionStarted {
            family_id,
            user_id,
            token_hash,
            expires_at,
            at,
        } => {
            // After an erasure, a rebuild meets sessions of a user who no longer exists.
            sqlx::query(
                "INSERT INTO sessions (family_id, user_id, current_hash, expires_at, created_at, version)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(family_id)
            .bind(user_id)
            .bind(token_hash)
            .bind(expires_at)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
            insert_session_token(tx, token_hash, *family_id).await?;
        }
        AuthEvent::SessionRefreshed {
            family_id,
            previous_hash,
            token_hash,
            expires_at,
            at,
        } => {
            sqlx::query(
                "UPDATE sessions SET current_hash = $2, expires_at = $3, version = $4 WHERE family_id = $1",
            )
            .bind(family_id)
            .bind(token_hash)
            .bind(expires_at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE session_tokens SET rotated_at = $2 WHERE token_hash = $1")
                .bind(previous_hash)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            insert_session_token(tx, token_hash, *family_id).await?;
        }
        AuthEvent::SessionRevoked {
            family_id,
            reason,
            at,
        } => {
            let reason = match reason {
                SessionRevokedReason::Logout => "logout",
                SessionRevokedReason::TokenReuse => "token_reuse",
            };
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2, revoked_reason = $3, version = $4
                 WHERE family_id = $1 AND revoked_at IS NULL",
            )
            .bind(family_id)
            .bind(at)
            .bind(reason)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        // Every other kind has its own function in `apply_event`.
        _ => {}
    }
    Ok(())
}

/// Records a token of a session family (skipped when the family is unknown, after an erasure).
async fn insert_session_token(
    tx: &mut Transaction<'_, Postgres>,
    token_hash: &str,
    family_id: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO session_tokens (token_hash, family_id)
         SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM sessions WHERE family_id = $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(token_hash)
    .bind(family_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
