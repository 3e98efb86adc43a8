//! An upload streamed into the object store as it comes, never held whole: counted on the way
//! (over the limit: refused), its first bytes kept to tell gzip and CSV from JSON lines. Its job
//! is kept from the first byte on, as `uploading` (so it counts toward the project's unfinished
//! imports), saved every second while the file comes; a refused or broken upload's file is
//! deleted.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::kv;
use contract::imports::{ImportError, ImportJob, ImportState};
use futures_util::{Stream, StreamExt as _};
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;

use crate::import::Format;
use crate::import::jobs::claimed::Claimed;
use crate::import::jobs::put;
use crate::import::jobs::read::{leader_kept, leader_last};
use crate::import::jobs::{Entry, Jobs, key_of, now, now_ms};

/// Why an upload was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is gzip-compressed: decompress it first (gunzip)")]
    Compressed,
    #[error("the file is empty")]
    Empty,
    #[error("{0} imports of this project are not finished yet: wait for one to end")]
    Busy(usize),
    #[error("the upload broke off: {0}")]
    Broken(String),
    #[error(
        "the store of import files is full ({0} bytes of uploads waiting or running): retry once an import has ended"
    )]
    Full(u64),
    #[error("the file could not be stored, retry later")]
    Unavailable(String),
}

impl UploadError {
    pub(crate) fn unavailable(err: impl std::fmt::Display) -> Self {
        UploadError::Unavailable(err.to_string())
    }

    /// Whether the file itself was refused (the uploader is told; no job is kept).
    fn refusal(&self) -> bool {
        matches!(
            self,
            UploadError::TooLarge(_) | UploadError::Compressed | UploadError::Empty
        )
    }
}

/// What was stored.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) bytes: u64,
    /// The first bytes of the file.
    pub(crate) head: Vec<u8>,
}

/// How many first bytes are kept.
const HEAD_BYTES: usize = 4096;
/// How often an upload's job is saved while the file comes.
const SAVE_EVERY: Duration = Duration::from_secs(1);

