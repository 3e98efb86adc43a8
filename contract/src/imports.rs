//! Imports of past events through the API (`/api/imports`): the job a file upload starts and
//! that the web app polls for its progress, and where ingest keeps uploads and jobs.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// JetStream object store bucket of the uploaded export files, each named by its job id and
/// deleted once its job is over.
pub const IMPORTS_BUCKET: &str = "IMPORTS";
/// JetStream KV bucket of the import jobs, keyed `<project_id>.<job id>` (a project's jobs are
/// listed by a key filter): what the API answers, and where a job stands (the byte offset an
/// ingest resumes it from, which ingest runs it). It also holds each project's slots for
/// unfinished imports, `slots.<project_id>.<n>`, each naming the job that holds it.
pub const IMPORT_JOBS_BUCKET: &str = "IMPORT_JOBS";
/// The largest export file an upload takes: 1 GiB.
pub const MAX_IMPORT_BYTES: u64 = 1 << 30;

/// Where an import job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ImportState {
    /// The file is being received (it counts toward the project's unfinished imports).
    Uploading,
    /// Stored, waiting for an ingest to run it.
    Queued,
    /// Being read and published.
    Running,
    /// Every record read: the events published (the sink stores them shortly after).
    Done,
    /// Stopped by an error (`errors` says which).
    Failed,
}

impl ImportState {
    /// Whether the job is over.
    pub fn finished(self) -> bool {
        matches!(self, ImportState::Done | ImportState::Failed)
    }
}

/// A record the import refused, or the error that stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportError {
    /// The line of the file the record starts on (1 is the first); 0 for an error of the
    /// whole import.
    pub line: u64,
    pub error: String,
}

/// `POST /api/imports` (202), `GET /api/imports/{id}`, and each of `GET /api/imports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportJob {
    pub id: Uuid,
    pub project_id: Uuid,
    /// `posthog`, `segment` or `umami`.
    pub format: String,
    /// The uploaded file's size.
    pub file_bytes: u64,
    pub state: ImportState,
    /// How far through the file the events published and acknowledged go.
    pub bytes_read: u64,
    /// Events published and acknowledged by JetStream.
    pub imported: u64,
    /// Records that are no event of the format, skipped.
    pub refused: u64,
    /// The first few refused records, and the error that failed the job.
    pub errors: Vec<ImportError>,
    /// RFC 3339, UTC: when the upload was stored.
    pub created_at: String,
    /// RFC 3339, UTC: when an ingest first ran the job.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub started_at: Option<String>,
    /// RFC 3339, UTC: when the job was done or failed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub finished_at: Option<String>,
}
