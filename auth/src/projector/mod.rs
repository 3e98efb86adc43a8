//! The projector: durable consumer `auth-projector` on `AUTH`, applying each event to the
//! Postgres projections in one transaction together with the stream sequence it came from, and
//! acking only after the commit. An event at or below the stored sequence is skipped, so a
//! redelivery (crash between commit and ack) is never applied twice.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use contract::auth::AuthEvent;
use contract::streams::{AUTH_PROJECTOR_CONSUMER, AUTH_STREAM};
use futures_util::StreamExt as _;
use sqlx::PgPool;
use tokio::sync::watch;

pub(crate) use self::audit::USER_PLACEHOLDER;
pub(crate) use self::events::apply_event;

mod annotations;
mod audit;
mod events;
mod insights;
mod invites;
mod keys;
mod members;
mod projects;
mod resets;
pub(crate) mod retention;
mod shared;
mod shares;

/// Name of this projection in `projection_state`.
const PROJECTION: &str = "auth";

/// Read-your-writes: waits until the projection has applied a given stream sequence.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    applied: watch::Receiver<u64>,
    pool: PgPool,
}

impl Projection {
    /// Waits until the event at `sequence` is in Postgres (applied here or by another replica);
    /// `false` after `timeout`.
    pub(crate) async fn wait_for(&self, sequence: u64, timeout: Duration) -> bool {
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

/// Starts the projector in the background, and the task that copies each project's retention
/// into its key-value bucket.
pub(crate) fn spawn(js: jetstream::Context, pool: PgPool, replicas: usize) -> Projection {
    let (sender, applied) = watch::channel(0);
    let retention = retention::spawn(js.clone(), pool.clone(), replicas);
    tokio::spawn({
        let pool = pool.clone();
        async move {
            loop {
                if let Err(err) = consume(&js, &pool, &sender, &retention).await {
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
    retention: &retention::RetentionWriter,
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
                if let AuthEvent::ProjectRetentionSet { project_id, .. } = &event {
                    retention.changed(*project_id);
                }
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
