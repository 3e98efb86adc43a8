//! The overview: events, unique users, sessions, pageviews and bounce rate of a range, each
//! with the same figure for the previous period of equal length.

use std::collections::BTreeMap;

use clickhouse::Row;
use contract::query::{Figure, OverviewResponse};
use serde::Deserialize;

use crate::error::Error;
use crate::params::range::Range;
use crate::persons::sql::{PERSON, join};
use crate::scope::Scope;
use crate::store::Store;

/// Events, unique users and pageviews of a range; `{scope}` is the scope's condition, `{person}`
/// and `{persons}` what counts persons (`crate::persons::sql`). Users are estimated with
/// `uniqCombined` (exact for small counts, about 0.5 % off from ten thousand users; docs/api.md,
/// "Query API"), three times faster than `uniqExact` on 10 M events.
const TOTALS: &str = "SELECT count() AS events, uniqCombined({person}) AS users, \
     countIf(event = '$pageview') AS pageviews FROM events{persons} WHERE {scope}";

/// Sessions of a range (a user's events split where they are more than 30 minutes apart) and
/// the bounced ones (a single event); `{scope}` as above.
const SESSIONS: &str = "SELECT toUInt64(sum(length(sizes))) AS sessions, \
     toUInt64(sum(arrayCount(s -> s = 1, sizes))) AS bounced FROM ( \
       SELECT arraySort(groupArray(toUInt32(timestamp))) AS ts, \
         arrayFilter((i, gap) -> i = 1 OR gap > 1800, arrayEnumerate(ts), arrayDifference(ts)) AS starts, \
         arrayPopFront(arrayDifference(arrayPushBack(starts, length(ts) + 1))) AS sizes \
       FROM events WHERE {scope} GROUP BY user_hash)";

#[derive(Debug, Row, Deserialize)]
struct Totals {
    events: u64,
    users: u64,
    pageviews: u64,
}

#[derive(Debug, Row, Deserialize)]
struct Sessions {
    sessions: u64,
    bounced: u64,
}

/// The figures of the scope's range and of the period before it.
pub(crate) async fn overview(store: &Store, scope: &Scope) -> Result<OverviewResponse, Error> {
    let current = figures(store, scope, &scope.range).await?;
    let previous = figures(store, scope, &scope.range.previous()).await?;
    let mut figures = BTreeMap::new();
    for (name, value) in current {
        let before = previous
            .iter()
            .find(|(previous, _)| *previous == name)
            .map_or(0.0, |(_, value)| *value);
        let change = (before != 0.0).then(|| (value - before) / before);
        figures.insert(
            name,
            Figure {
                value,
                previous: before,
                change,
            },
        );
    }
    Ok(OverviewResponse {
        scope: scope.to_wire(),
        previous_range: scope.range.previous().to_wire(),
        figures,
    })
}

async fn figures(store: &Store, scope: &Scope, range: &Range) -> Result<Vec<(String, f64)>, Error> {
    let persons = join(scope.project, None);
    let totals = TOTALS
        .replace("{person}", PERSON)
        .replace("{persons}", &persons.sql)
        .replace("{scope}", &scope.where_sql());
    let totals: Totals = store
        .fetch_one(scope.bind(persons.bind(store.query(&totals)), range))
        .await?;
    let sessions: Sessions = store
        .fetch_one(scoped(store, SESSIONS, scope, range))
        .await?;
    let bounce = if sessions.sessions == 0 {
        0.0
    } else {
        sessions.bounced as f64 / sessions.sessions as f64
    };
    Ok(vec![
        ("events".to_owned(), totals.events as f64),
        ("users".to_owned(), totals.users as f64),
        ("sessions".to_owned(), sessions.sessions as f64),
        ("pageviews".to_owned(), totals.pageviews as f64),
        ("bounce_rate".to_owned(), bounce),
    ])
}

/// A query of `template` whose only binds are the scope's, in `{scope}`.
fn scoped(store: &Store, template: &str, scope: &Scope, range: &Range) -> clickhouse::query::Query {
    let sql = template.replace("{scope}", &scope.where_sql());
    scope.bind(store.query(&sql), range)
}
