//! The import worker every ingest runs: it takes a queued job, or a running one whose ingest
//! stopped saving it (killed), with a compare-and-set on the job's KV revision, so two ingests
//! never run one job; then reads the file from the object store from the job's saved offset on,
//! saving the job every second (its progress, and the heartbeat that keeps it this ingest's).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use contract::imports::{ImportError, ImportState};

use crate::import::jobs::{Entry, Jobs, now, now_ms};
use crate::import::records::Records;
use crate::import::run::{Ended, Import, Observer, Options, Saved};
use crate::import::{Format, Mapper};

/// PubAcks an import awaits at once.
const WINDOW: usize = 1000;
/// Refused records a job names.
const MAX_ERRORS: usize = 10;
/// How often a running job is saved.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How often an idle worker looks for jobs (one queued on this ingest wakes it at once).
const LOOK_EVERY: Duration = Duration::from_secs(3);

/// Runs jobs, one at a time, for ever.
pub(crate) async fn work(jobs: Jobs, client: async_nats::Client) {
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(WINDOW + 100)
        .build(client);
    let owner = uuid::Uuid::now_v7().to_string();
    loop {
        match claim(&jobs, &owner).await {
            Ok(Some(claimed)) => run(&jobs, &js, claimed).await,
            Ok(None) => {
                let _ = tokio::time::timeout(LOOK_EVERY, jobs.inner.queued.notified()).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "import jobs could not be read");
                tokio::time::sleep(LOOK_EVERY).await;
            }
        }
    }
}

/// A job this ingest holds: its entry as last saved, and that save's revision.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) key: String,
    pub(crate) entry: Entry,
    pub(crate) revision: u64,
    pub(crate) store: kv::Store,
}

impl Claimed {
    /// Saves the entry if it is still this ingest's; `false` when another took it over.
    pub(crate) async fn save(&mut self) -> anyhow::Result<bool> {
        self.entry.heartbeat_ms = now_ms();
        let value = serde_json::to_vec(&self.entry)?;
        match self
            .store
            .update(&self.key, value.into(), self.revision)
            .await
        {
            Ok(revision) => {
                self.revision = revision;
                Ok(true)
            }
            Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    fn take_progress(&mut self, progress: &Progress) {
        let job = &mut self.entry.job;
        job.bytes_read = progress.saved.offset;
        job.imported = progress.saved.events;
        job.refused = progress.saved.refused;
        job.errors.clone_from(&progress.errors);
    }
}

/// The oldest job no live ingest runs, taken for this one. A job is another live ingest's while
/// that ingest saves it: its last save (the KV server's time of the entry's revision) is newer
/// than `stale_after`. An upload whose ingest stopped saving it is failed, its file deleted.
async fn claim(jobs: &Jobs, owner: &str) -> anyhow::Result<Option<Claimed>> {
    let store = jobs.buckets().await?.jobs.clone();
    let stale_after = jobs.config().stale_after;
    let mut entries = jobs.entries().await?;
    entries.sort_by_key(|kept| kept.entry.job.id);
    for kept in entries {
        let stale = kept.stale(stale_after);
        let free = match kept.entry.job.state {
            ImportState::Done | ImportState::Failed => false,
            ImportState::Uploading => {
                if stale {
                    abandon_upload(jobs, &store, kept).await;
                }
                continue;
            }
            ImportState::Queued | ImportState::Running => kept.entry.owner.is_none() || stale,
        };
        if !free {
            continue;
        }
        let mut claimed = Claimed {
            key: kept.entry.job.id.to_string(),
            entry: kept.entry,
            revision: kept.revision,
            store: store.clone(),
        };
        claimed.entry.owner = Some(owner.to_owned());
        claimed.entry.job.state = ImportState::Running;
        claimed.entry.job.started_at.get_or_insert_with(now);
        if claimed.save().await? {
            return Ok(Some(claimed));
        }
    }
    Ok(None)
}

/// Fails an upload whose ingest stopped while receiving it, and deletes what it stored.
async fn abandon_upload(jobs: &Jobs, store: &kv::Store, kept: super::Kept) {
    let id = kept.entry.job.id;
    let mut abandoned = Claimed {
        key: id.to_string(),
        entry: kept.entry,
        revision: kept.revision,
        store: store.clone(),
    };
    let entry = &mut abandoned.entry;
    entry.job.state = ImportState::Failed;
    entry.job.finished_at = Some(now());
    entry.job.errors.push(ImportError {
        line: 0,
        error: "the upload broke off: the ingest receiving it stopped".to_owned(),
    });
    entry.owner = None;
    if matches!(abandoned.save().await, Ok(true)) {
        tracing::warn!(job = %id, "upload abandoned by a stopped ingest: failed");
        jobs.discard(id).await;
    }
}

/// What the import loop has told so far.
#[derive(Debug, Default)]
struct Progress {
    saved: Saved,
    errors: Vec<ImportError>,
}

/// Keeps the loop's news in the shared [`Progress`], which the job's saves read.
#[derive(Debug)]
struct Shared(Arc<Mutex<Progress>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        lock(&self.0)
    }
}

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Observer for Shared {
    async fn save(&mut self, _saved: Saved) -> anyhow::Result<()> {
        // The job is saved every second instead, with whatever was acked last.
        Ok(())
    }

    fn acked(&mut self, saved: Saved) {
        self.lock().saved = saved;
    }

    fn refused(&mut self, line: u64, _offset: u64, reason: &str) {
        let mut progress = self.lock();
        let known = progress.errors.iter().any(|error| error.line == line);
        if !known && progress.errors.len() < MAX_ERRORS {
            progress.errors.push(ImportError {
                line,
                error: reason.to_owned(),
            });
        }
    }
}

/// Runs a claimed job to its end, unless another ingest takes it over meanwhile.
async fn run(jobs: &Jobs, js: &jetstream::Context, mut claimed: Claimed) {
    let job = claimed.entry.job.clone();
    tracing::info!(job = %job.id, project_id = %job.project_id, offset = job.bytes_read, "import running");
    let progress = Arc::new(Mutex::new(Progress {
        saved: Saved {
            offset: job.bytes_read,
            events: job.imported,
            refused: job.refused,
        },
        errors: job.errors.clone(),
    }));
    let mut observer = Shared(Arc::clone(&progress));
    let entry = claimed.entry.clone();
    let import = publish(jobs, js, &entry, &mut observer);
    tokio::pin!(import);
    let mut tick = tokio::time::interval(SAVE_EVERY);
    let outcome = loop {
        tokio::select! {
            outcome = &mut import => break outcome,
            _ = tick.tick() => {
                claimed.take_progress(&lock(&progress));
                match claimed.save().await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %job.id, "import taken over by another ingest");
                        return;
                    }
                    Err(err) => tracing::warn!(job = %job.id, error = %err, "import not saved"),
                }
            }
        }
    };
    claimed.take_progress(&lock(&progress));
    finish(jobs, claimed, outcome).await;
}

