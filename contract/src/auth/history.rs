//! What event sourcing gives for free: a project's history for its admins, an admin-issued
//! password-reset link, and a project's own data retention.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Hours a password-reset link lasts.
pub const RESET_LINK_HOURS: i64 = 24;

/// The longest retention a project may set, in months (ten years).
pub const MAX_RETENTION_MONTHS: u16 = 120;

/// The key-value bucket (JetStream KV) where auth writes each project's retention in months
/// (key: the project id; no key: the instance's); the sink's retention job reads it.
pub const RETENTION_BUCKET: &str = "PROJECT_RETENTION";

/// `auth.reset.<reset_id>`: a password-reset link's events; its use expects the sequence of its
/// issue, so it works once.
pub fn reset_subject(reset_id: Uuid) -> String {
    format!("auth.reset.{reset_id}")
}

/// One change in a project's history, newest first in [`AuditPage`]; secrets (write keys,
/// tokens, password hashes) are never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// The change's sequence on the `AUTH` stream: the page's cursor.
    pub sequence: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// Who did it (their email), empty for the service itself or once they were erased.
    pub actor: String,
    /// The event's type (`member_set`, `write_key_revoked`, `share_created`, …).
    pub action: String,
    /// What changed, in words ("carol@example.com is analyst").
    pub summary: String,
}

/// `GET /api/admin/projects/{project_id}/audit?before=&limit=`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// Answer of `POST /api/admin/users/{id}/password-reset`: the link is shown only here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordResetLink {
    pub token: String,
    /// The web app's path that uses it: `/reset/<token>`.
    pub link: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
}

/// Body of `POST /api/auth/password-reset`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub token: String,
    pub password: String,
}

/// Body of `PUT /api/admin/projects/{project_id}/retention`, and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProjectRetention {
    /// Months of events kept (1 to 120): older ones are deleted by the retention job; `null`:
    /// the instance's retention.
    pub months: Option<u16>,
}
