//! The persons API on the wire: who the project's tracked people are (every distinct id that
//! identity links merged into one person), their properties, and their events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::query::explore::EventView;
use crate::query::scope::Scope;

/// One tracked person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonView {
    /// A UUIDv5 of the project (the namespace) and the person's canonical distinct id, as the
    /// sink names persons: it stays the same when other ids join the person.
    pub id: Uuid,
    /// Every distinct id of the person, the canonical one included, sorted.
    pub distinct_ids: Vec<String>,
    /// The person's properties: per key the latest `$set` value over all their ids, else the
    /// first `$set_once` value.
    pub properties: BTreeMap<String, String>,
    /// The person's first event (RFC 3339, UTC), whenever it was; null when none is stored.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub first_seen: Option<String>,
    /// The person's last event (RFC 3339, UTC); null when none is stored.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_seen: Option<String>,
}

/// `GET /api/query/persons`: the persons with an event in the range (and the filters), in a
/// stable order (by canonical distinct id), a page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonsPage {
    #[serde(flatten)]
    pub scope: Scope,
    pub persons: Vec<PersonView>,
    /// The `cursor` of the next page; null when this page is the last.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}

/// `GET /api/query/persons/{id}`: one person, with a page of their events in the range, newest
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonResponse {
    #[serde(flatten)]
    pub scope: Scope,
    #[serde(flatten)]
    pub person: PersonView,
    /// Events of every id of the person, newest first.
    pub events: Vec<EventView>,
    /// The `cursor` of the next page of events; null when this page is the last.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
}
