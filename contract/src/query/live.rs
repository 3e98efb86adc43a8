//! The messages of `GET /api/query/live` that carry data.

use serde::{Deserialize, Serialize};

/// The data of an `active_users` message of `GET /api/query/live`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveUsers {
    /// Users with an event in the last five minutes; null when the event store did not answer.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub count: Option<u64>,
}

/// The data of the `end` message, the last of `GET /api/query/live` when the server ends the
/// feed: the caller opens it again with a fresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveEnd {
    pub reason: LiveEndReason,
}

/// Why the server ended a live feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LiveEndReason {
    /// The token the feed was opened with expired.
    TokenExpired,
    /// The caller was disabled or erased, or may no longer read the project (removed from its
    /// members) meanwhile.
    AccessRevoked,
}