/// The job's file published from its saved offset on.
async fn publish(
    jobs: &Jobs,
    js: &jetstream::Context,
    entry: &Entry,
    observer: &mut Shared,
) -> anyhow::Result<Ended> {
    let job = &entry.job;
    let format =
        Format::of(&job.format).ok_or_else(|| anyhow::anyhow!("unknown format {}", job.format))?;
    let files = &jobs.buckets().await?.files;
    let object = files.get(job.id.to_string()).await?;
    let mut records = Records::open(object, entry.csv, job.bytes_read).await?;
    let saved = observer.lock().saved;
    let import = Import {
        js,
        format,
        mapper: Mapper::new(job.project_id),
        options: Options {
            window: WINDOW,
            max_backlog: 25,
            save_every: u64::MAX,
            stop_after: None,
        },
    };
    import.run(&mut records, saved, observer).await
}

/// Saves a job's end, done or failed.
async fn finish(jobs: &Jobs, mut claimed: Claimed, outcome: anyhow::Result<Ended>) {
    let id = claimed.entry.job.id;
    match outcome {
        Ok(_) => claimed.entry.job.state = ImportState::Done,
        Err(err) => {
            tracing::warn!(job = %id, error = format!("{err:#}"), "import failed");
            claimed.entry.job.state = ImportState::Failed;
            claimed.entry.job.errors.push(ImportError {
                line: 0,
                error: format!("{err:#}"),
            });
        }
    }
    claimed.entry.job.finished_at = Some(now());
    claimed.entry.owner = None;
    match claimed.save().await {
        Ok(true) => {}
        Ok(false) => return,
        Err(err) => {
            // Left running: after its heartbeat is stale another run finishes it.
            tracing::warn!(job = %id, error = %err, "import end not saved");
            return;
        }
    }
    tracing::info!(job = %id, imported = claimed.entry.job.imported, "import over");
    jobs.discard(id).await;
}
