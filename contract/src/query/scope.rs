//! The fields every answer over a time range starts with: whose events, which zone, which range,
//! and whether bots' events were counted.

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

/// Whose events an answer counts, in which time zone its days and buckets are, the range, and
/// whether bots' events count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scope {
    pub project_id: Uuid,
    /// The project's IANA time zone.
    pub timezone: String,
    pub range: TimeRange,
    /// Whether the events ingest flagged as bots' were counted (`include_bots=true`); by default
    /// they are left out.
    #[serde(default)]
    pub include_bots: bool,
}
