//! A top-values request once checked, and the rows of its answer.

use clickhouse::Row;
use serde::Deserialize;

use crate::params::dimension::Dimension;

/// One top-values request, checked.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) values: Values,
    /// The dimension as the caller named it, echoed in the answer.
    pub(crate) dimension_name: String,
    pub(crate) limit: usize,
}

/// What a top list counts, and its kept days keep: the values of a dimension, over the events
/// of some names.
#[derive(Debug)]
pub(crate) struct Values {
    pub(crate) dimension: Dimension,
    /// Only events of these names; every event when empty.
    pub(crate) events: Vec<String>,
}

impl Values {
    /// The condition on the event's name, to follow a `WHERE`; [`Self::bind_events`] binds it.
    pub(super) fn events_sql(&self) -> String {
        if self.events.is_empty() {
            String::new()
        } else {
            format!(
                " AND event IN ({})",
                plumbing::clickhouse::placeholders(self.events.len())
            )
        }
    }

    pub(super) fn bind_events(
        &self,
        mut query: clickhouse::query::Query,
    ) -> clickhouse::query::Query {
        for event in &self.events {
            query = query.bind(event.as_str());
        }
        query
    }
}

/// One value of the answer: its events and users.
#[derive(Debug, Row, Deserialize)]
pub(super) struct TopRow {
    pub(super) value: String,
    pub(super) count: u64,
    pub(super) users: u64,
}
