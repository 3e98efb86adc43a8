//! The fields every answer over a time range starts with: whose events, which zone, which range.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The instants a query covered, as RFC 3339 times in UTC: exactly what the SQL read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeRange {
    /// Inclusive.
    pub from: String,
    /// Exclusive.
    pub to: String,
}

/// Whose events an answer counts, in which time zone its days and buckets are, and the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scope {
    pub project_id: Uuid,
    /// The project's IANA time zone.
    pub timezone: String,
    pub range: TimeRange,
}
