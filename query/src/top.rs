//! The most frequent values of a dimension, with event counts and unique users (persons: the
//! distinct ids linked into one count once).

use clickhouse::Row;
use contract::query::{TopResponse, TopValue};
use serde::Deserialize;

use crate::error::Error;
use crate::params::dimension::Dimension;
use crate::persons::sql::{PERSON, join};
use crate::scope::Scope;
use crate::store::Store;

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

#[derive(Debug, Row, Deserialize)]
struct TopRow {
    value: String,
    count: u64,
    users: u64,
}

/// The top `limit` values of the dimension in the scope, most frequent first.
pub(crate) async fn top(
    store: &Store,
    scope: &Scope,
    request: Request,
) -> Result<TopResponse, Error> {
    let Request {
        dimension,
        dimension_name,
        event,
        limit,
    } = request;
    let persons = join(scope.project, dimension.person_key());
    let text = format!(
        "SELECT {} AS value, count() AS count, uniqCombined({PERSON}) AS users \
         FROM events{} WHERE {}{} GROUP BY value ORDER BY count DESC, value LIMIT ?",
        dimension.sql(),
        persons.sql,
        scope.where_sql(),
        if event.is_some() {
            " AND event = ?"
        } else {
            ""
        }
    );
    let mut query = store.query(&text);
    if let Some(key) = dimension.bind() {
        query = query.bind(key);
    }
    query = scope.bind(persons.bind(query), &scope.range);
    if let Some(event) = &event {
        query = query.bind(event.as_str());
    }
    let rows: Vec<TopRow> = store.fetch_all(query.bind(limit as u64)).await?;
    // Pages also say how long they were looked at and how far scrolled.
    let engaged = if dimension_name == "path" {
        let paths: Vec<String> = rows.iter().map(|r| r.value.clone()).collect();
        crate::engagement::of_pages(store, scope, &paths).await?
    } else {
        std::collections::HashMap::new()
    };
    Ok(TopResponse {
        scope: scope.to_wire(),
        dimension: dimension_name,
        values: rows
            .into_iter()
            .map(|r| {
                let engaged = engaged.get(&r.value);
                TopValue {
                    time_on_page_ms: engaged.map(|e| e.time_on_page_ms),
                    scroll_depth: engaged.and_then(|e| e.scroll_depth),
                    value: r.value,
                    count: r.count,
                    users: r.users,
                }
            })
            .collect(),
    })
}
