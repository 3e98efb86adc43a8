//! An upload streamed into the object store as it comes, never held whole: counted on the way
//! (over the limit: refused), its first bytes kept to tell gzip and CSV from JSON lines. Its job
//! is kept from the first byte on, as `uploading` (so it counts toward the project's unfinished
//! imports), saved every second while the file comes; a refused or broken upload's file is
//! deleted.

use std::time::Duration;

use async_nats::jetstream;
use contract::imports::{ImportError, ImportJob, ImportState};
use futures_util::{Stream, StreamExt as _};
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;

use crate::import::Format;
use crate::import::jobs::claimed::Claimed;
use crate::import::jobs::put;
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
        let unfinished = self.unfinished(project_id).await?;
        if unfinished >= self.config().max_unfinished_per_project {
            return Err(UploadError::Busy(unfinished));
        }
        if let Some(bytes) = declared {
            self.room_for(bytes).await?;
        }
        let mut uploading = self.register(Uuid::now_v7(), project_id, format).await?;
        let id = uploading.entry.job.id;
        // Two uploads that counted at once: the later backs off.
        let older = self.created_before(project_id, &uploading).await?;
        if older >= self.config().max_unfinished_per_project {
            let _ = uploading.store.delete(&uploading.key).await;
            return Err(UploadError::Busy(older));
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

    /// The project's unfinished jobs.
    async fn unfinished(&self, project_id: Uuid) -> Result<usize, UploadError> {
        Ok(self
            .list(project_id)
            .await
            .map_err(UploadError::unavailable)?
            .iter()
            .filter(|job| !job.state.finished())
            .count())
    }

    /// The project's unfinished jobs created in the bucket before `uploading`.
    /// The bucket's order, not the jobs' ids: an id is taken before its job is written, so an
    /// upload with the smaller id may be written after a later one has counted, and each would
    /// count the other as younger. Whatever was created before this listing is in it.
    async fn created_before(
        &self,
        project_id: Uuid,
        uploading: &Claimed,
    ) -> Result<usize, UploadError> {
        let created = uploading.entry.created.unwrap_or(uploading.revision);
        Ok(self
            .matching(&format!("{project_id}.*"))
            .await
            .map_err(UploadError::unavailable)?
            .iter()
            .filter(|kept| {
                !kept.entry.job.state.finished()
                    && kept.entry.created.unwrap_or(kept.revision) < created
            })
            .count())
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

    /// Keeps a new job `id` as `uploading`, held by this ingest.
    async fn register(
        &self,
        id: Uuid,
        project_id: Uuid,
        format: Format,
    ) -> Result<Claimed, UploadError> {
        let buckets = self.buckets().await.map_err(UploadError::unavailable)?;
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
            created: None,
        };
        let key = key_of(&entry.job);
        let value = serde_json::to_vec(&entry).map_err(UploadError::unavailable)?;
        let revision = buckets
            .jobs
            .create(&key, value.into())
            .await
            .map_err(UploadError::unavailable)?;
        let mut claimed = Claimed::new(key, entry, revision, buckets.jobs.clone());
        claimed.entry.created = Some(revision);
        Ok(claimed)
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

    #[tokio::test]
    async fn an_upload_written_late_counts_those_written_before_it_whatever_its_id()
    -> anyhow::Result<()> {
        let nats = devstack::test::TestNats::start()?;
        let client = plumbing::streams::connect(nats.url_for(NatsUser::Ingest)).await?;
        let config = ImportConfig::default();
        let max = config.max_unfinished_per_project;
        let jobs = Jobs::new(jetstream::new(client), config, 1, &Metrics::new("ingest"));
        let project = Uuid::now_v7();
        let mut held = Vec::new();
        for _ in 1..max {
            held.push(
                jobs.register(Uuid::now_v7(), project, Format::Segment)
                    .await?,
            );
        }
        // An upload takes its id, and another takes a later one but is written first.
        let late_id = Uuid::now_v7();
        let later = jobs
            .register(Uuid::now_v7(), project, Format::Segment)
            .await?;
        assert!(later.entry.job.id > late_id);
        assert_eq!(jobs.created_before(project, &later).await?, max - 1, "room");
        // The first, written now, finds the project full: the later one stays.
        let late = jobs.register(late_id, project, Format::Segment).await?;
        assert_eq!(jobs.created_before(project, &late).await?, max, "full");
        // Saved since (its creation kept in the entry), the later one still comes after the
        // jobs written before it.
        let mut later = later;
        assert!(later.save().await?);
        assert_eq!(jobs.created_before(project, &late).await?, max);
        assert_eq!(jobs.created_before(project, &later).await?, max - 1);
        Ok(())
    }
}
