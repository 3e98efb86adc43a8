//! A top-values request once checked, and the rows of its answer.

use clickhouse::Row;
use serde::Deserialize;

use crate::params::dimension::Dimension;

/// One top-values request, checked.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) dimension: Dimension,
    /// The dimension as the caller named it, echoed in the answer.
    pub(crate) dimension_name: String,
    /// Only events of this name.
    pub(crate) event: Option<String>,
    pub(crate) limit: usize,
}

/// One value of the answer: its events and users.
#[derive(Debug, Row, Deserialize)]
pub(super) struct TopRow {
    pub(super) value: String,
    pub(super) count: u64,
    pub(super) users: u64,
}
