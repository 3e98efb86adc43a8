//! The answers that list what is stored: top values, the catalog of events and properties, and
//! the events explorer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::query::scope::Scope;

/// One value of a top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopValue {
    pub value: String,
    /// Events.
    pub count: u64,
    /// Unique users.
    pub users: u64,
    /// Of a page (`dimension=path`) that engagement was told for: the time its visitors spent
    /// on it, on average per visitor, in milliseconds (each visitor's engaged time on the page
    /// in the range, summed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_on_page_ms: Option<u64>,
    /// Of such a page: how far down its visitors scrolled, on average per visitor, in percent
    /// of the page (each visitor's deepest scroll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_depth: Option<u8>,
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
