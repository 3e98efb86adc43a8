//! The bodies of `/api/admin/*` (users and projects), and the project list analysts see.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::role::Role;

/// A user as the admin panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminUserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
}

/// `GET /api/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub users: Vec<AdminUserView>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

/// `PATCH /api/admin/users/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `POST /api/admin/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateProjectRequest {
    pub name: String,
    #[serde(default)]
    pub timezone: Option<String>,
}

/// Answer of `POST /api/admin/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedProject {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    pub write_key: String,
}

/// A write key of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WriteKeyView {
    pub id: Uuid,
    pub key: String,
}

/// A project as `GET /api/admin/projects` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectView {
    pub id: Uuid,
    pub name: String,
    pub timezone: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Keys not revoked.
    pub keys: Vec<WriteKeyView>,
    /// Site domains accepted from Plausible's script.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The project's own intake quota (ingest's defaults where it sets none).
    #[serde(default)]
    pub quota: ProjectQuota,
    /// Months of events kept; `None`: the instance's retention.
    #[serde(default)]
    pub retention_months: Option<u16>,
}

/// A project's own intake quota, per second across all ingest replicas: the body of
/// `PUT /api/admin/projects/{id}/quota`. A `null` (or missing) rate is ingest's default
/// (`PROJECT_EVENTS_PER_SECOND`, `PROJECT_BYTES_PER_SECOND`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectQuota {
    /// Events a second; at least 1.
    #[serde(default)]
    pub events_per_second: Option<u64>,
    /// Bytes of stored events a second; at least 1.
    #[serde(default)]
    pub bytes_per_second: Option<u64>,
}

/// Answer of `PUT /api/admin/projects/{id}/quota`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectQuotaView {
    pub id: Uuid,
    #[serde(flatten)]
    pub quota: ProjectQuota,
}

/// `PUT /api/admin/projects/{id}/domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetDomainsRequest {
    pub domains: Vec<String>,
}

/// Answer of `GET /api/admin/projects`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectList {
    pub projects: Vec<ProjectView>,
}

/// A project as analysts see it in `GET /api/auth/projects`: what the analytics page needs to
/// pick one, without its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectSummary {
    pub id: Uuid,
    pub name: String,
    /// IANA time zone its days are counted in.
    pub timezone: String,
    /// What the caller may do on it: their member role, `admin` for an instance admin.
    pub role: super::members::ProjectRole,
}

/// `GET /api/auth/projects`: the projects the caller may read (every project for an instance
/// admin), the built-in one first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectSummaries {
    pub projects: Vec<ProjectSummary>,
}

/// Answer of `PUT /api/admin/projects/{id}/domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectDomains {
    pub id: Uuid,
    pub domains: Vec<String>,
}
