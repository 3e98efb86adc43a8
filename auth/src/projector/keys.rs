//! How a write key or an API key event changes `write_keys` (and the project's version) or
//! `api_keys`.

use contract::auth::AuthEvent;
use sqlx::{Postgres, Transaction};

/// A write key issued or revoked; either moves the project's version.
pub(crate) async fn write_key_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::WriteKeyIssued {
            project_id,
            key_id,
            key,
            at,
            ..
        } => {
            sqlx::query(
                "INSERT INTO write_keys (id, project_id, key, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(key_id)
            .bind(project_id)
            .bind(key)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            touch_project(tx, *project_id, sequence).await?;
        }
        AuthEvent::WriteKeyRevoked {
            project_id,
            key_id,
            at,
            ..
        } => {
            sqlx::query(
                "UPDATE write_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(key_id)
            .bind(at)
            .execute(&mut **tx)
            .await?;
            touch_project(tx, *project_id, sequence).await?;
        }
        // Every other kind has its own function in `apply_event`.
        _ => {}
    }
    Ok(())
}

/// Moves a project's version to the sequence of its latest event.
async fn touch_project(
    tx: &mut Transaction<'_, Postgres>,
    project_id: uuid::Uuid,
    sequence: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projects SET version = $2 WHERE id = $1")
        .bind(project_id)
        .bind(sequence)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An API key created (left out when its owner is gone: an erased user's events stay on the
/// stream) or revoked. `last_used_at` is not from the stream: see `crate::key_usage`.
pub(crate) async fn api_key_changed(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        AuthEvent::ApiKeyCreated {
            key_id,
            user_id,
            name,
            prefix,
            key_hash,
            project_ids,
            expires_at,
            at,
        } => {
            sqlx::query(
                "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, project_ids,
                   expires_at, created_at, version)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
                 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(key_id)
            .bind(user_id)
            .bind(name)
            .bind(prefix)
            .bind(key_hash)
            .bind(project_ids)
            .bind(expires_at)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::ApiKeyRevoked { key_id, at, .. } => {
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $2, version = $3
                 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(key_id)
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
