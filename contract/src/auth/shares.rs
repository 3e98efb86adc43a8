//! Shared links: a dashboard shown read-only to whoever has an unguessable link, optionally
//! behind a password, until revoked. The link's token is shown once; the stream keeps its
//! SHA-256 (and the password's argon2id hash). Query answers the shared page: the dashboard and
//! each of its tiles' own query, and nothing else.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::insights::{InsightKind, InsightQuery};

/// The header a shared page sends its password in, on every call of `/api/shared/{token}/…`.
pub const SHARE_PASSWORD_HEADER: &str = "x-share-password";

/// The most origins a share may be embedded in.
pub const MAX_EMBED_ORIGINS: usize = 10;

/// `auth.project.<project_id>.share.<share_id>`: a shared link's events.
pub fn share_subject(project_id: Uuid, share_id: Uuid) -> String {
    format!("auth.project.{project_id}.share.{share_id}")
}

/// Body of `POST /api/projects/{project_id}/dashboards/{dashboard_id}/shares`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateShareRequest {
    /// Asked of whoever opens the link; absent: none. 8 to 200 characters.
    #[serde(default)]
    pub password: Option<String>,
    /// The origins (`https://blog.example.com`) whose pages may show it in an iframe; empty:
    /// none.
    #[serde(default)]
    pub embed_origins: Vec<String>,
}

/// A shared link as listed: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareView {
    pub id: Uuid,
    pub dashboard_id: Uuid,
    /// The token's first 8 characters.
    pub prefix: String,
    pub has_password: bool,
    pub embed_origins: Vec<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

/// Answer of `POST …/shares`: the token is shown only here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedShare {
    pub share: ShareView,
    pub token: String,
    /// The web app's path that shows it: `/shared/<token>`.
    pub link: String,
}

/// `GET …/shares`: the dashboard's live links, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareList {
    pub shares: Vec<ShareView>,
}

/// One tile of a shared dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedTile {
    pub insight_id: Uuid,
    pub name: String,
    pub kind: InsightKind,
    pub query: InsightQuery,
}

/// `GET /api/shared/{token}`: what a shared link shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedDashboard {
    pub name: String,
    /// The project's IANA time zone, in which the ranges are days.
    pub timezone: String,
    pub tiles: Vec<SharedTile>,
}
