//! Imports of uploaded files for the imports API: the file goes to the JetStream object store
//! bucket [`IMPORTS_BUCKET`] (at most four times the largest upload; a file is deleted once its
//! job is over, or its upload refused or broken off), its job to the KV bucket
//! [`IMPORT_JOBS_BUCKET`] (from the upload's first byte on, as `uploading`), and a worker in
//! every ingest runs the jobs ([`worker`]), saving where each stands as it goes, so that a job
//! an ingest left half done (killed, restarted) is taken up again from there.

mod claimed;
mod put;
mod read;
mod running;
pub(crate) mod upload;
pub(crate) mod worker;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store};
use contract::imports::{IMPORT_JOBS_BUCKET, IMPORTS_BUCKET, ImportJob};
use plumbing::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Notify, OnceCell};
use uuid::Uuid;

/// How long an uploaded file is kept at most: a job not over by then fails. A file is deleted
/// when its job ends (done or failed); this age limit only bounds what a failure to delete
/// leaves behind (the chunks of an upload whose ingest died while storing it).
const FILES_KEPT: Duration = Duration::from_secs(3 * 24 * 3600);

/// How imports run.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// The largest upload taken (`IMPORT_MAX_BYTES`, default 1 GiB).
    pub max_bytes: u64,
    /// Jobs of one project unfinished (queued or running) at once; another upload is a 409.
    pub max_unfinished_per_project: usize,
    /// A running job whose ingest has not saved it for this long is taken over by another
    /// (that ingest is taken for dead).
    pub stale_after: Duration,
    /// For tests (`IMPORT_TEST_EVENTS_PER_SECOND`, not a setting for users): read at most this
    /// many records a second, so a test sees a job part way for certain. `None`: no limit.
    pub events_per_second: Option<u32>,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            max_bytes: contract::imports::MAX_IMPORT_BYTES,
            max_unfinished_per_project: 3,
            stale_after: Duration::from_secs(30),
            events_per_second: None,
        }
    }
}

/// A job as kept in the KV bucket: what the API shows, and what the worker needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    #[serde(flatten)]
    pub(crate) job: ImportJob,
    /// Whether the file is read as CSV.
    pub(crate) csv: bool,
    /// The ingest running the job, if one is.
    pub(crate) owner: Option<String>,
    /// When its ingest last saved it (Unix milliseconds, its own clock: only shown; staleness is
    /// judged by the KV server's time of the entry's last revision).
    pub(crate) heartbeat_ms: i64,
    /// Runs that ended in a transient error (NATS, the file's read), each followed by a pause.
    #[serde(default)]
    pub(crate) tries: u32,
    /// The last of those errors.
    #[serde(default)]
    pub(crate) last_error: Option<String>,
}

/// How long a listing of the jobs may take.
const READ_WITHIN: Duration = Duration::from_secs(10);

/// The key of `job` in the jobs' bucket: `<project_id>.<id>`, so a project's jobs are listed
/// by a key filter.
pub(crate) fn key_of(job: &ImportJob) -> String {
    format!("{}.{}", job.project_id, job.id)
}

/// A job as read from the bucket: its entry, KV revision, and when that revision was written
/// (the server's clock).
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    pub(crate) entry: Entry,
    pub(crate) revision: u64,
    pub(crate) written: OffsetDateTime,
}

impl Kept {
    /// Whether nobody has saved the job for `after`, judged by the server's clock.
    pub(crate) fn stale(&self, after: Duration) -> bool {
        let since = OffsetDateTime::now_utc() - self.written;
        since > after
    }
}

/// The imports of this ingest.
#[derive(Debug, Clone)]
pub(crate) struct Jobs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    js: jetstream::Context,
    config: ImportConfig,
    /// Servers the buckets are kept on when this ingest creates them.
    replicas: usize,
    buckets: OnceCell<Buckets>,
    /// Wakes the worker when a job was queued here.
    queued: Notify,
    /// This ingest, as the jobs it holds name it.
    owner: String,
    /// `ingest_import_runs_total{outcome}`: job runs ended, by [`RunOutcome`].
    runs: Family<Vec<(&'static str, &'static str)>, Counter>,
}

/// How a job's run on this ingest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunOutcome {
    /// The whole file imported.
    Done,
    /// Failed for good: a file that cannot be read, or too many tries.
    Failed,
    /// Stopped by a transient error (NATS, the file's read), let go to be run again.
    Released,
    /// Let go where it stood because this ingest stops.
    Stopped,
    /// Another ingest took the job over (this one's heartbeat had gone stale).
    TakenOver,
}

