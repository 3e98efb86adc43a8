//! Invites: a project admin invites an email with a role; the single-use link (shown once,
//! expiring) makes whoever signs in with that email a member.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::members::ProjectRole;

/// Days an invite lasts unless asked otherwise, and at most.
pub const INVITE_DAYS: u32 = 7;
pub const MAX_INVITE_DAYS: u32 = 30;

/// `auth.project.<project_id>.invite.<invite_id>`: an invite's events; its acceptance expects
/// the sequence of its creation, so it is used once.
pub fn invite_subject(project_id: Uuid, invite_id: Uuid) -> String {
    format!("auth.project.{project_id}.invite.{invite_id}")
}

/// Body of `POST /api/admin/projects/{project_id}/invites`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInviteRequest {
    pub email: String,
    pub role: ProjectRole,
    /// 1 to 30; default 7.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A pending invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub email: String,
    pub role: ProjectRole,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: OffsetDateTime,
    /// Who invited (their email; empty once they were erased).
    pub created_by: String,
}

/// Answer of `POST /api/admin/projects/{project_id}/invites`: the token is shown only here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedInvite {
    pub invite: InviteView,
    pub token: String,
    /// The web app's path that accepts it: `/invite/<token>`.
    pub link: String,
}

/// `GET /api/admin/projects/{project_id}/invites`: pending invites, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteList {
    pub invites: Vec<InviteView>,
}

/// Body of `POST /api/auth/invites/accept`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInviteRequest {
    pub token: String,
}

/// Answer of `POST /api/auth/invites/accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptedInvite {
    pub project_id: Uuid,
    pub project_name: String,
    pub role: ProjectRole,
}
