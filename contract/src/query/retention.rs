//! `POST /api/query/retention`: the cohorts asked for and how many of each came back.

use serde::{Deserialize, Serialize};

use crate::query::scope::Scope;

/// Most periods of a retention grid. (The schema attribute below repeats it as a literal:
/// utoipa takes no constants there.)
pub const MAX_PERIODS: u32 = 52;

/// `POST /api/query/retention`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// The event that puts a user in the cohort of its period (their first in the range).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub start_event: String,
    /// The event that counts as coming back.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub return_event: String,
    /// `day` or `week` (default).
    #[serde(default = "default_period")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(day|week)$"))]
    pub period: String,
    /// How many periods after the cohort's to count: 1 to 52 (default 8).
    #[serde(default = "default_periods")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 52))]
    pub periods: u32,
}

fn default_period() -> String {
    "week".to_owned()
}

fn default_periods() -> u32 {
    8
}

/// The users whose first start event fell in one period, and how many came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cohort {
    /// The period's first day (`YYYY-MM-DD`, in the project's zone).
    pub start: String,
    pub size: u64,
    /// Per period from the cohort's own on: users who did the return event in it.
    pub returned: Vec<u64>,
    /// `returned` as percentages of `size`.
    pub percent: Vec<f64>,
}

/// `POST /api/query/retention`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionResponse {
    #[serde(flatten)]
    pub scope: Scope,
    /// 1 or 7.
    pub period_days: u32,
    /// Oldest first.
    pub cohorts: Vec<Cohort>,
}