impl RunOutcome {
    const ALL: [Self; 5] = [
        Self::Done,
        Self::Failed,
        Self::Released,
        Self::Stopped,
        Self::TakenOver,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Released => "released",
            Self::Stopped => "stopped",
            Self::TakenOver => "taken_over",
        }
    }
}

#[derive(Clone)]
pub(crate) struct Buckets {
    pub(crate) files: object_store::ObjectStore,
    pub(crate) jobs: kv::Store,
}

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buckets").finish_non_exhaustive()
    }
}

impl Jobs {
    /// The imports run with `js`, their buckets on `replicas` servers, their metrics in
    /// `metrics`.
    pub(crate) fn new(
        js: jetstream::Context,
        config: ImportConfig,
        replicas: usize,
        metrics: &Metrics,
    ) -> Self {
        let runs = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        // Every series from the start, so rates and alerts see zeros rather than gaps.
        for outcome in RunOutcome::ALL {
            let _ = runs.get_or_create(&vec![("outcome", outcome.label())]);
        }
        metrics.register(
            "import_runs",
            "Import job runs ended on this ingest, by outcome: done, failed, or released after a \
             transient error to be run again",
            runs.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                js,
                config,
                replicas: replicas.max(1),
                buckets: OnceCell::new(),
                queued: Notify::new(),
                owner: Uuid::now_v7().to_string(),
                runs,
            }),
        }
    }

    pub(crate) fn config(&self) -> &ImportConfig {
        &self.inner.config
    }

    /// Counts a job's run ended with `outcome`.
    pub(crate) fn count_run(&self, outcome: RunOutcome) {
        self.inner
            .runs
            .get_or_create(&vec![("outcome", outcome.label())])
            .inc();
    }

    /// This ingest, as the jobs it holds name it.
    pub(crate) fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// The buckets, opened or created once; a failure is tried again by the next call.
    pub(crate) async fn buckets(&self) -> anyhow::Result<&Buckets> {
        let js = &self.inner.js;
        let max_bytes = i64::try_from(self.inner.config.max_bytes.saturating_mul(4))?;
        self.inner
            .buckets
            .get_or_try_init(|| async {
                let replicas = self.inner.replicas;
                let files = match js.get_object_store(IMPORTS_BUCKET).await {
                    Ok(files) => {
                        let stream = format!("OBJ_{IMPORTS_BUCKET}");
                        plumbing::streams::raise_replicas(js, &stream, replicas).await;
                        files
                    }
                    Err(_) => {
                        js.create_object_store(object_store::Config {
                            bucket: IMPORTS_BUCKET.to_owned(),
                            description: Some("Uploaded export files of imports".to_owned()),
                            max_bytes,
                            max_age: FILES_KEPT,
                            num_replicas: replicas,
                            ..Default::default()
                        })
                        .await?
                    }
                };
                let jobs = match js.get_key_value(IMPORT_JOBS_BUCKET).await {
                    Ok(jobs) => {
                        let stream = format!("KV_{IMPORT_JOBS_BUCKET}");
                        plumbing::streams::raise_replicas(js, &stream, replicas).await;
                        jobs
                    }
                    Err(_) => {
                        js.create_key_value(kv::Config {
                            bucket: IMPORT_JOBS_BUCKET.to_owned(),
                            description: "Import jobs and where each stands".to_owned(),
                            history: 1,
                            max_age: Duration::from_secs(90 * 24 * 3600),
                            num_replicas: replicas,
                            ..Default::default()
                        })
                        .await?
                    }
                };
                anyhow::Ok(Buckets { files, jobs })
            })
            .await
    }
}

impl Jobs {
    /// Deletes the file of job `id`, if one is stored; a failure is logged (the bucket's age
    /// limit takes the file in the end).
    pub(crate) async fn discard(&self, id: Uuid) {
        let Ok(buckets) = self.buckets().await else {
            return;
        };
        match buckets.files.delete(id.to_string()).await {
            Ok(()) => tracing::info!(job = %id, "import file deleted"),
            Err(err) if err.kind() == object_store::DeleteErrorKind::NotFound => {}
            Err(err) => tracing::warn!(job = %id, error = %err, "import file not deleted"),
        }
    }
}

/// Now, as the jobs say times.
pub(crate) fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Now in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
