//! Erasure of a tracked person and the export of their data on the wire (GDPR's right to
//! erasure and right of access): the answers of `DELETE` and `GET .../export` under
//! `/api/admin/projects/{project_id}/persons/{distinct_id}`. The erasure request itself, on
//! `PERSONS`, is [`crate::persons::Erasure`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::query::{EventView, PersonView};

/// `DELETE /api/admin/projects/{project_id}/persons/{distinct_id}`: 202, the erasure is on the
/// stream and runs in the background; the admin status lists it until it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErasureAccepted {
    pub erasure_id: Uuid,
    pub project_id: Uuid,
    /// The id asked for; the erasure covers every id of its person.
    pub distinct_id: String,
    /// RFC 3339, UTC.
    pub requested_at: String,
    /// `pending`: published, not done yet.
    pub status: String,
}

/// An erasure published and not done yet, as the admin status shows it (no id of the person:
/// the status is no place for them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingErasure {
    pub erasure_id: Uuid,
    pub project_id: Uuid,
    /// RFC 3339, UTC.
    pub requested_at: String,
}

/// `GET /api/admin/projects/{project_id}/persons/{distinct_id}/export`: one page of everything
/// stored about the person that id belongs to. Every page repeats the person (their ids and
/// properties); their events come oldest first, a page at a time (`next_cursor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonExport {
    pub project_id: Uuid,
    /// The id asked for.
    pub distinct_id: String,
    /// The person: every id of theirs, their properties, their first and last event.
    pub person: PersonView,
    /// Events of every id of the person, oldest first, bots' included.
    pub events: Vec<EventView>,
    /// The `cursor` of the next page of events; null when this page is the last.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}
