//! `POST /api/query/funnel`: the steps asked for and the conversion answered.

use serde::{Deserialize, Serialize};

use crate::query::filter::FilterSpec;
use crate::query::scope::Scope;

/// Most steps of a funnel. (The schema attributes below repeat these limits as literals: utoipa
/// takes no constants there.)
pub const MAX_STEPS: usize = 10;
/// Longest conversion window of a funnel: 90 days.
pub const MAX_WINDOW_SECONDS: u64 = 90 * 86_400;

/// One step of a funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FunnelStepSpec {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub event: String,
    /// Conditions the step's event must also meet.
    #[serde(default)]
    pub filters: Vec<FilterSpec>,
}

/// `POST /api/query/funnel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FunnelRequest {
    /// In order: 2 to 10.
    #[cfg_attr(feature = "openapi", schema(min_items = 2, max_items = 10))]
    pub steps: Vec<FunnelStepSpec>,
    /// How long after their first step a user may take for the others: 1 second to 90 days
    /// (default one day).
    #[serde(default = "default_window")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 7_776_000))]
    pub window_seconds: u64,
    /// A dimension: each user counts under its value on their first step.
    #[serde(default)]
    pub breakdown: Option<String>,
    /// How many breakdown values are shown before `other` (default 5).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
}

fn default_window() -> u64 {
    86_400
}

/// A funnel step's users, and how many of the first and the previous step got there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelStep {
    pub event: String,
    /// Users who did this step and every one before it, in order, within the window.
    pub count: u64,
    /// A fraction; 0 when nobody did the first step.
    pub conversion_from_first: f64,
    /// A fraction; 1 for the first step.
    pub conversion_from_previous: f64,
}

/// The funnel of the users under one breakdown value (or `other`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelGroup {
    pub value: String,
    pub steps: Vec<FunnelStep>,
}

/// `POST /api/query/funnel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelResponse {
    #[serde(flatten)]
    pub scope: Scope,
    pub steps: Vec<FunnelStep>,
    pub window_seconds: u64,
    /// Median seconds from the first step to the last, over the users who converted; null when
    /// nobody did.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub median_seconds_to_convert: Option<f64>,
    /// With `breakdown`: the top values by users, then `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Vec<FunnelGroup>>,
}
