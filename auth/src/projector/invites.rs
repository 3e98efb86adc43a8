//! How an invite event changes `invites`.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// An invite created, used or withdrawn.
pub(crate) async fn invite_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::InviteCreated {
            project_id,
            invite_id,
            email,
            role,
            token_hash,
            expires_at,
            by,
            at,
        } => {
            sqlx::query(
                "INSERT INTO invites (id, project_id, email, role, token_hash, expires_at,
                   created_by, created_at, state, version)
                 SELECT $1, $2, $3, $4, $5, $6, (SELECT id FROM users WHERE id = $7), $8,
                   'pending', $9
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $2)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(invite_id)
            .bind(project_id)
            .bind(email)
            .bind(role.as_str())
            .bind(token_hash)
            .bind(expires_at)
            .bind(by)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::InviteAccepted { invite_id, .. }
        | AuthEvent::InviteRevoked { invite_id, .. } => {
            let state = if matches!(event, AuthEvent::InviteAccepted { .. }) {
                "accepted"
            } else {
                "revoked"
            };
            sqlx::query("UPDATE invites SET state = $2, version = $3 WHERE id = $1")
                .bind(invite_id)
                .bind(state)
                .bind(sequence)
                .execute(&mut **tx)
                .await?;
        }
        // Every other kind has its own function in apply_event.
        _ => {}
    }
    Ok(())
}
