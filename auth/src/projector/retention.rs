//! Each project's own retention, copied from `projects.retention_months` into the JetStream
//! key-value bucket `PROJECT_RETENTION` (key: the project id; value: the months as decimal text;
//! no key: the instance's retention), which the sink's retention job reads.
//!
//! The bucket follows the projection rather than the command: after the projector commits a
//! retention change it names the project to a task here, which writes what Postgres holds, and
//! at start (and after a rebuild) every project is compared and written again. A write that
//! fails is tried again until it succeeds, without holding up the projection: the projector
//! never waits on the bucket, and a crash between commit and write is mended by the next start.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use contract::auth::RETENTION_BUCKET;
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

/// How long a failed write waits before it is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// Names projects whose retention changed to the task that writes the bucket.
#[derive(Debug, Clone)]
pub(crate) struct RetentionWriter {
    changed: mpsc::UnboundedSender<Uuid>,
}

impl RetentionWriter {
    /// The bucket will be written for `project_id` (soon, and again until it succeeds).
    pub(crate) fn changed(&self, project_id: Uuid) {
        // The task only ends with the runtime; nothing is left to write then.
        let _ = self.changed.send(project_id);
    }
}

/// Starts the task: it opens (or creates) the bucket, writes every project, then each project
/// named to it.
pub(crate) fn spawn(js: jetstream::Context, pool: PgPool, replicas: usize) -> RetentionWriter {
    let (changed, mut named) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let store = until_ok("opening the retention bucket", || open(&js, replicas)).await;
        until_ok("writing every project's retention", || {
            write(&store, &pool, None)
        })
        .await;
        while let Some(first) = named.recv().await {
            let mut projects = BTreeSet::from([first]);
            while let Ok(next) = named.try_recv() {
                projects.insert(next);
            }
            let projects: Vec<Uuid> = projects.into_iter().collect();
            until_ok("writing a project's retention", || {
                write(&store, &pool, Some(&projects))
            })
            .await;
        }
    });
    RetentionWriter { changed }
}

/// Writes every project's retention once (after a rebuild).
pub(crate) async fn write_all(
    js: &jetstream::Context,
    pool: &PgPool,
    replicas: usize,
) -> anyhow::Result<()> {
    let store = open(js, replicas).await?;
    write(&store, pool, None).await
}

/// Runs `attempt` until it succeeds, logging each failure.
async fn until_ok<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "{what} failed, retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// The bucket, created when missing: one value per key (history 1), on as many servers as the
/// streams.
async fn open(js: &jetstream::Context, replicas: usize) -> anyhow::Result<kv::Store> {
    if let Ok(store) = js.get_key_value(RETENTION_BUCKET).await {
        let stream = format!("KV_{RETENTION_BUCKET}");
        plumbing::streams::raise_replicas(js, &stream, replicas).await;
        return Ok(store);
    }
    Ok(js
        .create_key_value(kv::Config {
            bucket: RETENTION_BUCKET.to_owned(),
            description: "Months of events each project keeps, by project id (auth writes it)"
                .to_owned(),
            history: 1,
            storage: jetstream::stream::StorageType::File,
            num_replicas: replicas.max(1),
            ..Default::default()
        })
        .await?)
}

/// Makes the bucket hold what the projection holds for `projects` (every project: `None`),
/// writing only keys that differ.
async fn write(store: &kv::Store, pool: &PgPool, projects: Option<&[Uuid]>) -> anyhow::Result<()> {
    let rows: Vec<(Uuid, Option<i32>)> = sqlx::query_as(
        "SELECT id, retention_months FROM projects WHERE $1::uuid[] IS NULL OR id = ANY($1)",
    )
    .bind(projects)
    .fetch_all(pool)
    .await?;
    for (project_id, months) in rows {
        let key = project_id.to_string();
        let held = store
            .entry(&key)
            .await?
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| entry.value);
        let wanted = months.map(|months| months.to_string());
        match (held, wanted) {
            (Some(held), Some(wanted)) if held.as_ref() == wanted.as_bytes() => {}
            (None, None) => {}
            (_, Some(wanted)) => {
                store.put(&key, wanted.into()).await?;
            }
            (Some(_), None) => {
                store.delete(&key).await?;
            }
        }
    }
    Ok(())
}