impl Jobs {
    /// Stores the upload `body` (whose `Content-Length` is `declared`, if it said one) and
    /// queues its job.
    pub(crate) async fn create<B, E>(
        &self,
        project_id: Uuid,
        format: Format,
        declared: Option<u64>,
        body: impl Stream<Item = Result<B, E>> + Unpin + Send,
    ) -> Result<ImportJob, UploadError>
    where
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        let max_bytes = self.config().max_bytes;
        if declared.is_some_and(|bytes| bytes > max_bytes) {
            return Err(UploadError::TooLarge(max_bytes));
        }
        if let Some(bytes) = declared {
            self.room_for(bytes).await?;
        }
        let max = self.config().max_unfinished_per_project;
        if !self.any_free_slot(project_id).await? {
            return Err(UploadError::Busy(max));
        }
        let mut uploading = self.register(project_id, format).await?;
        let id = uploading.entry.job.id;
        match self.admit(&uploading).await {
            Ok(true) => {}
            refused => {
                let _ = uploading.store.delete(&uploading.key).await;
                return Err(refused.err().unwrap_or(UploadError::Busy(max)));
            }
        }
        let stored = self.receive(&mut uploading, body).await;
        match stored {
            Ok(stored) => {
                let entry = &mut uploading.entry;
                entry.job.state = ImportState::Queued;
                entry.job.file_bytes = stored.bytes;
                entry.csv = format.is_csv(&stored.head);
                entry.owner = None;
                if !matches!(uploading.save().await, Ok(true)) {
                    self.discard(id).await;
                    return Err(UploadError::unavailable("the job could not be saved"));
                }
                self.inner.queued.notify_one();
                Ok(uploading.entry.job)
            }
            Err(err) => {
                self.discard(id).await;
                if err.refusal() {
                    let _ = uploading.store.delete(&uploading.key).await;
                } else {
                    let entry = &mut uploading.entry;
                    entry.job.state = ImportState::Failed;
                    entry.job.finished_at = Some(now());
                    entry.job.errors.push(ImportError {
                        line: 0,
                        error: err.to_string(),
                    });
                    entry.owner = None;
                    let _ = uploading.save().await;
                }
                Err(err)
            }
        }
    }

    /// Takes one of the project's `max_unfinished_per_project` slots for the job `uploading`
    /// (just kept); false when none is free. A slot names the job holding it and is free when
    /// it names none, or a job that has ended or is gone: a job's end frees its slot wherever
    /// that happens (done, failed, or its ingest died and the job was failed). A free slot is
    /// taken with a compare-and-set (created when it never was, updated at the revision read),
    /// so of two uploads after one slot one gets it. Counting the unfinished jobs of a listing
    /// instead let four in where three are allowed: a listing read while jobs are saved can
    /// miss some.
    async fn admit(&self, uploading: &Claimed) -> Result<bool, UploadError> {
        let store = &uploading.store;
        let holder = uploading.key.as_bytes().to_vec();
        for n in 0..self.config().max_unfinished_per_project {
            let slot = slot_key(uploading.entry.job.project_id, n);
            let taken = match slot_state(store, &slot).await? {
                Slot::Unused => match store.create(&slot, holder.clone().into()).await {
                    Ok(_) => true,
                    Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => false,
                    Err(err) => return Err(UploadError::unavailable(err)),
                },
                Slot::Free(revision) => {
                    match store.update(&slot, holder.clone().into(), revision).await {
                        Ok(_) => true,
                        Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                        Err(err) => return Err(UploadError::unavailable(err)),
                    }
                }
                Slot::Held => false,
            };
            if taken {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether one of the project's slots looks free, read before anything is written: a
    /// project that is busy refuses an upload without keeping (and then removing) its job, whose
    /// removal would stay in the bucket. [`Jobs::admit`] decides.
    async fn any_free_slot(&self, project_id: Uuid) -> Result<bool, UploadError> {
        let store = &self.buckets().await.map_err(UploadError::unavailable)?.jobs;
        for n in 0..self.config().max_unfinished_per_project {
            if slot_state(store, &slot_key(project_id, n)).await? != Slot::Held {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Refuses an upload of `bytes` the files' bucket has no room for.
    async fn room_for(&self, bytes: u64) -> Result<(), UploadError> {
        let stream = format!("OBJ_{}", contract::imports::IMPORTS_BUCKET);
        let Ok(mut stream) = self.inner.js.get_stream(stream).await else {
            return Ok(());
        };
        let Ok(info) = stream.info().await else {
            return Ok(());
        };
        let max = u64::try_from(info.config.max_bytes).unwrap_or(u64::MAX);
        if info.state.bytes.saturating_add(bytes) > max {
            return Err(UploadError::Full(info.state.bytes));
        }
        Ok(())
    }

    /// Keeps a new job as `uploading`, held by this ingest.
    pub(super) async fn register(
        &self,
        project_id: Uuid,
        format: Format,
    ) -> Result<Claimed, UploadError> {
        let buckets = self.buckets().await.map_err(UploadError::unavailable)?;
        let id = Uuid::now_v7();
        let entry = Entry {
            job: ImportJob {
                id,
                project_id,
                format: format.name().to_owned(),
                file_bytes: 0,
                state: ImportState::Uploading,
                bytes_read: 0,
                imported: 0,
                refused: 0,
                errors: Vec::new(),
                created_at: now(),
                started_at: None,
                finished_at: None,
            },
            csv: false,
            owner: Some(self.inner.owner.clone()),
            heartbeat_ms: now_ms(),
            tries: 0,
            last_error: None,
        };
        let key = key_of(&entry.job);
        let value = serde_json::to_vec(&entry).map_err(UploadError::unavailable)?;
        let revision = buckets
            .jobs
            .create(&key, value.into())
            .await
            .map_err(UploadError::unavailable)?;
        Ok(Claimed::new(key, entry, revision, buckets.jobs.clone()))
    }

    /// Stores `body` as the file of `uploading`'s job, saving the job every second meanwhile
    /// (so no worker takes it for an upload whose ingest died).
    async fn receive<B, E>(
        &self,
        uploading: &mut Claimed,
        body: impl Stream<Item = Result<B, E>> + Unpin + Send,
    ) -> Result<Stored, UploadError>
    where
        B: AsRef<[u8]> + Send,
        E: std::fmt::Display,
    {
        // The bucket exists before its first file is written.
        self.buckets().await.map_err(UploadError::unavailable)?;
        let name = uploading.entry.job.id.to_string();
        let max_bytes = self.config().max_bytes;
        let stored = store(&self.inner.js, &name, body, max_bytes);
        tokio::pin!(stored);
        let mut tick = tokio::time::interval(SAVE_EVERY);
        loop {
            tokio::select! {
                stored = &mut stored => return stored,
                _ = tick.tick() => {
                    if let Err(err) = uploading.save().await {
                        tracing::warn!(job = %name, error = %err, "upload's job not saved");
                    }
                }
            }
        }
    }
}

/// The key of slot `n` of `project_id`'s unfinished imports in the jobs' bucket, apart from
/// the jobs' own `<project_id>.<id>`.
fn slot_key(project_id: Uuid, n: usize) -> String {
    format!("slots.{project_id}.{n}")
}

/// The revision and value of `key` in `store` as its stream's leader has them; `None` when
/// the key was never written, or deleted.
async fn last(store: &kv::Store, key: &str) -> Result<Option<(u64, Vec<u8>)>, UploadError> {
    let message = leader_last(store, key)
        .await
        .map_err(UploadError::unavailable)?;
    Ok(message
        .filter(|message| message.headers.get("KV-Operation").is_none())
        .map(|message| (message.sequence, message.payload.to_vec())))
}

/// Where a slot of a project's unfinished imports stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Never written, or removed: taken by creating it.
    Unused,
    /// Naming a job that has ended or is gone: taken by updating it at this revision.
    Free(u64),
    /// Naming an unfinished job.
    Held,
}

/// Where the slot `key` stands, as the stream's leader has it and the job it names.
async fn slot_state(store: &kv::Store, key: &str) -> Result<Slot, UploadError> {
    let Some((revision, job)) = last(store, key).await? else {
        return Ok(Slot::Unused);
    };
    let job = match std::str::from_utf8(&job) {
        Ok(job) => leader_kept(store, job)
            .await
            .map_err(UploadError::unavailable)?,
        Err(_) => None,
    };
    Ok(match job {
        Some(kept) if !kept.entry.job.state.finished() => Slot::Held,
        _ => Slot::Free(revision),
    })
}

/// Streams `body` into the files' bucket as `name`, refusing it past `max_bytes`. A refused or
/// broken upload ends the object early (what came is stored), for the caller to delete it; a
/// write that fails leaves nothing.
pub(crate) async fn store<B, E>(
    js: &jetstream::Context,
    name: &str,
    body: impl Stream<Item = Result<B, E>> + Unpin + Send,
    max_bytes: u64,
) -> Result<Stored, UploadError>
where
    B: AsRef<[u8]> + Send,
    E: std::fmt::Display,
{
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    // The reader moves into the put: should the put fail, the feeding's writes fail too
    // instead of waiting on a pipe nobody reads.
    let put = async move {
        let mut reader = reader;
        put::put(js, name, &mut reader).await
    };
    let (fed, put) = tokio::join!(feed(body, writer, max_bytes), put);
    match (fed, put) {
        (_, Err(err)) if full(&err) => Err(UploadError::Full(max_bytes.saturating_mul(4))),
        (Ok(stored), Ok(_)) if stored.bytes == 0 => Err(UploadError::Empty),
        (Ok(stored), Ok(_)) => Ok(stored),
        (Err(err), _) => Err(err),
        (Ok(_), Err(err)) => Err(UploadError::unavailable(format!("{err:#}"))),
    }
}

/// Whether a put failed for the bucket being full (`discard: new` at its `max_bytes`).
fn full(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("maximum bytes") || text.contains("insufficient resources")
}

/// Writes `body` into `writer`, counting and checking it; ends the pipe when done (dropped on a
/// refusal: the put sees the file end there).
async fn feed<B, E>(
    mut body: impl Stream<Item = Result<B, E>> + Unpin + Send,
    mut writer: tokio::io::DuplexStream,
    max_bytes: u64,
) -> Result<Stored, UploadError>
where
    B: AsRef<[u8]> + Send,
    E: std::fmt::Display,
{
    let mut stored = Stored {
        bytes: 0,
        head: Vec::new(),
    };
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| UploadError::Broken(err.to_string()))?;
        let chunk = chunk.as_ref();
        stored.bytes += chunk.len() as u64;
        if stored.bytes > max_bytes {
            return Err(UploadError::TooLarge(max_bytes));
        }
        if stored.head.len() < HEAD_BYTES {
            let take = chunk.len().min(HEAD_BYTES - stored.head.len());
            stored.head.extend_from_slice(&chunk[..take]);
            if stored.head.starts_with(&[0x1f, 0x8b]) {
                return Err(UploadError::Compressed);
            }
        }
        writer
            .write_all(chunk)
            .await
            .map_err(UploadError::unavailable)?;
    }
    writer.shutdown().await.map_err(UploadError::unavailable)?;
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use devstack::nats::NatsUser;
    use plumbing::metrics::Metrics;

    use super::*;
    use crate::import::jobs::ImportConfig;

    /// A job kept for `project` and whether it got a slot.
    async fn upload(jobs: &Jobs, project: Uuid) -> anyhow::Result<(Claimed, bool)> {
        let uploading = jobs.register(project, Format::Segment).await?;
        let admitted = jobs.admit(&uploading).await?;
        Ok((uploading, admitted))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn uploads_at_once_take_the_projects_slots_and_a_jobs_end_frees_its_own()
    -> anyhow::Result<()> {
        let nats = devstack::test::TestNats::start()?;
        let client = plumbing::streams::connect(nats.url_for(NatsUser::Ingest)).await?;
        let config = ImportConfig::default();
        let max = config.max_unfinished_per_project;
        let jobs = Jobs::new(jetstream::new(client), config, 1, &Metrics::new("ingest"));
        // Uploads at once, their jobs saved meanwhile (a listing read then missed some).
        for _ in 0..20 {
            let project = Uuid::now_v7();
            let tasks: Vec<_> = (0..max + 2)
                .map(|_| {
                    let jobs = jobs.clone();
                    tokio::spawn(async move {
                        let (mut uploading, admitted) = upload(&jobs, project).await?;
                        uploading.save().await?;
                        anyhow::Ok(admitted)
                    })
                })
                .collect();
            let mut admitted = 0;
            for task in tasks {
                admitted += usize::from(task.await??);
            }
            assert_eq!(admitted, max, "as many as the slots");
        }
        let project = Uuid::now_v7();
        let mut held = Vec::new();
        for _ in 0..max {
            let (uploading, admitted) = upload(&jobs, project).await?;
            assert!(admitted);
            held.push(uploading);
        }
        assert!(!upload(&jobs, project).await?.1, "full");
        assert!(
            !jobs.any_free_slot(project).await?,
            "refused before a job is kept"
        );
        // A job done frees its slot; so does one gone.
        held[0].entry.job.state = ImportState::Done;
        assert!(held[0].save().await?);
        assert!(jobs.any_free_slot(project).await?);
        assert!(upload(&jobs, project).await?.1, "the done job's slot");
        assert!(!upload(&jobs, project).await?.1, "full again");
        held[1].store.delete(&held[1].key).await?;
        assert!(upload(&jobs, project).await?.1, "the deleted job's slot");
        assert!(!upload(&jobs, project).await?.1);
        // Another project has slots of its own.
        assert!(upload(&jobs, Uuid::now_v7()).await?.1);
        Ok(())
    }
}
