//! Annotations: dated notes on a project ("launched the new pricing page"), drawn on its trends
//! chart. Members read them; analysts and admins of the project write them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The longest note, in characters.
pub const MAX_ANNOTATION_CHARS: usize = 400;

/// `auth.project.<project_id>.annotation.<annotation_id>`: an annotation's events.
pub fn annotation_subject(project_id: Uuid, annotation_id: Uuid) -> String {
    format!("auth.project.{project_id}.annotation.{annotation_id}")
}

/// Body of `POST /api/projects/{project_id}/annotations` and of
/// `PUT /api/projects/{project_id}/annotations/{annotation_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AnnotationRequest {
    /// The moment the note is about (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// The note: 1 to 400 characters.
    pub content: String,
}

/// An annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotationView {
    pub id: Uuid,
    pub project_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    pub content: String,
    /// Who wrote it (their email; empty once they were erased).
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
}

/// `GET /api/projects/{project_id}/annotations`: oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnnotationList {
    pub annotations: Vec<AnnotationView>,
}
