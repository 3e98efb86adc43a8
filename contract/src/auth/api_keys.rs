//! API keys: long-lived, read-only credentials for the query API, for scripts, notebooks and BI
//! tools. A user creates them for themselves; a key reads, on `/api/query/*` only, the projects
//! its owner is a member of (and of those only the ones it lists, when it lists any), until it
//! expires or is revoked. The key itself is shown once; the stream and the database keep its
//! SHA-256.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Every API key starts with this, so a bearer token is told from a JWT by its first bytes.
pub const API_KEY_PREFIX: &str = "eak_";

/// How many leading characters of a key are shown in lists (the prefix and 8 more).
pub const API_KEY_SHOWN_CHARS: usize = 12;

/// The longest key name, in characters.
pub const MAX_API_KEY_NAME_CHARS: usize = 100;

/// `auth.apikey.<key_id>`: a key's events (created, revoked).
pub fn api_key_subject(key_id: Uuid) -> String {
    format!("auth.apikey.{key_id}")
}

/// Filter matching every API key event.
pub const API_KEY_SUBJECTS: &str = "auth.apikey.>";

/// `usage.apikey.<key_id>`: query says a key was used (at most once a minute per key, outside
/// any stream); auth records it as the key's last use.
pub fn api_key_usage_subject(key_id: Uuid) -> String {
    format!("usage.apikey.{key_id}")
}

/// Body of `POST /api/auth/api-keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// 1 to 100 characters ("nightly export", "Metabase").
    pub name: String,
    /// Only these projects (each one the owner is a member of); absent: all of the owner's.
    #[serde(default)]
    pub project_ids: Option<Vec<Uuid>>,
    /// When it stops working (RFC 3339, in the future); absent: never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<OffsetDateTime>,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The key's first 12 characters, to tell keys apart.
    pub prefix: String,
    /// The projects it is limited to; `None`: every project of its owner.
    pub project_ids: Option<Vec<Uuid>>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<OffsetDateTime>,
    /// To the minute; `None` until first used.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used_at: Option<OffsetDateTime>,
}

/// Answer of `POST /api/auth/api-keys`: the key is shown only here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    /// `eak_…`: send it as `Authorization: Bearer <key>`.
    pub key: String,
    #[serde(flatten)]
    pub view: ApiKeyView,
}

/// `GET /api/auth/api-keys`: the caller's live keys, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyView>,
}
