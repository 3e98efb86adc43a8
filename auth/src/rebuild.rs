//! Rebuilding the projections: truncate them and replay `AUTH` from its first message, in one
//! transaction that holds the projector's lock, so the live projector waits and then carries on
//! from where the rebuild stopped. The result equals the live state table for table, and the
//! projects' retention bucket is written again from it.

use std::io::Write as _;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, consumer::DeliverPolicy};
use contract::auth::AuthEvent;
use contract::streams::AUTH_STREAM;
use futures_util::StreamExt as _;
use sqlx::PgPool;

/// Replays the whole stream into freshly truncated projections. `progress` receives
/// (applied, total) now and then. Returns the number of events applied. A retention bucket
/// created on the way is kept on `replicas` servers.
pub async fn rebuild(
    js: &jetstream::Context,
    pool: &PgPool,
    replicas: usize,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let mut stream = js.get_stream(AUTH_STREAM).await?;
    let info = stream.info().await?;
    let last = info.state.last_sequence;
    let total = info.state.messages;

    let mut tx = pool.begin().await?;
    // The projector takes this row lock for every event it applies: while we hold it, it waits.
    sqlx::query(
        "INSERT INTO projection_state (projection, last_sequence) VALUES ('auth', 0)
         ON CONFLICT (projection) DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT last_sequence FROM projection_state WHERE projection = 'auth' FOR UPDATE")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "TRUNCATE project_audit, password_resets, shares, dashboards, insights, api_keys, \
         annotations, invites, project_members, session_tokens, sessions, write_keys, projects, \
         users",
    )
    .execute(&mut *tx)
    .await?;

    let mut applied = 0;
    if last > 0 {
        let reader = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await?;
        let mut messages = reader.messages().await?;
        while let Some(message) = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .map_err(|_| anyhow::anyhow!("the stream stopped delivering before sequence {last}"))?
        {
            let message = message?;
            let sequence = message
                .info()
                .map_err(|err| anyhow::anyhow!("{err}"))?
                .stream_sequence;
            match serde_json::from_slice::<AuthEvent>(&message.payload) {
                Ok(event) => {
                    crate::projector::apply_event(&mut tx, i64::try_from(sequence)?, &event)
                        .await?;
                }
                Err(err) => {
                    tracing::error!(sequence, error = %err, "unreadable auth event, skipped")
                }
            }
            applied += 1;
            if applied % 500 == 0 {
                progress(applied, total);
            }
            if sequence >= last {
                break;
            }
        }
    }
    sqlx::query("UPDATE projection_state SET last_sequence = $1, updated_at = now() WHERE projection = 'auth'")
        .bind(i64::try_from(last)?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // The retention bucket follows the projection: written again from what was rebuilt.
    crate::projector::retention::write_all(js, pool, replicas).await?;
    progress(applied, total);
    Ok(applied)
}

/// A progress line on stderr: `rebuilding projections [#####.....] 1200/2400 events`.
pub fn print_progress(applied: u64, total: u64) {
    let width = 30;
    let filled = if total == 0 {
        width
    } else {
        (applied * width / total.max(1)).min(width)
    };
    let bar: String = (0..width)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    eprint!("\rrebuilding projections [{bar}] {applied}/{total} events");
    let _ = std::io::stderr().flush();
}
