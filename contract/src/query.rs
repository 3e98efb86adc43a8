//! Query on the wire: the request bodies and the answers of `/api/query/*`.
//!
//! Every answer over a time range starts with the same [`Scope`] fields (`project_id`,
//! `timezone`, `range`), flattened into it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Most steps of a funnel. (The schema attributes below repeat these limits as literals: utoipa
/// takes no constants there.)
pub const MAX_STEPS: usize = 10;
/// Longest conversion window of a funnel: 90 days.
pub const MAX_WINDOW_SECONDS: u64 = 90 * 86_400;
/// Most periods of a retention grid.
pub const MAX_PERIODS: u32 = 52;

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

/// A figure of the overview, with the same figure for the previous period of equal length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figure {
    pub value: f64,
    pub previous: f64,
    /// `(value - previous) / previous`; null when `previous` is 0.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub change: Option<f64>,
}

/// `GET /api/query/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverviewResponse {
    #[serde(flatten)]
    pub scope: Scope,
    /// The period of equal length just before `range`, which `previous` covers.
    pub previous_range: TimeRange,
    /// `events`, `users`, `sessions`, `pageviews` and `bounce_rate` (a fraction).
    pub figures: BTreeMap<String, Figure>,
}

/// A measured value: a whole number for `count` and `uniques`, a fraction for `sum` and `avg`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Whole(u64),
    Fraction(f64),
}

// One JSON Schema `number` (integers are numbers): the derive would make `oneOf` integer or
// number, which an integer matches twice and so fails.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Amount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some(
                "a whole number for the measures count and uniques, a fraction for sum and avg",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Amount {}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendPoint {
    /// The bucket's start, RFC 3339 with the project zone's offset.
    pub t: String,
    pub value: Amount,
}

/// The measure per bucket of one breakdown value (or of all events), every bucket present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendSeries {
    /// What to show: the breakdown value, `other`, or without a breakdown the event (or
    /// `all events`).
    pub label: String,
    /// The breakdown value as stored (`$other` for the rest; empty without a breakdown).
    pub breakdown_value: String,
    /// Sum over the buckets; null for `avg`, whose sum means nothing.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub total: Option<Amount>,
    pub points: Vec<TrendPoint>,
}

/// `GET /api/query/trends`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrendsResponse {
    #[serde(flatten)]
    pub scope: Scope,
    /// The `interval` parameter as given (`day` when absent).
    pub interval: String,
    pub series: Vec<TrendSeries>,
    /// With `compare`: the period of equal length just before `range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_range: Option<TimeRange>,
    /// With `compare`: the same series (same breakdown values) over `previous_range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_series: Option<Vec<TrendSeries>>,
}

/// One value of a top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopValue {
    pub value: String,
    /// Events.
    pub count: u64,
    /// Unique users.
    pub users: u64,
}

/// `GET /api/query/top`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopResponse {
    #[serde(flatten)]
    pub scope: Scope,
    /// The `dimension` parameter as given (`event` when absent).
    pub dimension: String,
    /// Most events first.
    pub values: Vec<TopValue>,
}

/// An event name seen in the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogEvent {
    pub event: String,
    pub count: u64,
}

/// A property key seen in the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogProperty {
    pub key: String,
    /// Events that have it.
    pub count: u64,
}

/// `GET /api/query/catalog`: at most 500 of each, most frequent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogResponse {
    #[serde(flatten)]
    pub scope: Scope,
    pub events: Vec<CatalogEvent>,
    pub properties: Vec<CatalogProperty>,
}

/// What ingest derived from the request, as stored (empty text when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventViewContext {
    pub url: String,
    pub host: String,
    pub path: String,
    pub referrer: String,
    pub referrer_domain: String,
    pub browser: String,
    pub os: String,
    pub device_type: String,
    pub lib: String,
}

/// One stored event, as the explorer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventView {
    pub event_id: Uuid,
    pub event: String,
    pub kind: String,
    pub distinct_id: String,
    /// The logged-in dashboard user; null when none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub user_id: Option<String>,
    /// Null when none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub session_id: Option<String>,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// Every property, its value as text.
    pub properties: BTreeMap<String, String>,
    pub context: EventViewContext,
}

/// `GET /api/query/events`: a page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventsPage {
    #[serde(flatten)]
    pub scope: Scope,
    pub events: Vec<EventView>,
    /// The `cursor` of the next page; null when this page is the last.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// `GET /api/query/events/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventResponse {
    pub project_id: Uuid,
    pub event: EventView,
}

/// One condition on a dimension or property: of the `filter` parameter (a JSON array of them)
/// and of a funnel step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// A dimension (`event`, `path`, `host`, `url`, `referrer`, `browser`, `os`, `device`,
    /// `kind`, `lib`, `distinct_id`) or `property:<key>`.
    pub key: String,
    /// `gt`, `gte`, `lt` and `lte` compare numbers; `set` and `not_set` take no value.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(eq|neq|contains|set|not_set|gt|gte|lt|lte)$")
    )]
    pub op: String,
    /// The operand: see [`FILTER_VALUE`].
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = filter_value_schema))]
    pub value: Option<Value>,
}

/// What a filter's `value` holds, by `op`.
pub const FILTER_VALUE: &str = "text (or a number or boolean, compared as text) for `eq`, `neq` \
     and `contains`; a number (or text holding one) for `gt`, `gte`, `lt` and `lte`; nothing for \
     `set` and `not_set`";

/// Text, a number, a boolean or null, as [`FILTER_VALUE`] says.
#[cfg(feature = "openapi")]
fn filter_value_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Boolean,
            Type::Null,
        ]))
        .description(Some(FILTER_VALUE))
        .build()
}

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
    /// The caller was disabled, erased, or lost the analyst role meanwhile.
    AccessRevoked,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_stay_integers_for_counts_and_floats_for_sums() {
        let json = serde_json::to_string(&[Amount::Whole(3), Amount::Fraction(3.0)]).expect("json");
        assert_eq!(json, "[3,3.0]");
        let back: Vec<Amount> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, [Amount::Whole(3), Amount::Fraction(3.0)]);
    }
}
