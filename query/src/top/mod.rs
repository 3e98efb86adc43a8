//! The most frequent values of a dimension, with event counts and unique users (persons: the
//! distinct ids linked into one count once). Answered from days kept between requests where
//! they can be (`days`), else straight from the events.

mod days;
mod kept;
mod request;

use contract::query::{TopResponse, TopValue};

use crate::error::Error;
use crate::persons::sql::{PERSON, join};
use crate::pieces;
use crate::scope::Scope;
use crate::store::Store;

pub(crate) use self::days::{KeptDays, kept_days};
#[cfg(test)]
pub(crate) use self::kept::Figure;
pub(crate) use self::kept::TopDays;
use self::request::TopRow;
pub(crate) use self::request::{Request, Values};

/// The top values straight from the events; users estimated (`uniqCombined`).
async fn read(store: &Store, scope: &Scope, request: &Request) -> Result<Vec<TopRow>, Error> {
    let Request { values, limit, .. } = request;
    let dimension = &values.dimension;
    let persons = join(scope.project, dimension.person_key());
    let text = format!(
        "SELECT {} AS value, count() AS count, uniqCombined({PERSON}) AS users \
         FROM events{} WHERE {}{} GROUP BY value ORDER BY count DESC, value LIMIT ?",
        dimension.sql(),
        persons.sql,
        scope.where_sql(),
        values.events_sql()
    );
    let mut query = store.query(&text);
    if let Some(key) = dimension.bind() {
        query = query.bind(key);
    }
    query = values.bind_events(scope.bind(persons.bind(query), &scope.range));
    Ok(store.fetch_all(query.bind(*limit as u64)).await?)
}

/// The top `limit` values of the dimension in the scope, most frequent first.
pub(crate) async fn top(
    store: &Store,
    days: &TopDays,
    scope: &Scope,
    request: Request,
) -> Result<TopResponse, Error> {
    let kept = pieces::or_events(days::top(store, days, scope, &request).await, "top")?;
    let rows = match kept {
        Some(rows) => rows,
        None => read(store, scope, &request).await?,
    };
    let dimension_name = request.dimension_name;
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
