//! How a password-reset event changes `password_resets` (the new password itself comes as the
//! user's own `PasswordChanged`).

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// A reset link issued (left out when its user is gone: an erased user's resets stay on the
/// stream) or used.
pub(crate) async fn reset_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::PasswordResetIssued {
            reset_id,
            user_id,
            token_hash,
            expires_at,
            by,
            at,
        } => {
            sqlx::query(
                "INSERT INTO password_resets (id, user_id, token_hash, expires_at, created_by,
                   created_at, version)
                 SELECT $1, $2, $3, $4, (SELECT id FROM users WHERE id = $5), $6, $7
                 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(reset_id)
            .bind(user_id)
            .bind(token_hash)
            .bind(expires_at)
            .bind(by)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::PasswordResetUsed { reset_id, at, .. } => {
            sqlx::query(
                "UPDATE password_resets SET used_at = $2, version = $3
                 WHERE id = $1 AND used_at IS NULL",
            )
            .bind(reset_id)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        // Every other kind has its own function in apply_event.
        _ => {}
    }
    Ok(())
}
