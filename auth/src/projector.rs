//! The projector: durable consumer `auth-projector` on `AUTH`, applying each event to the
//! Postgres projections in one transaction together with the stream sequence it came from, and
//! acking only after the commit. An event at or below the stored sequence is skipped, so a
//! redelivery (crash between commit and ack) is never applied twice.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use contract::auth::{AuthEvent, SessionRevokedReason};
use contract::streams::{AUTH_PROJECTOR_CONSUMER, AUTH_STREAM};
use futures_util::StreamExt as _;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::watch;

/// Name of this projection in `projection_state`.
const PROJECTION: &str = "auth";

/// Read-your-writes: waits until the projection has applied a given stream sequence.
#[derive(Debug, Clone)]
pub struct Projection {
    applied: watch::Receiver<u64>,
    pool: PgPool,
}

impl Projection {
    /// Waits until the event at `sequence` is in Postgres (applied here or by another replica);
    /// `false` after `timeout`.
    pub async fn wait_for(&self, sequence: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.clone();
        let wait = async {
            loop {
                if *applied.borrow_and_update() >= sequence {
                    return;
                }
                if last_applied(&self.pool)
                    .await
                    .is_ok_and(|last| last >= sequence)
                {
                    return;
                }
                // Woken by our own projector, or every 100 ms for another replica's.
                let _ = tokio::time::timeout(Duration::from_millis(100), applied.changed()).await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// The last stream sequence applied to the projections.
pub async fn last_applied(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT last_sequence FROM projection_state WHERE projection = $1")
            .bind(PROJECTION)
            .fetch_optional(pool)
            .await?;
    Ok(last.map_or(0, |l| u64::try_from(l).unwrap_or(0)))
}

/// Starts the projector in the background.
pub fn spawn(js: jetstream::Context, pool: PgPool) -> Projection {
    let (sender, applied) = watch::channel(0);
    tokio::spawn({
        let pool = pool.clone();
        async move {
            loop {
                if let Err(err) = consume(&js, &pool, &sender).await {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "auth projector interrupted, resuming"
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    Projection { applied, pool }
}

async fn consume(
    js: &jetstream::Context,
    pool: &PgPool,
    applied: &watch::Sender<u64>,
) -> anyhow::Result<()> {
    let consumer: PullConsumer = js
        .get_consumer_from_stream(AUTH_PROJECTOR_CONSUMER, AUTH_STREAM)
        .await?;
    let mut messages = consumer.messages().await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        let sequence = message
            .info()
            .map_err(|err| anyhow::anyhow!("{err}"))?
            .stream_sequence;
        let event: AuthEvent = match serde_json::from_slice(&message.payload) {
            Ok(event) => event,
            Err(err) => {
                // A message that can never be applied must not block the ones after it.
                tracing::error!(sequence, error = %err, "unreadable auth event, skipped");
                message
                    .ack_with(AckKind::Term)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                continue;
            }
        };
        match apply(pool, sequence, &event).await {
            Ok(()) => {
                message.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                applied.send_replace(sequence);
            }
            Err(err) => {
                tracing::warn!(sequence, error = %err, "projection failed, will retry");
                message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
    }
    Ok(())
}

/// Applies one event and records its sequence, in one transaction; skips what was applied.
pub async fn apply(pool: &PgPool, sequence: u64, event: &AuthEvent) -> Result<(), sqlx::Error> {
    let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
    let mut tx = pool.begin().await?;
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT last_sequence FROM projection_state WHERE projection = $1 FOR UPDATE",
    )
    .bind(PROJECTION)
    .fetch_optional(&mut *tx)
    .await?;
    if last.is_some_and(|last| sequence <= last) {
        return Ok(());
    }
    apply_event(&mut tx, sequence, event).await?;
    sqlx::query(
        "INSERT INTO projection_state (projection, last_sequence, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (projection) DO UPDATE SET last_sequence = $2, updated_at = now()",
    )
    .bind(PROJECTION)
    .bind(sequence)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Applies one event inside `tx`, without the sequence bookkeeping (see [`apply`]).
pub async fn apply_event(
    tx: &mut Transaction<'_, Postgres>,
    sequence: i64,
    event: &AuthEvent,
) -> Result<(), sqlx::Error> {
    match event {
        // Claims and last-admin checks order writers on the stream; they change no state.
        AuthEvent::EmailClaimed { .. } | AuthEvent::LastAdminChecked { .. } => {}
        AuthEvent::UserRegistered {
            user_id,
            email,
            email_hash,
            name,
            password_hash,
            role,
            at,
        } => {
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
        }
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
        AuthEvent::UserErased { user_id, .. } => {
            // Sessions and tokens go with the row (ON DELETE CASCADE).
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        }
        AuthEvent::ProjectCreated {
            project_id,
            name,
            timezone,
            at,
            ..
        } => {
            sqlx::query(
                "INSERT INTO projects (id, name, timezone, created_at, version)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(project_id)
            .bind(name)
            .bind(timezone)
            .bind(at)
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::ProjectDomainsSet {
            project_id,
            domains,
            ..
        } => {
            sqlx::query("UPDATE projects SET domains = $2, version = $3 WHERE id = $1")
                .bind(project_id)
                .bind(domains)
                .bind(sequence)
                .execute(&mut **tx)
                .await?;
        }
        AuthEvent::ProjectQuotaSet {
            project_id,
            events_per_second,
            bytes_per_second,
            ..
        } => {
            // Rates are checked to fit when set; one that does not is stored as no own rate.
            let rate = |value: &Option<u64>| value.and_then(|v| i64::try_from(v).ok());
            sqlx::query(
                "UPDATE projects SET events_per_second = $2, bytes_per_second = $3, version = $4
                 WHERE id = $1",
            )
            .bind(project_id)
            .bind(rate(events_per_second))
            .bind(rate(bytes_per_second))
            .bind(sequence)
            .execute(&mut **tx)
            .await?;
        }
        AuthEvent::WriteKeyIssued {
            project_id,
            key_id,
            key,
            at,
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
