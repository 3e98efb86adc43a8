//! The overview of a scope with filters, straight from `events` and `sessions`: the figures a
//! filter narrows cannot be kept per day (`super::days`).

use clickhouse::Row;
use serde::Deserialize;

use super::totals::Totals;
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

#[derive(Debug, Row, Deserialize)]
struct EventTotals {
    events: u64,
    users: u64,
    pageviews: u64,
}

/// The totals of the scope's range and of the period before it.
pub(crate) async fn totals(store: &Store, scope: &Scope) -> Result<[Totals; 2], Error> {
    Ok([
        of_range(store, scope, &scope.range).await?,
        of_range(store, scope, &scope.range.previous()).await?,
    ])
}

async fn of_range(store: &Store, scope: &Scope, range: &Range) -> Result<Totals, Error> {
    let persons = join(scope.project, None);
    let sql = TOTALS
        .replace("{person}", PERSON)
        .replace("{persons}", &persons.sql)
        .replace("{scope}", &scope.where_sql());
    let events: EventTotals = store
        .fetch_one(scope.bind(persons.bind(store.query(&sql)), range))
        .await?;
    let sessions = crate::sessions::figures(store, scope, range).await?;
    Ok(Totals {
        events: events.events,
        users: events.users,
        pageviews: events.pageviews,
        sessions: sessions.sessions,
        bounced: sessions.bounced,
        seconds: sessions.seconds,
    })
}
