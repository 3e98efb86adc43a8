//! Saved insights and dashboards. An insight is one analysis of the Analytics section (trends,
//! top values, funnel, retention) with its filters and its range, a relative range ("last 30
//! days") kept relative; a dashboard is a named, ordered list of a project's insights. Members
//! read them; analysts and admins of the project write them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The longest insight or dashboard name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest `view` and `params`, in bytes.
pub const MAX_INSIGHT_TEXT_BYTES: usize = 8_192;
/// The most tiles on one dashboard.
pub const MAX_TILES: usize = 50;

/// `auth.project.<project_id>.insight.<insight_id>`: an insight's events.
pub fn insight_subject(project_id: Uuid, insight_id: Uuid) -> String {
    format!("auth.project.{project_id}.insight.{insight_id}")
}

/// `auth.project.<project_id>.dashboard.<dashboard_id>`: a dashboard's events.
pub fn dashboard_subject(project_id: Uuid, dashboard_id: Uuid) -> String {
    format!("auth.project.{project_id}.dashboard.{dashboard_id}")
}

/// Which analysis an insight runs: the query route it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InsightKind {
    /// `GET /api/query/trends`.
    Trends,
    /// `GET /api/query/top`.
    Top,
    /// `POST /api/query/funnel`.
    Funnel,
    /// `POST /api/query/retention`.
    Retention,
}

impl InsightKind {
    pub const ALL: [InsightKind; 4] = [
        InsightKind::Trends,
        InsightKind::Top,
        InsightKind::Funnel,
        InsightKind::Retention,
    ];

    /// `trends`, `top`, `funnel`, `retention`: also the last segment of its query route.
    pub fn as_str(self) -> &'static str {
        match self {
            InsightKind::Trends => "trends",
            InsightKind::Top => "top",
            InsightKind::Funnel => "funnel",
            InsightKind::Retention => "retention",
        }
    }

    /// Whether its route takes a JSON body (`POST`) rather than only a query string.
    pub fn takes_body(self) -> bool {
        matches!(self, InsightKind::Funnel | InsightKind::Retention)
    }
}

/// The relative ranges an insight may keep; each ends today, in the project's time zone.
pub const RANGE_PRESETS: [&str; 4] = ["today", "7d", "30d", "90d"];

/// The days back from today (inclusive of today) a preset starts: `today` 0, `7d` 6, `30d` 29,
/// `90d` 89; `None` for anything else.
pub fn preset_days_back(range: &str) -> Option<i64> {
    match range {
        "today" => Some(0),
        "7d" => Some(6),
        "30d" => Some(29),
        "90d" => Some(89),
        _ => None,
    }
}

/// The call an insight makes, without its project and its dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InsightQuery {
    /// A relative range (`today`, `7d`, `30d`, `90d`: ending today in the project's zone), or
    /// `custom` with `from` and `to`.
    pub range: String,
    /// `YYYY-MM-DD`, inclusive, for `custom` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive, for `custom` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The rest of the route's query string, URL-encoded, without `project_id`, `from`, `to`
    /// and `format` (`interval=day&measure=uniques&breakdown=browser&filter=…`).
    #[serde(default)]
    pub params: String,
    /// The JSON body of a funnel or a retention (their `steps`, `window_seconds`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// Body of `POST /api/projects/{project_id}/insights` and of
/// `PUT /api/projects/{project_id}/insights/{insight_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InsightRequest {
    /// 1 to 200 characters.
    pub name: String,
    pub kind: InsightKind,
    /// The Analytics page's query string that shows it in full (the web app's own; opaque to
    /// the API, kept as given).
    #[serde(default)]
    pub view: String,
    pub query: InsightQuery,
}

/// A saved insight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InsightView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub kind: InsightKind,
    pub view: String,
    pub query: InsightQuery,
    /// Who saved it last (their email; empty once they were erased).
    pub updated_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
}

/// `GET /api/projects/{project_id}/insights`: by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InsightList {
    pub insights: Vec<InsightView>,
}

/// Body of `POST /api/projects/{project_id}/dashboards` and of
/// `PUT /api/projects/{project_id}/dashboards/{dashboard_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DashboardRequest {
    /// 1 to 200 characters.
    pub name: String,
    /// Its tiles in order: insights of the same project, each at most once, at most 50.
    #[serde(default)]
    pub insight_ids: Vec<Uuid>,
}

/// A dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardView {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    /// Its tiles in order (an insight deleted since is left out).
    pub insight_ids: Vec<Uuid>,
    pub updated_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
}

/// `GET /api/projects/{project_id}/dashboards`: by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardList {
    pub dashboards: Vec<DashboardView>,
}
