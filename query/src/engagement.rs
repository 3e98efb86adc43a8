//! Time on page and scroll depth: what the trackers told of each page view as it was left or
//! hidden (the sink keeps these engagements in `engagement`, apart from the events, with the
//! same columns). Per page, each visitor's (person's) engaged time in the range is summed and
//! their deepest scroll taken, then both are averaged over the visitors, as Plausible does.
//! Copies of one engagement (a redelivery not merged yet, or one page view's engagement told
//! twice under one id, the later telling the longer time) count once, the most they tell:
//! they are grouped by event id first (with its page and visitor, which copies share).

use std::collections::HashMap;

use clickhouse::Row;
use contract::event::{ENGAGED_MS, SCROLL_DEPTH};
use serde::Deserialize;

use crate::error::Error;
use crate::persons::sql::{PERSON, join};
use crate::scope::Scope;
use crate::store::Store;

/// A page's averages: engaged milliseconds, and scroll depth (NaN when no engagement of it
/// told one).
#[derive(Debug, Row, Deserialize)]
struct PageRow {
    value: String,
    time_on_page_ms: f64,
    scroll_depth: f64,
}

/// What the visitors of a page did on it, on average.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Engaged {
    pub(crate) time_on_page_ms: u64,
    pub(crate) scroll_depth: Option<u8>,
}

/// The engagement of each of `paths` that has any in `scope`, by path.
pub(crate) async fn of_pages(
    store: &Store,
    scope: &Scope,
    paths: &[String],
) -> Result<HashMap<String, Engaged>, Error> {
    if paths.is_empty() {
        return Ok(HashMap::new());
    }
    let persons = join(scope.project, None);
    let text = format!(
        "SELECT path AS value, avg(engaged) AS time_on_page_ms, \
         avgIf(depth, depth >= 0) AS scroll_depth \
         FROM (SELECT path, {PERSON} AS person, sum(ms) AS engaged, max(depth) AS depth \
           FROM (SELECT path, user_hash, \
             max(toUInt64OrZero(prop_values[indexOf(prop_keys, ?)])) AS ms, \
             max(if(has(prop_keys, ?), toInt64OrZero(prop_values[indexOf(prop_keys, ?)]), -1)) \
               AS depth \
             FROM engagement WHERE {} AND path IN ({}) \
             GROUP BY event_id, path, user_hash) AS views{} \
           GROUP BY path, person) \
         GROUP BY path",
        scope.where_sql(),
        plumbing::clickhouse::placeholders(paths.len()),
        persons.sql,
    );
    let mut query = store
        .query(&text)
        .bind(ENGAGED_MS)
        .bind(SCROLL_DEPTH)
        .bind(SCROLL_DEPTH);
    query = scope.bind(query, &scope.range);
    for path in paths {
        query = query.bind(path.as_str());
    }
    let rows: Vec<PageRow> = store.fetch_all(persons.bind(query)).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let engaged = Engaged {
                time_on_page_ms: row.time_on_page_ms.max(0.0).round() as u64,
                scroll_depth: row
                    .scroll_depth
                    .is_finite()
                    .then(|| row.scroll_depth.clamp(0.0, 100.0).round() as u8),
            };
            (row.value, engaged)
        })
        .collect())
}
