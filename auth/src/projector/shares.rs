//! How a shared-link event changes `shares`.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// A link created (left out when its dashboard is gone) or revoked.
pub(crate) async fn share_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::ShareCreated {
            project_id,
            share_id,
            dashboard_id,
            prefix,
            token_hash,
            password_hash,
            embed_origins,
            by,
            at,
        } => {
            sqlx::query(
                "INSERT INTO shares (id, project_id, dashboard_id, prefix, token_hash,
                   password_hash, embed_origins, created_by, created_at, version)
                 SELECT $1, $2, $3, $4, $5, $6, $7, (SELECT id FROM users WHERE id = $8), $9, $10
                 WHERE EXISTS (SELECT 1 FROM dashboards WHERE id = $3 AND project_id = $2)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(share_id)
            .bind(project_id)
            .bind(dashboard_id)
            .bind(prefix)
            .bind(token_hash)
            .bind(password_hash)
            .bind(embed_origins)
            .bind(by)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::ShareRevoked { share_id, at, .. } => {
            sqlx::query(
                "UPDATE shares SET revoked_at = $2, version = $3
                 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(share_id)
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
